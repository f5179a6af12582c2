// SPDX-License-Identifier: MIT
/*
 * bcast-bridge in: subscribe to a NATS subject and write what comes into
 * a local ring as its only writer.  The receiver keeps the number of the
 * next message it expects; a packet that starts later means messages went
 * missing (the source ring lapped the out bridge, NATS dropped packets, a
 * server died with some): they are written as a gap (bcast_publish_gap()),
 * which every reader of the ring gets as -BCAST_EOVERRUN with that many
 * lost.  Messages it already has are dropped.  A new writer at the source
 * (another epoch) is a new writer here: the ring's readers see the old one
 * go and the new one come.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "bridge.h"
#include "wire.h"

struct in {
	struct bridge *br;
	struct bcast_ring *r;
	struct bcast_writer *w;
	size_t mtu;
	natsSubscription *sub;
	uint64_t next;		/* the number the next message should have */
	bool next_known;
	uint64_t epoch;		/* the source writer's */
	/* a message arriving in fragments */
	unsigned char *asm_buf;
	size_t asm_cap;
	bool assembling;
	uint64_t asm_seq;
	uint32_t asm_type, asm_total, asm_have;
	/* JetStream: the stream sequence of the packet being taken, and of
	 * the first piece of the message being assembled */
	uint64_t packet_sseq, asm_sseq;
};

static int open_writer(struct in *in)
{
	int err;

	if (in->w)
		return 0;
	err = bcast_writer_open(in->r, &in->w);
	if (err) {
		cli_error("cannot write '%s': %s", in->br->o.ring,
			  bcast_strerror(err));
		return err == -EBUSY ? EXIT_BUSY : 1;
	}
	return 0;
}

static void close_writer(struct in *in)
{
	bcast_writer_close(in->w);
	in->w = NULL;
}

/* Messages lost before they reached us, told to the ring's readers. */
static int lose(struct in *in, uint64_t n, unsigned flags)
{
	int err = bcast_publish_gap(in->w, n, flags);

	if (err) {
		cli_error("writing a gap to '%s': %s", in->br->o.ring,
			  bcast_strerror(err));
		return 1;
	}
	if (!(flags & BCAST_GAP_QUIET)) {
		in->br->st.gaps++;
		in->br->st.lost += n;
		if (in->br->o.verbose)
			cli_error("%llu messages lost before message %llu",
				  (unsigned long long)n,
				  (unsigned long long)(in->next + n));
	}
	return 0;
}

/*
 * The first packet: the ring's numbers are made the source's where they
 * can be.  A new ring joins the stream quietly; one that had fewer
 * messages than the source has now missed the difference.
 */
static int align(struct in *in, uint64_t seq)
{
	uint64_t have = 0, bytes;
	int rc = 0;

	if (bcast_ring_count(in->r, &have, &bytes))
		have = 0;
	if (seq > have)
		rc = lose(in, seq - have, have ? 0 : BCAST_GAP_QUIET);
	in->next = seq;
	in->next_known = true;
	return rc;
}

static int write_message(struct in *in, uint32_t type, const void *p,
			 uint32_t len)
{
	struct bcast_claim c;
	int err;

	if (len <= in->mtu) {
		/* deferred: the packet becomes visible at once, at its end */
		err = bcast_claim(in->w, len, &c);
		if (!err) {
			memcpy(c.data, p, len);
			err = bcast_commit(&c, type, BCAST_DEFER);
		}
	} else {
		err = bcast_publish(in->w, p, len, type);
	}
	if (err) {
		cli_error("writing to '%s': %s", in->br->o.ring,
			  bcast_strerror(err));
		return 1;
	}
	in->br->st.messages++;
	in->br->st.bytes += len;
	in->next++;
	return 0;
}

static int take_batch(struct in *in, const struct wire_packet *pk)
{
	struct wire_cursor c;
	const void *data;
	uint64_t seq = pk->seq;
	uint32_t type, len;

	wire_records(pk, &c);
	while (wire_next(&c, &type, &data, &len)) {
		if (seq++ < in->next) {
			in->br->st.duplicates++;
			continue;
		}
		if (write_message(in, type, data, len))
			return 1;
	}
	return 0;
}

