/* SPDX-License-Identifier: MIT */
/* The clocks the tests time things with, host and VM alike. */
#ifndef BCAST_TEST_CLOCK_H
#define BCAST_TEST_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC, in seconds. */
double now_s(void);

/* CPU time (user + system) this thread has used, in seconds. */
double thread_cpu_s(void);

/* CPU time (user + system) this process has used, in seconds. */
double cpu_s(void);

/* Wait `us` microseconds without sleeping: shorter and more exact than a
 * sleep, for a race that has to hit a narrow window. */
void spin_us(uint64_t us);

#endif
