/* SPDX-License-Identifier: MIT */
/* Helpers for the device tests: rings made through /dev/bcast-ctl. */
#ifndef BCAST_DEVICE_TEST_COMMON_H
#define BCAST_DEVICE_TEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/bcast.h>
#include "clock.h"
#include "env.h"

/* One request to /dev/bcast-ctl: 0 or -errno. */
static inline int ctl_request(unsigned long cmd, void *req)
{
	int fd = open("/dev/bcast-ctl", O_RDWR | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = ioctl(fd, cmd, req) ? -errno : 0;
	close(fd);
	return rc;
}

/* Ring `name` with its node's mode and owner (uid and gid 0: the
 * creator's). */
static inline int ctl_create_as(const char *name, unsigned long long size,
				unsigned flags, unsigned mode, unsigned uid,
				unsigned gid, unsigned *minor)
{
	struct bcast_ctl_create req;
	int rc;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	req.size = size;
	req.flags = flags;
	req.mode = mode;
	req.uid = uid;
	req.gid = gid;
	rc = ctl_request(BCAST_CTL_CREATE, &req);
	if (!rc && minor)
		*minor = req.minor;
	return rc;
}

/* Ring `name`, its node open to everyone. */
static inline int ctl_create(const char *name, unsigned long long size,
			     unsigned flags, unsigned *minor)
{
	return ctl_create_as(name, size, flags, 0666, 0, 0, minor);
}

static inline int ctl_destroy(const char *name)
{
	struct bcast_ctl_destroy req;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	return ctl_request(BCAST_CTL_DESTROY, &req);
}

static inline int open_ring(unsigned minor, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/bcast%u", minor);
	return open(path, flags | O_CLOEXEC);
}

/* The number a sysfs-like file starts with (-1 if unreadable). */
static inline long long file_num(const char *path)
{
	char buf[64];
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Read /sys/class/bcast/bcastN/ATTR as a number (-1 if unreadable). */
static inline long long sysfs_num(unsigned minor, const char *attr)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/bcast/bcast%u/%s", minor, attr);
	return file_num(path);
}

static inline int sysfs_str(unsigned minor, const char *attr, char *out,
			    size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/bcast/bcast%u/%s", minor, attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
	return 0;
}

static inline struct bcast_ring_hdr *map_ring(int fd, int prot, size_t *len)
{
	struct bcast_dev_info di;
	void *p;

	if (ioctl(fd, BCAST_IOC_INFO, &di))
		return NULL;
	p = mmap(NULL, di.map_size, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = di.map_size;
	return p;
}

/* A figure of /proc/meminfo in kB ("MemFree", "SUnreclaim"...), -1 if
 * there is none. */
static inline long meminfo_kb(const char *key)
{
	char line[128], fmt[64];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	snprintf(fmt, sizeof(fmt), "%s: %%ld kB", key);
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* Drop the page cache, so that free memory shows what was given back:
 * 0, or -1 if it cannot be dropped. */
static inline int drop_caches(void)
{
	int fd, rc = 0;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, "3\n", 2) != 2)
		rc = -1;
	close(fd);
	return rc;
}

/*
 * Free memory once the caches are dropped: MemFree plus the pages on the
 * per-CPU free lists (which MemFree leaves out, and which a freed 2 MiB
 * ring page may go to); -1 if it cannot be known.
 */
static inline long free_memory_kb(void)
{
	char line[128];
	long pages = 0, n, kb;
	FILE *f;

	if (drop_caches())
		return -1;
	kb = meminfo_kb("MemFree");
	if (kb < 0)
		return -1;
	f = fopen("/proc/zoneinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			pages += n;
	if (f)
		fclose(f);
	return kb + pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static inline long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* BCAST_IOC_ARM: 1 if committed != pos already, 0 if armed, -errno. */
static inline int arm_reader(int fd, unsigned long long pos,
			     unsigned long long epoch, unsigned flags)
{
	struct bcast_arm arm = { .pos = pos, .epoch = epoch, .flags = flags };
	int rc = ioctl(fd, BCAST_IOC_ARM, &arm);

	return rc < 0 ? -errno : rc;
}

/*
 * Does bcast.ko map 2 MiB pages with PMD entries on this kernel?  Only
 * where PFNMAP PMDs are special to get_user_pages (6.12's
 * CONFIG_ARCH_SUPPORTS_PMD_PFNMAP; kmod/mmap.c), i.e. from 6.12 here.
 */
static inline int kernel_maps_pmds(void)
{
	return kernel_at_least(6, 12);
}

/* A module parameter, as a number (-1 if unreadable). */
static inline long long param_num(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/bcast/parameters/%s", name);
	return file_num(path);
}

/* Write a module parameter: 0 or -errno. */
static inline int param_set(const char *name, long long v)
{
	char path[128], buf[32];
	int fd, n, rc = 0;

	snprintf(path, sizeof(path), "/sys/module/bcast/parameters/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%lld\n", v);
	if (write(fd, buf, n) != n)
		rc = -errno;
	close(fd);
	return rc;
}

#endif
