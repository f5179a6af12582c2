// SPDX-License-Identifier: MIT
/* The reader: joining, receiving, reassembly, overrun accounting. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

/* Frames a single call may look at (padding, heartbeats, fragments) before
 * returning -EINPROGRESS: a writer that never stops cannot keep a reader
 * inside, and a huge message is assembled over several calls. */
#define MAX_FRAMES_PER_CALL 4096

BCAST_EXPORT int bcast_reader_open(struct bcast_ring *r, int from,
				   struct bcast_reader **out)
{
	struct bcast_reader *rd;

	int err;

	if (!r || !out ||
	    (from & ~(BCAST_FROM_OLDEST | BCAST_RESYNC_LATEST | BCAST_REGISTER)))
		return -EINVAL;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->r = r;
	rd->hdr = r->hdr;
	rd->data = r->data;
	rd->claimed = &r->hdr->claimed;
	rd->cap = r->cap;
	rd->mask = r->mask;
	rd->mtu = r->mtu;
	rd->inline_max = r->mtu < BCAST_INLINE_COPY ? r->mtu : BCAST_INLINE_COPY;
	rd->resync_latest = from & BCAST_RESYNC_LATEST;
	rd->need_resync = true;
	rd->joining = true;
	rd->from_oldest = from & BCAST_FROM_OLDEST;
	rd->fd = -1;
	rd->slot_lock_fd = -1;
	/* A writer there already is not news to this reader; one that
	 * comes later is, whenever the reader joins a poller. */
	rd->epoch_known = load_acquire(&r->hdr->writer_epoch);
	if (r->ops->reader_open) {
		err = r->ops->reader_open(rd);
		if (err)
			goto fail;
	}
	if (from & BCAST_REGISTER) {
		err = registry_join(rd);
		if (err)
			goto fail;
	}
	/* Join now if a boundary can be found; otherwise on the first read
	 * (a registered reader's slot says where: gated writers wait). */
	reader_resync(rd);
	*out = rd;
	return 0;
fail:
	if (rd->fd >= 0)
		close(rd->fd);
	free(rd);
	return err;
}

BCAST_EXPORT void bcast_reader_close(struct bcast_reader *rd)
{
	if (!rd)
		return;
	if (rd->poller)
		poller_forget_reader(rd);
	registry_leave(rd);
	if (rd->fd >= 0)
		close(rd->fd);
	free(rd->asm_buf);
	free(rd);
}

BCAST_EXPORT int bcast_reader_stats(const struct bcast_reader *rd,
				    struct bcast_reader_stats *st)
{
	if (!rd || !st)
		return -EINVAL;
	*st = rd->st;
	return 0;
}

BCAST_EXPORT uint64_t bcast_reader_position(const struct bcast_reader *rd)
{
	return rd ? rd->pos : 0;
}

static void drop_assembly(struct bcast_reader *rd)
{
	if (rd->assembling)
		rd->st.dropped_partial += rd->asm_frames;
	rd->assembling = false;
	rd->asm_complete = false;
}

/*
 * Where a reader goes: on joining, the oldest intact message or the newest;
 * after an overrun, the oldest sync point at most an eighth of the ring
 * behind (7/8 of a ring of headroom: a reader slower than its writer is
 * lapped about once per 7/8 ring, not once per chunk as at the oldest
 * intact point), or with BCAST_RESYNC_LATEST the newest message.
 */
static enum locate resync_target(const struct bcast_reader *rd)
{
	if (rd->joining)
		return rd->from_oldest ? LOCATE_OLDEST : LOCATE_COMMITTED;
	return rd->resync_latest ? LOCATE_COMMITTED : LOCATE_RECENT;
}

static int reader_locate(struct bcast_reader *rd);

/* Boundaries a registered reader tries before giving up for this call,
 * each found overwritten by a gated writer as it joined. */
#define ANCHOR_ATTEMPTS 8

/* Move to a readable boundary; after an overrun, count what was skipped. */
int reader_resync(struct bcast_reader *rd)
{
	int err, attempt;

	if (rd->evicted) {
		/* registry_evicted() moved us already: report it. */
		rd->evicted = false;
		rd->need_resync = false;
		return -BCAST_EOVERRUN;
	}
	for (attempt = 0; attempt < ANCHOR_ATTEMPTS; attempt++) {
		err = reader_locate(rd);
		if (err || registry_anchor(rd) != -EAGAIN)
			return err;
		rd->need_resync = true;
		rd->joining = rd->was_joining;
	}
	rd->resync_seen = load_acquire(&rd->hdr->committed);
	return -EAGAIN;
}

