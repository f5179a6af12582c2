// SPDX-License-Identifier: MIT
/*
 * bcast_poller over rings on wake pages (shm) and other fds: woken by
 * exactly the ring that published, writer news for that ring only, sockets
 * and timerfds beside rings, no lost wake-up over many sleep/wake cycles,
 * and the same through each way it sleeps (futex_waitv(), io_uring, epoll
 * with threads).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include "tap.h"
#include "clock.h"
#include "env.h"
#include "fixture.h"
#include "order-writer.h"
#include "polling.h"

#define CAP 4096
#define MANY 1024

struct ring_set {
	unsigned n;
	char (*names)[64];
	struct bcast_ring **r;
	struct bcast_reader **rd;
};

/* n shm rings with a reader each (from the oldest message): 0 or -errno. */
static int set_open(struct ring_set *s, const char *tag, unsigned n)
{
	unsigned i;

	raise_fd_limit();
	s->n = n;
	s->names = calloc(n, sizeof(*s->names));
	s->r = calloc(n, sizeof(*s->r));
	s->rd = calloc(n, sizeof(*s->rd));
	if (!s->names || !s->r || !s->rd)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		char t[32];
		int err;

		snprintf(t, sizeof(t), "%s-%u", tag, i);
		snprintf(s->names[i], sizeof(s->names[i]), "%s", shm_name(t));
		s->r[i] = shm_ring_new(s->names[i], CAP, 0);
		if (!s->r[i])
			return -EIO;
		err = bcast_reader_open(s->r[i], BCAST_FROM_OLDEST, &s->rd[i]);
		if (err)
			return err;
	}
	return 0;
}

static void set_close(struct ring_set *s)
{
	unsigned i;

	for (i = 0; i < s->n; i++) {
		bcast_reader_close(s->rd ? s->rd[i] : NULL);
		bcast_ring_close(s->r ? s->r[i] : NULL);
		if (s->names)
			bcast_ring_destroy(s->names[i]);
	}
	free(s->names);
	free(s->r);
	free(s->rd);
	memset(s, 0, sizeof(*s));
}

static int set_add(struct bcast_poller *p, struct ring_set *s)
{
	unsigned i;
	int err;

	for (i = 0; i < s->n; i++) {
		err = bcast_poller_add_reader(p, s->rd[i], i);
		if (err)
			return err;
	}
	return 0;
}

TEST(arguments_are_checked)
{
	struct bcast_poller *p;
	struct bcast_poller_event ev[4];
	struct ring_set s = { 0 };
	double t0;

	CHECK_EQ(bcast_poller_create(0x80, &p), -EINVAL);
	CHECK_EQ(bcast_poller_create(0, NULL), -EINVAL);
	CHECK_OK(bcast_poller_create(0, &p));
	CHECK_OK(set_open(&s, "poll-args", 2));
	CHECK_EQ(bcast_poller_add_reader(p, NULL, 0), -EINVAL);
	CHECK_EQ(bcast_poller_add_reader(NULL, s.rd[0], 0), -EINVAL);
	CHECK_OK(bcast_poller_add_reader(p, s.rd[0], 7));
	CHECK_EQ(bcast_poller_add_reader(p, s.rd[0], 7), -EEXIST);
	CHECK_EQ(bcast_poller_remove_reader(p, s.rd[1]), -ENOENT);
	CHECK_EQ(bcast_poller_add_fd(p, -1, POLLIN, 0), -EINVAL);
	CHECK_EQ(bcast_poller_add_fd(p, 0, 0, 0), -EINVAL);
	CHECK_EQ(bcast_poller_add_fd(p, 0, 0x4000, 0), -EINVAL);
	CHECK_EQ(bcast_poller_add_fd(p, 1000000, POLLIN, 0), -EBADF);
	CHECK_EQ(bcast_poller_remove_fd(p, 5), -ENOENT);
	CHECK_EQ(bcast_poller_wait(p, ev, 0, 0), -EINVAL);
	CHECK_EQ(bcast_poller_wait(p, NULL, 4, 0), -EINVAL);
	CHECK_EQ(bcast_poller_wait(NULL, ev, 4, 0), -EINVAL);
	/* No writer ever: nothing to say, and the timeout is kept. */
	t0 = now_s();
	CHECK_EQ(bcast_poller_wait(p, ev, 4, 0), 0);
	CHECK_EQ(bcast_poller_wait(p, ev, 4, 150), 0);
	CHECK(now_s() - t0 >= 0.14);
	CHECK_OK(bcast_poller_remove_reader(p, s.rd[0]));
	CHECK_EQ(bcast_poller_remove_reader(p, s.rd[0]), -ENOENT);
	/* Removed, it may go into another poller. */
	CHECK_OK(bcast_poller_add_reader(p, s.rd[0], 8));
	bcast_poller_destroy(p);
	bcast_poller_destroy(NULL);
	set_close(&s);
}

