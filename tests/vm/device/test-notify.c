// SPDX-License-Identifier: MIT
/*
 * BCAST_IOC_NOTIFY with many readers (issue 8 point 12): every reader is
 * woken and every eventfd signalled, exactly once per notify, whether the
 * module wakes them in line (a few) or from its worker (many); no wake-up
 * is lost over thousands of sleep/wake rounds with the worker path in
 * use; files and rings torn down while wake-ups are queued; the per-ring
 * reader cap (max_readers, ENOSPC beyond it, exact under contention).
 *
 *   test-notify                       the tests (kselftest harness)
 *   test-notify --measure [N,N,...] [--rounds R]
 *                                     the writer's cost of one NOTIFY with
 *                                     N readers asleep in an epoll set,
 *                                     each with an eventfd (default
 *                                     1,100,10000): wall time of the
 *                                     ioctl and the writer thread's CPU
 *                                     time in it (median, p10, p90)
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

/* The reader fds of one ring, each with an eventfd, in an epoll set. */
struct readers {
	int n;
	int *fd, *efd;
	int ep;				/* the reader fds, EPOLLIN */
	char *seen;
};

static int raise_nofile(int n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= (rlim_t)n)
		return 0;
	rl.rlim_cur = n;
	if (rl.rlim_max < (rlim_t)n)
		rl.rlim_max = n;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

static void readers_close(struct readers *rs)
{
	int i;

	for (i = 0; i < rs->n; i++) {
		if (rs->fd[i] >= 0)
			close(rs->fd[i]);
		if (rs->efd[i] >= 0)
			close(rs->efd[i]);
	}
	if (rs->ep >= 0)
		close(rs->ep);
	free(rs->fd);
	free(rs->efd);
	free(rs->seen);
	memset(rs, 0, sizeof(*rs));
	rs->ep = -1;
}

/* @n readers of /dev/bcast@minor: 0 or -errno (what failed is logged). */
static int readers_open(struct readers *rs, unsigned minor, int n)
{
	int i, err = raise_nofile(2 * n + 64);

	memset(rs, 0, sizeof(*rs));
	rs->ep = -1;
	if (err) {
		printf("# RLIMIT_NOFILE %d: %s\n", 2 * n + 64, strerror(-err));
		return err;
	}
	rs->fd = malloc(n * sizeof(int));
	rs->efd = malloc(n * sizeof(int));
	rs->seen = calloc(n, 1);
	rs->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!rs->fd || !rs->efd || !rs->seen || rs->ep < 0)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		rs->efd[i] = -1;
		rs->fd[i] = open_ring(minor, O_RDONLY);
		rs->n = i + 1;
		if (rs->fd[i] < 0) {
			err = -errno;
			printf("# reader %d: open: %s\n", i, strerror(errno));
			return err;
		}
		rs->efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (rs->efd[i] < 0 ||
		    ioctl(rs->fd[i], BCAST_IOC_SET_EVENTFD, &rs->efd[i]) ||
		    epoll_ctl(rs->ep, EPOLL_CTL_ADD, rs->fd[i], &ev)) {
			err = -errno;
			printf("# reader %d: eventfd/epoll: %s\n", i,
			       strerror(errno));
			return err;
		}
	}
	return 0;
}

/* For --measure against a bcast.ko of ABI 1 (struct bcast_arm { pos; }). */
static int old_abi;

static int arm_all(struct readers *rs, unsigned long long pos)
{
	int i, rc;

	for (i = 0; i < rs->n; i++) {
		if (old_abi)
			rc = ioctl(rs->fd[i], _IOW(BCAST_IOC_MAGIC, 0x10, __u64),
				   &pos) < 0 ? -errno : 0;
		else
			rc = arm_reader(rs->fd[i], pos, 0, 0);
		if (rc == -ENOTTY && i == 0 && !old_abi) {
			old_abi = 1;
			printf("# BCAST_IOC_ARM unknown: measuring an ABI 1 bcast.ko\n");
			i--;
			continue;
		}
		if (rc)
			return rc < 0 ? rc : -EALREADY;
	}
	memset(rs->seen, 0, rs->n);
	return 0;
}

