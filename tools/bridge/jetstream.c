// SPDX-License-Identifier: MIT
/*
 * --jetstream STREAM: packets stored in a stream before they count as
 * sent.  The out side creates the stream if it is missing, publishes each
 * packet with a message id (its first message's number and the piece's
 * offset: a packet sent again is stored once) until the stream has
 * acknowledged it, and resumes after the last packet the stream holds.
 * The in side reads through a durable pull consumer and acknowledges a
 * packet once the ring has its messages; what comes again after a restart
 * is dropped by number (in.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "bridge.h"
#include "wire.h"

#define DUPLICATE_WINDOW_NS	(120LL * 1000 * 1000 * 1000)
#define ACK_WAIT_NS		(30LL * 1000 * 1000 * 1000)
#define API_PATIENCE_NS		(60LL * 1000 * 1000 * 1000)

static int js_error(struct bridge *br, const char *what, natsStatus s,
		    jsErrCode jerr)
{
	char url[256];

	cli_error("%s (stream '%s', subject '%s', on %s): %s", what,
		  br->o.stream, br->o.subject,
		  bridge_server(br, url, sizeof(url)), natsStatus_GetText(s));
	if (jerr)
		cli_error("JetStream error %d: %s", (int)jerr,
			  nats_GetLastError(NULL));
	return -1;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * A stream just created, or one whose leader is moving, does not answer
 * for a few seconds: a request that timed out or found no one is asked
 * again for a minute.  True when @s is such a failure and there is time.
 */
static bool js_again(struct bridge *br, const char *what, natsStatus s,
		     uint64_t since_ns)
{
	if (s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS)
		return false;
	if (cli_stop_requested || cli_now_ns() - since_ns > API_PATIENCE_NS)
		return false;
	if (br->o.verbose)
		cli_error("%s: %s; asking again", what, natsStatus_GetText(s));
	nap_ms(200);
	return true;
}

int bridge_jetstream(struct bridge *br, bool create)
{
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	const char *subjects[1] = { br->o.subject };
	uint64_t since;
	natsStatus s;

	s = natsConnection_JetStream(&br->js, br->nc, NULL);
	if (s != NATS_OK)
		return js_error(br, "JetStream", s, 0);
	since = cli_now_ns();
	do {
		jerr = 0;
		s = js_GetStreamInfo(&si, br->js, br->o.stream, NULL, &jerr);
	} while (js_again(br, "looking up the stream", s, since));
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (!create || (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr))
		return js_error(br, "looking up the stream", s, jerr);
	jsStreamConfig_Init(&cfg);
	cfg.Name = br->o.stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = br->o.replicas;
	cfg.Duplicates = DUPLICATE_WINDOW_NS;
	s = js_AddStream(&si, br->js, &cfg, NULL, &jerr);
	if (jerr == JSStreamNameExistErr)	/* the other side was first */
		return 0;
	if (s != NATS_OK)
		return js_error(br, "creating the stream", s, jerr);
	if (br->o.verbose)
		cli_error("created stream '%s' (subject '%s', %d replicas)",
			  br->o.stream, br->o.subject, br->o.replicas);
	jsStreamInfo_Destroy(si);
	return 0;
}

int bridge_jetstream_resume(struct bridge *br, uint64_t *next, bool *have)
{
	struct wire_packet pk;
	jsErrCode jerr = 0;
	natsMsg *msg = NULL;
	const char *why;
	uint64_t since = cli_now_ns();
	natsStatus s;

	*have = false;
	do {
		jerr = 0;
		s = js_GetLastMsg(&msg, br->js, br->o.stream, br->o.subject,
				  NULL, &jerr);
	} while (js_again(br, "reading the stream's last packet", s, since));
	if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
		return 0;
	if (s != NATS_OK)
		return js_error(br, "reading the stream's last packet", s, jerr);
	if (!wire_parse(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
			&pk, &why)) {
		*next = wire_end(&pk);
		*have = true;
	} else {
		cli_error("the last message of stream '%s' on '%s' is no "
			  "bcast-bridge packet (%s): starting afresh",
			  br->o.stream, br->o.subject, why);
	}
	natsMsg_Destroy(msg);
	return 0;
}

int bridge_jetstream_publish(struct bridge *br, const void *p, size_t len,
			     const char *id)
{
	jsPubOptions po;
	long backoff = 10;
	int tries;

	jsPubOptions_Init(&po);
	po.MsgId = id;
	/* Until the stream has it; a stop gives up after a few seconds (the
	 * ring still has what was not stored: a restart resumes there). */
	for (tries = 0;; tries++) {
		jsPubAck *pa = NULL;
		jsErrCode jerr = 0;
		natsStatus s = js_Publish(&pa, br->js, br->o.subject, p,
					  (int)len, &po, &jerr);
		char url[256];

		if (s == NATS_OK) {
			if (pa->Duplicate)
				br->st.duplicates++;
			jsPubAck_Destroy(pa);
			return 0;
		}
		if (s == NATS_CONNECTION_CLOSED || s == NATS_MAX_PAYLOAD ||
		    (cli_stop_requested && tries >= 20))
			return js_error(br, "storing a packet", s, jerr);
		if (!br->st.publish_errors++ || br->o.verbose)
			cli_error("storing a packet in '%s' on %s: %s; trying again",
				  br->o.stream, bridge_server(br, url, sizeof(url)),
				  natsStatus_GetText(s));
		nap_ms(backoff);
		if (backoff < 500)
			backoff *= 2;
	}
}

