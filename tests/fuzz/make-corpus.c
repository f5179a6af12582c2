// SPDX-License-Identifier: MIT
/*
 * Writes the seed corpus of the fuzz-reader target: real rings, made by the
 * library's own writer, in the states a reader can meet (empty, a few
 * messages, wrapped with padding, fragmented, heartbeats, lapped, deferred
 * commits, a writer that died mid-message, huge positions), plus a few with
 * a single impossible value.  Each is encoded in the target's input format
 * (fuzz-input.h).
 *
 *   make make-corpus
 *   build/tests/fuzz/make-corpus tests/fuzz/corpus
 *
 * (tests/fuzz/run.sh --make-corpus does exactly this.)  The output depends
 * on nothing but this file, the test helpers' payloads and the library: no
 * pids, times or randomness.  Every seed is checked to decode back to the
 * ring it came from and run through the target (fuzz-reader.c, linked in)
 * once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/bcast.h>
#include "bcast.h"
#include "payload.h"
#include "random.h"
#include "fuzz-input.h"

static const char *outdir;
static unsigned nwritten;
static size_t total_bytes;

struct seed {
	unsigned char *mem;
	uint64_t cap;
	size_t size;
	struct bcast_ring *r;
	struct bcast_writer *w;
};

#define DIE(...) do { fprintf(stderr, "make-corpus: " __VA_ARGS__); \
		      fputc('\n', stderr); exit(1); } while (0)
#define OK(call) do { long err_ = (long)(call); if (err_ < 0) \
		DIE("%s:%d: %s: %s", __FILE__, __LINE__, #call, \
		    bcast_strerror((int)err_)); } while (0)

static void seed_new(struct seed *s, uint64_t cap, size_t mtu)
{
	struct bcast_ring_opts o = { .size = cap, .mtu = mtu };

	s->cap = cap;
	s->size = BCAST_HDR_SIZE + cap;
	s->mem = aligned_alloc(64, s->size);
	if (!s->mem)
		DIE("out of memory");
	memset(s->mem, 0, s->size);
	OK(bcast_ring_format(s->mem, s->size, &o, &s->r));
	s->w = NULL;
}

static void seed_writer(struct seed *s)
{
	if (!s->w)
		OK(bcast_writer_open(s->r, &s->w));
}

static void seed_close_writer(struct seed *s)
{
	if (s->w)
		bcast_writer_close(s->w);
	s->w = NULL;
}

static void seed_free(struct seed *s)
{
	seed_close_writer(s);
	bcast_ring_close(s->r);
	free(s->mem);
}

static struct bcast_ring_hdr *H(unsigned char *mem)
{
	return (struct bcast_ring_hdr *)mem;
}

/*
 * A copy of the ring with the writer's identity made machine-independent:
 * a live writer's lock word is 1, which the target replaces with its own
 * identity (alive), a gone one's is 0; no start time, no membarrier flag.
 */
static unsigned char *snap(const struct seed *s)
{
	unsigned char *m = aligned_alloc(64, s->size);
	struct bcast_ring_hdr *h;

	if (!m)
		DIE("out of memory");
	memcpy(m, s->mem, s->size);
	h = H(m);
	h->writer_pid = h->writer_alive ? 1 : 0;
	h->writer_lock = h->writer_alive ? 1 : 0;	/* 1: the fuzzer itself */
	h->writer_start = 0;
	h->writer_pidns = 0;
	h->writer_flags = 0;
	h->need_wakeup = 0;
	h->wake_seq = 0;
	h->reader_flags = 0;
	return m;
}

/* Encode, check the round trip, run the target once, write the file. */
static void emit_mem(const char *name, unsigned char *mem, uint64_t cap,
		     unsigned ctl, unsigned ops, unsigned ext)
{
	size_t max = fuzz_encoded_max(cap), n;
	unsigned char *buf = malloc(max);
	struct fuzz_ring fr;
	char path[4096];
	FILE *f;

	if (!buf)
		DIE("out of memory");
	n = fuzz_encode(mem, cap, ctl, ops, ext, buf);
	if (fuzz_decode(buf, n, &fr))
		DIE("%s: decode failed", name);
	/* fix-ups must leave a valid ring as it was */
	if (((ctl >> 2) & 3) && H(mem)->magic == BCAST_RING_MAGIC &&
	    (fr.size != BCAST_HDR_SIZE + cap ||
	     memcmp(fr.mem, mem, fr.size)))
		DIE("%s: does not decode to the ring it encodes", name);
	if (!((ctl >> 2) & 3) && memcmp(fr.mem, mem, fr.size))
		DIE("%s: raw seed does not decode to its memory", name);
	free(fr.mem);
	LLVMFuzzerTestOneInput(buf, n);

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n || fclose(f))
		DIE("%s: %s", path, strerror(errno));
	nwritten++;
	total_bytes += n;
	free(buf);
}

