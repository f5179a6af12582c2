// SPDX-License-Identifier: MIT
/*
 * The asynchronous wake-up example of README.md, whole: a writer hands
 * its wake-ups to io_uring (bcast_writer_set_notify()) while a reader in
 * another process sleeps in bcast_wait() between messages.  Where the
 * kernel cannot (io_uring's futex wake-up needs Linux 6.7 on shm rings)
 * the writer says so and stays synchronous.
 * Usage: async-notify [sync|uring|sqpoll] [COUNT] [RING]
 *        (default uring, 2000 messages, shm:example-notify)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bcast.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "async-notify: %s: %s\n", what, bcast_strerror(err));
	return 1;
}

/* Sleep between messages; every one must come, in order. */
static int reader(struct bcast_ring *r, int go, uint64_t count)
{
	struct bcast_reader_stats st;
	struct bcast_reader *rd;
	uint64_t v, next = 0;
	ssize_t len;
	int err;

	err = bcast_reader_open(r, BCAST_FROM_OLDEST, &rd);
	if (err)
		return fail("bcast_reader_open", err);
	if (write(go, "g", 1) != 1)
		return 1;
	for (;;) {
		len = bcast_receive(rd, &v, sizeof(v), NULL);
		if (len == sizeof(v) && v == next) {
			next++;
			continue;
		}
		if (len != -EAGAIN)
			return fail("message out of order", len < 0 ? (int)len : -EPROTO);
		err = bcast_wait(rd, 5000);
		if (err == -BCAST_EWRITERGONE)
			break;
		if (err && err != -EINTR)
			return fail("bcast_wait", err);
	}
	bcast_reader_stats(rd, &st);
	printf("reader: %llu messages, %llu sleeps\n", (unsigned long long)next,
	       (unsigned long long)st.sleeps);
	bcast_reader_close(rd);
	fflush(stdout);		/* the child leaves through _exit() */
	return next == count ? 0 : 1;
}

static int writer(struct bcast_ring *r, int how, int go, uint64_t count)
{
	struct bcast_writer_stats st;
	struct bcast_writer *w;
	uint64_t i;
	char c;
	int err;

	err = bcast_writer_open(r, &w);
	if (err)
		return fail("bcast_writer_open", err);
	err = bcast_writer_set_notify(w, how);  /* BCAST_NOTIFY_URING, _SQPOLL or _SYNC */
	if (err == -ENOTSUP || err == -EPERM || err == -ENOSYS)
		printf("writer: that notify mode is not available here (%s): "
		       "synchronous wake-ups\n", bcast_strerror(err));
	else if (err)
		return fail("bcast_writer_set_notify", err);
	if (read(go, &c, 1) != 1)
		return 1;
	for (i = 0; i < count; i++) {
		err = bcast_publish(w, &i, sizeof(i), 0);
		if (err)
			return fail("bcast_publish", err);
		usleep(200);	/* the reader falls asleep again */
	}
	bcast_writer_stats(w, &st);
	printf("writer: %llu notifies, %llu failed\n",
	       (unsigned long long)st.notifies,
	       (unsigned long long)st.notify_errors);
	bcast_writer_close(w);	/* waits for what it queued */
	return st.notify_errors ? 1 : 0;
}

static int mode(const char *s)
{
	if (!strcmp(s, "sync"))
		return BCAST_NOTIFY_SYNC;
	if (!strcmp(s, "uring"))
		return BCAST_NOTIFY_URING;
	if (!strcmp(s, "sqpoll"))
		return BCAST_NOTIFY_SQPOLL;
	return -1;
}

int main(int argc, char **argv)
{
	int how = argc > 1 ? mode(argv[1]) : BCAST_NOTIFY_URING;
	uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 0) : 2000;
	const char *name = argc > 3 ? argv[3] : "shm:example-notify";
	struct bcast_ring_opts o = { .size = 1 << 20 };
	struct bcast_ring *r;
	int go[2], rc, status, err;
	pid_t pid;

	if (argc > 4 || how < 0 || !count || count > 40000) {
		fprintf(stderr, "usage: async-notify [sync|uring|sqpoll] "
			"[COUNT (1..40000)] [RING]\n");
		return 2;
	}
	bcast_ring_destroy(name);
	err = bcast_ring_create(name, &o, &r);
	if (err)
		return fail(name, err);
	if (pipe(go))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(go[0]);
		_exit(reader(r, go[1], count));
	}
	close(go[1]);
	rc = writer(r, how, go[0], count);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		rc = 1;
	bcast_ring_close(r);
	bcast_ring_destroy(name);
	return rc;
}
