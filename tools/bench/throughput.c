// SPDX-License-Identifier: MIT
/*
 * bcast-bench: throughput of one libbcast writer and one reader, against a
 * bare reference ring (tools/refring.h) measured in the same run.
 *
 * One writer thread pinned to one CPU publishes fixed-size messages as fast
 * as it can; one reader thread pinned to another CPU receives them into a
 * buffer.  The figure is messages DELIVERED per second at the reader;
 * messages lost to overruns are counted and reported separately.
 *
 * Backpressure is the same for both rings and lives outside them, in this
 * harness.  With --backpressure wait (the default) the reader hands the
 * writer credits (its message count, every <= 64 messages) and the writer
 * waits while a ring's worth is unread, so the reader always keeps up and
 * nothing is lost: the figure is the lossless throughput.  With
 * --backpressure none the writer never waits, as a bcast writer in
 * production; a reader lapped by it skips ahead (bcast: -BCAST_EOVERRUN,
 * reference: a position check) and what it lost is reported.  On a
 * writer faster than its reader that regime is dominated by laps.
 *
 * Both rings live in the same 2 MiB-aligned anonymous mapping (formatted
 * afresh before each round), use the same capacity, message sizes, number
 * of messages per round and CPUs, and run interleaved: for each size,
 * bcast, reference, bcast, reference, ...  Medians are reported per size
 * with the ratio bcast/reference.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "bcast.h"
#include <linux/bcast.h>
#include "refring.h"
#include "bench.h"

#define HUGE_2M (2UL << 20)
#define MIN_MESSAGES 1000ULL

const char *const mode_name[3] = { "receive", "batch", "bulk" };
static const char *const mode_desc[] = {
	"bcast_receive() into a buffer",
	"bcast_batch() + bcast_batch_next() + bcast_msg_read() into a buffer",
	"bcast_read_bulk() of at most --bulk-window bytes + bcast_bulk_next()",
};
static void min_max(const double *v, int n, double *lo, double *hi)
{
	int i;

	*lo = *hi = n ? v[0] : 0;
	for (i = 1; i < n; i++) {
		if (v[i] < *lo)
			*lo = v[i];
		if (v[i] > *hi)
			*hi = v[i];
	}
}

/* ------------------------------------------------------------------ */
/* the ring memory                                                      */

struct memory {
	unsigned char *base;	/* 2 MiB aligned */
	size_t len;		/* BCAST_HDR_SIZE + capacity */
	size_t map_len;		/* rounded up to 2 MiB */
	unsigned char *raw;
	size_t raw_len;
	long huge_kb;		/* AnonHugePages of the mapping, -1 unknown */
};

static long anon_huge_kb(const void *addr)
{
	unsigned long lo, hi, want = (unsigned long)(uintptr_t)addr;
	char line[512];
	bool in = false;
	long kb = -1, v;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') &&
		    isxdigit((unsigned char)line[0])) {
			in = want >= lo && want < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &v) == 1) {
			kb = v;
			break;
		}
	}
	fclose(f);
	return kb;
}

static void memory_init(struct memory *m, uint64_t cap)
{
	uintptr_t a;

	m->len = BCAST_RING_SIZE(cap, 1, BCAST_SLOT_SIZE);	/* gated: a slot */
	m->map_len = (m->len + HUGE_2M - 1) & ~(HUGE_2M - 1);
	m->raw_len = m->map_len + HUGE_2M;
	m->raw = mmap(NULL, m->raw_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->raw == MAP_FAILED)
		die("mmap of %zu bytes: %s", m->raw_len, strerror(errno));
	a = ((uintptr_t)m->raw + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1);
	m->base = (unsigned char *)a;
#ifdef MADV_HUGEPAGE
	madvise(m->base, m->map_len, MADV_HUGEPAGE);
#endif
	memset(m->base, 0, m->map_len);	/* fault everything in now */
	m->huge_kb = anon_huge_kb(m->base);
}

/* ------------------------------------------------------------------ */
/* one round                                                            */

/* What disturbed a thread during its timed run. */
struct usage {
	long ivcsw;		/* involuntary context switches */
	double cpu;		/* CPU seconds the thread got */
};

