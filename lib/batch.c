// SPDX-License-Identifier: MIT
/* Lazy reading: batches of messages left in the ring, read or peeked later. */
#include <errno.h>
#include <string.h>
#include "internal.h"

BCAST_EXPORT int bcast_batch(struct bcast_reader *rd, struct bcast_batch *b)
{
	uint64_t committed;
	int err;

	if (!rd || !b)
		return -EINVAL;
	err = reader_window(rd, &committed);
	if (err)
		return err;
	b->rd_ = rd;
	b->end_ = committed;
	return 0;
}

/*
 * From a first fragment at `pos`, find the FIN fragment before `end`.
 * Between the fragments of a message a correct writer puts nothing but the
 * padding that ends a lap, so the walk is as long as the message.
 */
static int measure_message(struct bcast_reader *rd, const struct frame *first,
			   uint64_t end, uint64_t *next, uint64_t *len,
			   unsigned *frames)
{
	uint64_t q = rd->pos + first->total;
	bool padded = false;
	struct frame f;
	int err;

	*len = first->len;
	*frames = 1;
	for (;;) {
		if (q >= end)
			return -EAGAIN;	/* the rest is not committed yet */
		err = frame_at(rd->r, q, end, &f);
		if (err)
			return err;
		if (f.flags & BCAST_FRAME_PAD) {
			if (padded)
				return -BCAST_ECORRUPT;
			padded = true;
			q += f.total;
			continue;
		}
		padded = false;
		if (!(f.flags & BCAST_FRAME_CONT)) {
			/* A new message (or a heartbeat) began: the writer
			 * that started this one died before finishing it. */
			*next = q;
			return -ENOMSG;
		}
		q += f.total;
		if (f.word1 != *len)
			return -BCAST_ECORRUPT;
		*len += f.len;
		(*frames)++;
		if (f.flags & BCAST_FRAME_FIN)
			break;
	}
	*next = q;
	return 0;
}

static void fill_msg(struct bcast_msg *m, const struct bcast_reader *rd,
		     uint64_t pos, uint64_t len, uint32_t type, unsigned frames)
{
	memset(m, 0, sizeof(*m));
	m->pos = pos;
	m->len = (uint32_t)len;
	m->type = type;
	m->flags = frames > 1 ? BCAST_MSG_FRAGMENTED : 0;
	m->frames_ = frames;
	m->seq_ = rd->seq;
	m->rd_ = rd;
}

/*
 * A handle counts as delivered when bcast_batch_next() gives it out.  The
 * first time the application learns its fate it is settled: read (or found
 * intact) it stays delivered; found overwritten it moves to the losses, so
 * that delivered + lost == published whichever way a message is read.
 * Handles settle in order: one older than a handle already settled counts
 * nothing more (the reader's handles are normally read in the order they
 * were given, and each copy of a handle is the same message).
 */
static inline bool first_to_settle(struct bcast_reader *rd, uint64_t seq)
{
	/* A count taken from a hostile ring may be anything, UINT64_MAX
	 * included: no "next" number that could wrap. */
	if (rd->settled_any && seq <= rd->settled_last)
		return false;
	rd->settled_any = true;
	rd->settled_last = seq;
	return true;
}

static void settle(const struct bcast_msg *m, bool intact)
{
	/* The reader is ours, allocated writable; handles point to it. */
	struct bcast_reader *rd = (struct bcast_reader *)m->rd_;

	if (!first_to_settle(rd, m->seq_) || intact)
		return;
	rd->st.messages--;
	rd->st.bytes -= m->len;
	rd->st.lost_messages++;
	rd->st.lost_bytes += m->len;
}

/*
 * What bcast.h's bcast_batch_next() does not do in line: padding,
 * heartbeats, fragments, torn headers, garbage, the end of the batch (and
 * everything, where bcast.h is not in line).
 */
/* bcast.h copies messages of up to this many bytes in line. */
_Static_assert(BCAST_INLINE_COPY == 64, "bcast.h's bcast_msg_read() in line");

BCAST_EXPORT int bcast_batch_next_slow_(struct bcast_batch *b,
				       struct bcast_msg *m)
{
	struct bcast_reader *rd;
	int n, err;

	if (!b || !b->rd_ || !m)
		return -EINVAL;
	rd = b->rd_;

