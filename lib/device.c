// SPDX-License-Identifier: MIT
/*
 * Rings of bcast.ko: /dev/bcastN, created through /dev/bcast-ctl.  The
 * kernel keeps the writer role (one O_RDWR file) and its pid, epoch and
 * alive flag, and wakes readers: each reader has a file of its own that
 * it arms (BCAST_IOC_ARM) and sleeps on (BCAST_IOC_WAIT, or poll()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "internal.h"
#include "uring.h"

#define CTL_PATH "/dev/bcast-ctl"
#define SYSFS_CLASS "/sys/class/bcast"
#define NODE_PREFIX "/dev/"

static bool device_loaded(void)
{
	return !access(CTL_PATH, F_OK);
}

/* A bare name is a device ring's while the module is loaded. */
static bool device_takes(const char *name)
{
	return !strncmp(name, NODE_PREFIX, strlen(NODE_PREFIX)) ||
	       (strncmp(name, "shm:", 4) && device_loaded());
}

static int read_sysfs(const char *dev, const char *attr, char *buf,
		      size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYSFS_CLASS "/%s/%s", dev, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Does the sysfs entry `dev` stand for the ring `name`, or the node of
 * device number `rdev` (so that links to /dev/bcastN work too)? */
static bool sysfs_matches(const char *dev, const char *name, dev_t rdev)
{
	char buf[BCAST_NAME_MAX + 2];
	unsigned int ma, mi;

	if (name)
		return !read_sysfs(dev, "name", buf, sizeof(buf)) &&
		       !strcmp(buf, name);
	return !read_sysfs(dev, "dev", buf, sizeof(buf)) &&
	       sscanf(buf, "%u:%u", &ma, &mi) == 2 && makedev(ma, mi) == rdev;
}

static void location_of(const char *dev, struct bcast_ring_location *loc)
{
	snprintf(loc->path, sizeof(loc->path), NODE_PREFIX "%s", dev);
	snprintf(loc->sysfs, sizeof(loc->sysfs), SYSFS_CLASS "/%s", dev);
}

/* Find the ring by name (or node number) in sysfs; "" when none. */
static void find_in_sysfs(const char *name, dev_t rdev,
			  struct bcast_ring_location *loc)
{
	struct dirent *de;
	DIR *d = opendir(SYSFS_CLASS);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, "bcast", 5) &&
		    sysfs_matches(de->d_name, name, rdev)) {
			location_of(de->d_name, loc);
			break;
		}
	}
	closedir(d);
}

/* "/dev/bcastN" stays as it is; a bare name is looked up. */
static int device_locate(const char *name, struct bcast_ring_location *loc)
{
	struct stat st;
	int err;

	if (!strncmp(name, NODE_PREFIX, strlen(NODE_PREFIX))) {
		if (!stat(name, &st) && S_ISCHR(st.st_mode))
			find_in_sysfs(NULL, st.st_rdev, loc);
		/* The node stays what it was called (a link, say). */
		err = copy_path(loc->path, sizeof(loc->path), name);
		return err ? err : copy_path(loc->name, sizeof(loc->name), name);
	}
	if (!bcast_ring_name_valid(name))
		return -EINVAL;
	copy_path(loc->name, sizeof(loc->name), name);
	find_in_sysfs(name, 0, loc);
	return 0;
}

static int device_list(bcast_ring_list_fn fn, void *arg)
{
	struct bcast_ring_location loc;
	struct dirent *de;
	DIR *d = opendir(SYSFS_CLASS);
	int rc = 0;

	if (!d)
		return 0;
	while (!rc && (de = readdir(d))) {
		if (strncmp(de->d_name, "bcast", 5))
			continue;
		memset(&loc, 0, sizeof(loc));
		loc.backend = device_backend.name;
		if (read_sysfs(de->d_name, "name", loc.name, BCAST_NAME_MAX + 2))
			continue;	/* removed meanwhile */
		location_of(de->d_name, &loc);
		rc = fn(&loc, arg);
	}
	closedir(d);
	return rc;
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
	return 0;
}