static void usage_mark(struct usage *u)
{
	struct rusage ru;
	struct timespec ts;

	getrusage(RUSAGE_THREAD, &ru);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	u->ivcsw = ru.ru_nivcsw;
	u->cpu = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage_since(struct usage *u)
{
	struct usage now;

	usage_mark(&now);
	u->ivcsw = now.ivcsw - u->ivcsw;
	u->cpu = now.cpu - u->cpu;
}

struct control {
	_Alignas(128) int writer_ready;
	_Alignas(128) int go;
	_Alignas(128) int done;
	_Alignas(128) uint64_t read_count;	/* backpressure: messages consumed */
	_Alignas(128) char end_pad;
};

/*
 * One round, shared by the two threads.  What each thread writes while it
 * runs sits on lines of its own (128 bytes: a line and its prefetch buddy),
 * away from what the other reads: the reference ring's writer and reader
 * state live here, and false sharing would slow it down, not bcast.
 */
struct round {
	/* set up by run_round(), read-only while the threads run */
	enum impl impl;
	enum mode mode;
	size_t size;
	uint64_t messages;	/* 0: run for `seconds` */
	double seconds;
	uint64_t credit;	/* backpressure: most messages in flight, 0: none */
	uint64_t credit_every;	/* the reader returns credit this often */
	int wcpu, rcpu;
	const unsigned char *src;
	unsigned char *buf;	/* >= mtu bytes */
	unsigned char *bulk;
	size_t bulk_cap;
	size_t buf_cap;
	struct bcast_writer *bw;
	struct bcast_reader *br;
	struct channel *ch;	/* pipe, unix, zeromq */
	struct control *ctl;

	/* the writer's */
	_Alignas(128) struct ref_writer rw;
	uint64_t written;
	double wsecs;
	struct usage wu;	/* interference seen by the writer */
	int werr;		/* first unexpected error, 0 if none */

	/* the reader's */
	_Alignas(128) struct ref_reader rr;
	uint64_t delivered;
	uint64_t delivered_bytes;
	uint64_t overruns;	/* bcast: -BCAST_EOVERRUN returns; ref: laps */
	uint64_t sink;
	double rsecs;
	struct usage ru;	/* interference seen by the reader */
	int rerr;
	const char *rerr_where;
	_Alignas(128) char end_pad;
};

/* Backpressure: wait until fewer than `credit` messages are unread. */
static __attribute__((noinline)) uint64_t wait_credit(struct control *ctl,
						      uint64_t written,
						      uint64_t credit)
{
	uint64_t seen;

	while (written - (seen = __atomic_load_n(&ctl->read_count,
						 __ATOMIC_ACQUIRE)) >= credit)
		cpu_relax();
	return seen;
}

static void *writer_main(void *arg)
{
	struct round *rd = arg;
	struct control *ctl = rd->ctl;
	const unsigned char *src = rd->src;
	size_t size = rd->size;
	uint64_t i = 0, n = rd->messages, credit = rd->credit, seen = 0;
	double t0, t1, deadline = 0;

	pin_self(rd->wcpu, "writer");
	__atomic_store_n(&ctl->writer_ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE))
		cpu_relax();
	usage_mark(&rd->wu);
	t0 = now_s();
	if (!n) {
		deadline = t0 + rd->seconds;
		n = UINT64_MAX;
	}
	if (rd->impl == IMPL_BCAST) {
		struct bcast_writer *w = rd->bw;

		while (i < n) {
			uint64_t stop = n - i < 256 ? n : i + 256;

			for (; i < stop; i++) {
				int err;

				if (credit && i - seen >= credit)
					seen = wait_credit(ctl, i, credit);
				err = bcast_publish(w, src, size, 1);

				if (err) {
					rd->werr = err;
					goto out;
				}
			}
			if (deadline && now_s() >= deadline)
				break;
		}
	} else if (rd->ch) {
		while (i < n) {
			uint64_t stop = n - i < 256 ? n : i + 256;

			for (; i < stop; i++) {
				int err;

				if (credit && i - seen >= credit)
					seen = wait_credit(ctl, i, credit);
				err = channel_send(rd->ch, src, size);
				if (err) {
					rd->werr = err;
					goto out;
				}
			}
			if (deadline && now_s() >= deadline)
				break;
		}
	} else {
		struct ref_writer *w = &rd->rw;

		while (i < n) {
			uint64_t stop = n - i < 256 ? n : i + 256;

			for (; i < stop; i++) {
				if (credit && i - seen >= credit)
					seen = wait_credit(ctl, i, credit);
				ref_publish(w, src, (uint32_t)size, 1);
			}
			if (deadline && now_s() >= deadline)
				break;
		}
	}
out:
	if (rd->ch)
		channel_end(rd->ch);
	t1 = now_s();
	usage_since(&rd->wu);
	rd->written = i;
	rd->wsecs = t1 - t0;
	__atomic_store_n(&ctl->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct sink_ctx {
	uint64_t delivered;
	uint64_t bytes;
	uint64_t sink;
	uint64_t credit_mask;	/* return credit every mask + 1 messages */
	uint64_t *read_count;	/* NULL without backpressure */
};

static inline void return_credit(struct sink_ctx *s)
{
	if (s->read_count)
		__atomic_store_n(s->read_count, s->delivered, __ATOMIC_RELEASE);
}

/* What the reader does with each message it got: count it and touch it. */
static __attribute__((noinline)) void deliver(void *ctx, const unsigned char *p,
					      uint32_t len)
{
	struct sink_ctx *s = ctx;

	s->delivered++;
	s->bytes += len;
	if (len)
		s->sink += p[0] ^ p[len - 1];
	if (!(s->delivered & s->credit_mask))
		return_credit(s);
}

static void reader_bcast(struct round *rd, struct sink_ctx *s)
{
	struct bcast_reader *r = rd->br;
	struct control *ctl = rd->ctl;
	ref_deliver_fn fn = deliver;
	bool done = false;

	for (;;) {
		ssize_t got;

		if (rd->mode == MODE_RECEIVE) {
			got = bcast_receive(r, rd->buf, rd->buf_cap, NULL);
			if (got >= 0) {
				fn(s, rd->buf, (uint32_t)got);
				continue;
			}
		} else if (rd->mode == MODE_BATCH) {
			struct bcast_batch b;
			struct bcast_msg m;
			int k;

			got = bcast_batch(r, &b);
			if (!got) {
				while ((k = bcast_batch_next(&b, &m)) == 1) {
					ssize_t len = bcast_msg_read(&m, rd->buf,
								     rd->buf_cap);

					if (len >= 0)
						fn(s, rd->buf, (uint32_t)len);
					else if (len == -BCAST_EOVERRUN)
						rd->overruns++;
					else {
						rd->rerr = (int)len;
						rd->rerr_where = "bcast_msg_read";
						return;
					}
				}
				if (!k)
					continue;
				got = k;
			}
		} else {
			struct bcast_bulk bulk;
			struct bcast_msg m;
			int k;

			got = bcast_read_bulk(r, rd->bulk, rd->bulk_cap, &bulk);
			if (got > 0) {
				while ((k = bcast_bulk_next(&bulk, &m)) == 1)
					fn(s, bcast_msg_peek(&m), m.len);
				if (!k)
					continue;
				got = k;
			}
		}
		if (got == -EINPROGRESS)
			continue;	/* bounded work, more pending */
		if (got == -EAGAIN) {
			return_credit(s);
			if (done)
				return;
			done = __atomic_load_n(&ctl->done, __ATOMIC_ACQUIRE);
			cpu_relax();
		} else if (got == -BCAST_EOVERRUN) {
			rd->overruns++;
			if (rd->credit)
				die("bcast reader overrun despite backpressure "
				    "(credit %" PRIu64 " messages of %zu B)",
				    rd->credit, rd->size);
		} else {
			rd->rerr = (int)got;
			rd->rerr_where = rd->mode == MODE_RECEIVE ? "bcast_receive" :
					 rd->mode == MODE_BATCH ? "bcast_batch" :
					 "bcast_read_bulk";
			return;
		}
	}
}

static void reader_ref(struct round *rd, struct sink_ctx *s)
{
	struct ref_reader *r = &rd->rr;
	struct control *ctl = rd->ctl;
	ref_deliver_fn fn = deliver;
	bool done = false;

	for (;;) {
		long got;

		if (rd->mode == MODE_RECEIVE) {
			got = ref_receive(r, rd->buf);
			if (got >= 0) {
				fn(s, rd->buf, (uint32_t)got);
				continue;
			}
		} else if (rd->mode == MODE_BATCH) {
			got = ref_batch(r, rd->buf, fn, s);
			if (got >= 0)
				continue;
		} else {
			got = ref_bulk(r, rd->bulk, rd->bulk_cap, fn, s);
			if (got >= 0)
				continue;
		}
		if (got == REF_EAGAIN) {
			return_credit(s);
			if (done)
				return;
			done = __atomic_load_n(&ctl->done, __ATOMIC_ACQUIRE);
			cpu_relax();
		}
		/* REF_ELAPPED: counted in r->laps */
		if (got == REF_ELAPPED && rd->credit)
			die("reference reader lapped despite backpressure");
	}
}

static void reader_channel(struct round *rd, struct sink_ctx *s)
{
	for (;;) {
		ssize_t got = channel_recv(rd->ch, 0, rd->buf, rd->buf_cap);

		if (got >= 0) {
			deliver(s, rd->buf, (uint32_t)got);
			continue;
		}
		return_credit(s);
		if (got != -EPIPE) {
			rd->rerr = (int)got;
			rd->rerr_where = impl_name[rd->impl];
		}
		return;
	}
}

static void *reader_main(void *arg)
{
	struct round *rd = arg;
	struct control *ctl = rd->ctl;
	struct sink_ctx s = { 0, 0, 0, rd->credit_every - 1,
			      rd->credit ? &ctl->read_count : NULL };
	double t0, t1;

	pin_self(rd->rcpu, "reader");
	while (!__atomic_load_n(&ctl->writer_ready, __ATOMIC_ACQUIRE))
		cpu_relax();
	usage_mark(&rd->ru);
	t0 = now_s();
	__atomic_store_n(&ctl->go, 1, __ATOMIC_RELEASE);
	if (rd->impl == IMPL_BCAST)
		reader_bcast(rd, &s);
	else if (rd->ch)
		reader_channel(rd, &s);
	else
		reader_ref(rd, &s);
	t1 = now_s();
	usage_since(&rd->ru);
	rd->rsecs = t1 - t0;
	rd->delivered = s.delivered;
	rd->delivered_bytes = s.bytes;
	rd->sink = s.sink;
	if (rd->impl == IMPL_REF)
		rd->overruns = rd->rr.laps;
	return NULL;
}

/*
 * What one column of the table runs: an implementation, its reader's API
 * and whether the harness holds the writer back (credits) or lets it run
 * free.  Column 0 is the floor every ratio is taken against: the reference
 * ring held back, so that it loses nothing.
 */
struct variant {
	enum impl impl;
	enum mode mode;
	bool held;
	bool gated;		/* a BCAST_GATED ring, the reader registered:
				 * the ring holds the writer back itself */
	char name[20];
};
#define MAX_VARIANTS 12

struct bench {
	const struct options *o;
	struct variant v[MAX_VARIANTS];
	int nv;
	struct memory mem;
	uint64_t mtu;
	unsigned char *src;
	unsigned char *buf;
	unsigned char *bulk;
	size_t bulk_cap;
	uint64_t sink;
	struct cpu_watch watch;	/* the writer's and the reader's CPU */
	bool adding_gated;	/* add_variant(): the next is the gated one */
};

struct result {
	double rate;		/* delivered msgs/s at the reader */
	double gbps;		/* delivered payload GB/s (1e9 bytes) */
	double wrate;		/* written msgs/s at the writer */
	uint64_t written, delivered, overruns, lost;
	uint64_t lib_overruns, lib_lost;	/* bcast_reader_stats */
	double secs;
	long ivcsw;		/* involuntary context switches, both threads */
	double cpu_share;	/* lowest CPU time / wall time of the two */
	long steal;		/* hypervisor steal on the two CPUs, ticks */
};

/*
 * A round some other load on the machine got in the way of: a thread had
 * the CPU for less than 97% of the round (preempted by another task), or
 * the hypervisor stole more than 3% of it from the two CPUs.  A few
 * involuntary context switches alone (kernel work) do not count.
 */
static bool disturbed(const struct result *r)
{
	double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);

	return r->cpu_share < 0.97 ||
	       (double)r->steal * tick > 0.03 * 2 * r->secs;
}

/* Steal time of one CPU from /proc/stat (USER_HZ ticks), -1 if unknown. */
static long steal_ticks(int cpu)
{
	char line[512], want[32];
	long v[8];
	FILE *f = fopen("/proc/stat", "re");
	long steal = -1;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		if (sscanf(line + strlen(want), "%ld %ld %ld %ld %ld %ld %ld %ld",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) == 8)
			steal = v[7];
		break;
	}
	fclose(f);
	return steal;
}

