/* SPDX-License-Identifier: MIT */
/*
 * The first thing that went wrong in a thread or a child process, kept for
 * the test that reports it: the first failure is the one worth reading,
 * what follows from it is noise.  A struct failure may live in memory
 * shared by threads or processes: the first to fail claims it, and the
 * others leave it alone; it counts as failed once its message is written.
 */
#ifndef BCAST_TEST_FAILURE_H
#define BCAST_TEST_FAILURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

struct failure {
	uint32_t state;		/* atomic: FAILURE_* */
	char why[400];
};

enum { FAILURE_NONE, FAILURE_WRITING, FAILURE_WRITTEN };

void fail(struct failure *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vfail(struct failure *f, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static inline bool failed(const struct failure *f)
{
	return __atomic_load_n(&f->state, __ATOMIC_ACQUIRE) == FAILURE_WRITTEN;
}

#endif
