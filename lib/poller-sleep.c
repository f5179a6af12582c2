// SPDX-License-Identifier: MIT
/*
 * How a poller sleeps.
 *
 * First every reader asks for its wake-up, as bcast_wait() would, but for
 * all at once: rings on a wake page set need_wakeup and remember wake_seq;
 * device readers arm their file (BCAST_IOC_ARM), or let bcast.ko's
 * io_uring WAIT do it.  An arm stays valid until its wake-up comes (the
 * writer bumps wake_seq, the kernel completes the request), so a reader
 * that stays quiet costs no system call from one sleep to the next.  Then
 * one barrier for all (a single membarrier() when the writers count on
 * it), a look at every ring, and the sleep:
 *
 *  - only rings on wake pages, at most 128: futex_waitv() on their
 *    wake_seq words, in the caller;
 *  - anything else: io_uring (POLL_ADD for fds and device files armed by
 *    ioctl, bcast.ko's WAIT command where the module and kernel have it,
 *    FUTEX_WAIT on each wake_seq where the kernel has it, Linux 6.7), or
 *    epoll where io_uring is refused (seccomp, io_uring_disabled) or not
 *    wanted (BCAST_POLLER_NO_URING).  Wake-page rings that neither can
 *    wait on are given to threads in futex_waitv() (futexv.c), which
 *    signal an eventfd the engine watches.
 *
 * The handshake with each writer is the one of futex.c and file.c: the
 * request is visible (need_wakeup set, by us or by the kernel) before the
 * barrier, and the ring is looked at after it; the writer stores
 * committed, fences (or counts on the membarrier()), then looks at
 * need_wakeup.  So a message either is seen before sleeping or its writer
 * wakes us.  Writers of rings on wake pages that no kernel watches are
 * looked at every LIVENESS_SLICE_MS while alive, as bcast_wait() does.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "poller.h"


#define URING_ENTRIES 256
#define URING_CQ_MIN 8192	/* completions of 1,024 rings of each kind
				 * twice over; more wait in the kernel
				 * (IORING_FEAT_NODROP) */
#define EPOLL_BATCH 64

static int start_engine(struct bcast_poller *p)
{
	unsigned i;
	int err;

	if (p->engine != ENGINE_NONE)
		return 0;
	if (!(p->flags & BCAST_POLLER_NO_URING) && !p->engine_failed) {
		err = uring_init(&p->u, URING_ENTRIES, URING_CQ_MIN, 0);
		if (!err) {
			p->engine = ENGINE_URING;
			return 0;
		}
		p->engine_failed = true;
	}
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0)
		return -errno;
	p->engine = ENGINE_EPOLL;
	for (i = 0; i < p->n; i++) {
		err = poller_engine_add(p, i);
		if (err)
			return err;
	}
	return 0;
}

static int epoll_watch(struct bcast_poller *p, int fd, uint32_t events,
		       uint64_t ud)
{
	struct epoll_event ev = { .events = events, .data.u64 = ud };

	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int poller_engine_add(struct bcast_poller *p, unsigned i)
{
	struct poller_entry *e = &p->e[i];

	if (p->engine != ENGINE_EPOLL)
		return 0;
	if (e->kind == ENTRY_FD)
		return epoll_watch(p, e->fd, e->events, entry_ud(p, i));
	if (e->kind == ENTRY_DEVICE)
		return epoll_watch(p, e->fd, EPOLLIN | EPOLLPRI,
				   entry_ud(p, i));
	return 0;
}

/* An SQE, submitting what is queued to make room: NULL only on error. */
static struct io_uring_sqe *get_sqe(struct bcast_poller *p)
{
	struct io_uring_sqe *sqe = uring_get_sqe(&p->u);

	if (!sqe && uring_submit(&p->u) >= 0)
		sqe = uring_get_sqe(&p->u);
	return sqe;
}

/* Stop entry i's outstanding request; its completion is ignored (the
 * caller moves e->gen on). */
static void cancel_request(struct bcast_poller *p, unsigned i)
{
	struct poller_entry *e = &p->e[i];
	struct io_uring_sqe *sqe;

	e->in_flight = false;
	if (e->cmd_in_flight) {
		e->cmd_in_flight = false;
		ioctl(e->fd, BCAST_IOC_CANCEL);
		return;
	}
	sqe = get_sqe(p);
	if (!sqe)
		return;
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->fd = -1;
	sqe->addr = entry_ud(p, i);
	sqe->user_data = UD_IGNORE;
	uring_submit(&p->u);
}

void poller_engine_remove(struct bcast_poller *p, unsigned i)
{
	struct poller_entry *e = &p->e[i];

	if (p->engine == ENGINE_URING && e->in_flight)
		cancel_request(p, i);
	if (p->engine == ENGINE_EPOLL && e->kind != ENTRY_FUTEX)
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, e->fd, NULL);
	e->in_flight = false;
	e->armed = false;
}

