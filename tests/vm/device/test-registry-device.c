// SPDX-License-Identifier: MIT
/*
 * The reader registry of bcast.ko rings: BCAST_IOC_REGISTER's slot file is
 * a reader's only writable page of the ring, freed when the file goes
 * (death included); the gated writer's BCAST_IOC_GATE_WAIT and the
 * readers' BCAST_IOC_GATE_NOTIFY; sysfs reader_slots, gated, registry.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define KIB 1024ULL
#define CAP (64 * KIB)
#define PAGE 4096

static int create_slots(const char *name, unsigned flags, unsigned slots,
			unsigned *minor)
{
	struct bcast_ctl_create req;
	int rc;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	req.size = CAP;
	req.flags = flags;
	req.mode = 0666;
	req.reader_slots = slots;
	rc = ctl_request(BCAST_CTL_CREATE, &req);
	if (!rc && minor)
		*minor = req.minor;
	return rc;
}

static int do_register(int fd, unsigned *slot)
{
	struct bcast_register reg = { 0, 0 };
	int sfd = ioctl(fd, BCAST_IOC_REGISTER, &reg);

	if (sfd >= 0 && slot)
		*slot = reg.slot;
	return sfd;
}

static struct bcast_reader_slot *slot_in(struct bcast_ring_hdr *h, unsigned i)
{
	return (struct bcast_reader_slot *)((unsigned char *)h +
					    BCAST_MAP_SIZE(CAP) + i * PAGE);
}

/* Registered readers sysfs lists (lines of `registry`), -1 unreadable. */
static int registry_lines(unsigned minor, int *first_pid)
{
	char path[128], line[512];
	int n = 0, slot, pid;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/bcast/bcast%u/registry", minor);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%d %d", &slot, &pid) == 2 && !n++ && first_pid)
			*first_pid = pid;
	if (ferror(f))
		n = -1;		/* -EACCES from read() */
	fclose(f);
	return n;
}

