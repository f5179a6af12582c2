// SPDX-License-Identifier: MIT
/*
 * The reader registry: which rings have one and how large, registering
 * (BCAST_REGISTER), what bcast_ring_readers() reports of each reader,
 * slots of dead readers, and the errors.
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include "tap.h"
#include "fixture.h"
#include "payload.h"

/* What bcast_ring_readers() saw. */
struct seen {
	unsigned n;
	struct bcast_reader_entry e[8];
};

static int collect(const struct bcast_reader_entry *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->e[s->n] = *e;
	s->n++;
	return 0;
}

static int stop_at_first(const struct bcast_reader_entry *e, void *arg)
{
	return 42;
}

TEST(which_rings_have_a_registry)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	struct bcast_ring_info info;
	struct bcast_ring *r;
	size_t len = BCAST_RING_SIZE(1 << 16, 16, BCAST_SLOT_SIZE);
	void *mem = ring_memory(len);

	CHECK(mem);
	/* shm: 1024 slots unless told */
	r = shm_ring_new(shm_name("reg-default"), 1 << 16, 0);
	CHECK(r);
	bcast_ring_destroy(shm_name("reg-default"));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.reader_slots, BCAST_DEFAULT_READER_SLOTS);
	CHECK_EQ(info.gated, 0);
	CHECK_EQ(info.map_size, BCAST_RING_SIZE(1 << 16, 1024, BCAST_SLOT_SIZE));
	bcast_ring_close(r);
	/* memory handed to us: none unless asked for, then from `len` */
	CHECK_OK(bcast_ring_format(mem, len, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.reader_slots, 0);
	bcast_ring_close(r);
	o.flags = BCAST_READER_SLOTS;
	o.reader_slots = 16;
	CHECK_OK(bcast_ring_format(mem, len, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.reader_slots, 16);
	bcast_ring_close(r);
	o.reader_slots = 17;		/* does not fit beside 64 KiB of data */
	CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
	o.size = 0;			/* the largest data area that fits */
	CHECK_OK(bcast_ring_format(mem, len, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.capacity, 1 << 15);
	CHECK_EQ(info.reader_slots, 17);
	bcast_ring_close(r);
	/* options that make no sense */
	o.size = 1 << 16;
	o.reader_slots = BCAST_MAX_READER_SLOTS + 1;
	CHECK_EQ(bcast_ring_create(shm_name("reg-bad"), &o, &r), -EINVAL);
	o.flags = BCAST_READER_SLOTS | BCAST_GATED;
	o.reader_slots = 0;		/* gated needs registered readers */
	CHECK_EQ(bcast_ring_create(shm_name("reg-bad"), &o, &r), -EINVAL);
	o.flags = BCAST_EVICT;		/* a policy for a lossy ring */
	o.evict_bytes = 4096;
	CHECK_EQ(bcast_ring_create(shm_name("reg-bad"), &o, &r), -EINVAL);
	/* Gated memory without BCAST_READER_SLOTS has no slots: refused as
	 * bad options, before the memory is written. */
	memset(mem, 0x5a, len);
	o.flags = BCAST_GATED;
	CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
	CHECK_EQ(((unsigned char *)mem)[0], 0x5a);
	CHECK_EQ(((unsigned char *)mem)[len - 1], 0x5a);
	free(mem);
}

TEST(registered_readers_are_listed_with_their_lag)
{
	struct bcast_ring *r = shm_ring_new(shm_name("reg-list"), 1 << 16, 0);
	struct bcast_reader *a, *b, *plain;
	struct bcast_writer *w;
	struct seen s = { 0 };
	unsigned char buf[64];
	struct timespec now;
	int i;

	CHECK(r);
	bcast_ring_destroy(shm_name("reg-list"));
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &a));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST, &plain));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST | BCAST_REGISTER, &b));
	for (i = 0; i < 10; i++) {
		payload_fill(buf, 40, (uint64_t)i);
		CHECK_OK(bcast_publish(w, buf, 40, (uint32_t)i));
	}
	for (i = 0; i < 3; i++)
		CHECK_EQ(bcast_receive(a, buf, sizeof(buf), NULL), 40);
	for (i = 0; i < 10; i++)
		CHECK_EQ(bcast_receive(b, buf, sizeof(buf), NULL), 40);
	CHECK_EQ(bcast_receive(b, buf, sizeof(buf), NULL), -EAGAIN);
	CHECK_OK(bcast_ring_readers(r, collect, &s));
	CHECK_EQ(s.n, 2);		/* the unregistered one is not there */
	CHECK_EQ(s.e[0].slot, 0);
	CHECK_EQ(s.e[1].slot, 1);
	CHECK_EQ(s.e[0].pid, getpid());
	CHECK_EQ(s.e[0].alive, 1);
	CHECK_EQ(s.e[0].joined, 1);
	CHECK_EQ(s.e[0].position, 3 * 48);
	CHECK_EQ(s.e[0].lag_bytes, 7 * 48);
	CHECK_EQ(s.e[0].lag_messages, 7);
	CHECK_EQ(s.e[1].lag_bytes, 0);
	CHECK_EQ(s.e[1].lag_messages, 0);
	clock_gettime(CLOCK_REALTIME, &now);
	CHECK(s.e[1].active_ns > (int64_t)now.tv_sec * 1000000000 - 5000000000LL);
	CHECK_EQ(bcast_ring_readers(r, stop_at_first, NULL), 42);
	CHECK_EQ(bcast_ring_readers(NULL, collect, &s), -EINVAL);
	CHECK_EQ(bcast_ring_readers(r, NULL, &s), -EINVAL);
	/* Closed: gone from the list, its slot free for the next. */
	bcast_reader_close(a);
	s.n = 0;
	CHECK_OK(bcast_ring_readers(r, collect, &s));
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.e[0].slot, 1);
	CHECK_OK(bcast_reader_open(r, BCAST_REGISTER, &a));
	s.n = 0;
	CHECK_OK(bcast_ring_readers(r, collect, &s));
	CHECK_EQ(s.n, 2);
	CHECK_EQ(s.e[0].slot, 0);
	CHECK_EQ(s.e[0].lag_messages, 0);	/* joined at the newest */
	bcast_reader_close(a);
	bcast_reader_close(b);
	bcast_reader_close(plain);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

