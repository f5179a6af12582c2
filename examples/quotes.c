// SPDX-License-Identifier: MIT
/*
 * The first example of README.md, whole: a writer publishes on a shm ring,
 * a reader in another process receives every message until the writer
 * goes.  Usage: quotes [COUNT] (default 10000 of each kind).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bcast.h>

static unsigned long hellos, prices;

static void handle(uint32_t type, const char *buf, ssize_t len)
{
	if (type == 1 && len == 5 && !memcmp(buf, "hello", 5))
		hellos++;
	else if (type == 2 && len == 6 && !memcmp(buf, "px=101", 6))
		prices++;
	else
		fprintf(stderr, "quotes: unexpected message of type %u\n", type);
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "quotes: %s: %s\n", what, bcast_strerror(err));
	return 1;
}

/* The writer: the ring is there before the reader opens it. */
static int writer(int go, unsigned long count)
{
	/* writer */
	struct bcast_ring_opts o = { .size = 1 << 20 };   /* data bytes, power of two */
	struct bcast_ring *r;
	struct bcast_writer *w;
	unsigned long i;
	int err;

	bcast_ring_destroy("shm:quotes");
	err = bcast_ring_create("shm:quotes", &o, &r);
	if (err)
		return fail("bcast_ring_create", err);
	err = bcast_writer_open(r, &w);
	if (err)
		return fail("bcast_writer_open", err);
	if (write(go, "g", 1) != 1)
		return 1;
	for (i = 0; i < count; i++) {
		err = bcast_publish(w, "hello", 5, /* type */ 1);
		if (err)
			return fail("bcast_publish", err);

		struct bcast_claim c;                              /* or write in place */
		err = bcast_claim(w, 64, &c);
		if (err)
			return fail("bcast_claim", err);
		int n = snprintf(c.data, c.len, "px=%d", 101);
		c.len = n;                                         /* may shrink */
		err = bcast_commit(&c, 2, 0);
		if (err)
			return fail("bcast_commit", err);
		if (i % 1000 == 999)
			usleep(1000);	/* let a slow reader keep up */
	}
	bcast_writer_close(w);
	bcast_ring_close(r);
	return 0;
}

/* The reader: in a process of its own, told to start through `go`. */
static int reader(int go, unsigned long count)
{
	/* reader, in any process */
	struct bcast_ring *rr;
	struct bcast_reader *rd;
	char buf[4096];
	struct bcast_msg m;
	char c;
	int err;

	if (read(go, &c, 1) != 1)
		return 1;
	err = bcast_ring_open("shm:quotes", BCAST_RDONLY, &rr);
	if (err)
		return fail("bcast_ring_open", err);
	err = bcast_reader_open(rr, BCAST_FROM_OLDEST, &rd);
	if (err)
		return fail("bcast_reader_open", err);
	for (;;) {
		ssize_t len = bcast_receive(rd, buf, sizeof(buf), &m);
		if (len >= 0)
			handle(m.type, buf, len);
		else if (len == -EAGAIN && bcast_wait(rd, -1) == -BCAST_EWRITERGONE)
			break;                                 /* writer gone, all read */
		else if (len == -BCAST_EOVERRUN)
			continue;                              /* lapped: see bcast_reader_stats */
		else if (len != -EAGAIN)
			return fail("bcast_receive", (int)len); /* -BCAST_ECORRUPT */
	}
	bcast_reader_close(rd);
	bcast_ring_close(rr);
	printf("reader: %lu hellos, %lu prices\n", hellos, prices);
	fflush(stdout);		/* the child leaves through _exit() */
	return hellos == count && prices == count ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned long count = argc > 1 ? strtoul(argv[1], NULL, 0) : 10000;
	int go[2], status, rc;
	pid_t pid;

	if (argc > 2 || !count || count > 100000000) {
		fprintf(stderr, "usage: quotes [COUNT]  (1..100000000)\n");
		return 2;
	}
	if (pipe(go))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(go[1]);
		_exit(reader(go[0], count));
	}
	close(go[0]);
	rc = writer(go[1], count);
	close(go[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		rc = 1;
	bcast_ring_destroy("shm:quotes");
	return rc;
}
