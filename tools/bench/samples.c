// SPDX-License-Identifier: MIT
/* Samples, percentiles, clocks and the other small things every part uses. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"

const double pct_points[NPCT] = { 50, 90, 99, 99.9, 99.99, 100 };
const char *const pct_names[NPCT] = { "p50", "p90", "p99", "p99.9", "p99.99",
				      "max" };

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

double now_s(void)
{
	return (double)cli_now_ns() * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median(const double *v, int n)
{
	double *tmp, m;

	if (n <= 0)
		return 0;
	tmp = malloc(sizeof(double) * (size_t)n);
	if (!tmp)
		die("out of memory");
	memcpy(tmp, v, sizeof(double) * (size_t)n);
	qsort(tmp, (size_t)n, sizeof(double), cmp_double);
	m = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
	free(tmp);
	return m;
}

void sleep_us(double us)
{
	struct timespec ts = { (time_t)(us / 1e6),
			       (long)((us - (double)(time_t)(us / 1e6) * 1e6) * 1e3) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void pin_self(int cpu, const char *who)
{
	cpu_set_t set;
	int err;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		die("cannot pin the %s thread to CPU %d: %s", who, cpu,
		    strerror(err));
	if (sched_getcpu() != cpu)
		sched_yield();
}

void samples_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4096;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			die("out of memory for %zu samples", cap);
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns;
	s->sorted = false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least pct% of them <= it. */
double samples_pct(struct samples *s, double pct)
{
	size_t rank;

	if (!s->n)
		return 0;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
		s->sorted = true;
	}
	rank = (size_t)((pct / 100.0) * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return (double)s->v[rank - 1];
}

void samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* {"samples": N, "p50_ns": ..., ..., "max_ns": ...} */
void json_samples(struct json *j, struct samples *s)
{
	char key[32];
	int i;

	json_object(j);
	json_member_u64(j, "samples", s->n);
	for (i = 0; i < NPCT; i++) {
		snprintf(key, sizeof(key), "%s_ns", pct_names[i]);
		json_member_double(j, key, samples_pct(s, pct_points[i]), 0);
	}
	json_object_end(j);
}
