// SPDX-License-Identifier: MIT
/*
 * The bcast_poller example of README.md, whole: one loop waits on two
 * rings and a socket.  A child process becomes the writer of both rings,
 * waits for "go" on the socket (sent once both arrivals were reported),
 * publishes COUNT numbered messages on each, says "done" and goes.  The
 * loop checks that every message came, in order, and that each writer's
 * arrival and departure were reported once.
 * Usage: poller [COUNT] (default 10000).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bcast.h>

enum { QUOTES, TRADES, SOCKET };
static const char *const names[2] = { "shm:example-quotes", "shm:example-trades" };

static uint64_t received[2], came[2], left[2];
static int bad, sock_done, sock_eof, sock_fd;

static int fail(const char *what, int err)
{
	fprintf(stderr, "poller: %s: %s\n", what, bcast_strerror(err));
	return 1;
}

/* Read until -EAGAIN; each message is the next number on its ring. */
static void drain(struct bcast_reader *rd, uint64_t tag)
{
	uint64_t v;
	ssize_t len;

	while ((len = bcast_receive(rd, &v, sizeof(v), NULL)) != -EAGAIN) {
		if (len != sizeof(v) || v != received[tag]) {
			fprintf(stderr, "poller: ring %s: message %llu is wrong\n",
				names[tag], (unsigned long long)received[tag]);
			bad = 1;
			return;
		}
		received[tag]++;
	}
}

static void writer_left(uint64_t tag)
{
	left[tag]++;
}

static void writer_came(uint64_t tag)
{
	came[tag]++;
	if (came[QUOTES] == 1 && came[TRADES] == 1 && write(sock_fd, "go", 2) != 2)
		bad = 1;
}

/* "done" from the publisher, then the end of the stream. */
static void serve(int fd)
{
	char buf[16];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n == 4 && !memcmp(buf, "done", 4)) {
		sock_done = 1;
	} else if (n <= 0) {
		sock_eof = 1;
		if (!sock_done)
			bad = 1;	/* the publisher failed */
	}
}

/* The child: writer of both rings, then a word on the socket. */
static int publisher(int sock, uint64_t count)
{
	struct bcast_writer *w[2];
	struct bcast_ring *r[2];
	char go[2];
	uint64_t i;
	int k, err;

	for (k = 0; k < 2; k++) {
		err = bcast_ring_open(names[k], BCAST_RDWR, &r[k]);
		if (!err)
			err = bcast_writer_open(r[k], &w[k]);
		if (err)
			return fail(names[k], err);
	}
	if (read(sock, go, sizeof(go)) != sizeof(go))
		return 1;
	for (i = 0; i < count; i++)
		for (k = 0; k < 2; k++) {
			err = bcast_publish(w[k], &i, sizeof(i), 0);
			if (err)
				return fail("bcast_publish", err);
		}
	for (k = 0; k < 2; k++) {
		bcast_writer_close(w[k]);
		bcast_ring_close(r[k]);
	}
	return write(sock, "done", 4) == 4 ? 0 : 1;
}

static int loop(struct bcast_reader *quotes_rd, struct bcast_reader *trades_rd,
		int sock)
{
	struct bcast_poller *p;
	struct bcast_poller_event ev[64];
	int err;

	err = bcast_poller_create(0, &p);
	if (!err)
		err = bcast_poller_add_reader(p, quotes_rd, QUOTES);     /* any backend */
	if (!err)
		err = bcast_poller_add_reader(p, trades_rd, TRADES);
	if (!err)
		err = bcast_poller_add_fd(p, sock, POLLIN, SOCKET);      /* sockets, timerfds, eventfds */
	if (err)
		return fail("bcast_poller", err);
	for (;;) {
		int n = bcast_poller_wait(p, ev, 64, -1);      /* -EINTR: call again */

		if (n < 0 && n != -EINTR)
			return fail("bcast_poller_wait", n);
		for (int i = 0; i < n; i++) {
			if (ev[i].events & BCAST_POLL_DATA)        /* read until -EAGAIN */
				drain(ev[i].reader, ev[i].tag);
			if (ev[i].events & BCAST_POLL_WRITER_GONE) /* once per writer */
				writer_left(ev[i].tag);
			if (ev[i].events & BCAST_POLL_WRITER_NEW)  /* a writer came */
				writer_came(ev[i].tag);
			if (ev[i].events & BCAST_POLL_FD)          /* ev[i].revents: POLLIN... */
				serve(ev[i].fd);
		}
		if (sock_eof && bcast_poller_remove_fd(p, sock) == 0)
			sock_eof = 0;	/* stop watching the end of the stream */
		if (bad || (left[QUOTES] && left[TRADES] && sock_done))
			break;
	}
	bcast_poller_destroy(p);
	return bad;
}

int main(int argc, char **argv)
{
	uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 0) : 10000;
	struct bcast_ring_opts o = { .size = 1 << 20 };
	struct bcast_reader *rd[2];
	struct bcast_ring *r[2];
	int sv[2], k, err, rc, status;
	pid_t pid;

	if (argc > 2 || !count || count > 40000) {
		fprintf(stderr, "usage: poller [COUNT]  (1..40000: the rings "
			"hold them all)\n");
		return 2;
	}
	for (k = 0; k < 2; k++) {
		bcast_ring_destroy(names[k]);
		err = bcast_ring_create(names[k], &o, &r[k]);
		if (!err)
			err = bcast_reader_open(r[k], BCAST_FROM_OLDEST, &rd[k]);
		if (err)
			return fail(names[k], err);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(sv[0]);
		_exit(publisher(sv[1], count));
	}
	close(sv[1]);
	sock_fd = sv[0];
	rc = loop(rd[0], rd[1], sv[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		rc = 1;
	for (k = 0; k < 2; k++) {
		printf("%s: %llu messages, writer came %llu, left %llu\n",
		       names[k], (unsigned long long)received[k],
		       (unsigned long long)came[k], (unsigned long long)left[k]);
		if (received[k] != count || came[k] != 1 || left[k] != 1)
			rc = 1;
		bcast_reader_close(rd[k]);
		bcast_ring_close(r[k]);
		bcast_ring_destroy(names[k]);
	}
	return rc;
}
