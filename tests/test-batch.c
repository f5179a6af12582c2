// SPDX-License-Identifier: MIT
/* Batches of lazy messages, zero-copy peeks, and bulk reads. */
#include "tap.h"
#include "fixture.h"
#include "payload.h"
#include "random.h"
#include <linux/bcast.h>

#define CAP 65536

static size_t size_of(uint64_t seq)
{
	return mix64(seq) % 700;
}

static int publish_seq(struct bcast_writer *w, uint64_t seq)
{
	unsigned char buf[700];

	payload_fill(buf, size_of(seq), seq);
	return bcast_publish(w, buf, size_of(seq), (uint32_t)seq);
}

TEST(batch_yields_every_pending_message)
{
	struct ring_fixture f;
	struct bcast_batch b;
	struct bcast_msg m;
	unsigned char out[700];
	uint64_t seq;
	int n = 0;

	/* sizes up to 700: fragments */
	CHECK_OK(fixture_open(&f, CAP, 256, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_EQ(bcast_batch(f.rd, &b), -EAGAIN);
	for (seq = 0; seq < 50; seq++)
		CHECK_OK(publish_seq(f.w, seq));
	CHECK_OK(bcast_batch(f.rd, &b));
	CHECK_OK(publish_seq(f.w, 50));	/* after the snapshot */
	while (bcast_batch_next(&b, &m) == 1) {
		CHECK_EQ(m.type, (uint32_t)n);
		CHECK_EQ(m.len, size_of(n));
		CHECK_EQ(!!(m.flags & BCAST_MSG_FRAGMENTED), m.len > 256);
		CHECK_EQ(bcast_msg_read(&m, out, sizeof(out)), m.len);
		CHECK(payload_ok(out, m.len, m.type));
		if (m.len <= 256) {
			const unsigned char *p = bcast_msg_peek(&m);

			CHECK(p != NULL);
			CHECK(payload_ok(p, m.len, m.type));
			CHECK_EQ(bcast_msg_valid(&m), 1);
		} else {
			CHECK(bcast_msg_peek(&m) == NULL);
		}
		n++;
	}
	CHECK_EQ(n, 50);
	CHECK_OK(bcast_batch(f.rd, &b));
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK_EQ(m.type, 50);
	CHECK_EQ(bcast_batch_next(&b, &m), 0);
	CHECK_EQ(bcast_batch(NULL, &b), -EINVAL);
	CHECK_EQ(bcast_batch_next(NULL, &m), -EINVAL);
	CHECK(bcast_msg_peek(NULL) == NULL);
	CHECK_EQ(bcast_msg_valid(NULL), 0);
	fixture_close(&f);
}

TEST(fragmented_message_after_an_aborted_claim)
{
	struct ring_fixture f;
	struct bcast_batch b;
	struct bcast_msg m;
	struct bcast_claim c;
	static unsigned char big[1000], out[1000];

	CHECK_OK(fixture_open(&f, CAP, 256, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_publish(f.w, "x", 1, 1));
	CHECK_OK(bcast_claim(f.w, 8, &c));
	bcast_abort(&c);
	payload_fill(big, sizeof(big), 4);
	CHECK_OK(bcast_publish(f.w, big, sizeof(big), 2));
	CHECK_OK(bcast_batch(f.rd, &b));
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK_EQ(m.type, 1);
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK_EQ(m.type, 2);
	CHECK_EQ(m.len, sizeof(big));
	CHECK_EQ(bcast_msg_read(&m, out, sizeof(out)), sizeof(big));
	CHECK(payload_ok(out, sizeof(big), 4));
	CHECK_EQ(bcast_batch_next(&b, &m), 0);
	fixture_close(&f);
}

TEST(batch_after_lapping_reports_overrun_and_resyncs)
{
	struct ring_fixture f;
	struct bcast_batch b;
	struct bcast_msg m;
	struct bcast_reader_stats st;
	uint64_t seq, got = 0;
	int rc;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	for (seq = 0; seq < 2000; seq++)
		CHECK_OK(publish_seq(f.w, seq));
	CHECK_EQ(bcast_batch(f.rd, &b), -BCAST_EOVERRUN);
	CHECK_OK(bcast_batch(f.rd, &b));
	while ((rc = bcast_batch_next(&b, &m)) == 1)
		got++;
	CHECK_EQ(rc, 0);
	CHECK_OK(bcast_reader_stats(f.rd, &st));
	CHECK_EQ(st.overruns, 1);
	CHECK_EQ(st.messages, got);
	CHECK_EQ(st.messages + st.lost_messages, 2000);
	fixture_close(&f);
}

TEST(bulk_read_copies_whole_messages)
{
	struct ring_fixture f;
	struct bcast_bulk bulk;
	struct bcast_msg m;
	static unsigned char dst[8192];
	uint64_t seq, next = 0;
	ssize_t n;

	CHECK_OK(fixture_open(&f, CAP, 256, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_EQ(bcast_read_bulk(f.rd, dst, sizeof(dst), &bulk), -EAGAIN);
	for (seq = 0; seq < 100; seq++)	/* ~35 KB: less than the ring */
		CHECK_OK(publish_seq(f.w, seq));
	while ((n = bcast_read_bulk(f.rd, dst, sizeof(dst), &bulk)) > 0) {
		CHECK(n <= (ssize_t)sizeof(dst));
		while (bcast_bulk_next(&bulk, &m) == 1) {
			const unsigned char *p = bcast_msg_peek(&m);

			CHECK_EQ(m.type, (uint32_t)next);
			CHECK_EQ(m.len, size_of(next));
			CHECK(m.flags & BCAST_MSG_COPIED);
			CHECK(payload_ok(p, m.len, m.type));
			CHECK_EQ(bcast_msg_valid(&m), 1);
			next++;
		}
	}
	CHECK_EQ(n, -EAGAIN);
	CHECK_EQ(next, 100);
	CHECK_EQ(bcast_read_bulk(f.rd, NULL, 10, &bulk), -EINVAL);
	fixture_close(&f);
}

TEST(bulk_read_too_small_for_one_message)
{
	struct ring_fixture f;
	struct bcast_bulk bulk;
	struct bcast_msg m;
	unsigned char dst[1024];

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER | FIXTURE_READER));
	memset(dst, 7, sizeof(dst));
	CHECK_OK(bcast_publish(f.w, dst, 600, 1));
	CHECK_EQ(bcast_read_bulk(f.rd, dst, 100, &bulk), -EMSGSIZE);
	CHECK_EQ(bcast_read_bulk(f.rd, dst, sizeof(dst), &bulk), 608);
	CHECK_EQ(bcast_bulk_next(&bulk, &m), 1);
	CHECK_EQ(m.len, 600);
	CHECK_EQ(bcast_bulk_next(&bulk, &m), 0);
	fixture_close(&f);
}

TEST(bulk_read_after_lapping_accounts_exactly)
{
	struct ring_fixture f;
	struct bcast_bulk bulk;
	struct bcast_msg m;
	struct bcast_reader_stats st;
	static unsigned char dst[CAP];
	uint64_t seq, delivered = 0;
	ssize_t n;

	CHECK_OK(fixture_open(&f, CAP, 256, FIXTURE_WRITER | FIXTURE_READER));
	for (seq = 0; seq < 3000; seq++)
		CHECK_OK(publish_seq(f.w, seq));
	CHECK_EQ(bcast_read_bulk(f.rd, dst, sizeof(dst), &bulk),
		 -BCAST_EOVERRUN);
	while ((n = bcast_read_bulk(f.rd, dst, sizeof(dst), &bulk)) > 0)
		while (bcast_bulk_next(&bulk, &m) == 1) {
			CHECK(payload_ok(bcast_msg_peek(&m), m.len, m.type));
			delivered++;
		}
	CHECK_EQ(n, -EAGAIN);
	CHECK_OK(bcast_reader_stats(f.rd, &st));
	CHECK_EQ(st.messages, delivered);
	CHECK_EQ(st.messages + st.lost_messages, 3000);
	fixture_close(&f);
}

/* Write a frame by hand, as a writer in the middle of a message would,
 * and publish it. */
/*
 * bcast.h takes the common lazy steps in line and calls the library for
 * the rest: two readers of one ring, one through each, must see the same
 * handles, copies and verdicts and count the same, whatever the message
 * (small, large, fragmented, empty) and whether it was overwritten
 * between being handed out and being read.
 */
TEST(in_line_lazy_steps_match_the_library)
{
	struct ring_fixture f;
	struct bcast_reader *lib;
	struct bcast_reader_stats si, sl;
	unsigned char oi[700], ol[700];
	uint64_t seq = 0, overwritten = 0;
	int round;

	CHECK_OK(fixture_open(&f, CAP, 256, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &lib));
	for (round = 0; round < 300; round++) {
		struct bcast_batch bi, bl;
		struct bcast_msg mi[64], ml[64];
		int ri, rl, n = 0, k, burst = (int)(mix64(round) % 200);

		for (k = 0; k < burst; k++, seq++)
			CHECK_OK(publish_seq(f.w, seq));
		ri = bcast_batch(f.rd, &bi);
		rl = bcast_batch(lib, &bl);
		CHECK_EQ(ri, rl);
		if (ri)
			continue;
		while (n < 64) {
			ri = bcast_batch_next(&bi, &mi[n]);
			rl = bcast_batch_next_slow_(&bl, &ml[n]);
			CHECK_EQ(ri, rl);
			if (ri != 1)
				break;
			CHECK_EQ(mi[n].pos, ml[n].pos);
			CHECK_EQ(mi[n].len, ml[n].len);
			CHECK_EQ(mi[n].type, ml[n].type);
			CHECK_EQ(mi[n].flags, ml[n].flags);
			n++;
		}
		/* Every third round the writer laps some handles first. */
		if (round % 3 == 0)
			for (k = 0; k < 40 + (int)(mix64(seq) % 200); k++, seq++)
				CHECK_OK(publish_seq(f.w, seq));
		for (k = 0; k < n; k++) {
			ssize_t gi = bcast_msg_read(&mi[k], oi, sizeof(oi));
			ssize_t gl = bcast_msg_read_slow_(&ml[k], ol, sizeof(ol));

			CHECK_EQ(gi, gl);
			overwritten += gi == -BCAST_EOVERRUN;
			if (gi > 0)
				CHECK(!memcmp(oi, ol, (size_t)gi));
			/* read twice: settled once */
			CHECK_EQ(bcast_msg_read(&mi[k], oi, sizeof(oi)),
				 bcast_msg_read_slow_(&ml[k], ol, sizeof(ol)));
		}
		/* Read, then overwritten, then read again: still delivered. */
		if (round % 5 == 1) {
			for (k = 0; k < 250; k++, seq++)
				CHECK_OK(publish_seq(f.w, seq));
			for (k = 0; k < n; k++)
				CHECK_EQ(bcast_msg_read(&mi[k], oi, sizeof(oi)),
					 bcast_msg_read_slow_(&ml[k], ol,
							      sizeof(ol)));
		}
	}
	CHECK_OK(bcast_reader_stats(f.rd, &si));
	CHECK_OK(bcast_reader_stats(lib, &sl));
	CHECK_EQ(si.messages, sl.messages);
	CHECK_EQ(si.bytes, sl.bytes);
	CHECK_EQ(si.lost_messages, sl.lost_messages);
	CHECK_EQ(si.overruns, sl.overruns);
	CHECK(si.lost_messages > 0 && si.overruns > 0 && overwritten > 0);
	bcast_reader_close(lib);
	fixture_close(&f);
}

static void hand_frame(struct bcast_ring_hdr *h, uint64_t pos, uint32_t len,
		       uint32_t flags, uint32_t word1)
{
	unsigned char *data = (unsigned char *)h + BCAST_HDR_SIZE;
	uint64_t w = (uint64_t)len | ((uint64_t)flags << BCAST_FRAME_FLAG_SHIFT) |
		     ((uint64_t)word1 << 32);

	memset(data + pos + 8, 0x5a, len);
	memcpy(data + pos, &w, 8);
	__atomic_store_n(&h->claimed, 4096, __ATOMIC_RELEASE);
	__atomic_store_n(&h->committed, pos + 8 + ((len + 7) & ~7U),
			 __ATOMIC_RELEASE);
}

/*
 * A batch or bulk read stops at a fragmented message whose end is not
 * committed yet; the end comes and bcast_receive() consumes the message.
 * bcast_wait() must then sleep again: it used to return 0 forever with
 * nothing pending.
 */
TEST(mixing_read_styles_leaves_the_wait_state_right)
{
	unsigned char buf[512];
	int style;

	for (style = 0; style < 2; style++) {
		struct ring_fixture f;
		struct bcast_reader *rd;
		struct bcast_bulk bulk;
		struct bcast_batch b;
		struct bcast_msg m;

		CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_READER));
		rd = f.rd;
		hand_frame(f.h, 0, 100, 0, 7);		/* first fragment */
		if (style == 0) {
			CHECK_OK(bcast_batch(rd, &b));
			CHECK_EQ(bcast_batch_next(&b, &m), 0);	/* stopped */
		} else {
			CHECK_EQ(bcast_read_bulk(rd, buf, sizeof(buf), &bulk),
				 -EAGAIN);
		}
		CHECK_EQ(bcast_wait(rd, 20), -ETIMEDOUT);
		hand_frame(f.h, 112, 100, BCAST_FRAME_CONT | BCAST_FRAME_FIN, 100);
		CHECK_EQ(bcast_wait(rd, 20), 0);
		CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), &m), 200);
		CHECK_EQ(m.type, 7);
		CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), &m), -EAGAIN);
		CHECK_EQ(bcast_wait(rd, 30), -ETIMEDOUT);
		fixture_close(&f);
	}
}

TEST_MAIN()