/*
 * Publish on each ring in turn (a random order) from another process:
 * every wait reports that ring and only it.
 */
static void exactly_the_ring(unsigned n, unsigned flags, unsigned rounds,
			     unsigned want_how, const char *tag)
{
	struct bcast_poller *p;
	struct bcast_poller_event ev[8];
	struct bcast_poller_stats st;
	struct ring_set s = { 0 };
	struct order_writer wp;
	unsigned i, k;
	int got;

	CHECK_OK(set_open(&s, tag, n));
	CHECK_OK(bcast_poller_create(flags, &p));
	CHECK_OK(set_add(p, &s));
	CHECK_OK(order_writer_start(&wp, s.names, s.n));
	/* Each writer's arrival: news on every ring once, then quiet. */
	for (i = 0; i < n;) {
		got = poll_again(p, ev, 8, 2000);
		if (got <= 0)
			FAILF("arrivals: %u of %u seen, then %d", i, n, got);
		for (int j = 0; j < got; j++)
			if (ev[j].events != BCAST_POLL_WRITER_NEW)
				FAILF("arrival on ring %llu: events %#x",
				      (unsigned long long)ev[j].tag,
				      ev[j].events);
		i += (unsigned)got;
	}
	CHECK_EQ(poll_again(p, ev, 8, 30), 0);
	srand(n * 7 + flags);
	for (i = 0; i < rounds; i++) {
		k = (unsigned)rand() % n;
		/* Published a little later: the poller is asleep by then. */
		CHECK_OK(order_writer_send(&wp, (int)k | ORDER_LATER));
		got = poll_again(p, ev, 8, 5000);
		CHECK_OK(order_writer_done(&wp));
		if (got != 1 || ev[0].tag != k || ev[0].events != BCAST_POLL_DATA ||
		    ev[0].reader != s.rd[k] || ev[0].fd != -1)
			FAILF("round %u: published on ring %u, got %d events, the first for %llu (%#x)",
			      i, k, got, got > 0 ? (unsigned long long)ev[0].tag : 0ULL,
			      got > 0 ? ev[0].events : 0);
		/* Level-triggered: reported until read. */
		CHECK_EQ(poll_again(p, ev, 8, 0), 1);
		CHECK_EQ(read_all(s.rd[k]), 1);
		CHECK_EQ(poll_again(p, ev, 8, 0), 0);
	}
	CHECK_OK(bcast_poller_stats(p, &st));
	if ((st.how & want_how) != want_how)
		FAILF("slept through %#x, expected %#x in it", st.how, want_how);
	CHECK_EQ(st.missed_wakeups, 0);
	CHECK_EQ(order_writer_stop(&wp), 0);
	bcast_poller_destroy(p);
	set_close(&s);
}

/* Can this process use io_uring (not refused by seccomp or a sysctl,
 * not missing as under qemu-user)?  And futex_waitv()? */
