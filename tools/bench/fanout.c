// SPDX-License-Identifier: MIT
/*
 * Fan-out throughput: one writer pinned to its CPU, 1..N reader threads
 * (pinned together to the reader CPU: on a two-CPU machine that is all
 * there is, and it shows what each reader costs).  Every reader must get
 * every message; the writer waits while the slowest is a ring behind (the
 * harness's credit, the same for all), so the figure is what the slowest
 * reader receives per second.  A ring is read by all readers from the same
 * memory; a pipe or socket needs one copy per reader; ZeroMQ's I/O thread
 * does the copies.  Readers that find nothing yield, so that N of them can
 * share one CPU.
 */
#include <errno.h>
#include <math.h>
#include <time.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "bcast.h"
#include <linux/bcast.h>
#include "bench.h"
#include "refring.h"

#define FAN_MAX CHANNEL_MAX_READERS

struct fan_reader {
	_Alignas(128) uint64_t count;	/* messages taken, for the credit */
	_Alignas(128) struct fan_round *fr;
	int idx;
	struct bcast_reader *br;
	struct ref_reader rr;
	uint64_t delivered, sink;
	double cpu;			/* CPU seconds the reader thread got */
	int err;
};

/* What one round measured. */
struct fan_result {
	double slowest;		/* the slowest reader's messages per second */
	double per_cpu;		/* the lowest of delivered / CPU second */
	double writer;		/* the writer's messages per second */
};

struct fan_round {
	const struct options *o;
	enum impl impl;
	int k;
	size_t size;
	uint64_t credit;	/* UINT64_MAX: the writer runs free */
	struct bcast_ring *ring;
	struct bcast_writer *bw;
	struct channel ch;
	_Alignas(128) struct ref_writer rw;	/* written per message */
	unsigned char *msg;
	size_t buf_cap;
	struct fan_reader rd[FAN_MAX];
	_Alignas(128) int started;
	_Alignas(128) int done;
	_Alignas(128) uint64_t written;
	double secs;
	int err;
};

static uint64_t slowest(struct fan_round *fr)
{
	uint64_t m = UINT64_MAX;
	int i;

	for (i = 0; i < fr->k; i++) {
		uint64_t c = __atomic_load_n(&fr->rd[i].count, __ATOMIC_ACQUIRE);

		if (c < m)
			m = c;
	}
	return m;
}

