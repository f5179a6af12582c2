// SPDX-License-Identifier: MIT
/*
 * Exact accounting under saturation, for every read style: a writer thread
 * publishes flat out into a small ring while a reader thread reads with
 * bcast_receive(), with batches read through bcast_msg_read(), with
 * batches read in place (bcast_msg_peek() + bcast_msg_valid()), or with
 * bcast_read_bulk(); at 8 bytes, 64 bytes and random sizes up to three
 * MTUs (fragmented).  What the reader obtained (every byte verified) plus
 * its lost_messages must be exactly what was published, and its delivered
 * count exactly what it obtained.
 *
 * BCAST_ACCOUNTING_MESSAGES (default 500000) per combination.
 */
#include <pthread.h>
#include <stdbool.h>
#include "tap.h"
#include "fixture.h"
#include "payload.h"
#include "random.h"
#include "env.h"
#include <linux/bcast.h>

#define CAP	(1 << 14)
#define MTU	512
#define BULK	(CAP / 2)

enum style { RECEIVE, BATCH_READ, BATCH_PEEK, BULK_READ, NSTYLES };
static const char *const style_name[] = {
	"bcast_receive", "batch + bcast_msg_read", "batch + peek/valid",
	"bcast_read_bulk",
};

struct run {
	struct bcast_ring *r;
	struct bcast_reader *rd;	/* opened before the writer starts */
	enum style style;
	int sizes;		/* 8, 64, or 0: random 0 .. 3 * MTU */
	uint64_t total;
	int writer_done;
	/* reader results */
	uint64_t obtained, obtained_bytes, bad, overruns;
	char err[200];
};

static size_t msg_len(const struct run *x, uint64_t seq)
{
	return x->sizes ? (size_t)x->sizes : (size_t)(mix64(seq) % (3 * MTU + 1));
}

static void *writer(void *arg)
{
	struct run *x = arg;
	static unsigned char buf[3 * MTU + 1];
	struct bcast_writer *w;
	uint64_t seq;

	if (bcast_writer_open(x->r, &w))
		return NULL;
	for (seq = 0; seq < x->total; seq++) {
		size_t len = msg_len(x, seq);

		payload_fill(buf, len, seq);
		bcast_publish(w, buf, len, (uint32_t)seq);
	}
	__atomic_store_n(&x->writer_done, 1, __ATOMIC_RELEASE);
	bcast_writer_close(w);
	return NULL;
}

/* One message obtained: its sequence number is its type (the run stays
 * below 2^32 messages). */
static void obtained(struct run *x, const void *p, uint32_t len, uint32_t type)
{
	if (len != msg_len(x, type) || !payload_ok(p, len, type)) {
		if (!x->bad++)
			snprintf(x->err, sizeof(x->err),
				 "message %u (%u bytes) is not what was published",
				 type, len);
		return;
	}
	x->obtained++;
	x->obtained_bytes += len;
}

static int read_batch(struct run *x, struct bcast_reader *rd, bool peek,
		      unsigned char *buf)
{
	struct bcast_batch b;
	struct bcast_msg m[64];
	int rc, n = 0, i;

	rc = bcast_batch(rd, &b);
	if (rc < 0)
		return rc;
	/* Take a few handles first, read them afterwards: late reads are
	 * where overwritten messages show. */
	while (n < 64 && (rc = bcast_batch_next(&b, &m[n])) == 1)
		n++;
	for (i = 0; i < n; i++) {
		const void *p = peek ? bcast_msg_peek(&m[i]) : NULL;
		ssize_t len;

		if (p) {
			/* Copy out, then check it was intact all along. */
			memcpy(buf, p, m[i].len);
			if (bcast_msg_valid(&m[i]))
				obtained(x, buf, m[i].len, m[i].type);
			continue;
		}
		len = bcast_msg_read(&m[i], buf, 3 * MTU + 1);
		if (len >= 0)
			obtained(x, buf, (uint32_t)len, m[i].type);
		else if (len != -BCAST_EOVERRUN)
			return (int)len;
	}
	return rc < 0 ? rc : n;
}

