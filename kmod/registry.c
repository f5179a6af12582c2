// SPDX-License-Identifier: GPL-2.0
/*
 * The reader registry: a page per slot after the data area, each the
 * writable page of one registered reader and read-only for everyone else.
 *
 * BCAST_IOC_REGISTER on a reader's file takes a free slot and returns a
 * slot file: its mmap() is that one page, writable, and its release (the
 * reader's death included) frees the slot and wakes a writer waiting for
 * room.  Readers' ring mappings stay read-only: a reader can write its
 * own slot and nothing else.  What readers write there (positions,
 * counts) is theirs; the kernel keeps who owns which slot itself.
 *
 * A gated writer waiting for room sleeps in BCAST_IOC_GATE_WAIT until
 * gate_seq changes; readers that see gate_need_wakeup call
 * BCAST_IOC_GATE_NOTIFY, which clears it and bumps gate_seq (readers
 * cannot write the wake page).  Both sides make a full barrier between
 * their store and their load (the writer a membarrier(), the kernel
 * smp_mb()), so no wake-up is lost.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "internal.h"

/* An open slot file: the slot stays the reader's while it lives. */
struct bcast_slot_file {
	struct bcast_kring *ring;
	unsigned int slot;
};

static const struct file_operations bcast_slot_fops;

struct bcast_reader_slot *bcast_slot(const struct bcast_kring *ring,
				     unsigned int i)
{
	return bcast_mem_addr(&ring->mem, BCAST_MAP_SIZE(ring->capacity) +
				       (u64)i * BCAST_DEVICE_SLOT_SIZE);
}

static u32 *bcast_wake_word(const struct bcast_kring *ring, size_t off)
{
	return bcast_mem_addr(&ring->mem, off);
}

/* At ring creation: the slots' bookkeeping (the pages are ring memory). */
int bcast_registry_init(struct bcast_kring *ring, unsigned int slots)
{
	ring->nslots = slots;
	init_waitqueue_head(&ring->gate_wq);
	ring->gate_need_wakeup = bcast_wake_word(ring,
		offsetof(struct bcast_ring_hdr, gate_need_wakeup));
	ring->gate_seq = bcast_wake_word(ring,
		offsetof(struct bcast_ring_hdr, gate_seq));
	ring->registry_gen = bcast_wake_word(ring,
		offsetof(struct bcast_ring_hdr, registry_gen));
	ring->registry_high = bcast_wake_word(ring,
		offsetof(struct bcast_ring_hdr, registry_high));
	if (!slots)
		return 0;
	ring->slot_map = bitmap_zalloc(slots, GFP_KERNEL_ACCOUNT);
	ring->slot_pid = kcalloc(slots, sizeof(*ring->slot_pid),
				 GFP_KERNEL_ACCOUNT);
	if (!ring->slot_map || !ring->slot_pid) {
		bcast_registry_free(ring);
		return -ENOMEM;
	}
	return 0;
}

void bcast_registry_free(struct bcast_kring *ring)
{
	bitmap_free(ring->slot_map);
	kfree(ring->slot_pid);
	ring->slot_map = NULL;
	ring->slot_pid = NULL;
}

/*
 * Wake the writer if it asked: 1 if it had.  Whoever clears the flag
 * bumps gate_seq, so each sleep gets one wake-up.
 */
int bcast_gate_notify(struct bcast_kring *ring)
{
	/* Order the caller's stores (a position, a freed slot) before the
	 * flag is read: the writer's membarrier() pairs with this. */
	smp_mb();
	if (!xchg(ring->gate_need_wakeup, 0))
		return 0;
	WRITE_ONCE(*ring->gate_seq, READ_ONCE(*ring->gate_seq) + 1);
	wake_up_all(&ring->gate_wq);
	return 1;
}

/* Under ring->lock: a free slot made the caller's; -ENOSPC if none. */
static int bcast_slot_take(struct bcast_kring *ring)
{
	struct bcast_reader_slot *s;
	unsigned int i;

	i = find_first_zero_bit(ring->slot_map, ring->nslots);
	if (i >= ring->nslots)
		return -ENOSPC;
	set_bit(i, ring->slot_map);
	ring->slot_pid[i] = get_pid(task_tgid(current));
	ring->registered++;
	s = bcast_slot(ring, i);
	memset(s, 0, BCAST_DEVICE_SLOT_SIZE);
	WRITE_ONCE(s->pid, (u32)task_tgid_vnr(current));
	/* Never 0 (free): a count of registrations, and the slot. */
	smp_store_release(&s->owner, (++ring->slot_tokens << 16) | (i + 1));
	if (READ_ONCE(*ring->registry_high) < i + 1)
		WRITE_ONCE(*ring->registry_high, i + 1);
	return i;
}

static void bcast_slot_free(struct bcast_kring *ring, unsigned int i)
{
	struct bcast_reader_slot *s = bcast_slot(ring, i);

	WRITE_ONCE(s->joined, 0);
	smp_store_release(&s->owner, 0);
	mutex_lock(&ring->lock);
	clear_bit(i, ring->slot_map);
	put_pid(ring->slot_pid[i]);
	ring->slot_pid[i] = NULL;
	ring->registered--;
	mutex_unlock(&ring->lock);
	/* The writer may have waited for this reader alone. */
	bcast_gate_notify(ring);
}