/*
 * The durable consumer, delivering from stream sequence @start on (0:
 * the stream's first).  It is made anew each time: a consumer redelivers
 * what it handed out unacknowledged only after the ack wait, behind newer
 * packets, and packets must come in order to tell a loss from a delay.
 */
static int make_consumer(struct bridge *br, natsSubscription **sub,
			 uint64_t start)
{
	jsSubOptions so;
	jsErrCode jerr = 0;
	uint64_t since;
	natsStatus s;

	if (*sub)
		natsSubscription_Destroy(*sub);
	*sub = NULL;
	since = cli_now_ns();
	do {
		jerr = 0;
		s = js_DeleteConsumer(br->js, br->o.stream, br->o.durable, NULL,
				      &jerr);
	} while (js_again(br, "replacing the consumer", s, since));
	if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr)
		return js_error(br, "replacing the consumer", s, jerr);
	jsSubOptions_Init(&so);
	so.Stream = br->o.stream;
	so.Config.Durable = br->o.durable;
	so.Config.AckPolicy = js_AckAll;
	so.Config.AckWait = ACK_WAIT_NS;
	so.Config.DeliverPolicy = start ? js_DeliverByStartSequence :
					  js_DeliverAll;
	so.Config.OptStartSeq = start;
	so.Config.FilterSubject = br->o.subject;
	so.Config.MaxAckPending = 4096;
	since = cli_now_ns();
	do {
		jerr = 0;
		s = js_PullSubscribe(sub, br->js, br->o.subject, br->o.durable,
				     NULL, &so, &jerr);
	} while (js_again(br, "subscribing as consumer", s, since));
	if (s != NATS_OK)
		return js_error(br, "subscribing as consumer", s, jerr);
	return 0;
}

int bridge_jetstream_consumer(struct bridge *br, natsSubscription **sub,
			      uint64_t *acked)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	uint64_t since = cli_now_ns();
	natsStatus s;

	*acked = 0;
	do {
		jerr = 0;
		s = js_GetConsumerInfo(&ci, br->js, br->o.stream, br->o.durable,
				       NULL, &jerr);
	} while (js_again(br, "looking up the consumer", s, since));
	if (s == NATS_OK) {
		*acked = ci->AckFloor.Stream;
		jsConsumerInfo_Destroy(ci);
		if (br->o.verbose)
			cli_error("consumer '%s' acknowledged up to stream "
				  "sequence %" PRIu64, br->o.durable, *acked);
	} else if (s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
		return js_error(br, "looking up the consumer", s, jerr);
	}
	return make_consumer(br, sub, *acked ? *acked + 1 : 0);
}

int bridge_jetstream_rewind(struct bridge *br, natsSubscription **sub,
			    uint64_t next)
{
	if (br->o.verbose)
		cli_error("packets out of order: delivery again from stream "
			  "sequence %" PRIu64, next);
	return make_consumer(br, sub, next);
}

/* A delivered packet's stream sequence, 0 if it has none. */
uint64_t bridge_jetstream_seq(natsMsg *msg)
{
	jsMsgMetaData *meta = NULL;
	uint64_t seq;

	if (natsMsg_GetMetaData(&meta, msg) != NATS_OK)
		return 0;
	seq = meta->Sequence.Stream;
	jsMsgMetaData_Destroy(meta);
	return seq;
}

int bridge_jetstream_fetch(struct bridge *br, natsSubscription *sub,
			   natsMsgList *list)
{
	jsErrCode jerr = 0;
	natsStatus s = natsSubscription_Fetch(list, sub, 64, 200, &jerr);

	if (s == NATS_OK)
		return 1;
	if (s == NATS_TIMEOUT)
		return 0;
	if (s == NATS_CONNECTION_CLOSED || s == NATS_INVALID_SUBSCRIPTION)
		return js_error(br, "fetching packets", s, jerr);
	/* a leader moving, a node gone: the next fetch goes on */
	if (br->o.verbose)
		cli_error("fetching from '%s': %s; trying again", br->o.stream,
			  natsStatus_GetText(s));
	nap_ms(50);
	return 0;
}

/* Packets the consumer has not handed out yet: the in side's lag. */
void bridge_jetstream_lag(struct bridge *br, natsSubscription *sub)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;

	if (natsSubscription_GetConsumerInfo(&ci, sub, NULL, &jerr) != NATS_OK)
		return;
	br->st.lag = ci->NumPending;
	jsConsumerInfo_Destroy(ci);
}
