/* SPDX-License-Identifier: MIT */
/*
 * The poller's insides, shared by poller.c (the set and what it reports),
 * poller-sleep.c (asking for wake-ups and sleeping) and futexv.c (futex
 * words: futex_waitv() and its threads).
 */
#ifndef BCAST_POLLER_H
#define BCAST_POLLER_H

#include <pthread.h>
#include "internal.h"
#include "uring.h"

enum entry_kind {
	ENTRY_FREE,
	ENTRY_FUTEX,	/* a reader sleeping on its ring's wake page */
	ENTRY_DEVICE,	/* a reader of bcast.ko, with a file to sleep on */
	ENTRY_FD,	/* anything else pollable */
};

struct poller_entry {
	enum entry_kind kind;
	uint32_t gen;		/* bumped on removal and cancellation: the
				 * completions of older requests are late */
	uint64_t tag;
	struct bcast_reader *rd;
	int fd;			/* ENTRY_FD's, or the device reader's */
	uint32_t events;	/* ENTRY_FD: what to watch */
	uint32_t revents;	/* ENTRY_FD: ready, not reported yet */
	/* futex rings: the last liveness verdict, for alive_epoch */
	bool alive;
	uint64_t alive_epoch;
	uint64_t alive_round;
	/* a wake-up asked for */
	bool armed;
	bool exact;		/* ... that will come (else: slices) */
	uint32_t seq;		/* futex rings: wake_seq when armed */
	uint64_t armed_pos;	/* device rings: the position armed at */
	bool armed_gone;	/* ... with BCAST_ARM_WRITER_GONE */
	uint64_t armed_epoch;
	bool submit;		/* device rings: an io_uring WAIT to send */
	bool in_flight;		/* an io_uring request is outstanding */
	bool cmd_in_flight;	/* ... and it is bcast.ko's WAIT */
	bool listed;		/* in the poller's loud list */
	bool in_group;		/* its wake word is in a sleeping thread's */
	bool checked;		/* looked at after the barrier since it armed */
};

/* How a poller sleeps besides futex_waitv(): see poller-sleep.c. */
enum engine { ENGINE_NONE, ENGINE_URING, ENGINE_EPOLL };

struct futex_group;

struct bcast_poller {
	struct poller_entry *e;
	unsigned n;		/* slots in use or freed, from 0 */
	unsigned cap;		/* allocated */
	unsigned n_futex, n_device, n_fd;
	unsigned cursor;	/* where the next report starts */
	unsigned flags;		/* BCAST_POLLER_* of create */
	int waiting;		/* a thread is in bcast_poller_wait() */
	int64_t liveness_at;	/* the last look at futex rings' writers */
	uint64_t round;		/* ... counted from 1 */
	uint64_t alive_token;	/* ... a writer found alive in it */
	bool scan_all;		/* the next look includes quiet readers */
	unsigned *loud;		/* entries to look at besides the quiet ones */
	unsigned n_loud;	/* ... made before each sleep, grown by
				 * completions and additions */
	unsigned loud_cursor;	/* where the next look in it starts */
	int64_t slice;		/* sleeps of inexact rings, ms */
	enum engine engine;
	bool engine_failed;	/* io_uring refused: epoll from then on */
	bool cmd_unsupported;	/* the module has no io_uring WAIT */
	struct uring u;
	int epfd;
	/* futex rings in threads (futexv.c), signalling wake_fd */
	struct futex_group *groups;
	unsigned n_groups;
	uint64_t groups_layout;	/* bumped when wake-page rings come or go */
	bool groups_used;	/* the last sleep had the threads' help */
	int groups_stop;	/* the threads are to end */
	bool wake_watched;	/* wake_fd is in the epoll set */
	int wake_fd;		/* eventfd the groups signal */
	bool wake_in_flight;
	struct bcast_poller_stats st;
};

/* user_data of an io_uring request for entry `i`, and back */
#define UD_WAKE_FD	0xffffffffULL	/* the groups' eventfd */
#define UD_IGNORE	0xfffffffeULL	/* cancellations */

static inline uint64_t entry_ud(const struct bcast_poller *p, unsigned i)
{
	return (uint64_t)p->e[i].gen << 32 | i;
}

/*
 * A reader whose io_uring request is out, or whose word a helper thread
 * sleeps on, until anything happens on its ring: a message or a writer
 * coming (the writer's wake-up, or the kernel's), a device writer going.  Looking at it again before
 * that completion comes tells nothing new, except a shm writer's death,
 * which each liveness round looks for in every ring (scan_all).
 */
static inline bool entry_quiet(const struct bcast_poller *p,
			       const struct poller_entry *e)
{
	return (e->kind == ENTRY_FUTEX || e->kind == ENTRY_DEVICE) &&
	       (e->in_flight || (e->in_group && p->groups_used)) &&
	       e->armed && e->exact;
}

/* Quiet, and its arm was looked at after a barrier: nothing about it can
 * change without its completion, so a sleep need not touch its ring. */
static inline bool entry_settled(const struct bcast_poller *p,
				 const struct poller_entry *e)
{
	return e->checked && entry_quiet(p, e);
}

/* poller.c: the loud list, remade from every entry, or grown by one. */
void poller_list_loud(struct bcast_poller *p);
void poller_mark_loud(struct bcast_poller *p, unsigned i);

/* poller-sleep.c */
int poller_sleep(struct bcast_poller *p, int64_t ms);
int poller_engine_add(struct bcast_poller *p, unsigned i);
void poller_engine_remove(struct bcast_poller *p, unsigned i);
void poller_engine_close(struct bcast_poller *p);
int poller_engine_reap(struct bcast_poller *p);
/* poller.c */
bool poller_writer_alive(struct bcast_poller *p, struct poller_entry *e,
			 uint64_t epoch);

/* futexv.c */
/* Sleep on up to FUTEX_WAITV_MAX futex words: 0 (woken or a word had
 * changed), -ETIMEDOUT, -EINTR. */
struct futex_word {
	uint32_t *word;
	uint32_t val;
};
int futex_wait_words(const struct futex_word *w, unsigned n, int64_t ms);
bool futex_waitv_missing(void);
#define FUTEXV_MAX 128
/* Threads in futex_waitv() for the futex rings, signalling p->wake_fd. */
int futex_groups_start(struct bcast_poller *p);
void futex_groups_sleep_begin(struct bcast_poller *p);
void futex_groups_reap(struct bcast_poller *p);
void futex_groups_stop(struct bcast_poller *p);

#endif
