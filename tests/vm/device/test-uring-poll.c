// SPDX-License-Identifier: MIT
/*
 * io_uring's IORING_OP_POLL_ADD on a reader file armed with BCAST_IOC_ARM
 * (or the library's bcast_reader_arm()), on every kernel: one-shot, a CQE
 * once a writer in another process publishes and none before; multishot,
 * one CQE per arm and publish; POLLHUP when the writer closes or dies;
 * POLLPRI for the next writer after arming with BCAST_ARM_WRITER_GONE;
 * 100,000 sleep/wake round trips without a lost wake-up
 * (BCAST_URING_CYCLES sets how many).
 */
#include <poll.h>
#include "kselftest_harness.h"
#include "uring.h"
#include "bcast.h"
#include "env.h"

#define KIB 1024ULL
#define NAME "u-poll"

/* A ring whose writer is a child process, a reader file, an io_uring. */
FIXTURE(ring)
{
	unsigned minor;
	int r;
	const struct bcast_ring_hdr *h;	/* the reader's mapping */
	size_t len;
	struct writer_child wc;
	struct io_uring uring;
};

FIXTURE_SETUP(ring)
{
	ctl_destroy(NAME);
	ASSERT_EQ(0, ctl_create(NAME, 64 * KIB, 0, &self->minor));
	self->r = open_ring(self->minor, O_RDONLY);
	ASSERT_LE(0, self->r);
	self->h = map_ring(self->r, PROT_READ, &self->len);
	ASSERT_NE(NULL, self->h);
	ASSERT_EQ(0, writer_child_start(&self->wc, self->minor));
	ASSERT_EQ(0, io_uring_queue_init(8, &self->uring, 0));
}

FIXTURE_TEARDOWN(ring)
{
	io_uring_queue_exit(&self->uring);
	if (self->wc.pid > 0)
		writer_child_stop(&self->wc, SIGKILL);
	munmap((void *)self->h, self->len);
	close(self->r);
	EXPECT_EQ(0, ctl_destroy(NAME));
}

/* One POLL_ADD for @events on @fd, tagged @data: 0 or -errno. */
static int submit_poll(struct io_uring *ring, int fd, unsigned events,
		       int multishot, uint64_t data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	int rc;

	if (!sqe)
		return -EBUSY;
	if (multishot)
		io_uring_prep_poll_multishot(sqe, fd, events);
	else
		io_uring_prep_poll_add(sqe, fd, events);
	io_uring_sqe_set_data64(sqe, data);
	rc = io_uring_submit(ring);
	return rc == 1 ? 0 : rc < 0 ? rc : -EIO;
}

/* Remove poll @data: 0 once both CQEs (the removal's and the poll's
 * last, which must say the poll is over) came, else -1. */
static int remove_poll(struct io_uring *ring, uint64_t data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	int i, res, seen = 0;
	unsigned flags;
	uint64_t got;

	if (!sqe)
		return -1;
	io_uring_prep_poll_remove(sqe, data);
	io_uring_sqe_set_data64(sqe, ~0ULL);
	if (io_uring_submit(ring) != 1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (next_cqe(ring, 5000, &res, &got, &flags) != 1)
			return -1;
		if (got == data && !(flags & IORING_CQE_F_MORE))
			seen |= 1;
		else if (got == ~0ULL && res == 0)
			seen |= 2;
	}
	return seen == 3 ? 0 : -1;
}