static int reader_locate(struct bcast_reader *rd)
{
	uint64_t pos, seq, bytes;
	int err = ring_locate(rd->r, resync_target(rd), &pos, &seq, &bytes);

	if (err) {
		rd->resync_seen = load_acquire(&rd->hdr->committed);
		return err;
	}
	rd->was_joining = rd->joining;
	if (!rd->joining && seq >= rd->seq && bytes >= rd->bytes) {
		rd->st.lost_messages += seq - rd->seq;
		rd->st.lost_bytes += bytes - rd->bytes;
	}
	rd->orphans_lost = !rd->joining;
	rd->pos = pos;
	rd->seq = seq;
	rd->bytes = bytes;
	rd->need_resync = false;
	rd->joining = false;
	rd->stalled = false;
	return 0;
}

__attribute__((noinline)) int reader_overrun(struct bcast_reader *rd)
{
	rd->st.overruns++;
	/* A message being assembled is among the losses counted on resync. */
	rd->assembling = false;
	rd->asm_complete = false;
	rd->need_resync = true;
	reader_resync(rd);
	return -BCAST_EOVERRUN;
}

/* Has the writer lapped us before we even look? */
int reader_lapped(struct bcast_reader *rd, uint64_t committed)
{
	if (committed < rd->pos)
		return -BCAST_ECORRUPT;
	if (committed - rd->pos > rd->cap || !frame_intact(rd->r, rd->pos))
		return reader_overrun(rd);
	return 0;
}

/* Step over a frame that carries no deliverable message: 0, or
 * -BCAST_EOVERRUN for a gap, its messages counted as lost. */
int reader_skip(struct bcast_reader *rd, const struct frame *f)
{
	if (f->flags & BCAST_FRAME_HEARTBEAT)
		rd->st.heartbeats++;
	if ((f->flags & (BCAST_FRAME_CONT | BCAST_FRAME_FIN)) ==
	    (BCAST_FRAME_CONT | BCAST_FRAME_FIN) && rd->orphans_lost) {
		/* The tail of a message whose head was lost to an overrun. */
		rd->st.lost_messages++;
		rd->st.lost_bytes += (uint64_t)f->word1 + f->len;
	}
	frame_account(f, &rd->seq, &rd->bytes);
	rd->pos += f->total;
	if (!(f->flags & BCAST_FRAME_GAP))
		return 0;
	rd->st.overruns++;
	rd->st.lost_messages += f->word1;
	return -BCAST_EOVERRUN;
}

/* Batch and bulk reads leave an unfinished message in the ring: wait for
 * committed to move past what was seen, not for it to differ from pos. */
void reader_stalled(struct bcast_reader *rd, uint64_t committed)
{
	rd->stalled = true;
	rd->stalled_pos = rd->pos;
	rd->stalled_at = committed;
}

void reader_delivered(struct bcast_reader *rd, uint64_t len)
{
	rd->st.messages++;
	rd->st.bytes += len;
}

/* Nothing pending: a registered reader's slot shows it caught up, and
 * when (once per catch-up). */
__attribute__((noinline)) ssize_t reader_idle(struct bcast_reader *rd)
{
	if (rd->slot && load_relaxed(&rd->slot->position) != rd->pos)
		registry_touch(rd);
	return -EAGAIN;
}

static int assembly_append(struct bcast_reader *rd, const unsigned char *src,
			   uint32_t len)
{
	size_t need = rd->asm_len + len;

	if (need > rd->asm_cap) {
		size_t cap = rd->asm_cap ? rd->asm_cap : 4096;
		unsigned char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(rd->asm_buf, cap);
		if (!p)
			return -ENOMEM;
		rd->asm_buf = p;
		rd->asm_cap = cap;
	}
	racy_begin();
	if (len)
		memcpy(rd->asm_buf + rd->asm_len, src, len);
	racy_end();
	rd->asm_len = need;
	rd->asm_frames++;
	return 0;
}