void poller_engine_close(struct bcast_poller *p)
{
	futex_groups_stop(p);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	p->wake_fd = -1;
	if (p->engine == ENGINE_URING)
		uring_exit(&p->u);
	if (p->epfd >= 0)
		close(p->epfd);
	p->epfd = -1;
	p->engine = ENGINE_NONE;
}

static void drain_wake_fd(struct bcast_poller *p)
{
	uint64_t n;

	while (read(p->wake_fd, &n, sizeof(n)) == sizeof(n))
		;
}

/* A completion (io_uring's res, epoll's events) for entry ud. */
static void entry_completed(struct bcast_poller *p, uint64_t ud, int res,
			    bool epoll)
{
	unsigned i = (unsigned)ud;
	struct poller_entry *e;

	if (ud == UD_IGNORE)
		return;
	if (ud == UD_WAKE_FD) {
		p->wake_in_flight = false;
		drain_wake_fd(p);
		return;
	}
	if (i >= p->n || p->e[i].gen != (uint32_t)(ud >> 32) ||
	    p->e[i].kind == ENTRY_FREE)
		return;		/* an older request's */
	e = &p->e[i];
	poller_mark_loud(p, i);
	if (!epoll)
		e->in_flight = e->cmd_in_flight = false;
	switch (e->kind) {
	case ENTRY_FD:
		e->revents |= res >= 0 ? (uint32_t)res :
			      res == -EBADF ? POLLNVAL : POLLERR;
		break;
	case ENTRY_DEVICE:
		if (res == -EOPNOTSUPP || res == -EINVAL)
			p->cmd_unsupported = true;	/* no io_uring WAIT */
		e->armed = false;
		break;
	default:
		e->armed = false;
		break;
	}
}

static int sleep_epoll(struct bcast_poller *p, int64_t ms);
static bool uring_futex(const struct bcast_poller *p);
static bool futex_rings_in_slices(const struct bcast_poller *p);

/* What the engine learnt since the last look: io_uring's completions come
 * without a system call; epoll's, for fds beside busy rings, with one. */
int poller_engine_reap(struct bcast_poller *p)
{
	struct io_uring_cqe *cqe;
	int rc;

	if (p->n_groups)
		futex_groups_reap(p);
	if (p->engine == ENGINE_EPOLL && p->n_fd) {
		rc = sleep_epoll(p, 0);
		return rc == -ETIMEDOUT ? 0 : rc;
	}
	if (p->engine != ENGINE_URING)
		return 0;
	while ((cqe = uring_peek(&p->u))) {
		entry_completed(p, cqe->user_data, cqe->res, false);
		uring_seen(&p->u);
	}
	return 0;
}

/* What a device reader arms for: like bcast_reader_arm(). */
static bool device_writer_seen_gone(struct bcast_poller *p,
				    struct poller_entry *e, uint64_t *epoch)
{
	const struct bcast_reader *rd = e->rd;

