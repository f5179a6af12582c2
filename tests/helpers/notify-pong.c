// SPDX-License-Identifier: MIT
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "bcast.h"
#include "clock.h"
#include "notify-pong.h"
#include "procview.h"

#define WAIT_MS 10000

/* What the answering child sends back when it is done. */
struct answer {
	int failed;
	int cycle;
	uint64_t sleeps, missed;
};

/* Receive message `i` of `rd`, sleeping in bcast_wait() while there is
 * none: 0, or the negative code that came instead. */
static int receive_next(struct bcast_reader *rd, int i, int *rc_out)
{
	int v, rc;

	for (;;) {
		rc = (int)bcast_receive(rd, &v, sizeof(v), NULL);
		if (rc != -EAGAIN)
			break;
		rc = bcast_wait(rd, WAIT_MS);
		/* The peer has not attached yet: a ring without a writer. */
		if (rc == -BCAST_EWRITERGONE && i == 0) {
			usleep(1000);
			continue;
		}
		if (rc) {
			*rc_out = rc;
			return -1;
		}
	}
	*rc_out = rc;
	if (rc != sizeof(v))
		return -2;
	return v == i ? 0 : -3;
}

static int answer(const char *ping, const char *pong, int cycles, int out)
{
	struct answer a = { 0 };
	struct bcast_reader_stats st;
	struct bcast_ring *in, *back;
	struct bcast_reader *rd;
	struct bcast_writer *w;
	int i, rc = 0;

	if (bcast_ring_open(ping, BCAST_RDONLY, &in) ||
	    bcast_reader_open(in, BCAST_FROM_OLDEST, &rd) ||
	    bcast_ring_open(pong, BCAST_RDWR, &back) ||
	    bcast_writer_open(back, &w)) {
		a.failed = 10;
		goto report;
	}
	for (i = 0; i < cycles; i++) {
		a.cycle = i;
		a.failed = receive_next(rd, i, &rc);
		if (a.failed) {
			printf("# answering reader, cycle %d: %s\n", i,
			       bcast_strerror(rc));
			a.failed -= 10;
			break;
		}
		if (bcast_publish(w, &i, sizeof(i), 0)) {
			a.failed = 11;
			break;
		}
	}
	bcast_reader_stats(rd, &st);
	a.sleeps = st.sleeps;
	a.missed = st.missed_wakeups;
report:
	if (write(out, &a, sizeof(a)) != sizeof(a))
		return 1;
	/* The writer stays until the pinging side has the last answer. */
	pause();
	return 0;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int fail(struct notify_pong *res, int step, const char *what, int rc)
{
	res->failed = step;
	printf("# notify_pong: %s: %s\n", what, bcast_strerror(rc));
	return -1;
}

/* The pinging side: publish i, wait for i back; round trips into rtt. */
static int ping_cycles(struct bcast_writer *w, struct bcast_reader *rd,
		       int cycles, pid_t child, long asleep_in, double *rtt,
		       struct notify_pong *res)
{
	int i, rc;

	for (i = 0; i < cycles; i++) {
		double t0;

		if (!(i & 1) && !wait_blocked_in(&child, 1, asleep_in, WAIT_MS))
			return fail(res, 6, "the answering reader never slept", 0);
		t0 = now_s();

		rc = bcast_publish(w, &i, sizeof(i), 0);
		if (rc)
			return fail(res, 3, "publish", rc);
		if (receive_next(rd, i, &rc)) {
			printf("# pinging reader, cycle %d\n", i);
			return fail(res, 4, "the answer", rc);
		}
		rtt[i] = (now_s() - t0) * 1e6;
	}
	return 0;
}

static void writer_counts(struct bcast_writer *w, struct notify_pong *res)
{
	struct bcast_writer_stats ws;
	struct uring_positions pos;
	int fd;

	double deadline = now_s() + 1.0;

	bcast_writer_stats(w, &ws);
	res->notifies = ws.notifies;
	res->notify_errors = ws.notify_errors;
	/* This process's one io_uring is the writer's; an SQPOLL thread may
	 * not have taken the last entries yet. */
	if (uring_count(getpid(), &fd) != 1)
		return;
	while (!uring_positions(getpid(), fd, &pos)) {
		res->submitted = pos.sq_head;
		if (pos.sq_head == pos.sq_tail || now_s() > deadline)
			break;
		usleep(100);
	}
}

static int join_child(pid_t pid, int in, struct notify_pong *res)
{
	struct answer a;
	int status, ok = read(in, &a, sizeof(a)) == sizeof(a);

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (!ok)
		return fail(res, 5, "the answering child said nothing", 0);
	res->sleeps = a.sleeps;
	res->missed += a.missed;
	if (a.failed) {
		printf("# the answering child failed at cycle %d\n", a.cycle);
		return fail(res, 100 + a.failed, "answering", 0);
	}
	return 0;
}

int notify_pong(const char *ping, const char *pong, int how, int cycles,
		long asleep_in, struct notify_pong *res)
{
	struct bcast_ring *out = NULL, *in = NULL;
	struct bcast_writer *w = NULL;
	struct bcast_reader *rd = NULL;
	struct bcast_reader_stats st;
	double *rtt = calloc(cycles ? cycles : 1, sizeof(*rtt));
	int fds[2], rc, err = -1;
	pid_t pid = -1;

	memset(res, 0, sizeof(*res));
	if (!rtt || pipe(fds)) {
		free(rtt);
		return fail(res, 1, "no memory or pipe", -errno);
	}
	if ((rc = bcast_ring_open(ping, BCAST_RDWR, &out)) ||
	    (rc = bcast_writer_open(out, &w)) ||
	    (rc = bcast_writer_set_notify(w, how)) ||
	    (rc = bcast_ring_open(pong, BCAST_RDONLY, &in)) ||
	    (rc = bcast_reader_open(in, BCAST_FROM_OLDEST, &rd))) {
		fail(res, 2, "opening the rings", rc);
		goto out;
	}
	fflush(stdout);
	pid = fork();
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		_exit(answer(ping, pong, cycles, fds[1]));
	}
	close(fds[1]);
	fds[1] = -1;
	if (pid < 0) {
		fail(res, 2, "fork", -errno);
		goto out;
	}
	err = ping_cycles(w, rd, cycles, pid, asleep_in, rtt, res);
	writer_counts(w, res);
	bcast_reader_stats(rd, &st);
	res->missed += st.missed_wakeups;
	if (join_child(pid, fds[0], res))
		err = -1;
	if (!err && cycles) {
		qsort(rtt, cycles, sizeof(*rtt), by_value);
		res->p50_us = rtt[cycles / 2];
		res->p99_us = rtt[(int)(cycles * 0.99)];
	}
out:
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	if (in)
		bcast_ring_close(in);
	if (out)
		bcast_ring_close(out);
	free(rtt);
	return err;
}
