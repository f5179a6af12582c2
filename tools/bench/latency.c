// SPDX-License-Identifier: MIT
/*
 * One-way latency: a writer pinned to one CPU publishes at a fixed rate
 * (an absolute schedule, so a late message does not shift the next), each
 * message stamped with CLOCK_MONOTONIC just before it is handed over; a
 * reader pinned to the other CPU takes its own clock reading when the
 * message is in its buffer.  The rings' readers spin (what a feed handler
 * on a dedicated core does); bcast is measured once more with a reader
 * blocked in bcast_wait(); the kernel channels' readers block in the
 * kernel, as their users' do.  Implementations take turns round by round.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bcast.h"
#include <linux/bcast.h>
#include "bench.h"
#include "refring.h"

/* What one round measures; "bcast-wait" is bcast with a blocking reader. */
enum lat_kind { LAT_BCAST, LAT_REF, LAT_PIPE, LAT_UNIX, LAT_ZMQ, LAT_WAIT,
		LAT_COUNT };
static const char *const lat_name[LAT_COUNT] = {
	"bcast", "reference", "pipe", "unix", "zeromq", "bcast-wait"
};

struct lat_round {
	const struct options *o;
	enum lat_kind kind;
	uint64_t n, warm;
	struct bcast_writer *bw;
	struct bcast_reader *br;
	struct ref_writer rw;
	struct ref_reader rr;
	struct channel ch;
	unsigned char *msg, *buf;
	size_t buf_cap;
	struct samples *out;
	_Alignas(128) int ready;
	_Alignas(128) int done;
	int err;
	const char *err_where;
	uint64_t lost;
};

static void stamp(unsigned char *msg)
{
	uint64_t t = cli_now_ns();

	memcpy(msg, &t, sizeof(t));
}

