// SPDX-License-Identifier: MIT
/*
 * The full barrier of the wake-up handshake, on both sides: when the
 * writer's process registered for global expedited membarrier, a sleeping
 * reader's membarrier() call stands in for the writer's barrier, which then
 * costs the writer nothing; a reader whose membarrier() fails says so in
 * reader_flags (device readers through the kernel) and the writer goes back
 * to fencing itself.
 */
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

bool writer_registered_membarrier(void)
{
	/* 0 unknown, 1 registered, -1 unavailable; threads that race to
	 * find out all register, which is harmless. */
	static int state;
	int now = __atomic_load_n(&state, __ATOMIC_RELAXED);
	long cmds;

	if (now)
		return now > 0;
	cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	now = cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	      !syscall(SYS_membarrier,
		       MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) ? 1 : -1;
	__atomic_store_n(&state, now, __ATOMIC_RELAXED);
	return now > 0;
}

/* A full barrier on every CPU that runs a thread of any process (the
 * writers' among them): false if membarrier() failed. */
bool global_barrier(void)
{
	fence_full();
	return !syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
}

/* A sleeping reader could not stand in for its writer's barrier: ask the
 * writer to fence from now on (it looks when it wakes us); device readers
 * ask through the kernel when they arm next. */
void reader_barrier_failed(struct bcast_reader *rd)
{
	rd->no_membarrier = true;
	if (rd->r->wake_writable)
		__atomic_fetch_or(&rd->r->hdr->reader_flags,
				  BCAST_READERS_NO_MEMBARRIER, __ATOMIC_SEQ_CST);
}

/* Does this ring's writer count on its sleeping readers' membarrier()? */
bool writer_wants_barrier(const struct bcast_reader *rd)
{
	return load_relaxed(&rd->hdr->writer_flags) & BCAST_WRITER_MEMBARRIER;
}

/*
 * The reader's half of the Dekker handshake, after it asked to be woken.
 * False when the writer skips its own barrier and our membarrier() failed:
 * then a wake-up may be lost, and the caller must not sleep for long.
 */
bool reader_barrier(struct bcast_reader *rd)
{
	fence_full();
	if (!writer_wants_barrier(rd) || global_barrier())
		return true;
	reader_barrier_failed(rd);
	return false;
}
