// SPDX-License-Identifier: MIT
/*
 * Both ends of a bridged stream, for tests/bridge/test-bridge.sh.
 *
 *   bridge-check publish RING N [BIG_EVERY [RATE]]
 *	become RING's writer (creating a 64 MiB ring if there is none) and
 *	publish messages 0..N-1: message i is payload_fill(i) of 8..1031
 *	bytes (every BIG_EVERY-th: 1.5 MiB, more than a NATS message holds),
 *	of type 0x1000 + i % 7; at most RATE messages a second (0: no limit).
 *   bridge-check verify RING N [TIMEOUT_S]
 *	read RING from its oldest message until messages 0..N-1 are all
 *	accounted for, delivered or reported lost, and check each delivered
 *	one byte for byte, its type and its length; that the messages lost
 *	between two delivered ones are exactly what -BCAST_EOVERRUN reported;
 *	that none comes twice or out of order.  Prints one line
 *	"delivered=D lost=L overruns=O unexplained=U bad=B late=T gone=G" and
 *	exits 0 only if D + L == N and U == B == 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bcast.h"
#include "payload.h"
#include "random.h"

#define BIG (3u << 19)

static size_t size_of(uint64_t i, uint64_t big_every)
{
	if (big_every && i % big_every == big_every - 1)
		return BIG;
	return 8 + mix64(i) % 1024;
}

static uint32_t type_of(uint64_t i)
{
	return 0x1000 + (uint32_t)(i % 7);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int publish(const char *name, uint64_t n, uint64_t big_every,
		   uint64_t rate)
{
	struct bcast_ring_opts o = { .size = 64 << 20 };
	struct bcast_writer *w;
	struct bcast_ring *r;
	unsigned char *buf = malloc(BIG);
	double t0 = now_s();
	uint64_t i;
	int err;

	err = bcast_ring_open(name, BCAST_RDWR, &r);
	if (err == -ENOENT)
		err = bcast_ring_create(name, &o, &r);
	if (!err)
		err = bcast_writer_open(r, &w);
	if (err || !buf) {
		fprintf(stderr, "bridge-check: %s: %s\n", name, bcast_strerror(err));
		return 1;
	}
	for (i = 0; i < n; i++) {
		size_t len = size_of(i, big_every);

		payload_fill(buf, len, i);
		err = bcast_publish(w, buf, len, type_of(i));
		if (err) {
			fprintf(stderr, "bridge-check: publishing %llu: %s\n",
				(unsigned long long)i, bcast_strerror(err));
			return 1;
		}
		if (rate && i % 256 == 255) {
			double due = t0 + (double)(i + 1) / (double)rate;
			double wait = due - now_s();

			if (wait > 0)
				usleep((useconds_t)(wait * 1e6));
		}
	}
	bcast_writer_close(w);
	bcast_ring_close(r);
	free(buf);
	return 0;
}

struct tally {
	uint64_t delivered, lost, overruns, unexplained, bad, late, gone;
	uint64_t expect;	/* the next message's number */
	uint64_t lost_seen;	/* the reader's lost_messages, counted */
};

static void overrun(struct tally *t, struct bcast_reader *rd)
{
	struct bcast_reader_stats st;

	bcast_reader_stats(rd, &st);
	t->overruns = st.overruns;
	t->lost = st.lost_messages;
}

static void check(struct tally *t, const unsigned char *p, ssize_t len,
		  const struct bcast_msg *m)
{
	uint64_t i, gap;

	if (len < 8) {
		t->bad++;
		return;
	}
	i = payload_seq(p);
	if (i < t->expect) {
		t->late++;	/* twice, or out of order */
		return;
	}
	gap = i - t->expect;
	/* What went missing since the last one must be what was reported. */
	if (gap != t->lost - t->lost_seen)
		t->unexplained += gap > t->lost - t->lost_seen ?
				  gap - (t->lost - t->lost_seen) :
				  (t->lost - t->lost_seen) - gap;
	t->lost_seen = t->lost;
	t->expect = i + 1;
	t->delivered++;
	if (!payload_ok(p, (size_t)len, i) || m->type != type_of(i))
		t->bad++;
}

static int verify(const char *name, uint64_t n, double timeout)
{
	struct bcast_reader *rd = NULL;
	struct bcast_ring *r = NULL;
	unsigned char *buf = malloc(BIG);
	struct tally t = { 0 };
	double deadline = now_s() + timeout;
	int err;

	while ((err = bcast_ring_open(name, BCAST_RDONLY, &r)) == -ENOENT &&
	       now_s() < deadline)
		usleep(10000);
	if (!err)
		err = bcast_reader_open(r, BCAST_FROM_OLDEST, &rd);
	if (err || !buf) {
		fprintf(stderr, "bridge-check: %s: %s\n", name, bcast_strerror(err));
		return 1;
	}
	while (t.delivered + t.lost < n && now_s() < deadline) {
		struct bcast_msg m;
		ssize_t len = bcast_receive(rd, buf, BIG, &m);

		if (len >= 0) {
			check(&t, buf, len, &m);
		} else if (len == -BCAST_EOVERRUN) {
			overrun(&t, rd);
		} else if (len == -EAGAIN) {
			err = bcast_wait(rd, 100);
			if (err == -BCAST_EWRITERGONE)
				t.gone++;
		} else if (len != -EINPROGRESS) {
			fprintf(stderr, "bridge-check: reading %s: %s\n", name,
				bcast_strerror((int)len));
			return 1;
		}
	}
	/* A gap at the very end is reported after the last message. */
	if (t.lost != t.lost_seen && t.expect + (t.lost - t.lost_seen) != n)
		t.unexplained += t.lost - t.lost_seen;
	printf("delivered=%llu lost=%llu overruns=%llu unexplained=%llu bad=%llu "
	       "late=%llu gone=%llu\n", (unsigned long long)t.delivered,
	       (unsigned long long)t.lost, (unsigned long long)t.overruns,
	       (unsigned long long)t.unexplained, (unsigned long long)t.bad,
	       (unsigned long long)t.late, (unsigned long long)t.gone);
	bcast_reader_close(rd);
	bcast_ring_close(r);
	free(buf);
	return t.delivered + t.lost == n && !t.unexplained && !t.bad && !t.late ?
	       0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "publish"))
		return publish(argv[2], strtoull(argv[3], NULL, 0),
			       argc > 4 ? strtoull(argv[4], NULL, 0) : 0,
			       argc > 5 ? strtoull(argv[5], NULL, 0) : 0);
	if (argc >= 4 && !strcmp(argv[1], "verify"))
		return verify(argv[2], strtoull(argv[3], NULL, 0),
			      argc > 4 ? strtod(argv[4], NULL) : 120);
	fprintf(stderr, "usage: bridge-check publish RING N [BIG_EVERY [RATE]]\n"
			"       bridge-check verify RING N [TIMEOUT_S]\n");
	return 2;
}
