// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/bcastN.  O_RDWR opens the ring's one writer, O_RDONLY a reader;
 * BCAST_IOC_OPEN_READER makes another reader of the same ring object.
 *
 * Wake-ups follow the Dekker pattern of the ring format: a reader about to
 * sleep sets need_wakeup, issues a full barrier and re-reads committed;
 * the writer publishes committed, issues a full barrier, and calls
 * BCAST_IOC_NOTIFY if it sees need_wakeup.  poll() registers on the wait
 * queue before it sets need_wakeup, so a NOTIFY that follows finds it
 * (wake.c says how the wake-up itself reaches every poller).
 *
 * Whether there is a writer is the kernel's own state (ring->writer_state),
 * never the header's, which any writer can scribble over.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"

static struct bcast_file *bcast_file_alloc(struct bcast_kring *ring)
{
	struct bcast_file *bf = kzalloc(sizeof(*bf), GFP_KERNEL_ACCOUNT);

	if (!bf)
		return NULL;
	bf->ring = ring;
	spin_lock_init(&bf->arm_lock);
	INIT_LIST_HEAD(&bf->efd_node);
	return bf;
}

static int bcast_writer_attach(struct bcast_kring *ring)
{
	struct bcast_ring_hdr *h = ring->hdr;
	u64 ws, epoch;

	mutex_lock(&ring->lock);
	ws = atomic64_read(&ring->writer_state);
	if (bcast_ws_present(ws)) {
		mutex_unlock(&ring->lock);
		return -EBUSY;
	}
	epoch = bcast_ws_epoch(ws) + 1;
	ring->writer_pid = get_pid(task_tgid(current));
	/* The kernel's record first: a reader that saw the header say alive
	 * and sleeps on it must not then be told by poll() that there is
	 * no writer. */
	atomic64_set(&ring->writer_state, epoch << 1 | BCAST_WRITER_PRESENT);
	smp_mb__after_atomic();
	WRITE_ONCE(h->writer_pid, (u32)task_tgid_vnr(current));
	WRITE_ONCE(h->writer_pidns, 0);
	WRITE_ONCE(h->writer_start, 0);
	WRITE_ONCE(h->writer_alive, 1);
	/* Readers that see the new epoch (acquire) see it alive: none may
	 * take the arriving writer for a departed one. */
	smp_store_release(&h->writer_epoch, epoch);
	mutex_unlock(&ring->lock);
	/* Readers waiting for the next writer (BCAST_ARM_WRITER_GONE). */
	bcast_wake(ring, EPOLLPRI);
	return 0;
}

/* The writer's file is gone: closed, last mapping unmapped, or a crash. */
static void bcast_writer_detach(struct bcast_kring *ring)
{
	struct bcast_ring_hdr *h = ring->hdr;
	u64 ws;

	mutex_lock(&ring->lock);
	/* Release, as user-space writers store it; readers load acquire. */
	smp_store_release(&h->writer_alive, 0);
	WRITE_ONCE(h->writer_pid, 0);
	ws = atomic64_read(&ring->writer_state);
	atomic64_set(&ring->writer_state, ws & ~BCAST_WRITER_PRESENT);
	put_pid(ring->writer_pid);
	ring->writer_pid = NULL;
	mutex_unlock(&ring->lock);
	bcast_wake(ring, EPOLLHUP | EPOLLIN | EPOLLRDNORM);
}

/* Count a reader, up to max_readers: -ENOSPC beyond. */
static int bcast_reader_attach(struct bcast_kring *ring, struct bcast_file *bf)
{
	unsigned int max = READ_ONCE(bcast_max_readers);

	bf->armed.pos = READ_ONCE(ring->hdr->committed);
	bf->armed.notifies = atomic_long_read(&ring->notifies);
	mutex_lock(&ring->lock);
	if (ring->readers >= max) {
		mutex_unlock(&ring->lock);
		pr_info_ratelimited("ring '%s': max_readers (%u) reached\n",
				    ring->name, max);
		return -ENOSPC;
	}
	WRITE_ONCE(ring->readers, ring->readers + 1);
	mutex_unlock(&ring->lock);
	return 0;
}

