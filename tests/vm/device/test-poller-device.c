// SPDX-License-Identifier: MIT
/*
 * bcast_poller on device rings (kselftest harness, in the VM with
 * bcast.ko): over 8 and over 1,024 rings it is woken by exactly the ring
 * that published; a writer's death is reported for its ring only, within
 * 100 ms; rings beside a shm ring, a socket and a timerfd; 100,000
 * sleep/wake cycles through io_uring (bcast.ko's WAIT command from Linux
 * 6.7, IORING_OP_POLL_ADD of armed files before) and 10,000 through epoll,
 * with no wake-up lost.
 */
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"
#include "bcast.h"
#include "env.h"
#include "order-writer.h"
#include "polling.h"

#define KO "/opt/bcast.ko"
#define CAP 4096

struct ring_set {
	unsigned n;
	char (*names)[64];
	struct bcast_ring **r;
	struct bcast_reader **rd;
};

static int sh(const char *cmd)
{
	return system(cmd);
}

/* n device rings "TAG-i", a reader on each: 0 or -errno. */
static int set_open(struct ring_set *s, const char *tag, unsigned n)
{
	unsigned i;
	int err;

	raise_fd_limit();
	s->n = n;
	s->names = calloc(n, sizeof(*s->names));
	s->r = calloc(n, sizeof(*s->r));
	s->rd = calloc(n, sizeof(*s->rd));
	if (!s->names || !s->r || !s->rd)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		snprintf(s->names[i], sizeof(s->names[i]), "%s-%u", tag, i);
		ctl_destroy(s->names[i]);
		err = ctl_create(s->names[i], CAP, 0, NULL);
		if (!err)
			err = bcast_ring_open(s->names[i], BCAST_RDONLY, &s->r[i]);
		if (!err)
			err = bcast_reader_open(s->r[i], BCAST_FROM_OLDEST,
						&s->rd[i]);
		if (err) {
			printf("# ring %s: %s\n", s->names[i], bcast_strerror(err));
			return err;
		}
	}
	return 0;
}

static void set_close(struct ring_set *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		bcast_reader_close(s->rd[i]);
		bcast_ring_close(s->r[i]);
		ctl_destroy(s->names[i]);
	}
	free(s->names);
	free(s->r);
	free(s->rd);
}

static int set_add(struct bcast_poller *p, struct ring_set *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		int err = bcast_poller_add_reader(p, s->rd[i], i);

		if (err)
			return err;
	}
	return 0;
}

/* Writer news of every ring, once each: how many came (n expected). */
static unsigned arrivals(struct bcast_poller *p, unsigned n)
{
	struct bcast_poller_event ev[64];
	unsigned seen = 0;
	int got;

	while (seen < n && (got = poll_again(p, ev, 64, 5000)) > 0)
		for (int i = 0; i < got; i++)
			seen += ev[i].events == BCAST_POLL_WRITER_NEW;
	return seen;
}

/* The poller's mechanisms for device readers on this kernel. */
static unsigned device_how(unsigned flags)
{
	if (flags & BCAST_POLLER_NO_URING)
		return BCAST_POLLER_EPOLL;
	return BCAST_POLLER_URING |
	       (kernel_at_least(6, 7) ? BCAST_POLLER_URING_CMD : 0);
}

