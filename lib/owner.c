// SPDX-License-Identifier: MIT
/*
 * Who is the writer of a shm, file or memory ring (bcast.ko decides for
 * device rings).
 *
 * The header's writer_lock word is the writer's whole identity: pid and
 * start time (so that a reused pid is not mistaken for its owner), packed
 * into one 64-bit word and claimed with one compare-and-swap, from 0 (free)
 * or from the exact value of an owner found dead.  A contender that loses
 * the CAS reloads and judges the new value; nothing else about the owner
 * is ever read, so there is no window in which a half-written identity can
 * be judged.  The epoch, the alive flag and the informational pid are
 * written afterwards, by the owner alone.
 *
 * A ring that lives in a file is also guarded by an OFD write lock on
 * bytes [BCAST_LOCK_OFFSET, +8) of the file (bit 63 of the word says so):
 * the kernel releases it when the owner's open file goes away, crash
 * included, and any process that has the file open can test it, in any
 * pid namespace.  A pid can only be checked from the owner's own pid
 * namespace; from elsewhere the lock is what tells.  The writer takes it
 * on an open file of its own (reopened through /proc/self/fd), not on the
 * ring's: a fork() child that shares the ring's open file and tries to
 * become the writer too is then refused by the lock, instead of taking it
 * again as its own and dropping it on the way out.
 *
 * The model of this protocol is owner.pml, next to this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

/*
 * Start time (clock ticks since boot, field 22 of /proc/PID/stat) of a
 * process that can still run code.  -ESRCH for a zombie (a thread-group
 * leader in state Z with other threads still running counts as alive:
 * field 20 is the thread count); -ENOENT when /proc has no such entry,
 * which says nothing by itself (no /proc mounted, hidepid=).
 */
static int process_start_time(pid_t pid, uint64_t *ticks)
{
	unsigned long long start = 0;
	char path[96], buf[1024], *p, *save, *field, state = 0;
	long threads = 0;
	FILE *f;
	int i;

	/*
	 * pid 0: this process, as /proc/self names it, which is right even
	 * in a /proc mounted for another pid namespace; read through its
	 * main thread's task entry, which emulators such as qemu-user do not
	 * replace with their own (they fake /proc/self/stat and
	 * /proc/<own pid>/stat).
	 */
	if (!pid) {
		char self[32];
		ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);

		if (n < 0)
			return -errno;
		self[n] = '\0';
		snprintf(path, sizeof(path), "/proc/%s/task/%s/stat", self, self);
	} else {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	}
	f = fopen(path, "re");
	if (!f)
		return -errno;	/* -ENOENT: gone, or hidden from us */
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* The command name (field 2) may hold anything: fields 3 and on
	 * follow its last ')'. */
	if (!p || !(p = strrchr(buf, ')')))
		return -EINVAL;
	for (i = 3, field = strtok_r(p + 1, " ", &save); field && i <= 22;
	     i++, field = strtok_r(NULL, " ", &save)) {
		if (i == 3)
			state = field[0];
		else if (i == 20)
			threads = strtol(field, NULL, 10);
		else if (i == 22)
			start = strtoull(field, NULL, 10);
	}
	if (i <= 22 || !state)
		return -EINVAL;
	if (state == 'X' || (state == 'Z' && threads <= 1))
		return -ESRCH;
	*ticks = start;
	return 0;
}

/* This process's identity without the OFD bit, and the pid it was made
 * for (fork changes it); any thread may make it, all make the same. */
static uint64_t self_token;
static pid_t self_token_pid;

static uint64_t token_of_self(void)
{
	pid_t pid = getpid();
	uint64_t start, token;

	if (__atomic_load_n(&self_token_pid, __ATOMIC_ACQUIRE) == pid)
		return __atomic_load_n(&self_token, __ATOMIC_RELAXED);
	if (process_start_time(0, &start))
		start = 0;
	token = ((start & BCAST_LOCK_START_MASK) << BCAST_LOCK_PID_BITS) |
		((uint64_t)pid & BCAST_LOCK_PID_MASK);
	__atomic_store_n(&self_token, token, __ATOMIC_RELAXED);
	__atomic_store_n(&self_token_pid, pid, __ATOMIC_RELEASE);
	return token;
}

pid_t lock_token_pid(uint64_t token)
{
	return (pid_t)(token & BCAST_LOCK_PID_MASK);
}

/*
 * Is the process of `token` running, as far as this pid namespace can
 * tell?  1 yes, 0 no (or it is some other process now), -1 cannot say.
 */
static int token_process_alive(uint64_t token)
{
	pid_t pid = lock_token_pid(token);
	uint64_t want = (token >> BCAST_LOCK_PID_BITS) & BCAST_LOCK_START_MASK;
	uint64_t ticks;

	if (pid <= 0)
		return 0;
	if ((token & ~BCAST_LOCK_OFD) == token_of_self())
		return 1;
	/* kill() knows whether the pid exists, /proc what it is now. */
	if (kill(pid, 0) && errno == ESRCH)
		return 0;
	if (!want)
		return -1;	/* an owner that could not read its own start */
	switch (process_start_time(pid, &ticks)) {
	case 0:
		return (ticks & BCAST_LOCK_START_MASK) == want;
	case -ESRCH:
		return 0;
	default:
		return -1;	/* it exists, but /proc does not show it */
	}
}

static struct flock lock_range(short type, off_t at)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = at;
	fl.l_len = 8;
	return fl;
}

