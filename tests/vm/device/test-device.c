// SPDX-License-Identifier: MIT
/*
 * bcast.ko device tests (kselftest harness, run inside the VM as root with
 * the module loaded): the control device, one writer, read-only readers,
 * memory and PMD mappings, wake-ups, sysfs, and libbcast on top.
 */
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"
#include "bcast.h"
#include "waiting.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)

/* ---- control device ---- */

TEST(create_makes_node_and_sysfs_destroy_removes_them)
{
	unsigned minor;
	char path[64], name[80];
	struct stat st;

	ASSERT_EQ(0, ctl_create("t-basic", 64 * KIB, 0, &minor));
	snprintf(path, sizeof(path), "/dev/bcast%u", minor);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 0777);
	ASSERT_EQ(0, sysfs_str(minor, "name", name, sizeof(name)));
	EXPECT_STREQ("t-basic", name);
	EXPECT_EQ(64 * KIB, sysfs_num(minor, "size"));
	EXPECT_EQ(0, sysfs_num(minor, "readers"));
	EXPECT_EQ(0, sysfs_num(minor, "writer_pid"));
	EXPECT_EQ(0, sysfs_num(minor, "committed"));
	EXPECT_EQ(0, sysfs_num(minor, "claimed"));
	EXPECT_EQ(0, sysfs_num(minor, "pmd_mappings"));
	EXPECT_EQ(-EEXIST, ctl_create("t-basic", 64 * KIB, 0, NULL));
	ASSERT_EQ(0, ctl_destroy("t-basic"));
	EXPECT_NE(0, stat(path, &st));
	EXPECT_EQ(-ENOENT, ctl_destroy("t-basic"));
}

TEST(create_rejects_bad_requests)
{
	struct bcast_ctl_create req;
	int fd = open("/dev/bcast-ctl", O_RDWR), rc;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, ctl_create("t-bad", 3000, 0, NULL));
	EXPECT_EQ(-EINVAL, ctl_create("t-bad", 0, 0, NULL));
	EXPECT_EQ(-EINVAL, ctl_create("t-bad", 1024, 0, NULL));
	rc = ctl_create("t-bad", 1ULL << 41, 0, NULL);
	EXPECT_TRUE(rc == -EINVAL || rc == -EFBIG || rc == -ENOSPC);
	EXPECT_EQ(-EINVAL, ctl_create("", 64 * KIB, 0, NULL));
	EXPECT_EQ(-EINVAL, ctl_create("a/b", 64 * KIB, 0, NULL));
	EXPECT_EQ(-EINVAL, ctl_create("sp ace", 64 * KIB, 0, NULL));
	EXPECT_EQ(-EINVAL, ctl_create("caf\xe9", 64 * KIB, 0, NULL));
	EXPECT_EQ(-EINVAL, ctl_create("..", 64 * KIB, 0, NULL));
	EXPECT_EQ(-EINVAL, ctl_create("t-bad", 64 * KIB, 0x80, NULL));

	memset(&req, 'x', sizeof(req));		/* name not terminated */
	req.size = 64 * KIB;
	req.flags = 0;
	req.mode = 0600;
	req.reader_slots = 0;
	EXPECT_EQ(-1, ioctl(fd, BCAST_CTL_CREATE, &req));
	EXPECT_EQ(EINVAL, errno);
	memset(&req, 0, sizeof(req));
	strcpy(req.name, "t-bad");
	req.size = 64 * KIB;
	req.mode = 01777;
	EXPECT_EQ(-1, ioctl(fd, BCAST_CTL_CREATE, &req));
	EXPECT_EQ(EINVAL, errno);
	req.mode = 0600;
	req.reader_slots = BCAST_MAX_READER_SLOTS + 1;
	EXPECT_EQ(-1, ioctl(fd, BCAST_CTL_CREATE, &req));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(fd, BCAST_CTL_CREATE, (void *)1));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, BCAST_CTL_DESTROY, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(BCAST_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, BCAST_IOC_NOTIFY));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
	EXPECT_EQ(-ENOENT, ctl_destroy("t-bad"));
}

TEST(create_needs_privilege)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		int rc;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		rc = ctl_create("t-priv", 64 * KIB, 0, NULL);
		_exit(rc == -EPERM || rc == -EACCES ? 0 : 11);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ctl_destroy("t-priv");
}

