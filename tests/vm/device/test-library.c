// SPDX-License-Identifier: MIT
/*
 * libbcast on device rings (kselftest harness, in the VM with bcast.ko):
 * bcast_wait() reports each departed writer once and then sleeps, using
 * no CPU, until the next writer publishes; a reader's wake-up file is the
 * ring it maps even after its node was destroyed and the minor reused; a
 * writer opened through the library takes no page fault on its first lap;
 * a reader whose membarrier() is forbidden still loses no wake-up; where
 * BCAST_IOC_WAIT is refused as by a module without it, bcast_wait()
 * sleeps in poll() and loses no wake-up either; threads sharing one
 * ring object get one writer; a ring created with an MTU has the geometry
 * a user-space ring of that MTU has; device rings are located, listed and
 * described by their node and sysfs directory.
 */
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"
#include "bcast.h"
#include "waiting.h"
#include "thread-race.h"

struct later {
	const char *name;
	pid_t pid;
};

static void *spawn_later(void *arg)
{
	struct later *l = arg;

	usleep(200000);
	l->pid = spawn_writer(l->name, 3, 0);
	return NULL;
}

TEST(wait_reports_each_departed_writer_once_then_sleeps_until_the_next)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	struct later l = { "libonce", 0 };
	struct bcast_ring *rr;
	struct bcast_reader *rd;
	pthread_t t;
	int status;
	pid_t pid;

	bcast_ring_destroy("libonce");
	/* Not bcast_ring_create(): its caller is the ring's first writer. */
	ASSERT_EQ(0, ctl_create("libonce", o.size, 0, NULL));
	ASSERT_EQ(0, bcast_ring_open("libonce", BCAST_RDONLY, &rr));
	ASSERT_EQ(0, bcast_reader_open(rr, BCAST_FROM_OLDEST, &rd));
	EXPECT_TRUE(sleeps_until_timeout(rd, 300));
	pid = spawn_writer("libonce", 2, 1);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, bcast_wait(rd, 5000));
	EXPECT_EQ(2, drain(rd, NULL));
	EXPECT_EQ(-BCAST_EWRITERGONE, bcast_wait(rd, 5000));
	EXPECT_TRUE(sleeps_until_timeout(rd, 300));
	EXPECT_TRUE(sleeps_until_timeout(rd, 100));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, spawn_later, &l));
	EXPECT_EQ(0, bcast_wait(rd, 10000));
	pthread_join(t, NULL);
	ASSERT_LT(0, l.pid);
	EXPECT_EQ(3, drain(rd, NULL));
	kill(l.pid, SIGKILL);
	waitpid(l.pid, &status, 0);
	EXPECT_EQ(-BCAST_EWRITERGONE, bcast_wait(rd, 5000));
	EXPECT_TRUE(sleeps_until_timeout(rd, 200));
	bcast_reader_close(rd);
	bcast_ring_close(rr);
	EXPECT_EQ(0, bcast_ring_destroy("libonce"));
}

/*
 * A reader opened on a ring whose node was destroyed and whose minor now
 * belongs to another ring: its wake-ups come from the ring it maps.
 */
TEST(a_reader_of_a_destroyed_ring_waits_on_that_ring)
{
	struct bcast_ring_opts o = { .size = 1 << 16 }, o2 = { .size = 1 << 17 };
	struct bcast_ring *old, *other;
	struct bcast_writer *w, *w2;
	struct bcast_reader *rd;
	struct bcast_ring_info info;
	int v;

	bcast_ring_destroy("libold");
	bcast_ring_destroy("libnew");
	ASSERT_EQ(0, bcast_ring_create("libold", &o, &old));
	ASSERT_EQ(0, bcast_writer_open(old, &w));
	ASSERT_EQ(0, bcast_ring_destroy("libold"));
	ASSERT_EQ(0, bcast_ring_create("libnew", &o2, &other));
	ASSERT_EQ(0, bcast_writer_open(other, &w2));
	/* The minor is reused: opening "/dev/bcastN" now gives libnew. */
	ASSERT_EQ(0, bcast_reader_open(old, BCAST_FROM_LATEST, &rd));
	ASSERT_EQ(0, bcast_ring_info(old, &info));
	EXPECT_EQ(1 << 16, info.capacity);
	/* libnew's writer wakes nobody here; libold's does. */
	ASSERT_EQ(0, bcast_publish(w2, "n", 1, 0));
	EXPECT_EQ(-ETIMEDOUT, bcast_wait(rd, 200));
	v = 7;
	ASSERT_EQ(0, bcast_publish(w, &v, sizeof(v), 0));
	EXPECT_EQ(0, bcast_wait(rd, 2000));
	EXPECT_EQ(1, drain(rd, NULL));
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_writer_close(w2);
	bcast_ring_close(old);
	bcast_ring_close(other);
	EXPECT_EQ(0, bcast_ring_destroy("libnew"));
}

