// SPDX-License-Identifier: GPL-2.0
/*
 * The ring object: creation (memory, header, minor, device), the registry
 * of rings by minor and by name, destruction and the last reference.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/cdev.h>
#include <linux/cred.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/string.h>

#include "internal.h"

/* bcast_lock protects bcast_idr, ring->ready and the device nodes. */
DEFINE_MUTEX(bcast_lock);
static DEFINE_IDR(bcast_idr);
dev_t bcast_devt;

static_assert(sizeof(struct bcast_ring_hdr) == BCAST_HDR_SIZE);
static_assert(offsetof(struct bcast_ring_hdr, committed) == 1 * BCAST_LINE);
static_assert(offsetof(struct bcast_ring_hdr, claimed) == 2 * BCAST_LINE);
static_assert(offsetof(struct bcast_ring_hdr, writer_alive) == 3 * BCAST_LINE);
static_assert(offsetof(struct bcast_ring_hdr, need_wakeup) == BCAST_WAKE_OFFSET);
static_assert(BCAST_WAKE_OFFSET == PAGE_SIZE);
static_assert(sizeof(struct bcast_reader_slot) <= BCAST_DEVICE_SLOT_SIZE);

/* ASCII only: the kernel's isalnum() accepts Latin-1 letters. */
/* The header the library's ring_format() writes, the magic last. */
static void bcast_kring_format(struct bcast_kring *ring)
{
	struct bcast_ring_hdr *h = ring->hdr;
	u64 cap = ring->capacity;
	unsigned int i;

	h->abi_version = BCAST_ABI_VERSION;
	h->flags = BCAST_RING_DEVICE |
		   (bcast_mem_huge(&ring->mem) ? BCAST_RING_HUGEPAGE : 0);
	h->capacity = cap;
	h->mtu = (u32)BCAST_DEFAULT_MTU(cap);
	h->hdr_size = BCAST_HDR_SIZE;
	h->chunk_shift = bcast_chunk_shift(cap, h->mtu);
	h->reader_slots = ring->nslots;
	h->slot_size = ring->nslots ? BCAST_DEVICE_SLOT_SIZE : 0;
	if (ring->gated)
		h->flags |= BCAST_RING_GATED;
	for (i = 0; i < BCAST_SYNC_SLOTS; i++)
		h->sync[i].pos = BCAST_SYNC_INVALID;
	/* Last, with release: whoever sees the magic sees the header. */
	smp_store_release(&h->magic, BCAST_RING_MAGIC);
}

static struct bcast_kring *bcast_kring_alloc(const struct bcast_kring_params *p)
{
	struct bcast_kring *ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);

	if (!ring)
		return NULL;
	kref_init(&ring->kref);
	strscpy(ring->name, p->name, sizeof(ring->name));
	ring->capacity = p->size;
	ring->mode = p->mode ? p->mode : BCAST_DEFAULT_MODE;
	ring->uid = p->uid;
	ring->gid = p->gid;
	ring->want_huge = p->hugepage;
	ring->nslots = p->reader_slots;
	ring->gated = p->gated;
	mutex_init(&ring->lock);
	atomic64_set(&ring->writer_state, 0);
	mutex_init(&ring->efd_lock);
	INIT_LIST_HEAD(&ring->efd_list);
	bcast_wake_ring_init(ring);
	atomic_long_set(&ring->pmd_mappings, 0);
	atomic_long_set(&ring->notifies, 0);
	return ring;
}

static int bcast_kring_alloc_mem(struct bcast_kring *ring)
{
	int err;

	err = bcast_mem_alloc(&ring->mem,
			      BCAST_RING_SIZE(ring->capacity, ring->nslots,
					      BCAST_DEVICE_SLOT_SIZE),
			      ring->want_huge);
	if (err)
		return err;
	err = bcast_registry_init(ring, ring->nslots);
	if (err) {
		bcast_mem_free(&ring->mem);
		return err;
	}
	ring->hdr = bcast_mem_addr(&ring->mem, 0);
	ring->need_wakeup = bcast_mem_addr(&ring->mem, BCAST_WAKE_OFFSET);
	ring->reader_flags = bcast_mem_addr(&ring->mem,
					    offsetof(struct bcast_ring_hdr,
						     reader_flags));
	bcast_kring_format(ring);
	return 0;
}

static void bcast_kring_release(struct kref *kref)
{
	struct bcast_kring *ring = container_of(kref, struct bcast_kring, kref);

	WARN_ON_ONCE(bcast_ws_present(atomic64_read(&ring->writer_state)) ||
		     ring->readers || ring->nr_efds || ring->registered);
	bcast_registry_free(ring);
	bcast_mem_free(&ring->mem);
	kfree(ring);
}

void bcast_kring_put(struct bcast_kring *ring)
{
	kref_put(&ring->kref, bcast_kring_release);
}

/* Under bcast_lock.  Rings still being created count: names are unique. */
static struct bcast_kring *bcast_kring_find(const char *name)
{
	struct bcast_kring *ring;
	int id;

	idr_for_each_entry(&bcast_idr, ring, id)
		if (!strcmp(ring->name, name))
			return ring;
	return NULL;
}

