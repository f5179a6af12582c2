// SPDX-License-Identifier: MIT
/* The writer: claim, commit, publish, fragmentation, the claimed frontier. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define BCAST_MAX_MESSAGE 0xffffffffULL

static void record_sync_point(struct bcast_writer *w)
{
	struct bcast_ring_hdr *h = w->hdr;
	uint32_t slot = load_relaxed(&h->sync_next) % BCAST_SYNC_SLOTS;
	struct bcast_sync_point *sp = &h->sync[slot];

	store_relaxed(&sp->pos, BCAST_SYNC_INVALID);
	fence_release();
	store_relaxed(&sp->seq, w->seq);
	store_relaxed(&sp->bytes, w->bytes);
	store_release(&sp->pos, w->pos);
	store_relaxed(&h->sync_next, slot + 1);
	w->last_sync = w->pos;
}

static inline int publish_position(struct bcast_writer *w);
static void refresh_fast_path(struct bcast_writer *w);

/*
 * Before touching bytes below `end`, publish claimed >= end.  The frontier
 * moves a small step (a chunk, capacity/256) ahead at a time, so this store
 * is rare, yet `claimed` never runs more than a chunk (or the frame being
 * written, if larger) past `committed`: deferred frames are published
 * first, and a reader is lapped only when it really is about a ring
 * behind.  Every BCAST_SYNC_SPACING bytes a step also leaves a sync point
 * at the current frame boundary for lapped and joining readers.
 */
static __attribute__((noinline)) int step_frontier(struct bcast_writer *w,
						       uint64_t end)
{
	uint64_t want;

	if (w->deferred)
		publish_position(w);
	if (w->pos - w->last_sync >= w->sync_spacing)
		record_sync_point(w);
	want = end - w->pos > w->chunk ? end : w->pos + w->chunk;
	if (w->gate) {
		/* Gated: no further than the slowest registered reader's
		 * lap (gate.c publishes the frontier, or waits, or fails). */
		int err = gate_frontier(w, end, &want);

		if (err)
			return err;
	} else {
		store_relaxed(&w->hdr->claimed, want);
	}
	w->claimed = want;
	/* No byte of the new lap may become visible before the frontier. */
	fence_release();
	w->st.frontier_steps++;
	return 0;
}

static inline int reserve(struct bcast_writer *w, uint64_t end)
{
	if (unlikely(end > w->claimed))
		return step_frontier(w, end);
	return 0;
}

static inline void write_header(struct bcast_writer *w, uint64_t pos,
				uint32_t len, uint32_t flags, uint32_t word1)
{
	uint64_t *hdr = (uint64_t *)(w->data + (pos & w->mask));

	store_relaxed(hdr, frame_word(len, flags, word1));
}

/*
 * A frame never straddles the end: fill the rest of the lap with padding.
 * The padding is reserved on its own (it is shorter than the frame that
 * did not fit), so that a step for the frame after it publishes the
 * padding first: `claimed` stays within that frame of `committed`, and
 * never behind it.
 */
static __attribute__((noinline)) int pad_to_end(struct bcast_writer *w,
						uint64_t total)
{
	uint64_t pad = w->cap - (w->pos & w->mask);
	int err = reserve(w, w->pos + pad);

	if (err)
		return err;
	write_header(w, w->pos, (uint32_t)(pad - BCAST_FRAME_HDR),
		     BCAST_FRAME_PAD, 0);
	/* Unpublished until the frame after it is (or a flush, if that
	 * frame's claim is aborted). */
	if (!w->deferred) {
		w->deferred = true;
		w->deferred_from = w->pos;
	}
	w->pos += pad;
	return reserve(w, w->pos + total);
}

/*
 * Make room for a frame of `len` bytes at w->pos (*idx: its data index):
 * 0, or on a gated ring the gate's -EAGAIN or -ETIMEDOUT.
 */
static inline int place_frame(struct bcast_writer *w, uint32_t len,
			      uint64_t *idx)
{
	uint64_t total = frame_total(len);
	int err;

	*idx = w->pos & w->mask;
	if (unlikely(*idx + total > w->cap)) {
		err = pad_to_end(w, total);
		*idx = 0;
	} else {
		err = reserve(w, w->pos + total);
	}
	refresh_fast_path(w);
	return err;
}