static bool io_uring_usable(void)
{
	struct io_uring_params params;
	int fd;

	memset(&params, 0, sizeof(params));
	fd = (int)syscall(__NR_io_uring_setup, 1, &params);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool futex_waitv_usable(void)
{
	return syscall(__NR_futex_waitv, NULL, 0, 0, NULL, 0) < 0 &&
	       errno != ENOSYS;
}

/* How a poller of wake-page rings sleeps here once an fd or many rings
 * make it use its engine. */
static unsigned engine_how(unsigned flags)
{
	unsigned threads = futex_waitv_usable() ? BCAST_POLLER_THREADS : 0;

	if ((flags & BCAST_POLLER_NO_URING) || !io_uring_usable())
		return BCAST_POLLER_EPOLL | threads;
	return BCAST_POLLER_URING | (kernel_at_least(6, 7) ?
				     BCAST_POLLER_URING_FUTEX : threads);
}

TEST(eight_rings_futex_waitv)
{
	exactly_the_ring(8, 0, 200, BCAST_POLLER_FUTEX_WAITV, "poll-8");
}

TEST(many_rings_io_uring)
{
	exactly_the_ring(MANY, 0, 100, engine_how(0), "poll-many");
}

TEST(many_rings_epoll_and_threads)
{
	exactly_the_ring(MANY, BCAST_POLLER_NO_URING, 100,
			 engine_how(BCAST_POLLER_NO_URING), "poll-many-epoll");
}

TEST(writer_death_is_reported_for_that_ring_only)
{
	struct bcast_poller *p;
	struct bcast_poller_event ev[8];
	struct ring_set s = { 0 };
	struct order_writer wp;
	struct bcast_writer *w;
	double t0, took;
	int got, i;

	CHECK_OK(set_open(&s, "poll-death", 8));
	CHECK_OK(bcast_poller_create(0, &p));
	CHECK_OK(set_add(p, &s));
	CHECK_OK(order_writer_start(&wp, s.names, s.n));
	for (i = 0; i < 8;) {
		got = poll_again(p, ev, 8, 2000);
		CHECK(got > 0);
		i += got;
	}
	/* A message on ring 3, then its writer dies: the message first. */
	CHECK_OK(order_writer_do(&wp, 3));
	kill(wp.pid, SIGKILL);
	t0 = now_s();
	got = poll_again(p, ev, 8, 2000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, 3);
	CHECK_EQ(ev[0].events, BCAST_POLL_DATA);
	CHECK_EQ(read_all(s.rd[3]), 1);
	/* Every writer died with the process: one departure per ring. */
	for (i = 0; i < 8;) {
		got = poll_again(p, ev, 8, 2000);
		if (got <= 0)
			FAILF("departures: %d of 8, then %d", i, got);
		for (int j = 0; j < got; j++)
			CHECK_EQ(ev[j].events, BCAST_POLL_WRITER_GONE);
		i += got;
	}
	took = now_s() - t0;
	if (took > 0.1)
		FAILF("the departures took %.0f ms", took * 1e3);
	printf("# writer death seen after %.1f ms\n", took * 1e3);
	waitpid(wp.pid, NULL, 0);
	close(wp.order);
	close(wp.done);
	CHECK_EQ(poll_again(p, ev, 8, 60), 0);
	/* A new writer on ring 5 alone: its arrival, then its message. */
	CHECK_OK(bcast_writer_open(s.r[5], &w));
	got = poll_again(p, ev, 8, 2000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, 5);
	CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_NEW);
	CHECK_OK(bcast_publish(w, "x", 1, 0));
	got = poll_again(p, ev, 8, 2000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, 5);
	CHECK_EQ(ev[0].events, BCAST_POLL_DATA);
	CHECK_EQ(read_all(s.rd[5]), 1);
	/* A clean close: reported at once, for ring 5 only. */
	bcast_writer_close(w);
	t0 = now_s();
	got = poll_again(p, ev, 8, 2000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, 5);
	CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_GONE);
	CHECK(now_s() - t0 < 0.1);
	/* bcast_wait() agrees: the departure was reported. */
	CHECK_EQ(bcast_wait(s.rd[5], 0), -ETIMEDOUT);
	bcast_poller_destroy(p);
	set_close(&s);
}

/*
 * A writer that came after the reader was opened is news, even if it came
 * before the reader joined the poller; one that was there already is not.
 */
