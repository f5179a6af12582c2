// SPDX-License-Identifier: MIT
/*
 * Writer crashes.  Round after round a writer process opens the ring, takes
 * over from the dead previous writer and publishes messages of random size
 * (many fragmented, some in deferred bursts made visible by bcast_flush())
 * until the parent SIGKILLs it at a random moment.  One reader process
 * reads all along with bcast_receive() and must
 *
 *   - never be handed a torn or partial message: every byte and the length
 *     of every message are checked;
 *   - see sequence numbers and ring positions strictly increase;
 *   - get, for every round, exactly a prefix of what that writer published:
 *     at least every message whose bcast_publish() / bcast_flush() had
 *     returned (the writer records that in shared memory), nothing the
 *     writer had not started, and no hole;
 *   - never be lapped (the writers pace themselves on its position).
 *
 * The parent checks that writer_epoch grows by one per writer and that
 * `committed` never goes backwards.
 *
 * A second test kills a writer in the middle of a large fragmented message
 * and checks that receive, batch and bulk readers all learn that the writer
 * is gone (-BCAST_EWRITERGONE) instead of waiting for the rest forever.
 *
 * Environment: BCAST_CRASH_ROUNDS (1000), BCAST_CRASH_MAX_DELAY_US (2000),
 * BCAST_CRASH_SEED (random), BCAST_CRASH_RING (4 MiB), BCAST_CRASH_MTU
 * (1024), BCAST_CRASH_TIMEOUT (300 s).
 */
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include "tap.h"
#include "clock.h"
#include "env.h"
#include "failure.h"
#include "fixture.h"
#include "payload.h"
#include "random.h"
#include "reading.h"
#include "sequence.h"

#define STRIDE		1000000ULL	/* sequence numbers per round */
#define FINAL_MSGS	10		/* published by a clean last writer */

#define ld_acq(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define st_rel(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

static uint64_t rng_state;

/* ---- the messages: length and bytes are functions of the sequence ---- */

static size_t mtu;

static size_t msg_len(uint64_t seq)
{
	uint64_t h = mix64(seq * 0x9e3779b97f4a7c15ULL + 0x77);

	/* half of them up to the MTU, half fragmented up to 4 frames */
	if (h & 1)
		return (size_t)((h >> 1) % (mtu + 1));
	return mtu + 1 + (size_t)((h >> 1) % (3 * mtu));
}

/* Ring bytes taken by a message of `len` bytes (without padding). */
static uint64_t ring_bytes(size_t len)
{
	uint64_t total = 0;

	do {
		size_t frag = len < mtu ? len : mtu;

		total += 8 + ((frag + 7) & ~(size_t)7);
		len -= frag;
	} while (len);
	return total;
}

/* ---- state shared by the parent, the writers and the reader ---- */

struct round_rec {
	uint64_t attempted;	/* writer: messages it began to publish */
	uint64_t committed;	/* writer: messages whose publish/flush returned */
	uint64_t epoch;		/* writer: writer_epoch once open */
	uint64_t open_pos;	/* writer: `committed` position once open */
	uint32_t opened;	/* writer: bcast_writer_open() returned */
	uint64_t delivered;	/* reader: messages of this round delivered */
};

struct shared {
	uint64_t reader_pos;	/* pacing: the reader's ring position */
	uint32_t reader_ready;
	uint32_t done;		/* parent: no more writers */
	struct failure reader;	/* the reader's first failure */
	struct failure writer;	/* a writer's first failure */
	struct bcast_reader_stats st;
	uint64_t delivered, delivered_bytes, fragmented;
	double reader_secs;
	struct round_rec rounds[];
};

struct cfg {
	uint64_t rounds;
	uint64_t max_delay_us;
	uint64_t ring;
	uint64_t mtu;
	uint64_t timeout;
	uint64_t seed;
};

static struct shared *sh;

#define READER_FAIL(...) fail(&sh->reader, __VA_ARGS__)
#define WRITER_FAIL(...) fail(&sh->writer, __VA_ARGS__)

/* ---- the reader process ---- */

