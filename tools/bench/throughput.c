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
	"bcast_receive() into a buffer; reference: one acquire load and one copy per message",
	"bcast_batch() + bcast_batch_next() + bcast_msg_read() into a buffer; "
	"reference: one acquire load per batch, one copy per message",
	"bcast_read_bulk() + bcast_bulk_next(); "
	"reference: one acquire load and one window copy per bulk, then a walk",
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

	m->len = BCAST_HDR_SIZE + cap;
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

struct bench {
	const struct options *o;
	struct memory mem;
	uint64_t mtu;
	unsigned char *src;
	unsigned char *buf;
	unsigned char *bulk;
	size_t bulk_cap;
	uint64_t sink;
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

static void run_round(struct bench *b, enum impl impl, size_t size,
		      uint64_t messages, struct result *res)
{
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
	rd.mode = o->mode;
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
	if (o->backpressure) {
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

		err = bcast_ring_format(b->mem.base, b->mem.len, &ro, &ring);
		if (err)
			die("bcast_ring_format: %s", bcast_strerror(err));
		err = bcast_writer_open(ring, &rd.bw);
		if (err)
			die("bcast_writer_open: %s", bcast_strerror(err));
		err = bcast_reader_open(ring, BCAST_FROM_OLDEST, &rd.br);
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
	uint64_t messages;		/* per round, the two rings */
	uint64_t count[IMPL_COUNT];	/* per round, each implementation */
	struct result *r[IMPL_COUNT];	/* [rounds], NULL: not run */
	double med_rate[IMPL_COUNT], med_gbps[IMPL_COUNT];
	double lo[IMPL_COUNT], hi[IMPL_COUNT];
	uint64_t lost[IMPL_COUNT], overruns[IMPL_COUNT], written[IMPL_COUNT];
	double ratio, paired;		/* bcast / reference */
	int retries;			/* disturbed ring pairs run again */
};

static void summarise(struct size_report *sr, int rounds)
{
	double rate[rounds], gbps[rounds], pr[rounds];
	int k, i;

	for (k = 0; k < IMPL_COUNT; k++) {
		sr->lost[k] = sr->overruns[k] = sr->written[k] = 0;
		if (!sr->r[k])
			continue;
		for (i = 0; i < rounds; i++) {
			rate[i] = sr->r[k][i].rate;
			gbps[i] = sr->r[k][i].gbps;
			sr->lost[k] += sr->r[k][i].lost;
			sr->overruns[k] += sr->r[k][i].overruns;
			sr->written[k] += sr->r[k][i].written;
		}
		sr->med_rate[k] = median(rate, rounds);
		sr->med_gbps[k] = median(gbps, rounds);
		min_max(rate, rounds, &sr->lo[k], &sr->hi[k]);
	}
	for (i = 0; i < rounds; i++)
		pr[i] = sr->r[IMPL_REF][i].rate > 0 ?
			sr->r[IMPL_BCAST][i].rate / sr->r[IMPL_REF][i].rate : 0;
	sr->ratio = sr->med_rate[IMPL_REF] > 0 ?
		    sr->med_rate[IMPL_BCAST] / sr->med_rate[IMPL_REF] : 0;
	sr->paired = median(pr, rounds);
}

static void print_preamble(const struct bench *b)
{
	const struct options *o = b->o;
	int k;

	printf("throughput: 1 writer (CPU %d) -> 1 reader (CPU %d), mode %s\n",
	       o->wcpu, o->rcpu, mode_name[o->mode]);
	printf("  reader:       %s\n", mode_desc[o->mode]);
	printf("  rings:        capacity %" PRIu64 " B, MTU %" PRIu64
	       " B; both rings in the same 2 MiB-aligned anonymous mapping",
	       o->capacity, b->mtu);
	if (b->mem.huge_kb >= 0)
		printf(" (%ld of %zu kB in huge pages)\n", b->mem.huge_kb,
		       b->mem.map_len / 1024);
	else
		printf("\n");
	if (o->backpressure)
		printf("  backpressure: the same for every implementation, in "
		       "the harness: the writer waits\n"
		       "                while the reader is a ring behind "
		       "(credits returned every <= 64 messages),\n"
		       "                so nothing is lost\n");
	else
		printf("  backpressure: none for the rings: the writer never "
		       "waits; a lapped reader\n"
		       "                skips ahead (bcast: -BCAST_EOVERRUN, "
		       "reference: position check);\n"
		       "                the kernel channels block their writer "
		       "when full\n");
	printf("  figure:       messages DELIVERED per second at the reader "
	       "(GB/s = payload 1e9 B/s);\n"
	       "                messages lost to overruns are counted "
	       "separately\n");
	printf("  reference:    tools/bench/refring.h: SPSC, same frame layout "
	       "and padding, release/acquire\n"
	       "                committed, reader copies out, no validation, "
	       "noinline like a library call\n");
	for (k = IMPL_PIPE; k < IMPL_COUNT; k++)
		if (o->impls & (1u << k))
			printf("  %-13s %s\n", impl_name[k], impl_desc[k]);
	printf("  rounds:       %d x (bcast, reference", o->rounds);
	for (k = IMPL_PIPE; k < IMPL_COUNT; k++)
		if (o->impls & (1u << k))
			printf(", %s", impl_name[k]);
	printf(") interleaved per size, ");
	if (o->messages)
		printf("%" PRIu64 " messages each\n", o->messages);
	else
		printf("messages per round calibrated\n"
		       "                so each takes ~%.2f s (the two rings "
		       "the same count)\n", o->seconds);
	if (o->retries)
		printf("                a ring pair disturbed by other load is "
		       "run again, up to %d times\n", o->retries);
	printf("\n");
}

static void print_rings(const struct bench *b, struct size_report *sr, int n)
{
	const struct options *o = b->o;
	bool any_loss = false;
	int i, total_disturbed = 0;

	printf("  size   msgs/round |  bcast Mmsg/s [min..max]   GB/s |"
	       "    ref Mmsg/s [min..max]   GB/s |  ratio  paired\n");
	printf("  ----  ----------- | ------------------------------- |"
	       " ------------------------------- | ------  ------\n");
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];

		printf("  %4zu  %11" PRIu64 " | %7.2f [%6.2f..%6.2f] %6.3f |"
		       " %7.2f [%6.2f..%6.2f] %6.3f | %5.3fx %5.3fx\n",
		       s->size, s->messages,
		       s->med_rate[IMPL_BCAST] / 1e6, s->lo[IMPL_BCAST] / 1e6,
		       s->hi[IMPL_BCAST] / 1e6, s->med_gbps[IMPL_BCAST],
		       s->med_rate[IMPL_REF] / 1e6, s->lo[IMPL_REF] / 1e6,
		       s->hi[IMPL_REF] / 1e6, s->med_gbps[IMPL_REF],
		       s->ratio, s->paired);
	}
	printf("\n  ratio = median bcast / median reference; paired = median "
	       "of per-round ratios\n");
	printf("\n  losses over the %d measured rounds (lost = written - "
	       "delivered):\n", o->rounds);
	printf("  size |   bcast lost  overruns  (lib: lost  overruns) |"
	       "  ref lost      laps\n");
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];
		uint64_t lib_lost = 0, lib_ovr = 0;
		int k;

		for (k = 0; k < o->rounds; k++) {
			lib_lost += s->r[IMPL_BCAST][k].lib_lost;
			lib_ovr += s->r[IMPL_BCAST][k].lib_overruns;
		}
		if (s->lost[IMPL_BCAST] || s->lost[IMPL_REF])
			any_loss = true;
		printf("  %4zu | %12" PRIu64 " %9" PRIu64 "  (%10" PRIu64
		       " %9" PRIu64 ") | %9" PRIu64 " %9" PRIu64 "\n",
		       s->size, s->lost[IMPL_BCAST], s->overruns[IMPL_BCAST],
		       lib_lost, lib_ovr, s->lost[IMPL_REF], s->overruns[IMPL_REF]);
	}
	if (any_loss)
		printf("  (losses mean the reader could not keep up with the "
		       "writer for part of a round)\n");

	printf("\n  interference: rounds disturbed by other load (a thread had "
	       "< 97%% of the CPU, or\n  hypervisor steal > 3%% on CPUs %d,%d); "
	       "ivcsw = involuntary context switches:\n", o->wcpu, o->rcpu);
	printf("  size | bcast disturbed  ivcsw min-cpu |   ref disturbed  "
	       "ivcsw min-cpu | pairs rerun\n");
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];
		int k;

		printf("  %4zu |", s->size);
		for (k = 0; k < IMPL_PIPE; k++) {
			long sw = 0;
			double lo = 1;
			int d = 0, j;

			for (j = 0; j < o->rounds; j++) {
				const struct result *r = &s->r[k][j];

				d += disturbed(r);
				sw += r->ivcsw;
				if (r->cpu_share < lo)
					lo = r->cpu_share;
			}
			total_disturbed += d;
			printf(" %8d/%-6d %6ld %6.0f%% |", d, o->rounds, sw,
			       100 * lo);
		}
		printf(" %5d\n", s->retries);
	}
	if (total_disturbed)
		printf("  warning: %d of %d rounds were disturbed: other "
		       "processes or the hypervisor\n  shared these CPUs, so "
		       "the figures are less reliable than they look\n",
		       total_disturbed, 2 * o->rounds * n);
}

