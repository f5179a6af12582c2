// SPDX-License-Identifier: MIT
/*
 * Wake-up latency of a blocked reader: the reader says it is about to
 * block and blocks; the writer waits until then, sleeps --gap microseconds
 * more so the reader is surely asleep, reads the clock and wakes it the way
 * the implementation does: bcast_publish() (which makes its one system
 * call only because a reader sleeps), a raw FUTEX_WAKE, an eventfd write,
 * a pipe or socket write.  The bcast reader sleeps in bcast_wait(), in a
 * bcast_poller over --poller-rings rings, or (device rings) on its file in
 * poll() or io_uring.  The figure is the reader's clock after waking minus
 * the writer's before.  A sample whose reader did not actually sleep
 * (bcast's `sleeps` counters, the futex's return, a completion already
 * there at submission) is dropped and counted.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <poll.h>
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
#include "wake.h"

static const char *const wake_name[WAKE_COUNT] = {
	[WAKE_BCAST_SHM] = "bcast_wait, shm",
	[WAKE_POLLER_SHM] = "poller, shm",
	[WAKE_FUTEX] = "raw futex",
	[WAKE_BCAST_DEV] = "bcast_wait, dev",
	[WAKE_DEV_POLL] = "dev fd, poll()",
	[WAKE_DEV_URING_POLL] = "dev fd, POLL_ADD",
	[WAKE_DEV_URING_CMD] = "dev, URING_WAIT",
	[WAKE_POLLER_DEV] = "poller, dev",
	[WAKE_EVENTFD] = "eventfd, read",
	[WAKE_EVENTFD_URING] = "eventfd, POLL_ADD",
	[WAKE_EPOLL] = "epoll, eventfds",
	[WAKE_PIPE] = "pipe",
	[WAKE_UNIX] = "unix",
};
static const char *const wake_json[WAKE_COUNT] = {
	[WAKE_BCAST_SHM] = "bcast_shm",
	[WAKE_POLLER_SHM] = "poller_shm",
	[WAKE_FUTEX] = "futex",
	[WAKE_BCAST_DEV] = "bcast_device",
	[WAKE_DEV_POLL] = "device_poll",
	[WAKE_DEV_URING_POLL] = "device_uring_poll",
	[WAKE_DEV_URING_CMD] = "device_uring_cmd",
	[WAKE_POLLER_DEV] = "poller_device",
	[WAKE_EVENTFD] = "eventfd",
	[WAKE_EVENTFD_URING] = "eventfd_uring_poll",
	[WAKE_EPOLL] = "epoll_eventfds",
	[WAKE_PIPE] = "pipe",
	[WAKE_UNIX] = "unix",
};

/* Each row's p50 is divided by that of the row it competes with. */
static enum wake_kind wake_reference(enum wake_kind k)
{
	switch (k) {
	case WAKE_BCAST_DEV:
	case WAKE_DEV_POLL:
		return WAKE_EVENTFD;
	case WAKE_DEV_URING_POLL:
	case WAKE_DEV_URING_CMD:
		return WAKE_EVENTFD_URING;
	case WAKE_POLLER_SHM:
	case WAKE_POLLER_DEV:
		return WAKE_EPOLL;
	case WAKE_EVENTFD_URING:
		return WAKE_EVENTFD;
	default:
		return WAKE_FUTEX;
	}
}

static bool wake_on_device(enum wake_kind k)
{
	return k >= WAKE_BCAST_DEV && k <= WAKE_POLLER_DEV;
}

static bool wake_by_publish(enum wake_kind k)
{
	return k == WAKE_BCAST_SHM || (wake_on_device(k) &&
				       k != WAKE_POLLER_DEV);
}

static bool wake_in_uring(enum wake_kind k)
{
	return k == WAKE_DEV_URING_POLL || k == WAKE_DEV_URING_CMD ||
	       k == WAKE_EVENTFD_URING;
}

/* What every round shares; why[k] says why row k is not measured. */
struct wake_env {
	char shm[64];
	char dev[64];
	uint32_t *futex_word;
	struct wake_fleet fleet_shm, fleet_dev, fleet_epoll;
	char why[WAKE_COUNT][224];
};