static void run_round(struct bench *b, const struct variant *v, size_t size,
		      uint64_t messages, struct result *res)
{
	enum impl impl = v->impl;
	const struct options *o = b->o;
	struct control *ctl;
	struct bcast_ring *ring = NULL;
	struct bcast_reader_stats st;
	struct round rd;
	struct channel ch;
	pthread_t wt, rt;
	long steal0, steal1;
	int err;

	ctl = aligned_alloc(128, sizeof(*ctl));
	if (!ctl)
		die("out of memory");
	memset(ctl, 0, sizeof(*ctl));
	memset(&rd, 0, sizeof(rd));
	rd.impl = impl;
	rd.mode = v->mode;
	rd.size = size;
	rd.messages = messages;
	rd.seconds = o->seconds;
	rd.wcpu = o->wcpu;
	rd.rcpu = o->rcpu;
	rd.src = b->src;
	rd.buf = b->buf;
	rd.buf_cap = b->mtu;
	rd.bulk = b->bulk;
	rd.bulk_cap = b->bulk_cap;
	rd.ctl = ctl;
	if (v->held) {
		rd.credit = credit_of(o->capacity, size);
		rd.credit_every = 1;
		while (rd.credit_every * 2 <= 64 &&
		       rd.credit_every * 2 <= rd.credit / 4)
			rd.credit_every *= 2;
	} else {
		rd.credit_every = 1ULL << 62;
	}

	if (impl == IMPL_BCAST) {
		struct bcast_ring_opts ro = { .size = o->capacity };

		if (v->gated) {
			ro.flags = BCAST_GATED | BCAST_READER_SLOTS;
			ro.reader_slots = 1;
		}
		err = bcast_ring_format(b->mem.base, b->mem.len, &ro, &ring);
		if (err)
			die("bcast_ring_format: %s", bcast_strerror(err));
		err = bcast_writer_open(ring, &rd.bw);
		if (err)
			die("bcast_writer_open: %s", bcast_strerror(err));
		err = bcast_reader_open(ring, BCAST_FROM_OLDEST |
					(v->gated ? BCAST_REGISTER : 0), &rd.br);
		if (err)
			die("bcast_reader_open: %s", bcast_strerror(err));
	} else if (impl == IMPL_REF) {
		ref_ring_format(&rd.rw.r, b->mem.base, o->capacity,
				(uint32_t)b->mtu);
		rd.rr.r = rd.rw.r;
	} else {
		const char *what;

		err = channel_open(&ch, impl, 1, &what);
		if (err)
			die("%s: %s", what, strerror(-err));
		rd.ch = &ch;
	}

	steal0 = steal_ticks(o->wcpu) + steal_ticks(o->rcpu);
	err = pthread_create(&rt, NULL, reader_main, &rd);
	if (err)
		die("pthread_create: %s", strerror(err));
	err = pthread_create(&wt, NULL, writer_main, &rd);
	if (err)
		die("pthread_create: %s", strerror(err));
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	steal1 = steal_ticks(o->wcpu) + steal_ticks(o->rcpu);

	if (rd.ch)
		channel_close(rd.ch);
	if (rd.werr)
		die("%s writer: %s: %s", impl_name[impl],
		    impl == IMPL_BCAST ? "bcast_publish" : "send",
		    bcast_strerror(rd.werr));
	if (rd.rerr)
		die("%s reader: %s: %s", impl_name[impl], rd.rerr_where,
		    bcast_strerror(rd.rerr));

	memset(res, 0, sizeof(*res));
	if (impl == IMPL_BCAST) {
		bcast_reader_stats(rd.br, &st);
		res->lib_overruns = st.overruns;
		res->lib_lost = st.lost_messages;
		bcast_reader_close(rd.br);
		bcast_writer_close(rd.bw);
		bcast_ring_close(ring);
	}
	res->written = rd.written;
	res->delivered = rd.delivered;
	res->overruns = rd.overruns;
	res->lost = rd.written > rd.delivered ? rd.written - rd.delivered : 0;
	res->secs = rd.rsecs;
	res->rate = rd.rsecs > 0 ? (double)rd.delivered / rd.rsecs : 0;
	res->gbps = rd.rsecs > 0 ? (double)rd.delivered_bytes / rd.rsecs / 1e9 : 0;
	res->wrate = rd.wsecs > 0 ? (double)rd.written / rd.wsecs : 0;
	res->ivcsw = rd.wu.ivcsw + rd.ru.ivcsw;
	res->cpu_share = fmin(rd.wsecs > 0 ? rd.wu.cpu / rd.wsecs : 1,
			      rd.rsecs > 0 ? rd.ru.cpu / rd.rsecs : 1);
	res->steal = steal0 >= 0 && steal1 >= 0 ? steal1 - steal0 : 0;
	b->sink += rd.sink;
	if (rd.delivered > rd.written)
		die("%s: the reader delivered %" PRIu64 " messages of %" PRIu64
		    " written", impl_name[impl], rd.delivered, rd.written);
	free(ctl);
}

