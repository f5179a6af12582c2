// SPDX-License-Identifier: MIT
/*
 * One writer, always: several processes call bcast_writer_open() on the
 * same ring at the same moment, in every situation a ring can be in: fresh,
 * right after (and during) a clean close, after the holder was SIGKILLed
 * and reaped, and while the holder is being killed (take-over racing the
 * other contenders).  Shared memory counts how many hold the writer at
 * once; a reader checks the checksum of every message published meanwhile.
 *
 * BCAST_RACE_ROUNDS (default 1000) rounds per situation and backend,
 * BCAST_RACE_CONTENDERS (default 4) contenders.
 *
 * Then what decides whether an owner is alive: a reused pid, a process
 * whose main thread exited, a fork() child, a pid namespace of its own.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include "tap.h"
#include "clock.h"
#include "env.h"
#include "fixture.h"
#include "payload.h"
#include "process.h"
#include "random.h"
#include "thread-race.h"
#include <linux/bcast.h>

#define CAP		(1 << 16)
#define MEM_LEN		(8192 + CAP + 4096)
#define MAX_CONTENDERS	16
#define MSGS_PER_WIN	8

enum situation { FRESH, CLEAN_CLOSE, KILLED, KILL_RACE, NSITUATIONS };
static const char *const situation_name[] = {
	"fresh ring", "during and after a clean close",
	"after the holder was SIGKILLed", "take-over racing the kill",
};

/* What one round shares; cleared before each. */
struct round_state {
	int go;			/* contenders start */
	int retry;		/* contenders retry -EBUSY until one wins */
	int ready;		/* contenders waiting for go */
	int done;		/* contenders finished the round */
	int holders;		/* processes holding the writer right now */
	int max_holders;
	int winners;
	int stopped;		/* contenders done trying */
	int other_errors;	/* bcast_writer_open() neither 0 nor -EBUSY */
	int last_error;
	int failed;		/* a contender could not open the ring */
	int holding;		/* the holder process has the writer */
	int holder_pid;		/* it, while it may be alive */
	int live_takeover;	/* a contender won while the holder ran */
	int round_done;		/* the reader may drain and stop */
	unsigned long long good, bad, overruns;
};

/*
 * The contenders live through all the rounds of a situation: their start
 * times differ from those of the holders killed under them, as they do in
 * real life (a pid check trusting a stale start time would show).
 */
struct control {
	int round;		/* bumped to start a round */
	int quit;
	struct round_state rs;
};

static struct control *ctl;
static struct round_state *rs;
static void *ring_mem;		/* memory backend: shared anonymous memory */
static char ring_name[96];
static int use_shm;
static int contenders;

static int open_ring(int flags, struct bcast_ring **r)
{
	if (use_shm)
		return bcast_ring_open(ring_name, flags, r);
	return bcast_ring_attach(ring_mem, MEM_LEN, flags, r);
}

static void fresh_ring(void)
{
	struct bcast_ring_opts o = { .size = CAP };
	struct bcast_ring *r;

	if (use_shm) {
		r = shm_ring_new(ring_name, CAP, 0);
		if (r)
			bcast_ring_close(r);
	} else {
		memset(ring_mem, 0, MEM_LEN);
		if (bcast_ring_format(ring_mem, MEM_LEN, &o, &r) == 0)
			bcast_ring_close(r);
	}
}

/* Message `seq`, which carries its sequence number (all have type 7). */
static size_t msg_len(uint64_t seq)
{
	return 8 + (mix64(seq) % 200);
}

static void publish_checked(struct bcast_writer *w, uint64_t seq)
{
	unsigned char buf[256];

	payload_fill(buf, msg_len(seq), seq);
	bcast_publish(w, buf, msg_len(seq), 7);
}

/* State (field 3 of /proc/PID/stat) and thread count (field 20) of
 * `pid`; 0 if it is gone. */
static char proc_state(pid_t pid, long *threads)
{
	char buf[512], *p, *save, *field, state = 0;
	int i;

	*threads = 0;
	p = process_stat(pid, buf, sizeof(buf));
	if (!p)
		return 0;
	for (i = 3, field = strtok_r(p, " ", &save); field && i <= 20;
	     i++, field = strtok_r(NULL, " ", &save)) {
		if (i == 3)
			state = field[0];
		else if (i == 20)
			*threads = strtol(field, NULL, 10);
	}
	return state;
}

