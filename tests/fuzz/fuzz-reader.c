// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: arbitrary ring memory ("never trust the ring").
 *
 * The input describes a ring: the meaningful words of the header and the
 * bytes of the data area.  The target lays them out in a zeroed, 64-byte
 * aligned heap buffer of exactly BCAST_HDR_SIZE + capacity bytes (the
 * padding of the header is poisoned for ASan, so a negative data index is
 * caught as well as one past the end), attaches without BCAST_FORMAT and,
 * when the library accepts the memory, drives every reader entry point,
 * then a writer, reading back what it published.
 *
 * Input format (integers in host byte order, i.e. little-endian):
 *
 *   [0]        ctl   bits 0-1  capacity: 0,3 -> 4096, 1 -> 8192, 2 -> 16384
 *                    bits 2-3  header fix-up:
 *                              0 raw: every header word as given
 *                              1 magic, abi_version, hdr_size, capacity forced
 *                              2 as 1, and mtu, chunk_shift, metadata_len
 *                                folded into their valid ranges
 *                              3 as 2, and committed made 8-aligned with
 *                                committed <= claimed <= committed + 2 cap
 *                    bit 4     raw mode only: pass a mapping length
 *                              shortened by ext * 64 bytes to attach
 *                    bits 5-7  unused (free for the mutator)
 *   [1]        ops   how the readers are driven (strategy rotation, PRNG)
 *   [2]        nsync number of sync slots that follow (value % 65); the
 *                    other slots hold BCAST_SYNC_INVALID
 *   [3]        ext   extra byte (length cut in raw mode, writer PRNG)
 *   [4..44)    header line 0: magic .. chunk_shift (40 bytes)
 *   [44..52)   committed
 *   [52..60)   claimed
 *   [60..100)  header line 3: writer_alive .. sync_next (40 bytes)
 *   [100..108) need_wakeup, wake_seq
 *   then       nsync * 32 bytes of sync points (pos, seq, bytes, reserved)
 *   then       the data area from index 0 (at most capacity bytes; the rest
 *              of the data area stays zero, extra input is ignored)
 *
 * Shorter inputs leave the rest zero.  tests/fuzz/make-corpus.c includes
 * this file to encode its seed rings with fuzz_encode().
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bcast.h>
#include "bcast.h"

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

#define FUZZ_PREFIX	4
#define FUZZ_LINE0	40
#define FUZZ_LINE3	40
#define FUZZ_FIXED	(FUZZ_PREFIX + FUZZ_LINE0 + 8 + 8 + FUZZ_LINE3 + 8)
#define FUZZ_SYNC_SIZE	32

#define MAX_CALLS	10000	/* per drive loop */
#define MAX_OVERRUNS	256	/* per drive loop, on a ring nobody writes */

_Static_assert(FUZZ_FIXED == 108, "input layout");
_Static_assert(sizeof(struct bcast_sync_point) == FUZZ_SYNC_SIZE, "sync");
_Static_assert(offsetof(struct bcast_ring_hdr, line0_pad) == FUZZ_LINE0, "l0");
_Static_assert(offsetof(struct bcast_ring_hdr, line3_pad) -
	       offsetof(struct bcast_ring_hdr, writer_alive) == FUZZ_LINE3, "l3");

/* An invariant of the library's contract broke: make libFuzzer report it. */
#define FUZZ_CHECK(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz-reader: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

static const uint64_t fuzz_caps[4] = { 4096, 8192, 16384, 4096 };

/* ---- input <-> ring memory ---- */

struct fuzz_ring {
	unsigned char *mem;	/* BCAST_HDR_SIZE + cap bytes, 64-aligned */
	size_t size;		/* allocated */
	size_t len;		/* passed to bcast_ring_attach */
	uint64_t cap;		/* the capacity byte's choice */
	unsigned ctl, ops, ext;
};

static unsigned log2_u64(uint64_t v)
{
	return 63 - (unsigned)__builtin_clzll(v);
}