	*epoch = load_acquire(&rd->hdr->writer_epoch);
	if (poller_writer_alive(p, e, *epoch))
		return false;
	/* Gone and said so, or never there: sleep until the next one. */
	return !*epoch || (rd->gone_known && rd->gone_epoch == *epoch);
}

static bool use_uring_cmd(const struct bcast_poller *p,
			  const struct poller_entry *e)
{
	return p->engine == ENGINE_URING && !p->cmd_unsupported &&
	       !e->rd->no_membarrier;
}

/* 1 if ready already, 0 armed, -errno.  *barrier: the writer counts on
 * our membarrier(). */
static int arm_device_entry(struct bcast_poller *p, struct poller_entry *e,
			    bool *barrier)
{
	uint64_t pos = device_wake_position(e->rd), epoch;
	bool gone = device_writer_seen_gone(p, e, &epoch);
	int rc;

	if (e->armed && e->armed_pos == pos && e->armed_gone == gone &&
	    e->armed_epoch == epoch)
		return 0;
	e->armed_pos = pos;
	e->armed_gone = gone;
	e->armed_epoch = epoch;
	e->exact = true;
	e->checked = false;
	*barrier |= writer_wants_barrier(e->rd);
	if (use_uring_cmd(p, e)) {
		/* The WAIT arms when the kernel takes it. */
		if (e->in_flight) {
			cancel_request(p, (unsigned)(e - p->e));
			e->gen++;
		}
		e->submit = true;
		e->armed = true;
		return 0;
	}
	rc = device_request_wakeup(e->rd, gone ? WRITER_NONE : WRITER_LIVE,
				   epoch);
	if (rc < 0)
		return rc;
	e->armed = true;
	return rc;
}

static void arm_futex_entry(struct poller_entry *e, bool *barrier)
{
	struct bcast_ring *r = e->rd->r;
	uint32_t seq = load_acquire(&r->hdr->wake_seq);

	/* Armed still: no wake-up since (the writer bumps wake_seq). */
	if (e->armed && seq == e->seq)
		return;
	e->seq = seq;
	e->armed = true;
	e->checked = false;
	e->in_flight = false;	/* a wait on an old value ends by itself */
	e->exact = r->wake_writable;
	if (!e->exact)
		return;
	__atomic_store_n(&r->hdr->need_wakeup, 1, __ATOMIC_SEQ_CST);
	*barrier |= writer_wants_barrier(e->rd);
}