static void *fan_writer(void *arg)
{
	struct fan_round *fr = arg;
	uint64_t i = 0, seen = 0;
	double deadline;
	int err = 0;

	pin_self(fr->o->wcpu, "writer");
	while (__atomic_load_n(&fr->started, __ATOMIC_ACQUIRE) < fr->k)
		sched_yield();
	deadline = now_s() + fr->o->seconds;
	/* Only locals change per message: the readers poll lines of `fr`. */
	while (!err) {
		uint64_t stop = i + 256;

		for (; i < stop && !err; i++) {
			while (fr->k && i - seen >= fr->credit) {
				seen = slowest(fr);
				if (i - seen >= fr->credit)
					sched_yield();
			}
			if (fr->impl == IMPL_BCAST)
				err = bcast_publish(fr->bw, fr->msg, fr->size, 1);
			else if (fr->impl == IMPL_REF)
				ref_publish(&fr->rw, fr->msg, (uint32_t)fr->size, 1);
			else
				err = channel_send(&fr->ch, fr->msg, fr->size);
		}
		if (now_s() >= deadline)
			break;
	}
	fr->err = err;
	fr->written = i;
	if (fr->impl >= IMPL_PIPE)
		channel_end(&fr->ch);
	__atomic_store_n(&fr->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static ssize_t fan_next(struct fan_reader *r, unsigned char *buf)
{
	struct fan_round *fr = r->fr;
	ssize_t got;

	switch (fr->impl) {
	case IMPL_BCAST:
		do	/* -EINPROGRESS: bounded work, more pending */
			got = bcast_receive(r->br, buf, fr->buf_cap, NULL);
		while (got == -EINPROGRESS);
		if (got == -BCAST_EOVERRUN && fr->credit == UINT64_MAX)
			return -EAGAIN;	/* free-running: lapped, go on */
		return got == -BCAST_EOVERRUN ? -EPROTO : got;
	case IMPL_REF:
		got = ref_receive(&r->rr, buf);
		if (got == REF_ELAPPED && fr->credit == UINT64_MAX)
			return -EAGAIN;	/* free-running: it skipped ahead */
		return got == REF_ELAPPED ? -EPROTO : got < 0 ? -EAGAIN : got;
	default:
		return channel_recv(&fr->ch, r->idx, buf, fr->buf_cap);
	}
}

static void *fan_reader_main(void *arg)
{
	struct fan_reader *r = arg;
	struct fan_round *fr = r->fr;
	unsigned char *buf = malloc(fr->buf_cap);

	if (!buf)
		die("out of memory");
	struct timespec c0, c1;

	pin_self(fr->o->rcpu, "reader");
	__atomic_fetch_add(&fr->started, 1, __ATOMIC_RELEASE);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	for (;;) {
		bool was_done = __atomic_load_n(&fr->done, __ATOMIC_ACQUIRE);
		ssize_t got = fan_next(r, buf);

		if (got >= 0) {
			r->delivered++;
			r->sink += got ? buf[0] : 0;
			if (!(r->delivered & 63))
				__atomic_store_n(&r->count, r->delivered,
						 __ATOMIC_RELEASE);
			continue;
		}
		__atomic_store_n(&r->count, r->delivered, __ATOMIC_RELEASE);
		if (got == -EPIPE || (got == -EAGAIN && was_done))
			break;
		if (got != -EAGAIN) {
			r->err = (int)got;
			break;
		}
		sched_yield();
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	r->cpu = (double)(c1.tv_sec - c0.tv_sec) +
		 (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
	free(buf);
	return NULL;
}

static void fan_open(struct fan_round *fr, unsigned char *mem, size_t len)
{
	struct bcast_ring_opts ro = { .size = fr->o->capacity };
	const char *what;
	int err = 0, i;

	if (fr->impl == IMPL_BCAST) {
		err = bcast_ring_format(mem, len, &ro, &fr->ring);
		if (!err)
			err = bcast_writer_open(fr->ring, &fr->bw);
		for (i = 0; !err && i < fr->k; i++)
			err = bcast_reader_open(fr->ring, BCAST_FROM_OLDEST,
						&fr->rd[i].br);
		if (err)
			die("fan-out: opening a bcast ring: %s", bcast_strerror(err));
	} else if (fr->impl == IMPL_REF) {
		ref_ring_format(&fr->rw.r, mem, fr->o->capacity,
				(uint32_t)mtu_of(fr->o->capacity));
		for (i = 0; i < fr->k; i++)
			fr->rd[i].rr.r = fr->rw.r;
	} else {
		err = channel_open(&fr->ch, fr->impl, fr->k, &what);
		if (err)
			die("fan-out: %s: %s", what, strerror(-err));
	}
}

static void fan_close(struct fan_round *fr)
{
	int i;

	for (i = 0; i < fr->k; i++)
		if (fr->rd[i].br)
			bcast_reader_close(fr->rd[i].br);
	if (fr->bw)
		bcast_writer_close(fr->bw);
	if (fr->ring)
		bcast_ring_close(fr->ring);
	if (fr->impl >= IMPL_PIPE)
		channel_close(&fr->ch);
}

/* A thread that keeps the reader CPU busy without touching the ring. */
static void *busy_main(void *arg)
{
	struct fan_round *fr = arg;
	volatile uint64_t spins = 0;

	pin_self(fr->o->rcpu, "busy");
	while (!__atomic_load_n(&fr->done, __ATOMIC_ACQUIRE))
		spins++;
	return NULL;
}

/* One round of k readers (0: the writer alone; with `busy`, while another
 * thread spins on the reader CPU), the writer held back by the slowest or
 * running free. */
static struct cpu_watch fan_watch;

static struct fan_result fan_round(const struct options *o, enum impl impl,
				   int k, bool free_running, bool busy,
				   unsigned char *mem, size_t len)
{
	pthread_t bt;
	struct fan_round *fr;
	struct fan_result res = { 0, 0, 0 };
	pthread_t wt, rt[FAN_MAX];
	uint64_t low = UINT64_MAX;
	int i, err;

	cpu_watch_wait(&fan_watch, "fan-out");
	fr = aligned_alloc(128, (sizeof(*fr) + 127) & ~(size_t)127);
	if (!fr)
		die("out of memory");
	memset(fr, 0, sizeof(*fr));
	fr->o = o;
	fr->impl = impl;
	fr->k = k;
	fr->size = o->lat_size;
	fr->buf_cap = o->capacity;
	fr->credit = free_running ? UINT64_MAX : credit_of(o->capacity, fr->size);
	fr->msg = calloc(1, fr->size);
	if (!fr->msg)
		die("out of memory");
	fan_open(fr, mem, len);
	for (i = 0; i < k; i++) {
		fr->rd[i].fr = fr;
		fr->rd[i].idx = i;
		err = pthread_create(&rt[i], NULL, fan_reader_main, &fr->rd[i]);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	if (busy) {
		err = pthread_create(&bt, NULL, busy_main, fr);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	err = pthread_create(&wt, NULL, fan_writer, fr);
	if (err)
		die("pthread_create: %s", strerror(err));
	pthread_join(wt, NULL);
	if (busy)
		pthread_join(bt, NULL);
	for (i = 0; i < k; i++)
		pthread_join(rt[i], NULL);
	fr->secs = o->seconds;
	if (fr->err)
		die("fan-out %s: writer: %s", impl_name[impl], bcast_strerror(fr->err));
	res.per_cpu = k ? INFINITY : 0;
	for (i = 0; i < k; i++) {
		double per_cpu = fr->rd[i].cpu > 0 ?
				 (double)fr->rd[i].delivered / fr->rd[i].cpu : 0;

		if (fr->rd[i].err)
			die("fan-out %s: reader %d: %s", impl_name[impl], i,
			    bcast_strerror(fr->rd[i].err));
		if (fr->rd[i].delivered < low)
			low = fr->rd[i].delivered;
		if (per_cpu < res.per_cpu)
			res.per_cpu = per_cpu;
	}
	res.slowest = k ? (double)low / fr->secs : 0;
	res.writer = (double)fr->written / fr->secs;
	fan_close(fr);
	free(fr->msg);
	free(fr);
	return res;
}

/*
 * bcast with the writer running free, interleaved round by round over
 * 0..N readers: the writer's rate against its rate alone, and each
 * reader's messages per CPU second it got (the readers share one CPU)
 * against a lone reader's.  Two controls run in the same rounds: the
 * writer alone beside a thread that keeps the reader CPU busy, and the
 * reference ring's writer alone and with N readers, which shows what
 * readers streaming behind any writer cost it.
 */
/* The median over the rounds of num[j] / den[j]. */
static double paired_median(const double *num, const double *den, int rounds)
{
	double r[rounds];
	int j;

	for (j = 0; j < rounds; j++)
		r[j] = den[j] > 0 ? num[j] / den[j] : 0;
	return median(r, rounds);
}

static void fan_free(const struct options *o, struct figures *fig,
		     struct json *json, unsigned char *mem, size_t len)
{
	int n, j, N = o->readers;
	double w[FAN_MAX + 1][o->rounds], c[FAN_MAX + 1][o->rounds];
	double wb[o->rounds], wm[FAN_MAX + 1], cm[FAN_MAX + 1], busy;
	double ref0[o->rounds], refn[o->rounds], ref_ratio, paired[FAN_MAX + 1];

	for (j = 0; j < o->rounds; j++) {
		for (n = 0; n <= N; n++) {
			struct fan_result r = fan_round(o, IMPL_BCAST, n, true,
							false, mem, len);

			w[n][j] = r.writer;
			c[n][j] = r.per_cpu;
		}
		wb[j] = fan_round(o, IMPL_BCAST, 0, true, true, mem, len).writer;
		ref0[j] = fan_round(o, IMPL_REF, 0, true, false, mem, len).writer;
		refn[j] = fan_round(o, IMPL_REF, N, true, false, mem, len).writer;
	}
	for (n = 0; n <= N; n++) {
		wm[n] = median(w[n], o->rounds);
		cm[n] = n ? median(c[n], o->rounds) : 0;
	}
	busy = median(wb, o->rounds);
	ref_ratio = paired_median(refn, ref0, o->rounds);
	for (n = 0; n <= N; n++)
		paired[n] = paired_median(w[n], w[0], o->rounds);
	fig->fan_writer_ratio = paired[N];
	fig->fan_reader_ratio = cm[1] > 0 ? cm[N] / cm[1] : 0;
	if (o->json) {
		json_key(json, "fanout_free");
		json_object(json);
		json_key(json, "readers");
		json_array(json);
		for (n = 0; n <= N; n++) {
			json_object(json);
			json_member_i64(json, "readers", n);
			json_member_double(json, "writer_msgs_per_s", wm[n], 1);
			json_member_double(json, "slowest_reader_msgs_per_cpu_s",
					   cm[n], 1);
			json_object_end(json);
		}
		json_array_end(json);
		json_member_double(json, "writer_msgs_per_s_reader_cpu_busy",
				   busy, 1);
		json_member_double(json, "reference_writer_ratio", ref_ratio, 3);
		json_object_end(json);
		return;
	}
	printf("fan-out, bcast's writer running free: its rate with 0..%d "
	       "readers, and the lowest\n  of the readers' messages per CPU "
	       "second they got (they share CPU %d), medians:\n",
	       N, o->rcpu);
	printf("  (\"/ alone\": the median of per-round ratios)\n");
	printf("  readers | writer Mmsg/s  / alone | reader Mmsg per CPU-s  "
	       "/ lone reader\n");
	for (n = 0; n <= N; n++) {
		printf("  %7d | %13.2f %7.3fx |", n, wm[n] / 1e6, paired[n]);
		if (n)
			printf(" %21.2f %12.3fx\n", cm[n] / 1e6,
			       cm[1] > 0 ? cm[n] / cm[1] : 0);
		else
			printf(" %21s\n", "-");
	}
	printf("  (control: the writer alone while another thread spins on CPU "
	       "%d, touching no ring:\n   %.2f Mmsg/s, %.3fx alone: what the "
	       "reader CPU's being busy costs the writer)\n", o->rcpu,
	       busy / 1e6, wm[0] > 0 ? busy / wm[0] : 0);
	if (fan_watch.waited)
		printf("  (%.1f s spent waiting for the CPUs to come back "
		       "together, probe.c)\n", fan_watch.waited);
	printf("  (control: the reference ring's writer with %d readers, the "
	       "same way: %.3fx its rate\n   alone, median of per-round "
	       "ratios: what readers streaming behind a writer cost it)\n\n",
	       N, ref_ratio);
}

void fanout_run(const struct options *o, struct figures *fig,
		struct json *json)
{
	size_t len = BCAST_MAP_SIZE(o->capacity);
	unsigned char *mem = aligned_alloc(4096, len);
	double *rates[IMPL_COUNT];
	int j, k, n, i;

	if (!mem)
		die("out of memory");
	memset(mem, 0, len);
	/* Rounds wait while the host keeps the two CPUs apart (probe.c). */
	fan_watch = (struct cpu_watch){ .cpu_a = o->wcpu, .cpu_b = o->rcpu,
					.quiet = o->json, .budget = o->settle };
	for (k = 0; k < 5; k++)
		cpu_watch_trip(&fan_watch);
	for (k = 0; k < IMPL_COUNT; k++) {
		rates[k] = calloc((size_t)(o->readers * o->rounds), sizeof(double));
		if (!rates[k])
			die("out of memory");
	}
	for (j = 0; j < o->rounds; j++)
		for (n = 1; n <= o->readers; n++)
			for (k = 0; k < IMPL_COUNT; k++) {
				if (k > IMPL_REF && !(o->impls & (1u << k)))
					continue;
				rates[k][(n - 1) * o->rounds + j] =
					fan_round(o, (enum impl)k, n, false,
						  false, mem, len).slowest;
			}
	for (n = 1; n <= o->readers; n++)
		for (k = 0; k < IMPL_COUNT; k++)
			fig->fan[n - 1][k] = median(&rates[k][(n - 1) * o->rounds],
						    o->rounds);
	fig->fan_readers = o->readers;
	if (o->json) {
		json_key(json, "fanout");
		json_object(json);
		json_member_u64(json, "size", o->lat_size);
		json_member_i64(json, "rounds", o->rounds);
		json_member_string(json, "figure",
				   "slowest reader's messages per second");
		json_key(json, "readers");
		json_array(json);
		for (n = 1; n <= o->readers; n++) {
			json_object(json);
			json_member_i64(json, "readers", n);
			for (k = 0; k < IMPL_COUNT; k++)
				if (fig->fan[n - 1][k] > 0)
					json_member_double(json, impl_name[k],
							   fig->fan[n - 1][k], 1);
			json_object_end(json);
		}
		json_array_end(json);
		json_object_end(json);
	} else {
		printf("fan-out: 1 writer (CPU %d) -> 1..%d readers (all on CPU "
		       "%d), %zu-byte messages, %d rounds;\n  median Mmsg/s of "
		       "the slowest reader (every reader gets every message)\n",
		       o->wcpu, o->readers, o->rcpu, o->lat_size, o->rounds);
		printf("  readers |");
		for (k = 0; k < IMPL_COUNT; k++)
			if (fig->fan[0][k] > 0)
				printf(" %10s", impl_name[k]);
		printf(" | bcast / each\n");
		for (n = 1; n <= o->readers; n++) {
			printf("  %7d |", n);
			for (k = 0; k < IMPL_COUNT; k++)
				if (fig->fan[0][k] > 0)
					printf(" %10.3f", fig->fan[n - 1][k] / 1e6);
			printf(" |");
			for (i = 1; i < IMPL_COUNT; i++)
				if (fig->fan[n - 1][i] > 0)
					printf(" %7.1fx", fig->fan[n - 1][IMPL_BCAST] /
					       fig->fan[n - 1][i]);
			printf("\n");
		}
		printf("\n");
	}
	fan_free(o, fig, json, mem, len);
	for (k = 0; k < IMPL_COUNT; k++)
		free(rates[k]);
	free(mem);
}
