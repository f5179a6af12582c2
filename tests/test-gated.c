// SPDX-License-Identifier: MIT
/*
 * Gated rings (BCAST_GATED): the writer never overwrites what a live
 * registered reader has not consumed; it waits (or -EAGAIN, -ETIMEDOUT),
 * and goes on as soon as the reader moves, leaves, dies or is evicted.
 * The long multi-process run with checksums is test-stress's
 * stress_gated_ring_loses_nothing.
 *
 * Environment: BCAST_GATED_KILLS (1000 reader kills), BCAST_GATED_WAKES
 * (51 wake-up latencies measured), BCAST_GATED_DEVICE=1: the gated rings
 * are bcast.ko rings (the tests of shm slots and lossy rings stay on shm).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include "tap.h"
#include "clock.h"
#include "env.h"
#include "fixture.h"
#include "payload.h"
#include "random.h"

#define CAP (64u << 10)
#define MSG 100

/* shm:bcast-test-TAG-PID, or with BCAST_GATED_DEVICE the bcast.ko ring
 * gated-TAG-PID. */
static const char *gated_name(const char *tag)
{
	static char name[96];

	if (!env_u64("BCAST_GATED_DEVICE", 0))
		return shm_name(tag);
	snprintf(name, sizeof(name), "gated-%s-%d", tag, (int)getpid());
	return name;
}

/* A new gated ring; evict_bytes/evict_ms 0: no eviction policy. */
static struct bcast_ring *gated_ring(const char *tag, uint64_t evict_bytes,
				     unsigned evict_ms)
{
	struct bcast_ring_opts o = { .size = CAP, .flags = BCAST_GATED };
	struct bcast_ring *r = NULL;
	const char *name = gated_name(tag);

	if (evict_bytes || evict_ms) {
		o.flags |= BCAST_EVICT;
		o.evict_bytes = evict_bytes;
		o.evict_ms = evict_ms;
	}
	bcast_ring_destroy(name);
	if (bcast_ring_create(name, &o, &r))
		return NULL;
	/* Mapped: the name may go (a killed test leaves nothing behind). */
	bcast_ring_destroy(name);
	return r;
}

static int publish_seq(struct bcast_writer *w, uint64_t seq, size_t len,
		       bool try_only)
{
	static unsigned char buf[CAP];

	if (len > sizeof(buf))
		return -E2BIG;
	payload_fill(buf, len, seq);
	return try_only ? bcast_try_publish(w, buf, len, (uint32_t)seq) :
			  bcast_publish(w, buf, len, (uint32_t)seq);
}

/* Publish MSG-byte messages from *seq on until the ring has no room. */
static uint64_t fill(struct bcast_writer *w, uint64_t *seq)
{
	uint64_t n = 0;

	while (!publish_seq(w, *seq, MSG, true)) {
		(*seq)++;
		n++;
	}
	return n;
}

/* Receive everything pending, checking order and payloads: the count, or
 * -1 on a wrong message. */
static long drain(struct bcast_reader *rd, uint64_t *next)
{
	unsigned char buf[4096];
	struct bcast_msg m;
	long n = 0;
	ssize_t got;

	while ((got = bcast_receive(rd, buf, sizeof(buf), &m)) >= 0) {
		if (m.type != (uint32_t)*next || !payload_ok(buf, (size_t)got, *next))
			return -1;
		(*next)++;
		n++;
	}
	return got == -EAGAIN ? n : -1;
}

TEST(writer_stops_at_the_slowest_registered_reader)
{
	struct bcast_ring *r = gated_ring("stop", 0, 0);
	struct bcast_reader *slow, *fast, *lossy;
	struct bcast_writer *w;
	struct bcast_reader_stats st;
	uint64_t seq = 0, n, next_slow = 0, next_fast = 0, frame = 112;
	struct bcast_ring_info info;

	CHECK(r);
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.gated, 1);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &slow));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &fast));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST, &lossy));
	/* Nearly a ring: at most one frontier step (a quarter ring at the
	 * most) short of it, never more. */
	n = fill(w, &seq);
	CHECK(n * frame <= CAP);
	CHECK(n * frame >= CAP - CAP / 4);
	/* The fast reader moving on frees nothing while the slow one holds. */
	CHECK_EQ(drain(fast, &next_fast), (long)n);
	CHECK_EQ(publish_seq(w, seq, MSG, true), -EAGAIN);
	/* Everything the slow one was owed is intact, in order. */
	CHECK_EQ(drain(slow, &next_slow), (long)n);
	CHECK_OK(bcast_reader_stats(slow, &st));
	CHECK_EQ(st.overruns, 0);
	CHECK_EQ(st.lost_messages, 0);
	/* Room again: a second ring's worth goes in, and out whole. */
	n = fill(w, &seq);
	CHECK(n * frame >= CAP - CAP / 4);
	CHECK_EQ(drain(slow, &next_slow), (long)n);
	CHECK_EQ(drain(fast, &next_fast), (long)n);
	CHECK_EQ(next_slow, seq);
	/* The unregistered reader held nothing back: it was lapped. */
	CHECK_EQ(bcast_receive(lossy, &(char[4096]){ 0 }, 4096, NULL),
		 -BCAST_EOVERRUN);
	bcast_reader_close(lossy);
	bcast_reader_close(fast);
	bcast_reader_close(slow);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

