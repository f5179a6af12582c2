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
#include "reading.h"
#include "env.h"
#include "failure.h"
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
	struct reading rdg;	/* its reader opened before the writer starts */
	enum style style;
	int sizes;		/* 8, 64, or 0: random 0 .. 3 * MTU */
	uint64_t total;
	int writer_done;
	/* reader results */
	uint64_t obtained, obtained_bytes, overruns;
	struct failure failure;
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

/* A message's sequence number is its type (the run stays below 2^32
 * messages). */
static int numbered(struct reading *rdg, const struct bcast_msg *m,
		    uint64_t *seq)
{
	*seq = m->type;
	return 0;
}

/* One message obtained. */
static int obtained(struct reading *rdg, const struct bcast_msg *m,
		    uint64_t seq, const void *data)
{
	struct run *x = rdg->ctx;

	if (m->len != msg_len(x, seq) || !payload_ok(data, m->len, seq)) {
		fail(&x->failure, "message %" PRIu64 " (%u bytes) is not what "
		     "was published", seq, m->len);
		return 0;
	}
	x->obtained++;
	x->obtained_bytes += m->len;
	return 0;
}

static const struct reading_ops counted = {
	.handed = numbered,
	.deliver = obtained,
};

static const enum read_style read_style_of[NSTYLES] = {
	[RECEIVE] = READ_RECEIVE, [BATCH_READ] = READ_BATCH,
	[BATCH_PEEK] = READ_BATCH, [BULK_READ] = READ_BULK,
};

static void *reader(void *arg)
{
	struct run *x = arg;
	static unsigned char buf[3 * MTU + 1], bulk[BULK];
	struct bcast_reader *rd = x->rdg.rd;
	int idle = 0;

	x->rdg.ops = &counted;
	x->rdg.ctx = x;
	x->rdg.failure = &x->failure;
	x->rdg.buf = buf;
	x->rdg.cap = sizeof(buf);
	x->rdg.bulk = bulk;
	x->rdg.bulk_cap = sizeof(bulk);
	/* Take a few handles first, read them afterwards: late reads are
	 * where overwritten messages show. */
	x->rdg.keep = 64;
	x->rdg.batch_access = x->style == BATCH_PEEK ? READ_PEEK : READ_COPY;
	x->rdg.bulk_access = READ_PEEK;
	for (;;) {
		int rc = read_once(&x->rdg, read_style_of[x->style]);

		if (rc == -BCAST_EOVERRUN) {
			x->overruns++;
		} else if (rc == -EAGAIN || rc == -EINPROGRESS) {
			if (__atomic_load_n(&x->writer_done, __ATOMIC_ACQUIRE) &&
			    rc == -EAGAIN && ++idle > 3)
				break;
		} else if (rc < 0) {
			fail(&x->failure, "%s: %s", style_name[x->style],
			     bcast_strerror(rc));
			break;
		} else {
			idle = 0;
		}
	}
	{
		struct bcast_reader_stats st;

		bcast_reader_stats(rd, &st);
		if (st.messages != x->obtained ||
		    st.bytes != x->obtained_bytes ||
		    x->obtained + st.lost_messages != x->total)
			fail(&x->failure, "obtained %llu (stats say delivered "
			     "%llu, %llu B vs %llu B), lost %llu: %llu, not "
			     "the %llu published",
			     (unsigned long long)x->obtained,
			     (unsigned long long)st.messages,
			     (unsigned long long)st.bytes,
			     (unsigned long long)x->obtained_bytes,
			     (unsigned long long)st.lost_messages,
			     (unsigned long long)(x->obtained +
						  st.lost_messages),
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
		CHECK_OK(bcast_reader_open(x.r, BCAST_FROM_OLDEST, &x.rdg.rd));
		CHECK(!pthread_create(&tr, NULL, reader, &x));
		CHECK(!pthread_create(&tw, NULL, writer, &x));
		pthread_join(tw, NULL);
		pthread_join(tr, NULL);
		fixture_close(&f);
		if (failed(&x.failure))
			FAILF("%s, %s messages: %s", style_name[style],
			      sizes ? (sizes == 8 ? "8-byte" : "64-byte") : "random",
			      x.failure.why);
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