static void fix_header(struct bcast_ring_hdr *h, unsigned mode, uint64_t cap)
{
	uint64_t max_mtu = cap / 4 - BCAST_FRAME_HDR;
	unsigned max_shift = log2_u64(cap) - 2;

	if (mode >= 1) {
		h->magic = BCAST_RING_MAGIC;
		h->abi_version = BCAST_ABI_VERSION;
		h->hdr_size = BCAST_HDR_SIZE;
		h->capacity = cap;
	}
	if (mode >= 2) {
		if (h->mtu < 8 || h->mtu > max_mtu)
			h->mtu = (uint32_t)(8 + h->mtu % (max_mtu - 8 + 1));
		if (h->chunk_shift < 3 || h->chunk_shift > max_shift)
			h->chunk_shift = 3 + h->chunk_shift % (max_shift - 3 + 1);
		if (h->metadata_len > BCAST_METADATA_MAX)
			h->metadata_len %= BCAST_METADATA_MAX + 1;
	}
	if (mode >= 3) {
		h->committed &= ~7ULL;
		if (h->claimed < h->committed ||
		    h->claimed - h->committed > 2 * cap)
			h->claimed = h->committed + h->claimed % (2 * cap + 1);
	}
}

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

static void take(unsigned char *dst, size_t n, const uint8_t **p, size_t *left)
{
	size_t k = *left < n ? *left : n;

	if (k)
		memcpy(dst, *p, k);
	*p += k;
	*left -= k;
}

static int fuzz_decode(const uint8_t *data, size_t size, struct fuzz_ring *fr)
{
	struct bcast_ring_hdr *h;
	const uint8_t *p = data;
	size_t left = size;
	unsigned char pre[FUZZ_PREFIX] = { 0 };
	unsigned nsync, i, mode;

	take(pre, sizeof(pre), &p, &left);
	fr->ctl = pre[0];
	fr->ops = pre[1];
	nsync = pre[2] % (BCAST_SYNC_SLOTS + 1);
	fr->ext = pre[3];
	fr->cap = fuzz_caps[fr->ctl & 3];
	fr->size = BCAST_HDR_SIZE + fr->cap;
	fr->mem = aligned_alloc(64, fr->size);
	if (!fr->mem)
		return -1;
	memset(fr->mem, 0, fr->size);
	h = (struct bcast_ring_hdr *)fr->mem;

	take(fr->mem, FUZZ_LINE0, &p, &left);
	take((unsigned char *)&h->committed, 8, &p, &left);
	take((unsigned char *)&h->claimed, 8, &p, &left);
	take((unsigned char *)&h->writer_alive, FUZZ_LINE3, &p, &left);
	take((unsigned char *)&h->need_wakeup, 8, &p, &left);
	for (i = 0; i < BCAST_SYNC_SLOTS; i++)
		h->sync[i].pos = BCAST_SYNC_INVALID;
	for (i = 0; i < nsync; i++)
		take((unsigned char *)&h->sync[i], FUZZ_SYNC_SIZE, &p, &left);
	take(fr->mem + BCAST_HDR_SIZE, fr->cap, &p, &left);

	mode = (fr->ctl >> 2) & 3;
	fix_header(h, mode, fr->cap);
	fr->len = fr->size;
	if (!mode && (fr->ctl & 0x10) && (size_t)fr->ext * 64 < fr->size)
		fr->len = fr->size - (size_t)fr->ext * 64;
	return 0;
}

/*
 * Encode a ring (BCAST_HDR_SIZE + cap bytes at mem) as a fuzz input; returns
 * its length.  `out` must hold fuzz_encoded_max(cap) bytes.
 */
static inline size_t fuzz_encoded_max(uint64_t cap)
{
	return FUZZ_FIXED + BCAST_SYNC_SLOTS * FUZZ_SYNC_SIZE + cap;
}

