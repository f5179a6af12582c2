// SPDX-License-Identifier: MIT
/*
 * The writer of a gated ring: it moves the `claimed` frontier no further
 * than a lap past the slowest live registered reader, once per frontier
 * step (never per message), and waits when there is no room.
 *
 * Waiting mirrors the readers' wake-up handshake (futex.c) in the other
 * direction: the writer samples gate_seq, sets gate_need_wakeup, makes a
 * barrier that reaches every reader (a global membarrier(): readers that
 * could not register for it fence themselves), looks at the positions
 * again and sleeps while gate_seq is unchanged (a futex; bcast.ko rings:
 * BCAST_IOC_GATE_WAIT).  A reader stores its position, then looks at the
 * flag (reader_consumed()); the one that clears it (bcast.ko: the kernel,
 * asked by BCAST_IOC_GATE_NOTIFY) wakes the writer, once per sleep.  Sleeps last at most GATE_SLICE_MS: a
 * reader that died never wakes anyone, so the writer then checks whether
 * the readers that hold it back are alive, and the eviction policy.
 *
 * Everything read from a slot is a reader's word: a position past the
 * writer counts as the writer's, one below an eviction as the eviction
 * point, so no value can make the writer overwrite what another reader
 * needs; a reader can only hold the writer back, as a slow one can, and
 * the policy and the timeout bound that.
 */
#include <errno.h>
#include <stdlib.h>
#include "internal.h"

#define GATE_SPINS 256		/* looks before the first sleep */
#define GATE_SLICE_MS 10	/* longest sleep: dead readers are found
				 * within this (plus the check) */
#define GATE_SLICE_NO_BARRIER_MS 1 /* when membarrier() failed */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* What the writer keeps of each slot: never in shared memory. */
struct gate_slot {
	uint64_t owner;		/* the owner word these belong to */
	uint64_t floor;		/* evicted: positions below count as this */
};

struct gate {
	struct gate_slot *slots;
	unsigned nslots;
	int timeout_ms;		/* < 0: for ever */
	bool no_wait;		/* this call is a try variant */
	int64_t next_check_ms;	/* try variants: next liveness check */
};

int gate_open(struct bcast_writer *w)
{
	struct gate *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->nslots = w->r->nslots;
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	if (!g->slots) {
		free(g);
		return -ENOMEM;
	}
	g->timeout_ms = -1;
	w->gate = g;
	return 0;
}

void gate_close(struct bcast_writer *w)
{
	if (!w->gate)
		return;
	free(w->gate->slots);
	free(w->gate);
	w->gate = NULL;
}

/* Slot i's position as the writer may trust it, or UINT64_MAX if the
 * slot gates nothing. */
static uint64_t slot_position(struct bcast_writer *w, unsigned i)
{
	struct bcast_reader_slot *s = ring_slot(w->r, i);
	struct gate_slot *gs = &w->gate->slots[i];
	uint64_t owner = load_acquire(&s->owner), pos;

	if (!owner || !load_acquire(&s->joined))
		return UINT64_MAX;
	if (owner != gs->owner) {
		gs->owner = owner;	/* a new reader: no eviction of its own */
		gs->floor = 0;
	}
	pos = load_acquire(&s->position);
	if (pos < gs->floor)
		pos = gs->floor;
	return pos > w->pos ? w->pos : pos;
}

static unsigned slots_in_use(const struct bcast_writer *w)
{
	uint32_t high = load_acquire(&w->hdr->registry_high);

	return high < w->gate->nslots ? high : w->gate->nslots;
}

/* Evict slot i's reader: it no longer holds us back below w->pos, and it
 * learns exactly what it loses (registry_evicted()). */
static void evict(struct bcast_writer *w, unsigned i)
{
	struct bcast_reader_slot *s = ring_slot(w->r, i);

	w->gate->slots[i].floor = w->pos;
	store_relaxed(&s->evict_pos, w->pos);
	store_relaxed(&s->evict_seq, w->seq);
	store_relaxed(&s->evict_bytes, w->bytes);
	__atomic_fetch_add(&s->evictions, 1, __ATOMIC_RELEASE);
	w->st.evictions++;
}

/*
 * Look at every registered reader (evicting per the policy): how far the
 * frontier may go now, a lap past the slowest; UINT64_MAX when nobody
 * gates.
 */
static uint64_t gate_limit(struct bcast_writer *w)
{
	uint64_t evict_bytes = w->r->evict_bytes, min = UINT64_MAX;
	unsigned i, high = slots_in_use(w);

	for (i = 0; i < high; i++) {
		uint64_t pos = slot_position(w, i);

		if (pos == UINT64_MAX)
			continue;
		if (evict_bytes && w->pos - pos > evict_bytes) {
			evict(w, i);
			pos = w->pos;
		}
		if (pos < min)
			min = pos;
	}
	return min == UINT64_MAX ? UINT64_MAX : min + w->cap;
}

/*
 * The readers that hold the frontier below `end`: reclaim the slots of
 * dead ones (1 if any was), and with `evict_all` evict the live ones.
 */