TEST_F(ring, oneshot_poll_wakes_on_a_publish_and_not_before)
{
	uint64_t pos = committed_of(self->h);

	EXPECT_EQ(0, arm_reader(self->r, pos, 0, 0));
	ASSERT_EQ(0, submit_poll(&self->uring, self->r, POLLIN, 0, 1));
	EXPECT_EQ(0, next_cqe(&self->uring, 200, NULL, NULL, NULL));
	ASSERT_EQ(0, writer_child_tell(&self->wc, WRITER_PUBLISH));
	EXPECT_EQ(POLLIN, cqe_res(&self->uring, 5000, 1) & (POLLIN | POLLHUP));
	EXPECT_EQ(pos + PUBLISH_STEP, committed_of(self->h));
	/* Level-triggered until re-armed: the next one-shot is done at once. */
	ASSERT_EQ(0, submit_poll(&self->uring, self->r, POLLIN, 0, 2));
	EXPECT_EQ(POLLIN, cqe_res(&self->uring, 1000, 2) & POLLIN);
	/* Re-armed at the new position: asleep again. */
	EXPECT_EQ(0, arm_reader(self->r, pos + PUBLISH_STEP, 0, 0));
	ASSERT_EQ(0, submit_poll(&self->uring, self->r, POLLIN, 0, 3));
	EXPECT_EQ(0, next_cqe(&self->uring, 200, NULL, NULL, NULL));
	ASSERT_EQ(0, remove_poll(&self->uring, 3));
}

/* A library writer in a child: attaches, says so on @ack, publishes the
 * int 42 when @cmd has a byte, and exits when @cmd closes. */
static void library_writer(int cmd, int ack)
{
	struct bcast_writer *w;
	struct bcast_ring *ring;
	int v = 42;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (bcast_ring_open(NAME, BCAST_RDWR, &ring) ||
	    bcast_writer_open(ring, &w) || write(ack, "a", 1) != 1)
		_exit(1);
	while (read(cmd, &c, 1) == 1)
		if (bcast_publish(w, &v, sizeof(v), 0))
			_exit(2);
	_exit(0);
}

/* The library's reader: bcast_reader_fd() and bcast_reader_arm(). */
TEST_F(ring, library_reader_fd_armed_by_the_library)
{
	int fd, v = -1, cmd[2], ack[2], status;
	struct bcast_reader *rd;
	struct bcast_ring *ring;
	pid_t pid;
	char c;

	/* The library reader reads frames: the raw writer child makes none. */
	ASSERT_EQ(0, writer_child_stop(&self->wc, 0));
	self->wc.pid = 0;
	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(ack));
	pid = fork();
	if (!pid) {
		close(cmd[1]);
		close(ack[0]);
		library_writer(cmd[0], ack[1]);
	}
	ASSERT_LT(0, pid);
	close(cmd[0]);
	close(ack[1]);
	ASSERT_EQ(1, read(ack[0], &c, 1));	/* writer 2 attached */
	ASSERT_EQ(0, bcast_ring_open(NAME, BCAST_RDONLY, &ring));
	ASSERT_EQ(0, bcast_reader_open(ring, BCAST_FROM_LATEST, &rd));
	fd = bcast_reader_fd(rd);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bcast_reader_arm(rd));
	ASSERT_EQ(0, submit_poll(&self->uring, fd, POLLIN, 0, 7));
	EXPECT_EQ(0, next_cqe(&self->uring, 200, NULL, NULL, NULL));
	ASSERT_EQ(1, write(cmd[1], "p", 1));
	EXPECT_EQ(POLLIN, cqe_res(&self->uring, 5000, 7) & (POLLIN | POLLHUP));
	EXPECT_EQ(sizeof(v), bcast_receive(rd, &v, sizeof(v), NULL));
	EXPECT_EQ(42, v);
	/* Read up: armed again, asleep again. */
	EXPECT_EQ(0, bcast_reader_arm(rd));
	ASSERT_EQ(0, submit_poll(&self->uring, fd, POLLIN, 0, 8));
	EXPECT_EQ(0, next_cqe(&self->uring, 200, NULL, NULL, NULL));
	/* The writer goes: the arm was for that too. */
	close(cmd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(POLLHUP, cqe_res(&self->uring, 5000, 8) & POLLHUP);
	close(ack[0]);
	bcast_reader_close(rd);
	bcast_ring_close(ring);
}

