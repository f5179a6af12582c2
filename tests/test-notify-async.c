// SPDX-License-Identifier: MIT
/*
 * Asynchronous wake-ups (bcast_writer_set_notify()) on shm rings: no lost
 * wake-up over 100,000 sleep/wake cycles with each io_uring mode, one
 * notify per sleeping episode (a burst, several sleepers), the wake-ups
 * really queued on io_uring (its fdinfo counts them), arguments, a failed
 * set-up, going back to synchronous wake-ups, a closing writer, a fork()
 * child's copy.  Where the kernel has no io_uring FUTEX_WAKE (before 6.7,
 * by uname) set_notify must say -ENOTSUP, and the writer must keep waking
 * synchronously.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include "tap.h"
#include "clock.h"
#include "env.h"
#include "fixture.h"
#include "notify-pong.h"
#include "procview.h"
#include "waiting.h"
#include <linux/bcast.h>

#define CAP (1 << 16)
#define BURST 10000
#define BURST_CAP (1 << 20)	/* holds the whole burst */
#define SLEEPERS 4
#define ROUNDS 20
#define WAIT_MS 10000
/* A sleeper whose wake-up is lost still wakes at the end of its 25 ms
 * liveness slice: woken this fast, it was woken. */
#define WOKEN_MS 10.0

static const int async_modes[] = { BCAST_NOTIFY_URING, BCAST_NOTIFY_SQPOLL };
#define N_MODES ((int)(sizeof(async_modes) / sizeof(async_modes[0])))

static const char *mode_name(int how)
{
	return how == BCAST_NOTIFY_SQPOLL ? "SQPOLL" : "URING";
}

/*
 * What set_notify must answer for a shm ring here: 0 where io_uring works
 * and has FUTEX_WAKE (Linux 6.7, by uname), -ENOTSUP where it works
 * without, and io_uring's own error where there is none (qemu-user, the
 * io_uring_disabled sysctl).
 */
static int expected_answer(void)
{
	struct io_uring_params p;
	struct utsname u;
	int fd, major = 0, minor = 0;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return -errno;
	close(fd);
	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return -EIO;
	return major > 6 || (major == 6 && minor >= 7) ? 0 : -ENOTSUP;
}

/* Can this kernel queue shm wake-ups?  When it cannot, the writer of a
 * ring in memory (the same futex wake-ups) must say so for both modes,
 * and keep nothing: that is what the test then checks. */
static bool async_here(const char *test)
{
	struct ring_fixture f;
	int want = expected_answer(), i;

	if (!want)
		return true;
	printf("# %s: no asynchronous futex wake-ups here (%s): only the refusal is checked\n",
	       test, bcast_strerror(want));
	if (fixture_open(&f, CAP, 0, FIXTURE_WRITER)) {
		tap_fail(__FILE__, __LINE__, "no ring in memory");
		return false;
	}
	for (i = 0; i < N_MODES; i++)
		if (bcast_writer_set_notify(f.w, async_modes[i]) != want ||
		    uring_count(getpid(), NULL))
			tap_fail(__FILE__, __LINE__, "set_notify(%s) did not say %s",
				 mode_name(async_modes[i]), bcast_strerror(want));
	fixture_close(&f);
	return false;
}

/* The header of a ring this process maps writable (its writer's). */
static struct bcast_ring_hdr *header_of(struct bcast_ring *r)
{
	struct bcast_ring_info info;

	if (bcast_ring_info(r, &info))
		return NULL;
	return (struct bcast_ring_hdr *)((char *)info.metadata -
					 offsetof(struct bcast_ring_hdr, metadata));
}

/* SQEs the kernel has taken from this process's one io_uring; -1 if it
 * has none, or more than one. */
static long long submitted(void)
{
	struct uring_positions pos;
	int fd;

	if (uring_count(getpid(), &fd) != 1 ||
	    uring_positions(getpid(), fd, &pos))
		return -1;
	return pos.sq_head;
}

/* submitted(), once it reached `n` (an SQPOLL thread takes entries in its
 * own time) or a second went by. */
static long long submitted_by_now(long long n)
{
	double deadline = now_s() + 1.0;
	long long got;

	while ((got = submitted()) < n && now_s() < deadline)
		usleep(100);
	return got;
}