static void emit(const char *name, const struct seed *s, unsigned ctl,
		 unsigned ops, unsigned ext)
{
	unsigned char *m = snap(s);

	emit_mem(name, m, s->cap, ctl, ops, ext);
	free(m);
}

/* ctl values: capacity bits are filled in by fuzz_encode() */
#define RAW	(0u << 2)
#define FIX_ID	(1u << 2)
#define FIX_HDR	(2u << 2)
#define FIX_POS	(3u << 2)

static void publish(struct seed *s, size_t len, uint32_t type)
{
	unsigned char *b = malloc(len ? len : 1);

	if (!b)
		DIE("out of memory");
	payload_fill(b, len, type);
	seed_writer(s);
	OK(bcast_publish(s->w, b, len, type));
	free(b);
}

/* Deterministic message sizes in [0, max]. */
static size_t size_of(uint64_t *rng, size_t max)
{
	return (size_t)(rng_next(rng) % (max + 1));
}

/* Walk frames from data index 0 (a ring that never wrapped): index of
 * frame n. */
static uint64_t frame_index(const unsigned char *mem, unsigned n)
{
	const unsigned char *d = mem + BCAST_HDR_SIZE;
	uint64_t idx = 0, w;

	while (n--) {
		memcpy(&w, d + idx, 8);
		idx += 8 + (((w & BCAST_FRAME_LEN_MASK) + 7) & ~7ULL);
	}
	return idx;
}

static uint64_t *frame_word_at(unsigned char *mem, uint64_t idx)
{
	return (uint64_t *)(mem + BCAST_HDR_SIZE + idx);
}

/* ---- the states ---- */

static void seeds_empty(void)
{
	struct seed s;

	seed_new(&s, 4096, 0);
	emit("empty-4k-raw", &s, RAW, 0x00, 0);
	emit("empty-4k", &s, FIX_HDR, 0x01, 1);
	seed_free(&s);

	seed_new(&s, 8192, 0);
	seed_writer(&s);
	emit("empty-8k-writer-alive", &s, FIX_ID, 0x02, 2);
	seed_close_writer(&s);
	emit("empty-8k-writer-gone", &s, FIX_POS, 0x03, 3);
	seed_free(&s);

	seed_new(&s, 16384, 0);
	emit("empty-16k", &s, FIX_ID, 0x04, 4);
	seed_free(&s);
}

