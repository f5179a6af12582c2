/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * bcast: single-producer / many-consumer broadcast ring.
 *
 * The shared-memory layout of a ring and the ioctl interface of bcast.ko.
 * Every field below lives in memory that another process writes: readers
 * validate each value before use.
 *
 * A ring is BCAST_HDR_SIZE bytes of header followed by `capacity` bytes of
 * data (a power of two).  Positions are 64-bit byte counters that only grow;
 * the byte at position p lives at data[p & (capacity - 1)].
 */
#ifndef _UAPI_LINUX_BCAST_H
#define _UAPI_LINUX_BCAST_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define BCAST_RING_MAGIC	0x31474e4952544342ULL	/* "BCTRING1" */
#define BCAST_ABI_VERSION	3

#define BCAST_HDR_SIZE		8192	/* data starts here */
#define BCAST_WAKE_OFFSET	4096	/* page readers may write (shm only) */
#define BCAST_LINE		128	/* hot words each own a line this big */
#define BCAST_METADATA_MAX	1024
#define BCAST_SYNC_SLOTS	64

#define BCAST_MIN_CAPACITY	4096ULL
#define BCAST_MAX_CAPACITY	(1ULL << 40)

/* Frames: an 8-byte header then the payload, padded to 8 bytes. */
#define BCAST_FRAME_HDR		8
#define BCAST_FRAME_ALIGN	8
#define BCAST_FRAME_LEN_MASK	0x00ffffffU	/* payload length: low 24 bits */
#define BCAST_FRAME_FLAG_SHIFT	24
#define BCAST_MAX_MTU		(BCAST_FRAME_LEN_MASK & ~7U)

/*
 * Ring geometry, defined here once for the library, bcast.ko and the tools;
 * the capacity `cap` is a power of two.  BCAST_FRAME_TOTAL: bytes a frame
 * of `len` payload bytes takes.  BCAST_DEFAULT_MTU: the largest frame
 * payload of a ring created without one (a quarter of the ring), and the
 * largest any ring may have.  bcast_chunk_shift(): log2 of the step by
 * which the writer moves `claimed` ahead of the frame it writes
 * (capacity/256, lowered to a frame of the MTU for rings with a small
 * MTU): a reader is lapped only when it is more than capacity minus that
 * step (or minus the frame being written, if larger) behind `committed`.
 * BCAST_SYNC_SPACING: a writer records a sync point whenever it has
 * written this much since the last one (capacity/32: the 64 slots span two
 * laps).  A header whose values break these rules is corrupt.
 */
#define BCAST_FRAME_TOTAL(len) \
	(BCAST_FRAME_HDR + (((__u64)(len) + BCAST_FRAME_ALIGN - 1) & \
			    ~(__u64)(BCAST_FRAME_ALIGN - 1)))
#define BCAST_DEFAULT_MTU(cap) \
	((cap) / 4 - BCAST_FRAME_HDR > BCAST_MAX_MTU ? (__u64)BCAST_MAX_MTU : \
	 (__u64)((cap) / 4 - BCAST_FRAME_HDR))
#define BCAST_MIN_MTU		8
#define BCAST_MIN_CHUNK_SHIFT	3	/* one frame header */
#define BCAST_MAP_SIZE(cap)	(BCAST_HDR_SIZE + (__u64)(cap))
/* Header, data, then the reader registry: `slots` slots of `slot_size`. */
#define BCAST_RING_SIZE(cap, slots, slot_size) \
	(BCAST_MAP_SIZE(cap) + (__u64)(slots) * (slot_size))
#define BCAST_SYNC_SPACING(cap)		((cap) / 32)

/* log2 of a power of two (or of the power of two below `v`), v > 0. */
static __inline__ unsigned int bcast_log2(__u64 v)
{
	return 63 - (unsigned int)__builtin_clzll(v);
}

/* A data capacity a ring may have: a power of two in [4096, 2^40]. */
static __inline__ int bcast_capacity_valid(__u64 cap)
{
	return !(cap & (cap - 1)) && cap >= BCAST_MIN_CAPACITY &&
	       cap <= BCAST_MAX_CAPACITY;
}

