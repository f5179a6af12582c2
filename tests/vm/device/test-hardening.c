// SPDX-License-Identifier: MIT
/*
 * Smaller hardening of bcast.ko (issue 8 point 14):
 *  - a create whose minor cannot be handed back undoes that ring only,
 *    not another that took its name meanwhile (userfaultfd holds the
 *    kernel's put_user() while the name changes hands);
 *  - a fresh mapping takes no page faults on the first lap (PTEs are
 *    installed by mmap; PMDs, where used, fault once per 2 MiB);
 *  - no ring mapping can be executable;
 *  - sysfs shows a ring's private attributes only to who may read its
 *    node.
 */
#include <poll.h>
#include <pthread.h>
#include <grp.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>
#include "kselftest_harness.h"
#include "common.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)

/* ---- the create error path undoes its own ring ---- */

/* A create request whose minor cannot be written: EFAULT, no ring left. */
TEST(create_whose_minor_cannot_be_returned_leaves_no_ring)
{
	long page = sysconf(_SC_PAGESIZE);
	struct bcast_ctl_create *req;
	unsigned char *mem;
	int ctl;

	mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	memset(mem, 0, 2 * page);
	/* minor (and reserved) on the second page, which is read-only */
	req = (void *)(mem + page - offsetof(struct bcast_ctl_create, minor));
	strcpy(req->name, "h-efault");
	req->size = 64 * KIB;
	req->mode = 0600;
	ASSERT_EQ(0, mprotect(mem + page, page, PROT_READ));
	ctl = open("/dev/bcast-ctl", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ctl);
	ctl_destroy("h-efault");
	EXPECT_EQ(-1, ioctl(ctl, BCAST_CTL_CREATE, req));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-ENOENT, ctl_destroy("h-efault"));
	EXPECT_EQ(0, ctl_create("h-efault", 64 * KIB, 0, NULL));
	EXPECT_EQ(0, ctl_destroy("h-efault"));
	close(ctl);
	munmap(mem, 2 * page);
}

struct uffd_race {
	int uffd;
	unsigned char *wp_page;
	long page;
	int destroyed, recreated, woken;
	unsigned other_minor;
	unsigned long fault_addr;
	unsigned long long fault_flags;
};

/*
 * The uffd handler: the kernel's put_user(minor) is stuck in our fault.
 * Destroy the ring it just created, create another of the same name,
 * make the page fail for good (munmap) and let the fault go on.
 */
static void *uffd_handler(void *arg)
{
	struct uffd_race *u = arg;
	struct uffdio_range range;
	struct uffd_msg msg;
	struct pollfd pf = { .fd = u->uffd, .events = POLLIN };

	if (poll(&pf, 1, 10000) != 1 || read(u->uffd, &msg, sizeof(msg)) !=
	    sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
		return NULL;
	u->fault_addr = msg.arg.pagefault.address;
	u->fault_flags = msg.arg.pagefault.flags;
	u->destroyed = ctl_destroy("h-uffd");
	u->recreated = ctl_create("h-uffd", 128 * KIB, 0, &u->other_minor);
	munmap(u->wp_page, u->page);
	range.start = (unsigned long)u->wp_page;
	range.len = u->page;
	u->woken = ioctl(u->uffd, UFFDIO_WAKE, &range) ? -errno : 0;
	return NULL;
}

TEST(create_error_path_spares_another_ring_of_the_name)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uffdio_writeprotect wp;
	struct bcast_ctl_create *req;
	struct uffd_race u = { 0 };
	unsigned char *mem;
	pthread_t th;
	char name[80];
	int ctl, rc;

	u.page = sysconf(_SC_PAGESIZE);
	mem = mmap(NULL, 2 * u.page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	memset(mem, 0, 2 * u.page);		/* both pages present */
	u.wp_page = mem + u.page;
	req = (void *)(u.wp_page - offsetof(struct bcast_ctl_create, minor));
	strcpy(req->name, "h-uffd");
	req->size = 64 * KIB;
	req->mode = 0600;

	u.uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u.uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(u.uffd, UFFDIO_API, &api));
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (unsigned long)u.wp_page;
	reg.range.len = u.page;
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	if (ioctl(u.uffd, UFFDIO_REGISTER, &reg))
		SKIP(return, "UFFDIO_REGISTER_MODE_WP: %s", strerror(errno));
	memset(&wp, 0, sizeof(wp));
	wp.range = reg.range;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	ASSERT_EQ(0, ioctl(u.uffd, UFFDIO_WRITEPROTECT, &wp));
	/* Readable still: what copy_from_user() needs. */
	EXPECT_EQ(0, req->minor);

	ctl_destroy("h-uffd");
	ctl = open("/dev/bcast-ctl", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ctl);
	ASSERT_EQ(0, pthread_create(&th, NULL, uffd_handler, &u));
	rc = ioctl(ctl, BCAST_CTL_CREATE, req) ? -errno : 0;
	pthread_join(th, NULL);
	TH_LOG("fault at %#lx (flags %#llx); handler: destroy %d, create %d (minor %u), wake %d; create returned %d",
	       u.fault_addr, u.fault_flags, u.destroyed, u.recreated,
	       u.other_minor, u.woken, rc);
	ASSERT_EQ((unsigned long)u.wp_page, u.fault_addr & ~(u.page - 1));
	EXPECT_NE(0, u.fault_flags & UFFD_PAGEFAULT_FLAG_WP);
	ASSERT_EQ(0, u.destroyed);
	ASSERT_EQ(0, u.recreated);
	EXPECT_EQ(-EFAULT, rc);
	/* The other ring of that name is still there, and it is the other. */
	EXPECT_EQ(0, sysfs_str(u.other_minor, "name", name, sizeof(name)));
	EXPECT_STREQ("h-uffd", name);
	EXPECT_EQ(128 * KIB, sysfs_num(u.other_minor, "size"));
	EXPECT_EQ(0, ctl_destroy("h-uffd"));
	close(ctl);
	close(u.uffd);
	munmap(mem, u.page);
}

