// SPDX-License-Identifier: MIT
/* Ring header: formatting, validation, attaching, information. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"

_Static_assert(sizeof(struct bcast_ring_hdr) == BCAST_HDR_SIZE, "header size");
_Static_assert(offsetof(struct bcast_ring_hdr, committed) == 1 * BCAST_LINE, "line 1");
_Static_assert(offsetof(struct bcast_ring_hdr, claimed) == 2 * BCAST_LINE, "line 2");
_Static_assert(offsetof(struct bcast_ring_hdr, writer_alive) == 3 * BCAST_LINE, "line 3");
_Static_assert(offsetof(struct bcast_ring_hdr, sync) == 4 * BCAST_LINE, "sync");
_Static_assert(sizeof(struct bcast_sync_point) == 32, "sync point");
_Static_assert(offsetof(struct bcast_ring_hdr, need_wakeup) == BCAST_WAKE_OFFSET, "wake page");
_Static_assert(offsetof(struct bcast_ring_hdr, writer_lock) == BCAST_LOCK_OFFSET, "lock word");

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int ring_validate(const struct bcast_ring_hdr *h, size_t len)
{
	uint64_t cap;

	if (len < BCAST_MAP_SIZE(BCAST_MIN_CAPACITY))
		return -EINVAL;
	if (h->magic != BCAST_RING_MAGIC)
		return -EINVAL;
	if (h->abi_version != BCAST_ABI_VERSION)
		return -EPROTO;
	cap = h->capacity;
	if (h->hdr_size != BCAST_HDR_SIZE || !is_pow2(cap) ||
	    cap < BCAST_MIN_CAPACITY || cap > BCAST_MAX_CAPACITY ||
	    cap > len - BCAST_HDR_SIZE)
		return -BCAST_ECORRUPT;
	if (!bcast_mtu_valid(h->mtu, cap) || h->metadata_len > BCAST_METADATA_MAX)
		return -BCAST_ECORRUPT;
	if (!bcast_chunk_shift_valid(h->chunk_shift, cap))
		return -BCAST_ECORRUPT;
	return 0;
}

int ring_format(void *mem, size_t len, const struct bcast_ring_opts *o,
		unsigned ring_flags)
{
	struct bcast_ring_hdr *h = mem;
	uint64_t cap, mtu;
	unsigned i;

	if (!mem || len < BCAST_MAP_SIZE(BCAST_MIN_CAPACITY))
		return -EINVAL;
	/* Unknown flags may be options this library does not have. */
	if (o && (o->flags & ~BCAST_HUGEPAGE))
		return -EINVAL;
	if (o && o->size) {
		cap = o->size;
		if (!is_pow2(cap) || cap < BCAST_MIN_CAPACITY ||
		    cap > BCAST_MAX_CAPACITY || cap > len - BCAST_HDR_SIZE)
			return -EINVAL;
	} else {
		cap = 1ULL << bcast_log2(len - BCAST_HDR_SIZE);
		if (cap > BCAST_MAX_CAPACITY)
			cap = BCAST_MAX_CAPACITY;
	}
	mtu = o && o->mtu ? o->mtu : BCAST_DEFAULT_MTU(cap);
	if (!bcast_mtu_valid(mtu, cap))
		return -EINVAL;
	if (o && (o->metadata_len > BCAST_METADATA_MAX ||
		  (o->metadata_len && !o->metadata)))
		return -EINVAL;

	memset(h, 0, sizeof(*h));
	h->abi_version = BCAST_ABI_VERSION;
	h->flags = ring_flags;
	h->capacity = cap;
	h->mtu = (uint32_t)mtu;
	h->hdr_size = BCAST_HDR_SIZE;
	h->chunk_shift = bcast_chunk_shift(cap, mtu);
	for (i = 0; i < BCAST_SYNC_SLOTS; i++)
		h->sync[i].pos = BCAST_SYNC_INVALID;
	if (o && o->metadata_len) {
		memcpy(h->metadata, o->metadata, o->metadata_len);
		h->metadata_len = (uint32_t)o->metadata_len;
	}
	/* The magic goes last: a concurrent opener sees a whole header or none. */
	store_release(&h->magic, BCAST_RING_MAGIC);
	return 0;
}

