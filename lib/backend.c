// SPDX-License-Identifier: MIT
/* Named rings: POSIX shared memory, files (hugetlbfs included). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "internal.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#define SHM_DIR "/dev/shm/"
#define HUGE_PAGE_SIZE (2UL << 20)

struct ring_path {
	enum bcast_backend backend;
	char path[PATH_MAX];		/* the file that holds the ring */
	char huge_path[PATH_MAX];	/* shm: its place on hugetlbfs, or "" */
};

static bool valid_shm_name(const char *n)
{
	size_t len = strlen(n);

	return len && len <= NAME_MAX && !strchr(n, '/') && strcmp(n, ".") &&
	       strcmp(n, "..");
}

/* The first mounted hugetlbfs, for shm rings that ask for huge pages. */
static bool hugetlbfs_dir(char *dir, size_t len)
{
	struct mntent *m;
	bool found = false;
	FILE *f = setmntent("/proc/mounts", "re");

	if (!f)
		return false;
	while (!found && (m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "hugetlbfs") &&
		    !access(m->mnt_dir, W_OK)) {
			found = snprintf(dir, len, "%s", m->mnt_dir) < (int)len;
		}
	}
	endmntent(f);
	return found;
}

static int resolve(const char *name, struct ring_path *rp)
{
	char dir[PATH_MAX];

	memset(rp, 0, sizeof(*rp));
	if (!strncmp(name, "file:", 5)) {
		rp->backend = BACKEND_FILE;
		if (!name[5] || snprintf(rp->path, sizeof(rp->path), "%s",
					 name + 5) >= (int)sizeof(rp->path))
			return -EINVAL;
		return 0;
	}
	if (!strncmp(name, "/dev/", 5) ||
	    (strncmp(name, "shm:", 4) && device_loaded())) {
		rp->backend = BACKEND_DEVICE;
		snprintf(rp->path, sizeof(rp->path), "%s", name);
		return 0;
	}
	if (!strncmp(name, "shm:", 4))
		name += 4;
	if (!valid_shm_name(name))
		return -EINVAL;
	rp->backend = BACKEND_SHM;
	if (snprintf(rp->path, sizeof(rp->path), SHM_DIR "%s", name) >=
	    (int)sizeof(rp->path))
		return -EINVAL;
	if (hugetlbfs_dir(dir, sizeof(dir)) &&
	    snprintf(rp->huge_path, sizeof(rp->huge_path), "%s/bcast.%s", dir,
		     name) >= (int)sizeof(rp->huge_path))
		rp->huge_path[0] = '\0';
	return 0;
}

static bool on_hugetlbfs(int fd)
{
	struct statfs sfs;

	return !fstatfs(fd, &sfs) && sfs.f_type == HUGETLBFS_MAGIC;
}

static int map_ring(struct bcast_ring *r, int fd, size_t len, bool rdwr,
		    bool wake_writable)
{
	int prot = rdwr ? PROT_READ | PROT_WRITE : PROT_READ;
	void *mem = mmap(NULL, len, prot, MAP_SHARED | MAP_POPULATE, fd, 0);

	if (mem == MAP_FAILED)
		return -errno;
	r->map_len = len;
	r->hdr = mem;
	r->fd = fd;
	r->writable = rdwr;
	r->wake_writable = rdwr;
	/* A reader may still write the wake-up page, and nothing else. */
	if (!rdwr && wake_writable &&
	    !mprotect((char *)mem + BCAST_WAKE_OFFSET,
		      BCAST_HDR_SIZE - BCAST_WAKE_OFFSET,
		      PROT_READ | PROT_WRITE))
		r->wake_writable = true;
	return 0;
}

static void unmap_ring(struct bcast_ring *r)
{
	if (r->map_len)
		munmap(r->hdr, r->map_len);
	r->map_len = 0;
}

static int create_at(const char *path, const struct bcast_ring_opts *o,
		     bool huge, struct bcast_ring *r)
{
	mode_t mode = o->mode ? o->mode & 07777 : 0600;
	size_t len = BCAST_MAP_SIZE(o->size);
	int fd, err;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	huge = huge && on_hugetlbfs(fd);
	if (huge)
		len = (len + HUGE_PAGE_SIZE - 1) & ~(HUGE_PAGE_SIZE - 1);
	if (fchmod(fd, mode) || ftruncate(fd, (off_t)len)) {
		err = -errno;
		goto fail;
	}
	err = map_ring(r, fd, len, true, true);
	if (err)
		goto fail;
	err = ring_format(r->hdr, len, o, huge ? BCAST_RING_HUGEPAGE : 0);
	if (!err)
		err = ring_init(r, r->hdr, len);
	if (err) {
		unmap_ring(r);
		goto fail;
	}
	return 0;
fail:
	close(fd);
	r->fd = -1;
	unlink(path);
	return err;
}