static void bcast_reader_detach(struct bcast_kring *ring, struct bcast_file *bf)
{
	struct eventfd_ctx *efd;

	mutex_lock(&ring->efd_lock);
	efd = bf->efd;
	bf->efd = NULL;
	if (efd) {
		list_del_init(&bf->efd_node);
		ring->nr_efds--;
	}
	mutex_unlock(&ring->efd_lock);
	if (efd)
		eventfd_ctx_put(efd);
	mutex_lock(&ring->lock);
	WRITE_ONCE(ring->readers, ring->readers - 1);
	mutex_unlock(&ring->lock);
}

/*
 * The ring's own owner, group and mode decide, as for its private sysfs
 * attributes, not the inode's: a node made for a destroyed ring (a
 * container's copy) may carry the number of a ring made since.
 */
static bool bcast_may_open(const struct bcast_kring *ring, fmode_t fmode)
{
	struct user_namespace *ns = current_user_ns();
	umode_t mode = ring->mode, want = 0;

	if (fmode & FMODE_READ)
		want |= 04;
	if (fmode & FMODE_WRITE)
		want |= 02;
	if (uid_eq(current_fsuid(), ring->uid))
		mode >>= 6;
	else if (in_group_p(ring->gid))
		mode >>= 3;
	if ((mode & want) == want)
		return true;
	if (!kuid_has_mapping(ns, ring->uid) || !kgid_has_mapping(ns, ring->gid))
		return false;
	return ns_capable(ns, CAP_DAC_OVERRIDE);
}

static int bcast_open(struct inode *inode, struct file *file)
{
	struct bcast_kring *ring;
	struct bcast_file *bf;
	int err;

	/* The writer maps its ring read-write: it needs read access too. */
	if (!(file->f_mode & FMODE_READ))
		return -EINVAL;
	ring = bcast_kring_get(iminor(inode), inode->i_cdev);
	if (!ring)
		return -ENODEV;
	if (!bcast_may_open(ring, file->f_mode)) {
		err = -EACCES;
		goto put;
	}
	bf = bcast_file_alloc(ring);
	if (!bf) {
		err = -ENOMEM;
		goto put;
	}
	if (file->f_mode & FMODE_WRITE) {
		err = bcast_writer_attach(ring);
		bf->writer = true;
	} else {
		err = bcast_reader_attach(ring, bf);
	}
	if (err)
		goto free;
	file->private_data = bf;
	return nonseekable_open(inode, file);

free:
	kfree(bf);
put:
	bcast_kring_put(ring);
	return err;
}

static int bcast_release(struct inode *inode, struct file *file)
{
	struct bcast_file *bf = file->private_data;
	struct bcast_kring *ring = bf->ring;

	if (bf->writer)
		bcast_writer_detach(ring);
	else
		bcast_reader_detach(ring, bf);
	kfree(bf);
	bcast_kring_put(ring);
	return 0;
}

/* Reader: has committed moved away from the armed position?  Sets
 * need_wakeup first when it has not, so the writer's next commit calls
 * NOTIFY.
 */
static bool bcast_reader_ready(struct bcast_kring *ring, u64 pos)
{
	/* Order poll_wait()'s queueing before the loads of committed. */
	smp_mb();
	if (READ_ONCE(ring->hdr->committed) != pos)
		return true;
	WRITE_ONCE(*ring->need_wakeup, 1);
	/* Dekker: need_wakeup store before the committed load. */
	smp_mb();
	return READ_ONCE(ring->hdr->committed) != pos;
}

/*
 * The writer events for a reader that armed @a (see the uapi header):
 * EPOLLHUP while there is no writer, unless the reader said it saw the
 * departure of the ring's current epoch; EPOLLPRI once the epoch differs
 * from the one it said was gone.
 */
static __poll_t bcast_writer_events(u64 ws, const struct bcast_armed *a)
{
	bool gone_seen = a->flags & BCAST_ARM_WRITER_GONE;
	u64 epoch = bcast_ws_epoch(ws);
	__poll_t mask = 0;

	if (gone_seen && epoch != a->epoch)
		mask |= EPOLLPRI;
	if (!bcast_ws_present(ws) && !(gone_seen && epoch == a->epoch))
		mask |= EPOLLHUP;
	return mask;
}

