/* SPDX-License-Identifier: MIT */
/*
 * A tiny TAP test harness: each test program registers test functions
 * with TEST(name), and prints "ok N - name" or "not ok N - name".
 */
#ifndef BCAST_TEST_HARNESS_H
#define BCAST_TEST_HARNESS_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bcast.h"

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define MAX_TESTS 128
static struct test_case test_cases[MAX_TESTS];
static int test_count;
static int test_failed_now;

#define TEST(name)							\
	static void test_##name(void);					\
	__attribute__((constructor)) static void register_##name(void)	\
	{								\
		if (test_count < MAX_TESTS)				\
			test_cases[test_count++] =			\
				(struct test_case){ #name, test_##name }; \
	}								\
	static void test_##name(void)

#define FAILF(...)							\
	do {								\
		fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, "\n");					\
		test_failed_now = 1;					\
		return;							\
	} while (0)

#define CHECK(cond)							\
	do {								\
		if (!(cond))						\
			FAILF("check failed: %s", #cond);		\
	} while (0)

/* Compare integers, printing both sides on failure. */
#define CHECK_EQ(a, b)							\
	do {								\
		long long a_ = (long long)(a), b_ = (long long)(b);	\
		if (a_ != b_)						\
			FAILF("%s == %lld, expected %s == %lld", #a, a_, #b, b_); \
	} while (0)

/* A call returning a bcast error code must succeed. */
#define CHECK_OK(call)							\
	do {								\
		long long r_ = (long long)(call);			\
		if (r_ < 0)						\
			FAILF("%s failed: %s", #call, bcast_strerror((int)r_)); \
	} while (0)

static inline int run_tests(void)
{
	int i, failed = 0;

	printf("TAP version 13\n1..%d\n", test_count);
	fflush(stdout);
	for (i = 0; i < test_count; i++) {
		test_failed_now = 0;
		test_cases[i].fn();
		printf("%sok %d - %s\n", test_failed_now ? "not " : "", i + 1,
		       test_cases[i].name);
		fflush(stdout);
		failed += test_failed_now;
	}
	return failed ? 1 : 0;
}

/* Memory for rings attached to plain memory. */
static inline void *ring_memory(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len))
		return NULL;
	memset(p, 0, len);
	return p;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Deterministic payload bytes for message `seq`, for end-to-end checks. */
static inline void fill_payload(unsigned char *p, size_t len, uint64_t seq)
{
	size_t i;
	uint64_t x = mix64(seq + 1);

	for (i = 0; i < len; i++) {
		if (!(i & 7))
			x = mix64(x + i);
		p[i] = (unsigned char)(x >> ((i & 7) * 8));
	}
}

static inline int payload_ok(const unsigned char *p, size_t len, uint64_t seq)
{
	size_t i;
	uint64_t x = mix64(seq + 1);

	for (i = 0; i < len; i++) {
		if (!(i & 7))
			x = mix64(x + i);
		if (p[i] != (unsigned char)(x >> ((i & 7) * 8)))
			return 0;
	}
	return 1;
}

#define TEST_MAIN() int main(void) { return run_tests(); }

#endif