/* Claim the name and a minor, before any memory is allocated. */
static int bcast_kring_reserve(struct bcast_kring *ring)
{
	int id;

	mutex_lock(&bcast_lock);
	if (bcast_kring_find(ring->name)) {
		mutex_unlock(&bcast_lock);
		return -EEXIST;
	}
	id = idr_alloc(&bcast_idr, ring, 0, bcast_max_rings, GFP_KERNEL);
	mutex_unlock(&bcast_lock);
	if (id < 0)
		return id;
	ring->minor = id;
	return 0;
}

static void bcast_kring_unreserve(struct bcast_kring *ring)
{
	mutex_lock(&bcast_lock);
	idr_remove(&bcast_idr, ring->minor);
	mutex_unlock(&bcast_lock);
}

static int bcast_cdev_add(struct bcast_kring *ring)
{
	struct cdev *cdev = cdev_alloc();
	int err;

	if (!cdev)
		return -ENOMEM;
	cdev->owner = THIS_MODULE;
	cdev->ops = &bcast_fops;
	err = cdev_add(cdev, MKDEV(MAJOR(bcast_devt), ring->minor), 1);
	if (err) {
		kobject_put(&cdev->kobj);
		return err;
	}
	ring->cdev = cdev;
	return 0;
}

/* Under bcast_lock: make /dev/bcastN appear. */
static int bcast_kring_publish(struct bcast_kring *ring)
{
	int err;

	err = bcast_cdev_add(ring);
	if (err)
		return err;
	err = bcast_device_add(ring);
	if (err) {
		cdev_del(ring->cdev);
		ring->cdev = NULL;
		return err;
	}
	ring->ready = true;
	return 0;
}

/* Under bcast_lock: the node goes, open files keep the ring. */
static void bcast_kring_unpublish(struct bcast_kring *ring)
{
	ring->ready = false;
	idr_remove(&bcast_idr, ring->minor);
	bcast_device_del(ring);
	cdev_del(ring->cdev);
	ring->cdev = NULL;
	bcast_kring_put(ring);
}

/*
 * Create and publish a ring.  On success *@out is the ring with a
 * reference for the caller (bcast_kring_put()), which may use it to
 * withdraw exactly this ring again (bcast_kring_withdraw()).
 */
int bcast_kring_create(const struct bcast_kring_params *p,
		       struct bcast_kring **out)
{
	struct bcast_kring *ring;
	int err;

	ring = bcast_kring_alloc(p);
	if (!ring)
		return -ENOMEM;
	err = bcast_kring_reserve(ring);
	if (err)
		goto put;
	err = bcast_kring_alloc_mem(ring);
	if (err)
		goto unreserve;
	mutex_lock(&bcast_lock);
	err = bcast_kring_publish(ring);
	if (!err)
		kref_get(&ring->kref);	/* the caller's */
	mutex_unlock(&bcast_lock);
	if (err)
		goto unreserve;
	*out = ring;
	pr_info("ring '%s' is /dev/bcast%u: %llu bytes, %s pages\n",
		ring->name, ring->minor, ring->capacity,
		bcast_mem_huge(&ring->mem) ? "2 MiB" : "4 KiB");
	return 0;

unreserve:
	bcast_kring_unreserve(ring);
put:
	bcast_kring_put(ring);
	return err;
}

/*
 * Unpublish @ring if it still is (true if it was): the undo of a create
 * whose result could not be handed back.  Another ring that has since
 * taken the name or the minor is left alone.
 */
bool bcast_kring_withdraw(struct bcast_kring *ring)
{
	bool published;

	mutex_lock(&bcast_lock);
	published = ring->ready;
	if (published)
		bcast_kring_unpublish(ring);
	mutex_unlock(&bcast_lock);
	return published;
}

/* Without @any, only a ring whose node the caller (uid or euid) owns. */
int bcast_kring_destroy(const char *name, bool any)
{
	struct bcast_kring *ring;
	int err = 0;

	mutex_lock(&bcast_lock);
	ring = bcast_kring_find(name);
	if (!ring || !ring->ready)
		err = -ENOENT;
	else if (!any && !uid_eq(ring->uid, current_uid()) &&
		 !uid_eq(ring->uid, current_euid()))
		err = -EPERM;
	else
		bcast_kring_unpublish(ring);
	mutex_unlock(&bcast_lock);
	return err;
}

void bcast_kring_destroy_all(void)
{
	struct bcast_kring *ring;
	int id;

	mutex_lock(&bcast_lock);
	idr_for_each_entry(&bcast_idr, ring, id)
		if (ring->ready)
			bcast_kring_unpublish(ring);
	mutex_unlock(&bcast_lock);
}

/*
 * A reference to the ring behind @minor, if it is still the one @cdev
 * (the inode's) belongs to: a destroyed ring's minor may be reused.
 */
struct bcast_kring *bcast_kring_get(unsigned int minor, struct cdev *cdev)
{
	struct bcast_kring *ring;

	mutex_lock(&bcast_lock);
	ring = idr_find(&bcast_idr, minor);
	if (ring && ring->ready && ring->cdev == cdev)
		kref_get(&ring->kref);
	else
		ring = NULL;
	mutex_unlock(&bcast_lock);
	return ring;
}