/* Wait until every reader fd polled EPOLLIN: the number seen. */
static int collect_woken(struct readers *rs, int ms)
{
	struct epoll_event ev[1024];
	double end = now_s() + ms / 1e3;
	int seen = 0, i, k;

	while (seen < rs->n) {
		int left = (int)((end - now_s()) * 1e3);

		k = epoll_wait(rs->ep, ev, 1024, left > 0 ? left : 0);
		for (i = 0; i < k; i++) {
			unsigned idx = ev[i].data.u32;

			if (idx < (unsigned)rs->n && !rs->seen[idx]) {
				rs->seen[idx] = 1;
				seen++;
			}
		}
		if (left <= 0)
			break;
	}
	return seen;
}

/*
 * Read every eventfd until each was signalled (or @ms passed): the number
 * whose count was exactly 1; *@signalled gets how many were signalled.
 */
static int collect_eventfds(struct readers *rs, int ms, int *signalled)
{
	double end = now_s() + ms / 1e3;
	int i, exact = 0;

	memset(rs->seen, 0, rs->n);
	*signalled = 0;
	for (;;) {
		for (i = 0; i < rs->n; i++) {
			uint64_t v;

			if (rs->seen[i] || read(rs->efd[i], &v, sizeof(v)) != 8)
				continue;
			rs->seen[i] = 1;
			++*signalled;
			exact += v == 1;
		}
		if (*signalled == rs->n || now_s() > end)
			return exact;
		usleep(1000);
	}
}

/* The writer side: a ring and its mapped writer file. */
struct wside {
	unsigned minor;
	int w;
	struct bcast_ring_hdr *h;
	size_t len;
};

static int wside_open(struct wside *ws, const char *name)
{
	ctl_destroy(name);
	if (ctl_create(name, 64 * KIB, 0, &ws->minor))
		return -1;
	ws->w = open_ring(ws->minor, O_RDWR);
	ws->h = ws->w >= 0 ? map_ring(ws->w, PROT_READ | PROT_WRITE, &ws->len) :
		NULL;
	return ws->h ? 0 : -1;
}

static void wside_close(struct wside *ws, const char *name)
{
	if (ws->h)
		munmap(ws->h, ws->len);
	if (ws->w >= 0)
		close(ws->w);
	ctl_destroy(name);
}

/* Publish as a writer does: committed (release), full fence, need_wakeup. */
static int publish(struct wside *ws, unsigned long long pos)
{
	__atomic_store_n(&ws->h->committed, pos, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&ws->h->need_wakeup, __ATOMIC_RELAXED);
}

/* Every reader woken and every eventfd signalled once per notify. */
static void every_reader_once(struct __test_metadata *_metadata, int n,
			      int rounds)
{
	struct readers rs;
	struct wside ws;
	int round;

	ASSERT_EQ(0, wside_open(&ws, "n-every"));
	ASSERT_EQ(0, readers_open(&rs, ws.minor, n));
	EXPECT_EQ(n, sysfs_num(ws.minor, "readers"));
	for (round = 1; round <= rounds; round++) {
		int woken, signalled, exact;

		ASSERT_EQ(0, arm_all(&rs, (round - 1) * 8ULL));
		EXPECT_EQ(0, collect_woken(&rs, 0));
		EXPECT_EQ(1, publish(&ws, round * 8ULL));
		ASSERT_EQ(0, ioctl(ws.w, BCAST_IOC_NOTIFY));
		woken = collect_woken(&rs, 10000);
		exact = collect_eventfds(&rs, 10000, &signalled);
		if (woken != n || signalled != n || exact != n)
			TH_LOG("round %d: %d of %d woken, %d signalled, %d exactly once",
			       round, woken, n, signalled, exact);
		ASSERT_EQ(n, woken);
		ASSERT_EQ(n, signalled);
		ASSERT_EQ(n, exact);
	}
	readers_close(&rs);
	wside_close(&ws, "n-every");
}