/* ------------------------------------------------------------------ */
/* reporting                                                            */

struct size_report {
	size_t size;
	uint64_t messages;		/* per round, every ring variant */
	uint64_t count[MAX_VARIANTS];	/* per round, each variant */
	struct result *r[MAX_VARIANTS];	/* [rounds] */
	double med_rate[MAX_VARIANTS], med_gbps[MAX_VARIANTS];
	double lo[MAX_VARIANTS], hi[MAX_VARIANTS];
	double paired[MAX_VARIANTS];	/* median of per-round ratios to v[0] */
	uint64_t lost[MAX_VARIANTS], overruns[MAX_VARIANTS];
	uint64_t written[MAX_VARIANTS];
	double secs[MAX_VARIANTS];	/* reader seconds, all rounds */
	int retries;			/* disturbed rounds run again */
	int slow_rounds;		/* rounds after which the CPUs were apart */
	double waited;			/* seconds spent waiting for the machine */
	double trip_lo, trip_hi;	/* ns: round trips seen at this size */
};

static int find_variant(const struct bench *b, enum impl impl, enum mode mode,
			bool held)
{
	int k;

	for (k = 0; k < b->nv; k++)
		if (b->v[k].impl == impl && b->v[k].mode == mode &&
		    b->v[k].held == held && !b->v[k].gated)
			return k;
	return -1;
}

