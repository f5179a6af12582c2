// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: arbitrary ring memory ("never trust the ring").
 *
 * The input describes a ring: the meaningful words of the header and the
 * bytes of the data area.  The target lays them out in a zeroed, 64-byte
 * aligned heap buffer of exactly BCAST_HDR_SIZE + capacity bytes (the
 * padding of the header is poisoned for ASan, so a negative data index is
 * caught as well as one past the end), attaches without BCAST_FORMAT and,
 * when the library accepts the memory:
 *
 *  1. four readers (FROM_OLDEST / FROM_LATEST, with and without
 *     RESYNC_LATEST) drain the ring with bcast_receive (small, zero and
 *     large buffers), batches (bcast_msg_read / peek / valid, also of
 *     messages handed out earlier), bulk reads, or all of them mixed;
 *     every payload is read in full and every buffer is exactly as large
 *     as the library was told, so ASan sees any overflow;
 *  2. a writer opens on the ring (it must fail cleanly or work): a few
 *     messages are published and a reader that joined at `committed`
 *     must get exactly them back;
 *  3. the writer and four readers take turns (messages up to 1.5 rings
 *     long, heartbeats, deferred commits, aborted claims), so readers are
 *     lapped and resynchronise; whatever a reader delivers, or confirms
 *     intact, at a position where the writer put a message must be that
 *     message, byte for byte; then every reader must drain.
 *
 * Every call is bounded by the target; a library call that does not
 * return is a hang for libFuzzer's -timeout.  Built with
 * BCAST_COUNT_FRAMES (as `make fuzz` does), the library counts the frame
 * headers it decodes, and every reader entry point is checked against a
 * bound that depends on the ring's geometry only, never on what the ring
 * says (see work-bounds.h): a walk that runs on a hostile ring fails the
 * run long before the timeout.  The reading itself is the tests'
 * (tests/helpers/reading.c), with the checks of this target in its
 * callbacks.  On a ring nobody writes,
 * a reader that never runs out of messages, or is lapped again and again,
 * is a failure too.  BCAST_FUZZ_STRICT=1 adds consistency checks (see
 * strict_mode()).
 *
 * The input format is in fuzz-input.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bcast.h>
#include "bcast.h"
#include "failure.h"
#include "payload.h"
#include "process.h"
#include "random.h"
#include "reading.h"
#include "fuzz-input.h"
#include "work-bounds.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define poison(p, n)   ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

/* Harness loops over payload bytes need no coverage feedback: it would
 * cost more than the library itself. */
#if defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage"), noinline))
#else
#define NOCOV
#endif

#define MAX_CALLS	10000	/* per drive loop */
#define MAX_OVERRUNS	64	/* per drive loop: on a ring nobody writes,
				 * one resync must end the overruns */

/* An invariant of the library's contract broke: make libFuzzer report it. */
#define FUZZ_CHECK(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz-reader: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

#ifdef BCAST_COUNT_FRAMES
unsigned long work_locate;
unsigned long work_ring;

void work_set(const struct bcast_ring_hdr *h)
{
	uint64_t frame = BCAST_FRAME_TOTAL(h->mtu);
	uint64_t walk = 2 * (BCAST_SYNC_SPACING(h->capacity) +
			     2 * (1ULL << h->chunk_shift) + 3 * frame);

	work_locate = 4 * (walk / 8 + 1);
	work_ring = h->capacity / 8;
}

void work_check(const char *call, unsigned long bound)
{
	if (bcast_frames_visited <= bound)
		return;
	fprintf(stderr, "fuzz-reader: %s looked at %lu frames, more than %lu "
		"(locate %lu, ring %lu): its work is steered by the ring\n",
		call, bcast_frames_visited, bound, work_locate, work_ring);
	abort();
}
#endif

/* Header bytes the library must never touch: poisoned while fuzzing. */
static void header_pads(struct bcast_ring_hdr *h, bool on)
{
	struct { size_t off, len; } pads[] = {
		{ offsetof(struct bcast_ring_hdr, line0_pad), sizeof(h->line0_pad) },
		{ offsetof(struct bcast_ring_hdr, line1_pad), sizeof(h->line1_pad) },
		{ offsetof(struct bcast_ring_hdr, line2_pad), sizeof(h->line2_pad) },
		{ offsetof(struct bcast_ring_hdr, line3_pad), sizeof(h->line3_pad) },
		{ offsetof(struct bcast_ring_hdr, page0_pad), sizeof(h->page0_pad) },
		{ offsetof(struct bcast_ring_hdr, page1_pad), sizeof(h->page1_pad) },
	};
	unsigned i;

	for (i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		if (on)
			poison((char *)h + pads[i].off, pads[i].len);
		else
			unpoison((char *)h + pads[i].off, pads[i].len);
	}
}

/* This process as a writer_lock value (see BCAST_LOCK_* in the ABI). */
static uint64_t self_token(void)
{
	static uint64_t token;

	if (!token)
		token = writer_lock_token(getpid(), process_start(getpid()));
	return token;
}

/* ---- helpers ---- */

/* Read every byte, so that ASan sees any out-of-bounds pointer. */
NOCOV static unsigned touch(const void *p, size_t n)
{
	const volatile unsigned char *q = p;
	unsigned s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += q[i];
	return s;
}

