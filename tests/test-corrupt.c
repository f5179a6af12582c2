// SPDX-License-Identifier: MIT
/* Never trust the ring: impossible values in shared memory give errors,
 * never a crash, an out-of-bounds access or a loop. */
#include <signal.h>
#include <sys/wait.h>
#include "tap.h"
#include "fixture.h"
#include <linux/bcast.h>

#define CAP 8192

/* A ring holding messages "m0" (type 0) and "m1" (type 1) at positions 0
 * and 16, whose writer has gone, read by a reader from the oldest. */
static int setup(struct ring_fixture *f)
{
	int rc = fixture_open(f, CAP, 0, FIXTURE_WRITER);

	if (rc || (rc = bcast_publish(f->w, "m0", 2, 0)) ||
	    (rc = bcast_publish(f->w, "m1", 2, 1)))
		return rc;
	bcast_writer_close(f->w);
	f->w = NULL;
	return bcast_reader_open(f->r, BCAST_FROM_OLDEST, &f->rd);
}

static void set_frame(struct ring_fixture *f, uint64_t pos, uint32_t len,
		      uint32_t flags, uint32_t word1)
{
	uint32_t w0 = len | flags << BCAST_FRAME_FLAG_SHIFT;

	memcpy(f->data + pos, &w0, 4);
	memcpy(f->data + pos + 4, &word1, 4);
}

/* Every reader entry point, each with a new reader, must report `want`. */
static int all_readers_say(struct ring_fixture *f, int want)
{
	static unsigned char buf[CAP];
	struct bcast_reader *rd[3];
	struct bcast_batch b;
	struct bcast_bulk bulk;
	struct bcast_msg m;
	int i, rc, bad = 0;

	for (i = 0; i < 3; i++)
		if (bcast_reader_open(f->r, BCAST_FROM_OLDEST, &rd[i]))
			return 9;
	if (bcast_receive(rd[0], buf, sizeof(buf), &m) != want &&
	    bcast_receive(rd[0], buf, sizeof(buf), &m) != want)
		bad = 1;
	rc = bcast_batch(rd[1], &b);
	if (rc == 0)
		rc = bcast_batch_next(&b, &m);
	if (!bad && rc != want)
		bad = 2;
	if (!bad && bcast_read_bulk(rd[2], buf, sizeof(buf), &bulk) != want)
		bad = 3;
	for (i = 0; i < 3; i++)
		bcast_reader_close(rd[i]);
	return bad;
}

TEST(frame_longer_than_mtu)
{
	struct ring_fixture f;

	CHECK_OK(setup(&f));
	set_frame(&f, 0, CAP, BCAST_FRAME_FIN, 0);
	CHECK_EQ(all_readers_say(&f, -BCAST_ECORRUPT), 0);
	fixture_close(&f);
}

TEST(unknown_flags)
{
	struct ring_fixture f;

	CHECK_OK(setup(&f));
	set_frame(&f, 0, 2, 0x80 | BCAST_FRAME_FIN, 0);
	CHECK_EQ(all_readers_say(&f, -BCAST_ECORRUPT), 0);
	fixture_close(&f);
}

TEST(padding_that_does_not_end_the_area)
{
	struct ring_fixture f;

	CHECK_OK(setup(&f));
	set_frame(&f, 0, 8, BCAST_FRAME_PAD, 0);
	CHECK_EQ(all_readers_say(&f, -BCAST_ECORRUPT), 0);
	fixture_close(&f);
}

TEST(heartbeat_with_payload)
{
	struct ring_fixture f;

	CHECK_OK(setup(&f));
	set_frame(&f, 0, 2, BCAST_FRAME_HEARTBEAT, 0);
	CHECK_EQ(all_readers_say(&f, -BCAST_ECORRUPT), 0);
	fixture_close(&f);
}

TEST(committed_inside_a_frame)
{
	struct ring_fixture f;

	CHECK_OK(setup(&f));
	f.h->committed = 8;		/* the first frame is 16 bytes */
	CHECK_EQ(all_readers_say(&f, -BCAST_ECORRUPT), 0);
	fixture_close(&f);
}

TEST(committed_going_backwards)
{
	struct ring_fixture f;
	char buf[8];

	CHECK_OK(setup(&f));
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), NULL), 2);
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), NULL), 2);
	f.h->committed = 16;
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), NULL), -BCAST_ECORRUPT);
	fixture_close(&f);
}

TEST(fragment_offset_that_does_not_follow)
{
	struct ring_fixture f;

	CHECK_OK(setup(&f));
	set_frame(&f, 0, 2, 0, 7);			/* first fragment */
	set_frame(&f, 16, 2, BCAST_FRAME_FIN | BCAST_FRAME_CONT, 5);
	CHECK_EQ(all_readers_say(&f, -BCAST_ECORRUPT), 0);
	set_frame(&f, 16, 2, BCAST_FRAME_FIN | BCAST_FRAME_CONT, 0);
	CHECK_EQ(all_readers_say(&f, -BCAST_ECORRUPT), 0);
	fixture_close(&f);
}

