/* SPDX-License-Identifier: MIT */
#ifndef BCAST_INTERNAL_H
#define BCAST_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <linux/bcast.h>
#include "bcast.h"

#define BCAST_EXPORT __attribute__((visibility("default")))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define load_acquire(p)    __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define load_relaxed(p)    __atomic_load_n((p), __ATOMIC_RELAXED)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define fence_acquire()    __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define fence_release()    __atomic_thread_fence(__ATOMIC_RELEASE)
#define fence_full()       __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* Reads of ring bytes that the writer may be overwriting are validated
 * afterwards (the `claimed` re-check); hide them from ThreadSanitizer
 * (BCAST_TSAN_: bcast.h tells). */
#ifdef BCAST_TSAN_
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define racy_begin() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define racy_end()   AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define racy_begin() do { } while (0)
#define racy_end()   do { } while (0)
#endif

/* Payloads up to this are copied in line (bcast.h's bcast_copy_small_). */
#define BCAST_INLINE_COPY 64

struct ring_backend;
struct async_notify;
struct uring;
struct io_uring_sqe;

struct bcast_ring {
	struct bcast_ring_hdr *hdr;
	unsigned char *data;
	uint64_t cap;
	uint64_t mask;
	uint32_t mtu;
	unsigned chunk_shift;
	size_t map_len;		/* 0 when the memory is the caller's */
	int fd;			/* device/shm/file fd, or -1 */
	bool writable;
	bool wake_writable;	/* readers may set need_wakeup */
	bool hugepage;
	const struct ring_backend *ops;
	char *path;		/* the file or node mapped, or NULL */
	char *sysfs;		/* device rings: their sysfs directory */
	struct bcast_writer *writer;
	unsigned char *slots;	/* the reader registry, or NULL */
	unsigned nslots;
	unsigned slot_size;	/* bytes from one slot to the next */
	bool gated;		/* BCAST_RING_GATED */
	uint64_t evict_bytes;	/* gated: the eviction policy, 0 = none */
	unsigned evict_ms;
};

struct gate;

struct bcast_writer {
	struct bcast_ring *r;
	struct bcast_ring_hdr *hdr;
	unsigned char *data;
	uint64_t mask;
	uint64_t cap;
	uint32_t mtu;
	uint64_t chunk;		/* frontier step */
	uint64_t sync_spacing;	/* bytes between sync points */
	uint64_t last_sync;	/* position of the last sync point recorded */
	uint64_t pos;		/* next frame goes here */
	uint64_t claimed;	/* our copy of hdr->claimed */
	uint64_t seq;		/* messages completed before pos */
	uint64_t bytes;		/* their payload bytes */
	uint64_t seq0, bytes0;	/* seq and bytes when this writer opened */
	uint64_t extra_frames;	/* frames that end no message: fragments,
				 * heartbeats (stats derive the rest) */
	uint64_t fast_end;	/* bcast_publish in line: frames end here */
	size_t fast_limit;	/* ... and are shorter than this */
	bool deferred;		/* frames from deferred_from on are unpublished */
	uint64_t deferred_from;
	uint64_t token;		/* our writer_lock value (owner.c) */
	int lock_fd;		/* the open file holding the OFD lock, or -1 */
	pid_t pid;		/* the process that opened it (fork copies it) */
	bool claim_open;
	bool membarrier;	/* readers fence for us */
	struct async_notify *async; /* wake-ups through io_uring, or NULL */
	struct gate *gate;	/* gated rings: the readers it waits for */
	uint64_t frontier;	/* claimed as published (>= claimed) */
	struct bcast_writer_stats st;
};

