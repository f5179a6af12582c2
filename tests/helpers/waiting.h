/* SPDX-License-Identifier: MIT */
/*
 * What the tests of blocking readers share, on the host and in the VM
 * (kselftest): writer processes, CPU accounting of a wait, a seccomp
 * filter that makes membarrier() fail, and a blocking ping-pong.
 */
#ifndef BCAST_TEST_WAITING_H
#define BCAST_TEST_WAITING_H

#include <stdint.h>
#include <sys/types.h>
#include "bcast.h"

/* bcast_wait(rd, ms) times out after about `ms`, having slept: 1, else 0
 * with what happened on stdout. */
int sleeps_until_timeout(struct bcast_reader *rd, int ms);

/*
 * A child that becomes the writer of ring `name`, publishes `count`
 * messages (the int i, type i), closes the writer with `close_after`,
 * says so, and then waits to be killed (or for its parent to die).
 * Its pid, or -1.
 */
pid_t spawn_writer(const char *name, int count, int close_after);

/* Receive what spawn_writer() published: how many, the last in *last. */
int drain(struct bcast_reader *rd, int *last);

/*
 * From now on system call `nr` fails with `err` in this process, as a
 * seccomp profile that does not allow it would; with `cmd` >= 0, only
 * when its second argument's low 32 bits are `cmd` (an ioctl command).
 */
int refuse_syscall(int nr, long long cmd, int err);

/* Make membarrier() fail with EPERM in this process. */
int forbid_membarrier(void);

/*
 * One side of a blocking ping-pong: become the writer of `out_name`, read
 * `in_name`; the client publishes i and waits for i back, the server
 * (`serve`) answers each.  Returns 0, or a negative step that failed;
 * *missed gets the reader's missed_wakeups.
 */
int pong(const char *in_name, const char *out_name, int cycles, int serve,
	 uint64_t *missed);

#endif
