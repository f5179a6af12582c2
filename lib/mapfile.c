// SPDX-License-Identifier: MIT
/*
 * Rings in a file of their own, for the shm and file backends: created
 * with O_EXCL, sized, mapped shared and populated; hugetlbfs files are
 * rounded up to whole huge pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "internal.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#define HUGE_PAGE_SIZE (2UL << 20)

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

/* Unmap only: the caller still has the file. */
static void unmap_ring(struct bcast_ring *r)
{
	munmap(r->hdr, r->map_len);
	r->map_len = 0;
}

int mapfile_create(const char *path, const struct bcast_ring_opts *o,
		   bool huge, struct bcast_ring *r)
{
	mode_t mode = o->mode ? o->mode & 07777 : 0600;
	unsigned slots = ring_opts_slots(o, BCAST_DEFAULT_READER_SLOTS);
	size_t len = BCAST_RING_SIZE(o->size, slots, BCAST_SLOT_SIZE);
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
	err = ring_format(r->hdr, len, o, huge ? BCAST_RING_HUGEPAGE : 0,
			  slots);
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

int mapfile_open(const char *path, int flags, struct bcast_ring *r)
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
	if (!err && !r->writable && r->wake_writable && r->slots &&
	    mprotect(r->slots, r->map_len - BCAST_MAP_SIZE(r->cap),
		     PROT_READ | PROT_WRITE))
		err = -errno;
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

/*
 * Cheap check before mapping anything: a regular file this user can read
 * whose first bytes are a ring header of this ABI.
 */
bool mapfile_holds_ring(const char *path)
{
	struct bcast_ring_hdr h;
	size_t want = offsetof(struct bcast_ring_hdr, line0_pad);
	struct stat st;
	bool ok = false;
	int fd;

	if (lstat(path, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < BCAST_MAP_SIZE(BCAST_MIN_CAPACITY))
		return false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, &h, want, 0) == (ssize_t)want)
		ok = h.magic == BCAST_RING_MAGIC &&
		     h.abi_version == BCAST_ABI_VERSION &&
		     h.capacity <= (uint64_t)st.st_size - BCAST_HDR_SIZE;
	close(fd);
	return ok;
}