static void print_baselines(const struct bench *b, struct size_report *sr,
			    int n)
{
	const struct options *o = b->o;
	int i, k;

	if (!(o->impls & ~((1u << IMPL_BCAST) | (1u << IMPL_REF))))
		return;
	printf("\n  against the kernel channels (median Mmsg/s delivered; "
	       "bcast's ratio to each):\n  size |");
	for (k = IMPL_PIPE; k < IMPL_COUNT; k++)
		if (o->impls & (1u << k))
			printf(" %8s Mmsg/s  bcast/%-7s|", impl_name[k],
			       impl_name[k]);
	printf("\n");
	for (i = 0; i < n; i++) {
		printf("  %4zu |", sr[i].size);
		for (k = IMPL_PIPE; k < IMPL_COUNT; k++) {
			double r = sr[i].med_rate[k];

			if (!(o->impls & (1u << k)))
				continue;
			printf(" %15.3f  %12.1fx |", r / 1e6,
			       r > 0 ? sr[i].med_rate[IMPL_BCAST] / r : 0);
		}
		printf("\n");
	}
}

static void json_result(FILE *f, const struct result *r)
{
	fprintf(f, "{\"msgs_per_s\": %.1f, \"gb_per_s\": %.6f, "
		"\"writer_msgs_per_s\": %.1f, \"seconds\": %.6f, "
		"\"written\": %" PRIu64 ", \"delivered\": %" PRIu64 ", "
		"\"lost\": %" PRIu64 ", \"overruns\": %" PRIu64,
		r->rate, r->gbps, r->wrate, r->secs, r->written, r->delivered,
		r->lost, r->overruns);
	fprintf(f, ", \"ivcsw\": %ld, \"cpu_share\": %.4f, \"steal_ticks\": %ld, "
		"\"disturbed\": %s", r->ivcsw, r->cpu_share, r->steal,
		disturbed(r) ? "true" : "false");
}