/*
 * Is `pid` still running code: not gone, not a zombie, or a zombie
 * thread-group leader whose other threads still run (what the library
 * counts as alive; a SIGKILLed process under qemu-user is one for a
 * while, its emulator's threads exiting after the leader)?
 */
static int running(pid_t pid)
{
	long threads;
	char state = proc_state(pid, &threads);

	if (!state || state == 'X')
		return 0;
	return state != 'Z' || threads > 1;
}

/* Count ourselves among the holders of the writer, then publish. */
static void hold(struct bcast_writer *w, uint64_t seq)
{
	int n = __atomic_add_fetch(&rs->holders, 1, __ATOMIC_SEQ_CST), i;
	int max = __atomic_load_n(&rs->max_holders, __ATOMIC_SEQ_CST);

	while (n > max && !__atomic_compare_exchange_n(&rs->max_holders, &max,
						       n, 0, __ATOMIC_SEQ_CST,
						       __ATOMIC_SEQ_CST))
		;
	for (i = 0; i < MSGS_PER_WIN; i++)
		publish_checked(w, seq + (uint64_t)i);
}

static void unhold(void)
{
	__atomic_sub_fetch(&rs->holders, 1, __ATOMIC_SEQ_CST);
}

/* One round of a contender: open the ring, wait for the start, try to
 * become the writer (with rs->retry, until someone has won). */
static void contend(int id, int round)
{
	struct bcast_writer *w;
	struct bcast_ring *r;
	double t0;
	int rc;

	if (open_ring(BCAST_RDWR, &r)) {
		__atomic_add_fetch(&rs->failed, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&rs->stopped, 1, __ATOMIC_SEQ_CST);
		return;
	}
	__atomic_add_fetch(&rs->ready, 1, __ATOMIC_SEQ_CST);
	/* Yield while waiting: on two CPUs the parent must get to say go. */
	while (!__atomic_load_n(&rs->go, __ATOMIC_ACQUIRE))
		sched_yield();
	t0 = now_s();
	for (;;) {
		rc = bcast_writer_open(r, &w);
		if (rc != -EBUSY || !rs->retry ||
		    __atomic_load_n(&rs->winners, __ATOMIC_SEQ_CST) ||
		    now_s() - t0 > 5)
			break;
		sched_yield();
	}
	if (rc == 0) {
		pid_t hpid = __atomic_load_n(&rs->holder_pid, __ATOMIC_SEQ_CST);

		/* A killed holder must be dead before anyone takes over. */
		if (hpid > 0 && running(hpid))
			__atomic_add_fetch(&rs->live_takeover, 1,
					   __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&rs->winners, 1, __ATOMIC_SEQ_CST);
		hold(w, ((uint64_t)round << 32) | ((uint64_t)id << 24));
		/* Hold until every other contender has given up. */
		while (__atomic_load_n(&rs->stopped, __ATOMIC_SEQ_CST) <
		       contenders - 1 && now_s() - t0 < 10)
			sched_yield();
		unhold();
		bcast_writer_close(w);
	} else {
		if (rc != -EBUSY) {
			__atomic_add_fetch(&rs->other_errors, 1, __ATOMIC_SEQ_CST);
			rs->last_error = rc;
		}
		__atomic_add_fetch(&rs->stopped, 1, __ATOMIC_SEQ_CST);
	}
	bcast_ring_close(r);
}

static void contender(int id)
{
	int seen = 0;

	for (;;) {
		int round;

		while ((round = __atomic_load_n(&ctl->round, __ATOMIC_ACQUIRE)) ==
		       seen && !__atomic_load_n(&ctl->quit, __ATOMIC_ACQUIRE))
			usleep(20);
		if (__atomic_load_n(&ctl->quit, __ATOMIC_ACQUIRE))
			_exit(0);
		seen = round;
		contend(id, round);
		__atomic_add_fetch(&rs->done, 1, __ATOMIC_SEQ_CST);
	}
}

