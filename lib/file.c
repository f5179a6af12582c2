// SPDX-License-Identifier: MIT
/* file:PATH rings: a regular or hugetlbfs file anywhere. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define PREFIX "file:"

static bool file_takes(const char *name)
{
	return !strncmp(name, PREFIX, strlen(PREFIX));
}

static int file_locate(const char *name, struct bcast_ring_location *loc)
{
	const char *path = name + strlen(PREFIX);
	int err;

	if (!*path)
		return -EINVAL;
	err = copy_path(loc->path, sizeof(loc->path), path);
	return err ? err : copy_path(loc->name, sizeof(loc->name), name);
}

static int file_create(struct bcast_ring_location *loc,
		       const struct bcast_ring_opts *o, struct bcast_ring *r)
{
	return mapfile_create(loc->path, o, o->flags & BCAST_HUGEPAGE, r);
}

static int file_open(const struct bcast_ring_location *loc, int flags,
		     struct bcast_ring *r)
{
	return mapfile_open(loc->path, flags, r);
}

static int file_destroy(const struct bcast_ring_location *loc)
{
	return unlink(loc->path) ? -errno : 0;
}

const struct ring_backend file_backend = {
	.name = "file",
	.takes = file_takes,
	.locate = file_locate,
	.create = file_create,
	.open = file_open,
	.destroy = file_destroy,
	USER_SPACE_RING_OPS,
};
