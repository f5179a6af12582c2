// SPDX-License-Identifier: MIT
/*
 * shm:NAME rings: /dev/shm/NAME, or with huge pages bcast.NAME on the
 * first hugetlbfs mount this user may write (where POSIX shared memory
 * cannot have them).  Takes every name no other backend takes.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define PREFIX "shm:"
#define SHM_DIR "/dev/shm"
#define HUGE_PREFIX "bcast."

static bool valid_shm_name(const char *n)
{
	size_t len = strlen(n);

	return len && len <= NAME_MAX && !strchr(n, '/') && strcmp(n, ".") &&
	       strcmp(n, "..");
}

/* The first mounted hugetlbfs we may write, for rings that ask for huge
 * pages. */
static bool hugetlbfs_dir(char *dir, size_t len)
{
	struct mntent *m;
	bool found = false;
	FILE *f = setmntent("/proc/mounts", "re");

	if (!f)
		return false;
	while (!found && (m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "hugetlbfs") &&
		    !access(m->mnt_dir, W_OK))
			found = !copy_path(dir, len, m->mnt_dir);
	}
	endmntent(f);
	return found;
}

/* The place a ring of this name is in now: the hugetlbfs one only if it
 * alone exists. */
static void prefer_existing(struct bcast_ring_location *loc)
{
	char tmp[sizeof(loc->path)];

	if (!loc->alt_path[0] || !access(loc->path, F_OK) ||
	    access(loc->alt_path, F_OK))
		return;
	memcpy(tmp, loc->path, sizeof(tmp));
	memcpy(loc->path, loc->alt_path, sizeof(tmp));
	memcpy(loc->alt_path, tmp, sizeof(tmp));
}

static int shm_locate(const char *name, struct bcast_ring_location *loc)
{
	char dir[PATH_MAX];

	if (!strncmp(name, PREFIX, strlen(PREFIX)))
		name += strlen(PREFIX);
	if (!valid_shm_name(name))
		return -EINVAL;
	snprintf(loc->name, sizeof(loc->name), PREFIX "%s", name);
	snprintf(loc->path, sizeof(loc->path), SHM_DIR "/%s", name);
	if (hugetlbfs_dir(dir, sizeof(dir)) &&
	    snprintf(loc->alt_path, sizeof(loc->alt_path), "%s/" HUGE_PREFIX "%s",
		     dir, name) >= (int)sizeof(loc->alt_path))
		loc->alt_path[0] = '\0';
	prefer_existing(loc);
	return 0;
}

static int shm_create(struct bcast_ring_location *loc,
		      const struct bcast_ring_opts *o, struct bcast_ring *r)
{
	bool huge = o->flags & BCAST_HUGEPAGE;

	if (!access(loc->path, F_OK) ||
	    (loc->alt_path[0] && !access(loc->alt_path, F_OK)))
		return -EEXIST;
	/* Huge pages when a hugetlbfs is mounted and has room; normal pages
	 * otherwise (bcast_ring_info tells which).  Neither file exists, so
	 * loc->path is the /dev/shm one. */
	if (huge && loc->alt_path[0] &&
	    !mapfile_create(loc->alt_path, o, true, r)) {
		prefer_existing(loc);
		return 0;
	}
	return mapfile_create(loc->path, o, huge, r);
}

static int shm_open(const struct bcast_ring_location *loc, int flags,
		    struct bcast_ring *r)
{
	return mapfile_open(loc->path, flags, r);
}

static int shm_destroy(const struct bcast_ring_location *loc)
{
	int err;

	if (!unlink(loc->path))
		return 0;
	err = -errno;
	if (loc->alt_path[0] && !unlink(loc->alt_path))
		return 0;
	return err;
}

/* Report the ring in `path`, reached as `name`, if the file holds one. */
static int list_one(bcast_ring_list_fn fn, void *arg, const char *backend,
		    const char *name, const char *path)
{
	struct bcast_ring_location loc;

	if (!mapfile_holds_ring(path))
		return 0;
	memset(&loc, 0, sizeof(loc));
	loc.backend = backend;
	if (copy_path(loc.name, sizeof(loc.name), name) ||
	    copy_path(loc.path, sizeof(loc.path), path))
		return 0;
	return fn(&loc, arg);
}

static int list_shm_dir(bcast_ring_list_fn fn, void *arg)
{
	char path[PATH_MAX], name[PATH_MAX + 8];
	struct dirent *de;
	DIR *d = opendir(SHM_DIR);
	int rc = 0;

	if (!d)
		return 0;
	while (!rc && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SHM_DIR "/%s", de->d_name);
		snprintf(name, sizeof(name), PREFIX "%s", de->d_name);
		rc = list_one(fn, arg, shm_backend.name, name, path);
	}
	closedir(d);
	return rc;
}

/*
 * bcast.NAME files on one hugetlbfs mount.  On the mount shm:NAME uses they
 * are shm rings (unless /dev/shm/NAME shadows them); elsewhere they can
 * only be reached as file:PATH.
 */
static int list_huge_dir(bcast_ring_list_fn fn, void *arg, const char *dir,
			 bool ours)
{
	char path[PATH_MAX], name[PATH_MAX + 8], shadow[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d)
		return 0;
	while (!rc && (de = readdir(d))) {
		const char *ring = de->d_name + strlen(HUGE_PREFIX);
		bool shm;

		if (strncmp(de->d_name, HUGE_PREFIX, strlen(HUGE_PREFIX)) || !*ring)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(shadow, sizeof(shadow), SHM_DIR "/%s", ring);
		shm = ours && access(shadow, F_OK);
		if (shm)
			snprintf(name, sizeof(name), PREFIX "%s", ring);
		else
			snprintf(name, sizeof(name), "file:%s", path);
		rc = list_one(fn, arg, shm ? shm_backend.name : file_backend.name,
			      name, path);
	}
	closedir(d);
	return rc;
}

static int shm_list(bcast_ring_list_fn fn, void *arg)
{
	char ours[PATH_MAX] = "";
	FILE *f;
	struct mntent *m;
	int rc = list_shm_dir(fn, arg);

	if (rc)
		return rc;
	f = setmntent("/proc/mounts", "re");
	if (!f)
		return 0;
	hugetlbfs_dir(ours, sizeof(ours));
	while (!rc && (m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "hugetlbfs"))
			rc = list_huge_dir(fn, arg, m->mnt_dir,
					   !strcmp(m->mnt_dir, ours));
	}
	endmntent(f);
	return rc;
}

const struct ring_backend shm_backend = {
	.name = "shm",
	.locate = shm_locate,
	.create = shm_create,
	.open = shm_open,
	.destroy = shm_destroy,
	.list = shm_list,
	USER_SPACE_RING_OPS,
};