/* Exactly-sized heap buffers: a library write past `n` is an ASan report. */
static unsigned char *xbuf(size_t n)
{
	unsigned char *b = malloc(n ? n : 1);

	FUZZ_CHECK(b);
	return b;
}

static bool known_error(long err)
{
	switch (-err) {
	case EAGAIN: case EMSGSIZE: case EINVAL: case EBUSY: case ENOMEM:
	case BCAST_EOVERRUN: case BCAST_ECORRUPT:
		return true;
	}
	return false;
}

NOCOV static uint64_t hash(const void *p, size_t n)
{
	const unsigned char *q = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ q[i]) * 0x100000001b3ULL;
	return h;
}

#define SAVED_MAX	8
#define RECORD_MAX	4096

struct saved_msg {
	const struct bcast_reader *rd;
	struct bcast_msg m;
};

/* What a reader delivered, to compare the entry points (strict mode). */
struct record {
	unsigned n;
	bool stopped;		/* an error ended it: what follows may differ */
	uint64_t pos[RECORD_MAX], sum[RECORD_MAX];
	uint32_t len[RECORD_MAX], type[RECORD_MAX];
};

/* Where our own writer put each message, to check what readers get. */
struct live_msg {
	uint64_t pos;		/* of the first frame */
	uint32_t len, type;
};

struct live {
	struct live_msg *v;
	unsigned n, max;
	uint64_t pos;		/* where the writer's next frame goes */
	uint64_t start;		/* where it began: older frames are not ours */
	uint64_t cap, mtu;
	uint32_t counter;	/* messages published */
	bool verify;		/* positions are known exactly */
};

struct fuzz_ctx {
	struct bcast_ring *r;
	uint64_t cap;		/* the ring's data capacity */
	size_t big;		/* a buffer size no message of a static ring exceeds */
	unsigned char *rbuf;	/* `big` bytes: messages are read into its tail */
	unsigned char *bbuf;	/* `big` bytes: bulk windows, at its tail */
	uint64_t rng;
	bool static_ring;	/* nobody writes while we drain */
	struct record *rec;	/* where delivered messages go, or NULL */
	uint64_t delivered;	/* messages handed to us by the current drive */
	struct live *live;	/* messages our writer published, or NULL */
	struct saved_msg saved[SAVED_MAX];
	unsigned nsaved;
	struct reading reading;	/* the reading's buffers are set per call */
	struct failure failure;	/* a check of the reading failed */
};

/*
 * The last `n` bytes of a `big`-byte buffer: a library write past `n` bytes
 * runs off the end of the allocation, which ASan reports.
 */
static unsigned char *tail(const struct fuzz_ctx *c, unsigned char *buf,
			   size_t n)
{
	FUZZ_CHECK(n <= c->big);
	return buf + c->big - n;
}

/*
 * BCAST_FUZZ_STRICT=1 adds consistency checks beyond memory safety and
 * termination: a message just handed out from a ring nobody writes must
 * read back whole, bcast_receive, batches and bulk reads started at the
 * same place must deliver the same messages, a reader's stats.messages
 * must count exactly the messages it handed out, and once the writer is
 * gone bcast_wait() must not say "ready" to a reader that has nothing
 * left to read.
 */
static bool strict_mode(void)
{
	static int strict = -1;

	if (strict < 0) {
		const char *e = getenv("BCAST_FUZZ_STRICT");

		strict = e && *e && strcmp(e, "0");
	}
	return strict;
}