/* The holder of the KILLED situations: publish until killed.  It is not
 * counted among the holders: the winner checks that it is dead instead. */
static void holder(void)
{
	struct bcast_writer *w;
	struct bcast_ring *r;
	uint64_t seq = 1ULL << 62;

	if (open_ring(BCAST_RDWR, &r) || bcast_writer_open(r, &w))
		_exit(3);
	__atomic_store_n(&rs->holding, 1, __ATOMIC_RELEASE);
	for (;;)
		publish_checked(w, seq++);
}

static void check_message(const unsigned char *buf, ssize_t len)
{
	uint64_t seq;

	if (len < 8) {
		rs->bad++;
		return;
	}
	seq = payload_seq(buf);
	if (len != (ssize_t)msg_len(seq) || !payload_ok(buf, (size_t)len, seq))
		rs->bad++;
	else
		rs->good++;
}

static void reader(void)
{
	unsigned char buf[512];
	struct bcast_reader *rd;
	struct bcast_ring *r;
	int idle = 0;

	if (open_ring(BCAST_RDONLY, &r) ||
	    bcast_reader_open(r, BCAST_FROM_OLDEST, &rd))
		_exit(3);
	for (;;) {
		ssize_t n = bcast_receive(rd, buf, sizeof(buf), NULL);

		if (n >= 0) {
			check_message(buf, n);
			idle = 0;
		} else if (n == -BCAST_EOVERRUN) {
			rs->overruns++;
		} else if (n == -EAGAIN || n == -EINPROGRESS) {
			if (__atomic_load_n(&rs->round_done, __ATOMIC_ACQUIRE) &&
			    ++idle > 100)
				break;
			sched_yield();
		} else {
			rs->bad++;	/* a garbled ring: -BCAST_ECORRUPT */
			bcast_reader_close(rd);
			if (bcast_reader_open(r, BCAST_FROM_LATEST, &rd))
				_exit(3);
		}
	}
	bcast_reader_close(rd);
	bcast_ring_close(r);
	_exit(0);
}

static pid_t spawn(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0)
		fn();
	return pid;
}

static pid_t spawn_contender(int id)
{
	pid_t pid = fork();

	if (pid == 0)
		contender(id);
	return pid;
}

static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void wait_for(int *counter, int n)
{
	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < n)
		sched_yield();
}

/* One round; returns 0 or a description of what went wrong. */
static const char *race_round(enum situation sit, int round, unsigned seed)
{
	struct bcast_writer *w = NULL;
	struct bcast_ring *r = NULL;
	pid_t rdpid, hpid = -1;

	memset(rs, 0, sizeof(*rs));
	rs->retry = sit == CLEAN_CLOSE || sit == KILL_RACE;
	if (sit == FRESH || round == 1)
		fresh_ring();
	rdpid = spawn(reader);
	if (sit == CLEAN_CLOSE) {
		if (open_ring(BCAST_RDWR, &r) || bcast_writer_open(r, &w))
			return "the parent could not become the writer";
		hold(w, (uint64_t)round << 32);
	} else if (sit == KILLED || sit == KILL_RACE) {
		hpid = spawn(holder);
		wait_for(&rs->holding, 1);
	}
	__atomic_store_n(&ctl->round, round, __ATOMIC_RELEASE);
	wait_for(&rs->ready, contenders - rs->failed);
	if (sit == KILLED) {
		kill(hpid, SIGKILL);
		reap(hpid);
		__atomic_store_n(&rs->go, 1, __ATOMIC_RELEASE);
	} else if (sit == KILL_RACE) {
		__atomic_store_n(&rs->holder_pid, hpid, __ATOMIC_SEQ_CST);
		__atomic_store_n(&rs->go, 1, __ATOMIC_RELEASE);
		spin_us(seed % 300);
		kill(hpid, SIGKILL);
		if (seed & 1)
			reap(hpid);
	} else {
		__atomic_store_n(&rs->go, 1, __ATOMIC_RELEASE);
	}
	if (sit == CLEAN_CLOSE) {
		spin_us(seed % 50);
		unhold();
		bcast_writer_close(w);
		bcast_ring_close(r);
	}
	wait_for(&rs->done, contenders);
	if (sit == KILL_RACE && !(seed & 1))
		reap(hpid);
	rs->holder_pid = 0;
	__atomic_store_n(&rs->round_done, 1, __ATOMIC_RELEASE);
	if (reap(rdpid) != 0)
		return "the reader failed";
	if (rs->failed)
		return "a contender could not open the ring";
	if (rs->max_holders > 1)
		return "two processes held the writer at once";
	if (rs->live_takeover)
		return "a contender took the writer from a holder still running";
	if (rs->other_errors)
		return "bcast_writer_open() failed with neither 0 nor -EBUSY";
	if (rs->winners != 1)
		return "not exactly one contender became the writer";
	if (rs->bad)
		return "the reader got a message with a bad checksum";
	return NULL;
}

