// SPDX-License-Identifier: MIT
/*
 * Sleeping on many futex words: futex_waitv() (Linux 5.16, at most 128
 * words a call), and for a poller whose wake-page rings the engine cannot
 * wait on (more than 128, or mixed with fds without io_uring's futex
 * waits), threads that each sleep on up to 127 of them plus the poller's
 * `episode` word and signal its eventfd when one moves.
 *
 * The episode word is odd while the poller sleeps.  A thread claims an
 * episode by storing it in its `busy` word and re-reading the episode
 * (both seq_cst); the poller ends an episode by moving the word on and,
 * before it rewrites a thread's words for the next, waits for `busy` to
 * drop.  Either the thread sees the episode over and leaves its words
 * alone, or the poller sees it busy and waits: no thread reads words that
 * are being rewritten.  A thread in futex_waitv() leaves it when the
 * episode word moves (it is one of its words).
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
	uint32_t busy;		/* the episode it works in, or 0 */
	unsigned n;
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

	for (;;) {
		wait_while(&p->episode, seen);
		if (__atomic_load_n(&p->groups_stop, __ATOMIC_SEQ_CST))
			return NULL;
		ep = __atomic_load_n(&p->episode, __ATOMIC_SEQ_CST);
		seen = ep;
		if (!(ep & 1))
			continue;
		__atomic_store_n(&g->busy, ep, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&p->episode, __ATOMIC_SEQ_CST) == ep) {
			fill_waitv(&g->w[g->n], &p->episode, ep);
			/* Woken by a ring, or a ring's word had moved: tell,
			 * unless the poller is awake already. */
			long rc = waitv(g->w, g->n + 1, -1);

			if (rc < 0 && errno == ENOSYS)
				__atomic_store_n(&no_waitv, 1, __ATOMIC_RELAXED);
			if ((rc >= 0 || errno == EAGAIN || errno == ENOSYS) &&
			    __atomic_load_n(&p->episode, __ATOMIC_SEQ_CST) == ep &&
			    write(p->wake_fd, &one, sizeof(one)) < 0)
				p->st.missed_wakeups++;	/* cannot happen */
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

/* Hand each thread its words, then let them sleep. */
void futex_groups_sleep_begin(struct bcast_poller *p)
{
	unsigned i, g;
	uint32_t busy;

	for (g = 0; g < p->n_groups; g++) {
		while ((busy = __atomic_load_n(&p->groups[g].busy,
					       __ATOMIC_SEQ_CST)))
			sys_futex(&p->groups[g].busy, FUTEX_WAIT, busy);
		p->groups[g].n = 0;
	}
	for (i = 0, g = 0; i < p->n && g < p->n_groups; i++) {
		struct poller_entry *e = &p->e[i];
		struct futex_group *grp = &p->groups[g];

		if (e->kind != ENTRY_FUTEX)
			continue;
		fill_waitv(&grp->w[grp->n++], &e->rd->r->hdr->wake_seq, e->seq);
		if (grp->n == GROUP_WORDS)
			g++;
	}
	__atomic_add_fetch(&p->episode, 1, __ATOMIC_SEQ_CST);
	sys_futex(&p->episode, FUTEX_WAKE, INT_MAX);
}

void futex_groups_sleep_end(struct bcast_poller *p)
{
	__atomic_add_fetch(&p->episode, 1, __ATOMIC_SEQ_CST);
	sys_futex(&p->episode, FUTEX_WAKE, INT_MAX);
}

void futex_groups_stop(struct bcast_poller *p)
{
	unsigned g;

	if (p->n_groups) {
		__atomic_store_n(&p->groups_stop, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&p->episode, 2, __ATOMIC_SEQ_CST);
		sys_futex(&p->episode, FUTEX_WAKE, INT_MAX);
		for (g = 0; g < p->n_groups; g++)
			pthread_join(p->groups[g].thread, NULL);
		__atomic_store_n(&p->groups_stop, 0, __ATOMIC_SEQ_CST);
	}
	free(p->groups);
	p->groups = NULL;
	p->n_groups = 0;
	p->st.threads = 0;
}
