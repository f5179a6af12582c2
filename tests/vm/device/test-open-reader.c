// SPDX-License-Identifier: MIT
/*
 * BCAST_IOC_OPEN_READER: a reader file of the ring a file already holds,
 * never of whatever ring has its name or minor now.  The scenario of
 * issue 8 point 11: a ring is mapped, destroyed, another ring takes its
 * minor; a reader fd made from the old file must be the old ring's, while
 * opening the path gives the new one.
 */
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define KIB 1024ULL

static short poll_events(int fd, short events, int ms)
{
	struct pollfd pf = { .fd = fd, .events = events };

	return poll(&pf, 1, ms) > 0 ? pf.revents : 0;
}

TEST(open_reader_makes_a_reader_of_the_same_ring)
{
	struct bcast_dev_info di;
	struct bcast_ring_hdr *h, *rh;
	unsigned minor;
	size_t len, rlen;
	int w, r, n, n2;

	ASSERT_EQ(0, ctl_create("o-same", 64 * KIB, 0, &minor));
	w = open_ring(minor, O_RDWR);
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, w);
	ASSERT_LE(0, r);
	h = map_ring(w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, h);
	h->committed = 4242;
	EXPECT_EQ(1, sysfs_num(minor, "readers"));
	n = ioctl(r, BCAST_IOC_OPEN_READER);
	ASSERT_LE(0, n);
	n2 = ioctl(w, BCAST_IOC_OPEN_READER);	/* from the writer too */
	ASSERT_LE(0, n2);
	EXPECT_EQ(3, sysfs_num(minor, "readers"));
	EXPECT_EQ(FD_CLOEXEC, fcntl(n, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDONLY, fcntl(n, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, ioctl(n, BCAST_IOC_INFO, &di));
	EXPECT_EQ(minor, di.minor);
	EXPECT_STREQ("o-same", di.name);
	/* A reader: read-only mappings, no writer ioctls. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_SHARED, n, 0));
	EXPECT_EQ(EACCES, errno);
	rh = map_ring(n, PROT_READ, &rlen);
	ASSERT_NE(NULL, rh);
	EXPECT_EQ(4242, rh->committed);
	EXPECT_EQ(-1, mprotect(rh, rlen, PROT_READ | PROT_WRITE));
	EXPECT_EQ(-1, ioctl(n, BCAST_IOC_NOTIFY));
	EXPECT_EQ(EPERM, errno);
	/* Never armed: armed at committed when it was made. */
	EXPECT_EQ(0, poll_events(n, POLLIN, 0));
	h->committed = 4250;
	ASSERT_EQ(0, ioctl(w, BCAST_IOC_NOTIFY));
	EXPECT_EQ(POLLIN, poll_events(n, POLLIN, 1000));
	/* A reader of a reader made this way is one too. */
	{
		int n3 = ioctl(n, BCAST_IOC_OPEN_READER);

		ASSERT_LE(0, n3);
		EXPECT_EQ(4, sysfs_num(minor, "readers"));
		close(n3);
	}
	munmap(rh, rlen);
	close(n);
	close(n2);
	EXPECT_EQ(1, sysfs_num(minor, "readers"));
	munmap(h, len);
	close(w);
	close(r);
	EXPECT_EQ(0, ctl_destroy("o-same"));
}

TEST(open_reader_follows_the_ring_not_the_minor)
{
	struct bcast_dev_info di;
	struct bcast_ring_hdr *oh, *nh, *xh;
	unsigned old_minor, new_minor;
	size_t olen, nlen, xlen;
	int ow, orr, nw, x, byp;

	/* The old ring: a writer and a reader, mapped; then destroyed. */
	ASSERT_EQ(0, ctl_create("o-reuse", 64 * KIB, 0, &old_minor));
	ow = open_ring(old_minor, O_RDWR);
	orr = open_ring(old_minor, O_RDONLY);
	ASSERT_LE(0, ow);
	ASSERT_LE(0, orr);
	oh = map_ring(ow, PROT_READ | PROT_WRITE, &olen);
	ASSERT_NE(NULL, oh);
	oh->committed = 1111;
	ASSERT_EQ(0, ctl_destroy("o-reuse"));
	/* Another ring, another size, takes the name and the minor. */
	ASSERT_EQ(0, ctl_create("o-reuse", 128 * KIB, 0, &new_minor));
	ASSERT_EQ(old_minor, new_minor);
	nw = open_ring(new_minor, O_RDWR);
	ASSERT_LE(0, nw);
	nh = map_ring(nw, PROT_READ | PROT_WRITE, &nlen);
	ASSERT_NE(NULL, nh);
	nh->committed = 2222;

	/* From the old reader's file: the old ring. */
	x = ioctl(orr, BCAST_IOC_OPEN_READER);
	ASSERT_LE(0, x);
	ASSERT_EQ(0, ioctl(x, BCAST_IOC_INFO, &di));
	EXPECT_EQ(64 * KIB, di.capacity);
	xh = map_ring(x, PROT_READ, &xlen);
	ASSERT_NE(NULL, xh);
	EXPECT_EQ(olen, xlen);
	EXPECT_EQ(1111, xh->committed);
	EXPECT_EQ(64 * KIB, xh->capacity);
	/* The new ring counts only its own readers. */
	EXPECT_EQ(0, sysfs_num(new_minor, "readers"));
	/* Its wake-ups are the old writer's, not the new one's. */
	EXPECT_EQ(0, ioctl(x, BCAST_IOC_ARM, &(struct bcast_arm){ .pos = 1111 }));
	EXPECT_EQ(0, poll_events(x, POLLIN, 0));
	nh->committed = 2230;
	ASSERT_EQ(0, ioctl(nw, BCAST_IOC_NOTIFY));
	EXPECT_EQ(0, poll_events(x, POLLIN, 200));
	oh->committed = 1120;
	ASSERT_EQ(0, ioctl(ow, BCAST_IOC_NOTIFY));
	EXPECT_EQ(POLLIN, poll_events(x, POLLIN, 1000));
	/* Its writer state is the old ring's: HUP once the old one goes. */
	EXPECT_EQ(0, ioctl(x, BCAST_IOC_ARM, &(struct bcast_arm){ .pos = 1120 }));
	EXPECT_EQ(0, poll_events(x, POLLIN, 0));
	munmap(oh, olen);
	close(ow);
	EXPECT_EQ(POLLHUP, poll_events(x, POLLIN, 1000));
	/* while the new ring's writer is still there */
	byp = open_ring(new_minor, O_RDONLY);
	ASSERT_LE(0, byp);
	EXPECT_EQ(0, poll_events(byp, POLLIN, 0));

	/* The path gives the new ring. */
	ASSERT_EQ(0, ioctl(byp, BCAST_IOC_INFO, &di));
	EXPECT_EQ(128 * KIB, di.capacity);
	EXPECT_EQ(1, sysfs_num(new_minor, "readers"));
	close(byp);
	munmap(xh, xlen);
	close(x);
	close(orr);
	munmap(nh, nlen);
	close(nw);
	EXPECT_EQ(0, ctl_destroy("o-reuse"));
}

/* At the fd limit: EMFILE, and the reader it would have been is not counted. */
TEST(open_reader_at_the_fd_limit)
{
	struct rlimit rl, low;
	unsigned minor;
	int r, x;

	ASSERT_EQ(0, ctl_create("o-emfile", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	low = rl;
	low.rlim_cur = r + 1;			/* no fd above r */
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
	x = ioctl(r, BCAST_IOC_OPEN_READER);
	EXPECT_EQ(-1, x);
	EXPECT_EQ(EMFILE, errno);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	EXPECT_EQ(1, sysfs_num(minor, "readers"));
	x = ioctl(r, BCAST_IOC_OPEN_READER);
	EXPECT_LE(0, x);
	EXPECT_EQ(2, sysfs_num(minor, "readers"));
	close(x);
	close(r);
	EXPECT_EQ(0, ctl_destroy("o-emfile"));
}

/* The last file of a destroyed ring may be a reader made this way. */
TEST(open_reader_keeps_a_destroyed_ring_alive)
{
	struct bcast_ring_hdr *h;
	unsigned minor;
	size_t len;
	int r, x;

	ASSERT_EQ(0, ctl_create("o-last", 64 * KIB, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, ctl_destroy("o-last"));
	EXPECT_EQ(-1, open_ring(minor, O_RDONLY));
	EXPECT_EQ(ENOENT, errno);
	x = ioctl(r, BCAST_IOC_OPEN_READER);
	ASSERT_LE(0, x);
	close(r);
	h = map_ring(x, PROT_READ, &len);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(BCAST_RING_MAGIC, h->magic);
	EXPECT_EQ(POLLHUP, poll_events(x, POLLIN, 0));
	close(x);
	EXPECT_EQ(BCAST_RING_MAGIC, h->magic);	/* the mapping holds it */
	munmap(h, len);
}

TEST_HARNESS_MAIN
