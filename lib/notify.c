// SPDX-License-Identifier: MIT
/*
 * Asynchronous wake-ups: a writer that asked for them (with
 * bcast_writer_set_notify()) hands the system call that wakes its sleeping
 * readers to an io_uring of its own, and returns without waiting for it.
 *
 * Nothing of the handshake moves (futex.c, wait.pml).  The writer still
 * stores committed, fences (or leans on the readers' membarrier()) and
 * loads need_wakeup (writer.c, commit_position()); when it finds the flag
 * set it still does its own part at once, before it returns; only the
 * kernel's part, the wake-up itself, runs later:
 *
 *  - futex rings (futex_wake_queue()): the writer clears need_wakeup and
 *    bumps wake_seq with a seq_cst RMW, exactly as futex_wake_readers()
 *    does; only the FUTEX_WAKE is queued.  A reader that sampled the old
 *    wake_seq before setting need_wakeup and missing the new committed
 *    either is queued on the futex before the deferred FUTEX_WAKE runs,
 *    and is woken by it, or calls FUTEX_WAIT after the bump and returns
 *    at once, the word having changed.  The synchronous wake-up is the
 *    same with less time between the bump and the FUTEX_WAKE: a writer
 *    preempted between the two is this case already.
 *  - device rings (device_wake_queue()): the writer clears need_wakeup and
 *    queues the NOTIFY (an 8-byte write() of its file).  When the kernel
 *    runs it, it clears need_wakeup again, bumps its notify count and
 *    wakes.  A reader that armed before that sampled the count before
 *    setting need_wakeup, so the count it compares moves and it is woken,
 *    even if one of the two clears erased its request; one that arms
 *    after it sees committed moved (the NOTIFY was queued after the
 *    publish), or sets need_wakeup for the writer's next publish.
 *
 * So there is still one wake-up per sleeping episode, and none is lost:
 * what changes is only who makes the system call (the io_uring_enter()
 * that hands the work over, or with SQPOLL the kernel thread, while it is
 * awake) and when the sleepers wake.
 *
 * Completions are reaped at the next wake-up, from the CQ in memory.  A
 * wake-up that finds the SQ full, or as many in flight as the CQ holds,
 * is made synchronously; an error completion or a failed submission is
 * counted (notify_errors) and sends every later wake-up back to the
 * writer's own system call.
 *
 * fork(): a child shares the io_uring's rings with its parent (MAP_SHARED
 * memory) and must neither submit to them nor reap from them.  A
 * generation that the child bumps (pthread_atfork()) tells notify_async()
 * so without a system call; close and set_notify compare pids.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "internal.h"
#include "uring.h"

#define NOTIFY_SQ_ENTRIES 64	/* one per wake-up in flight, at most */
#define DRAIN_MS 1000		/* how long a close waits for them */

struct async_notify {
	struct uring u;
	unsigned inflight;	/* submitted, completion not yet reaped */
	unsigned max_inflight;	/* what the CQ holds */
	bool failed;		/* wake synchronously from now on */
	unsigned long generation; /* fork_generation when set up */
};

static unsigned long fork_generation;	/* fork()s this process came through */
static pthread_once_t fork_watch_once = PTHREAD_ONCE_INIT;
static int fork_watch_err;

static void forked_child(void)
{
	__atomic_fetch_add(&fork_generation, 1, __ATOMIC_RELAXED);
}

static void watch_forks_once(void)
{
	fork_watch_err = -pthread_atfork(NULL, NULL, forked_child);
}

static int watch_forks(void)
{
	pthread_once(&fork_watch_once, watch_forks_once);
	return fork_watch_err;
}

static bool forked_since(const struct async_notify *a)
{
	return a->generation != __atomic_load_n(&fork_generation,
						 __ATOMIC_RELAXED);
}

static void reap(struct bcast_writer *w, struct async_notify *a)
{
	struct io_uring_cqe *cqe;

	while ((cqe = uring_peek(&a->u))) {
		if (cqe->res < 0) {
			a->failed = true;
			w->st.notify_errors++;
		}
		uring_seen(&a->u);
		if (a->inflight)
			a->inflight--;
	}
}

