/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bcast.ko internals.
 *
 *   main.c   module parameters, init and exit
 *   ctl.c    /dev/bcast-ctl: create and destroy rings
 *   ring.c   the ring object: lifetime, registry, header format
 *   mem.c    ring memory: 2 MiB compound pages or order-0 pages
 *   mmap.c   mapping ring memory into user space (PMD or PTE entries)
 *   file.c   /dev/bcastN: writer/reader files, ioctls, poll, write
 *   uring.c  io_uring commands on reader files: BCAST_URING_WAIT (6.7+)
 *   wake.c   waking pollers and eventfds: inline or from a worker
 *   registry.c  reader slots, their writable pages, the gated writer's sleep
 *   sysfs.c  class "bcast", uevent, device node, attributes
 */
#ifndef _BCAST_INTERNAL_H
#define _BCAST_INTERNAL_H

#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/version.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <linux/bcast.h>

struct io_uring_cmd;

/*
 * io_uring commands (uring.c) need io_uring_cmd_mark_cancelable(), new in
 * 6.7: without it a WAIT that never completes would hang its task's exit.
 */
#define BCAST_URING_CMD	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0))

/* A PMD maps 2^BCAST_HUGE_ORDER base pages (2 MiB on x86-64). */
#define BCAST_HUGE_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#define BCAST_HUGE_SIZE		BIT_ULL(PMD_SHIFT)

#define BCAST_DEFAULT_MODE	0600

/* Module parameters (main.c), fixed after load but max_readers. */
extern u64 bcast_max_ring_size;
extern u64 bcast_max_total;
extern unsigned int bcast_max_rings;
extern unsigned int bcast_max_readers;	/* READ_ONCE: root may change it */
extern bool bcast_hugepage;
extern int bcast_ctl_gid;

/*
 * Ring memory: @nr blocks of 2^@order pages.  Order-0 blocks are not
 * contiguous with each other: address memory one block at a time.
 */
struct bcast_mem {
	struct page **pages;
	unsigned long nr;
	unsigned int order;		/* 0 or BCAST_HUGE_ORDER */
	u64 size;			/* bytes: the map size */
};

int bcast_mem_alloc(struct bcast_mem *mem, u64 bytes, bool huge);
void bcast_mem_free(struct bcast_mem *mem);
void *bcast_mem_addr(const struct bcast_mem *mem, u64 off);
unsigned long bcast_mem_pfn(const struct bcast_mem *mem, u64 off);
u64 bcast_mem_total(void);

static inline bool bcast_mem_huge(const struct bcast_mem *mem)
{
	return mem->order == BCAST_HUGE_ORDER;
}

/* What a ring is created with (ctl ioctl or the rings= parameter). */
struct bcast_kring_params {
	const char *name;
	u64 size;			/* data capacity */
	bool hugepage;			/* try 2 MiB pages */
	umode_t mode;			/* of /dev/bcastN */
	kuid_t uid;
	kgid_t gid;
	u32 reader_slots;		/* registry slots (a page each) */
	bool gated;			/* BCAST_RING_GATED in the header */
};

/*
 * The ring's writer, as one word so that poll() sees the epoch and the
 * presence together: the epoch (bumped on every attach) shifted left by
 * one, bit 0 set while a writer is attached.  Written under ring->lock.
 */
#define BCAST_WRITER_PRESENT	1ULL

static inline bool bcast_ws_present(u64 ws)
{
	return ws & BCAST_WRITER_PRESENT;
}

static inline u64 bcast_ws_epoch(u64 ws)
{
	return ws >> 1;
}

/*
 * A ring.  References: one while it is registered (has a minor and a
 * device), one per open file (mappings hold their file), one while its
 * wake work is queued.  The memory goes with the last reference.
 */
struct bcast_kring {
	struct kref kref;
	char name[BCAST_NAME_MAX];
	u64 capacity;
	u32 minor;
	umode_t mode;
	kuid_t uid;
	kgid_t gid;
	bool want_huge;
	bool gated;			/* BCAST_RING_GATED */
	bool ready;			/* openable; under bcast_lock */

	struct bcast_mem mem;
	struct bcast_ring_hdr *hdr;	/* fields below BCAST_WAKE_OFFSET only */
	u32 *need_wakeup;		/* in the wake page */
	u32 *reader_flags;		/* in the wake page */

	struct cdev *cdev;		/* allocated: open files pin it */
	struct device *dev;

	struct mutex lock;		/* the writer state and readers */
	atomic64_t writer_state;	/* BCAST_WRITER_PRESENT | epoch << 1 */
	atomic_long_t notifies;		/* BCAST_IOC_NOTIFY calls so far */
	struct pid *writer_pid;
	unsigned int readers;		/* at most max_readers */

	struct mutex efd_lock;		/* efd_list, nr_efds, bcast_file.efd */
	struct list_head efd_list;
	unsigned int nr_efds;
	wait_queue_head_t wq;
	struct work_struct wake_work;	/* wake.c */
	atomic_t wake_mask;		/* __poll_t the work has still to deliver */
	atomic_long_t pmd_mappings;

