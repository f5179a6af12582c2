// SPDX-License-Identifier: MIT
/* The writer: claim/commit/abort, publish, publishv, deferral, heartbeats,
 * fragmentation, the claimed frontier, one writer at a time. */
#include <pthread.h>
#include "tap.h"
#include "fixture.h"
#include "payload.h"
#include <linux/bcast.h>

#define CAP 65536
#define CHUNK (CAP / 256)	/* the frontier step, BCAST_CHUNK_SHIFT */

static uint64_t committed(struct ring_fixture *f)
{
	struct bcast_ring_info info;

	bcast_ring_info(f->r, &info);
	return info.committed;
}

TEST(claim_commit_abort)
{
	struct ring_fixture f;
	struct bcast_claim c, c2;
	struct bcast_msg m;
	char buf[64];

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_claim(f.w, 5, &c));
	CHECK(c.data != NULL);
	CHECK_EQ(c.len, 5);
	CHECK_EQ(bcast_claim(f.w, 5, &c2), -EBUSY);
	memcpy(c.data, "abort", 5);
	bcast_abort(&c);
	CHECK_EQ(committed(&f), 0);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), -EAGAIN);
	CHECK_EQ(bcast_commit(&c, 1, 0), -EINVAL);	/* already aborted */

	CHECK_OK(bcast_claim(f.w, 32, &c));
	memcpy(c.data, "shrunk", 6);
	c.len = 6;				/* use less than claimed */
	CHECK_OK(bcast_commit(&c, 42, 0));
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 6);
	CHECK(!memcmp(buf, "shrunk", 6));
	CHECK_EQ(m.type, 42);
	CHECK_EQ(bcast_commit(&c, 1, 0), -EINVAL);	/* committed twice */

	CHECK_OK(bcast_claim(f.w, 8, &c));
	c.len = 9;				/* more than claimed */
	CHECK_EQ(bcast_commit(&c, 1, 0), -EINVAL);
	c.len = 8;
	CHECK_EQ(bcast_commit(&c, 1, 0x80), -EINVAL);	/* unknown flag */
	CHECK_OK(bcast_commit(&c, 1, 0));
	CHECK_EQ(bcast_claim(NULL, 8, &c), -EINVAL);
	CHECK_EQ(bcast_claim(f.w, 8, NULL), -EINVAL);
	fixture_close(&f);
}