/* Publish on random rings: each wait names that ring, and only it. */
static int exactly_the_ring(struct ring_set *s, unsigned flags,
			    unsigned rounds)
{
	struct bcast_poller_event ev[8];
	struct bcast_poller_stats st;
	struct order_writer wp;
	struct bcast_poller *p;
	unsigned i, k;
	int got, bad = 0;

	if (bcast_poller_create(flags, &p) || set_add(p, s))
		return -1;
	if (order_writer_start(&wp, s->names, s->n))
		return -1;
	if (arrivals(p, s->n) != s->n) {
		printf("# not every writer's arrival was reported\n");
		bad = 1;
	}
	srand(s->n);
	for (i = 0; i < rounds && !bad; i++) {
		k = (unsigned)rand() % s->n;
		/* Published a little later: the poller is asleep by then. */
		if (order_writer_send(&wp, (int)k | ORDER_LATER)) {
			printf("# round %u: the writer is gone\n", i);
			bad = 1;
		}
		got = poll_again(p, ev, 8, 5000);
		if (order_writer_done(&wp)) {
			printf("# round %u: the writer failed\n", i);
			bad = 1;
		}
		if (got != 1 || ev[0].tag != k || ev[0].events != BCAST_POLL_DATA) {
			printf("# round %u: ring %u published; %d events, tag %llu, %#x\n",
			       i, k, got, got > 0 ? (unsigned long long)ev[0].tag : 0ULL,
			       got > 0 ? ev[0].events : 0);
			bad = 1;
		}
		got = read_all(s->rd[k]);
		if (got != 1) {
			printf("# round %u: %d messages on ring %u\n", i, got, k);
			bad = 1;
		}
		got = poll_again(p, ev, 8, 0);
		if (got) {
			printf("# round %u: after reading, %d events, tag %llu, %#x\n",
			       i, got, got > 0 ? (unsigned long long)ev[0].tag : 0ULL,
			       got > 0 ? ev[0].events : 0);
			bad = 1;
		}
	}
	bcast_poller_stats(p, &st);
	printf("# %u rings, %u rounds: %llu sleeps, %llu missed, how %#x\n",
	       s->n, rounds, (unsigned long long)st.sleeps,
	       (unsigned long long)st.missed_wakeups, st.how);
	if ((st.how & device_how(flags)) != device_how(flags) ||
	    st.missed_wakeups)
		bad = 1;
	if (order_writer_stop(&wp))
		bad = 1;
	bcast_poller_destroy(p);
	return bad ? -1 : 0;
}

TEST(eight_device_rings)
{
	struct ring_set s = { 0 };

	ASSERT_EQ(0, set_open(&s, "pd8", 8));
	EXPECT_EQ(0, exactly_the_ring(&s, 0, 300));
	EXPECT_EQ(0, exactly_the_ring(&s, BCAST_POLLER_NO_URING, 100));
	set_close(&s);
}

FIXTURE(many) {
	int reloaded;
};

/* 1,024 rings: more than the module's default max_rings. */
FIXTURE_SETUP(many)
{
	self->reloaded = !sh("rmmod bcast && insmod " KO " max_rings=1100");
	ASSERT_TRUE(self->reloaded);
}

FIXTURE_TEARDOWN(many)
{
	if (self->reloaded && sh("rmmod bcast && insmod " KO))
		printf("# could not load bcast.ko back with its defaults\n");
}

TEST_F_TIMEOUT(many, a_thousand_device_rings, 300)
{
	struct ring_set s = { 0 };

	ASSERT_EQ(0, set_open(&s, "pdm", 1024));
	EXPECT_EQ(0, exactly_the_ring(&s, 0, 100));
	set_close(&s);
}

TEST(writer_death_is_reported_for_that_ring_only)
{
	struct bcast_poller_event ev[8];
	struct order_writer one, rest;
	struct ring_set s = { 0 };
	struct bcast_poller *p;
	double t0, took;
	int got;

	ASSERT_EQ(0, set_open(&s, "pdd", 8));
	ASSERT_EQ(0, bcast_poller_create(0, &p));
	ASSERT_EQ(0, set_add(p, &s));
	/* Ring 3's writer in a process of its own, the others' in another. */
	ASSERT_EQ(0, order_writer_start(&one, &s.names[3], 1));
	ASSERT_EQ(0, order_writer_start(&rest, s.names, 3));
	ASSERT_EQ(4, arrivals(p, 4));
	ASSERT_EQ(0, order_writer_do(&one, 0));
	kill(one.pid, SIGKILL);
	waitpid(one.pid, NULL, 0);
	t0 = now_s();
	/* Its message first, then its departure, for ring 3 only. */
	got = poll_again(p, ev, 8, 2000);
	ASSERT_EQ(1, got);
	EXPECT_EQ(3, ev[0].tag);
	EXPECT_TRUE(ev[0].events & BCAST_POLL_DATA);
	EXPECT_EQ(1, read_all(s.rd[3]));
	if (!(ev[0].events & BCAST_POLL_WRITER_GONE)) {
		got = poll_again(p, ev, 8, 2000);
		ASSERT_EQ(1, got);
		EXPECT_EQ(3, ev[0].tag);
		EXPECT_EQ(BCAST_POLL_WRITER_GONE, ev[0].events);
	}
	took = now_s() - t0;
	printf("# departure seen after %.1f ms\n", took * 1e3);
	EXPECT_GT(0.1, took);
	EXPECT_EQ(0, poll_again(p, ev, 8, 200));
	/* The others still publish, and a new writer on ring 3 is news. */
	ASSERT_EQ(0, order_writer_do(&rest, 1));
	got = poll_again(p, ev, 8, 2000);
	ASSERT_EQ(1, got);
	EXPECT_EQ(1, ev[0].tag);
	EXPECT_EQ(1, read_all(s.rd[1]));
	ASSERT_EQ(0, order_writer_start(&one, &s.names[3], 1));
	got = poll_again(p, ev, 8, 2000);
	ASSERT_EQ(1, got);
	EXPECT_EQ(3, ev[0].tag);
	EXPECT_EQ(BCAST_POLL_WRITER_NEW, ev[0].events);
	EXPECT_EQ(0, order_writer_stop(&one));
	EXPECT_EQ(0, order_writer_stop(&rest));
	bcast_poller_destroy(p);
	set_close(&s);
}

