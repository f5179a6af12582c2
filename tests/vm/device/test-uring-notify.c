// SPDX-License-Identifier: MIT
/*
 * Asynchronous wake-ups on device rings (bcast_writer_set_notify()): the
 * library queues bcast.ko's NOTIFY as an 8-byte write() of the writer's
 * file on io_uring.  The module's write-notify (an 8-byte write is a
 * NOTIFY and returns 8) is checked first; without it every test fails
 * saying so, none hangs.  Then, for BCAST_NOTIFY_URING and
 * BCAST_NOTIFY_SQPOLL: 100,000 sleep/wake cycles (BCAST_ASYNC_CYCLES)
 * with no missed wake-up, every notify queued on io_uring and one per
 * sleeping episode; a burst of 10,000 while a reader sleeps costs one
 * notify; a closing writer's readers are told at once.
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"
#include "env.h"
#include "notify-pong.h"
#include "procview.h"
#include "bcast.h"

#define KIB 1024ULL
#define BURST 10000
#define WAIT_MS 10000

static const int async_modes[] = { BCAST_NOTIFY_URING, BCAST_NOTIFY_SQPOLL };
#define N_MODES ((int)(sizeof(async_modes) / sizeof(async_modes[0])))

static const char *mode_name(int how)
{
	return how == BCAST_NOTIFY_SQPOLL ? "SQPOLL" : "URING";
}

/* SQEs the kernel took from this process's one io_uring, once it took
 * at least `n` or a second went by; -1 without exactly one io_uring. */
static long long submitted_by_now(long long n)
{
	double deadline = now_s() + 1.0;
	struct uring_positions pos;
	int fd;

	if (uring_count(getpid(), &fd) != 1)
		return -1;
	do {
		if (uring_positions(getpid(), fd, &pos))
			return -1;
		if (pos.sq_head >= n)
			break;
		usleep(100);
	} while (now_s() < deadline);
	return pos.sq_head;
}

static uint64_t writer_count(struct bcast_writer *w, int errors)
{
	struct bcast_writer_stats ws;

	if (bcast_writer_stats(w, &ws))
		return UINT64_MAX;
	return errors ? ws.notify_errors : ws.notifies;
}

/* The poll() events of one file, 0 on timeout. */
static short poll_events(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

/* An 8-byte write() of the writer's file: 8, or -errno. */
static ssize_t write_notify(int fd)
{
	uint64_t v = 1;
	ssize_t n = write(fd, &v, sizeof(v));

	return n < 0 ? -errno : n;
}

TEST(the_module_has_write_notify)
{
	unsigned minor;
	ssize_t n;
	int w, r;

	ASSERT_EQ(0, ctl_create("na-write", 64 * KIB, 0, &minor));
	w = open_ring(minor, O_RDWR);
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, w);
	ASSERT_LE(0, r);
	/* Armed at the current position: only a NOTIFY makes it ready. */
	ASSERT_EQ(0, arm_reader(r, 0, 0, 0));
	EXPECT_EQ(0, poll_events(r, POLLIN, 0));
	n = write_notify(w);
	if (n != 8)
		TH_LOG("bcast.ko has no write-notify (8-byte write() of the writer's file: %s); asynchronous wake-ups on device rings need it",
		       n < 0 ? strerror((int)-n) : "a short write");
	EXPECT_EQ(8, n);
	EXPECT_EQ(POLLIN, poll_events(r, POLLIN, 1000));
	/* A reader's file is no writer's. */
	EXPECT_GT(0, write_notify(r));
	close(r);
	close(w);
	EXPECT_EQ(0, ctl_destroy("na-write"));
}

/* The writer of a new device ring `name`, asking for `how`. */
static int async_writer(const char *name, unsigned long long size, int how,
			struct bcast_ring **r, struct bcast_writer **w)
{
	int rc;

	ctl_destroy(name);
	rc = ctl_create(name, size, 0, NULL);
	if (rc)
		return rc;
	rc = bcast_ring_open(name, BCAST_RDWR, r);
	if (rc)
		return rc;
	rc = bcast_writer_open(*r, w);
	if (!rc)
		rc = bcast_writer_set_notify(*w, how);
	if (rc == -ENOTSUP)
		printf("# %s: set_notify(%s) is not supported: bcast.ko without write-notify\n",
		       name, mode_name(how));
	return rc;
}