TEST(try_variants_and_timeout_0_never_wait)
{
	struct bcast_ring *r = gated_ring("try", 0, 0);
	struct bcast_reader *rd;
	struct bcast_writer *w;
	struct bcast_claim c;
	struct bcast_ring_info a, b;
	uint64_t seq = 0;
	int i;

	CHECK(r);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &rd));
	fill(w, &seq);
	CHECK_OK(bcast_ring_info(r, &a));
	/* One thread: a call that waited for the reader would never return
	 * (alarm() ends the test then). */
	alarm(20);
	for (i = 0; i < 1000; i++) {
		CHECK_EQ(bcast_try_claim(w, MSG, &c), -EAGAIN);
		CHECK_EQ(publish_seq(w, seq, MSG, true), -EAGAIN);
		CHECK_EQ(publish_seq(w, seq, 3000, true), -EAGAIN);
	}
	CHECK_OK(bcast_writer_set_timeout(w, 0));
	CHECK_EQ(publish_seq(w, seq, MSG, false), -EAGAIN);
	CHECK_EQ(bcast_claim(w, MSG, &c), -EAGAIN);
	alarm(0);
	/* Nothing was published by the refused calls. */
	CHECK_OK(bcast_ring_info(r, &b));
	CHECK_EQ(b.committed, a.committed);
	CHECK_EQ(drain(rd, &(uint64_t){ 0 }), (long)seq);
	CHECK_OK(bcast_try_claim(w, MSG, &c));
	bcast_abort(&c);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

TEST(blocking_publish_times_out_and_publishes_nothing)
{
	struct bcast_ring *r = gated_ring("timeout", 0, 0);
	struct bcast_ring_info a, b;
	struct bcast_writer_stats ws;
	struct bcast_reader *rd;
	struct bcast_writer *w;
	uint64_t seq = 0;
	double t0, took;

	CHECK(r);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &rd));
	fill(w, &seq);
	CHECK_OK(bcast_ring_info(r, &a));
	CHECK_OK(bcast_writer_set_timeout(w, 100));
	t0 = now_s();
	CHECK_EQ(publish_seq(w, seq, MSG, false), -ETIMEDOUT);
	took = now_s() - t0;
	CHECK(took >= 0.095);	/* now_ms() counts whole ms */
	/* A fragmented message (above the MTU) is refused whole too. */
	CHECK_EQ(publish_seq(w, seq, (size_t)a.mtu + 500, false), -ETIMEDOUT);
	CHECK_OK(bcast_ring_info(r, &b));
	CHECK_EQ(b.committed, a.committed);
	CHECK_OK(bcast_writer_stats(w, &ws));
	CHECK(ws.gate_waits >= 2);
	printf("# timed out after %.1f ms (asked for 100)\n", took * 1e3);
	CHECK_EQ(drain(rd, &(uint64_t){ 0 }), (long)seq);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

/* A publish in another thread, and when it returned. */
struct blocked {
	struct bcast_writer *w;
	uint64_t seq;
	size_t len;
	int rc;
	double done;
};

static void *publish_thread(void *arg)
{
	struct blocked *b = arg;

	b->rc = publish_seq(b->w, b->seq, b->len, false);
	b->done = now_s();
	return NULL;
}