static __inline__ int bcast_mtu_valid(__u64 mtu, __u64 cap)
{
	return mtu >= BCAST_MIN_MTU && mtu <= BCAST_DEFAULT_MTU(cap);
}

static __inline__ unsigned int bcast_chunk_shift(__u64 cap, __u64 mtu)
{
	unsigned int shift = bcast_log2(cap) - 8;
	unsigned int frame = bcast_log2(BCAST_FRAME_TOTAL(mtu));

	return frame < shift ? frame : shift;
}

/*
 * Gated rings step further (capacity/32): the writer looks at its
 * registered readers once per step, and a reader that does not register
 * is reported lapped up to a step early there.
 */
static __inline__ unsigned int bcast_gated_chunk_shift(__u64 cap, __u64 mtu)
{
	unsigned int shift = bcast_log2(cap) - 5;
	unsigned int frame = bcast_chunk_shift(cap, mtu);

	return frame > shift ? frame : shift;
}

/* The step may be smaller than bcast_chunk_shift() gives, never over a
 * quarter of the ring. */
static __inline__ int bcast_chunk_shift_valid(__u64 shift, __u64 cap)
{
	return shift >= BCAST_MIN_CHUNK_SHIFT && shift <= bcast_log2(cap) - 2;
}

/* Frame flags (high 8 bits of the first header word). */
#define BCAST_FRAME_FIN		0x01	/* last (or only) fragment of a message */
#define BCAST_FRAME_CONT	0x02	/* not the first fragment; word 1 = offset */
#define BCAST_FRAME_PAD		0x04	/* filler up to the end of the data area */
#define BCAST_FRAME_HEARTBEAT	0x08	/* liveness frame, no payload */
#define BCAST_FRAME_GAP		0x10	/* word 1 = messages lost upstream of
					 * the writer: an overrun to readers */
#define BCAST_FRAME_SKIP	0x20	/* word 1 = messages numbered without
					 * being in the ring: counted only */
#define BCAST_FRAME_KNOWN	0x3f

/* Ring header flags. */
#define BCAST_RING_HUGEPAGE	0x01	/* data area is backed by huge pages */
#define BCAST_RING_DEVICE	0x02	/* memory belongs to bcast.ko */
#define BCAST_RING_GATED	0x04	/* the writer never overwrites what a
					 * registered reader has not consumed */

/* writer_flags */
#define BCAST_WRITER_MEMBARRIER	0x01	/* writer relies on readers' membarrier */

/* reader_flags (wake page; any reader may set them, none clears them) */
#define BCAST_READERS_NO_MEMBARRIER 0x01 /* a reader's membarrier() failed:
					   * writers must fence themselves */

/*
 * writer_lock: the identity of a user-space writer (shm, file and memory
 * rings; bcast.ko keeps its own for device rings), claimed by one
 * compare-and-swap from 0 or from a dead owner's value, released to 0.
 * Bits 0-21: pid; bits 22-62: start time in clock ticks since boot
 * (/proc/PID/stat field 22); bit 63: the owner also holds an OFD write
 * lock on bytes [BCAST_LOCK_OFFSET, +8) of the ring's file, so its death
 * can be seen from any pid namespace.
 */
#define BCAST_LOCK_PID_BITS	22
#define BCAST_LOCK_PID_MASK	((1ULL << BCAST_LOCK_PID_BITS) - 1)
#define BCAST_LOCK_START_MASK	((1ULL << 41) - 1)
#define BCAST_LOCK_OFD		(1ULL << 63)

/*
 * A resynchronisation point, written by the writer every
 * BCAST_SYNC_SPACING bytes (when it advances `claimed`) and where a writer
 * takes over: `pos` is a frame boundary, `seq` the number of messages and
 * `bytes` the payload bytes of messages completed before it.  Readers read
 * pos, seq, bytes, then pos again; a slot is only ever rewritten with a
 * larger pos (BCAST_SYNC_INVALID while being rewritten).
 */
#define BCAST_SYNC_INVALID	(~0ULL)
struct bcast_sync_point {
	__u64 pos;
	__u64 seq;
	__u64 bytes;
	__u64 reserved;
};

