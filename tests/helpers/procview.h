/* SPDX-License-Identifier: MIT */
/*
 * What /proc tells about a process that the library does not: the system
 * call it is blocked in, and its io_uring instances with the positions of
 * their queues (fdinfo), to see whether wake-ups really went through one.
 */
#ifndef BCAST_TEST_PROCVIEW_H
#define BCAST_TEST_PROCVIEW_H

#include <stdint.h>
#include <sys/types.h>

/* The system call process pid is blocked in (/proc/PID/syscall), -1 if it
 * is running or blocked outside one, -2 if that cannot be read. */
long process_syscall(pid_t pid);

/* Wait up to `ms` until every one of pids[0..n) is blocked in system call
 * nr: 1, or 0 (saying which is not, on stdout). */
int wait_blocked_in(const pid_t *pids, int n, long nr, int ms);

/* The io_uring instances process pid has open: how many; the first fd's
 * number in *fd (if fd is not NULL and there is one). */
int uring_count(pid_t pid, int *fd);

struct uring_positions {
	uint32_t sq_head, sq_tail;	/* SQEs the kernel took, we gave */
	uint32_t cq_head, cq_tail;	/* CQEs we reaped, the kernel posted */
};

/* The queue positions of io_uring `fd` of process pid: 0, or -1 if its
 * fdinfo does not show them. */
int uring_positions(pid_t pid, int fd, struct uring_positions *p);

#endif
