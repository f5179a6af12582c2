// SPDX-License-Identifier: GPL-2.0
/*
 * bcast.ko: single-producer / many-consumer broadcast rings in kernel
 * memory, mapped by user space (see include/uapi/linux/bcast.h).
 *
 * Module parameters, load and unload.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uidgid.h>

#include "internal.h"

#define BCAST_MAX_MINORS	BIT(MINORBITS)
#define BCAST_READERS_LIMIT	(1U << 20)	/* highest max_readers */

static char *rings;
static u64 ring_size = 4ULL << 20;
u64 bcast_max_ring_size = 1ULL << 30;
u64 bcast_max_total;		/* 0: half of RAM, set at load */
unsigned int bcast_max_rings = 256;
unsigned int bcast_max_readers = 4096;
bool bcast_hugepage = true;
int bcast_ctl_gid = -1;

/* Byte counts, with the K/M/G/T suffixes of memparse(). */
static int bcast_param_set_bytes(const char *val, const struct kernel_param *kp)
{
	char *end;
	u64 v;

	if (!val || !*val)
		return -EINVAL;
	v = memparse(val, &end);
	if (end == val || (*end && strcmp(end, "\n")))
		return -EINVAL;
	*(u64 *)kp->arg = v;
	return 0;
}

static int bcast_param_get_bytes(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%llu\n", *(u64 *)kp->arg);
}

static const struct kernel_param_ops param_ops_bytes = {
	.set = bcast_param_set_bytes,
	.get = bcast_param_get_bytes,
};

#define param_check_bytes(name, p) __param_check(name, p, u64)

/* max_readers: 1..BCAST_READERS_LIMIT, may change while rings are open. */
static int bcast_param_set_readers(const char *val,
				   const struct kernel_param *kp)
{
	unsigned int v;
	int err = kstrtouint(val, 0, &v);

	if (err)
		return err;
	if (!v || v > BCAST_READERS_LIMIT) {
		pr_err("max_readers=%u: must be 1..%u\n", v,
		       BCAST_READERS_LIMIT);
		return -EINVAL;
	}
	WRITE_ONCE(*(unsigned int *)kp->arg, v);
	return 0;
}

static const struct kernel_param_ops param_ops_readers = {
	.set = bcast_param_set_readers,
	.get = param_get_uint,
};

#define param_check_readers(name, p) __param_check(name, p, unsigned int)

module_param(rings, charp, 0444);
MODULE_PARM_DESC(rings,
		 "Comma-separated names of rings to create at load (default none)");
module_param(ring_size, bytes, 0444);
MODULE_PARM_DESC(ring_size,
		 "Data capacity of the rings= rings: a power of two, K/M/G suffixes (default 4M)");
module_param_named(hugepage, bcast_hugepage, bool, 0444);
MODULE_PARM_DESC(hugepage,
		 "Back rings with 2 MiB pages when possible (rings= rings, and created rings that ask for it) (default Y)");
module_param_named(max_ring_size, bcast_max_ring_size, bytes, 0444);
MODULE_PARM_DESC(max_ring_size,
		 "Largest data capacity of one ring, K/M/G suffixes (default 1G)");
module_param_named(max_total, bcast_max_total, bytes, 0444);
MODULE_PARM_DESC(max_total,
		 "Memory of all rings together, headers and rounding included, K/M/G suffixes; 0: half of RAM at load (default 0). Ring pages are also charged to the creator's memory cgroup");
module_param_named(ctl_gid, bcast_ctl_gid, int, 0444);
MODULE_PARM_DESC(ctl_gid,
		 "Group (initial namespace gid) whose members may use /dev/bcast-ctl besides CAP_SYS_ADMIN; -1: none (default -1)");
module_param_named(max_rings, bcast_max_rings, uint, 0444);
MODULE_PARM_DESC(max_rings, "Number of ring minors /dev/bcastN (default 256)");
module_param_named(max_readers, bcast_max_readers, readers, 0644);
MODULE_PARM_DESC(max_readers,
		 "Reader files per ring, 1..1048576; opening one more fails with ENOSPC; root may change it at run time (default 4096)");

