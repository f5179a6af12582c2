// SPDX-License-Identifier: MIT
/*
 * The poller rows of the wake-up test: n rings of one kind (shm, or
 * device rings), each with a live writer and a reader, all the readers in
 * one bcast_poller; and what an application would do instead, n eventfds
 * in one epoll set.  Wake-up i goes to ring (or eventfd) (i * stride) mod
 * n, so that every one is used in turn, and the reader checks that it was
 * woken for that one and no other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include "bench.h"
#include "wake.h"

#define FLEET_STRIDE 7919	/* a prime: consecutive wake-ups hop rings */

static int fleet_ring(const struct wake_fleet *f, uint64_t i)
{
	return (int)((i * FLEET_STRIDE) % (uint64_t)f->n);
}

/* A ring, a writer and a reader hold up to three fds each, and three
 * fleets are open at once: as many as root may have, else the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit want = { 1 << 16, 1 << 16 }, rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < want.rlim_cur &&
	    setrlimit(RLIMIT_NOFILE, &want) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int fleet_alloc(struct wake_fleet *f, int n)
{
	if (f->kind == FLEET_EPOLL) {
		f->efds = malloc(n * sizeof(*f->efds));
		return f->efds ? 0 : -ENOMEM;
	}
	f->names = calloc(n, sizeof(*f->names));
	f->rings = calloc(n, sizeof(*f->rings));
	f->writers = calloc(n, sizeof(*f->writers));
	f->readers = calloc(n, sizeof(*f->readers));
	return f->names && f->rings && f->writers && f->readers ? 0 : -ENOMEM;
}

static int fleet_add_ring(struct wake_fleet *f, int k)
{
	struct bcast_ring_opts ro = { .size = 4096 };
	bool device = f->kind == FLEET_DEVICE;
	const char *what;
	int err;

	snprintf(f->names[k], sizeof(f->names[k]), "%sbench-poller-%d-%d",
		 device ? "" : "shm:", (int)getpid(), k);
	bcast_ring_destroy(f->names[k]);
	what = "bcast_ring_create";
	err = bcast_ring_create(f->names[k], &ro, &f->rings[k]);
	if (!err) {
		what = "bcast_writer_open";
		err = bcast_writer_open(f->rings[k], &f->writers[k]);
	}
	if (!err) {
		what = "bcast_reader_open";
		err = bcast_reader_open(f->rings[k], BCAST_FROM_LATEST,
					&f->readers[k]);
	}
	if (!err) {
		what = "bcast_poller_add_reader";
		err = bcast_poller_add_reader(f->poller, f->readers[k],
					      (uint64_t)k);
	}
	if (err)
		snprintf(f->why, sizeof(f->why), "ring %d of %d: %s: %s%s",
			 k + 1, f->n, what, bcast_strerror(err),
			 device && err == -ENOSPC ?
			 " (load bcast.ko with a larger max_rings)" : "");
	return err;
}

static int fleet_add_eventfd(struct wake_fleet *f, int k)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)k };
	const char *what = "eventfd";

	f->efds[k] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efds[k] >= 0) {
		what = "epoll_ctl";
		if (!epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->efds[k], &ev))
			return 0;
	}
	snprintf(f->why, sizeof(f->why), "eventfd %d of %d: %s: %s", k + 1,
		 f->n, what, strerror(errno));
	return -errno;
}

static int fleet_start(struct wake_fleet *f, unsigned poller_flags)
{
	int err;

	if (f->kind == FLEET_EPOLL) {
		f->epfd = epoll_create1(EPOLL_CLOEXEC);
		err = f->epfd < 0 ? -errno : 0;
	} else {
		err = bcast_poller_create(poller_flags, &f->poller);
	}
	if (err)
		snprintf(f->why, sizeof(f->why), "%s: %s", f->kind == FLEET_EPOLL ?
			 "epoll_create1" : "bcast_poller_create",
			 bcast_strerror(err));
	return err;
}

int fleet_open(struct wake_fleet *f, enum fleet_kind kind, int n,
	       unsigned poller_flags)
{
	int err, k;

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->n = n;
	f->epfd = -1;
	raise_fd_limit();
	err = fleet_alloc(f, n);
	if (err) {
		snprintf(f->why, sizeof(f->why), "out of memory");
		goto fail;
	}
	for (k = 0; kind == FLEET_EPOLL && k < n; k++)
		f->efds[k] = -1;
	err = fleet_start(f, poller_flags);
	if (err)
		goto fail;
	for (k = 0; k < n; k++) {
		err = kind == FLEET_EPOLL ? fleet_add_eventfd(f, k) :
		      fleet_add_ring(f, k);
		if (err)
			goto fail;
	}
	return 0;
fail:
	fleet_close(f);
	return err;
}

void fleet_close(struct wake_fleet *f)
{
	int k;

	bcast_poller_destroy(f->poller);
	f->poller = NULL;
	for (k = 0; f->names && k < f->n; k++) {
		bcast_reader_close(f->readers[k]);
		bcast_writer_close(f->writers[k]);
		if (f->rings[k]) {
			bcast_ring_close(f->rings[k]);
			bcast_ring_destroy(f->names[k]);
		}
	}
	for (k = 0; f->efds && k < f->n; k++)
		if (f->efds[k] >= 0)
			close(f->efds[k]);
	if (f->epfd >= 0)
		close(f->epfd);
	f->epfd = -1;
	free(f->efds);
	free(f->names);
	free(f->rings);
	free(f->writers);
	free(f->readers);
	f->efds = NULL;
	f->names = NULL;
	f->rings = NULL;
	f->writers = NULL;
	f->readers = NULL;
}

int fleet_wake(struct wake_fleet *f, uint64_t i, uint64_t stamp)
{
	uint64_t one = 1;

	if (f->kind != FLEET_EPOLL)
		return bcast_publish(f->writers[fleet_ring(f, i)], &stamp,
				     sizeof(stamp), 1);
	__atomic_store_n(&f->stamp, stamp, __ATOMIC_RELAXED);
	return write(f->efds[fleet_ring(f, i)], &one, sizeof(one)) < 0 ?
	       -errno : 0;
}

static int wait_epoll(struct wake_fleet *f, int want, uint64_t *stamp)
{
	struct epoll_event ev[8];
	uint64_t v;
	int n, k;

	do {
		n = epoll_wait(f->epfd, ev, 8, 2000);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n ? -errno : -ETIMEDOUT;
	for (k = 0; k < n; k++)
		if (ev[k].data.u32 != (uint32_t)want)
			return -EPROTO;
	if (read(f->efds[want], &v, sizeof(v)) != sizeof(v))
		return -errno;
	*stamp = __atomic_load_n(&f->stamp, __ATOMIC_RELAXED);
	return 0;
}

int fleet_wait(struct wake_fleet *f, uint64_t i, uint64_t *stamp)
{
	struct bcast_poller_stats st0, st1;
	struct bcast_poller_event ev[8];
	int want = fleet_ring(f, i), n, k;
	ssize_t len;

	if (f->kind == FLEET_EPOLL)
		return wait_epoll(f, want, stamp);
	bcast_poller_stats(f->poller, &st0);
	for (;;) {
		n = bcast_poller_wait(f->poller, ev, 8, 2000);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			return -ETIMEDOUT;
		for (k = 0; k < n; k++)
			if (ev[k].events & BCAST_POLL_DATA &&
			    ev[k].tag != (uint64_t)want)
				return -EPROTO;
		for (k = 0; k < n; k++)
			if (ev[k].events & BCAST_POLL_DATA)
				break;
		if (k < n)
			break;
	}
	bcast_poller_stats(f->poller, &st1);
	len = bcast_receive(f->readers[want], stamp, sizeof(*stamp), NULL);
	if (len != sizeof(*stamp))
		return len < 0 ? (int)len : -EPROTO;
	if (st1.sleeps == st0.sleeps)
		*stamp = 0;
	return 0;
}