/* A reader whose membarrier() failed cannot stand in for our barrier. */
static bool readers_fence_for_us(const struct bcast_ring_hdr *h)
{
	return writer_registered_membarrier() &&
	       !(load_relaxed(&h->reader_flags) & BCAST_READERS_NO_MEMBARRIER);
}

static __attribute__((noinline)) int notify(struct bcast_writer *w)
{
	if (w->membarrier && !readers_fence_for_us(w->hdr)) {
		/* Fence every publish from now on; the reader that asked
		 * sleeps in short slices until it sees the flag go. */
		w->membarrier = false;
		store_relaxed(&w->hdr->writer_flags, 0);
		fence_full();
		refresh_fast_path(w);
	}
	/* Queued on the writer's io_uring if it asked (notify.c), else, or
	 * when that cannot take it now, made here. */
	if (!w->async || notify_async(w))
		w->r->ops->wake_readers(w->r);
	w->st.notifies++;
	return 0;
}

/*
 * The end of every publish: store `committed`, then wake sleepers if any
 * asked to be.  Returns 0; the wake-up is a tail call, so that the publish
 * fast path calls nothing else and needs no registers saved.
 */
static inline int commit_position(struct bcast_writer *w,
				  struct bcast_ring_hdr *h, uint64_t pos,
				  bool membarrier)
{
	store_release(&h->committed, pos);
	/*
	 * Dekker with the reader's "set need_wakeup; fence; load committed".
	 * When readers issue a global membarrier before sleeping, a compiler
	 * barrier is enough here; otherwise a full fence is.
	 */
	if (membarrier)
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	else
		fence_full();
	if (unlikely(load_relaxed(&h->need_wakeup)))
		return notify(w);
	return 0;
}

/*
 * What bcast_publish() may do without a call: messages up to fast_limit - 1
 * bytes, ending at or before fast_end (the frontier, and the end of the
 * lap).  fast_limit is 0 while a claim is open, commits are deferred or
 * readers do not fence for us: the fast path never fences.
 */
static void refresh_fast_path(struct bcast_writer *w)
{
	uint64_t lap_end = (w->pos & ~w->mask) + w->cap;

	w->fast_end = w->claimed < lap_end ? w->claimed : lap_end;
	w->fast_limit = w->claim_open || w->deferred || !w->membarrier ?
			0 : (size_t)w->mtu + 1;
}

/* Publish everything written so far, deferred frames included. */
static inline int publish_position(struct bcast_writer *w)
{
	if (unlikely(w->deferred)) {
		w->deferred = false;
		refresh_fast_path(w);
	}
	return commit_position(w, w->hdr, w->pos, w->membarrier);
}

static void finish_frame(struct bcast_writer *w, uint64_t pos, uint32_t len,
			 uint32_t flags, uint32_t word1)
{
	write_header(w, pos, len, flags, word1);
	w->pos = pos + frame_total(len);
	if (flags & BCAST_FRAME_FIN)
		w->seq++;
	else
		w->extra_frames++;
}

BCAST_EXPORT int bcast_claim(struct bcast_writer *w, size_t len,
			     struct bcast_claim *c)
{
	uint64_t idx;
	int err;

	if (unlikely(!w || !c))
		return -EINVAL;
	if (unlikely(w->claim_open))
		return -EBUSY;
	if (unlikely(len > w->mtu))
		return -EMSGSIZE;
	err = place_frame(w, (uint32_t)len, &idx);
	if (unlikely(err))
		return err;
	c->data = w->data + idx + BCAST_FRAME_HDR;
	c->len = len;
	c->max_ = len;
	c->pos_ = w->pos;
	c->w_ = w;
	w->claim_open = true;
	refresh_fast_path(w);
	return 0;
}

BCAST_EXPORT int bcast_commit(struct bcast_claim *c, uint32_t type,
			      unsigned flags)
{
	struct bcast_writer *w;

	if (unlikely(!c || !c->w_ || !c->w_->claim_open || c->len > c->max_ ||
		     (flags & ~BCAST_DEFER)))
		return -EINVAL;
	w = c->w_;
	finish_frame(w, c->pos_, (uint32_t)c->len, BCAST_FRAME_FIN, type);
	w->bytes += c->len;
	w->claim_open = false;
	c->w_ = NULL;
	if ((flags & BCAST_DEFER) && !w->deferred) {
		w->deferred = true;
		w->deferred_from = c->pos_;
	}
	refresh_fast_path(w);
	/* Deferred frames stay well inside one chunk: none can be lapped
	 * before it was ever visible. */
	if (!(flags & BCAST_DEFER) || w->pos - w->deferred_from >= w->chunk)
		publish_position(w);
	return 0;
}

