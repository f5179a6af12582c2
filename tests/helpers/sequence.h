/* SPDX-License-Identifier: MIT */
/*
 * What a reader was handed of messages 0 .. total-1, whose type is the low
 * 32 bits of their sequence number and whose length is a function of it:
 * the holes in the sequence, the handles found overwritten when they were
 * read, what was checked byte for byte.  Delivered and lost must then be
 * exactly what the reader's counters say, at every message and at the end.
 */
#ifndef BCAST_TEST_SEQUENCE_H
#define BCAST_TEST_SEQUENCE_H

#include <stddef.h>
#include <stdint.h>
#include "bcast.h"
#include "failure.h"

struct sequence {
	uint64_t total;			/* messages the writer may publish */
	size_t (*len_of)(uint64_t seq);
	uint64_t next;			/* after the last one handed out */
	uint64_t handed, handed_bytes;	/* by the library */
	uint64_t verified;		/* read, and every byte right */
	uint64_t late, late_bytes;	/* overwritten before they were read */
	uint64_t gaps, gap_bytes;	/* never handed out */
};

/* The first sequence number from `next` on whose low 32 bits are type. */
uint64_t seq_of_type(uint64_t next, uint32_t type);

/* A message of `type` and `len` was handed out: its sequence number,
 * counting the gap before it; UINT64_MAX, saying why in *f, when it cannot
 * be the next one (out of range, or not the length of that message). */
uint64_t sequence_take(struct sequence *q, uint32_t type, size_t len,
		       struct failure *f);

/* Message seq, handed out, was read: its bytes must be right. */
int sequence_check(struct sequence *q, uint64_t seq, const void *data,
		   size_t len, struct failure *f);

/* A handle of `len` bytes was overwritten before it could be read. */
void sequence_late(struct sequence *q, size_t len);

/* The writer published `published` messages: those after the last one
 * handed out were lost too. */
void sequence_lost_after(struct sequence *q, uint64_t published);

/* Do rd's counters say what the sequence saw?  0, or -1 saying how not. */
int sequence_agrees(const struct sequence *q, struct bcast_reader *rd,
		    struct failure *f);

/* The end (a TAP check each): what the reader obtained and what it was
 * told it lost are exactly what was published, and are what it saw. */
void check_sequence(const struct sequence *q,
		    const struct bcast_reader_stats *st, uint64_t published,
		    uint64_t published_bytes);

#endif
