// SPDX-License-Identifier: MIT
/* Blocking readers: futex wake-ups, zero writer syscalls, no lost wake-up,
 * writer death, a new writer taking over. */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include "tap.h"
#include "clock.h"
#include "env.h"
#include "fixture.h"
#include "payload.h"
#include "waiting.h"
#include <linux/bcast.h>

#define CAP (1 << 16)

TEST(wait_returns_ready_or_times_out)
{
	struct bcast_ring *r = shm_ring_new(shm_name("wait-timeout"), CAP, 0);
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
	bcast_ring_destroy(shm_name("wait-timeout"));
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
	struct bcast_ring *r = shm_ring_new(shm_name("wait-syscalls"), CAP, 0);
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
	bcast_ring_destroy(shm_name("wait-syscalls"));
}



TEST(writer_death_is_seen_within_100ms_and_a_new_writer_continues)
{
	const char *name = shm_name("wait-death");
	struct bcast_ring *r = shm_ring_new(name, CAP, 0);
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
	struct bcast_ring *r = shm_ring_new(shm_name("wait-eintr"), CAP, 0);
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
	bcast_ring_destroy(shm_name("wait-eintr"));
}


TEST(hundred_thousand_sleep_wake_cycles_between_processes)
{
	char a[64], b[64];
	int cycles = (int)env_u64("BCAST_PINGPONG_CYCLES", 100000);
	struct bcast_ring *ra, *rb;
	uint64_t missed = 0;
	int status;
	double t0;
	pid_t pid;

	snprintf(a, sizeof(a), "%s", shm_name("wait-ping"));
	snprintf(b, sizeof(b), "%s", shm_name("wait-pong"));
	ra = shm_ring_new(a, CAP, 0);
	rb = shm_ring_new(b, CAP, 0);
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



struct later_writer {
	const char *name;
	int delay_ms;
	pid_t pid;
};

static void *spawn_writer_later(void *arg)
{
	struct later_writer *lw = arg;

	usleep(lw->delay_ms * 1000);
	lw->pid = spawn_writer(lw->name, 3, 0);
	return NULL;
}

TEST(wait_reports_each_departed_writer_once_then_sleeps_until_the_next)
{
	const char *name = shm_name("wait-once");
	struct bcast_ring *r = shm_ring_new(name, CAP, 0);
	struct later_writer lw = { name, 150, 0 };
	struct bcast_reader *rd;
	int last = -1, status;
	pthread_t t;
	double t0;
	pid_t pid;

	CHECK(r != NULL);
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST, &rd));
	/* A ring that never had a writer: block, using no CPU. */
	CHECK(sleeps_until_timeout(rd, 300));
	pid = spawn_writer(name, 2, 1);		/* publishes, closes */
	CHECK(pid > 0);
	CHECK_EQ(bcast_wait(rd, 1000), 0);
	CHECK_EQ(drain(rd, &last), 2);
	CHECK_EQ(bcast_wait(rd, 1000), -BCAST_EWRITERGONE);
	/* Told once; from now on the wait sleeps until a new writer. */
	CHECK(sleeps_until_timeout(rd, 300));
	CHECK(sleeps_until_timeout(rd, 100));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CHECK(sleeps_until_timeout(rd, 100));
	/* A new writer arrives while we sleep: its first message wakes us. */
	t0 = now_s();
	CHECK(!pthread_create(&t, NULL, spawn_writer_later, &lw));
	CHECK_EQ(bcast_wait(rd, 5000), 0);
	CHECK(now_s() - t0 < 2.0);
	pthread_join(t, NULL);
	CHECK(lw.pid > 0);
	CHECK_EQ(drain(rd, &last), 3);
	/* It dies: told once more, then the sleep again. */
	kill(lw.pid, SIGKILL);
	waitpid(lw.pid, &status, 0);
	CHECK_EQ(bcast_wait(rd, 5000), -BCAST_EWRITERGONE);
	CHECK(sleeps_until_timeout(rd, 200));
	bcast_reader_close(rd);
	bcast_ring_close(r);
	bcast_ring_destroy(name);
}

/*
 * A publisher that never wakes anyone (a writer preempted between its
 * store of `committed` and its look at need_wakeup looks like this): the
 * reader's missed-wake-up grace must not outlast the caller's timeout.
 */
struct silent {
	struct bcast_ring_hdr *h;
	unsigned char *data;
	uint64_t mask;
	int stop;
};