/*
 * What a reader file reports, per its last ARM.  The caller is already on
 * the ring's wait queue (poll_wait(), prepare_to_wait_event()): the
 * barrier here orders that queueing before the loads of the writer state,
 * and the one in bcast_reader_ready() before the loads of committed.
 */
__poll_t bcast_reader_events(struct bcast_file *bf)
{
	struct bcast_kring *ring = bf->ring;
	struct bcast_armed a;
	__poll_t mask = 0;

	spin_lock(&bf->arm_lock);
	a = bf->armed;
	spin_unlock(&bf->arm_lock);
	/*
	 * A NOTIFY since the reader armed cleared need_wakeup: re-arming here
	 * would do without the reader's own barrier (its membarrier() may be
	 * what stands in for the writer's fence), so let it re-arm itself.
	 */
	smp_mb();
	if (atomic_long_read(&ring->notifies) != a.notifies ||
	    bcast_reader_ready(ring, a.pos))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask | bcast_writer_events(atomic64_read(&ring->writer_state),
					  &a);
}

static __poll_t bcast_poll(struct file *file, struct poll_table_struct *wait)
{
	struct bcast_file *bf = file->private_data;

	if (bf->writer)
		return EPOLLOUT | EPOLLWRNORM;
	poll_wait(file, &bf->ring->wq, wait);
	return bcast_reader_events(bf);
}

/*
 * Reader: sleep until poll() would report something, or for at most
 * timeout_ns (forever if negative): poll() for this one file without a
 * poll table, so that a wake-up costs what a blocking read() does.
 */
static long bcast_ioc_wait(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_kring *ring = bf->ring;
	struct bcast_wait_arg arg;
	__poll_t mask = 0;
	long rc;

	if (bf->writer)
		return -EPERM;
	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved)
		return -EINVAL;
	rc = wait_event_interruptible_hrtimeout(ring->wq,
						(mask = bcast_reader_events(bf)),
						bcast_wait_timeout(arg.timeout_ns));
	if (rc == -ETIME)
		return 0;
	if (rc)
		return bcast_wait_interrupted();
	return (__force long)mask;
}

/*
 * Arm reader @bf (BCAST_IOC_ARM, and uring.c's WAIT): record @arm and set
 * need_wakeup.  1 if committed already differs from arm->pos, 0 if not,
 * -EINVAL for unknown flags.  The caller has refused the writer's file.
 */
int bcast_file_arm(struct bcast_file *bf, const struct bcast_arm *arm)
{
	struct bcast_kring *ring = bf->ring;

	if (arm->reserved ||
	    (arm->flags & ~(BCAST_ARM_WRITER_GONE | BCAST_ARM_NO_MEMBARRIER)))
		return -EINVAL;
	/* Read by the writer when it wakes readers: sticky, never cleared. */
	if (arm->flags & BCAST_ARM_NO_MEMBARRIER)
		atomic_or(BCAST_READERS_NO_MEMBARRIER,
			  (atomic_t *)ring->reader_flags);
	spin_lock(&bf->arm_lock);
	bf->armed.pos = arm->pos;
	bf->armed.epoch = arm->epoch;
	bf->armed.flags = arm->flags;
	/* Sampled before need_wakeup is set: a NOTIFY that clears it after
	 * this makes poll() report ready. */
	bf->armed.notifies = atomic_long_read(&ring->notifies);
	spin_unlock(&bf->arm_lock);
	smp_mb();
	WRITE_ONCE(*ring->need_wakeup, 1);
	/* Dekker: need_wakeup store before the committed load. */
	smp_mb();
	return READ_ONCE(ring->hdr->committed) != arm->pos ? 1 : 0;
}