BCAST_EXPORT void bcast_abort(struct bcast_claim *c)
{
	if (!c || !c->w_)
		return;
	c->w_->claim_open = false;
	refresh_fast_path(c->w_);
	c->w_ = NULL;
}

BCAST_EXPORT int bcast_flush(struct bcast_writer *w)
{
	if (!w)
		return -EINVAL;
	if (w->deferred)
		publish_position(w);
	return 0;
}

BCAST_EXPORT int bcast_heartbeat(struct bcast_writer *w)
{
	uint64_t pos, idx;
	int err;

	if (!w)
		return -EINVAL;
	if (w->claim_open)
		return -EBUSY;
	err = place_frame(w, 0, &idx);
	if (err)
		return err;
	pos = w->pos;
	finish_frame(w, pos, 0, BCAST_FRAME_HEARTBEAT, 0);
	w->st.heartbeats++;
	publish_position(w);
	return 0;
}

BCAST_EXPORT int bcast_publish_gap(struct bcast_writer *w, uint64_t messages,
				   unsigned flags)
{
	uint32_t kind = flags & BCAST_GAP_QUIET ? BCAST_FRAME_SKIP :
						  BCAST_FRAME_GAP;
	uint64_t idx;
	int err = 0;

	if (!w || !messages || (flags & ~BCAST_GAP_QUIET))
		return -EINVAL;
	if (w->claim_open)
		return -EBUSY;
	/* word 1 holds 32 bits: a larger gap takes several frames */
	while (messages) {
		uint32_t n = messages > UINT32_MAX ? UINT32_MAX :
						     (uint32_t)messages;

		err = place_frame(w, 0, &idx);
		if (err)
			break;
		finish_frame(w, w->pos, 0, kind, n);
		w->seq += n;
		w->st.gap_messages += n;
		messages -= n;
	}
	publish_position(w);
	return err;
}

/*
 * Gated rings: room for a whole fragmented message before its first
 * fragment, so that a writer that cannot have it publishes none of it
 * (up to half a ring; larger ones go out as room comes).  The frontier
 * moves past the message at once: readers that are not registered may
 * count themselves lapped that much early.
 */
static int reserve_message(struct bcast_writer *w, uint64_t total)
{
	uint64_t frames = (total + w->mtu - 1) / w->mtu;
	uint64_t bound = total + frames * (BCAST_FRAME_HDR + 7) +
			 frame_total(w->mtu);

	if (!w->gate || total <= w->mtu || bound > w->cap / 2)
		return 0;
	return reserve(w, w->pos + bound);
}

/* Copies from an iovec array, remembering where it stopped. */
struct iov_cursor {
	const struct iovec *iov;
	int cnt;
	size_t off;
};

static void copy_from_iov(struct iov_cursor *cur, unsigned char *dst, size_t n)
{
	while (n) {
		size_t avail = cur->iov->iov_len - cur->off;
		size_t take = avail < n ? avail : n;

		if (take) {
			memcpy(dst, (const char *)cur->iov->iov_base + cur->off,
			       take);
			dst += take;
			n -= take;
			cur->off += take;
		}
		if (cur->off == cur->iov->iov_len) {
			cur->iov++;
			cur->cnt--;
			cur->off = 0;
		}
	}
}

BCAST_EXPORT int bcast_publishv(struct bcast_writer *w, const struct iovec *iov,
				int iovcnt, uint32_t type)
{
	struct iov_cursor cur = { iov, iovcnt, 0 };
	uint64_t total = 0, off = 0;
	int i, err;

	if (!w || iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt && !iov))
		return -EINVAL;
	if (w->claim_open)
		return -EBUSY;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return -EFAULT;
		if (iov[i].iov_len > BCAST_MAX_MESSAGE - total)
			return -EMSGSIZE;
		total += iov[i].iov_len;
	}
	err = reserve_message(w, total);
	if (err)
		return err;
	do {
		uint64_t frag = total - off < w->mtu ? total - off : w->mtu;
		uint32_t flags = off + frag == total ? BCAST_FRAME_FIN : 0;
		uint64_t idx;

		err = place_frame(w, (uint32_t)frag, &idx);
		if (err)
			return err;	/* the message is cut short */
		if (off)
			flags |= BCAST_FRAME_CONT;
		copy_from_iov(&cur, w->data + idx + BCAST_FRAME_HDR, frag);
		finish_frame(w, w->pos, (uint32_t)frag, flags,
			     off ? (uint32_t)off : type);
		off += frag;
		/* Fragments are published one by one: a message may be larger
		 * than the ring, and a reader that keeps up still gets it. */
		if (!(flags & BCAST_FRAME_FIN))
			publish_position(w);
	} while (off < total);
	w->bytes += total;
	return publish_position(w);
}

