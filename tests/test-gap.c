// SPDX-License-Identifier: MIT
/*
 * bcast_publish_gap(): messages lost before they reached the writer are
 * reported to readers as an overrun with that many lost, through every
 * way of reading; quiet gaps only move the numbers; bcast_msg_seq() and
 * bcast_ring_count() agree with the numbers; gap frames that no writer
 * could have written are refused.
 */
#include <stdint.h>
#include "tap.h"
#include "fixture.h"
#include "random.h"

#define CAP 65536

static uint64_t stats_lost(struct bcast_reader *rd, uint64_t *overruns)
{
	struct bcast_reader_stats st;

	if (bcast_reader_stats(rd, &st))
		return UINT64_MAX;
	if (overruns)
		*overruns = st.overruns;
	return st.lost_messages;
}

/* Messages "a" (0), "b" (1), a gap of 5, "c" (7). */
static void publish_abgc(struct bcast_writer *w, unsigned gap_flags)
{
	CHECK_OK(bcast_publish(w, "a", 1, 10));
	CHECK_OK(bcast_publish(w, "b", 1, 11));
	CHECK_OK(bcast_publish_gap(w, 5, gap_flags));
	CHECK_OK(bcast_publish(w, "c", 1, 12));
}

TEST(a_gap_is_an_overrun_to_bcast_receive)
{
	struct ring_fixture f;
	struct bcast_writer_stats ws;
	struct bcast_msg m;
	uint64_t overruns, messages, bytes;
	char buf[16];

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	publish_abgc(f.w, 0);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 1);
	CHECK_EQ(bcast_msg_seq(&m), 0);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 1);
	CHECK_EQ(bcast_msg_seq(&m), 1);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), -BCAST_EOVERRUN);
	CHECK_EQ(stats_lost(f.rd, &overruns), 5);
	CHECK_EQ(overruns, 1);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 1);
	CHECK_EQ(buf[0], 'c');
	CHECK_EQ(m.type, 12);
	CHECK_EQ(bcast_msg_seq(&m), 7);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), -EAGAIN);
	/* The ring's count has the lost ones; the writer's, only its own. */
	CHECK_OK(bcast_ring_count(f.r, &messages, &bytes));
	CHECK_EQ(messages, 8);
	CHECK_EQ(bytes, 3);
	CHECK_OK(bcast_writer_stats(f.w, &ws));
	CHECK_EQ(ws.messages, 3);
	CHECK_EQ(ws.gap_messages, 5);
	fixture_close(&f);
}

TEST(a_gap_is_an_overrun_to_bcast_batch_next)
{
	struct ring_fixture f;
	struct bcast_batch b;
	struct bcast_msg m;
	uint64_t overruns;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	publish_abgc(f.w, 0);
	CHECK_OK(bcast_batch(f.rd, &b));
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK_EQ(bcast_msg_seq(&m), 0);
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK_EQ(bcast_msg_seq(&m), 1);
	CHECK_EQ(bcast_batch_next(&b, &m), -BCAST_EOVERRUN);
	CHECK_EQ(stats_lost(f.rd, &overruns), 5);
	CHECK_EQ(overruns, 1);
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK_EQ(m.type, 12);
	CHECK_EQ(bcast_msg_seq(&m), 7);
	CHECK_EQ(bcast_batch_next(&b, &m), 0);
	fixture_close(&f);
}

TEST(a_gap_is_an_overrun_to_bcast_read_bulk)
{
	struct ring_fixture f;
	struct bcast_bulk bulk;
	struct bcast_msg m;
	unsigned char win[4096];
	uint64_t overruns;
	int got = 0;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	publish_abgc(f.w, 0);
	/* The window stops before the gap: what came first, then the gap
	 * alone, then the rest. */
	CHECK(bcast_read_bulk(f.rd, win, sizeof(win), &bulk) > 0);
	while (bcast_bulk_next(&bulk, &m) == 1)
		got++;
	CHECK_EQ(got, 2);
	CHECK_EQ(stats_lost(f.rd, &overruns), 0);
	CHECK_EQ(bcast_read_bulk(f.rd, win, sizeof(win), &bulk), -BCAST_EOVERRUN);
	CHECK_EQ(stats_lost(f.rd, &overruns), 5);
	CHECK_EQ(overruns, 1);
	CHECK(bcast_read_bulk(f.rd, win, sizeof(win), &bulk) > 0);
	CHECK_EQ(bcast_bulk_next(&bulk, &m), 1);
	CHECK_EQ(m.type, 12);
	CHECK_EQ(bcast_bulk_next(&bulk, &m), 0);
	CHECK_EQ(bcast_read_bulk(f.rd, win, sizeof(win), &bulk), -EAGAIN);
	fixture_close(&f);
}

