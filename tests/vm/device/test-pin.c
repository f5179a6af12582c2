// SPDX-License-Identifier: MIT
/*
 * Ring pages can never be pinned (issue 8 point 10).  From a reader's and
 * from the writer's mapping of a hugepage ring and of a 4 KiB-page ring:
 * vmsplice() into a pipe, O_DIRECT read() into and write() from the
 * mapping (on a brd ramdisk, /dev/ram0), io_uring buffer registration and
 * process_vm_readv() with the mapping as the remote source.  Each must
 * fail with EFAULT (process_vm_readv may instead copy the right bytes,
 * which keeps nothing); after the ring is destroyed, closed and unmapped,
 * its memory must be back (MemFree and the per-CPU lists) and the pipe
 * must hold none of its bytes.  On 6.1, a PFNMAP PMD is a normal huge page to lockless GUP:
 * vmsplice took references that kept 2 MiB ring pages alive.
 */
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include "kselftest_harness.h"
#include "common.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define CAPACITY (8 * MIB)
#define CHUNK (64 * KIB)
#define MAX_BLOCKS 16
#define RAMDISK "/dev/ram0"

static unsigned char pattern(size_t off)
{
	return (unsigned char)(0xa5 ^ (off >> 12) ^ off);
}

FIXTURE(pin) {
	unsigned minor;
	int w, r;
	unsigned char *wm, *rm, *target;
	size_t len;
	long free0;
	int up;
};

FIXTURE_VARIANT(pin) {
	int huge;
	int writer_side;
};

FIXTURE_VARIANT_ADD(pin, huge_writer) { .huge = 1, .writer_side = 1 };
FIXTURE_VARIANT_ADD(pin, huge_reader) { .huge = 1, .writer_side = 0 };
FIXTURE_VARIANT_ADD(pin, small_writer) { .huge = 0, .writer_side = 1 };
FIXTURE_VARIANT_ADD(pin, small_reader) { .huge = 0, .writer_side = 0 };

FIXTURE_SETUP(pin)
{
	size_t off;

	self->free0 = free_memory_kb();
	ctl_destroy("pin");
	ASSERT_EQ(0, ctl_create("pin", CAPACITY,
				variant->huge ? BCAST_RING_HUGEPAGE : 0,
				&self->minor));
	self->up = 1;
	TH_LOG("%s pages, %s mapping",
	       sysfs_num(self->minor, "hugepage") == 1 ? "2 MiB" : "4 KiB",
	       variant->writer_side ? "the writer's" : "a reader's");
	self->w = open_ring(self->minor, O_RDWR);
	self->r = open_ring(self->minor, O_RDONLY);
	ASSERT_LE(0, self->w);
	ASSERT_LE(0, self->r);
	self->wm = (unsigned char *)map_ring(self->w, PROT_READ | PROT_WRITE,
					    &self->len);
	ASSERT_NE(NULL, self->wm);
	self->rm = (unsigned char *)map_ring(self->r, PROT_READ, &self->len);
	ASSERT_NE(NULL, self->rm);
	for (off = BCAST_HDR_SIZE; off < self->len; off++)
		self->wm[off] = pattern(off);
	for (off = 0; off < self->len; off += 4096)
		(void)*(volatile unsigned char *)(self->rm + off);
	self->target = variant->writer_side ? self->wm : self->rm;
}

/* Destroy, close, unmap: the ring's memory must be free afterwards. */
static long ring_teardown(FIXTURE_DATA(pin) *self)
{
	if (!self->up)
		return free_memory_kb();
	self->up = 0;
	munmap(self->wm, self->len);
	munmap(self->rm, self->len);
	close(self->w);
	close(self->r);
	ctl_destroy("pin");
	return free_memory_kb();
}

FIXTURE_TEARDOWN(pin)
{
	ring_teardown(self);
}

/* One 4 KiB iovec in every 2 MiB block of the mapping past the header. */
static int block_iovs(FIXTURE_DATA(pin) *self, struct iovec *iov)
{
	size_t off;
	int n = 0;

	for (off = 2 * MIB; off + 4096 <= self->len && n < MAX_BLOCKS;
	     off += 2 * MIB) {
		iov[n].iov_base = self->target + off;
		iov[n].iov_len = 4096;
		n++;
	}
	return n;
}

/* After teardown: the memory is back (two pinned 2 MiB blocks are missed). */
#define EXPECT_RING_FREED(self) do {					\
	long free1 = ring_teardown(self);				\
	TH_LOG("free before the ring %ld kB, after it went %ld kB",	\
	       (self)->free0, free1);					\
	EXPECT_LT((self)->free0 - 4096, free1);				\
} while (0)