TEST(two_readers_woken_in_line_once_per_notify)
{
	every_reader_once(_metadata, 2, 50);
}

TEST(three_hundred_readers_woken_by_the_worker_once_per_notify)
{
	every_reader_once(_metadata, 300, 20);
}

/*
 * The Dekker handshake through the worker path: a reader process sleeps
 * in epoll_wait on one reader fd while 100 more sit in an epoll set (so
 * the ring's wait queue is long); the writer publishes, notifies when
 * need_wakeup says so, and waits for the reader's acknowledgement.  A
 * lost wake-up shows as a reader asleep for 2 s with data pending.
 */
FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(slow)
{
}

static int handshake_reader(unsigned minor, int rounds, int ack)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct bcast_ring_hdr *h;
	struct readers idle;
	unsigned long long pos = 0;
	int r, ep, i, sleeps = 0;
	size_t len;

	if (readers_open(&idle, minor, 100))
		return 10;
	r = open_ring(minor, O_RDONLY);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (r < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, r, &ev))
		return 11;
	h = map_ring(r, PROT_READ, &len);
	if (!h)
		return 12;
	for (i = 0; i < rounds; i++) {
		int rc = arm_reader(r, pos, 0, 0);

		if (rc < 0)
			return 13;
		if (!rc) {
			sleeps++;
			if (epoll_wait(ep, &ev, 1, 2000) != 1) {
				printf("# round %d: asleep 2 s at %llu, committed %llu\n",
				       i, pos, (unsigned long long)
				       __atomic_load_n(&h->committed,
						       __ATOMIC_ACQUIRE));
				return 14;	/* lost wake-up */
			}
		}
		pos = __atomic_load_n(&h->committed, __ATOMIC_ACQUIRE);
		if (write(ack, "a", 1) != 1)
			return 15;
	}
	printf("# %d rounds, %d of them asleep\n", rounds, sleeps);
	return 0;
}

TEST_F_TIMEOUT(slow, no_lost_wakeup_through_the_worker, 600)
{
	int rounds = getenv("BCAST_NOTIFY_ROUNDS") ?
		     atoi(getenv("BCAST_NOTIFY_ROUNDS")) : 10000;
	int p[2], i, status, notifies = 0;
	struct wside ws;
	pid_t pid;
	char c;

	ASSERT_EQ(0, wside_open(&ws, "n-dekker"));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	if (!pid) {
		close(p[0]);
		_exit(handshake_reader(ws.minor, rounds, p[1]));
	}
	ASSERT_LT(0, pid);
	close(p[1]);
	for (i = 1; i <= rounds; i++) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };

		if (publish(&ws, i * 8ULL)) {
			ASSERT_EQ(0, ioctl(ws.w, BCAST_IOC_NOTIFY));
			notifies++;
		}
		if (poll(&pf, 1, 10000) != 1 || read(p[0], &c, 1) != 1)
			break;
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("%d of %d rounds acknowledged, %d notifies", i - 1, rounds,
	       notifies);
	EXPECT_EQ(rounds + 1, i);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(p[0]);
	wside_close(&ws, "n-dekker");
}

/*
 * Files, eventfds and the ring itself go while wake-ups are queued: the
 * queued work keeps the ring until it ran; the VM runner fails on any
 * kernel WARNING or BUG, and the memory must come back.
 */