/* Arm every reader: 1 if one is ready already, 0, -errno. */
static int arm_all(struct bcast_poller *p, bool *barrier)
{
	unsigned i;
	int rc;

	for (i = 0; i < p->n; i++) {
		struct poller_entry *e = &p->e[i];

		if (entry_settled(p, e))
			continue;	/* armed until its completion comes */
		if (e->kind == ENTRY_FUTEX) {
			arm_futex_entry(e, barrier);
		} else if (e->kind == ENTRY_DEVICE) {
			rc = arm_device_entry(p, e, barrier);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The barrier of every armed reader: for those whose membarrier() failed,
 * a wake-up may not come (they sleep in slices). */
static void barrier_all(struct bcast_poller *p, bool membarrier)
{
	unsigned i;

	if (!membarrier || global_barrier()) {
		fence_full();
		return;
	}
	for (i = 0; i < p->n; i++) {
		struct poller_entry *e = &p->e[i];

		if ((e->kind == ENTRY_FUTEX || e->kind == ENTRY_DEVICE) &&
		    e->armed && e->exact && writer_wants_barrier(e->rd)) {
			reader_barrier_failed(e->rd);
			e->exact = false;
			e->armed = e->kind == ENTRY_FUTEX;	/* device: again,
								 * through the kernel */
		}
	}
}

/*
 * News of a writer on a wake-page ring that the last look did not report:
 * one that came (another epoch, alive) or left.  A writer wakes sleepers
 * on arrival only if it saw need_wakeup: one that came just before we set
 * it is seen here, after the barrier, or not at all.
 */
static bool writer_news(const struct poller_entry *e)
{
	const struct bcast_reader *rd = e->rd;
	const struct bcast_ring_hdr *h = rd->r->hdr;
	uint64_t epoch = load_acquire(&h->writer_epoch);

	if (e->kind != ENTRY_FUTEX || !epoch)
		return false;
	if (!load_acquire(&h->writer_alive))
		return !(rd->gone_known && rd->gone_epoch == epoch);
	return epoch != rd->epoch_known;
}

/* The look after the barrier, at every reader armed since the last one:
 * one with a message makes the next look include the quiet ones, as it may
 * be one of them (its wake-up not in yet). */
static bool any_ready(struct bcast_poller *p)
{
	unsigned i;

	for (i = 0; i < p->n; i++) {
		struct poller_entry *e = &p->e[i];

		if ((e->kind != ENTRY_FUTEX && e->kind != ENTRY_DEVICE) ||
		    entry_settled(p, e))
			continue;
		if (reader_ready(e->rd) || writer_news(e)) {
			p->scan_all = true;
			return true;
		}
		e->checked = true;
	}
	return false;
}

/* How long to sleep: the caller's ms, cut for writers to look at and
 * readers whose wake-up may not come. */
static int64_t sleep_time(struct bcast_poller *p, int64_t ms)
{
	bool inexact = false, watch = false;
	unsigned i;

	for (i = 0; i < p->n; i++) {
		const struct poller_entry *e = &p->e[i];

		if (e->kind != ENTRY_FUTEX && e->kind != ENTRY_DEVICE)
			continue;
		inexact |= !e->exact ||
			   (e->kind == ENTRY_FUTEX && futex_rings_in_slices(p));
		watch |= e->kind == ENTRY_FUTEX &&
			 (entry_settled(p, e) ? e->alive :
			  load_relaxed(&e->rd->hdr->writer_alive));
	}
	if (watch) {
		int64_t left = p->liveness_at + LIVENESS_SLICE_MS - now_ms();

		left = left < 1 ? 1 : left;
		if (ms < 0 || ms > left)
			ms = left;
	}
	if (inexact) {
		if (ms < 0 || ms > p->slice)
			ms = p->slice;
		p->slice = p->slice * 2 > BOUNDED_SLICE_MAX_MS ?
			   BOUNDED_SLICE_MAX_MS : p->slice * 2;
	} else {
		p->slice = BOUNDED_SLICE_MIN_MS;
	}
	return ms;
}

static bool futex_waitv_alone(const struct bcast_poller *p)
{
	return !p->n_fd && !p->n_device && p->n_futex <= FUTEXV_MAX &&
	       p->engine != ENGINE_EPOLL;
}

/* Wake-page rings whose wake-up no sleep of ours can take: without
 * futex_waitv(), all but a lone one; they are looked at in slices. */
static bool futex_rings_in_slices(const struct bcast_poller *p)
{
	return futex_waitv_missing() && p->n_futex > 1 && !uring_futex(p);
}

static int sleep_futex_waitv(struct bcast_poller *p, int64_t ms)
{
	struct futex_word w[FUTEXV_MAX];
	unsigned i, n = 0;

	for (i = 0; i < p->n; i++)
		if (p->e[i].kind == ENTRY_FUTEX)
			w[n++] = (struct futex_word){
				&p->e[i].rd->r->hdr->wake_seq, p->e[i].seq,
			};
	p->st.how = BCAST_POLLER_FUTEX_WAITV;
	return futex_wait_words(w, n, ms);
}

static bool uring_futex(const struct bcast_poller *p)
{
	return p->engine == ENGINE_URING &&
	       uring_supports(&p->u, URING_OP_FUTEX_WAIT);
}

static void prep_futex_wait(struct io_uring_sqe *sqe, uint32_t *word,
			    uint32_t val)
{
	sqe->opcode = URING_OP_FUTEX_WAIT;
	sqe->fd = URING_FUTEX2_SIZE_U32;
	sqe->addr = (uint64_t)(uintptr_t)word;
	sqe->addr2 = val;
	sqe->addr3 = URING_FUTEX_MATCH_ANY;
}

static void prep_poll(struct io_uring_sqe *sqe, int fd, uint32_t events)
{
	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = fd;
	sqe->poll32_events = events;
}

static void prep_device_wait(struct io_uring_sqe *sqe,
			     const struct poller_entry *e)
{
	struct bcast_uring_wait arg = {
		.pos = e->armed_pos, .epoch = e->armed_epoch,
	};

	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = e->fd;
	sqe->cmd_op = e->armed_gone ? BCAST_URING_WAIT_GONE : BCAST_URING_WAIT;
	memcpy(sqe->cmd, &arg, sizeof(arg));
}

/* Queue what entry i needs to be woken through io_uring, unless sent. */
static int queue_entry(struct bcast_poller *p, unsigned i)
{
	struct poller_entry *e = &p->e[i];
	struct io_uring_sqe *sqe;

	if (e->in_flight)
		return 0;
	switch (e->kind) {
	case ENTRY_FUTEX:
		if (!uring_futex(p))
			return 0;
		break;
	case ENTRY_DEVICE:
		if (!e->armed)
			return 0;
		break;
	case ENTRY_FD:
		if (e->revents)
			return 0;	/* not reported yet */
		break;
	default:
		return 0;
	}
	sqe = get_sqe(p);
	if (!sqe)
		return -ENOMEM;
	if (e->kind == ENTRY_FUTEX)
		prep_futex_wait(sqe, &e->rd->r->hdr->wake_seq, e->seq);
	else if (e->kind == ENTRY_FD)
		prep_poll(sqe, e->fd, e->events);
	else if (e->submit && use_uring_cmd(p, e))
		prep_device_wait(sqe, e);
	else
		prep_poll(sqe, e->fd, POLLIN | POLLPRI);
	e->cmd_in_flight = e->submit && sqe->opcode == IORING_OP_URING_CMD;
	e->submit = false;
	sqe->user_data = entry_ud(p, i);
	e->in_flight = true;
	return 0;
}

/* Wake-page rings that the engine cannot wait on go to threads. */
static bool needs_groups(const struct bcast_poller *p)
{
	return p->n_futex && !futex_waitv_alone(p) && !uring_futex(p) &&
	       !futex_waitv_missing();
}

static int queue_all(struct bcast_poller *p)
{
	struct io_uring_sqe *sqe;
	unsigned i;
	int err;

	for (i = 0; i < p->n; i++) {
		err = queue_entry(p, i);
		if (err)
			return err;
	}
	if (needs_groups(p) && !p->wake_in_flight) {
		sqe = get_sqe(p);
		if (!sqe)
			return -ENOMEM;
		prep_poll(sqe, p->wake_fd, POLLIN);
		sqe->user_data = UD_WAKE_FD;
		p->wake_in_flight = true;
	}
	return 0;
}

static int sleep_epoll(struct bcast_poller *p, int64_t ms)
{
	struct epoll_event ev[EPOLL_BATCH];
	int n, i;

	n = epoll_wait(p->epfd, ev, EPOLL_BATCH, ms < 0 ? -1 :
		       ms > INT32_MAX ? INT32_MAX : (int)ms);
	if (n < 0)
		return errno == EINTR ? -EINTR : -errno;
	for (i = 0; i < n; i++)
		entry_completed(p, ev[i].data.u64, (int)ev[i].events, true);
	return n ? 0 : -ETIMEDOUT;
}

static int sleep_uring(struct bcast_poller *p, int64_t ms)
{
	int rc = uring_wait(&p->u, ms < 0 ? -1 : ms * 1000000);
	struct io_uring_cqe *cqe = uring_peek(&p->u);

	poller_engine_reap(p);
	if (rc == -EINTR)
		return -EINTR;
	if (rc < 0 && rc != -ETIME)
		return rc;
	return cqe ? 0 : -ETIMEDOUT;
}

static unsigned engine_how(const struct bcast_poller *p)
{
	unsigned how = p->engine == ENGINE_URING ? BCAST_POLLER_URING :
		       BCAST_POLLER_EPOLL;

	if (p->n_futex)
		how |= uring_futex(p) ? BCAST_POLLER_URING_FUTEX :
		       BCAST_POLLER_THREADS;
	if (p->n_device && p->engine == ENGINE_URING && !p->cmd_unsupported)
		how |= BCAST_POLLER_URING_CMD;
	return how;
}

static int sleep_engine(struct bcast_poller *p, int64_t ms)
{
	p->st.how = engine_how(p);
	return p->engine == ENGINE_URING ? sleep_uring(p, ms) :
	       sleep_epoll(p, ms);
}

/* A reader that asked for a wake-up has data, none came, and the writer
 * did not take the request: lost.  Only judged after a long sleep. */
static void count_missed(struct bcast_poller *p)
{
	unsigned i;

	for (i = 0; i < p->n; i++) {
		const struct poller_entry *e = &p->e[i];

		if (e->kind != ENTRY_FUTEX && e->kind != ENTRY_DEVICE)
			continue;
		if (!e->armed || !e->exact || !reader_ready(e->rd))
			continue;
		if (e->kind == ENTRY_FUTEX &&
		    load_acquire(&e->rd->r->hdr->wake_seq) != e->seq)
			continue;
		p->st.missed_wakeups++;
		return;
	}
}

/* Prepare the engine (and the threads) for a sleep that needs them. */
static int prepare_engine(struct bcast_poller *p)
{
	int err = start_engine(p);

	if (err)
		return err;
	if (!needs_groups(p))
		return 0;
	err = futex_groups_start(p);
	if (err)
		return err;
	if (p->engine == ENGINE_EPOLL && !p->wake_watched) {
		err = epoll_watch(p, p->wake_fd, EPOLLIN, UD_WAKE_FD);
		if (err)
			return err;
		p->wake_watched = true;
	}
	return 0;
}

/*
 * Arm, barrier, look, sleep for at most ms (< 0: no limit): 0 to look
 * again, -EINTR, -errno.
 */
int poller_sleep(struct bcast_poller *p, int64_t ms)
{
	bool membarrier = false, alone = futex_waitv_alone(p);
	int64_t t0;
	int rc;

	if (!alone) {
		rc = prepare_engine(p);
		if (rc)
			return rc;
	}
	rc = arm_all(p, &membarrier);
	if (rc)
		return rc < 0 ? rc : 0;
	/* Requests the kernel arms when it takes them go before the barrier. */
	if (p->engine == ENGINE_URING && !alone) {
		rc = queue_all(p);
		if (rc)
			return rc;
		if (membarrier && uring_submit(&p->u) < 0)
			return -errno;
	}
	barrier_all(p, membarrier);
	if (any_ready(p))
		return 0;
	p->groups_used = !alone && needs_groups(p);
	if (p->groups_used)
		futex_groups_sleep_begin(p);
	poller_list_loud(p);
	ms = sleep_time(p, ms);
	p->st.sleeps++;
	t0 = now_ms();
	rc = alone ? sleep_futex_waitv(p, ms) : sleep_engine(p, ms);
	if (rc == -ETIMEDOUT) {
		if (now_ms() - t0 >= MISSED_GRACE_MS)
			count_missed(p);
		return 0;
	}
	return rc;
}