/*
 * A device writer that came after the reader was opened, but before the
 * reader joined the poller, is still news; through each way of sleeping.
 */
static void early_arrival(struct __test_metadata *_metadata, unsigned flags)
{
	struct bcast_poller_event ev[2];
	struct ring_set s = { 0 };
	struct bcast_poller *p;
	struct bcast_writer *w;
	struct bcast_ring *dr;

	ASSERT_EQ(0, set_open(&s, "pde", 1));
	ASSERT_EQ(0, bcast_ring_open(s.names[0], BCAST_RDWR, &dr));
	ASSERT_EQ(0, bcast_writer_open(dr, &w));
	ASSERT_EQ(0, bcast_poller_create(flags, &p));
	ASSERT_EQ(0, set_add(p, &s));
	ASSERT_EQ(1, poll_again(p, ev, 2, 2000));
	EXPECT_EQ(BCAST_POLL_WRITER_NEW, ev[0].events);
	EXPECT_EQ(0, poll_again(p, ev, 2, 50));
	bcast_writer_close(w);
	ASSERT_EQ(1, poll_again(p, ev, 2, 2000));
	EXPECT_EQ(BCAST_POLL_WRITER_GONE, ev[0].events);
	bcast_poller_destroy(p);
	bcast_ring_close(dr);
	set_close(&s);
}

TEST(an_arrival_before_the_reader_joined_is_reported)
{
	early_arrival(_metadata, 0);
	early_arrival(_metadata, BCAST_POLLER_NO_URING);
}

/* Device rings, a shm ring, a socket and a timerfd in one poller. */
static void mixed(struct __test_metadata *_metadata, unsigned flags)
{
	struct itimerspec its = { .it_value = { 0, 30 * 1000000 } };
	struct bcast_ring_opts o = { .size = CAP };
	struct bcast_poller_event ev[8];
	struct bcast_reader *shm_rd;
	struct bcast_writer *w, *sw;
	struct bcast_ring *shm, *dr;
	struct ring_set s = { 0 };
	struct bcast_poller *p;
	int sv[2], tfd, got;
	uint64_t ticks;
	char c;

	ASSERT_EQ(0, set_open(&s, "pdx", 4));
	bcast_ring_destroy("shm:pdx-shm");
	ASSERT_EQ(0, bcast_ring_create("shm:pdx-shm", &o, &shm));
	ASSERT_EQ(0, bcast_reader_open(shm, BCAST_FROM_OLDEST, &shm_rd));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	ASSERT_LE(0, tfd);
	ASSERT_EQ(0, bcast_poller_create(flags, &p));
	ASSERT_EQ(0, set_add(p, &s));
	ASSERT_EQ(0, bcast_poller_add_reader(p, shm_rd, 50));
	ASSERT_EQ(0, bcast_poller_add_fd(p, sv[0], POLLIN, 100));
	ASSERT_EQ(0, bcast_poller_add_fd(p, tfd, POLLIN, 200));
	/* No writer anywhere: nothing to say. */
	EXPECT_EQ(0, poll_again(p, ev, 8, 50));
	ASSERT_EQ(0, bcast_writer_open(shm, &sw));
	ASSERT_EQ(0, bcast_ring_open(s.names[2], BCAST_RDWR, &dr));
	ASSERT_EQ(0, bcast_writer_open(dr, &w));
	ASSERT_EQ(2, arrivals(p, 2));
	ASSERT_EQ(0, timerfd_settime(tfd, 0, &its, NULL));
	got = poll_again(p, ev, 8, 2000);
	ASSERT_EQ(1, got);
	EXPECT_EQ(200, ev[0].tag);
	EXPECT_EQ(BCAST_POLL_FD, ev[0].events);
	ASSERT_EQ(sizeof(ticks), read(tfd, &ticks, sizeof(ticks)));
	ASSERT_EQ(0, bcast_publish(w, "d", 1, 0));
	got = poll_again(p, ev, 8, 2000);
	ASSERT_EQ(1, got);
	EXPECT_EQ(2, ev[0].tag);
	EXPECT_EQ(1, read_all(s.rd[2]));
	ASSERT_EQ(0, bcast_publish(sw, "s", 1, 0));
	got = poll_again(p, ev, 8, 2000);
	ASSERT_EQ(1, got);
	EXPECT_EQ(50, ev[0].tag);
	EXPECT_EQ(1, read_all(shm_rd));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	got = poll_again(p, ev, 8, 2000);
	ASSERT_EQ(1, got);
	EXPECT_EQ(100, ev[0].tag);
	ASSERT_EQ(1, read(sv[0], &c, 1));
	EXPECT_EQ(0, poll_again(p, ev, 8, 50));
	/* The device writer goes: ring 2, and nothing else. */
	bcast_writer_close(w);
	got = poll_again(p, ev, 8, 2000);
	ASSERT_EQ(1, got);
	EXPECT_EQ(2, ev[0].tag);
	EXPECT_EQ(BCAST_POLL_WRITER_GONE, ev[0].events);
	EXPECT_EQ(0, poll_again(p, ev, 8, 50));
	bcast_poller_destroy(p);
	bcast_writer_close(sw);
	bcast_ring_close(dr);
	bcast_reader_close(shm_rd);
	bcast_ring_close(shm);
	bcast_ring_destroy("shm:pdx-shm");
	close(sv[0]);
	close(sv[1]);
	close(tfd);
	set_close(&s);
}