	/* registry.c; slot_map, slot_pid, registered, slot_tokens and
	 * registry_gen's increments under ring->lock */
	unsigned int nslots;
	unsigned long *slot_map;	/* slots taken */
	struct pid **slot_pid;		/* who registered each */
	unsigned int registered;
	u64 slot_tokens;		/* registrations so far */
	wait_queue_head_t gate_wq;	/* a gated writer waiting for room */
	u32 *gate_need_wakeup;		/* in the wake page */
	u32 *gate_seq;
	u32 *registry_gen;
	u32 *registry_high;
};

/* What a reader armed (BCAST_IOC_ARM). */
struct bcast_armed {
	u64 pos;			/* wake when committed != pos */
	u64 epoch;			/* with BCAST_ARM_WRITER_GONE */
	u32 flags;			/* BCAST_ARM_* */
	unsigned long notifies;		/* ring->notifies when armed */
};

/* An open /dev/bcastN, or a reader made by BCAST_IOC_OPEN_READER. */
struct bcast_file {
	struct bcast_kring *ring;
	bool writer;
	spinlock_t arm_lock;		/* armed, read whole by poll */
	struct bcast_armed armed;
	struct eventfd_ctx *efd;
	struct list_head efd_node;	/* on ring->efd_list while efd is set */
#if BCAST_URING_CMD
	/* uring.c: NULL, BCAST_URING_BUSY or the pending WAIT (cmpxchg) */
	struct io_uring_cmd *uring_cmd;
	struct wait_queue_entry uring_wait;	/* on ring->wq while pending */
#endif
};

/* ring.c */
extern struct mutex bcast_lock;
extern dev_t bcast_devt;
int bcast_kring_create(const struct bcast_kring_params *p,
		       struct bcast_kring **out);
bool bcast_kring_withdraw(struct bcast_kring *ring);
int bcast_kring_destroy(const char *name, bool any);
void bcast_kring_destroy_all(void);
struct bcast_kring *bcast_kring_get(unsigned int minor, struct cdev *cdev);
void bcast_kring_put(struct bcast_kring *ring);

/* sysfs.c */
int bcast_class_register(void);
void bcast_class_unregister(void);
int bcast_device_add(struct bcast_kring *ring);
void bcast_device_del(struct bcast_kring *ring);

/* file.c */
extern const struct file_operations bcast_fops;
int bcast_file_arm(struct bcast_file *bf, const struct bcast_arm *arm);
__poll_t bcast_reader_events(struct bcast_file *bf);

/* uring.c */
#if BCAST_URING_CMD
int bcast_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);
int bcast_uring_cancel(struct bcast_file *bf);
#else
/* No WAIT can be pending: io_uring refuses it (no ->uring_cmd). */
static inline int bcast_uring_cancel(struct bcast_file *bf)
{
	return 0;
}
#endif

/*
 * The key that a wake-up with @mask carries to the wait queue's entries
 * (wake.c), 0 meaning none.  What a reader is told depends on how it
 * armed (file.c), so only a NOTIFY's EPOLLIN holds for every sleeper: a
 * writer attaching or going wakes with no key, for each to poll again.
 * io_uring's POLL_ADD, given a key, reports it as the result without
 * calling poll(), and ignores a key of EPOLLPRI alone.
 */
static inline __poll_t bcast_wake_key(__poll_t mask)
{
	return mask & ~(EPOLLIN | EPOLLRDNORM) ? 0 : mask;
}

/* A wait's timeout in ns from user space: KTIME_MAX (no timer) if < 0. */
static inline ktime_t bcast_wait_timeout(s64 ns)
{
	return ns < 0 ? KTIME_MAX : ns_to_ktime(ns);
}

/*
 * What a wait woken by a signal returns: no restart, the time already
 * slept would count twice.  Only task work (io_uring's completions for
 * this task) woke us: run it on the way out and sleep again, as poll()
 * does.
 */
static inline long bcast_wait_interrupted(void)
{
	return task_sigpending(current) ? -EINTR : -ERESTARTNOINTR;
}

/* wake.c */
int bcast_wake_init(void);
void bcast_wake_exit(void);
void bcast_wake_ring_init(struct bcast_kring *ring);
void bcast_wake(struct bcast_kring *ring, __poll_t mask);

/* mmap.c */
int bcast_mmap(struct file *file, struct vm_area_struct *vma);

static inline void bcast_vm_flags_set(struct vm_area_struct *vma,
				      vm_flags_t set, vm_flags_t clear)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/* registry.c */
int bcast_registry_init(struct bcast_kring *ring, unsigned int slots);
void bcast_registry_free(struct bcast_kring *ring);
struct bcast_reader_slot *bcast_slot(const struct bcast_kring *ring,
				     unsigned int i);
int bcast_gate_notify(struct bcast_kring *ring);
long bcast_ioc_register(struct bcast_file *bf, void __user *uarg);
long bcast_ioc_gate_wait(struct bcast_file *bf, void __user *uarg);
ssize_t bcast_registry_show(struct bcast_kring *ring, char *buf);

/* ctl.c */
int bcast_ctl_register(void);
void bcast_ctl_unregister(void);

#endif /* _BCAST_INTERNAL_H */