static int take_fragment(struct in *in, const struct wire_packet *pk)
{
	if (!pk->offset) {
		if (pk->total > in->asm_cap) {
			unsigned char *p = realloc(in->asm_buf, pk->total);

			if (!p) {
				cli_error("a message of %u bytes: out of memory",
					  pk->total);
				return 1;
			}
			in->asm_buf = p;
			in->asm_cap = pk->total;
		}
		in->assembling = true;
		in->asm_sseq = in->packet_sseq;
		in->asm_seq = pk->seq;
		in->asm_type = pk->type;
		in->asm_total = pk->total;
		in->asm_have = 0;
	}
	/* A piece of another message, or out of place: that message is
	 * lost, and counted so when the next one comes. */
	if (!in->assembling || pk->seq != in->asm_seq ||
	    pk->offset != in->asm_have || pk->total != in->asm_total) {
		in->assembling = false;
		return 0;
	}
	memcpy(in->asm_buf + in->asm_have, pk->body, pk->body_len);
	in->asm_have += (uint32_t)pk->body_len;
	if (in->asm_have < in->asm_total)
		return 0;
	in->assembling = false;
	return write_message(in, in->asm_type, in->asm_buf, in->asm_total);
}

/* Another epoch: a new writer at the source, so a new one here. */
static int new_epoch(struct in *in, uint64_t epoch)
{
	bool had = in->epoch != 0;

	in->epoch = epoch;
	in->br->st.epochs++;
	if (!had || !in->w)
		return open_writer(in);
	close_writer(in);
	return open_writer(in);
}

static int take_packet(struct in *in, const struct wire_packet *pk)
{
	int rc;

	/* Everything in it came before: seen twice. */
	if (in->next_known && wire_end(pk) <= in->next &&
	    !(pk->kind == WIRE_FRAGMENT && pk->seq == in->next) &&
	    !(pk->kind == WIRE_STATE && pk->seq == in->next)) {
		if (pk->kind == WIRE_BATCH)
			in->br->st.duplicates += pk->count;
		return 0;
	}
	if (pk->epoch != in->epoch && (rc = new_epoch(in, pk->epoch)))
		return rc;
	if ((rc = open_writer(in)))
		return rc;
	if (!in->next_known && (rc = align(in, pk->seq)))
		return rc;
	if (pk->seq > in->next) {
		uint64_t missing = pk->seq - in->next;

		in->assembling = false;
		if ((rc = lose(in, missing, 0)))
			return rc;
		in->next = pk->seq;
	}
	switch (pk->kind) {
	case WIRE_BATCH:
		rc = take_batch(in, pk);
		break;
	case WIRE_FRAGMENT:
		in->br->st.fragments++;
		rc = take_fragment(in, pk);
		break;
	case WIRE_STATE:
		in->br->st.states++;
		if (pk->flags & WIRE_WRITER_GONE) {
			/* the ring's readers see it go too */
			close_writer(in);
			in->epoch = 0;
			return 0;
		}
		return 0;
	}
	if (!rc && bcast_flush(in->w))
		rc = 1;
	return rc;
}

static int on_message(struct in *in, natsMsg *msg)
{
	struct wire_packet pk;
	const char *why;

	in->br->st.packets++;
	if (wire_parse(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
		       &pk, &why)) {
		if (!in->br->st.bad_packets++ || in->br->o.verbose)
			cli_error("a packet on '%s' refused: %s", in->br->o.subject,
				  why);
		return 0;
	}
	return take_packet(in, &pk);
}

static void measure_lag(struct in *in)
{
	int msgs = 0, bytes = 0;

	if (natsSubscription_GetPending(in->sub, &msgs, &bytes) == NATS_OK)
		in->br->st.lag = (uint64_t)msgs;
}

/*
 * JetStream: packets from the durable consumer, in stream order,
 * acknowledged once the ring has their messages (`acked`: the last
 * stream sequence taken).  One seen before (a
 * redelivery) is acknowledged again; one past a hole (the consumer's
 * leader moved, a fetch was lost) makes the consumer deliver again from
 * the hole: message numbers that jump over contiguous stream sequences
 * are real losses, told as such by take_packet().
 */
