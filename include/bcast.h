/* SPDX-License-Identifier: MIT */
/*
 * libbcast: a single-producer / many-consumer broadcast ring in shared memory.
 *
 * One writer publishes variable-size messages; any number of readers, in any
 * process, read them from the same memory without slowing the writer.  A
 * reader that falls a whole ring behind is told so (-BCAST_EOVERRUN) with
 * exact loss counts, never handed overwritten bytes.
 *
 * Every function returns >= 0 on success and a negative error code on
 * failure: -errno, or -BCAST_EOVERRUN, -BCAST_ECORRUPT, -BCAST_EWRITERGONE.
 * bcast_strerror() names them.  Fields of the structs below whose names end
 * in an underscore are private.
 *
 * Threads.  A writer, a reader, and the batch, bulk and message handles a
 * reader gives out each belong to one thread at a time (they are plain
 * memory, changed without locks: that is the fast path).  Different
 * readers of one ring, and the writer, may run in any threads and
 * processes at once.  A ring object may be shared by threads for
 * bcast_writer_open() (one wins), bcast_reader_open(), bcast_ring_info()
 * and bcast_ring_count(); bcast_ring_close() comes after its writer and
 * readers are closed, in one thread.  Creating, opening and destroying
 * shm rings by name reads the mount table with getmntent(), which is not
 * thread-safe: not from two threads at once.
 *
 * fork().  A child shares the ring's memory (shm, file and device rings,
 * and MAP_SHARED memory) and inherits copies of the parent's objects: it
 * may open readers of its own and read through inherited ones that it
 * alone then uses, and become the writer once the parent's is closed
 * (closing its inherited copy of that writer first, if it has one); see
 * bcast_writer_open() for what it may not do.  Every descriptor the
 * library opens is close-on-exec.
 *
 * Signals.  Only bcast_wait() sleeps; a signal with a handler ends it
 * with -EINTR (never restarted: call it again).  Nothing here is
 * async-signal-safe.  A shm or file ring whose file is truncated under a
 * mapping raises SIGBUS in whoever touches the lost pages.
 *
 * In line and not.  bcast_publish() and bcast_receive() are library
 * calls: in line they would fix the ring's internals into every program,
 * and the call costs a few instructions (callgrind: publish 49 for an
 * 8-byte message, the bare reference ring's, also a call, 55; README.md,
 * Benchmarks).  The lazy steps below are in line because
 * their two calls per message cost 125 instructions against 98.
 */
#ifndef BCAST_H
#define BCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of this header: the VERSION file of the source tree, which
 * the library checks these against when it is built.  bcast_version()
 * says which library a program runs with.
 */
#define BCAST_VERSION_MAJOR 0
#define BCAST_VERSION_MINOR 2
#define BCAST_VERSION_PATCH 0

/* Error codes beyond errno, returned negated. */
#define BCAST_EOVERRUN		5001	/* the writer lapped this reader */
#define BCAST_ECORRUPT		5002	/* the ring holds impossible values */
#define BCAST_EWRITERGONE	5003	/* no writer, and everything was read */

/* bcast_ring_open() / bcast_ring_attach() flags */
#define BCAST_RDONLY		0x0
#define BCAST_RDWR		0x1
#define BCAST_FORMAT		0x2	/* attach: initialise the memory */

/* bcast_ring_opts.flags */
#define BCAST_HUGEPAGE		0x1	/* back the ring with huge pages if possible */
#define BCAST_GATED		0x2	/* lossless: the writer never overwrites
					 * what a registered reader has not
					 * consumed (it waits, or -EAGAIN) */
#define BCAST_READER_SLOTS	0x4	/* reader_slots is set */
#define BCAST_EVICT		0x8	/* evict_bytes and evict_ms are set */

/* bcast_commit() flags */
#define BCAST_DEFER		0x1	/* make visible at the next bcast_flush()
					 * at the latest (the writer publishes
					 * deferred frames itself at every
					 * frontier step: capacity/256 bytes,
					 * capacity/32 on gated rings) */

/* bcast_reader_open() `from` */
#define BCAST_FROM_LATEST	0x0	/* only messages committed after opening */
#define BCAST_FROM_OLDEST	0x1	/* the oldest intact message first (once
					 * the ring has been lapped: from the
					 * oldest intact sync point) */
#define BCAST_RESYNC_LATEST	0x10	/* after an overrun, skip to the newest
					 * message (default: to a point at most
					 * an eighth of the ring back) */
#define BCAST_REGISTER		0x20	/* own a slot of the ring's reader
					 * registry: monitors see this reader,
					 * and a gated ring's writer waits for
					 * it */

/* bcast_msg.flags */
#define BCAST_MSG_FRAGMENTED	0x1	/* carried in several frames */
#define BCAST_MSG_COPIED	0x2	/* payload lives in a bulk buffer */

struct bcast_ring;
struct bcast_writer;
struct bcast_reader;

/*
 * Options for creating a ring.  Options added later come with a flag in
 * `flags` that says they are set; flags a library does not know are
 * refused (-EINVAL), so an older program never passes them by accident
 * and a newer one learns that they are missing.
 */
