// SPDX-License-Identifier: MIT
/* Rings of bcast.ko: /dev/bcastN, created through /dev/bcast-ctl. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

#define CTL_PATH "/dev/bcast-ctl"
#define SYSFS_CLASS "/sys/class/bcast"

bool device_loaded(void)
{
	return !access(CTL_PATH, F_OK);
}

static int read_sysfs_name(const char *dev, char *name, size_t len)
{
	char path[300];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYSFS_CLASS "/%s/name", dev);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, name, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	return 0;
}

/* Map a ring name to its /dev/bcastN node through sysfs. */
static int device_path_of(const char *name, char *path, size_t len)
{
	char found[BCAST_NAME_MAX + 2];
	struct dirent *de;
	int err = -ENOENT;
	DIR *d = opendir(SYSFS_CLASS);

	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "bcast", 5) ||
		    read_sysfs_name(de->d_name, found, sizeof(found)) ||
		    strcmp(found, name))
			continue;
		err = snprintf(path, len, "/dev/%s", de->d_name) < (int)len ?
		      0 : -ENAMETOOLONG;
		break;
	}
	closedir(d);
	return err;
}

/* "/dev/bcastN" stays as it is; a bare name is looked up. */
int device_resolve(const char *name, char *path, size_t len)
{
	if (!strncmp(name, "/dev/", 5))
		return snprintf(path, len, "%s", name) < (int)len ? 0 :
		       -ENAMETOOLONG;
	if (!*name || strlen(name) >= BCAST_NAME_MAX)
		return -EINVAL;
	return device_path_of(name, path, len);
}

static int ctl_ioctl(unsigned long cmd, void *arg)
{
	int fd = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, arg))
		err = -errno;
	close(fd);
	return err;
}

/*
 * MAP_POPULATE cannot fill a VM_PFNMAP mapping, and huge-page entries are
 * only made at fault time: take every fault now, not on the first lap.
 */
static void prefault(const volatile unsigned char *mem, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += 4096)
		(void)mem[off];
}

