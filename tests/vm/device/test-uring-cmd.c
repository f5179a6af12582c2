// SPDX-License-Identifier: MIT
/*
 * BCAST_URING_WAIT and BCAST_URING_WAIT_GONE (IORING_OP_URING_CMD on a
 * reader file) as the uapi header defines them: from 6.7 (and the kernel
 * must agree with uname: -EOPNOTSUPP before) a CQE with the poll() events
 * at once when ready, else when a writer publishes, closes, dies or, after
 * WAIT_GONE, attaches; -EBUSY, -EPERM, -EINVAL; -ECANCELED by
 * BCAST_IOC_CANCEL, racing the wake-up (exactly one of them completes);
 * io_uring's own cancellation when the ring closes or the task exits or is
 * killed, after which the module unloads; 100,000 sleep/wake round trips
 * without a lost wake-up (BCAST_URING_CYCLES).  And, on every kernel, the
 * writer's write() of 8 bytes as a NOTIFY, by io_uring too.
 */
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include "kselftest_harness.h"
#include "uring.h"
#include "env.h"

#define KIB 1024ULL
#define NAME "u-cmd"
#define KO "/opt/bcast.ko"
#define READY (EPOLLIN | EPOLLRDNORM)

/* Before 6.7 the command must fail with -EOPNOTSUPP; the test ends there. */
#define NEED_URING_CMD(uring, fd)                                             \
	do {                                                                  \
		if (!uring_cmd_expected()) {                                  \
			ASSERT_EQ(0, submit_uring_cmd(uring, fd,              \
						      BCAST_URING_WAIT, 0, 0, \
						      99));                   \
			ASSERT_EQ(-EOPNOTSUPP, cqe_res(uring, 5000, 99));     \
			SKIP(return, "before 6.7: -EOPNOTSUPP, as it must");  \
		}                                                             \
	} while (0)

static int sh(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* No CQE for @ms: what a pending command shows. */
static int quiet_for(struct io_uring *uring, int ms)
{
	return next_cqe(uring, ms, NULL, NULL, NULL) == 0;
}

/* waitpid() for at most @ms: the status, or -1 if it did not exit. */
static int waitpid_within(pid_t pid, int ms)
{
	double end = now_s() + ms / 1e3;
	int status;

	do {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(5000);
	} while (now_s() < end);
	return -1;
}

/* sysfs `readers` of @minor once it is @n, within @ms: 1, else 0. */
static int readers_become(unsigned minor, long long n, int ms)
{
	double end = now_s() + ms / 1e3;

	do {
		if (sysfs_num(minor, "readers") == n)
			return 1;
		usleep(5000);
	} while (now_s() < end);
	return 0;
}

/* A ring with an io_uring, a reader file and the writer file, mapped. */
FIXTURE(ring)
{
	unsigned minor;
	int r, w;
	struct bcast_ring_hdr *h;
	size_t len;
	struct io_uring uring;
	int destroyed;
};

FIXTURE_SETUP(ring)
{
	ctl_destroy(NAME);
	ASSERT_EQ(0, ctl_create(NAME, 64 * KIB, 0, &self->minor));
	self->r = open_ring(self->minor, O_RDONLY);
	self->w = open_ring(self->minor, O_RDWR);
	ASSERT_LE(0, self->r);
	ASSERT_LE(0, self->w);
	self->h = map_ring(self->w, PROT_READ | PROT_WRITE, &self->len);
	ASSERT_NE(NULL, self->h);
	ASSERT_EQ(0, io_uring_queue_init(8, &self->uring, 0));
	self->destroyed = 0;
}

FIXTURE_TEARDOWN(ring)
{
	io_uring_queue_exit(&self->uring);
	munmap(self->h, self->len);
	if (self->w >= 0)
		close(self->w);
	close(self->r);
	if (!self->destroyed)
		EXPECT_EQ(0, ctl_destroy(NAME));
}

static void close_writer(FIXTURE_DATA(ring) *self)
{
	munmap(self->h, self->len);
	self->h = NULL;
	close(self->w);
	self->w = -1;
}

TEST_F(ring, the_kernel_answers_as_its_version_says)
{
	int res;

	ASSERT_EQ(0, publish(self->h) ? -1 : 0);	/* nobody armed */
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      0, 0, 1));
	res = cqe_res(&self->uring, 5000, 1);
	TH_LOG("%s: BCAST_URING_WAIT on data already there: %d",
	       uring_cmd_expected() ? "6.7 or later" : "before 6.7", res);
	EXPECT_EQ(uring_cmd_expected() ? READY : -EOPNOTSUPP, res);
	/* No WAIT can be pending: nothing to cancel, on any kernel. */
	EXPECT_EQ(0, ioctl(self->r, BCAST_IOC_CANCEL));
	EXPECT_EQ(-1, ioctl(self->w, BCAST_IOC_CANCEL));
	EXPECT_EQ(EPERM, errno);
}