static int find_gated(const struct bench *b)
{
	int k;

	for (k = 0; k < b->nv; k++)
		if (b->v[k].gated)
			return k;
	return -1;
}

/* Median over the rounds of v[a]'s rate / v[c]'s in the same round. */
static double paired_ratio(const struct size_report *sr, int a, int c,
			   int rounds)
{
	double pr[rounds];
	int j;

	for (j = 0; j < rounds; j++)
		pr[j] = sr->r[c][j].rate > 0 ?
			sr->r[a][j].rate / sr->r[c][j].rate : 0;
	return median(pr, rounds);
}

static void summarise(const struct bench *b, struct size_report *sr,
		      int rounds)
{
	double rate[rounds], gbps[rounds];
	int k, i;

	for (k = 0; k < b->nv; k++) {
		sr->lost[k] = sr->overruns[k] = sr->written[k] = 0;
		sr->secs[k] = 0;
		for (i = 0; i < rounds; i++) {
			rate[i] = sr->r[k][i].rate;
			gbps[i] = sr->r[k][i].gbps;
			sr->lost[k] += sr->r[k][i].lost;
			sr->overruns[k] += sr->r[k][i].overruns;
			sr->written[k] += sr->r[k][i].written;
			sr->secs[k] += sr->r[k][i].secs;
		}
		sr->med_rate[k] = median(rate, rounds);
		sr->med_gbps[k] = median(gbps, rounds);
		min_max(rate, rounds, &sr->lo[k], &sr->hi[k]);
		sr->paired[k] = paired_ratio(sr, k, 0, rounds);
	}
}

static void print_preamble(const struct bench *b)
{
	const struct options *o = b->o;
	int k;

	printf("throughput: 1 writer (CPU %d) -> 1 reader (CPU %d)\n",
	       o->wcpu, o->rcpu);
	for (k = 0; k < 3; k++)
		if (o->modes & (1u << k))
			printf("  %-13s %s\n", mode_name[k], mode_desc[k]);
	printf("  rings:        capacity %" PRIu64 " B, MTU %" PRIu64
	       " B; every ring in the same 2 MiB-aligned anonymous mapping",
	       o->capacity, b->mtu);
	if (b->mem.huge_kb >= 0)
		printf(" (%ld of %zu kB in huge pages)\n", b->mem.huge_kb,
		       b->mem.map_len / 1024);
	else
		printf("\n");
	printf("  held:         the harness holds the writer back while the "
	       "reader is a ring behind\n"
	       "                (credits returned every <= 64 messages), so "
	       "nothing is lost\n"
	       "  free:         the writer never waits, as a broadcast writer "
	       "in production; a lapped\n"
	       "                reader skips ahead (bcast: -BCAST_EOVERRUN, "
	       "reference: position check)\n");
	if (find_gated(b) >= 0)
		printf("  gated:        bcast_receive() from a BCAST_GATED ring, "
		       "the reader registered: the\n"
		       "                ring itself holds the writer back (no "
		       "credits), so nothing is lost\n");
	printf("  floor:        the reference ring held (ref-held): the most "
	       "messages a bare reader\n"
	       "                consumes; every ratio is to it, per round "
	       "(median of paired ratios)\n");
	printf("  reference:    tools/bench/refring.h: SPSC, same frame layout "
	       "and padding, release/acquire\n"
	       "                committed, reader copies out, no validation, "
	       "noinline like a library call\n");
	for (k = IMPL_PIPE; k < IMPL_COUNT; k++)
		if (o->impls & (1u << k))
			printf("  %-13s %s (the writer blocks when full)\n",
			       impl_name[k], impl_desc[k]);
	printf("  figure:       messages DELIVERED per second at the reader; "
	       "losses are counted apart\n");
	printf("  rounds:       %d, each running every column once, in "
	       "turn; ", o->rounds);
	if (o->messages)
		printf("%" PRIu64 " messages each\n", o->messages);
	else
		printf("messages per round calibrated\n"
		       "                so each takes ~%.2f s (every ring the "
		       "same count)\n", o->seconds);
	if (o->retries)
		printf("                a round disturbed by other load is run "
		       "again, up to %d times\n", o->retries);
	printf("\n");
}