struct bcast_ring_hdr {
	/* Line 0: written once by the creator. */
	__u64 magic;
	__u32 abi_version;
	__u32 flags;			/* BCAST_RING_* */
	__u64 capacity;			/* data bytes, a power of two */
	__u32 mtu;			/* largest frame payload */
	__u32 hdr_size;			/* == BCAST_HDR_SIZE */
	__u32 metadata_len;
	__u32 chunk_shift;		/* log2 of the claimed-frontier step */
	__u32 reader_slots;		/* slots in the reader registry */
	__u32 slot_size;		/* bytes per slot: BCAST_SLOT_SIZE, or
					 * BCAST_DEVICE_SLOT_SIZE (bcast.ko) */
	__u64 evict_bytes;		/* gated: evict a reader this far behind */
	__u32 evict_ms;			/* gated: ... or gating this long */
	__u32 line0_reserved;
	__u8  line0_pad[BCAST_LINE - 64];

	/* Line 1: frames below this position are complete (release/acquire). */
	__u64 committed;
	__u8  line1_pad[BCAST_LINE - 8];

	/* Line 2: the writer writes no byte at position p before claimed > p. */
	__u64 claimed;
	__u8  line2_pad[BCAST_LINE - 8];

	/* Line 3: writer state. */
	__u32 writer_alive;
	__u32 writer_pid;		/* lock word for user-space writers */
	__u64 writer_epoch;		/* bumped on every writer attach */
	__u64 writer_start;		/* writer's start time (clock ticks) */
	__u64 writer_pidns;		/* inode of the writer's pid namespace */
	__u32 writer_flags;		/* BCAST_WRITER_* */
	__u32 sync_next;		/* next sync slot the writer fills */
	__u64 writer_lock;		/* see BCAST_LOCK_* */
	__u8  line3_pad[BCAST_LINE - 48];

	struct bcast_sync_point sync[BCAST_SYNC_SLOTS];
	__u8  metadata[BCAST_METADATA_MAX];
	__u8  page0_pad[BCAST_WAKE_OFFSET - 4 * BCAST_LINE -
			BCAST_SYNC_SLOTS * 32 - BCAST_METADATA_MAX];

	/* Page 1: wake-up words.  A reader about to sleep sets need_wakeup
	 * and sleeps while wake_seq is unchanged; a writer that sees
	 * need_wakeup clears it, bumps wake_seq and wakes the sleepers.
	 */
	__u32 need_wakeup;
	__u32 wake_seq;			/* futex word */
	__u32 reader_flags;		/* BCAST_READERS_* */
	__u8  wake_pad[BCAST_LINE - 12];

	/* The same in the other direction, for a gated writer waiting for
	 * room: it sets gate_need_wakeup and sleeps while gate_seq is
	 * unchanged; a reader that moves on and sees it clears it, bumps
	 * gate_seq and wakes the writer.  registry_gen: bumped by every
	 * reader that joins the registry (see struct bcast_reader_slot);
	 * registry_high: slots below this index may be in use. */
	__u32 gate_need_wakeup;
	__u32 gate_seq;			/* futex word */
	__u32 registry_gen;
	__u32 registry_high;
	__u8  page1_pad[BCAST_HDR_SIZE - BCAST_WAKE_OFFSET - BCAST_LINE - 16];
};

/*
 * The reader registry: reader_slots slots of slot_size bytes right after
 * the data area (at BCAST_MAP_SIZE(capacity)).  A reader owns a slot by
 * one compare-and-swap of `owner` from 0, or from the value of an owner
 * found dead (BCAST_LOCK_* as writer_lock; bit 63: it holds an OFD write
 * lock on the owner word's 8 bytes of the ring file); then it writes
 * position, messages and bytes, sets `joined` with release, bumps
 * registry_gen, and re-checks `claimed`: its position is safe from a
 * gated writer once claimed <= position + capacity after that bump.
 * Everything but the evict_* words is written by the owner alone; the
 * writer writes evict_pos, evict_seq and evict_bytes, then bumps
 * `evictions` (release), when it evicts the reader to evict_pos.
 */
