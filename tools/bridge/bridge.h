/* SPDX-License-Identifier: MIT */
/*
 * bcast-bridge: a ring's messages over NATS to rings on other hosts.
 * main.c reads the command line; connect.c makes the NATS connection (and
 * counts what happens to it); out.c reads a ring and publishes; in.c
 * subscribes and writes a ring; wire.c is the packet format; report.c the
 * statistics.
 */
#ifndef BCAST_BRIDGE_H
#define BCAST_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>
#include <nats/nats.h>
#include "bcast.h"

struct bridge_opts {
	bool out;			/* out: ring -> NATS; else NATS -> ring */
	const char *ring;
	const char *servers;		/* nats://HOST:PORT[,...] */
	const char *subject;
	const char *stream;		/* --jetstream STREAM, or NULL: core */
	const char *durable;		/* in, JetStream: the consumer */
	int replicas;			/* out, JetStream: a new stream's */
	bool from_oldest;		/* out: where reading starts */
	size_t batch_bytes;		/* out: largest packet */
	uint64_t flush_us;		/* out: a batch waits at most this */
	uint64_t heartbeat_ms;		/* out: state packets when idle */
	bool create;			/* in: create the ring */
	uint64_t ring_size;
	/* the connection */
	const char *name;
	const char *tls_ca, *tls_cert, *tls_key;
	bool tls, tls_insecure;
	const char *creds, *user, *password, *token;
	int64_t reconnect_wait_ms, reconnect_max_ms, connect_timeout_ms;
	int max_reconnect;		/* -1: for ever */
	/* output */
	bool stats, json, quiet, verbose;
	double stats_every;		/* seconds between --stats lines */
	uint64_t count;			/* stop after this many messages */
};

struct bridge_stats {
	uint64_t messages, bytes;	/* bridged */
	uint64_t packets, fragments, states;
	uint64_t gaps, lost;		/* losses seen, messages lost */
	uint64_t duplicates;		/* in: messages seen twice, dropped */
	uint64_t bad_packets;		/* in: refused */
	uint64_t publish_errors;	/* out: packets NATS refused */
	uint64_t epochs;		/* source writers seen */
	uint64_t lag;			/* out: bytes behind the ring's
					 * writer; in: packets waiting */
	/* from the connection's callbacks (other threads) */
	uint64_t disconnects, reconnects;
};

struct bridge {
	struct bridge_opts o;
	natsConnection *nc;
	jsCtx *js;			/* --jetstream */
	size_t max_payload;
	struct bridge_stats st;
	uint64_t started_ns;
	uint64_t last_report_ns;
	bool closing;			/* our own close: no news */
};

/* connect.c: 0, or -1 after saying why (the servers named). */
int bridge_connect(struct bridge *br);
void bridge_disconnect(struct bridge *br);
/* The server in use, for messages ("(none)" while reconnecting). */
const char *bridge_server(struct bridge *br, char *buf, size_t len);

/* jetstream.c: 0 or -1 after saying why.  The JetStream context, and
 * the stream (created if missing, when `create`). */
int bridge_jetstream(struct bridge *br, bool create);
/* out: the number after the stream's last packet for the subject. */
int bridge_jetstream_resume(struct bridge *br, uint64_t *next, bool *have);
/* out: store a packet under message id `id`, trying until it is. */
int bridge_jetstream_publish(struct bridge *br, const void *p, size_t len,
			     const char *id);
/* in: the durable pull consumer, delivering in order after what it
 * acknowledged (*acked: that stream sequence, 0 for none); made again
 * from stream sequence `next` when packets came out of order; a packet's
 * stream sequence; up to 64 packets (1, 0 for none yet, -1). */
int bridge_jetstream_consumer(struct bridge *br, natsSubscription **sub,
			      uint64_t *acked);
int bridge_jetstream_rewind(struct bridge *br, natsSubscription **sub,
			    uint64_t next);
uint64_t bridge_jetstream_seq(natsMsg *msg);
void bridge_jetstream_lag(struct bridge *br, natsSubscription *sub);
int bridge_jetstream_fetch(struct bridge *br, natsSubscription *sub,
			   natsMsgList *list);

/* out.c, in.c: the process's exit status. */
int bridge_out(struct bridge *br);
int bridge_in(struct bridge *br);

/* report.c: with --verbose, that messages flow from now on; a --stats
 * line now and then, the summary at the end. */
void bridge_report_ready(struct bridge *br);
void bridge_report_tick(struct bridge *br);
void bridge_report_end(struct bridge *br, const char *end);

#endif
