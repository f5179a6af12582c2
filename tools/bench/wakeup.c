// SPDX-License-Identifier: MIT
/*
 * Wake-up latency of a blocked reader: the reader says it is about to
 * block and blocks; the writer waits until then, sleeps --gap microseconds
 * more so the reader is surely asleep, reads the clock and wakes it the way
 * the implementation does: bcast_publish() (which makes its one system
 * call only because a reader sleeps), a raw FUTEX_WAKE, an eventfd write,
 * a pipe or socket write.  The figure is the reader's clock after waking
 * minus the writer's before.  A sample whose reader did not actually sleep
 * (bcast's `sleeps` counter, the futex's return) is dropped and counted.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bcast.h"
#include "bench.h"

static const char *const wake_name[WAKE_COUNT] = {
	"bcast (shm)", "raw futex", "bcast (device)", "eventfd", "pipe", "unix"
};
static const char *const wake_json[WAKE_COUNT] = {
	"bcast_shm", "futex", "bcast_device", "eventfd", "pipe", "unix"
};

struct wake_round {
	const struct options *o;
	enum wake_kind kind;
	uint64_t n;
	struct bcast_writer *bw;
	struct bcast_reader *br;
	struct channel ch;
	uint32_t *futex_word;	/* in a shared mapping, as between processes */
	int efd;
	struct samples *out;
	uint64_t not_asleep;
	_Alignas(128) uint64_t ready;	/* the reader is about to block for #ready */
	_Alignas(128) uint64_t sent_ns;	/* futex/eventfd: the writer's stamp */
	int err;
	const char *err_where;
};

static long futex(uint32_t *uaddr, int op, uint32_t val)
{
	struct timespec ts = { 1, 0 };

	return syscall(SYS_futex, uaddr, op, val,
		       op == FUTEX_WAIT ? &ts : NULL, NULL, 0);
}

static int wake_one(struct wake_round *wr, uint64_t i)
{
	uint64_t t = cli_now_ns();

	switch (wr->kind) {
	case WAKE_BCAST_SHM:
	case WAKE_BCAST_DEV:
		return bcast_publish(wr->bw, &t, sizeof(t), 1);
	case WAKE_FUTEX:
		__atomic_store_n(&wr->sent_ns, t, __ATOMIC_RELAXED);
		__atomic_store_n(wr->futex_word, (uint32_t)(i + 1), __ATOMIC_RELEASE);
		return futex(wr->futex_word, FUTEX_WAKE, 1) < 0 ? -errno : 0;
	case WAKE_EVENTFD: {
		uint64_t one = 1;

		__atomic_store_n(&wr->sent_ns, t, __ATOMIC_RELAXED);
		return write(wr->efd, &one, sizeof(one)) < 0 ? -errno : 0;
	}
	default:
		return channel_send(&wr->ch, &t, sizeof(t));
	}
}

static void *wake_writer(void *arg)
{
	struct wake_round *wr = arg;
	uint64_t i;

	pin_self(wr->o->wcpu, "writer");
	for (i = 0; i < wr->n; i++) {
		while (__atomic_load_n(&wr->ready, __ATOMIC_ACQUIRE) != i + 1) {
			if (__atomic_load_n(&wr->err, __ATOMIC_RELAXED))
				return NULL;
			cpu_relax();
		}
		sleep_us(wr->o->wake_gap_us);
		wr->err = wake_one(wr, i);
		if (wr->err) {
			wr->err_where = "writer";
			return NULL;
		}
	}
	return NULL;
}

/* Block until woken; the writer's stamp, 0 if the reader never slept. */
static int wait_one(struct wake_round *wr, uint64_t i, uint64_t *sent)
{
	struct bcast_reader_stats st0, st1;
	ssize_t r;
	long f;

	switch (wr->kind) {
	case WAKE_BCAST_SHM:
	case WAKE_BCAST_DEV:
		bcast_reader_stats(wr->br, &st0);
		do {
			r = bcast_wait(wr->br, 2000);
		} while (r == -EINTR);
		if (r)
			return (int)r;
		bcast_reader_stats(wr->br, &st1);
		r = bcast_receive(wr->br, sent, sizeof(*sent), NULL);
		if (r != sizeof(*sent))
			return r < 0 ? (int)r : -EPROTO;
		if (st1.sleeps == st0.sleeps)
			*sent = 0;
		return 0;
	case WAKE_FUTEX:
		f = futex(wr->futex_word, FUTEX_WAIT, (uint32_t)i);
		if (f && errno != EAGAIN && errno != EINTR)
			return -errno;
		while (__atomic_load_n(wr->futex_word, __ATOMIC_ACQUIRE) == (uint32_t)i)
			futex(wr->futex_word, FUTEX_WAIT, (uint32_t)i);
		*sent = f ? 0 : __atomic_load_n(&wr->sent_ns, __ATOMIC_RELAXED);
		return 0;
	case WAKE_EVENTFD: {
		uint64_t v;

		if (read(wr->efd, &v, sizeof(v)) != sizeof(v))
			return -errno;
		*sent = __atomic_load_n(&wr->sent_ns, __ATOMIC_RELAXED);
		return 0;
	}
	default:
		r = channel_recv(&wr->ch, 0, sent, sizeof(*sent));
		return r == sizeof(*sent) ? 0 : r < 0 ? (int)r : -EPROTO;
	}
}

