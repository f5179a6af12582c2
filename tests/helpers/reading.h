/* SPDX-License-Identifier: MIT */
/*
 * Read one call's worth of messages in one of the library's styles:
 * bcast_receive(), a batch of handles (read at once, kept and read late,
 * or left to the caller), or a bulk read; in place, copied, or both.
 * What every reading test does around the library call is here once; the
 * test says what a message must be through its callbacks.
 *
 * The reading checks what holds for any message: bcast_receive() says the
 * length it returns, a message in one frame can be peeked at, a bulk
 * message is a whole private copy inside its window, a copy is exactly as
 * long as the message (each goes to the end of `buf`, in a buffer exactly
 * its size, so that a write past it runs off the end), and a message read
 * in place and copied agrees.  The first that does not hold goes to
 * *failure and ends the call with READ_STOPPED.
 */
#ifndef BCAST_TEST_READING_H
#define BCAST_TEST_READING_H

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include "bcast.h"
#include "failure.h"

enum read_style { READ_RECEIVE, READ_BATCH, READ_BULK, READ_STYLES };

extern const char *const read_style_name[READ_STYLES];

/* How a batch handle or a bulk message is read. */
enum read_access {
	READ_COPY,	/* bcast_msg_read() */
	READ_PEEK,	/* in place (bcast_msg_peek()), then bcast_msg_valid();
			 * a fragmented batch message is copied */
	READ_ALTERNATE,	/* in place and copied in turn */
	READ_BOTH,	/* in place and copied, which must agree */
	READ_NONE,	/* not at all: the callbacks saw the handle */
};

/* A callback asked to stop, or a check failed (then in *failure). */
#define READ_STOPPED	(-ECANCELED)

/* Batch handles kept at most, to be read late. */
#define READ_KEEP_MAX	256

struct reading;

struct reading_ops {
	/* The library handed out message m; *tag is the caller's name for
	 * it (its sequence number), given back below.  Nonzero stops. */
	int (*handed)(struct reading *rdg, const struct bcast_msg *m,
		      uint64_t *tag);
	/* Its m->len bytes, read and confirmed intact.  Nonzero stops. */
	int (*deliver)(struct reading *rdg, const struct bcast_msg *m,
		       uint64_t tag, const void *data);
	/* It was overwritten before it could be read (may be NULL). */
	void (*overwritten)(struct reading *rdg, const struct bcast_msg *m,
			    uint64_t tag);
};

struct reading {
	struct bcast_reader *rd;
	const struct reading_ops *ops;
	void *ctx;			/* the caller's */
	struct failure *failure;
	unsigned char *buf;		/* bcast_receive() and copies */
	size_t cap;
	unsigned char *bulk;		/* bulk windows */
	size_t bulk_cap;
	enum read_access batch_access, bulk_access;
	unsigned keep;			/* handles kept before they are read */
	unsigned max_msgs;		/* per call; 0: as many as come */
	/* what the last call did */
	enum read_style style;
	struct bcast_msg m;		/* bcast_receive()'s, -EMSGSIZE too */
	ssize_t window;			/* bcast_read_bulk()'s bytes */
	unsigned count;			/* messages handed out */
	/* inside */
	uint64_t turn;			/* READ_ALTERNATE */
	unsigned nkept;
	struct bcast_msg kept[READ_KEEP_MAX];
	uint64_t kept_tag[READ_KEEP_MAX];
};

/*
 * One call of `style`: the messages handed out (rdg->count), or the
 * library's error (after rdg->count messages), or READ_STOPPED.
 */
int read_once(struct reading *rdg, enum read_style style);

#endif