static void check_message(const struct cfg *c, uint64_t seq, ssize_t n,
			  const struct bcast_msg *m, const unsigned char *buf,
			  uint64_t *last_seq, uint64_t *last_pos, bool *any)
{
	uint64_t round = seq / STRIDE, off = seq % STRIDE;
	struct round_rec *rr;

	if (round > c->rounds) {
		READER_FAIL("seq %" PRIu64 " (type %u): no such round", seq,
			    m->type);
		return;
	}
	rr = &sh->rounds[round];
	if (*any && seq <= *last_seq) {
		READER_FAIL("seq %" PRIu64 " after %" PRIu64, seq, *last_seq);
		return;
	}
	if (*any && m->pos <= *last_pos) {
		READER_FAIL("seq %" PRIu64 " at position %" PRIu64
			    " after position %" PRIu64, seq, m->pos, *last_pos);
		return;
	}
	if ((size_t)n != msg_len(seq) || m->len != (uint32_t)n) {
		READER_FAIL("seq %" PRIu64 ": %zd bytes (info.len %u), "
			    "expected %zu: a torn or partial message", seq, n,
			    m->len, msg_len(seq));
		return;
	}
	if (!payload_ok(buf, (size_t)n, seq)) {
		READER_FAIL("seq %" PRIu64 " (%zd bytes): payload corrupt",
			    seq, n);
		return;
	}
	/* A prefix of what this round's writer published, without holes. */
	if (off != rr->delivered) {
		READER_FAIL("round %" PRIu64 ": got message %" PRIu64
			    " after %" PRIu64 " messages of the round", round,
			    off, rr->delivered);
		return;
	}
	if (off >= ld_acq(&rr->attempted)) {
		READER_FAIL("round %" PRIu64 ": message %" PRIu64 " delivered "
			    "but the writer only began %" PRIu64, round, off,
			    ld_acq(&rr->attempted));
		return;
	}
	if (!off) {
		/* The new writer continued at the old committed position
		 * (maybe after a padding frame). */
		uint64_t open_pos = ld_acq(&rr->open_pos);

		if (m->pos < open_pos || m->pos - open_pos > mtu + 16) {
			READER_FAIL("round %" PRIu64 ": first message at %"
				    PRIu64 ", the writer opened at committed=%"
				    PRIu64, round, m->pos, open_pos);
			return;
		}
	}
	st_rel(&rr->delivered, off + 1);
	sh->delivered++;
	sh->delivered_bytes += (uint64_t)n;
	if (m->flags & BCAST_MSG_FRAGMENTED)
		sh->fragmented++;
	*last_seq = seq;
	*last_pos = m->pos;
	*any = true;
}

static void reader_main(const char *name, const struct cfg *c)
{
	size_t cap = 4 * mtu + 64;
	unsigned char *buf = malloc(cap);
	uint64_t last_seq = 0, last_pos = 0;
	struct bcast_reader *rd;
	struct bcast_ring *r;
	struct bcast_msg m;
	bool any = false;
	double t0;
	int rc;

	if (!buf) {
		READER_FAIL("out of memory");
		_exit(1);
	}
	rc = bcast_ring_open(name, BCAST_RDONLY, &r);
	if (rc >= 0)
		rc = bcast_reader_open(r, BCAST_FROM_OLDEST, &rd);
	if (rc < 0) {
		READER_FAIL("opening the ring: %s", bcast_strerror(rc));
		_exit(1);
	}
	st_rel(&sh->reader_ready, 1);
	t0 = now_s();
	while (!failed(&sh->reader)) {
		/* Set once the last writer is gone: nothing more will come. */
		uint32_t done = ld_acq(&sh->done);
		ssize_t n = bcast_receive(rd, buf, cap, &m);

		if (n >= 0) {
			uint64_t seq = seq_of_type(any ? last_seq + 1 : 0,
						   m.type);

			check_message(c, seq, n, &m, buf, &last_seq,
				      &last_pos, &any);
			st_rel(&sh->reader_pos, bcast_reader_position(rd));
			continue;
		}
		st_rel(&sh->reader_pos, bcast_reader_position(rd));
		if (n == -EINPROGRESS)
			continue;
		if (n == -EAGAIN) {
			if (done)
				break;	/* everything read */
			rc = bcast_wait(rd, 100);
			if (rc == -BCAST_EWRITERGONE)
				continue;	/* between two writers */
			if (rc == 0 || rc == -ETIMEDOUT || rc == -EINTR)
				continue;
			READER_FAIL("bcast_wait: %s", bcast_strerror(rc));
			break;
		}
		READER_FAIL("bcast_receive after seq %" PRIu64 ": %s",
			    last_seq, bcast_strerror((int)n));
		break;
	}
	sh->reader_secs = now_s() - t0;
	bcast_reader_stats(rd, &sh->st);
	_exit(failed(&sh->reader) ? 1 : 0);
}