static void race(enum situation sit)
{
	int rounds = (int)env_u64("BCAST_RACE_ROUNDS", 1000), round, i;
	unsigned seed = (unsigned)getpid() * 2654435761u;
	unsigned long long good = 0, overruns = 0;
	pid_t pids[MAX_CONTENDERS];
	const char *why = NULL;
	double t0;

	memset(ctl, 0, sizeof(*ctl));
	for (i = 0; i < contenders; i++)
		pids[i] = spawn_contender(i + 1);
	t0 = now_s();
	for (round = 1; round <= rounds && !why; round++) {
		seed = seed * 1103515245u + 12345u;
		why = race_round(sit, round, seed >> 8);
		good += rs->good;
		overruns += rs->overruns;
	}
	__atomic_store_n(&ctl->quit, 1, __ATOMIC_RELEASE);
	for (i = 0; i < contenders; i++)
		reap(pids[i]);
	if (why)
		FAILF("%s, %s ring, round %d: %s (holders at once %d, winners %d, error %s, bad messages %llu)",
		      situation_name[sit], use_shm ? "shm" : "memory",
		      round - 1, why, rs->max_holders, rs->winners,
		      bcast_strerror(rs->last_error), rs->bad);
	printf("# %s, %s ring: %d rounds x %d contenders, never two writers; reader checked %llu messages (%llu overruns), 0 bad; %.2f s\n",
	       situation_name[sit], use_shm ? "shm" : "memory", rounds,
	       contenders, good, overruns, now_s() - t0);
}

static void race_all(int shm)
{
	enum situation sit;

	use_shm = shm;
	for (sit = FRESH; sit < NSITUATIONS; sit++)
		race(sit);
	if (shm)
		bcast_ring_destroy(ring_name);
}

TEST(one_writer_on_a_shm_ring_whatever_the_race)
{
	race_all(1);
}

TEST(one_writer_on_shared_memory_whatever_the_race)
{
	race_all(0);
}

/* ---- who counts as the owner ---- */

static struct bcast_ring *memory_ring(void *mem)
{
	struct bcast_ring_opts o = { .size = CAP };
	struct bcast_ring *r = NULL;

	memset(mem, 0, MEM_LEN);
	return bcast_ring_format(mem, MEM_LEN, &o, &r) ? NULL : r;
}

/* Threads sharing one ring object: exactly one writer each time. */
TEST(one_writer_per_ring_object_whatever_the_threads)
{
	static unsigned char mem[MEM_LEN];
	struct bcast_ring_opts o = { .size = CAP };
	struct bcast_ring *r;

	bcast_ring_destroy(ring_name);
	CHECK_OK(bcast_ring_create(ring_name, &o, &r));
	CHECK_EQ(race_writer_opens(r, 200), 0);
	bcast_ring_close(r);
	bcast_ring_destroy(ring_name);
	r = memory_ring(mem);
	CHECK(r != NULL);
	CHECK_EQ(race_writer_opens(r, 200), 0);
	bcast_ring_close(r);
}

/* An identity as a writer leaves it: pid, start time, epoch, alive. */
static void pretend_owner(struct bcast_ring_hdr *h, pid_t pid, uint64_t start)
{
	h->writer_lock = writer_lock_token(pid, start);
	h->writer_pid = (uint32_t)pid;
	h->writer_epoch = 1;
	h->writer_alive = 1;
}

