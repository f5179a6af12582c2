// SPDX-License-Identifier: MIT
/* The reader: joining, receiving, reassembly, overruns and their exact
 * accounting, lazy messages read too late, zero-copy peeks. */
#include <pthread.h>
#include "tap.h"
#include "fixture.h"
#include "payload.h"
#include "random.h"
#include <linux/bcast.h>

#define CAP 65536

/* Message `seq`: its size is derived from seq, its bytes from payload_fill();
 * the first 8 bytes (when it has them) carry seq itself. */
static size_t size_of(uint64_t seq, size_t max)
{
	return mix64(seq * 7 + 1) % max;
}

static int publish_seq(struct bcast_writer *w, uint64_t seq, size_t max)
{
	static unsigned char buf[1 << 18];
	size_t n = size_of(seq, max);

	payload_fill(buf, n, seq);
	return bcast_publish(w, buf, n, (uint32_t)seq);
}

TEST(from_latest_and_from_oldest)
{
	struct ring_fixture f;
	struct bcast_reader *old, *late;
	struct bcast_msg m;
	char buf[8];

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER));
	CHECK_OK(bcast_publish(f.w, "a", 1, 1));
	CHECK_OK(bcast_publish(f.w, "b", 1, 2));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &old));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_LATEST, &late));
	CHECK_EQ(bcast_receive(late, buf, sizeof(buf), &m), -EAGAIN);
	CHECK_OK(bcast_publish(f.w, "c", 1, 3));
	CHECK_EQ(bcast_receive(late, buf, sizeof(buf), &m), 1);
	CHECK_EQ(m.type, 3);
	CHECK_EQ(bcast_receive(old, buf, sizeof(buf), &m), 1);
	CHECK_EQ(m.type, 1);
	CHECK_EQ(bcast_receive(old, buf, sizeof(buf), &m), 1);
	CHECK_EQ(m.type, 2);
	CHECK_EQ(bcast_receive(old, buf, sizeof(buf), &m), 1);
	CHECK_EQ(m.type, 3);
	CHECK_EQ(bcast_reader_position(old), bcast_reader_position(late));
	CHECK_EQ(bcast_reader_open(f.r, 0x4, &old), -EINVAL);
	CHECK_EQ(bcast_receive(NULL, buf, 1, &m), -EINVAL);
	CHECK_EQ(bcast_receive(late, NULL, 8, &m), -EINVAL);
	bcast_reader_close(old);
	bcast_reader_close(late);
	fixture_close(&f);
}

TEST(small_buffer_gets_emsgsize_and_loses_nothing)
{
	struct ring_fixture f;
	struct bcast_reader *rd;
	static unsigned char big[5000], out[5000];
	struct bcast_msg m;
	char small[4];

	CHECK_OK(fixture_open(&f, CAP, 1000, FIXTURE_WRITER));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rd));
	CHECK_OK(bcast_publish(f.w, "12345678", 8, 1));
	CHECK_EQ(bcast_receive(rd, small, sizeof(small), &m), -EMSGSIZE);
	CHECK_EQ(m.len, 8);
	CHECK_EQ(bcast_receive(rd, out, sizeof(out), &m), 8);
	payload_fill(big, sizeof(big), 5);
	CHECK_OK(bcast_publish(f.w, big, sizeof(big), 2));	/* fragmented */
	CHECK_EQ(bcast_receive(rd, small, sizeof(small), &m), -EMSGSIZE);
	CHECK_EQ(m.len, sizeof(big));
	CHECK_EQ(bcast_receive(rd, out, sizeof(out), &m), sizeof(big));
	CHECK(payload_ok(out, sizeof(big), 5));
	CHECK_EQ(m.type, 2);
	bcast_reader_close(rd);
	fixture_close(&f);
}