static void *wake_reader(void *arg)
{
	struct wake_round *wr = arg;
	uint64_t i, sent, now;

	pin_self(wr->o->rcpu, "reader");
	for (i = 0; i < wr->n; i++) {
		__atomic_store_n(&wr->ready, i + 1, __ATOMIC_RELEASE);
		wr->err = wait_one(wr, i, &sent);
		now = cli_now_ns();
		if (wr->err) {
			wr->err_where = "reader";
			return NULL;
		}
		if (!sent)
			wr->not_asleep++;
		else if (now >= sent)
			samples_add(wr->out, now - sent);
	}
	return NULL;
}

struct wake_env {
	char shm[64];
	char dev[64];
	uint32_t *futex_word;
};

static int open_bcast(struct wake_round *wr, const char *name,
		      struct bcast_ring **ring, const char **what)
{
	struct bcast_ring_opts ro = { .size = 1 << 16 };
	int err;

	bcast_ring_destroy(name);
	*what = "bcast_ring_create";
	err = bcast_ring_create(name, &ro, ring);
	if (err)
		return err;
	*what = "bcast_writer_open";
	err = bcast_writer_open(*ring, &wr->bw);
	if (err)
		return err;
	*what = "bcast_reader_open";
	return bcast_reader_open(*ring, BCAST_FROM_LATEST, &wr->br);
}

static int open_wake(struct wake_round *wr, struct wake_env *env,
		     struct bcast_ring **ring, const char **what)
{
	*ring = NULL;
	wr->efd = -1;
	switch (wr->kind) {
	case WAKE_BCAST_SHM:
		return open_bcast(wr, env->shm, ring, what);
	case WAKE_BCAST_DEV:
		return open_bcast(wr, env->dev, ring, what);
	case WAKE_FUTEX:
		wr->futex_word = env->futex_word;
		*wr->futex_word = 0;
		return 0;
	case WAKE_EVENTFD:
		*what = "eventfd";
		wr->efd = eventfd(0, EFD_CLOEXEC);
		return wr->efd < 0 ? -errno : 0;
	case WAKE_PIPE:
		return channel_open(&wr->ch, IMPL_PIPE, 1, what);
	default:
		return channel_open(&wr->ch, IMPL_UNIX, 1, what);
	}
}

static void run_wake_round(const struct options *o, struct wake_env *env,
			   enum wake_kind kind, struct samples *out,
			   uint64_t *not_asleep)
{
	struct wake_round *wr;
	struct bcast_ring *ring;
	pthread_t wt, rt;
	const char *what = "";
	int err;

	wr = aligned_alloc(128, (sizeof(*wr) + 127) & ~(size_t)127);
	if (!wr)
		die("out of memory");
	memset(wr, 0, sizeof(*wr));
	wr->o = o;
	wr->kind = kind;
	wr->n = o->wakeups;
	wr->out = out;
	err = open_wake(wr, env, &ring, &what);
	if (err)
		die("wake-up %s: %s: %s", wake_name[kind], what,
		    bcast_strerror(err));
	if ((err = pthread_create(&rt, NULL, wake_reader, wr)) ||
	    (err = pthread_create(&wt, NULL, wake_writer, wr)))
		die("pthread_create: %s", strerror(err));
	pthread_join(rt, NULL);
	pthread_join(wt, NULL);
	if (wr->err)
		die("wake-up %s: %s: %s", wake_name[kind], wr->err_where,
		    bcast_strerror(wr->err));
	*not_asleep += wr->not_asleep;
	if (wr->br)
		bcast_reader_close(wr->br);
	if (wr->bw)
		bcast_writer_close(wr->bw);
	if (ring)
		bcast_ring_close(ring);
	if (wr->efd >= 0)
		close(wr->efd);
	if (kind == WAKE_PIPE || kind == WAKE_UNIX)
		channel_close(&wr->ch);
	free(wr);
}

static struct samples *wake_samples(struct figures *fig, enum wake_kind k)
{
	switch (k) {
	case WAKE_BCAST_SHM: return &fig->wake_bcast_shm;
	case WAKE_FUTEX: return &fig->wake_futex;
	case WAKE_BCAST_DEV: return &fig->wake_bcast_dev;
	case WAKE_EVENTFD: return &fig->wake_eventfd;
	case WAKE_PIPE: return &fig->wake_pipe;
	default: return &fig->wake_unix;
	}
}

static bool wake_enabled(const struct options *o, const struct wake_env *env,
			 enum wake_kind k)
{
	if (k == WAKE_BCAST_DEV)
		return env->dev[0];
	if (k == WAKE_PIPE)
		return o->impls & (1u << IMPL_PIPE);
	if (k == WAKE_UNIX)
		return o->impls & (1u << IMPL_UNIX);
	return true;
}