struct bcast_reader_slot {
	__u64 owner;			/* BCAST_LOCK_* token, 0 if free */
	__u64 position;			/* consumed everything below (release) */
	__u64 messages;			/* writer's message count there */
	__u64 bytes;			/* ... and payload byte count */
	__u64 overruns;			/* the reader's own counts */
	__u64 lost_messages;
	__u64 lost_bytes;
	__u64 active_ns;		/* CLOCK_REALTIME of its last read */
	__u32 pid;			/* as the reader sees itself */
	__u32 joined;			/* position is valid (release) */
	__u64 evictions;		/* writer: times it evicted this reader */
	__u64 evict_pos;		/* writer: where it moved it to */
	__u64 evict_seq;
	__u64 evict_bytes;
	__u8  pad[BCAST_LINE - 104];
};
#define BCAST_SLOT_SIZE		BCAST_LINE	/* shm, file, memory rings */
#define BCAST_DEVICE_SLOT_SIZE	4096	/* bcast.ko rings: a page per slot */
#define BCAST_MAX_READER_SLOTS	65536
#define BCAST_DEFAULT_READER_SLOTS 1024	/* shm and file rings */
#define BCAST_DEFAULT_DEVICE_SLOTS 16	/* bcast.ko rings (a page each) */

/* Byte range of the ring file that a shm/file writer holds OFD-locked. */
#define BCAST_LOCK_OFFSET	(3 * BCAST_LINE + 40)