int notify_async(struct bcast_writer *w)
{
	struct async_notify *a = w->async;
	struct io_uring_sqe *sqe;
	int rc;

	if (forked_since(a))
		return -ECHILD;		/* the parent's io_uring */
	reap(w, a);
	if (a->failed)
		return -EIO;
	if (a->inflight >= a->max_inflight)
		return -EAGAIN;
	sqe = uring_get_sqe(&a->u);
	if (!sqe)
		return -EAGAIN;
	w->r->ops->wake_queue(w->r, sqe);
	rc = uring_submit(&a->u);
	if (rc != 1) {
		/* The caller wakes now; the writer's part, done twice, is
		 * only a spurious wake-up. */
		a->failed = true;
		w->st.notify_errors++;
		return rc < 0 ? rc : -EIO;
	}
	a->inflight++;
	return 0;
}

/* Wait (bounded) until every queued wake-up has run: the ring's memory
 * may go once the writer is closed. */
static void drain(struct bcast_writer *w, struct async_notify *a)
{
	int64_t deadline = now_ms() + DRAIN_MS, left;
	int rc;

	for (reap(w, a); a->inflight; reap(w, a)) {
		left = deadline - now_ms();
		if (left <= 0)
			break;
		rc = uring_wait(&a->u, left * 1000000);
		if (rc < 0 && rc != -ETIME && rc != -EINTR)
			break;
	}
}

/* Our own io_uring is drained first; a fork() child's copy of the
 * parent's is only unmapped and its descriptor closed. */
static void async_free(struct bcast_writer *w, struct async_notify *a)
{
	if (w->pid == getpid() && !forked_since(a))
		drain(w, a);
	uring_exit(&a->u);
	free(a);
}

static int async_setup(struct bcast_writer *w, int how,
		       struct async_notify **out)
{
	/* Without SQPOLL: completions wait for the writer's next system call
	 * instead of interrupting it (its own sleeps in bcast_wait() would
	 * end with -EINTR); SQPOLL rings interrupt nobody. */
	unsigned flags = how == BCAST_NOTIFY_SQPOLL ? IORING_SETUP_SQPOLL :
			 IORING_SETUP_COOP_TASKRUN;
	struct async_notify *a;
	int err;

	if (!w->r->ops->wake_probe)
		return -ENOTSUP;
	err = watch_forks();
	if (err)
		return err;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	err = uring_init(&a->u, NOTIFY_SQ_ENTRIES, 0, flags);
	if (err == -EINVAL && (flags & IORING_SETUP_COOP_TASKRUN))
		err = uring_init(&a->u, NOTIFY_SQ_ENTRIES, 0, 0);	/* < 5.19 */
	if (err)
		goto free;
	err = w->r->ops->wake_probe(w->r, &a->u);
	if (err)
		goto exit;
	a->max_inflight = a->u.cq_mask + 1;
	a->generation = __atomic_load_n(&fork_generation, __ATOMIC_RELAXED);
	*out = a;
	return 0;
exit:
	uring_exit(&a->u);
free:
	free(a);
	return err;
}

void notify_release(struct bcast_writer *w)
{
	if (w->async) {
		async_free(w, w->async);
		w->async = NULL;
	}
}

BCAST_EXPORT int bcast_writer_set_notify(struct bcast_writer *w, int how)
{
	struct async_notify *a = NULL;
	int err;

	if (!w || how < BCAST_NOTIFY_SYNC || how > BCAST_NOTIFY_SQPOLL)
		return -EINVAL;
	if (w->claim_open)
		return -EBUSY;
	if (w->pid != getpid() && how != BCAST_NOTIFY_SYNC)
		return -EBUSY;		/* the writer is the parent's */
	if (how != BCAST_NOTIFY_SYNC) {
		err = async_setup(w, how, &a);
		if (err)
			return err;
	}
	notify_release(w);
	w->async = a;
	return 0;
}