/* ---- a writer process: publishes until it is killed ---- */

static void writer_main(const char *name, const struct cfg *c, uint64_t round)
{
	struct round_rec *rr = &sh->rounds[round];
	unsigned char *buf = malloc(4 * mtu + 8);
	uint64_t seq = round * STRIDE, k = 0, est, half;
	struct bcast_ring_info info;
	struct bcast_writer *w;
	struct bcast_ring *r;
	int rc;

	rc = bcast_ring_open(name, BCAST_RDWR, &r);
	if (rc >= 0)
		rc = bcast_writer_open(r, &w);
	if (rc < 0 || !buf) {
		WRITER_FAIL("round %" PRIu64 ": opening the writer: %s", round,
			    bcast_strerror(rc));
		_exit(3);
	}
	bcast_ring_info(r, &info);
	rr->epoch = info.writer_epoch;
	st_rel(&rr->open_pos, info.committed);
	st_rel(&rr->opened, 1);
	est = info.committed;
	half = info.capacity / 2;

	for (;;) {
		size_t len = msg_len(seq);

		if (k > STRIDE - 64)
			pause();	/* enough for one round */
		/* Never lap the reader: stay within half a ring of it. */
		while ((int64_t)(est - ld_acq(&sh->reader_pos)) > (int64_t)half)
			sched_yield();
		if (len <= mtu && mix64(seq ^ 0xdefe77ULL) % 4 == 0) {
			/* A burst of deferred commits, then one flush. */
			unsigned burst = 1 + (unsigned)(mix64(seq) % 8), i;

			for (i = 0; i < burst && msg_len(seq) <= mtu; i++) {
				struct bcast_claim cl;

				len = msg_len(seq);
				st_rel(&rr->attempted, k + 1);
				rc = bcast_claim(w, len, &cl);
				if (rc < 0)
					break;
				payload_fill(cl.data, len, seq);
				rc = bcast_commit(&cl, (uint32_t)seq,
						  BCAST_DEFER);
				if (rc < 0)
					break;
				est += ring_bytes(len);
				seq++;
				k++;
			}
			if (rc >= 0)
				rc = bcast_flush(w);
			if (rc >= 0)
				st_rel(&rr->committed, k);
		} else {
			payload_fill(buf, len, seq);
			st_rel(&rr->attempted, k + 1);
			if (seq % 3 == 1 && len >= 2) {
				struct iovec iov[2] = {
					{ buf, len / 2 },
					{ buf + len / 2, len - len / 2 },
				};

				rc = bcast_publishv(w, iov, 2, (uint32_t)seq);
			} else {
				rc = bcast_publish(w, buf, len, (uint32_t)seq);
			}
			if (rc >= 0)
				st_rel(&rr->committed, k + 1);
			est += ring_bytes(len);
			seq++;
			k++;
		}
		if (rc < 0) {
			WRITER_FAIL("round %" PRIu64 ", seq %" PRIu64 ": %s",
				    round, seq, bcast_strerror(rc));
			_exit(4);
		}
	}
}

/* ---- the parent ---- */

struct outcome {
	struct failure failure;
	uint64_t committed_msgs, attempted_msgs, delivered_msgs;
	uint64_t rounds_opened, rounds_early, rounds_lost_tail;
	uint64_t final_epoch;
	double secs;
};

static pid_t reader_pid;

static int reader_alive(void)
{
	int status;

	if (reader_pid <= 0)
		return 0;
	if (waitpid(reader_pid, &status, WNOHANG) == reader_pid) {
		reader_pid = 0;
		return 0;
	}
	return 1;
}