TEST(a_quiet_gap_moves_the_numbers_only)
{
	struct ring_fixture f;
	struct bcast_msg m;
	struct bcast_batch b;
	struct bcast_bulk bulk;
	struct bcast_reader *rb, *rk;
	unsigned char win[4096];
	uint64_t overruns, messages, bytes;
	char buf[16];
	int got = 0;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rb));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rk));
	publish_abgc(f.w, BCAST_GAP_QUIET);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 1);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 1);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), &m), 1);
	CHECK_EQ(buf[0], 'c');
	CHECK_EQ(bcast_msg_seq(&m), 7);
	CHECK_EQ(stats_lost(f.rd, &overruns), 0);
	CHECK_EQ(overruns, 0);
	CHECK_OK(bcast_batch(rb, &b));
	while (bcast_batch_next(&b, &m) == 1)
		got++;
	CHECK_EQ(got, 3);
	CHECK_EQ(bcast_msg_seq(&m), 7);
	CHECK_EQ(stats_lost(rb, NULL), 0);
	CHECK(bcast_read_bulk(rk, win, sizeof(win), &bulk) > 0);
	for (got = 0; bcast_bulk_next(&bulk, &m) == 1;)
		got++;
	CHECK_EQ(got, 3);
	CHECK_EQ(stats_lost(rk, NULL), 0);
	CHECK_OK(bcast_ring_count(f.r, &messages, &bytes));
	CHECK_EQ(messages, 8);
	bcast_reader_close(rb);
	bcast_reader_close(rk);
	fixture_close(&f);
}

TEST(arguments_are_checked)
{
	struct ring_fixture f;
	struct bcast_claim c;
	struct bcast_writer_stats ws;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_EQ(bcast_publish_gap(NULL, 1, 0), -EINVAL);
	CHECK_EQ(bcast_publish_gap(f.w, 0, 0), -EINVAL);
	CHECK_EQ(bcast_publish_gap(f.w, 1, 0x2), -EINVAL);
	CHECK_OK(bcast_claim(f.w, 8, &c));
	CHECK_EQ(bcast_publish_gap(f.w, 1, 0), -EBUSY);
	bcast_abort(&c);
	CHECK_OK(bcast_writer_stats(f.w, &ws));
	CHECK_EQ(ws.gap_messages, 0);
	CHECK_EQ(ws.frames, 0);
	fixture_close(&f);
}

/* More than word 1 holds: several frames, the whole count. */
TEST(a_gap_above_32_bits_is_counted_whole)
{
	struct ring_fixture f;
	struct bcast_msg m;
	uint64_t big = (1ULL << 33) + 5, overruns, messages, bytes;
	char buf[16];
	ssize_t n;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_publish_gap(f.w, big, 0));
	CHECK_OK(bcast_publish(f.w, "z", 1, 0));
	while ((n = bcast_receive(f.rd, buf, sizeof(buf), &m)) == -BCAST_EOVERRUN)
		;
	CHECK_EQ(n, 1);
	CHECK_EQ(bcast_msg_seq(&m), big);
	CHECK_EQ(stats_lost(f.rd, &overruns), big);
	CHECK_EQ(overruns, 3);
	CHECK_OK(bcast_ring_count(f.r, &messages, &bytes));
	CHECK_EQ(messages, big + 1);
	fixture_close(&f);
}

/*
 * Random messages and gaps, a reader that falls behind and is lapped now
 * and then: whatever happens, delivered + lost == every number given out,
 * and each message's number is the one the writer gave it.
 */
