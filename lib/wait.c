// SPDX-License-Identifier: MIT
/*
 * Blocking readers without losing a wake-up, and noticing a writer go.
 *
 * Reader: sample wake_seq; set need_wakeup; full barrier; re-check
 * committed; sleep on wake_seq.  Writer: store committed; full barrier;
 * if need_wakeup: clear it, bump wake_seq, FUTEX_WAKE.  Either the reader
 * sees the new position or the writer sees the flag.  When the writer's
 * process registered for global membarrier, the reader's membarrier() call
 * stands in for the writer's barrier, which then costs nothing; a reader
 * whose membarrier() fails says so in reader_flags and sleeps in short
 * slices until the writer has gone back to fencing itself.  The model of
 * this handshake is wait.pml, next to this file.
 *
 * bcast_wait() reports each writer's departure once: -BCAST_EWRITERGONE
 * after everything it committed was read; afterwards (and on a ring that
 * never had a writer) it sleeps until a writer publishes or the time runs
 * out.  Device rings learn both from the kernel (see BCAST_IOC_ARM).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define LIVENESS_SLICE_MS 25	/* how often a sleeper checks a live writer */
#define BOUNDED_SLICE_MIN_MS 1	/* readers that cannot ask for a wake-up */
#define BOUNDED_SLICE_MAX_MS 50
#define MISSED_GRACE_MS 100	/* a writer preempted mid-publish is not a
				 * missed wake-up */

