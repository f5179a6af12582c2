// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring commands on a reader file: BCAST_URING_WAIT and
 * BCAST_URING_WAIT_GONE arm the file as BCAST_IOC_ARM does and complete,
 * with the events as the CQE's result, once poll() would report them.
 * Kernels from 6.7 only (BCAST_URING_CMD): io_uring_cmd_mark_cancelable()
 * lets io_uring cancel a WAIT that would otherwise never complete when its
 * task exits or its ring is closed.  Before 6.7 bcast_fops has no
 * ->uring_cmd and io_uring fails the command with -EOPNOTSUPP.
 *
 * One WAIT per file: its wait-queue entry is the file's own
 * (bf->uring_wait), and one word, bf->uring_cmd, says whose it is:
 *   NULL              nobody's: a WAIT takes it by cmpxchg to BUSY;
 *   BCAST_URING_BUSY  a WAIT is setting up, or the entry of a claimed
 *                     WAIT is being taken off the queue;
 *   the command       pending: the entry is on ring->wq.
 * The entry is queued and the command published together, and taken off
 * and the word cleared together, under ring->wq.lock.  Of the three that
 * may end a pending WAIT (the wake function, io_uring's cancellation,
 * BCAST_IOC_CANCEL) only the one whose cmpxchg from the command to BUSY
 * succeeds completes it; the others find it gone.  A WAIT that finds the
 * word taken fails with -EBUSY.
 *
 * No wake-up is lost between arming and sleeping: the entry is queued
 * first and the events evaluated after, as poll() does (file.c): a NOTIFY
 * either finds the entry on the queue or is seen by that evaluation.
 *
 * Lifetime: io_uring holds a reference to the file until the command has
 * completed, so the bcast_file, its ring and the module (the file's
 * f_op->owner) outlive a pending WAIT; a ring destroyed meanwhile stays
 * while any file has it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "internal.h"

#if BCAST_URING_CMD

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

/* bf->uring_cmd while the entry is set up or taken off: see the top. */
#define BCAST_URING_BUSY	((struct io_uring_cmd *)1)

/* The CQE's result, kept in the command from its claim to its CQE. */
static int *bcast_uring_res(struct io_uring_cmd *cmd)
{
	BUILD_BUG_ON(sizeof(int) > sizeof(cmd->pdu));
	return (int *)cmd->pdu;
}

/* Task work of the submitting task: post the CQE. */
static void bcast_uring_done(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	io_uring_cmd_done(cmd, *bcast_uring_res(cmd), 0, issue_flags);
}

/*
 * Under ring->wq.lock: if @cmd is still @bf's pending WAIT, take its entry
 * off the queue and free the file for the next WAIT.  True for the one
 * caller that does: it, and only it, completes @cmd.
 */
static bool bcast_uring_claim(struct bcast_file *bf, struct io_uring_cmd *cmd)
{
	lockdep_assert_held(&bf->ring->wq.lock);
	if (!cmd || cmd == BCAST_URING_BUSY ||
	    cmpxchg(&bf->uring_cmd, cmd, BCAST_URING_BUSY) != cmd)
		return false;
	list_del_init(&bf->uring_wait.entry);
	/* Off the queue: a new WAIT may take the entry from here on. */
	smp_store_release(&bf->uring_cmd, NULL);
	return true;
}

/* Complete a claimed @cmd from its task (any context may ask). */
static void bcast_uring_complete(struct io_uring_cmd *cmd, int res)
{
	*bcast_uring_res(cmd) = res;
	io_uring_cmd_complete_in_task(cmd, bcast_uring_done);
}

/*
 * Wake function of a pending WAIT, called with ring->wq.lock held by
 * whoever wakes the ring (wake.c, in line or from its worker): complete
 * the WAIT if poll() would now report, else leave it queued.
 */
static int bcast_uring_wake(struct wait_queue_entry *wqe, unsigned int mode,
			    int sync, void *key)
{
	struct bcast_file *bf = container_of(wqe, struct bcast_file, uring_wait);
	struct io_uring_cmd *cmd = READ_ONCE(bf->uring_cmd);
	__poll_t mask = bcast_reader_events(bf);

	if (!mask || !bcast_uring_claim(bf, cmd))
		return 0;
	bcast_uring_complete(cmd, (__force int)mask);
	return 1;
}

/* Claim @cmd, taking the wait-queue lock: see bcast_uring_claim(). */
static bool bcast_uring_claim_locking(struct bcast_file *bf,
				      struct io_uring_cmd *cmd)
{
	unsigned long flags;
	bool claimed;

	spin_lock_irqsave(&bf->ring->wq.lock, flags);
	claimed = bcast_uring_claim(bf, cmd);
	spin_unlock_irqrestore(&bf->ring->wq.lock, flags);
	return claimed;
}