/*
 * bcast.ko: /dev/bcast-ctl creates and destroys rings; each ring is
 * /dev/bcastN.  Opening it O_RDWR makes the one writer (-EBUSY if there is
 * one); O_RDONLY makes a reader, whose mappings can never be written.
 *
 * BCAST_IOC_ARM (reader): record {pos, epoch, flags} and set need_wakeup;
 *	returns 1 if committed already differs from pos, else 0.  poll()
 *	then reports, level-triggered:
 *	  EPOLLIN | EPOLLRDNORM  committed != pos;
 *	  EPOLLHUP  the ring has no writer, unless the reader armed with
 *		    BCAST_ARM_WRITER_GONE and `epoch` equal to the ring's
 *		    writer epoch (it has already seen that writer go, or, with
 *		    epoch 0, that the ring never had one);
 *	  EPOLLPRI  armed with BCAST_ARM_WRITER_GONE and the ring's writer
 *		    epoch differs from `epoch`: a new writer attached.
 *	So a reader that has seen its writer depart re-arms with
 *	BCAST_ARM_WRITER_GONE and sleeps (no EPOLLHUP storm) until the next
 *	writer attaches (EPOLLPRI) or publishes (EPOLLIN).  A file that was
 *	never armed behaves as armed with {committed at open, 0, 0}.
 *	BCAST_ARM_NO_MEMBARRIER: the reader, whose mapping is read-only,
 *	cannot stand in for the writer's barrier (its membarrier() failed):
 *	the kernel sets BCAST_READERS_NO_MEMBARRIER in reader_flags for it,
 *	and the writer fences its publishes from its next wake-up on.
 * BCAST_IOC_WAIT (reader): sleep until poll() would report an event (as
 *	armed), or for at most timeout_ns (forever if negative); returns
 *	the poll() events, 0 on timeout, -EINTR on a signal (not restarted).
 *	The same sleep as poll() on this one file, with less work on waking.
 * BCAST_IOC_NOTIFY (writer): clear need_wakeup and wake every poller and
 *	registered eventfd; costs the writer O(1) whatever the number of
 *	readers (wake-ups of many readers are handed to a kernel worker).
 * BCAST_IOC_SET_EVENTFD (reader): signal this eventfd on every wake-up
 *	(-1 removes it).
 * BCAST_IOC_INFO: geometry and name of the ring.
 * BCAST_IOC_OPEN_READER (any ring file): a new reader file (O_RDONLY,
 *	O_CLOEXEC) of the same ring, returned as the ioctl's result: the
 *	ring this file maps, even if its node was destroyed and its minor
 *	reused since.
 * write() (writer): 8 bytes, whatever they hold (the kernel does not read
 *	them), are a BCAST_IOC_NOTIFY; returns 8, -EINVAL for any other
 *	length (readers cannot write: -EBADF).  So io_uring can notify
 *	(IORING_OP_WRITE, any kernel): it runs the write in its io-wq
 *	worker, not in the writer's thread; give the SQE IOSQE_ASYNC, or
 *	6.12 first retries it in the submitting thread up to 128 times.
 * BCAST_URING_WAIT, BCAST_URING_WAIT_GONE (reader, IORING_OP_URING_CMD,
 *	kernels from 6.7): sqe->cmd_op, and a struct bcast_uring_wait in
 *	the SQE's command area (sqe->cmd, 16 bytes).  Arms the file as
 *	BCAST_IOC_ARM does with {pos, epoch, 0}, or with
 *	BCAST_ARM_WRITER_GONE for WAIT_GONE, and completes as soon as
 *	poll() would report (as armed then: a later BCAST_IOC_ARM of the
 *	same file re-arms it).  The CQE's res is the poll() events, or
 *	  -EPERM	the writer's file;
 *	  -EINVAL	an unknown cmd_op, IORING_URING_CMD_FIXED, or non-zero
 *			sqe->addr, len, ioprio, buf_index or file_index;
 *	  -EBUSY	this file has a WAIT pending already (one per file);
 *	  -ECANCELED	cancelled: BCAST_IOC_CANCEL, or io_uring's own
 *			cancellation when the task exits or the ring closes;
 *	  -EOPNOTSUPP	before 6.7 (io_uring says so: arm with BCAST_IOC_ARM
 *			and wait with IORING_OP_POLL_ADD there).
 *	A pending WAIT holds the file (and so the module) like an open fd.
 * BCAST_IOC_CANCEL (reader): complete this file's pending WAIT with
 *	-ECANCELED; returns 1 if one was pending, 0 if none.
 *
 * The reader registry of bcast.ko rings: a page per slot, after the data
 * area; every mapping of the ring shows it, readers' read-only.
 * BCAST_IOC_REGISTER (reader): take the lowest free slot for this file:
 *	the kernel zeroes it, writes owner (a token of its own) and pid,
 *	raises registry_high, and returns a new file (O_RDWR, O_CLOEXEC)
 *	whose mmap() of one page at offset 0 is that slot, writable: the
 *	reader's only writable mapping of the ring.  The slot is the
 *	reader's until that file is released (its last fd and mapping gone,
 *	crash included): then the kernel clears owner and joined and wakes
 *	a writer waiting for room.  out.slot: its index.  -ENOSPC when
 *	every slot is taken, -EOPNOTSUPP for a ring without slots, -EPERM
 *	on the writer's file, -EBUSY if this file registered already.
 * BCAST_IOC_SLOT_JOINED (slot file): the reader wrote its position and
 *	set joined: bump registry_gen, with full barriers on both sides
 *	(see struct bcast_reader_slot).
 * BCAST_IOC_GATE_NOTIFY (reader or slot file): what a shm reader does
 *	itself when it sees gate_need_wakeup: clear it, bump gate_seq and
 *	wake the writer sleeping in BCAST_IOC_GATE_WAIT.  Returns 1 if the
 *	writer had asked, else 0.
 * BCAST_IOC_GATE_WAIT (writer): sleep while gate_seq equals `seq`, for at
 *	most timeout_ns (forever if negative): 0 when it changed (or had),
 *	-ETIMEDOUT, -EINTR on a signal.
 */
#define BCAST_NAME_MAX		64

/*
 * bcast.ko ring names become /dev/bcast/NAME: 1 to BCAST_NAME_MAX - 1
 * bytes of [A-Za-z0-9._-], not "." or "..".  Reads no byte past
 * name[BCAST_NAME_MAX - 1].
 */
static __inline__ int bcast_ring_name_valid(const char *name)
{
	unsigned int i;

	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (i == BCAST_NAME_MAX - 1)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	if (!i || (name[0] == '.' && (i == 1 || (i == 2 && name[1] == '.'))))
		return 0;
	return 1;
}

/*
 * A create request's gid: the module's ctl_gid group when it has one (the
 * group its packages name "bcast"), else the creator's filesystem gid.
 */
#define BCAST_CTL_GID_DEFAULT	((__u32)-1)

