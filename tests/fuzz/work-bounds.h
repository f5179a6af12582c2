/* SPDX-License-Identifier: MIT */
/*
 * The fuzz-reader target's work bounds.  Built with BCAST_COUNT_FRAMES (as
 * `make fuzz` does), the library counts the frame headers it decodes, and
 * every reader entry point is checked against a bound that depends on the
 * ring's geometry only, never on what the ring says: a walk that runs on
 * a hostile ring fails the run long before libFuzzer's timeout.  The
 * target includes this file, and `make fuzz` compiles the helpers it
 * links (the read-style drivers) with it too (-include), so that a
 * reader call is bounded wherever it is made.
 *
 * A walk from a sync point covers at most twice the distance a correct
 * writer leaves between its newest sync point and `committed`
 * (BCAST_SYNC_SPACING, two chunks and three frames of the MTU), every
 * frame at least 8 bytes, and finding a boundary takes at most four such
 * walks; everything else a reader call does is bounded by its own
 * constant (bcast_receive: 4096 frames), by the ring (a batch or a bulk
 * window is at most a ring, a frame at least 8 bytes) or by the caller's
 * buffer.  The bounds are generous; a loop steered by the ring is not.
 */
#ifndef BCAST_FUZZ_WORK_BOUNDS_H
#define BCAST_FUZZ_WORK_BOUNDS_H

#include <linux/bcast.h>
#include "bcast.h"

#ifdef BCAST_COUNT_FRAMES
extern unsigned long bcast_frames_visited;
extern unsigned long work_locate;	/* frames of one boundary search */
extern unsigned long work_ring;		/* frames one ring can hold */

/* The bounds for the ring whose header is h. */
void work_set(const struct bcast_ring_hdr *h);
/* Fail the run if `call` looked at more than `bound` frames. */
void work_check(const char *call, unsigned long bound);

#define WORK(call, bound) __extension__ ({				\
	__auto_type r_ = (bcast_frames_visited = 0, (call));		\
	work_check(#call, (bound));					\
	r_;								\
})
#else
#define work_set(h) ((void)(h))
#define WORK(call, bound) (call)
#endif

#define bcast_receive(...)						\
	WORK((bcast_receive)(__VA_ARGS__), 4096 + 2 * work_locate + 4)
#define bcast_batch(...)						\
	WORK((bcast_batch)(__VA_ARGS__), 2 * work_locate + 4)
#define bcast_batch_next(...)						\
	WORK((bcast_batch_next)(__VA_ARGS__),				\
	     4096 + 2 * work_ring + work_locate + 4)
#define bcast_msg_read(...)						\
	WORK((bcast_msg_read)(__VA_ARGS__), 2 * work_ring + 4)
#define bcast_msg_valid(...)						\
	WORK((bcast_msg_valid)(__VA_ARGS__), 4)
#define bcast_read_bulk(...)						\
	WORK((bcast_read_bulk)(__VA_ARGS__), work_ring + 2 * work_locate + 4)
#define bcast_bulk_next(...)						\
	WORK((bcast_bulk_next)(__VA_ARGS__), 2 * work_ring + 4)
#define bcast_reader_open(...)						\
	WORK((bcast_reader_open)(__VA_ARGS__), work_locate + 4)
#define bcast_ring_count(...)						\
	WORK((bcast_ring_count)(__VA_ARGS__), work_locate + 4)
#define bcast_wait(...)							\
	WORK((bcast_wait)(__VA_ARGS__), 4)

#endif
