// SPDX-License-Identifier: MIT
/*
 * Rings by name: creating, opening, removing, finding and describing them,
 * through the backend the name leads to (backends.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* Where `name` leads, and the backend that takes it there. */
static int locate(const char *name, struct bcast_ring_location *loc,
		  const struct ring_backend **ops)
{
	if (!name || !loc)
		return -EINVAL;
	memset(loc, 0, sizeof(*loc));
	*ops = backend_of(name);
	loc->backend = (*ops)->name;
	return (*ops)->locate(name, loc);
}

/* Remember where an opened ring is, for bcast_ring_info(). */
static int keep_location(struct bcast_ring *r,
			 const struct bcast_ring_location *loc)
{
	r->path = strdup(loc->path);
	if (loc->sysfs[0])
		r->sysfs = strdup(loc->sysfs);
	return !r->path || (loc->sysfs[0] && !r->sysfs) ? -ENOMEM : 0;
}

BCAST_EXPORT int bcast_ring_locate(const char *name,
				   struct bcast_ring_location *loc)
{
	const struct ring_backend *ops;

	return locate(name, loc, &ops);
}

BCAST_EXPORT int bcast_ring_list(bcast_ring_list_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	return backends_list(fn, arg);
}

static int check_opts(const struct bcast_ring_opts *o)
{
	if (!bcast_capacity_valid(o->size))
		return -EINVAL;
	if (o->metadata_len > BCAST_METADATA_MAX ||
	    (o->metadata_len && !o->metadata))
		return -EINVAL;
	return ring_opts_check(o);
}

/* Create (o) or open (o NULL) the ring `name` leads to. */
static int ring_get(const char *name, const struct bcast_ring_opts *o,
		    int flags, struct bcast_ring **out)
{
	struct bcast_ring_location *loc = malloc(sizeof(*loc));
	const struct ring_backend *ops;
	struct bcast_ring *r = NULL;
	int err = loc ? locate(name, loc, &ops) : -ENOMEM;

	if (!err)
		err = ring_alloc(ops, &r);
	if (!err)
		err = o ? ops->create(loc, o, r) : ops->open(loc, flags, r);
	if (!err) {
		err = keep_location(r, loc);
		if (err)
			ring_unmap(r);
	}
	if (err && r)
		ring_free(r);
	if (!err)
		*out = r;
	free(loc);
	return err;
}

BCAST_EXPORT int bcast_ring_create(const char *name,
				   const struct bcast_ring_opts *o,
				   struct bcast_ring **out)
{
	int err;

	if (!name || !o || !out)
		return -EINVAL;
	err = check_opts(o);
	return err ? err : ring_get(name, o, BCAST_RDWR, out);
}

BCAST_EXPORT int bcast_ring_open(const char *name, int flags,
				 struct bcast_ring **out)
{
	if (!name || !out || (flags & ~BCAST_RDWR))
		return -EINVAL;
	return ring_get(name, NULL, flags, out);
}

BCAST_EXPORT int bcast_ring_destroy(const char *name)
{
	struct bcast_ring_location *loc;
	const struct ring_backend *ops;
	int err;

	if (!name)
		return -EINVAL;
	loc = malloc(sizeof(*loc));
	err = loc ? locate(name, loc, &ops) : -ENOMEM;
	if (!err)
		err = ops->destroy(loc);
	free(loc);
	return err;
}

BCAST_EXPORT void bcast_ring_close(struct bcast_ring *r)
{
	if (!r)
		return;
	ring_unmap(r);
	ring_free(r);
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
	info->writer_alive = r->ops->writer_alive(r) ? 1 : 0;
	info->writer_pid = info->writer_alive ? r->ops->writer_pid(r) : 0;
	info->writer_epoch = load_relaxed(&h->writer_epoch);
	info->hugepage = r->hugepage;
	info->backend = r->ops->name;
	info->path = r->path;
	info->sysfs = r->sysfs;
	mlen = load_relaxed(&h->metadata_len);
	info->metadata = h->metadata;
	info->metadata_len = mlen > BCAST_METADATA_MAX ? BCAST_METADATA_MAX : mlen;
	info->map_size = BCAST_RING_SIZE(r->cap, r->nslots, r->slot_size);
	info->reader_slots = r->nslots;
	info->gated = r->gated;
	info->evict_bytes = r->evict_bytes;
	info->evict_ms = r->evict_ms;
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