/* The writer's first lap over a ring opened through the library: every
 * page was faulted in at open (MAP_POPULATE cannot do it for us). */
TEST(a_writer_takes_no_page_fault_on_its_first_lap)
{
	static const unsigned flags[] = { 0, BCAST_HUGEPAGE };
	unsigned i;

	for (i = 0; i < 2; i++) {
		struct bcast_ring_opts o = { .size = 4 << 20, .flags = flags[i] };
		static unsigned char msg[4000];
		struct bcast_ring_info info;
		struct bcast_writer *w;
		struct bcast_ring *r;
		struct rusage a, b;
		size_t done;

		bcast_ring_destroy("libfaults");
		ASSERT_EQ(0, bcast_ring_create("libfaults", &o, &r));
		ASSERT_EQ(0, bcast_writer_open(r, &w));
		ASSERT_EQ(0, bcast_ring_info(r, &info));
		getrusage(RUSAGE_SELF, &a);
		for (done = 0; done < info.capacity; done += sizeof(msg) + 8)
			ASSERT_EQ(0, bcast_publish(w, msg, sizeof(msg), 0));
		getrusage(RUSAGE_SELF, &b);
		TH_LOG("%s pages: %ld minor faults in the first lap",
		       info.hugepage ? "2 MiB" : "4 KiB",
		       b.ru_minflt - a.ru_minflt);
		EXPECT_EQ(0, b.ru_minflt - a.ru_minflt);
		bcast_writer_close(w);
		bcast_ring_close(r);
		EXPECT_EQ(0, bcast_ring_destroy("libfaults"));
	}
}



/*
 * 2,000 blocking round trips between two device rings, created afresh:
 * this process writes `ping` and reads `pong`; a child, restricted by
 * `restrict_child` first (non-zero: its exit code), answers.  0 when every
 * round trip completed, no wake-up was missed and the child exited 0.
 */
static int ping_a_restricted_child(const char *ping, const char *pong_name,
				   int (*restrict_child)(const char *ping))
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	struct bcast_ring *a, *b;
	uint64_t missed = 0;
	int status, rc;
	pid_t pid;

	bcast_ring_destroy(ping);
	bcast_ring_destroy(pong_name);
	if (bcast_ring_create(ping, &o, &a) ||
	    bcast_ring_create(pong_name, &o, &b))
		return -1;
	bcast_ring_close(a);
	bcast_ring_close(b);
	pid = fork();
	if (!pid) {
		rc = restrict_child(ping);
		if (rc)
			_exit(rc);
		_exit(pong(ping, pong_name, 2000, 1, &missed) || missed);
	}
	if (pid < 0)
		return -2;
	rc = pong(pong_name, ping, 2000, 0, &missed);
	if (waitpid(pid, &status, 0) != pid)
		return -3;
	if (rc || missed)
		return -4;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -5;
}

static int without_membarrier(const char *ping)
{
	(void)ping;
	return forbid_membarrier() ? 9 : 0;
}

