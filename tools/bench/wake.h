/* SPDX-License-Identifier: MIT */
/*
 * What the wake-up test (wakeup.c) shares with its two helpers: a poller
 * over many rings (wake-fleet.c) and the io_uring waits (wake-uring.c).
 */
#ifndef BCAST_BENCH_WAKE_H
#define BCAST_BENCH_WAKE_H

#include <stdbool.h>
#include <stdint.h>
#include "bcast.h"

/* Rings of one kind, each with a writer and a reader in one poller; or,
 * for reference, as many eventfds in an epoll set. */
enum fleet_kind { FLEET_SHM, FLEET_DEVICE, FLEET_EPOLL };

struct wake_fleet {
	int n;
	enum fleet_kind kind;
	int epfd;
	int *efds;
	uint64_t stamp;		/* FLEET_EPOLL: the writer's, for the reader */
	char (*names)[64];
	struct bcast_ring **rings;
	struct bcast_writer **writers;
	struct bcast_reader **readers;
	struct bcast_poller *poller;
	char why[192];		/* why it could not be set up */
};

/* 0, or an error with f->why saying what failed. */
int fleet_open(struct wake_fleet *f, enum fleet_kind kind, int n,
	       unsigned poller_flags);
void fleet_close(struct wake_fleet *f);
/* Publish `stamp` on the ring wake-up `i` goes to. */
int fleet_wake(struct wake_fleet *f, uint64_t i, uint64_t stamp);
/* Wait in the poller for wake-up `i`: 0 with its stamp, or with 0 if the
 * poller did not sleep for it; -EPROTO if another ring was reported. */
int fleet_wait(struct wake_fleet *f, uint64_t i, uint64_t *stamp);

/* An io_uring for one thread's waits; NULL-safe close. */
struct wake_uring;

/* 0, -ENOTSUP (built without liburing), or io_uring's error. */
int wake_uring_open(struct wake_uring **out);
void wake_uring_close(struct wake_uring *u);
/*
 * One IORING_OP_POLL_ADD of `fd`, or bcast.ko's BCAST_URING_WAIT for a
 * reader file at position `pos`, waited for up to `ms`: 1 if it had
 * completed already when submitted (nobody slept), 0 after a sleep,
 * -ETIMEDOUT, -errno; `*res` is the completion's result.
 */
int wake_uring_poll(struct wake_uring *u, int fd, unsigned events, int ms,
		    int *res);
int wake_uring_cmd_wait(struct wake_uring *u, int fd, uint64_t pos, int ms,
			int *res);

#endif /* BCAST_BENCH_WAKE_H */