struct bcast_ring_opts {
	size_t size;		/* data capacity: a power of two >= 4096 */
	unsigned flags;		/* BCAST_HUGEPAGE */
	const void *metadata;	/* copied into the header, <= 1024 bytes */
	size_t metadata_len;
	mode_t mode;		/* permissions of the ring; 0 means 0600 */
	size_t mtu;		/* largest frame payload; 0 = default */
	/* BCAST_READER_SLOTS: registry slots, 0..65536 (without the flag:
	 * 1024 for shm and file rings, 16 for bcast.ko rings, none in
	 * memory handed to us) */
	unsigned reader_slots;
	/* BCAST_EVICT (gated rings): a gated writer stops waiting for a
	 * reader more than evict_bytes behind it, or that has kept it
	 * waiting for evict_ms; 0 = no such limit */
	uint64_t evict_bytes;
	unsigned evict_ms;
};

struct bcast_ring_info {
	size_t capacity;
	size_t mtu;
	uint64_t committed;
	uint64_t claimed;
	int writer_alive;
	pid_t writer_pid;
	uint64_t writer_epoch;
	int hugepage;
	const char *backend;	/* "device", "shm", "file", "memory" */
	const void *metadata;
	size_t metadata_len;
	size_t map_size;	/* the ring's bytes: header, data, registry
				 * (the mapping may be rounded up to its
				 * page size) */
	const char *path;	/* the file or device node mapped; NULL for
				 * memory rings */
	const char *sysfs;	/* device rings: /sys/class/bcast/bcastN as
				 * opened, else NULL */
	uint32_t reader_slots;	/* registry slots (0: no registry) */
	uint32_t gated;		/* 1 for BCAST_GATED rings */
	uint64_t evict_bytes;	/* gated rings' eviction policy */
	uint32_t evict_ms;
	uint32_t reserved32_;
	uint64_t reserved_[1];	/* 0: room for fields to come */
};

/* A registered reader, as bcast_ring_readers() reports it. */
struct bcast_reader_entry {
	unsigned slot;		/* its index in the registry */
	pid_t pid;		/* as the reader sees itself */
	int alive;		/* 1 running, 0 dead (its slot awaits reuse) */
	int joined;		/* it has a position (0: still joining) */
	uint64_t position;	/* it has consumed everything below */
	uint64_t messages;	/* writer's message count at position */
	uint64_t lag_bytes;	/* committed - position */
	uint64_t lag_messages;	/* messages committed it has not consumed */
	uint64_t overruns, lost_messages, lost_bytes;
	uint64_t evictions;	/* times a gated writer evicted it */
	int64_t active_ns;	/* CLOCK_REALTIME of its last catch-up, wait
				 * or 4096th message */
	uint64_t reserved_[4];
};

typedef int (*bcast_reader_list_fn)(const struct bcast_reader_entry *e,
				    void *arg);

#define BCAST_PATH_MAX 4096

/*
 * Where a ring name leads (bcast_ring_locate), or a ring that
 * bcast_ring_list() found.  Every string is NUL-terminated, "" if none.
 */
struct bcast_ring_location {
	const char *backend;		/* "shm", "file" or "device" */
	char name[BCAST_PATH_MAX + 8];	/* what bcast_ring_open() takes:
					 * shm:NAME, file:PATH, or the device
					 * ring's name (or /dev/bcastN) */
	char path[BCAST_PATH_MAX];	/* the file holding the ring now, or its
					 * device node; shm: where it would be
					 * created when it does not exist;
					 * device: "" when no such ring */
	char alt_path[BCAST_PATH_MAX];	/* shm: the other place it can be
					 * (bcast.NAME on a hugetlbfs mount) */
	char sysfs[BCAST_PATH_MAX];	/* device: /sys/class/bcast/bcastN */
	uint64_t reserved_[4];		/* 0: room for fields to come */
};

typedef int (*bcast_ring_list_fn)(const struct bcast_ring_location *loc,
				  void *arg);

struct bcast_claim {
	void *data;		/* write the payload here */
	size_t len;		/* may be lowered before bcast_commit() */
	struct bcast_writer *w_;
	uint64_t pos_;
	size_t max_;
};

struct bcast_msg {
	uint64_t pos;		/* ring position of the first frame */
	uint32_t len;		/* payload length */
	uint32_t type;		/* the writer's message type */
	unsigned flags;		/* BCAST_MSG_* */
	unsigned frames_;
	uint64_t seq_;
	const struct bcast_reader *rd_;
	const void *data_;
};

struct bcast_batch {
	struct bcast_reader *rd_;
	uint64_t end_;
};

struct bcast_bulk {
	unsigned char *buf_;
	size_t len_;
	size_t off_;
	size_t run_end_;	/* up to here, frames of stride_ bytes */
	size_t stride_;
	struct bcast_reader *rd_;
	uint64_t pos_;
};

struct bcast_reader_stats {
	uint64_t messages;	/* delivered */
	uint64_t bytes;		/* payload bytes delivered */
	uint64_t overruns;	/* times this reader was lapped */
	uint64_t lost_messages;	/* messages skipped because of overruns */
	uint64_t lost_bytes;	/* their payload bytes */
	uint64_t heartbeats;	/* heartbeat frames seen */
	uint64_t sleeps;	/* times bcast_wait() slept */
	uint64_t missed_wakeups; /* sleeps ended by time-out with data ready
				  * and no wake-up sent: must stay 0 */
	uint64_t dropped_partial; /* fragments of messages the writer never
				   * finished (it died mid-message) */
	uint64_t evictions;	/* a gated writer stopped waiting for this
				 * registered reader (its policy) */
	uint64_t reserved_[3];	/* 0: room for counts to come */
};

/*
 * Private: what the in-line steps of lazy reads (bcast_batch_next() and
 * bcast_msg_read(), at the end of this file) use of their reader.  The
 * library's reader begins with these fields; nothing else may touch them.
 */
