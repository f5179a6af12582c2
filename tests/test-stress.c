// SPDX-License-Identifier: MIT
/*
 * Multi-process stress: one writer process and three reader processes on a
 * POSIX shared-memory ring with a small MTU, so that messages of random
 * sizes (0 .. 3 * MTU) are fragmented.
 *
 *   reader 0: bcast_receive(), blocks in bcast_wait() when idle;
 *   reader 1: bcast_batch() / bcast_batch_next(), messages kept as values
 *             and read later with bcast_msg_read() or bcast_msg_peek() +
 *             bcast_msg_valid(); blocks in bcast_wait();
 *   reader 2: deliberately slow (pauses every N messages, so it is lapped
 *             many times) and rotates through bcast_receive(),
 *             bcast_batch() and bcast_read_bulk() / bcast_bulk_next() at
 *             every pause.
 *
 * Message `seq` (0 .. total-1) has type (uint32_t)seq, a length that is a
 * function of seq, and a payload that is a function of seq (the seq itself
 * in the first 8 bytes).  Every reader checks every message it is handed
 * (increasing sequence, length, every byte), that after each message its
 * counters say delivered + lost == seq + 1, and at the end that the gaps in
 * what it was handed, plus the handles found overwritten when they were
 * read, are exactly its lost_messages / lost_bytes, that what it obtained
 * is exactly its delivered count, and that delivered + lost adds up to
 * what the writer published.
 *
 * Environment: BCAST_STRESS_MESSAGES (10000000), BCAST_STRESS_RING (1 MiB),
 * BCAST_STRESS_MTU (512), BCAST_STRESS_SLOW_EVERY (2000 messages),
 * BCAST_STRESS_SLOW_US (10000), BCAST_STRESS_RATE (writer messages per
 * second, 500000; 0 = as fast as it can), BCAST_STRESS_TIMEOUT (300 s).
 *
 * BCAST_STRESS_DEVICE=1 runs the gated test on a bcast.ko ring.
 *
 * A second test runs the same on a 4 KiB ring (MTU 256),
 * BCAST_STRESS_TINY_MESSAGES (2000000) messages at BCAST_STRESS_TINY_RATE
 * (500000) per second: there the writer overwrites the bytes readers are
 * copying all the time (it catches a reader that skips the claimed re-check
 * after copying).
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
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

#define NREADERS	3
#define BULK_CAP	(256u << 10)
#define LAZY_MAX	256

struct cfg {
	uint64_t messages;
	uint64_t ring;
	uint64_t mtu;
	uint64_t slow_every;
	uint64_t slow_us;
	uint64_t timeout;
	uint64_t rate;		/* writer's messages per second, 0 = flat out */
	bool gated;		/* a BCAST_GATED ring, registered readers */
};

/* ---- the messages ---- */

static size_t max_len;		/* 3 * MTU */

static size_t msg_len(uint64_t seq)
{
	return (size_t)(mix64(seq * 0x9e3779b97f4a7c15ULL + 0x51) %
			(max_len + 1));
}

/* ---- reports sent to the parent (one write, < PIPE_BUF) ---- */

enum { REP_READER = 1, REP_WRITER = 2 };

struct report {
	int kind;
	int id;
	struct failure failure;
	double secs;
	/* reader */
	struct sequence seq;
	uint64_t overrun_returns, busy_fallbacks, counts_checked;
	uint64_t no_progress;		/* batch/bulk calls that handed none
					 * with data pending */
	uint64_t calls[READ_STYLES];
	struct bcast_reader_stats st;
	/* writer */
	uint64_t w_messages, w_bytes;
	struct bcast_writer_stats wst;
};

static void send_report(int fd, const struct report *rep)
{
	ssize_t n;

	do
		n = write(fd, rep, sizeof(*rep));
	while (n < 0 && errno == EINTR);
}

/* ---- readers ---- */

struct rstate {
	struct reading rdg;
	struct report rep;
};

static int counts_agree(struct rstate *s)
{
	s->rep.counts_checked++;
	return sequence_agrees(&s->rep.seq, s->rdg.rd, &s->rep.failure);
}

/* Every message handed out is the next of the sequence, and the counters
 * agree at once (a bulk window's, once it has been walked). */
