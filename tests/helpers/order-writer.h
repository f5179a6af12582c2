/* SPDX-License-Identifier: MIT */
/*
 * A writer process for a set of rings, publishing when told: the tests of
 * waiting on many rings (the poller) order a message on one ring and see
 * who wakes.
 */
#ifndef BCAST_TEST_ORDER_WRITER_H
#define BCAST_TEST_ORDER_WRITER_H
#include <sys/types.h>

/* An order: ring index k publishes one message (the int k) on ring k;
 * k | ORDER_LATER first waits (20 ms at most) for ring k's need_wakeup,
 * set by a reader about to sleep, then spins D to 3D microseconds (D: the
 * variable BCAST_ORDER_DELAY_US, default 20), so that it is asleep by then;
 * ~k closes writer k. */
#define ORDER_LATER 0x40000000

struct order_writer {
	pid_t pid;
	int order, done;	/* pipes: orders in, one byte per order out */
};

/* A process that opens a writer on each of the n rings names[] (by name,
 * read-write) and then follows orders: 0 or -errno. */
int order_writer_start(struct order_writer *wp, char (*names)[64], unsigned n);
/* Send an order without waiting for it (0 or -EIO); order_writer_done()
 * waits for the next order to be done. */
int order_writer_send(struct order_writer *wp, int order);
int order_writer_done(struct order_writer *wp);
/* Send an order and wait until it is done. */
int order_writer_do(struct order_writer *wp, int order);
/* End it: its exit status (0 if every order went well), or -ECHILD. */
int order_writer_stop(struct order_writer *wp);
#endif