TEST(node_takes_mode_and_owner)
{
	struct bcast_ctl_create req;
	struct stat st;
	char path[64];
	int fd = open("/dev/bcast-ctl", O_RDWR);

	ASSERT_LE(0, fd);
	memset(&req, 0, sizeof(req));
	strcpy(req.name, "t-owner");
	req.size = 64 * KIB;
	req.mode = 0640;
	req.uid = 1000;
	req.gid = 1001;
	ASSERT_EQ(0, ioctl(fd, BCAST_CTL_CREATE, &req));
	close(fd);
	snprintf(path, sizeof(path), "/dev/bcast%u", req.minor);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0640, st.st_mode & 0777);
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(1001, st.st_gid);
	EXPECT_EQ(0, ctl_destroy("t-owner"));
}

/*
 * A request without a group of its own: the module's ctl_gid group, or
 * (without one, as here) the creator's filesystem gid.
 */
TEST(default_group_is_the_creators_without_ctl_gid)
{
	struct bcast_ctl_create req;
	struct stat st;
	char path[64];
	int fd, pipefd[2], status;
	pid_t pid;

	ASSERT_EQ(-1, param_num("ctl_gid"))
		TH_LOG("this test needs the module loaded without ctl_gid");
	ASSERT_EQ(0, pipe(pipefd));
	memset(&req, 0, sizeof(req));
	strcpy(req.name, "t-group");
	req.size = 64 * KIB;
	req.mode = 0640;
	req.gid = BCAST_CTL_GID_DEFAULT;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		setfsgid(4321);
		if (setfsgid(-1) != 4321)
			_exit(2);
		fd = open("/dev/bcast-ctl", O_RDWR);
		if (fd < 0 || ioctl(fd, BCAST_CTL_CREATE, &req))
			_exit(1);
		_exit(write(pipefd[1], &req.minor, sizeof(req.minor)) ==
		      sizeof(req.minor) ? 0 : 3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	ASSERT_EQ(sizeof(req.minor), read(pipefd[0], &req.minor, sizeof(req.minor)));
	close(pipefd[0]);
	close(pipefd[1]);
	snprintf(path, sizeof(path), "/dev/bcast%u", req.minor);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(4321, st.st_gid);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0640, st.st_mode & 0777);
	EXPECT_EQ(0, ctl_destroy("t-group"));
}

/* ---- one writer, read-only readers ---- */

