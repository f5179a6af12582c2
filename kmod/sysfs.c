// SPDX-License-Identifier: GPL-2.0
/*
 * The device model side: class "bcast", the bcastN devices with their
 * node owner and mode, the BCAST_NAME uevent variable (for the udev rule
 * that adds /dev/bcast/NAME) and the attributes in /sys/class/bcast/bcastN.
 *
 * The callbacks below use the ring through drvdata: they only run between
 * device_add() and device_del(), while the device holds its ring reference.
 *
 * Everyone may read what `ls -l /dev` shows (name, size); the rest (the
 * writer's pid, readers, positions, how the memory is mapped) only those
 * who may read the node: by the owner, group and mode the ring was
 * created with, as generic_permission() judges them, or with
 * CAP_DAC_READ_SEARCH / CAP_DAC_OVERRIDE over the owner.  Others get
 * -EACCES from read().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "internal.h"

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define BCAST_CONST_DEV const struct device
#else
#define BCAST_CONST_DEV struct device
#endif

static struct bcast_kring *dev_ring(const struct device *dev)
{
	return dev_get_drvdata(dev);
}

/* May the reading task open the ring's node for reading? */
static bool bcast_may_read(const struct bcast_kring *ring)
{
	struct user_namespace *ns = current_user_ns();
	umode_t mode = ring->mode;

	if (uid_eq(current_fsuid(), ring->uid))
		mode >>= 6;
	else if (in_group_p(ring->gid))
		mode >>= 3;
	if (mode & 04)
		return true;
	if (!kuid_has_mapping(ns, ring->uid) || !kgid_has_mapping(ns, ring->gid))
		return false;
	return ns_capable_noaudit(ns, CAP_DAC_READ_SEARCH) ||
	       ns_capable_noaudit(ns, CAP_DAC_OVERRIDE);
}

/* The ring of an attribute that only readers of the node may see. */
static struct bcast_kring *dev_ring_private(const struct device *dev)
{
	struct bcast_kring *ring = dev_ring(dev);

	return bcast_may_read(ring) ? ring : NULL;
}

static ssize_t name_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", dev_ring(dev)->name);
}
static DEVICE_ATTR_RO(name);

static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%llu\n", dev_ring(dev)->capacity);
}
static DEVICE_ATTR_RO(size);

static ssize_t hugepage_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);

	if (!ring)
		return -EACCES;
	return sysfs_emit(buf, "%d\n", bcast_mem_huge(&ring->mem));
}
static DEVICE_ATTR_RO(hugepage);

static ssize_t pmd_mappings_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);

	if (!ring)
		return -EACCES;
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&ring->pmd_mappings));
}
static DEVICE_ATTR_RO(pmd_mappings);

/* The writer's process id in the initial pid namespace, 0 if none. */
static ssize_t writer_pid_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);
	pid_t pid;

	if (!ring)
		return -EACCES;
	mutex_lock(&ring->lock);
	pid = pid_nr(ring->writer_pid);
	mutex_unlock(&ring->lock);
	return sysfs_emit(buf, "%d\n", pid);
}
static DEVICE_ATTR_RO(writer_pid);

static ssize_t readers_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);

	if (!ring)
		return -EACCES;
	return sysfs_emit(buf, "%u\n", READ_ONCE(ring->readers));
}
static DEVICE_ATTR_RO(readers);

static ssize_t committed_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);

	if (!ring)
		return -EACCES;
	return sysfs_emit(buf, "%llu\n", READ_ONCE(ring->hdr->committed));
}
static DEVICE_ATTR_RO(committed);

static ssize_t claimed_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);

	if (!ring)
		return -EACCES;
	return sysfs_emit(buf, "%llu\n", READ_ONCE(ring->hdr->claimed));
}
static DEVICE_ATTR_RO(claimed);

static ssize_t reader_slots_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);

	if (!ring)
		return -EACCES;
	return sysfs_emit(buf, "%u\n", ring->nslots);
}
static DEVICE_ATTR_RO(reader_slots);

static ssize_t gated_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);

	if (!ring)
		return -EACCES;
	return sysfs_emit(buf, "%d\n", ring->gated);
}
static DEVICE_ATTR_RO(gated);

/*
 * Registered readers, one line each: slot, pid (initial namespace),
 * joined, position, lag in bytes, messages consumed, overruns, lost
 * messages, lost bytes, evictions, last activity (ns, CLOCK_REALTIME).
 * All but slot and pid are what the reader wrote in its slot.
 */
static ssize_t registry_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct bcast_kring *ring = dev_ring_private(dev);

	if (!ring)
		return -EACCES;
	return bcast_registry_show(ring, buf);
}
static DEVICE_ATTR_RO(registry);

static struct attribute *bcast_attrs[] = {
	&dev_attr_name.attr,
	&dev_attr_size.attr,
	&dev_attr_hugepage.attr,
	&dev_attr_pmd_mappings.attr,
	&dev_attr_writer_pid.attr,
	&dev_attr_readers.attr,
	&dev_attr_committed.attr,
	&dev_attr_claimed.attr,
	&dev_attr_reader_slots.attr,
	&dev_attr_gated.attr,
	&dev_attr_registry.attr,
	NULL,
};
ATTRIBUTE_GROUPS(bcast);

static int bcast_dev_uevent(BCAST_CONST_DEV *dev, struct kobj_uevent_env *env)
{
	return add_uevent_var(env, "BCAST_NAME=%s", dev_ring(dev)->name);
}

/* Owner and mode of /dev/bcastN (devtmpfs and udev's DEVMODE etc.). */
static char *bcast_devnode(BCAST_CONST_DEV *dev, umode_t *mode, kuid_t *uid,
			   kgid_t *gid)
{
	struct bcast_kring *ring = dev_ring(dev);

	if (mode)
		*mode = ring->mode;
	if (uid)
		*uid = ring->uid;
	if (gid)
		*gid = ring->gid;
	return NULL;
}

static const struct device_type bcast_dev_type = {
	.name = "bcast",
	.devnode = bcast_devnode,
};

static struct class bcast_class = {
	.name = "bcast",
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
	.owner = THIS_MODULE,
#endif
	.dev_groups = bcast_groups,
	.dev_uevent = bcast_dev_uevent,
};

int bcast_class_register(void)
{
	return class_register(&bcast_class);
}

void bcast_class_unregister(void)
{
	class_unregister(&bcast_class);
}

static void bcast_dev_release(struct device *dev)
{
	kfree(dev);
}

/* Under bcast_lock. */
int bcast_device_add(struct bcast_kring *ring)
{
	struct device *dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	int err;

	if (!dev)
		return -ENOMEM;
	device_initialize(dev);
	dev->devt = MKDEV(MAJOR(bcast_devt), ring->minor);
	dev->class = &bcast_class;
	dev->type = &bcast_dev_type;
	dev->release = bcast_dev_release;
	dev_set_drvdata(dev, ring);
	err = dev_set_name(dev, "bcast%u", ring->minor);
	if (!err)
		err = device_add(dev);
	if (err) {
		pr_err("cannot add device bcast%u: %d\n", ring->minor, err);
		put_device(dev);
		return err;
	}
	ring->dev = dev;
	return 0;
}

/* Under bcast_lock: no callback above runs after this returns. */
void bcast_device_del(struct bcast_kring *ring)
{
	device_unregister(ring->dev);
	ring->dev = NULL;
}