#define BCAST_READER_HOT_FIELDS_					\
	const unsigned char *data;	/* the ring's data area */	\
	const unsigned long long *claimed; /* the writer's frontier */	\
	uint64_t cap;							\
	uint64_t mask;							\
	uint32_t mtu;							\
	uint32_t inline_max;	/* in-line copies: up to min(mtu, 64) */ \
	bool need_resync;	/* lapped, no resync point found yet */	\
	bool orphans_lost;	/* tails of messages begun before pos	\
				 * are losses */			\
	bool settled_any;	/* a lazy handle has settled ... */	\
	uint64_t settled_last;	/* ... and those up to this have */	\
	uint64_t pos;		/* next frame to look at */		\
	uint64_t seq;		/* writer's message count at pos */	\
	uint64_t bytes;		/* writer's payload byte count at pos */ \
	struct bcast_reader_stats st;

struct bcast_reader_hot_ {
	BCAST_READER_HOT_FIELDS_
};

struct bcast_writer_stats {
	uint64_t messages;
	uint64_t bytes;
	uint64_t frames;
	uint64_t notifies;	/* wake-ups of sleeping readers: system calls,
				 * or queued on io_uring (set_notify) */
	uint64_t heartbeats;
	uint64_t frontier_steps; /* times `claimed` was advanced */
	uint64_t notify_errors;	/* queued wake-ups that failed: each sends
				 * the writer back to its own system calls */
	uint64_t gate_waits;	/* gated rings: times it found no room */
	uint64_t evictions;	/* ... and evicted a reader (its policy) */
	uint64_t gap_messages;	/* numbered by bcast_publish_gap(), not in
				 * `messages` */
};

/* ---- rings ---- */

/*
 * Create a ring and map it read-write.  `name` is "shm:NAME" (POSIX shared
 * memory), "file:/path", "/dev/bcastN" (device) or a bare NAME (the device
 * when bcast.ko is loaded, else shm).  Fails with -EEXIST if it exists,
 * -EINVAL if o->size is not a power of two in [4096, 2^40] or
 * metadata_len > 1024.
 */
int bcast_ring_create(const char *name, const struct bcast_ring_opts *o,
		      struct bcast_ring **out);
/* Map an existing ring; BCAST_RDONLY rings can only be read. */
int bcast_ring_open(const char *name, int flags, struct bcast_ring **out);
/*
 * Use `len` bytes at `mem` as a ring: heap, stack or mapped memory of any
 * alignment.  The ring starts at the first 8-byte aligned address inside
 * it (losing at most 7 bytes), so the same memory, or the same shared
 * mapping at the same page offset in another process, always holds the
 * same ring.  With BCAST_FORMAT the memory is initialised with the largest
 * power-of-two data area that fits after the header (-EINVAL if less than
 * 4096 bytes do) and the ring is writable; without it an existing ring is
 * validated (-EINVAL if `mem` holds none, -EPROTO on an ABI mismatch), and
 * BCAST_RDWR says that this process may write the memory: with
 * BCAST_RDONLY the library never writes to it (a writer cannot open,
 * -EACCES, and bcast_wait() sleeps in slices instead of asking the writer
 * for a wake-up).  The memory must outlive the ring.
 */
int bcast_ring_attach(void *mem, size_t len, int flags, struct bcast_ring **out);
/* Like bcast_ring_attach(mem, len, BCAST_FORMAT, out) with options. */
int bcast_ring_format(void *mem, size_t len, const struct bcast_ring_opts *o,
		      struct bcast_ring **out);
/* Remove a named ring; live mappings stay valid. */
int bcast_ring_destroy(const char *name);
/*
 * Where `name` leads, as bcast_ring_open() and bcast_ring_create() resolve
 * it, without opening anything: the backend, the file or device node, and
 * for device rings the sysfs directory.  0 whether or not the ring exists
 * (a device name with no ring has path ""); -EINVAL for a name no backend
 * takes (empty, an shm name with '/', a device name of BCAST_NAME_MAX or
 * more bytes, file: with no path), -ENAMETOOLONG.
 */
int bcast_ring_locate(const char *name, struct bcast_ring_location *loc);
/*
 * Call fn for every named ring this process can see, in this order:
 * bcast.ko rings (by sysfs, when the module is loaded), shm rings in
 * /dev/shm, then bcast.NAME files on hugetlbfs mounts (shm:NAME on the
 * mount shm rings use unless /dev/shm/NAME shadows it, else file:PATH).
 * Files count when their first bytes hold a ring header of this ABI; files
 * this user cannot read are left out, and file: rings elsewhere are not
 * found.  Stops when fn returns non-zero and returns that value; else 0.
 * -EINVAL without fn.  loc is valid during the call only.
 */
int bcast_ring_list(bcast_ring_list_fn fn, void *arg);
/* Unmap; writers and readers of the ring must be closed first. */
void bcast_ring_close(struct bcast_ring *r);
int bcast_ring_info(const struct bcast_ring *r, struct bcast_ring_info *info);
/*
 * Messages and payload bytes committed to the ring so far, by every writer
 * it has had: exact, counted from the newest sync point (a walk over about
 * capacity/32 bytes of frames).  For monitors; -EAGAIN if four tries
 * found no intact starting point while the writer overwrote them (try
 * again), -BCAST_ECORRUPT, -EINVAL.  Any thread, beside the writer.
 */
int bcast_ring_count(const struct bcast_ring *r, uint64_t *messages,
		     uint64_t *bytes);
