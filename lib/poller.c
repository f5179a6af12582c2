// SPDX-License-Identifier: MIT
/*
 * bcast_poller: many readers of any backend, and other file descriptors,
 * waited on together.
 *
 * Each call looks at every reader first (a load of `committed` and of the
 * writer's words each: no system call), reports what is there, starting
 * where the last report stopped, and sleeps only when there is nothing:
 * poller-sleep.c asks each ring for a wake-up and chooses how to sleep.
 * What it reports about writers follows bcast_wait(): a departure once per
 * writer after everything it committed was read (the reader's own record,
 * so that bcast_wait() and the poller agree), an arrival when a writer of
 * another epoch than the reader last knew (at its opening, or from a
 * report) is alive.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include "poller.h"

BCAST_EXPORT int bcast_poller_create(unsigned flags, struct bcast_poller **out)
{
	struct bcast_poller *p;

	if (!out || (flags & ~BCAST_POLLER_NO_URING))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->flags = flags;
	p->epfd = -1;
	p->wake_fd = -1;
	p->u.fd = -1;
	p->slice = BOUNDED_SLICE_MIN_MS;
	p->round = 1;
	*out = p;
	return 0;
}

/* Refuse changes while another thread waits: 0 or -EBUSY. */
static int poller_enter(struct bcast_poller *p)
{
	int idle = 0;

	return __atomic_compare_exchange_n(&p->waiting, &idle, 1, false,
					   __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED) ? 0 : -EBUSY;
}

static void poller_leave(struct bcast_poller *p)
{
	__atomic_store_n(&p->waiting, 0, __ATOMIC_RELEASE);
}