NOCOV static const struct live_msg *live_find(const struct live *L, uint64_t pos)
{
	unsigned lo = 0, hi = L->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (L->v[mid].pos == pos)
			return &L->v[mid];
		if (L->v[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * A message a reader handed out (or a copy it confirmed intact) at the
 * position where our writer put one must be exactly that message: never
 * bytes of a later lap, never a mix.
 */
NOCOV static void live_verify(const struct fuzz_ctx *c, const struct bcast_msg *m,
			const unsigned char *p, size_t len, const char *how)
{
	const struct live_msg *want;
	size_t i;

	if (!c->live || !c->live->verify || !(want = live_find(c->live, m->pos)))
		return;
	i = payload_mismatch(p, len, want->type);
	if (len == want->len && m->type == want->type && i == len)
		return;
	fprintf(stderr, "fuzz-reader: %s: message at %llu: len %zu type %u, "
		"published len %u type %u; payload %s at byte %zu\n", how,
		(unsigned long long)m->pos, len, m->type, want->len, want->type,
		i == len ? "intact" : "differs", i);
	FUZZ_CHECK(!"readers get what the writer published");
}

static void record(struct fuzz_ctx *c, const struct bcast_msg *m,
		   const void *payload, size_t len)
{
	struct record *rec = c->rec;

	live_verify(c, m, payload, len, "delivered");
	if (!rec || rec->stopped || rec->n >= RECORD_MAX)
		return;
	rec->pos[rec->n] = m->pos;
	rec->len[rec->n] = (uint32_t)len;
	rec->type[rec->n] = m->type;
	rec->sum[rec->n] = hash(payload, len);
	rec->n++;
}

static void record_stop(struct fuzz_ctx *c)
{
	if (c->rec)
		c->rec->stopped = true;
}

/* Peek, validate and read a message; returns what bcast_msg_read said
 * (the payload is then at the tail of c->rbuf). */
static ssize_t check_msg_common(struct fuzz_ctx *c, const struct bcast_msg *m)
{
	unsigned char *b;
	const void *p;
	ssize_t n, ret;

	p = bcast_msg_peek(m);
	if (p) {
		touch(p, m->len);
		FUZZ_CHECK(!(m->flags & BCAST_MSG_FRAGMENTED) ||
			   (m->flags & BCAST_MSG_COPIED));
		/* nobody writes between the peek and the check */
		if (bcast_msg_valid(m) == 1)
			live_verify(c, m, p, m->len, "peeked and valid");
	}
	(void)bcast_msg_valid(m);
	if (m->len > c->big) {
		/* only a message of a live ring can be this long */
		FUZZ_CHECK(!c->static_ring);
		return -EMSGSIZE;
	}
	if (m->len) {
		/* one byte short: must refuse, never write past the buffer */
		b = tail(c, c->rbuf, m->len - 1);
		n = bcast_msg_read(m, b, m->len - 1);
		FUZZ_CHECK(n < 0 && known_error(n));
	}
	b = tail(c, c->rbuf, m->len);
	ret = n = bcast_msg_read(m, b, m->len);
	FUZZ_CHECK(n < 0 ? known_error(n) : n == (ssize_t)m->len);
	if (n >= 0) {
		touch(b, (size_t)n);
		live_verify(c, m, b, (size_t)n, "bcast_msg_read");
	}
	return ret;
}

static void save_msg(struct fuzz_ctx *c, const struct bcast_reader *rd,
		     const struct bcast_msg *m)
{
	struct saved_msg *s = &c->saved[c->nsaved++ % SAVED_MAX];

	s->rd = rd;
	s->m = *m;
}

/* Read the messages handed out earlier, now that the ring may have moved. */
static void reread_saved(struct fuzz_ctx *c, const struct bcast_reader *rd)
{
	unsigned i, n = c->nsaved < SAVED_MAX ? c->nsaved : SAVED_MAX;

	for (i = 0; i < n; i++)
		if (c->saved[i].rd == rd)
			check_msg_common(c, &c->saved[i].m);
}

/* ---- what the reading hands out ---- */

/* A batch handle: read it every way now, and keep it to read later. */
static int handed(struct reading *rdg, const struct bcast_msg *m,
		  uint64_t *tag)
{
	struct fuzz_ctx *c = rdg->ctx;
	ssize_t n;

	if (rdg->style != READ_BATCH)
		return 0;
	c->delivered++;
	n = check_msg_common(c, m);
	if (strict_mode() && c->static_ring &&
	    (n != (ssize_t)m->len || bcast_msg_valid(m) != 1)) {
		fprintf(stderr, "fuzz-reader: batch message at %llu, "
			"len %u, flags %#x: bcast_msg_read %zd (%s), "
			"bcast_msg_valid %d\n",
			(unsigned long long)m->pos, m->len, m->flags, n,
			n < 0 ? bcast_strerror((int)n) : "ok",
			bcast_msg_valid(m));
		FUZZ_CHECK(!"a fresh message of a static ring reads back");
	}
	if (n == (ssize_t)m->len)
		record(c, m, tail(c, c->rbuf, m->len), m->len);
	else
		record_stop(c);
	save_msg(c, rdg->rd, m);
	return 0;
}

/* A message bcast_receive() copied, or one of a bulk window. */
static int delivered(struct reading *rdg, const struct bcast_msg *m,
		     uint64_t tag, const void *data)
{
	struct fuzz_ctx *c = rdg->ctx;

	FUZZ_CHECK(m->len <= rdg->cap);
	touch(data, m->len);
	record(c, m, data, m->len);
	c->delivered++;
	return 0;
}

static const struct reading_ops fuzz_reading = {
	.handed = handed,
	.deliver = delivered,
};

/* ---- reader strategies: each returns when the reader stops making sense ---- */

/* Count an overrun; false to stop driving.  Lapped again and again by a
 * writer that does not exist: a reader that would loop forever. */
static bool overrun(struct fuzz_ctx *c, unsigned *overruns)
{
	record_stop(c);
	if (++*overruns < MAX_OVERRUNS)
		return true;
	FUZZ_CHECK(!c->static_ring);
	return false;
}

/*
 * Strict mode: `api` just said there is nothing to deliver, on a ring
 * nobody writes any more.  bcast_wait() must not then report data ready,
 * or a reader waiting for it spins forever instead of hearing that the
 * writer is gone.
 */
static void check_no_spin(const struct fuzz_ctx *c, struct bcast_reader *rd,
			  const char *api)
{
	struct bcast_ring_info info;

	if (!strict_mode() || !c->static_ring)
		return;
	FUZZ_CHECK(bcast_ring_info(c->r, &info) == 0);
	if (info.writer_alive || bcast_wait(rd, 0) != 0)
		return;
	fprintf(stderr, "fuzz-reader: %s has nothing to deliver at %llu "
		"(committed %llu), the writer is gone, yet bcast_wait() "
		"returns 0: a waiting reader spins\n", api,
		(unsigned long long)bcast_reader_position(rd),
		(unsigned long long)info.committed);
	FUZZ_CHECK(!"bcast_wait() reports ready only when there is something to read");
}

/* A check of the reading itself failed: the library broke its contract. */
static void check_reading(const struct fuzz_ctx *c)
{
	if (!failed(&c->failure))
		return;
	fprintf(stderr, "fuzz-reader: %s\n", c->failure.why);
	abort();
}

/* The reading's call of `style` on rd, copies at the tail of c->rbuf. */
static int read_step(struct fuzz_ctx *c, struct bcast_reader *rd,
		     enum read_style style)
{
	int rc;

	c->reading.rd = rd;
	if (style != READ_RECEIVE) {
		c->reading.buf = c->rbuf;
		c->reading.cap = c->big;
	}
	rc = read_once(&c->reading, style);
	check_reading(c);
	return rc;
}

static bool receive_step(struct fuzz_ctx *c, struct bcast_reader *rd,
			 unsigned *overruns, bool *progress)
{
	struct bcast_msg *info = &c->reading.m;
	size_t sz;
	int n;
	unsigned pick = (unsigned)(rng_next(&c->rng) % 8);

	*progress = false;
	if (pick == 0)
		sz = 0;		/* asking for the size only */
	else if (pick < 4)
		sz = 1 + (size_t)(rng_next(&c->rng) % 96);
	else
		sz = c->big;
	c->reading.buf = sz ? tail(c, c->rbuf, sz) : NULL;
	c->reading.cap = sz;
	memset(info, 0xa5, sizeof(*info));
	n = read_step(c, rd, READ_RECEIVE);
	if (n == -EMSGSIZE) {
		FUZZ_CHECK(info->len > sz);
		/* nothing consumed: the big buffer must take it */
		if (c->static_ring) {
			c->reading.buf = c->rbuf;
			c->reading.cap = c->big;
			n = read_step(c, rd, READ_RECEIVE);
			FUZZ_CHECK(n != -EMSGSIZE);
		}
	}
	if (n >= 0) {
		*progress = true;
		return true;
	}
	if (n == -BCAST_EOVERRUN) {
		*progress = true;
		return overrun(c, overruns);
	}
	if (n == -EMSGSIZE)
		return true;
	if (n == -EINPROGRESS) {	/* bounded work, frames still pending */
		*progress = true;
		return true;
	}
	FUZZ_CHECK(known_error(n));
	if (n == -EAGAIN)
		check_no_spin(c, rd, "bcast_receive");
	record_stop(c);
	return false;
}

static void drive_receive(struct fuzz_ctx *c, struct bcast_reader *rd)
{
	unsigned calls, overruns = 0;
	bool progress;

	for (calls = 0; calls < MAX_CALLS; calls++)
		if (!receive_step(c, rd, &overruns, &progress))
			return;
	/* A reader of a ring nobody writes must run out of messages. */
	FUZZ_CHECK(!c->static_ring);
}

/* One bcast_batch round; false when the reader is done. */
static bool batch_step(struct fuzz_ctx *c, struct bcast_reader *rd,
		       unsigned *overruns, bool *progress)
{
	uint64_t before = bcast_reader_position(rd);
	int err = read_step(c, rd, READ_BATCH);

	*progress = c->reading.count > 0;
	if (err == -EBUSY) {
		/* a fragmented message half-read by bcast_receive */
		return receive_step(c, rd, overruns, progress);
	}
	if (err == -BCAST_EOVERRUN) {
		*progress = true;
		return overrun(c, overruns);
	}
	if (err < 0) {
		FUZZ_CHECK(known_error(err));
		if (err == -EAGAIN)
			check_no_spin(c, rd, "bcast_batch");
		record_stop(c);
		return false;
	}
	if (bcast_reader_position(rd) != before)
		*progress = true;
	/* A batch that yields nothing and moves nowhere: an incomplete
	 * message at the end of what is committed. */
	if (!*progress)
		check_no_spin(c, rd, "bcast_batch_next");
	return *progress;
}

static void drive_batch(struct fuzz_ctx *c, struct bcast_reader *rd)
{
	unsigned calls, overruns = 0;
	bool progress;

	for (calls = 0; calls < MAX_CALLS; calls++)
		if (!batch_step(c, rd, &overruns, &progress))
			return;
	FUZZ_CHECK(!c->static_ring);
}

static bool bulk_step(struct fuzz_ctx *c, struct bcast_reader *rd,
		      unsigned *overruns, bool *progress)
{
	size_t sz;
	int got;

	*progress = false;
	switch (rng_next(&c->rng) % 4) {
	case 0:
		sz = (size_t)(rng_next(&c->rng) % 64);
		break;
	case 1:
		sz = 64 + (size_t)(rng_next(&c->rng) % 1024);
		break;
	default:
		sz = c->big;
		break;
	}
	c->reading.bulk = tail(c, c->bbuf, sz);
	c->reading.bulk_cap = sz;
	got = read_step(c, rd, READ_BULK);
	if (c->reading.window < 0) {
		/* bcast_read_bulk() copied nothing */
		if (got == -EBUSY)
			return receive_step(c, rd, overruns, progress);
		if (got == -EMSGSIZE && sz < c->big)
			return true;	/* the next step may pick the big buffer */
		if (got == -BCAST_EOVERRUN) {
			*progress = true;
			return overrun(c, overruns);
		}
		/* the big buffer holds any window of a static ring */
		FUZZ_CHECK(known_error(got) &&
			   (got != -EMSGSIZE || !c->static_ring));
		if (got == -EAGAIN)
			check_no_spin(c, rd, "bcast_read_bulk");
		record_stop(c);
		return false;
	}
	*progress = true;
	FUZZ_CHECK(got >= 0 || known_error(got));
	if (got < 0)
		record_stop(c);
	return true;
}

static void drive_bulk(struct fuzz_ctx *c, struct bcast_reader *rd)
{
	unsigned calls, overruns = 0;
	bool progress;

	for (calls = 0; calls < MAX_CALLS; calls++)
		if (!bulk_step(c, rd, &overruns, &progress))
			return;
	FUZZ_CHECK(!c->static_ring);
}

/* Any entry point at each step; stops after a run of fruitless steps. */
static void drive_mixed(struct fuzz_ctx *c, struct bcast_reader *rd)
{
	unsigned calls, idle = 0, overruns = 0;
	bool progress, more;

	for (calls = 0; calls < MAX_CALLS && idle < 16; calls++) {
		struct bcast_reader_stats st;

		switch (rng_next(&c->rng) % 6) {
		case 0:
		case 1:
			more = receive_step(c, rd, &overruns, &progress);
			break;
		case 2:
		case 3:
			more = batch_step(c, rd, &overruns, &progress);
			break;
		case 4:
			more = bulk_step(c, rd, &overruns, &progress);
			break;
		default:
			FUZZ_CHECK(bcast_reader_stats(rd, &st) == 0);
			(void)bcast_wait(rd, 0);
			reread_saved(c, rd);
			more = progress = true;
			break;
		}
		idle = progress && more ? 0 : idle + 1;
	}
	FUZZ_CHECK(!c->static_ring || calls < MAX_CALLS);
}

static void drive(struct fuzz_ctx *c, struct bcast_reader *rd, unsigned how)
{
	struct bcast_reader_stats st0, st;
	int err;

	FUZZ_CHECK(bcast_reader_stats(rd, &st0) == 0);
	c->delivered = 0;
	switch (how % 4) {
	case 0:
		drive_receive(c, rd);
		break;
	case 1:
		drive_batch(c, rd);
		break;
	case 2:
		drive_bulk(c, rd);
		break;
	default:
		drive_mixed(c, rd);
		break;
	}
	reread_saved(c, rd);
	FUZZ_CHECK(bcast_reader_stats(rd, &st) == 0);
	if (strict_mode() && st.messages - st0.messages != c->delivered) {
		fprintf(stderr, "fuzz-reader: stats.messages grew by %llu, "
			"%llu messages were delivered (strategy %u)\n",
			(unsigned long long)(st.messages - st0.messages),
			(unsigned long long)c->delivered, how % 4);
		FUZZ_CHECK(!"stats count the messages delivered");
	}
	err = bcast_wait(rd, 0);
	FUZZ_CHECK(err == 0 || err == -ETIMEDOUT || err == -BCAST_EWRITERGONE);
	FUZZ_CHECK(bcast_reader_fd(rd) < 0);
}

/*
 * Strict mode: readers joining at the oldest message and draining with
 * bcast_receive, batches and bulk reads must deliver the same messages,
 * up to the first error any of them met.
 */
static void differential(struct fuzz_ctx *c)
{
	static struct record recs[3];
	struct bcast_reader *rd;
	unsigned i, k, n;

	for (k = 0; k < 3; k++) {
		memset(&recs[k], 0, offsetof(struct record, pos));
		FUZZ_CHECK(bcast_reader_open(c->r, BCAST_FROM_OLDEST, &rd) == 0);
		c->rec = &recs[k];
		drive(c, rd, k);
		c->rec = NULL;
		bcast_reader_close(rd);
	}
	n = recs[0].n;
	for (k = 1; k < 3; k++)
		if (recs[k].n < n)
			n = recs[k].n;
	for (k = 1; k < 3; k++) {
		if (!recs[0].stopped && !recs[k].stopped &&
		    recs[0].n != recs[k].n) {
			fprintf(stderr, "fuzz-reader: receive delivered %u "
				"messages, %s %u\n", recs[0].n,
				k == 1 ? "batches" : "bulk reads", recs[k].n);
			FUZZ_CHECK(!"every entry point delivers the same messages");
		}
		for (i = 0; i < n; i++) {
			if (recs[0].pos[i] == recs[k].pos[i] &&
			    recs[0].len[i] == recs[k].len[i] &&
			    recs[0].type[i] == recs[k].type[i] &&
			    recs[0].sum[i] == recs[k].sum[i])
				continue;
			fprintf(stderr, "fuzz-reader: message %u: receive "
				"pos %llu len %u type %u, %s pos %llu len %u "
				"type %u (%s payload)\n", i,
				(unsigned long long)recs[0].pos[i],
				recs[0].len[i], recs[0].type[i],
				k == 1 ? "batch" : "bulk",
				(unsigned long long)recs[k].pos[i],
				recs[k].len[i], recs[k].type[i],
				recs[0].sum[i] == recs[k].sum[i] ? "same" :
				"different");
			FUZZ_CHECK(!"every entry point delivers the same messages");
		}
	}
}

static void ring_info(struct bcast_ring *r)
{
	struct bcast_ring_info info;
	uint64_t msgs, bytes;

	FUZZ_CHECK(bcast_ring_info(r, &info) == 0);
	FUZZ_CHECK(info.metadata_len <= BCAST_METADATA_MAX);
	touch(info.metadata, info.metadata_len);
	FUZZ_CHECK(info.capacity >= BCAST_MIN_CAPACITY &&
		   !(info.capacity & (info.capacity - 1)));
	FUZZ_CHECK(info.mtu >= 8 && info.mtu <= info.capacity / 2);
	FUZZ_CHECK(info.backend && !strcmp(info.backend, "memory"));
	/* Walks frames from a sync point: must stop, whatever they say. */
	FUZZ_CHECK(bcast_ring_count(r, &msgs, &bytes) <= 0);
}

/* ---- the writer on a ring it did not format ---- */

struct published {
	uint32_t type;
	uint32_t len;
	uint64_t seed;
};

/* ---- a live ring: our writer and the readers take turns ---- */

#define LIVE_STEPS 256

/* The writer's placement rule: a frame that would straddle the end of the
 * data area goes to the start, after a padding frame. */
NOCOV static uint64_t sim_frame(struct live *L, uint64_t len)
{
	uint64_t total = BCAST_FRAME_HDR + ((len + 7) & ~7ULL);
	uint64_t idx = L->pos & (L->cap - 1), at;

	if (idx + total > L->cap)
		L->pos += L->cap - idx;
	at = L->pos;
	L->pos += total;
	return at;
}

static void live_add(struct live *L, uint64_t pos, uint32_t len,
		     uint32_t type)
{
	if (L->n == L->max) {
		L->max = L->max ? 2 * L->max : 64;
		L->v = realloc(L->v, L->max * sizeof(*L->v));
		FUZZ_CHECK(L->v);
	}
	if (L->n && L->v[L->n - 1].pos >= pos)
		L->verify = false;	/* positions wrapped around 2^64 */
	L->v[L->n++] = (struct live_msg){ pos, len, type };
}

static uint64_t committed_now(const struct fuzz_ctx *c)
{
	struct bcast_ring_info info;

	FUZZ_CHECK(bcast_ring_info(c->r, &info) == 0);
	return info.committed;
}

/* One writer action; the committed position must be where we expect. */
static void live_write(struct fuzz_ctx *c, struct bcast_writer *w,
		       struct live *L, uint64_t r, unsigned char *b)
{
	uint32_t type = (uint32_t)(++L->counter * 2654435761U) ^ (uint32_t)(r >> 32);
	struct bcast_claim cl;
	uint64_t len, at;
	bool deferred = false;

	switch ((r >> 4) % 8) {
	case 0:
		len = (r >> 8) % 16;
		break;
	case 1: case 2: case 3: case 4:
		len = (r >> 8) % (L->mtu + 1);
		break;
	case 5: case 6:
		len = L->mtu + 1 + (r >> 8) % (L->mtu + 64);
		break;
	default:
		len = (r >> 8) % (L->cap + L->cap / 2);	/* maybe larger than the ring */
		break;
	}
	payload_fill(b, len, type);
	switch ((r >> 40) % 8) {
	case 0:
		FUZZ_CHECK(bcast_heartbeat(w) == 0);
		sim_frame(L, 0);
		break;
	case 1:
	case 2:
		if (len > L->mtu)
			goto publish;
		FUZZ_CHECK(bcast_claim(w, len, &cl) == 0 && cl.len == len);
		at = sim_frame(L, len);
		if (len)
			memcpy(cl.data, b, len);
		deferred = (r >> 40) % 8 == 2;
		FUZZ_CHECK(bcast_commit(&cl, type, deferred ? BCAST_DEFER : 0) == 0);
		live_add(L, at, (uint32_t)len, type);
		break;
	case 3:
		/* a claim given back: only the padding it needed stays */
		if (len > L->mtu)
			len = L->mtu;
		FUZZ_CHECK(bcast_claim(w, len, &cl) == 0);
		memset(cl.data, 0xee, len);
		bcast_abort(&cl);
		at = L->pos & (L->cap - 1);
		if (at + BCAST_FRAME_HDR + ((len + 7) & ~7ULL) > L->cap)
			L->pos += L->cap - at;
		deferred = true;	/* the padding is not published yet */
		break;
	default:
	publish:
		FUZZ_CHECK(bcast_publish(w, b, len, type) == 0);
		at = sim_frame(L, len < L->mtu ? len : L->mtu);
		for (uint64_t left = len > L->mtu ? len - L->mtu : 0; left;) {
			uint64_t frag = left < L->mtu ? left : L->mtu;

			sim_frame(L, frag);
			left -= frag;
		}
		live_add(L, at, (uint32_t)len, type);
		break;
	}
	if (!deferred)
		FUZZ_CHECK(committed_now(c) == L->pos);
	if ((r >> 48) % 4 == 0) {
		FUZZ_CHECK(bcast_flush(w) == 0);
		FUZZ_CHECK(committed_now(c) == L->pos);
	}
}

/*
 * The writer publishes (messages up to 1.5 rings long, heartbeats,
 * deferred commits, aborted claims) while readers that joined at
 * different places read with every entry point, so that they are lapped,
 * resynchronise and read messages handed out long before.  Whatever they
 * deliver at a position where we published must be what we published.
 */
static void live_phase(struct fuzz_ctx *c, struct bcast_writer *w,
		       struct bcast_reader **rds, unsigned nrd,
		       uint64_t committed0)
{
	struct live L = { 0 };
	unsigned char *b = xbuf(c->cap + c->cap / 2);
	unsigned step, i, overruns = 0;
	bool progress;

	L.pos = L.start = committed0;
	L.cap = c->cap;
	{
		struct bcast_ring_info info;

		FUZZ_CHECK(bcast_ring_info(c->r, &info) == 0);
		L.mtu = info.mtu;
	}
	L.verify = committed0 < (1ULL << 62);
	c->live = &L;
	c->static_ring = false;
	c->nsaved = 0;
	for (step = 0; step < LIVE_STEPS; step++) {
		uint64_t r = rng_next(&c->rng);
		struct bcast_reader *rd = rds[(r >> 8) % nrd];

		if (r % 8 < 3) {
			live_write(c, w, &L, r, b);
			continue;
		}
		switch ((r >> 16) % 5) {
		case 0:
		case 1:
			receive_step(c, rd, &overruns, &progress);
			break;
		case 2:
			batch_step(c, rd, &overruns, &progress);
			break;
		case 3:
			bulk_step(c, rd, &overruns, &progress);
			break;
		default:
			(void)bcast_wait(rd, 0);
			for (i = 0; i < SAVED_MAX && i < c->nsaved; i++)
				check_msg_common(c, &c->saved[i].m);
			break;
		}
	}
	FUZZ_CHECK(bcast_flush(w) == 0);
	FUZZ_CHECK(committed_now(c) == L.pos);
	/* the writer stops: every reader must drain */
	c->static_ring = true;
	for (i = 0; i < nrd; i++)
		drive(c, rds[i], (unsigned)rng_next(&c->rng));
	for (i = 0; i < SAVED_MAX && i < c->nsaved; i++)
		check_msg_common(c, &c->saved[i].m);
	c->nsaved = 0;
	c->live = NULL;
	free(L.v);
	free(b);
}

static void writer_phase(struct fuzz_ctx *c)
{
	struct bcast_ring_info info;
	struct bcast_reader *latest = NULL, *oldest = NULL;
	struct bcast_writer *w, *w2;
	struct published pub[16];
	unsigned npub = 0, i;
	uint64_t committed0, claimed0, budget;
	unsigned char *b;
	size_t mtu;
	bool verify, ring_had_boundary;
	int err;

	if (bcast_reader_open(c->r, BCAST_FROM_LATEST, &latest))
		latest = NULL;
	if (bcast_reader_open(c->r, BCAST_FROM_OLDEST | BCAST_RESYNC_LATEST,
			      &oldest))
		oldest = NULL;
	FUZZ_CHECK(latest && oldest);
	{
		uint64_t msgs, bytes;

		ring_had_boundary = bcast_ring_count(c->r, &msgs, &bytes) == 0;
	}
	FUZZ_CHECK(bcast_ring_info(c->r, &info) == 0);
	committed0 = info.committed;
	claimed0 = info.claimed;
	mtu = info.mtu;

	err = bcast_writer_open(c->r, &w);
	if (err) {
		FUZZ_CHECK(err < 0 && (known_error(err) || err == -EPROTO));
		goto out;
	}
	FUZZ_CHECK(bcast_writer_open(c->r, &w2) == -EBUSY);
	FUZZ_CHECK(bcast_ring_info(c->r, &info) == 0 && info.writer_alive);
	FUZZ_CHECK(info.committed == committed0);

	/*
	 * Publish a few messages.  When the ring looked sane (the latest
	 * reader joined at `committed`, the frontier was close to it and
	 * positions are far from wrapping), the latest reader must get
	 * exactly these back.
	 */
	budget = c->cap / 4 - 256;
	/* (bcast_ring_count() succeeding says that a boundary could be found
	 * at `committed`, as the latest reader's join needed.) */
	verify = ring_had_boundary && bcast_reader_position(latest) == committed0 &&
		 claimed0 >= committed0 && claimed0 - committed0 <= c->cap / 8 &&
		 committed0 < (1ULL << 62);
	b = xbuf(c->cap);
	for (i = 0; i < 6 && npub < 16; i++) {
		uint64_t r = rng_next(&c->rng);
		size_t len;

		switch (r % 4) {
		case 0:
			len = r >> 8 & 15;
			break;
		case 1:
			len = (size_t)((r >> 8) % (mtu + 1));
			break;
		default:
			len = (size_t)((r >> 8) % (2 * mtu + 64));
			break;
		}
		if (len > budget)
			break;
		budget -= len;
		pub[npub] = (struct published){ (uint32_t)(r >> 40), (uint32_t)len, r };
		payload_fill(b, len, r);
		if (r & 0x10000 && len <= mtu) {
			struct bcast_claim cl;

			FUZZ_CHECK(bcast_claim(w, len, &cl) == 0);
			FUZZ_CHECK(cl.len == len);
			memcpy(cl.data, b, len);
			FUZZ_CHECK(bcast_commit(&cl, pub[npub].type,
						r & 0x20000 ? BCAST_DEFER : 0) == 0);
		} else {
			FUZZ_CHECK(bcast_publish(w, b, len, pub[npub].type) == 0);
		}
		npub++;
		if (r & 0x40000)
			FUZZ_CHECK(bcast_heartbeat(w) == 0);
	}
	FUZZ_CHECK(bcast_flush(w) == 0);
	{
		struct bcast_claim cl;

		/* a claim given back leaves no trace */
		if (bcast_claim(w, 8, &cl) == 0)
			bcast_abort(&cl);
		FUZZ_CHECK(bcast_claim(w, mtu + 1, &cl) == -EMSGSIZE);
	}
	free(b);

	if (verify) {
		b = xbuf(c->cap);
		for (i = 0; i < npub; i++) {
			struct bcast_msg m;
			ssize_t n = bcast_receive(latest, b, c->cap, &m);

			if (n != (ssize_t)pub[i].len || m.type != pub[i].type ||
			    !payload_ok(b, pub[i].len, pub[i].seed)) {
				fprintf(stderr, "fuzz-reader: message %u of %u: got %zd "
					"type %u, want %u type %u (committed0 %llu "
					"claimed0 %llu)\n", i, npub, n, m.type,
					pub[i].len, pub[i].type,
					(unsigned long long)committed0,
					(unsigned long long)claimed0);
				FUZZ_CHECK(!"published message read back intact");
			}
		}
		FUZZ_CHECK(bcast_receive(latest, b, c->cap, NULL) == -EAGAIN);
		free(b);
	}
	c->static_ring = true;	/* the writer is idle from here on */
	drive(c, oldest, c->rng);
	drive(c, latest, c->rng + 1);
	{
		struct bcast_reader *rds[4] = { oldest, latest, NULL, NULL };

		FUZZ_CHECK(bcast_reader_open(c->r, BCAST_FROM_OLDEST, &rds[2]) == 0);
		FUZZ_CHECK(bcast_reader_open(c->r, BCAST_FROM_LATEST |
					     BCAST_RESYNC_LATEST, &rds[3]) == 0);
		live_phase(c, w, rds, 4, committed_now(c));
		bcast_reader_close(rds[2]);
		bcast_reader_close(rds[3]);
	}
	bcast_writer_close(w);
	err = bcast_wait(latest, 0);
	FUZZ_CHECK(err == 0 || err == -BCAST_EWRITERGONE || err == -ETIMEDOUT);
out:
	ring_info(c->r);
	bcast_reader_close(latest);
	bcast_reader_close(oldest);
}

/* ---- entry point ---- */

static void attach_misuse(struct fuzz_ring *fr)
{
	struct bcast_ring *r = NULL;

	/* bad flags are refused */
	FUZZ_CHECK(bcast_ring_attach(fr->mem, fr->len, 0x100, &r) == -EINVAL);
	FUZZ_CHECK(bcast_ring_attach(NULL, fr->len, 0, &r) == -EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int modes[4] = {
		BCAST_FROM_OLDEST, BCAST_FROM_LATEST,
		BCAST_FROM_OLDEST | BCAST_RESYNC_LATEST,
		BCAST_FROM_LATEST | BCAST_RESYNC_LATEST,
	};
	struct bcast_reader *rd[4];
	struct fuzz_ring fr;
	struct fuzz_ctx c;
	struct bcast_ring *r;
	unsigned i;
	int err;

	if (fuzz_decode(data, size, &fr))
		return 0;
	if (((struct bcast_ring_hdr *)fr.mem)->writer_lock == 1)
		((struct bcast_ring_hdr *)fr.mem)->writer_lock = self_token();
	header_pads((struct bcast_ring_hdr *)fr.mem, true);
	attach_misuse(&fr);
	err = bcast_ring_attach(fr.mem, fr.len, BCAST_RDWR, &r);
	if (err) {
		FUZZ_CHECK(err == -EINVAL || err == -EPROTO ||
			   err == -BCAST_ECORRUPT);
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.r = r;
	work_set((struct bcast_ring_hdr *)fr.mem);
	ring_info(r);
	{
		struct bcast_ring_info info;

		bcast_ring_info(r, &info);
		c.cap = info.capacity;
		FUZZ_CHECK(c.cap <= fr.size - BCAST_HDR_SIZE);
	}
	c.big = 2 * c.cap + 64;
	c.rbuf = xbuf(c.big);
	c.bbuf = xbuf(c.big);
	c.reading = (struct reading){
		.ops = &fuzz_reading,
		.ctx = &c,
		.failure = &c.failure,
		.batch_access = READ_NONE,
		.bulk_access = READ_BOTH,
		.max_msgs = MAX_CALLS,
	};
	c.rng = fr.ops * 0x100000001b3ULL + fr.ext;
	c.static_ring = true;

	if (strict_mode())
		differential(&c);

	for (i = 0; i < 4; i++) {
		err = bcast_reader_open(r, modes[i], &rd[i]);
		FUZZ_CHECK(err == 0);
	}
	{
		struct bcast_reader *bad = NULL;

		FUZZ_CHECK(bcast_reader_open(r, 0x4, &bad) == -EINVAL && !bad);
	}
	for (i = 0; i < 4; i++)
		drive(&c, rd[i], fr.ops + i);
	for (i = 0; i < 4; i++) {
		reread_saved(&c, rd[i]);
		bcast_reader_close(rd[i]);
	}
	c.nsaved = 0;
	writer_phase(&c);
	bcast_ring_close(r);
	free(c.rbuf);
	free(c.bbuf);
out:
	header_pads((struct bcast_ring_hdr *)fr.mem, false);
	free(fr.mem);
	return 0;
}