/*
 * Call fn for every slot of the ring's reader registry that has an owner,
 * dead ones included (alive = 0), in slot order: what each registered
 * reader has consumed and how far behind it is.  Values come from memory
 * the readers write: a monitor's view, not a guarantee.  Stops when fn
 * returns non-zero and returns that value; else 0.  -EINVAL without r or
 * fn; 0 with no call for a ring without a registry.
 */
int bcast_ring_readers(const struct bcast_ring *r, bcast_reader_list_fn fn,
		       void *arg);

/* ---- writer ---- */

/*
 * Become the ring's only writer: -EBUSY if a live writer exists (exactly
 * one of any number of racing callers wins), -EACCES on a read-only ring.
 * A writer replacing a dead one continues its positions.  Threads that
 * share `r` get one writer too.  A fork() child is not a second writer:
 * bcast_writer_open() on the inherited ring is refused while the parent
 * writes (device rings: only if the parent's writer was open before the
 * fork, as the kernel sees one file), and bcast_writer_close() of the
 * inherited writer frees the child's copy only (it must not publish
 * through it).  It does keep the writer's open files (shm, file and
 * device rings): the writer counts as alive until the child exits too.
 * Also -EINVAL (r or out NULL), -ENOMEM, -BCAST_ECORRUPT (the positions
 * in the header are impossible), -EAGAIN (no frame boundary found to
 * continue from while a dying writer's frames move: try again).
 */
int bcast_writer_open(struct bcast_ring *r, struct bcast_writer **out);
/*
 * Reserve `len` bytes in the ring and point c->data at them, to be filled
 * in place and published with bcast_commit() (or dropped with
 * bcast_abort()).  0, -EINVAL (w or c NULL), -EBUSY (a claim is open),
 * -EMSGSIZE (len above the MTU).
 */
int bcast_claim(struct bcast_writer *w, size_t len, struct bcast_claim *c);
/*
 * Publish a claim as a message of c->len bytes (which may have been
 * lowered) and type `type`; BCAST_DEFER delays it until bcast_flush() at
 * the latest.  0, or -EINVAL: c NULL, not the open claim (committed or
 * aborted already), c->len above what was claimed, unknown flags.
 */
int bcast_commit(struct bcast_claim *c, uint32_t type, unsigned flags);
/* Drop the open claim: nothing is published.  NULL or a claim already
 * committed or aborted is ignored. */
void bcast_abort(struct bcast_claim *c);
/*
 * Copy and publish a message of any size (fragmented above the MTU, up to
 * 4 GiB - 1).  0, -EINVAL (w NULL, or p NULL with len > 0), -EBUSY (a claim
 * is open), -EMSGSIZE (4 GiB or more).  Never blocks; it makes a system
 * call only to wake readers that asked for it.
 */
int bcast_publish(struct bcast_writer *w, const void *p, size_t len,
		  uint32_t type);
/*
 * bcast_publish() of the concatenation of iov[0..iovcnt): one message.
 * 0, -EINVAL (w NULL, iovcnt < 0 or > IOV_MAX, iov NULL with iovcnt > 0),
 * -EFAULT (an entry with a length and no base), -EBUSY, -EMSGSIZE.  The
 * array is read twice: it must not change during the call.
 */
int bcast_publishv(struct bcast_writer *w, const struct iovec *iov,
		   int iovcnt, uint32_t type);
/* Make every deferred commit visible with one position store: 0, -EINVAL. */
int bcast_flush(struct bcast_writer *w);
/* Publish an empty liveness frame (deferred commits first): 0, -EINVAL,
 * -EBUSY (a claim is open). */
int bcast_heartbeat(struct bcast_writer *w);
/*
 * Number `messages` messages that this writer will never publish: lost
 * upstream of it (a bridge's source overran it, a network dropped them).
 * Readers that reach this point get -BCAST_EOVERRUN once, with the
 * messages counted in lost_messages (their bytes are not known), and the
 * messages after it keep their numbers (bcast_msg_seq()).  With
 * BCAST_GAP_QUIET the numbers move and no reader is told: a stream joined
 * partway, whose earlier messages were never this ring's.  Deferred
 * commits go first.  0, -EINVAL (w NULL, messages 0, unknown flags),
 * -EBUSY (a claim is open); gated rings: what waiting for room returns.
 */
#define BCAST_GAP_QUIET		0x1
int bcast_publish_gap(struct bcast_writer *w, uint64_t messages,
		      unsigned flags);
/* This writer's counts since it opened: 0, -EINVAL (w or st NULL).  From
 * the writer's own thread (the counts are plain fields). */
int bcast_writer_stats(const struct bcast_writer *w,
		       struct bcast_writer_stats *st);
/* Flush, mark the writer gone and wake every reader; an open claim is
 * dropped.  NULL is ignored. */
void bcast_writer_close(struct bcast_writer *w);

/* bcast_writer_set_notify() `how` */
#define BCAST_NOTIFY_SYNC	0	/* the writer's own system call (default) */
#define BCAST_NOTIFY_URING	1	/* handed to io_uring: the kernel wakes */
#define BCAST_NOTIFY_SQPOLL	2	/* ... through a kernel thread that polls
					 * the submissions: no system call
					 * while it is awake */