static void run_crash(const char *name, const struct cfg *c,
		      struct bcast_ring *r, struct outcome *out)
{
	uint64_t prev_epoch = 0, prev_committed = 0, round;
	struct bcast_ring_info info;
	double t0 = now_s(), deadline = t0 + (double)c->timeout;
	unsigned char *buf = malloc(4 * mtu + 8);
	struct bcast_writer *w;
	int status, rc;
	uint64_t i;

#define OUT_FAIL(...) do { \
		fail(&out->failure, __VA_ARGS__); \
		goto out; \
	} while (0)

	fflush(stdout);
	fflush(stderr);
	reader_pid = fork();
	if (reader_pid == 0) {
		alarm((unsigned)c->timeout + 60);
		reader_main(name, c);
	}
	if (reader_pid < 0 || !buf)
		OUT_FAIL("fork: %s", strerror(errno));
	while (!ld_acq(&sh->reader_ready)) {
		if (!reader_alive() || now_s() > t0 + 30)
			OUT_FAIL("reader did not start: %s", sh->reader.why);
		usleep(100);
	}

	for (round = 0; round < c->rounds; round++) {
		struct round_rec *rr = &sh->rounds[round];
		bool early = rng_next(&rng_state) % 100 < 5;
		uint64_t delay;
		pid_t pid;

		if (now_s() > deadline)
			OUT_FAIL("timed out at round %" PRIu64, round);
		pid = fork();
		if (pid == 0) {
			alarm((unsigned)c->timeout + 60);
			writer_main(name, c, round);
		}
		if (pid < 0)
			OUT_FAIL("fork: %s", strerror(errno));
		if (early) {
			/* Anywhere, even inside bcast_writer_open(). */
			delay = rng_next(&rng_state) % 1000;
			out->rounds_early++;
		} else {
			double t = now_s();

			while (!ld_acq(&rr->opened)) {
				if (waitpid(pid, &status, WNOHANG) == pid) {
					pid = 0;
					OUT_FAIL("round %" PRIu64 ": writer "
						 "exited: %s", round,
						 sh->writer.why);
				}
				if (now_s() > t + 10) {
					kill(pid, SIGKILL);
					waitpid(pid, NULL, 0);
					OUT_FAIL("round %" PRIu64 ": writer did "
						 "not open in 10 s", round);
				}
				sched_yield();
			}
			delay = rng_next(&rng_state) % (c->max_delay_us + 1);
		}
		if (delay < 100)
			spin_us(delay);
		else
			usleep((useconds_t)delay);
		kill(pid, SIGKILL);
		if (waitpid(pid, &status, 0) != pid)
			OUT_FAIL("waitpid: %s", strerror(errno));
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			OUT_FAIL("round %" PRIu64 ": writer ended with status "
				 "%#x before it was killed: %s", round, status,
				 sh->writer.why);
		if (!reader_alive())
			OUT_FAIL("reader died in round %" PRIu64 ": %s", round,
				 sh->reader.why);

		/* writer_epoch: +1 per writer that got through open */
		bcast_ring_info(r, &info);
		if (ld_acq(&rr->opened)) {
			out->rounds_opened++;
			if (rr->epoch != prev_epoch + 1 ||
			    info.writer_epoch != rr->epoch)
				OUT_FAIL("round %" PRIu64 ": writer_epoch %"
					 PRIu64 " while open, %" PRIu64 " now, "
					 "previous %" PRIu64, round, rr->epoch,
					 info.writer_epoch, prev_epoch);
			if (rr->open_pos < prev_committed)
				OUT_FAIL("round %" PRIu64 ": writer opened at "
					 "committed=%" PRIu64 " < %" PRIu64,
					 round, rr->open_pos, prev_committed);
		} else if (info.writer_epoch != prev_epoch &&
			   info.writer_epoch != prev_epoch + 1) {
			OUT_FAIL("round %" PRIu64 ": writer_epoch went from %"
				 PRIu64 " to %" PRIu64, round, prev_epoch,
				 info.writer_epoch);
		}
		if (info.committed < prev_committed)
			OUT_FAIL("round %" PRIu64 ": committed went back from %"
				 PRIu64 " to %" PRIu64, round, prev_committed,
				 info.committed);
		/* Reaped is not yet released: its open file (and the OFD lock
		 * on it) goes with its last reference, which a process reading
		 * its /proc stat may hold a moment longer through its mm. */
		for (int tries = 0; info.writer_alive && tries < 100; tries++) {
			usleep(10 * 1000);
			bcast_ring_info(r, &info);
		}
		if (info.writer_alive)
			OUT_FAIL("round %" PRIu64 ": killed writer still "
				 "reported alive 1 s after it was reaped", round);
		prev_epoch = info.writer_epoch;
		prev_committed = info.committed;
	}

	/* A last writer in this process takes over cleanly and closes. */
	{
		struct round_rec *rr = &sh->rounds[c->rounds];
		uint64_t seq = c->rounds * STRIDE;

		rc = bcast_writer_open(r, &w);
		if (rc < 0)
			OUT_FAIL("last writer: bcast_writer_open: %s",
				 bcast_strerror(rc));
		bcast_ring_info(r, &info);
		rr->epoch = info.writer_epoch;
		st_rel(&rr->open_pos, info.committed);
		st_rel(&rr->opened, 1);
		if (info.writer_epoch != prev_epoch + 1) {
			bcast_writer_close(w);
			OUT_FAIL("last writer: writer_epoch %" PRIu64
				 ", previous %" PRIu64, info.writer_epoch,
				 prev_epoch);
		}
		out->final_epoch = info.writer_epoch;
		for (i = 0; i < FINAL_MSGS; i++, seq++) {
			payload_fill(buf, msg_len(seq), seq);
			st_rel(&rr->attempted, i + 1);
			rc = bcast_publish(w, buf, msg_len(seq), (uint32_t)seq);
			if (rc < 0)
				break;
			st_rel(&rr->committed, i + 1);
		}
		bcast_writer_close(w);
		if (rc < 0)
			OUT_FAIL("last writer: bcast_publish: %s",
				 bcast_strerror(rc));
	}
	st_rel(&sh->done, 1);
	while (reader_alive()) {
		if (now_s() > deadline)
			OUT_FAIL("the reader did not finish (a hang)");
		usleep(1000);
	}
	if (failed(&sh->reader))
		OUT_FAIL("reader: %s", sh->reader.why);
	out->secs = now_s() - t0;
	for (round = 0; round <= c->rounds; round++) {
		struct round_rec *rr = &sh->rounds[round];

		if (rr->delivered < rr->committed)
			OUT_FAIL("round %" PRIu64 ": %" PRIu64 " messages "
				 "delivered, but the writer had committed %"
				 PRIu64, round, rr->delivered, rr->committed);
		if (rr->delivered > rr->attempted)
			OUT_FAIL("round %" PRIu64 ": %" PRIu64 " messages "
				 "delivered, the writer began only %" PRIu64,
				 round, rr->delivered, rr->attempted);
		out->committed_msgs += rr->committed;
		out->attempted_msgs += rr->attempted;
		out->delivered_msgs += rr->delivered;
		if (rr->delivered < rr->attempted)
			out->rounds_lost_tail++;
	}