static int handed(struct reading *rdg, const struct bcast_msg *m,
		  uint64_t *seq)
{
	struct rstate *s = rdg->ctx;

	*seq = sequence_take(&s->rep.seq, m->type, m->len, &s->rep.failure);
	if (*seq == UINT64_MAX)
		return -1;
	return rdg->style == READ_BULK ? 0 : counts_agree(s);
}

static int deliver(struct reading *rdg, const struct bcast_msg *m,
		   uint64_t seq, const void *data)
{
	struct rstate *s = rdg->ctx;

	return sequence_check(&s->rep.seq, seq, data, m->len, &s->rep.failure);
}

/* A handle kept for later and overwritten before that: lost. */
static void overwritten(struct reading *rdg, const struct bcast_msg *m,
			uint64_t seq)
{
	struct rstate *s = rdg->ctx;

	sequence_late(&s->rep.seq, m->len);
}

static const struct reading_ops stress_reading = {
	.handed = handed,
	.deliver = deliver,
	.overwritten = overwritten,
};

static int read_style(struct rstate *s, int style)
{
	int rc = read_once(&s->rdg, style);

	if (style == READ_BULK && rc > 0)
		counts_agree(s);
	return rc;
}

static uint64_t writer_epoch(const struct bcast_ring *r)
{
	struct bcast_ring_info ri;

	return bcast_ring_info(r, &ri) ? 0 : ri.writer_epoch;
}

static void reader_main(int id, const char *name, const struct cfg *c,
			int ready_fd, int rep_fd)
{
	static struct rstate s;
	struct bcast_ring *r;
	bool slow = id == 2;
	uint64_t next_pause = c->slow_every, epoch0;
	int style = id, rc;
	double t0;

	s.rep.kind = REP_READER;
	s.rep.id = id;
	s.rep.seq = (struct sequence){
		.total = c->messages,
		.len_of = msg_len,
	};
	s.rdg = (struct reading){
		.ops = &stress_reading,
		.ctx = &s,
		.failure = &s.rep.failure,
		.cap = max_len + 64,
		.bulk_cap = BULK_CAP,
		.batch_access = READ_ALTERNATE,
		.bulk_access = READ_ALTERNATE,
		.keep = LAZY_MAX,
	};
	s.rdg.buf = malloc(s.rdg.cap);
	s.rdg.bulk = malloc(BULK_CAP);
	if (!s.rdg.buf || !s.rdg.bulk) {
		fail(&s.rep.failure, "out of memory");
		goto out;
	}
	rc = bcast_ring_open(name, BCAST_RDONLY, &r);
	if (rc < 0) {
		fail(&s.rep.failure, "bcast_ring_open: %s", bcast_strerror(rc));
		goto out;
	}
	rc = bcast_reader_open(r, BCAST_FROM_OLDEST |
			       (c->gated ? BCAST_REGISTER : 0), &s.rdg.rd);
	if (rc < 0) {
		fail(&s.rep.failure, "bcast_reader_open: %s",
		     bcast_strerror(rc));
		goto out;
	}
	/* A device ring's creator held the writer's file: that writer's
	 * departure is not the end of the stream. */
	epoch0 = writer_epoch(r);
	if (write(ready_fd, "r", 1) != 1) {
		fail(&s.rep.failure, "ready pipe: %s", strerror(errno));
		goto out;
	}
	t0 = now_s();
	for (;;) {
		rc = read_style(&s, style);
		s.rep.calls[style]++;
		if (rc == -EBUSY) {
			/* batch and bulk reads refuse while bcast_receive()
			 * holds half a message: let it finish. */
			s.rep.busy_fallbacks++;
			rc = read_style(&s, READ_RECEIVE);
		}
		if (failed(&s.rep.failure))
			break;
		if (rc == -EINPROGRESS)
			continue;	/* bounded work: more pending */
		if (rc == -EAGAIN) {
			rc = bcast_wait(s.rdg.rd, 1000);
			if (rc == -BCAST_EWRITERGONE && writer_epoch(r) == epoch0)
				continue;	/* the creator's, before ours */
			if (rc == -BCAST_EWRITERGONE) {
				/* Messages after the last one handed out
				 * were lost too (a lapped reader resumes some
				 * way behind the newest message). */
				sequence_lost_after(&s.rep.seq, c->messages);
				break;
			}
			if (rc == 0 && style != READ_RECEIVE) {
				/* Ready at once: probably only part of a
				 * fragmented message, which batch and bulk
				 * reads leave in the ring. */
				s.rep.no_progress++;
				sched_yield();
			}
			if (rc == 0 || rc == -ETIMEDOUT || rc == -EINTR)
				continue;
			fail(&s.rep.failure, "bcast_wait: %s",
			     bcast_strerror(rc));
			break;
		}
		if (rc == -BCAST_EOVERRUN) {
			s.rep.overrun_returns++;
			continue;
		}
		if (rc == 0) {
			/* Only part of a fragmented message is committed:
			 * bcast_wait() would return at once, so let the
			 * writer finish it. */
			s.rep.no_progress++;
			sched_yield();
		}
		if (rc < 0) {
			struct bcast_ring_info ri;
			uint64_t pos = bcast_reader_position(s.rdg.rd);

			bcast_ring_info(r, &ri);
			fail(&s.rep.failure, "%s after seq %" PRIu64 ": %s; "
			     "reader at %" PRIu64 ", now committed %" PRIu64
			     ", claimed %" PRIu64 " (claimed - position %s "
			     "capacity %zu: %s)", read_style_name[style],
			     s.rep.seq.next - 1, bcast_strerror(rc), pos,
			     ri.committed, ri.claimed,
			     ri.claimed - pos > ri.capacity ? ">" : "<=",
			     ri.capacity, ri.claimed - pos > ri.capacity ?
			     "overwritten, an overrun" : "intact");
			break;
		}
		if (slow && s.rep.seq.handed >= next_pause) {
			usleep((useconds_t)c->slow_us);
			next_pause = s.rep.seq.handed + c->slow_every;
			style = (style + 1) % READ_STYLES;
		}
	}
	s.rep.secs = now_s() - t0;
	bcast_reader_stats(s.rdg.rd, &s.rep.st);
out:
	send_report(rep_fd, &s.rep);
	_exit(failed(&s.rep.failure) ? 1 : 0);
}