/*
 * How this writer wakes sleeping readers.  BCAST_NOTIFY_URING and
 * BCAST_NOTIFY_SQPOLL queue the wake-up (device rings: a write to the
 * writer's file, which needs a bcast.ko with write-notify; shm, file and
 * memory rings: a futex wake, Linux 6.7) on an io_uring of the writer's
 * own and return without waiting for it; the writer's own part (taking
 * the readers' request) stays synchronous, so no wake-up is lost, and
 * there is still one per sleeping episode.  SQPOLL's kernel thread keeps
 * a CPU busy while it is awake (until 50 ms without a wake-up).  A wake-up
 * that finds the queue full is made synchronously; one that fails is
 * counted (notify_errors) and the writer wakes synchronously from then
 * on.  bcast_writer_close() wakes synchronously and waits for what was
 * queued.  0, -EINVAL (w NULL, unknown `how`), -EBUSY (a claim is open, or
 * w is a fork() child's copy: it may only go back to
 * BCAST_NOTIFY_SYNC, which drops its copy of the parent's io_uring
 * untouched), -ENOTSUP (this ring or kernel cannot), or the error of
 * setting io_uring up (-EPERM where seccomp or the io_uring_disabled
 * sysctl refuse it, -ENOMEM): the writer then keeps the way it had.  From
 * the writer's thread, between publishes.
 */
int bcast_writer_set_notify(struct bcast_writer *w, int how);

/*
 * Gated rings (BCAST_GATED): the writer never overwrites bytes that a
 * live registered reader (BCAST_REGISTER) has not consumed.  A reader has
 * consumed a message once bcast_receive() returned it, a bulk read copied
 * it, or (batches) at its next bcast_batch(), bcast_read_bulk(),
 * bcast_receive() or bcast_wait() call.  When there is no room,
 * bcast_claim(), bcast_publish(), bcast_publishv() and bcast_heartbeat()
 * wait for it: they spin briefly, then sleep until a reader moves on
 * (readers wake the writer only when it asked, once per sleep), a reader
 * dies or leaves (noticed within 100 ms of its death), or the policy of
 * the ring evicts the laggard (BCAST_EVICT).  They give up after the
 * writer's timeout with -ETIMEDOUT (nothing of the message is published,
 * except for a message larger than half the ring, which goes out in
 * pieces: its remaining fragments are dropped and readers count them in
 * dropped_partial).  On lossy rings they never wait.
 *
 * bcast_writer_set_timeout(): how long they may wait, in ms (< 0: for
 * ever, the default; 0: never, as the try variants).  0, -EINVAL.
 */
int bcast_writer_set_timeout(struct bcast_writer *w, int timeout_ms);
/* bcast_claim() that never waits: -EAGAIN when the ring has no room. */
int bcast_try_claim(struct bcast_writer *w, size_t len, struct bcast_claim *c);
/* bcast_publish() that never waits: -EAGAIN when the ring has no room for
 * the whole message, and then nothing of it was published if it is at
 * most half the ring; of a larger one, the fragments that had room may
 * have gone out, and readers count it in dropped_partial. */
int bcast_try_publish(struct bcast_writer *w, const void *p, size_t len,
		      uint32_t type);

/* ---- reader ---- */

/*
 * A new reader of `r`; `from`: BCAST_FROM_LATEST or BCAST_FROM_OLDEST,
 * optionally | BCAST_RESYNC_LATEST.  0, -EINVAL (r or out NULL, unknown
 * bits in from), -ENOMEM; on device rings also the kernel's -ENOSPC (the
 * module's max_readers reached) and -EMFILE.  Any number of readers, in
 * any number of processes and threads.
 */
int bcast_reader_open(struct bcast_ring *r, int from, struct bcast_reader **out);
/*
 * Copy the next message into buf and return its length; -EAGAIN if none
 * is pending (nothing, or only the first fragments of an unfinished
 * message), -EINPROGRESS if the call stopped after a bounded amount of work
 * (4096 frames: heartbeats, padding, fragments of a huge message) with
 * frames still pending (call again), -EMSGSIZE (info->len = needed,
 * nothing consumed) if cap is too small, -BCAST_EOVERRUN after being
 * lapped (the reader has resynchronised), -BCAST_ECORRUPT, -EINVAL (rd
 * NULL, or buf NULL with cap > 0), -ENOMEM (reassembling a fragmented
 * message; it is then counted as dropped_partial).  `info` may be NULL.
 */
ssize_t bcast_receive(struct bcast_reader *rd, void *buf, size_t cap,
		      struct bcast_msg *info);
/* Snapshot what is pending: 0, -EAGAIN if nothing, -BCAST_EOVERRUN,
 * -BCAST_ECORRUPT, -EINVAL, -EBUSY (a fragmented message is half-read by
 * bcast_receive(): finish it there first). */
int bcast_batch(struct bcast_reader *rd, struct bcast_batch *b);
/*
 * Next message of the snapshot without copying it: 1, or 0 when this
 * snapshot has nothing more to hand out now (its end, a message not
 * finished yet, or 4096 frames of padding and heartbeats looked at: take
 * a new snapshot); -BCAST_EOVERRUN (lapped, resynchronised),
 * -BCAST_ECORRUPT, -EINVAL.  In line (below) for a whole message in one
 * frame.
 */
static inline int bcast_batch_next(struct bcast_batch *b, struct bcast_msg *m);
/*
 * Copy a message (now or much later): its length, -EMSGSIZE, or
 * -BCAST_EOVERRUN if it was overwritten.  A handle counts as delivered
 * when bcast_batch_next() gives it out; found overwritten here (or by
 * bcast_msg_valid()), it moves to the reader's losses, once: read handles
 * in the order they were given (any subset) for exact counts.
 */
static inline ssize_t bcast_msg_read(const struct bcast_msg *m, void *buf,
				     size_t cap);
