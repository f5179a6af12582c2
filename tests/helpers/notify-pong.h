/* SPDX-License-Identifier: MIT */
/*
 * A blocking ping-pong whose pinging writer wakes its reader the way
 * bcast_writer_set_notify() was told to, host (shm) and VM (device) alike:
 * the answering process sleeps in bcast_wait() before every message, so
 * every cycle is one sleep and one wake-up.
 */
#ifndef BCAST_TEST_NOTIFY_PONG_H
#define BCAST_TEST_NOTIFY_PONG_H

#include <stdint.h>

struct notify_pong {
	int failed;		/* 0, or the step that failed (see the log) */
	uint64_t notifies;	/* the pinging writer's stats */
	uint64_t notify_errors;
	uint64_t submitted;	/* SQEs its io_uring took, by its fdinfo */
	uint64_t sleeps;	/* the answering reader's stats */
	uint64_t missed;	/* missed wake-ups, both readers */
	double p50_us, p99_us;	/* round trips */
};

/*
 * `cycles` round trips: this process writes ring `ping` (notify mode
 * `how`) and reads `pong`, a child it forks reads `ping` and answers on
 * `pong` (synchronous wake-ups).  Both rings are new: nothing published,
 * no writer.  Every other cycle waits until the child is blocked in
 * system call `asleep_in` (its reader's sleep: SYS_futex, SYS_ioctl)
 * before it publishes, so that at least half the wake-ups find it asleep;
 * the others race with its going to sleep.  Every wait has 10 s: a lost
 * wake-up ends the run as a failure.  0, or -1 with what went wrong on
 * stdout (res->failed tells the step).
 */
int notify_pong(const char *ping, const char *pong, int how, int cycles,
		long asleep_in, struct notify_pong *res);

#endif