/* ---- the writer ---- */

static void writer_main(const char *name, const struct cfg *c, int ready_fd,
			int rep_fd)
{
	struct report rep = { .kind = REP_WRITER };
	struct bcast_writer *w = NULL;
	struct bcast_ring *r;
	unsigned char *buf = malloc(max_len + 8);
	uint64_t seq, bytes = 0;
	double t0;
	int rc = 0;

	if (!buf) {
		fail(&rep.failure, "out of memory");
		goto fail;
	}
	rc = bcast_ring_open(name, BCAST_RDWR, &r);
	if (rc < 0) {
		fail(&rep.failure, "bcast_ring_open: %s", bcast_strerror(rc));
		goto fail;
	}
	rc = bcast_writer_open(r, &w);
	if (rc < 0) {
		fail(&rep.failure, "bcast_writer_open: %s",
		     bcast_strerror(rc));
		goto fail;
	}
	if (write(ready_fd, "w", 1) != 1) {
		fail(&rep.failure, "ready pipe");
		goto fail;
	}
	t0 = now_s();
	for (seq = 0; seq < c->messages; seq++) {
		size_t len = msg_len(seq);
		uint32_t type = (uint32_t)seq;

		if (c->rate && !(seq & 255)) {
			/* Pace to the rate: readers that keep up then go to
			 * sleep in bcast_wait() and get woken all the time. */
			double ahead = (double)seq / (double)c->rate -
				       (now_s() - t0);

			if (ahead > 0.0005)
				usleep((useconds_t)(ahead * 1e6));
		}

		if (seq % 8 == 3 && len <= c->mtu) {
			struct bcast_claim cl;

			rc = bcast_claim(w, len, &cl);
			if (rc == 0) {
				payload_fill(cl.data, len, seq);
				rc = bcast_commit(&cl, type, 0);
			}
		} else if (seq % 8 == 5 && len >= 2) {
			struct iovec iov[2];

			payload_fill(buf, len, seq);
			iov[0] = (struct iovec){ buf, len / 3 };
			iov[1] = (struct iovec){ buf + len / 3, len - len / 3 };
			rc = bcast_publishv(w, iov, 2, type);
		} else {
			payload_fill(buf, len, seq);
			rc = bcast_publish(w, buf, len, type);
		}
		if (rc < 0) {
			fail(&rep.failure, "publishing seq %" PRIu64 ": %s",
			     seq, bcast_strerror(rc));
			goto fail;
		}
		bytes += len;
	}
	rep.secs = now_s() - t0;
	rep.w_messages = seq;
	rep.w_bytes = bytes;
	bcast_writer_stats(w, &rep.wst);
	bcast_writer_close(w);
	send_report(rep_fd, &rep);
	_exit(0);
fail:
	if (w)
		bcast_writer_close(w);
	send_report(rep_fd, &rep);
	_exit(1);
}

