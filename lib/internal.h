/* SPDX-License-Identifier: MIT */
#ifndef BCAST_INTERNAL_H
#define BCAST_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <string.h>
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

enum bcast_backend { BACKEND_MEMORY, BACKEND_SHM, BACKEND_FILE, BACKEND_DEVICE };

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
	enum bcast_backend backend;
	struct bcast_writer *writer;
};

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
	uint64_t token;		/* our writer_lock value (not device rings) */
	int lock_fd;		/* the open file holding the OFD lock, or -1 */
	pid_t pid;		/* the process that opened it (fork copies it) */
	bool claim_open;
	bool membarrier;	/* readers fence for us */
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
	uint64_t resync_seen;	/* committed when the last search failed */
	bool stalled;		/* batch/bulk: only an unfinished message */
	uint64_t stalled_pos;	/* ... at this position */
	uint64_t stalled_at;	/* ... and committed when that was seen */
	bool no_membarrier;	/* our membarrier() failed: writers must fence */
	bool gone_known;	/* bcast_wait() reported the writer of */
	uint64_t gone_epoch;	/* this epoch gone */
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
};
_Static_assert(offsetof(struct bcast_reader, hot_) == 0 &&
	       offsetof(struct bcast_reader, st) ==
	       offsetof(struct bcast_reader_hot_, st),
	       "bcast.h reads a reader through its first member");
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct bcast_reader *)0)->claimed),
					    const __typeof__(((struct bcast_ring_hdr *)0)->claimed) *),
	       "bcast.h loads the header's claimed word by its own type");

/* A frame header as read from the ring, before validation. */
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

/* ring.c */
int ring_validate(const struct bcast_ring_hdr *h, size_t len);
int ring_format(void *mem, size_t len, const struct bcast_ring_opts *o,
		unsigned ring_flags);
int ring_init(struct bcast_ring *r, void *mem, size_t len);

/* backend.c */
int backend_create(const char *name, const struct bcast_ring_opts *o,
		   struct bcast_ring *r);
int backend_open(const char *name, int flags, struct bcast_ring *r);
void backend_close(struct bcast_ring *r);

/* device.c */
bool device_loaded(void);
int device_resolve(const char *name, char *path, size_t len);
int device_create(const char *name, const struct bcast_ring_opts *o,
		  struct bcast_ring *r);
int device_open(const char *path, int flags, struct bcast_ring *r);
int device_destroy(const char *name);
int device_reader_fd(const struct bcast_ring *r);
void device_notify(struct bcast_ring *r);
int device_arm(int fd, uint64_t pos, uint64_t epoch, unsigned flags);
enum { DEVICE_POLL_WOKEN, DEVICE_POLL_HANGUP, DEVICE_POLL_TIMEOUT };
int device_poll(int fd, int ms);

/* wait.c */
void wake_readers(struct bcast_ring *r);
bool writer_registered_membarrier(void);

/* owner.c: the writer role of user-space rings */
int owner_claim(struct bcast_ring *r, uint64_t *token, int *lock_fd);
void owner_release(struct bcast_ring *r, uint64_t token, int lock_fd);
void owner_forget(struct bcast_ring *r, int lock_fd);
bool owner_alive(const struct bcast_ring *r);
pid_t owner_pid(const struct bcast_ring *r);

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
void reader_skip(struct bcast_reader *rd, const struct frame *f);
void reader_delivered(struct bcast_reader *rd, uint64_t len);
void reader_stalled(struct bcast_reader *rd, uint64_t committed);
bool reader_ready(const struct bcast_reader *rd);

#endif