static int release_laggards(struct bcast_writer *w, uint64_t end,
			    bool evict_all)
{
	unsigned i, high = slots_in_use(w);
	int freed = 0;

	for (i = 0; i < high; i++) {
		struct bcast_reader_slot *s = ring_slot(w->r, i);
		uint64_t pos = slot_position(w, i);
		__u64 owner;

		if (pos == UINT64_MAX || pos + w->cap >= end)
			continue;
		owner = w->gate->slots[i].owner;
		/* Where the kernel keeps the registry, a dead reader's slot
		 * is free already. */
		if (!w->r->ops->kernel_registry &&
		    !lock_token_alive(w->r, owner, slot_offset(w->r, i), -1)) {
			/* Only from the dead owner we judged: a reader
			 * taking the slot over keeps it. */
			__atomic_compare_exchange_n(&s->owner, &owner, 0, false,
						    __ATOMIC_ACQ_REL,
						    __ATOMIC_RELAXED);
			freed = 1;
		} else if (evict_all) {
			evict(w, i);
			freed = 1;
		}
	}
	return freed;
}

/* Sleep until a reader moves or a slice passes; true if the look after
 * asking found room already. */
static bool sleep_for_room(struct bcast_writer *w, uint64_t end, int64_t ms)
{
	struct bcast_ring_hdr *h = w->hdr;
	uint32_t seq = load_acquire(&h->gate_seq);
	int64_t slice = GATE_SLICE_MS;

	store_relaxed(&h->gate_need_wakeup, 1);
	if (!global_barrier())
		slice = GATE_SLICE_NO_BARRIER_MS;
	if (gate_limit(w) >= end) {
		store_relaxed(&h->gate_need_wakeup, 0);
		return true;
	}
	w->r->ops->gate_sleep(w, seq, ms < slice ? ms : slice);
	return false;
}

/*
 * Until the slowest reader's lap reaches `end`: 0, -EAGAIN (a try
 * variant, or a writer with timeout 0), -ETIMEDOUT.
 */
static int wait_for_room(struct bcast_writer *w, uint64_t end)
{
	struct gate *g = w->gate;
	int64_t start = now_ms(), now = start;
	unsigned spins = 0;

	w->st.gate_waits++;
	for (;;) {
		int64_t left = g->timeout_ms < 0 ? INT64_MAX :
			       start + g->timeout_ms - now;
		int64_t evict_left = w->r->evict_ms ?
				     start + w->r->evict_ms - now : INT64_MAX;

		if (gate_limit(w) >= end)
			return 0;
		if (g->no_wait || left <= 0) {
			/* Never waiting, but still not held back by the
			 * dead for long. */
			if (now >= g->next_check_ms) {
				g->next_check_ms = now + GATE_SLICE_MS;
				if (release_laggards(w, end, false))
					continue;
			}
			return g->no_wait || !g->timeout_ms ? -EAGAIN :
							     -ETIMEDOUT;
		}
		if (spins < GATE_SPINS) {
			spins++;
			cpu_relax();
			continue;
		}
		if (release_laggards(w, end, evict_left <= 0))
			continue;
		if (sleep_for_room(w, end, left < evict_left ? left : evict_left))
			return 0;
		now = now_ms();
	}
}

/*
 * step_frontier() of a gated ring: publish *frontier once the readers
 * allow it (waiting for room if need be), and look again if a reader
 * joined meanwhile (see registry.c).  The writer asks for a whole step
 * (capacity/256) beyond `end` even when the ring is full: it then looks
 * at the readers once per step, not once per message.
 */
int gate_frontier(struct bcast_writer *w, uint64_t end, uint64_t *frontier)
{
	uint32_t gen = load_acquire(&w->hdr->registry_gen);
	uint64_t need = *frontier;
	int err;

	for (;;) {
		if (gate_limit(w) < need) {
			err = wait_for_room(w, need);
			if (err)
				return err;
			continue;
		}
		if (need > w->frontier) {
			w->frontier = need;
			store_relaxed(&w->hdr->claimed, need);
		}
		fence_full();
		if (load_relaxed(&w->hdr->registry_gen) == gen)
			return 0;
		gen = load_acquire(&w->hdr->registry_gen);
	}
}

BCAST_EXPORT int bcast_writer_set_timeout(struct bcast_writer *w,
					  int timeout_ms)
{
	if (!w)
		return -EINVAL;
	if (w->gate)
		w->gate->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
	return 0;
}

BCAST_EXPORT int bcast_try_claim(struct bcast_writer *w, size_t len,
				 struct bcast_claim *c)
{
	int err;

	if (!w || !w->gate)
		return bcast_claim(w, len, c);
	w->gate->no_wait = true;
	err = bcast_claim(w, len, c);
	w->gate->no_wait = false;
	return err;
}

BCAST_EXPORT int bcast_try_publish(struct bcast_writer *w, const void *p,
				   size_t len, uint32_t type)
{
	int err;

	if (!w || !w->gate)
		return bcast_publish(w, p, len, type);
	w->gate->no_wait = true;
	err = bcast_publish(w, p, len, type);
	w->gate->no_wait = false;
	return err;
}
