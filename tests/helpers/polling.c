// SPDX-License-Identifier: MIT
#include <errno.h>
#include <sys/types.h>
#include "polling.h"

int poll_again(struct bcast_poller *p, struct bcast_poller_event *ev,
	       int max, int timeout_ms)
{
	int n;

	while ((n = bcast_poller_wait(p, ev, max, timeout_ms)) == -EINTR)
		;
	return n;
}

int read_all(struct bcast_reader *rd)
{
	char buf[256];
	ssize_t len;
	int n = 0;

	while ((len = bcast_receive(rd, buf, sizeof(buf), NULL)) >= 0)
		n++;
	return len == -EAGAIN ? n : (int)len;
}
