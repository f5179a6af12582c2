/* SPDX-License-Identifier: MIT */
/*
 * refring: the bare reference ring that bcast-bench measures libbcast
 * against.  Not a library, not for production: a single-producer /
 * single-consumer byte ring with the same memory layout idea as a bcast
 * ring and nothing else.
 *
 *  - the same memory: BCAST_HDR_SIZE bytes of header (the committed word on
 *    its own line at offset BCAST_LINE, like bcast) then a power-of-two
 *    data area;
 *  - the same frames: an 8-byte header (24-bit length, 8 flag bits, 32-bit
 *    type) then the payload padded to 8 bytes; a padding frame at the wrap,
 *    so no frame straddles the end;
 *  - the writer copies the payload, stores the frame header, then stores
 *    `committed` with release; the reader loads `committed` with acquire;
 *  - no backpressure: the writer never waits for the reader (like bcast);
 *  - no validation, no torn-copy detection, no claimed frontier, no
 *    sync points, no wake-ups, no statistics, no fragmentation.
 *
 * The only concessions, both a compare and a branch or a cmov: a reader
 * lapped by more than the capacity (committed - pos > capacity, which a
 * no-backpressure ring cannot avoid) jumps to `committed` and counts a lap
 * instead of reading a whole lap of stale frames; and a length is clamped
 * to the MTU so a torn header can never send memcpy outside the mapping.
 *
 * The entry points are noinline: libbcast is a separately compiled
 * library, so both sides pay one call per operation.
 */
#ifndef BCAST_REFRING_H
#define BCAST_REFRING_H

#include <stdint.h>
#include <string.h>
#include <linux/bcast.h>

#define REF_NOINLINE __attribute__((noinline, unused))
#define REF_FRAME_FIN	0x01u
#define REF_FRAME_PAD	0x04u
#define REF_COMMITTED_OFF BCAST_LINE	/* same line as bcast's `committed` */

struct ref_ring {
	uint64_t *committed;	/* in the shared header */
	unsigned char *data;
	uint64_t cap;
	uint64_t mask;
	uint32_t mtu;
};

struct ref_writer {
	struct ref_ring r;
	uint64_t pos;
};

struct ref_reader {
	struct ref_ring r;
	uint64_t pos;
	uint64_t laps;		/* times the reader was lapped */
};

/* `mem` holds BCAST_HDR_SIZE + cap bytes; cap is a power of two. */
static inline void ref_ring_format(struct ref_ring *r, void *mem, uint64_t cap,
				   uint32_t mtu)
{
	memset(mem, 0, BCAST_HDR_SIZE);
	r->committed = (uint64_t *)((unsigned char *)mem + REF_COMMITTED_OFF);
	r->data = (unsigned char *)mem + BCAST_HDR_SIZE;
	r->cap = cap;
	r->mask = cap - 1;
	r->mtu = mtu;
}

static inline uint64_t ref_frame_total(uint32_t len)
{
	return 8 + (((uint64_t)len + 7) & ~7ULL);
}

static REF_NOINLINE void ref_publish(struct ref_writer *w, const void *p,
				     uint32_t len, uint32_t type)
{
	uint64_t total = ref_frame_total(len);
	uint64_t idx = w->pos & w->r.mask;
	unsigned char *f;

	if (__builtin_expect(idx + total > w->r.cap, 0)) {
		uint64_t pad = w->r.cap - idx;

		__atomic_store_n((uint64_t *)(w->r.data + idx),
				 (pad - 8) | ((uint64_t)REF_FRAME_PAD << 24),
				 __ATOMIC_RELAXED);
		w->pos += pad;
		idx = 0;
	}
	f = w->r.data + idx;
	memcpy(f + 8, p, len);
	__atomic_store_n((uint64_t *)f, (uint64_t)len |
			 ((uint64_t)REF_FRAME_FIN << 24) | ((uint64_t)type << 32),
			 __ATOMIC_RELAXED);
	w->pos += total;
	__atomic_store_n(w->r.committed, w->pos, __ATOMIC_RELEASE);
}

#define REF_EAGAIN	(-1)
#define REF_ELAPPED	(-2)