TEST(every_reader_sees_everything)
{
	struct ring_fixture f;
	struct bcast_reader *rd[4];
	static unsigned char out[4096];
	struct bcast_msg m;
	uint64_t seq;
	int i;

	CHECK_OK(fixture_open(&f, CAP, 1024, FIXTURE_WRITER));
	for (i = 0; i < 4; i++)
		CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rd[i]));
	for (seq = 0; seq < 20000; seq++) {
		CHECK_OK(publish_seq(f.w, seq, 3000));
		for (i = 0; i < 4; i++) {
			ssize_t n = bcast_receive(rd[i], out, sizeof(out), &m);

			CHECK_EQ(n, size_of(seq, 3000));
			CHECK_EQ(m.type, (uint32_t)seq);
			CHECK(payload_ok(out, (size_t)n, seq));
		}
	}
	for (i = 0; i < 4; i++) {
		struct bcast_reader_stats st;

		CHECK_OK(bcast_reader_stats(rd[i], &st));
		CHECK_EQ(st.messages, 20000);
		CHECK_EQ(st.overruns, 0);
		bcast_reader_close(rd[i]);
	}
	fixture_close(&f);
}

/* Publish `count` messages without reading, then drain, checking that
 * every gap in the sequence is accounted for exactly. */
static int lap_and_account(int from, size_t mtu, size_t max_size)
{
	struct ring_fixture f;
	struct bcast_reader *rd;
	static unsigned char out[1 << 18];
	struct bcast_reader_stats st;
	struct bcast_msg m;
	uint64_t seq, next = 0, bytes = 0, delivered_bytes = 0;
	int round, overruns = 0;

	if (fixture_open(&f, CAP, mtu, FIXTURE_WRITER) ||
	    bcast_reader_open(f.r, from, &rd))
		return -1;
	for (round = 0, seq = 0; round < 40; round++) {
		uint64_t end = seq + 200 + mix64(round) % 3000;

		for (; seq < end; seq++) {
			bytes += size_of(seq, max_size);
			if (publish_seq(f.w, seq, max_size))
				return -2;
		}
		for (;;) {
			ssize_t n = bcast_receive(rd, out, sizeof(out), &m);

			if (n == -EAGAIN)
				break;
			if (n == -BCAST_EOVERRUN) {
				overruns++;
				continue;
			}
			if (n < 0 || m.type < (uint32_t)next ||
			    (size_t)n != size_of(m.type, max_size) ||
			    !payload_ok(out, (size_t)n, m.type))
				return -3;
			next = m.type + 1ULL;
			delivered_bytes += (uint64_t)n;
		}
		bcast_reader_stats(rd, &st);
		if (st.messages + st.lost_messages != seq)
			return -4;
		if (st.bytes != delivered_bytes ||
		    st.bytes + st.lost_bytes != bytes)
			return -5;
	}
	bcast_reader_stats(rd, &st);
	printf("# from=%#x mtu=%zu: %" PRIu64 " delivered, %" PRIu64
	       " lost in %" PRIu64 " overruns\n", from, mtu, st.messages,
	       st.lost_messages, st.overruns);
	if (!overruns || st.overruns != (uint64_t)overruns || !st.lost_messages)
		return -6;
	bcast_reader_close(rd);
	fixture_close(&f);
	return 0;
}

TEST(overrun_resync_to_oldest_counts_losses_exactly)
{
	CHECK_EQ(lap_and_account(BCAST_FROM_OLDEST, 0, 300), 0);
	CHECK_EQ(lap_and_account(BCAST_FROM_OLDEST, 256, 2000), 0);
}

TEST(overrun_resync_to_latest_counts_losses_exactly)
{
	CHECK_EQ(lap_and_account(BCAST_FROM_OLDEST | BCAST_RESYNC_LATEST, 0,
				 300), 0);
	CHECK_EQ(lap_and_account(BCAST_FROM_LATEST | BCAST_RESYNC_LATEST, 256,
				 2000), 0);
}

/*
 * A writer twice as fast as its reader (two messages published per one
 * read, in one thread, so the figures are exact): a lapped reader resumes
 * with most of a ring of headroom, so it is lapped about once per 7/8 of a
 * ring that the writer gains on it, not once per chunk; and every message
 * is delivered or counted lost.
 */
