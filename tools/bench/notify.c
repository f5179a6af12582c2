// SPDX-License-Identifier: MIT
/*
 * Writer latency while readers sleep: how long bcast_publish() takes when
 * it has to wake them, with each way of waking (bcast_writer_set_notify():
 * the writer's own system call, io_uring, io_uring with an SQPOLL kernel
 * thread).  --sleepers reader processes block in bcast_wait(); the writer
 * publishes every --notify-gap microseconds, so that they are asleep
 * again by the next message, and times each publish.  A publish that woke
 * nobody (the readers were not asleep yet) is dropped and counted.  The
 * modes run in turn within every round on a ring of their own, shm and,
 * when bcast.ko is loaded, a device ring; each mode's p50 is divided by
 * SYNC's of the same round, and the median of those ratios reported.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bcast.h"
#include "bench.h"

#define N_HOW 3
static const int how_value[N_HOW] = {
	BCAST_NOTIFY_SYNC, BCAST_NOTIFY_URING, BCAST_NOTIFY_SQPOLL
};
static const char *const how_name[N_HOW] = { "sync", "io_uring", "sqpoll" };

enum { ON_SHM, ON_DEVICE, N_RINGS };
static const char *const ring_label[N_RINGS] = { "shm", "device" };

/* One backend's results, per notify mode. */
struct notify_figures {
	struct samples ns[N_HOW];	/* publishes that woke someone */
	uint64_t dropped[N_HOW];	/* ... and those that did not */
	double paired[N_HOW];		/* median of per-round p50 / SYNC's */
	int refused[N_HOW];		/* set_notify's error, or 0 */
};

struct notify_round {
	const struct options *o;
	struct bcast_writer *w;
	struct samples *out;
	uint64_t dropped;
	int err;
};

/* A reader process: sleep, drain, sleep again, until the writer goes. */
static void sleeper(const char *name, int cpu)
{
	struct bcast_reader *rd;
	struct bcast_ring *r;
	char buf[64];
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin_self(cpu, "sleeping reader");
	if (bcast_ring_open(name, BCAST_RDONLY, &r) ||
	    bcast_reader_open(r, BCAST_FROM_LATEST, &rd))
		_exit(2);
	do {
		rc = bcast_wait(rd, 5000);
		while (bcast_receive(rd, buf, sizeof(buf), NULL) >= 0)
			;
	} while (rc == 0 || rc == -EINTR || rc == -ETIMEDOUT);
	_exit(rc == -BCAST_EWRITERGONE ? 0 : 3);
}

static uint64_t notifies(struct bcast_writer *w)
{
	struct bcast_writer_stats st;

	return bcast_writer_stats(w, &st) ? 0 : st.notifies;
}

/* The writer thread: paced publishes, each one timed. */
static void *publisher(void *arg)
{
	struct notify_round *nr = arg;
	uint64_t i, before, t0, t1;

	pin_self(nr->o->wcpu, "writer");
	for (i = 0; i < nr->o->notify_publishes; i++) {
		sleep_us(nr->o->notify_gap_us);
		before = notifies(nr->w);
		t0 = cli_now_ns();
		nr->err = bcast_publish(nr->w, &t0, sizeof(t0), 1);
		t1 = cli_now_ns();
		if (nr->err)
			return NULL;
		if (notifies(nr->w) == before)
			nr->dropped++;
		else
			samples_add(nr->out, t1 - t0);
	}
	return NULL;
}

static void start_sleepers(const struct options *o, const char *name,
			   pid_t *pids)
{
	int i;

	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < o->sleepers; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork: %s", strerror(errno));
		if (!pids[i])
			sleeper(name, o->rcpu);
	}
}

static void stop_sleepers(const struct options *o, pid_t *pids)
{
	int i, status;

	for (i = 0; i < o->sleepers; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			die("notify: a sleeping reader failed (status %d)",
			    status);
	}
}

/* One mode's round on a new ring: 0, or set_notify's refusal. */
static int run_notify_round(const struct options *o, const char *name,
			    int how, struct samples *out, uint64_t *dropped)
{
	struct bcast_ring_opts ro = { .size = 1 << 16 };
	struct notify_round nr = { .o = o, .out = out };
	pid_t pids[CHANNEL_MAX_READERS];
	struct bcast_ring *ring;
	pthread_t t;
	int err;

	bcast_ring_destroy(name);
	err = bcast_ring_create(name, &ro, &ring);
	if (err)
		die("notify: bcast_ring_create %s: %s", name, bcast_strerror(err));
	err = bcast_writer_open(ring, &nr.w);
	if (err)
		die("notify: bcast_writer_open %s: %s", name, bcast_strerror(err));
	err = bcast_writer_set_notify(nr.w, how);
	if (err) {
		bcast_writer_close(nr.w);
		bcast_ring_close(ring);
		bcast_ring_destroy(name);
		return err;
	}
	start_sleepers(o, name, pids);
	err = pthread_create(&t, NULL, publisher, &nr);
	if (err)
		die("pthread_create: %s", strerror(err));
	pthread_join(t, NULL);
	if (nr.err)
		die("notify: bcast_publish: %s", bcast_strerror(nr.err));
	bcast_writer_close(nr.w);	/* the sleepers see it go and exit */
	stop_sleepers(o, pids);
	bcast_ring_close(ring);
	bcast_ring_destroy(name);
	*dropped += nr.dropped;
	return 0;
}