/* One message into buf (cap >= mtu): its length, REF_EAGAIN or REF_ELAPPED. */
static REF_NOINLINE long ref_receive(struct ref_reader *rd, void *buf)
{
	for (;;) {
		uint64_t committed = __atomic_load_n(rd->r.committed,
						     __ATOMIC_ACQUIRE);
		uint64_t idx, word;
		uint32_t len;

		if (rd->pos == committed)
			return REF_EAGAIN;
		if (__builtin_expect(committed - rd->pos > rd->r.cap, 0)) {
			rd->laps++;
			rd->pos = committed;
			return REF_ELAPPED;
		}
		idx = rd->pos & rd->r.mask;
		word = __atomic_load_n((const uint64_t *)(rd->r.data + idx),
				       __ATOMIC_RELAXED);
		if (__builtin_expect((word >> 24) & REF_FRAME_PAD, 0)) {
			rd->pos += rd->r.cap - idx;
			continue;
		}
		len = (uint32_t)word & 0xffffffu;
		if (len > rd->r.mtu)
			len = rd->r.mtu;
		memcpy(buf, rd->r.data + idx + 8, len);
		rd->pos += ref_frame_total(len);
		return len;
	}
}

/*
 * Batch mode: one acquire load, then every frame up to it copied out into
 * buf one by one; `deliver` is called for each.  Returns the number of
 * messages, REF_EAGAIN or REF_ELAPPED.
 */
typedef void (*ref_deliver_fn)(void *ctx, const unsigned char *p, uint32_t len);

static REF_NOINLINE long ref_batch(struct ref_reader *rd, void *buf,
				   ref_deliver_fn deliver, void *ctx)
{
	uint64_t committed = __atomic_load_n(rd->r.committed, __ATOMIC_ACQUIRE);
	long n = 0;

	if (rd->pos == committed)
		return REF_EAGAIN;
	if (__builtin_expect(committed - rd->pos > rd->r.cap, 0)) {
		rd->laps++;
		rd->pos = committed;
		return REF_ELAPPED;
	}
	while (rd->pos < committed) {
		uint64_t idx = rd->pos & rd->r.mask;
		uint64_t word = __atomic_load_n((const uint64_t *)(rd->r.data + idx),
						__ATOMIC_RELAXED);
		uint32_t len;

		if (__builtin_expect((word >> 24) & REF_FRAME_PAD, 0)) {
			rd->pos += rd->r.cap - idx;
			continue;
		}
		len = (uint32_t)word & 0xffffffu;
		if (len > rd->r.mtu)
			len = rd->r.mtu;
		memcpy(buf, rd->r.data + idx + 8, len);
		rd->pos += ref_frame_total(len);
		deliver(ctx, buf, len);
		n++;
	}
	return n;
}

/*
 * Bulk mode: copy the committed window (at most cap bytes, whole frames)
 * out in one go, then walk the private copy; `deliver` is called for each
 * message in place.  Returns the number of messages, REF_EAGAIN or
 * REF_ELAPPED.
 */
static REF_NOINLINE long ref_bulk(struct ref_reader *rd, unsigned char *dst,
				  uint64_t cap, ref_deliver_fn deliver,
				  void *ctx)
{
	uint64_t committed = __atomic_load_n(rd->r.committed, __ATOMIC_ACQUIRE);
	uint64_t n, idx, first, off = 0;
	long msgs = 0;

	if (rd->pos == committed)
		return REF_EAGAIN;
	if (__builtin_expect(committed - rd->pos > rd->r.cap, 0)) {
		rd->laps++;
		rd->pos = committed;
		return REF_ELAPPED;
	}
	n = committed - rd->pos;
	if (n > (cap & ~7ULL))
		n = cap & ~7ULL;
	idx = rd->pos & rd->r.mask;
	first = rd->r.cap - idx < n ? rd->r.cap - idx : n;
	memcpy(dst, rd->r.data + idx, first);
	memcpy(dst + first, rd->r.data, n - first);
	while (off + 8 <= n) {
		uint64_t word, total;
		uint32_t len;

		memcpy(&word, dst + off, 8);
		len = (uint32_t)word & 0xffffffu;
		if ((word >> 24) & REF_FRAME_PAD) {
			total = rd->r.cap - ((rd->pos + off) & rd->r.mask);
			if (off + total > n)
				break;
			off += total;
			continue;
		}
		if (len > rd->r.mtu)
			len = rd->r.mtu;
		total = ref_frame_total(len);
		if (off + total > n)
			break;	/* cut by the window: next time */
		deliver(ctx, dst + off + 8, len);
		msgs++;
		off += total;
	}
	rd->pos += off;
	return msgs;
}

#endif /* BCAST_REFRING_H */