static void accounting(int how)
{
	struct ring_fixture f;
	struct bcast_writer_stats ws;
	struct bcast_reader_stats st;
	uint64_t given = 0, i, rounds = 20000;
	unsigned char buf[512], win[CAP];
	int err;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	for (i = 0; i < rounds; i++) {
		uint64_t r = mix64(i * 3 + (uint64_t)how);
		unsigned burst = (unsigned)(r % 300), k;

		for (k = 0; k < burst; k++) {
			if (mix64(i * 1000 + k) % 17 == 0) {
				uint64_t gap = 1 + mix64(k + i) % 40;

				CHECK_OK(bcast_publish_gap(f.w, gap, 0));
				given += gap;
			} else {
				size_t len = 8 + mix64(given) % 200;

				memcpy(buf, &given, sizeof(given));
				CHECK_OK(bcast_publish(f.w, buf, len, 0));
				given++;
			}
		}
		/* Read in one round of three, a little or a lot: lapped now
		 * and then. */
		if ((r >> 40) % 3)
			continue;
		for (k = 0; k < (unsigned)(r >> 20) % 900; k++) {
			struct bcast_msg m;
			struct bcast_batch b;
			struct bcast_bulk bulk;
			uint64_t mine;
			ssize_t n;

			if (how == 0) {
				n = bcast_receive(f.rd, buf, sizeof(buf), &m);
				if (n == -EAGAIN)
					break;
				if (n == -BCAST_EOVERRUN || n == -EINPROGRESS)
					continue;
				CHECK(n >= 8);
				memcpy(&mine, buf, sizeof(mine));
				CHECK_EQ(bcast_msg_seq(&m), mine);
			} else if (how == 1) {
				err = bcast_batch(f.rd, &b);
				if (err == -EAGAIN)
					break;
				if (err == -BCAST_EOVERRUN)
					continue;
				CHECK_OK(err);
				while ((err = bcast_batch_next(&b, &m)) == 1) {
					if (bcast_msg_read(&m, buf, sizeof(buf)) < 8)
						continue;	/* overwritten: lost */
					memcpy(&mine, buf, sizeof(mine));
					CHECK_EQ(bcast_msg_seq(&m), mine);
				}
			} else {
				n = bcast_read_bulk(f.rd, win, sizeof(win), &bulk);
				if (n == -EAGAIN)
					break;
				if (n == -BCAST_EOVERRUN)
					continue;
				CHECK(n > 0);
				while (bcast_bulk_next(&bulk, &m) == 1)
					;
			}
		}
	}
	/* Everything left. */
	for (;;) {
		struct bcast_bulk bulk;
		struct bcast_msg m;
		ssize_t n = bcast_read_bulk(f.rd, win, sizeof(win), &bulk);

		if (n == -EAGAIN)
			break;
		if (n > 0)
			while (bcast_bulk_next(&bulk, &m) == 1)
				;
		else
			CHECK_EQ(n, -BCAST_EOVERRUN);
	}
	CHECK_OK(bcast_reader_stats(f.rd, &st));
	CHECK_OK(bcast_writer_stats(f.w, &ws));
	printf("# %llu numbers: %llu delivered, %llu lost in %llu overruns "
	       "(%llu of them in gaps)\n", (unsigned long long)given,
	       (unsigned long long)st.messages,
	       (unsigned long long)st.lost_messages,
	       (unsigned long long)st.overruns,
	       (unsigned long long)ws.gap_messages);
	CHECK_EQ(st.messages + st.lost_messages, given);
	CHECK_EQ(ws.messages + ws.gap_messages, given);
	/* Lapped too, not only told of gaps. */
	CHECK(st.lost_messages > ws.gap_messages);
	fixture_close(&f);
}

TEST(delivered_and_lost_add_up_bcast_receive)
{
	accounting(0);
}

TEST(delivered_and_lost_add_up_bcast_batch)
{
	accounting(1);
}

TEST(delivered_and_lost_add_up_bcast_read_bulk)
{
	accounting(2);
}

/* The header word of the only gap frame in the data area. */
static uint64_t *find_gap(struct ring_fixture *f, uint32_t flags, uint32_t n)
{
	uint64_t want = (uint64_t)n << 32 | (uint64_t)flags << 24, *w;

	for (w = (uint64_t *)f->data; w < (uint64_t *)(f->data + CAP); w++)
		if (*w == want)
			return w;
	return NULL;
}

/* A gap frame no writer writes: refused as corrupt, never counted. */
TEST(impossible_gap_frames_are_corrupt)
{
	static const struct { uint32_t flags, len, word1; } bad[] = {
		{ BCAST_FRAME_GAP, 0, 0 },		/* no message */
		{ BCAST_FRAME_SKIP, 0, 0 },
		{ BCAST_FRAME_GAP, 8, 3 },		/* a payload */
		{ BCAST_FRAME_GAP | BCAST_FRAME_FIN, 0, 3 },
		{ BCAST_FRAME_GAP | BCAST_FRAME_SKIP, 0, 3 },
		{ BCAST_FRAME_GAP | BCAST_FRAME_HEARTBEAT, 0, 3 },
		{ 0x40, 0, 3 },				/* unknown flag */
	};
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ring_fixture f;
		struct bcast_batch b;
		struct bcast_msg m;
		char buf[16];
		uint64_t *word;

		CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
		CHECK_OK(bcast_publish_gap(f.w, 3, 0));
		CHECK_OK(bcast_publish(f.w, "x", 1, 0));
		word = find_gap(&f, BCAST_FRAME_GAP, 3);
		CHECK(word != NULL);
		*word = (uint64_t)bad[i].word1 << 32 |
			(uint64_t)bad[i].flags << 24 | bad[i].len;
		if (bcast_receive(f.rd, buf, sizeof(buf), &m) != -BCAST_ECORRUPT)
			FAILF("frame %u (flags %#x len %u word1 %u) not refused",
			      i, bad[i].flags, bad[i].len, bad[i].word1);
		CHECK_EQ(stats_lost(f.rd, NULL), 0);
		CHECK_EQ(bcast_batch(f.rd, &b), 0);
		CHECK_EQ(bcast_batch_next(&b, &m), -BCAST_ECORRUPT);
		CHECK_EQ(stats_lost(f.rd, NULL), 0);
		fixture_close(&f);
	}
}

TEST_MAIN()