TEST(register_gives_one_writable_page_and_nothing_more)
{
	struct bcast_ring_hdr *h;
	struct bcast_reader_slot *mine;
	unsigned minor, slot = 99, slot2 = 99;
	struct bcast_register bad = { 0, 1 };
	size_t len;
	int w, r, sfd, sfd2;
	void *p;

	ASSERT_EQ(0, create_slots("rg-page", 0, 4, &minor));
	EXPECT_EQ(4, sysfs_num(minor, "reader_slots"));
	EXPECT_EQ(0, sysfs_num(minor, "gated"));
	w = open_ring(minor, O_RDWR);
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, w);
	ASSERT_LE(0, r);
	h = map_ring(r, PROT_READ, &len);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(4, h->reader_slots);
	EXPECT_EQ(BCAST_DEVICE_SLOT_SIZE, h->slot_size);
	EXPECT_LE(BCAST_RING_SIZE(CAP, 4, PAGE), len);
	/* The writer's file registers nothing; unknown bits are refused. */
	EXPECT_EQ(-1, ioctl(w, BCAST_IOC_REGISTER, &bad));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(r, BCAST_IOC_REGISTER, &bad));
	EXPECT_EQ(EINVAL, errno);

	sfd = do_register(r, &slot);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(0, slot);
	EXPECT_EQ(FD_CLOEXEC, fcntl(sfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(sfd, F_GETFL) & O_ACCMODE);
	EXPECT_NE(0, slot_in(h, 0)->owner);
	EXPECT_EQ((unsigned)getpid(), slot_in(h, 0)->pid);
	EXPECT_EQ(1, h->registry_high);
	/* One page at offset 0, shared, never executable. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
				   MAP_SHARED, sfd, 0));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				   MAP_SHARED, sfd, PAGE));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE, sfd, 0));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_EXEC,
				   MAP_SHARED, sfd, 0));
	mine = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	ASSERT_NE(MAP_FAILED, mine);
	EXPECT_EQ(-1, mprotect(mine, PAGE, PROT_READ | PROT_EXEC));
	mine->position = 1234;
	EXPECT_EQ(1234, slot_in(h, 0)->position);	/* the same page */
	/* The ring's mapping stays read-only, registry included. */
	EXPECT_EQ(-1, mprotect(slot_in(h, 0), PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(-1, mprotect(h, len, PROT_READ | PROT_WRITE));

	/* The next reader gets the next slot; its file gone, the slot is
	 * free again. */
	sfd2 = do_register(r, &slot2);
	ASSERT_LE(0, sfd2);
	EXPECT_EQ(1, slot2);
	EXPECT_EQ(2, registry_lines(minor, NULL));
	close(sfd2);
	EXPECT_EQ(0, slot_in(h, 1)->owner);
	EXPECT_EQ(1, registry_lines(minor, NULL));
	/* The writer may write a reader's page (its eviction record). */
	p = map_ring(w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, p);
	slot_in(p, 0)->evictions = 7;
	EXPECT_EQ(7, mine->evictions);
	munmap(p, len);
	munmap(mine, PAGE);
	close(sfd);
	EXPECT_EQ(0, registry_lines(minor, NULL));
	munmap(h, len);
	close(r);
	close(w);
	EXPECT_EQ(0, ctl_destroy("rg-page"));
}

TEST(registering_fails_clearly)
{
	unsigned minor;
	int r, fds[3], i;

	/* No slots: nothing to register in. */
	ASSERT_EQ(0, create_slots("rg-none", 0, 0, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	EXPECT_EQ(-1, do_register(r, NULL));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(r);
	EXPECT_EQ(0, ctl_destroy("rg-none"));
	/* Every slot taken. */
	ASSERT_EQ(0, create_slots("rg-full", 0, 2, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	for (i = 0; i < 2; i++) {
		fds[i] = do_register(r, NULL);
		ASSERT_LE(0, fds[i]);
	}
	EXPECT_EQ(-1, do_register(r, NULL));
	EXPECT_EQ(ENOSPC, errno);
	close(fds[0]);
	fds[2] = do_register(r, NULL);
	EXPECT_LE(0, fds[2]);
	close(fds[1]);
	close(fds[2]);
	close(r);
	EXPECT_EQ(0, ctl_destroy("rg-full"));
	/* Creation: a gated ring needs slots; at most 65536. */
	EXPECT_EQ(-EINVAL, create_slots("rg-bad", BCAST_RING_GATED, 0, NULL));
	EXPECT_EQ(-EINVAL, create_slots("rg-bad", 0, BCAST_MAX_READER_SLOTS + 1,
					NULL));
	ASSERT_EQ(0, create_slots("rg-gated", BCAST_RING_GATED, 1, &minor));
	EXPECT_EQ(1, sysfs_num(minor, "gated"));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	{
		size_t len;
		struct bcast_ring_hdr *h = map_ring(r, PROT_READ, &len);

		ASSERT_NE(NULL, h);
		EXPECT_TRUE(h->flags & BCAST_RING_GATED);
		munmap(h, len);
	}
	close(r);
	EXPECT_EQ(0, ctl_destroy("rg-gated"));
}

TEST(a_dead_readers_slot_is_freed_at_once)
{
	struct bcast_ring_hdr *h;
	int r, ready[2], pid = 0, sfd;
	unsigned minor, slot = 99;
	pid_t child;
	size_t len;
	char c;

	ASSERT_EQ(0, create_slots("rg-dead", 0, 1, &minor));
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, r);
	h = map_ring(r, PROT_READ, &len);
	ASSERT_NE(NULL, h);
	ASSERT_EQ(0, pipe(ready));
	child = fork();
	if (child == 0) {
		int fd = open_ring(minor, O_RDONLY);
		int s = fd < 0 ? -1 : do_register(fd, NULL);
		struct bcast_reader_slot *p = s < 0 ? MAP_FAILED :
			mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);

		if (p == MAP_FAILED)
			_exit(1);
		p->position = 77;
		close(s);	/* the mapping holds the slot */
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	ASSERT_LT(0, child);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	EXPECT_EQ(1, registry_lines(minor, &pid));
	EXPECT_EQ(child, pid);
	EXPECT_EQ(77, slot_in(h, 0)->position);
	EXPECT_EQ(-1, do_register(r, NULL));
	EXPECT_EQ(ENOSPC, errno);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* Released with the process: no liveness check needed. */
	EXPECT_EQ(0, slot_in(h, 0)->owner);
	EXPECT_EQ(0, slot_in(h, 0)->joined);
	EXPECT_EQ(0, registry_lines(minor, NULL));
	sfd = do_register(r, &slot);
	EXPECT_LE(0, sfd);
	EXPECT_EQ(0, slot);
	EXPECT_EQ(0, slot_in(h, 0)->position);	/* zeroed for the next */
	close(sfd);
	munmap(h, len);
	close(r);
	close(ready[0]);
	close(ready[1]);
	EXPECT_EQ(0, ctl_destroy("rg-dead"));
}

struct gate_waiter {
	int fd;
	unsigned seq;
	long long timeout_ns;
	int rc, err;
	double done;
};

static void *gate_wait_thread(void *arg)
{
	struct gate_waiter *g = arg;
	struct bcast_gate_wait gw = { g->seq, 0, g->timeout_ns };

	g->rc = ioctl(g->fd, BCAST_IOC_GATE_WAIT, &gw);
	g->err = errno;
	g->done = now_s();
	return NULL;
}

TEST(gate_wait_sleeps_until_a_reader_notifies_or_leaves)
{
	struct bcast_gate_wait gw = { 0, 1, 0 };
	struct gate_waiter g;
	struct bcast_ring_hdr *h;
	unsigned minor;
	pthread_t t;
	double t0;
	size_t len;
	int w, r, sfd;

	ASSERT_EQ(0, create_slots("rg-gate", BCAST_RING_GATED, 2, &minor));
	w = open_ring(minor, O_RDWR);
	r = open_ring(minor, O_RDONLY);
	ASSERT_LE(0, w);
	ASSERT_LE(0, r);
	h = map_ring(w, PROT_READ | PROT_WRITE, &len);
	ASSERT_NE(NULL, h);
	/* Writer only; reserved must be 0. */
	EXPECT_EQ(-1, ioctl(r, BCAST_IOC_GATE_WAIT, &gw));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(w, BCAST_IOC_GATE_WAIT, &gw));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(w, BCAST_IOC_GATE_NOTIFY));
	EXPECT_EQ(EPERM, errno);
	/* A sequence that moved already: at once. */
	gw = (struct bcast_gate_wait){ h->gate_seq + 1, 0, -1 };
	EXPECT_EQ(0, ioctl(w, BCAST_IOC_GATE_WAIT, &gw));
	/* Nobody notifies: the timeout. */
	gw = (struct bcast_gate_wait){ h->gate_seq, 0, 20000000 };
	t0 = now_s();
	EXPECT_EQ(-1, ioctl(w, BCAST_IOC_GATE_WAIT, &gw));
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_LE(0.019, now_s() - t0);
	/* Not asked: a reader's notify does nothing. */
	EXPECT_EQ(0, ioctl(r, BCAST_IOC_GATE_NOTIFY));
	/* Asked: the first notify wakes it and takes the request. */
	g = (struct gate_waiter){ w, h->gate_seq, 5000000000LL, 0, 0, 0 };
	h->gate_need_wakeup = 1;
	ASSERT_EQ(0, pthread_create(&t, NULL, gate_wait_thread, &g));
	usleep(20000);
	EXPECT_EQ(0, g.done);
	t0 = now_s();
	EXPECT_EQ(1, ioctl(r, BCAST_IOC_GATE_NOTIFY));
	pthread_join(t, NULL);
	EXPECT_EQ(0, g.rc);
	EXPECT_GT(1.0, g.done - t0);
	EXPECT_EQ(0, h->gate_need_wakeup);
	EXPECT_EQ(0, ioctl(r, BCAST_IOC_GATE_NOTIFY));
	/* A registered reader that leaves wakes a writer that asked. */
	sfd = do_register(r, NULL);
	ASSERT_LE(0, sfd);
	g = (struct gate_waiter){ w, h->gate_seq, 5000000000LL, 0, 0, 0 };
	h->gate_need_wakeup = 1;
	ASSERT_EQ(0, pthread_create(&t, NULL, gate_wait_thread, &g));
	usleep(20000);
	EXPECT_EQ(0, g.done);
	t0 = now_s();
	close(sfd);
	pthread_join(t, NULL);
	EXPECT_EQ(0, g.rc);
	EXPECT_GT(1.0, g.done - t0);
	/* SLOT_JOINED bumps registry_gen by one each time. */
	sfd = do_register(r, NULL);
	ASSERT_LE(0, sfd);
	{
		unsigned gen = h->registry_gen;

		EXPECT_EQ(0, ioctl(sfd, BCAST_IOC_SLOT_JOINED));
		EXPECT_EQ(0, ioctl(sfd, BCAST_IOC_SLOT_JOINED));
		EXPECT_EQ(gen + 2, h->registry_gen);
	}
	EXPECT_EQ(-1, ioctl(sfd, BCAST_IOC_ARM, NULL));
	EXPECT_EQ(ENOTTY, errno);
	close(sfd);
	munmap(h, len);
	close(r);
	close(w);
	EXPECT_EQ(0, ctl_destroy("rg-gate"));
}

/* sysfs registry: only for those who may read the node. */
TEST(registry_attribute_is_private)
{
	struct bcast_ctl_create req;
	int status, r, sfd;
	pid_t child;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "rg-private");
	req.size = CAP;
	req.mode = 0600;
	req.reader_slots = 1;
	ASSERT_EQ(0, ctl_request(BCAST_CTL_CREATE, &req));
	r = open_ring(req.minor, O_RDONLY);
	ASSERT_LE(0, r);
	sfd = do_register(r, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(1, registry_lines(req.minor, NULL));
	child = fork();
	if (child == 0) {
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(2);
		_exit(registry_lines(req.minor, NULL) == -1 &&
		      sysfs_num(req.minor, "reader_slots") == -1 ? 0 : 1);
	}
	ASSERT_LT(0, child);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sfd);
	close(r);
	EXPECT_EQ(0, ctl_destroy("rg-private"));
}

TEST_HARNESS_MAIN