struct bcast_reader {
	/* First: what bcast.h's in-line lazy reads use, by either name (data,
	 * claimed, cap, mask, mtu, inline_max, need_resync, orphans_lost,
	 * settled_any, settled_last, pos, seq, bytes, st). */
	union {
		struct bcast_reader_hot_ hot_;
		struct {
			BCAST_READER_HOT_FIELDS_
		};
	};
	struct bcast_ring *r;
	const struct bcast_ring_hdr *hdr;
	uint64_t known_committed; /* last committed loaded by the fast path */
	bool resync_latest;
	bool from_oldest;
	bool joining;		/* the pending resync is the first join */
	bool was_joining;	/* ... it was, before the last locate */
	bool evicted;		/* registry_evicted() moved us: report it */
	uint64_t resync_seen;	/* committed when the last search failed */
	bool stalled;		/* batch/bulk: only an unfinished message */
	uint64_t stalled_pos;	/* ... at this position */
	uint64_t stalled_at;	/* ... and committed when that was seen */
	bool no_membarrier;	/* our membarrier() failed: writers must fence */
	bool gone_known;	/* bcast_wait() reported the writer of */
	uint64_t gone_epoch;	/* this epoch gone */
	uint64_t epoch_known;	/* the writer epoch at open, or the last one a
				 * poller reported: any other that lives is
				 * news (BCAST_POLL_WRITER_NEW) */
	/* reassembly of fragmented messages */
	unsigned char *asm_buf;
	size_t asm_cap;
	size_t asm_len;
	uint32_t asm_type;
	uint64_t asm_pos;
	unsigned asm_frames;
	bool assembling;
	bool asm_complete;	/* whole message waiting for a larger buffer */
	int fd;			/* device rings: this reader's own file */
	struct bcast_poller *poller;	/* the one it was added to, or NULL */
	/* registered readers (registry.c) */
	struct bcast_reader_slot *slot;	/* ours, or NULL */
	unsigned slot_index;
	uint64_t slot_token;	/* our owner word */
	int slot_lock_fd;	/* the open file holding its OFD lock, or -1 */
	uint64_t evictions_seen; /* the slot's evictions when last looked */
	bool gate_fence;	/* the writer's membarrier cannot reach us */
};
_Static_assert(offsetof(struct bcast_reader, hot_) == 0 &&
	       offsetof(struct bcast_reader, st) ==
	       offsetof(struct bcast_reader_hot_, st),
	       "bcast.h reads a reader through its first member");
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct bcast_reader *)0)->claimed),
					    const __typeof__(((struct bcast_ring_hdr *)0)->claimed) *),
	       "bcast.h loads the header's claimed word by its own type");

/* A frame header as read from the ring, before validation. */
/* Frames that hold no message: heartbeats and gaps. */
#define FRAME_GAPS	(BCAST_FRAME_GAP | BCAST_FRAME_SKIP)
#define FRAME_MARKS	(BCAST_FRAME_HEARTBEAT | FRAME_GAPS)

struct frame {
	uint32_t len;
	uint32_t flags;
	uint32_t word1;		/* type, or fragment offset with FRAME_CONT */
	uint64_t total;		/* header + padded payload */
};

static inline uint64_t frame_total(uint32_t len)
{
	return BCAST_FRAME_TOTAL(len);
}

/* Is a header word that of a whole message in one frame (FIN alone)? */
static inline bool only_fin(uint64_t word)
{
	return ((uint32_t)word & ~BCAST_FRAME_LEN_MASK) ==
	       (uint32_t)BCAST_FRAME_FIN << BCAST_FRAME_FLAG_SHIFT;
}

static inline uint64_t frame_word(uint32_t len, uint32_t flags, uint32_t word1)
{
	uint32_t w0 = len | (flags << BCAST_FRAME_FLAG_SHIFT);

	return (uint64_t)w0 | ((uint64_t)word1 << 32);
}

/* format.c: the ring header, under every backend */
int ring_validate(const struct bcast_ring_hdr *h, size_t len);
int ring_format(void *mem, size_t len, const struct bcast_ring_opts *o,
		unsigned ring_flags, unsigned slots);
unsigned ring_opts_slots(const struct bcast_ring_opts *o, unsigned fallback);
int ring_opts_check(const struct bcast_ring_opts *o);
int ring_init(struct bcast_ring *r, void *mem, size_t len);
int ring_alloc(const struct ring_backend *ops, struct bcast_ring **out);
void ring_free(struct bcast_ring *r);
void ring_unmap(struct bcast_ring *r);

/* What bcast_wait() knows about the writer before it sleeps. */
enum writer_view { WRITER_LIVE, WRITER_NONE };

struct sleep_request {
	enum writer_view view;
	uint64_t epoch;		/* the writer's, as last seen */
	int64_t ms;		/* at most this long */
	int64_t deadline;	/* the caller's, in now_ms() time */
	int64_t slice;		/* bounded sleeps: the next slice, in ms */
};

/*
 * What differs between the places a ring lives: memory handed to us, POSIX
 * shared memory, a file, a bcast.ko device.  Each backend's file fills one
 * of these; ring.c, reader.c, writer.c and wait.c call through it, never
 * on the publish or receive fast path.
 */