TEST(closing_a_registered_reader_releases_the_writer)
{
	struct bcast_ring *r = gated_ring("close", 0, 0);
	struct blocked b = { .len = MSG };
	struct bcast_reader *rd, *other;
	uint64_t next = 0;
	pthread_t t;
	double t0;

	CHECK(r);
	CHECK_OK(bcast_writer_open(r, &b.w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &rd));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER,
				   &other));
	fill(b.w, &b.seq);
	CHECK_EQ(drain(other, &next), (long)b.seq);
	CHECK_OK(bcast_writer_set_timeout(b.w, 10000));
	CHECK_EQ(pthread_create(&t, NULL, publish_thread, &b), 0);
	usleep(30000);		/* asleep by now */
	CHECK_EQ(b.done, 0);
	t0 = now_s();
	bcast_reader_close(rd);
	pthread_join(t, NULL);
	CHECK_OK(b.rc);
	printf("# released %.3f ms after the reader closed\n",
	       (b.done - t0) * 1e3);
	CHECK(b.done - t0 < 1.0);
	/* The other registered reader got everything. */
	CHECK_EQ(drain(other, &next), 1);
	bcast_reader_close(other);
	bcast_writer_close(b.w);
	bcast_ring_close(r);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * A writer process fills the ring, says so, and blocks in bcast_publish();
 * this process consumes a few messages and times how long the writer takes
 * to return.  The median must be under a millisecond.
 */
TEST(blocked_writer_wakes_within_1ms_of_room)
{
	unsigned rounds = (unsigned)env_u64("BCAST_GATED_WAKES", 51), i;
	struct bcast_ring *r = gated_ring("wake", 0, 0);
	struct bcast_reader *rd;
	double *lat = calloc(rounds, sizeof(*lat));
	int to_parent[2], to_child[2], status;
	unsigned char buf[256];
	pid_t pid;

	CHECK(r && lat);
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &rd));
	CHECK_EQ(pipe(to_parent), 0);
	CHECK_EQ(pipe(to_child), 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct bcast_writer *w;
		uint64_t seq = 0;
		double done;
		char c;

		alarm(120);
		if (bcast_writer_open(r, &w))
			_exit(2);
		for (i = 0; i < rounds; i++) {
			/* Full, and asleep in the publish until room comes. */
			fill(w, &seq);
			if (write(to_parent[1], "f", 1) != 1 ||
			    publish_seq(w, seq++, MSG, false))
				_exit(3);
			done = now_s();
			if (write(to_parent[1], &done, sizeof(done)) !=
			    sizeof(done) || read(to_child[0], &c, 1) != 1)
				_exit(4);
		}
		_exit(0);
	}
	CHECK(pid > 0);
	for (i = 0; i < rounds; i++) {
		double t0, done;
		char c;
		int k;

		CHECK_EQ(read(to_parent[0], &c, 1), 1);
		usleep(3000);	/* past its spinning: asleep */
		t0 = now_s();
		/* Room for the message and a frontier step (capacity/32
		 * on gated rings: 2 KiB, 19 frames). */
		for (k = 0; k < 24; k++)
			CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), MSG);
		CHECK_EQ(read(to_parent[0], &done, sizeof(done)),
			 sizeof(done));
		CHECK(done >= t0);
		lat[i] = done - t0;
		/* The next round starts from a ring this reader left alone. */
		CHECK_EQ(write(to_child[1], "g", 1), 1);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	qsort(lat, rounds, sizeof(*lat), cmp_double);
	printf("# writer woke %.1f us (median) after room appeared; "
	       "p10 %.1f us, p90 %.1f us, %u rounds\n", lat[rounds / 2] * 1e6,
	       lat[rounds / 10] * 1e6, lat[rounds * 9 / 10] * 1e6, rounds);
	CHECK(lat[rounds / 2] < 0.001);
	free(lat);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	bcast_reader_close(rd);
	bcast_ring_close(r);
}

/* A registered reader in a child that reads nothing and waits to die. */
static pid_t idle_reader(struct bcast_ring *r, int from)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct bcast_reader *rd;

		alarm(120);
		if (bcast_reader_open(r, from | BCAST_REGISTER, &rd))
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (pid > 0 && read(ready[0], &c, 1) != 1)
		pid = -1;
	close(ready[0]);
	return pid;
}

