// SPDX-License-Identifier: MIT
/*
 * bcast-bridge out: read a ring, publish its messages on a NATS subject in
 * packets (wire.h).  Messages are read straight into the current batch;
 * it goes out when full, when --flush-us passed since its first message
 * (0: each message alone), or before a message that is not the next by
 * number (the ring lapped us: the receiver counts the difference).  A
 * message larger than a packet goes out in fragments.  An idle ring gets
 * a state packet every --heartbeat-ms, so that losses at the very end are
 * seen too, and one goes out at once when the ring's writer leaves.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "bridge.h"
#include "wire.h"

#define JS_HEADER_ROOM	256

struct out {
	struct bridge *br;
	struct bcast_ring *r;
	struct bcast_reader *rd;
	struct wire_batch b;
	uint64_t batch_payload;	/* the batch's message bytes */
	uint64_t batch_at_ns;	/* when its first message came */
	uint64_t sent_at_ns;	/* the last packet */
	uint64_t next;		/* the number of the next message */
	bool next_known;
	uint64_t lost_seen;	/* the reader's lost_messages, counted */
	bool gone;		/* the writer left, and we said so */
	bool gone_told;		/* ... in the last state packet */
	uint64_t told_next;	/* where the last packet left the numbers */
	uint64_t resume;	/* JetStream: the stream has what is below */
	uint64_t epoch_seen;	/* the last writer epoch counted */
	unsigned char *big;	/* a message larger than a packet */
	size_t big_cap;
	unsigned char *piece;	/* one fragment of it */
};

/* The source writer's epoch; each new one is counted. */
static uint64_t writer_epoch(struct out *o)
{
	struct bcast_ring_info info;
	uint64_t epoch = bcast_ring_info(o->r, &info) ? 0 : info.writer_epoch;

	if (epoch && epoch != o->epoch_seen) {
		o->epoch_seen = epoch;
		o->br->st.epochs++;
	}
	return epoch;
}

/* One packet, ending the numbers at `next`; JetStream stores it under
 * message id `id`.  0, or -1 when it cannot go (said). */
static int publish(struct out *o, const void *p, size_t len, uint64_t next,
		   const char *id)
{
	struct bridge *br = o->br;
	natsStatus s;
	char url[256];

	o->sent_at_ns = cli_now_ns();
	o->told_next = next;
	br->st.packets++;
	if (br->js)
		return bridge_jetstream_publish(br, p, len, id);
	s = natsConnection_Publish(br->nc, br->o.subject, p, (int)len);
	if (s == NATS_OK)
		return 0;
	/* What NATS refused, the receiver counts as lost. */
	if (!br->st.publish_errors++ || br->o.verbose)
		cli_error("publishing to '%s' on %s: %s", br->o.subject,
			  bridge_server(br, url, sizeof(url)),
			  natsStatus_GetText(s));
	return s == NATS_CONNECTION_CLOSED ? -1 : 0;
}

/* How far behind the ring's writer we are, in bytes. */
static void measure_lag(struct out *o)
{
	struct bcast_ring_info info;
	uint64_t at = bcast_reader_position(o->rd);

	if (!bcast_ring_info(o->r, &info))
		o->br->st.lag = info.committed > at ? info.committed - at : 0;
}

static int send_batch(struct out *o)
{
	char id[32];
	int rc;

	if (!o->b.count)
		return 0;
	measure_lag(o);
	snprintf(id, sizeof(id), "%" PRIu64, o->b.seq);
	wire_batch_seal(&o->b);
	rc = publish(o, o->b.buf, o->b.len, o->b.seq + o->b.count, id);
	o->br->st.messages += o->b.count;
	o->br->st.bytes += o->batch_payload;
	wire_batch_start(&o->b, 0, 0);
	o->batch_payload = 0;
	return rc;
}

static int send_state(struct out *o)
{
	uint16_t flags = o->gone ? WIRE_WRITER_GONE : 0;
	unsigned char p[WIRE_HDR];
	char id[32];

	if (!o->next_known)
		return 0;	/* nothing to say where the numbers stand */
	/* A stream loses nothing it stored: only news goes there. */
	if (o->br->js && o->next == o->told_next && o->gone == o->gone_told)
		return 0;
	o->br->st.states++;
	o->gone_told = o->gone;
	snprintf(id, sizeof(id), "%" PRIu64 ".s%u", o->next, flags);
	return publish(o, p, wire_state(p, writer_epoch(o), o->next, flags),
		       o->next, id);
}

/* The ring lapped us: the messages it skipped are the receiver's gap. */
static void overrun(struct out *o)
{
	struct bcast_reader_stats st;
	uint64_t lost;

	if (bcast_reader_stats(o->rd, &st))
		return;
	lost = st.lost_messages - o->lost_seen;
	o->lost_seen = st.lost_messages;
	o->br->st.gaps++;
	o->br->st.lost += lost;
	if (o->next_known)
		o->next += lost;
	if (o->br->o.verbose)
		cli_error("'%s' lapped this bridge: %llu messages lost",
			  o->br->o.ring, (unsigned long long)lost);
}