TEST(a_reused_pid_is_not_the_owner_but_a_live_owner_is)
{
	struct bcast_ring_info info;
	struct bcast_writer *w;
	struct bcast_ring *r;
	pid_t child = fork();
	uint64_t start;

	if (child == 0) {
		pause();
		_exit(0);
	}
	CHECK(child > 0);
	start = process_start(child);
	CHECK(start > 0);
	CHECK((r = memory_ring(ring_mem)) != NULL);
	/* The child runs with this pid and start time: it is the owner. */
	pretend_owner(ring_mem, child, start);
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.writer_alive, 1);
	CHECK_EQ(info.writer_pid, child);
	CHECK_EQ(bcast_writer_open(r, &w), -EBUSY);
	/* The same pid with another start time: a dead owner whose pid was
	 * given to someone else. */
	pretend_owner(ring_mem, child, start + 1);
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.writer_alive, 0);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_EQ(((struct bcast_ring_hdr *)ring_mem)->writer_epoch, 2);
	bcast_writer_close(w);
	/* A zombie is dead too. */
	kill(child, SIGKILL);
	while (running(child))
		usleep(1000);
	pretend_owner(ring_mem, child, start);
	CHECK_OK(bcast_writer_open(r, &w));
	bcast_writer_close(w);
	reap(child);
	bcast_ring_close(r);
}

static void *publish_forever(void *arg)
{
	struct bcast_writer *w = arg;

	for (;;) {
		bcast_publish(w, "t", 1, 0);
		usleep(1000);
	}
	return NULL;
}

TEST(a_writer_whose_main_thread_exited_is_alive)
{
	struct bcast_ring_info info;
	struct bcast_writer *w;
	struct bcast_ring *r;
	pid_t child;

	CHECK((r = memory_ring(ring_mem)) != NULL);
	child = fork();
	if (child == 0) {
		struct bcast_ring *cr;
		struct bcast_writer *cw;
		pthread_t t;

		if (bcast_ring_attach(ring_mem, MEM_LEN, BCAST_RDWR, &cr) ||
		    bcast_writer_open(cr, &cw) ||
		    pthread_create(&t, NULL, publish_forever, cw))
			_exit(3);
		pthread_exit(NULL);	/* the leader becomes a zombie */
	}
	CHECK(child > 0);
	usleep(200000);
	{
		/* Judged before the child is killed, checked after: a failed
		 * check must not leave it publishing into ring_mem. */
		long threads;
		int zombie = proc_state(child, &threads) == 'Z', busy, rc;

		rc = bcast_ring_info(r, &info);
		busy = bcast_writer_open(r, &w);
		kill(child, SIGKILL);
		reap(child);
		CHECK(zombie);			/* the leader is a zombie ... */
		CHECK_OK(rc);
		CHECK_EQ(info.writer_alive, 1);	/* ... but the process lives */
		CHECK_EQ(busy, -EBUSY);
	}
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.writer_alive, 0);
	CHECK_OK(bcast_writer_open(r, &w));
	bcast_writer_close(w);
	bcast_ring_close(r);
}

/* Does an open file of the ring other than ours hold the writer's lock? */
static int writer_lock_held_elsewhere(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = BCAST_LOCK_OFFSET, .l_len = 8 };
	char path[128];
	int fd, held;

	snprintf(path, sizeof(path), "/dev/shm/%s", ring_name + 4);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	held = fcntl(fd, F_OFD_GETLK, &fl) ? -1 : fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

static int writer_alive_now(struct bcast_ring *r)
{
	struct bcast_ring_info info;

	return bcast_ring_info(r, &info) ? -1 : info.writer_alive;
}