TEST(registering_fails_clearly)
{
	struct bcast_ring_opts o = { .size = 1 << 16, .flags = BCAST_READER_SLOTS,
				     .reader_slots = 2 };
	struct bcast_reader *rd[3];
	struct bcast_ring *r;
	struct ring_fixture f;

	/* memory ring without a registry */
	CHECK_OK(fixture_open(&f, 1 << 16, 0, 0));
	CHECK_EQ(bcast_reader_open(f.r, BCAST_REGISTER, &rd[0]), -EOPNOTSUPP);
	fixture_close(&f);
	/* every slot taken by a live reader */
	bcast_ring_destroy(shm_name("reg-full"));
	CHECK_OK(bcast_ring_create(shm_name("reg-full"), &o, &r));
	bcast_ring_destroy(shm_name("reg-full"));
	CHECK_OK(bcast_reader_open(r, BCAST_REGISTER, &rd[0]));
	CHECK_OK(bcast_reader_open(r, BCAST_REGISTER, &rd[1]));
	CHECK_EQ(bcast_reader_open(r, BCAST_REGISTER, &rd[2]), -ENOSPC);
	/* unregistered readers are not limited by the registry */
	CHECK_OK(bcast_reader_open(r, 0, &rd[2]));
	bcast_reader_close(rd[2]);
	bcast_reader_close(rd[1]);
	CHECK_OK(bcast_reader_open(r, BCAST_REGISTER, &rd[1]));
	bcast_reader_close(rd[1]);
	bcast_reader_close(rd[0]);
	bcast_ring_close(r);
}

/* A reader killed in its slot: listed dead, and its slot taken over. */
TEST(dead_readers_slots_are_reported_and_reused)
{
	struct bcast_ring_opts o = { .size = 1 << 16, .flags = BCAST_READER_SLOTS,
				     .reader_slots = 1 };
	struct bcast_reader *rd;
	struct seen s = { 0 };
	struct bcast_ring *r;
	int ready[2];
	pid_t pid;
	char c;

	bcast_ring_destroy(shm_name("reg-dead"));
	CHECK_OK(bcast_ring_create(shm_name("reg-dead"), &o, &r));
	bcast_ring_destroy(shm_name("reg-dead"));
	CHECK_EQ(pipe(ready), 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		alarm(60);
		if (bcast_reader_open(r, BCAST_REGISTER, &rd) ||
		    write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	CHECK(pid > 0);
	CHECK_EQ(read(ready[0], &c, 1), 1);
	CHECK_EQ(bcast_reader_open(r, BCAST_REGISTER, &rd), -ENOSPC);
	CHECK_OK(bcast_ring_readers(r, collect, &s));
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.e[0].pid, pid);
	CHECK_EQ(s.e[0].alive, 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	s.n = 0;
	CHECK_OK(bcast_ring_readers(r, collect, &s));
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.e[0].alive, 0);
	CHECK_OK(bcast_reader_open(r, BCAST_REGISTER, &rd));
	s.n = 0;
	CHECK_OK(bcast_ring_readers(r, collect, &s));
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.e[0].pid, getpid());
	CHECK_EQ(s.e[0].alive, 1);
	bcast_reader_close(rd);
	close(ready[0]);
	close(ready[1]);
	bcast_ring_close(r);
}

TEST_MAIN()