TEST(an_arrival_before_the_reader_joined_is_reported)
{
	struct bcast_poller *p, *q;
	struct bcast_poller_event ev[2];
	struct ring_set s = { 0 };
	struct bcast_reader *late;
	struct bcast_writer *w;

	CHECK_OK(set_open(&s, "poll-early", 1));
	CHECK_OK(bcast_writer_open(s.r[0], &w));
	CHECK_OK(bcast_poller_create(0, &p));
	CHECK_OK(set_add(p, &s));
	CHECK_EQ(poll_again(p, ev, 2, 1000), 1);
	CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_NEW);
	CHECK_EQ(poll_again(p, ev, 2, 20), 0);
	/* Opened while the writer lives: it knew it from the start. */
	CHECK_OK(bcast_reader_open(s.r[0], BCAST_FROM_OLDEST, &late));
	CHECK_OK(bcast_poller_create(0, &q));
	CHECK_OK(bcast_poller_add_reader(q, late, 1));
	CHECK_EQ(poll_again(q, ev, 2, 20), 0);
	/* Its departure, to both. */
	bcast_writer_close(w);
	CHECK_EQ(poll_again(p, ev, 2, 1000), 1);
	CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_GONE);
	CHECK_EQ(poll_again(q, ev, 2, 1000), 1);
	CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_GONE);
	/* A writer that came and went before the reader joined: only its
	 * departure is left to say. */
	CHECK_OK(bcast_poller_remove_reader(q, late));
	CHECK_OK(bcast_writer_open(s.r[0], &w));
	bcast_writer_close(w);
	CHECK_OK(bcast_poller_add_reader(q, late, 1));
	CHECK_EQ(poll_again(q, ev, 2, 1000), 1);
	CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_GONE);
	CHECK_EQ(poll_again(q, ev, 2, 20), 0);
	bcast_poller_destroy(q);
	bcast_reader_close(late);
	bcast_poller_destroy(p);
	set_close(&s);
}

/*
 * Another process becomes the writer at a random moment: before the
 * reader joins the poller, while it joins, while the poller goes to sleep
 * or sleeps.  Its arrival is reported every time, through each way of
 * sleeping.
 */
TEST(an_arrival_racing_the_poller_is_never_lost)
{
	struct bcast_poller_event ev[2];
	unsigned round, rounds = 60;
	int hold[2], got;
	pid_t pid;

	srand(1234);
	for (round = 0; round < rounds; round++) {
		unsigned flags = round & 1 ? BCAST_POLLER_NO_URING : 0;
		useconds_t writer_delay = (useconds_t)rand() % 2000;
		useconds_t poller_delay = (useconds_t)rand() % 1000;
		struct ring_set s = { 0 };
		struct bcast_poller *p;

		/* A ring of its own: no departure of an earlier round. */
		CHECK_OK(set_open(&s, "poll-race", 1));
		CHECK(!pipe2(hold, O_CLOEXEC));
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			struct bcast_writer *w;
			char c;

			close(hold[1]);
			usleep(writer_delay);
			if (bcast_writer_open(s.r[0], &w))
				_exit(1);
			/* Alive until the parent has seen it. */
			_exit(read(hold[0], &c, 1) == 0 ? 0 : 1);
		}
		close(hold[0]);
		usleep(poller_delay);
		CHECK_OK(bcast_poller_create(flags, &p));
		CHECK_OK(bcast_poller_add_reader(p, s.rd[0], round));
		got = poll_again(p, ev, 2, 3000);
		if (got != 1 || ev[0].events != BCAST_POLL_WRITER_NEW)
			FAILF("round %u (writer after %u us, poller after %u us, "
			      "flags %#x): %d events, %#x", round, writer_delay,
			      poller_delay, flags, got, got > 0 ? ev[0].events : 0);
		close(hold[1]);
		CHECK_EQ(waitpid(pid, &got, 0), pid);
		CHECK(WIFEXITED(got) && WEXITSTATUS(got) == 0);
		/* Its clean departure, and nothing more. */
		got = poll_again(p, ev, 2, 3000);
		CHECK_EQ(got, 1);
		CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_GONE);
		CHECK_EQ(poll_again(p, ev, 2, 0), 0);
		bcast_poller_destroy(p);
		set_close(&s);
	}
}