/* Ready already: the CQE is there when the submission returns. */
TEST_F(ring, a_ready_wait_completes_at_once)
{
	struct io_uring_sqe *sqe;

	NEED_URING_CMD(&self->uring, self->r);
	publish(self->h);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      0, 0, 1));
	EXPECT_EQ(READY, cqe_res(&self->uring, 0, 1));
	/* Issued by an io-wq worker (IOSQE_ASYNC): the same answer. */
	sqe = io_uring_get_sqe(&self->uring);
	ASSERT_NE(NULL, sqe);
	prep_uring_cmd(sqe, self->r, BCAST_URING_WAIT, 0, 0, 2);
	sqe->flags |= IOSQE_ASYNC;
	ASSERT_EQ(1, io_uring_submit(&self->uring));
	EXPECT_EQ(READY, cqe_res(&self->uring, 5000, 2));
	/* No writer, and not armed for its departure: EPOLLHUP. */
	close_writer(self);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      PUBLISH_STEP, 0, 3));
	EXPECT_EQ(EPOLLHUP, cqe_res(&self->uring, 0, 3));
	/* Armed for a writer that is not the last one: a new one came. */
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r,
				      BCAST_URING_WAIT_GONE, PUBLISH_STEP, 0,
				      4));
	EXPECT_EQ(EPOLLPRI | EPOLLHUP, cqe_res(&self->uring, 0, 4));
}

/* A ring whose writer is a child process, a reader, an io_uring. */
FIXTURE(child)
{
	unsigned minor;
	int r;
	const struct bcast_ring_hdr *h;
	size_t len;
	struct writer_child wc;
	struct io_uring uring;
};

FIXTURE_SETUP(child)
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

FIXTURE_TEARDOWN(child)
{
	io_uring_queue_exit(&self->uring);
	if (self->wc.pid > 0)
		writer_child_stop(&self->wc, SIGKILL);
	munmap((void *)self->h, self->len);
	close(self->r);
	EXPECT_EQ(0, ctl_destroy(NAME));
}

TEST_F(child, a_publish_from_another_process_ends_the_wait)
{
	struct io_uring_sqe *sqe;
	uint64_t pos = committed_of(self->h);

	NEED_URING_CMD(&self->uring, self->r);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      pos, 1, 1));
	EXPECT_TRUE(quiet_for(&self->uring, 200));
	EXPECT_EQ(1, self->h->need_wakeup);
	ASSERT_EQ(0, writer_child_tell(&self->wc, WRITER_PUBLISH));
	EXPECT_EQ(READY, cqe_res(&self->uring, 5000, 1));
	EXPECT_EQ(pos + PUBLISH_STEP, committed_of(self->h));
	/* The same, issued from io-wq. */
	sqe = io_uring_get_sqe(&self->uring);
	ASSERT_NE(NULL, sqe);
	prep_uring_cmd(sqe, self->r, BCAST_URING_WAIT, pos + PUBLISH_STEP, 1, 2);
	sqe->flags |= IOSQE_ASYNC;
	ASSERT_EQ(1, io_uring_submit(&self->uring));
	EXPECT_TRUE(quiet_for(&self->uring, 200));
	ASSERT_EQ(0, writer_child_tell(&self->wc, WRITER_PUBLISH));
	EXPECT_EQ(READY, cqe_res(&self->uring, 5000, 2));
}

