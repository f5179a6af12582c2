// SPDX-License-Identifier: MIT
/*
 * io_uring on the raw system calls (uring.h).  The SQ tail is published
 * with a release store and the CQ head likewise, the kernel's halves with
 * acquire loads, as liburing does; with SQPOLL a full barrier orders the
 * tail store before the NEED_WAKEUP test (the kernel thread sets the flag,
 * then re-checks the tail).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"
#include "uring.h"

#define SQPOLL_IDLE_MS 50	/* the kernel thread sleeps after this */

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned complete,
		     unsigned flags, const void *arg, size_t argsz)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, complete, flags,
			    arg, argsz);
}

static void probe_ops(struct uring *u)
{
	size_t len = sizeof(struct io_uring_probe) +
		     URING_OP_MAX * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *probe = calloc(1, len);
	unsigned i;

	if (!probe)
		return;
	if (syscall(__NR_io_uring_register, u->fd, IORING_REGISTER_PROBE,
		    probe, URING_OP_MAX) == 0)
		for (i = 0; i < probe->ops_len && i < URING_OP_MAX; i++)
			u->ops[i] = probe->ops[i].flags & IO_URING_OP_SUPPORTED;
	free(probe);
}

static int map_rings(struct uring *u, const struct io_uring_params *p)
{
	u->sq_map_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	u->cq_map_len = p->cq_off.cqes +
			p->cq_entries * sizeof(struct io_uring_cqe);
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		if (u->cq_map_len > u->sq_map_len)
			u->sq_map_len = u->cq_map_len;
		u->cq_map_len = 0;
	}
	u->sq_map = mmap(NULL, u->sq_map_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
	if (u->sq_map == MAP_FAILED)
		return -errno;
	u->cq_map = u->sq_map;
	if (u->cq_map_len) {
		u->cq_map = mmap(NULL, u->cq_map_len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, u->fd,
				 IORING_OFF_CQ_RING);
		if (u->cq_map == MAP_FAILED)
			return -errno;
	}
	u->sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED) {
		u->sqes = NULL;
		return -errno;
	}
	return 0;
}

static void point_at_rings(struct uring *u, const struct io_uring_params *p)
{
	unsigned char *sq = u->sq_map, *cq = u->cq_map;
	unsigned i;

	u->sq_head = (unsigned *)(sq + p->sq_off.head);
	u->sq_tail = (unsigned *)(sq + p->sq_off.tail);
	u->sq_flags = (unsigned *)(sq + p->sq_off.flags);
	u->sq_array = (unsigned *)(sq + p->sq_off.array);
	u->sq_mask = *(unsigned *)(sq + p->sq_off.ring_mask);
	u->cq_head = (unsigned *)(cq + p->cq_off.head);
	u->cq_tail = (unsigned *)(cq + p->cq_off.tail);
	u->cq_mask = *(unsigned *)(cq + p->cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(cq + p->cq_off.cqes);
	/* SQE i always sits in slot i. */
	for (i = 0; i <= u->sq_mask; i++)
		u->sq_array[i] = i;
	u->sqe_tail = *u->sq_tail;
}

int uring_init(struct uring *u, unsigned entries, unsigned cq, unsigned flags)
{
	struct io_uring_params p;
	int err;

	memset(u, 0, sizeof(*u));
	memset(&p, 0, sizeof(p));
	u->sq_map = u->cq_map = MAP_FAILED;
	p.flags = flags | IORING_SETUP_CLAMP;
	if (cq > 2 * entries) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
	}
	if (flags & IORING_SETUP_SQPOLL)
		p.sq_thread_idle = SQPOLL_IDLE_MS;
	u->fd = sys_setup(entries, &p);
	if (u->fd < 0)
		return -errno;
	u->sqpoll = flags & IORING_SETUP_SQPOLL;
	if (!(p.features & IORING_FEAT_EXT_ARG)) {
		err = -ENOSYS;	/* timed waits need Linux 5.11 */
		goto fail;
	}
	err = map_rings(u, &p);
	if (err)
		goto fail;
	point_at_rings(u, &p);
	probe_ops(u);
	return 0;
fail:
	uring_exit(u);
	return err;
}

void uring_exit(struct uring *u)
{
	if (u->sqes)
		munmap(u->sqes, u->sqes_len);
	if (u->cq_map != MAP_FAILED && u->cq_map != u->sq_map)
		munmap(u->cq_map, u->cq_map_len);
	if (u->sq_map != MAP_FAILED)
		munmap(u->sq_map, u->sq_map_len);
	if (u->fd >= 0)
		close(u->fd);
	memset(u, 0, sizeof(*u));
	u->fd = -1;
}

bool uring_supports(const struct uring *u, unsigned opcode)
{
	return opcode < URING_OP_MAX && u->ops[opcode];
}

struct io_uring_sqe *uring_get_sqe(struct uring *u)
{
	unsigned head = load_acquire(u->sq_head);
	struct io_uring_sqe *sqe;

	if (u->sqe_tail - head > u->sq_mask)
		return NULL;
	sqe = &u->sqes[u->sqe_tail & u->sq_mask];
	u->sqe_tail++;
	memset(sqe, 0, sizeof(*sqe));
	return sqe;
}

/* Publish the SQEs handed out; how many there were. */
static unsigned publish_sqes(struct uring *u)
{
	unsigned n = u->sqe_tail - load_relaxed(u->sq_tail);

	store_release(u->sq_tail, u->sqe_tail);
	return n;
}

static bool sqpoll_sleeps(struct uring *u)
{
	fence_full();
	return load_relaxed(u->sq_flags) & IORING_SQ_NEED_WAKEUP;
}

int uring_submit(struct uring *u)
{
	unsigned n = publish_sqes(u);
	int rc;

	if (u->sqpoll) {
		if (n && sqpoll_sleeps(u) &&
		    sys_enter(u->fd, 0, 0, IORING_ENTER_SQ_WAKEUP, NULL, 0) < 0)
			return -errno;
		return (int)n;
	}
	if (!n)
		return 0;
	rc = sys_enter(u->fd, n, 0, 0, NULL, 0);
	return rc < 0 ? -errno : rc;
}

int uring_wait(struct uring *u, int64_t timeout_ns)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ns / 1000000000,
		.tv_nsec = timeout_ns % 1000000000,
	};
	struct io_uring_getevents_arg arg = {
		.sigmask_sz = _NSIG / 8,
		.ts = timeout_ns < 0 ? 0 : (uint64_t)(uintptr_t)&ts,
	};
	unsigned n = publish_sqes(u), flags = IORING_ENTER_GETEVENTS |
					      IORING_ENTER_EXT_ARG;

	if (u->sqpoll) {
		if (n && sqpoll_sleeps(u))
			flags |= IORING_ENTER_SQ_WAKEUP;
		n = 0;
	}
	if (sys_enter(u->fd, n, 1, flags, &arg, sizeof(arg)) < 0)
		return -errno;
	return 0;
}

struct io_uring_cqe *uring_peek(struct uring *u)
{
	unsigned head = load_relaxed(u->cq_head);

	if (head == load_acquire(u->cq_tail))
		return NULL;
	return &u->cqes[head & u->cq_mask];
}

void uring_seen(struct uring *u)
{
	store_release(u->cq_head, load_relaxed(u->cq_head) + 1);
}
