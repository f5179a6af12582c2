// SPDX-License-Identifier: MIT
/*
 * poll/epoll on a reader file as the uapi header defines it: EPOLLIN while
 * committed differs from the armed position; EPOLLHUP while there is no
 * writer unless the reader armed with BCAST_ARM_WRITER_GONE and the
 * ring's writer epoch; EPOLLPRI once a writer attached after that epoch.
 * A reader that has seen its writer go sleeps (level-triggered epoll
 * returns nothing, no CPU is used) until the next writer attaches.
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define KIB 1024ULL

static short poll_events(int fd, short events, int ms)
{
	struct pollfd pf = { .fd = fd, .events = events };

	return poll(&pf, 1, ms) > 0 ? pf.revents : 0;
}

/* An epoll set watching @fd, level-triggered, for @events. */
static int epoll_on(int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		return -1;
	return ep;
}

/* epoll_wait once: the events reported (0 on timeout). */
static uint32_t epoll_once(int ep, int ms)
{
	struct epoll_event ev;

	return epoll_wait(ep, &ev, 1, ms) == 1 ? ev.events : 0;
}

/*
 * Wait on @ep for @ms and report how much of it was spent awake: a storm
 * of level-triggered returns shows up as many returns and CPU time.
 */
struct sleep_check {
	int returns;
	double wall, cpu;
};

static struct sleep_check epoll_sleep(int ep, int ms)
{
	struct sleep_check c = { 0 };
	double t0 = now_s(), c0 = cpu_s(), end = t0 + ms / 1e3;
	struct epoll_event ev;

	for (;;) {
		int left = (int)((end - now_s()) * 1e3);

		if (left <= 0)
			break;
		if (epoll_wait(ep, &ev, 1, left) > 0)
			c.returns++;
		if (c.returns > 1000)
			break;
	}
	c.wall = now_s() - t0;
	c.cpu = cpu_s() - c0;
	return c;
}

