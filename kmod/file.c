// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/bcastN.  O_RDWR opens the ring's one writer, O_RDONLY a reader.
 *
 * Wake-ups follow the Dekker pattern of the ring format: a reader about to
 * sleep sets need_wakeup, issues a full barrier and re-reads committed;
 * the writer publishes committed, issues a full barrier, and calls
 * BCAST_IOC_NOTIFY if it sees need_wakeup.  poll() registers on the wait
 * queue before it sets need_wakeup, so a NOTIFY that follows finds it.
 *
 * Whether there is a writer is the kernel's own state (ring->writer), never
 * the header's, which any writer can scribble over.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"

static void bcast_eventfd_signal(struct eventfd_ctx *efd)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(efd);
#else
	eventfd_signal(efd, 1);
#endif
}

/* Wake every poller with @mask and signal every registered eventfd. */
static void bcast_wake_all(struct bcast_ring *ring, __poll_t mask)
{
	struct bcast_file *bf;

	wake_up_interruptible_poll(&ring->wq, mask);
	spin_lock(&ring->efd_lock);
	list_for_each_entry(bf, &ring->efd_list, efd_node)
		bcast_eventfd_signal(bf->efd);
	spin_unlock(&ring->efd_lock);
}

static int bcast_writer_attach(struct bcast_ring *ring)
{
	struct bcast_ring_hdr *h = ring->hdr;

	mutex_lock(&ring->lock);
	if (ring->writer) {
		mutex_unlock(&ring->lock);
		return -EBUSY;
	}
	ring->writer_pid = get_pid(task_tgid(current));
	ring->writer_epoch++;
	WRITE_ONCE(h->writer_pid, (u32)task_tgid_vnr(current));
	WRITE_ONCE(h->writer_pidns, 0);
	WRITE_ONCE(h->writer_start, 0);
	WRITE_ONCE(h->writer_epoch, ring->writer_epoch);
	/* Readers that see alive (acquire) see the fields above. */
	smp_store_release(&h->writer_alive, 1);
	WRITE_ONCE(ring->writer, true);
	mutex_unlock(&ring->lock);
	return 0;
}

/* The writer's file is gone: closed, last mapping unmapped, or a crash. */
static void bcast_writer_detach(struct bcast_ring *ring)
{
	struct bcast_ring_hdr *h = ring->hdr;

	mutex_lock(&ring->lock);
	/* Release, as user-space writers store it; readers load acquire. */
	smp_store_release(&h->writer_alive, 0);
	WRITE_ONCE(h->writer_pid, 0);
	WRITE_ONCE(ring->writer, false);
	put_pid(ring->writer_pid);
	ring->writer_pid = NULL;
	mutex_unlock(&ring->lock);
	/* Pair with the barrier in poll: it sees !writer or gets woken. */
	smp_mb();
	bcast_wake_all(ring, EPOLLHUP | EPOLLIN | EPOLLRDNORM);
}

static void bcast_reader_attach(struct bcast_ring *ring, struct bcast_file *bf)
{
	bf->armed = READ_ONCE(ring->hdr->committed);
	mutex_lock(&ring->lock);
	WRITE_ONCE(ring->readers, ring->readers + 1);
	mutex_unlock(&ring->lock);
}

static void bcast_reader_detach(struct bcast_ring *ring, struct bcast_file *bf)
{
	struct eventfd_ctx *efd;

	spin_lock(&ring->efd_lock);
	efd = bf->efd;
	bf->efd = NULL;
	if (efd)
		list_del_init(&bf->efd_node);
	spin_unlock(&ring->efd_lock);
	if (efd)
		eventfd_ctx_put(efd);
	mutex_lock(&ring->lock);
	WRITE_ONCE(ring->readers, ring->readers - 1);
	mutex_unlock(&ring->lock);
}

static int bcast_open(struct inode *inode, struct file *file)
{
	struct bcast_ring *ring;
	struct bcast_file *bf;
	int err;

	/* The writer maps its ring read-write: it needs read access too. */
	if (!(file->f_mode & FMODE_READ))
		return -EINVAL;
	ring = bcast_ring_get(iminor(inode), inode->i_cdev);
	if (!ring)
		return -ENODEV;
	bf = kzalloc(sizeof(*bf), GFP_KERNEL);
	if (!bf) {
		err = -ENOMEM;
		goto put;
	}
	bf->ring = ring;
	INIT_LIST_HEAD(&bf->efd_node);
	if (file->f_mode & FMODE_WRITE) {
		err = bcast_writer_attach(ring);
		if (err)
			goto free;
		bf->writer = true;
	} else {
		bcast_reader_attach(ring, bf);
	}
	file->private_data = bf;
	return nonseekable_open(inode, file);

free:
	kfree(bf);
put:
	bcast_ring_put(ring);
	return err;
}

