/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bcast.ko internals.
 *
 *   main.c   module parameters, init and exit
 *   ctl.c    /dev/bcast-ctl: create and destroy rings
 *   ring.c   the ring object: lifetime, registry, header format
 *   mem.c    ring memory: 2 MiB compound pages or order-0 pages
 *   mmap.c   mapping ring memory into user space (PMD or PTE entries)
 *   file.c   /dev/bcastN: writer/reader files, ioctls, poll, eventfd
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
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/version.h>
#include <linux/wait.h>

#include <linux/bcast.h>

/* A PMD maps 2^BCAST_HUGE_ORDER base pages (2 MiB on x86-64). */
#define BCAST_HUGE_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#define BCAST_HUGE_SIZE		BIT_ULL(PMD_SHIFT)

#define BCAST_DEFAULT_MODE	0600

/* Module parameters (main.c), fixed after load. */
extern u64 bcast_max_ring_size;
extern u64 bcast_max_total;
extern unsigned int bcast_max_rings;
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
struct bcast_ring_params {
	const char *name;
	u64 size;			/* data capacity */
	bool hugepage;			/* try 2 MiB pages */
	umode_t mode;			/* of /dev/bcastN */
	kuid_t uid;
	kgid_t gid;
};

/*
 * A ring.  References: one while it is registered (has a minor and a
 * device), one per open file (mappings hold their file).  The memory goes
 * with the last reference.
 */
struct bcast_ring {
	struct kref kref;
	char name[BCAST_NAME_MAX];
	u64 capacity;
	u32 minor;
	umode_t mode;
	kuid_t uid;
	kgid_t gid;
	bool want_huge;
	bool ready;			/* openable; under bcast_lock */

	struct bcast_mem mem;
	struct bcast_ring_hdr *hdr;	/* fields below BCAST_WAKE_OFFSET only */
	u32 *need_wakeup;		/* in the wake page */

	struct cdev *cdev;		/* allocated: open files pin it */
	struct device *dev;

	struct mutex lock;		/* the writer state and readers */
	bool writer;			/* lockless readers use READ_ONCE */
	struct pid *writer_pid;
	u64 writer_epoch;
	unsigned int readers;

	spinlock_t efd_lock;		/* efd_list and bcast_file.efd */
	struct list_head efd_list;
	wait_queue_head_t wq;
	atomic_long_t pmd_mappings;
};

/* An open /dev/bcastN. */
struct bcast_file {
	struct bcast_ring *ring;
	bool writer;
	u64 armed;			/* reader: wake when committed != armed */
	struct eventfd_ctx *efd;
	struct list_head efd_node;	/* on ring->efd_list while efd is set */
};

/* ring.c */
extern struct mutex bcast_lock;
extern dev_t bcast_devt;
bool bcast_name_valid(const char *name, size_t max);
int bcast_ring_create(const struct bcast_ring_params *p, u32 *minor);
int bcast_ring_destroy(const char *name, bool any);
void bcast_ring_destroy_all(void);
struct bcast_ring *bcast_ring_get(unsigned int minor, struct cdev *cdev);
void bcast_ring_put(struct bcast_ring *ring);

/* sysfs.c */
int bcast_class_register(void);
void bcast_class_unregister(void);
int bcast_device_add(struct bcast_ring *ring);
void bcast_device_del(struct bcast_ring *ring);

/* file.c */
extern const struct file_operations bcast_fops;

/* mmap.c */
int bcast_mmap(struct file *file, struct vm_area_struct *vma);

/* ctl.c */
int bcast_ctl_register(void);
void bcast_ctl_unregister(void);

#endif /* _BCAST_INTERNAL_H */