TEST_F(child, the_writer_closing_ends_the_wait_with_hup)
{
	NEED_URING_CMD(&self->uring, self->r);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      committed_of(self->h), 1, 1));
	EXPECT_TRUE(quiet_for(&self->uring, 200));
	EXPECT_EQ(0, writer_child_stop(&self->wc, 0));
	self->wc.pid = 0;
	EXPECT_EQ(EPOLLHUP, cqe_res(&self->uring, 5000, 1));
}

TEST_F(child, the_writer_killed_ends_the_wait_with_hup)
{
	NEED_URING_CMD(&self->uring, self->r);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      committed_of(self->h), 1, 1));
	EXPECT_TRUE(quiet_for(&self->uring, 200));
	EXPECT_EQ(-1, writer_child_stop(&self->wc, SIGKILL));
	self->wc.pid = 0;
	EXPECT_EQ(EPOLLHUP, cqe_res(&self->uring, 5000, 1));
}

/* WAIT_GONE for writer 1: asleep (no HUP) until writer 2 attaches. */
TEST_F(child, wait_gone_sleeps_until_the_next_writer)
{
	NEED_URING_CMD(&self->uring, self->r);
	EXPECT_EQ(0, writer_child_stop(&self->wc, 0));
	self->wc.pid = 0;
	ASSERT_EQ(1, self->h->writer_epoch);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r,
				      BCAST_URING_WAIT_GONE,
				      committed_of(self->h), 1, 1));
	EXPECT_TRUE(quiet_for(&self->uring, 300));
	ASSERT_EQ(0, writer_child_start(&self->wc, self->minor));
	EXPECT_EQ(EPOLLPRI, cqe_res(&self->uring, 5000, 1));
	EXPECT_EQ(2, self->h->writer_epoch);
}

TEST_F(ring, one_wait_per_file)
{
	struct pollfd pf = { .fd = self->r, .events = POLLIN };
	uint64_t got[2] = { 0, 0 };
	int r2, res[2], i;

	NEED_URING_CMD(&self->uring, self->r);
	r2 = open_ring(self->minor, O_RDONLY);
	ASSERT_LE(0, r2);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      0, 0, 1));
	/* A second on the same file: -EBUSY, and it must not re-arm it. */
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      PUBLISH_STEP, 0, 2));
	EXPECT_EQ(-EBUSY, cqe_res(&self->uring, 5000, 2));
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r,
				      BCAST_URING_WAIT_GONE, PUBLISH_STEP, 0, 2));
	EXPECT_EQ(-EBUSY, cqe_res(&self->uring, 5000, 2));
	/* Another file of the ring has its own. */
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, r2, BCAST_URING_WAIT, 0, 0,
				      3));
	EXPECT_TRUE(quiet_for(&self->uring, 100));
	/* Published without a NOTIFY: the file is still armed at 0. */
	__atomic_store_n(&self->h->committed, PUBLISH_STEP, __ATOMIC_RELEASE);
	EXPECT_EQ(1, poll(&pf, 1, 0));
	EXPECT_EQ(POLLIN, pf.revents);
	/* Cancelled, the file takes a new one. */
	EXPECT_EQ(1, ioctl(self->r, BCAST_IOC_CANCEL));
	EXPECT_EQ(-ECANCELED, cqe_res(&self->uring, 5000, 1));
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      PUBLISH_STEP, 0, 4));
	EXPECT_TRUE(quiet_for(&self->uring, 100));
	__atomic_store_n(&self->h->committed, 2 * PUBLISH_STEP, __ATOMIC_RELEASE);
	ASSERT_EQ(0, ioctl(self->w, BCAST_IOC_NOTIFY));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(1, next_cqe(&self->uring, 5000, &res[i], &got[i], NULL));
	EXPECT_EQ(7, got[0] + got[1]);		/* 3 and 4 */
	EXPECT_EQ(READY, res[0]);
	EXPECT_EQ(READY, res[1]);
	EXPECT_TRUE(quiet_for(&self->uring, 100));
	close(r2);
}

