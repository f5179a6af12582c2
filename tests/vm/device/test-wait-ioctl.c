// SPDX-License-Identifier: MIT
/*
 * BCAST_IOC_WAIT as the uapi header defines it: the events poll() would
 * report for the armed reader, at once if there are some, else once the
 * writer notifies, attaches or goes; 0 after the timeout, -EINTR on a
 * signal, never restarted; -EPERM for the writer, -EINVAL and -EFAULT for
 * bad arguments.  Many sleepers (beyond the wake-ups done in line) are all
 * woken by one NOTIFY.
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define KIB 1024ULL

/* BCAST_IOC_WAIT: the events, 0 on timeout, or -errno. */
static long wait_events(int fd, long long timeout_ns)
{
	struct bcast_wait_arg arg = { .timeout_ns = timeout_ns };
	long rc = ioctl(fd, BCAST_IOC_WAIT, &arg);

	return rc < 0 ? -errno : rc;
}

/* Publish one 8-byte frame's worth as a writer would, then notify. */
static int publish_and_notify(int fd, struct bcast_ring_hdr *h)
{
	__atomic_store_n(&h->committed, h->committed + 16, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&h->need_wakeup, __ATOMIC_RELAXED))
		return -1;
	return ioctl(fd, BCAST_IOC_NOTIFY) ? -1 : 0;
}

static void reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void on_signal(int sig)
{
	(void)sig;
}

/* A ring with its writer file and one reader file. */
FIXTURE(ring)
{
	unsigned minor;
	int r, w;
};

FIXTURE_SETUP(ring)
{
	ASSERT_EQ(0, ctl_create("wi-ring", 64 * KIB, 0, &self->minor));
	self->r = open_ring(self->minor, O_RDONLY);
	self->w = open_ring(self->minor, O_RDWR);
	ASSERT_LE(0, self->r);
	ASSERT_LE(0, self->w);
}

FIXTURE_TEARDOWN(ring)
{
	if (self->w >= 0)
		close(self->w);
	close(self->r);
	EXPECT_EQ(0, ctl_destroy("wi-ring"));
}

TEST_F(ring, wait_checks_its_argument)
{
	struct bcast_wait_arg arg = { .timeout_ns = 0, .reserved = 1 };

	EXPECT_EQ(-1, ioctl(self->r, BCAST_IOC_WAIT, &arg));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EFAULT, ioctl(self->r, BCAST_IOC_WAIT, (void *)16) ?
		  -errno : 0);
	EXPECT_EQ(-EPERM, wait_events(self->w, 0));
	/* The writer is present and nothing was published: a timeout. */
	EXPECT_EQ(0, arm_reader(self->r, 0, 0, 0));
	EXPECT_EQ(0, wait_events(self->r, 0));
}

/* Ready already: returns the events at once, whatever the timeout. */
TEST_F(ring, ready_returns_at_once)
{
	struct bcast_ring_hdr *h;
	size_t len;
	double t0;

	h = map_ring(self->w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, h);
	__atomic_store_n(&h->committed, 16, __ATOMIC_RELEASE);
	/* Armed behind committed: EPOLLIN, even with no time to wait. */
	EXPECT_EQ(1, arm_reader(self->r, 0, 0, 0));
	EXPECT_EQ(EPOLLIN | EPOLLRDNORM, wait_events(self->r, 0));
	t0 = now_s();
	EXPECT_EQ(EPOLLIN | EPOLLRDNORM, wait_events(self->r, -1));
	EXPECT_GT(0.5, now_s() - t0);
	/* No writer, armed without the flag: EPOLLHUP at once. */
	munmap(h, len);
	close(self->w);
	self->w = -1;
	EXPECT_EQ(0, arm_reader(self->r, 16, 0, 0));
	EXPECT_EQ(EPOLLHUP, wait_events(self->r, -1));
}

/* Nothing happens: it sleeps the whole timeout, using no CPU. */
TEST_F(ring, times_out_asleep)
{
	double t0, c0;

	EXPECT_EQ(0, arm_reader(self->r, 0, 0, 0));
	t0 = now_s();
	c0 = cpu_s();
	EXPECT_EQ(0, wait_events(self->r, 200 * 1000000LL));
	TH_LOG("200 ms timeout: %.1f ms, %.1f ms CPU", (now_s() - t0) * 1e3,
	       (cpu_s() - c0) * 1e3);
	EXPECT_LE(0.199, now_s() - t0);
	EXPECT_GT(2.0, now_s() - t0);
	EXPECT_GT(0.02, cpu_s() - c0);
}