TEST(device_rings_with_shm_a_socket_and_a_timerfd)
{
	mixed(_metadata, 0);
	mixed(_metadata, BCAST_POLLER_NO_URING);
}

/* Ping-pong: the writer publishes on a random ring a little later, the
 * reader sleeps in the poller each time; a lost wake-up is a timeout. */
static int ping_pong(unsigned flags, uint64_t cycles)
{
	struct bcast_poller_event ev[8];
	struct bcast_poller_stats st;
	struct ring_set s = { 0 };
	struct order_writer wp;
	struct bcast_poller *p;
	uint64_t i, timeouts = 0;
	int got, bad = 0;
	unsigned k;

	if (set_open(&s, "pdp", 8) || bcast_poller_create(flags, &p) ||
	    set_add(p, &s) || order_writer_start(&wp, s.names, s.n) ||
	    arrivals(p, s.n) != s.n)
		return -1;
	for (i = 0; i < cycles && !bad; i++) {
		k = (unsigned)rand() % s.n;
		if (order_writer_send(&wp, (int)k | ORDER_LATER))
			bad = 1;
		got = poll_again(p, ev, 8, 5000);
		if (!got) {
			timeouts++;
			got = poll_again(p, ev, 8, 5000);
		}
		if (got != 1 || ev[0].tag != k || read_all(s.rd[k]) != 1 ||
		    order_writer_done(&wp))
			bad = 1;
	}
	bcast_poller_stats(p, &st);
	printf("# %llu cycles: %llu sleeps, %llu timeouts, %llu missed, how %#x\n",
	       (unsigned long long)i, (unsigned long long)st.sleeps,
	       (unsigned long long)timeouts,
	       (unsigned long long)st.missed_wakeups, st.how);
	if (timeouts || st.missed_wakeups || st.sleeps < cycles / 2 ||
	    (st.how & device_how(flags)) != device_how(flags))
		bad = 1;
	if (order_writer_stop(&wp))
		bad = 1;
	bcast_poller_destroy(p);
	set_close(&s);
	return bad ? -1 : 0;
}

FIXTURE(cycles) {
	int unused;
};

FIXTURE_SETUP(cycles)
{
}

FIXTURE_TEARDOWN(cycles)
{
}

TEST_F_TIMEOUT(cycles, no_lost_wakeup_io_uring, 900)
{
	EXPECT_EQ(0, ping_pong(0, env_u64("BCAST_POLLER_DEVICE_CYCLES", 100000)));
}

TEST_F_TIMEOUT(cycles, no_lost_wakeup_epoll, 600)
{
	EXPECT_EQ(0, ping_pong(BCAST_POLLER_NO_URING,
			       env_u64("BCAST_POLLER_DEVICE_CYCLES", 100000) / 10));
}

TEST_HARNESS_MAIN