TEST(killed_reader_releases_the_writer_within_100ms)
{
	struct bcast_ring *r = gated_ring("kill", 0, 0);
	struct blocked b = { .len = MSG };
	double lat[5];
	pthread_t t;
	int i;

	CHECK(r);
	CHECK_OK(bcast_writer_open(r, &b.w));
	CHECK_OK(bcast_writer_set_timeout(b.w, 10000));
	for (i = 0; i < 5; i++) {
		pid_t pid = idle_reader(r, BCAST_FROM_LATEST);
		double t0;

		CHECK(pid > 0);
		fill(b.w, &b.seq);
		b.done = 0;
		CHECK_EQ(pthread_create(&t, NULL, publish_thread, &b), 0);
		usleep(30000);
		CHECK_EQ(b.done, 0);	/* held back by the live reader */
		t0 = now_s();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pthread_join(t, NULL);
		CHECK_OK(b.rc);
		b.seq++;
		lat[i] = b.done - t0;
	}
	qsort(lat, 5, sizeof(*lat), cmp_double);
	printf("# writer went on %.1f ms (median) after SIGKILL of its "
	       "reader; max %.1f ms\n", lat[2] * 1e3, lat[4] * 1e3);
	CHECK(lat[2] <= 0.100);
	CHECK(lat[4] < 1.0);
	bcast_writer_close(b.w);
	bcast_ring_close(r);
}

/*
 * Registered readers come and go at random (from the oldest or the
 * newest message, reading at random speeds) and are killed at random
 * moments, a thousand times, while a writer process publishes with a
 * 5 s timeout: it must never time out, and once the last reader is dead
 * every slot must be free or reclaimable.
 */
TEST(random_reader_kills_never_deadlock_the_writer)
{
	unsigned kills = (unsigned)env_u64("BCAST_GATED_KILLS", 1000), i;
	struct bcast_ring *r = gated_ring("kills", 0, 0);
	pid_t readers[4] = { 0 }, writer;
	uint64_t rnd = 0x1234, published = 0;
	int stop[2], rep[2], status;
	struct bcast_reader *rd;

	CHECK(r);
	CHECK_EQ(pipe(stop), 0);
	CHECK_EQ(pipe(rep), 0);
	fflush(stdout);
	writer = fork();
	if (writer == 0) {
		struct bcast_writer *w;
		uint64_t seq = 0;
		char c;
		int rc = 0;

		alarm(600);
		close(stop[1]);
		fcntl(stop[0], F_SETFL, O_NONBLOCK);
		if (bcast_writer_open(r, &w) || bcast_writer_set_timeout(w, 5000))
			_exit(2);
		while (read(stop[0], &c, 1) < 0) {
			rc = publish_seq(w, seq, (size_t)(mix64(seq) % 600), false);
			if (rc)
				break;
			seq++;
		}
		if (write(rep[1], &seq, sizeof(seq)) != sizeof(seq))
			_exit(3);
		_exit(rc ? 4 : 0);
	}
	CHECK(writer > 0);
	close(stop[0]);
	for (i = 0; i < kills; i++) {
		unsigned k = (unsigned)(mix64(rnd++) % 4);

		if (readers[k]) {
			usleep((useconds_t)(mix64(rnd++) % 2000));
			kill(readers[k], SIGKILL);
			waitpid(readers[k], NULL, 0);
			readers[k] = 0;
		}
		fflush(stdout);
		readers[k] = fork();
		if (readers[k] == 0) {
			struct bcast_reader *mine;
			unsigned char buf[1024];
			uint64_t pace = mix64(rnd) % 200;

			alarm(120);
			if (bcast_reader_open(r, BCAST_REGISTER |
					      (rnd & 1 ? BCAST_FROM_OLDEST : 0),
					      &mine))
				_exit(2);
			for (;;) {
				if (bcast_receive(mine, buf, sizeof(buf), NULL) ==
				    -EAGAIN)
					bcast_wait(mine, 100);
				if (pace)
					usleep((useconds_t)pace);
			}
		}
		CHECK(readers[k] > 0);
	}
	for (i = 0; i < 4; i++)
		if (readers[i]) {
			kill(readers[i], SIGKILL);
			waitpid(readers[i], NULL, 0);
		}
	CHECK_EQ(write(stop[1], "s", 1), 1);
	CHECK_EQ(read(rep[0], &published, sizeof(published)),
		 sizeof(published));
	CHECK_EQ(waitpid(writer, &status, 0), writer);
	printf("# %u readers killed at random; the writer published %" PRIu64
	       " messages meanwhile\n", kills, published);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(published > kills);
	/* The dead left slots that a new reader can have. */
	CHECK_OK(bcast_reader_open(r, BCAST_REGISTER, &rd));
	bcast_reader_close(rd);
	bcast_ring_close(r);
}