/* Pointer to the payload in place (NULL for fragmented messages); only
 * trust what was read through it if bcast_msg_valid() then returns 1.
 * Messages of a bulk read (BCAST_MSG_COPIED) point into its buffer. */
static inline const void *bcast_msg_peek(const struct bcast_msg *m);
/*
 * The message's number in its ring: how many messages came before it,
 * from every writer the ring has had, gaps included (bcast_publish_gap()).
 * Set by bcast_receive() (when given a bcast_msg) and bcast_batch_next();
 * handles of bcast_bulk_next() carry 0.
 */
static inline uint64_t bcast_msg_seq(const struct bcast_msg *m)
{
	return m->seq_;
}
/* 1 if the message's bytes are still intact (always, for a bulk read's),
 * 0 if overwritten (then counted lost, once) or m is NULL. */
int bcast_msg_valid(const struct bcast_msg *m);
/*
 * Copy whole pending messages (up to cap bytes) out of the ring in one go,
 * check once, then walk them with bcast_bulk_next(): bytes copied (> 0),
 * -EAGAIN, -EMSGSIZE if the next message does not fit (always with
 * cap < 8), -BCAST_EOVERRUN, -BCAST_ECORRUPT (after the good messages
 * before the bad frame were handed out), -EINVAL (rd, dst or bulk NULL),
 * -EBUSY (as bcast_batch()).  The messages count as delivered here.
 */
ssize_t bcast_read_bulk(struct bcast_reader *rd, void *dst, size_t cap,
			struct bcast_bulk *bulk);
/*
 * The next message of a bulk read, in its buffer (m->data_, see
 * bcast_msg_peek(); fragments are joined in place): 1, or 0 at the end;
 * -EINVAL, -BCAST_ECORRUPT only if the buffer or `bulk` was changed since.
 * In line (below): the buffer was checked when it was copied.
 */
static inline int bcast_bulk_next(struct bcast_bulk *bulk, struct bcast_msg *m);
/*
 * Block until a message is pending: 0, -ETIMEDOUT, -BCAST_EWRITERGONE,
 * -EINTR.  timeout_ms < 0: forever.  -BCAST_EWRITERGONE comes once per
 * departed writer, after everything it committed was read; the next call
 * (like one on a ring that never had a writer) sleeps, using no CPU,
 * until a writer publishes or the time runs out.  A reader that may not
 * write the ring (BCAST_RDONLY memory, a shm file it may only read) sleeps
 * in slices of 1 ms doubling to 50 ms instead of asking for a wake-up.
 */
int bcast_wait(struct bcast_reader *rd, int timeout_ms);
/* A pollable fd (device rings); -ENOTSUP elsewhere. */
int bcast_reader_fd(struct bcast_reader *rd);
/*
 * Before polling bcast_reader_fd() yourself (epoll with EPOLLIN |
 * EPOLLPRI, or an eventfd): ask the kernel to wake it once a message is
 * pending, or the writer goes (EPOLLHUP), or, once bcast_wait() has
 * reported that departure, when the next writer comes (EPOLLPRI).  1 if a
 * message already is pending, 0 if armed, -ENOTSUP for rings without a
 * device.  Arm before every wait: after a wake-up for anyone the fd stays
 * ready until it is armed again.
 */
int bcast_reader_arm(struct bcast_reader *rd);
/* This reader's counts since it opened: 0, -EINVAL (rd or st NULL).  From
 * the reader's own thread. */
int bcast_reader_stats(const struct bcast_reader *rd,
		       struct bcast_reader_stats *st);
/* Position of the next frame this reader will look at (0 for NULL). */
uint64_t bcast_reader_position(const struct bcast_reader *rd);
/* Free the reader (and close its device file); its batch, bulk and
 * message handles become invalid.  NULL is ignored. */
void bcast_reader_close(struct bcast_reader *rd);

/* ---- waiting on many readers and file descriptors at once ---- */

struct bcast_poller;