TEST(frame_across_the_end_of_the_data_area)
{
	struct ring_fixture f;
	char buf[64];

	CHECK_OK(setup(&f));
	/* Pretend the ring wrapped so a frame sits 8 bytes before the end. */
	f.h->committed = CAP + 16;
	f.h->claimed = CAP + 16;
	set_frame(&f, 0, 2, BCAST_FRAME_FIN, 0);
	{
		struct bcast_reader *rd;

		CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_OLDEST, &rd));
		set_frame(&f, CAP - 8, 16, BCAST_FRAME_FIN, 0);
		/* whatever it finds, it must not read past the area */
		CHECK(bcast_receive(rd, buf, sizeof(buf), NULL) != -EFAULT);
		bcast_reader_close(rd);
	}
	fixture_close(&f);
}

TEST(frontier_far_ahead_means_overrun_not_a_crash)
{
	struct ring_fixture f;
	char buf[8];
	int i, rc = 0;

	CHECK_OK(setup(&f));
	f.h->claimed = 1ULL << 60;
	CHECK_EQ(bcast_receive(f.rd, buf, sizeof(buf), NULL), -BCAST_EOVERRUN);
	for (i = 0; i < 100; i++)
		rc = (int)bcast_receive(f.rd, buf, sizeof(buf), NULL);
	CHECK(rc == -EAGAIN || rc == -BCAST_ECORRUPT);
	CHECK_EQ(bcast_wait(f.rd, 0), -BCAST_EWRITERGONE);
	fixture_close(&f);
}

TEST(writer_refuses_a_ring_committed_past_its_frontier)
{
	struct ring_fixture f;
	struct bcast_writer *w;

	CHECK_OK(setup(&f));
	f.h->committed = f.h->claimed + 64;
	CHECK_EQ(bcast_writer_open(f.r, &w), -BCAST_ECORRUPT);
	fixture_close(&f);
}

/* Fill data[from, to) with heartbeat frames. */
static void heartbeats(unsigned char *data, uint64_t from, uint64_t to)
{
	uint64_t w = (uint64_t)BCAST_FRAME_HEARTBEAT << BCAST_FRAME_FLAG_SHIFT;

	for (; from < to; from += 8)
		memcpy(data + from, &w, 8);
}

/*
 * A fragmented message handed out, then the ring turned into heartbeats
 * with `committed` near 2^62: reading the handle must end (in a child
 * under alarm(), so that a loop fails the test instead of hanging it).
 */
TEST(a_late_fragmented_read_over_a_hostile_ring_ends)
{
	unsigned char msg[200] = { 1 }, buf[200];
	struct ring_fixture f;
	struct bcast_batch b;
	struct bcast_msg m;
	int status;
	pid_t pid;

	CHECK_OK(fixture_open(&f, CAP, 64, FIXTURE_WRITER | FIXTURE_READER));
	CHECK_OK(bcast_publish(f.w, msg, sizeof(msg), 5));
	CHECK_OK(bcast_batch(f.rd, &b));
	CHECK_EQ(bcast_batch_next(&b, &m), 1);
	CHECK(m.flags & BCAST_MSG_FRAGMENTED);
	pid = fork();
	if (!pid) {
		ssize_t n;

		alarm(10);
		heartbeats(f.data, 0, CAP);
		f.h->committed = (1ULL << 62) + CAP;
		f.h->claimed = f.h->committed;
		n = bcast_msg_read(&m, buf, sizeof(buf));
		_exit(n == -BCAST_EOVERRUN || n == -BCAST_ECORRUPT ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	fixture_close(&f);
}

/*
 * A 256 MiB ring of heartbeats whose only sync point is half a ring behind
 * `committed`: no correct writer leaves that much to walk.  Counting and
 * joining at the latest message must refuse it at once, not walk 16
 * million frames (or 16 times that).
 */
TEST(a_walk_longer_than_a_writer_can_leave_is_refused)
{
	const uint64_t cap = 256ULL << 20;
	struct ring_fixture f;
	uint64_t msgs, bytes;
	unsigned i;
	char buf[8];
	int rc;

	CHECK_OK(fixture_open(&f, cap, 0, 0));
	heartbeats(f.data, 0, cap);
	for (i = 0; i < BCAST_SYNC_SLOTS; i++)
		f.h->sync[i].pos = BCAST_SYNC_INVALID;
	f.h->sync[0] = (struct bcast_sync_point){ 4 * cap + cap / 2, 7, 70, 0 };
	f.h->committed = 5 * cap;
	f.h->claimed = 5 * cap;
	CHECK_EQ(bcast_ring_count(f.r, &msgs, &bytes), -BCAST_ECORRUPT);
	CHECK_OK(bcast_reader_open(f.r, BCAST_FROM_LATEST, &f.rd));
	rc = (int)bcast_receive(f.rd, buf, sizeof(buf), NULL);
	CHECK_EQ(rc, -BCAST_ECORRUPT);
	fixture_close(&f);
}

TEST_MAIN()