/* What is refused, and does not arm the file either. */
TEST_F(ring, refusals)
{
	struct io_uring_sqe *sqe;
	unsigned i;
	static const unsigned bad_ops[] = { 0, BCAST_URING_WAIT - 1,
					    BCAST_URING_WAIT_GONE + 1,
					    BCAST_IOC_ARM, BCAST_URING_WAIT |
					    0x10000 };

	NEED_URING_CMD(&self->uring, self->r);
	ASSERT_EQ(0, self->h->need_wakeup);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->w, BCAST_URING_WAIT,
				      0, 0, 1));
	EXPECT_EQ(-EPERM, cqe_res(&self->uring, 5000, 1));
	for (i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
		ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, bad_ops[i],
					      0, 0, 10 + i));
		EXPECT_EQ(-EINVAL, cqe_res(&self->uring, 5000, 10 + i));
	}
	/* Fields of the SQE that a WAIT does not use must be 0. */
	for (i = 0; i < 5; i++) {
		sqe = io_uring_get_sqe(&self->uring);
		ASSERT_NE(NULL, sqe);
		prep_uring_cmd(sqe, self->r, BCAST_URING_WAIT, 0, 0, 20 + i);
		switch (i) {
		case 0: sqe->addr = 8; break;
		case 1: sqe->len = 1; break;
		case 2: sqe->ioprio = 1; break;
		case 3: sqe->buf_index = 1; break;
		case 4: sqe->file_index = 1; break;
		}
		ASSERT_EQ(1, io_uring_submit(&self->uring));
		EXPECT_EQ(-EINVAL, cqe_res(&self->uring, 5000, 20 + i));
	}
	EXPECT_EQ(0, self->h->need_wakeup);
	/* io_uring's own cancel request does not reach a WAIT: -ENOENT. */
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      0, 0, 30));
	EXPECT_EQ(1, self->h->need_wakeup);
	sqe = io_uring_get_sqe(&self->uring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_cancel64(sqe, 30, 0);
	io_uring_sqe_set_data64(sqe, 31);
	ASSERT_EQ(1, io_uring_submit(&self->uring));
	EXPECT_EQ(-ENOENT, cqe_res(&self->uring, 5000, 31));
	EXPECT_EQ(1, ioctl(self->r, BCAST_IOC_CANCEL));
	EXPECT_EQ(-ECANCELED, cqe_res(&self->uring, 5000, 30));
}

TEST_F(ring, cancel_ioctl)
{
	NEED_URING_CMD(&self->uring, self->r);
	EXPECT_EQ(0, ioctl(self->r, BCAST_IOC_CANCEL));
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      0, 0, 1));
	EXPECT_TRUE(quiet_for(&self->uring, 100));
	EXPECT_EQ(1, ioctl(self->r, BCAST_IOC_CANCEL));
	EXPECT_EQ(-ECANCELED, cqe_res(&self->uring, 2000, 1));
	EXPECT_EQ(0, ioctl(self->r, BCAST_IOC_CANCEL));
	EXPECT_TRUE(quiet_for(&self->uring, 100));
	/* The file is not left armed by the cancelled wait's side: it
	 * still works, and a publish ends the next one. */
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      0, 0, 2));
	EXPECT_TRUE(quiet_for(&self->uring, 100));
	ASSERT_EQ(0, publish_and_notify(self->w, self->h));
	EXPECT_EQ(READY, cqe_res(&self->uring, 5000, 2));
}

/* A publish and NOTIFY racing BCAST_IOC_CANCEL, from two threads. */
struct race {
	pthread_barrier_t go;
	int r, w;
	struct bcast_ring_hdr *h;
	int rounds;
	int *result;			/* per round: the ioctl's answer */
};

static void *race_cancel(void *arg)
{
	struct race *rc = arg;
	int i;

	for (i = 0; i < rc->rounds; i++) {
		pthread_barrier_wait(&rc->go);
		if (i & 1)
			spin_us(i % 7);
		rc->result[i] = ioctl(rc->r, BCAST_IOC_CANCEL);
		pthread_barrier_wait(&rc->go);
	}
	return NULL;
}

static void *race_notify(void *arg)
{
	struct race *rc = arg;
	int i;

	for (i = 0; i < rc->rounds; i++) {
		pthread_barrier_wait(&rc->go);
		if (!(i & 1))
			spin_us(i % 7);
		publish_and_notify(rc->w, rc->h);
		pthread_barrier_wait(&rc->go);
	}
	return NULL;
}

