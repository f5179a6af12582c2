// SPDX-License-Identifier: MIT
/* The packet format of wire.h: built by the out side, checked before
 * anything of it is believed by the in side. */
#include <errno.h>
#include <string.h>
#include "wire.h"

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const unsigned char *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put_header(unsigned char *out, enum wire_kind kind,
		       uint16_t flags, uint64_t epoch, uint64_t seq,
		       uint32_t count)
{
	put32(out, WIRE_MAGIC);
	out[4] = WIRE_VERSION;
	out[5] = (unsigned char)kind;
	put16(out + 6, flags);
	put64(out + 8, epoch);
	put64(out + 16, seq);
	put32(out + 24, count);
	put32(out + 28, 0);
}

static int bad(const char **why, const char *what)
{
	*why = what;
	return -EBADMSG;
}

/* Every record of a batch within the body, exactly count of them. */
static int check_records(const struct wire_packet *pk, const char **why)
{
	const unsigned char *p = pk->body, *end = p + pk->body_len;
	uint32_t n;

	if (!pk->count)
		return bad(why, "a batch without messages");
	if (UINT64_MAX - pk->seq < pk->count)
		return bad(why, "message numbers past 2^64");
	for (n = 0; n < pk->count; n++) {
		uint32_t len;

		if ((size_t)(end - p) < WIRE_RECORD_HDR)
			return bad(why, "a batch cut short");
		len = get32(p + 4);
		p += WIRE_RECORD_HDR;
		if ((size_t)(end - p) < len)
			return bad(why, "a message longer than its batch");
		p += len;
	}
	if (p != end)
		return bad(why, "bytes after a batch's last message");
	return 0;
}

int wire_parse(const void *data, size_t len, struct wire_packet *pk,
	       const char **why)
{
	const unsigned char *p = data;

	memset(pk, 0, sizeof(*pk));
	if (len < WIRE_HDR || get32(p) != WIRE_MAGIC)
		return bad(why, "not a bcast-bridge packet");
	if (p[4] != WIRE_VERSION)
		return bad(why, "a packet of another version");
	pk->kind = p[5];
	pk->flags = get16(p + 6);
	pk->epoch = get64(p + 8);
	pk->seq = get64(p + 16);
	pk->count = get32(p + 24);
	pk->body = p + WIRE_HDR;
	pk->body_len = len - WIRE_HDR;
	if (get32(p + 28))
		return bad(why, "reserved bits set");
	switch (pk->kind) {
	case WIRE_BATCH:
		if (pk->flags)
			return bad(why, "unknown flags");
		return check_records(pk, why);
	case WIRE_FRAGMENT:
		if (pk->flags || pk->count)
			return bad(why, "unknown flags");
		if (pk->body_len < WIRE_FRAGMENT_HDR ||
		    get32(pk->body + 12))
			return bad(why, "a fragment cut short");
		pk->type = get32(pk->body);
		pk->total = get32(pk->body + 4);
		pk->offset = get32(pk->body + 8);
		pk->body += WIRE_FRAGMENT_HDR;
		pk->body_len -= WIRE_FRAGMENT_HDR;
		if (pk->offset > pk->total ||
		    pk->body_len > pk->total - pk->offset ||
		    (!pk->body_len && pk->total))
			return bad(why, "a fragment outside its message");
		if (pk->seq == UINT64_MAX)
			return bad(why, "message numbers past 2^64");
		return 0;
	case WIRE_STATE:
		if (pk->flags & ~WIRE_WRITER_GONE || pk->count || pk->body_len)
			return bad(why, "a state packet with more in it");
		return 0;
	}
	return bad(why, "an unknown kind of packet");
}

void wire_records(const struct wire_packet *pk, struct wire_cursor *c)
{
	c->p = pk->body;
	c->end = pk->body + pk->body_len;
}

int wire_next(struct wire_cursor *c, uint32_t *type, const void **data,
	      uint32_t *len)
{
	if ((size_t)(c->end - c->p) < WIRE_RECORD_HDR)
		return 0;
	*type = get32(c->p);
	*len = get32(c->p + 4);
	*data = c->p + WIRE_RECORD_HDR;
	c->p += WIRE_RECORD_HDR + *len;
	return 1;
}

void wire_batch_start(struct wire_batch *b, uint64_t epoch, uint64_t seq)
{
	b->len = WIRE_HDR;
	b->count = 0;
	b->epoch = epoch;
	b->seq = seq;
}

size_t wire_batch_room(const struct wire_batch *b)
{
	size_t used = b->len + WIRE_RECORD_HDR;

	return used < b->cap ? b->cap - used : 0;
}

void wire_batch_add(struct wire_batch *b, uint32_t type, uint32_t len)
{
	put32(b->buf + b->len, type);
	put32(b->buf + b->len + 4, len);
	b->len += WIRE_RECORD_HDR + len;
	b->count++;
}

void wire_batch_seal(struct wire_batch *b)
{
	put_header(b->buf, WIRE_BATCH, 0, b->epoch, b->seq, b->count);
}

size_t wire_fragment(unsigned char *out, uint64_t epoch, uint64_t seq,
		     uint32_t type, uint32_t total, uint32_t offset,
		     const void *piece, size_t n)
{
	put_header(out, WIRE_FRAGMENT, 0, epoch, seq, 0);
	put32(out + WIRE_HDR, type);
	put32(out + WIRE_HDR + 4, total);
	put32(out + WIRE_HDR + 8, offset);
	put32(out + WIRE_HDR + 12, 0);
	if (n)
		memcpy(out + WIRE_HDR + WIRE_FRAGMENT_HDR, piece, n);
	return WIRE_HDR + WIRE_FRAGMENT_HDR + n;
}

size_t wire_state(unsigned char *out, uint64_t epoch, uint64_t next,
		  uint16_t flags)
{
	put_header(out, WIRE_STATE, flags, epoch, next, 0);
	return WIRE_HDR;
}

uint64_t wire_end(const struct wire_packet *pk)
{
	switch (pk->kind) {
	case WIRE_BATCH:
		return pk->seq + pk->count;
	case WIRE_FRAGMENT:
		return pk->offset + pk->body_len == pk->total ? pk->seq + 1 :
								pk->seq;
	default:
		return pk->seq;
	}
}