TEST(one_writer_and_the_kernel_keeps_its_state)
{
	struct bcast_ring_hdr *h;
	unsigned minor;
	size_t len;
	int w, w2, r;

	ASSERT_EQ(0, ctl_create("t-writer", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	h = map_ring(r, PROT_READ, &len);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(BCAST_RING_MAGIC, h->magic);
	EXPECT_EQ(64 * KIB, h->capacity);
	EXPECT_EQ(0, h->writer_alive);
	EXPECT_EQ(0, h->writer_epoch);
	EXPECT_EQ(1, sysfs_num(minor, "readers"));
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	w2 = open_ring(minor, O_RDWR);
	EXPECT_EQ(-1, w2);
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(1, h->writer_alive);
	EXPECT_EQ(getpid(), (pid_t)h->writer_pid);
	EXPECT_EQ(1, h->writer_epoch);
	EXPECT_EQ(getpid(), sysfs_num(minor, "writer_pid"));
	close(w);
	EXPECT_EQ(0, h->writer_alive);
	EXPECT_EQ(0, sysfs_num(minor, "writer_pid"));
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	EXPECT_EQ(2, h->writer_epoch);
	close(w);
	munmap(h, len);
	close(r);
	EXPECT_EQ(0, sysfs_num(minor, "readers"));
	EXPECT_EQ(0, ctl_destroy("t-writer"));
}

static void exit_on_segv(int sig)
{
	(void)sig;
	_exit(77);
}

TEST(readers_can_never_write)
{
	struct bcast_dev_info di;
	unsigned minor;
	size_t len;
	void *p;
	int r, status;
	pid_t pid;

	ASSERT_EQ(0, ctl_create("t-ro", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, ioctl(r, BCAST_IOC_INFO, &di));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, di.map_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, r, 0));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, di.map_size, PROT_READ, MAP_PRIVATE,
				   r, 0));
	p = map_ring(r, PROT_READ, &len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(-1, mprotect(p, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	pid = fork();
	if (!pid) {
		struct sigaction sa = { .sa_handler = exit_on_segv };

		sigaction(SIGSEGV, &sa, NULL);
		((volatile char *)p)[BCAST_HDR_SIZE] = 1;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(77, WEXITSTATUS(status));
	munmap(p, len);
	close(r);
	EXPECT_EQ(0, ctl_destroy("t-ro"));
}

TEST(mmap_arguments_are_checked)
{
	struct bcast_dev_info di;
	unsigned minor;
	int w;

	ASSERT_EQ(0, ctl_create("t-mmap", 64 * KIB, 0, &minor));
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	ASSERT_EQ(0, ioctl(w, BCAST_IOC_INFO, &di));
	EXPECT_EQ(64 * KIB, di.capacity);
	EXPECT_LE(BCAST_HDR_SIZE + 64 * KIB, di.map_size);
	EXPECT_EQ(minor, di.minor);
	EXPECT_STREQ("t-mmap", di.name);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, di.map_size + 4096, PROT_READ,
				   MAP_SHARED, w, 0));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, w, 4096));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, di.map_size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE, w, 0));
	EXPECT_EQ(-1, ioctl(w, BCAST_IOC_INFO, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	close(w);
	EXPECT_EQ(0, ctl_destroy("t-mmap"));
}

/* ---- memory ---- */

TEST(hugepage_ring_is_mapped_with_pmds_where_they_are_special)
{
	unsigned minor;
	size_t len, off;
	volatile unsigned char *p;
	long long pmds;
	int w;

	ASSERT_EQ(0, ctl_create("t-huge", 4 * MIB, BCAST_RING_HUGEPAGE, &minor));
	if (sysfs_num(minor, "hugepage") != 1) {
		ctl_destroy("t-huge");
		SKIP(return, "no 2 MiB pages could be had");
	}
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	p = (volatile unsigned char *)map_ring(w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (unsigned long)p % (2 * MIB));
	EXPECT_EQ(BCAST_RING_DEVICE | BCAST_RING_HUGEPAGE,
		  ((struct bcast_ring_hdr *)p)->flags);
	for (off = 0; off < len; off += 4096)
		p[off] = (unsigned char)off;
	for (off = 0; off < len; off += 4096)
		ASSERT_EQ((unsigned char)off, p[off]);
	pmds = sysfs_num(minor, "pmd_mappings");
	TH_LOG("%zu bytes mapped with %lld PMD entries", len, pmds);
	if (kernel_maps_pmds()) {
		EXPECT_LE((long long)(len / (2 * MIB)) - 1, pmds);
		EXPECT_LT(0, pmds);
	} else {
		/* 6.1: GUP would pin PFNMAP PMDs, so PTEs only (kmod/mmap.c) */
		EXPECT_EQ(0, pmds);
	}
	munmap((void *)p, len);
	close(w);
	EXPECT_EQ(0, ctl_destroy("t-huge"));
}

TEST(small_page_ring_works_too)
{
	unsigned minor;
	size_t len, off;
	volatile unsigned char *p;
	int w;

	ASSERT_EQ(0, ctl_create("t-small", 256 * KIB, 0, &minor));
	EXPECT_EQ(0, sysfs_num(minor, "hugepage"));
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	p = (volatile unsigned char *)map_ring(w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, p);
	for (off = BCAST_HDR_SIZE; off < len; off += 4096)
		ASSERT_EQ(0, p[off]);		/* zeroed */
	for (off = BCAST_HDR_SIZE; off < len; off += 512)
		p[off] = 0x5a;
	EXPECT_EQ(0, sysfs_num(minor, "pmd_mappings"));
	munmap((void *)p, len);
	close(w);
	EXPECT_EQ(0, ctl_destroy("t-small"));
}

TEST(destroying_a_mapped_ring_keeps_the_mapping_valid)
{
	struct bcast_ring_hdr *h;
	unsigned minor;
	char path[64];
	struct stat st;
	size_t len;
	int w;

	ASSERT_EQ(0, ctl_create("t-gone", 64 * KIB, 0, &minor));
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	h = map_ring(w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, h);
	close(w);				/* the mapping holds the file */
	ASSERT_EQ(0, ctl_destroy("t-gone"));
	snprintf(path, sizeof(path), "/dev/bcast%u", minor);
	EXPECT_NE(0, stat(path, &st));
	h->committed = 4242;			/* still ours */
	EXPECT_EQ(4242, h->committed);
	EXPECT_EQ(BCAST_RING_MAGIC, h->magic);
	/* the name can be reused at once */
	ASSERT_EQ(0, ctl_create("t-gone", 64 * KIB, 0, NULL));
	EXPECT_EQ(0, ctl_destroy("t-gone"));
	EXPECT_EQ(0, munmap(h, len));
}

/* ---- wake-ups ---- */

struct pair {
	unsigned minor;
	int w, r;
	struct bcast_ring_hdr *wh;
	size_t len;
};

static int open_pair(struct pair *p, const char *name)
{
	if (ctl_create(name, 64 * KIB, 0, &p->minor))
		return -1;
	p->w = open_ring(p->minor, O_RDWR);
	p->r = open_ring(p->minor, O_RDONLY);
	p->wh = p->w >= 0 ? map_ring(p->w, PROT_READ | PROT_WRITE, &p->len) : NULL;
	return p->r >= 0 && p->wh ? 0 : -1;
}

static void close_pair(struct pair *p, const char *name)
{
	if (p->wh)
		munmap(p->wh, p->len);
	if (p->w >= 0)
		close(p->w);
	if (p->r >= 0)
		close(p->r);
	ctl_destroy(name);
}

static short poll_once(int fd, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	return poll(&pf, 1, ms) > 0 ? pf.revents : 0;
}

TEST(arm_poll_notify)
{
	struct bcast_arm arm = { 0 };
	struct pair p;

	ASSERT_EQ(0, open_pair(&p, "t-wake"));
	ASSERT_EQ(0, ioctl(p.r, BCAST_IOC_ARM, &arm));
	EXPECT_EQ(1, p.wh->need_wakeup);
	EXPECT_EQ(0, poll_once(p.r, 0) & POLLIN);
	p.wh->committed = 16;			/* as a writer would */
	ASSERT_EQ(0, ioctl(p.w, BCAST_IOC_NOTIFY));
	EXPECT_EQ(0, p.wh->need_wakeup);
	EXPECT_NE(0, poll_once(p.r, 1000) & POLLIN);
	EXPECT_EQ(1, ioctl(p.r, BCAST_IOC_ARM, &arm));	/* already past */
	arm.pos = 16;
	EXPECT_EQ(0, ioctl(p.r, BCAST_IOC_ARM, &arm));
	EXPECT_EQ(0, poll_once(p.r, 0) & POLLIN);
	EXPECT_EQ(-1, ioctl(p.w, BCAST_IOC_ARM, &arm));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(p.r, BCAST_IOC_NOTIFY));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(p.r, BCAST_IOC_ARM, NULL));
	EXPECT_EQ(EFAULT, errno);
	{
		struct pollfd pf = { .fd = p.w, .events = POLLOUT };

		EXPECT_EQ(1, poll(&pf, 1, 0));
		EXPECT_NE(0, pf.revents & POLLOUT);
	}
	close_pair(&p, "t-wake");
}