TEST_F_TIMEOUT(ring, cancel_and_wake_race_exactly_one_completes, 600)
{
	struct race rc = { .r = self->r, .w = self->w, .h = self->h };
	int i, woken = 0, cancels = 0, lies = 0, lost = 0, extra = 0;
	pthread_t a, b;

	NEED_URING_CMD(&self->uring, self->r);
	rc.rounds = (int)env_u64("BCAST_URING_RACE_ROUNDS", 3000);
	rc.result = calloc(rc.rounds, sizeof(int));
	ASSERT_NE(NULL, rc.result);
	ASSERT_EQ(0, pthread_barrier_init(&rc.go, NULL, 3));
	ASSERT_EQ(0, pthread_create(&a, NULL, race_cancel, &rc));
	ASSERT_EQ(0, pthread_create(&b, NULL, race_notify, &rc));
	for (i = 0; i < rc.rounds; i++) {
		int res;

		ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r,
					      BCAST_URING_WAIT,
					      committed_of(self->h), 0, i));
		pthread_barrier_wait(&rc.go);
		pthread_barrier_wait(&rc.go);
		res = cqe_res(&self->uring, 5000, i);
		if (res == READY && rc.result[i] == 0)
			woken++;
		else if (res == -ECANCELED && rc.result[i] == 1)
			cancels++;
		else if (res == INT_MIN)
			lost++;
		else
			lies++;
		extra += next_cqe(&self->uring, 0, NULL, NULL, NULL);
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	extra += next_cqe(&self->uring, 200, NULL, NULL, NULL);
	TH_LOG("%d rounds: %d woken, %d cancelled, %d lost, %d inconsistent, "
	       "%d extra CQEs", rc.rounds, woken, cancels, lost, lies, extra);
	EXPECT_EQ(rc.rounds, woken + cancels);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, lies);
	EXPECT_EQ(0, extra);
	pthread_barrier_destroy(&rc.go);
	free(rc.result);
}

/* Closing the io_uring cancels its WAIT: the file takes the next one. */
TEST_F(ring, closing_the_io_uring_cancels_the_wait)
{
	struct io_uring other;
	double t0;
	int res;

	NEED_URING_CMD(&self->uring, self->r);
	ASSERT_EQ(0, io_uring_queue_init(4, &other, 0));
	ASSERT_EQ(0, submit_uring_cmd(&other, self->r, BCAST_URING_WAIT, 0, 0,
				      1));
	EXPECT_TRUE(quiet_for(&other, 100));
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      0, 0, 2));
	EXPECT_EQ(-EBUSY, cqe_res(&self->uring, 5000, 2));
	io_uring_queue_exit(&other);
	/* The ring's teardown runs in a kernel worker: allow it 10 s. */
	t0 = now_s();
	do {
		usleep(10000);
		ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r,
					      BCAST_URING_WAIT, 0, 0, 3));
		res = cqe_res(&self->uring, 50, 3);
	} while (res == -EBUSY && now_s() - t0 < 10);
	TH_LOG("the file was free again after %.1f ms", (now_s() - t0) * 1e3);
	EXPECT_EQ(INT_MIN, res);		/* pending: no CQE */
	EXPECT_EQ(1, ioctl(self->r, BCAST_IOC_CANCEL));
	EXPECT_EQ(-ECANCELED, cqe_res(&self->uring, 5000, 3));
}

/* Destroying the ring leaves a pending WAIT pending; its writer's close
 * ends it. */
TEST_F(ring, a_destroyed_ring_keeps_its_wait)
{
	NEED_URING_CMD(&self->uring, self->r);
	ASSERT_EQ(0, submit_uring_cmd(&self->uring, self->r, BCAST_URING_WAIT,
				      0, 0, 1));
	ASSERT_EQ(0, ctl_destroy(NAME));
	self->destroyed = 1;
	EXPECT_TRUE(quiet_for(&self->uring, 200));
	close_writer(self);
	EXPECT_EQ(EPOLLHUP, cqe_res(&self->uring, 5000, 1));
}

