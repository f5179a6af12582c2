// SPDX-License-Identifier: MIT
#include <sys/resource.h>
#include <time.h>
#include "clock.h"

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rusage_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double thread_cpu_s(void)
{
	return rusage_s(RUSAGE_THREAD);
}

double cpu_s(void)
{
	return rusage_s(RUSAGE_SELF);
}

void spin_us(uint64_t us)
{
	double end = now_s() + (double)us / 1e6;

	while (now_s() < end)
		;
}
