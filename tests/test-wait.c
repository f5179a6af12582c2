// SPDX-License-Identifier: MIT
/* Blocking readers: futex wake-ups, zero writer syscalls, no lost wake-up,
 * writer death, a new writer taking over. */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include "harness.h"
#include <linux/bcast.h>

#define CAP (1 << 16)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *ring_name(const char *tag)
{
	static char name[64];

	snprintf(name, sizeof(name), "shm:bcast-test-wait-%s-%d", tag,
		 (int)getpid());
	return name;
}

static struct bcast_ring *create_ring(const char *name)
{
	struct bcast_ring_opts o = { .size = CAP };
	struct bcast_ring *r = NULL;

	bcast_ring_destroy(name);
	return bcast_ring_create(name, &o, &r) ? NULL : r;
}

TEST(wait_returns_ready_or_times_out)
{
	struct bcast_ring *r = create_ring(ring_name("timeout"));
	struct bcast_writer *w;
	struct bcast_reader *rd;
	double t0;

	CHECK(r != NULL);
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST, &rd));
	/* No writer has ever attached: wait for one, do not call it gone. */
	t0 = now_s();
	CHECK_EQ(bcast_wait(rd, 120), -ETIMEDOUT);
	CHECK(now_s() - t0 >= 0.11);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_EQ(bcast_wait(rd, 0), -ETIMEDOUT);
	CHECK_OK(bcast_publish(w, "x", 1, 0));
	CHECK_EQ(bcast_wait(rd, 0), 0);
	CHECK_EQ(bcast_wait(rd, -1), 0);
	CHECK_EQ(bcast_wait(NULL, 0), -EINVAL);
	CHECK_EQ(bcast_reader_fd(rd), -ENOTSUP);
	CHECK_EQ(bcast_reader_arm(rd), -ENOTSUP);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
	bcast_ring_destroy(ring_name("timeout"));
}

struct sleeper {
	struct bcast_reader *rd;
	int rc;
	int received;
};

static void *sleep_then_read(void *arg)
{
	struct sleeper *s = arg;
	char buf[16];

	while (s->received < 3) {
		s->rc = bcast_wait(s->rd, 5000);
		if (s->rc)
			return NULL;
		while (bcast_receive(s->rd, buf, sizeof(buf), NULL) >= 0)
			s->received++;
	}
	return NULL;
}

TEST(writer_makes_no_syscall_unless_a_reader_sleeps)
{
	struct bcast_ring *r = create_ring(ring_name("syscalls"));
	struct bcast_writer *w;
	struct bcast_writer_stats ws;
	struct bcast_reader_stats st;
	struct sleeper s = { 0 };
	char buf[64] = { 0 };
	pthread_t t;
	int i;

	CHECK(r != NULL);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_LATEST, &s.rd));
	for (i = 0; i < 1000000; i++)
		CHECK_OK(bcast_publish(w, buf, 40, 0));
	CHECK_OK(bcast_writer_stats(w, &ws));
	CHECK_EQ(ws.notifies, 0);
	/* Now a reader sleeps: each publish that finds it asleep wakes it. */
	bcast_reader_close(s.rd);
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_LATEST, &s.rd));
	CHECK(!pthread_create(&t, NULL, sleep_then_read, &s));
	for (i = 0; i < 3; i++) {
		usleep(50000);
		CHECK_OK(bcast_publish(w, "wake", 4, 1));
	}
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(s.rc, 0);
	CHECK_EQ(s.received, 3);
	CHECK_OK(bcast_writer_stats(w, &ws));
	CHECK_OK(bcast_reader_stats(s.rd, &st));
	printf("# notifies %" PRIu64 ", reader sleeps %" PRIu64 "\n",
	       ws.notifies, st.sleeps);
	CHECK(ws.notifies >= 1 && ws.notifies <= 3);
	CHECK(st.sleeps >= 1);
	CHECK_EQ(st.missed_wakeups, 0);
	bcast_reader_close(s.rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
	bcast_ring_destroy(ring_name("syscalls"));
}

/* A child process that becomes the writer, publishes `count` messages,
 * reports through `ready`, then waits to be killed or told to close. */