/* A message of `len` bytes, more than a packet holds, in pieces: 0, 1
 * (fatal, said), or what bcast_receive() returned instead of it. */
static int send_large(struct out *o, size_t len)
{
	size_t piece = o->b.cap - WIRE_HDR - WIRE_FRAGMENT_HDR, off;
	struct bcast_msg m;
	uint64_t epoch;
	ssize_t n;

	if (len > o->big_cap) {
		unsigned char *p = realloc(o->big, len);

		if (!p) {
			cli_error("a message of %zu bytes: out of memory", len);
			return 1;
		}
		o->big = p;
		o->big_cap = len;
	}
	n = bcast_receive(o->rd, o->big, o->big_cap, &m);
	if (n < 0)
		return (int)n;	/* overwritten meanwhile, ...: the caller's */
	if (bcast_msg_seq(&m) < o->resume)
		return 0;	/* the stream has it */
	epoch = writer_epoch(o);
	for (off = 0; off < (size_t)n || !off; off += piece) {
		size_t k = (size_t)n - off < piece ? (size_t)n - off : piece;
		size_t plen = wire_fragment(o->piece, epoch, bcast_msg_seq(&m),
					    m.type, (uint32_t)n, (uint32_t)off,
					    o->big + off, k);
		char id[48];

		snprintf(id, sizeof(id), "%" PRIu64 ".%zu", bcast_msg_seq(&m), off);
		o->br->st.fragments++;
		if (publish(o, o->piece, plen, bcast_msg_seq(&m) +
			    (off + k == (size_t)n), id))
			return 1;
		if (!n)
			break;
	}
	o->next = bcast_msg_seq(&m) + 1;
	o->next_known = true;
	o->br->st.messages++;
	o->br->st.bytes += (uint64_t)n;
	return 0;
}

/* A message read into the batch's tail: keep it, or start a new batch
 * with it when it does not follow the batch's last. */
static int add_message(struct out *o, const struct bcast_msg *m, size_t len)
{
	uint64_t seq = bcast_msg_seq(m);

	if (seq < o->resume)
		return 0;	/* the stream has it */
	if (o->b.count && seq != o->b.seq + o->b.count) {
		unsigned char *at = wire_batch_tail(&o->b);

		/* it sits past the old batch: send that, then move it */
		if (send_batch(o))
			return -1;
		memmove(wire_batch_tail(&o->b), at, len);
	}
	if (!o->b.count) {
		wire_batch_start(&o->b, writer_epoch(o), seq);
		o->batch_at_ns = cli_now_ns();
	}
	wire_batch_add(&o->b, m->type, (uint32_t)len);
	o->batch_payload += len;
	o->next = seq + 1;
	o->next_known = true;
	o->gone = false;
	return o->br->o.flush_us ? 0 : send_batch(o);
}

/* Read what is there: 1 (go on), 0 (nothing now), -1 (fatal). */
static int pump(struct out *o)
{
	struct bcast_msg m;
	ssize_t n = bcast_receive(o->rd, wire_batch_tail(&o->b),
				  wire_batch_room(&o->b), &m);

	if (n >= 0)
		return add_message(o, &m, (size_t)n) ? -1 : 1;
	switch (n) {
	case -EAGAIN:
		return 0;
	case -EINPROGRESS:
		return 1;
	case -BCAST_EOVERRUN:
		overrun(o);
		return 1;
	case -EMSGSIZE:
		if (o->b.count)
			return send_batch(o) ? -1 : 1;
		n = send_large(o, m.len);
		if (n == -BCAST_EOVERRUN) {
			overrun(o);
			return 1;
		}
		if (n == 0 || n == -EAGAIN || n == -EINPROGRESS)
			return 1;
		if (n == 1)
			return -1;
		break;
	}
	cli_error("reading '%s': %s", o->br->o.ring, bcast_strerror((int)n));
	return -1;
}

static bool done(const struct out *o)
{
	return cli_stop_requested ||
	       (o->br->o.count && o->br->st.messages + o->b.count >= o->br->o.count);
}

/* Nothing to read: send what waited long enough, sleep until the next
 * message, the next flush or state packet, or a report is due. */