static __attribute__((unused)) size_t
fuzz_encode(const void *mem, uint64_t cap, unsigned ctl, unsigned ops,
	    unsigned ext, unsigned char *out)
{
	const struct bcast_ring_hdr *h = mem;
	const unsigned char *d = (const unsigned char *)mem + BCAST_HDR_SIZE;
	unsigned nsync = 0, i;
	size_t n = 0, dlen = cap;

	for (i = 0; i < BCAST_SYNC_SLOTS; i++)
		if (h->sync[i].pos != BCAST_SYNC_INVALID)
			nsync = i + 1;
	while (dlen && !d[dlen - 1])
		dlen--;
	for (i = 0; i < 4; i++)
		if (fuzz_caps[i] == cap)
			break;
	out[n++] = (unsigned char)((ctl & ~3U) | (i & 3));
	out[n++] = (unsigned char)ops;
	out[n++] = (unsigned char)nsync;
	out[n++] = (unsigned char)ext;
	memcpy(out + n, h, FUZZ_LINE0);
	n += FUZZ_LINE0;
	memcpy(out + n, &h->committed, 8);
	n += 8;
	memcpy(out + n, &h->claimed, 8);
	n += 8;
	memcpy(out + n, &h->writer_alive, FUZZ_LINE3);
	n += FUZZ_LINE3;
	memcpy(out + n, &h->need_wakeup, 8);
	n += 8;
	memcpy(out + n, h->sync, (size_t)nsync * FUZZ_SYNC_SIZE);
	n += (size_t)nsync * FUZZ_SYNC_SIZE;
	memcpy(out + n, d, dlen);
	return n + dlen;
}

/* ---- helpers ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Read every byte, so that ASan sees any out-of-bounds pointer. */
static unsigned touch(const void *p, size_t n)
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

#define SAVED_MAX 8

struct fuzz_ctx {
	struct bcast_ring *r;
	uint64_t cap;		/* the ring's data capacity */
	size_t big;		/* a buffer size no message of a static ring exceeds */
	uint64_t rng;
	bool static_ring;	/* nobody writes while we drain */
	struct bcast_msg saved[SAVED_MAX];
	unsigned nsaved;
};

static void check_msg_common(const struct bcast_msg *m)
{
	const void *p;
	unsigned char *b;
	ssize_t n;

	FUZZ_CHECK(m->len <= 0xffffffffU);
	p = bcast_msg_peek(m);
	if (p) {
		touch(p, m->len);
		FUZZ_CHECK(!(m->flags & BCAST_MSG_FRAGMENTED) ||
			   (m->flags & BCAST_MSG_COPIED));
	}
	(void)bcast_msg_valid(m);
	b = xbuf(m->len);
	n = bcast_msg_read(m, b, m->len);
	FUZZ_CHECK(n < 0 ? known_error(n) : n == (ssize_t)m->len);
	if (n > 0)
		touch(b, (size_t)n);
	free(b);
	if (m->len) {
		/* one byte short: must refuse, never write past the buffer */
		b = xbuf(m->len - 1);
		n = bcast_msg_read(m, b, m->len - 1);
		FUZZ_CHECK(n < 0 && known_error(n));
		free(b);
	}
}

static void save_msg(struct fuzz_ctx *c, const struct bcast_msg *m)
{
	c->saved[c->nsaved++ % SAVED_MAX] = *m;
}

/* Read the messages handed out earlier, now that the ring may have moved. */
static void reread_saved(struct fuzz_ctx *c, const struct bcast_reader *rd)
{
	unsigned i, n = c->nsaved < SAVED_MAX ? c->nsaved : SAVED_MAX;

	for (i = 0; i < n; i++)
		if (c->saved[i].rd_ == rd)
			check_msg_common(&c->saved[i]);
}

/* ---- reader strategies: each returns when the reader stops making sense ---- */

