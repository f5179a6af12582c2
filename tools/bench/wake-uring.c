// SPDX-License-Identifier: MIT
/*
 * The wake-up test's io_uring waits, through liburing as an application
 * would write them: a one-shot IORING_OP_POLL_ADD, and bcast.ko's
 * BCAST_URING_WAIT (IORING_OP_URING_CMD, Linux 6.7+; liburing 2.3 has no
 * helper for it, so the SQE is filled here).  Without liburing's headers
 * at build time the io_uring rows are left out and say so.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "wake.h"

#ifdef BCAST_HAVE_LIBURING
#include <liburing.h>

struct wake_uring {
	struct io_uring ring;
};

int wake_uring_open(struct wake_uring **out)
{
	struct wake_uring *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	err = io_uring_queue_init(8, &u->ring, 0);
	if (err) {
		free(u);
		return err;
	}
	*out = u;
	return 0;
}

void wake_uring_close(struct wake_uring *u)
{
	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	free(u);
}

/* Submit the prepared SQE and wait for its completion. */
static int submit_and_reap(struct wake_uring *u, int ms, int *res)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = (ms % 1000) * 1000000L };
	struct io_uring_cqe *cqe;
	int at_once, rc;

	rc = io_uring_submit(&u->ring);
	if (rc != 1)
		return rc < 0 ? rc : -EIO;
	at_once = io_uring_peek_cqe(&u->ring, &cqe) == 0;
	if (!at_once) {
		do {
			rc = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
		} while (rc == -EINTR);
		if (rc == -ETIME)
			return -ETIMEDOUT;
		if (rc)
			return rc;
	}
	*res = cqe->res;
	io_uring_cqe_seen(&u->ring, cqe);
	return at_once;
}

int wake_uring_poll(struct wake_uring *u, int fd, unsigned events, int ms,
		    int *res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, events);
	return submit_and_reap(u, ms, res);
}

int wake_uring_cmd_wait(struct wake_uring *u, int fd, uint64_t pos, int ms,
			int *res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	struct bcast_uring_wait arg = { .pos = pos };

	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = BCAST_URING_WAIT;
	memcpy(sqe->cmd, &arg, sizeof(arg));
	return submit_and_reap(u, ms, res);
}

#else /* !BCAST_HAVE_LIBURING */

int wake_uring_open(struct wake_uring **out)
{
	*out = NULL;
	return -ENOTSUP;
}

void wake_uring_close(struct wake_uring *u)
{
	(void)u;
}

int wake_uring_poll(struct wake_uring *u, int fd, unsigned events, int ms,
		    int *res)
{
	(void)u, (void)fd, (void)events, (void)ms, (void)res;
	return -ENOTSUP;
}

int wake_uring_cmd_wait(struct wake_uring *u, int fd, uint64_t pos, int ms,
			int *res)
{
	(void)u, (void)fd, (void)pos, (void)ms, (void)res;
	return -ENOTSUP;
}

#endif