	for (n = 0; n < 4096; n++) {
		uint64_t next, len;
		unsigned frames;
		struct frame f;

		if (rd->need_resync || rd->pos >= b->end_)
			return 0;
		err = frame_at(rd->r, rd->pos, b->end_, &f);
		if (!frame_intact(rd->r, rd->pos))
			return reader_overrun(rd);
		if (err)
			return err;
		if (f.flags & (BCAST_FRAME_PAD | FRAME_MARKS | BCAST_FRAME_CONT)) {
			err = reader_skip(rd, &f);
			if (err)
				return err;
			continue;
		}
		rd->orphans_lost = false;
		next = rd->pos + f.total;
		len = f.len;
		frames = 1;
		if (!(f.flags & BCAST_FRAME_FIN)) {
			err = measure_message(rd, &f, b->end_, &next, &len, &frames);
			if (!frame_intact(rd->r, rd->pos))
				return reader_overrun(rd);
			if (err == -EAGAIN) {
				reader_stalled(rd, b->end_);
				return 0;
			}
			if (err == -ENOMSG) {
				rd->st.dropped_partial += frames;
				rd->pos = next;
				continue;
			}
			if (err)
				return err;
		}
		fill_msg(m, rd, rd->pos, len, f.word1, frames);
		rd->seq++;
		rd->bytes += len;
		rd->pos = next;
		reader_delivered(rd, len);
		return 1;
	}
	return 0;
}

/*
 * Copy the fragments of a message starting at m->pos, checking each header
 * again: the ring may have moved on since the message was handed out.  As
 * in measure_message(), only single padding frames may come between the
 * fragments, and the message lies within one ring: at most 2 * frames + 1
 * frames are looked at, whatever the ring says.
 */
static ssize_t copy_fragments(const struct bcast_msg *m, unsigned char *dst)
{
	const struct bcast_ring *r = m->rd_->r;
	uint64_t committed = load_acquire(&r->hdr->committed);
	uint64_t q = m->pos, got = 0;
	unsigned frames = 0;
	bool padded = false;
	struct frame f;

	while (frames < m->frames_) {
		bool pad;

		if (q - m->pos >= r->cap || frame_at(r, q, committed, &f))
			goto changed;
		pad = f.flags & BCAST_FRAME_PAD;
		if ((pad && (padded || !frames)) ||
		    (!pad && ((f.flags & FRAME_MARKS) ||
			      !(f.flags & BCAST_FRAME_CONT) != !frames ||
			      (frames && f.word1 != got) ||
			      f.len > m->len - got)))
			goto changed;
		padded = pad;
		if (!pad) {
			racy_begin();
			if (f.len)
				memcpy(dst + got, r->data + (q & r->mask) +
				       BCAST_FRAME_HDR, f.len);
			racy_end();
			got += f.len;
			frames++;
		}
		q += f.total;
	}
	if (got == m->len)
		return (ssize_t)got;
changed:	/* other frames now: overwritten, or garbage */
	return frame_intact(r, m->pos) ? -BCAST_ECORRUPT : -BCAST_EOVERRUN;
}

/*
 * What bcast.h's bcast_msg_read() does not do in line: messages of more
 * than 64 bytes, fragments, bulk handles, bad arguments, and a message
 * found overwritten, which is settled here (and everything, where bcast.h
 * is not in line).
 */
BCAST_EXPORT ssize_t bcast_msg_read_slow_(const struct bcast_msg *m,
					  void *buf, size_t cap)
{
	const struct bcast_ring *r;
	uint64_t idx;
	ssize_t n;

	if (!m || (!m->rd_ && !m->data_) || (cap && !buf))
		return -EINVAL;
	if (m->len > cap)
		return -EMSGSIZE;
	if (m->data_) {
		if (m->len)
			memcpy(buf, m->data_, m->len);
		return m->len;
	}
	r = m->rd_->r;
	if (m->frames_ > 1) {
		n = copy_fragments(m, buf);
	} else {
		idx = m->pos & r->mask;
		if (m->len > r->mtu || idx + BCAST_FRAME_HDR + m->len > r->cap)
			return -EINVAL;
		racy_begin();
		if (m->len)
			memcpy(buf, r->data + idx + BCAST_FRAME_HDR, m->len);
		racy_end();
		n = m->len;
	}
	if (n >= 0 && !frame_intact(r, m->pos))
		n = -BCAST_EOVERRUN;
	if (n >= 0 || n == -BCAST_EOVERRUN)
		settle(m, n >= 0);
	return n;
}

BCAST_EXPORT const void *bcast_msg_peek_ring_(const struct bcast_msg *m)
{
	const struct bcast_ring *r;
	uint64_t idx;

	if (!m)
		return NULL;
	if (m->data_)
		return m->data_;
	if (!m->rd_ || m->frames_ != 1)
		return NULL;
	r = m->rd_->r;
	idx = m->pos & r->mask;
	if (m->len > r->mtu || idx + BCAST_FRAME_HDR + m->len > r->cap)
		return NULL;
	return r->data + idx + BCAST_FRAME_HDR;
}

BCAST_EXPORT int bcast_msg_valid(const struct bcast_msg *m)
{
	if (!m || (!m->rd_ && !m->data_))
		return 0;
	if (m->data_)
		return 1;
	if (!frame_intact(m->rd_->r, m->pos)) {
		settle(m, false);
		return 0;
	}
	settle(m, true);
	return 1;
}
