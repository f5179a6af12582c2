/* SPDX-License-Identifier: MIT */
/* What the tests of bcast_poller share, on any backend. */
#ifndef BCAST_TEST_POLLING_H
#define BCAST_TEST_POLLING_H
#include "bcast.h"

/* bcast_poller_wait(), again after -EINTR (a signal the test never
 * handles, such as a SIGCHLD pending while a thread started). */
int poll_again(struct bcast_poller *p, struct bcast_poller_event *ev,
	       int max, int timeout_ms);
/* Receive every pending message (payloads up to 256 bytes): how many, or
 * the first error other than -EAGAIN. */
int read_all(struct bcast_reader *rd);
#endif
