/* SPDX-License-Identifier: MIT */
/*
 * The fuzz-reader target's input: a ring, as the target decodes it and as
 * make-corpus encodes its seeds.
 *
 * Input format (integers in host byte order, i.e. little-endian):
 *
 *   [0]        ctl   bits 0-1  capacity: 0,3 -> 4096, 1 -> 8192, 2 -> 16384
 *                    bits 2-3  header fix-up:
 *                              0 raw: every header word as given
 *                              1 magic, abi_version, hdr_size, capacity forced
 *                              2 as 1, and mtu, chunk_shift, metadata_len
 *                                folded into their valid ranges
 *                              3 as 2, and committed made 8-aligned with
 *                                committed <= claimed <= committed + 2 cap
 *                    bit 4     raw mode only: pass a mapping length
 *                              shortened by ext * 64 bytes to attach
 *                    bits 5-7  unused (free for the mutator)
 *   [1]        ops   how the readers are driven (strategy rotation, PRNG)
 *   [2]        nsync number of sync slots that follow (value % 65); the
 *                    other slots hold BCAST_SYNC_INVALID
 *   [3]        ext   extra byte (length cut in raw mode, writer PRNG)
 *   [4..44)    header line 0: magic .. chunk_shift (40 bytes; the reader
 *              registry's fields after it stay 0: no registry)
 *   [44..52)   committed
 *   [52..60)   claimed
 *   [60..108)  header line 3: writer_alive .. writer_lock (48 bytes)
 *   [108..120) need_wakeup, wake_seq, reader_flags
 *   then       nsync * 32 bytes of sync points (pos, seq, bytes, reserved)
 *   then       the data area from index 0 (at most capacity bytes; the rest
 *              of the data area stays zero, extra input is ignored)
 *
 * A writer_lock of 1 (pid 1, start time 0) stands for the fuzzing process
 * itself, so that a seed can hold a live writer on any machine.
 * Shorter inputs leave the rest zero.
 */
#ifndef BCAST_FUZZ_INPUT_H
#define BCAST_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bcast.h>

#define FUZZ_PREFIX	4
#define FUZZ_LINE0	40
#define FUZZ_LINE3	48
#define FUZZ_WAKE	12
#define FUZZ_FIXED	(FUZZ_PREFIX + FUZZ_LINE0 + 8 + 8 + FUZZ_LINE3 + FUZZ_WAKE)
#define FUZZ_SYNC_SIZE	32

/* The ring an input stands for. */
struct fuzz_ring {
	unsigned char *mem;	/* BCAST_HDR_SIZE + cap bytes, 64-aligned */
	size_t size;		/* allocated */
	size_t len;		/* passed to bcast_ring_attach */
	uint64_t cap;		/* the capacity byte's choice */
	unsigned ctl, ops, ext;
};

/* Lay the input out as a ring in fresh memory (free fr->mem): 0, or -1
 * when out of memory. */
int fuzz_decode(const uint8_t *data, size_t size, struct fuzz_ring *fr);

/* The longest encoding of a ring of `cap` data bytes. */
size_t fuzz_encoded_max(uint64_t cap);

/*
 * Encode a ring (BCAST_HDR_SIZE + cap bytes at mem) as an input; returns
 * its length.  `out` must hold fuzz_encoded_max(cap) bytes.
 */
size_t fuzz_encode(const void *mem, uint64_t cap, unsigned ctl, unsigned ops,
		   unsigned ext, unsigned char *out);

/* The target, which takes these inputs. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