static int bcast_release(struct inode *inode, struct file *file)
{
	struct bcast_file *bf = file->private_data;
	struct bcast_ring *ring = bf->ring;

	if (bf->writer)
		bcast_writer_detach(ring);
	else
		bcast_reader_detach(ring, bf);
	kfree(bf);
	bcast_ring_put(ring);
	return 0;
}

/* Reader: has committed moved past the armed position?  Sets need_wakeup
 * first when it has not, so the writer's next commit calls NOTIFY.
 */
static bool bcast_reader_ready(struct bcast_ring *ring, u64 armed)
{
	/* Order poll_wait()'s queueing before the loads of committed. */
	smp_mb();
	if (READ_ONCE(ring->hdr->committed) != armed)
		return true;
	WRITE_ONCE(*ring->need_wakeup, 1);
	/* Dekker: need_wakeup store before the committed load. */
	smp_mb();
	return READ_ONCE(ring->hdr->committed) != armed;
}

static __poll_t bcast_poll(struct file *file, struct poll_table_struct *wait)
{
	struct bcast_file *bf = file->private_data;
	struct bcast_ring *ring = bf->ring;
	__poll_t mask = 0;

	if (bf->writer)
		return EPOLLOUT | EPOLLWRNORM;
	poll_wait(file, &ring->wq, wait);
	if (bcast_reader_ready(ring, READ_ONCE(bf->armed)))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (!READ_ONCE(ring->writer))
		mask |= EPOLLHUP;
	return mask;
}

static long bcast_ioc_arm(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_ring *ring = bf->ring;
	struct bcast_arm arm;

	if (bf->writer)
		return -EPERM;
	if (copy_from_user(&arm, uarg, sizeof(arm)))
		return -EFAULT;
	WRITE_ONCE(bf->armed, arm.pos);
	WRITE_ONCE(*ring->need_wakeup, 1);
	/* Dekker: need_wakeup store before the committed load. */
	smp_mb();
	return READ_ONCE(ring->hdr->committed) != arm.pos ? 1 : 0;
}

static long bcast_ioc_notify(struct bcast_file *bf)
{
	struct bcast_ring *ring = bf->ring;

	if (!bf->writer)
		return -EPERM;
	WRITE_ONCE(*ring->need_wakeup, 0);
	/* Clear before waking: a reader re-arming after the wake sets it. */
	smp_mb();
	bcast_wake_all(ring, EPOLLIN | EPOLLRDNORM);
	return 0;
}

/* Reader: signal eventfd @fd on every wake-up; -1 unregisters. */
static long bcast_ioc_set_eventfd(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_ring *ring = bf->ring;
	struct eventfd_ctx *efd = NULL, *old;
	__s32 fd;

	if (bf->writer)
		return -EPERM;
	if (get_user(fd, (__s32 __user *)uarg))
		return -EFAULT;
	if (fd != -1) {
		if (fd < 0)
			return -EBADF;
		efd = eventfd_ctx_fdget(fd);
		if (IS_ERR(efd))
			return PTR_ERR(efd);
	}
	spin_lock(&ring->efd_lock);
	old = bf->efd;
	bf->efd = efd;
	if (old && !efd)
		list_del_init(&bf->efd_node);
	else if (!old && efd)
		list_add_tail(&bf->efd_node, &ring->efd_list);
	spin_unlock(&ring->efd_lock);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

static long bcast_ioc_info(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_ring *ring = bf->ring;
	struct bcast_dev_info info;

	memset(&info, 0, sizeof(info));
	info.capacity = ring->capacity;
	info.map_size = ring->mem.size;
	info.flags = BCAST_RING_DEVICE |
		     (bcast_mem_huge(&ring->mem) ? BCAST_RING_HUGEPAGE : 0);
	info.minor = ring->minor;
	strscpy(info.name, ring->name, sizeof(info.name));
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long bcast_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct bcast_file *bf = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case BCAST_IOC_ARM:
		return bcast_ioc_arm(bf, uarg);
	case BCAST_IOC_NOTIFY:
		return bcast_ioc_notify(bf);
	case BCAST_IOC_SET_EVENTFD:
		return bcast_ioc_set_eventfd(bf, uarg);
	case BCAST_IOC_INFO:
		return bcast_ioc_info(bf, uarg);
	default:
		return -ENOTTY;
	}
}

const struct file_operations bcast_fops = {
	.owner = THIS_MODULE,
	.open = bcast_open,
	.release = bcast_release,
	.unlocked_ioctl = bcast_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = bcast_poll,
	.mmap = bcast_mmap,
	.get_unmapped_area = thp_get_unmapped_area,
};