/* Everything bcast_publish() does not do itself: large and fragmented
 * messages, the end of a lap, a frontier step, bad arguments. */
static __attribute__((noinline)) int publish_general(struct bcast_writer *w,
						     const void *p, size_t len,
						     uint32_t type)
{
	struct iovec iov = { (void *)p, len };
	uint64_t idx, pos;
	int err;

	if (!w || (len && !p))
		return -EINVAL;
	if (len > w->mtu)
		return bcast_publishv(w, &iov, 1, type);
	if (w->claim_open)
		return -EBUSY;
	err = place_frame(w, (uint32_t)len, &idx);
	if (err)
		return err;
	pos = w->pos;
	if (len)
		memcpy(w->data + idx + BCAST_FRAME_HDR, p, len);
	finish_frame(w, pos, (uint32_t)len, BCAST_FRAME_FIN, type);
	w->bytes += len;
	return publish_position(w);
}

/*
 * Messages larger than the in-line copy: the fast path with memcpy(), out
 * of its way (a call there would make it save registers).  Everything but
 * `committed` is stored before the copy, so that only `w` lives across it.
 */
static __attribute__((noinline)) int publish_large(struct bcast_writer *w,
						   const void *p, size_t len,
						   uint32_t type, uint64_t end,
						   unsigned char *frame)
{
	store_relaxed((uint64_t *)frame,
		      frame_word((uint32_t)len, BCAST_FRAME_FIN, type));
	w->pos = end;
	w->seq++;
	w->bytes += len;
	memcpy(frame + BCAST_FRAME_HDR, p, len);
	return commit_position(w, w->hdr, w->pos, true);
}

/*
 * The common case in as few instructions as possible: a message of at most
 * the MTU, with no claim open and nothing deferred (fast_limit), that ends
 * before the frontier and the end of the lap (fast_end).  Frames are read
 * only below `committed`, so the header may go first.  It calls nothing
 * but tail calls, so it saves no registers.
 */
BCAST_EXPORT int bcast_publish(struct bcast_writer *w, const void *p,
			       size_t len, uint32_t type)
{
	struct bcast_ring_hdr *h;
	unsigned char *frame;
	uint64_t pos, end;

	if (unlikely(!w || !p || len >= w->fast_limit))
		return publish_general(w, p, len, type);
	pos = w->pos;
	end = pos + frame_total((uint32_t)len);
	if (unlikely(end > w->fast_end))
		return publish_general(w, p, len, type);
	frame = w->data + (pos & w->mask);
	if (len > BCAST_INLINE_COPY)
		return publish_large(w, p, len, type, end, frame);
	h = w->hdr;
	w->pos = end;
	w->seq++;
	w->bytes += len;
	store_relaxed((uint64_t *)frame,
		      frame_word((uint32_t)len, BCAST_FRAME_FIN, type));
	bcast_copy_small_(frame + BCAST_FRAME_HDR, p, len);
	return commit_position(w, h, end, true);
}

BCAST_EXPORT int bcast_writer_stats(const struct bcast_writer *w,
				    struct bcast_writer_stats *st)
{
	if (!w || !st)
		return -EINVAL;
	*st = w->st;
	st->messages = w->seq - w->seq0 - w->st.gap_messages;
	st->bytes = w->bytes - w->bytes0;
	st->frames = st->messages + w->extra_frames;
	return 0;
}

/* Forget sync points a dead writer left beyond what it committed: the new
 * writer's frames will not start there. */
static void drop_stale_sync_points(struct bcast_ring_hdr *h, uint64_t committed)
{
	unsigned i;

	for (i = 0; i < BCAST_SYNC_SLOTS; i++) {
		uint64_t p = load_relaxed(&h->sync[i].pos);

		if (p != BCAST_SYNC_INVALID && p > committed)
			store_relaxed(&h->sync[i].pos, BCAST_SYNC_INVALID);
	}
}