static int idle(struct out *o)
{
	const struct bridge_opts *opt = &o->br->o;
	uint64_t now = cli_now_ns(), flush_ns = opt->flush_us * 1000;
	int64_t ms;
	int err;

	if (o->b.count) {
		if (now - o->batch_at_ns >= flush_ns)
			return send_batch(o);
		ms = (int64_t)((flush_ns - (now - o->batch_at_ns)) / 1000000);
		if (!ms) {
			/* under a millisecond: a short nap, then read again */
			struct timespec ts = {
				0, (long)(flush_ns - (now - o->batch_at_ns)) };

			nanosleep(&ts, NULL);
			return 0;
		}
	} else {
		uint64_t quiet = (now - o->sent_at_ns) / 1000000;

		if (quiet >= opt->heartbeat_ms)
			return send_state(o);
		ms = (int64_t)(opt->heartbeat_ms - quiet);
	}
	if (opt->stats && ms > 200)
		ms = 200;	/* the --stats line keeps its rhythm */
	bridge_report_tick(o->br);
	err = bcast_wait(o->rd, (int)ms);
	if (err == -BCAST_EWRITERGONE) {
		if (send_batch(o))
			return -1;
		o->gone = true;
		if (opt->verbose)
			cli_error("the writer of '%s' left", opt->ring);
		return send_state(o);
	}
	if (err && err != -ETIMEDOUT && err != -EINTR) {
		cli_error("waiting on '%s': %s", opt->ring, bcast_strerror(err));
		return -1;
	}
	return 0;
}

static int run(struct out *o)
{
	unsigned reads = 0;

	while (!done(o)) {
		int rc = pump(o);

		if (rc < 0)
			return -1;
		if (rc > 0) {
			if (o->b.count && cli_now_ns() - o->batch_at_ns >=
					      o->br->o.flush_us * 1000 &&
			    send_batch(o))
				return -1;
			if ((++reads & 1023) == 0)
				bridge_report_tick(o->br);	/* busy too */
			continue;
		}
		if (idle(o))
			return -1;
	}
	if (send_batch(o) || send_state(o))
		return -1;
	measure_lag(o);
	return 0;
}

static int open_ring(struct out *o)
{
	const struct bridge_opts *opt = &o->br->o;
	int err = bcast_ring_open(opt->ring, BCAST_RDONLY, &o->r);

	if (!err)
		err = bcast_reader_open(o->r, opt->from_oldest ? BCAST_FROM_OLDEST :
						       BCAST_FROM_LATEST, &o->rd);
	if (err) {
		cli_error("cannot read '%s': %s", opt->ring, bcast_strerror(err));
		return -1;
	}
	return 0;
}

/*
 * JetStream: the stream, and where it stops.  What it holds is not sent
 * again: the ring is read from its oldest message on, and messages below
 * that number are skipped.
 */
static int start_stream(struct out *o)
{
	bool have;
	int err;

	if (bridge_jetstream(o->br, true) ||
	    bridge_jetstream_resume(o->br, &o->resume, &have))
		return -1;
	if (!have)
		return 0;
	bcast_reader_close(o->rd);
	o->rd = NULL;
	err = bcast_reader_open(o->r, BCAST_FROM_OLDEST, &o->rd);
	if (err) {
		cli_error("cannot read '%s': %s", o->br->o.ring, bcast_strerror(err));
		return -1;
	}
	o->next = o->told_next = o->resume;
	o->next_known = true;
	if (o->br->o.verbose)
		cli_error("stream '%s' has messages up to %" PRIu64 ": going on "
			  "from there", o->br->o.stream, o->resume);
	return 0;
}

int bridge_out(struct bridge *br)
{
	struct out o = { .br = br };
	size_t cap = br->o.batch_bytes;
	int rc = 1;

	if (open_ring(&o))
		return EXIT_NORING;
	if (bridge_connect(br))
		goto out;
	if (cap > br->max_payload)
		cap = br->max_payload;
	/* the message id travels in a header, inside max_payload */
	if (br->o.stream && cap > br->max_payload - JS_HEADER_ROOM)
		cap = br->max_payload > JS_HEADER_ROOM ?
		      br->max_payload - JS_HEADER_ROOM : 0;
	if (cap < WIRE_HDR + WIRE_FRAGMENT_HDR + 64) {
		cli_error("the server's max_payload (%zu bytes) is too small",
			  br->max_payload);
		goto out;
	}
	o.b.buf = malloc(cap);
	o.piece = malloc(cap);
	o.b.cap = cap;
	if (!o.b.buf || !o.piece) {
		cli_error("out of memory");
		goto out;
	}
	wire_batch_start(&o.b, 0, 0);
	if (br->o.stream && start_stream(&o))
		goto out;
	o.sent_at_ns = cli_now_ns();
	bridge_report_ready(br);
	rc = run(&o) ? 1 : 0;
	bridge_report_end(br, cli_stop_requested ? "signal" :
			  rc ? "error" : "count");
out:
	bridge_disconnect(br);
	free(o.b.buf);
	free(o.piece);
	free(o.big);
	bcast_reader_close(o.rd);
	bcast_ring_close(o.r);
	return rc;
}