/* Rings beside a socket and a timerfd, each reported as itself. */
static void rings_and_fds(unsigned flags)
{
	struct itimerspec its = { .it_value = { 0, 50 * 1000000 } };
	struct bcast_poller *p;
	struct bcast_poller_event ev[8];
	struct ring_set s = { 0 };
	struct bcast_writer *w;
	int sv[2], tfd, got;
	uint64_t ticks;
	char c;

	CHECK_OK(set_open(&s, "poll-fds", 4));
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	CHECK(tfd >= 0);
	CHECK_OK(bcast_poller_create(flags, &p));
	CHECK_OK(set_add(p, &s));
	CHECK_OK(bcast_poller_add_fd(p, sv[0], POLLIN, 100));
	CHECK_OK(bcast_poller_add_fd(p, tfd, POLLIN, 200));
	CHECK_EQ(bcast_poller_add_fd(p, tfd, POLLIN, 201), -EEXIST);
	CHECK_OK(bcast_writer_open(s.r[2], &w));
	got = poll_again(p, ev, 8, 1000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_NEW);
	CHECK_EQ(poll_again(p, ev, 8, 20), 0);
	/* The timer. */
	CHECK(!timerfd_settime(tfd, 0, &its, NULL));
	got = poll_again(p, ev, 8, 2000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, 200);
	CHECK_EQ(ev[0].fd, tfd);
	CHECK(ev[0].reader == NULL);
	CHECK_EQ(ev[0].events, BCAST_POLL_FD);
	CHECK(ev[0].revents & POLLIN);
	CHECK(read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks));
	/* The socket: level-triggered until read. */
	CHECK(write(sv[1], "s", 1) == 1);
	got = poll_again(p, ev, 8, 2000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, 100);
	CHECK(ev[0].revents & POLLIN);
	got = poll_again(p, ev, 8, 2000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, 100);
	CHECK(read(sv[0], &c, 1) == 1);
	CHECK_EQ(poll_again(p, ev, 8, 30), 0);
	/* A ring and the socket at once: both. */
	CHECK_OK(bcast_publish(w, "x", 1, 0));
	CHECK(write(sv[1], "t", 1) == 1);
	got = poll_again(p, ev, 8, 2000);
	if (got == 1)
		got += poll_again(p, ev + 1, 7, 2000);
	CHECK_EQ(got, 2);
	CHECK((ev[0].tag == 2 && ev[1].tag == 100) ||
	      (ev[0].tag == 100 && ev[1].tag == 2));
	CHECK_EQ(read_all(s.rd[2]), 1);
	CHECK(read(sv[0], &c, 1) == 1);
	/* The peer hangs up. */
	close(sv[1]);
	got = poll_again(p, ev, 8, 2000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, 100);
	CHECK(ev[0].revents & (POLLHUP | POLLIN));
	CHECK_OK(bcast_poller_remove_fd(p, sv[0]));
	CHECK_EQ(bcast_poller_remove_fd(p, sv[0]), -ENOENT);
	CHECK_EQ(poll_again(p, ev, 8, 30), 0);
	bcast_poller_destroy(p);
	close(sv[0]);
	close(tfd);
	bcast_writer_close(w);
	set_close(&s);
}

TEST(rings_with_a_socket_and_a_timerfd_io_uring)
{
	rings_and_fds(0);
}

TEST(rings_with_a_socket_and_a_timerfd_epoll)
{
	rings_and_fds(BCAST_POLLER_NO_URING);
}

/*
 * Ping-pong: the writer process publishes on a random ring and waits for
 * the reader's answer on a pipe; the reader sleeps in the poller every
 * time.  A lost wake-up shows as a timeout.
 */
static void ping_pong(unsigned n, unsigned flags, bool with_fd,
		      unsigned want_how, const char *tag)
{
	uint64_t cycles = env_u64("BCAST_POLLER_CYCLES", 100000);
	struct bcast_poller *p;
	struct bcast_poller_event ev[8];
	struct bcast_poller_stats st;
	struct ring_set s = { 0 };
	struct order_writer wp;
	int sv[2] = { -1, -1 }, got;
	uint64_t i, timeouts = 0;
	unsigned k;

	CHECK_OK(set_open(&s, tag, n));
	CHECK_OK(bcast_poller_create(flags, &p));
	CHECK_OK(set_add(p, &s));
	if (with_fd) {
		CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
		CHECK_OK(bcast_poller_add_fd(p, sv[0], POLLIN, 1000000));
	}
	CHECK_OK(order_writer_start(&wp, s.names, s.n));
	for (i = 0; i < n;) {
		got = poll_again(p, ev, 8, 2000);
		CHECK(got > 0);
		i += (unsigned)got;
	}
	srand(42);
	for (i = 0; i < cycles; i++) {
		k = (unsigned)rand() % n;
		if (order_writer_send(&wp, (int)k | ORDER_LATER))
			FAILF("cycle %llu: the writer is gone", (unsigned long long)i);
		got = poll_again(p, ev, 8, 5000);
		if (got == 0) {
			timeouts++;
			got = poll_again(p, ev, 8, 5000);
		}
		if (got != 1 || ev[0].tag != k)
			FAILF("cycle %llu: ring %u published, got %d events (tag %llu)",
			      (unsigned long long)i, k, got,
			      got > 0 ? (unsigned long long)ev[0].tag : 0ULL);
		if (read_all(s.rd[k]) != 1)
			FAILF("cycle %llu: not one message on ring %u",
			      (unsigned long long)i, k);
		if (order_writer_done(&wp))
			FAILF("cycle %llu: no answer from the writer",
			      (unsigned long long)i);
	}
	CHECK_OK(bcast_poller_stats(p, &st));
	printf("# %llu cycles over %u rings: %llu sleeps, %llu missed, how %#x\n",
	       (unsigned long long)cycles, n, (unsigned long long)st.sleeps,
	       (unsigned long long)st.missed_wakeups, st.how);
	CHECK_EQ(timeouts, 0);
	CHECK_EQ(st.missed_wakeups, 0);
	if ((st.how & want_how) != want_how)
		FAILF("slept through %#x, expected %#x in it", st.how, want_how);
	/* It slept for most of them (not spinning). */
	CHECK(st.sleeps >= cycles / 2);
	CHECK_EQ(order_writer_stop(&wp), 0);
	bcast_poller_destroy(p);
	if (with_fd) {
		close(sv[0]);
		close(sv[1]);
	}
	set_close(&s);
}