static void print_wake(const struct options *o, const struct wake_env *env,
		       struct figures *fig, const uint64_t *not_asleep)
{
	int k, i;

	printf("wake-up: a reader blocked on CPU %d woken by a writer on CPU %d "
	       "after %.0f us asleep,\n  %d rounds x %" PRIu64 " wake-ups, "
	       "interleaved; microseconds\n", o->rcpu, o->wcpu, o->wake_gap_us,
	       o->rounds, o->wakeups);
	printf("  %-15s", "");
	for (i = 0; i < NPCT; i++)
		printf(" %9s", pct_names[i]);
	printf("   p50 ratio (*)\n");
	for (k = 0; k < WAKE_COUNT; k++) {
		struct samples *s = wake_samples(fig, (enum wake_kind)k);

		if (!wake_enabled(o, env, (enum wake_kind)k))
			continue;
		printf("  %-15s", wake_name[k]);
		for (i = 0; i < NPCT; i++)
			printf(" %9.2f", samples_pct(s, pct_points[i]) / 1e3);
		printf("   %6.2fx %s", fig->wake_paired[k],
		       k == WAKE_BCAST_DEV ? "eventfd" : "futex");
		if (not_asleep[k])
			printf("  (%" PRIu64 " dropped: not asleep)", not_asleep[k]);
		printf("\n");
	}
	printf("  (*) median over the rounds of the p50 ratio within a round; "
	       "the percentiles\n      are of all the rounds' samples\n");
	if (!env->dev[0])
		printf("  (no device ring: bcast.ko is not loaded)\n");
	printf("\n");
}

static void json_wake(struct json *j, const struct options *o,
		      const struct wake_env *env, struct figures *fig,
		      const uint64_t *not_asleep)
{
	char key[64];
	int k;

	json_key(j, "wakeup");
	json_object(j);
	json_member_double(j, "gap_us", o->wake_gap_us, 0);
	json_member_i64(j, "rounds", o->rounds);
	json_member_u64(j, "wakeups_per_round", o->wakeups);
	for (k = 0; k < WAKE_COUNT; k++) {
		if (!wake_enabled(o, env, (enum wake_kind)k))
			continue;
		json_key(j, wake_json[k]);
		json_samples(j, wake_samples(fig, (enum wake_kind)k));
		snprintf(key, sizeof(key), "%s_not_asleep", wake_json[k]);
		json_member_u64(j, key, not_asleep[k]);
		snprintf(key, sizeof(key), "%s_paired_p50_ratio", wake_json[k]);
		json_member_double(j, key, fig->wake_paired[k], 4);
	}
	json_object_end(j);
}

void wakeup_run(const struct options *o, struct figures *fig,
		struct json *json)
{
	struct wake_env env;
	uint64_t not_asleep[WAKE_COUNT] = { 0 };
	double paired[WAKE_COUNT][o->rounds];
	int j, k;

	memset(&env, 0, sizeof(env));
	snprintf(env.shm, sizeof(env.shm), "shm:bcast-bench-wake-%d",
		 (int)getpid());
	if (!access("/dev/bcast-ctl", F_OK))
		snprintf(env.dev, sizeof(env.dev), "bench-wake-%d",
			 (int)getpid());
	env.futex_word = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (env.futex_word == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (j = 0; j < o->rounds; j++) {
		double p50[WAKE_COUNT] = { 0 };

		for (k = 0; k < WAKE_COUNT; k++) {
			struct samples round = { 0 };
			size_t i;

			if (!wake_enabled(o, &env, (enum wake_kind)k))
				continue;
			run_wake_round(o, &env, (enum wake_kind)k, &round,
				       &not_asleep[k]);
			p50[k] = samples_pct(&round, 50);
			for (i = 0; i < round.n; i++)
				samples_add(wake_samples(fig, (enum wake_kind)k),
					    round.v[i]);
			samples_free(&round);
			if (o->verbose)
				fprintf(stderr, "wake-up round %d %s done\n",
					j + 1, wake_name[k]);
		}
		for (k = 0; k < WAKE_COUNT; k++) {
			double b = p50[k == WAKE_BCAST_DEV ? WAKE_EVENTFD :
				       WAKE_FUTEX];

			paired[k][j] = b > 0 ? p50[k] / b : 0;
		}
	}
	for (k = 0; k < WAKE_COUNT; k++)
		fig->wake_paired[k] = median(paired[k], o->rounds);
	bcast_ring_destroy(env.shm);
	if (env.dev[0])
		bcast_ring_destroy(env.dev);
	munmap(env.futex_word, 4096);
	fig->wake_done = true;
	fig->wake_dev_done = env.dev[0];
	if (o->json)
		json_wake(json, o, &env, fig, not_asleep);
	else
		print_wake(o, &env, fig, not_asleep);
}