static ssize_t deliver_assembled(struct bcast_reader *rd, void *buf, size_t cap,
				 struct bcast_msg *info)
{
	if (info) {
		memset(info, 0, sizeof(*info));
		info->pos = rd->asm_pos;
		info->len = (uint32_t)rd->asm_len;
		info->type = rd->asm_type;
		info->flags = BCAST_MSG_FRAGMENTED;
		info->frames_ = rd->asm_frames;
		info->seq_ = rd->seq - 1;	/* its last fragment counted */
	}
	if (rd->asm_len > cap)
		return -EMSGSIZE;
	if (rd->asm_len)
		memcpy(buf, rd->asm_buf, rd->asm_len);
	rd->asm_complete = false;
	reader_delivered(rd, rd->asm_len);
	reader_consumed(rd);
	return (ssize_t)rd->asm_len;
}

/* One fragment of a message larger than the MTU. */
static int take_fragment(struct bcast_reader *rd, const struct frame *f,
			 const unsigned char *payload)
{
	int err;

	/* The header may be from a newer lap: judge it only if intact. */
	if (!frame_intact(rd->r, rd->pos))
		return reader_overrun(rd);
	if (!(f->flags & BCAST_FRAME_CONT)) {
		drop_assembly(rd);
		rd->assembling = true;
		rd->asm_pos = rd->pos;
		rd->asm_type = f->word1;
		rd->asm_len = 0;
		rd->asm_frames = 0;
	} else if (f->word1 != rd->asm_len) {
		return -BCAST_ECORRUPT;
	}
	err = assembly_append(rd, payload, f->len);
	if (err) {
		drop_assembly(rd);
		return err;
	}
	if (!frame_intact(rd->r, rd->pos))
		return reader_overrun(rd);
	frame_account(f, &rd->seq, &rd->bytes);
	rd->pos += f->total;
	if (f->flags & BCAST_FRAME_FIN) {
		rd->assembling = false;
		rd->asm_complete = true;
	}
	return 0;
}

static ssize_t deliver_frame(struct bcast_reader *rd, const struct frame *f,
			     const unsigned char *payload, void *buf,
			     size_t cap, struct bcast_msg *info)
{
	if (info) {
		memset(info, 0, sizeof(*info));
		info->pos = rd->pos;
		info->len = f->len;
		info->type = f->word1;
		info->frames_ = 1;
		info->seq_ = rd->seq;
	}
	if (f->len > cap) {
		if (!frame_intact(rd->r, rd->pos))
			return reader_overrun(rd);
		return -EMSGSIZE;
	}
	racy_begin();
	if (f->len)
		memcpy(buf, payload, f->len);
	racy_end();
	if (!frame_intact(rd->r, rd->pos))
		return reader_overrun(rd);
	drop_assembly(rd);
	frame_account(f, &rd->seq, &rd->bytes);
	rd->pos += f->total;
	reader_delivered(rd, f->len);
	reader_consumed(rd);
	return f->len;
}

/* reader_overrun() as a tail call from functions returning ssize_t. */
static __attribute__((noinline)) ssize_t report_overrun(struct bcast_reader *rd)
{
	return reader_overrun(rd);
}

/* A registered reader's slot after a message of `len` bytes. */
static __attribute__((noinline)) ssize_t reader_consumed_len(struct bcast_reader *rd,
							     uint32_t len)
{
	reader_consumed(rd);
	return len;
}

/* Copy a checked single-frame message out, re-check, account for it. */
static inline __attribute__((always_inline)) ssize_t
copy_out(struct bcast_reader *rd, void *buf, struct bcast_msg *info,
	 uint64_t pos, uint64_t word, bool small)
{
	uint32_t len = (uint32_t)word & BCAST_FRAME_LEN_MASK;
	const unsigned char *src = rd->data + (pos & rd->mask) + BCAST_FRAME_HDR;

	racy_begin();
	if (small)
		bcast_copy_small_(buf, src, len);
	else
		memcpy(buf, src, len);
	racy_end();
	if (unlikely(!bcast_intact_(&rd->hot_, pos)))
		return report_overrun(rd);
	rd->orphans_lost = false;
	rd->pos = pos + frame_total(len);
	rd->seq++;
	rd->bytes += len;
	rd->st.messages++;
	rd->st.bytes += len;
	if (info) {
		info->pos = pos;
		info->len = len;
		info->type = (uint32_t)(word >> 32);
		info->flags = 0;
		info->frames_ = 1;
		info->seq_ = rd->seq - 1;
		info->rd_ = NULL;
		info->data_ = NULL;
	}
	/* A tail call: the fast path of unregistered readers saves no
	 * registers for it. */
	if (unlikely(rd->slot))
		return reader_consumed_len(rd, len);
	return len;
}