static int run_stream(struct in *in, uint64_t acked)
{
	const struct bridge_opts *o = &in->br->o;
	uint64_t lag_at = 0;

	while (!cli_stop_requested &&
	       !(o->count && in->br->st.messages >= o->count)) {
		natsMsgList list = { 0 };
		int got = bridge_jetstream_fetch(in->br, in->sub, &list), i, rc = 0;

		if (got < 0)
			return 1;
		for (i = 0; i < list.Count && !rc; i++) {
			uint64_t sseq = bridge_jetstream_seq(list.Msgs[i]);

			if (sseq && acked && sseq <= acked) {
				natsMsg_Ack(list.Msgs[i], NULL);
				continue;
			}
			if (sseq && acked && sseq > acked + 1) {
				/* a message in pieces starts again whole */
				uint64_t from = in->assembling && in->asm_sseq ?
						in->asm_sseq : acked + 1;

				in->assembling = false;
				acked = from - 1;
				rc = bridge_jetstream_rewind(in->br, &in->sub,
							     from) ? 1 : 0;
				break;
			}
			in->packet_sseq = sseq;
			rc = on_message(in, list.Msgs[i]);
			if (rc)
				break;
			/* acknowledging one acknowledges all before it: not
			 * in the middle of a message, whose first pieces a
			 * restart needs again */
			if (!in->assembling)
				natsMsg_Ack(list.Msgs[i], NULL);
			if (sseq)
				acked = sseq;
		}
		natsMsgList_Destroy(&list);
		if (rc)
			return rc;
		/* a round trip: once a second */
		if (cli_now_ns() - lag_at >= 1000000000ULL) {
			bridge_jetstream_lag(in->br, in->sub);
			lag_at = cli_now_ns();
		}
		bridge_report_tick(in->br);
	}
	bridge_jetstream_lag(in->br, in->sub);
	return 0;
}

static int run(struct in *in)
{
	const struct bridge_opts *o = &in->br->o;
	char url[256];

	while (!cli_stop_requested &&
	       !(o->count && in->br->st.messages >= o->count)) {
		natsMsg *msg = NULL;
		natsStatus s = natsSubscription_NextMsg(&msg, in->sub, 200);
		int rc;

		if (s == NATS_TIMEOUT || s == NATS_SLOW_CONSUMER) {
			/* dropped packets show as gaps */
			measure_lag(in);
			bridge_report_tick(in->br);
			continue;
		}
		if (s != NATS_OK) {
			cli_error("receiving '%s' from %s: %s", o->subject,
				  bridge_server(in->br, url, sizeof(url)),
				  natsStatus_GetText(s));
			return 1;
		}
		rc = on_message(in, msg);
		natsMsg_Destroy(msg);
		if (rc)
			return rc;
		if ((in->br->st.packets & 255) == 0) {
			measure_lag(in);
			bridge_report_tick(in->br);
		}
	}
	return 0;
}

static int open_ring(struct in *in)
{
	const struct bridge_opts *o = &in->br->o;
	struct bcast_ring_opts ro = { .size = o->ring_size };
	struct bcast_ring_info info;
	int err = bcast_ring_open(o->ring, BCAST_RDWR, &in->r);

	if (err == -ENOENT && o->create)
		err = bcast_ring_create(o->ring, &ro, &in->r);
	if (!err)
		err = bcast_ring_info(in->r, &info);
	if (err) {
		cli_error("cannot open '%s' to write: %s%s", o->ring,
			  bcast_strerror(err),
			  err == -ENOENT && !o->create ? " (--create makes it)" : "");
		return EXIT_NORING;
	}
	in->mtu = info.mtu;
	/* JetStream sends again what was not acknowledged: the ring follows
	 * the source's numbers, so its count is the next one it needs. */
	if (o->stream) {
		uint64_t have, bytes;

		if (!bcast_ring_count(in->r, &have, &bytes) && have) {
			in->next = have;
			in->next_known = true;
			if (o->verbose)
				cli_error("'%s' has messages up to %llu: going on "
					  "from there", o->ring,
					  (unsigned long long)have);
		}
	}
	/* the only writer from the start: a second bridge is refused now */
	return open_writer(in);
}

int bridge_in(struct bridge *br)
{
	struct in in = { .br = br };
	uint64_t acked;
	char url[256];
	natsStatus s;
	int rc;

	rc = open_ring(&in);
	if (rc)
		goto out;
	rc = 1;
	if (bridge_connect(br))
		goto out;
	if (br->o.stream) {
		if (bridge_jetstream(br, true) ||
		    bridge_jetstream_consumer(br, &in.sub, &acked))
			goto out;
		bridge_report_ready(br);
		rc = run_stream(&in, acked);
		goto done;
	}
	s = natsConnection_SubscribeSync(&in.sub, br->nc, br->o.subject);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(in.sub, 1 << 20, 1 << 30);
	if (s != NATS_OK) {
		cli_error("subscribing to '%s' on %s: %s", br->o.subject,
			  bridge_server(br, url, sizeof(url)),
			  natsStatus_GetText(s));
		goto out;
	}
	bridge_report_ready(br);
	rc = run(&in);
done:
	bridge_report_end(br, cli_stop_requested ? "signal" :
			  rc ? "error" : "count");
out:
	natsSubscription_Destroy(in.sub);
	bridge_disconnect(br);
	free(in.asm_buf);
	if (in.w)
		bcast_flush(in.w);
	bcast_writer_close(in.w);
	bcast_ring_close(in.r);
	return rc;
}