/* The positions of io_uring `fd` once a completion waits to be reaped:
 * 0, or -1 after a second without one. */
static int completion_waiting(int fd, struct uring_positions *pos)
{
	double deadline = now_s() + 1.0;

	do {
		if (uring_positions(getpid(), fd, pos))
			return -1;
		if (pos->cq_tail != pos->cq_head)
			return 0;
		usleep(100);
	} while (now_s() < deadline);
	return -1;
}

static uint64_t notifies(struct bcast_writer *w)
{
	struct bcast_writer_stats ws;

	return bcast_writer_stats(w, &ws) ? UINT64_MAX : ws.notifies;
}

static uint64_t notify_errors(struct bcast_writer *w)
{
	struct bcast_writer_stats ws;

	return bcast_writer_stats(w, &ws) ? UINT64_MAX : ws.notify_errors;
}

/* ---- sleepers: reader processes that report each wake-up ---- */

struct wake_report {
	int who;
	int rc;			/* bcast_wait()'s */
	double t;		/* when it returned, now_s() */
	uint64_t missed;	/* missed_wakeups so far */
};

struct sleepers {
	int n;
	pid_t pid[SLEEPERS];
	int reports;		/* read end */
};

/* Read ring `name` from the latest message: sleep in bcast_wait(), report
 * how it ended, read what came, again, until killed. */
static void sleeper(const char *name, int who, int out)
{
	struct bcast_reader_stats st;
	struct wake_report rep = { .who = who };
	struct bcast_reader *rd;
	struct bcast_ring *r;
	char buf[64];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (bcast_ring_open(name, BCAST_RDONLY, &r) ||
	    bcast_reader_open(r, BCAST_FROM_LATEST, &rd))
		_exit(2);
	for (;;) {
		rep.rc = bcast_wait(rd, WAIT_MS);
		rep.t = now_s();
		while (bcast_receive(rd, buf, sizeof(buf), NULL) >= 0)
			;
		bcast_reader_stats(rd, &st);
		rep.missed = st.missed_wakeups;
		if (write(out, &rep, sizeof(rep)) != sizeof(rep))
			_exit(3);
	}
}

static int sleepers_start(struct sleepers *s, const char *name, int n)
{
	int fds[2], i;

	memset(s, 0, sizeof(*s));
	if (pipe(fds))
		return -1;
	fflush(stdout);
	for (i = 0; i < n; i++) {
		s->pid[i] = fork();
		if (!s->pid[i]) {
			close(fds[0]);
			sleeper(name, i, fds[1]);
		}
		if (s->pid[i] < 0)
			return -1;
		s->n++;
	}
	close(fds[1]);
	s->reports = fds[0];
	return 0;
}

static void sleepers_stop(struct sleepers *s)
{
	int i, status;

	for (i = 0; i < s->n; i++) {
		kill(s->pid[i], SIGKILL);
		waitpid(s->pid[i], &status, 0);
	}
	if (s->n)
		close(s->reports);
	s->n = 0;
}

/* Every sleeper asleep on the futex (they set need_wakeup first). */
static int sleepers_asleep(struct sleepers *s)
{
	return wait_blocked_in(s->pid, s->n, SYS_futex, WAIT_MS);
}

/*
 * One report from each sleeper, all with bcast_wait() = `rc` and no
 * missed wake-up: the time from t0 to the last one, in ms; -1 (saying
 * why) otherwise.
 */
static double sleepers_woken(struct sleepers *s, double t0, int rc)
{
	struct wake_report rep;
	double last = t0;
	int i, bad = 0;

	for (i = 0; i < s->n; i++) {
		if (read(s->reports, &rep, sizeof(rep)) != sizeof(rep)) {
			printf("# a sleeper died\n");
			return -1;
		}
		if (rep.rc != rc || rep.missed) {
			printf("# sleeper %d: bcast_wait() %s (expected %s), %" PRIu64 " missed wake-ups\n",
			       rep.who, bcast_strerror(rep.rc),
			       bcast_strerror(rc), rep.missed);
			bad = 1;
		}
		if (rep.t > last)
			last = rep.t;
	}
	return bad ? -1 : (last - t0) * 1e3;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), by_value);
	return v[n / 2];
}

