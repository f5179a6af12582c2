// SPDX-License-Identifier: MIT
/*
 * An opened ring (a view) and what it looks like now (a snapshot): from
 * its header through the library and, for bcast.ko rings, from sysfs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcastctl.h"

/*
 * Open NAME read-only.  A device node this user may not open is still
 * described from sysfs (world-readable), without the header's fields.
 */
void view_open(struct view *v, const char *arg, bool want_device)
{
	struct bcast_ring_info in;
	int err;

	memset(v, 0, sizeof(*v));
	resolve(arg, want_device, EXIT_NORING, &v->t);
	if (v->t.kind == K_DEVICE && !v->t.loc.sysfs[0] &&
	    strncmp(arg, "/dev/", 5))
		no_ring(&v->t);
	v->path = v->t.loc.path;
	v->sysfs = v->t.loc.sysfs;
	err = bcast_ring_open(v->t.loc.name, BCAST_RDONLY, &v->r);
	if (err) {
		v->r = NULL;
		if (v->t.kind == K_DEVICE && v->t.loc.sysfs[0] &&
		    (err == -EACCES || err == -EPERM)) {
			v->open_err = err;
			return;
		}
		open_failed(&v->t, err);
	}
	/* What was opened, which the name may no longer lead to. */
	if (!bcast_ring_info(v->r, &in)) {
		v->path = in.path;
		v->sysfs = in.sysfs ? in.sysfs : "";
	}
	if (v->t.kind != K_DEVICE && file_id_of(v->path, &v->file))
		v->file.path[0] = '\0';
}

void view_close(struct view *v)
{
	bcast_ring_close(v->r);
	v->r = NULL;
}

static void snap_header(const struct view *v, struct snap *s)
{
	struct bcast_ring_info in;
	int tries, err = -EAGAIN;

	if (bcast_ring_info(v->r, &in))
		return;
	s->have_hdr = true;
	s->backend = in.backend;
	s->capacity = in.capacity;
	s->mtu = in.mtu;
	s->map_size = in.map_size;
	s->committed = in.committed;
	s->claimed = in.claimed;
	s->epoch = in.writer_epoch;
	s->hugepage = in.hugepage;
	s->writer_alive = in.writer_alive;
	s->writer_pid = in.writer_alive ? (long)in.writer_pid : 0;
	s->meta_len = in.metadata_len;
	memcpy(s->meta, in.metadata, in.metadata_len);
	/* -EAGAIN: the writer is stepping its frontier right now. */
	for (tries = 0; tries < 100; tries++) {
		err = bcast_ring_count(v->r, &s->messages, &s->payload);
		if (err != -EAGAIN)
			break;
	}
	s->have_count = !err;
}

/* Device rings: what the module says; -ENOENT once the ring is gone. */
static int snap_sysfs(const struct view *v, struct snap *s)
{
	const char *dir = v->sysfs;
	uint64_t val;
	char name[BCAST_NAME_MAX + 2];

	if (sysfs_read(dir, "name", name, sizeof(name)))
		return -ENOENT;
	if (strncmp(v->t.arg, "/dev/", 5) && strcmp(name, v->t.arg))
		return -ENOENT;		/* the minor now holds another ring */
	if (!sysfs_u64(dir, "hugepage", &val))
		s->hugepage = val;
	if (!sysfs_u64(dir, "pmd_mappings", &val))
		s->pmd_mappings = (long)val;
	if (!sysfs_u64(dir, "readers", &val))	/* less our own file */
		s->readers = (long)val - (v->r ? 1 : 0);
	if (v->r)
		return 0;
	s->backend = "device";
	if (!sysfs_u64(dir, "size", &val))
		s->capacity = val;
	if (!sysfs_u64(dir, "committed", &val))
		s->committed = val;
	if (!sysfs_u64(dir, "claimed", &val))
		s->claimed = val;
	if (!sysfs_u64(dir, "writer_pid", &val)) {
		s->writer_pid = (long)val;
		s->writer_alive = val != 0;
	}
	return 0;
}

int snapshot(const struct view *v, struct snap *s)
{
	struct bcast_ring_location where;
	struct file_id now;

	memset(s, 0, sizeof(*s));
	s->readers = -1;
	s->pmd_mappings = -1;
	s->time = (double)cli_now_ns() / 1e9;
	if (v->r) {
		snap_header(v, s);
		snap_registry(v, s);
	}
	if (v->t.kind == K_DEVICE)
		return v->sysfs[0] ? snap_sysfs(v, s) : 0;
	/* The name now leads to another file, or none: removed. */
	if (!v->file.path[0] || bcast_ring_locate(v->t.loc.name, &where) ||
	    file_id_of(where.path, &now) || now.dev != v->file.dev ||
	    now.ino != v->file.ino)
		return -ENOENT;
	s->readers = count_mappers(&v->file, (pid_t)s->writer_pid, &s->hidden);
	return 0;
}