TEST(a_slow_reader_is_lapped_once_per_ring_not_once_per_chunk)
{
	const uint64_t n = 400000, frame = 16;
	struct ring_fixture f;
	struct bcast_reader *rd;
	struct bcast_reader_stats st;
	uint64_t i, got = 0, gained, bound;
	unsigned char buf[16];
	ssize_t len;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rd));
	memset(buf, 7, sizeof(buf));
	for (i = 0; i < n; i++) {
		CHECK_OK(bcast_publish(f.w, buf, 8, 0));
		CHECK_OK(bcast_publish(f.w, buf, 8, 0));
		do
			len = bcast_receive(rd, buf, sizeof(buf), NULL);
		while (len == -BCAST_EOVERRUN);
		if (len == 8)
			got++;
	}
	CHECK_OK(bcast_reader_stats(rd, &st));
	CHECK_EQ(st.messages, got);
	while (bcast_receive(rd, buf, sizeof(buf), NULL) != -EAGAIN)
		;
	CHECK_OK(bcast_reader_stats(rd, &st));
	CHECK_EQ(st.messages + st.lost_messages, 2 * n);
	/* The writer gains n frames on the reader; each lap costs the reader
	 * at least 7/8 of a ring minus a chunk of them. */
	gained = n * frame;
	bound = gained / (CAP * 7 / 8 - CAP / 256) + 1;
	printf("# %" PRIu64 " messages published, %" PRIu64 " delivered, %"
	       PRIu64 " lost in %" PRIu64 " overruns (at most %" PRIu64
	       " allowed)\n", 2 * n, st.messages, st.lost_messages,
	       st.overruns, bound);
	CHECK(st.overruns > 0);
	CHECK(st.overruns <= bound);
	bcast_reader_close(rd);
	fixture_close(&f);
}

TEST(lazy_message_read_late_reports_overrun)
{
	struct ring_fixture f;
	struct bcast_reader *rd;
	struct bcast_batch b;
	struct bcast_msg m, copy;
	struct bcast_ring_info info;
	unsigned char out[64], junk[56] = { 0 };
	const unsigned char *peek;
	uint64_t pos;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rd));
	payload_fill(out, 40, 1);
	CHECK_OK(bcast_publish(f.w, out, 40, 1));
	CHECK_OK(bcast_batch(rd, &b));
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	copy = m;				/* a value: keep it for later */
	pos = m.pos;
	peek = bcast_msg_peek(&copy);
	CHECK(peek != NULL);
	/* Fill the ring until the frontier reaches exactly one capacity
	 * past the message: it is still intact... */
	for (;;) {
		CHECK_OK(bcast_ring_info(f.r, &info));
		if (info.claimed + 64 + CAP / 16 > pos + CAP)
			break;
		CHECK_OK(bcast_publish(f.w, junk, sizeof(junk), 0));
	}
	CHECK_EQ(bcast_msg_valid(&copy), 1);
	memset(out, 0, sizeof(out));
	CHECK_EQ(bcast_msg_read(&copy, out, sizeof(out)), 40);
	CHECK(payload_ok(out, 40, 1));
	/* ... and one more frontier step overwrites it: every late read and
	 * every peek validation now says so. */
	while (info.claimed <= pos + CAP) {
		CHECK_OK(bcast_publish(f.w, junk, sizeof(junk), 0));
		CHECK_OK(bcast_ring_info(f.r, &info));
	}
	CHECK_EQ(bcast_msg_valid(&copy), 0);
	CHECK_EQ(bcast_msg_read(&copy, out, sizeof(out)), -BCAST_EOVERRUN);
	CHECK_EQ(bcast_msg_read(&copy, out, 4), -EMSGSIZE);
	CHECK_EQ(bcast_msg_read(NULL, out, 4), -EINVAL);
	bcast_reader_close(rd);
	fixture_close(&f);
}

struct hammer {
	struct bcast_writer *w;
	int stop;
	uint64_t published;
};