TEST(no_lost_wakeup_futex_waitv)
{
	ping_pong(8, 0, false, BCAST_POLLER_FUTEX_WAITV, "poll-pp-waitv");
}

TEST(no_lost_wakeup_io_uring)
{
	ping_pong(8, 0, true, engine_how(0), "poll-pp-uring");
}

TEST(no_lost_wakeup_epoll_threads)
{
	ping_pong(8, BCAST_POLLER_NO_URING, true,
		  engine_how(BCAST_POLLER_NO_URING), "poll-pp-epoll");
}

struct waiter {
	struct bcast_poller *p;
	int got;
};

static void *wait_a_while(void *arg)
{
	struct waiter *w = arg;
	struct bcast_poller_event ev[2];

	w->got = poll_again(w->p, ev, 2, 300);
	return NULL;
}

TEST(changes_while_another_thread_waits_are_refused)
{
	struct ring_set s = { 0 };
	struct waiter w = { 0 };
	struct bcast_poller_event ev[2];
	pthread_t t;

	CHECK_OK(set_open(&s, "poll-busy", 2));
	CHECK_OK(bcast_poller_create(0, &w.p));
	CHECK_OK(bcast_poller_add_reader(w.p, s.rd[0], 0));
	CHECK(!pthread_create(&t, NULL, wait_a_while, &w));
	usleep(100000);	/* well inside its 300 ms */
	CHECK_EQ(bcast_poller_add_reader(w.p, s.rd[1], 1), -EBUSY);
	CHECK_EQ(bcast_poller_remove_reader(w.p, s.rd[0]), -EBUSY);
	CHECK_EQ(bcast_poller_add_fd(w.p, 0, POLLIN, 1), -EBUSY);
	CHECK_EQ(bcast_poller_wait(w.p, ev, 2, 0), -EBUSY);
	pthread_join(t, NULL);
	CHECK_EQ(w.got, 0);
	/* Free again. */
	CHECK_OK(bcast_poller_add_reader(w.p, s.rd[1], 1));
	bcast_poller_destroy(w.p);
	set_close(&s);
}

TEST(closing_a_reader_takes_it_out)
{
	struct ring_set s = { 0 };
	struct bcast_poller *p;
	struct bcast_poller_event ev[4];
	struct bcast_writer *w;
	int got;

	CHECK_OK(set_open(&s, "poll-close", 3));
	CHECK_OK(bcast_poller_create(0, &p));
	CHECK_OK(set_add(p, &s));
	CHECK_OK(bcast_writer_open(s.r[1], &w));
	CHECK_OK(bcast_publish(w, "x", 1, 0));
	bcast_reader_close(s.rd[1]);
	s.rd[1] = NULL;
	/* Only the arrival... of nobody: ring 1's reader is gone. */
	got = poll_again(p, ev, 4, 50);
	CHECK_EQ(got, 0);
	bcast_writer_close(w);
	bcast_poller_destroy(p);
	set_close(&s);
}

