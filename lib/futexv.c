// SPDX-License-Identifier: MIT
/*
 * Sleeping on many futex words: futex_waitv() (Linux 5.16, at most 128
 * words a call), and for a poller whose wake-page rings the engine cannot
 * wait on (more than 128, or mixed with fds without io_uring's futex
 * waits), threads that each sleep on up to 127 of them plus an episode
 * word of their own, and signal the poller's eventfd when one moves.
 *
 * A group's episode word is odd while its thread is to sleep on the words
 * it was given.  The thread claims an episode by storing it in its `busy`
 * word and re-reading the episode (both seq_cst); the poller ends one by
 * moving the word on and, before it rewrites the group's words, waits for
 * `busy` to drop.  Either the thread sees the episode over and leaves its
 * words alone, or the poller sees it busy and waits: no thread reads
 * words that are being rewritten.  A thread in futex_waitv() leaves it
 * when its episode word moves (it is one of its words).  A thread that
 * a ring woke says so in `signalled` and sleeps until its next episode;
 * one whose words are all still armed as the poller wants them sleeps on
 * from one poller sleep to the next, so that a sleep costs a thread
 * wake-up only for the groups a ring woke.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "poller.h"

#define FUTEXV_SIZE_U32 0x02	/* FUTEX2_SIZE_U32; shared, not private */
#define GROUP_WORDS (FUTEXV_MAX - 1)

struct futex_group {
	struct bcast_poller *p;
	pthread_t thread;
	uint32_t episode;	/* odd: sleep on w[] (and this word) */
	uint32_t busy;		/* the episode it works in, or 0 */
	uint32_t signalled;	/* the episode a ring woke it in */
	uint32_t reaped;	/* the last `signalled` the poller took in */
	uint64_t layout;	/* p->groups_layout its words were given in */
	unsigned n;
	unsigned entry[GROUP_WORDS];	/* the poller entry of each word */
	struct futex_waitv w[FUTEXV_MAX];
};

static long sys_futex(uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static void fill_waitv(struct futex_waitv *v, uint32_t *word, uint32_t val)
{
	*v = (struct futex_waitv){
		.val = val,
		.uaddr = (uint64_t)(uintptr_t)word,
		.flags = FUTEXV_SIZE_U32,
	};
}

static long waitv(struct futex_waitv *v, unsigned n, int64_t ms)
{
	struct timespec ts;

	if (ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	return syscall(SYS_futex_waitv, v, n, 0, ms >= 0 ? &ts : NULL,
		       CLOCK_MONOTONIC);
}

static int no_waitv;	/* futex_waitv() is missing: Linux < 5.16, qemu-user */

bool futex_waitv_missing(void)
{
	return __atomic_load_n(&no_waitv, __ATOMIC_RELAXED);
}

/* One word: FUTEX_WAIT, which every kernel has. */
static int wait_one(const struct futex_word *w, int64_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (!syscall(SYS_futex, w->word, FUTEX_WAIT, w->val,
		     ms >= 0 ? &ts : NULL, NULL, 0) || errno == EAGAIN)
		return 0;
	return errno == EINTR ? -EINTR : errno == ETIMEDOUT ? -ETIMEDOUT :
	       -errno;
}

int futex_wait_words(const struct futex_word *w, unsigned n, int64_t ms)
{
	struct futex_waitv v[FUTEXV_MAX];
	unsigned i;

	if (n > FUTEXV_MAX)
		return -EINVAL;
	if (n == 1 || futex_waitv_missing())
		return n ? wait_one(&w[0], ms) : -EINVAL;
	for (i = 0; i < n; i++)
		fill_waitv(&v[i], w[i].word, w[i].val);
	if (waitv(v, n, ms) >= 0)
		return 0;
	if (errno == EAGAIN)
		return 0;	/* a word had moved already */
	if (errno == ENOSYS) {
		/* The caller's sleeps become slices (poller-sleep.c). */
		__atomic_store_n(&no_waitv, 1, __ATOMIC_RELAXED);
		return 0;
	}
	return errno == EINTR ? -EINTR : errno == ETIMEDOUT ? -ETIMEDOUT :
	       -errno;
}

static void wait_while(uint32_t *word, uint32_t val)
{
	while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == val)
		sys_futex(word, FUTEX_WAIT, val);
}

static void *group_main(void *arg)
{
	struct futex_group *g = arg;
	struct bcast_poller *p = g->p;
	uint32_t seen = 0, ep;
	uint64_t one = 1;
	long rc;

	for (;;) {
		wait_while(&g->episode, seen);
		if (__atomic_load_n(&p->groups_stop, __ATOMIC_SEQ_CST))
			return NULL;
		ep = __atomic_load_n(&g->episode, __ATOMIC_SEQ_CST);
		seen = ep;
		if (!(ep & 1))
			continue;
		__atomic_store_n(&g->busy, ep, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&g->episode, __ATOMIC_SEQ_CST) == ep) {
			fill_waitv(&g->w[g->n], &g->episode, ep);
			rc = waitv(g->w, g->n + 1, -1);
			if (rc < 0 && errno == ENOSYS)
				__atomic_store_n(&no_waitv, 1, __ATOMIC_RELAXED);
			/* Woken by a ring, or a ring's word had moved: tell,
			 * unless the poller ended the episode itself. */
			if ((rc >= 0 || errno == EAGAIN || errno == ENOSYS) &&
			    __atomic_load_n(&g->episode, __ATOMIC_SEQ_CST) == ep) {
				__atomic_store_n(&g->signalled, ep, __ATOMIC_SEQ_CST);
				if (write(p->wake_fd, &one, sizeof(one)) < 0)
					p->st.missed_wakeups++;	/* cannot happen */
			}
		}
		__atomic_store_n(&g->busy, 0, __ATOMIC_SEQ_CST);
		sys_futex(&g->busy, FUTEX_WAKE, INT_MAX);
	}
}

