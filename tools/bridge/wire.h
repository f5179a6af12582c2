/* SPDX-License-Identifier: MIT */
/*
 * What bcast-bridge puts in one NATS message: a packet.  A header, then
 * whole messages (a batch), or one piece of a message too large for a
 * NATS message (a fragment), or nothing (the source's state: where its
 * numbering stands and whether its writer is gone).  Every message of a
 * batch has the number after the one before it, so a packet says exactly
 * which messages of the source it holds, and the receiver sees any that
 * went missing.  Little-endian, no padding, version 1:
 *
 *   header   u32 magic "BCBR", u8 version, u8 kind, u16 flags,
 *            u64 epoch (the source ring's writer), u64 seq, u32 count,
 *            u32 reserved (0)                                  32 bytes
 *   batch    count x { u32 type, u32 length, length bytes }
 *            seq: the first message's number
 *   fragment u32 type, u32 total length, u32 offset, u32 0, then bytes
 *            seq: the message's number
 *   state    nothing; seq: the number the next message will have
 */
#ifndef BCAST_BRIDGE_WIRE_H
#define BCAST_BRIDGE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC		0x52424342u	/* "BCBR" */
#define WIRE_VERSION		1
#define WIRE_HDR		32
#define WIRE_RECORD_HDR		8
#define WIRE_FRAGMENT_HDR	16

enum wire_kind {
	WIRE_BATCH = 1,
	WIRE_FRAGMENT = 2,
	WIRE_STATE = 3,
};

/* flags */
#define WIRE_WRITER_GONE	0x1	/* state: the source's writer went */

struct wire_packet {
	enum wire_kind kind;
	uint16_t flags;
	uint64_t epoch;
	uint64_t seq;
	uint32_t count;		/* batch: its messages */
	uint32_t type;		/* fragment: the message's */
	uint32_t total;		/* ... its length */
	uint32_t offset;	/* ... where this piece goes */
	const unsigned char *body;	/* batch records, or the piece */
	size_t body_len;
};

/*
 * Check a packet from the network and describe it: 0, or -EBADMSG with
 * *why saying what was wrong.  A batch's records are all checked here:
 * wire_next() then cannot fail.
 */
int wire_parse(const void *p, size_t len, struct wire_packet *pk,
	       const char **why);

/* The records of a parsed batch, in order: 1 and the next, or 0. */
struct wire_cursor {
	const unsigned char *p, *end;
};
void wire_records(const struct wire_packet *pk, struct wire_cursor *c);
int wire_next(struct wire_cursor *c, uint32_t *type, const void **data,
	      uint32_t *len);

/* Building a batch in a buffer of `cap` bytes (>= WIRE_HDR + 8). */
struct wire_batch {
	unsigned char *buf;
	size_t cap, len;
	uint32_t count;
	uint64_t epoch, seq;
};
void wire_batch_start(struct wire_batch *b, uint64_t epoch, uint64_t seq);
/* Payload bytes the next record may have. */
size_t wire_batch_room(const struct wire_batch *b);
/* Where the next record's payload goes: 8 bytes past its header. */
static inline unsigned char *wire_batch_tail(const struct wire_batch *b)
{
	return b->buf + b->len + WIRE_RECORD_HDR;
}
/* The record whose payload was put at wire_batch_tail(). */
void wire_batch_add(struct wire_batch *b, uint32_t type, uint32_t len);
/* The header, once the records are in: the packet is buf[0..len). */
void wire_batch_seal(struct wire_batch *b);

/* A fragment or a state packet into out (WIRE_HDR + WIRE_FRAGMENT_HDR + n
 * bytes, or WIRE_HDR): its length. */
size_t wire_fragment(unsigned char *out, uint64_t epoch, uint64_t seq,
		     uint32_t type, uint32_t total, uint32_t offset,
		     const void *piece, size_t n);
size_t wire_state(unsigned char *out, uint64_t epoch, uint64_t next,
		  uint16_t flags);

/* The number after a packet's last message (state: seq itself; a
 * fragment: seq once its last piece is in, else seq). */
uint64_t wire_end(const struct wire_packet *pk);

#endif