static void seeds_small(void)
{
	static const size_t sizes[] = { 0, 1, 7, 8, 9, 100, 255 };
	unsigned char *m;
	struct seed s;
	unsigned i;

	seed_new(&s, 4096, 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		publish(&s, sizes[i], 100 + i);
	emit("small-4k-writer-alive", &s, FIX_HDR, 0x10, 5);
	seed_close_writer(&s);
	emit("small-4k", &s, FIX_ID, 0x11, 6);
	emit("small-4k-raw", &s, RAW, 0x12, 7);
	/* the empty first message loses its FIN: a zero-length first
	 * fragment that the next message abandons */
	m = snap(&s);
	*frame_word_at(m, 0) &= ~((uint64_t)BCAST_FRAME_FIN << 24);
	emit_mem("empty-first-fragment-4k", m, 4096, FIX_HDR, 0x14, 30);
	free(m);
	seed_free(&s);

	/* messages of exactly the MTU, and one byte more (two fragments) */
	seed_new(&s, 8192, 0);
	publish(&s, 8192 / 4 - 8, 1);
	publish(&s, 8192 / 4 - 7, 2);
	publish(&s, 3, 3);
	seed_close_writer(&s);
	emit("mtu-8k", &s, FIX_HDR, 0x13, 8);
	seed_free(&s);
}

static void seeds_wrapped(void)
{
	uint64_t rng = 42;
	struct seed s;
	unsigned i;

	/* three and a half laps of assorted sizes: padding, sync points,
	 * the oldest messages overwritten */
	seed_new(&s, 4096, 0);
	for (i = 0; H(s.mem)->committed < 3 * 4096 + 2048; i++)
		publish(&s, size_of(&rng, 600), i);
	seed_close_writer(&s);
	emit("wrapped-4k", &s, FIX_HDR, 0x20, 9);
	emit("wrapped-4k-pos", &s, FIX_POS, 0x21, 10);
	seed_free(&s);

	seed_new(&s, 8192, 0);
	for (i = 0; H(s.mem)->committed < 5 * 8192 + 1000; i++)
		publish(&s, size_of(&rng, 1500), i);
	emit("wrapped-8k-writer-alive", &s, FIX_ID, 0x22, 11);
	seed_close_writer(&s);
	emit("wrapped-8k", &s, FIX_HDR, 0x23, 12);
	seed_free(&s);

	/* a frame that ends exactly at the end of the data area, no pad */
	seed_new(&s, 4096, 0);
	publish(&s, 1000, 1);
	publish(&s, 1000, 2);
	publish(&s, 1000, 3);
	publish(&s, 4096 - 3 * 1008 - 8, 4);	/* fills up to the end */
	publish(&s, 16, 5);
	seed_close_writer(&s);
	emit("exact-end-4k", &s, FIX_HDR, 0x24, 13);
	seed_free(&s);

	/* a small MTU: many frames per lap */
	seed_new(&s, 4096, 64);
	for (i = 0; H(s.mem)->committed < 2 * 4096 + 512; i++)
		publish(&s, size_of(&rng, 64), i);
	seed_close_writer(&s);
	emit("wrapped-4k-mtu64", &s, FIX_HDR, 0x25, 14);
	seed_free(&s);
}

static void seeds_fragmented(void)
{
	struct seed s;

	seed_new(&s, 8192, 0);
	publish(&s, 5000, 1);	/* 3 fragments of an MTU of 2040 */
	publish(&s, 10, 2);
	publish(&s, 2041, 3);
	seed_close_writer(&s);
	emit("fragmented-8k", &s, FIX_HDR, 0x30, 15);
	seed_free(&s);

	/* a fragmented message across the end of the data area */
	seed_new(&s, 4096, 0);
	publish(&s, 900, 1);
	publish(&s, 900, 2);
	publish(&s, 900, 3);
	publish(&s, 2500, 4);
	seed_close_writer(&s);
	emit("fragmented-wrap-4k", &s, FIX_HDR, 0x31, 16);
	seed_free(&s);

	/* tiny MTU: a message in 25 fragments, then one larger than the ring */
	seed_new(&s, 4096, 8);
	publish(&s, 200, 1);
	emit("fragments-mtu8-4k", &s, FIX_ID, 0x32, 17);
	publish(&s, 5000, 2);
	seed_close_writer(&s);
	emit("fragments-mtu8-lapped-4k", &s, FIX_HDR, 0x33, 18);
	seed_free(&s);
}

static void seeds_heartbeats(void)
{
	struct seed s;
	unsigned i;

	seed_new(&s, 4096, 0);
	for (i = 0; i < 6; i++) {
		publish(&s, 20 * i, i);
		OK(bcast_heartbeat(s.w));
	}
	emit("heartbeats-4k", &s, FIX_HDR, 0x40, 19);
	seed_free(&s);

	/* nothing but heartbeats, more than a lap of them */
	seed_new(&s, 4096, 0);
	seed_writer(&s);
	for (i = 0; i < 700; i++)
		OK(bcast_heartbeat(s.w));
	seed_close_writer(&s);
	emit("heartbeats-only-4k", &s, FIX_HDR, 0x41, 20);
	seed_free(&s);

	/* gaps, loud and quiet, between messages */
	seed_new(&s, 4096, 0);
	seed_writer(&s);
	for (i = 0; i < 6; i++) {
		publish(&s, 24 * i, i);
		OK(bcast_publish_gap(s.w, 1 + i * 1000, i & 1 ? BCAST_GAP_QUIET : 0));
	}
	emit("gaps-4k", &s, FIX_HDR, 0x43, 31);
	seed_free(&s);

	/* zero-length messages filling the ring */
	seed_new(&s, 4096, 0);
	for (i = 0; i < 600; i++)
		publish(&s, 0, i);
	seed_close_writer(&s);
	emit("empty-messages-4k", &s, FIX_HDR, 0x42, 21);
	seed_free(&s);
}

static void seeds_lapped(void)
{
	uint64_t rng = 7;
	struct bcast_claim c;
	unsigned char *m;
	struct seed s;
	unsigned i;

	seed_new(&s, 4096, 0);
	for (i = 0; i < 30; i++)
		publish(&s, size_of(&rng, 300), i);
	/* an open claim: the frontier moved, the frame is not committed */
	OK(bcast_claim(s.w, 900, &c));
	memset(c.data, 0x5a, 900);
	emit("open-claim-4k", &s, FIX_HDR, 0x50, 22);
	OK(bcast_commit(&c, 77, 0));
	seed_close_writer(&s);

	/* the frontier far ahead of committed: every reader is lapped */
	m = snap(&s);
	H(m)->claimed = H(m)->committed + 3 * 4096;
	emit_mem("claimed-far-ahead-4k", m, 4096, FIX_HDR, 0x51, 23);
	H(m)->claimed = H(m)->committed + 4096 + 8;
	emit_mem("claimed-just-lapped-4k", m, 4096, FIX_HDR, 0x52, 24);
	free(m);
	seed_free(&s);
}

static void seeds_deferred(void)
{
	struct bcast_claim c;
	struct seed s;
	unsigned i;

	seed_new(&s, 8192, 0);
	publish(&s, 50, 1);
	for (i = 0; i < 5; i++) {
		OK(bcast_claim(s.w, 16 + i, &c));
		memset(c.data, (int)i, 16 + i);
		OK(bcast_commit(&c, 10 + i, BCAST_DEFER));
	}
	/* written but not yet visible */
	emit("deferred-8k", &s, FIX_HDR, 0x60, 25);
	OK(bcast_flush(s.w));
	emit("deferred-flushed-8k", &s, FIX_ID, 0x61, 26);
	seed_free(&s);
}

/* A writer died after publishing part of a fragmented message. */
static void seeds_dead_writer(void)
{
	unsigned char *m;
	struct seed s;
	uint64_t cut;

	seed_new(&s, 8192, 0);
	publish(&s, 30, 1);
	publish(&s, 6000, 2);	/* 3 fragments */
	seed_close_writer(&s);
	m = snap(&s);
	H(m)->committed = frame_index(m, 2);	/* the first fragment */
	emit_mem("dead-after-first-fragment-8k", m, 8192, FIX_ID, 0x72, 29);
	free(m);
	cut = frame_index(s.mem, 3);	/* two fragments of three */
	H(s.mem)->committed = cut;
	emit("dead-mid-message-8k", &s, FIX_HDR, 0x70, 27);
	/* a new writer goes on from there */
	publish(&s, 40, 3);
	OK(bcast_heartbeat(s.w));
	publish(&s, 3000, 4);
	seed_close_writer(&s);
	emit("dead-mid-message-resumed-8k", &s, FIX_HDR, 0x71, 28);
	seed_free(&s);
}

/* Positions far from zero: a ring that has carried 2^40 or 2^63 bytes, and
 * one about to wrap 64 bits. */
static void seed_at(const char *name, uint64_t start, unsigned ops)
{
	struct bcast_ring_hdr *h;
	uint64_t rng = start;
	struct seed s;
	unsigned i;

	seed_new(&s, 4096, 0);
	h = H(s.mem);
	h->committed = h->claimed = start;
	h->sync[0].seq = 123456;
	h->sync[0].bytes = 9876543;
	h->sync[0].pos = start;
	for (i = 0; i < 12; i++)
		publish(&s, size_of(&rng, 700), i);
	seed_close_writer(&s);
	emit(name, &s, FIX_HDR, ops, ops);
	seed_free(&s);
}

static void seeds_positions(void)
{
	seed_at("pos-2e40-4k", 1ULL << 40, 0x80);
	seed_at("pos-2e63-4k", 1ULL << 63, 0x81);
	seed_at("pos-wrap64-4k", -(uint64_t)2048, 0x82);
}

/* One impossible value each. */
static void seeds_corrupt(void)
{
	struct bcast_ring_hdr *h;
	unsigned char *m;
	struct seed s;
	uint64_t idx;

	seed_new(&s, 4096, 0);
	publish(&s, 10, 1);
	publish(&s, 300, 2);
	publish(&s, 20, 3);
	publish(&s, 1500, 4);	/* 2 fragments */
	publish(&s, 30, 5);
	seed_close_writer(&s);

#define VARIANT(name, ctl, ops, ext, change)				\
	do {								\
		m = snap(&s);						\
		h = H(m);						\
		(void)h;						\
		change;							\
		emit_mem(name, m, 4096, ctl, ops, ext);			\
		free(m);						\
	} while (0)

	/* header validation (raw: nothing is fixed up) */
	VARIANT("bad-magic-raw", RAW, 0x90, 0, h->magic ^= 1);
	VARIANT("bad-abi-raw", RAW, 0x91, 0, h->abi_version = BCAST_ABI_VERSION - 1);
	VARIANT("bad-capacity-raw", RAW, 0x92, 0, h->capacity = 4096 + 8);
	VARIANT("capacity-too-big-raw", RAW, 0x93, 0, h->capacity = 8192);
	VARIANT("bad-mtu-raw", RAW, 0x94, 0, h->mtu = 4096 / 4);
	VARIANT("bad-chunk-shift-raw", RAW, 0x95, 0, h->chunk_shift = 11);
	VARIANT("bad-hdr-size-raw", RAW, 0x96, 0, h->hdr_size = 4096);
	VARIANT("short-mapping-raw", RAW | 0x10, 0x97, 1, (void)0);

	/* positions */
	VARIANT("committed-unaligned", FIX_HDR, 0x98, 0, h->committed += 4);
	VARIANT("claimed-below-committed", FIX_HDR, 0x99, 0,
		h->claimed = h->committed - 8);
	VARIANT("sync-mid-frame", FIX_HDR, 0x9a, 0,
		h->sync[1].pos = h->sync[0].pos + 16;
		h->sync[1].seq = 1; h->sync[1].bytes = 10;
		h->sync[1].reserved = 0);
	VARIANT("sync-beyond-committed", FIX_HDR, 0x9b, 0,
		h->sync[1].pos = h->committed + 64;
		h->sync[1].seq = 99; h->sync[1].bytes = 99;
		h->sync[1].reserved = 0);

	/* frames */
	idx = frame_index(m = snap(&s), 1);
	free(m);
	VARIANT("frame-unknown-flag", FIX_HDR, 0xa0, 0,
		*frame_word_at(m, idx) |= 0x40ULL << 24);
	VARIANT("frame-len-over-mtu", FIX_HDR, 0xa1, 0,
		*frame_word_at(m, idx) |= 0x00fff000ULL);
	VARIANT("frame-len-wrong", FIX_HDR, 0xa2, 0,
		*frame_word_at(m, idx) = (*frame_word_at(m, idx) &
					  ~(uint64_t)BCAST_FRAME_LEN_MASK) | 1016);
	VARIANT("frame-pad-mid-ring", FIX_HDR, 0xa3, 0,
		*frame_word_at(m, idx) = (uint64_t)BCAST_FRAME_PAD << 24 | 300);
	VARIANT("frame-heartbeat-with-len", FIX_HDR, 0xa4, 0,
		*frame_word_at(m, idx) = (uint64_t)BCAST_FRAME_HEARTBEAT << 24 | 300);
	idx = frame_index(m = snap(&s), 4);	/* second fragment */
	free(m);
	VARIANT("fragment-bad-offset", FIX_HDR, 0xa5, 0,
		*frame_word_at(m, idx) += 8ULL << 32);
	VARIANT("fragment-zero-offset", FIX_HDR, 0xa6, 0,
		*frame_word_at(m, idx) &= 0xffffffffULL);
	/* the first fragment turned into a whole message: its tail is an
	 * orphan */
	VARIANT("fragment-orphan", FIX_HDR, 0xa7, 0,
		*frame_word_at(m, frame_index(m, 3)) |=
			(uint64_t)BCAST_FRAME_FIN << 24);
#undef VARIANT
	seed_free(&s);
}

int main(int argc, char **argv)
{
	outdir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
	if (mkdir(outdir, 0755) && errno != EEXIST)
		DIE("%s: %s", outdir, strerror(errno));
	seeds_empty();
	seeds_small();
	seeds_wrapped();
	seeds_fragmented();
	seeds_heartbeats();
	seeds_lapped();
	seeds_deferred();
	seeds_dead_writer();
	seeds_positions();
	seeds_corrupt();
	printf("make-corpus: %u seeds, %zu bytes in %s\n", nwritten,
	       total_bytes, outdir);
	return 0;
}
