// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bcast.h"
#include "clock.h"
#include "order-writer.h"

static void follow_orders(char (*names)[64], unsigned n, int order, int done)
{
	struct bcast_writer **w = calloc(n, sizeof(*w));
	struct bcast_ring *r;
	unsigned i;
	int k;

	for (i = 0; i < n; i++)
		if (!w || bcast_ring_open(names[i], BCAST_RDWR, &r) ||
		    bcast_writer_open(r, &w[i]))
			_exit(2);
	if (write(done, "r", 1) != 1)
		_exit(3);
	while (read(order, &k, sizeof(k)) == sizeof(k)) {
		if (k >= 0 && (k & ORDER_LATER)) {
			k &= ~ORDER_LATER;
			spin_us(20 + (uint64_t)(rand() % 40));
		}
		if (k >= 0 && (unsigned)k < n) {
			if (!w[k] || bcast_publish(w[k], &k, sizeof(k), 1))
				_exit(4);
		} else if (k < 0 && (unsigned)~k < n) {
			bcast_writer_close(w[~k]);
			w[~k] = NULL;
		}
		if (write(done, "d", 1) != 1)
			_exit(5);
	}
	_exit(0);
}

int order_writer_start(struct order_writer *wp, char (*names)[64], unsigned n)
{
	int o[2], d[2];
	char c;

	if (pipe(o))
		return -errno;
	if (pipe(d)) {
		close(o[0]);
		close(o[1]);
		return -errno;
	}
	wp->pid = fork();
	if (wp->pid < 0)
		return -errno;
	if (!wp->pid) {
		close(o[1]);
		close(d[0]);
		follow_orders(names, n, o[0], d[1]);
	}
	close(o[0]);
	close(d[1]);
	wp->order = o[1];
	wp->done = d[0];
	return read(wp->done, &c, 1) == 1 && c == 'r' ? 0 : -EIO;
}

int order_writer_send(struct order_writer *wp, int order)
{
	return write(wp->order, &order, sizeof(order)) == sizeof(order) ?
	       0 : -EIO;
}

int order_writer_done(struct order_writer *wp)
{
	char c;

	return read(wp->done, &c, 1) == 1 ? 0 : -EIO;
}

int order_writer_do(struct order_writer *wp, int order)
{
	int err = order_writer_send(wp, order);

	return err ? err : order_writer_done(wp);
}

int order_writer_stop(struct order_writer *wp)
{
	int status;

	close(wp->order);
	close(wp->done);
	if (waitpid(wp->pid, &status, 0) != wp->pid)
		return -ECHILD;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