struct bcast_ctl_create {
	char  name[BCAST_NAME_MAX];	/* NUL-terminated */
	__u64 size;			/* data capacity, a power of two */
	__u32 flags;			/* BCAST_RING_HUGEPAGE, BCAST_RING_GATED */
	__u32 mode;			/* permission bits of /dev/bcastN */
	__u32 uid;
	__u32 gid;			/* or BCAST_CTL_GID_DEFAULT */
	__u32 minor;			/* out: N of /dev/bcastN */
	__u32 reader_slots;		/* registry slots, 0..65536 (GATED: >0) */
};

struct bcast_register {
	__u32 slot;			/* out: the slot's index */
	__u32 reserved;			/* must be 0 */
};

struct bcast_gate_wait {
	__u32 seq;			/* sleep while gate_seq is this */
	__u32 reserved;			/* must be 0 */
	__s64 timeout_ns;		/* < 0: no timeout */
};

struct bcast_ctl_destroy {
	char  name[BCAST_NAME_MAX];
};

struct bcast_arm {
	__u64 pos;			/* wake when committed differs from this */
	__u64 epoch;			/* with BCAST_ARM_WRITER_GONE */
	__u32 flags;			/* BCAST_ARM_* */
	__u32 reserved;			/* must be 0 */
};
#define BCAST_ARM_WRITER_GONE	0x1	/* writer `epoch` is known to be gone */
#define BCAST_ARM_NO_MEMBARRIER	0x2	/* the reader's membarrier() failed: set
					 * BCAST_READERS_NO_MEMBARRIER for it */

struct bcast_wait_arg {
	__s64 timeout_ns;		/* < 0: no timeout */
	__u64 reserved;			/* must be 0 */
};

struct bcast_dev_info {
	__u64 capacity;			/* data bytes */
	__u64 map_size;			/* bytes to mmap from offset 0 */
	__u32 flags;			/* BCAST_RING_* */
	__u32 minor;
	char  name[BCAST_NAME_MAX];
};

#define BCAST_IOC_MAGIC		0xbc
#define BCAST_CTL_CREATE	_IOWR(BCAST_IOC_MAGIC, 0x01, struct bcast_ctl_create)
#define BCAST_CTL_DESTROY	_IOW(BCAST_IOC_MAGIC, 0x02, struct bcast_ctl_destroy)
#define BCAST_IOC_ARM		_IOW(BCAST_IOC_MAGIC, 0x10, struct bcast_arm)
#define BCAST_IOC_NOTIFY	_IO(BCAST_IOC_MAGIC, 0x11)
#define BCAST_IOC_SET_EVENTFD	_IOW(BCAST_IOC_MAGIC, 0x12, __s32)
#define BCAST_IOC_INFO		_IOR(BCAST_IOC_MAGIC, 0x13, struct bcast_dev_info)
#define BCAST_IOC_OPEN_READER	_IO(BCAST_IOC_MAGIC, 0x14)
#define BCAST_IOC_WAIT		_IOW(BCAST_IOC_MAGIC, 0x15, struct bcast_wait_arg)
#define BCAST_IOC_CANCEL	_IO(BCAST_IOC_MAGIC, 0x16)
#define BCAST_IOC_REGISTER	_IOWR(BCAST_IOC_MAGIC, 0x17, struct bcast_register)
#define BCAST_IOC_SLOT_JOINED	_IO(BCAST_IOC_MAGIC, 0x18)
#define BCAST_IOC_GATE_NOTIFY	_IO(BCAST_IOC_MAGIC, 0x19)
#define BCAST_IOC_GATE_WAIT	_IOW(BCAST_IOC_MAGIC, 0x1a, struct bcast_gate_wait)

/* IORING_OP_URING_CMD on a reader file: sqe->cmd_op, and in the SQE's
 * 16-byte command area (io_uring_sqe_cmd()) a struct bcast_uring_wait. */
struct bcast_uring_wait {
	__u64 pos;			/* as struct bcast_arm */
	__u64 epoch;
};
#define BCAST_URING_WAIT	0xbc01	/* arm {pos, epoch, 0}, complete when
					 * poll() would report */
#define BCAST_URING_WAIT_GONE	0xbc02	/* the same, armed with
					 * BCAST_ARM_WRITER_GONE */

#endif /* _UAPI_LINUX_BCAST_H */