TEST_F(pin, vmsplice_into_a_pipe)
{
	struct iovec iov[MAX_BLOCKS];
	unsigned char buf[4096];
	int p[2], n = block_iovs(self, iov);
	ssize_t rc;

	ASSERT_LT(0, n);
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	rc = vmsplice(p[1], iov, n, 0);
	TH_LOG("vmsplice of %d blocks: %zd (%s)", n, rc,
	       rc < 0 ? strerror(errno) : "took the pages");
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_RING_FREED(self);
	/* Nothing of the ring may come out of the pipe now. */
	rc = read(p[0], buf, sizeof(buf));
	if (rc > 0) {
		size_t i, same = 0;

		for (i = 0; i < (size_t)rc; i++)
			same += buf[i] == pattern(2 * MIB + i);
		TH_LOG("the pipe returned %zd bytes after the ring went, %zu of them the ring's",
		       rc, same);
	}
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EAGAIN, errno);
	close(p[0]);
	close(p[1]);
}

/* /dev/ram0 from brd (tests/vm/check-vm.sh adds /opt/brd.ko). */
static int open_ramdisk(void)
{
	int fd;

	if (access(RAMDISK, F_OK) &&
	    system("insmod /opt/brd.ko rd_nr=1 rd_size=4096 2>/dev/null"))
		return -ENODEV;
	fd = open(RAMDISK, O_RDWR | O_DIRECT | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

TEST_F(pin, o_direct_read_into_and_write_from_the_mapping)
{
	unsigned char *target = self->target + 2 * MIB;
	unsigned char *ok;
	int fd = open_ramdisk();
	ssize_t rc;

	if (fd < 0)
		SKIP(return, "no block device for O_DIRECT (%s): %s", RAMDISK,
		     strerror(-fd));
	/* An anonymous buffer works: the device does O_DIRECT. */
	ok = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ok);
	memset(ok, 0x3c, CHUNK);
	ASSERT_EQ((ssize_t)CHUNK, pwrite(fd, ok, CHUNK, 0));
	/* The ring as the source of a write. */
	rc = pwrite(fd, target, CHUNK, 0);
	TH_LOG("O_DIRECT write from the ring: %zd (%s)", rc,
	       rc < 0 ? strerror(errno) : "pinned the pages");
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EFAULT, errno);
	/* The ring as the destination of a read. */
	rc = pread(fd, target, CHUNK, 0);
	TH_LOG("O_DIRECT read into the ring: %zd (%s)", rc,
	       rc < 0 ? strerror(errno) : "pinned the pages");
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(pattern(2 * MIB), self->wm[2 * MIB]);	/* not overwritten */
	munmap(ok, CHUNK);
	close(fd);
	EXPECT_RING_FREED(self);
}

TEST_F(pin, io_uring_buffer_registration)
{
	struct io_uring_params params;
	struct iovec iov[MAX_BLOCKS];
	int ring, n = block_iovs(self, iov);
	long rc;

	memset(&params, 0, sizeof(params));
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		SKIP(return, "io_uring_setup: %s", strerror(errno));
	rc = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		     iov, n);
	TH_LOG("IORING_REGISTER_BUFFERS of %d blocks: %ld (%s)", n, rc,
	       rc < 0 ? strerror(errno) : "pinned the pages");
	EXPECT_EQ(-1, rc);
	EXPECT_TRUE(errno == EFAULT || errno == EOPNOTSUPP);
	/* The registration (if any) is still held while the ring goes. */
	EXPECT_RING_FREED(self);
	close(ring);
}

TEST_F(pin, process_vm_readv_source)
{
	struct iovec local, remote;
	unsigned char *buf = malloc(CHUNK);
	size_t i, bad = 0;
	ssize_t rc;

	ASSERT_NE(NULL, buf);
	memset(buf, 0, CHUNK);
	local.iov_base = buf;
	local.iov_len = CHUNK;
	remote.iov_base = self->target + 2 * MIB;
	remote.iov_len = CHUNK;
	rc = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	TH_LOG("process_vm_readv from the ring: %zd (%s)", rc,
	       rc < 0 ? strerror(errno) : "copied");
	if (rc < 0) {
		EXPECT_EQ(EFAULT, errno);
	} else {
		/* A copy is fine if it is right: nothing is kept. */
		EXPECT_EQ((ssize_t)CHUNK, rc);
		for (i = 0; i < CHUNK; i++)
			bad += buf[i] != pattern(2 * MIB + i);
		EXPECT_EQ(0, bad);
	}
	free(buf);
	EXPECT_RING_FREED(self);
}

TEST_HARNESS_MAIN