static pid_t spawn_writer(const char *name, int count, int close_after)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (!pid) {
		struct bcast_ring *r;
		struct bcast_writer *w;
		int i;

		if (bcast_ring_open(name, BCAST_RDWR, &r) ||
		    bcast_writer_open(r, &w))
			_exit(2);
		for (i = 0; i < count; i++)
			bcast_publish(w, &i, sizeof(i), (uint32_t)i);
		if (close_after)
			bcast_writer_close(w);
		if (write(fds[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &c, 1) != 1)
		pid = -1;
	close(fds[0]);
	return pid;
}

static int drain(struct bcast_reader *rd, int *last)
{
	int v, n = 0;
	struct bcast_msg m;

	while (bcast_receive(rd, &v, sizeof(v), &m) == sizeof(v)) {
		*last = v;
		n++;
	}
	return n;
}

TEST(writer_death_is_seen_within_100ms_and_a_new_writer_continues)
{
	const char *name = ring_name("death");
	struct bcast_ring *r = create_ring(name);
	struct bcast_reader *rd;
	struct bcast_ring_info info;
	int last = -1, status;
	uint64_t epoch;
	double t0, dt;
	pid_t pid;

	CHECK(r != NULL);
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST, &rd));
	pid = spawn_writer(name, 10, 0);
	CHECK(pid > 0);
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.writer_alive, 1);
	CHECK_EQ(info.writer_pid, pid);
	epoch = info.writer_epoch;
	/* Data first: the reader drains what was committed. */
	CHECK_EQ(bcast_wait(rd, 1000), 0);
	CHECK_EQ(drain(rd, &last), 10);
	CHECK_EQ(bcast_wait(rd, 20), -ETIMEDOUT);
	t0 = now_s();
	kill(pid, SIGKILL);
	CHECK_EQ(bcast_wait(rd, 5000), -BCAST_EWRITERGONE);
	dt = now_s() - t0;
	waitpid(pid, &status, 0);
	printf("# writer death noticed after %.1f ms\n", dt * 1e3);
	CHECK(dt < 0.100);
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.writer_alive, 0);

	/* A new writer takes over the dead one's ring and its positions. */
	pid = spawn_writer(name, 5, 0);
	CHECK(pid > 0);
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.writer_epoch, epoch + 1);
	CHECK_EQ(bcast_wait(rd, 1000), 0);
	CHECK_EQ(drain(rd, &last), 5);
	CHECK_EQ(last, 4);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);

	/* A writer that closes: readers get the rest, then "gone". */
	pid = spawn_writer(name, 7, 1);
	CHECK(pid > 0);
	CHECK_EQ(bcast_wait(rd, 1000), 0);
	CHECK_EQ(drain(rd, &last), 7);
	CHECK_EQ(bcast_wait(rd, 1000), -BCAST_EWRITERGONE);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	bcast_reader_close(rd);
	bcast_ring_close(r);
	bcast_ring_destroy(name);
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST(signal_interrupts_wait)
{
	struct bcast_ring *r = create_ring(ring_name("eintr"));
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct bcast_writer *w;
	struct bcast_reader *rd;

	CHECK(r != NULL);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_LATEST, &rd));
	struct itimerval every_20ms = { { 0, 20000 }, { 0, 20000 } }, off = { 0 };

	sigaction(SIGALRM, &sa, NULL);
	/* Repeated: a signal landing between two sleeps interrupts nothing. */
	setitimer(ITIMER_REAL, &every_20ms, NULL);
	CHECK_EQ(bcast_wait(rd, 5000), -EINTR);
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
	bcast_ring_destroy(ring_name("eintr"));
}

/* One side of a ping-pong: wait for message i on `in`, answer on `out`. */
static int pong(const char *in_name, const char *out_name, int cycles,
		int serve, uint64_t *missed)
{
	struct bcast_ring *in, *out;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	struct bcast_reader_stats st;
	int i, v, rc;

	if (bcast_ring_open(in_name, BCAST_RDONLY, &in) ||
	    bcast_ring_open(out_name, BCAST_RDWR, &out) ||
	    bcast_writer_open(out, &w) ||
	    bcast_reader_open(in, BCAST_FROM_OLDEST, &rd))
		return -1;
	for (i = 0; i < cycles; i++) {
		if (!serve && bcast_publish(w, &i, sizeof(i), 0))
			return -2;
		while ((rc = (int)bcast_receive(rd, &v, sizeof(v), NULL)) ==
		       -EAGAIN) {
			rc = bcast_wait(rd, 10000);
			if (rc)
				return -3;	/* a lost wake-up hangs here */
		}
		if (rc != sizeof(v) || v != i)
			return -4;
		if (serve && bcast_publish(w, &i, sizeof(i), 0))
			return -5;
	}
	bcast_reader_stats(rd, &st);
	*missed = st.missed_wakeups;
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(in);
	bcast_ring_close(out);
	return 0;
}

TEST(hundred_thousand_sleep_wake_cycles_between_processes)
{
	char a[64], b[64];
	int cycles = getenv("BCAST_PINGPONG_CYCLES") ?
		     atoi(getenv("BCAST_PINGPONG_CYCLES")) : 100000;
	struct bcast_ring *ra, *rb;
	uint64_t missed = 0;
	int status;
	double t0;
	pid_t pid;

	snprintf(a, sizeof(a), "%s", ring_name("ping"));
	snprintf(b, sizeof(b), "%s", ring_name("pong"));
	ra = create_ring(a);
	rb = create_ring(b);
	CHECK(ra && rb);
	t0 = now_s();
	pid = fork();
	if (!pid) {
		uint64_t m = 0;

		alarm(600);
		_exit(pong(a, b, cycles, 1, &m) ? 1 : m ? 2 : 0);
	}
	CHECK_EQ(pong(b, a, cycles, 0, &missed), 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	printf("# %d round trips in %.2f s (%.1f us each), missed wake-ups %"
	       PRIu64 "\n", cycles, now_s() - t0,
	       (now_s() - t0) / cycles * 1e6, missed);
	CHECK_EQ(missed, 0);
	bcast_ring_close(ra);
	bcast_ring_close(rb);
	bcast_ring_destroy(a);
	bcast_ring_destroy(b);
}

TEST_MAIN()
