// SPDX-License-Identifier: MIT
/*
 * A program as a user of the installed library writes it: built with
 * `pkg-config --cflags --libs bcast` (shared or --static) against an
 * installed tree, it creates a ring, publishes through it, reads every
 * message back and checks what the headers promise.
 * Usage: ring-user NAME [MESSAGES]; exit 0 when everything was read back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bcast.h>
#include <linux/bcast.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "ring-user: %s: %s\n", what, bcast_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	char version[32], buf[64];
	struct bcast_reader *rd;
	struct bcast_writer *w;
	struct bcast_ring *r;
	struct bcast_msg m;
	long i, n = argc > 2 ? atol(argv[2]) : 1000;
	int err;

	if (argc < 2 || n < 1) {
		fprintf(stderr, "usage: ring-user NAME [MESSAGES]\n");
		return 2;
	}
	/* The header the program was built with and the library it runs with. */
	snprintf(version, sizeof(version), "%d.%d.%d", BCAST_VERSION_MAJOR,
		 BCAST_VERSION_MINOR, BCAST_VERSION_PATCH);
	if (strcmp(version, bcast_version())) {
		fprintf(stderr, "ring-user: header %s, library %s\n", version,
			bcast_version());
		return 1;
	}
	/* <linux/bcast.h>, through bcast.pc's Cflags. */
	if (BCAST_ABI_VERSION < 3 || BCAST_CTL_GID_DEFAULT != (__u32)-1) {
		fprintf(stderr, "ring-user: unexpected <linux/bcast.h>\n");
		return 1;
	}
	bcast_ring_destroy(argv[1]);
	err = bcast_ring_create(argv[1], &o, &r);
	if (err)
		return fail("bcast_ring_create", err);
	err = bcast_writer_open(r, &w);
	if (err)
		return fail("bcast_writer_open", err);
	err = bcast_reader_open(r, BCAST_FROM_OLDEST, &rd);
	if (err)
		return fail("bcast_reader_open", err);
	for (i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof(buf), "message %ld", i);
		ssize_t got;

		err = bcast_publish(w, buf, len, (uint32_t)i);
		if (err)
			return fail("bcast_publish", err);
		got = bcast_receive(rd, buf, sizeof(buf), &m);
		if (got < 0)
			return fail("bcast_receive", (int)got);
		if (m.type != (uint32_t)i || got != len ||
		    strtol(buf + 8, NULL, 10) != i) {
			fprintf(stderr, "ring-user: message %ld came back wrong\n", i);
			return 1;
		}
	}
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
	bcast_ring_destroy(argv[1]);
	printf("ring-user: %ld messages through %s with libbcast %s\n", n,
	       argv[1], bcast_version());
	return 0;
}
