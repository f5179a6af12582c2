/* SPDX-License-Identifier: MIT */
/*
 * Rings for the tests to work on: one in heap memory, with a writer and a
 * reader on it if asked for, whose header and data the test can reach (to
 * corrupt them, or to publish behind the library's back); and names of
 * shm rings that no other run of the test uses.
 */
#ifndef BCAST_TEST_FIXTURE_H
#define BCAST_TEST_FIXTURE_H

#include <stddef.h>
#include <linux/bcast.h>
#include "bcast.h"

#define FIXTURE_WRITER	0x1	/* open a writer */
#define FIXTURE_READER	0x2	/* open a reader from the oldest message */

struct ring_fixture {
	unsigned char *mem;		/* the header, then the data area */
	size_t len;
	struct bcast_ring_hdr *h;
	unsigned char *data;
	struct bcast_ring *r;
	struct bcast_writer *w;		/* or NULL */
	struct bcast_reader *rd;	/* or NULL */
};

/* A ring of `capacity` data bytes and the library's default MTU for 0,
 * formatted in fresh memory: 0 or the first error. */
int fixture_open(struct ring_fixture *f, size_t capacity, size_t mtu,
		 unsigned what);
void fixture_close(struct ring_fixture *f);

/* `len` zeroed bytes, page-aligned, for a ring attached to plain memory
 * (free() them); NULL when out of memory. */
void *ring_memory(size_t len);

/* "shm:bcast-test-TAG-PID", until the next call. */
const char *shm_name(const char *tag);

/* A new shm ring of that name (an old one left by a killed run goes
 * first), or NULL. */
struct bcast_ring *shm_ring_new(const char *name, size_t capacity, size_t mtu);

#endif
