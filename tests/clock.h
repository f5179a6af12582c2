/* SPDX-License-Identifier: MIT */
/* The clocks the tests time things with, host and VM alike. */
#ifndef BCAST_TEST_CLOCK_H
#define BCAST_TEST_CLOCK_H

#include <sys/resource.h>
#include <time.h>

/* CLOCK_MONOTONIC, in seconds. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double rusage_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU time (user + system) this thread has used, in seconds. */
static inline double thread_cpu_s(void)
{
	return rusage_s(RUSAGE_THREAD);
}

/* CPU time (user + system) this process has used, in seconds. */
static inline double cpu_s(void)
{
	return rusage_s(RUSAGE_SELF);
}

#endif