TEST(set_notify_takes_both_modes_on_a_device_ring)
{
	struct bcast_ring *r;
	struct bcast_writer *w;
	int i;

	for (i = 0; i < N_MODES; i++) {
		ASSERT_EQ(0, async_writer("na-set", 64 * KIB, async_modes[i],
					  &r, &w));
		EXPECT_EQ(1, uring_count(getpid(), NULL));
		EXPECT_EQ(0, bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC));
		EXPECT_EQ(0, uring_count(getpid(), NULL));
		bcast_writer_close(w);
		bcast_ring_close(r);
		EXPECT_EQ(0, ctl_destroy("na-set"));
	}
}

static void cycles_with(struct __test_metadata *_metadata, int how)
{
	int cycles = (int)env_u64("BCAST_ASYNC_CYCLES", 100000);
	struct notify_pong res;
	double t0;
	int rc;

	ctl_destroy("na-ping");
	ctl_destroy("na-pong");
	ASSERT_EQ(0, ctl_create("na-ping", 64 * KIB, 0, NULL));
	ASSERT_EQ(0, ctl_create("na-pong", 64 * KIB, 0, NULL));
	t0 = now_s();
	rc = notify_pong("na-ping", "na-pong", how, cycles, SYS_ioctl, &res);
	EXPECT_EQ(0, ctl_destroy("na-ping"));
	EXPECT_EQ(0, ctl_destroy("na-pong"));
	TH_LOG("%s: %d cycles in %.2f s, round trip p50 %.1f us p99 %.1f us; notifies %llu, queued %llu, errors %llu, reader sleeps %llu, missed %llu",
	       mode_name(how), cycles, now_s() - t0, res.p50_us, res.p99_us,
	       (unsigned long long)res.notifies,
	       (unsigned long long)res.submitted,
	       (unsigned long long)res.notify_errors,
	       (unsigned long long)res.sleeps, (unsigned long long)res.missed);
	ASSERT_EQ(0, rc);
	EXPECT_EQ(0, res.missed);
	EXPECT_EQ(0, res.notify_errors);
	/* One notify per sleeping episode; the reader really slept. */
	EXPECT_GE(cycles, res.notifies);
	EXPECT_LE(cycles / 2, res.notifies);
	EXPECT_LE(cycles / 2, res.sleeps);
	/* Every one went through io_uring. */
	EXPECT_EQ(res.notifies, res.submitted);
}

/* Emulated CPUs, and an SQPOLL thread competing for them: allow far
 * more than the default 30 s. */
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

TEST_F_TIMEOUT(slow, cycles_with_uring_wake_ups_lose_none, 1200)
{
	cycles_with(_metadata, BCAST_NOTIFY_URING);
}

TEST_F_TIMEOUT(slow, cycles_with_sqpoll_wake_ups_lose_none, 1200)
{
	cycles_with(_metadata, BCAST_NOTIFY_SQPOLL);
}

/* Asleep, woken, then (told to) read everything: bcast_wait()'s result,
 * the count and whether it came in order, on `report`. */
static void burst_reader(const char *name, int report, int go)
{
	int rc, v, n = 0, in_order = 1, out[3];
	struct bcast_reader *rd;
	struct bcast_ring *r;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (bcast_ring_open(name, BCAST_RDONLY, &r) ||
	    bcast_reader_open(r, BCAST_FROM_LATEST, &rd))
		_exit(2);
	rc = bcast_wait(rd, WAIT_MS);
	if (read(go, &c, 1) != 1)
		_exit(3);
	while (bcast_receive(rd, &v, sizeof(v), NULL) == sizeof(v)) {
		in_order &= v == n;
		n++;
	}
	out[0] = rc;
	out[1] = n;
	out[2] = in_order;
	_exit(write(report, out, sizeof(out)) == sizeof(out) ? 0 : 4);
}