struct ring_backend {
	const char *name;	/* bcast_ring_info()'s backend */
	/* Named backends: is `name` ours?  Asked in the order of backends.c
	 * (the last takes what the others leave). */
	bool (*takes)(const char *name);
	int (*locate)(const char *name, struct bcast_ring_location *loc);
	/* loc->path and sysfs become where it was made */
	int (*create)(struct bcast_ring_location *loc,
		      const struct bcast_ring_opts *o, struct bcast_ring *r);
	int (*open)(const struct bcast_ring_location *loc, int flags,
		    struct bcast_ring *r);
	int (*destroy)(const struct bcast_ring_location *loc);
	int (*list)(bcast_ring_list_fn fn, void *arg);
	/* Readers: a file of their own to sleep on (rd->fd), or none. */
	int (*reader_open)(struct bcast_reader *rd);
	/* 0 to look again, 1 when the live writer we slept on left, -errno */
	int (*sleep)(struct bcast_reader *rd, struct sleep_request *req);
	/* bcast_reader_arm(): 1 if ready already, 0, -errno */
	int (*arm)(struct bcast_reader *rd, enum writer_view view,
		   uint64_t epoch);
	void (*wake_readers)(struct bcast_ring *r);
	/* Asynchronous wake-ups (notify.c): can `u` carry this ring's (0,
	 * -ENOTSUP, -errno)?  And one of them: the writer's part now, the
	 * kernel's queued in `sqe`. */
	int (*wake_probe)(struct bcast_ring *r, const struct uring *u);
	void (*wake_queue)(struct bcast_ring *r, struct io_uring_sqe *sqe);
	/* The writer role: who may write, and who is told it is alive. */
	int (*writer_claim)(struct bcast_writer *w);
	void (*writer_announce)(struct bcast_writer *w);
	void (*writer_release)(struct bcast_writer *w);
	void (*writer_forget)(struct bcast_writer *w);
	bool (*writer_alive)(const struct bcast_ring *r);
	pid_t (*writer_pid)(const struct bcast_ring *r);
	/* The reader registry: take a slot (rd->slot, slot_index,
	 * slot_lock_fd) or give it back; say a position was written
	 * (registry_gen); wake a gated writer that asked; and the writer's
	 * sleep while gate_seq is `seq` (at most ms; 0 woken or timed out,
	 * -errno).  kernel_registry: the kernel frees a dead reader's slot,
	 * the writer need not judge owners. */
	int (*slot_take)(struct bcast_reader *rd);
	void (*slot_release)(struct bcast_reader *rd);
	void (*slot_joined)(struct bcast_reader *rd);
	void (*gate_wake)(struct bcast_reader *rd);
	int (*gate_sleep)(struct bcast_writer *w, uint32_t seq, int64_t ms);
	bool kernel_registry;
};

/* backends.c: the named backends, in the order they take names */
const struct ring_backend *backend_of(const char *name);
int backends_list(bcast_ring_list_fn fn, void *arg);

/* memory.c, shm.c, file.c, device.c */
extern const struct ring_backend memory_backend;
extern const struct ring_backend shm_backend;
extern const struct ring_backend file_backend;
extern const struct ring_backend device_backend;

/* mapfile.c: rings in a file of their own (shm and file:) */
int mapfile_create(const char *path, const struct bcast_ring_opts *o,
		   bool huge, struct bcast_ring *r);
int mapfile_open(const char *path, int flags, struct bcast_ring *r);
bool mapfile_holds_ring(const char *path);

/* futex.c: wake-ups through the ring's wake page (every backend but the
 * device) */
void futex_wake_readers(struct bcast_ring *r);
int futex_wake_probe(struct bcast_ring *r, const struct uring *u);
void futex_wake_queue(struct bcast_ring *r, struct io_uring_sqe *sqe);
int futex_sleep(struct bcast_reader *rd, struct sleep_request *req);

/* device.c, for the poller: the position a device reader is woken past,
 * and BCAST_IOC_ARM without the barrier (1 if committed moved already) */
uint64_t device_wake_position(const struct bcast_reader *rd);
int device_request_wakeup(struct bcast_reader *rd, enum writer_view view,
			  uint64_t epoch);

/* poller.c: a reader closed while in a poller leaves it */
void poller_forget_reader(struct bcast_reader *rd);

/* notify.c: the writer's wake-ups through io_uring (bcast_writer_set_notify):
 * 0 when this one was queued, else the caller wakes synchronously */
