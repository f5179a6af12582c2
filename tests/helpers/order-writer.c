// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <linux/bcast.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bcast.h"
#include "clock.h"
#include "env.h"
#include "order-writer.h"

/* The ring's header, mapped read-only through its file: the writer looks
 * at need_wakeup to publish only once the reader asked to be woken. */
static const struct bcast_ring_hdr *map_header(struct bcast_ring *r)
{
	struct bcast_ring_info info;
	void *mem;
	int fd;

	if (bcast_ring_info(r, &info) || !info.path)
		return NULL;
	fd = open(info.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	mem = mmap(NULL, BCAST_HDR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return mem == MAP_FAILED ? NULL : mem;
}

/* Until the reader sleeps (or asks to: need_wakeup set), at most 20 ms. */
static void wait_for_sleeper(const struct bcast_ring_hdr *h)
{
	double t0 = now_s();

	while (h && !__atomic_load_n(&h->need_wakeup, __ATOMIC_ACQUIRE) &&
	       now_s() - t0 < 0.02)
		;
}

static void follow_orders(char (*names)[64], unsigned n, int order, int done)
{
	struct bcast_writer **w = calloc(n, sizeof(*w));
	const struct bcast_ring_hdr **h = calloc(n, sizeof(*h));
	uint64_t later = env_u64("BCAST_ORDER_DELAY_US", 20);
	struct bcast_ring *r;
	unsigned i;
	int k;

	if (!later)
		later = 1;
	for (i = 0; i < n; i++)
		if (!w || !h || bcast_ring_open(names[i], BCAST_RDWR, &r) ||
		    bcast_writer_open(r, &w[i]) || !(h[i] = map_header(r)))
			_exit(2);
	if (write(done, "r", 1) != 1)
		_exit(3);
	while (read(order, &k, sizeof(k)) == sizeof(k)) {
		if (k >= 0 && (k & ORDER_LATER)) {
			k &= ~ORDER_LATER;
			if ((unsigned)k < n)
				wait_for_sleeper(h[k]);
			spin_us(later + (uint64_t)rand() % (2 * later));
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