static void run_backend(const struct options *o, const char *name,
			struct notify_figures *nf)
{
	double paired[N_HOW][o->rounds];
	int j, h;

	for (j = 0; j < o->rounds; j++) {
		double p50[N_HOW] = { 0 };

		for (h = 0; h < N_HOW; h++) {
			struct samples round = { 0 };
			size_t i;

			if (nf->refused[h])
				continue;
			nf->refused[h] = run_notify_round(o, name, how_value[h],
							  &round,
							  &nf->dropped[h]);
			p50[h] = samples_pct(&round, 50);
			for (i = 0; i < round.n; i++)
				samples_add(&nf->ns[h], round.v[i]);
			samples_free(&round);
			if (o->verbose)
				fprintf(stderr, "notify round %d %s %s done\n",
					j + 1, name, how_name[h]);
		}
		for (h = 0; h < N_HOW; h++)
			paired[h][j] = p50[0] > 0 && p50[h] > 0 ?
				       p50[h] / p50[0] : 0;
	}
	for (h = 0; h < N_HOW; h++)
		nf->paired[h] = median(paired[h], o->rounds);
}

static void print_backend(const char *label, struct notify_figures *nf)
{
	int h, i;

	printf("  %-6s %-9s", label, "");
	for (i = 0; i < NPCT; i++)
		printf(" %9s", pct_names[i]);
	printf("   p50 / sync (*)\n");
	for (h = 0; h < N_HOW; h++) {
		printf("  %-6s %-9s", "", how_name[h]);
		if (nf->refused[h]) {
			printf(" not available: %s\n",
			       bcast_strerror(nf->refused[h]));
			continue;
		}
		for (i = 0; i < NPCT; i++)
			printf(" %9.2f", samples_pct(&nf->ns[h], pct_points[i]) / 1e3);
		printf("   %6.2fx", nf->paired[h]);
		if (nf->dropped[h])
			printf("  (%" PRIu64 " dropped: nobody asleep)",
			       nf->dropped[h]);
		printf("\n");
	}
}

static void json_backend(struct json *j, const char *label,
			 struct notify_figures *nf)
{
	char key[64];
	int h;

	json_key(j, label);
	json_object(j);
	for (h = 0; h < N_HOW; h++) {
		if (nf->refused[h]) {
			snprintf(key, sizeof(key), "%s_refused", how_name[h]);
			json_member_string(j, key, bcast_strerror(nf->refused[h]));
			continue;
		}
		json_key(j, how_name[h]);
		json_samples(j, &nf->ns[h]);
		snprintf(key, sizeof(key), "%s_dropped", how_name[h]);
		json_member_u64(j, key, nf->dropped[h]);
		snprintf(key, sizeof(key), "%s_paired_p50_ratio", how_name[h]);
		json_member_double(j, key, nf->paired[h], 4);
	}
	json_object_end(j);
}

void notify_run(const struct options *o, struct json *json)
{
	struct notify_figures nf[N_RINGS];
	char name[N_RINGS][64];
	bool on[N_RINGS] = { true, !access("/dev/bcast-ctl", F_OK) };
	int b, h;

	memset(nf, 0, sizeof(nf));
	snprintf(name[ON_SHM], sizeof(name[ON_SHM]), "shm:bcast-bench-notify-%d",
		 (int)getpid());
	snprintf(name[ON_DEVICE], sizeof(name[ON_DEVICE]), "bench-notify-%d",
		 (int)getpid());
	for (b = 0; b < N_RINGS; b++)
		if (on[b])
			run_backend(o, name[b], &nf[b]);
	if (o->json) {
		json_key(json, "notify");
		json_object(json);
		json_member_double(json, "gap_us", o->notify_gap_us, 0);
		json_member_i64(json, "rounds", o->rounds);
		json_member_u64(json, "publishes_per_round", o->notify_publishes);
		json_member_i64(json, "sleepers", o->sleepers);
		for (b = 0; b < N_RINGS; b++)
			if (on[b])
				json_backend(json, ring_label[b], &nf[b]);
		json_object_end(json);
	} else {
		printf("writer latency: bcast_publish() with %d reader%s asleep in "
		       "bcast_wait() on CPU %d, writer on CPU %d,\n  a publish "
		       "every %.0f us, %d rounds x %" PRIu64 " publishes per mode, "
		       "interleaved; microseconds\n", o->sleepers,
		       o->sleepers == 1 ? "" : "s", o->rcpu, o->wcpu,
		       o->notify_gap_us, o->rounds, o->notify_publishes);
		for (b = 0; b < N_RINGS; b++)
			if (on[b])
				print_backend(ring_label[b], &nf[b]);
		printf("  (*) median over the rounds of the p50 ratio within a "
		       "round; sqpoll's kernel\n      thread spins a CPU of its "
		       "own while it is awake (50 ms after the last wake-up)\n");
		if (!on[ON_DEVICE])
			printf("  (no device ring: bcast.ko is not loaded)\n");
		printf("\n");
	}
	for (b = 0; b < N_RINGS; b++)
		for (h = 0; h < N_HOW; h++)
			samples_free(&nf[b].ns[h]);
}