/* Multishot: exactly one CQE, flagged MORE, per arm and publish. */
TEST_F(ring, multishot_poll_one_cqe_per_arm_and_publish)
{
	int cycles = (int)env_u64("BCAST_URING_MULTISHOT_CYCLES", 1000), i;
	int lost = 0, extra = 0, unflagged = 0;

	ASSERT_EQ(0, arm_reader(self->r, committed_of(self->h), 0, 0));
	ASSERT_EQ(0, submit_poll(&self->uring, self->r, POLLIN, 1, 5));
	EXPECT_EQ(0, next_cqe(&self->uring, 100, NULL, NULL, NULL));
	for (i = 0; i < cycles; i++) {
		unsigned flags = 0;
		uint64_t data = 0;
		int res = 0;

		ASSERT_EQ(0, writer_child_tell(&self->wc, WRITER_PUBLISH));
		if (next_cqe(&self->uring, 5000, &res, &data, &flags) != 1 ||
		    data != 5 || !(res & POLLIN)) {
			lost++;
			break;
		}
		unflagged += !(flags & IORING_CQE_F_MORE);
		/* Re-arm where the writer is now; nothing more may come. */
		ASSERT_EQ(0, arm_reader(self->r, committed_of(self->h), 0, 0));
		extra += next_cqe(&self->uring, 0, NULL, NULL, NULL);
	}
	extra += next_cqe(&self->uring, 200, NULL, NULL, NULL);
	TH_LOG("%d cycles: %d lost, %d extra CQEs, %d without MORE", i, lost,
	       extra, unflagged);
	EXPECT_EQ(cycles, i);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, extra);
	EXPECT_EQ(0, unflagged);
	EXPECT_EQ(0, remove_poll(&self->uring, 5));
}

TEST_F(ring, hangup_when_the_writer_closes)
{
	ASSERT_EQ(0, arm_reader(self->r, committed_of(self->h), 0, 0));
	ASSERT_EQ(0, submit_poll(&self->uring, self->r, POLLIN, 0, 1));
	EXPECT_EQ(0, next_cqe(&self->uring, 100, NULL, NULL, NULL));
	EXPECT_EQ(0, writer_child_stop(&self->wc, 0));	/* closes, exits */
	self->wc.pid = 0;
	EXPECT_EQ(POLLHUP, cqe_res(&self->uring, 5000, 1) & (POLLHUP | POLLIN));
}

TEST_F(ring, hangup_when_the_writer_is_killed)
{
	ASSERT_EQ(0, arm_reader(self->r, committed_of(self->h), 0, 0));
	ASSERT_EQ(0, submit_poll(&self->uring, self->r, POLLIN, 1, 1));
	EXPECT_EQ(0, next_cqe(&self->uring, 100, NULL, NULL, NULL));
	EXPECT_EQ(-1, writer_child_stop(&self->wc, SIGKILL));
	self->wc.pid = 0;
	EXPECT_EQ(POLLHUP, cqe_res(&self->uring, 5000, 1) & (POLLHUP | POLLIN));
	EXPECT_EQ(0, remove_poll(&self->uring, 1));
}

/* Armed for writer 1 gone: no HUP storm, POLLPRI when writer 2 comes. */
TEST_F(ring, the_next_writer_wakes_a_reader_that_saw_the_last_go)
{
	unsigned flags;
	int res, n = 0;

	EXPECT_EQ(1, self->h->writer_epoch);
	EXPECT_EQ(0, writer_child_stop(&self->wc, 0));
	self->wc.pid = 0;
	ASSERT_EQ(0, arm_reader(self->r, committed_of(self->h), 1,
				BCAST_ARM_WRITER_GONE));
	ASSERT_EQ(0, submit_poll(&self->uring, self->r, POLLIN | POLLPRI, 1, 9));
	while (next_cqe(&self->uring, 300, &res, NULL, &flags) == 1 && n < 100)
		n++;
	EXPECT_EQ(0, n);			/* 300 ms asleep */
	ASSERT_EQ(0, writer_child_start(&self->wc, self->minor));
	res = cqe_res(&self->uring, 5000, 9);
	EXPECT_EQ(POLLPRI, res & (POLLPRI | POLLHUP | POLLIN));
	EXPECT_EQ(2, self->h->writer_epoch);
	EXPECT_EQ(0, remove_poll(&self->uring, 9));
}