static void print_rings(const struct bench *b, struct size_report *sr, int n)
{
	const struct options *o = b->o;
	int i, k, total_disturbed = 0, total = 0;

	printf("  delivered Mmsg/s (median) and, below, the median per-round "
	       "ratio to %s:\n  size ", b->v[0].name);
	for (k = 0; k < b->nv; k++)
		printf(" %12s", b->v[k].name);
	printf("\n");
	for (i = 0; i < n; i++) {
		printf("  %4zu ", sr[i].size);
		for (k = 0; k < b->nv; k++)
			printf(" %12.2f", sr[i].med_rate[k] / 1e6);
		printf("\n       ");
		for (k = 0; k < b->nv; k++)
			printf(" %11.3fx", sr[i].paired[k]);
		printf("\n");
	}
	for (k = 0; k < b->nv && b->v[k].held; k++)
		;
	if (k == b->nv)
		goto interference;	/* no free-running column */
	printf("\n  overruns per second of reading (laps) and messages lost, "
	       "free-running columns:\n  size ");
	for (k = 0; k < b->nv; k++)
		if (!b->v[k].held)
			printf(" %21s", b->v[k].name);
	printf("\n");
	for (i = 0; i < n; i++) {
		printf("  %4zu ", sr[i].size);
		for (k = 0; k < b->nv; k++) {
			if (b->v[k].held)
				continue;
			printf(" %9.0f/s %8.1f%%",
			       sr[i].secs[k] > 0 ? sr[i].overruns[k] /
			       sr[i].secs[k] : 0,
			       sr[i].written[k] ? 100.0 * sr[i].lost[k] /
			       sr[i].written[k] : 0);
		}
		printf("\n");
	}
interference:
	for (i = 0; i < n; i++)
		for (k = 0; k < b->nv; k++) {
			int j;

			for (j = 0; j < o->rounds; j++) {
				total_disturbed += disturbed(&sr[i].r[k][j]);
				total++;
			}
		}
	printf("\n  interference: %d of %d runs disturbed by other load (a "
	       "thread had < 97%% of the\n  CPU, or hypervisor steal > 3%% on "
	       "CPUs %d,%d); rounds run again:", total_disturbed, total,
	       o->wcpu, o->rcpu);
	for (i = 0; i < n; i++)
		printf(" %zu B %d%s", sr[i].size, sr[i].retries,
		       i + 1 < n ? "," : "\n");
	printf("  a cache line's round trip between CPUs %d and %d: %.0f ns at "
	       "best; seen at each size:\n ", o->wcpu, o->rcpu, b->watch.fastest);
	for (i = 0; i < n; i++)
		printf(" %zu B %.0f-%.0f ns%s", sr[i].size, sr[i].trip_lo,
		       sr[i].trip_hi, i + 1 < n ? "," : "\n");
	for (i = 0; i < n; i++)
		if (sr[i].slow_rounds || sr[i].waited)
			printf("  %zu B: %d rounds ended with the CPUs apart (> %.0fx "
			       "the best round trip), %.1f s waited\n", sr[i].size,
			       sr[i].slow_rounds, CPUS_APART, sr[i].waited);
	if (total_disturbed)
		printf("  (the figures of a noisy run are less reliable than "
		       "they look)\n");
}

/* One round of one column: its members (the caller closes the object). */
static void json_result(struct json *j, const struct result *r)
{
	json_object(j);
	json_member_double(j, "msgs_per_s", r->rate, 1);
	json_member_double(j, "gb_per_s", r->gbps, 6);
	json_member_double(j, "writer_msgs_per_s", r->wrate, 1);
	json_member_double(j, "seconds", r->secs, 6);
	json_member_u64(j, "written", r->written);
	json_member_u64(j, "delivered", r->delivered);
	json_member_u64(j, "lost", r->lost);
	json_member_u64(j, "overruns", r->overruns);
	json_member_i64(j, "ivcsw", r->ivcsw);
	json_member_double(j, "cpu_share", r->cpu_share, 4);
	json_member_i64(j, "steal_ticks", r->steal);
	json_member_bool(j, "disturbed", disturbed(r));
}

