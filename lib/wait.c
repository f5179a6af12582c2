// SPDX-License-Identifier: MIT
/*
 * Blocking readers without losing a wake-up, and noticing a writer go.
 *
 * bcast_wait() looks, judges the writer, and sleeps through the ring's
 * backend (futex.c on the wake page, device.c on the reader's file) until
 * there is something to read or the time runs out.  It reports each
 * writer's departure once: -BCAST_EWRITERGONE after everything it
 * committed was read; afterwards (and on a ring that never had a writer)
 * it sleeps until a writer publishes.  Device rings learn both from the
 * kernel (see BCAST_IOC_ARM).  The model of the handshake is wait.pml,
 * next to this file.
 */
#include <errno.h>
#include <stdint.h>
#include "internal.h"

/* Has the writer whose epoch is `epoch` already been reported gone? */
static bool gone_reported(const struct bcast_reader *rd, uint64_t epoch)
{
	return rd->gone_known && rd->gone_epoch == epoch;
}

/*
 * Is there a writer?  WRITER_NONE also when the writer of `*epoch` is gone
 * but not yet reported: then *report is set.
 */
static enum writer_view look_at_writer(struct bcast_reader *rd, bool hangup,
				       uint64_t *epoch, bool *report)
{
	*report = false;
	/* After a hangup, the writer we slept on is the one gone, whatever
	 * came since (*epoch holds its epoch). */
	if (hangup) {
		*report = *epoch && !gone_reported(rd, *epoch);
		return WRITER_NONE;
	}
	*epoch = load_acquire(&rd->hdr->writer_epoch);
	if (rd->r->ops->writer_alive(rd->r))
		return WRITER_LIVE;
	/* Never had one, or already said so: wait for the next. */
	*report = *epoch && !gone_reported(rd, *epoch);
	return WRITER_NONE;
}

BCAST_EXPORT int bcast_wait(struct bcast_reader *rd, int timeout_ms)
{
	struct sleep_request req = { .slice = BOUNDED_SLICE_MIN_MS };
	bool hangup = false;
	uint64_t epoch = 0;
	int err;

	if (!rd)
		return -EINVAL;
	/* What was read is consumed: a gated writer may go on. */
	registry_touch(rd);
	req.deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
	for (;;) {
		bool report;

		if (reader_ready(rd))
			return 0;
		req.view = look_at_writer(rd, hangup, &epoch, &report);
		if (report) {
			/* What it committed is read before it is reported. */
			if (reader_ready(rd))
				return 0;
			rd->gone_known = true;
			rd->gone_epoch = epoch;
			return -BCAST_EWRITERGONE;
		}
		req.ms = req.deadline - now_ms();
		if (req.ms <= 0)
			return -ETIMEDOUT;
		req.epoch = epoch;
		err = rd->r->ops->sleep(rd, &req);
		if (err < 0)
			return err;
		hangup = err == 1;
	}
}

BCAST_EXPORT int bcast_reader_arm(struct bcast_reader *rd)
{
	enum writer_view view;
	uint64_t epoch;
	bool report;

	if (!rd)
		return -EINVAL;
	if (!rd->r->ops->arm)
		return -ENOTSUP;
	if (reader_ready(rd))
		return 1;
	/* A departure not yet reported wakes the poller (EPOLLHUP); one
	 * already reported does not, until the next writer comes. */
	view = look_at_writer(rd, false, &epoch, &report);
	if (report)
		view = WRITER_LIVE;
	return rd->r->ops->arm(rd, view, epoch);
}

BCAST_EXPORT int bcast_reader_fd(struct bcast_reader *rd)
{
	if (!rd)
		return -EINVAL;
	return rd->fd >= 0 ? rd->fd : -ENOTSUP;
}