/* Threads enough for every wake-page ring, each in a group of its own. */
int futex_groups_start(struct bcast_poller *p)
{
	unsigned need = (p->n_futex + GROUP_WORDS - 1) / GROUP_WORDS, i;
	int err;

	if (p->wake_fd < 0) {
		p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->wake_fd < 0)
			return -errno;
	}
	if (need <= p->n_groups)
		return 0;
	/* The threads hold their group's address: a new array, new ones. */
	futex_groups_stop(p);
	p->groups = calloc(need, sizeof(*p->groups));
	if (!p->groups)
		return -ENOMEM;
	p->groups_layout++;
	for (i = 0; i < need; i++) {
		p->groups[i].p = p;
		err = -pthread_create(&p->groups[i].thread, NULL, group_main,
				      &p->groups[i]);
		if (err) {
			futex_groups_stop(p);
			return err;
		}
		p->n_groups++;
	}
	p->st.threads = p->n_groups;
	return 0;
}

static bool group_sleeping(const struct futex_group *g)
{
	uint32_t ep = __atomic_load_n(&g->episode, __ATOMIC_SEQ_CST);

	return (ep & 1) && __atomic_load_n(&g->signalled, __ATOMIC_SEQ_CST) != ep;
}

/* The entries of a group that a ring woke are looked at again: none of
 * them is waited on until the group's next episode. */
void futex_groups_reap(struct bcast_poller *p)
{
	unsigned g, k;

	for (g = 0; g < p->n_groups; g++) {
		struct futex_group *grp = &p->groups[g];
		uint32_t sig = __atomic_load_n(&grp->signalled, __ATOMIC_SEQ_CST);

		if (!sig || sig == grp->reaped || grp->layout != p->groups_layout)
			continue;
		grp->reaped = sig;
		for (k = 0; k < grp->n; k++) {
			p->e[grp->entry[k]].in_group = false;
			poller_mark_loud(p, grp->entry[k]);
		}
	}
}

/* Are group g's words what its entries are armed with now? */
static bool group_current(const struct bcast_poller *p,
			  const struct futex_group *g)
{
	unsigned k;

	if (g->layout != p->groups_layout || !group_sleeping(g))
		return false;
	for (k = 0; k < g->n; k++) {
		const struct poller_entry *e = &p->e[g->entry[k]];

		if (e->kind != ENTRY_FUTEX || g->w[k].val != e->seq)
			return false;
	}
	return true;
}

/* End group g's episode (unless a ring ended it) and wait until its
 * thread is out of its words. */
static void group_stop_episode(struct futex_group *g)
{
	uint32_t ep = __atomic_load_n(&g->episode, __ATOMIC_SEQ_CST), busy;

	if ((ep & 1) && __atomic_load_n(&g->signalled, __ATOMIC_SEQ_CST) != ep) {
		__atomic_store_n(&g->episode, ep + 1, __ATOMIC_SEQ_CST);
		sys_futex(&g->episode, FUTEX_WAKE, INT_MAX);
	}
	while ((busy = __atomic_load_n(&g->busy, __ATOMIC_SEQ_CST)))
		sys_futex(&g->busy, FUTEX_WAIT, busy);
}

/* The next episode of group g (an odd number it has not seen), with the
 * entries from *i on. */
static void group_start_episode(struct bcast_poller *p, struct futex_group *g,
				unsigned *i)
{
	uint32_t ep = __atomic_load_n(&g->episode, __ATOMIC_SEQ_CST);

	g->n = 0;
	for (; *i < p->n && g->n < GROUP_WORDS; (*i)++) {
		struct poller_entry *e = &p->e[*i];

		if (e->kind != ENTRY_FUTEX)
			continue;
		g->entry[g->n] = *i;
		fill_waitv(&g->w[g->n++], &e->rd->r->hdr->wake_seq, e->seq);
		e->in_group = true;
	}
	g->layout = p->groups_layout;
	g->reaped = __atomic_load_n(&g->signalled, __ATOMIC_SEQ_CST);
	__atomic_store_n(&g->episode, ep & 1 ? ep + 2 : ep + 1,
			 __ATOMIC_SEQ_CST);
	sys_futex(&g->episode, FUTEX_WAKE, INT_MAX);
}

/* Before a sleep: new words for the groups whose entries were re-armed or
 * whose thread a ring woke; the others sleep on. */
void futex_groups_sleep_begin(struct bcast_poller *p)
{
	unsigned g, i = 0;

	for (g = 0; g < p->n_groups; g++) {
		struct futex_group *grp = &p->groups[g];

		if (group_current(p, grp)) {
			if (grp->n)
				i = grp->entry[grp->n - 1] + 1;
			continue;
		}
		group_stop_episode(grp);
		group_start_episode(p, grp, &i);
	}
}

void futex_groups_stop(struct bcast_poller *p)
{
	unsigned g;

	if (p->n_groups) {
		__atomic_store_n(&p->groups_stop, 1, __ATOMIC_SEQ_CST);
		for (g = 0; g < p->n_groups; g++) {
			__atomic_add_fetch(&p->groups[g].episode, 2,
					   __ATOMIC_SEQ_CST);
			sys_futex(&p->groups[g].episode, FUTEX_WAKE, INT_MAX);
		}
		for (g = 0; g < p->n_groups; g++)
			pthread_join(p->groups[g].thread, NULL);
		__atomic_store_n(&p->groups_stop, 0, __ATOMIC_SEQ_CST);
	}
	free(p->groups);
	p->groups = NULL;
	p->n_groups = 0;
	p->st.threads = 0;
}