/*
 * A child that opens a reader of @minor, leaves a request pending on it
 * (a WAIT_GONE, or where there is none a POLL_ADD after BCAST_IOC_ARM,
 * both for the first writer of a ring that never had one), closes its fd
 * and says so on @ready; it exits when @cmd closes.
 */
static pid_t child_with_pending(unsigned minor, int use_cmd, int *ready,
				int *cmd)
{
	int rp[2], cp[2];
	pid_t pid;
	char c;

	if (pipe(rp) || pipe(cp))
		return -1;
	pid = fork();
	if (!pid) {
		struct io_uring uring;
		int r = open_ring(minor, O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rp[0]);
		close(cp[1]);
		if (r < 0 || io_uring_queue_init(4, &uring, 0))
			_exit(1);
		if (use_cmd) {
			if (submit_uring_cmd(&uring, r, BCAST_URING_WAIT_GONE,
					     0, 0, 1))
				_exit(2);
		} else {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&uring);

			if (arm_reader(r, 0, 0, BCAST_ARM_WRITER_GONE) || !sqe)
				_exit(3);
			io_uring_prep_poll_add(sqe, r, POLLIN | POLLPRI);
			if (io_uring_submit(&uring) != 1)
				_exit(4);
		}
		if (!quiet_for(&uring, 100))
			_exit(5);
		close(r);			/* the request holds the file */
		if (write(rp[1], "r", 1) != 1)
			_exit(6);
		while (read(cp[0], &c, 1) == 1)
			;
		_exit(0);			/* with the request pending */
	}
	close(rp[1]);
	close(cp[0]);
	*ready = rp[0];
	*cmd = cp[1];
	return pid;
}

/*
 * The child exits (or is killed) with its request pending: it exits
 * promptly, the file goes, and then the module unloads.  While the
 * request is pending, the module must refuse to.
 */
static void exit_with_pending(struct __test_metadata *_metadata, int use_cmd,
			      int kill_it)
{
	int ready, cmd, status;
	unsigned minor;
	double t0;
	pid_t pid;
	char c;

	ctl_destroy("u-exit");
	ASSERT_EQ(0, ctl_create("u-exit", 64 * KIB, 0, &minor));
	pid = child_with_pending(minor, use_cmd, &ready, &cmd);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, read(ready, &c, 1));
	EXPECT_EQ(1, sysfs_num(minor, "readers"));
	EXPECT_NE(0, sh("rmmod bcast 2>/dev/null"));
	t0 = now_s();
	if (kill_it)
		kill(pid, SIGKILL);
	close(cmd);
	status = waitpid_within(pid, 10000);
	TH_LOG("%s with a pending %s: gone after %.1f ms",
	       kill_it ? "killed" : "exiting", use_cmd ? "WAIT" : "POLL_ADD",
	       (now_s() - t0) * 1e3);
	ASSERT_NE(-1, status);
	if (kill_it) {
		EXPECT_TRUE(WIFSIGNALED(status));
	} else {
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	close(ready);
	EXPECT_TRUE(readers_become(minor, 0, 10000));
	EXPECT_EQ(0, ctl_destroy("u-exit"));
	/* Nothing holds the module now. */
	EXPECT_EQ(0, sh("rmmod bcast"));
	ASSERT_EQ(0, sh("insmod " KO));
}

TEST(exit_with_a_pending_wait_then_unload)
{
	if (!uring_cmd_expected())
		SKIP(return, "before 6.7: no WAIT (see the POLL_ADD case)");
	exit_with_pending(_metadata, 1, 0);
}

TEST(killed_with_a_pending_wait_then_unload)
{
	if (!uring_cmd_expected())
		SKIP(return, "before 6.7: no WAIT (see the POLL_ADD case)");
	exit_with_pending(_metadata, 1, 1);
}

TEST(exit_with_a_pending_poll_add_then_unload)
{
	exit_with_pending(_metadata, 0, 0);
}

TEST(killed_with_a_pending_poll_add_then_unload)
{
	exit_with_pending(_metadata, 0, 1);
}