/* ---- the parent ---- */

struct run {
	struct failure failure;
	struct report readers[NREADERS];
	struct report writer;
	int have_reader[NREADERS], have_writer;
	int status[NREADERS + 1];
	double secs;
};

static void kill_children(pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
}

/* Read `n` bytes from the ready pipe within `secs`. */
static int wait_ready(int fd, int n, double secs)
{
	double deadline = now_s() + secs;
	char c;

	while (n > 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		double left = deadline - now_s();

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			return -errno;
		if (pfd.revents & POLLIN) {
			if (read(fd, &c, 1) == 1)
				n--;
		} else if (pfd.revents & (POLLHUP | POLLERR)) {
			return -EPIPE;
		}
	}
	return 0;
}

static void run_stress(const char *name, const struct cfg *c, struct run *res)
{
	pid_t pids[NREADERS + 1] = { 0 };
	int ready[2], rep[2], i, left, rc;
	double deadline, t0;
	struct report rp;

	if (pipe(ready) || pipe2(rep, O_NONBLOCK)) {
		fail(&res->failure, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < NREADERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			alarm((unsigned)c->timeout + 60);
			close(ready[0]);
			close(rep[0]);
			reader_main(i, name, c, ready[1], rep[1]);
		}
		if (pids[i] < 0) {
			fail(&res->failure, "fork: %s", strerror(errno));
			goto out;
		}
	}
	/* Every reader is attached before the writer starts. */
	rc = wait_ready(ready[0], NREADERS, 30);
	if (rc) {
		fail(&res->failure, "readers did not attach: %s",
		     strerror(-rc));
		goto out;
	}
	t0 = now_s();
	pids[NREADERS] = fork();
	if (pids[NREADERS] == 0) {
		alarm((unsigned)c->timeout + 60);
		close(ready[0]);
		close(rep[0]);
		writer_main(name, c, ready[1], rep[1]);
	}
	if (pids[NREADERS] < 0) {
		fail(&res->failure, "fork: %s", strerror(errno));
		goto out;
	}
	rc = wait_ready(ready[0], 1, 30);
	if (rc) {
		fail(&res->failure, "writer did not attach: %s", strerror(-rc));
		goto out;
	}
	/* Everybody has it mapped: the name can go now. */
	bcast_ring_destroy(name);

	deadline = t0 + (double)c->timeout;
	left = NREADERS + 1;
	while (left) {
		for (i = 0; i <= NREADERS; i++) {
			if (pids[i] <= 0)
				continue;
			if (waitpid(pids[i], &res->status[i], WNOHANG) ==
			    pids[i]) {
				pids[i] = 0;
				left--;
			}
		}
		if (left && now_s() > deadline) {
			fail(&res->failure, "timed out after %.0f s with %d of "
			     "%d processes still running (a hang)",
			     (double)c->timeout, left, NREADERS + 1);
			goto out;
		}
		if (left)
			usleep(5000);
	}
	res->secs = now_s() - t0;
	while (read(rep[0], &rp, sizeof(rp)) == (ssize_t)sizeof(rp)) {
		if (rp.kind == REP_WRITER) {
			res->writer = rp;
			res->have_writer = 1;
		} else if (rp.kind == REP_READER && rp.id >= 0 &&
			   rp.id < NREADERS) {
			res->readers[rp.id] = rp;
			res->have_reader[rp.id] = 1;
		}
	}
out:
	kill_children(pids, NREADERS + 1);
	close(ready[0]);
	close(ready[1]);
	close(rep[0]);
	close(rep[1]);
}

static const char *const reader_names[NREADERS] = {
	"receive+wait", "batch+wait", "slow, rotating styles"
};