TEST(claim_above_mtu_fails_publish_fragments)
{
	struct ring_fixture f;
	struct bcast_claim c;
	struct bcast_msg m;
	struct bcast_writer_stats ws;
	static unsigned char big[3 * 1000 + 17], out[sizeof(big)];

	CHECK_OK(fixture_open(&f, CAP, 1000, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_EQ(bcast_claim(f.w, 1001, &c), -EMSGSIZE);
	CHECK_OK(bcast_claim(f.w, 1000, &c));
	bcast_abort(&c);
	payload_fill(big, sizeof(big), 7);
	CHECK_OK(bcast_publish(f.w, big, sizeof(big), 77));
	CHECK_OK(bcast_writer_stats(f.w, &ws));
	CHECK_EQ(ws.messages, 1);
	CHECK_EQ(ws.frames, 4);			/* 3 x 1000 + 17 */
	CHECK_EQ(bcast_receive(f.rd, out, sizeof(out), &m), sizeof(big));
	CHECK(payload_ok(out, sizeof(big), 7));
	CHECK_EQ(m.type, 77);
	CHECK(m.flags & BCAST_MSG_FRAGMENTED);
	CHECK_EQ(bcast_publish(f.w, NULL, 5, 1), -EINVAL);
	CHECK_OK(bcast_publish(f.w, NULL, 0, 3));	/* empty message */
	CHECK_EQ(bcast_receive(f.rd, out, sizeof(out), &m), 0);
	CHECK_EQ(m.type, 3);
	fixture_close(&f);
}

struct big_reader {
	struct bcast_reader *rd;
	unsigned char *out;
	size_t cap;
	ssize_t got;
};

static void *receive_big(void *arg)
{
	struct big_reader *br = arg;

	do {
		br->got = bcast_receive(br->rd, br->out, br->cap, NULL);
		if (br->got == -EAGAIN)
			bcast_wait(br->rd, 1000);
	} while (br->got == -EAGAIN);
	return NULL;
}

TEST(message_larger_than_the_ring_reaches_a_reader_that_keeps_up)
{
	struct ring_fixture f;
	size_t len = 3 * CAP + 123;
	unsigned char *big = malloc(len), *out = malloc(len);
	struct big_reader br;
	struct bcast_msg m;
	struct bcast_batch b = { 0 };
	pthread_t t;

	CHECK(big && out);
	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	br = (struct big_reader){ f.rd, out, len, 0 };
	payload_fill(big, len, 99);
	CHECK(!pthread_create(&t, NULL, receive_big, &br));
	/* Fragments are published one by one: a reader that is never a
	 * whole ring behind gets the message. */
	CHECK_OK(bcast_publish(f.w, big, len, 5));
	CHECK(!pthread_join(t, NULL));
	if (br.got == -BCAST_EOVERRUN) {
		/* The writer was faster than the reader thread: legitimate
		 * for a broadcast ring, and accounted. */
		struct bcast_reader_stats st;

		ssize_t n;

		/* The tail of the lost message is skipped and counted (the
		 * writer may have lapped the reader again meanwhile). */
		while ((n = bcast_receive(f.rd, out, len, NULL)) ==
		       -BCAST_EOVERRUN)
			;
		CHECK_EQ(n, -EAGAIN);
		bcast_reader_stats(f.rd, &st);
		CHECK(st.overruns >= 1);
		CHECK_EQ(st.lost_messages, 1);
		CHECK_EQ(st.lost_bytes, len);
	} else {
		CHECK_EQ(br.got, (ssize_t)len);
		CHECK(payload_ok(out, len, 99));
	}
	/* Lazy reads cannot hold a message bigger than the ring. */
	CHECK_OK(bcast_publish(f.w, big, len, 6));
	CHECK_EQ(bcast_batch(f.rd, &b), -BCAST_EOVERRUN);
	CHECK_EQ(bcast_batch_next(&b, &m), -EINVAL);	/* no snapshot taken */
	free(big);
	free(out);
	fixture_close(&f);
}

TEST(deferred_commits_publish_once_at_flush)
{
	struct ring_fixture f;
	struct bcast_claim c;
	struct bcast_msg m;
	char buf[16];
	int i;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	for (i = 0; i < 10; i++) {
		CHECK_OK(bcast_claim(f.w, 4, &c));
		memcpy(c.data, &i, 4);
		CHECK_OK(bcast_commit(&c, (uint32_t)i, BCAST_DEFER));
	}
	CHECK_EQ(committed(&f), 0);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), -EAGAIN);
	CHECK_OK(bcast_flush(f.w));
	CHECK_EQ(committed(&f), 10 * 16);
	for (i = 0; i < 10; i++) {
		CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 4);
		CHECK_EQ(m.type, (uint32_t)i);
	}
	CHECK_OK(bcast_flush(f.w));		/* nothing pending: no-op */
	CHECK_EQ(bcast_flush(NULL), -EINVAL);
	/* Deferral never lets a frame be lapped before it was visible:
	 * past a chunk of deferred bytes the writer publishes by itself. */
	for (i = 0; i < 1000; i++) {
		CHECK_OK(bcast_claim(f.w, 56, &c));
		CHECK_OK(bcast_commit(&c, 0, BCAST_DEFER));
	}
	CHECK(committed(&f) > 10 * 16);
	CHECK(committed(&f) >= 1000 * 64 - CHUNK);
	fixture_close(&f);
}

TEST(publishv_gathers)
{
	struct ring_fixture f;
	struct iovec iov[3] = { { "head-", 5 }, { NULL, 0 }, { "tail", 4 } };
	struct bcast_msg m;
	char buf[32];

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_publishv(f.w, iov, 3, 9));
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 9);
	CHECK(!memcmp(buf, "head-tail", 9));
	CHECK_EQ(bcast_publishv(f.w, iov, -1, 9), -EINVAL);
	CHECK_EQ(bcast_publishv(f.w, NULL, 2, 9), -EINVAL);
	iov[1].iov_len = 3;			/* length without a base */
	CHECK_EQ(bcast_publishv(f.w, iov, 3, 9), -EFAULT);
	CHECK_OK(bcast_publishv(f.w, iov, 0, 5));	/* empty */
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 0);
	fixture_close(&f);
}

TEST(publishv_fragments_across_iovecs)
{
	struct ring_fixture f;
	static unsigned char src[5000], out[5000];
	struct iovec iov[4] = { { src, 1 }, { src + 1, 2998 },
				{ src + 2999, 1 }, { src + 3000, 2000 } };
	struct bcast_msg m;

	CHECK_OK(fixture_open(&f, CAP, 512, FIXTURE_WRITER | FIXTURE_READER));
	payload_fill(src, sizeof(src), 3);
	CHECK_OK(bcast_publishv(f.w, iov, 4, 11));
	CHECK_EQ(bcast_receive(f.rd, out, sizeof(out), &m), 5000);
	CHECK(payload_ok(out, 5000, 3));
	CHECK_EQ(m.type, 11);
	fixture_close(&f);
}