/* Children exiting with a WAIT pending while the writer notifies them. */
TEST_F_TIMEOUT(ring, exits_racing_wake_ups, 600)
{
	int n = (int)env_u64("BCAST_URING_EXIT_ROUNDS", 100), i;

	NEED_URING_CMD(&self->uring, self->r);
	for (i = 0; i < n; i++) {
		int p[2], status;
		pid_t pid;
		char c;

		ASSERT_EQ(0, pipe(p));
		pid = fork();
		if (!pid) {
			struct io_uring uring;
			int r = open_ring(self->minor, O_RDONLY);

			if (r < 0 || io_uring_queue_init(4, &uring, 0) ||
			    submit_uring_cmd(&uring, r, BCAST_URING_WAIT,
					     committed_of(self->h), 0, 1) ||
			    write(p[1], "r", 1) != 1)
				_exit(1);
			if (i & 1)
				spin_us(i % 13);
			_exit(0);
		}
		ASSERT_LT(0, pid);
		close(p[1]);
		ASSERT_EQ(1, read(p[0], &c, 1));
		close(p[0]);
		if (!(i & 1))
			spin_us(i % 13);
		ASSERT_EQ(0, publish_and_notify(self->w, self->h));
		status = waitpid_within(pid, 10000);
		ASSERT_NE(-1, status);
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	EXPECT_TRUE(readers_become(self->minor, 1, 10000));
}

/* The writer's write() of 8 bytes is a NOTIFY; other lengths are not. */
TEST_F(ring, an_eight_byte_write_notifies)
{
	struct pollfd pf = { .fd = self->r, .events = POLLIN };
	uint64_t v = 0;
	char buf[16] = { 0 };

	EXPECT_EQ(0, arm_reader(self->r, 0, 0, 0));
	EXPECT_EQ(1, self->h->need_wakeup);
	/* None of these notifies. */
	EXPECT_EQ(-1, write(self->w, buf, 7));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->w, buf, 9));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->w, buf, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->r, &v, 8));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(1, self->h->need_wakeup);
	EXPECT_EQ(0, poll(&pf, 1, 0));
	EXPECT_EQ(8, write(self->w, &v, 8));
	EXPECT_EQ(0, self->h->need_wakeup);
	/* A notify since the reader armed: ready until it re-arms. */
	EXPECT_EQ(1, poll(&pf, 1, 0));
	EXPECT_EQ(POLLIN, pf.revents);
}

/* Has this process an io-wq worker thread (comm "iou-wrk-PID")? */
static int has_iowq_worker(void)
{
	char path[64], comm[32];
	struct dirent *d;
	int found = 0;
	DIR *dir = opendir("/proc/self/task");

	while (dir && !found && (d = readdir(dir))) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		found = fgets(comm, sizeof(comm), f) &&
			!strncmp(comm, "iou-wrk-", 8);
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return found;
}

/*
 * A writer child that publishes and then notifies through its own
 * io_uring (IORING_OP_WRITE of 8 bytes; with IOSQE_ASYNC when told 'a');
 * a 7-byte one must fail first.  An io-wq worker must have run them.
 * Exits when @cmd closes: 0 if every step went as it should.
 */
static void uring_writer(unsigned minor, int ready, int cmd)
{
	struct bcast_ring_hdr *h;
	struct io_uring uring;
	uint64_t v = 0;
	size_t len;
	int w, res;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	w = open_ring(minor, O_RDWR);
	h = w >= 0 ? map_ring(w, PROT_READ | PROT_WRITE, &len) : NULL;
	if (!h || io_uring_queue_init(4, &uring, 0) || write(ready, "a", 1) != 1)
		_exit(1);
	while (read(cmd, &c, 1) == 1) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&uring);

		if (!sqe)
			_exit(2);
		io_uring_prep_write(sqe, w, &v, 7, 0);
		io_uring_sqe_set_data64(sqe, 1);
		if (io_uring_submit(&uring) != 1 ||
		    cqe_res(&uring, 5000, 1) != -EINVAL)
			_exit(3);
		if (!publish(h))
			_exit(4);		/* the reader must be armed */
		sqe = io_uring_get_sqe(&uring);
		if (!sqe)
			_exit(2);
		io_uring_prep_write(sqe, w, &v, sizeof(v), 0);
		io_uring_sqe_set_data64(sqe, 2);
		if (c == 'a')
			sqe->flags |= IOSQE_ASYNC;
		if (io_uring_submit(&uring) != 1)
			_exit(5);
		res = cqe_res(&uring, 5000, 2);
		if (res != sizeof(v))
			_exit(6);
		if (!has_iowq_worker())
			_exit(7);
		if (write(ready, "n", 1) != 1)
			_exit(8);
	}
	_exit(0);
}