/*
 * `rounds` times: wait until every sleeper is asleep, publish one
 * message, collect every wake-up.  The median time to the last one, in
 * ms, or -1.
 */
static double wake_rounds(struct bcast_writer *w, struct sleepers *s,
			  int rounds)
{
	double lat[ROUNDS], t0;
	int i;

	for (i = 0; i < rounds && i < ROUNDS; i++) {
		if (!sleepers_asleep(s))
			return -1;
		t0 = now_s();
		if (bcast_publish(w, &i, sizeof(i), 0))
			return -1;
		lat[i] = sleepers_woken(s, t0, 0);
		if (lat[i] < 0)
			return -1;
	}
	return median(lat, i);
}

/* ---- the tests ---- */

/*
 * What each test works on: a new shm ring, its writer (with `how`) and
 * the header it maps, sleepers if it starts them.  Closed whatever the
 * checks found, so that one failure is not seen again by the next test.
 */
struct stage {
	char name[96];
	struct bcast_ring *r;
	struct bcast_writer *w;
	struct bcast_ring_hdr *h;
	struct sleepers s;
};

static int stage_open(struct stage *st, const char *tag, size_t cap, int how)
{
	int rc;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", shm_name(tag));
	st->r = shm_ring_new(st->name, cap, 0);
	if (!st->r)
		return -ENOMEM;
	rc = bcast_writer_open(st->r, &st->w);
	if (!rc)
		rc = bcast_writer_set_notify(st->w, how);
	st->h = header_of(st->r);
	if (rc)
		printf("# %s: %s\n", st->name, bcast_strerror(rc));
	return rc;
}

static void stage_close(struct stage *st)
{
	sleepers_stop(&st->s);
	bcast_writer_close(st->w);
	if (st->r) {
		bcast_ring_close(st->r);
		bcast_ring_destroy(st->name);
	}
	memset(st, 0, sizeof(*st));
}

/* Run check(st, how) on a stage of its own for every asynchronous mode. */
static void for_each_mode(const char *tag, size_t cap,
			  void (*check)(struct stage *st, int how))
{
	struct stage st;
	int i;

	for (i = 0; i < N_MODES; i++) {
		if (stage_open(&st, tag, cap, async_modes[i]))
			tap_fail(__FILE__, __LINE__, "setting up %s for %s failed",
				 tag, mode_name(async_modes[i]));
		else
			check(&st, async_modes[i]);
		stage_close(&st);
	}
}

/* ---- the tests ---- */

static void check_arguments(struct stage *st, int want)
{
	struct bcast_writer *w = st->w;
	struct bcast_claim c;
	int i;

	CHECK_EQ(bcast_writer_set_notify(NULL, BCAST_NOTIFY_SYNC), -EINVAL);
	CHECK_EQ(bcast_writer_set_notify(NULL, BCAST_NOTIFY_URING), -EINVAL);
	CHECK_EQ(bcast_writer_set_notify(w, -1), -EINVAL);
	CHECK_EQ(bcast_writer_set_notify(w, BCAST_NOTIFY_SQPOLL + 1), -EINVAL);
	CHECK_EQ(bcast_writer_set_notify(w, 1 << 30), -EINVAL);
	CHECK_EQ(uring_count(getpid(), NULL), 0);
	/* A claim is open: nothing changes under it. */
	CHECK_OK(bcast_claim(w, 8, &c));
	CHECK_EQ(bcast_writer_set_notify(w, BCAST_NOTIFY_URING), -EBUSY);
	CHECK_EQ(bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC), -EBUSY);
	CHECK_EQ(uring_count(getpid(), NULL), 0);
	bcast_abort(&c);
	CHECK_OK(bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC));
	for (i = 0; i < N_MODES; i++) {
		CHECK_EQ(bcast_writer_set_notify(w, async_modes[i]), want);
		/* The writer's io_uring exists exactly while it is on. */
		CHECK_EQ(uring_count(getpid(), NULL), want ? 0 : 1);
		if (!want) {
			CHECK_OK(bcast_claim(w, 8, &c));
			CHECK_EQ(bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC),
				 -EBUSY);
			CHECK_EQ(uring_count(getpid(), NULL), 1);
			bcast_abort(&c);
		}
		CHECK_OK(bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC));
		CHECK_EQ(uring_count(getpid(), NULL), 0);
	}
}