int notify_async(struct bcast_writer *w);
/* bcast_writer_close(): what was queued has run, the io_uring is gone */
void notify_release(struct bcast_writer *w);

/* membarrier.c: the barrier a sleeping reader and the writer share */
bool writer_registered_membarrier(void);
bool reader_barrier(struct bcast_reader *rd);
bool global_barrier(void);
void reader_barrier_failed(struct bcast_reader *rd);
bool writer_wants_barrier(const struct bcast_reader *rd);

#define BOUNDED_SLICE_MIN_MS 1	/* readers that cannot ask for a wake-up */
#define BOUNDED_SLICE_MAX_MS 50
#define LIVENESS_SLICE_MS 25	/* how often a sleeper checks a live writer
				 * that no kernel watches */
#define MISSED_GRACE_MS 100	/* a writer preempted mid-publish is not a
				 * missed wake-up */

/* owner.c: lock words (the writer's, reader slots') where no kernel keeps
 * them: one CAS from 0 or from a dead owner; `at` is the word's offset in
 * the ring's file, which the owner also holds OFD-locked */
int lock_word_claim(struct bcast_ring *r, __u64 *word, off_t at,
		    uint64_t *token_out, int *lock_fd);
void lock_word_release(struct bcast_ring *r, __u64 *word, off_t at,
		       uint64_t token, int lock_fd);
bool lock_token_alive(const struct bcast_ring *r, uint64_t token, off_t at,
		      int lock_fd);
pid_t lock_token_pid(uint64_t token);

/* owner.c: the writer role where no kernel keeps it (memory, shm, file) */
int owner_claim(struct bcast_writer *w);
void owner_announce(struct bcast_writer *w);
void owner_release(struct bcast_writer *w);
void owner_forget(struct bcast_writer *w);
bool owner_alive(const struct bcast_ring *r);
pid_t owner_pid(const struct bcast_ring *r);

/* The ops of every ring whose readers sleep on the wake page and whose
 * writer owner.c decides: all but bcast.ko's. */
#define USER_SPACE_RING_OPS						\
	.sleep = futex_sleep,						\
	.wake_readers = futex_wake_readers,				\
	.wake_probe = futex_wake_probe,					\
	.wake_queue = futex_wake_queue,					\
	.writer_claim = owner_claim,					\
	.writer_announce = owner_announce,				\
	.writer_release = owner_release,				\
	.writer_forget = owner_forget,					\
	.writer_alive = owner_alive,					\
	.writer_pid = owner_pid,					\
	.slot_take = registry_take,					\
	.slot_release = registry_release,				\
	.slot_joined = registry_joined,					\
	.gate_wake = futex_gate_wake,					\
	.gate_sleep = futex_gate_sleep

/* A path or name into a buffer of `size`: 0, or -ENAMETOOLONG. */
static inline int copy_path(char *dst, size_t size, const char *src)
{
	return snprintf(dst, size, "%s", src) < (int)size ? 0 : -ENAMETOOLONG;
}

static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Were the bytes from `pos` on still intact when they were read? */
static inline bool frame_intact(const struct bcast_ring *r, uint64_t pos)
{
	fence_acquire();
	return load_relaxed(&r->hdr->claimed) - pos <= r->cap;
}

/*
 * BCAST_COUNT_FRAMES (the fuzz target's build): count every frame header
 * a reader decodes, so that a test can bound the work of each call.
 */
#ifdef BCAST_COUNT_FRAMES
extern unsigned long bcast_frames_visited;
#define count_frame() ((void)bcast_frames_visited++)
#else
#define count_frame() ((void)0)
#endif

/* The header word at data index `idx`, read while the writer may be
 * rewriting it: it is judged afterwards (the `claimed` check). */
static inline uint64_t reader_word(const struct bcast_reader *rd, uint64_t idx)
{
	uint64_t word;

	racy_begin();
	word = load_relaxed((const uint64_t *)(rd->data + idx));
	racy_end();
	count_frame();
	return word;
}

/* frame.c: reading frames that someone else writes */
int frame_decode(uint64_t word, uint64_t pos, uint64_t cap, uint32_t mtu,
		 uint64_t limit, struct frame *f);
int frame_at(const struct bcast_ring *r, uint64_t pos, uint64_t committed,
	     struct frame *f);