struct wake_round {
	const struct options *o;
	enum wake_kind kind;
	uint64_t n;
	struct bcast_writer *bw;
	struct bcast_reader *br;
	struct wake_fleet *fleet;
	struct wake_uring *uring;
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

	if (wake_by_publish(wr->kind))
		return bcast_publish(wr->bw, &t, sizeof(t), 1);
	switch (wr->kind) {
	case WAKE_POLLER_SHM:
	case WAKE_POLLER_DEV:
	case WAKE_EPOLL:
		return fleet_wake(wr->fleet, i, t);
	case WAKE_FUTEX:
		__atomic_store_n(&wr->sent_ns, t, __ATOMIC_RELAXED);
		__atomic_store_n(wr->futex_word, (uint32_t)(i + 1), __ATOMIC_RELEASE);
		return futex(wr->futex_word, FUTEX_WAKE, 1) < 0 ? -errno : 0;
	case WAKE_EVENTFD:
	case WAKE_EVENTFD_URING: {
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

/* The stamp the writer published; 0 if the reader never slept. */
static int receive_stamp(struct wake_round *wr, bool slept, uint64_t *sent)
{
	ssize_t r = bcast_receive(wr->br, sent, sizeof(*sent), NULL);

	if (r != sizeof(*sent))
		return r < 0 ? (int)r : -EPROTO;
	if (!slept)
		*sent = 0;
	return 0;
}

static int wait_bcast(struct wake_round *wr, uint64_t *sent)
{
	struct bcast_reader_stats st0, st1;
	int r;

	bcast_reader_stats(wr->br, &st0);
	do {
		r = bcast_wait(wr->br, 2000);
	} while (r == -EINTR);
	if (r)
		return r;
	bcast_reader_stats(wr->br, &st1);
	return receive_stamp(wr, st1.sleeps != st0.sleeps, sent);
}

/* The arm protocol on the device file, sleeping in poll() or io_uring. */
static int wait_device_file(struct wake_round *wr, uint64_t *sent)
{
	int fd = bcast_reader_fd(wr->br), armed, slept = 0, res = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI };

	armed = bcast_reader_arm(wr->br);
	if (armed < 0)
		return armed;
	if (armed == 0 && wr->kind == WAKE_DEV_POLL) {
		do {
			slept = poll(&p, 1, 2000);
		} while (slept < 0 && errno == EINTR);
		if (slept <= 0)
			return slept ? -errno : -ETIMEDOUT;
		res = p.revents;
	} else if (armed == 0) {
		slept = wake_uring_poll(wr->uring, fd, POLLIN | POLLPRI, 2000,
					&res);
		if (slept < 0)
			return slept;
		slept = !slept;
	}
	if (slept && !(res & POLLIN))
		return res < 0 ? res : -EPROTO;
	return receive_stamp(wr, slept, sent);
}

static int wait_uring_cmd(struct wake_round *wr, uint64_t *sent)
{
	int res = 0, at_once;

	at_once = wake_uring_cmd_wait(wr->uring, bcast_reader_fd(wr->br),
				      bcast_reader_position(wr->br), 2000, &res);
	if (at_once < 0)
		return at_once;
	if (!(res & POLLIN))
		return res < 0 ? res : -EPROTO;
	return receive_stamp(wr, !at_once, sent);
}

static int wait_eventfd(struct wake_round *wr, uint64_t *sent)
{
	int at_once = 0, res = POLLIN;
	uint64_t v;

	if (wr->kind == WAKE_EVENTFD_URING) {
		at_once = wake_uring_poll(wr->uring, wr->efd, POLLIN, 2000,
					  &res);
		if (at_once < 0)
			return at_once;
	}
	if (!(res & POLLIN))
		return res < 0 ? res : -EPROTO;
	if (read(wr->efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	*sent = at_once ? 0 : __atomic_load_n(&wr->sent_ns, __ATOMIC_RELAXED);
	return 0;
}

static int wait_futex(struct wake_round *wr, uint64_t i, uint64_t *sent)
{
	long f = futex(wr->futex_word, FUTEX_WAIT, (uint32_t)i);

	if (f && errno != EAGAIN && errno != EINTR)
		return -errno;
	while (__atomic_load_n(wr->futex_word, __ATOMIC_ACQUIRE) == (uint32_t)i)
		futex(wr->futex_word, FUTEX_WAIT, (uint32_t)i);
	*sent = f ? 0 : __atomic_load_n(&wr->sent_ns, __ATOMIC_RELAXED);
	return 0;
}

/* Block until woken; the writer's stamp, 0 if the reader never slept. */
static int wait_one(struct wake_round *wr, uint64_t i, uint64_t *sent)
{
	ssize_t r;

	switch (wr->kind) {
	case WAKE_BCAST_SHM:
	case WAKE_BCAST_DEV:
		return wait_bcast(wr, sent);
	case WAKE_DEV_POLL:
	case WAKE_DEV_URING_POLL:
		return wait_device_file(wr, sent);
	case WAKE_DEV_URING_CMD:
		return wait_uring_cmd(wr, sent);
	case WAKE_POLLER_SHM:
	case WAKE_POLLER_DEV:
	case WAKE_EPOLL:
		return fleet_wait(wr->fleet, i, sent);
	case WAKE_FUTEX:
		return wait_futex(wr, i, sent);
	case WAKE_EVENTFD:
	case WAKE_EVENTFD_URING:
		return wait_eventfd(wr, sent);
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
	int err;

	*ring = NULL;
	wr->efd = -1;
	if (wake_in_uring(wr->kind)) {
		*what = "io_uring_queue_init";
		err = wake_uring_open(&wr->uring);
		if (err)
			return err;
	}
	switch (wr->kind) {
	case WAKE_BCAST_SHM:
		return open_bcast(wr, env->shm, ring, what);
	case WAKE_POLLER_SHM:
		wr->fleet = &env->fleet_shm;
		return 0;
	case WAKE_POLLER_DEV:
		wr->fleet = &env->fleet_dev;
		return 0;
	case WAKE_EPOLL:
		wr->fleet = &env->fleet_epoll;
		return 0;
	case WAKE_FUTEX:
		wr->futex_word = env->futex_word;
		*wr->futex_word = 0;
		return 0;
	case WAKE_EVENTFD:
	case WAKE_EVENTFD_URING:
		*what = "eventfd";
		wr->efd = eventfd(0, EFD_CLOEXEC);
		return wr->efd < 0 ? -errno : 0;
	case WAKE_PIPE:
		return channel_open(&wr->ch, IMPL_PIPE, 1, what);
	case WAKE_UNIX:
		return channel_open(&wr->ch, IMPL_UNIX, 1, what);
	default:
		return open_bcast(wr, env->dev, ring, what);
	}
}

static void close_wake(struct wake_round *wr, struct bcast_ring *ring)
{
	bcast_reader_close(wr->br);
	bcast_writer_close(wr->bw);
	bcast_ring_close(ring);
	wake_uring_close(wr->uring);
	if (wr->efd >= 0)
		close(wr->efd);
	if (wr->kind == WAKE_PIPE || wr->kind == WAKE_UNIX)
		channel_close(&wr->ch);
	free(wr);
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
		    wr->err == -EPROTO && wr->fleet ?
		    "woken for another ring than the one published on" :
		    bcast_strerror(wr->err));
	*not_asleep += wr->not_asleep;
	close_wake(wr, ring);
}

static bool wake_enabled(const struct wake_env *env, enum wake_kind k)
{
	return !env->why[k][0];
}

/* Whether bcast.ko takes BCAST_URING_WAIT (6.7+): a WAIT for a message
 * already there completes at once, or is refused with -EOPNOTSUPP. */
static int probe_uring_cmd(const char *name, const char **what)
{
	struct bcast_ring_opts ro = { .size = 1 << 16 };
	struct bcast_ring *r = NULL;
	struct bcast_writer *w = NULL;
	struct bcast_reader *rd = NULL;
	struct wake_uring *u = NULL;
	int err, res = 0;

	*what = "bcast_ring_create";
	err = bcast_ring_create(name, &ro, &r);
	if (err)
		return err;
	*what = "bcast_writer_open";
	err = bcast_writer_open(r, &w);
	if (err)
		goto out;
	*what = "bcast_reader_open";
	err = bcast_reader_open(r, BCAST_FROM_OLDEST, &rd);
	if (err)
		goto out;
	*what = "bcast_publish";
	err = bcast_publish(w, "x", 1, 1);
	if (err)
		goto out;
	*what = "io_uring_queue_init";
	err = wake_uring_open(&u);
	if (err)
		goto out;
	*what = "IORING_OP_URING_CMD BCAST_URING_WAIT";
	err = wake_uring_cmd_wait(u, bcast_reader_fd(rd), 0, 2000, &res);
	if (err >= 0)
		err = res < 0 ? res : 0;
out:
	wake_uring_close(u);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
	bcast_ring_destroy(name);
	return err;
}

static void why_not(struct wake_env *env, enum wake_kind k, const char *fmt,
		    const char *a, int err)
{
	snprintf(env->why[k], sizeof(env->why[k]), fmt, a,
		 err ? bcast_strerror(err) : "");
}

/* Decide which rows run, and set up the pollers' rings. */
static void wake_env_open(const struct options *o, struct wake_env *env)
{
	struct wake_uring *u;
	const char *what;
	int k, err;

	memset(env, 0, sizeof(*env));
	snprintf(env->shm, sizeof(env->shm), "shm:bcast-bench-wake-%d",
		 (int)getpid());
	if (!access("/dev/bcast-ctl", F_OK))
		snprintf(env->dev, sizeof(env->dev), "bench-wake-%d",
			 (int)getpid());
	env->futex_word = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (env->futex_word == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (!(o->impls & (1u << IMPL_PIPE)))
		why_not(env, WAKE_PIPE, "not asked for%s", "", 0);
	if (!(o->impls & (1u << IMPL_UNIX)))
		why_not(env, WAKE_UNIX, "not asked for%s", "", 0);
	for (k = WAKE_BCAST_DEV; !env->dev[0] && k <= WAKE_POLLER_DEV; k++)
		why_not(env, (enum wake_kind)k, "no device ring: bcast.ko is "
			"not loaded%s", "", 0);
	err = wake_uring_open(&u);
	wake_uring_close(u);
	for (k = 0; err && k < WAKE_COUNT; k++)
		if (wake_in_uring((enum wake_kind)k) && !env->why[k][0])
			why_not(env, (enum wake_kind)k, err == -ENOTSUP ?
				"built without liburing%s" :
				"io_uring_queue_init: %s", "", err);
	if (!env->why[WAKE_DEV_URING_CMD][0]) {
		char name[64];

		snprintf(name, sizeof(name), "bench-probe-%d", (int)getpid());
		err = probe_uring_cmd(name, &what);
		if (err == -EOPNOTSUPP)
			why_not(env, WAKE_DEV_URING_CMD, "%s: not supported "
				"by bcast.ko on this kernel (6.7+ only)", what, 0);
		else if (err)
			why_not(env, WAKE_DEV_URING_CMD, "%s: %s", what, err);
	}
	if (fleet_open(&env->fleet_shm, FLEET_SHM, o->poller_rings,
		       o->poller_flags))
		why_not(env, WAKE_POLLER_SHM, "%s", env->fleet_shm.why, 0);
	if (!env->why[WAKE_POLLER_DEV][0] &&
	    fleet_open(&env->fleet_dev, FLEET_DEVICE, o->poller_rings,
		       o->poller_flags))
		why_not(env, WAKE_POLLER_DEV, "%s", env->fleet_dev.why, 0);
	if (fleet_open(&env->fleet_epoll, FLEET_EPOLL, o->poller_rings,
		       o->poller_flags))
		why_not(env, WAKE_EPOLL, "%s", env->fleet_epoll.why, 0);
}

static void wake_env_close(struct wake_env *env)
{
	fleet_close(&env->fleet_shm);
	fleet_close(&env->fleet_dev);
	fleet_close(&env->fleet_epoll);
	bcast_ring_destroy(env->shm);
	if (env->dev[0])
		bcast_ring_destroy(env->dev);
	munmap(env->futex_word, 4096);
}

static void print_wake(const struct options *o, const struct wake_env *env,
		       struct figures *fig, const uint64_t *not_asleep)
{
	int k, i;

	printf("wake-up: a reader blocked on CPU %d woken by a writer on CPU %d "
	       "after %.0f us asleep,\n  %d rounds x %" PRIu64 " wake-ups, "
	       "interleaved; pollers over %d rings each%s; microseconds\n",
	       o->rcpu, o->wcpu, o->wake_gap_us, o->rounds, o->wakeups,
	       o->poller_rings, o->poller_flags & BCAST_POLLER_NO_URING ?
	       " (in epoll)" : "");
	printf("  %-17s", "");
	for (i = 0; i < NPCT; i++)
		printf(" %9s", pct_names[i]);
	printf("   p50 ratio (*)\n");
	for (k = 0; k < WAKE_COUNT; k++) {
		struct samples *s = &fig->wake[k];

		if (!wake_enabled(env, (enum wake_kind)k))
			continue;
		printf("  %-17s", wake_name[k]);
		for (i = 0; i < NPCT; i++)
			printf(" %9.2f", samples_pct(s, pct_points[i]) / 1e3);
		printf("   %6.2fx %s", fig->wake_paired[k],
		       wake_name[wake_reference((enum wake_kind)k)]);
		if (not_asleep[k])
			printf("  (%" PRIu64 " dropped: not asleep)", not_asleep[k]);
		printf("\n");
	}
	printf("  (*) median over the rounds of the p50 ratio within a round; "
	       "the percentiles\n      are of all the rounds' samples\n");
	for (k = 0; k < WAKE_COUNT; k++)
		if (!wake_enabled(env, (enum wake_kind)k))
			printf("  (%s: %s)\n", wake_name[k], env->why[k]);
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
	json_member_i64(j, "poller_rings", o->poller_rings);
	for (k = 0; k < WAKE_COUNT; k++) {
		if (!wake_enabled(env, (enum wake_kind)k)) {
			snprintf(key, sizeof(key), "%s_skipped", wake_json[k]);
			json_member_string(j, key, env->why[k]);
			continue;
		}
		json_key(j, wake_json[k]);
		json_samples(j, &fig->wake[k]);
		snprintf(key, sizeof(key), "%s_not_asleep", wake_json[k]);
		json_member_u64(j, key, not_asleep[k]);
		snprintf(key, sizeof(key), "%s_paired_p50_ratio", wake_json[k]);
		json_member_double(j, key, fig->wake_paired[k], 4);
		snprintf(key, sizeof(key), "%s_reference", wake_json[k]);
		json_member_string(j, key,
				wake_json[wake_reference((enum wake_kind)k)]);
	}
	json_object_end(j);
}

void wakeup_run(const struct options *o, struct figures *fig,
		struct json *json)
{
	struct wake_env *env = malloc(sizeof(*env));
	uint64_t not_asleep[WAKE_COUNT] = { 0 };
	double paired[WAKE_COUNT][o->rounds];
	int j, k;

	if (!env)
		die("out of memory");
	wake_env_open(o, env);
	for (j = 0; j < o->rounds; j++) {
		double p50[WAKE_COUNT] = { 0 };

		for (k = 0; k < WAKE_COUNT; k++) {
			struct samples round = { 0 };
			size_t i;

			if (!wake_enabled(env, (enum wake_kind)k))
				continue;
			run_wake_round(o, env, (enum wake_kind)k, &round,
				       &not_asleep[k]);
			p50[k] = samples_pct(&round, 50);
			for (i = 0; i < round.n; i++)
				samples_add(&fig->wake[k], round.v[i]);
			samples_free(&round);
			if (o->verbose)
				fprintf(stderr, "wake-up round %d %s done\n",
					j + 1, wake_name[k]);
		}
		for (k = 0; k < WAKE_COUNT; k++) {
			double b = p50[wake_reference((enum wake_kind)k)];

			paired[k][j] = b > 0 ? p50[k] / b : 0;
		}
	}
	for (k = 0; k < WAKE_COUNT; k++)
		fig->wake_paired[k] = median(paired[k], o->rounds);
	fig->wake_done = true;
	fig->wake_dev_done = wake_enabled(env, WAKE_BCAST_DEV);
	if (o->json)
		json_wake(json, o, env, fig, not_asleep);
	else
		print_wake(o, env, fig, not_asleep);
	wake_env_close(env);
	free(env);
}