static void stress(struct cfg c, const char *tag)
{
	struct bcast_ring_opts o = { .size = c.ring, .mtu = c.mtu,
				     .flags = c.gated ? BCAST_GATED : 0 };
	static struct run res;
	struct bcast_ring_info info;
	struct bcast_ring *r;
	char name[96];
	uint64_t total_lost = 0, epoch0;
	int i;

	memset(&res, 0, sizeof(res));
	/* BCAST_STRESS_DEVICE=1: the gated run on a bcast.ko ring. */
	if (c.gated && env_u64("BCAST_STRESS_DEVICE", 0))
		snprintf(name, sizeof(name), "%s-%d", tag, (int)getpid());
	else
		snprintf(name, sizeof(name), "%s", shm_name(tag));
	CHECK_OK(bcast_ring_create(name, &o, &r));
	bcast_ring_info(r, &info);
	if (!strcmp(info.backend, "device")) {
		/* The creator's file is the writer's: the writer process
		 * must have the role, this one only watches. */
		bcast_ring_close(r);
		CHECK_OK(bcast_ring_open(name, BCAST_RDONLY, &r));
		bcast_ring_info(r, &info);
	}
	epoch0 = info.writer_epoch;	/* the writer's is the next */
	max_len = 3 * info.mtu;
	c.mtu = info.mtu;
	printf("# %" PRIu64 " messages of 0..%zu bytes, ring %zu B, MTU %zu, "
	       "writer rate limit %" PRIu64 " msg/s (0: none), slow reader "
	       "pauses %" PRIu64 " us every %" PRIu64 " messages\n",
	       c.messages, max_len, info.capacity, info.mtu, c.rate,
	       c.slow_us, c.slow_every);
	run_stress(name, &c, &res);
	bcast_ring_destroy(name);	/* already gone unless we failed early */
	if (failed(&res.failure)) {
		bcast_ring_close(r);
		FAILF("%s", res.failure.why);
	}
	bcast_ring_info(r, &info);
	bcast_ring_close(r);

	CHECK(res.have_writer);
	if (failed(&res.writer.failure))
		FAILF("writer: %s", res.writer.failure.why);
	CHECK(WIFEXITED(res.status[NREADERS]) &&
	      WEXITSTATUS(res.status[NREADERS]) == 0);
	printf("# writer: %" PRIu64 " messages, %" PRIu64 " bytes in %.2f s: "
	       "%.0f msg/s, %.1f MB/s; %" PRIu64 " frames, %" PRIu64
	       " wake-up syscalls, %" PRIu64 " frontier steps, %" PRIu64
	       " waits for room; whole run %.2f s\n",
	       res.writer.w_messages, res.writer.w_bytes, res.writer.secs,
	       (double)res.writer.w_messages / res.writer.secs,
	       (double)res.writer.w_bytes / res.writer.secs / 1e6,
	       res.writer.wst.frames, res.writer.wst.notifies,
	       res.writer.wst.frontier_steps, res.writer.wst.gate_waits,
	       res.secs);
	CHECK_EQ(res.writer.w_messages, c.messages);
	CHECK_EQ(info.writer_alive, 0);
	CHECK_EQ(info.writer_epoch, epoch0 + 1);

	for (i = 0; i < NREADERS; i++) {
		const struct report *rp = &res.readers[i];
		const struct bcast_reader_stats *st = &rp->st;

		if (!res.have_reader[i])
			FAILF("reader %d sent no report (status %#x)", i,
			      res.status[i]);
		printf("# reader %d (%s): handed %" PRIu64 " (%" PRIu64
		       " B), verified %" PRIu64 ", overwritten before the "
		       "late read %" PRIu64 ", lost %" PRIu64 " (%" PRIu64
		       " B) in %" PRIu64 " overruns, %.2f s, %.0f msg/s, "
		       "%" PRIu64 " sleeps, %" PRIu64 " missed wake-ups, "
		       "%" PRIu64 " per-message count checks\n",
		       i, reader_names[i], rp->seq.handed, rp->seq.handed_bytes,
		       rp->seq.verified, rp->seq.late, st->lost_messages,
		       st->lost_bytes, st->overruns, rp->secs,
		       (double)rp->seq.handed / rp->secs, st->sleeps,
		       st->missed_wakeups, rp->counts_checked);
		printf("# reader %d calls: receive %" PRIu64 ", batch %" PRIu64
		       ", bulk %" PRIu64 " (%" PRIu64 " handed nothing), "
		       "-EBUSY fallbacks %" PRIu64 ", -BCAST_EOVERRUN returns %"
		       PRIu64 "\n", i, rp->calls[0], rp->calls[1], rp->calls[2],
		       rp->no_progress, rp->busy_fallbacks, rp->overrun_returns);
		fflush(stdout);
		if (failed(&rp->failure))
			FAILF("reader %d: %s", i, rp->failure.why);
		CHECK(WIFEXITED(res.status[i]) && WEXITSTATUS(res.status[i]) == 0);
		/* exact loss accounting: what the application obtained and
		 * what it was told it lost add up to what was published */
		check_sequence(&rp->seq, st, res.writer.w_messages,
			       res.writer.w_bytes);
		total_lost += st->lost_messages;
		if (c.gated) {
			/* Gated: every message, in order, to every reader. */
			CHECK_EQ(st->overruns, 0);
			CHECK_EQ(st->lost_messages, 0);
			CHECK_EQ(rp->seq.late, 0);
			CHECK_EQ(rp->seq.handed, res.writer.w_messages);
			CHECK_EQ(rp->seq.verified, res.writer.w_messages);
		}
	}
	/* The slow reader must really have been lapped (gated: must really
	 * have held the writer back), or the test is weak. */
	if (c.messages >= 1000000 && !c.gated)
		CHECK(res.readers[2].st.overruns > 10);
	if (c.messages >= 1000000 && c.gated)
		CHECK(res.writer.wst.gate_waits > 10);
	printf("# all readers: %" PRIu64 " messages lost to overruns\n",
	       total_lost);
	/* "fragments of messages the writer never finished (it died
	 * mid-message)": this writer finished every message. */
	for (i = 0; i < NREADERS; i++)
		CHECK_EQ(res.readers[i].st.dropped_partial, 0);
}

