/* SPDX-License-Identifier: MIT */
/*
 * Threads of one process racing for the writer of one ring object: the
 * owner word decides between processes, the kernel between files, and
 * only the ring object between threads that share it.  Host and VM tests
 * both use it.
 */
#ifndef BCAST_TEST_THREAD_RACE_H
#define BCAST_TEST_THREAD_RACE_H

#include "bcast.h"

#define RACE_THREADS 8

/*
 * RACE_THREADS threads call bcast_writer_open() on `r` at once, `rounds`
 * times; each time the winner publishes and closes.  The rounds where
 * not exactly one thread won, with every other one told -EBUSY.
 */
int race_writer_opens(struct bcast_ring *r, int rounds);

#endif
