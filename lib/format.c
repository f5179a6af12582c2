// SPDX-License-Identifier: MIT
/*
 * The ring header: formatting, validating, and the copy of its geometry a
 * process keeps.  Every backend stands on this; it calls nothing above it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

_Static_assert(sizeof(struct bcast_ring_hdr) == BCAST_HDR_SIZE, "header size");
_Static_assert(offsetof(struct bcast_ring_hdr, committed) == 1 * BCAST_LINE, "line 1");
_Static_assert(offsetof(struct bcast_ring_hdr, claimed) == 2 * BCAST_LINE, "line 2");
_Static_assert(offsetof(struct bcast_ring_hdr, writer_alive) == 3 * BCAST_LINE, "line 3");
_Static_assert(offsetof(struct bcast_ring_hdr, sync) == 4 * BCAST_LINE, "sync");
_Static_assert(sizeof(struct bcast_sync_point) == 32, "sync point");
_Static_assert(offsetof(struct bcast_ring_hdr, need_wakeup) == BCAST_WAKE_OFFSET, "wake page");
_Static_assert(offsetof(struct bcast_ring_hdr, writer_lock) == BCAST_LOCK_OFFSET, "lock word");
_Static_assert(offsetof(struct bcast_ring_hdr, gate_need_wakeup) == BCAST_WAKE_OFFSET + BCAST_LINE, "gate line");
_Static_assert(sizeof(struct bcast_reader_slot) == BCAST_SLOT_SIZE, "slot size");

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
	if (h->hdr_size != BCAST_HDR_SIZE || !bcast_capacity_valid(cap) ||
	    cap > len - BCAST_HDR_SIZE)
		return -BCAST_ECORRUPT;
	if (!bcast_mtu_valid(h->mtu, cap) || h->metadata_len > BCAST_METADATA_MAX)
		return -BCAST_ECORRUPT;
	if (!bcast_chunk_shift_valid(h->chunk_shift, cap))
		return -BCAST_ECORRUPT;
	if (h->reader_slots > BCAST_MAX_READER_SLOTS ||
	    (h->reader_slots && h->slot_size != BCAST_SLOT_SIZE &&
	     !(h->slot_size == BCAST_DEVICE_SLOT_SIZE &&
	       (h->flags & BCAST_RING_DEVICE))) ||
	    BCAST_RING_SIZE(cap, h->reader_slots, h->slot_size) > len ||
	    ((h->flags & BCAST_RING_GATED) && !h->reader_slots))
		return -BCAST_ECORRUPT;
	return 0;
}

/* Registry slots a ring created with `o` gets: the option's, else
 * `fallback`. */
unsigned ring_opts_slots(const struct bcast_ring_opts *o, unsigned fallback)
{
	return o && (o->flags & BCAST_READER_SLOTS) ? o->reader_slots : fallback;
}

/* Options that make no ring: -EINVAL. */
int ring_opts_check(const struct bcast_ring_opts *o)
{
	if (o->flags & ~(BCAST_HUGEPAGE | BCAST_GATED | BCAST_READER_SLOTS |
			 BCAST_EVICT))
		return -EINVAL;
	if ((o->flags & BCAST_READER_SLOTS) &&
	    o->reader_slots > BCAST_MAX_READER_SLOTS)
		return -EINVAL;
	/* A gated ring waits for registered readers: it needs slots. */
	if ((o->flags & BCAST_GATED) && !ring_opts_slots(o, 1))
		return -EINVAL;
	if ((o->flags & BCAST_EVICT) &&
	    (!(o->flags & BCAST_GATED) || o->evict_ms > INT32_MAX))
		return -EINVAL;
	return 0;
}

int ring_format(void *mem, size_t len, const struct bcast_ring_opts *o,
		unsigned ring_flags, unsigned slots)
{
	struct bcast_ring_hdr *h = mem;
	uint64_t cap, mtu, registry = (uint64_t)slots * BCAST_SLOT_SIZE;
	unsigned i;

	if (!mem || len < BCAST_MAP_SIZE(BCAST_MIN_CAPACITY))
		return -EINVAL;
	/* Unknown flags may be options this library does not have. */
	if (o && ring_opts_check(o))
		return -EINVAL;
	/* Gated without slots: memory rings have none unless asked for. */
	if (o && (o->flags & BCAST_GATED) && !slots)
		return -EINVAL;
	if (len < BCAST_MAP_SIZE(BCAST_MIN_CAPACITY) + registry)
		return -EINVAL;
	if (o && o->size) {
		cap = o->size;
		if (!bcast_capacity_valid(cap) ||
		    cap > len - BCAST_HDR_SIZE - registry)
			return -EINVAL;
	} else {
		cap = 1ULL << bcast_log2(len - BCAST_HDR_SIZE - registry);
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
	h->chunk_shift = o && (o->flags & BCAST_GATED) ?
			 bcast_gated_chunk_shift(cap, mtu) :
			 bcast_chunk_shift(cap, mtu);
	h->reader_slots = slots;
	h->slot_size = slots ? BCAST_SLOT_SIZE : 0;
	if (o && (o->flags & BCAST_GATED))
		h->flags |= BCAST_RING_GATED;
	if (o && (o->flags & BCAST_EVICT)) {
		h->evict_bytes = o->evict_bytes;
		h->evict_ms = o->evict_ms;
	}
	memset((unsigned char *)mem + BCAST_MAP_SIZE(cap), 0, registry);
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
	r->nslots = h->reader_slots;
	r->slot_size = h->slot_size;
	r->slots = r->nslots ? r->data + r->cap : NULL;
	r->gated = h->flags & BCAST_RING_GATED;
	r->evict_bytes = h->evict_bytes;
	r->evict_ms = h->evict_ms;
	return 0;
}

/* A ring object of `ops`, mapping nothing yet. */
int ring_alloc(const struct ring_backend *ops, struct bcast_ring **out)
{
	struct bcast_ring *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->ops = ops;
	*out = r;
	return 0;
}

void ring_free(struct bcast_ring *r)
{
	free(r->path);
	free(r->sysfs);
	free(r);
}

/* Undo what a backend mapped and opened (memory rings have neither). */
void ring_unmap(struct bcast_ring *r)
{
	if (r->map_len)
		munmap(r->hdr, r->map_len);
	r->map_len = 0;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}