static int check_opts(const struct bcast_ring_opts *o)
{
	if (!o->size || (o->size & (o->size - 1)) ||
	    o->size < BCAST_MIN_CAPACITY || o->size > BCAST_MAX_CAPACITY)
		return -EINVAL;
	if (o->metadata_len > BCAST_METADATA_MAX ||
	    (o->metadata_len && !o->metadata))
		return -EINVAL;
	if (o->flags & ~BCAST_HUGEPAGE)
		return -EINVAL;
	return 0;
}

int backend_create(const char *name, const struct bcast_ring_opts *o,
		   struct bcast_ring *r)
{
	struct ring_path rp;
	int err = check_opts(o);

	if (err)
		return err;
	err = resolve(name, &rp);
	if (err)
		return err;
	r->backend = rp.backend;
	if (rp.backend == BACKEND_DEVICE)
		return device_create(rp.path, o, r);
	if (rp.backend == BACKEND_SHM) {
		if (!access(rp.path, F_OK) ||
		    (rp.huge_path[0] && !access(rp.huge_path, F_OK)))
			return -EEXIST;
		/* Huge pages when a hugetlbfs is mounted and has room;
		 * normal pages otherwise (bcast_ring_info tells which). */
		if ((o->flags & BCAST_HUGEPAGE) && rp.huge_path[0] &&
		    !create_at(rp.huge_path, o, true, r))
			return 0;
	}
	return create_at(rp.path, o, o->flags & BCAST_HUGEPAGE, r);
}

static int open_at(const char *path, int flags, struct bcast_ring *r)
{
	bool rdwr = flags & BCAST_RDWR, wake_writable = true;
	struct stat st;
	int fd, err;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && !rdwr) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		wake_writable = false;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < BCAST_MAP_SIZE(BCAST_MIN_CAPACITY)) {
		err = -EINVAL;
		goto fail;
	}
	err = map_ring(r, fd, (size_t)st.st_size, rdwr,
		       wake_writable && !on_hugetlbfs(fd));
	if (err)
		goto fail;
	if (on_hugetlbfs(fd) && wake_writable && !rdwr) {
		/* Huge mappings cannot be split: map it writable whole. */
		unmap_ring(r);
		err = map_ring(r, fd, (size_t)st.st_size, true, true);
		r->writable = false;
		if (err)
			goto fail;
	}
	err = ring_init(r, r->hdr, r->map_len);
	if (err) {
		unmap_ring(r);
		goto fail;
	}
	r->hugepage = on_hugetlbfs(fd);
	return 0;
fail:
	close(fd);
	r->fd = -1;
	return err;
}

int backend_open(const char *name, int flags, struct bcast_ring *r)
{
	struct ring_path rp;
	int err = resolve(name, &rp);

	if (err)
		return err;
	r->backend = rp.backend;
	if (rp.backend == BACKEND_DEVICE) {
		char path[64];

		err = device_resolve(rp.path, path, sizeof(path));
		return err ? err : device_open(path, flags, r);
	}
	if (rp.backend == BACKEND_SHM && rp.huge_path[0] &&
	    access(rp.path, F_OK) && !access(rp.huge_path, F_OK))
		return open_at(rp.huge_path, flags, r);
	return open_at(rp.path, flags, r);
}

void backend_close(struct bcast_ring *r)
{
	unmap_ring(r);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

BCAST_EXPORT int bcast_ring_destroy(const char *name)
{
	struct ring_path rp;
	int err;

	if (!name)
		return -EINVAL;
	err = resolve(name, &rp);
	if (err)
		return err;
	if (rp.backend == BACKEND_DEVICE)
		return device_destroy(rp.path);
	if (!unlink(rp.path))
		return 0;
	err = -errno;
	if (rp.huge_path[0] && !unlink(rp.huge_path))
		return 0;
	return err;
}