static long bcast_ioc_notify(struct bcast_file *bf)
{
	struct bcast_kring *ring = bf->ring;

	if (!bf->writer)
		return -EPERM;
	WRITE_ONCE(*ring->need_wakeup, 0);
	/* Clear, then count the notify, then wake (bcast_wake() orders it):
	 * a reader armed before the clear sees the count move and re-arms
	 * itself; one re-arming after the wake sets need_wakeup again.
	 */
	smp_mb__before_atomic();
	atomic_long_inc(&ring->notifies);
	bcast_wake(ring, EPOLLIN | EPOLLRDNORM);
	return 0;
}

static long bcast_ioc_arm(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_arm arm;

	if (bf->writer)
		return -EPERM;
	if (copy_from_user(&arm, uarg, sizeof(arm)))
		return -EFAULT;
	return bcast_file_arm(bf, &arm);
}

/*
 * The writer: a write of 8 bytes is a NOTIFY, so that io_uring can make
 * it (IORING_OP_WRITE, run by an io-wq worker rather than the writer).
 * The bytes are not read: what matters is that the writer asked.
 */
static ssize_t bcast_write(struct file *file, const char __user *buf,
			   size_t len, loff_t *ppos)
{
	struct bcast_file *bf = file->private_data;
	long rc;

	if (len != sizeof(__u64))
		return -EINVAL;
	rc = bcast_ioc_notify(bf);
	return rc ? rc : sizeof(__u64);
}

/* Reader: end this file's pending BCAST_URING_WAIT: 1, or 0 if none. */
static long bcast_ioc_cancel(struct bcast_file *bf)
{
	if (bf->writer)
		return -EPERM;
	return bcast_uring_cancel(bf);
}

/* Reader: signal eventfd @fd on every wake-up; -1 unregisters. */
static long bcast_ioc_set_eventfd(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_kring *ring = bf->ring;
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
	mutex_lock(&ring->efd_lock);
	old = bf->efd;
	bf->efd = efd;
	if (old && !efd) {
		list_del_init(&bf->efd_node);
		ring->nr_efds--;
	} else if (!old && efd) {
		list_add_tail(&bf->efd_node, &ring->efd_list);
		ring->nr_efds++;
	}
	mutex_unlock(&ring->efd_lock);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

static long bcast_ioc_info(struct bcast_file *bf, void __user *uarg)
{
	struct bcast_kring *ring = bf->ring;
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

/*
 * Any ring file: a new reader file of the same ring object, installed as
 * an O_RDONLY | O_CLOEXEC fd.  No path lookup: the ring is the one this
 * file holds, destroyed or not, whatever now has its name or minor.
 */
static long bcast_ioc_open_reader(struct bcast_file *bf)
{
	struct bcast_kring *ring = bf->ring;
	struct bcast_file *nbf;
	int fd;

	nbf = bcast_file_alloc(ring);
	if (!nbf)
		return -ENOMEM;
	fd = bcast_reader_attach(ring, nbf);
	if (fd)
		goto free;
	kref_get(&ring->kref);
	fd = anon_inode_getfd("[bcast]", &bcast_fops, nbf, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	bcast_reader_detach(ring, nbf);
	bcast_kring_put(ring);
free:
	kfree(nbf);
	return fd;
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
	case BCAST_IOC_OPEN_READER:
		return bcast_ioc_open_reader(bf);
	case BCAST_IOC_WAIT:
		return bcast_ioc_wait(bf, uarg);
	case BCAST_IOC_CANCEL:
		return bcast_ioc_cancel(bf);
	case BCAST_IOC_REGISTER:
		return bcast_ioc_register(bf, uarg);
	case BCAST_IOC_GATE_NOTIFY:
		return bf->writer ? -EPERM : bcast_gate_notify(bf->ring);
	case BCAST_IOC_GATE_WAIT:
		return bcast_ioc_gate_wait(bf, uarg);
	default:
		return -ENOTTY;
	}
}

const struct file_operations bcast_fops = {
	.owner = THIS_MODULE,
	.open = bcast_open,
	.release = bcast_release,
	.write = bcast_write,
	.unlocked_ioctl = bcast_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = bcast_poll,
#if BCAST_URING_CMD
	.uring_cmd = bcast_uring_cmd,
#endif
	.mmap = bcast_mmap,
	.get_unmapped_area = thp_get_unmapped_area,
};