TEST(busy_rings_take_turns)
{
	struct ring_set s = { 0 };
	struct bcast_poller *p;
	struct bcast_poller_event ev[1];
	struct bcast_writer *w[3];
	unsigned seen[3] = { 0 }, i;

	CHECK_OK(set_open(&s, "poll-turns", 3));
	CHECK_OK(bcast_poller_create(0, &p));
	CHECK_OK(set_add(p, &s));
	for (i = 0; i < 3; i++) {
		CHECK_OK(bcast_writer_open(s.r[i], &w[i]));
		CHECK_OK(bcast_publish(w[i], "x", 1, 0));
	}
	/* Nobody reads: each wait of one event names the next ring. */
	for (i = 0; i < 30; i++) {
		CHECK_EQ(poll_again(p, ev, 1, 100), 1);
		CHECK(ev[0].tag < 3);
		seen[ev[0].tag]++;
	}
	CHECK_EQ(seen[0], 10);
	CHECK_EQ(seen[1], 10);
	CHECK_EQ(seen[2], 10);
	for (i = 0; i < 3; i++)
		bcast_writer_close(w[i]);
	bcast_poller_destroy(p);
	set_close(&s);
}

/*
 * Rings that were quiet through a sleep (their io_uring requests out) and
 * then publish together: each wait of one event names the next of them,
 * none is left out, a ring read empty drops out, and a writer that closes
 * on one of them is reported for that ring alone.
 */
static void woken_together(unsigned flags, const char *tag)
{
	static const unsigned busy[3] = { 5, 77, 150 };
	struct bcast_poller_event ev[1];
	struct bcast_writer *w[3];
	struct bcast_poller *p;
	struct ring_set s = { 0 };
	unsigned seen[3], i, j;
	int got;

	CHECK_OK(set_open(&s, tag, 200));
	CHECK_OK(bcast_poller_create(flags, &p));
	CHECK_OK(set_add(p, &s));
	for (j = 0; j < 3; j++)
		CHECK_OK(bcast_writer_open(s.r[busy[j]], &w[j]));
	for (j = 0; j < 3; j++) {
		CHECK_EQ(poll_again(p, ev, 1, 1000), 1);
		CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_NEW);
	}
	/* A sleep with nothing to report: every ring asks for a wake-up. */
	CHECK_EQ(poll_again(p, ev, 1, 30), 0);
	for (j = 0; j < 3; j++)
		CHECK_OK(bcast_publish(w[j], "x", 1, 0));
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 30; i++) {
		CHECK_EQ(poll_again(p, ev, 1, 1000), 1);
		CHECK_EQ(ev[0].events, BCAST_POLL_DATA);
		for (j = 0; j < 3 && ev[0].tag != busy[j]; j++)
			;
		if (j == 3)
			FAILF("wait %u reported ring %llu, which nobody published on",
			      i, (unsigned long long)ev[0].tag);
		seen[j]++;
	}
	CHECK_EQ(seen[0], 10);
	CHECK_EQ(seen[1], 10);
	CHECK_EQ(seen[2], 10);
	CHECK_EQ(read_all(s.rd[busy[1]]), 1);
	for (i = 0; i < 10; i++) {
		CHECK_EQ(poll_again(p, ev, 1, 1000), 1);
		CHECK(ev[0].tag == busy[0] || ev[0].tag == busy[2]);
	}
	CHECK_EQ(read_all(s.rd[busy[0]]), 1);
	CHECK_EQ(read_all(s.rd[busy[2]]), 1);
	CHECK_EQ(poll_again(p, ev, 1, 30), 0);
	bcast_writer_close(w[1]);
	got = poll_again(p, ev, 1, 1000);
	CHECK_EQ(got, 1);
	CHECK_EQ(ev[0].tag, busy[1]);
	CHECK_EQ(ev[0].events, BCAST_POLL_WRITER_GONE);
	CHECK_EQ(poll_again(p, ev, 1, 60), 0);
	bcast_writer_close(w[0]);
	bcast_writer_close(w[2]);
	bcast_poller_destroy(p);
	set_close(&s);
}

TEST(rings_woken_together_take_turns_io_uring)
{
	woken_together(0, "poll-together");
}

TEST(rings_woken_together_take_turns_epoll)
{
	woken_together(BCAST_POLLER_NO_URING, "poll-together-epoll");
}

TEST_MAIN()