/* bcast_poller_event.events */
#define BCAST_POLL_DATA		0x1	/* the reader has a message pending */
#define BCAST_POLL_WRITER_GONE	0x2	/* its writer went and everything it
					 * committed was read (once per writer,
					 * like bcast_wait()'s) */
#define BCAST_POLL_WRITER_NEW	0x4	/* a writer came since the reader was
					 * opened, or since the last arrival
					 * or departure reported for it (once
					 * per writer, even if it came before
					 * the reader joined the poller) */
#define BCAST_POLL_FD		0x8	/* an added fd is ready: see revents */

struct bcast_poller_event {
	uint64_t tag;			/* as given when added */
	struct bcast_reader *reader;	/* NULL for an fd */
	int fd;				/* the fd, -1 for a reader */
	uint32_t events;		/* BCAST_POLL_* */
	uint32_t revents;		/* fds: POLLIN, POLLOUT, POLLERR, POLLHUP */
};

/* bcast_poller_create() flags */
#define BCAST_POLLER_NO_URING	0x1	/* never io_uring: epoll, threads */

/* bcast_poller_stats.how: the mechanisms its last sleep used */
#define BCAST_POLLER_FUTEX_WAITV 0x01	/* futex_waitv() in the caller */
#define BCAST_POLLER_URING	0x02	/* io_uring_enter() */
#define BCAST_POLLER_EPOLL	0x04	/* epoll_wait() */
#define BCAST_POLLER_URING_FUTEX 0x08	/* io_uring futex waits (Linux 6.7) */
#define BCAST_POLLER_URING_CMD	0x10	/* bcast.ko's io_uring WAIT (6.7) */
#define BCAST_POLLER_THREADS	0x20	/* threads in futex_waitv() */

struct bcast_poller_stats {
	uint64_t waits;			/* bcast_poller_wait() calls */
	uint64_t sleeps;		/* ... that slept */
	uint64_t missed_wakeups;	/* slept to a timeout although a reader
					 * that asked to be woken had data */
	unsigned how;			/* BCAST_POLLER_*, of the last sleep */
	unsigned threads;		/* helper threads running */
	uint64_t reserved_[4];
};

/*
 * A set of readers (of any backend) and file descriptors to wait on
 * together.  One thread at a time uses a poller and its readers; adding or
 * removing while another thread is in bcast_poller_wait() is refused
 * (-EBUSY).  0, -EINVAL, -ENOMEM.
 */
int bcast_poller_create(unsigned flags, struct bcast_poller **out);
/* 0, -EINVAL, -EEXIST (already in a poller), -ENOMEM, -EBUSY. */
int bcast_poller_add_reader(struct bcast_poller *p, struct bcast_reader *rd,
			    uint64_t tag);
/* Watch fd for `events` (POLLIN, POLLOUT, POLLPRI), level-triggered: 0,
 * -EINVAL, -EEXIST, -ENOMEM, -EBUSY. */
int bcast_poller_add_fd(struct bcast_poller *p, int fd, uint32_t events,
			uint64_t tag);
/* 0, -ENOENT, -EBUSY.  A removed fd is the caller's to close afterwards. */
int bcast_poller_remove_reader(struct bcast_poller *p, struct bcast_reader *rd);
int bcast_poller_remove_fd(struct bcast_poller *p, int fd);
/*
 * Wait until a reader has a message or news of its writer, or an fd is
 * ready: the number of events written (1..max), 0 on timeout, -EINTR,
 * -EINVAL, -EBUSY (another thread waits).  timeout_ms < 0: forever.
 * Level-triggered: a reader is reported while it has something to read;
 * writer news once.  Entries are reported in turn, so that a busy one
 * cannot starve the others.
 */
int bcast_poller_wait(struct bcast_poller *p, struct bcast_poller_event *ev,
		      int max, int timeout_ms);
int bcast_poller_stats(const struct bcast_poller *p,
		       struct bcast_poller_stats *st);
/* Free the poller; its readers and fds stay open.  NULL is ignored. */
void bcast_poller_destroy(struct bcast_poller *p);

/* A description of any return value of this library (err or -err), never
 * NULL; unknown values as strerror() describes them. */
const char *bcast_strerror(int err);

/* The library's version, "MAJOR.MINOR.PATCH": that of the libbcast a
 * program runs with, which may be newer than the header it was built with. */
const char *bcast_version(void);

/* ---- in line: the per-message steps of lazy and bulk reads ---- */

/* What the functions below call for anything but the common case. */
int bcast_bulk_next_slow_(struct bcast_bulk *bulk, struct bcast_msg *m);
const void *bcast_msg_peek_ring_(const struct bcast_msg *m);
int bcast_batch_next_slow_(struct bcast_batch *b, struct bcast_msg *m);
ssize_t bcast_msg_read_slow_(const struct bcast_msg *m, void *buf, size_t cap);

/*
 * The lazy steps read the ring in line with GCC's atomics; a thread
 * sanitizer would take their copy of a payload the writer may be
 * overwriting (checked afterwards) for a race, so it gets the library's,
 * whose reads are annotated (BCAST_TSAN_).
 */
#if defined(__SANITIZE_THREAD__)
#define BCAST_TSAN_ 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BCAST_TSAN_ 1
#endif
#endif
#if defined(__GNUC__) && !defined(BCAST_TSAN_)
#define BCAST_LAZY_IN_LINE_ 1
#else
#define BCAST_LAZY_IN_LINE_ 0
#endif

#if defined(__GNUC__)
/* Is the frame at pos still the writer's previous lap or newer?  (The
 * library's own reads ask the same.) */
static inline bool bcast_intact_(const struct bcast_reader_hot_ *h,
				 uint64_t pos)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(h->claimed, __ATOMIC_RELAXED) - pos <= h->cap;
}

/*
 * n <= 64: at most four loads and four stores, no call (a call to memcpy()
 * costs more than the copy, and makes the caller save registers); the
 * library's publish and receive copy with it too.
 */
