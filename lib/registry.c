// SPDX-License-Identifier: MIT
/*
 * The reader registry of shm, file and memory rings: a slot per registered
 * reader, after the data area, holding what it has consumed and who it is.
 *
 * A reader takes a slot with the same lock word as the writer's (owner.c):
 * one compare-and-swap from 0, or from the exact value of an owner found
 * dead, with an OFD lock on the word's bytes of the ring file so that its
 * death is seen from any pid namespace.  Then it joins: it writes its
 * position, sets `joined`, bumps registry_gen (a full barrier) and loads
 * `claimed`.  A gated writer publishes `claimed`, makes a full barrier and
 * then looks at registry_gen: either it sees the bump and reads the new
 * position before it writes on, or the reader sees the frontier it has
 * published and, if that is past its position's lap, joins further on.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Registry slots below `high` may be in use: readers raise it, never
 * lower it, so a writer looks at as few as ever were. */
static void raise_high(struct bcast_ring_hdr *h, unsigned high)
{
	uint32_t cur = load_relaxed(&h->registry_high);

	while (cur < high &&
	       !__atomic_compare_exchange_n(&h->registry_high, &cur, high,
					    false, __ATOMIC_SEQ_CST,
					    __ATOMIC_RELAXED))
		;
}

/* Take slot i: 0, or -EBUSY (a live owner holds it). */
static int take_slot(struct bcast_reader *rd, unsigned i)
{
	struct bcast_ring *r = rd->r;
	struct bcast_reader_slot *s = ring_slot(r, i);
	int err = lock_word_claim(r, &s->owner, slot_offset(r, i),
				  &rd->slot_token, &rd->slot_lock_fd);

	if (err)
		return err;
	rd->slot = s;
	rd->slot_index = i;
	store_relaxed(&s->joined, 0);
	store_relaxed(&s->pid, (uint32_t)getpid());
	store_relaxed(&s->overruns, 0);
	store_relaxed(&s->lost_messages, 0);
	store_relaxed(&s->lost_bytes, 0);
	raise_high(r->hdr, i + 1);
	return 0;
}

/*
 * Rings without a kernel: the lowest free slot, else the lowest whose
 * owner is dead.  -EACCES (we may not write the registry), -ENOSPC
 * (every slot has a live owner).
 */
int registry_take(struct bcast_reader *rd)
{
	struct bcast_ring *r = rd->r;
	unsigned i;

	if (!r->wake_writable)
		return -EACCES;
	for (i = 0; i < r->nslots; i++)
		if (!load_relaxed(&ring_slot(r, i)->owner) && !take_slot(rd, i))
			return 0;
	for (i = 0; i < r->nslots; i++)
		if (!take_slot(rd, i))
			return 0;
	return -ENOSPC;
}

void registry_release(struct bcast_reader *rd)
{
	struct bcast_ring *r = rd->r;

	store_release(&rd->slot->joined, 0);
	lock_word_release(r, &rd->slot->owner, slot_offset(r, rd->slot_index),
			  rd->slot_token, rd->slot_lock_fd);
	rd->slot = NULL;
	fence_full();
	if (load_relaxed(&r->hdr->gate_need_wakeup))
		futex_gate_wake(rd);
}

/* A full barrier, before the caller loads `claimed`. */
void registry_joined(struct bcast_reader *rd)
{
	__atomic_fetch_add(&rd->r->hdr->registry_gen, 1, __ATOMIC_SEQ_CST);
}

/*
 * bcast_reader_open(..., BCAST_REGISTER): a slot of the backend's making.
 * -EOPNOTSUPP (the ring has no registry), the backend's -EACCES, -ENOSPC.
 */
int registry_join(struct bcast_reader *rd)
{
	struct bcast_ring *r = rd->r;
	int err;

	rd->slot_lock_fd = -1;
	if (!r->slots)
		return -EOPNOTSUPP;
	err = r->ops->slot_take(rd);
	if (err)
		return err;
	store_relaxed(&rd->slot->active_ns, (uint64_t)realtime_ns());
	rd->evictions_seen = load_acquire(&rd->slot->evictions);
	/* A gated writer that sleeps for room makes a membarrier() first;
	 * it reaches this process only if registered, else we fence. */
	rd->gate_fence = r->gated && !writer_registered_membarrier();
	return 0;
}

/*
 * After the reader moved to a new boundary (joining, resynchronising):
 * make it the slot's position.  0, or -EAGAIN when a gated writer may
 * have overwritten it already (look for a later one).
 */
int registry_anchor(struct bcast_reader *rd)
{
	struct bcast_reader_slot *s = rd->slot;

	if (!s)
		return 0;
	store_relaxed(&s->messages, rd->seq);
	store_relaxed(&s->bytes, rd->bytes);
	store_relaxed(&s->position, rd->pos);
	store_relaxed(&s->overruns, rd->st.overruns);
	store_relaxed(&s->lost_messages, rd->st.lost_messages);
	store_relaxed(&s->lost_bytes, rd->st.lost_bytes);
	store_release(&s->joined, 1);
	rd->r->ops->slot_joined(rd);
	if (load_acquire(&rd->hdr->claimed) - rd->pos > rd->cap)
		return -EAGAIN;
	return 0;
}

void registry_leave(struct bcast_reader *rd)
{
	if (rd->slot)
		rd->r->ops->slot_release(rd);
	rd->slot = NULL;
}