TEST(set_notify_checks_its_arguments)
{
	struct stage st;

	if (!stage_open(&st, "async-args", CAP, BCAST_NOTIFY_SYNC))
		check_arguments(&st, expected_answer());
	else
		tap_fail(__FILE__, __LINE__, "no ring");
	stage_close(&st);
}

/*
 * Refused or not, the writer keeps waking: with need_wakeup set (as a
 * sleeping reader leaves it), a publish wakes, the writer's part is done
 * when it returns, and the rest is queued exactly when the mode is on.
 */
static void check_wakes_either_way(struct stage *st, int want)
{
	struct bcast_ring_hdr *h = st->h;
	struct bcast_writer *w = st->w;
	int i;

	for (i = 0; i < N_MODES; i++) {
		uint32_t seq = __atomic_load_n(&h->wake_seq, __ATOMIC_ACQUIRE);
		uint64_t before = notifies(w);

		CHECK_EQ(bcast_writer_set_notify(w, async_modes[i]), want);
		__atomic_store_n(&h->need_wakeup, 1, __ATOMIC_SEQ_CST);
		CHECK_OK(bcast_publish(w, "x", 1, 0));
		CHECK_EQ(notifies(w), before + 1);
		CHECK_EQ(__atomic_load_n(&h->need_wakeup, __ATOMIC_ACQUIRE), 0);
		CHECK_EQ(__atomic_load_n(&h->wake_seq, __ATOMIC_ACQUIRE),
			 seq + 1);
		CHECK_EQ(submitted_by_now(1), want ? -1 : 1);
		CHECK_EQ(notify_errors(w), 0);
		/* Nobody asked: nothing more. */
		CHECK_OK(bcast_publish(w, "y", 1, 0));
		CHECK_EQ(notifies(w), before + 1);
		CHECK_EQ(submitted_by_now(2), want ? -1 : 1);
		CHECK_OK(bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC));
	}
}

TEST(a_writer_wakes_whether_or_not_the_kernel_can_queue)
{
	struct stage st;

	if (!stage_open(&st, "async-refused", CAP, BCAST_NOTIFY_SYNC) && st.h)
		check_wakes_either_way(&st, expected_answer());
	else
		tap_fail(__FILE__, __LINE__, "no ring");
	stage_close(&st);
}

/* The 100,000 cycles, for one mode. */
static void cycles_with(int how)
{
	int cycles = (int)env_u64("BCAST_ASYNC_CYCLES", 100000);
	struct bcast_ring *ra, *rb;
	struct notify_pong res;
	char a[64], b[64];
	double t0;
	int rc;

	snprintf(a, sizeof(a), "%s", shm_name("async-ping"));
	snprintf(b, sizeof(b), "%s", shm_name("async-pong"));
	ra = shm_ring_new(a, CAP, 0);
	rb = shm_ring_new(b, CAP, 0);
	if (ra)
		bcast_ring_close(ra);
	if (rb)
		bcast_ring_close(rb);
	CHECK(ra && rb);
	t0 = now_s();
	rc = notify_pong(a, b, how, cycles, SYS_futex, &res);
	bcast_ring_destroy(a);
	bcast_ring_destroy(b);
	printf("# %s: %d cycles in %.2f s, round trip p50 %.1f us p99 %.1f us; "
	       "notifies %" PRIu64 ", queued %" PRIu64 ", errors %" PRIu64
	       ", reader sleeps %" PRIu64 ", missed %" PRIu64 "\n",
	       mode_name(how), cycles, now_s() - t0, res.p50_us, res.p99_us,
	       res.notifies, res.submitted, res.notify_errors, res.sleeps,
	       res.missed);
	CHECK_EQ(rc, 0);
	CHECK_EQ(res.missed, 0);
	CHECK_EQ(res.notify_errors, 0);
	/* One wake-up per sleeping episode, and the reader really slept. */
	CHECK(res.notifies <= (uint64_t)cycles);
	CHECK(res.notifies >= (uint64_t)cycles / 2);
	CHECK(res.sleeps >= (uint64_t)cycles / 2);
	/* Every one of them went through io_uring, and woke the reader. */
	CHECK_EQ(res.submitted, res.notifies);
	CHECK(res.p50_us < WOKEN_MS * 1e3);
}