static bool receive_step(struct fuzz_ctx *c, struct bcast_reader *rd,
			 unsigned *overruns, bool *progress)
{
	struct bcast_msg info;
	size_t sz;
	unsigned char *b;
	ssize_t n;
	unsigned pick = (unsigned)(rng_next(&c->rng) % 8);

	*progress = false;
	if (pick == 0) {
		sz = 0;
		b = NULL;
	} else if (pick < 4) {
		sz = 1 + (size_t)(rng_next(&c->rng) % 96);
		b = xbuf(sz);
	} else {
		sz = c->big;
		b = xbuf(sz);
	}
	memset(&info, 0xa5, sizeof(info));
	n = bcast_receive(rd, b, sz, &info);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n <= sz && info.len == (uint32_t)n);
		touch(b, (size_t)n);
		*progress = true;
	} else if (n == -EMSGSIZE) {
		FUZZ_CHECK(info.len > sz);
		/* nothing consumed: the big buffer must take it */
		if (c->static_ring) {
			free(b);
			b = xbuf(c->big);
			n = bcast_receive(rd, b, c->big, &info);
			FUZZ_CHECK(n != -EMSGSIZE);
			if (n >= 0) {
				touch(b, (size_t)n);
				*progress = true;
			}
		}
	}
	free(b);
	if (n == -BCAST_EOVERRUN) {
		(*overruns)++;
		*progress = true;
		return *overruns < MAX_OVERRUNS;
	}
	if (n < 0 && n != -EMSGSIZE) {
		FUZZ_CHECK(known_error(n));
		return false;
	}
	return true;
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
	struct bcast_batch b;
	struct bcast_msg m;
	uint64_t before = bcast_reader_position(rd);
	unsigned k;
	int err;

	*progress = false;
	err = bcast_batch(rd, &b);
	if (err == -EBUSY) {
		/* a fragmented message half-read by bcast_receive */
		return receive_step(c, rd, overruns, progress);
	}
	if (err == -BCAST_EOVERRUN) {
		*progress = true;
		return ++*overruns < MAX_OVERRUNS;
	}
	if (err) {
		FUZZ_CHECK(err < 0 && known_error(err));
		return false;
	}
	for (k = 0; k < MAX_CALLS; k++) {
		err = bcast_batch_next(&b, &m);
		if (err != 1)
			break;
		*progress = true;
		check_msg_common(&m);
		save_msg(c, &m);
	}
	if (err == -BCAST_EOVERRUN) {
		*progress = true;
		return ++*overruns < MAX_OVERRUNS;
	}
	if (err < 0) {
		FUZZ_CHECK(known_error(err));
		return false;
	}
	if (bcast_reader_position(rd) != before)
		*progress = true;
	/* A batch that yields nothing and moves nowhere: an incomplete
	 * message at the end of what is committed. */
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
	struct bcast_bulk bulk;
	struct bcast_msg m;
	size_t sz;
	unsigned char *dst, *b;
	ssize_t got, n;
	unsigned k;
	int err;

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
	dst = xbuf(sz);
	got = bcast_read_bulk(rd, dst, sz, &bulk);
	if (got == -EBUSY) {
		free(dst);
		return receive_step(c, rd, overruns, progress);
	}
	if (got == -EMSGSIZE && sz < c->big) {
		free(dst);
		return true;	/* the next step may pick the big buffer */
	}
	if (got == -BCAST_EOVERRUN) {
		free(dst);
		*progress = true;
		return ++*overruns < MAX_OVERRUNS;
	}
	if (got < 0) {
		free(dst);
		/* the big buffer holds any window of a static ring */
		FUZZ_CHECK(known_error(got) && (got != -EMSGSIZE || !c->static_ring));
		return false;
	}
	FUZZ_CHECK(got > 0 && (size_t)got <= sz);
	*progress = true;
	for (k = 0; k < MAX_CALLS; k++) {
		err = bcast_bulk_next(&bulk, &m);
		if (err != 1)
			break;
		FUZZ_CHECK(m.flags & BCAST_MSG_COPIED);
		FUZZ_CHECK(bcast_msg_peek(&m) != NULL);
		FUZZ_CHECK((const unsigned char *)bcast_msg_peek(&m) >= dst &&
			   (const unsigned char *)bcast_msg_peek(&m) + m.len <=
			   dst + got);
		FUZZ_CHECK(bcast_msg_valid(&m) == 1);
		b = xbuf(m.len);
		n = bcast_msg_read(&m, b, m.len);
		FUZZ_CHECK(n == (ssize_t)m.len);
		FUZZ_CHECK(!m.len || !memcmp(b, bcast_msg_peek(&m), m.len));
		free(b);
	}
	FUZZ_CHECK(err == 0 || (err < 0 && known_error(err)));
	free(dst);
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
	struct bcast_reader_stats st;
	int err;

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
	err = bcast_wait(rd, 0);
	FUZZ_CHECK(err == 0 || err == -ETIMEDOUT || err == -BCAST_EWRITERGONE);
	FUZZ_CHECK(bcast_reader_fd(rd) < 0);
}