/* A free slot (a freed one first), or -ENOMEM. */
static int new_slot(struct bcast_poller *p)
{
	struct poller_entry *e;
	unsigned i, cap;

	for (i = 0; i < p->n; i++)
		if (p->e[i].kind == ENTRY_FREE)
			return (int)i;
	if (p->n == p->cap) {
		unsigned *loud;

		cap = p->cap ? p->cap * 2 : 16;
		if (cap > (1U << 30))
			return -ENOMEM;
		loud = realloc(p->loud, cap * sizeof(*loud));
		if (!loud)
			return -ENOMEM;
		p->loud = loud;
		e = realloc(p->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		memset(e + p->cap, 0, (cap - p->cap) * sizeof(*e));
		p->e = e;
		p->cap = cap;
	}
	return (int)p->n++;
}

static void count_entry(struct bcast_poller *p, enum entry_kind kind, int d)
{
	if (kind == ENTRY_FUTEX) {
		p->n_futex += d;
		p->groups_layout++;	/* the threads' words are dealt anew */
	}
	else if (kind == ENTRY_DEVICE)
		p->n_device += d;
	else if (kind == ENTRY_FD)
		p->n_fd += d;
}

static int add_entry(struct bcast_poller *p, const struct poller_entry *proto)
{
	int i = new_slot(p), err;
	uint32_t gen;
	bool listed;

	if (i < 0)
		return i;
	gen = p->e[i].gen;
	listed = p->e[i].listed;	/* a freed slot may be listed still */
	p->e[i] = *proto;
	p->e[i].gen = gen;
	p->e[i].listed = listed;
	err = poller_engine_add(p, (unsigned)i);
	if (err) {
		p->e[i].kind = ENTRY_FREE;
		return err;
	}
	count_entry(p, proto->kind, 1);
	poller_mark_loud(p, (unsigned)i);
	return 0;
}

void poller_mark_loud(struct bcast_poller *p, unsigned i)
{
	if (p->e[i].listed)
		return;
	p->e[i].listed = true;
	p->loud[p->n_loud++] = i;
}

void poller_list_loud(struct bcast_poller *p)
{
	unsigned i;

	p->n_loud = 0;
	p->loud_cursor = 0;
	for (i = 0; i < p->n; i++) {
		p->e[i].listed = false;
		if (p->e[i].kind != ENTRY_FREE && !entry_quiet(p, &p->e[i]))
			poller_mark_loud(p, i);
	}
}

static void drop_entry(struct bcast_poller *p, unsigned i)
{
	struct poller_entry *e = &p->e[i];

	poller_engine_remove(p, i);
	count_entry(p, e->kind, -1);
	if (e->rd)
		e->rd->poller = NULL;
	e->kind = ENTRY_FREE;
	e->rd = NULL;
	e->gen++;
}

BCAST_EXPORT int bcast_poller_add_reader(struct bcast_poller *p,
					 struct bcast_reader *rd, uint64_t tag)
{
	struct poller_entry proto = { .tag = tag, .rd = rd, .fd = -1 };
	int err;

	if (!p || !rd)
		return -EINVAL;
	if (rd->poller)
		return -EEXIST;
	err = poller_enter(p);
	if (err)
		return err;
	proto.kind = rd->fd >= 0 ? ENTRY_DEVICE : ENTRY_FUTEX;
	proto.fd = rd->fd;
	err = add_entry(p, &proto);
	if (!err)
		rd->poller = p;
	poller_leave(p);
	return err;
}

static int find_fd(const struct bcast_poller *p, int fd)
{
	unsigned i;

	for (i = 0; i < p->n; i++)
		if (p->e[i].kind == ENTRY_FD && p->e[i].fd == fd)
			return (int)i;
	return -ENOENT;
}

BCAST_EXPORT int bcast_poller_add_fd(struct bcast_poller *p, int fd,
				     uint32_t events, uint64_t tag)
{
	struct poller_entry proto = {
		.kind = ENTRY_FD, .tag = tag, .fd = fd, .events = events,
	};
	int err;

	if (!p || fd < 0 || !events ||
	    (events & ~(uint32_t)(POLLIN | POLLOUT | POLLPRI)))
		return -EINVAL;
	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	err = poller_enter(p);
	if (err)
		return err;
	err = find_fd(p, fd) >= 0 ? -EEXIST : add_entry(p, &proto);
	poller_leave(p);
	return err;
}

BCAST_EXPORT int bcast_poller_remove_reader(struct bcast_poller *p,
					    struct bcast_reader *rd)
{
	unsigned i;
	int err;

	if (!p || !rd)
		return -EINVAL;
	if (rd->poller != p)
		return -ENOENT;
	err = poller_enter(p);
	if (err)
		return err;
	for (i = 0; i < p->n; i++)
		if (p->e[i].rd == rd && p->e[i].kind != ENTRY_FREE)
			drop_entry(p, i);
	poller_leave(p);
	return 0;
}

BCAST_EXPORT int bcast_poller_remove_fd(struct bcast_poller *p, int fd)
{
	int err, i;

	if (!p)
		return -EINVAL;
	err = poller_enter(p);
	if (err)
		return err;
	i = find_fd(p, fd);
	if (i >= 0)
		drop_entry(p, (unsigned)i);
	poller_leave(p);
	return i < 0 ? i : 0;
}

/* bcast_reader_close() of a reader still in a poller. */
void poller_forget_reader(struct bcast_reader *rd)
{
	struct bcast_poller *p = rd->poller;
	unsigned i;

	for (i = 0; i < p->n; i++)
		if (p->e[i].rd == rd && p->e[i].kind != ENTRY_FREE)
			drop_entry(p, i);
}

/*
 * Is the writer of `epoch` alive?  Device rings: the kernel's word.  The
 * others: the header's flag, and every LIVENESS_SLICE_MS owner.c's test of
 * the writer's process (once per process and round: rings of one writer
 * share the answer).
 */
bool poller_writer_alive(struct bcast_poller *p, struct poller_entry *e,
			 uint64_t epoch)
{
	const struct bcast_ring *r = e->rd->r;
	uint64_t token;

	if (e->kind == ENTRY_DEVICE)
		return r->ops->writer_alive(r);
	if (!load_acquire(&r->hdr->writer_alive))
		return false;
	if (e->alive_epoch == epoch && e->alive_round == p->round)
		return e->alive;
	token = load_acquire(&r->hdr->writer_lock);
	e->alive = token && token == p->alive_token ? true :
		   r->ops->writer_alive(r);
	if (e->alive)
		p->alive_token = token;
	e->alive_epoch = epoch;
	e->alive_round = p->round;
	return e->alive;
}

static void liveness_round(struct bcast_poller *p)
{
	int64_t now = now_ms();

	if (p->n_futex && now - p->liveness_at >= LIVENESS_SLICE_MS) {
		p->liveness_at = now;
		p->alive_token = 0;
		p->round++;	/* poller_writer_alive() asks afresh */
		p->scan_all = true;
	}
}

/* What a reader has to say: BCAST_POLL_* */
static uint32_t reader_events(struct bcast_poller *p, struct poller_entry *e)
{
	struct bcast_reader *rd = e->rd;
	uint64_t epoch = load_acquire(&rd->hdr->writer_epoch);
	/* The writer first: once it is seen gone, all it committed shows. */
	bool alive = poller_writer_alive(p, e, epoch);
	uint32_t ev = 0;

	/* Waiting with a poller consumes what was read, as bcast_wait(). */
	reader_consumed(rd);
	if (alive && epoch != rd->epoch_known) {
		ev |= BCAST_POLL_WRITER_NEW;
		rd->epoch_known = epoch;
	}
	if (reader_ready(rd))
		return ev | BCAST_POLL_DATA;
	if (!alive && epoch && !(rd->gone_known && rd->gone_epoch == epoch)) {
		rd->gone_known = true;
		rd->gone_epoch = epoch;
		rd->epoch_known = epoch;
		ev |= BCAST_POLL_WRITER_GONE;
	}
	return ev;
}

static uint32_t entry_events(struct bcast_poller *p, struct poller_entry *e,
			     uint32_t *revents)
{
	*revents = 0;
	if (e->kind == ENTRY_FREE)
		return 0;
	if (e->kind != ENTRY_FD)
		return reader_events(p, e);
	if (!e->revents)
		return 0;
	*revents = e->revents;
	e->revents = 0;
	return BCAST_POLL_FD;
}

/* Entry i's news into ev[*n], if it has any. */
static bool report(struct bcast_poller *p, unsigned i,
		   struct bcast_poller_event *ev, int *n)
{
	struct poller_entry *e = &p->e[i];
	uint32_t what, revents;

	what = entry_events(p, e, &revents);
	if (!what)
		return false;
	ev[(*n)++] = (struct bcast_poller_event){
		.tag = e->tag, .reader = e->rd,
		.fd = e->kind == ENTRY_FD ? e->fd : -1,
		.events = what, .revents = revents,
	};
	return true;
}

/* Every entry, from the cursor on; those with news join the loud list,
 * as they are reported until read. */
static int collect_all(struct bcast_poller *p, struct bcast_poller_event *ev,
		       int max)
{
	unsigned k, i, start = p->cursor;
	int n = 0;

	for (k = 0; k < p->n && n < max; k++) {
		i = (start + k) % p->n;
		if (report(p, i, ev, &n)) {
			poller_mark_loud(p, i);
			p->cursor = (i + 1) % p->n;
		}
	}
	if (k == p->n)
		p->scan_all = false;
	return n;
}

/* Only the loud list, from its own cursor on. */
static int collect_loud(struct bcast_poller *p, struct bcast_poller_event *ev,
			int max)
{
	unsigned k, j, start = p->loud_cursor;
	int n = 0;

	for (k = 0; k < p->n_loud && n < max; k++) {
		j = (start + k) % p->n_loud;
		if (report(p, p->loud[j], ev, &n))
			p->loud_cursor = (j + 1) % p->n_loud;
	}
	return n;
}

/*
 * Up to max events.  Each call first looks at every entry.  After a sleep,
 * the wake-up says which readers it is for (an io_uring completion, a
 * helper thread's word): then only the readers on the loud list are looked
 * at (those without a request out, and those whose request came back), so
 * that a wake-up costs about the same over 1,024 rings as over one.  Every
 * entry again after a liveness round, or when a reader was found ready
 * before a sleep.
 */
static int collect(struct bcast_poller *p, struct bcast_poller_event *ev,
		   int max, bool woken)
{
	liveness_round(p);
	return p->scan_all || !woken ? collect_all(p, ev, max) :
	       collect_loud(p, ev, max);
}

BCAST_EXPORT int bcast_poller_wait(struct bcast_poller *p,
				   struct bcast_poller_event *ev, int max,
				   int timeout_ms)
{
	int64_t deadline;
	bool slept = false;
	int n, err;

	if (!p || !ev || max <= 0)
		return -EINVAL;
	err = poller_enter(p);
	if (err)
		return err;
	p->st.waits++;
	p->slice = BOUNDED_SLICE_MIN_MS;
	deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
	for (;;) {
		int64_t ms;

		/* Completions that came meanwhile, without a system call. */
		n = poller_engine_reap(p);
		if (n < 0)
			break;
		n = collect(p, ev, max, slept);
		if (n)
			break;
		ms = deadline == INT64_MAX ? -1 : deadline - now_ms();
		if (ms == 0 || (ms < 0 && deadline != INT64_MAX)) {
			/* Other fds are only learnt of by sleeping. */
			if (slept || !p->n_fd)
				break;
			ms = 0;
		}
		n = poller_sleep(p, ms);
		if (n < 0)
			break;
		slept = true;
	}
	poller_leave(p);
	return n;
}

BCAST_EXPORT int bcast_poller_stats(const struct bcast_poller *p,
				    struct bcast_poller_stats *st)
{
	if (!p || !st)
		return -EINVAL;
	*st = p->st;
	return 0;
}

BCAST_EXPORT void bcast_poller_destroy(struct bcast_poller *p)
{
	unsigned i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		if (p->e[i].kind != ENTRY_FREE)
			drop_entry(p, i);
	poller_engine_close(p);
	free(p->loud);
	free(p->e);
	free(p);
}