static void *lat_writer(void *arg)
{
	struct lat_round *lr = arg;
	size_t size = lr->o->lat_size;
	double interval = 1e9 / (double)lr->o->lat_rate;
	uint64_t i, t0;

	pin_self(lr->o->wcpu, "writer");
	while (!__atomic_load_n(&lr->ready, __ATOMIC_ACQUIRE))
		cpu_relax();
	t0 = cli_now_ns();
	for (i = 0; i < lr->n && !lr->err; i++) {
		uint64_t due = t0 + (uint64_t)((double)i * interval);
		int err = 0;

		while (cli_now_ns() < due)
			cpu_relax();
		stamp(lr->msg);
		switch (lr->kind) {
		case LAT_BCAST:
		case LAT_WAIT:
			err = bcast_publish(lr->bw, lr->msg, size, 1);
			break;
		case LAT_REF:
			ref_publish(&lr->rw, lr->msg, (uint32_t)size, 1);
			break;
		default:
			err = channel_send(&lr->ch, lr->msg, size);
		}
		if (err) {
			lr->err = err;
			lr->err_where = "writer";
		}
	}
	if (lr->kind >= LAT_PIPE && lr->kind <= LAT_ZMQ)
		channel_end(&lr->ch);
	__atomic_store_n(&lr->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void take(struct lat_round *lr, const unsigned char *p, ssize_t len,
		 uint64_t *got)
{
	uint64_t now = cli_now_ns(), sent;

	if (len < (ssize_t)sizeof(sent))
		return;
	memcpy(&sent, p, sizeof(sent));
	if ((*got)++ >= lr->warm && now >= sent)
		samples_add(lr->out, now - sent);
}

/* The next message for a spinning or blocking reader: length, or < 0. */
static ssize_t lat_next(struct lat_round *lr, bool *finished)
{
	/* Everything was published before `done`: seen first, an empty ring
	 * after it means the end. */
	bool was_done = __atomic_load_n(&lr->done, __ATOMIC_ACQUIRE);
	ssize_t r;

	switch (lr->kind) {
	case LAT_BCAST:
	case LAT_WAIT:
		do	/* -EINPROGRESS: bounded work, more pending */
			r = bcast_receive(lr->br, lr->buf, lr->buf_cap, NULL);
		while (r == -EINPROGRESS);
		if (r == -BCAST_EOVERRUN) {
			lr->lost++;
			return -EAGAIN;
		}
		if (r == -EAGAIN && lr->kind == LAT_WAIT && !was_done) {
			int w = bcast_wait(lr->br, 100);

			if (w && w != -ETIMEDOUT && w != -EINTR)
				return w;
		}
		break;
	case LAT_REF:
		r = ref_receive(&lr->rr, lr->buf);
		if (r == REF_ELAPPED)
			lr->lost++;
		if (r < 0)
			r = -EAGAIN;
		break;
	default:
		r = channel_recv(&lr->ch, 0, lr->buf, lr->buf_cap);
		if (r == -EPIPE)
			*finished = true;
		return r;
	}
	if (r == -EAGAIN && was_done)
		*finished = true;
	return r;
}

static void *lat_reader(void *arg)
{
	struct lat_round *lr = arg;
	uint64_t got = 0;
	bool finished = false;

	pin_self(lr->o->rcpu, "reader");
	__atomic_store_n(&lr->ready, 1, __ATOMIC_RELEASE);
	while (!finished) {
		ssize_t r = lat_next(lr, &finished);

		if (r >= 0)
			take(lr, lr->buf, r, &got);
		else if (r == -EAGAIN)
			cpu_relax();
		else if (!finished) {
			lr->err = (int)r;
			lr->err_where = "reader";
			break;
		}
	}
	return NULL;
}

struct lat_env {
	unsigned char *mem;	/* rings in memory */
	size_t mem_len;
	char shm[64];		/* bcast-wait's ring */
};

static int open_round(struct lat_round *lr, struct lat_env *env,
		      struct bcast_ring **ring, const char **what)
{
	struct bcast_ring_opts ro = { .size = lr->o->capacity };
	int err;

	*ring = NULL;
	switch (lr->kind) {
	case LAT_REF:
		*what = "reference ring";
		ref_ring_format(&lr->rw.r, env->mem, lr->o->capacity,
				(uint32_t)mtu_of(lr->o->capacity));
		lr->rr.r = lr->rw.r;
		return 0;
	case LAT_BCAST:
		*what = "bcast_ring_format";
		err = bcast_ring_format(env->mem, env->mem_len, &ro, ring);
		break;
	case LAT_WAIT:
		*what = "bcast_ring_create(shm)";
		bcast_ring_destroy(env->shm);
		err = bcast_ring_create(env->shm, &ro, ring);
		break;
	default:
		return channel_open(&lr->ch, (enum impl)lr->kind, 1, what);
	}
	if (err)
		return err;
	*what = "bcast_writer_open";
	err = bcast_writer_open(*ring, &lr->bw);
	if (err)
		return err;
	*what = "bcast_reader_open";
	return bcast_reader_open(*ring, BCAST_FROM_OLDEST, &lr->br);
}

static void run_lat_round(const struct options *o, struct lat_env *env,
			  enum lat_kind kind, struct samples *out)
{
	struct lat_round *lr;
	struct bcast_ring *ring;
	pthread_t wt, rt;
	const char *what = "";
	int err;

	lr = aligned_alloc(128, (sizeof(*lr) + 127) & ~(size_t)127);
	if (!lr)
		die("out of memory");
	memset(lr, 0, sizeof(*lr));
	lr->o = o;
	lr->kind = kind;
	lr->n = o->lat_samples;
	lr->warm = o->lat_samples / 100 < 10 ? 10 : o->lat_samples / 100;
	lr->n += lr->warm;
	lr->out = out;
	lr->buf_cap = o->capacity;
	lr->msg = calloc(1, o->lat_size);
	lr->buf = calloc(1, lr->buf_cap);
	if (!lr->msg || !lr->buf)
		die("out of memory");
	err = open_round(lr, env, &ring, &what);
	if (err)
		die("latency %s: %s: %s", lat_name[kind], what,
		    bcast_strerror(err));
	if ((err = pthread_create(&rt, NULL, lat_reader, lr)) ||
	    (err = pthread_create(&wt, NULL, lat_writer, lr)))
		die("pthread_create: %s", strerror(err));
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	if (lr->err)
		die("latency %s: %s: %s", lat_name[kind], lr->err_where,
		    bcast_strerror(lr->err));
	if (lr->lost)
		fprintf(stderr, PROG ": latency %s: the reader was lapped %"
			PRIu64 " times\n", lat_name[kind], lr->lost);
	if (lr->br)
		bcast_reader_close(lr->br);
	if (lr->bw)
		bcast_writer_close(lr->bw);
	if (ring)
		bcast_ring_close(ring);
	if (kind >= LAT_PIPE && kind <= LAT_ZMQ)
		channel_close(&lr->ch);
	free(lr->msg);
	free(lr->buf);
	free(lr);
}

static bool lat_enabled(const struct options *o, enum lat_kind k)
{
	return k == LAT_WAIT || k <= LAT_REF || (o->impls & (1u << k));
}

static struct samples *lat_samples_of(struct figures *fig, enum lat_kind k)
{
	return k == LAT_WAIT ? &fig->lat_bcast_wait : &fig->lat[k];
}

static void print_latency(const struct options *o, struct figures *fig)
{
	double ref = samples_pct(&fig->lat[IMPL_REF], 50);
	int k, i;

	printf("latency: 1 writer (CPU %d) paced at %" PRIu64 " msg/s -> 1 "
	       "reader (CPU %d), %zu-byte messages,\n  %d rounds x %" PRIu64
	       " samples per implementation, interleaved; microseconds\n",
	       o->wcpu, o->lat_rate, o->rcpu, o->lat_size, o->rounds,
	       o->lat_samples);
	printf("  %-11s", "");
	for (i = 0; i < NPCT; i++)
		printf(" %9s", pct_names[i]);
	printf("   p50 / reference\n");
	for (k = 0; k < LAT_COUNT; k++) {
		struct samples *s = lat_samples_of(fig, (enum lat_kind)k);

		if (!lat_enabled(o, (enum lat_kind)k))
			continue;
		printf("  %-11s", lat_name[k]);
		for (i = 0; i < NPCT; i++)
			printf(" %9.2f", samples_pct(s, pct_points[i]) / 1e3);
		printf("   %8.2fx\n", ref > 0 ? samples_pct(s, 50) / ref : 0);
	}
	printf("  (bcast and reference spin; bcast-wait blocks in bcast_wait() "
	       "on a shm ring;\n   the kernel channels block in the kernel)\n\n");
}

static void json_latency(struct json *j, const struct options *o,
			 struct figures *fig)
{
	int k;

	json_key(j, "latency");
	json_object(j);
	json_member_u64(j, "rate", o->lat_rate);
	json_member_u64(j, "size", o->lat_size);
	json_member_i64(j, "rounds", o->rounds);
	json_member_u64(j, "samples_per_round", o->lat_samples);
	for (k = 0; k < LAT_COUNT; k++) {
		if (!lat_enabled(o, (enum lat_kind)k))
			continue;
		json_key(j, lat_name[k]);
		json_samples(j, lat_samples_of(fig, (enum lat_kind)k));
	}
	json_object_end(j);
}

void latency_run(const struct options *o, struct figures *fig,
		 struct json *json)
{
	struct lat_env env;
	int j, k;

	memset(&env, 0, sizeof(env));
	env.mem_len = BCAST_MAP_SIZE(o->capacity);
	env.mem = aligned_alloc(4096, env.mem_len);
	if (!env.mem)
		die("out of memory");
	memset(env.mem, 0, env.mem_len);
	snprintf(env.shm, sizeof(env.shm), "shm:bcast-bench-lat-%d",
		 (int)getpid());
	for (j = 0; j < o->rounds; j++)
		for (k = 0; k < LAT_COUNT; k++) {
			if (!lat_enabled(o, (enum lat_kind)k))
				continue;
			run_lat_round(o, &env, (enum lat_kind)k,
				      lat_samples_of(fig, (enum lat_kind)k));
			if (o->verbose)
				fprintf(stderr, "latency round %d %s done\n",
					j + 1, lat_name[k]);
		}
	bcast_ring_destroy(env.shm);
	free(env.mem);
	fig->lat_done = true;
	if (o->json)
		json_latency(json, o, fig);
	else
		print_latency(o, fig);
}