static void print_json(FILE *f, const struct bench *b,
		       struct size_report *sr, int n)
{
	const struct options *o = b->o;
	int i, k, j;

	fprintf(f, "\"throughput\": {\n");
	fprintf(f, "  \"mode\": \"%s\",\n", mode_name[o->mode]);
	fprintf(f, "  \"capacity\": %" PRIu64 ",\n  \"mtu\": %" PRIu64 ",\n",
		o->capacity, b->mtu);
	fprintf(f, "  \"rounds\": %d,\n  \"seconds\": %g,\n", o->rounds,
		o->seconds);
	fprintf(f, "  \"writer_cpu\": %d,\n  \"reader_cpu\": %d,\n", o->wcpu,
		o->rcpu);
	fprintf(f, "  \"huge_kb\": %ld,\n  \"map_kb\": %zu,\n", b->mem.huge_kb,
		b->mem.map_len / 1024);
	fprintf(f, "  \"backpressure\": \"%s\",\n",
		o->backpressure ? "wait" : "none");
	fprintf(f, "  \"figure\": \"delivered messages per second at the "
		"reader\",\n  \"results\": [\n");
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];

		fprintf(f, "    {\"size\": %zu,\n", s->size);
		for (k = 0; k < IMPL_COUNT; k++) {
			if (!s->r[k])
				continue;
			fprintf(f, "     \"%s\": {\"messages_per_round\": %" PRIu64
				", \"median_msgs_per_s\": %.1f, "
				"\"median_gb_per_s\": %.6f, \"min_msgs_per_s\": %.1f, "
				"\"max_msgs_per_s\": %.1f, \"lost\": %" PRIu64
				", \"overruns\": %" PRIu64 ", \"bcast_ratio\": %.4f,"
				"\n      \"rounds\": [", impl_name[k],
				s->count[k], s->med_rate[k], s->med_gbps[k],
				s->lo[k], s->hi[k], s->lost[k], s->overruns[k],
				s->med_rate[k] > 0 ?
				s->med_rate[IMPL_BCAST] / s->med_rate[k] : 0);
			for (j = 0; j < o->rounds; j++) {
				fprintf(f, j ? ",\n        " : "\n        ");
				json_result(f, &s->r[k][j]);
				if (k == IMPL_BCAST)
					fprintf(f, ", \"lib_lost\": %" PRIu64
						", \"lib_overruns\": %" PRIu64,
						s->r[k][j].lib_lost,
						s->r[k][j].lib_overruns);
				fprintf(f, "}");
			}
			fprintf(f, "]},\n");
		}
		fprintf(f, "     \"ratio_of_medians\": %.4f, "
			"\"median_paired_ratio\": %.4f, \"pairs_rerun\": %d}%s\n",
			s->ratio, s->paired, s->retries, i + 1 < n ? "," : "");
	}
	fprintf(f, "  ]\n}");
}

