/* SPDX-License-Identifier: MIT */
/*
 * The TAP harness of the host tests: each program registers its tests with
 * TEST(name) and ends with TEST_MAIN(); every test prints "ok N - name" or
 * "not ok N - name", and the program exits 1 if any failed.
 */
#ifndef BCAST_TEST_TAP_H
#define BCAST_TEST_TAP_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bcast.h"

void tap_register(const char *name, void (*fn)(void));
int tap_run(void);

/* Says why the running test failed (on stderr, as a TAP comment) and marks
 * it failed; FAILF() then returns from the test function. */
void tap_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define TEST(name)							\
	static void test_##name(void);					\
	__attribute__((constructor)) static void register_##name(void)	\
	{								\
		tap_register(#name, test_##name);			\
	}								\
	static void test_##name(void)

#define FAILF(...)							\
	do {								\
		tap_fail(__FILE__, __LINE__, __VA_ARGS__);		\
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

#define TEST_MAIN() int main(void) { return tap_run(); }

#endif