/* Does an open file other than `fd`'s hold the OFD lock at `at`? */
static bool ofd_lock_held(int fd, off_t at)
{
	struct flock fl = lock_range(F_WRLCK, at);

	if (fcntl(fd, F_OFD_GETLK, &fl))
		return true;	/* cannot tell: do not declare it dead */
	return fl.l_type != F_UNLCK;
}

/*
 * Is the owner named by `token` alive?  A process found running in this
 * pid namespace is; otherwise, when it took the OFD lock, whether some
 * open file still holds the lock decides (it may live in another pid
 * namespace, or be a fork() child sharing the owner's open file).
 */
bool lock_token_alive(const struct bcast_ring *r, uint64_t token, off_t at,
		      int lock_fd)
{
	int alive = token_process_alive(token);

	if (alive > 0)
		return true;
	/* Asked from the open file that holds our own lock, the test sees
	 * only others' (and with our lock taken, there is none). */
	if ((token & BCAST_LOCK_OFD) && (lock_fd >= 0 || r->fd >= 0))
		return ofd_lock_held(lock_fd >= 0 ? lock_fd : r->fd, at);
	return alive < 0;
}

bool owner_alive(const struct bcast_ring *r)
{
	const struct bcast_ring_hdr *h = r->hdr;
	uint64_t token;

	if (!load_acquire(&h->writer_alive))
		return false;
	token = load_acquire(&h->writer_lock);
	return token && lock_token_alive(r, token, BCAST_LOCK_OFFSET, -1);
}

pid_t owner_pid(const struct bcast_ring *r)
{
	return lock_token_pid(load_acquire(&r->hdr->writer_lock));
}

/* A new open file of the ring's file, or the ring's own fd without /proc. */
static int own_open_file(const struct bcast_ring *r)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd >= 0 ? fd : r->fd;
}

/* Close the open file own_open_file() gave, unless it is the ring's. */
static void close_own_file(const struct bcast_ring *r, int fd)
{
	if (fd >= 0 && fd != r->fd)
		close(fd);
}

/*
 * Take the OFD lock of a ring file on an open file of our own (*fd):
 * 1 taken, 0 unsupported (*fd is -1), -EBUSY.
 */
static int ofd_lock(const struct bcast_ring *r, off_t at, int *fd)
{
	struct flock fl = lock_range(F_WRLCK, at);
	int err;

	*fd = -1;
	if (r->fd < 0)
		return 0;	/* memory rings: no file to lock */
	*fd = own_open_file(r);
	if (!fcntl(*fd, F_OFD_SETLK, &fl))
		return 1;
	err = errno == EAGAIN || errno == EACCES ? -EBUSY : 0;
	close_own_file(r, *fd);
	*fd = -1;
	return err;	/* 0: no OFD locks here, the word alone decides */
}

static void ofd_unlock(const struct bcast_ring *r, off_t at, int fd)
{
	struct flock fl = lock_range(F_UNLCK, at);

	fcntl(fd, F_OFD_SETLK, &fl);
	close_own_file(r, fd);
}

/*
 * Take the lock word at `word` (at byte `at` of the ring's file) for this
 * process: 0 and *token_out, or -EBUSY while a live owner holds it.
 */
int lock_word_claim(struct bcast_ring *r, __u64 *word, off_t at,
		    uint64_t *token_out, int *lock_fd)
{
	__u64 mine = token_of_self(), cur;
	int locked = ofd_lock(r, at, lock_fd);

	if (locked < 0)
		return locked;
	if (locked)
		mine |= BCAST_LOCK_OFD;
	cur = load_acquire(word);
	for (;;) {
		if (cur && lock_token_alive(r, cur, at, *lock_fd)) {
			if (locked)
				ofd_unlock(r, at, *lock_fd);
			*lock_fd = -1;
			return -EBUSY;
		}
		/* From free, or from exactly the dead owner we judged. */
		if (__atomic_compare_exchange_n(word, &cur, mine, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	*token_out = mine;
	return 0;
}

int owner_claim(struct bcast_writer *w)
{
	int err = lock_word_claim(w->r, &w->r->hdr->writer_lock,
				  BCAST_LOCK_OFFSET, &w->token, &w->lock_fd);

	if (!err)
		store_relaxed(&w->hdr->writer_pid, (uint32_t)getpid());
	return err;
}

/* After writer_alive: a reader that sees the new epoch sees us alive. */
void owner_announce(struct bcast_writer *w)
{
	__atomic_fetch_add(&w->hdr->writer_epoch, 1, __ATOMIC_RELEASE);
}

void lock_word_release(struct bcast_ring *r, __u64 *word, off_t at,
		       uint64_t token, int lock_fd)
{
	__u64 expect = token;

	/* Only ours to clear: a hostile value stays for others to judge. */
	__atomic_compare_exchange_n(word, &expect, 0, false,
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	if (lock_fd >= 0)
		ofd_unlock(r, at, lock_fd);
}

void owner_release(struct bcast_writer *w)
{
	lock_word_release(w->r, &w->r->hdr->writer_lock, BCAST_LOCK_OFFSET,
			  w->token, w->lock_fd);
}

/* A fork() child's copy of a writer: close our copy of its lock file
 * only, which leaves the lock with the parent's. */
void owner_forget(struct bcast_writer *w)
{
	close_own_file(w->r, w->lock_fd);
}