TEST(teardown_while_wakeups_are_queued)
{
	int cycle;

	for (cycle = 0; cycle < 60; cycle++) {
		struct readers rs;
		struct wside ws;
		int k;

		ASSERT_EQ(0, wside_open(&ws, "n-teardown"));
		ASSERT_EQ(0, readers_open(&rs, ws.minor, 64));
		ASSERT_EQ(0, arm_all(&rs, 0));
		publish(&ws, 8);
		for (k = 0; k < 4; k++)
			ASSERT_EQ(0, ioctl(ws.w, BCAST_IOC_NOTIFY));
		switch (cycle % 3) {
		case 0:		/* readers first, then the ring */
			readers_close(&rs);
			wside_close(&ws, "n-teardown");
			break;
		case 1:		/* the ring first: destroyed while open */
			ctl_destroy("n-teardown");
			wside_close(&ws, "n-teardown");
			readers_close(&rs);
			break;
		default:	/* the writer goes (HUP) as the readers do */
			munmap(ws.h, ws.len);
			ws.h = NULL;
			close(ws.w);
			ws.w = -1;
			readers_close(&rs);
			ctl_destroy("n-teardown");
			break;
		}
	}
}

/* max_readers: a hard cap per ring, exact with concurrent openers. */
TEST(reader_cap)
{
	long long saved = param_num("max_readers");
	int fds[9], i, w, x;
	unsigned minor;

	ASSERT_LT(0, saved);
	EXPECT_EQ(-EINVAL, param_set("max_readers", 0));
	EXPECT_EQ(-EINVAL, param_set("max_readers", 1LL << 21));
	ASSERT_EQ(0, param_set("max_readers", 8));
	ASSERT_EQ(0, ctl_create("n-cap", 64 * KIB, 0, &minor));
	for (i = 0; i < 8; i++) {
		fds[i] = open_ring(minor, O_RDONLY);
		ASSERT_LE(0, fds[i]);
	}
	EXPECT_EQ(-1, open_ring(minor, O_RDONLY));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(-1, ioctl(fds[0], BCAST_IOC_OPEN_READER));
	EXPECT_EQ(ENOSPC, errno);
	w = open_ring(minor, O_RDWR);		/* the writer is not a reader */
	EXPECT_LE(0, w);
	EXPECT_EQ(-1, ioctl(w, BCAST_IOC_OPEN_READER));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(8, sysfs_num(minor, "readers"));
	close(fds[7]);
	x = ioctl(fds[0], BCAST_IOC_OPEN_READER);
	EXPECT_LE(0, x);
	EXPECT_EQ(-1, open_ring(minor, O_RDONLY));
	close(x);
	for (i = 0; i < 7; i++)
		close(fds[i]);
	EXPECT_EQ(0, sysfs_num(minor, "readers"));

	/* Four processes race for the eight places: exactly eight win. */
	{
		int go[2], got[2], total = 0, status;
		pid_t kids[4];

		ASSERT_EQ(0, pipe(go));
		ASSERT_EQ(0, pipe(got));
		for (i = 0; i < 4; i++) {
			kids[i] = fork();
			if (!kids[i]) {
				int k, n = 0, f;
				char c;

				close(go[1]);
				if (read(go[0], &c, 1) != 1)
					_exit(1);
				for (k = 0; k < 6; k++) {
					f = k % 2 ? open_ring(minor, O_RDONLY) :
						    ioctl(w, BCAST_IOC_OPEN_READER);
					if (f >= 0)
						n++;
					else if (errno != ENOSPC)
						_exit(2);
				}
				c = (char)n;
				if (write(got[1], &c, 1) != 1)
					_exit(3);
				pause();
				_exit(0);
			}
			ASSERT_LT(0, kids[i]);
		}
		close(go[0]);
		ASSERT_EQ(4, write(go[1], "gggg", 4));
		for (i = 0; i < 4; i++) {
			char c;

			ASSERT_EQ(1, read(got[0], &c, 1));
			total += c;
		}
		TH_LOG("4 processes x 6 opens against max_readers=8: %d readers",
		       total);
		EXPECT_EQ(8, total);
		EXPECT_EQ(8, sysfs_num(minor, "readers"));
		for (i = 0; i < 4; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], &status, 0);
		}
		close(go[1]);
		close(got[0]);
		close(got[1]);
	}
	EXPECT_EQ(0, sysfs_num(minor, "readers"));
	close(w);
	EXPECT_EQ(0, param_set("max_readers", saved));
	EXPECT_EQ(0, ctl_destroy("n-cap"));
}

