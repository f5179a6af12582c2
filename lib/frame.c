// SPDX-License-Identifier: MIT
/*
 * Reading frames from memory another process writes: every value is checked
 * before use, and every copy is confirmed by re-reading `claimed`.
 */
#include <errno.h>
#include "internal.h"

#ifdef BCAST_COUNT_FRAMES
unsigned long bcast_frames_visited;
#endif

/*
 * Decode the header word of the frame at `pos` and check that it could have
 * been written by a correct writer: known flags, length within the MTU, not
 * straddling the end of the data area, and ending at or before `limit`.
 */
int frame_decode(uint64_t word, uint64_t pos, uint64_t cap, uint32_t mtu,
		 uint64_t limit, struct frame *f)
{
	uint32_t w0 = (uint32_t)word;
	uint64_t idx = pos & (cap - 1);

	count_frame();
	f->len = w0 & BCAST_FRAME_LEN_MASK;
	f->flags = w0 >> BCAST_FRAME_FLAG_SHIFT;
	f->word1 = (uint32_t)(word >> 32);
	if ((pos & 7) || (f->flags & ~BCAST_FRAME_KNOWN))
		return -BCAST_ECORRUPT;
	if (f->flags & BCAST_FRAME_PAD) {
		if (f->flags != BCAST_FRAME_PAD ||
		    idx + BCAST_FRAME_HDR + f->len != cap)
			return -BCAST_ECORRUPT;
		f->total = cap - idx;
	} else {
		if (f->len > mtu)
			return -BCAST_ECORRUPT;
		if ((f->flags & BCAST_FRAME_HEARTBEAT) &&
		    (f->flags != BCAST_FRAME_HEARTBEAT || f->len))
			return -BCAST_ECORRUPT;
		/* Gaps: alone, empty, at least one message. */
		if ((f->flags & FRAME_GAPS) &&
		    ((f->flags != BCAST_FRAME_GAP &&
		      f->flags != BCAST_FRAME_SKIP) || f->len || !f->word1))
			return -BCAST_ECORRUPT;
		if ((f->flags & BCAST_FRAME_CONT) && !f->word1)
			return -BCAST_ECORRUPT;
		f->total = frame_total(f->len);
		if (idx + f->total > cap)
			return -BCAST_ECORRUPT;
	}
	if (limit < pos || f->total > limit - pos)
		return -BCAST_ECORRUPT;
	return 0;
}

int frame_at(const struct bcast_ring *r, uint64_t pos, uint64_t committed,
	     struct frame *f)
{
	uint64_t word;

	racy_begin();
	word = load_relaxed((const uint64_t *)(r->data + (pos & r->mask)));
	racy_end();
	return frame_decode(word, pos, r->cap, r->mtu, committed, f);
}

/* Count a frame into the writer's running message and byte totals. */
void frame_account(const struct frame *f, uint64_t *seq, uint64_t *bytes)
{
	if (f->flags & FRAME_GAPS)
		*seq += f->word1;	/* numbered, not in the ring */
	if (!(f->flags & BCAST_FRAME_FIN))
		return;
	(*seq)++;
	*bytes += f->len;
	if (f->flags & BCAST_FRAME_CONT)
		*bytes += f->word1;
}

static bool read_sync_point(const struct bcast_sync_point *sp,
			    struct bcast_sync_point *out)
{
	out->pos = load_acquire(&sp->pos);
	if (out->pos == BCAST_SYNC_INVALID)
		return false;
	out->seq = load_relaxed(&sp->seq);
	out->bytes = load_relaxed(&sp->bytes);
	fence_acquire();
	return load_relaxed(&sp->pos) == out->pos;
}

/* The oldest (or newest) sync point that is committed and still intact. */
static bool pick_sync_point(const struct bcast_ring *r, bool latest,
			    uint64_t committed, uint64_t low,
			    struct bcast_sync_point *best)
{
	struct bcast_sync_point sp;
	bool found = false;
	unsigned i;

	for (i = 0; i < BCAST_SYNC_SLOTS; i++) {
		if (!read_sync_point(&r->hdr->sync[i], &sp))
			continue;
		if (sp.pos > committed || sp.pos < low || (sp.pos & 7))
			continue;
		if (!found || (latest ? sp.pos > best->pos : sp.pos < best->pos)) {
			*best = sp;
			found = true;
		}
	}
	return found;
}