TEST(a_reader_whose_membarrier_fails_loses_no_wake_up)
{
	const struct bcast_ring_hdr *h;
	struct bcast_ring_info info;
	struct bcast_ring *look;

	ASSERT_EQ(0, ping_a_restricted_child("mbping", "mbpong",
					     without_membarrier));
	/* The reader of mbping could not call membarrier(): the kernel
	 * said so for it, and its writer went back to fencing. */
	ASSERT_EQ(0, bcast_ring_open("mbping", BCAST_RDONLY, &look));
	ASSERT_EQ(0, bcast_ring_info(look, &info));
	h = (const struct bcast_ring_hdr *)((const char *)info.metadata -
		offsetof(struct bcast_ring_hdr, metadata));
	TH_LOG("reader_flags %#x, writer_flags %#x", h->reader_flags,
	       h->writer_flags);
	EXPECT_TRUE(h->reader_flags & BCAST_READERS_NO_MEMBARRIER);
	EXPECT_FALSE(h->writer_flags & BCAST_WRITER_MEMBARRIER);
	bcast_ring_close(look);
	EXPECT_EQ(0, bcast_ring_destroy("mbping"));
	EXPECT_EQ(0, bcast_ring_destroy("mbpong"));
}

/* The wait ioctl refused as by an older module, and shown to be. */
static int without_wait_ioctl(const char *ping)
{
	struct bcast_wait_arg arg = { .timeout_ns = 0 };
	struct bcast_reader *rd;
	struct bcast_ring *look;

	if (refuse_syscall(SYS_ioctl, BCAST_IOC_WAIT, ENOTTY))
		return 9;
	if (bcast_ring_open(ping, BCAST_RDONLY, &look) ||
	    bcast_reader_open(look, BCAST_FROM_LATEST, &rd))
		return 7;
	if (ioctl(bcast_reader_fd(rd), BCAST_IOC_WAIT, &arg) != -1 ||
	    errno != ENOTTY)
		return 8;
	bcast_reader_close(rd);
	bcast_ring_close(look);
	return 0;
}

/* bcast_wait() on a module that does not know BCAST_IOC_WAIT: poll(). */
TEST(without_the_wait_ioctl_wait_sleeps_in_poll)
{
	ASSERT_EQ(0, ping_a_restricted_child("nwping", "nwpong",
					     without_wait_ioctl));
	EXPECT_EQ(0, bcast_ring_destroy("nwping"));
	EXPECT_EQ(0, bcast_ring_destroy("nwpong"));
}

/* Threads sharing one device ring object: the kernel sees one file, so
 * the library alone must keep them to one writer. */
TEST(one_writer_per_device_ring_object_whatever_the_threads)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	struct bcast_ring *r;

	bcast_ring_destroy("threadrace");
	ASSERT_EQ(0, bcast_ring_create("threadrace", &o, &r));
	EXPECT_EQ(0, race_writer_opens(r, 200));
	bcast_ring_close(r);
	EXPECT_EQ(0, bcast_ring_destroy("threadrace"));
}

/* The header bcast.ko formats, as the library's reader maps it. */
static void device_geometry(struct __test_metadata *_metadata, size_t mtu,
			    uint32_t *got_mtu, uint32_t *got_shift)
{
	struct bcast_ring_opts o = { .size = 1 << 20, .mtu = mtu };
	struct bcast_ring_hdr *h;
	struct bcast_reader *rd;
	struct bcast_ring *r;
	size_t len;

	bcast_ring_destroy("geometry");
	ASSERT_EQ(0, bcast_ring_create("geometry", &o, &r));
	ASSERT_EQ(0, bcast_reader_open(r, 0, &rd));
	h = map_ring(bcast_reader_fd(rd), PROT_READ, &len);
	ASSERT_NE(NULL, h);
	*got_mtu = h->mtu;
	*got_shift = h->chunk_shift;
	munmap(h, len);
	bcast_reader_close(rd);
	bcast_ring_close(r);
	EXPECT_EQ(0, bcast_ring_destroy("geometry"));
}