out:
	if (reader_pid > 0) {
		kill(reader_pid, SIGKILL);
		waitpid(reader_pid, NULL, 0);
		reader_pid = 0;
	}
	free(buf);
#undef OUT_FAIL
}

TEST(writer_crashes_lose_nothing_committed)
{
	struct cfg c = {
		.rounds = env_u64("BCAST_CRASH_ROUNDS", 1000),
		.max_delay_us = env_u64("BCAST_CRASH_MAX_DELAY_US", 2000),
		.ring = env_u64("BCAST_CRASH_RING", 4u << 20),
		.mtu = env_u64("BCAST_CRASH_MTU", 1024),
		.timeout = env_u64("BCAST_CRASH_TIMEOUT", 300),
		.seed = env_u64("BCAST_CRASH_SEED",
				(uint64_t)time(NULL) ^ (uint64_t)getpid() << 20),
	};
	struct bcast_ring_opts o = { .size = c.ring, .mtu = c.mtu };
	size_t shlen = sizeof(struct shared) +
		       (c.rounds + 1) * sizeof(struct round_rec);
	static struct outcome out;
	struct bcast_ring_info info;
	struct bcast_ring *r;
	char name[96];

	if (c.rounds > 4000)
		FAILF("BCAST_CRASH_ROUNDS is at most 4000");
	rng_state = c.seed;
	sh = mmap(NULL, shlen, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	snprintf(name, sizeof(name), "%s", shm_name("crash"));
	CHECK_OK(bcast_ring_create(name, &o, &r));
	bcast_ring_info(r, &info);
	mtu = info.mtu;
	printf("# %" PRIu64 " rounds, kill after 0..%" PRIu64 " us, ring %zu "
	       "B, MTU %zu, messages 0..%zu B, seed %" PRIu64
	       " (BCAST_CRASH_SEED)\n", c.rounds, c.max_delay_us,
	       info.capacity, mtu, 4 * mtu, c.seed);
	fflush(stdout);
	run_crash(name, &c, r, &out);
	bcast_ring_info(r, &info);
	bcast_ring_close(r);
	bcast_ring_destroy(name);
	if (failed(&out.failure)) {
		munmap(sh, shlen);
		FAILF("%s", out.failure.why);
	}
	printf("# %.2f s (%.2f ms per round): %" PRIu64 " writers got the "
	       "ring (%" PRIu64 " rounds killed at any time after fork()), %"
	       PRIu64 " messages "
	       "begun, %" PRIu64 " committed, %" PRIu64 " delivered (%" PRIu64
	       " fragmented, %" PRIu64 " bytes); %" PRIu64 " rounds ended with "
	       "unfinished or unflushed messages; reader: %" PRIu64 " sleeps "
	       "(%" PRIu64 " ended by time-out with data ready: a writer "
	       "killed before its wake-up), %" PRIu64 " fragments of "
	       "unfinished messages dropped\n",
	       out.secs, out.secs * 1000 / (double)(c.rounds + 1),
	       out.rounds_opened, out.rounds_early, out.attempted_msgs,
	       out.committed_msgs, out.delivered_msgs, sh->fragmented,
	       sh->delivered_bytes, out.rounds_lost_tail, sh->st.sleeps,
	       sh->st.missed_wakeups, sh->st.dropped_partial);
	CHECK_EQ(sh->st.messages, out.delivered_msgs);
	CHECK_EQ(sh->st.bytes, sh->delivered_bytes);
	CHECK_EQ(sh->st.overruns, 0);
	CHECK_EQ(sh->st.lost_messages, 0);
	CHECK_EQ(sh->rounds[c.rounds].delivered, FINAL_MSGS);
	CHECK_EQ(info.writer_epoch, out.final_epoch);
	CHECK_EQ(info.writer_alive, 0);
	CHECK(out.rounds_opened >= c.rounds / 2);
	munmap(sh, shlen);
}

/* ---- a writer killed in the middle of one big fragmented message ---- */

#define BIG_LEN		(6u << 20)

struct mid_shared {
	uint32_t go, finished;
	uint64_t marker_end;	/* committed after the first message */
	char err[128];
};

/* Read with one style until -BCAST_EWRITERGONE; returns messages seen, or
 * -1 if the reader was still waiting after `secs`. */
static long drain(struct bcast_ring *r, int style, double secs,
		  uint64_t *dropped)
{
	static unsigned char buf[BIG_LEN + 4096];
	static const struct reading_ops count_only;
	struct failure failure = { 0 };
	struct reading rdg = {
		.ops = &count_only,
		.failure = &failure,
		.buf = buf,
		.cap = sizeof(buf),
		.bulk = buf,
		.bulk_cap = sizeof(buf),
		.batch_access = READ_NONE,
		.bulk_access = READ_NONE,
	};
	struct bcast_reader_stats st;
	double end = now_s() + secs;
	long msgs = 0;
	int rc;

	if (bcast_reader_open(r, BCAST_FROM_OLDEST, &rdg.rd))
		return -2;
	while (now_s() < end) {
		rc = read_once(&rdg, style);
		msgs += rdg.count;
		if (rc == -EINPROGRESS)
			continue;	/* bounded work: more pending */
		if (rc < 0 && rc != -EAGAIN) {
			fprintf(stderr, "# %s reader: %s\n",
				read_style_name[style], failed(&failure) ?
				failure.why : bcast_strerror(rc));
			bcast_reader_close(rdg.rd);
			return -3;
		}
		if (rc == -EAGAIN || rc == 0) {
			rc = bcast_wait(rdg.rd, 10);
			if (rc == -BCAST_EWRITERGONE) {
				bcast_reader_stats(rdg.rd, &st);
				*dropped = st.dropped_partial;
				bcast_reader_close(rdg.rd);
				return msgs;
			}
			sched_yield();
		}
	}
	bcast_reader_close(rdg.rd);
	return -1;
}

TEST(readers_see_writer_gone_after_crash_mid_message)
{
	struct bcast_ring_opts o = { .size = 16u << 20, .mtu = 512 };
	struct mid_shared *ms;
	struct bcast_ring_info info;
	struct bcast_ring *r = NULL;
	uint64_t delay = 300, dropped;
	int attempt, style, status;
	char name[96];
	long got[READ_STYLES];
	bool mid = false;

	ms = mmap(NULL, sizeof(*ms), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(ms != MAP_FAILED);
	for (attempt = 0; attempt < 30 && !mid; attempt++) {
		pid_t pid;

		snprintf(name, sizeof(name), "%s-%d", shm_name("crash-mid"),
			 attempt);
		memset(ms, 0, sizeof(*ms));
		CHECK_OK(bcast_ring_create(name, &o, &r));
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == 0) {
			static unsigned char big[BIG_LEN];
			struct bcast_writer *w;
			struct bcast_ring *wr;

			alarm(60);
			if (bcast_ring_open(name, BCAST_RDWR, &wr) ||
			    bcast_writer_open(wr, &w) ||
			    bcast_publish(w, "marker", 6, 1))
				_exit(3);
			bcast_ring_info(wr, &info);
			ms->marker_end = info.committed;
			st_rel(&ms->go, 1);
			bcast_publish(w, big, sizeof(big), 2);
			st_rel(&ms->finished, 1);
			pause();
			_exit(0);
		}
		if (pid < 0) {
			bcast_ring_close(r);
			bcast_ring_destroy(name);
			FAILF("fork: %s", strerror(errno));
		}
		while (!ld_acq(&ms->go) && waitpid(pid, &status, WNOHANG) == 0)
			sched_yield();
		spin_us(delay);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (WIFEXITED(status)) {
			bcast_ring_close(r);
			bcast_ring_destroy(name);
			FAILF("writer could not open the ring (status %d)",
			      WEXITSTATUS(status));
		}
		bcast_ring_info(r, &info);
		if (ld_acq(&ms->finished)) {
			delay = delay * 2 / 3;		/* too late */
		} else if (!ms->go || info.committed <= ms->marker_end) {
			delay = delay * 3 / 2 + 10;	/* too early */
		} else {
			/* Probably stopped mid-message: bcast_receive tells. */
			got[0] = drain(r, READ_RECEIVE, 5, &dropped);
			mid = got[0] == 1;
			if (got[0] < 0) {
				bcast_ring_close(r);
				bcast_ring_destroy(name);
				FAILF("bcast_receive reader did not see the "
				      "writer gone within 5 s");
			}
		}
		if (!mid) {
			bcast_ring_close(r);
			bcast_ring_destroy(name);
		}
	}
	if (!mid)
		FAILF("could not kill a writer mid-message in %d attempts",
		      attempt);
	printf("# writer killed after committing %" PRIu64 " of the %u-byte "
	       "message's bytes (attempt %d)\n",
	       info.committed - ms->marker_end, BIG_LEN, attempt);
	for (style = READ_BATCH; style < READ_STYLES; style++) {
		dropped = 0;
		got[style] = drain(r, style, 3, &dropped);
		printf("# %s reader: %s (%ld messages)\n",
		       read_style_name[style],
		       got[style] < 0 ? "still waiting for the rest after 3 s"
				      : "saw -BCAST_EWRITERGONE", got[style]);
	}
	bcast_ring_close(r);
	bcast_ring_destroy(name);
	munmap(ms, sizeof(*ms));
	for (style = READ_BATCH; style < READ_STYLES; style++)
		if (got[style] != 1)
			FAILF("%s reader: %ld (expected the marker message, "
			      "then -BCAST_EWRITERGONE)",
			      read_style_name[style], got[style]);
}

TEST_MAIN()