/*
 * The WAIT's arm from the SQE.  User space may write the SQE meanwhile:
 * each field is read once.  The fields a WAIT does not use must be 0, so
 * that they can mean something later.
 */
static int bcast_uring_wait_arg(const struct io_uring_cmd *cmd,
				struct bcast_arm *arm)
{
	const struct io_uring_sqe *sqe = cmd->sqe;
	struct bcast_uring_wait w;

	if (cmd->flags & IORING_URING_CMD_FIXED)
		return -EINVAL;
	if (READ_ONCE(sqe->addr) || READ_ONCE(sqe->len) ||
	    READ_ONCE(sqe->ioprio) || READ_ONCE(sqe->buf_index) ||
	    READ_ONCE(sqe->file_index))
		return -EINVAL;
	memcpy(&w, io_uring_sqe_cmd(sqe), sizeof(w));
	memset(arm, 0, sizeof(*arm));
	arm->pos = w.pos;
	arm->epoch = w.epoch;
	if (cmd->cmd_op == BCAST_URING_WAIT_GONE)
		arm->flags = BCAST_ARM_WRITER_GONE;
	return 0;
}

/* Queue @cmd's entry and publish it as pending, both under the lock. */
static void bcast_uring_queue(struct bcast_file *bf, struct io_uring_cmd *cmd)
{
	struct bcast_kring *ring = bf->ring;
	unsigned long flags;

	init_waitqueue_func_entry(&bf->uring_wait, bcast_uring_wake);
	spin_lock_irqsave(&ring->wq.lock, flags);
	__add_wait_queue(&ring->wq, &bf->uring_wait);
	WRITE_ONCE(bf->uring_cmd, cmd);
	spin_unlock_irqrestore(&ring->wq.lock, flags);
}

/*
 * BCAST_URING_WAIT(_GONE): the events at once if poll() would report
 * some, else -EIOCBQUEUED and a CQE later (bcast_uring_wake()).
 */
static int bcast_uring_wait(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct bcast_file *bf = cmd->file->private_data;
	struct bcast_arm arm;
	__poll_t mask;
	int err;

	if (bf->writer)
		return -EPERM;
	err = bcast_uring_wait_arg(cmd, &arm);
	if (err)
		return err;
	if (cmpxchg(&bf->uring_cmd, NULL, BCAST_URING_BUSY))
		return -EBUSY;
	/* Flags 0 or BCAST_ARM_WRITER_GONE: bcast_file_arm() takes them. */
	bcast_file_arm(bf, &arm);
	/* Not queued yet: only a non-zero answer counts here. */
	mask = bcast_reader_events(bf);
	if (mask) {
		/* Never queued: the file is free for the next WAIT. */
		smp_store_release(&bf->uring_cmd, NULL);
		return (__force int)mask;
	}
	/* Before the command can be claimed: a cancellation only ever comes
	 * for a command marked so. */
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
	bcast_uring_queue(bf, cmd);
	/* Queued, then evaluated: a NOTIFY since the arm is not lost. */
	mask = bcast_reader_events(bf);
	if (mask && bcast_uring_claim_locking(bf, cmd))
		io_uring_cmd_done(cmd, (__force int)mask, 0, issue_flags);
	return -EIOCBQUEUED;
}

/* io_uring cancels @cmd (IO_URING_F_CANCEL): its task exits, or its
 * ring closes.  It may have been completed meanwhile. */
static void bcast_uring_cancel_cmd(struct io_uring_cmd *cmd,
				   unsigned int issue_flags)
{
	struct bcast_file *bf = cmd->file->private_data;

	if (bcast_uring_claim_locking(bf, cmd))
		io_uring_cmd_done(cmd, -ECANCELED, 0, issue_flags);
}

int bcast_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	if (issue_flags & IO_URING_F_CANCEL) {
		bcast_uring_cancel_cmd(cmd, issue_flags);
		return 0;
	}
	switch (cmd->cmd_op) {
	case BCAST_URING_WAIT:
	case BCAST_URING_WAIT_GONE:
		return bcast_uring_wait(cmd, issue_flags);
	default:
		return -EINVAL;
	}
}

/* BCAST_IOC_CANCEL on reader @bf: 1 if a WAIT was pending (it completes
 * with -ECANCELED), 0 if none was. */
int bcast_uring_cancel(struct bcast_file *bf)
{
	struct bcast_kring *ring = bf->ring;
	struct io_uring_cmd *cmd;
	unsigned long flags;
	bool claimed;

	spin_lock_irqsave(&ring->wq.lock, flags);
	cmd = READ_ONCE(bf->uring_cmd);
	claimed = bcast_uring_claim(bf, cmd);
	spin_unlock_irqrestore(&ring->wq.lock, flags);
	if (!claimed)
		return 0;
	bcast_uring_complete(cmd, -ECANCELED);
	return 1;
}

#endif /* BCAST_URING_CMD */
