// SPDX-License-Identifier: MIT
/*
 * Blocking readers without losing a wake-up, and noticing a dead writer.
 *
 * Reader: sample wake_seq; set need_wakeup; full barrier; re-check
 * committed; sleep on wake_seq.  Writer: store committed; full barrier;
 * if need_wakeup: clear it, bump wake_seq, FUTEX_WAKE.  Either the reader
 * sees the new position or the writer sees the flag.  When the writer's
 * process registered for global membarrier, the reader's membarrier() call
 * stands in for the writer's barrier, which then costs nothing.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define LIVENESS_SLICE_MS 25	/* how often a sleeper checks the writer */
#define MISSED_GRACE_NS 100000000L

static long sys_futex(uint32_t *word, int op, uint32_t val,
		      const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

void wake_readers(struct bcast_ring *r)
{
	struct bcast_ring_hdr *h = r->hdr;

	if (r->backend == BACKEND_DEVICE) {
		device_notify(r);
		return;
	}
	store_relaxed(&h->need_wakeup, 0);
	__atomic_fetch_add(&h->wake_seq, 1, __ATOMIC_SEQ_CST);
	sys_futex(&h->wake_seq, FUTEX_WAKE, INT_MAX, NULL);
}

bool writer_registered_membarrier(void)
{
	static int state;	/* 0 unknown, 1 registered, -1 unavailable */
	long cmds;

	if (state)
		return state > 0;
	cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	    !syscall(SYS_membarrier,
		     MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0))
		state = 1;
	else
		state = -1;
	return state > 0;
}

static void reader_barrier(const struct bcast_ring_hdr *h)
{
	fence_full();
	if (load_relaxed(&h->writer_flags) & BCAST_WRITER_MEMBARRIER)
		syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
}

/*
 * Field 22 of /proc/PID/stat: start time in clock ticks since boot; a
 * zombie (field 3 'Z' or 'X') has died already: -ESRCH.
 */
static int start_time_of(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')) || !p[1] || !p[2])
		return -EINVAL;
	if (p[2] == 'Z' || p[2] == 'X')
		return -ESRCH;
	for (i = 0; i < 19 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &v) != 1)
		return -EINVAL;
	*ticks = v;
	return 0;
}

int self_start_time(uint64_t *ticks)
{
	return start_time_of(getpid(), ticks);
}

uint64_t self_pidns(void)
{
	static uint64_t ino;
	struct stat st;

	if (!ino && !stat("/proc/self/ns/pid", &st))
		ino = (uint64_t)st.st_ino;
	return ino;
}

/* Does the process recorded as writer still exist?  Only answerable from
 * the writer's pid namespace; elsewhere the alive flag is trusted. */
bool writer_process_alive(const struct bcast_ring_hdr *h)
{
	pid_t pid = (pid_t)load_acquire(&h->writer_pid);
	uint64_t ns = load_relaxed(&h->writer_pidns);
	uint64_t want = load_relaxed(&h->writer_start), ticks;

	if (pid <= 0)
		return false;
	if (!ns || ns != self_pidns())
		return true;
	if (kill(pid, 0) && errno == ESRCH)
		return false;
	switch (start_time_of(pid, &ticks)) {
	case -ESRCH:
		return false;	/* exited, not yet reaped */
	case 0:
		return !want || ticks == want;	/* else the pid was reused */
	default:
		return true;
	}
}

static bool writer_gone(const struct bcast_reader *rd)
{
	const struct bcast_ring_hdr *h = rd->hdr;

	if (!load_relaxed(&h->writer_epoch))
		return false;	/* no writer yet: wait for the first */
	if (!load_acquire(&h->writer_alive))
		return true;
	return rd->r->backend != BACKEND_DEVICE && !writer_process_alive(h);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The position the kernel should wake this reader past. */
static uint64_t wake_position(const struct bcast_reader *rd)
{
	return rd->need_resync ? rd->resync_seen : rd->pos;
}

/* Device rings: arm, fence, re-check, poll. */
static int sleep_on_device(struct bcast_reader *rd, int ms)
{
	int rc = device_arm(rd->fd, wake_position(rd));

	if (rc)
		return rc < 0 ? rc : 0;
	reader_barrier(rd->hdr);
	if (reader_ready(rd) || writer_gone(rd))
		return 0;
	rd->st.sleeps++;
	rc = device_poll(rd->fd, ms);
	if (rc == 2 && reader_ready(rd))
		rd->st.missed_wakeups++;	/* data came, no wake-up did */
	return rc < 0 ? rc : 0;
}

/* Sleep until woken, or `ms`; -EINTR on a signal. */
static int sleep_on_ring(struct bcast_reader *rd, int ms)
{
	struct bcast_ring_hdr *h = rd->r->hdr;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	uint32_t seq;

	if (rd->r->backend == BACKEND_DEVICE)
		return sleep_on_device(rd, ms);
	if (!rd->r->wake_writable) {
		/* A reader that may not write the wake page polls. */
		ts = (struct timespec){ 0, 1000000L };
		return nanosleep(&ts, NULL) ? -EINTR : 0;
	}
	seq = load_acquire(&h->wake_seq);
	__atomic_store_n(&h->need_wakeup, 1, __ATOMIC_SEQ_CST);
	reader_barrier(h);
	if (reader_ready(rd) || writer_gone(rd))
		return 0;
	rd->st.sleeps++;
	if (sys_futex(&h->wake_seq, FUTEX_WAIT, seq, &ts) == 0)
		return 0;
	if (errno == EINTR)
		return -EINTR;
	if (errno == ETIMEDOUT && load_acquire(&h->wake_seq) == seq &&
	    reader_ready(rd)) {
		/* Data came and no wake-up: lost, unless the writer is just
		 * between its committed store and its flag check (preempted).
		 * Give it a grace period before calling it lost. */
		ts = (struct timespec){ 0, MISSED_GRACE_NS };
		if (sys_futex(&h->wake_seq, FUTEX_WAIT, seq, &ts) &&
		    errno == ETIMEDOUT)
			rd->st.missed_wakeups++;
	}
	return 0;
}

BCAST_EXPORT int bcast_wait(struct bcast_reader *rd, int timeout_ms)
{
	int64_t deadline;
	int err;

	if (!rd)
		return -EINVAL;
	deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
	for (;;) {
		int64_t left;

		if (reader_ready(rd))
			return 0;
		if (writer_gone(rd))
			return reader_ready(rd) ? 0 : -BCAST_EWRITERGONE;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		err = sleep_on_ring(rd, left < LIVENESS_SLICE_MS ?
				    (int)left : LIVENESS_SLICE_MS);
		if (err)
			return err;
	}
}

BCAST_EXPORT int bcast_reader_arm(struct bcast_reader *rd)
{
	int rc;

	if (!rd)
		return -EINVAL;
	if (rd->fd < 0)
		return -ENOTSUP;
	if (reader_ready(rd))
		return 1;
	rc = device_arm(rd->fd, wake_position(rd));
	if (rc)
		return rc;
	reader_barrier(rd->hdr);
	return reader_ready(rd) ? 1 : 0;
}

BCAST_EXPORT int bcast_reader_fd(struct bcast_reader *rd)
{
	if (!rd)
		return -EINVAL;
	return rd->fd >= 0 ? rd->fd : -ENOTSUP;
}
