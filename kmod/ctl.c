// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/bcast-ctl: BCAST_CTL_CREATE and BCAST_CTL_DESTROY.
 *
 * Both need CAP_SYS_ADMIN, or membership of the group ctl_gid (module
 * parameter).  A group member that is not CAP_SYS_ADMIN may only give the
 * new node to itself (uid its own, gid one of its groups) and only destroy
 * rings whose node it owns.  A ring asked for without a group of its own
 * gets ctl_gid's, so that the group the packages create shares the rings.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "internal.h"

static bool bcast_ctl_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

static bool bcast_ctl_permitted(void)
{
	if (bcast_ctl_admin())
		return true;
	return bcast_ctl_gid >= 0 &&
	       in_group_p(make_kgid(&init_user_ns, bcast_ctl_gid));
}

static int bcast_ctl_check_size(u64 size)
{
	if (size < BCAST_MIN_CAPACITY || !is_power_of_2(size))
		return -EINVAL;
	if (size > bcast_max_ring_size)
		return -EFBIG;
	return 0;
}

/* Rings made without a group of their own belong to ctl_gid's group. */
static kgid_t bcast_ctl_group(u32 gid)
{
	if (gid != BCAST_CTL_GID_DEFAULT)
		return make_kgid(current_user_ns(), gid);
	if (bcast_ctl_gid >= 0)
		return make_kgid(&init_user_ns, bcast_ctl_gid);
	return current_fsgid();
}

/* Map the request's owner into kernel ids and check who may ask for it. */
static int bcast_ctl_owner(const struct bcast_ctl_create *req,
			   struct bcast_kring_params *p)
{
	p->uid = make_kuid(current_user_ns(), req->uid);
	p->gid = bcast_ctl_group(req->gid);
	if (!uid_valid(p->uid) || !gid_valid(p->gid))
		return -EINVAL;
	if (bcast_ctl_admin())
		return 0;
	if (!uid_eq(p->uid, current_uid()) && !uid_eq(p->uid, current_euid()))
		return -EPERM;
	if (!in_group_p(p->gid))
		return -EPERM;
	return 0;
}

static int bcast_ctl_params(const struct bcast_ctl_create *req,
			    struct bcast_kring_params *p)
{
	int err;

	if (!bcast_ring_name_valid(req->name))
		return -EINVAL;
	if ((req->flags & ~(BCAST_RING_HUGEPAGE | BCAST_RING_GATED)) ||
	    (req->mode & ~0777) || req->reader_slots > BCAST_MAX_READER_SLOTS)
		return -EINVAL;
	/* A gated ring waits for registered readers: it needs slots. */
	if ((req->flags & BCAST_RING_GATED) && !req->reader_slots)
		return -EINVAL;
	/* A slot is a page of its own, BCAST_DEVICE_SLOT_SIZE bytes. */
	if (req->reader_slots && PAGE_SIZE != BCAST_DEVICE_SLOT_SIZE)
		return -EOPNOTSUPP;
	err = bcast_ctl_check_size(req->size);
	if (err)
		return err;
	p->name = req->name;
	p->size = req->size;
	p->hugepage = bcast_hugepage && (req->flags & BCAST_RING_HUGEPAGE);
	p->reader_slots = req->reader_slots;
	p->gated = req->flags & BCAST_RING_GATED;
	p->mode = req->mode ? req->mode : BCAST_DEFAULT_MODE;
	return bcast_ctl_owner(req, p);
}

static long bcast_ctl_create(struct bcast_ctl_create __user *ureq)
{
	struct bcast_ctl_create req;
	struct bcast_kring_params p;
	struct bcast_kring *ring;
	int err;

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	err = bcast_ctl_params(&req, &p);
	if (err)
		return err;
	err = bcast_kring_create(&p, &ring);
	if (err)
		return err;
	if (put_user(ring->minor, &ureq->minor)) {
		/* Undo this ring only: by now the name may be another's. */
		pr_info("ring '%s': cannot return its minor to the creator: %s\n",
			ring->name, bcast_kring_withdraw(ring) ?
			"removed" : "already destroyed");
		err = -EFAULT;
	}
	bcast_kring_put(ring);
	return err;
}

static long bcast_ctl_destroy(struct bcast_ctl_destroy __user *ureq)
{
	struct bcast_ctl_destroy req;

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if (!bcast_ring_name_valid(req.name))
		return -EINVAL;
	return bcast_kring_destroy(req.name, bcast_ctl_admin());
}

static long bcast_ctl_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (cmd != BCAST_CTL_CREATE && cmd != BCAST_CTL_DESTROY)
		return -ENOTTY;
	if (!bcast_ctl_permitted())
		return -EPERM;
	if (cmd == BCAST_CTL_CREATE)
		return bcast_ctl_create(uarg);
	return bcast_ctl_destroy(uarg);
}

static const struct file_operations bcast_ctl_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.unlocked_ioctl = bcast_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice bcast_ctl_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "bcast-ctl",
	.fops = &bcast_ctl_fops,
};

int bcast_ctl_register(void)
{
	/* With ctl_gid, its members need the node: the ioctls check. */
	bcast_ctl_dev.mode = bcast_ctl_gid >= 0 ? 0666 : 0600;
	return misc_register(&bcast_ctl_dev);
}

void bcast_ctl_unregister(void)
{
	misc_deregister(&bcast_ctl_dev);
}