static int open_node(const char *path, int flags, struct bcast_ring *r)
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

static int device_open(const struct bcast_ring_location *loc, int flags,
		       struct bcast_ring *r)
{
	if (!loc->path[0])
		return -ENOENT;
	return open_node(loc->path, flags, r);
}

static int device_create(struct bcast_ring_location *loc,
			 const struct bcast_ring_opts *o, struct bcast_ring *r)
{
	const char *name = loc->name;
	struct bcast_ctl_create req;
	char dev[32];
	int err;

	if (!strncmp(name, NODE_PREFIX, strlen(NODE_PREFIX)))
		return -EINVAL;	/* the kernel picks N; create by name */
	memset(&req, 0, sizeof(req));
	memcpy(req.name, name, strlen(name));
	req.size = o->size;
	req.flags = (o->flags & BCAST_HUGEPAGE ? BCAST_RING_HUGEPAGE : 0) |
		    (o->flags & BCAST_GATED ? BCAST_RING_GATED : 0);
	req.reader_slots = ring_opts_slots(o, BCAST_DEFAULT_DEVICE_SLOTS);
	req.mode = o->mode ? o->mode & 0777 : 0600;
	req.uid = getuid();
	req.gid = BCAST_CTL_GID_DEFAULT;
	err = ctl_ioctl(BCAST_CTL_CREATE, &req);
	if (err)
		return err;
	snprintf(dev, sizeof(dev), "bcast%u", req.minor);
	location_of(dev, loc);
	err = open_node(loc->path, BCAST_RDWR, r);
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
	if (o->flags & BCAST_GATED) {
		r->hdr->chunk_shift = bcast_gated_chunk_shift(r->cap, r->mtu);
		r->chunk_shift = r->hdr->chunk_shift;
	}
	if (o->metadata_len) {
		memcpy(r->hdr->metadata, o->metadata, o->metadata_len);
		store_release(&r->hdr->metadata_len, (uint32_t)o->metadata_len);
	}
	if (o->flags & BCAST_EVICT) {
		r->hdr->evict_bytes = r->evict_bytes = o->evict_bytes;
		r->hdr->evict_ms = r->evict_ms = o->evict_ms;
	}
	return 0;
unmap:
	ring_unmap(r);
destroy:
	{
		struct bcast_ctl_destroy d;

		memset(&d, 0, sizeof(d));
		memcpy(d.name, req.name, sizeof(d.name));
		ctl_ioctl(BCAST_CTL_DESTROY, &d);
	}
	return err;
}

static int device_destroy(const struct bcast_ring_location *loc)
{
	const char *name = loc->name;
	struct bcast_ctl_destroy d;
	struct bcast_dev_info di;
	int fd;

	memset(&d, 0, sizeof(d));
	if (!strncmp(name, NODE_PREFIX, strlen(NODE_PREFIX))) {
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
		memcpy(d.name, name, strlen(name));
	}
	return ctl_ioctl(BCAST_CTL_DESTROY, &d);
}

/*
 * A reader gets a file of its own (the kernel keeps its armed position),
 * made by the kernel from the ring file we map: never from a path, which
 * may name another ring by now.
 */
static int device_reader_open(struct bcast_reader *rd)
{
	int fd = ioctl(rd->r->fd, BCAST_IOC_OPEN_READER);

	if (fd < 0)
		return -errno;
	rd->fd = fd;
	return 0;
}

/*
 * The reader registry is the kernel's: a slot file whose one page, mapped
 * writable, is our slot (the ring's mapping stays read-only), freed by
 * the kernel when the file goes.
 */