/*
 * How far `committed` can be past the newest sync point of a correct
 * writer: it records one at the first frontier step BCAST_SYNC_SPACING
 * bytes after the last, steps come at most a chunk or a frame (and the
 * padding of a lap's end) apart, and `committed` stays below `claimed`; a
 * writer taking over records one where it resumes, and may inherit a
 * frontier such a step (and a chunk of deferred frames) ahead.  Twice
 * that, for safety.
 */
static uint64_t walk_limit(const struct bcast_ring *r)
{
	uint64_t chunk = 1ULL << r->chunk_shift;

	return 2 * (BCAST_SYNC_SPACING(r->cap) + 2 * chunk +
		    3 * frame_total(r->mtu));
}

/* Count the messages between a sync point and `committed`, walking at most
 * walk_limit() bytes. */
static int walk_to(const struct bcast_ring *r, struct bcast_sync_point *sp,
		   uint64_t committed)
{
	uint64_t seq = sp->seq, bytes = sp->bytes;
	struct frame f;
	int err;

	if (committed - sp->pos > walk_limit(r))
		return -BCAST_ECORRUPT;
	while (sp->pos < committed) {
		err = frame_at(r, sp->pos, committed, &f);
		if (err)
			return err;
		frame_account(&f, &seq, &bytes);
		sp->pos += f.total;
	}
	sp->seq = seq;
	sp->bytes = bytes;
	return 0;
}

/* Attempts at finding a boundary while the writer laps the ring under us. */
#define LOCATE_ATTEMPTS 4

/* LOCATE_RECENT looks this far back from `committed`. */
#define RECENT_SPAN(r) ((r)->cap / 8)

/*
 * Find a frame boundary to read from and the writer's message and byte
 * counts there: the oldest intact sync point (LOCATE_OLDEST), the oldest
 * one at most RECENT_SPAN behind `committed` (LOCATE_RECENT: some recent
 * history, and seven eighths of a ring before the writer can lap a reader
 * again), or `committed` itself, counted from the newest sync point
 * (LOCATE_COMMITTED).  -EAGAIN when none can be had right now (the writer
 * keeps overwriting what we look at); -BCAST_ECORRUPT when the frames
 * between a sync point and `committed` make no sense.  At most
 * LOCATE_ATTEMPTS walks of walk_limit() bytes.
 */
int ring_locate(const struct bcast_ring *r, enum locate where, uint64_t *pos,
		uint64_t *seq, uint64_t *bytes)
{
	bool newest = where != LOCATE_OLDEST;
	struct bcast_sync_point sp;
	int attempt, err;

	for (attempt = 0; attempt < LOCATE_ATTEMPTS; attempt++) {
		uint64_t committed = load_acquire(&r->hdr->committed);
		uint64_t claimed = load_acquire(&r->hdr->claimed);
		uint64_t low = claimed > r->cap ? claimed - r->cap : 0;
		uint64_t start;

		if (committed > claimed || (committed & 7))
			return -BCAST_ECORRUPT;
		if (!committed) {	/* nothing yet: the very start */
			*pos = *seq = *bytes = 0;
			return 0;
		}
		if (where == LOCATE_RECENT) {
			uint64_t from = committed - low > RECENT_SPAN(r) ?
					committed - RECENT_SPAN(r) : low;

			if (!pick_sync_point(r, false, committed, from, &sp) &&
			    !pick_sync_point(r, true, committed, low, &sp)) {
				if (low)
					continue;
				sp = (struct bcast_sync_point){ 0, 0, 0, 0 };
			}
		} else if (!low && (!newest ||
				    !pick_sync_point(r, true, committed, 0, &sp))) {
			sp = (struct bcast_sync_point){ 0, 0, 0, 0 };
		} else if (!pick_sync_point(r, newest, committed, low, &sp)) {
			continue;
		}
		start = sp.pos;
		if (where == LOCATE_COMMITTED) {
			err = walk_to(r, &sp, committed);
			if (err && frame_intact(r, start))
				return err;
			if (err)
				continue;
		}
		if (frame_intact(r, start)) {
			*pos = sp.pos;
			*seq = sp.seq;
			*bytes = sp.bytes;
			return 0;
		}
	}
	return -EAGAIN;
}
