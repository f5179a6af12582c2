// SPDX-License-Identifier: MIT
/*
 * The io_uring examples of README.md, whole: a reader of a device ring
 * (bcast.ko) sleeps in its own io_uring, through IORING_OP_POLL_ADD after
 * bcast_reader_arm(), or through bcast.ko's BCAST_URING_WAIT command
 * (Linux 6.7 and later; where the module refuses it, the example says so
 * and polls).  The writer publishes COUNT numbered messages, pausing
 * between them so that the reader (a child process) sleeps, and goes; the
 * reader checks that every message came in order and that the writer's
 * departure (its file closing: POLLHUP) ended its loop.  Needs liburing and a loaded bcast.ko; exit status 77 without
 * the module.  Usage: uring-device [poll|wait] [COUNT] (default wait, 2000)
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <liburing.h>
#include <bcast.h>
#include <linux/bcast.h>

#define RING_NAME "example-uring"

static uint64_t next;		/* the number the next message must carry */

static int fail(const char *what, int err)
{
	fprintf(stderr, "uring-device: %s: %s\n", what, bcast_strerror(err));
	return 1;
}

/* bcast_receive() until -EAGAIN: 0, or -EPROTO for a message out of turn. */
static int drain(struct bcast_reader *rd)
{
	uint64_t v;
	ssize_t len;

	while ((len = bcast_receive(rd, &v, sizeof(v), NULL)) != -EAGAIN) {
		if (len != sizeof(v) || v != next)
			return -EPROTO;
		next++;
	}
	return 0;
}

static struct io_uring ring;

/* Arm, then poll the reader's file: 1 if a message came in between
 * (nothing submitted), 0 submitted. */
static int submit_poll(struct bcast_reader *rd)
{
	int armed = bcast_reader_arm(rd);           /* 1: a message is there already */

	if (armed == 0) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_poll_add(sqe, bcast_reader_fd(rd), POLLIN | POLLPRI);
		io_uring_submit(&ring);
	}
	return armed;
}

/* Arm and wait in one SQE; then the reader's barrier, which stands in for
 * the writer's fence, and a look at what came before the kernel armed. */
static int submit_wait(struct bcast_reader *rd)
{
	struct bcast_uring_wait arg = { .pos = bcast_reader_position(rd) };
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, bcast_reader_fd(rd), NULL, 0, 0);
	sqe->cmd_op = BCAST_URING_WAIT;
	memcpy(sqe->cmd, &arg, sizeof(arg));
	io_uring_submit(&ring);                     /* the kernel arms the file */
	syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
	return drain(rd);                           /* then wait for the CQE */
}

/* The reader's loop, until the writer's POLLHUP. */
static int read_all(struct bcast_reader *rd, bool wait_cmd)
{
	struct io_uring_cqe *cqe;
	int err, res;

	err = io_uring_queue_init(4, &ring, 0);
	if (err)
		return fail("io_uring_queue_init", err);
	for (;;) {
		err = drain(rd);
		if (err)
			break;
		err = wait_cmd ? submit_wait(rd) : submit_poll(rd);
		if (err < 0)
			break;
		if (err == 1)
			continue;	/* a message, nothing submitted */
		err = io_uring_wait_cqe(&ring, &cqe);
		if (err)
			break;
		res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (res == -EOPNOTSUPP && wait_cmd) {
			printf("reader: BCAST_URING_WAIT refused by this kernel "
			       "(before 6.7): arm and poll instead\n");
			wait_cmd = false;
			continue;
		}
		if (res < 0) {
			err = res;
			break;
		}
		if ((res & POLLHUP) && !(res & POLLIN)) {
			err = drain(rd);	/* the writer went: the rest */
			break;
		}
	}
	io_uring_queue_exit(&ring);
	return err;
}

/* The reader, in a process of its own that opens the ring by name: the
 * writer's POLLHUP comes when the writer's file closes, and a child that
 * shared the parent's would hold it open. */
static int reader(int created, int ready, bool wait_cmd, uint64_t count)
{
	struct bcast_reader *rd;
	struct bcast_ring *r;
	char c;
	int err;

	if (read(created, &c, 1) != 1)
		return 1;
	err = bcast_ring_open(RING_NAME, BCAST_RDONLY, &r);
	if (!err)
		err = bcast_reader_open(r, BCAST_FROM_OLDEST, &rd);
	if (err)
		return fail(RING_NAME, err);
	if (write(ready, "r", 1) != 1)
		return 1;
	err = read_all(rd, wait_cmd);
	if (err)
		fail("reading", err);
	printf("reader: %llu of %llu messages\n", (unsigned long long)next,
	       (unsigned long long)count);
	fflush(stdout);		/* the child leaves through _exit() */
	bcast_reader_close(rd);
	bcast_ring_close(r);
	return err || next != count;
}

/* The writer: publish, then close the writer and the ring (its file). */
static int writer(int created, int ready, uint64_t count)
{
	struct bcast_ring_opts o = { .size = 1 << 20 };
	struct bcast_writer *w;
	struct bcast_ring *r;
	uint64_t i;
	char c;
	int err;

	bcast_ring_destroy(RING_NAME);
	err = bcast_ring_create(RING_NAME, &o, &r);
	if (!err)
		err = bcast_writer_open(r, &w);
	if (err)
		return fail(RING_NAME, err);
	if (write(created, "c", 1) != 1 || read(ready, &c, 1) != 1)
		return 1;
	for (i = 0; i < count; i++) {
		err = bcast_publish(w, &i, sizeof(i), 0);
		if (err)
			return fail("bcast_publish", err);
		if (i % 4 == 3)
			usleep(300);	/* the reader falls asleep */
	}
	bcast_writer_close(w);
	bcast_ring_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	bool wait_cmd = argc < 2 || !strcmp(argv[1], "wait");
	uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 0) : 2000;
	int created[2], ready[2], status, rc;
	pid_t pid;

	if (argc > 3 || (argc > 1 && !wait_cmd && strcmp(argv[1], "poll")) ||
	    !count || count > 40000) {
		fprintf(stderr, "usage: uring-device [poll|wait] [COUNT (1..40000)]\n");
		return 2;
	}
	if (access("/dev/bcast-ctl", F_OK)) {
		printf("uring-device: needs bcast.ko (no /dev/bcast-ctl)\n");
		return 77;
	}
	if (pipe(created) || pipe(ready))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(created[1]);
		close(ready[0]);
		_exit(reader(created[0], ready[1], wait_cmd, count));
	}
	close(created[0]);
	close(ready[1]);
	rc = writer(created[1], ready[0], count);
	close(created[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		rc = 1;
	bcast_ring_destroy(RING_NAME);
	return rc;
}