long bcast_ioc_register(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_kring *ring = bf->ring;
	struct bcast_slot_file *sf;
	struct bcast_register reg;
	int slot, fd;

	if (bf->writer)
		return -EPERM;
	if (copy_from_user(&reg, uarg, sizeof(reg)))
		return -EFAULT;
	if (reg.reserved)
		return -EINVAL;
	if (!ring->nslots)
		return -EOPNOTSUPP;
	sf = kzalloc(sizeof(*sf), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return -ENOMEM;
	mutex_lock(&ring->lock);
	slot = bcast_slot_take(ring);
	mutex_unlock(&ring->lock);
	if (slot < 0) {
		kfree(sf);
		return slot;
	}
	sf->ring = ring;
	sf->slot = slot;
	kref_get(&ring->kref);
	reg.slot = slot;
	if (copy_to_user(uarg, &reg, sizeof(reg))) {
		fd = -EFAULT;
		goto undo;
	}
	fd = anon_inode_getfd("[bcast-slot]", &bcast_slot_fops, sf,
			      O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
undo:
	bcast_slot_free(ring, slot);
	bcast_kring_put(ring);
	kfree(sf);
	return fd;
}

long bcast_ioc_gate_wait(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_kring *ring = bf->ring;
	struct bcast_gate_wait arg;
	long rc;

	if (!bf->writer)
		return -EPERM;
	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved)
		return -EINVAL;
	rc = wait_event_interruptible_hrtimeout(ring->gate_wq,
			READ_ONCE(*ring->gate_seq) != arg.seq,
			bcast_wait_timeout(arg.timeout_ns));
	if (rc == -ETIME)
		return -ETIMEDOUT;
	if (rc)
		return bcast_wait_interrupted();
	return 0;
}

/* The slot file's one page, writable, never executable. */
static int bcast_slot_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct bcast_slot_file *sf = file->private_data;
	struct bcast_kring *ring = sf->ring;
	u64 off = BCAST_MAP_SIZE(ring->capacity) +
		  (u64)sf->slot * BCAST_DEVICE_SLOT_SIZE;

	if (!(vma->vm_flags & VM_SHARED) || vma->vm_pgoff ||
	    vma->vm_end - vma->vm_start != BCAST_DEVICE_SLOT_SIZE)
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EACCES;
	bcast_vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP,
			   VM_MAYEXEC);
	return remap_pfn_range(vma, vma->vm_start,
			       bcast_mem_pfn(&ring->mem, off),
			       BCAST_DEVICE_SLOT_SIZE, vma->vm_page_prot);
}

static long bcast_slot_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct bcast_slot_file *sf = file->private_data;
	struct bcast_kring *ring = sf->ring;

	switch (cmd) {
	case BCAST_IOC_SLOT_JOINED:
		/* After the reader's stores; before its load of claimed. */
		smp_mb();
		mutex_lock(&ring->lock);
		WRITE_ONCE(*ring->registry_gen,
			   READ_ONCE(*ring->registry_gen) + 1);
		mutex_unlock(&ring->lock);
		smp_mb();
		return 0;
	case BCAST_IOC_GATE_NOTIFY:
		return bcast_gate_notify(ring);
	default:
		return -ENOTTY;
	}
}

static int bcast_slot_release(struct inode *inode, struct file *file)
{
	struct bcast_slot_file *sf = file->private_data;

	bcast_slot_free(sf->ring, sf->slot);
	bcast_kring_put(sf->ring);
	kfree(sf);
	return 0;
}

static const struct file_operations bcast_slot_fops = {
	.owner = THIS_MODULE,
	.release = bcast_slot_release,
	.unlocked_ioctl = bcast_slot_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = bcast_slot_mmap,
};

/* sysfs: one line per registered reader (see sysfs.c). */
ssize_t bcast_registry_show(struct bcast_kring *ring, char *buf)
{
	unsigned int i;
	ssize_t n = 0;

	char line[256];
	int len;

	mutex_lock(&ring->lock);
	for_each_set_bit(i, ring->slot_map, ring->nslots) {
		const struct bcast_reader_slot *s = bcast_slot(ring, i);
		u64 committed = READ_ONCE(ring->hdr->committed);
		u64 pos = READ_ONCE(s->position);

		len = scnprintf(line, sizeof(line),
			"%u %d %u %llu %llu %llu %llu %llu %llu %llu %llu\n",
			i, pid_nr(ring->slot_pid[i]), READ_ONCE(s->joined) ? 1 : 0,
			pos, committed > pos ? committed - pos : 0,
			READ_ONCE(s->messages), READ_ONCE(s->overruns),
			READ_ONCE(s->lost_messages), READ_ONCE(s->lost_bytes),
			READ_ONCE(s->evictions), READ_ONCE(s->active_ns));
		/* One page: the first readers that fit. */
		if (n + len >= PAGE_SIZE)
			break;
		memcpy(buf + n, line, len);
		n += len;
	}
	mutex_unlock(&ring->lock);
	return n;
}