static inline void bcast_copy_small_(void *dst, const void *src, size_t n)
{
	unsigned char *d = (unsigned char *)dst, a[16], b[16];
	const unsigned char *s = (const unsigned char *)src;

	if (n > 16) {
		__builtin_memcpy(a, s, 16);
		__builtin_memcpy(b, s + n - 16, 16);
		if (n > 32) {
			unsigned char c[16], e[16];

			__builtin_memcpy(c, s + 16, 16);
			__builtin_memcpy(e, s + n - 32, 16);
			__builtin_memcpy(d + 16, c, 16);
			__builtin_memcpy(d + n - 32, e, 16);
		}
		__builtin_memcpy(d, a, 16);
		__builtin_memcpy(d + n - 16, b, 16);
	} else if (n >= 8) {
		__builtin_memcpy(a, s, 8);
		__builtin_memcpy(b, s + n - 8, 8);
		__builtin_memcpy(d, a, 8);
		__builtin_memcpy(d + n - 8, b, 8);
	} else if (n >= 4) {
		__builtin_memcpy(a, s, 4);
		__builtin_memcpy(b, s + n - 4, 4);
		__builtin_memcpy(d, a, 4);
		__builtin_memcpy(d + n - 4, b, 4);
	} else if (n) {
		/* one byte at a time: no register to spare on a fast path */
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}
#endif

/*
 * A whole message in one frame, in bounds, within the batch, its header
 * intact: the handle, without a call.  The reader is the library's,
 * allocated writable; a batch points to it.
 */
static inline int bcast_batch_next(struct bcast_batch *b, struct bcast_msg *m)
{
#if BCAST_LAZY_IN_LINE_
	struct bcast_reader_hot_ *h;
	uint64_t pos, idx, word, total;
	uint32_t len;

	if (__builtin_expect(!b || !b->rd_ || !m, 0))
		return bcast_batch_next_slow_(b, m);
	h = (struct bcast_reader_hot_ *)(void *)b->rd_;
	pos = h->pos;
	if (__builtin_expect(h->need_resync || pos >= b->end_, 0))
		return bcast_batch_next_slow_(b, m);
	idx = pos & h->mask;
	word = __atomic_load_n((const uint64_t *)(const void *)(h->data + idx),
			       __ATOMIC_RELAXED);
	len = (uint32_t)word & 0xffffffu;
	total = 8 + (((uint64_t)len + 7) & ~(uint64_t)7);
	if (__builtin_expect(((uint32_t)word & ~0xffffffu) != 0x01000000u ||
			     len > h->mtu || idx + total > h->cap ||
			     total > b->end_ - pos || !bcast_intact_(h, pos), 0))
		return bcast_batch_next_slow_(b, m);
	m->pos = pos;
	m->len = len;
	m->type = (uint32_t)(word >> 32);
	m->flags = 0;
	m->frames_ = 1;
	m->seq_ = h->seq;
	m->rd_ = b->rd_;
	m->data_ = NULL;
	h->orphans_lost = false;
	h->pos = pos + total;
	h->seq++;
	h->bytes += len;
	h->st.messages++;
	h->st.bytes += len;
	return 1;
#else
	return bcast_batch_next_slow_(b, m);
#endif
}

/*
 * A single-frame handle of up to 64 bytes into a buffer it fits: the copy
 * and its check without a call.  Anything else, an overwritten message
 * included, is the library's to count.
 */
static inline ssize_t bcast_msg_read(const struct bcast_msg *m, void *buf,
				     size_t cap)
{
#if BCAST_LAZY_IN_LINE_
	struct bcast_reader_hot_ *h;
	uint64_t idx;
	uint32_t len;

	if (__builtin_expect(!m || !m->rd_ || m->data_ || m->frames_ != 1 ||
			     !buf || m->len > cap, 0))
		return bcast_msg_read_slow_(m, buf, cap);
	h = (struct bcast_reader_hot_ *)(void *)m->rd_;
	len = m->len;
	if (__builtin_expect(len > h->inline_max, 0))
		return bcast_msg_read_slow_(m, buf, cap);
	idx = m->pos & h->mask;
	if (__builtin_expect(idx + 8 + len > h->cap, 0))
		return bcast_msg_read_slow_(m, buf, cap);
	bcast_copy_small_(buf, h->data + idx + 8, len);
	if (__builtin_expect(!bcast_intact_(h, m->pos), 0))
		return bcast_msg_read_slow_(m, buf, cap);
	/* Settled, in order: see bcast_msg_read_slow_(). */
	if (m->seq_ > h->settled_last || !h->settled_any) {
		h->settled_any = true;
		h->settled_last = m->seq_;
	}
	return (ssize_t)len;
#else
	return bcast_msg_read_slow_(m, buf, cap);
#endif
}

static inline const void *bcast_msg_peek(const struct bcast_msg *m)
{
	if (m && m->data_)
		return m->data_;
	return bcast_msg_peek_ring_(m);
}

/*
 * A whole message in one frame of the copy: its 8-byte header holds the
 * length in the low 24 bits, the flags (0x01: the only frame) in the next
 * 8, the type in the high 32 (include/uapi/linux/bcast.h).
 */
static inline int bcast_bulk_next(struct bcast_bulk *bulk, struct bcast_msg *m)
{
	size_t off, total;
	uint64_t word;
	uint32_t len;

	if (!bulk || !m || !bulk->rd_)
		return bcast_bulk_next_slow_(bulk, m);
	off = bulk->off_;
	if (off < bulk->run_end_) {
		/* equal frames, checked when copied: the next offset does
		 * not wait for this header */
		total = bulk->stride_;
		__builtin_memcpy(&word, bulk->buf_ + off, sizeof(word));
		len = (uint32_t)word & 0xffffffu;
	} else {
		if (off + 8 > bulk->len_)
			return bcast_bulk_next_slow_(bulk, m);
		__builtin_memcpy(&word, bulk->buf_ + off, sizeof(word));
		len = (uint32_t)word & 0xffffffu;
		total = 8 + (((size_t)len + 7) & ~(size_t)7);
		if (((uint32_t)word >> 24) != 0x01 || total > bulk->len_ - off)
			return bcast_bulk_next_slow_(bulk, m);
	}
	m->pos = bulk->pos_ + off;
	m->len = len;
	m->type = (uint32_t)(word >> 32);
	m->flags = BCAST_MSG_COPIED;
	m->frames_ = 1;
	m->seq_ = 0;
	m->rd_ = NULL;
	m->data_ = bulk->buf_ + off + 8;
	bulk->off_ = off + total;
	return 1;
}

#ifdef __cplusplus
}
#endif
#endif /* BCAST_H */