void frame_account(const struct frame *f, uint64_t *seq, uint64_t *bytes);
enum locate { LOCATE_OLDEST, LOCATE_RECENT, LOCATE_COMMITTED };
int ring_locate(const struct bcast_ring *r, enum locate where, uint64_t *pos,
		uint64_t *seq, uint64_t *bytes);

/* reader.c, shared with batch.c */
int reader_overrun(struct bcast_reader *rd);
int reader_resync(struct bcast_reader *rd);
int reader_lapped(struct bcast_reader *rd, uint64_t committed);
int reader_skip(struct bcast_reader *rd, const struct frame *f);
void reader_delivered(struct bcast_reader *rd, uint64_t len);
void reader_stalled(struct bcast_reader *rd, uint64_t committed);
ssize_t reader_idle(struct bcast_reader *rd);
void registry_touch(struct bcast_reader *rd);
void registry_stamp(struct bcast_reader *rd);

/* registry.c: reader slots (and, for rings without a kernel, the ops) */
int registry_take(struct bcast_reader *rd);
void registry_release(struct bcast_reader *rd);
void registry_joined(struct bcast_reader *rd);
void futex_gate_wake(struct bcast_reader *rd);
int futex_gate_sleep(struct bcast_writer *w, uint32_t seq, int64_t ms);
int registry_join(struct bcast_reader *rd);
int registry_anchor(struct bcast_reader *rd);
void registry_leave(struct bcast_reader *rd);
void registry_evicted(struct bcast_reader *rd);
static inline off_t slot_offset(const struct bcast_ring *r, unsigned i)
{
	return (off_t)(BCAST_MAP_SIZE(r->cap) + (uint64_t)i * r->slot_size);
}

/* Slot i as every mapping of the ring shows it (a reader's read-only). */
static inline struct bcast_reader_slot *ring_slot(const struct bcast_ring *r,
						  unsigned i)
{
	return (struct bcast_reader_slot *)(r->slots +
					    (size_t)i * r->slot_size);
}

/*
 * A registered reader has consumed everything below rd->pos: say so in its
 * slot, and wake a gated writer that waits for room.  The writer's barrier
 * before it sleeps is a membarrier() that reaches us (else gate_fence).
 */
static inline void reader_consumed(struct bcast_reader *rd)
{
	struct bcast_reader_slot *s = rd->slot;

	if (!s)
		return;
	if (unlikely(!(rd->st.messages & 4095)))
		registry_stamp(rd);
	store_relaxed(&s->messages, rd->seq);
	store_relaxed(&s->bytes, rd->bytes);
	store_release(&s->position, rd->pos);
	if (unlikely(rd->gate_fence))
		fence_full();
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (unlikely(load_relaxed(&rd->hdr->gate_need_wakeup)))
		rd->r->ops->gate_wake(rd);
	if (unlikely(load_relaxed(&s->evictions) != rd->evictions_seen))
		registry_evicted(rd);
}

/* gate.c: the writer of a gated ring */
int gate_open(struct bcast_writer *w);
void gate_close(struct bcast_writer *w);
int gate_frontier(struct bcast_writer *w, uint64_t end, uint64_t *frontier);

/*
 * What a batch or a bulk read may take: the messages up to *committed.
 * -EBUSY while a fragmented message is half read (bcast_receive() finishes
 * it), -EAGAIN when there is nothing, or the resync's or the lap check's
 * error.  In line: both run it once per call, beside the reading loop.
 */
static inline int reader_window(struct bcast_reader *rd, uint64_t *committed)
{
	int err;

	if (rd->assembling || rd->asm_complete)
		return -EBUSY;
	/* The previous call's messages are done with. */
	reader_consumed(rd);
	if (rd->need_resync) {
		err = reader_resync(rd);
		if (err)
			return err;
	}
	*committed = load_acquire(&rd->hdr->committed);
	rd->stalled = false;
	if (*committed == rd->pos)
		return -EAGAIN;
	return reader_lapped(rd, *committed);
}

/* Ready to read (or to retry a resync)?  In line: the sleepers of every
 * backend ask it. */
static inline bool reader_ready(const struct bcast_reader *rd)
{
	uint64_t committed = load_acquire(&rd->hdr->committed);

	if (rd->asm_complete || rd->evicted)
		return true;
	if (rd->need_resync)
		return committed != rd->resync_seen;
	/* Only an unfinished message was pending, and nothing (another read
	 * style) has moved past it since. */
	if (rd->stalled && rd->pos == rd->stalled_pos)
		return committed != rd->stalled_at;
	return committed != rd->pos;
}

#endif