/*
 * Round trips: the reader arms and sleeps in a one-shot POLL_ADD, and
 * tells the writer to publish (before arming, so that the publish lands
 * anywhere in that sequence, or once asleep).  A wait that times out with
 * the data there, and that nothing ends within 20 s more, is a lost
 * wake-up.
 */
FIXTURE(slow)
{
	int unused;
};

FIXTURE_SETUP(slow)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(slow)
{
}

TEST_F_TIMEOUT(slow, hundred_thousand_poll_add_round_trips, 1500)
{
	int cycles = (int)env_u64("BCAST_URING_CYCLES", 100000), i;
	int missed = 0, stalled = 0, wrong = 0, ready = 0, late = 0;
	const struct bcast_ring_hdr *h;
	struct writer_child wc;
	struct io_uring uring;
	unsigned minor;
	uint64_t start;
	size_t len;
	double t0;
	int r;

	ctl_destroy("u-pong");
	ASSERT_EQ(0, ctl_create("u-pong", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	h = map_ring(r, PROT_READ, &len);
	ASSERT_NE(NULL, h);
	ASSERT_EQ(0, writer_child_start(&wc, minor));
	ASSERT_EQ(0, io_uring_queue_init(4, &uring, 0));
	start = committed_of(h);
	t0 = now_s();
	for (i = 0; i < cycles && missed + stalled + wrong < 10; i++) {
		uint64_t pos = start + (uint64_t)i * PUBLISH_STEP;
		int res, rc;

		/* Odd rounds: the publish races the arm; even: it follows the
		 * POLL_ADD, so that half the rounds at least sleep. */
		if (i & 1)
			ASSERT_EQ(0, writer_child_tell(&wc, WRITER_PUBLISH));
		rc = arm_reader(r, pos, 0, 0);
		ASSERT_LE(0, rc);
		ready += rc;
		ASSERT_EQ(0, submit_poll(&uring, r, POLLIN, 0, i));
		if (!(i & 1))
			ASSERT_EQ(0, writer_child_tell(&wc, WRITER_PUBLISH));
		res = cqe_res(&uring, 2000, i);
		if (res == INT_MIN) {
			/* Nothing else will wake it: only a slow VM makes it
			 * late, a lost wake-up never comes. */
			int there = committed_of(h) != pos;

			res = cqe_res(&uring, 20000, i);
			late += res != INT_MIN;
			if (res == INT_MIN) {
				missed += there;
				stalled += !there;
				ASSERT_EQ(0, remove_poll(&uring, i));
			}
		}
		if (res != INT_MIN && !(res & POLLIN))
			wrong++;
		/* The next round starts from this one's publish. */
		while (committed_of(h) == pos)
			usleep(10);
	}
	TH_LOG("%d round trips in %.2f s (%d found the data when arming): "
	       "%d lost wake-ups, %d stalls, %d wrong CQEs, %d later than 2 s",
	       i, now_s() - t0, ready, missed, stalled, wrong, late);
	EXPECT_EQ(cycles, i);
	EXPECT_EQ(0, missed);
	EXPECT_EQ(0, stalled);
	EXPECT_EQ(0, wrong);
	EXPECT_EQ(0, writer_child_stop(&wc, 0));
	EXPECT_EQ(start + (uint64_t)i * PUBLISH_STEP, committed_of(h));
	io_uring_queue_exit(&uring);
	munmap((void *)h, len);
	close(r);
	EXPECT_EQ(0, ctl_destroy("u-pong"));
}

TEST_HARNESS_MAIN