/* ------------------------------------------------------------------ */

static void bench_init(struct bench *b, const struct options *o)
{
	size_t maxsize = 0;
	int i;

	memset(b, 0, sizeof(*b));
	b->o = o;
	b->mtu = mtu_of(o->capacity);
	memory_init(&b->mem, o->capacity);
	for (i = 0; i < o->nsizes; i++)
		if (o->sizes[i] > maxsize)
			maxsize = o->sizes[i];
	b->src = aligned_alloc(128, (maxsize + 127) & ~(size_t)127);
	b->buf = aligned_alloc(128, (b->mtu + 127) & ~(uint64_t)127);
	b->bulk_cap = 65536;
	if (b->bulk_cap < 2 * frame_total(maxsize))
		b->bulk_cap = (size_t)(2 * frame_total(maxsize) + 127) & ~(size_t)127;
	b->bulk = aligned_alloc(128, b->bulk_cap);
	if (!b->src || !b->buf || !b->bulk)
		die("out of memory");
	for (i = 0; i < (int)maxsize; i++)
		b->src[i] = (unsigned char)(i * 131 + 7);
	memset(b->buf, 0, b->mtu);
	memset(b->bulk, 0, b->bulk_cap);
}

static void log_round(const struct options *o, const struct size_report *s,
		      int j, int k, const struct result *r)
{
	if (!o->verbose)
		return;
	fprintf(stderr, "size %zu round %d %-9s %8.3f Mmsg/s %7.3f GB/s  "
		"writer %8.3f Mmsg/s  lost %" PRIu64 " overruns %" PRIu64
		"  %.3f s  ivcsw %ld cpu %.0f%% steal %ld\n",
		s->size, j + 1, impl_name[k], r->rate / 1e6, r->gbps,
		r->wrate / 1e6, r->lost, r->overruns, r->secs, r->ivcsw,
		100 * r->cpu_share, r->steal);
}