static int map_device(struct bcast_ring *r, int fd, bool rdwr)
{
	struct bcast_dev_info di;
	void *mem;
	int err;

	if (ioctl(fd, BCAST_IOC_INFO, &di))
		return -errno;
	mem = mmap(NULL, di.map_size, rdwr ? PROT_READ | PROT_WRITE : PROT_READ,
		   MAP_SHARED | MAP_POPULATE, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	err = ring_init(r, mem, di.map_size);
	if (err) {
		munmap(mem, di.map_size);
		return err;
	}
	prefault(mem, di.map_size);
	r->map_len = di.map_size;
	r->fd = fd;
	r->writable = rdwr;
	r->wake_writable = false;	/* the kernel arms readers */
	r->backend = BACKEND_DEVICE;
	return 0;
}

int device_open(const char *path, int flags, struct bcast_ring *r)
{
	bool rdwr = flags & BCAST_RDWR;
	int fd, err;

	fd = open(path, (rdwr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = map_device(r, fd, rdwr);
	if (err) {
		close(fd);
		return err;
	}
	return 0;
}

int device_create(const char *name, const struct bcast_ring_opts *o,
		  struct bcast_ring *r)
{
	struct bcast_ctl_create req;
	char path[64];
	int err;

	if (!strncmp(name, "/dev/", 5))
		return -EINVAL;	/* the kernel picks N; create by name */
	if (!*name || strlen(name) >= BCAST_NAME_MAX)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	memcpy(req.name, name, strlen(name));
	req.size = o->size;
	req.flags = o->flags & BCAST_HUGEPAGE ? BCAST_RING_HUGEPAGE : 0;
	req.mode = o->mode ? o->mode & 0777 : 0600;
	req.uid = getuid();
	req.gid = getgid();
	err = ctl_ioctl(BCAST_CTL_CREATE, &req);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/dev/bcast%u", req.minor);
	err = device_open(path, BCAST_RDWR, r);
	if (err)
		goto destroy;
	/* The kernel formats with defaults; the creator adds the rest
	 * before anything is published. */
	if (o->mtu) {
		if (!bcast_mtu_valid(o->mtu, r->cap)) {
			err = -EINVAL;
			goto unmap;
		}
		r->hdr->mtu = (uint32_t)o->mtu;
		r->hdr->chunk_shift = bcast_chunk_shift(r->cap, o->mtu);
		r->mtu = (uint32_t)o->mtu;
		r->chunk_shift = r->hdr->chunk_shift;
	}
	if (o->metadata_len) {
		memcpy(r->hdr->metadata, o->metadata, o->metadata_len);
		store_release(&r->hdr->metadata_len, (uint32_t)o->metadata_len);
	}
	return 0;
unmap:
	backend_close(r);
destroy:
	{
		struct bcast_ctl_destroy d;

		memset(&d, 0, sizeof(d));
		memcpy(d.name, req.name, sizeof(d.name));
		ctl_ioctl(BCAST_CTL_DESTROY, &d);
	}
	return err;
}

int device_destroy(const char *name)
{
	struct bcast_ctl_destroy d;
	struct bcast_dev_info di;
	int fd;

	memset(&d, 0, sizeof(d));
	if (!strncmp(name, "/dev/", 5)) {
		fd = open(name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ioctl(fd, BCAST_IOC_INFO, &di)) {
			close(fd);
			return -errno;
		}
		close(fd);
		memcpy(d.name, di.name, sizeof(d.name));
		d.name[sizeof(d.name) - 1] = '\0';
	} else {
		if (!*name || strlen(name) >= BCAST_NAME_MAX)
			return -EINVAL;
		memcpy(d.name, name, strlen(name));
	}
	return ctl_ioctl(BCAST_CTL_DESTROY, &d);
}

/*
 * A reader gets a file of its own (the kernel keeps its armed position),
 * made by the kernel from the ring file we map: never from a path, which
 * may name another ring by now.
 */
int device_reader_fd(const struct bcast_ring *r)
{
	int fd = ioctl(r->fd, BCAST_IOC_OPEN_READER);

	return fd < 0 ? -errno : fd;
}

void device_notify(struct bcast_ring *r)
{
	ioctl(r->fd, BCAST_IOC_NOTIFY);
}

/*
 * Ask to be woken when committed moves past `pos`, and about the writer:
 * its departure, or with BCAST_ARM_WRITER_GONE (writer `epoch` is known to
 * be gone) the next one's arrival.  1 if committed already moved.
 */
int device_arm(int fd, uint64_t pos, uint64_t epoch, unsigned flags)
{
	struct bcast_arm arm = { .pos = pos, .epoch = epoch, .flags = flags };
	int rc = ioctl(fd, BCAST_IOC_ARM, &arm);

	return rc < 0 ? -errno : rc;
}

static int device_poll_events(unsigned events)
{
	if ((events & POLLHUP) && !(events & (POLLIN | POLLPRI)))
		return DEVICE_POLL_HANGUP;
	return DEVICE_POLL_WOKEN;
}

/* A module older than BCAST_IOC_WAIT: poll() the one file instead. */
static int device_poll_file(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI };
	int rc = poll(&p, 1, ms);

	if (rc < 0)
		return -errno;
	if (!rc)
		return DEVICE_POLL_TIMEOUT;
	return device_poll_events((unsigned)p.revents);
}

/*
 * Sleep on an armed reader file for at most `ms` (forever if negative):
 * DEVICE_POLL_*, or -EINTR on a signal.  BCAST_IOC_WAIT is that poll()
 * with less to undo on waking.
 */
int device_poll(int fd, int ms)
{
	static int no_wait_ioctl;
	struct bcast_wait_arg arg = {
		.timeout_ns = ms < 0 ? -1 : (int64_t)ms * 1000000,
	};
	int rc;

	if (__atomic_load_n(&no_wait_ioctl, __ATOMIC_RELAXED))
		return device_poll_file(fd, ms);
	rc = ioctl(fd, BCAST_IOC_WAIT, &arg);
	if (rc < 0 && errno == ENOTTY) {
		__atomic_store_n(&no_wait_ioctl, 1, __ATOMIC_RELAXED);
		return device_poll_file(fd, ms);
	}
	if (rc < 0)
		return -errno;
	if (!rc)
		return DEVICE_POLL_TIMEOUT;
	return device_poll_events((unsigned)rc);
}
