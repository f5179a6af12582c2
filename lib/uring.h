/* SPDX-License-Identifier: MIT */
/*
 * The little of io_uring the library needs (the poller's sleeps, the
 * writers' asynchronous wake-ups), on the raw system calls: libbcast
 * depends on nothing but libc.  Ring handling as liburing does it.
 */
#ifndef BCAST_URING_H
#define BCAST_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/io_uring.h>

/* Opcodes newer than the oldest uapi headers this builds with (6.1). */
#define URING_OP_FUTEX_WAIT	51	/* Linux 6.7 */
#define URING_OP_FUTEX_WAKE	52
#define URING_OP_FUTEX_WAITV	53
#define URING_OP_MAX		64
#define URING_FUTEX2_SIZE_U32	0x02	/* FUTEX2_SIZE_U32: shared, 32 bits */
#define URING_FUTEX_MATCH_ANY	0xffffffffU

struct uring {
	int fd;
	bool sqpoll;
	unsigned *sq_head, *sq_tail, *sq_flags, *sq_array, sq_mask;
	unsigned *cq_head, *cq_tail, cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned sqe_tail;	/* SQEs handed out, not yet published */
	void *sq_map, *cq_map;
	size_t sq_map_len, cq_map_len, sqes_len;
	uint8_t ops[URING_OP_MAX];	/* IO_URING_OP_SUPPORTED per opcode */
};

/* entries: SQ size (a power of two), CQ twice that at least `cq`; flags:
 * IORING_SETUP_SQPOLL or 0.  0, or -errno (io_uring missing, refused by
 * seccomp or the io_uring_disabled sysctl: -ENOSYS, -EPERM ...). */
int uring_init(struct uring *u, unsigned entries, unsigned cq, unsigned flags);
void uring_exit(struct uring *u);
bool uring_supports(const struct uring *u, unsigned opcode);
/* A zeroed SQE, or NULL when the SQ is full (submit first). */
struct io_uring_sqe *uring_get_sqe(struct uring *u);
/* Hand the SQEs over: the number submitted, or -errno.  With SQPOLL no
 * system call, unless the kernel thread went idle. */
int uring_submit(struct uring *u);
/* Submit, then wait up to timeout_ns (< 0: forever) for a completion:
 * 0 (look at the completions: the kernel reports a timeout only when
 * nothing was submitted), -ETIME, -EINTR or -errno. */
int uring_wait(struct uring *u, int64_t timeout_ns);
/* The next completion, or NULL; uring_seen() consumes it. */
struct io_uring_cqe *uring_peek(struct uring *u);
void uring_seen(struct uring *u);

#endif