/* ---- no first-lap page faults ---- */

static long faults_writing(unsigned char *p, size_t len)
{
	long f0 = minor_faults();

	memset(p, 0x5a, len);
	return minor_faults() - f0;
}

static long faults_reading(const unsigned char *p, size_t len)
{
	long f0 = minor_faults();
	unsigned long sum = 0;
	size_t off;

	for (off = 0; off < len; off += 4096)
		sum += ((const volatile unsigned char *)p)[off];
	(void)sum;
	return minor_faults() - f0;
}

static void check_first_lap(struct __test_metadata *_metadata,
			    unsigned long long size, unsigned flags)
{
	static unsigned char warm[64 * 1024];
	unsigned char *w, *r;
	long wf, rf, pmds = 0;
	unsigned minor;
	size_t len;
	int wfd, rfd, huge;

	/* Warm up the code and data this takes, so only ring faults count. */
	faults_writing(warm, sizeof(warm));
	faults_reading(warm, sizeof(warm));
	minor_faults();
	ctl_destroy("h-lap");
	ASSERT_EQ(0, ctl_create("h-lap", size, flags, &minor));
	huge = sysfs_num(minor, "hugepage") == 1;
	wfd = open_ring(minor, O_RDWR);
	rfd = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	w = (unsigned char *)map_ring(wfd, PROT_READ | PROT_WRITE, &len);
	r = (unsigned char *)map_ring(rfd, PROT_READ, &len);
	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, r);
	wf = faults_writing(w + BCAST_HDR_SIZE, size);
	rf = faults_reading(r, len);
	if (huge && kernel_maps_pmds())
		pmds = len / (2 * MIB);		/* one fault per PMD */
	TH_LOG("%llu-byte ring on %s pages: %ld faults writing the data once, %ld reading every page (PMD ranges: %ld)",
	       size, huge ? "2 MiB" : "4 KiB", wf, rf, pmds);
	EXPECT_GE(pmds, wf);
	EXPECT_GE(pmds, rf);
	EXPECT_EQ(0x5a, r[BCAST_HDR_SIZE + size - 1]);
	munmap(w, len);
	munmap(r, len);
	/* A partial mapping is populated too. */
	w = mmap(NULL, len / 2, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	ASSERT_NE(MAP_FAILED, w);
	wf = faults_writing(w + BCAST_HDR_SIZE, len / 2 - BCAST_HDR_SIZE);
	EXPECT_GE(pmds, wf);
	munmap(w, len / 2);
	close(wfd);
	close(rfd);
	EXPECT_EQ(0, ctl_destroy("h-lap"));
}

TEST(first_lap_takes_no_page_faults_4k)
{
	check_first_lap(_metadata, 1 * MIB, 0);
}

TEST(first_lap_takes_no_page_faults_2m)
{
	check_first_lap(_metadata, 4 * MIB, BCAST_RING_HUGEPAGE);
}

/* ---- no executable mappings ---- */