/* ---- --measure: the writer's cost of a NOTIFY ---- */

/* Is @pid asleep (state S), i.e. in epoll_wait after saying ready? */
static int asleep(pid_t pid)
{
	char path[64], buf[256], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* The reader process: arm all, say ready, sleep, check everyone woke. */
static int measure_reader(unsigned minor, int n, int rounds, int ready)
{
	struct readers rs;
	int round, signalled;

	if (readers_open(&rs, minor, n))
		return 10;
	for (round = 0; round < rounds; round++) {
		if (arm_all(&rs, round * 8ULL))
			return 11;
		if (write(ready, "r", 1) != 1)
			return 12;
		if (collect_woken(&rs, 30000) != n)
			return 13;
		if (collect_eventfds(&rs, 30000, &signalled) != n ||
		    signalled != n)
			return 14;
	}
	readers_close(&rs);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double ts_us(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e6 + (b->tv_nsec - a->tv_nsec) / 1e3;
}

static int measure(int n, int rounds)
{
	double *t = calloc(rounds, sizeof(double));
	double *cpu = calloc(rounds, sizeof(double));
	int p[2], round, status, rc = 0;
	long long saved = param_num("max_readers");
	struct wside ws;
	pid_t pid;
	char c;

	if (!t || !cpu || pipe2(p, O_CLOEXEC))
		return 1;
	if (saved > 0 && saved < n && param_set("max_readers", n)) {
		printf("# cannot raise max_readers to %d\n", n);
		return 1;
	}
	if (wside_open(&ws, "n-measure")) {
		printf("# cannot create the ring\n");
		return 1;
	}
	pid = fork();
	if (!pid) {
		close(p[0]);
		_exit(measure_reader(ws.minor, n, rounds, p[1]));
	}
	close(p[1]);
	for (round = 0; round < rounds && !rc; round++) {
		struct timespec a, b, ca, cb;

		if (read(p[0], &c, 1) != 1) {
			rc = 1;
			break;
		}
		while (!asleep(pid))
			usleep(200);
		usleep(2000);
		if (!publish(&ws, (round + 1) * 8ULL))
			printf("# round %d: need_wakeup not set\n", round);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (ioctl(ws.w, BCAST_IOC_NOTIFY))
			rc = 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
		t[round] = ts_us(&a, &b);
		cpu[round] = ts_us(&ca, &cb);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("# reader process failed (status %d)\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		rc = 1;
	}
	if (!rc) {
		qsort(t, rounds, sizeof(double), cmp_double);
		qsort(cpu, rounds, sizeof(double), cmp_double);
		printf("notify, %5d readers asleep (epoll + eventfd each): wall median %8.1f us (p10 %7.1f, p90 %8.1f), writer CPU median %7.1f us (p90 %7.1f); %d notifies, every reader woken each time\n",
		       n, t[rounds / 2], t[rounds / 10], t[rounds * 9 / 10],
		       cpu[rounds / 2], cpu[rounds * 9 / 10], rounds);
	}
	wside_close(&ws, "n-measure");
	if (saved > 0 && saved < n)
		param_set("max_readers", saved);
	close(p[0]);
	free(t);
	free(cpu);
	return rc;
}

static int measure_main(int argc, char **argv)
{
	const char *counts = "1,100,10000";
	int rounds = 0, rc = 0, i;
	char *list, *tok, *save;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else
			counts = argv[i];
	}
	list = strdup(counts);
	for (tok = strtok_r(list, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		int n = atoi(tok);

		if (n <= 0) {
			printf("# bad reader count '%s'\n", tok);
			return 2;
		}
		rc = measure(n, rounds ? rounds : n >= 5000 ? 31 : 201);
	}
	free(list);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--measure"))
		return measure_main(argc, argv);
	return test_harness_run(argc, argv);
}
