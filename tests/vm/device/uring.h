/* SPDX-License-Identifier: MIT */
/*
 * What the io_uring device tests share: a writer in another process that
 * publishes when told, and io_uring requests on reader files (liburing
 * 2.3, which has no helper for URING_CMD) with bounded waits.
 */
#ifndef BCAST_DEVICE_TEST_URING_H
#define BCAST_DEVICE_TEST_URING_H

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <liburing.h>
#include "common.h"

/* What one publish adds to committed: an 8-byte frame. */
#define PUBLISH_STEP 16

/* Publish as a writer does: committed (release), full fence, then
 * need_wakeup: 1 if a reader asked to be woken. */
static inline int publish(struct bcast_ring_hdr *h)
{
	__atomic_store_n(&h->committed, h->committed + PUBLISH_STEP,
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&h->need_wakeup, __ATOMIC_RELAXED);
}

/* Publish, and notify if a reader asked: 0, or -1 if the NOTIFY failed. */
static inline int publish_and_notify(int w, struct bcast_ring_hdr *h)
{
	return publish(h) && ioctl(w, BCAST_IOC_NOTIFY) ? -1 : 0;
}

static inline uint64_t committed_of(const struct bcast_ring_hdr *h)
{
	return __atomic_load_n(&h->committed, __ATOMIC_ACQUIRE);
}

/*
 * A child process that is the writer of a ring and publishes (with a
 * NOTIFY when needed) each time it reads WRITER_PUBLISH from its pipe;
 * WRITER_SYNC asks for an answer on the other pipe once the commands
 * before it are done.  It exits when the pipe closes, or with its parent.
 */
struct writer_child {
	pid_t pid;
	int cmd;			/* parent's end: commands */
	int ack;			/* parent's end: answers */
};

#define WRITER_PUBLISH 'p'
#define WRITER_SYNC 's'

static inline void writer_child_run(unsigned minor, int cmd, int ack)
{
	struct bcast_ring_hdr *h;
	size_t len;
	char c;
	int w;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	w = open_ring(minor, O_RDWR);
	h = w >= 0 ? map_ring(w, PROT_READ | PROT_WRITE, &len) : NULL;
	if (!h || write(ack, "a", 1) != 1)
		_exit(1);
	while (read(cmd, &c, 1) == 1) {
		if (c == WRITER_PUBLISH && publish_and_notify(w, h))
			_exit(2);
		if (c == WRITER_SYNC && write(ack, "s", 1) != 1)
			_exit(3);
	}
	_exit(0);
}

/* Start it; returns once it is the ring's writer: 0, or -1. */
static inline int writer_child_start(struct writer_child *wc, unsigned minor)
{
	int cmd[2], ack[2];
	char c;

	if (pipe2(cmd, O_CLOEXEC) || pipe2(ack, O_CLOEXEC))
		return -1;
	wc->pid = fork();
	if (!wc->pid) {
		close(cmd[1]);
		close(ack[0]);
		writer_child_run(minor, cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	wc->cmd = cmd[1];
	wc->ack = ack[0];
	if (wc->pid < 0 || read(wc->ack, &c, 1) != 1)
		return -1;
	return 0;
}

static inline int writer_child_tell(struct writer_child *wc, char c)
{
	return write(wc->cmd, &c, 1) == 1 ? 0 : -1;
}

/* Publish once and wait until it is done: 0, or -1. */
static inline int writer_child_publish(struct writer_child *wc)
{
	char c;

	if (writer_child_tell(wc, WRITER_PUBLISH) ||
	    writer_child_tell(wc, WRITER_SYNC) || read(wc->ack, &c, 1) != 1)
		return -1;
	return 0;
}

/* Kill it (SIGKILL) or let it exit (0): its exit status, -1 if killed. */
static inline int writer_child_stop(struct writer_child *wc, int sig)
{
	int status;

	if (sig)
		kill(wc->pid, sig);
	close(wc->cmd);
	close(wc->ack);
	if (waitpid(wc->pid, &status, 0) != wc->pid)
		return -2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A BCAST_URING_WAIT-style command on reader @fd, tagged @data. */
static inline void prep_uring_cmd(struct io_uring_sqe *sqe, int fd,
				  unsigned op, uint64_t pos, uint64_t epoch,
				  uint64_t data)
{
	struct bcast_uring_wait arg = { .pos = pos, .epoch = epoch };

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	memcpy(sqe->cmd, &arg, sizeof(arg));
	io_uring_sqe_set_data64(sqe, data);
}

/* Submit one such command: 0, or -errno of the submission. */
static inline int submit_uring_cmd(struct io_uring *ring, int fd, unsigned op,
				   uint64_t pos, uint64_t epoch, uint64_t data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	int rc;

	if (!sqe)
		return -EBUSY;
	prep_uring_cmd(sqe, fd, op, pos, epoch, data);
	rc = io_uring_submit(ring);
	return rc == 1 ? 0 : rc < 0 ? rc : -EIO;
}

/* The next CQE within @ms (0: only one already there): 1 with its res,
 * user_data and flags, 0 if none came, -errno. */
static inline int next_cqe(struct io_uring *ring, int ms, int *res,
			   uint64_t *data, unsigned *flags)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = (ms % 1000) * 1000000L };
	struct io_uring_cqe *cqe;
	int rc = ms ? io_uring_wait_cqe_timeout(ring, &cqe, &ts) :
		      io_uring_peek_cqe(ring, &cqe);

	if (rc == -ETIME || rc == -EAGAIN)
		return 0;
	if (rc)
		return rc;
	if (res)
		*res = cqe->res;
	if (data)
		*data = cqe->user_data;
	if (flags)
		*flags = cqe->flags;
	io_uring_cqe_seen(ring, cqe);
	return 1;
}

/* The res of the next CQE within @ms, which must carry @data; INT_MIN if
 * none came, INT_MIN + 1 if it was another request's. */
static inline int cqe_res(struct io_uring *ring, int ms, uint64_t data)
{
	uint64_t got;
	int res, rc = next_cqe(ring, ms, &res, &got, NULL);

	if (rc != 1)
		return INT_MIN;
	return got == data ? res : INT_MIN + 1;
}

/* Does the kernel have ->uring_cmd for device rings (bcast.ko: 6.7+)? */
static inline int uring_cmd_expected(void)
{
	return kernel_at_least(6, 7);
}

#endif