/* What a reader got, lost and was told, after reading everything. */
struct tally {
	uint64_t delivered, delivered_bytes, next;
	unsigned overruns_returned;
};

static int read_all(struct bcast_reader *rd, struct tally *t)
{
	unsigned char buf[4096];
	struct bcast_msg m;
	ssize_t got;

	for (;;) {
		got = bcast_receive(rd, buf, sizeof(buf), &m);
		if (got == -BCAST_EOVERRUN) {
			t->overruns_returned++;
			continue;
		}
		if (got < 0)
			return got == -EAGAIN ? 0 : (int)got;
		if (m.type < t->next || !payload_ok(buf, (size_t)got, m.type))
			return -EBADMSG;
		t->next = (uint64_t)m.type + 1;
		t->delivered++;
		t->delivered_bytes += (uint64_t)got;
	}
}

TEST(eviction_by_lag_is_exact)
{
	struct bcast_ring *r = gated_ring("evict-bytes", 16u << 10, 0);
	struct bcast_writer_stats ws;
	struct bcast_reader_stats st;
	struct bcast_reader *rd;
	struct bcast_writer *w;
	struct tally t = { 0 };
	uint64_t seq, bytes = 0;

	CHECK(r);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_writer_set_timeout(w, 5000));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &rd));
	for (seq = 0; seq < 3000; seq++) {
		size_t len = (size_t)(mix64(seq) % 300);

		/* Never waits long: the reader is evicted 16 KiB behind. */
		CHECK_OK(publish_seq(w, seq, len, false));
		bytes += len;
	}
	CHECK_OK(bcast_writer_stats(w, &ws));
	CHECK(ws.evictions >= 3);
	CHECK_OK(read_all(rd, &t));
	CHECK_OK(bcast_reader_stats(rd, &st));
	printf("# writer evicted %" PRIu64 " times; the reader got %" PRIu64
	       ", lost %" PRIu64 " in %u overrun reports\n", ws.evictions,
	       t.delivered, st.lost_messages, t.overruns_returned);
	CHECK(t.overruns_returned >= 1);
	CHECK(st.evictions >= 1);
	CHECK_EQ(t.delivered + st.lost_messages, 3000);
	CHECK_EQ(t.delivered_bytes + st.lost_bytes, bytes);
	CHECK_EQ(t.next, 3000);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

TEST(eviction_by_time_is_exact)
{
	struct bcast_ring *r = gated_ring("evict-ms", 0, 50);
	struct bcast_writer_stats ws;
	struct bcast_reader_stats st;
	struct bcast_reader *rd;
	struct bcast_writer *w;
	struct tally t = { 0 };
	uint64_t seq = 0;
	double t0, took;

	CHECK(r);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_writer_set_timeout(w, 5000));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &rd));
	fill(w, &seq);
	t0 = now_s();
	CHECK_OK(publish_seq(w, seq++, MSG, false));
	took = now_s() - t0;
	CHECK_OK(bcast_writer_stats(w, &ws));
	CHECK_EQ(ws.evictions, 1);
	CHECK(took >= 0.049 && took < 2.0);
	/* Evicted: the writer no longer waits for it. */
	fill(w, &seq);
	CHECK_OK(read_all(rd, &t));
	CHECK_OK(bcast_reader_stats(rd, &st));
	printf("# evicted after %.1f ms (policy 50 ms); got %" PRIu64
	       ", lost %" PRIu64 "\n", took * 1e3, t.delivered,
	       st.lost_messages);
	CHECK_EQ(st.evictions, 1);
	CHECK_EQ(t.overruns_returned, 1);
	CHECK(st.lost_messages > 0);
	CHECK_EQ(t.delivered + st.lost_messages, seq);
	CHECK_EQ(t.delivered_bytes + st.lost_bytes, seq * MSG);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

TEST(lossy_rings_never_wait_for_registered_readers)
{
	struct bcast_ring *r = shm_ring_new(shm_name("lossy"), CAP, 0);
	struct bcast_reader_stats st;
	struct bcast_reader *rd;
	struct bcast_writer *w;
	struct tally t = { 0 };
	uint64_t seq;

	CHECK(r);
	bcast_ring_destroy(shm_name("lossy"));
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &rd));
	for (seq = 0; seq < 10 * CAP / MSG; seq++)
		CHECK_OK(publish_seq(w, seq, MSG, true));
	CHECK_OK(read_all(rd, &t));
	CHECK_OK(bcast_reader_stats(rd, &st));
	CHECK(t.overruns_returned >= 1);
	CHECK_EQ(t.delivered + st.lost_messages, seq);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

