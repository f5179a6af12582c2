// SPDX-License-Identifier: MIT
/* Bulk reading: copy a window of whole messages out in one go, check once,
 * then parse the private copy. */
#include <errno.h>
#include <string.h>
#include "internal.h"

static void copy_window(const struct bcast_reader *rd, unsigned char *dst,
			uint64_t n)
{
	uint64_t idx = rd->pos & rd->mask;
	uint64_t first = rd->cap - idx < n ? rd->cap - idx : n;

	racy_begin();
	memcpy(dst, rd->data + idx, first);
	memcpy(dst + first, rd->data, n - first);
	racy_end();
}

static uint64_t word_at(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/*
 * The common run: whole single-frame messages, in bounds, one after the
 * other.  Decoded once here, accounted to the reader once for the run;
 * returns where the run stops (a frame boundary).  Frames with the same
 * length as the one before (a stream of equal-size messages) are checked
 * by comparing their header's low word with it, at offsets known in
 * advance, so that no frame's load waits for the one before; the first
 * such run is kept for bcast_bulk_next() (*run_end, *stride).
 */
static uint64_t single_frames(struct bcast_reader *rd, const unsigned char *dst,
			      uint64_t n, uint64_t *run_end, uint64_t *stride)
{
	uint64_t off = 0, bytes = 0, msgs = 0, pos = rd->pos;

	*run_end = *stride = 0;
	while (off + BCAST_FRAME_HDR <= n) {
		uint64_t word = word_at(dst + off);
		uint32_t len = (uint32_t)word & BCAST_FRAME_LEN_MASK;
		uint64_t total = frame_total(len);
		uint64_t idx = (pos + off) & rd->mask, start = off, end;

		count_frame();
		if (!only_fin(word) || len > rd->mtu || total > n - off ||
		    idx + total > rd->cap)
			break;
		/* The same frame again, up to the window's or the lap's end. */
		end = rd->cap - idx < n - off ? off + rd->cap - idx : n;
		off += total;
		msgs++;
		bytes += len;
		while (total <= end - off &&
		       (uint32_t)word_at(dst + off) == (uint32_t)word) {
			count_frame();
			off += total;
			msgs++;
			bytes += len;
		}
		if (!start) {
			*run_end = off;
			*stride = total;
		}
	}
	if (msgs) {
		rd->seq += msgs;
		rd->bytes += bytes;
		rd->st.messages += msgs;
		rd->st.bytes += bytes;
		rd->orphans_lost = false;
	}
	return off;
}

/*
 * Walk the frames copied to dst[0..n) and return the length of the prefix
 * that ends on a message boundary, accounting each frame to the reader.
 */
static ssize_t whole_messages(struct bcast_reader *rd, const unsigned char *dst,
			      uint64_t n, uint64_t committed, uint64_t *run_end,
			      uint64_t *stride)
{
	uint64_t off = single_frames(rd, dst, n, run_end, stride);
	uint64_t boundary = off, pos = rd->pos;
	uint64_t seq = rd->seq, bytes = rd->bytes, msgs = 0, msg_bytes = 0;
	uint64_t lost = 0, lost_bytes = 0, beats = 0, partial = 0;
	bool in_msg = false, orphans_lost = rd->orphans_lost;
	struct frame f;
	uint64_t expect = 0, frames = 0;

	while (off + BCAST_FRAME_HDR <= n) {
		if (frame_decode(word_at(dst + off), pos + off, rd->cap, rd->mtu,
				 committed, &f))
			/* hand out the good messages first, then report */
			return boundary ? (ssize_t)boundary : -BCAST_ECORRUPT;
		if (f.total > n - off)
			break;	/* cut short by the window */
		if (f.flags & BCAST_FRAME_GAP) {
			if (boundary)	/* what came before it first */
				break;
			/* First (after what a dead writer left unfinished):
			 * reported alone, as an overrun. */
			frame_account(&f, &seq, &bytes);
			rd->seq = seq;
			rd->bytes = bytes;
			rd->st.lost_messages += lost + f.word1;
			rd->st.lost_bytes += lost_bytes;
			rd->st.heartbeats += beats;
			rd->st.dropped_partial += partial + (in_msg ? frames : 0);
			rd->st.overruns++;
			rd->orphans_lost = false;
			rd->pos = pos + off + f.total;
			return -BCAST_EOVERRUN;
		}
		if (f.flags & BCAST_FRAME_HEARTBEAT)
			beats++;
		if (f.flags & BCAST_FRAME_SKIP)
			frame_account(&f, &seq, &bytes);
		if (!(f.flags & (BCAST_FRAME_PAD | FRAME_MARKS))) {
			if (!(f.flags & BCAST_FRAME_CONT)) {
				if (in_msg)
					partial += frames;
				in_msg = !(f.flags & BCAST_FRAME_FIN);
				orphans_lost = false;
				expect = f.len;
				frames = 1;
				if (!in_msg) {
					msgs++;
					msg_bytes += f.len;
				}
			} else if (in_msg) {
				if (f.word1 != expect)
					return boundary ? (ssize_t)boundary :
							  -BCAST_ECORRUPT;
				expect += f.len;
				frames++;
				if (f.flags & BCAST_FRAME_FIN) {
					in_msg = false;
					msgs++;
					msg_bytes += expect;
				}
			} else if ((f.flags & BCAST_FRAME_FIN) && orphans_lost) {
				lost++;
				lost_bytes += (uint64_t)f.word1 + f.len;
			}
			frame_account(&f, &seq, &bytes);
		}
		off += f.total;
		if (!in_msg) {
			boundary = off;
			rd->seq = seq;
			rd->bytes = bytes;
			rd->st.messages += msgs;
			rd->st.bytes += msg_bytes;
			rd->st.lost_messages += lost;
			rd->st.lost_bytes += lost_bytes;
			rd->st.heartbeats += beats;
			rd->st.dropped_partial += partial;
			rd->orphans_lost = orphans_lost;
			msgs = msg_bytes = lost = lost_bytes = beats = partial = 0;
		}
	}
	return (ssize_t)boundary;
}

BCAST_EXPORT ssize_t bcast_read_bulk(struct bcast_reader *rd, void *dst,
				     size_t cap, struct bcast_bulk *bulk)
{
	uint64_t committed, n, run_end, stride;
	ssize_t got;
	int err;

	if (!rd || !dst || !bulk)
		return -EINVAL;
	err = reader_window(rd, &committed);
	if (err)
		return err;
	n = committed - rd->pos;
	if (n > (cap & ~7ULL))
		n = cap & ~7ULL;
	copy_window(rd, dst, n);
	if (!frame_intact(rd->r, rd->pos))
		return reader_overrun(rd);
	got = whole_messages(rd, dst, n, committed, &run_end, &stride);
	if (got < 0)
		return got;
	if (!got) {	/* a message not complete yet, or too big for dst */
		if (n != committed - rd->pos)
			return -EMSGSIZE;
		reader_stalled(rd, committed);
		return -EAGAIN;
	}
	bulk->buf_ = dst;
	bulk->len_ = (size_t)got;
	bulk->off_ = 0;
	bulk->run_end_ = (size_t)(run_end < (uint64_t)got ? run_end : (uint64_t)got);
	bulk->stride_ = (size_t)stride;
	bulk->rd_ = rd;
	bulk->pos_ = rd->pos;
	rd->pos += (uint64_t)got;
	reader_consumed(rd);	/* copied out: done with */
	return got;
}

/* bcast.h decodes frames in line with these values. */
_Static_assert(BCAST_FRAME_FIN == 0x01 && BCAST_FRAME_FLAG_SHIFT == 24 &&
	       BCAST_FRAME_LEN_MASK == 0xffffffu && BCAST_FRAME_HDR == 8 &&
	       BCAST_FRAME_ALIGN == 8, "bcast.h's bcast_bulk_next() in line");

/* Everything else: padding, heartbeats, fragments, the end, garbage. */
BCAST_EXPORT int bcast_bulk_next_slow_(struct bcast_bulk *bulk,
				      struct bcast_msg *m)
{
	const struct bcast_reader *rd;
	unsigned char *start;
	struct frame f;

	if (!bulk || !m || !bulk->rd_)
		return -EINVAL;
	rd = bulk->rd_;

	while (bulk->off_ + BCAST_FRAME_HDR <= bulk->len_) {
		uint64_t off = bulk->off_;
		uint64_t len, q;
		unsigned frames = 1;
		bool abandoned = false;

		if (frame_decode(word_at(bulk->buf_ + off), bulk->pos_ + off,
				 rd->cap, rd->mtu, bulk->pos_ + bulk->len_, &f))
			return -BCAST_ECORRUPT;
		bulk->off_ += f.total;
		if (f.flags & (BCAST_FRAME_PAD | FRAME_MARKS | BCAST_FRAME_CONT))
			continue;
		start = bulk->buf_ + off + BCAST_FRAME_HDR;
		len = f.len;
		/* Fragments: move each payload down behind the previous one,
		 * over headers that were already read. */
		for (q = bulk->off_; !(f.flags & BCAST_FRAME_FIN); q += f.total) {
			if (q + BCAST_FRAME_HDR > bulk->len_ ||
			    frame_decode(word_at(bulk->buf_ + q), bulk->pos_ + q,
					 rd->cap, rd->mtu,
					 bulk->pos_ + bulk->len_, &f))
				return -BCAST_ECORRUPT;
			if (f.flags & (BCAST_FRAME_PAD | FRAME_MARKS))
				continue;
			if (!(f.flags & BCAST_FRAME_CONT)) {
				/* abandoned by a dead writer: go on from here */
				abandoned = true;
				bulk->off_ = q;
				break;
			}
			memmove(start + len, bulk->buf_ + q + BCAST_FRAME_HDR,
				f.len);
			len += f.len;
			frames++;
			bulk->off_ = q + f.total;
		}
		if (abandoned)
			continue;
		memset(m, 0, sizeof(*m));
		m->pos = bulk->pos_ + off;
		m->len = (uint32_t)len;
		m->type = word_at(start - BCAST_FRAME_HDR) >> 32;
		m->flags = BCAST_MSG_COPIED |
			   (frames > 1 ? BCAST_MSG_FRAGMENTED : 0);
		m->frames_ = frames;
		m->data_ = start;
		return 1;
	}
	return 0;
}