static int read_bulk(struct run *x, struct bcast_reader *rd, unsigned char *bulk)
{
	struct bcast_bulk bk;
	struct bcast_msg m;
	ssize_t n = bcast_read_bulk(rd, bulk, BULK, &bk);
	int rc;

	if (n < 0)
		return (int)n;
	while ((rc = bcast_bulk_next(&bk, &m)) == 1)
		obtained(x, bcast_msg_peek(&m), m.len, m.type);
	return rc;
}

static void *reader(void *arg)
{
	struct run *x = arg;
	enum style style = x->style;
	static unsigned char buf[3 * MTU + 1], bulk[BULK];
	struct bcast_reader *rd = x->rd;
	struct bcast_msg m;
	int idle = 0;

	for (;;) {
		int rc;

		switch (style) {
		case RECEIVE:
			rc = (int)bcast_receive(rd, buf, sizeof(buf), &m);
			if (rc >= 0)
				obtained(x, buf, (uint32_t)rc, m.type);
			break;
		case BULK_READ:
			rc = read_bulk(x, rd, bulk);
			break;
		default:
			rc = read_batch(x, rd, style == BATCH_PEEK, buf);
			break;
		}
		if (rc == -BCAST_EOVERRUN) {
			x->overruns++;
		} else if (rc == -EAGAIN || rc == -EINPROGRESS) {
			if (__atomic_load_n(&x->writer_done, __ATOMIC_ACQUIRE) &&
			    rc == -EAGAIN && ++idle > 3)
				break;
		} else if (rc < 0) {
			snprintf(x->err, sizeof(x->err), "%s: %s",
				 style_name[style], bcast_strerror(rc));
			break;
		} else {
			idle = 0;
		}
	}
	{
		struct bcast_reader_stats st;

		bcast_reader_stats(rd, &st);
		if (!x->err[0] && (st.messages != x->obtained ||
				   st.bytes != x->obtained_bytes ||
				   x->obtained + st.lost_messages != x->total))
			snprintf(x->err, sizeof(x->err),
				 "obtained %llu (stats say delivered %llu, %llu B "
				 "vs %llu B), lost %llu: %llu, not the %llu published",
				 (unsigned long long)x->obtained,
				 (unsigned long long)st.messages,
				 (unsigned long long)st.bytes,
				 (unsigned long long)x->obtained_bytes,
				 (unsigned long long)st.lost_messages,
				 (unsigned long long)(x->obtained + st.lost_messages),
				 (unsigned long long)x->total);
		x->overruns = st.overruns;
	}
	bcast_reader_close(rd);
	return NULL;
}

static void saturate(int sizes)
{
	uint64_t total = env_u64("BCAST_ACCOUNTING_MESSAGES", 500000);
	enum style style;

	for (style = RECEIVE; style < NSTYLES; style++) {
		struct run x = { .style = style, .sizes = sizes, .total = total };
		struct ring_fixture f;
		pthread_t tw, tr;

		CHECK_OK(fixture_open(&f, CAP, MTU, 0));
		x.r = f.r;
		/* the reader thread closes it */
		CHECK_OK(bcast_reader_open(x.r, BCAST_FROM_OLDEST, &x.rd));
		CHECK(!pthread_create(&tr, NULL, reader, &x));
		CHECK(!pthread_create(&tw, NULL, writer, &x));
		pthread_join(tw, NULL);
		pthread_join(tr, NULL);
		fixture_close(&f);
		if (x.err[0] || x.bad)
			FAILF("%s, %s messages: %s", style_name[style],
			      sizes ? (sizes == 8 ? "8-byte" : "64-byte") : "random",
			      x.err);
		printf("# %s, %s messages: %llu published, %llu obtained, %llu lost in %llu overruns\n",
		       style_name[style],
		       sizes ? (sizes == 8 ? "8-byte" : "64-byte") : "0..3xMTU",
		       (unsigned long long)total,
		       (unsigned long long)x.obtained,
		       (unsigned long long)(total - x.obtained),
		       (unsigned long long)x.overruns);
	}
}

TEST(every_style_accounts_exactly_for_8_byte_messages)
{
	saturate(8);
}

TEST(every_style_accounts_exactly_for_64_byte_messages)
{
	saturate(64);
}

TEST(every_style_accounts_exactly_for_fragmented_messages)
{
	saturate(0);
}

TEST_MAIN()