TEST(a_device_ring_with_an_mtu_steps_its_frontier_by_a_frame_of_it)
{
	/* capacity/256 = 4096 bytes unless a frame of the MTU is smaller */
	static const struct { size_t mtu; uint32_t shift; } cases[] = {
		{ 0, 12 }, { 100, 6 }, { 8, 4 }, { 4080, 11 }, { 4088, 12 },
	};
	uint32_t mtu, shift;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		device_geometry(_metadata, cases[i].mtu, &mtu, &shift);
		EXPECT_EQ(cases[i].mtu ? cases[i].mtu : BCAST_DEFAULT_MTU(1 << 20), mtu);
		EXPECT_EQ(cases[i].shift, shift);
		EXPECT_EQ(bcast_chunk_shift(1 << 20, mtu), shift);
	}
}

struct found {
	const char *name;
	struct bcast_ring_location loc;
	int n;
};

static int find_ring(const struct bcast_ring_location *loc, void *arg)
{
	struct found *f = arg;

	if (!strcmp(loc->name, f->name)) {
		f->loc = *loc;
		f->n++;
	}
	return 0;
}

TEST(device_rings_are_located_listed_and_described)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	struct bcast_ring_location loc, by_node;
	struct found f = { .name = "located" };
	struct bcast_ring_info info;
	struct bcast_ring *r, *r2;
	char name[BCAST_NAME_MAX + 1];
	unsigned minor;

	bcast_ring_destroy("located");
	ASSERT_EQ(0, bcast_ring_create("located", &o, &r));
	ASSERT_EQ(0, bcast_ring_info(r, &info));
	ASSERT_NE(NULL, info.path);
	ASSERT_NE(NULL, info.sysfs);
	EXPECT_EQ(0, strncmp(info.path, "/dev/bcast", 10));
	EXPECT_EQ(0, strcmp(info.sysfs + strlen("/sys/class/bcast/"), info.path + 5));
	ASSERT_EQ(1, sscanf(info.path, "/dev/bcast%u", &minor));
	EXPECT_EQ(0, sysfs_str(minor, "name", name, sizeof(name)));
	EXPECT_STREQ("located", name);
	ASSERT_EQ(0, bcast_ring_locate("located", &loc));
	EXPECT_STREQ("device", loc.backend);
	EXPECT_STREQ("located", loc.name);
	EXPECT_STREQ(info.path, loc.path);
	EXPECT_STREQ(info.sysfs, loc.sysfs);
	ASSERT_EQ(0, bcast_ring_locate(info.path, &by_node));
	EXPECT_STREQ(info.path, by_node.path);
	EXPECT_STREQ(info.sysfs, by_node.sysfs);
	ASSERT_EQ(0, bcast_ring_list(find_ring, &f));
	EXPECT_EQ(1, f.n);
	EXPECT_STREQ("device", f.loc.backend);
	EXPECT_STREQ(info.path, f.loc.path);
	ASSERT_EQ(0, bcast_ring_open(info.path, BCAST_RDONLY, &r2));
	ASSERT_EQ(0, bcast_ring_info(r2, &info));
	EXPECT_STREQ(loc.sysfs, info.sysfs);
	bcast_ring_close(r2);
	bcast_ring_close(r);
	EXPECT_EQ(0, bcast_ring_destroy("located"));
	ASSERT_EQ(0, bcast_ring_locate("located", &loc));
	EXPECT_STREQ("", loc.path);
	EXPECT_EQ(-ENOENT, bcast_ring_open("located", BCAST_RDONLY, &r2));
	f.n = 0;
	ASSERT_EQ(0, bcast_ring_list(find_ring, &f));
	EXPECT_EQ(0, f.n);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';	/* BCAST_NAME_MAX - 1 bytes fit */
	EXPECT_EQ(0, bcast_ring_locate(name + 1, &loc));
	EXPECT_EQ(-EINVAL, bcast_ring_locate(name, &loc));
	/* the module's name rule: bcast.ko would refuse these */
	EXPECT_EQ(-EINVAL, bcast_ring_locate("a b", &loc));
	EXPECT_EQ(-EINVAL, bcast_ring_locate("..", &loc));
	EXPECT_EQ(-EINVAL, bcast_ring_create("a/b", &o, &r2));
}

TEST_HARNESS_MAIN