/*
 * The writer evicted us (gate.c): it no longer keeps what lies below
 * evict_pos for us.  Read its record (evictions, the record, evictions
 * again: it may write a newer one meanwhile) and, if we are behind it,
 * move there, counting exactly what was skipped; the next read reports
 * the overrun.
 */
void registry_evicted(struct bcast_reader *rd)
{
	struct bcast_reader_slot *s = rd->slot;
	uint64_t n, pos, seq, bytes;

	do {
		n = load_acquire(&s->evictions);
		pos = load_relaxed(&s->evict_pos);
		seq = load_relaxed(&s->evict_seq);
		bytes = load_relaxed(&s->evict_bytes);
		fence_acquire();
	} while (load_relaxed(&s->evictions) != n);
	rd->st.evictions += n - rd->evictions_seen;
	rd->evictions_seen = n;
	if (pos <= rd->pos || seq < rd->seq || bytes < rd->bytes ||
	    pos > load_acquire(&rd->hdr->committed))
		return;		/* caught up meanwhile, or a record that
				 * makes no sense: nothing skipped */
	rd->st.overruns++;
	rd->st.lost_messages += seq - rd->seq;
	rd->st.lost_bytes += bytes - rd->bytes;
	rd->assembling = false;
	rd->asm_complete = false;
	rd->pos = pos;
	rd->seq = seq;
	rd->bytes = bytes;
	rd->orphans_lost = true;
	rd->stalled = false;
	rd->evicted = true;
	rd->need_resync = true;
	reader_consumed(rd);
}

/* A reader freed room, or left: wake the writer that asked, once per
 * sleep (whoever clears the flag wakes it). */
void futex_gate_wake(struct bcast_reader *rd)
{
	struct bcast_ring_hdr *h = rd->r->hdr;

	if (!__atomic_exchange_n(&h->gate_need_wakeup, 0, __ATOMIC_SEQ_CST))
		return;
	__atomic_fetch_add(&h->gate_seq, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &h->gate_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int futex_gate_sleep(struct bcast_writer *w, uint32_t seq, int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	if (syscall(SYS_futex, &w->hdr->gate_seq, FUTEX_WAIT, seq, &ts, NULL,
		    0) && errno != EAGAIN && errno != ETIMEDOUT &&
	    errno != EINTR)
		return -errno;
	return 0;
}

/* The reader's counts and the time, for monitors: every 4096 messages,
 * when a read found nothing new, and before it sleeps. */
void registry_stamp(struct bcast_reader *rd)
{
	struct bcast_reader_slot *s = rd->slot;

	store_relaxed(&s->overruns, rd->st.overruns);
	store_relaxed(&s->lost_messages, rd->st.lost_messages);
	store_relaxed(&s->lost_bytes, rd->st.lost_bytes);
	store_relaxed(&s->active_ns, (uint64_t)realtime_ns());
}

void registry_touch(struct bcast_reader *rd)
{
	if (!rd->slot)
		return;
	registry_stamp(rd);
	reader_consumed(rd);
}

/* One slot as a monitor sees it; false if it has no owner. */
static bool slot_entry(const struct bcast_ring *r, unsigned i,
		       uint64_t committed, uint64_t messages,
		       struct bcast_reader_entry *e)
{
	const struct bcast_reader_slot *s = ring_slot(r, i);
	uint64_t owner = load_acquire(&s->owner);

	if (!owner)
		return false;
	memset(e, 0, sizeof(*e));
	e->slot = i;
	e->pid = (pid_t)load_relaxed(&s->pid);
	/* The kernel frees its slots itself: an owner there is alive. */
	e->alive = r->ops->kernel_registry ||
		   lock_token_alive(r, owner, slot_offset(r, i), -1);
	e->joined = load_acquire(&s->joined) ? 1 : 0;
	e->position = load_relaxed(&s->position);
	e->messages = load_relaxed(&s->messages);
	e->lag_bytes = committed > e->position ? committed - e->position : 0;
	e->lag_messages = messages > e->messages ? messages - e->messages : 0;
	e->overruns = load_relaxed(&s->overruns);
	e->lost_messages = load_relaxed(&s->lost_messages);
	e->lost_bytes = load_relaxed(&s->lost_bytes);
	e->evictions = load_relaxed(&s->evictions);
	e->active_ns = (int64_t)load_relaxed(&s->active_ns);
	return true;
}

BCAST_EXPORT int bcast_ring_readers(const struct bcast_ring *r,
				    bcast_reader_list_fn fn, void *arg)
{
	struct bcast_reader_entry e;
	uint64_t committed, messages = 0, bytes;
	unsigned i, high;
	int rc;

	if (!r || !fn)
		return -EINVAL;
	if (!r->slots)
		return 0;
	high = load_acquire(&r->hdr->registry_high);
	if (high > r->nslots)
		high = r->nslots;
	committed = load_acquire(&r->hdr->committed);
	/* The message count at `committed` (a walk from a sync point); if
	 * the writer keeps overwriting it, lags in messages read 0. */
	if (bcast_ring_count(r, &messages, &bytes))
		messages = 0;
	for (i = 0; i < high; i++) {
		if (!slot_entry(r, i, committed, messages, &e))
			continue;
		rc = fn(&e, arg);
		if (rc)
			return rc;
	}
	return 0;
}