static void ring_info(struct bcast_ring *r)
{
	struct bcast_ring_info info;

	FUZZ_CHECK(bcast_ring_info(r, &info) == 0);
	FUZZ_CHECK(info.metadata_len <= BCAST_METADATA_MAX);
	touch(info.metadata, info.metadata_len);
	FUZZ_CHECK(info.capacity >= BCAST_MIN_CAPACITY &&
		   !(info.capacity & (info.capacity - 1)));
	FUZZ_CHECK(info.mtu >= 8 && info.mtu <= info.capacity / 2);
	FUZZ_CHECK(info.backend && !strcmp(info.backend, "memory"));
}

/* ---- the writer on a ring it did not format ---- */

struct published {
	uint32_t type;
	uint32_t len;
	uint64_t seed;
};

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 131 + (i >> 8));
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
	bool verify;
	int err;

	if (bcast_reader_open(c->r, BCAST_FROM_LATEST, &latest))
		latest = NULL;
	if (bcast_reader_open(c->r, BCAST_FROM_OLDEST | BCAST_RESYNC_LATEST,
			      &oldest))
		oldest = NULL;
	FUZZ_CHECK(latest && oldest);
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
	verify = bcast_reader_position(latest) == committed0 &&
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
		fill(b, len, r);
		if (r & 0x10000 && len <= mtu) {
			struct bcast_claim cl;

			FUZZ_CHECK(bcast_claim(c->r->writer ? w : w, len, &cl) == 0);
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
			unsigned char *want = xbuf(pub[i].len);
			ssize_t n = bcast_receive(latest, b, c->cap, &m);

			fill(want, pub[i].len, pub[i].seed);
			if (n != (ssize_t)pub[i].len || m.type != pub[i].type ||
			    memcmp(b, want, pub[i].len)) {
				fprintf(stderr, "fuzz-reader: message %u of %u: got %zd "
					"type %u, want %u type %u (committed0 %llu "
					"claimed0 %llu)\n", i, npub, n, m.type,
					pub[i].len, pub[i].type,
					(unsigned long long)committed0,
					(unsigned long long)claimed0);
				FUZZ_CHECK(!"published message read back intact");
			}
			free(want);
		}
		FUZZ_CHECK(bcast_receive(latest, b, c->cap, NULL) == -EAGAIN);
		free(b);
	}
	c->static_ring = true;	/* the writer is idle from here on */
	drive(c, oldest, c->rng);
	drive(c, latest, c->rng + 1);
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

	/* misaligned memory and bad flags are refused */
	FUZZ_CHECK(bcast_ring_attach(fr->mem + 8, fr->len - 8, 0, &r) == -EINVAL);
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
	header_pads((struct bcast_ring_hdr *)fr.mem, true);
	attach_misuse(&fr);
	err = bcast_ring_attach(fr.mem, fr.len, 0, &r);
	if (err) {
		FUZZ_CHECK(err == -EINVAL || err == -EPROTO ||
			   err == -BCAST_ECORRUPT);
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.r = r;
	ring_info(r);
	{
		struct bcast_ring_info info;

		bcast_ring_info(r, &info);
		c.cap = info.capacity;
		FUZZ_CHECK(c.cap <= fr.size - BCAST_HDR_SIZE);
	}
	c.big = 2 * c.cap + 64;
	c.rng = fr.ops * 0x100000001b3ULL + fr.ext;
	c.static_ring = true;

	for (i = 0; i < 4; i++) {
		err = bcast_reader_open(r, modes[i], &rd[i]);
		FUZZ_CHECK(err == 0);
	}
	FUZZ_CHECK(bcast_reader_open(r, 0x4, &rd[0]) == -EINVAL);
	for (i = 0; i < 4; i++)
		drive(&c, rd[i], fr.ops + i);
	for (i = 0; i < 4; i++) {
		reread_saved(&c, rd[i]);
		bcast_reader_close(rd[i]);
	}
	c.nsaved = 0;
	writer_phase(&c);
	bcast_ring_close(r);
out:
	header_pads((struct bcast_ring_hdr *)fr.mem, false);
	free(fr.mem);
	return 0;
}