/* A publish and NOTIFY from another process ends a wait without end. */
TEST(notify_wakes_the_waiter)
{
	unsigned minor;
	int r, status;
	double t0;
	pid_t pid;

	ASSERT_EQ(0, ctl_create("wi-wake", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	pid = fork();
	if (!pid) {
		struct bcast_ring_hdr *h;
		size_t len;
		int w = open_ring(minor, O_RDWR);

		if (w < 0 || !(h = map_ring(w, PROT_READ | PROT_WRITE, &len)))
			_exit(1);
		usleep(200000);
		if (publish_and_notify(w, h))
			_exit(2);
		usleep(500000);		/* present while the waiter looks */
		_exit(0);
	}
	ASSERT_LT(0, pid);
	/* The writer attaches first: wait for it, then arm at 0. */
	while (wait_events(r, 0) == EPOLLHUP)
		usleep(1000);
	EXPECT_EQ(0, arm_reader(r, 0, 0, 0));
	t0 = now_s();
	EXPECT_EQ(EPOLLIN | EPOLLRDNORM, wait_events(r, -1));
	TH_LOG("woken after %.1f ms", (now_s() - t0) * 1e3);
	EXPECT_LE(0.05, now_s() - t0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(r);
	EXPECT_EQ(0, ctl_destroy("wi-wake"));
}

/* The writer events: PRI when the next writer attaches, HUP when it goes. */
TEST(writer_attach_and_death_end_the_wait)
{
	unsigned minor;
	int r;
	pid_t pid;

	ASSERT_EQ(0, ctl_create("wi-writer", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	/* Never had a writer, and the reader knows: sleeps until one. */
	ASSERT_EQ(0, arm_reader(r, 0, 0, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(0, wait_events(r, 100 * 1000000LL));
	pid = fork();
	if (!pid) {
		int w;

		usleep(100000);
		w = open_ring(minor, O_RDWR);
		if (w < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_LT(0, pid);
	EXPECT_EQ(EPOLLPRI, wait_events(r, 5000 * 1000000LL));
	/* Writer 1 is there: re-armed on it, the death wakes the waiter. */
	ASSERT_EQ(0, arm_reader(r, 0, 0, 0));
	EXPECT_EQ(0, wait_events(r, 50 * 1000000LL));
	reap(pid);
	EXPECT_EQ(EPOLLHUP, wait_events(r, 5000 * 1000000LL));
	close(r);
	EXPECT_EQ(0, ctl_destroy("wi-writer"));
}

/* A signal ends the wait with -EINTR; it is not restarted. */
TEST_F(ring, a_signal_interrupts_the_wait)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct itimerval in_50ms = { { 0, 0 }, { 0, 50000 } };
	double t0;

	EXPECT_EQ(0, arm_reader(self->r, 0, 0, 0));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &in_50ms, NULL));
	t0 = now_s();
	EXPECT_EQ(-EINTR, wait_events(self->r, -1));
	EXPECT_GT(2.0, now_s() - t0);
	signal(SIGALRM, SIG_DFL);
}

/* More sleepers than the in-line wake-ups: one NOTIFY wakes them all. */
TEST(one_notify_wakes_every_waiter)
{
	enum { WAITERS = 12 };
	struct bcast_ring_hdr *h;
	pid_t kids[WAITERS];
	unsigned minor;
	int i, w, ready[2], status, ok = 0;
	size_t len;
	char c;

	ASSERT_EQ(0, ctl_create("wi-many", 64 * KIB, 0, &minor));
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	h = map_ring(w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, h);
	ASSERT_EQ(0, pipe(ready));
	for (i = 0; i < WAITERS; i++) {
		kids[i] = fork();
		if (!kids[i]) {
			int r = open_ring(minor, O_RDONLY);

			if (r < 0 || arm_reader(r, 0, 0, 0))
				_exit(1);
			if (write(ready[1], "x", 1) != 1)
				_exit(2);
			_exit(wait_events(r, 10000 * 1000000LL) ==
			      (EPOLLIN | EPOLLRDNORM) ? 0 : 3);
		}
		ASSERT_LT(0, kids[i]);
	}
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(1, read(ready[0], &c, 1));
	usleep(300000);				/* all asleep in the ioctl */
	EXPECT_EQ(0, publish_and_notify(w, h));
	for (i = 0; i < WAITERS; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	EXPECT_EQ(WAITERS, ok);
	munmap(h, len);
	close(w);
	close(ready[0]);
	close(ready[1]);
	EXPECT_EQ(0, ctl_destroy("wi-many"));
}

TEST_HARNESS_MAIN