static void check_no_exec(struct __test_metadata *_metadata, int fd,
			  int writer)
{
	struct bcast_dev_info di;
	int prot = PROT_READ | (writer ? PROT_WRITE : 0);
	void *p;

	ASSERT_EQ(0, ioctl(fd, BCAST_IOC_INFO, &di));
	p = mmap(NULL, di.map_size, prot | PROT_EXEC, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_TRUE(errno == EACCES || errno == EPERM);
	if (p != MAP_FAILED)
		munmap(p, di.map_size);
	p = mmap(NULL, di.map_size, prot, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, di.map_size, prot | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, 4096, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, mprotect(p, di.map_size, PROT_READ));
	munmap(p, di.map_size);
}

TEST(no_executable_mappings)
{
	unsigned minor;
	int w, r, x;

	ASSERT_EQ(0, ctl_create("h-exec", 64 * KIB, 0, &minor));
	w = open_ring(minor, O_RDWR);
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, w);
	ASSERT_LE(0, r);
	check_no_exec(_metadata, w, 1);
	check_no_exec(_metadata, r, 0);
	x = ioctl(r, BCAST_IOC_OPEN_READER);
	ASSERT_LE(0, x);
	check_no_exec(_metadata, x, 0);
	close(x);
	close(r);
	close(w);
	EXPECT_EQ(0, ctl_destroy("h-exec"));
}

/* ---- sysfs: private attributes for readers of the node only ---- */

static const char *const public_attrs[] = { "name", "size" };
static const char *const private_attrs[] = {
	"writer_pid", "readers", "committed", "claimed", "hugepage",
	"pmd_mappings",
};

/* 0 if readable, else errno (of open or read). */
static int attr_errno(unsigned minor, const char *attr)
{
	char path[128], buf[128];
	int fd, e = 0;

	snprintf(path, sizeof(path), "/sys/class/bcast/bcast%u/%s", minor, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (read(fd, buf, sizeof(buf)) < 0)
		e = errno;
	close(fd);
	return e;
}

struct vis {
	const char *name;
	unsigned mode, uid, gid;
	int visible;		/* to uid/gid 65534 */
	unsigned minor;
};

/* In a child as nobody: count the attributes seen wrongly. */
static int check_visibility(struct vis *v, int n)
{
	int i, k, wrong = 0;

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		return 100;
	for (i = 0; i < n; i++) {
		for (k = 0; k < 2; k++) {
			int e = attr_errno(v[i].minor, public_attrs[k]);

			if (e) {
				printf("# %s/%s: %s, should be readable\n",
				       v[i].name, public_attrs[k], strerror(e));
				wrong++;
			}
		}
		for (k = 0; k < 6; k++) {
			int e = attr_errno(v[i].minor, private_attrs[k]);

			if (v[i].visible ? e != 0 : e != EACCES) {
				printf("# %s (%o %u:%u)/%s: %s, should be %s\n",
				       v[i].name, v[i].mode, v[i].uid, v[i].gid,
				       private_attrs[k], e ? strerror(e) : "readable",
				       v[i].visible ? "readable" : "EACCES");
				wrong++;
			}
		}
	}
	return wrong;
}

TEST(sysfs_private_attributes_need_read_permission_on_the_node)
{
	struct vis v[] = {
		{ "h-root600", 0600, 0, 0, 0, 0 },
		{ "h-root640", 0640, 0, 0, 0, 0 },
		{ "h-root644", 0644, 0, 0, 1, 0 },
		{ "h-grp640", 0640, 0, 65534, 1, 0 },
		{ "h-own600", 0600, 65534, 65534, 1, 0 },
		{ "h-own060", 0060, 65534, 65534, 0, 0 },	/* owner bits rule */
	};
	int n = sizeof(v) / sizeof(v[0]), i, status, k;
	pid_t pid;

	for (i = 0; i < n; i++) {
		ctl_destroy(v[i].name);
		ASSERT_EQ(0, ctl_create_as(v[i].name, 64 * KIB, 0, v[i].mode,
					   v[i].uid, v[i].gid, &v[i].minor));
		/* root (CAP_DAC_OVERRIDE) sees everything */
		for (k = 0; k < 6; k++)
			EXPECT_EQ(0, attr_errno(v[i].minor, private_attrs[k]));
	}
	pid = fork();
	if (!pid)
		_exit(check_visibility(v, n));
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	for (i = 0; i < n; i++)
		EXPECT_EQ(0, ctl_destroy(v[i].name));
}

TEST_HARNESS_MAIN