static int device_slot_take(struct bcast_reader *rd)
{
	struct bcast_register reg;
	void *page;
	int fd, err;

	memset(&reg, 0, sizeof(reg));
	fd = ioctl(rd->fd, BCAST_IOC_REGISTER, &reg);
	if (fd < 0)
		return errno == ENOTTY ? -EOPNOTSUPP : -errno;
	page = mmap(NULL, BCAST_DEVICE_SLOT_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	rd->slot = page;
	rd->slot_index = reg.slot;
	rd->slot_lock_fd = fd;
	return 0;
}

static void device_slot_release(struct bcast_reader *rd)
{
	munmap(rd->slot, BCAST_DEVICE_SLOT_SIZE);
	close(rd->slot_lock_fd);
	rd->slot_lock_fd = -1;
}

static void device_slot_joined(struct bcast_reader *rd)
{
	ioctl(rd->slot_lock_fd, BCAST_IOC_SLOT_JOINED);
}

static void device_gate_wake(struct bcast_reader *rd)
{
	ioctl(rd->slot_lock_fd, BCAST_IOC_GATE_NOTIFY);
}

static int device_gate_sleep(struct bcast_writer *w, uint32_t seq, int64_t ms)
{
	struct bcast_gate_wait arg = { .seq = seq, .timeout_ns = ms * 1000000 };

	if (ioctl(w->r->fd, BCAST_IOC_GATE_WAIT, &arg) && errno != ETIMEDOUT &&
	    errno != EINTR)
		return -errno;
	return 0;
}

static void device_wake_readers(struct bcast_ring *r)
{
	ioctl(r->fd, BCAST_IOC_NOTIFY);
}

/* What a write() to the writer's file carries: it is a NOTIFY, whatever
 * the value; only its size (8 bytes) is the module's contract. */
static const uint64_t notify_by_write = 1;

/*
 * A module that has the write-notify makes an 8-byte write() a NOTIFY
 * and returns 8; one older refuses write() with EINVAL.  One write finds
 * out (a wake-up for nobody: sleepers look again and sleep on).
 */
static int device_wake_probe(struct bcast_ring *r, const struct uring *u)
{
	ssize_t n;

	if (!uring_supports(u, IORING_OP_WRITE))
		return -ENOTSUP;
	n = write(r->fd, &notify_by_write, sizeof(notify_by_write));
	if (n < 0)
		return errno == EINVAL ? -ENOTSUP : -errno;
	return n == sizeof(notify_by_write) ? 0 : -ENOTSUP;
}

/*
 * The NOTIFY as a write() for io_uring.  Clearing need_wakeup here (the
 * kernel clears it again) keeps the publishes that come before the
 * kernel runs it from queueing more.  A reader whose request either clear
 * erases armed before the NOTIFY counts itself, so the count it sampled
 * moves and it is woken all the same (notify.c).
 */
static void device_wake_queue(struct bcast_ring *r, struct io_uring_sqe *sqe)
{
	store_relaxed(&r->hdr->need_wakeup, 0);
	sqe->opcode = IORING_OP_WRITE;
	sqe->fd = r->fd;
	sqe->addr = (uint64_t)(uintptr_t)&notify_by_write;
	sqe->len = sizeof(notify_by_write);
	sqe->off = (uint64_t)-1;	/* the file position, as write() */
	/* Straight to an io-wq worker: the writer's thread never makes the
	 * wake-up (6.12 would first retry it in line, through its poll). */
	sqe->flags = IOSQE_ASYNC;
}

/*
 * Ask to be woken when committed moves past `pos`, and about the writer:
 * its departure, or with BCAST_ARM_WRITER_GONE (writer `epoch` is known to
 * be gone) the next one's arrival.  1 if committed already moved.
 */
static int device_arm(int fd, uint64_t pos, uint64_t epoch, unsigned flags)
{
	struct bcast_arm arm = { .pos = pos, .epoch = epoch, .flags = flags };
	int rc = ioctl(fd, BCAST_IOC_ARM, &arm);

	return rc < 0 ? -errno : rc;
}

enum { DEVICE_POLL_WOKEN, DEVICE_POLL_HANGUP, DEVICE_POLL_TIMEOUT };

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
static int device_poll(int fd, int ms)
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

uint64_t device_wake_position(const struct bcast_reader *rd)
{
	return rd->need_resync ? rd->resync_seen : rd->pos;
}

int device_request_wakeup(struct bcast_reader *rd, enum writer_view view,
			  uint64_t epoch)
{
	unsigned flags = view == WRITER_NONE ? BCAST_ARM_WRITER_GONE : 0;

	if (rd->no_membarrier)
		flags |= BCAST_ARM_NO_MEMBARRIER;
	return device_arm(rd->fd, device_wake_position(rd), epoch, flags);
}

/*
 * Ask the kernel to wake this reader (it sets need_wakeup), then the
 * reader's barrier; *exact says whether it stood in for the writer's.  A
 * reader whose membarrier() fails arms again with BCAST_ARM_NO_MEMBARRIER:
 * it cannot write the wake page itself.  0, 1 if committed has moved
 * already, or an error.
 */
static int arm_device(struct bcast_reader *rd, enum writer_view view,
		      uint64_t epoch, bool *exact)
{
	bool had_barrier = !rd->no_membarrier;
	int rc = device_request_wakeup(rd, view, epoch);

	if (rc)
		return rc;
	*exact = reader_barrier(rd);
	if (*exact || !had_barrier)
		return 0;
	/* reader_barrier() set no_membarrier: say so to the kernel. */
	return device_request_wakeup(rd, view, epoch);
}

/*
 * Device rings: arm (the kernel sets need_wakeup), barrier, re-check,
 * poll.  Returns 0 to look again, 1 when the kernel says the writer we
 * believed alive is gone, or an error.
 */
static int device_sleep(struct bcast_reader *rd, struct sleep_request *req)
{
	enum writer_view view = req->view;
	int64_t ms = req->ms;
	bool exact;
	int rc = arm_device(rd, view, req->epoch, &exact);

	if (rc)
		return rc < 0 ? rc : 0;
	if (reader_ready(rd))
		return 0;
	if (!exact && ms > BOUNDED_SLICE_MIN_MS)
		ms = BOUNDED_SLICE_MIN_MS;
	rd->st.sleeps++;
	rc = device_poll(rd->fd, ms > INT_MAX ? INT_MAX : (int)ms);
	if (rc == DEVICE_POLL_TIMEOUT && exact && reader_ready(rd))
		rd->st.missed_wakeups++;	/* data came, no wake-up did */
	if (rc == DEVICE_POLL_HANGUP)
		return view == WRITER_LIVE ? 1 : 0;
	return rc < 0 ? rc : 0;
}

/* bcast_reader_arm(): arm, then say whether there is something already. */
static int device_arm_reader(struct bcast_reader *rd, enum writer_view view,
			     uint64_t epoch)
{
	bool exact;
	int rc = arm_device(rd, view, epoch, &exact);

	if (rc)
		return rc;
	return reader_ready(rd) ? 1 : 0;
}

static int device_writer_claim(struct bcast_writer *w)
{
	return 0;	/* the kernel made this file the writer's */
}

static void device_writer_nothing(struct bcast_writer *w)
{
}

static bool device_writer_alive(const struct bcast_ring *r)
{
	return load_acquire(&r->hdr->writer_alive);	/* cleared by the kernel */
}

static pid_t device_writer_pid(const struct bcast_ring *r)
{
	return (pid_t)load_relaxed(&r->hdr->writer_pid);
}

const struct ring_backend device_backend = {
	.name = "device",
	.takes = device_takes,
	.locate = device_locate,
	.create = device_create,
	.open = device_open,
	.destroy = device_destroy,
	.list = device_list,
	.reader_open = device_reader_open,
	.slot_take = device_slot_take,
	.slot_release = device_slot_release,
	.slot_joined = device_slot_joined,
	.gate_wake = device_gate_wake,
	.gate_sleep = device_gate_sleep,
	.kernel_registry = true,
	.sleep = device_sleep,
	.arm = device_arm_reader,
	.wake_readers = device_wake_readers,
	.wake_probe = device_wake_probe,
	.wake_queue = device_wake_queue,
	.writer_claim = device_writer_claim,
	.writer_announce = device_writer_nothing,
	.writer_release = device_writer_nothing,
	.writer_forget = device_writer_nothing,
	.writer_alive = device_writer_alive,
	.writer_pid = device_writer_pid,
};