static int resume_positions(struct bcast_writer *w)
{
	struct bcast_ring_hdr *h = w->hdr;
	uint64_t committed = load_acquire(&h->committed);
	uint64_t pos, seq, bytes;
	int err;

	w->pos = committed;
	w->claimed = load_acquire(&h->claimed);
	if (w->claimed < committed)
		return -BCAST_ECORRUPT;
	w->frontier = w->claimed;
	/* Gated: what the last writer was allowed is not ours to trust; the
	 * first frame asks the readers. */
	if (w->gate)
		w->claimed = committed;
	drop_stale_sync_points(h, committed);
	if (committed) {
		err = ring_locate(w->r, LOCATE_COMMITTED, &pos, &seq, &bytes);
		if (err)
			return err;
		w->seq = seq;
		w->bytes = bytes;
	}
	/* Readers can count from where we resume, whatever frontier the
	 * last writer left. */
	record_sync_point(w);
	return 0;
}

/*
 * Sleepers on the wake page hear of a new writer only when woken: tell
 * them at once (pollers report it; bcast_wait() looks and sleeps on).
 * Readers the kernel arms have had EPOLLPRI from it already.
 */
static void wake_for_arrival(struct bcast_writer *w)
{
	if (w->r->wake_writable && load_relaxed(&w->hdr->need_wakeup)) {
		w->r->ops->wake_readers(w->r);
		w->st.notifies++;
	}
}

BCAST_EXPORT int bcast_writer_open(struct bcast_ring *r,
				   struct bcast_writer **out)
{
	struct bcast_writer *w, *none = NULL;
	struct bcast_ring_hdr *h;
	int err;

	if (!r || !out)
		return -EINVAL;
	if (!r->writable)
		return -EACCES;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	/* One writer per ring object, whichever thread asks: device rings
	 * have no owner word to decide between threads of one process. */
	if (!__atomic_compare_exchange_n(&r->writer, &none, w, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		free(w);
		return -EBUSY;
	}
	h = r->hdr;
	w->r = r;
	w->lock_fd = -1;
	w->pid = getpid();
	w->hdr = h;
	w->data = r->data;
	w->cap = r->cap;
	w->mask = r->mask;
	w->mtu = r->mtu;
	w->chunk = 1ULL << r->chunk_shift;
	w->sync_spacing = BCAST_SYNC_SPACING(r->cap);

	/* The backend decides who writes (bcast.ko, or owner.c's word). */
	if (r->gated) {
		err = gate_open(w);
		if (err)
			goto fail;
	}
	err = r->ops->writer_claim(w);
	if (err)
		goto fail;
	w->membarrier = readers_fence_for_us(h);
	store_relaxed(&h->writer_flags,
		      w->membarrier ? BCAST_WRITER_MEMBARRIER : 0);
	err = resume_positions(w);
	if (err)
		goto unlock;
	refresh_fast_path(w);
	w->seq0 = w->seq;
	w->bytes0 = w->bytes;
	/* Alive before the new epoch: a reader that sees the epoch (acquire)
	 * sees us alive and does not take us for a departed writer. */
	store_release(&h->writer_alive, 1);
	r->ops->writer_announce(w);
	/* Readers that saw the old writer_flags must be seen sleeping by our
	 * first wake-up check (see publish_position). */
	fence_full();
	wake_for_arrival(w);
	*out = w;
	return 0;
unlock:
	r->ops->writer_release(w);
fail:
	gate_close(w);
	__atomic_store_n(&r->writer, NULL, __ATOMIC_RELEASE);
	free(w);
	return err;
}

BCAST_EXPORT void bcast_writer_close(struct bcast_writer *w)
{
	struct bcast_ring_hdr *h;

	if (!w)
		return;
	if (w->pid != getpid()) {
		/* A fork() child's copy: the writer is its parent's still. */
		notify_release(w);
		w->r->ops->writer_forget(w);
		gate_close(w);
		__atomic_store_n(&w->r->writer, NULL, __ATOMIC_RELEASE);
		free(w);
		return;
	}
	h = w->hdr;
	bcast_flush(w);
	/* What was queued has run before the ring can be unmapped; the
	 * last wake-up is our own. */
	notify_release(w);
	store_release(&h->writer_alive, 0);
	w->r->ops->writer_release(w);
	fence_full();
	w->r->ops->wake_readers(w->r);
	gate_close(w);
	__atomic_store_n(&w->r->writer, NULL, __ATOMIC_RELEASE);
	free(w);
}