TEST(hundred_thousand_cycles_with_uring_wake_ups_lose_none)
{
	if (async_here("URING cycles"))
		cycles_with(BCAST_NOTIFY_URING);
}

TEST(hundred_thousand_cycles_with_sqpoll_wake_ups_lose_none)
{
	if (async_here("SQPOLL cycles"))
		cycles_with(BCAST_NOTIFY_SQPOLL);
}

/* The burst's reader: asleep, woken, then (told to) read everything. */
static void burst_reader(const char *name, int report, int go)
{
	int out[3] = { 0, 0, 1 };	/* bcast_wait(), received, in order */
	struct bcast_reader *rd;
	struct bcast_ring *r;
	char c;
	int v;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (bcast_ring_open(name, BCAST_RDONLY, &r) ||
	    bcast_reader_open(r, BCAST_FROM_LATEST, &rd))
		_exit(2);
	out[0] = bcast_wait(rd, WAIT_MS);
	if (read(go, &c, 1) != 1)
		_exit(3);
	while (bcast_receive(rd, &v, sizeof(v), NULL) == sizeof(v)) {
		out[2] &= v == out[1];
		out[1]++;
	}
	/* One write: the parent reads it whole. */
	_exit(write(report, out, sizeof(out)) == sizeof(out) ? 0 : 4);
}

/* Publish the burst once the reader sleeps; what it saw, in *got. */
static int burst_to(struct stage *st, int got[3])
{
	int report[2], go[2], i, ok = 1, status;
	pid_t pid;

	if (pipe(report))
		return 0;
	if (pipe(go)) {
		close(report[0]);
		close(report[1]);
		return 0;
	}
	fflush(stdout);
	pid = fork();
	if (!pid)
		burst_reader(st->name, report[1], go[0]);
	close(report[1]);
	close(go[0]);
	if (pid < 0 || !wait_blocked_in(&pid, 1, SYS_futex, WAIT_MS))
		ok = 0;
	for (i = 0; ok && i < BURST; i++)
		ok = !bcast_publish(st->w, &i, sizeof(i), 0);
	if (write(go[1], "g", 1) != 1 ||
	    read(report[0], got, 3 * sizeof(int)) != 3 * sizeof(int))
		ok = 0;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close(report[0]);
	close(go[1]);
	return ok;
}

static void check_burst(struct stage *st, int how)
{
	int got[3] = { 1, 0, 0 };	/* bcast_wait(), received, in order */

	CHECK(burst_to(st, got));
	printf("# %s: a burst of %d while one reader slept: %" PRIu64
	       " notifies, %lld queued\n", mode_name(how), BURST,
	       notifies(st->w), submitted());
	CHECK_EQ(got[0], 0);
	CHECK_EQ(got[1], BURST);
	CHECK(got[2]);
	CHECK_EQ(notifies(st->w), 1);
	CHECK_EQ(submitted(), 1);
	CHECK_EQ(notify_errors(st->w), 0);
}

TEST(a_burst_while_a_reader_sleeps_costs_one_notify)
{
	if (async_here("burst"))
		for_each_mode("async-burst", BURST_CAP, check_burst);
}

static void check_sleepers(struct stage *st, int how)
{
	double ms;

	CHECK_OK(sleepers_start(&st->s, st->name, SLEEPERS));
	ms = wake_rounds(st->w, &st->s, ROUNDS);
	printf("# %s: %d sleepers, %d rounds: median %.2f ms to the last woken, %"
	       PRIu64 " notifies, %lld queued\n", mode_name(how), SLEEPERS,
	       ROUNDS, ms, notifies(st->w), submitted());
	CHECK(ms >= 0);
	CHECK(ms < WOKEN_MS);
	/* One notify wakes them all: one per round, not per reader. */
	CHECK_EQ(notifies(st->w), ROUNDS);
	CHECK_EQ(submitted(), ROUNDS);
	CHECK_EQ(notify_errors(st->w), 0);
}