TEST(heartbeats_are_frames_not_messages)
{
	struct ring_fixture f;
	struct bcast_reader_stats st;
	struct bcast_writer_stats ws;
	char buf[8];

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_heartbeat(f.w));
	CHECK_OK(bcast_heartbeat(f.w));
	CHECK_EQ(committed(&f), 16);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), NULL), -EAGAIN);
	CHECK_OK(bcast_reader_stats(f.rd, &st));
	CHECK_EQ(st.heartbeats, 2);
	CHECK_EQ(st.messages, 0);
	CHECK_OK(bcast_writer_stats(f.w, &ws));
	CHECK_EQ(ws.heartbeats, 2);
	CHECK_EQ(ws.messages, 0);
	CHECK_EQ(bcast_heartbeat(NULL), -EINVAL);
	fixture_close(&f);
}

TEST(frontier_moves_in_chunks)
{
	struct ring_fixture f;
	struct bcast_writer_stats ws;
	struct bcast_ring_info info;
	char buf[64] = { 0 };
	int i;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	for (i = 0; i < 100000; i++) {
		CHECK_OK(bcast_publish(f.w, buf, 56, 0));
		if (i % 997)
			continue;
		CHECK_OK(bcast_ring_info(f.r, &info));
		CHECK(info.claimed >= info.committed);
		CHECK(info.claimed - info.committed <= CHUNK);
	}
	CHECK_OK(bcast_writer_stats(f.w, &ws));
	/* 6.4 MB through a 64 KiB ring: one step per 256-byte chunk. */
	CHECK(ws.frontier_steps <= 100000 * 64 / CHUNK + 2);
	CHECK(ws.frontier_steps >= 100000 * 64 / CHUNK / 2);
	CHECK_EQ(ws.notifies, 0);		/* nobody slept */
	fixture_close(&f);
}

/* The padding a claim needed at the end of a lap is published by a flush
 * even when that claim is aborted. */
TEST(padding_of_an_aborted_claim_is_flushed)
{
	struct ring_fixture f;
	struct bcast_claim c;
	char buf[256] = { 0 };
	uint64_t n = 0;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	while (committed(&f) + 2 * 264 <= CAP)
		CHECK_OK(bcast_publish(f.w, buf, 256, (uint32_t)n++));
	/* 264-byte frames from here on do not fit before the end */
	while (committed(&f) + 264 <= CAP)
		CHECK_OK(bcast_publish(f.w, buf, 8, (uint32_t)n++));
	CHECK(committed(&f) < CAP);
	CHECK_OK(bcast_claim(f.w, 256, &c));
	bcast_abort(&c);
	CHECK_OK(bcast_flush(f.w));
	CHECK_EQ(committed(&f), CAP);
	CHECK_OK(bcast_publish(f.w, buf, 256, (uint32_t)n++));
	CHECK_EQ(committed(&f), CAP + 264);
	fixture_close(&f);
}

static size_t varied_len(uint64_t i, size_t max)
{
	return (size_t)(i * 37 % (max + 1));
}

/*
 * Filled from empty to capacity minus a chunk with nobody reading, a ring
 * gives every message back: the frontier does not eat into it.
 */
TEST(a_ring_filled_to_capacity_minus_a_chunk_loses_nothing)
{
	struct ring_fixture f;
	struct bcast_reader_stats st;
	struct bcast_ring_info info;
	char buf[16] = { 0 };
	uint64_t n = 0, got = 0;
	ssize_t len;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	while (committed(&f) + 16 <= CAP - CHUNK) {
		CHECK_OK(bcast_publish(f.w, buf, 8, (uint32_t)n));
		n++;
	}
	CHECK_OK(bcast_ring_info(f.r, &info));
	CHECK_EQ(info.committed, CAP - CHUNK);
	CHECK(info.claimed <= CAP);
	while ((len = bcast_receive(f.rd, buf, sizeof(buf), NULL)) == 8)
		got++;
	CHECK_EQ(len, -EAGAIN);
	CHECK_EQ(got, n);
	CHECK_OK(bcast_reader_stats(f.rd, &st));
	CHECK_EQ(st.overruns, 0);
	CHECK_EQ(st.lost_messages, 0);
	fixture_close(&f);
}