/* Warm every implementation up (time-based), which calibrates the counts. */
static void calibrate(struct bench *b, struct size_report *s)
{
	const struct options *o = b->o;
	struct result warm;
	double rate[IMPL_COUNT] = { 0 };
	int k;

	for (k = 0; k < IMPL_COUNT; k++) {
		if (!s->r[k])
			continue;
		run_round(b, (enum impl)k, s->size, 0, &warm);
		rate[k] = warm.secs > 0 ? (double)warm.written / warm.secs : 0;
	}
	/* The two rings run the same count: the faster one's. */
	if (rate[IMPL_REF] > rate[IMPL_BCAST])
		rate[IMPL_BCAST] = rate[IMPL_REF];
	rate[IMPL_REF] = rate[IMPL_BCAST];
	for (k = 0; k < IMPL_COUNT; k++) {
		s->count[k] = o->messages ? o->messages :
			      (uint64_t)(rate[k] * o->seconds);
		if (s->count[k] < MIN_MESSAGES)
			s->count[k] = MIN_MESSAGES;
	}
	s->messages = s->count[IMPL_BCAST];
}

static void measure_size(struct bench *b, struct size_report *s)
{
	const struct options *o = b->o;
	int j, k;

	for (k = 0; k < IMPL_COUNT; k++) {
		if (k > IMPL_REF && !(o->impls & (1u << k)))
			continue;
		s->r[k] = calloc((size_t)o->rounds, sizeof(struct result));
		if (!s->r[k])
			die("out of memory");
	}
	calibrate(b, s);
	for (j = 0; j < o->rounds; j++) {
		int attempt = 0;

		do {
			for (k = IMPL_BCAST; k <= IMPL_REF; k++) {
				run_round(b, (enum impl)k, s->size, s->count[k],
					  &s->r[k][j]);
				log_round(o, s, j, k, &s->r[k][j]);
			}
			/* Run a disturbed pair again, a few times at most. */
			if (!disturbed(&s->r[IMPL_BCAST][j]) &&
			    !disturbed(&s->r[IMPL_REF][j]))
				break;
		} while (attempt++ < o->retries && ++s->retries);
		for (k = IMPL_PIPE; k < IMPL_COUNT; k++) {
			if (!s->r[k])
				continue;
			run_round(b, (enum impl)k, s->size, s->count[k],
				  &s->r[k][j]);
			log_round(o, s, j, k, &s->r[k][j]);
		}
	}
	summarise(s, o->rounds);
}

void throughput_run(const struct options *o, struct figures *fig, FILE *json)
{
	struct bench b;
	struct size_report *sr;
	int i, k;

	bench_init(&b, o);
	sr = calloc((size_t)o->nsizes, sizeof(*sr));
	if (!sr)
		die("out of memory");
	if (!o->json)
		print_preamble(&b);
	fflush(stdout);
	for (i = 0; i < o->nsizes; i++) {
		sr[i].size = o->sizes[i];
		measure_size(&b, &sr[i]);
		fig->sizes[i] = sr[i].size;
		fig->ratio_ref[i] = sr[i].ratio;
		fig->paired_ref[i] = sr[i].paired;
		for (k = 0; k < IMPL_COUNT; k++)
			fig->rate[i][k] = sr[i].r[k] ? sr[i].med_rate[k] : 0;
	}
	fig->nsizes = o->nsizes;
	if (o->json) {
		print_json(json, &b, sr, o->nsizes);
	} else {
		print_rings(&b, sr, o->nsizes);
		print_baselines(&b, sr, o->nsizes);
		printf("\n");
	}
	if (b.sink == 0x5eed5eed5eedULL)	/* keep the payload reads alive */
		fprintf(stderr, "\n");
	for (i = 0; i < o->nsizes; i++)
		for (k = 0; k < IMPL_COUNT; k++)
			free(sr[i].r[k]);
	free(sr);
	munmap(b.mem.raw, b.mem.raw_len);
	free(b.src);
	free(b.buf);
	free(b.bulk);
}