TEST(several_sleeping_readers_are_woken_by_one_notify)
{
	if (async_here("sleepers"))
		for_each_mode("async-sleepers", CAP, check_sleepers);
}

/* Each round a new writer: asynchronous, one wake-up, then its close. */
static void check_closes(struct stage *st, int how)
{
	double lat[ROUNDS / 2], t0;
	int i;

	/* The stage's writer goes first, seen going: from then on the
	 * sleepers wait for the next writer. */
	CHECK_OK(sleepers_start(&st->s, st->name, SLEEPERS));
	CHECK(sleepers_asleep(&st->s));
	t0 = now_s();
	bcast_writer_close(st->w);
	st->w = NULL;
	CHECK(sleepers_woken(&st->s, t0, -BCAST_EWRITERGONE) >= 0);
	for (i = 0; i < ROUNDS / 2; i++) {
		CHECK_OK(bcast_writer_open(st->r, &st->w));
		CHECK_OK(bcast_writer_set_notify(st->w, how));
		CHECK(wake_rounds(st->w, &st->s, 1) >= 0);
		CHECK(sleepers_asleep(&st->s));
		t0 = now_s();
		bcast_writer_close(st->w);
		st->w = NULL;
		/* Its io_uring went with it. */
		CHECK_EQ(uring_count(getpid(), NULL), 0);
		lat[i] = sleepers_woken(&st->s, t0, -BCAST_EWRITERGONE);
		CHECK(lat[i] >= 0);
	}
	printf("# %s: closing an asynchronous writer: median %.2f ms until %d sleepers knew\n",
	       mode_name(how), median(lat, i), SLEEPERS);
	CHECK(median(lat, i) < WOKEN_MS);
}

TEST(closing_an_async_writer_wakes_its_readers)
{
	if (async_here("close"))
		for_each_mode("async-close", CAP, check_closes);
}

static void check_switching(struct stage *st)
{
	struct bcast_writer *w = st->w;
	double ms;

	CHECK_OK(sleepers_start(&st->s, st->name, 2));
	CHECK_OK(bcast_writer_set_notify(w, BCAST_NOTIFY_URING));
	CHECK_OK(bcast_writer_set_notify(w, BCAST_NOTIFY_SQPOLL));
	CHECK_EQ(uring_count(getpid(), NULL), 1);	/* the old one went */
	CHECK_OK(bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC));
	CHECK_EQ(uring_count(getpid(), NULL), 0);
	ms = wake_rounds(w, &st->s, ROUNDS / 2);
	CHECK(ms >= 0 && ms < WOKEN_MS);
	CHECK_EQ(notifies(w), ROUNDS / 2);
	/* And on again: a fresh io_uring, counting from nothing. */
	CHECK_OK(bcast_writer_set_notify(w, BCAST_NOTIFY_URING));
	ms = wake_rounds(w, &st->s, ROUNDS / 2);
	CHECK(ms >= 0 && ms < WOKEN_MS);
	CHECK_EQ(notifies(w), ROUNDS);
	CHECK_EQ(submitted(), ROUNDS / 2);
	CHECK_EQ(notify_errors(w), 0);
}

TEST(switching_back_to_sync_wake_ups_works)
{
	struct stage st;

	if (!async_here("switch"))
		return;
	if (!stage_open(&st, "async-switch", CAP, BCAST_NOTIFY_SYNC))
		check_switching(&st);
	else
		tap_fail(__FILE__, __LINE__, "no ring");
	stage_close(&st);
}

/*
 * io_uring_setup refused (seccomp, as a profile without io_uring would):
 * the set-up fails with that error and the writer keeps the io_uring it
 * had, which still works.  In a child, for the filter.
 */
