// SPDX-License-Identifier: MIT
/*
 * Waking and sleeping through the ring's wake page, for every ring whose
 * readers the kernel does not arm (memory, shm, file).
 *
 * Reader: sample wake_seq; set need_wakeup; full barrier; re-check
 * committed; sleep on wake_seq.  Writer: store committed; full barrier;
 * if need_wakeup: clear it, bump wake_seq, FUTEX_WAKE (which notify.c may
 * queue on io_uring, the rest staying here).  Either the reader
 * sees the new position or the writer sees the flag (membarrier.c: who
 * makes the barriers).  A reader that may not write the wake page cannot
 * ask for a wake-up and sleeps in slices.  The model of this handshake is
 * wait.pml, next to wait.c.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "uring.h"


static long sys_futex(uint32_t *word, int op, uint32_t val,
		      const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/*
 * The writer's half of a wake-up: take the request and move the futex
 * word, so that a reader that sampled it before either is queued on the
 * futex by now or finds it changed and does not sleep.  What is left is a
 * FUTEX_WAKE of the word returned, now or later (futex_wake_queue()).
 */
static uint32_t *futex_wake_prepare(struct bcast_ring *r)
{
	struct bcast_ring_hdr *h = r->hdr;

	store_relaxed(&h->need_wakeup, 0);
	__atomic_fetch_add(&h->wake_seq, 1, __ATOMIC_SEQ_CST);
	return &h->wake_seq;
}

void futex_wake_readers(struct bcast_ring *r)
{
	sys_futex(futex_wake_prepare(r), FUTEX_WAKE, INT_MAX, NULL);
}

int futex_wake_probe(struct bcast_ring *r, const struct uring *u)
{
	return uring_supports(u, URING_OP_FUTEX_WAKE) ? 0 : -ENOTSUP;
}

/* The FUTEX_WAKE for io_uring: every sleeper of the shared futex word. */
void futex_wake_queue(struct bcast_ring *r, struct io_uring_sqe *sqe)
{
	sqe->opcode = URING_OP_FUTEX_WAKE;
	sqe->addr = (uint64_t)(uintptr_t)futex_wake_prepare(r);
	sqe->addr2 = INT_MAX;
	sqe->addr3 = URING_FUTEX_MATCH_ANY;
	sqe->fd = URING_FUTEX2_SIZE_U32;
}

static struct timespec ms_to_ts(int64_t ms)
{
	return (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L };
}

/*
 * Data came while we slept and no wake-up: lost, unless the writer is just
 * between its committed store and its flag check (preempted).  Give it a
 * grace period before calling it lost, but never past the caller's
 * deadline: a wake-up we could not wait for is not counted.
 */
static void check_missed_wakeup(struct bcast_reader *rd, uint32_t seq,
				int64_t deadline)
{
	struct bcast_ring_hdr *h = rd->r->hdr;
	struct timespec ts;

	if (deadline - now_ms() < MISSED_GRACE_MS)
		return;
	ts = ms_to_ts(MISSED_GRACE_MS);
	if (sys_futex(&h->wake_seq, FUTEX_WAIT, seq, &ts) && errno == ETIMEDOUT &&
	    load_acquire(&h->wake_seq) == seq && reader_ready(rd))
		rd->st.missed_wakeups++;
}

/*
 * shm, file and memory rings: sleep on the futex word.  A reader that may
 * not write the wake page cannot ask for a wake-up: it sleeps in slices
 * (`*slice` ms, doubling up to BOUNDED_SLICE_MAX_MS), waking early when
 * the writer wakes someone else.  Returns 0 or -EINTR.
 */
int futex_sleep(struct bcast_reader *rd, struct sleep_request *req)
{
	struct bcast_ring_hdr *h = rd->r->hdr;
	int64_t ms = req->ms, *slice = &req->slice;
	bool exact = rd->r->wake_writable;
	struct timespec ts;
	uint32_t seq;

	seq = load_acquire(&h->wake_seq);
	if (exact) {
		__atomic_store_n(&h->need_wakeup, 1, __ATOMIC_SEQ_CST);
		exact = reader_barrier(rd);
	}
	if (reader_ready(rd))
		return 0;
	if (req->view == WRITER_LIVE && ms > LIVENESS_SLICE_MS)
		ms = LIVENESS_SLICE_MS;
	if (!exact) {
		if (ms > *slice)
			ms = *slice;
		*slice = *slice * 2 > BOUNDED_SLICE_MAX_MS ?
			 BOUNDED_SLICE_MAX_MS : *slice * 2;
	}
	rd->st.sleeps++;
	ts = ms_to_ts(ms);
	if (sys_futex(&h->wake_seq, FUTEX_WAIT, seq, &ts) == 0)
		return 0;
	if (errno == EINTR)
		return -EINTR;
	if (errno == ETIMEDOUT && exact && load_acquire(&h->wake_seq) == seq &&
	    reader_ready(rd))
		check_missed_wakeup(rd, seq, req->deadline);
	return 0;
}