static void burst_with(struct __test_metadata *_metadata, int how)
{
	int report[2], go[2], got[3] = { 1, 0, 0 }, i, status;
	struct bcast_writer *w;
	struct bcast_ring *r;
	pid_t pid;

	ASSERT_EQ(0, async_writer("na-burst", 1024 * KIB, how, &r, &w));
	ASSERT_EQ(0, pipe(report));
	ASSERT_EQ(0, pipe(go));
	fflush(stdout);
	pid = fork();
	if (!pid)
		burst_reader("na-burst", report[1], go[0]);
	ASSERT_LT(0, pid);
	/* Asleep in BCAST_IOC_WAIT (armed: need_wakeup is set). */
	EXPECT_EQ(1, wait_blocked_in(&pid, 1, SYS_ioctl, WAIT_MS));
	usleep(10000);
	for (i = 0; i < BURST; i++)
		ASSERT_EQ(0, bcast_publish(w, &i, sizeof(i), 0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(sizeof(got), read(report[0], got, sizeof(got)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("%s: a burst of %d while one reader slept: %llu notifies, %lld queued",
	       mode_name(how), BURST,
	       (unsigned long long)writer_count(w, 0), submitted_by_now(1));
	EXPECT_EQ(0, got[0]);
	EXPECT_EQ(BURST, got[1]);
	EXPECT_EQ(1, got[2]);
	EXPECT_EQ(1, writer_count(w, 0));
	EXPECT_EQ(1, submitted_by_now(1));
	EXPECT_EQ(0, writer_count(w, 1));
	close(report[0]);
	close(report[1]);
	close(go[0]);
	close(go[1]);
	bcast_writer_close(w);
	bcast_ring_close(r);
	EXPECT_EQ(0, ctl_destroy("na-burst"));
}

TEST(a_burst_while_a_reader_sleeps_costs_one_notify)
{
	int i;

	for (i = 0; i < N_MODES; i++)
		burst_with(_metadata, async_modes[i]);
}

/*
 * A reader asleep; the asynchronous writer publishes (its wake-up queued)
 * and closes at once: the reader gets the message, then is told the
 * writer went, without waiting out anything; the writer's io_uring is
 * gone with it.
 */
static void close_reader(int out)
{
	struct bcast_reader *rd;
	struct bcast_ring *r;
	int res[2] = { 0, 0 };	/* the last bcast_wait(), messages */
	char buf[8];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (bcast_ring_open("na-close", BCAST_RDONLY, &r) ||
	    bcast_reader_open(r, BCAST_FROM_LATEST, &rd))
		_exit(2);
	while (!(res[0] = bcast_wait(rd, WAIT_MS)))
		while (bcast_receive(rd, buf, sizeof(buf), NULL) >= 0)
			res[1]++;
	_exit(write(out, res, sizeof(res)) == sizeof(res) ? 0 : 3);
}

static void close_with(struct __test_metadata *_metadata, int how)
{
	struct bcast_writer *w;
	struct bcast_ring *r;
	int fds[2], res[2], status;
	double t0, dt;
	pid_t pid;

	ASSERT_EQ(0, async_writer("na-close", 64 * KIB, how, &r, &w));
	ASSERT_EQ(0, pipe(fds));
	fflush(stdout);
	pid = fork();
	if (!pid)
		close_reader(fds[1]);
	ASSERT_LT(0, pid);
	EXPECT_EQ(1, wait_blocked_in(&pid, 1, SYS_ioctl, WAIT_MS));
	usleep(10000);
	t0 = now_s();
	ASSERT_EQ(0, bcast_publish(w, "x", 1, 0));
	bcast_writer_close(w);
	EXPECT_EQ(0, uring_count(getpid(), NULL));
	ASSERT_EQ(sizeof(res), read(fds[0], res, sizeof(res)));
	dt = now_s() - t0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("%s: the sleeper had the message and the departure %.2f ms after the publish (%s)",
	       mode_name(how), dt * 1e3, bcast_strerror(res[0]));
	EXPECT_EQ(-BCAST_EWRITERGONE, res[0]);
	EXPECT_EQ(1, res[1]);
	EXPECT_GT(1.0, dt);
	close(fds[0]);
	close(fds[1]);
	bcast_ring_close(r);
	EXPECT_EQ(0, ctl_destroy("na-close"));
}

TEST(closing_an_async_writer_with_a_wake_up_queued)
{
	int i;

	for (i = 0; i < N_MODES; i++)
		close_with(_metadata, async_modes[i]);
}

TEST_HARNESS_MAIN