static int __init bcast_check_params(void)
{
	if (!bcast_max_rings || bcast_max_rings > BCAST_MAX_MINORS) {
		pr_err("max_rings=%u: must be 1..%lu\n", bcast_max_rings,
		       BCAST_MAX_MINORS);
		return -EINVAL;
	}
	if (bcast_max_ring_size < BCAST_MIN_CAPACITY ||
	    bcast_max_ring_size > BCAST_MAX_CAPACITY) {
		pr_err("max_ring_size=%llu: must be %llu..%llu\n",
		       bcast_max_ring_size, BCAST_MIN_CAPACITY,
		       BCAST_MAX_CAPACITY);
		return -EINVAL;
	}
	if (!bcast_max_total)
		bcast_max_total = ((u64)totalram_pages() << PAGE_SHIFT) / 2;
	if (bcast_max_total < BCAST_MAP_SIZE(BCAST_MIN_CAPACITY)) {
		pr_err("max_total=%llu: too small for any ring\n",
		       bcast_max_total);
		return -EINVAL;
	}
	if (!bcast_max_readers || bcast_max_readers > BCAST_READERS_LIMIT) {
		pr_err("max_readers=%u: must be 1..%u\n", bcast_max_readers,
		       BCAST_READERS_LIMIT);
		return -EINVAL;
	}
	if (ring_size < BCAST_MIN_CAPACITY || !is_power_of_2(ring_size) ||
	    ring_size > bcast_max_ring_size) {
		pr_err("ring_size=%llu: must be a power of two in %llu..max_ring_size (%llu)\n",
		       ring_size, BCAST_MIN_CAPACITY, bcast_max_ring_size);
		return -EINVAL;
	}
	if (bcast_ctl_gid < -1 ||
	    (bcast_ctl_gid >= 0 &&
	     !gid_valid(make_kgid(&init_user_ns, bcast_ctl_gid)))) {
		pr_err("ctl_gid=%d: not a valid group id (or -1)\n",
		       bcast_ctl_gid);
		return -EINVAL;
	}
	return 0;
}

static int __init bcast_create_one(const char *name)
{
	struct bcast_kring_params p = {
		.name = name,
		.size = ring_size,
		.hugepage = bcast_hugepage,
		.mode = BCAST_DEFAULT_MODE,
		.uid = GLOBAL_ROOT_UID,
		.gid = GLOBAL_ROOT_GID,
	};
	struct bcast_kring *ring;
	int err;

	if (!bcast_ring_name_valid(name)) {
		pr_err("rings=: invalid ring name '%s' (1..%d of [A-Za-z0-9._-])\n",
		       name, BCAST_NAME_MAX - 1);
		return -EINVAL;
	}
	err = bcast_kring_create(&p, &ring);
	if (err) {
		pr_err("rings=: cannot create ring '%s': %d\n", name, err);
		return err;
	}
	bcast_kring_put(ring);
	return 0;
}

/* The rings= parameter: empty names (",,") are skipped. */
static int __init bcast_create_rings(void)
{
	char *list, *pos, *name;
	int err = 0;

	if (!rings || !*rings)
		return 0;
	list = kstrdup(rings, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	pos = strim(list);
	while ((name = strsep(&pos, ",")) && !err) {
		if (*name)
			err = bcast_create_one(name);
	}
	kfree(list);
	return err;
}

static int __init bcast_init(void)
{
	int err;

	err = bcast_check_params();
	if (err)
		return err;
	err = bcast_wake_init();
	if (err)
		return err;
	err = alloc_chrdev_region(&bcast_devt, 0, bcast_max_rings, "bcast");
	if (err) {
		pr_err("cannot allocate %u minors: %d\n", bcast_max_rings, err);
		goto wake_exit;
	}
	err = bcast_class_register();
	if (err) {
		pr_err("cannot register class bcast: %d\n", err);
		goto unregister_region;
	}
	err = bcast_create_rings();
	if (err)
		goto destroy_rings;
	err = bcast_ctl_register();
	if (err) {
		pr_err("cannot register /dev/bcast-ctl: %d\n", err);
		goto destroy_rings;
	}
	return 0;

destroy_rings:
	bcast_kring_destroy_all();
	bcast_class_unregister();
unregister_region:
	unregister_chrdev_region(bcast_devt, bcast_max_rings);
wake_exit:
	bcast_wake_exit();
	return err;
}

static void __exit bcast_exit(void)
{
	bcast_ctl_unregister();
	bcast_kring_destroy_all();
	bcast_class_unregister();
	unregister_chrdev_region(bcast_devt, bcast_max_rings);
	/* Queued wake-ups hold the last references of their rings. */
	bcast_wake_exit();
	if (bcast_mem_total())
		pr_err("%llu bytes of ring memory still allocated at unload\n",
		       bcast_mem_total());
}

module_init(bcast_init);
module_exit(bcast_exit);

MODULE_DESCRIPTION("Single-producer / many-consumer broadcast rings in shared memory");
MODULE_AUTHOR("bcast project");
MODULE_LICENSE("GPL");
MODULE_VERSION(BCAST_VERSION);