TEST(sleeper_is_woken_by_notify_from_another_process)
{
	struct bcast_arm arm = { 0 };
	struct pair p;
	double t0;
	pid_t pid;
	int status;

	ASSERT_EQ(0, open_pair(&p, "t-sleep"));
	ASSERT_EQ(0, ioctl(p.r, BCAST_IOC_ARM, &arm));
	pid = fork();
	if (!pid) {
		usleep(100000);
		p.wh->committed = 8;
		_exit(ioctl(p.w, BCAST_IOC_NOTIFY) ? 1 : 0);
	}
	t0 = now_s();
	EXPECT_NE(0, poll_once(p.r, 5000) & POLLIN);
	EXPECT_GT(2.0, now_s() - t0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close_pair(&p, "t-sleep");
}

TEST(hangup_when_the_writer_closes_or_dies)
{
	unsigned minor;
	int r, w, status;
	double t0;
	pid_t pid;

	ASSERT_EQ(0, ctl_create("t-hup", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	EXPECT_NE(0, poll_once(r, 0) & POLLHUP);	/* no writer yet */
	w = open_ring(minor, O_RDWR);
	ASSERT_LE(0, w);
	EXPECT_EQ(0, poll_once(r, 0) & POLLHUP);
	close(w);
	EXPECT_NE(0, poll_once(r, 0) & POLLHUP);
	pid = fork();
	if (!pid) {
		int fd = open_ring(minor, O_RDWR);
		size_t len;

		if (fd < 0 || !map_ring(fd, PROT_READ | PROT_WRITE, &len))
			_exit(1);
		pause();
		_exit(0);
	}
	while (poll_once(r, 0) & POLLHUP)
		usleep(1000);				/* child became writer */
	t0 = now_s();
	kill(pid, SIGKILL);
	EXPECT_NE(0, poll_once(r, 5000) & POLLHUP);
	TH_LOG("writer death seen after %.1f ms", (now_s() - t0) * 1e3);
	EXPECT_GT(0.1, now_s() - t0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(r);
	EXPECT_EQ(0, ctl_destroy("t-hup"));
}

TEST(eventfd_is_signalled)
{
	struct pair p;
	uint64_t v = 0;
	int efd = eventfd(0, EFD_NONBLOCK), bad = -5;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, open_pair(&p, "t-efd"));
	ASSERT_EQ(0, ioctl(p.r, BCAST_IOC_SET_EVENTFD, &efd));
	EXPECT_EQ(-1, read(efd, &v, sizeof(v)));
	ASSERT_EQ(0, ioctl(p.w, BCAST_IOC_NOTIFY));
	EXPECT_EQ(8, read(efd, &v, sizeof(v)));
	EXPECT_LE(1, v);
	close(p.w);				/* writer gone: signalled too */
	p.w = -1;
	munmap(p.wh, p.len);
	p.wh = NULL;
	EXPECT_EQ(8, read(efd, &v, sizeof(v)));
	EXPECT_EQ(-1, ioctl(p.r, BCAST_IOC_SET_EVENTFD, &bad));
	EXPECT_EQ(EBADF, errno);
	bad = -1;
	EXPECT_EQ(0, ioctl(p.r, BCAST_IOC_SET_EVENTFD, &bad));	/* removed */
	close(efd);
	close_pair(&p, "t-efd");
}

TEST(sysfs_follows_the_header)
{
	struct pair p;

	ASSERT_EQ(0, open_pair(&p, "t-sysfs"));
	p.wh->committed = 4096;
	p.wh->claimed = 8192;
	EXPECT_EQ(4096, sysfs_num(p.minor, "committed"));
	EXPECT_EQ(8192, sysfs_num(p.minor, "claimed"));
	EXPECT_EQ(1, sysfs_num(p.minor, "readers"));
	close_pair(&p, "t-sysfs");
}

/* ---- libbcast on the device ---- */

TEST(library_uses_the_device)
{
	struct bcast_ring_opts o = { .size = 1 << 20, .flags = BCAST_HUGEPAGE,
				     .metadata = "md", .metadata_len = 2 };
	struct bcast_ring *wr, *rr, *other;
	struct bcast_writer *w, *w2;
	struct bcast_reader *rd;
	struct bcast_ring_info info;
	struct bcast_writer_stats ws;
	char buf[64];
	int i, fd;

	bcast_ring_destroy("libring");
	ASSERT_EQ(0, bcast_ring_create("libring", &o, &wr));
	ASSERT_EQ(0, bcast_ring_info(wr, &info));
	EXPECT_STREQ("device", info.backend);
	EXPECT_EQ(1 << 20, info.capacity);
	EXPECT_EQ(2, info.metadata_len);
	TH_LOG("device ring hugepage=%d", info.hugepage);
	ASSERT_EQ(0, bcast_writer_open(wr, &w));
	ASSERT_EQ(0, bcast_ring_open("libring", BCAST_RDONLY, &rr));
	EXPECT_EQ(-EBUSY, bcast_ring_open("libring", BCAST_RDWR, &other));
	ASSERT_EQ(0, bcast_reader_open(rr, BCAST_FROM_OLDEST, &rd));
	EXPECT_EQ(-EACCES, bcast_writer_open(rr, &w2));
	fd = bcast_reader_fd(rd);
	EXPECT_LE(0, fd);
	EXPECT_EQ(-ETIMEDOUT, bcast_wait(rd, 50));
	/* The reader that gave up left need_wakeup set: one notify. */
	ASSERT_EQ(0, bcast_publish(w, "x", 1, 1));
	ASSERT_EQ(0, bcast_writer_stats(w, &ws));
	EXPECT_EQ(1, ws.notifies);
	for (i = 0; i < 1000000; i++)
		ASSERT_EQ(0, bcast_publish(w, &i, sizeof(i), 1));
	ASSERT_EQ(0, bcast_writer_stats(w, &ws));
	EXPECT_EQ(1, ws.notifies);		/* then nobody slept: none */
	EXPECT_EQ(0, bcast_wait(rd, 0));
	EXPECT_EQ(-BCAST_EOVERRUN, bcast_receive(rd, buf, sizeof(buf), NULL));
	while (bcast_receive(rd, buf, sizeof(buf), NULL) > 0)
		;
	/* The reader's fd in the caller's own poll loop. */
	EXPECT_EQ(0, bcast_reader_arm(rd));
	EXPECT_EQ(0, poll_once(fd, 0) & POLLIN);
	ASSERT_EQ(0, bcast_publish(w, "y", 1, 2));
	EXPECT_NE(0, poll_once(fd, 1000) & POLLIN);
	EXPECT_EQ(1, bcast_reader_arm(rd));
	bcast_reader_close(rd);
	bcast_ring_close(rr);
	bcast_writer_close(w);
	bcast_ring_close(wr);
	EXPECT_EQ(0, bcast_ring_destroy("libring"));
}

TEST(library_sees_writer_death_within_100ms_and_a_new_writer_continues)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	struct bcast_ring *r, *rr;
	struct bcast_reader *rd;
	int status, v;
	double t0;
	pid_t pid;

	bcast_ring_destroy("libdeath");
	ASSERT_EQ(0, bcast_ring_create("libdeath", &o, &r));
	bcast_ring_close(r);			/* no writer now */
	ASSERT_EQ(0, bcast_ring_open("libdeath", BCAST_RDONLY, &rr));
	ASSERT_EQ(0, bcast_reader_open(rr, BCAST_FROM_OLDEST, &rd));
	pid = spawn_writer("libdeath", 5, 0);
	ASSERT_LT(0, pid);
	for (v = 0; v < 5; v++) {
		int got;

		ASSERT_EQ(0, bcast_wait(rd, 1000));
		ASSERT_EQ(sizeof(got), bcast_receive(rd, &got, sizeof(got), NULL));
		EXPECT_EQ(v, got);
	}
	EXPECT_EQ(-ETIMEDOUT, bcast_wait(rd, 20));
	t0 = now_s();
	kill(pid, SIGKILL);
	EXPECT_EQ(-BCAST_EWRITERGONE, bcast_wait(rd, 5000));
	TH_LOG("writer death seen after %.1f ms", (now_s() - t0) * 1e3);
	EXPECT_GT(0.1, now_s() - t0);
	waitpid(pid, &status, 0);

	/* A new writer continues the positions; the reader just goes on. */
	{
		struct bcast_ring_info before, after;
		uint64_t where = bcast_reader_position(rd);

		ASSERT_EQ(0, bcast_ring_info(rr, &before));
		/* it closes its writer, then waits to be killed */
		pid = spawn_writer("libdeath", 5, 1);
		ASSERT_LT(0, pid);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_EQ(0, bcast_ring_info(rr, &after));
		EXPECT_EQ(before.writer_epoch + 1, after.writer_epoch);
		EXPECT_EQ(where + 5 * 16, after.committed);
		for (v = 0; v < 5; v++) {
			int got;

			ASSERT_EQ(sizeof(got),
				  bcast_receive(rd, &got, sizeof(got), NULL));
			EXPECT_EQ(v, got);
		}
		EXPECT_EQ(-BCAST_EWRITERGONE, bcast_wait(rd, 1000));
	}
	bcast_reader_close(rd);
	bcast_ring_close(rr);
	EXPECT_EQ(0, bcast_ring_destroy("libdeath"));
}


/* Emulated CPUs make this slow: allow far more than the default 30 s. */
FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(slow)
{
}

TEST_F_TIMEOUT(slow, hundred_thousand_sleep_wake_cycles_on_the_device, 1200)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	int cycles = getenv("BCAST_PINGPONG_CYCLES") ?
		     atoi(getenv("BCAST_PINGPONG_CYCLES")) : 100000;
	struct bcast_ring *a, *b;
	uint64_t missed = 0;
	int status;
	double t0;
	pid_t pid;

	bcast_ring_destroy("ping");
	bcast_ring_destroy("pong");
	ASSERT_EQ(0, bcast_ring_create("ping", &o, &a));
	ASSERT_EQ(0, bcast_ring_create("pong", &o, &b));
	bcast_ring_close(a);			/* give up the writer files */
	bcast_ring_close(b);
	t0 = now_s();
	pid = fork();
	if (!pid) {
		uint64_t m = 0;

		_exit(pong("ping", "pong", cycles, 1, &m) ? 1 : m ? 2 : 0);
	}
	EXPECT_EQ(0, pong("pong", "ping", cycles, 0, &missed));
	EXPECT_EQ(0, missed);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	TH_LOG("%d round trips in %.2f s", cycles, now_s() - t0);
	EXPECT_EQ(0, bcast_ring_destroy("ping"));
	EXPECT_EQ(0, bcast_ring_destroy("pong"));
}

TEST_HARNESS_MAIN