TEST(io_uring_write_on_the_writer_file_notifies)
{
	int ready[2], cmd[2], status, r, round;
	struct io_uring uring;
	unsigned minor;
	pid_t pid;
	char c;

	ctl_destroy("u-write");
	ASSERT_EQ(0, ctl_create("u-write", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, io_uring_queue_init(4, &uring, 0));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(cmd));
	pid = fork();
	if (!pid) {
		close(ready[0]);
		close(cmd[1]);
		uring_writer(minor, ready[1], cmd[0]);
	}
	ASSERT_LT(0, pid);
	close(ready[1]);
	close(cmd[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	/* Rounds 0 and 1: a POLL_ADD sleeps (any kernel), the write is plain
	 * then IOSQE_ASYNC; round 2: a WAIT (6.7+), IOSQE_ASYNC. */
	for (round = 0; round < 2 + uring_cmd_expected(); round++) {
		uint64_t pos = round * PUBLISH_STEP;

		if (round < 2) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&uring);

			ASSERT_EQ(0, arm_reader(r, pos, 0, 0));
			io_uring_prep_poll_add(sqe, r, POLLIN);
			io_uring_sqe_set_data64(sqe, 10);
			ASSERT_EQ(1, io_uring_submit(&uring));
		} else {
			ASSERT_EQ(0, submit_uring_cmd(&uring, r,
						      BCAST_URING_WAIT, pos, 1,
						      11));
		}
		EXPECT_TRUE(quiet_for(&uring, 100));
		ASSERT_EQ(1, write(cmd[1], round ? "a" : "n", 1));
		ASSERT_EQ(1, read(ready[0], &c, 1));
		if (round < 2) {
			EXPECT_EQ(POLLIN, cqe_res(&uring, 5000, 10) & POLLIN);
		} else {
			EXPECT_EQ(READY, cqe_res(&uring, 5000, 11));
		}
	}
	close(cmd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(ready[0]);
	io_uring_queue_exit(&uring);
	close(r);
	EXPECT_EQ(0, ctl_destroy("u-write"));
}

/*
 * Round trips: the reader sleeps in a WAIT at its position and tells the
 * writer to publish, before submitting (the publish lands anywhere in the
 * arm) or after.  A wait that times out with the data there, and that
 * nothing ends within 20 s more, is a lost wake-up.
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

TEST_F_TIMEOUT(slow, hundred_thousand_wait_round_trips, 1500)
{
	int cycles = (int)env_u64("BCAST_URING_CYCLES", 100000), i;
	int missed = 0, stalled = 0, wrong = 0, late = 0;
	const struct bcast_ring_hdr *h;
	struct writer_child wc;
	struct io_uring uring;
	unsigned minor;
	uint64_t start;
	size_t len;
	double t0;
	int r;

	/* (the_kernel_answers_as_its_version_says checks the refusal) */
	if (!uring_cmd_expected())
		SKIP(return, "before 6.7: no WAIT");
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
		int res;

		if (i & 1)
			ASSERT_EQ(0, writer_child_tell(&wc, WRITER_PUBLISH));
		ASSERT_EQ(0, submit_uring_cmd(&uring, r, BCAST_URING_WAIT, pos,
					      1, i));
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
				ASSERT_EQ(1, ioctl(r, BCAST_IOC_CANCEL));
				ASSERT_EQ(-ECANCELED, cqe_res(&uring, 5000, i));
			}
		}
		if (res != INT_MIN && res != READY)
			wrong++;
		while (committed_of(h) == pos)
			usleep(10);
	}
	TH_LOG("%d round trips in %.2f s: %d lost wake-ups, %d stalls, "
	       "%d wrong CQEs, %d later than 2 s", i, now_s() - t0, missed,
	       stalled, wrong, late);
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