TEST(stress_one_writer_three_readers)
{
	struct cfg c = {
		.messages = env_u64("BCAST_STRESS_MESSAGES", 10000000),
		.ring = env_u64("BCAST_STRESS_RING", 1u << 20),
		.mtu = env_u64("BCAST_STRESS_MTU", 512),
		.slow_every = env_u64("BCAST_STRESS_SLOW_EVERY", 2000),
		.slow_us = env_u64("BCAST_STRESS_SLOW_US", 10000),
		.timeout = env_u64("BCAST_STRESS_TIMEOUT", 300),
		.rate = env_u64("BCAST_STRESS_RATE", 500000),
	};

	stress(c, "stress");
}

/*
 * The same on the smallest ring: every reader is lapped all the time and the
 * writer is always overwriting the bytes being copied, which is where torn
 * copies would slip through.
 */
TEST(stress_tiny_ring_flat_out)
{
	struct cfg c = {
		.messages = env_u64("BCAST_STRESS_TINY_MESSAGES", 2000000),
		.ring = 4096,
		.mtu = 256,
		.slow_every = 500,
		.slow_us = 1000,
		.timeout = env_u64("BCAST_STRESS_TIMEOUT", 300),
		.rate = env_u64("BCAST_STRESS_TINY_RATE", 500000),
	};

	stress(c, "stress-tiny");
}

/*
 * A gated ring: the same three readers, registered, and a writer flat out.
 * Every reader must get every message, in order and intact, with no
 * overrun at all, while the slow one keeps making the writer wait.
 */
TEST(stress_gated_ring_loses_nothing)
{
	struct cfg c = {
		.messages = env_u64("BCAST_STRESS_GATED_MESSAGES", 10000000),
		.ring = env_u64("BCAST_STRESS_RING", 1u << 20),
		.mtu = env_u64("BCAST_STRESS_MTU", 512),
		.slow_every = 20000,
		.slow_us = env_u64("BCAST_STRESS_GATED_SLOW_US", 2000),
		.timeout = env_u64("BCAST_STRESS_TIMEOUT", 300),
		.rate = 0,
		.gated = true,
	};

	stress(c, "stress-gated");
}

TEST_MAIN()