TEST(a_fork_child_of_the_writer_is_not_a_second_writer)
{
	struct bcast_ring_opts o = { .size = CAP };
	struct bcast_writer *w;
	struct bcast_ring *r;
	int status;
	pid_t child;

	bcast_ring_destroy(ring_name);
	CHECK_OK(bcast_ring_create(ring_name, &o, &r));
	child = fork();		/* shares r's open file with us */
	if (child == 0) {
		struct bcast_writer *cw;
		struct bcast_ring *cr;

		usleep(100000);	/* the parent becomes the writer */
		if (bcast_writer_open(r, &cw) != -EBUSY)
			_exit(1);
		if (bcast_ring_open(ring_name, BCAST_RDWR, &cr) ||
		    bcast_writer_open(cr, &cw) != -EBUSY)
			_exit(2);
		_exit(0);
	}
	CHECK(child > 0);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	/* The child's refused attempt left our lock where it was. */
	CHECK_EQ(writer_lock_held_elsewhere(), 1);
	/* A child that closes the writer it inherited closes its copy only:
	 * we stay the writer, locked and alive, for everyone. */
	child = fork();
	if (child == 0) {
		bcast_writer_close(w);
		bcast_ring_close(r);
		_exit(0);
	}
	CHECK(child > 0);
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(writer_lock_held_elsewhere(), 1);
	CHECK_EQ(writer_alive_now(r), 1);
	CHECK_OK(bcast_publish(w, "x", 1, 0));
	child = fork();
	if (child == 0) {
		struct bcast_writer *cw;
		struct bcast_ring *cr;

		_exit(bcast_ring_open(ring_name, BCAST_RDWR, &cr) ? 1 :
		      bcast_writer_open(cr, &cw) == -EBUSY ? 0 : 2);
	}
	CHECK(child > 0);
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	bcast_writer_close(w);
	CHECK_EQ(writer_lock_held_elsewhere(), 0);
	CHECK_EQ(writer_alive_now(r), 0);
	bcast_ring_close(r);
	bcast_ring_destroy(ring_name);
}

/* Runs as pid 1 of a new pid namespace: become the writer, then wait. */
static int writer_in_namespace(void *arg)
{
	int *pipefd = arg;
	struct bcast_writer *w;
	struct bcast_ring *r;
	char c = 'w';

	if (bcast_ring_open(ring_name, BCAST_RDWR, &r) ||
	    bcast_writer_open(r, &w))
		c = 'e';
	if (write(pipefd[1], &c, 1) != 1)
		return 1;
	for (;;)
		pause();
	return 0;
}

TEST(a_writer_in_another_pid_namespace_is_judged_by_its_lock)
{
	struct bcast_ring_opts o = { .size = CAP };
	static char stack[256 * 1024];
	struct bcast_ring_info info;
	struct bcast_writer *w;
	struct bcast_ring *r;
	int pipefd[2];
	pid_t child;
	char c = 0;

	CHECK(!pipe(pipefd));
	bcast_ring_destroy(ring_name);
	CHECK_OK(bcast_ring_create(ring_name, &o, &r));
	child = clone(writer_in_namespace, stack + sizeof(stack),
		      CLONE_NEWPID | SIGCHLD, pipefd);
	if (child < 0 && (errno == EPERM || errno == EINVAL)) {
		printf("# skipped: no new pid namespace here (%s)\n",
		       strerror(errno));
		bcast_ring_close(r);
		bcast_ring_destroy(ring_name);
		return;
	}
	CHECK(child > 0);
	CHECK(read(pipefd[0], &c, 1) == 1);
	CHECK_EQ(c, 'w');
	/* Its identity holds pid 1 of its own namespace: only its lock on
	 * the ring file can tell that it lives. */
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.writer_alive, 1);
	CHECK_EQ(bcast_writer_open(r, &w), -EBUSY);
	kill(child, SIGKILL);
	reap(child);
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.writer_alive, 0);
	CHECK_OK(bcast_writer_open(r, &w));
	bcast_writer_close(w);
	bcast_ring_close(r);
	bcast_ring_destroy(ring_name);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* How the writer's /proc entry is kept from the other contender. */
enum hide {
	HIDE_NO_PROC,		/* the contender's /proc is an empty tmpfs */
	HIDE_HIDEPID,		/* hidepid=invisible, writer and contender
				 * two other users */
	HIDE_WRITER_NO_PROC,	/* the writer had no /proc: no start time */
};

/* Cover /proc in a mount namespace of our own: 0, or 77 if not allowed. */
static int hide_proc(const char *type, const char *opts)
{
	if (unshare(CLONE_NEWNS) ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(type, "/proc", type, 0, opts))
		return 77;
	return 0;
}