static void *publish_silently(void *arg)
{
	struct silent *s = arg;
	uint64_t pos;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		usleep(1000);
		pos = __atomic_load_n(&s->h->committed, __ATOMIC_RELAXED);
		/* A heartbeat frame, and the frontier well ahead of it. */
		*(uint64_t *)(s->data + (pos & s->mask)) =
			(uint64_t)BCAST_FRAME_HEARTBEAT << BCAST_FRAME_FLAG_SHIFT;
		if (__atomic_load_n(&s->h->claimed, __ATOMIC_RELAXED) < pos + 4096)
			__atomic_store_n(&s->h->claimed, pos + 8192,
					 __ATOMIC_RELEASE);
		__atomic_store_n(&s->h->committed, pos + 8, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST(short_timeouts_are_honoured_even_when_a_wake_up_is_missing)
{
	struct ring_fixture f;
	struct silent s = { .mask = CAP - 1 };
	struct bcast_reader *rd;
	char buf[8];
	double t0, dt;
	pthread_t t;
	int i;

	/* the writer is alive and publishes nothing */
	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_LATEST, &rd));
	s.h = f.h;
	s.data = f.data;
	CHECK(!pthread_create(&t, NULL, publish_silently, &s));
	t0 = now_s();
	for (i = 0; i < 40; i++) {
		int rc = bcast_wait(rd, 4);

		CHECK(rc == 0 || rc == -ETIMEDOUT);
		while (bcast_receive(rd, buf, sizeof(buf), NULL) != -EAGAIN)
			;
	}
	dt = now_s() - t0;
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	printf("# 40 waits of at most 4 ms took %.1f ms\n", dt * 1e3);
	CHECK(dt < 40 * 0.004 + 0.4);
	bcast_reader_close(rd);
	fixture_close(&f);
}


/*
 * Every size a publish can take, the end of the lap included, into a ring
 * whose writer is opened now and checked byte for byte by a reader.
 */
static void publish_every_size(struct bcast_ring *r)
{
	static const size_t sizes[] = { 0, 1, 7, 8, 16, 17, 33, 63, 64, 65,
					255, 256, 1000, 4095 };
	static unsigned char msg[4096], got[4096];
	struct bcast_writer *w;
	struct bcast_reader *rd;
	size_t i, k, bad = 0, n = 0;
	struct bcast_msg m;

	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_LATEST, &rd));
	/* More than the ring holds in all, read as it goes: several laps. */
	for (k = 0; k < 40; k++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, n++) {
			ssize_t len;

			payload_fill(msg, sizes[i], n);
			CHECK_OK(bcast_publish(w, msg, sizes[i], (uint32_t)n));
			len = bcast_receive(rd, got, sizeof(got), &m);
			if (len != (ssize_t)sizes[i] || m.type != (uint32_t)n ||
			    !payload_ok(got, sizes[i], n))
				bad++;
		}
	}
	CHECK_EQ(bad, 0);
	bcast_reader_close(rd);
	bcast_writer_close(w);
}

TEST(a_reader_whose_membarrier_fails_still_loses_no_wake_up)
{
	char a[64], b[64];
	int cycles = 2000;
	struct bcast_ring *ra, *rb;
	struct bcast_ring_info info;
	struct bcast_ring_hdr *h;
	uint64_t missed = 0;
	int status;
	pid_t pid;

	/* Can a seccomp filter be installed here at all?  (qemu-user
	 * refuses them.) */
	pid = fork();
	if (!pid)
		_exit(forbid_membarrier() ? 9 : 0);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("# skipped: no seccomp filter can be installed here\n");
		return;
	}
	snprintf(a, sizeof(a), "%s", shm_name("wait-mb-ping"));
	snprintf(b, sizeof(b), "%s", shm_name("wait-mb-pong"));
	ra = shm_ring_new(a, CAP, 0);
	rb = shm_ring_new(b, CAP, 0);
	CHECK(ra && rb);
	pid = fork();
	if (!pid) {
		uint64_t m = 0;

		alarm(300);
		if (forbid_membarrier())
			_exit(9);
		_exit(pong(a, b, cycles, 1, &m) ? 1 : m ? 2 : 0);
	}
	CHECK_EQ(pong(b, a, cycles, 0, &missed), 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(missed, 0);
	/* We wrote ring a, where the reader's membarrier() failed: it said
	 * so, and we went back to fencing every publish. */
	CHECK_OK(bcast_ring_info(ra, &info));
	h = (struct bcast_ring_hdr *)((const char *)info.metadata -
				      offsetof(struct bcast_ring_hdr, metadata));
	if (!(h->writer_flags & BCAST_WRITER_MEMBARRIER) && !h->reader_flags) {
		printf("# this kernel gave no membarrier to rely on; nothing to fall back from\n");
	} else {
		CHECK(h->reader_flags & BCAST_READERS_NO_MEMBARRIER);
		CHECK(!(h->writer_flags & BCAST_WRITER_MEMBARRIER));
		/* A writer opened now fences from the start: every publish
		 * takes the library's general path, and every size works. */
		publish_every_size(ra);
		CHECK(!(h->writer_flags & BCAST_WRITER_MEMBARRIER));
	}
	printf("# %d round trips with a reader that may not call membarrier(), missed wake-ups %" PRIu64 "\n",
	       cycles, missed);
	bcast_ring_close(ra);
	bcast_ring_close(rb);
	bcast_ring_destroy(a);
	bcast_ring_destroy(b);
}

TEST_MAIN()