static long sys_futex(uint32_t *word, int op, uint32_t val,
		      const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

void wake_readers(struct bcast_ring *r)
{
	struct bcast_ring_hdr *h = r->hdr;

	if (r->backend == BACKEND_DEVICE) {
		device_notify(r);
		return;
	}
	store_relaxed(&h->need_wakeup, 0);
	__atomic_fetch_add(&h->wake_seq, 1, __ATOMIC_SEQ_CST);
	sys_futex(&h->wake_seq, FUTEX_WAKE, INT_MAX, NULL);
}

bool writer_registered_membarrier(void)
{
	/* 0 unknown, 1 registered, -1 unavailable; threads that race to
	 * find out all register, which is harmless. */
	static int state;
	int now = __atomic_load_n(&state, __ATOMIC_RELAXED);
	long cmds;

	if (now)
		return now > 0;
	cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	now = cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	      !syscall(SYS_membarrier,
		       MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) ? 1 : -1;
	__atomic_store_n(&state, now, __ATOMIC_RELAXED);
	return now > 0;
}

/*
 * The reader's half of the Dekker handshake, after it asked to be woken.
 * False when the writer skips its own barrier and our membarrier() failed:
 * then a wake-up may be lost, and the caller must not sleep for long.
 */
static bool reader_barrier(struct bcast_reader *rd)
{
	struct bcast_ring_hdr *h = rd->r->hdr;

	fence_full();
	if (!(load_relaxed(&h->writer_flags) & BCAST_WRITER_MEMBARRIER))
		return true;
	if (!syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0))
		return true;
	/* Ask the writer to fence from now on (it looks when it wakes us);
	 * device readers ask through the kernel when they arm next. */
	rd->no_membarrier = true;
	if (rd->r->wake_writable)
		__atomic_fetch_or(&h->reader_flags, BCAST_READERS_NO_MEMBARRIER,
				  __ATOMIC_SEQ_CST);
	return false;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec ms_to_ts(int64_t ms)
{
	return (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L };
}

/* The position the kernel should wake this reader past. */
static uint64_t wake_position(const struct bcast_reader *rd)
{
	return rd->need_resync ? rd->resync_seen : rd->pos;
}

/* Has the writer whose epoch is `epoch` already been reported gone? */
static bool gone_reported(const struct bcast_reader *rd, uint64_t epoch)
{
	return rd->gone_known && rd->gone_epoch == epoch;
}

/* What bcast_wait() knows about the writer before it sleeps. */
enum writer_view { WRITER_LIVE, WRITER_NONE };

/*
 * Ask the kernel to wake this reader (it sets need_wakeup), then the
 * reader's barrier; *exact says whether it stood in for the writer's.  A
 * reader whose membarrier() fails arms again with BCAST_ARM_NO_MEMBARRIER:
 * it cannot write the wake page itself.  0, 1 if committed has moved
 * already, or an error.
 */
static int arm_device(struct bcast_reader *rd, enum writer_view view,
		      uint64_t epoch, bool *exact)
{
	unsigned flags = view == WRITER_NONE ? BCAST_ARM_WRITER_GONE : 0;
	int rc;

	if (rd->no_membarrier)
		flags |= BCAST_ARM_NO_MEMBARRIER;
	rc = device_arm(rd->fd, wake_position(rd), epoch, flags);
	if (rc)
		return rc;
	*exact = reader_barrier(rd);
	if (*exact || (flags & BCAST_ARM_NO_MEMBARRIER))
		return 0;
	return device_arm(rd->fd, wake_position(rd), epoch,
			  flags | BCAST_ARM_NO_MEMBARRIER);
}

/*
 * Device rings: arm (the kernel sets need_wakeup), barrier, re-check,
 * poll.  Returns 0 to look again, 1 when the kernel says the writer we
 * believed alive is gone, or an error.
 */
static int sleep_on_device(struct bcast_reader *rd, enum writer_view view,
			   uint64_t epoch, int64_t ms)
{
	bool exact;
	int rc = arm_device(rd, view, epoch, &exact);

	if (rc)
		return rc < 0 ? rc : 0;
	if (reader_ready(rd))
		return 0;
	if (!exact && ms > BOUNDED_SLICE_MIN_MS)
		ms = BOUNDED_SLICE_MIN_MS;
	rd->st.sleeps++;
	rc = device_poll(rd->fd, ms > INT_MAX ? INT_MAX : (int)ms);
	if (rc == DEVICE_POLL_TIMEOUT && exact && reader_ready(rd))
		rd->st.missed_wakeups++;	/* data came, no wake-up did */
	if (rc == DEVICE_POLL_HANGUP)
		return view == WRITER_LIVE ? 1 : 0;
	return rc < 0 ? rc : 0;
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
static int sleep_on_ring(struct bcast_reader *rd, enum writer_view view,
			 int64_t ms, int64_t deadline, int64_t *slice)
{
	struct bcast_ring_hdr *h = rd->r->hdr;
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
	if (view == WRITER_LIVE && ms > LIVENESS_SLICE_MS)
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
		check_missed_wakeup(rd, seq, deadline);
	return 0;
}

/*
 * Is there a writer?  WRITER_NONE also when the writer of `*epoch` is gone
 * but not yet reported: then *report is set.
 */
static enum writer_view look_at_writer(struct bcast_reader *rd, bool hangup,
				       uint64_t *epoch, bool *report)
{
	*report = false;
	/* After a hangup, the writer we slept on is the one gone, whatever
	 * came since (*epoch holds its epoch). */
	if (hangup) {
		*report = *epoch && !gone_reported(rd, *epoch);
		return WRITER_NONE;
	}
	*epoch = load_acquire(&rd->hdr->writer_epoch);
	if (owner_alive(rd->r))
		return WRITER_LIVE;
	/* Never had one, or already said so: wait for the next. */
	*report = *epoch && !gone_reported(rd, *epoch);
	return WRITER_NONE;
}

BCAST_EXPORT int bcast_wait(struct bcast_reader *rd, int timeout_ms)
{
	int64_t deadline, slice = BOUNDED_SLICE_MIN_MS;
	bool hangup = false;
	uint64_t epoch = 0;
	int err;

	if (!rd)
		return -EINVAL;
	deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
	for (;;) {
		enum writer_view view;
		int64_t left;
		bool report;

		if (reader_ready(rd))
			return 0;
		view = look_at_writer(rd, hangup, &epoch, &report);
		if (report) {
			/* What it committed is read before it is reported. */
			if (reader_ready(rd))
				return 0;
			rd->gone_known = true;
			rd->gone_epoch = epoch;
			return -BCAST_EWRITERGONE;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (rd->fd >= 0)
			err = sleep_on_device(rd, view, epoch, left);
		else
			err = sleep_on_ring(rd, view, left, deadline, &slice);
		if (err < 0)
			return err;
		hangup = err == 1;
	}
}

BCAST_EXPORT int bcast_reader_arm(struct bcast_reader *rd)
{
	enum writer_view view;
	uint64_t epoch;
	bool report, exact;
	int rc;

	if (!rd)
		return -EINVAL;
	if (rd->fd < 0)
		return -ENOTSUP;
	if (reader_ready(rd))
		return 1;
	/* A departure not yet reported wakes the poller (EPOLLHUP); one
	 * already reported does not, until the next writer comes. */
	view = look_at_writer(rd, false, &epoch, &report);
	if (report)
		view = WRITER_LIVE;
	rc = arm_device(rd, view, epoch, &exact);
	if (rc)
		return rc;
	return reader_ready(rd) ? 1 : 0;
}

BCAST_EXPORT int bcast_reader_fd(struct bcast_reader *rd)
{
	if (!rd)
		return -EINVAL;
	return rd->fd >= 0 ? rd->fd : -ENOTSUP;
}