/* A child that opens the ring as its writer after @delay_ms and holds it. */
static pid_t writer_after(unsigned minor, int delay_ms)
{
	pid_t pid = fork();

	if (!pid) {
		int fd;

		usleep(delay_ms * 1000);
		fd = open_ring(minor, O_RDWR);
		if (fd < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	return pid;
}

/* The eventfd's count once it is signalled (the kernel signals eventfds
 * right after it wakes the wait queue: a poller may look first). */
static ssize_t read_signal(int efd, uint64_t *v, int ms)
{
	poll_events(efd, POLLIN, ms);
	return read(efd, v, sizeof(*v));
}

static void reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

TEST(arm_checks_its_argument)
{
	struct bcast_arm arm = { 0 };
	unsigned minor;
	int r, w;

	ASSERT_EQ(0, ctl_create("p-arg", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, r);
	ASSERT_LE(0, w);
	arm.reserved = 1;
	EXPECT_EQ(-1, ioctl(r, BCAST_IOC_ARM, &arm));
	EXPECT_EQ(EINVAL, errno);
	arm.reserved = 0;
	arm.flags = 4;
	EXPECT_EQ(-1, ioctl(r, BCAST_IOC_ARM, &arm));
	EXPECT_EQ(EINVAL, errno);
	arm.flags = BCAST_ARM_WRITER_GONE | 0x80000000u;
	EXPECT_EQ(-1, ioctl(r, BCAST_IOC_ARM, &arm));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, arm_reader(r, 0, 0, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(-EPERM, arm_reader(w, 0, 0, 0));
	EXPECT_EQ(-EFAULT, ioctl(r, BCAST_IOC_ARM, (void *)16) ? -errno : 0);
	/* A reader that cannot write the wake page asks the kernel to say
	 * that its membarrier() failed; the flag stays. */
	{
		size_t len;
		const struct bcast_ring_hdr *h = map_ring(r, PROT_READ, &len);

		ASSERT_NE(NULL, h);
		EXPECT_EQ(0, h->reader_flags);
		EXPECT_EQ(0, arm_reader(r, 0, 0, BCAST_ARM_NO_MEMBARRIER));
		EXPECT_EQ(BCAST_READERS_NO_MEMBARRIER, h->reader_flags);
		EXPECT_EQ(0, arm_reader(r, 0, 0, 0));
		EXPECT_EQ(BCAST_READERS_NO_MEMBARRIER, h->reader_flags);
		munmap((void *)h, len);
	}
	close(w);
	close(r);
	EXPECT_EQ(0, ctl_destroy("p-arg"));
}

/* Never armed, or armed without the flag: EPOLLHUP with no writer. */
TEST(unarmed_reader_keeps_the_hangup)
{
	unsigned minor;
	int r, w, ep;

	ASSERT_EQ(0, ctl_create("p-old", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	EXPECT_EQ(POLLHUP, poll_events(r, POLLIN | POLLPRI, 0));
	ep = epoll_on(r, EPOLLIN | EPOLLPRI);
	ASSERT_LE(0, ep);
	EXPECT_EQ(EPOLLHUP, epoll_once(ep, 0));
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	EXPECT_EQ(0, poll_events(r, POLLIN | POLLPRI, 0));
	EXPECT_EQ(0, epoll_once(ep, 0));
	close(w);
	EXPECT_EQ(POLLHUP, poll_events(r, POLLIN | POLLPRI, 0));
	EXPECT_EQ(EPOLLHUP, epoll_once(ep, 0));
	/* Armed with a position only: the same. */
	EXPECT_EQ(0, arm_reader(r, 0, 0, 0));
	EXPECT_EQ(EPOLLHUP, epoll_once(ep, 0));
	close(ep);
	close(r);
	EXPECT_EQ(0, ctl_destroy("p-old"));
}

/* A ring that never had a writer: armed {pos, 0, WRITER_GONE} sleeps. */
TEST(never_had_a_writer_sleeps_until_one_attaches)
{
	struct sleep_check c;
	unsigned minor;
	double t0;
	int r, ep;
	pid_t pid;

	ASSERT_EQ(0, ctl_create("p-never", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	ep = epoll_on(r, EPOLLIN | EPOLLPRI);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, arm_reader(r, 0, 0, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(0, poll_events(r, POLLIN | POLLPRI, 0));
	c = epoll_sleep(ep, 200);
	TH_LOG("200 ms asleep: %d returns, %.1f ms CPU", c.returns,
	       c.cpu * 1e3);
	EXPECT_EQ(0, c.returns);
	EXPECT_GT(0.02, c.cpu);
	EXPECT_LE(0.19, c.wall);
	/* A writer attaching wakes the sleeper with EPOLLPRI. */
	pid = writer_after(minor, 100);
	ASSERT_LT(0, pid);
	t0 = now_s();
	EXPECT_EQ(EPOLLPRI, epoll_once(ep, 5000));
	TH_LOG("woken %.1f ms after the writer was started",
	       (now_s() - t0) * 1e3);
	EXPECT_GT(2.0, now_s() - t0);
	EXPECT_EQ(POLLPRI, poll_events(r, POLLIN | POLLPRI, 0));
	/* Level-triggered: it stays until the reader re-arms. */
	EXPECT_EQ(EPOLLPRI, epoll_once(ep, 0));
	EXPECT_EQ(0, arm_reader(r, 0, 1, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(0, epoll_once(ep, 0));	/* writer 1 is present */
	reap(pid);
	close(ep);
	close(r);
	EXPECT_EQ(0, ctl_destroy("p-never"));
}

/* After the writer died: HUP once, then sleep until the next writer. */
TEST(after_the_writer_died_the_reader_sleeps_until_the_next)
{
	struct sleep_check c;
	unsigned minor;
	int r, ep, efd;
	uint64_t v;
	pid_t pid;

	ASSERT_EQ(0, ctl_create("p-death", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioctl(r, BCAST_IOC_SET_EVENTFD, &efd));
	ep = epoll_on(r, EPOLLIN | EPOLLPRI);
	ASSERT_LE(0, ep);
	pid = writer_after(minor, 0);
	ASSERT_LT(0, pid);
	while (epoll_once(ep, 0) & EPOLLHUP)
		usleep(1000);			/* writer 1 attached */
	EXPECT_EQ(8, read_signal(efd, &v, 2000));	/* signalled on attach */
	reap(pid);
	/* The death: HUP (unarmed, and armed without the flag). */
	EXPECT_EQ(EPOLLHUP, epoll_once(ep, 5000) & (EPOLLHUP | EPOLLPRI));
	EXPECT_EQ(8, read_signal(efd, &v, 2000));
	/* Armed with the wrong epoch: a writer came after it, PRI | HUP. */
	EXPECT_EQ(0, arm_reader(r, 0, 0, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(EPOLLPRI | EPOLLHUP, epoll_once(ep, 0));
	/* The reader saw writer 1 go: no EPOLLHUP storm, no CPU. */
	EXPECT_EQ(0, arm_reader(r, 0, 1, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(0, poll_events(r, POLLIN | POLLPRI, 0));
	c = epoll_sleep(ep, 200);
	TH_LOG("200 ms asleep: %d returns, %.1f ms CPU", c.returns,
	       c.cpu * 1e3);
	EXPECT_EQ(0, c.returns);
	EXPECT_GT(0.02, c.cpu);
	EXPECT_EQ(-1, read(efd, &v, sizeof(v)));
	/* The next writer wakes it (EPOLLPRI) and signals the eventfd. */
	pid = writer_after(minor, 100);
	ASSERT_LT(0, pid);
	EXPECT_EQ(EPOLLPRI, epoll_once(ep, 5000));
	EXPECT_EQ(8, read_signal(efd, &v, 2000));
	/* It dies before the reader re-arms: both, level-triggered. */
	reap(pid);
	EXPECT_EQ(EPOLLPRI | EPOLLHUP, epoll_once(ep, 0));
	EXPECT_EQ(0, arm_reader(r, 0, 2, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(0, epoll_once(ep, 50));
	close(ep);
	close(efd);
	close(r);
	EXPECT_EQ(0, ctl_destroy("p-death"));
}

/* EPOLLIN is the position's business, whatever the writer flags say. */
TEST(data_wakes_a_reader_waiting_for_the_next_writer)
{
	struct bcast_ring_hdr *h;
	unsigned minor;
	size_t len;
	int r, w, ep;
	pid_t pid;

	ASSERT_EQ(0, ctl_create("p-data", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	w = open_ring(minor, O_RDWR);		/* epoch 1 */
	ASSERT_LE(0, r);
	ASSERT_LE(0, w);
	h = map_ring(w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, h);
	munmap(h, len);
	close(w);				/* gone */
	ep = epoll_on(r, EPOLLIN | EPOLLPRI);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, arm_reader(r, 0, 1, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(0, epoll_once(ep, 0));
	/* A second writer publishes from another process and notifies. */
	pid = fork();
	if (!pid) {
		struct bcast_ring_hdr *ch;
		size_t clen;
		int fd = open_ring(minor, O_RDWR);

		if (fd < 0 || !(ch = map_ring(fd, PROT_READ | PROT_WRITE, &clen)))
			_exit(1);
		usleep(100000);
		__atomic_store_n(&ch->committed, 64, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&ch->need_wakeup, __ATOMIC_RELAXED))
			_exit(2);
		_exit(ioctl(fd, BCAST_IOC_NOTIFY) ? 3 : 0);
	}
	ASSERT_LT(0, pid);
	/* PRI as it attaches; IN once it published. */
	EXPECT_EQ(EPOLLPRI, epoll_once(ep, 5000) & EPOLLPRI);
	ASSERT_EQ(0, arm_reader(r, 0, 2, BCAST_ARM_WRITER_GONE));
	EXPECT_NE(0, epoll_once(ep, 5000) & EPOLLIN);
	{
		int status;

		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	EXPECT_EQ(1, arm_reader(r, 0, 2, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(0, arm_reader(r, 64, 2, BCAST_ARM_WRITER_GONE));
	EXPECT_EQ(0, epoll_once(ep, 0));
	close(ep);
	close(r);
	EXPECT_EQ(0, ctl_destroy("p-data"));
}

/* poll() sleepers in other processes are woken by the attach too. */
TEST(poll_sleepers_in_other_processes_wake_on_attach)
{
	enum { SLEEPERS = 8 };
	pid_t kids[SLEEPERS], wpid;
	unsigned minor;
	int i, status, ok = 0;

	ASSERT_EQ(0, ctl_create("p-many", 64 * KIB, 0, &minor));
	for (i = 0; i < SLEEPERS; i++) {
		kids[i] = fork();
		if (!kids[i]) {
			int r = open_ring(minor, O_RDONLY);

			if (r < 0 || arm_reader(r, 0, 0, BCAST_ARM_WRITER_GONE))
				_exit(1);
			_exit(poll_events(r, POLLIN | POLLPRI, 10000) == POLLPRI ?
			      0 : 2);
		}
		ASSERT_LT(0, kids[i]);
	}
	usleep(300000);				/* all asleep in poll() */
	wpid = writer_after(minor, 0);
	ASSERT_LT(0, wpid);
	for (i = 0; i < SLEEPERS; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	EXPECT_EQ(SLEEPERS, ok);
	reap(wpid);
	EXPECT_EQ(0, ctl_destroy("p-many"));
}

TEST_HARNESS_MAIN