int ring_init(struct bcast_ring *r, void *mem, size_t len)
{
	struct bcast_ring_hdr *h = mem;
	int err = ring_validate(h, len);

	if (err)
		return err;
	/* Copied once: a hostile writer changing them later changes nothing. */
	r->hdr = h;
	r->data = (unsigned char *)mem + BCAST_HDR_SIZE;
	r->cap = h->capacity;
	r->mask = r->cap - 1;
	r->mtu = h->mtu;
	r->chunk_shift = h->chunk_shift;
	if (h->flags & BCAST_RING_HUGEPAGE)
		r->hugepage = true;
	return 0;
}

static int ring_alloc(struct bcast_ring **out)
{
	struct bcast_ring *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->fd = -1;
	*out = r;
	return 0;
}

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
		err = ring_format(start, avail, o, 0);
	if (err)
		return err;
	err = ring_alloc(&r);
	if (err)
		return err;
	err = ring_init(r, start, avail);
	if (err) {
		free(r);
		return err;
	}
	r->writable = r->wake_writable = writable;
	r->backend = BACKEND_MEMORY;
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

BCAST_EXPORT int bcast_ring_create(const char *name,
				   const struct bcast_ring_opts *o,
				   struct bcast_ring **out)
{
	struct bcast_ring *r;
	int err;

	if (!name || !o || !out)
		return -EINVAL;
	err = ring_alloc(&r);
	if (err)
		return err;
	err = backend_create(name, o, r);
	if (err) {
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

BCAST_EXPORT int bcast_ring_open(const char *name, int flags,
				 struct bcast_ring **out)
{
	struct bcast_ring *r;
	int err;

	if (!name || !out || (flags & ~BCAST_RDWR))
		return -EINVAL;
	err = ring_alloc(&r);
	if (err)
		return err;
	err = backend_open(name, flags, r);
	if (err) {
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

BCAST_EXPORT void bcast_ring_close(struct bcast_ring *r)
{
	if (!r)
		return;
	backend_close(r);
	free(r);
}

static const char *backend_name(enum bcast_backend b)
{
	switch (b) {
	case BACKEND_SHM:
		return "shm";
	case BACKEND_FILE:
		return "file";
	case BACKEND_DEVICE:
		return "device";
	default:
		return "memory";
	}
}

BCAST_EXPORT int bcast_ring_count(const struct bcast_ring *r,
				  uint64_t *messages, uint64_t *bytes)
{
	uint64_t pos;
	int err;

	if (!r || !messages || !bytes)
		return -EINVAL;
	*messages = *bytes = 0;
	if (!load_acquire(&r->hdr->committed))
		return 0;
	err = ring_locate(r, LOCATE_COMMITTED, &pos, messages, bytes);
	if (err)
		*messages = *bytes = 0;
	return err;
}

BCAST_EXPORT int bcast_ring_info(const struct bcast_ring *r,
				 struct bcast_ring_info *info)
{
	const struct bcast_ring_hdr *h;
	uint32_t mlen;

	if (!r || !info)
		return -EINVAL;
	h = r->hdr;
	memset(info, 0, sizeof(*info));
	info->capacity = r->cap;
	info->mtu = r->mtu;
	info->committed = load_acquire(&h->committed);
	info->claimed = load_acquire(&h->claimed);
	info->writer_alive = owner_alive(r) ? 1 : 0;
	info->writer_pid = info->writer_alive ? owner_pid(r) : 0;
	info->writer_epoch = load_relaxed(&h->writer_epoch);
	info->hugepage = r->hugepage;
	info->backend = backend_name(r->backend);
	mlen = load_relaxed(&h->metadata_len);
	info->metadata = h->metadata;
	info->metadata_len = mlen > BCAST_METADATA_MAX ? BCAST_METADATA_MAX : mlen;
	info->map_size = BCAST_MAP_SIZE(r->cap);
	return 0;
}

BCAST_EXPORT const char *bcast_strerror(int err)
{
	if (err < 0)
		err = err == INT_MIN ? INT_MAX : -err;	/* no such code */
	switch (err) {
	case 0:
		return "success";
	case BCAST_EOVERRUN:
		return "reader overrun: the writer lapped this reader";
	case BCAST_ECORRUPT:
		return "ring corrupt: impossible value in shared memory";
	case BCAST_EWRITERGONE:
		return "writer gone: no writer and nothing left to read";
	default:
		return strerror(err);
	}
}