static int refused_setup_child(const char *name)
{
	struct bcast_ring_hdr *h;
	struct bcast_writer *w;
	struct bcast_ring *r;
	int rc;

	if (bcast_ring_open(name, BCAST_RDWR, &r) || bcast_writer_open(r, &w))
		return 10;
	if (bcast_writer_set_notify(w, BCAST_NOTIFY_URING))
		return 11;
	if (refuse_syscall(__NR_io_uring_setup, -1, EPERM))
		return 12;
	rc = bcast_writer_set_notify(w, BCAST_NOTIFY_SQPOLL);
	if (rc != -EPERM) {
		printf("# set_notify with io_uring_setup refused: %s\n",
		       bcast_strerror(rc));
		return 13;
	}
	if (uring_count(getpid(), NULL) != 1)
		return 14;
	h = header_of(r);
	__atomic_store_n(&h->need_wakeup, 1, __ATOMIC_SEQ_CST);
	if (bcast_publish(w, "x", 1, 0) || notifies(w) != 1 ||
	    submitted() != 1 || notify_errors(w))
		return 15;
	if (bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC) ||
	    uring_count(getpid(), NULL))
		return 16;
	bcast_writer_close(w);
	bcast_ring_close(r);
	return 0;
}

TEST(a_failed_set_up_leaves_the_writer_as_it_was)
{
	const char *name = shm_name("async-refuse");
	struct bcast_ring *r;
	int status;
	pid_t pid;

	if (!async_here("failed set-up"))
		return;
	r = shm_ring_new(name, CAP, 0);
	CHECK(r != NULL);
	fflush(stdout);
	pid = fork();
	if (!pid)
		_exit(refused_setup_child(name));
	bcast_ring_close(r);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	bcast_ring_destroy(name);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) == 12)
		printf("# skipped: no seccomp filter can be installed here\n");
	else
		CHECK_EQ(WEXITSTATUS(status), 0);
}

/*
 * A fork() child inherits the writer and its io_uring's rings (shared
 * memory): its set_notify and close must leave them alone, or it would
 * take the parent's completions and entries.
 */
static int forked_copy_child(struct bcast_writer *w)
{
	if (bcast_writer_set_notify(w, BCAST_NOTIFY_URING) != -EBUSY)
		return 20;
	if (bcast_writer_set_notify(w, BCAST_NOTIFY_SQPOLL) != -EBUSY)
		return 21;
	if (uring_count(getpid(), NULL) != 1)
		return 22;
	/* Drops the child's copy: unmapped and closed, untouched. */
	if (bcast_writer_set_notify(w, BCAST_NOTIFY_SYNC))
		return 23;
	if (uring_count(getpid(), NULL) != 0)
		return 24;
	bcast_writer_close(w);
	return 0;
}

static void check_fork_copy(struct stage *st, int how)
{
	struct uring_positions before, after;
	int fd = -1, status;
	pid_t pid;

	/* One wake-up queued and completed, its completion not yet reaped
	 * (the writer reaps at its next wake-up). */
	__atomic_store_n(&st->h->need_wakeup, 1, __ATOMIC_SEQ_CST);
	CHECK_OK(bcast_publish(st->w, "x", 1, 0));
	CHECK_EQ(uring_count(getpid(), &fd), 1);
	CHECK_OK(completion_waiting(fd, &before));
	CHECK_EQ(before.sq_tail, 1);
	fflush(stdout);
	pid = fork();
	if (!pid)
		_exit(forked_copy_child(st->w));
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_OK(uring_positions(getpid(), fd, &after));
	CHECK_EQ(after.sq_tail, before.sq_tail);
	CHECK_EQ(after.cq_head, before.cq_head);
	CHECK_EQ(after.cq_tail, before.cq_tail);
	/* The parent's goes on. */
	__atomic_store_n(&st->h->need_wakeup, 1, __ATOMIC_SEQ_CST);
	CHECK_OK(bcast_publish(st->w, "y", 1, 0));
	CHECK_EQ(notifies(st->w), 2);
	CHECK_EQ(submitted_by_now(2), 2);
	CHECK_EQ(notify_errors(st->w), 0);
	printf("# %s: a fork child's set_notify and close left the parent's io_uring as it was\n",
	       mode_name(how));
}

TEST(a_fork_child_leaves_the_parents_io_uring_alone)
{
	if (async_here("fork"))
		for_each_mode("async-fork", CAP, check_fork_copy);
}

TEST_MAIN()
