// SPDX-License-Identifier: MIT
#include <string.h>
#include "payload.h"
#include "random.h"

#define POOL_SIZE	(1u << 20)
#define SEQ_BYTES	8

static unsigned char pool[POOL_SIZE];

/* Filled before main(), so before any thread or child that reads it. */
__attribute__((constructor)) static void pool_fill(void)
{
	uint64_t x = 0x5eed;
	size_t i;

	for (i = 0; i < POOL_SIZE; i += 8) {
		x = mix64(x + i);
		memcpy(pool + i, &x, 8);
	}
}

/* Where in the pool byte `at` of message seq comes from. */
static size_t pool_index(uint64_t seq, size_t at)
{
	return (size_t)(mix64(seq ^ 0x0123456789abcdefULL) + at) &
	       (POOL_SIZE - 1);
}

/* The run of message seq's bytes from `at` that is contiguous in the pool,
 * at most `len` long. */
static size_t pool_run(uint64_t seq, size_t at, size_t len,
		       const unsigned char **src)
{
	size_t idx = pool_index(seq, at), n = POOL_SIZE - idx;

	*src = pool + idx;
	return n < len ? n : len;
}

void payload_fill(void *p, size_t len, uint64_t seq)
{
	unsigned char *d = p;
	const unsigned char *src;
	size_t at, n;

	if (!len)
		return;
	at = len < SEQ_BYTES ? len : SEQ_BYTES;
	memcpy(d, &seq, at);
	for (; at < len; at += n) {
		n = pool_run(seq, at, len - at, &src);
		memcpy(d + at, src, n);
	}
}

static size_t first_difference(const unsigned char *a,
			       const unsigned char *b, size_t n)
{
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}

size_t payload_mismatch(const void *p, size_t len, uint64_t seq)
{
	const unsigned char *q = p, *src;
	size_t at, n;

	if (!len)
		return 0;
	at = len < SEQ_BYTES ? len : SEQ_BYTES;
	n = first_difference(q, (const unsigned char *)&seq, at);
	if (n < at)
		return n;
	for (; at < len; at += n) {
		n = pool_run(seq, at, len - at, &src);
		if (memcmp(q + at, src, n))
			return at + first_difference(q + at, src, n);
	}
	return len;
}

uint64_t payload_seq(const void *p)
{
	uint64_t seq;

	memcpy(&seq, p, SEQ_BYTES);
	return seq;
}