static void *hammer_writer(void *arg)
{
	struct hammer *hm = arg;
	uint64_t seq = 0;

	while (!__atomic_load_n(&hm->stop, __ATOMIC_RELAXED)) {
		if (publish_seq(hm->w, seq++, 1000))
			break;
		__atomic_store_n(&hm->published, seq, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST(torn_copies_are_never_delivered)
{
	/* A writer thread overwrites the ring as fast as it can while this
	 * reader copies: every copy reported intact must be intact. */
	struct ring_fixture f;
	struct bcast_reader *rd;
	struct bcast_msg m;
	struct hammer hm;
	static unsigned char out[1024];
	uint64_t ok = 0, overruns = 0, i;
	pthread_t t;

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rd));
	hm = (struct hammer){ f.w, 0, 0 };
	CHECK(!pthread_create(&t, NULL, hammer_writer, &hm));
	/* Until the writer has lapped the ring many times and some copies
	 * made it (a loaded machine may starve either thread for a while). */
	for (i = 0; (__atomic_load_n(&hm.published, __ATOMIC_RELAXED) < 300000 ||
		     ok < 1000) && i < 400000000; i++) {
		ssize_t n = bcast_receive(rd, out, sizeof(out), &m);

		if (n == -BCAST_EOVERRUN) {
			overruns++;
		} else if (n >= 0) {
			if (!payload_ok(out, (size_t)n, m.type) ||
			    n != (ssize_t)size_of(m.type, 1000)) {
				__atomic_store_n(&hm.stop, 1, __ATOMIC_RELAXED);
				pthread_join(t, NULL);
				FAILF("torn message %u delivered", m.type);
			}
			ok++;
		} else if (n != -EAGAIN) {
			__atomic_store_n(&hm.stop, 1, __ATOMIC_RELAXED);
			pthread_join(t, NULL);
			FAILF("receive: %s", bcast_strerror((int)n));
		}
	}
	__atomic_store_n(&hm.stop, 1, __ATOMIC_RELAXED);
	CHECK(!pthread_join(t, NULL));
	printf("# %" PRIu64 " published, %" PRIu64 " intact copies, %" PRIu64
	       " overruns\n", hm.published, ok, overruns);
	CHECK(ok >= 1000);
	CHECK(hm.published >= 300000);
	bcast_reader_close(rd);
	fixture_close(&f);
}

/*
 * A complete message of 16 MiB in 64-byte fragments: bcast_receive()
 * assembles it over several calls, each bounded, and says -EINPROGRESS,
 * never -EAGAIN ("nothing pending"), until it returns the message.
 */
TEST(a_huge_complete_message_is_never_reported_as_nothing_pending)
{
	const size_t cap = 32u << 20, big = 16u << 20;
	unsigned char *msg = malloc(big), *buf = malloc(big);
	struct ring_fixture f;
	struct bcast_msg m;
	ssize_t n;
	int calls = 0;

	CHECK(msg && buf);
	CHECK_OK(fixture_open(&f, cap, 64, FIXTURE_WRITER | FIXTURE_READER));
	payload_fill(msg, big, 42);
	CHECK_OK(bcast_publish(f.w, msg, big, 42));
	while ((n = bcast_receive(f.rd, buf, big, &m)) == -EINPROGRESS)
		calls++;
	printf("# 16 MiB in %zu fragments: %d calls said -EINPROGRESS, then %zd\n",
	       big / 64, calls, n);
	CHECK_EQ(n, (ssize_t)big);
	CHECK(calls > 0);
	CHECK(payload_ok(buf, big, 42));
	CHECK_EQ(bcast_receive(f.rd, buf, big, &m), -EAGAIN);
	fixture_close(&f);
	free(msg);
	free(buf);
}

/* An empty message read with no buffer at all copies nothing (UBSan
 * rejects memcpy() from or to NULL even for 0 bytes). */
TEST(empty_messages_read_into_no_buffer)
{
	struct ring_fixture f;
	struct bcast_reader *rd;
	struct bcast_batch b;
	struct bcast_bulk bk;
	struct bcast_msg m;
	unsigned char bulk[64];

	CHECK_OK(fixture_open(&f, CAP, 0, FIXTURE_WRITER));
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rd));
	CHECK_OK(bcast_publish(f.w, NULL, 0, 1));
	CHECK_OK(bcast_publish(f.w, NULL, 0, 2));
	CHECK_OK(bcast_batch(rd, &b));
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK_EQ(bcast_msg_read(&m, NULL, 0), 0);
	CHECK_EQ(bcast_msg_valid(&m), 1);
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK_EQ(bcast_batch_next(&b, &m), 0);
	CHECK_OK(bcast_publish(f.w, NULL, 0, 3));
	CHECK(bcast_read_bulk(rd, bulk, sizeof(bulk), &bk) > 0);
	CHECK_EQ(bcast_bulk_next(&bk, &m), 1);
	CHECK_EQ(bcast_msg_read(&m, NULL, 0), 0);
	CHECK_EQ(bcast_receive(rd, NULL, 0, &m), -EAGAIN);
	bcast_reader_close(rd);
	fixture_close(&f);
}

TEST_MAIN()
