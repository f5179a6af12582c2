// SPDX-License-Identifier: MIT
/*
 * How fast the two measured CPUs pass a cache line to each other right
 * now.  A ring's throughput is mostly that; on a shared virtual machine it
 * can drop tenfold for minutes while the CPUs' own speed does not change
 * (the vCPUs moved apart on the host), which squeezes every ratio towards
 * 1.  The throughput rounds wait for it to come back (see throughput.c).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"

#define PROBE_TRIPS 2000

struct probe {
	_Alignas(128) uint64_t ball;	/* odd: the far side's turn */
	_Alignas(128) int near_cpu, far_cpu;
	double ns;
};

static void *far_side(void *arg)
{
	struct probe *p = arg;
	uint64_t i;

	pin_self(p->far_cpu, "probe");
	for (i = 1; i < 2 * PROBE_TRIPS; i += 2) {
		while (__atomic_load_n(&p->ball, __ATOMIC_ACQUIRE) != i)
			cpu_relax();
		__atomic_store_n(&p->ball, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *near_side(void *arg)
{
	struct probe *p = arg;
	uint64_t i;
	double t0;

	pin_self(p->near_cpu, "probe");
	t0 = now_s();
	for (i = 0; i < 2 * PROBE_TRIPS; i += 2) {
		__atomic_store_n(&p->ball, i + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&p->ball, __ATOMIC_ACQUIRE) != i + 2)
			cpu_relax();
	}
	p->ns = (now_s() - t0) * 1e9 / PROBE_TRIPS;
	return NULL;
}

/* Nanoseconds per round trip of one line between cpu_a and cpu_b. */
double cross_cpu_round_trip_ns(int cpu_a, int cpu_b)
{
	struct probe *p = aligned_alloc(128, sizeof(*p));
	pthread_t near, far;
	double ns;
	int err;

	if (!p)
		die("out of memory");
	memset(p, 0, sizeof(*p));
	p->near_cpu = cpu_a;
	p->far_cpu = cpu_b;
	err = pthread_create(&far, NULL, far_side, p);
	if (!err)
		err = pthread_create(&near, NULL, near_side, p);
	if (err)
		die("pthread_create: %s", strerror(err));
	pthread_join(near, NULL);
	pthread_join(far, NULL);
	ns = p->ns;
	free(p);
	return ns;
}

double cpu_watch_trip(struct cpu_watch *w)
{
	double ns = cross_cpu_round_trip_ns(w->cpu_a, w->cpu_b);

	if (!w->fastest || ns < w->fastest)
		w->fastest = ns;
	if (ns < w->lo || !w->lo)
		w->lo = ns;
	if (ns > w->hi)
		w->hi = ns;
	return ns;
}

bool cpu_watch_apart(struct cpu_watch *w)
{
	return cpu_watch_trip(w) > CPUS_APART * w->fastest;
}

/* While the CPUs are apart, wait for them, up to w->budget seconds in all. */
void cpu_watch_wait(struct cpu_watch *w, const char *what)
{
	double ns = cpu_watch_trip(w);
	bool told = false;

	while (ns > CPUS_APART * w->fastest && w->waited < w->budget) {
		if (!told && !w->quiet)
			fprintf(stderr, "\n  %s: waiting for the machine: a round "
				"trip between CPUs %d and %d takes %.0f ns, %.1fx "
				"the fastest seen\n", what, w->cpu_a, w->cpu_b, ns,
				ns / w->fastest);
		told = true;
		usleep(500 * 1000);
		w->waited += 0.5;
		ns = cpu_watch_trip(w);
	}
}