/* The ring's registry, mapped writable behind the library's back. */
static struct bcast_reader_slot *registry_of(struct bcast_ring *r,
					     void **map, size_t *len)
{
	struct bcast_ring_info info;
	int fd;

	if (bcast_ring_info(r, &info) || !info.path)
		return NULL;
	fd = open(info.path, O_RDWR);
	if (fd < 0)
		return NULL;
	*len = info.map_size;
	*map = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (*map == MAP_FAILED)
		return NULL;
	return (struct bcast_reader_slot *)((unsigned char *)*map +
					    BCAST_MAP_SIZE(info.capacity));
}

/*
 * A hostile reader scribbles over its slot: a position far ahead cannot
 * make the writer overwrite what an honest reader needs; one far behind
 * only holds the writer back (as a slow reader does) until it leaves; a
 * registry_high beyond the registry is not followed.
 */
TEST(hostile_slot_values_cannot_make_the_writer_overwrite)
{
	struct bcast_ring *r = shm_ring_new(shm_name("hostile"), CAP, 0);
	struct bcast_ring_opts o = { .size = CAP, .flags = BCAST_GATED };
	struct bcast_reader *honest, *hostile;
	struct bcast_reader_slot *slots;
	struct bcast_ring_hdr *h;
	struct bcast_writer *w;
	uint64_t seq = 0, next = 0;
	unsigned i;
	size_t len;
	void *map;

	bcast_ring_close(r);
	bcast_ring_destroy(shm_name("hostile"));
	CHECK_OK(bcast_ring_create(shm_name("hostile"), &o, &r));
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER,
				   &honest));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER,
				   &hostile));
	slots = registry_of(r, &map, &len);
	bcast_ring_destroy(shm_name("hostile"));
	CHECK(slots);
	h = map;
	/* Slot 1 is the hostile one (slots are taken lowest first). */
	CHECK(slots[0].owner && slots[1].owner && !slots[2].owner);
	slots[1].position = UINT64_MAX;
	h->registry_high = UINT32_MAX;
	for (i = 0; i < 3; i++) {
		long n = (long)fill(w, &seq);

		CHECK(n > 0);
		CHECK_EQ(drain(honest, &next), n);
		CHECK_EQ(next, seq);
	}
	/* Far behind: the writer waits for it, then gives up. */
	slots[1].position = 0;
	CHECK_EQ(publish_seq(w, seq, MSG, true), -EAGAIN);
	CHECK_OK(bcast_writer_set_timeout(w, 30));
	CHECK_EQ(publish_seq(w, seq, MSG, false), -ETIMEDOUT);
	/* It leaves: the writer goes on. */
	bcast_reader_close(hostile);
	CHECK_OK(publish_seq(w, seq++, MSG, false));
	CHECK_EQ(drain(honest, &next), 1);
	munmap(map, len);
	bcast_reader_close(honest);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

/* A batch's handles are the reader's until its next read call. */
TEST(batch_handles_stay_intact_until_the_next_call)
{
	struct bcast_ring *r = gated_ring("batch", 0, 0);
	struct bcast_msg m[1024];
	unsigned char buf[256];
	struct bcast_reader *rd;
	struct bcast_writer *w;
	struct bcast_batch b;
	uint64_t seq = 0;
	unsigned n = 0, i;

	CHECK(r);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &rd));
	fill(w, &seq);
	CHECK_OK(bcast_batch(rd, &b));
	while (n < 1024 && bcast_batch_next(&b, &m[n]) == 1)
		n++;
	CHECK_EQ(n, seq);
	/* Handed out, not yet consumed: no room. */
	CHECK_EQ(publish_seq(w, seq, MSG, true), -EAGAIN);
	for (i = 0; i < n; i++) {
		CHECK_EQ(bcast_msg_read(&m[i], buf, sizeof(buf)), MSG);
		CHECK(payload_ok(buf, MSG, i));
	}
	/* The next call consumes them. */
	CHECK_EQ(bcast_batch(rd, &b), -EAGAIN);
	CHECK(fill(w, &seq) > 0);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

TEST_MAIN()
