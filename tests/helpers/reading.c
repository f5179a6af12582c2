// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "reading.h"

const char *const read_style_name[READ_STYLES] = {
	[READ_RECEIVE] = "bcast_receive",
	[READ_BATCH] = "bcast_batch",
	[READ_BULK] = "bcast_read_bulk",
};

#define IN_PLACE	0x1
#define COPIED		0x2

static int stop(struct reading *rdg, const struct bcast_msg *m,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int stop(struct reading *rdg, const struct bcast_msg *m,
		const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (m)
		fail(rdg->failure, "%s: message at %llu (%u bytes, type %u, "
		     "flags %#x): %s", read_style_name[rdg->style],
		     (unsigned long long)m->pos, m->len, m->type, m->flags,
		     why);
	else
		fail(rdg->failure, "%s: %s", read_style_name[rdg->style], why);
	return READ_STOPPED;
}

static int hand(struct reading *rdg, const struct bcast_msg *m, uint64_t *tag)
{
	*tag = 0;
	if (rdg->ops->handed && rdg->ops->handed(rdg, m, tag))
		return READ_STOPPED;
	return 0;
}

static int deliver(struct reading *rdg, const struct bcast_msg *m,
		   uint64_t tag, const void *data)
{
	if (rdg->ops->deliver && rdg->ops->deliver(rdg, m, tag, data))
		return READ_STOPPED;
	return 0;
}

static int overwritten(struct reading *rdg, const struct bcast_msg *m,
		       uint64_t tag)
{
	if (rdg->ops->overwritten)
		rdg->ops->overwritten(rdg, m, tag);
	return 0;
}

static bool below_limit(const struct reading *rdg)
{
	return !rdg->max_msgs || rdg->count < rdg->max_msgs;
}

/* The ways message m is read.  One in several frames of the ring has no
 * place to be peeked at. */
static unsigned ways(struct reading *rdg, const struct bcast_msg *m,
		     enum read_access access)
{
	if ((m->flags & BCAST_MSG_FRAGMENTED) && !(m->flags & BCAST_MSG_COPIED))
		return COPIED;
	switch (access) {
	case READ_PEEK:
		return IN_PLACE;
	case READ_BOTH:
		return IN_PLACE | COPIED;
	case READ_ALTERNATE:
		return rdg->turn++ & 1 ? IN_PLACE : COPIED;
	default:
		return COPIED;
	}
}

/* A copy of m goes to the end of buf, in a buffer exactly its size. */
static unsigned char *copy_place(const struct reading *rdg,
				 const struct bcast_msg *m)
{
	return m->len <= rdg->cap ? rdg->buf + rdg->cap - m->len : NULL;
}

/* The bytes of a message in the ring count only if it was still intact
 * after they were taken. */
static int read_in_ring(struct reading *rdg, const struct bcast_msg *m,
			uint64_t tag, const unsigned char *p,
			unsigned char *copy, bool copied)
{
	if (!copied) {
		memcpy(copy, p, m->len);
		if (!bcast_msg_valid(m))
			return overwritten(rdg, m, tag);
	} else if (memcmp(copy, p, m->len) && bcast_msg_valid(m)) {
		return stop(rdg, m, "read in place and copied, both intact, "
			    "and they differ");
	}
	return deliver(rdg, m, tag, copy);
}

static int read_message(struct reading *rdg, const struct bcast_msg *m,
			uint64_t tag, enum read_access access)
{
	unsigned how = ways(rdg, m, access);
	unsigned char *copy = copy_place(rdg, m);
	const unsigned char *p = NULL;
	ssize_t n;

	if (!copy)
		return stop(rdg, m, "larger than the %zu-byte buffer",
			    rdg->cap);
	if (how & IN_PLACE) {
		p = bcast_msg_peek(m);
		if (!p)
			return stop(rdg, m, "in one piece, and no place to "
				    "peek at");
	}
	if (how & COPIED) {
		n = bcast_msg_read(m, copy, m->len);
		if (n == -BCAST_EOVERRUN)
			return overwritten(rdg, m, tag);
		if (n < 0)
			return stop(rdg, m, "bcast_msg_read: %s (then "
				    "bcast_msg_valid() says %d, reader at "
				    "%llu)",
				    bcast_strerror((int)n), bcast_msg_valid(m),
				    (unsigned long long)
				    bcast_reader_position(rdg->rd));
		if (n != (ssize_t)m->len)
			return stop(rdg, m, "bcast_msg_read gave %zd bytes", n);
	}
	if (!p)
		return deliver(rdg, m, tag, copy);
	if (!(m->flags & BCAST_MSG_COPIED))
		return read_in_ring(rdg, m, tag, p, copy, how & COPIED);
	if ((how & COPIED) && memcmp(copy, p, m->len))
		return stop(rdg, m, "bcast_msg_read() differs from the copy");
	return deliver(rdg, m, tag, p);
}

static int read_kept(struct reading *rdg)
{
	unsigned i;
	int rc = 0;

	for (i = 0; i < rdg->nkept && !rc; i++)
		rc = read_message(rdg, &rdg->kept[i], rdg->kept_tag[i],
				  rdg->batch_access);
	rdg->nkept = 0;
	return rc;
}

/* A batch handle: read now, kept to be read late, or left to handed(). */
static int take_handle(struct reading *rdg, const struct bcast_msg *m)
{
	uint64_t tag;
	int rc = hand(rdg, m, &tag);

	if (rc || rdg->batch_access == READ_NONE)
		return rc;
	if (!rdg->keep)
		return read_message(rdg, m, tag, rdg->batch_access);
	rdg->kept[rdg->nkept] = *m;
	rdg->kept_tag[rdg->nkept++] = tag;
	if (rdg->nkept < rdg->keep && rdg->nkept < READ_KEEP_MAX)
		return 0;
	return read_kept(rdg);
}

static int receive_once(struct reading *rdg)
{
	ssize_t n = bcast_receive(rdg->rd, rdg->buf, rdg->cap, &rdg->m);
	uint64_t tag;
	int rc;

	if (n < 0)
		return (int)n;
	rdg->count = 1;
	if (rdg->m.len != (uint64_t)n)
		return stop(rdg, &rdg->m, "bcast_receive() returned %zd", n);
	rc = hand(rdg, &rdg->m, &tag);
	if (!rc)
		rc = deliver(rdg, &rdg->m, tag, rdg->buf);
	return rc ? rc : 1;
}

static int batch_once(struct reading *rdg)
{
	struct bcast_batch b;
	struct bcast_msg m;
	int rc, stopped = 0;

	rc = bcast_batch(rdg->rd, &b);
	if (rc < 0)
		return rc;
	while (!stopped && below_limit(rdg) &&
	       (rc = bcast_batch_next(&b, &m)) == 1) {
		rdg->count++;
		stopped = take_handle(rdg, &m);
	}
	if (!stopped)
		stopped = read_kept(rdg);
	if (stopped)
		return READ_STOPPED;
	return rc < 0 ? rc : (int)rdg->count;
}

/* A bulk message is a whole copy, inside the window, and stays intact. */
static int check_copy(struct reading *rdg, const struct bcast_msg *m)
{
	const unsigned char *p = bcast_msg_peek(m);

	if (!(m->flags & BCAST_MSG_COPIED) || !p || p < rdg->bulk ||
	    p + m->len > rdg->bulk + rdg->window)
		return stop(rdg, m, "not a copy inside the %zd-byte window",
			    rdg->window);
	if (bcast_msg_valid(m) != 1)
		return stop(rdg, m, "a copy, yet not valid");
	return 0;
}

static int bulk_once(struct reading *rdg)
{
	struct bcast_bulk bk;
	struct bcast_msg m;
	uint64_t tag;
	int rc = 0;

	rdg->window = bcast_read_bulk(rdg->rd, rdg->bulk, rdg->bulk_cap, &bk);
	if (rdg->window < 0)
		return (int)rdg->window;
	if (!rdg->window || (size_t)rdg->window > rdg->bulk_cap)
		return stop(rdg, NULL, "%zd bytes for a %zu-byte buffer",
			    rdg->window, rdg->bulk_cap);
	while (below_limit(rdg) && (rc = bcast_bulk_next(&bk, &m)) == 1) {
		rdg->count++;
		if (check_copy(rdg, &m) || hand(rdg, &m, &tag))
			return READ_STOPPED;
		if (rdg->bulk_access != READ_NONE &&
		    read_message(rdg, &m, tag, rdg->bulk_access))
			return READ_STOPPED;
	}
	return rc < 0 ? rc : (int)rdg->count;
}

int read_once(struct reading *rdg, enum read_style style)
{
	rdg->style = style;
	rdg->count = 0;
	rdg->window = 0;
	switch (style) {
	case READ_RECEIVE:
		return receive_once(rdg);
	case READ_BATCH:
		return batch_once(rdg);
	default:
		return bulk_once(rdg);
	}
}