/* Larger messages: the same with memcpy(), out of the fast path's way. */
static __attribute__((noinline)) ssize_t
copy_out_large(struct bcast_reader *rd, void *buf, struct bcast_msg *info,
	       uint64_t pos, uint64_t word)
{
	return copy_out(rd, buf, info, pos, word, false);
}

static ssize_t receive_general(struct bcast_reader *rd, void *buf, size_t cap,
			       struct bcast_msg *info);

/*
 * The common case: a whole message in one frame, in bounds, that fits the
 * buffer.  Anything else (and any doubt) goes the general way.  Checking
 * `claimed` after the copy is what makes it safe: a header from a newer
 * lap can only make us copy in-bounds bytes that the check then rejects.
 * Small messages are copied in line (see bcast_copy_small_()); every call here
 * is a tail call, so the fast path saves no registers.
 */
BCAST_EXPORT ssize_t bcast_receive(struct bcast_reader *rd, void *buf,
				   size_t cap, struct bcast_msg *info)
{
	uint64_t committed, pos, idx, word, total;
	uint32_t len;

	if (unlikely(!rd || (!buf && cap) || rd->need_resync ||
		     rd->asm_complete || rd->assembling))
		return receive_general(rd, buf, cap, info);
	committed = rd->known_committed;
	pos = rd->pos;
	idx = pos & rd->mask;
	/* Touch the writer's hot line only once what it last said is read:
	 * one acquire load covers every frame below the value it returns. */
	if (pos == committed || committed - pos > rd->cap) {
		committed = load_acquire(&rd->hdr->committed);
		rd->known_committed = committed;
		if (pos == committed)
			return unlikely(rd->slot) ? reader_idle(rd) : -EAGAIN;
		if (unlikely(committed - pos > rd->cap))
			return receive_general(rd, buf, cap, info);
	}
	word = reader_word(rd, idx);
	len = (uint32_t)word & BCAST_FRAME_LEN_MASK;
	total = frame_total(len);
	if (unlikely(!only_fin(word) || len > rd->mtu || len > cap ||
		     idx + total > rd->cap || total > committed - pos))
		return receive_general(rd, buf, cap, info);
	if (len > rd->inline_max)
		return copy_out_large(rd, buf, info, pos, word);
	return copy_out(rd, buf, info, pos, word, true);
}

/* Everything else: bad arguments, resync, reassembly, padding, heartbeats,
 * errors. */
static __attribute__((noinline)) ssize_t
receive_general(struct bcast_reader *rd, void *buf, size_t cap,
		struct bcast_msg *info)
{
	int n, err;

	if (!rd || (cap && !buf))
		return -EINVAL;
	if (rd->need_resync) {
		err = reader_resync(rd);
		if (err)
			return err;
	}
	if (rd->asm_complete)
		return deliver_assembled(rd, buf, cap, info);
	for (n = 0; n < MAX_FRAMES_PER_CALL; n++) {
		uint64_t committed = load_acquire(&rd->hdr->committed);
		const unsigned char *payload;
		struct frame f;

		if (rd->pos == committed)
			return reader_idle(rd);
		err = reader_lapped(rd, committed);
		if (err)
			return err;
		err = frame_at(rd->r, rd->pos, committed, &f);
		if (err) {
			if (!frame_intact(rd->r, rd->pos))
				return reader_overrun(rd);
			return err;
		}
		payload = rd->data + (rd->pos & rd->mask) + BCAST_FRAME_HDR;
		if (f.flags & (BCAST_FRAME_PAD | FRAME_MARKS) ||
		    ((f.flags & BCAST_FRAME_CONT) && !rd->assembling)) {
			if (!frame_intact(rd->r, rd->pos))
				return reader_overrun(rd);
			err = reader_skip(rd, &f);
			if (err)
				return err;
			continue;
		}
		rd->orphans_lost = false;
		if ((f.flags & (BCAST_FRAME_FIN | BCAST_FRAME_CONT)) ==
		    BCAST_FRAME_FIN)
			return deliver_frame(rd, &f, payload, buf, cap, info);
		err = take_fragment(rd, &f, payload);
		if (err)
			return err;
		if (rd->asm_complete)
			return deliver_assembled(rd, buf, cap, info);
	}
	/* Bounded work, with frames still pending: not "nothing pending". */
	return -EINPROGRESS;
}
