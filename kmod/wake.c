// SPDX-License-Identifier: GPL-2.0
/*
 * Waking a ring's pollers and signalling its readers' eventfds, at a cost
 * to the caller (the writer's BCAST_IOC_NOTIFY, a writer attaching or
 * going) that does not grow with the number of readers.
 *
 * While the ring has at most BCAST_WAKE_INLINE wait-queue entries plus
 * registered eventfds, they are woken in line: that is as cheap as
 * waking the worker.  Beyond, the caller only records the events in
 * ring->wake_mask and queues ring->wake_work on a high-priority workqueue
 * on another CPU than its own (the next online housekeeping CPU), whose
 * worker wakes every entry and signals every eventfd: a worker on the
 * caller's CPU would preempt the caller and make it wait for all that
 * after all.  (With one CPU, it does.)  The entries are counted under the
 * wait-queue lock and the count stops at BCAST_WAKE_INLINE + 1, so the
 * decision costs O(1) too.  (What a woken entry does next, e.g. an epoll
 * set that is itself watched by others, is beyond the module's count.)
 * The eventfd list is under a mutex (ring->efd_lock) so that the worker
 * may reschedule while it signals thousands; the in-line path only tries
 * it and defers when it is taken, so the caller never sleeps there.
 *
 * No wake-up is lost by deferring:
 *  - the caller has made its state change (committed in the ring, the
 *    writer state) visible before bcast_wake() (smp_mb() below);
 *  - it then ORs the events into wake_mask, issues a full barrier and
 *    queues the work.  Either that finds the work not pending and queues
 *    it (the work runs later and sees the mask), or the work is pending,
 *    i.e. its function has not started: the workqueue clears PENDING and
 *    issues smp_mb() before calling the function (process_one_work()),
 *    which then reads wake_mask after our store, by the barrier pairing;
 *  - the worker's wake_up() takes the wait-queue lock: a poller either
 *    was queued before it (and is woken) or queues itself after it and
 *    then, after poll()'s barrier, sees the new state (file.c).
 * Spurious wake-ups are harmless: poll() re-evaluates the state.
 *
 * Lifetime: a queued work holds a ring reference, dropped by the work
 * function (which may free the ring: a work item may free itself).  The
 * workqueue is destroyed at module unload, after every ring was
 * unpublished, which waits for queued work; no work can be queued then,
 * as no ring file is open (each holds the module).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/eventfd.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sched/isolation.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "internal.h"

/* Wait-queue entries plus eventfds woken in line, at most. */
#define BCAST_WAKE_INLINE	4

static struct workqueue_struct *bcast_wake_wq;

static void bcast_eventfd_signal(struct eventfd_ctx *efd)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(efd);
#else
	eventfd_signal(efd, 1);
#endif
}

/* Under efd_lock; a worker may reschedule every so often. */
static void bcast_signal_eventfds(struct bcast_kring *ring, bool resched)
{
	struct bcast_file *bf;
	unsigned int n = 0;

	list_for_each_entry(bf, &ring->efd_list, efd_node) {
		bcast_eventfd_signal(bf->efd);
		if (resched && !(++n % 64))
			cond_resched();
	}
}

/* Under the wait-queue lock: more than @max entries?  Visits max + 1. */
static bool bcast_wq_longer_than(struct wait_queue_head *wq, unsigned int max)
{
	struct wait_queue_entry *wqe;
	unsigned int n = 0;

	list_for_each_entry(wqe, &wq->head, entry)
		if (++n > max)
			return true;
	return false;
}

/*
 * Wake everything now if there is little to wake; false if too much, or
 * if the eventfd list is busy (a reader changing its eventfd, or the
 * worker signalling them): the caller never sleeps on that mutex.
 */
static bool bcast_wake_inline(struct bcast_kring *ring, __poll_t mask)
{
	unsigned long flags;
	bool done = false;

	if (!mutex_trylock(&ring->efd_lock))
		return false;
	if (ring->nr_efds > BCAST_WAKE_INLINE)
		goto out;
	spin_lock_irqsave(&ring->wq.lock, flags);
	if (!bcast_wq_longer_than(&ring->wq, BCAST_WAKE_INLINE - ring->nr_efds)) {
		wake_up_locked_poll(&ring->wq, bcast_wake_key(mask));
		done = true;
	}
	spin_unlock_irqrestore(&ring->wq.lock, flags);
	if (done)
		bcast_signal_eventfds(ring, false);
out:
	mutex_unlock(&ring->efd_lock);
	return done;
}

static void bcast_wake_work(struct work_struct *work)
{
	struct bcast_kring *ring = container_of(work, struct bcast_kring,
						wake_work);
	__poll_t mask = (__force __poll_t)atomic_xchg(&ring->wake_mask, 0);

	if (mask) {
		wake_up_interruptible_poll(&ring->wq, bcast_wake_key(mask));
		mutex_lock(&ring->efd_lock);
		bcast_signal_eventfds(ring, true);
		mutex_unlock(&ring->efd_lock);
	}
	bcast_kring_put(ring);
}

/*
 * The CPU for the worker: the next online housekeeping CPU after the
 * caller's (a hint: if it goes offline meanwhile the work runs elsewhere).
 */
static int bcast_wake_cpu(void)
{
	const struct cpumask *hk = housekeeping_cpumask(HK_TYPE_WQ);
	int self = raw_smp_processor_id(), cpu;

	cpu = cpumask_next_and(self, hk, cpu_online_mask);
	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first_and(hk, cpu_online_mask);
	return cpu < nr_cpu_ids ? cpu : self;
}

static void bcast_wake_defer(struct bcast_kring *ring, __poll_t mask)
{
	atomic_or((__force int)mask, &ring->wake_mask);
	/* The mask before the PENDING test (see the comment at the top). */
	smp_mb();
	kref_get(&ring->kref);
	if (!queue_work_on(bcast_wake_cpu(), bcast_wake_wq, &ring->wake_work))
		bcast_kring_put(ring);	/* pending: it holds its own */
}

/*
 * Wake every poller of @ring with @mask and signal every eventfd.  The
 * caller holds a ring reference and has made the state change that the
 * wake-up announces.
 */
void bcast_wake(struct bcast_kring *ring, __poll_t mask)
{
	/* The state change before the wake-up, inline or deferred. */
	smp_mb();
	if (!bcast_wake_inline(ring, mask))
		bcast_wake_defer(ring, mask);
}

void bcast_wake_ring_init(struct bcast_kring *ring)
{
	init_waitqueue_head(&ring->wq);
	INIT_WORK(&ring->wake_work, bcast_wake_work);
	atomic_set(&ring->wake_mask, 0);
}

int bcast_wake_init(void)
{
	bcast_wake_wq = alloc_workqueue("bcast_wake", WQ_HIGHPRI, 0);
	if (!bcast_wake_wq) {
		pr_err("cannot allocate the wake-up workqueue\n");
		return -ENOMEM;
	}
	return 0;
}

/* Waits for queued wake-ups, which may drop the last ring references. */
void bcast_wake_exit(void)
{
	destroy_workqueue(bcast_wake_wq);
}