/* Column k of one size: its medians, then every round. */
static void json_column(struct json *j, const struct bench *b,
			const struct size_report *s, int k)
{
	const struct variant *v = &b->v[k];
	int r;

	json_key(j, v->name);
	json_object(j);
	json_member_string(j, "implementation", impl_name[v->impl]);
	json_member_string(j, "reader", mode_name[v->mode]);
	json_member_string(j, "writer", v->held ? "held" : "free");
	json_member_u64(j, "messages_per_round", s->count[k]);
	json_member_double(j, "median_msgs_per_s", s->med_rate[k], 1);
	json_member_double(j, "median_gb_per_s", s->med_gbps[k], 6);
	json_member_double(j, "min_msgs_per_s", s->lo[k], 1);
	json_member_double(j, "max_msgs_per_s", s->hi[k], 1);
	json_member_u64(j, "lost", s->lost[k]);
	json_member_u64(j, "overruns", s->overruns[k]);
	json_member_double(j, "paired_ratio_to_floor", s->paired[k], 4);
	json_key(j, "rounds");
	json_array(j);
	for (r = 0; r < b->o->rounds; r++) {
		json_result(j, &s->r[k][r]);
		if (v->impl == IMPL_BCAST) {
			json_member_u64(j, "lib_lost", s->r[k][r].lib_lost);
			json_member_u64(j, "lib_overruns",
					s->r[k][r].lib_overruns);
		}
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

static void print_json(struct json *j, const struct bench *b,
		       struct size_report *sr, int n)
{
	const struct options *o = b->o;
	int i, k;

	json_key(j, "throughput");
	json_object(j);
	json_member_u64(j, "capacity", o->capacity);
	json_member_u64(j, "mtu", b->mtu);
	json_member_i64(j, "rounds", o->rounds);
	json_member_double(j, "seconds", o->seconds, 6);
	json_member_i64(j, "writer_cpu", o->wcpu);
	json_member_i64(j, "reader_cpu", o->rcpu);
	json_member_i64(j, "huge_kb", b->mem.huge_kb);
	json_member_u64(j, "map_kb", b->mem.map_len / 1024);
	json_member_string(j, "floor", b->v[0].name);
	json_member_double(j, "fastest_round_trip_ns", b->watch.fastest, 1);
	json_member_string(j, "figure",
			   "delivered messages per second at the reader");
	json_key(j, "results");
	json_array(j);
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];

		json_object(j);
		json_member_u64(j, "size", s->size);
		json_member_i64(j, "rounds_rerun", s->retries);
		json_member_i64(j, "rounds_cpus_apart", s->slow_rounds);
		json_member_double(j, "waited_s", s->waited, 1);
		json_member_double(j, "round_trip_ns_min", s->trip_lo, 1);
		json_member_double(j, "round_trip_ns_max", s->trip_hi, 1);
		for (k = 0; k < b->nv; k++)
			json_column(j, b, s, k);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

/* ------------------------------------------------------------------ */
/* the targets of this section                                          */

static void add_verdict(struct figures *fig, double value, double limit,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void add_verdict(struct figures *fig, double value, double limit,
			const char *fmt, ...)
{
	struct tp_verdict *t;
	va_list ap;

	if (fig->ntp >= MAX_TP_VERDICTS)
		return;
	t = &fig->tp[fig->ntp++];
	va_start(ap, fmt);
	vsnprintf(t->what, sizeof(t->what), fmt, ap);
	va_end(ap);
	t->value = value;
	t->limit = limit;
}

/*
 * bcast_receive >= 1.0x the floor; bcast_read_bulk >= 1.3x bcast_receive
 * at 8 and 64 B and >= 1.0x the floor; lazy batch >= 0.8x bcast_receive:
 * for the writer held back and free-running alike; a gated ring (no
 * harness credits: the ring holds the writer) >= 0.9x the floor at 64 B
 * and >= 0.95x at 4 KiB.  Every ratio the median of per-round ratios.
 */
static void judge(const struct bench *b, struct size_report *sr, int n,
		  struct figures *fig)
{
	int i, h, g = find_gated(b);

	for (i = 0; i < n; i++) {
		/* Gated: >= 0.9x the lossless floor at 64 B, 0.95x at 4 KiB. */
		if (g >= 0 && (sr[i].size == 64 || sr[i].size == 4096))
			add_verdict(fig, sr[i].paired[g],
				    sr[i].size == 64 ? 0.9 : 0.95,
				    "%4zu B gated / floor", sr[i].size);
		for (h = 1; h >= 0; h--) {
			const char *w = h ? "held" : "free";
			int rx = find_variant(b, IMPL_BCAST, MODE_RECEIVE, h);
			int bu = find_variant(b, IMPL_BCAST, MODE_BULK, h);
			int ba = find_variant(b, IMPL_BCAST, MODE_BATCH, h);

			if (rx >= 0)
				add_verdict(fig, sr[i].paired[rx], 1.0,
					    "%4zu B receive-%s / floor",
					    sr[i].size, w);
			if (bu >= 0)
				add_verdict(fig, sr[i].paired[bu], 1.0,
					    "%4zu B bulk-%s / floor",
					    sr[i].size, w);
			if (bu >= 0 && rx >= 0 &&
			    (sr[i].size == 8 || sr[i].size == 64))
				add_verdict(fig, paired_ratio(&sr[i], bu, rx,
							      b->o->rounds),
					    1.3, "%4zu B bulk-%s / receive-%s",
					    sr[i].size, w, w);
			if (ba >= 0 && rx >= 0)
				add_verdict(fig, paired_ratio(&sr[i], ba, rx,
							      b->o->rounds),
					    0.8, "%4zu B batch-%s / receive-%s",
					    sr[i].size, w, w);
		}
	}
}

/* ------------------------------------------------------------------ */

static void add_variant(struct bench *b, enum impl impl, enum mode mode,
			bool held)
{
	struct variant *v = &b->v[b->nv++];

	v->impl = impl;
	v->mode = mode;
	v->held = held;
	if (impl == IMPL_BCAST && mode == MODE_RECEIVE && !held &&
	    b->adding_gated) {
		v->gated = true;
		snprintf(v->name, sizeof(v->name), "gated");
	} else if (impl == IMPL_BCAST)
		snprintf(v->name, sizeof(v->name), "%s-%s", mode_name[mode],
			 held ? "held" : "free");
	else if (impl == IMPL_REF)
		snprintf(v->name, sizeof(v->name), "ref-%s",
			 held ? "held" : "free");
	else
		snprintf(v->name, sizeof(v->name), "%s", impl_name[impl]);
}

static void bench_init(struct bench *b, const struct options *o)
{
	size_t maxsize = 0;
	int i, k, h;

	memset(b, 0, sizeof(*b));
	b->o = o;
	add_variant(b, IMPL_REF, MODE_RECEIVE, true);	/* the floor */
	for (k = 0; k < 3; k++)
		for (h = 1; h >= 0; h--)
			if ((o->modes & (1u << k)) &&
			    (o->regimes & (h ? REGIME_HELD : REGIME_FREE)))
				add_variant(b, IMPL_BCAST, (enum mode)k, h);
	/* Lossless by the ring itself: bcast_receive() from a gated ring. */
	if (o->modes & (1u << MODE_RECEIVE)) {
		b->adding_gated = true;
		add_variant(b, IMPL_BCAST, MODE_RECEIVE, false);
		b->adding_gated = false;
	}
	if (o->regimes & REGIME_FREE)
		add_variant(b, IMPL_REF, MODE_RECEIVE, false);
	for (k = IMPL_PIPE; k < IMPL_COUNT; k++)
		if (o->impls & (1u << k))
			add_variant(b, (enum impl)k, MODE_RECEIVE, true);
	b->mtu = mtu_of(o->capacity);
	memory_init(&b->mem, o->capacity);
	for (i = 0; i < o->nsizes; i++)
		if (o->sizes[i] > maxsize)
			maxsize = o->sizes[i];
	b->src = aligned_alloc(128, (maxsize + 127) & ~(size_t)127);
	b->buf = aligned_alloc(128, (b->mtu + 127) & ~(uint64_t)127);
	b->bulk_cap = o->bulk_window;
	if (b->bulk_cap < 2 * frame_total(maxsize))
		b->bulk_cap = (size_t)(2 * frame_total(maxsize) + 127) & ~(size_t)127;
	b->bulk = aligned_alloc(128, b->bulk_cap);
	if (!b->src || !b->buf || !b->bulk)
		die("out of memory");
	for (i = 0; i < (int)maxsize; i++)
		b->src[i] = (unsigned char)(i * 131 + 7);
	memset(b->buf, 0, b->mtu);
	memset(b->bulk, 0, b->bulk_cap);
	b->watch = (struct cpu_watch){ .cpu_a = o->wcpu, .cpu_b = o->rcpu,
				       .quiet = o->json, .budget = o->settle };
	for (i = 0; i < 5; i++)
		cpu_watch_trip(&b->watch);
}

static void log_round(const struct options *o, const struct size_report *s,
		      int j, const struct variant *v, const struct result *r)
{
	if (!o->verbose)
		return;
	fprintf(stderr, "size %zu round %d %-12s %8.3f Mmsg/s %7.3f GB/s  "
		"writer %8.3f Mmsg/s  lost %" PRIu64 " overruns %" PRIu64
		"  %.3f s  ivcsw %ld cpu %.0f%% steal %ld\n",
		s->size, j + 1, v->name, r->rate / 1e6, r->gbps,
		r->wrate / 1e6, r->lost, r->overruns, r->secs, r->ivcsw,
		100 * r->cpu_share, r->steal);
}

static bool is_ring(const struct variant *v)
{
	return v->impl == IMPL_BCAST || v->impl == IMPL_REF;
}

/* Warm every column up (time-based), which calibrates the counts: every
 * ring runs the count of the fastest ring, a channel its own. */
static void calibrate(struct bench *b, struct size_report *s)
{
	const struct options *o = b->o;
	struct result warm;
	double rate[MAX_VARIANTS] = { 0 }, fastest = 0;
	int k;

	for (k = 0; k < b->nv; k++) {
		run_round(b, &b->v[k], s->size, 0, &warm);
		rate[k] = warm.secs > 0 ? (double)warm.written / warm.secs : 0;
		if (is_ring(&b->v[k]) && rate[k] > fastest)
			fastest = rate[k];
	}
	for (k = 0; k < b->nv; k++) {
		double r = is_ring(&b->v[k]) ? fastest : rate[k];

		s->count[k] = o->messages ? o->messages :
			      (uint64_t)(r * o->seconds);
		if (s->count[k] < MIN_MESSAGES)
			s->count[k] = MIN_MESSAGES;
	}
	s->messages = s->count[0];
}

static void measure_size(struct bench *b, struct size_report *s)
{
	const struct options *o = b->o;
	char what[32];
	int j, k;

	for (k = 0; k < b->nv; k++) {
		s->r[k] = calloc((size_t)o->rounds, sizeof(struct result));
		if (!s->r[k])
			die("out of memory");
	}
	snprintf(what, sizeof(what), "%zu B", s->size);
	b->watch.waited = 0;
	b->watch.lo = b->watch.hi = 0;
	cpu_watch_wait(&b->watch, what);
	calibrate(b, s);
	for (j = 0; j < o->rounds; j++) {
		int attempt = 0;
		bool noisy;

		do {
			noisy = false;
			cpu_watch_wait(&b->watch, what);
			for (k = 0; k < b->nv; k++) {
				run_round(b, &b->v[k], s->size, s->count[k],
					  &s->r[k][j]);
				log_round(o, s, j, &b->v[k], &s->r[k][j]);
				noisy |= is_ring(&b->v[k]) &&
					 disturbed(&s->r[k][j]);
			}
			/* The CPUs moved apart during the round? */
			if (cpu_watch_apart(&b->watch)) {
				s->slow_rounds++;
				noisy = true;
			}
			/* Run a disturbed round again, a few times at most. */
		} while (noisy && attempt++ < o->retries && ++s->retries);
		if (!o->json && !o->verbose) {
			fprintf(stderr, "\r  %zu B: round %d of %d", s->size,
				j + 1, o->rounds);
			fflush(stderr);
		}
	}
	if (!o->json && !o->verbose)
		fprintf(stderr, "\r%40s\r", "");
	s->waited = b->watch.waited;
	s->trip_lo = b->watch.lo;
	s->trip_hi = b->watch.hi;
	summarise(b, s, o->rounds);
}

void throughput_run(const struct options *o, struct figures *fig,
		    struct json *json)
{
	struct bench b;
	struct size_report *sr;
	int i, k, rx, fl;

	bench_init(&b, o);
	sr = calloc((size_t)o->nsizes, sizeof(*sr));
	if (!sr)
		die("out of memory");
	if (!o->json)
		print_preamble(&b);
	fflush(stdout);
	rx = find_variant(&b, IMPL_BCAST, MODE_RECEIVE, true);
	if (rx < 0)
		rx = find_variant(&b, IMPL_BCAST, o->modes & 1 ? MODE_RECEIVE :
				  o->modes & 2 ? MODE_BATCH : MODE_BULK,
				  !(o->regimes & REGIME_HELD) ? false : true);
	for (i = 0; i < o->nsizes; i++) {
		sr[i].size = o->sizes[i];
		measure_size(&b, &sr[i]);
		fig->sizes[i] = sr[i].size;
		fig->paired_ref[i] = rx >= 0 ? sr[i].paired[rx] : 0;
		for (k = 0; k < IMPL_COUNT; k++)
			fig->rate[i][k] = 0;
		fl = 0;
		fig->rate[i][IMPL_REF] = sr[i].med_rate[fl];
		if (rx >= 0)
			fig->rate[i][IMPL_BCAST] = sr[i].med_rate[rx];
		for (k = 0; k < b.nv; k++)
			if (b.v[k].impl >= IMPL_PIPE)
				fig->rate[i][b.v[k].impl] = sr[i].med_rate[k];
	}
	fig->nsizes = o->nsizes;
	judge(&b, sr, o->nsizes, fig);
	if (o->json) {
		print_json(json, &b, sr, o->nsizes);
	} else {
		print_rings(&b, sr, o->nsizes);
		printf("\n");
	}
	if (b.sink == 0x5eed5eed5eedULL)	/* keep the payload reads alive */
		fprintf(stderr, "\n");
	for (i = 0; i < o->nsizes; i++)
		for (k = 0; k < b.nv; k++)
			free(sr[i].r[k]);
	free(sr);
	munmap(b.mem.raw, b.mem.raw_len);
	free(b.src);
	free(b.buf);
	free(b.bulk);
}