/*
 * A reader that stays capacity minus one frame of the MTU behind the
 * writer (here even minus the larger of a chunk and the next frame, the
 * bound the frontier keeps) for 50 laps of mixed sizes, across the
 * padding at every lap's end, is never lapped and loses nothing.
 */
TEST(a_reader_almost_a_ring_behind_is_never_lapped)
{
	const size_t mtu = 512;
	struct ring_fixture f;
	struct bcast_reader_stats st;
	struct bcast_ring_info info;
	static unsigned char src[512], out[512];
	uint64_t i, got = 0, max_lag = 0, rpos;
	uint64_t frame_mtu = BCAST_FRAME_TOTAL(mtu);

	CHECK_OK(fixture_open(&f, CAP, mtu, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_ring_info(f.r, &info));
	CHECK_EQ(info.mtu, mtu);
	for (i = 0; committed(&f) < 50ULL * CAP; i++) {
		size_t len = varied_len(i, mtu);
		uint64_t t = BCAST_FRAME_TOTAL(len);
		uint64_t c = committed(&f), idx = c % CAP;
		uint64_t after = c + (idx + t > CAP ? CAP - idx : 0) + t;
		uint64_t keep = CAP - (t > CHUNK ? t : CHUNK);
		ssize_t n;

		/* Read only what must be read to stay within the bound. */
		while (after - bcast_reader_position(f.rd) > keep) {
			n = bcast_receive(f.rd, out, sizeof(out), NULL);
			CHECK(n >= 0);
			CHECK_EQ((size_t)n, varied_len(got, mtu));
			got++;
		}
		payload_fill(src, len, (unsigned)i);
		CHECK_OK(bcast_publish(f.w, src, len, (uint32_t)i));
		rpos = bcast_reader_position(f.rd);
		if (committed(&f) - rpos > max_lag)
			max_lag = committed(&f) - rpos;
	}
	while (bcast_receive(f.rd, out, sizeof(out), NULL) >= 0)
		got++;
	CHECK_EQ(got, i);
	CHECK_OK(bcast_reader_stats(f.rd, &st));
	CHECK_EQ(st.overruns, 0);
	CHECK_EQ(st.lost_messages, 0);
	printf("# %" PRIu64 " messages over 50 laps; the reader fell up to %"
	       PRIu64 " of %d bytes behind (capacity - frame of the MTU = %"
	       PRIu64 ")\n", i, max_lag, CAP, CAP - frame_mtu);
	CHECK(max_lag >= CAP - frame_mtu);
	fixture_close(&f);
}

TEST(one_writer_at_a_time_and_the_next_continues)
{
	const char *name = "shm:bcast-test-writer";
	struct bcast_ring_opts o = { .size = CAP };
	struct bcast_ring *r1, *r2;
	struct bcast_writer *w1, *w2;
	struct bcast_reader *rd;
	struct bcast_ring_info info;
	char buf[16];
	uint64_t epoch;

	bcast_ring_destroy(name);
	CHECK_OK(bcast_ring_create(name, &o, &r1));
	CHECK_OK(bcast_ring_open(name, BCAST_RDWR, &r2));
	CHECK_OK(bcast_writer_open(r1, &w1));
	CHECK_EQ(bcast_writer_open(r1, &w2), -EBUSY);
	CHECK_EQ(bcast_writer_open(r2, &w2), -EBUSY);
	CHECK_OK(bcast_ring_info(r2, &info));
	CHECK_EQ(info.writer_alive, 1);
	CHECK_EQ(info.writer_pid, getpid());
	epoch = info.writer_epoch;
	CHECK_OK(bcast_reader_open(r2, BCAST_FROM_OLDEST, &rd));
	CHECK_OK(bcast_publish(w1, "one", 3, 1));
	bcast_writer_close(w1);
	CHECK_OK(bcast_ring_info(r2, &info));
	CHECK_EQ(info.writer_alive, 0);
	CHECK_OK(bcast_writer_open(r2, &w2));
	CHECK_OK(bcast_ring_info(r2, &info));
	CHECK_EQ(info.writer_epoch, epoch + 1);
	CHECK_OK(bcast_publish(w2, "two", 3, 2));
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), 3);
	CHECK(!memcmp(buf, "one", 3));
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), 3);
	CHECK(!memcmp(buf, "two", 3));
	bcast_reader_close(rd);
	bcast_writer_close(w2);
	bcast_ring_close(r2);
	bcast_ring_close(r1);
	bcast_ring_destroy(name);
}

TEST_MAIN()
