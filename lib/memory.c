// SPDX-License-Identifier: MIT
/*
 * Rings in memory handed to us (bcast_ring_format, bcast_ring_attach):
 * nothing to map or unmap; readers sleep on the wake page's futex and the
 * owner word alone says who writes.
 */
#include <errno.h>
#include <stdint.h>
#include "internal.h"

/*
 * Where a ring lies in memory handed to us: at the first 8-byte aligned
 * address (what its 64-bit atomic words need; the hot words stay a line
 * apart at any alignment), so that the same memory, or the same shared
 * mapping at the same page offset in another process, always yields the
 * same ring, and malloc()ed memory loses nothing.
 */
#define RING_ALIGN 8

static int ring_place(void *mem, size_t len, void **start, size_t *avail)
{
	uintptr_t at = ((uintptr_t)mem + RING_ALIGN - 1) &
		       ~(uintptr_t)(RING_ALIGN - 1);
	size_t skip = at - (uintptr_t)mem;

	if (!mem || len < skip)
		return -EINVAL;
	*start = (void *)at;
	*avail = len - skip;
	return 0;
}

/* A ring in the caller's memory; `writable` says whether we may write it. */
static int attach_memory(void *mem, size_t len, const struct bcast_ring_opts *o,
			 bool format, bool writable, struct bcast_ring **out)
{
	struct bcast_ring *r;
	size_t avail;
	void *start;
	int err;

	if (!out)
		return -EINVAL;
	err = ring_place(mem, len, &start, &avail);
	if (!err && format)
		err = ring_format(start, avail, o, 0, ring_opts_slots(o, 0));
	if (err)
		return err;
	err = ring_alloc(&memory_backend, &r);
	if (err)
		return err;
	err = ring_init(r, start, avail);
	if (err) {
		ring_free(r);
		return err;
	}
	r->writable = r->wake_writable = writable;
	*out = r;
	return 0;
}

BCAST_EXPORT int bcast_ring_format(void *mem, size_t len,
				   const struct bcast_ring_opts *o,
				   struct bcast_ring **out)
{
	return attach_memory(mem, len, o, true, true, out);
}

BCAST_EXPORT int bcast_ring_attach(void *mem, size_t len, int flags,
				   struct bcast_ring **out)
{
	if (!mem || (flags & ~(BCAST_RDWR | BCAST_FORMAT)))
		return -EINVAL;
	/* Formatting writes the memory: it makes a writable ring. */
	return attach_memory(mem, len, NULL, flags & BCAST_FORMAT,
			     flags & (BCAST_RDWR | BCAST_FORMAT), out);
}

const struct ring_backend memory_backend = {
	.name = "memory",
	USER_SPACE_RING_OPS,
};
