/* SPDX-License-Identifier: MIT */
/*
 * What the long-running tests share: settings from the environment, a clock,
 * and payloads cut from a pool of random bytes, so that a reader can check
 * every byte of message `seq` (which carries seq in its first 8 bytes).
 * The including file allocates `pool` (POOL_SIZE plus the largest message)
 * and fills it before use.
 */
#ifndef BCAST_TEST_PAYLOAD_H
#define BCAST_TEST_PAYLOAD_H

#include <errno.h>
#include <time.h>
#include "harness.h"
#include "clock.h"

#define POOL_SIZE	(1u << 20)

static unsigned char *pool;	/* random bytes the payloads are cut from */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	unsigned long long v;
	char *end;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "# ignoring %s=%s\n", name, s);
		return def;
	}
	return v;
}

static size_t pool_off(uint64_t seq)
{
	return (size_t)(mix64(seq ^ 0x0123456789abcdefULL) & (POOL_SIZE - 1));
}

static void make_payload(unsigned char *p, size_t len, uint64_t seq)
{
	uint64_t x = mix64(~seq);

	if (len < 8) {
		memcpy(p, &x, len);
		return;
	}
	memcpy(p, &seq, 8);
	memcpy(p + 8, pool + pool_off(seq), len - 8);
}

static int check_payload(const unsigned char *p, size_t len, uint64_t seq)
{
	uint64_t x = mix64(~seq);

	if (len < 8)
		return !memcmp(p, &x, len);
	return !memcmp(p, &seq, 8) &&
	       !memcmp(p + 8, pool + pool_off(seq), len - 8);
}

#endif