/*
 * A live writer of ring_mem, and another process that cannot tell from
 * /proc what it is (`how`) tries to become the writer: it must get
 * -EBUSY.  Returns that process's exit status (0 good, 77 when the set-up
 * is not allowed here), -1 if the writer failed.
 */
static int contend_without_seeing(enum hide how)
{
	int status, ready[2];
	pid_t holder, judge;
	char c;

	if (pipe(ready))
		return -1;
	holder = fork();
	if (holder == 0) {
		struct bcast_ring *hr;
		struct bcast_writer *hw;

		if (how == HIDE_WRITER_NO_PROC && hide_proc("tmpfs", NULL))
			_exit(77);
		if ((how == HIDE_HIDEPID && (setgid(65534) || setuid(65534))) ||
		    bcast_ring_attach(ring_mem, MEM_LEN, BCAST_RDWR, &hr) ||
		    bcast_writer_open(hr, &hw) || write(ready[1], "w", 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	close(ready[1]);		/* a holder that fails says so: EOF */
	if (holder < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		kill(holder, SIGKILL);
		status = holder > 0 && waitpid(holder, &status, 0) == holder &&
			 WIFEXITED(status) && WEXITSTATUS(status) == 77 ? 77 : -1;
		return status;
	}
	close(ready[0]);
	judge = fork();
	if (judge == 0) {
		struct bcast_ring *jr;
		struct bcast_writer *jw;
		char path[64];

		if ((how == HIDE_NO_PROC && hide_proc("tmpfs", NULL)) ||
		    (how == HIDE_HIDEPID && hide_proc("proc", "hidepid=2")))
			_exit(77);
		if (how == HIDE_HIDEPID && (setgid(65533) || setuid(65533)))
			_exit(4);
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)holder);
		if (how != HIDE_WRITER_NO_PROC && !access(path, F_OK))
			_exit(77);	/* it is not hidden after all */
		if (bcast_ring_attach(ring_mem, MEM_LEN, BCAST_RDWR, &jr))
			_exit(3);
		_exit(bcast_writer_open(jr, &jw) == -EBUSY ? 0 : 1);
	}
	status = judge > 0 && waitpid(judge, &status, 0) == judge &&
		 WIFEXITED(status) ? WEXITSTATUS(status) : 2;
	kill(holder, SIGKILL);
	reap(holder);
	return status;
}

static void owner_stands_unseen(enum hide how)
{
	struct bcast_writer *w;
	struct bcast_ring *r;
	int rc;

	CHECK((r = memory_ring(ring_mem)) != NULL);
	rc = contend_without_seeing(how);
	if (rc == 77)
		printf("# skipped: cannot hide /proc here (needs root)\n");
	else
		CHECK_EQ(rc, 0);
	/* With /proc, the dead holder is seen dead. */
	CHECK_OK(bcast_writer_open(r, &w));
	bcast_writer_close(w);
	bcast_ring_close(r);
}

/* Without /proc nothing can be told about a pid: the owner stands. */
TEST(without_proc_a_live_owner_is_not_taken_over)
{
	owner_stands_unseen(HIDE_NO_PROC);
}

/* A writer that had no /proc could not record its start time: whether
 * its pid was reused cannot be told, and it stands while the pid lives. */
TEST(a_writer_without_proc_is_not_taken_over)
{
	owner_stands_unseen(HIDE_WRITER_NO_PROC);
}

/*
 * /proc mounted with hidepid=invisible: another user's live writer has no
 * /proc entry for us, though kill() says it exists.  It stands.
 */
TEST(a_writer_hidden_by_hidepid_is_not_taken_over)
{
	if (geteuid() != 0) {
		printf("# skipped: needs root to become two other users\n");
		return;
	}
	owner_stands_unseen(HIDE_HIDEPID);
}

int main(void)
{
	contenders = (int)env_u64("BCAST_RACE_CONTENDERS", 4);
	if (contenders < 2 || contenders > MAX_CONTENDERS)
		contenders = 4;
	snprintf(ring_name, sizeof(ring_name), "%s", shm_name("owner"));
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ring_mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED || ring_mem == MAP_FAILED)
		return 1;
	rs = &ctl->rs;
	return tap_run();
}
