// SPDX-License-Identifier: MIT
/*
 * Device rings read from inside containers.  A reader in mount, IPC, UTS,
 * network and pid namespaces of its own, with a private /dev/shm, io_uring
 * refused by seccomp and no capability over the ring (as an unprivileged
 * uid, or as root of a user namespace it made unprivileged), opens
 * /dev/bcastN by path and gets every message a writer in the initial
 * namespaces publishes, learns of that writer's death from the kernel and
 * of the next writer's arrival, and can create, destroy and write
 * nothing.  The node's group decides who may read a ring at all, and a
 * container's copy of a node must not outlive its ring's permissions.
 *
 * The readers report their first failure in shared memory and a word on
 * a pipe at each step; every wait has a time limit, so a bug fails the
 * test instead of hanging it.
 */
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include "kselftest_harness.h"
#include "common.h"
#include "bcast.h"
#include "failure.h"
#include "payload.h"
#include "waiting.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)

#define RING		"ns-ring"	/* the one the container reads */
#define OTHER_RING	"ns-other"	/* root's alone (0600) */
#define GROUP_RING	"ns-group"
#define INTRUDER	"ns-intruder"	/* what a container tries to create */
#define RING_SIZE	(4 * MIB)	/* holds every message: no overrun */
#define RING_GID	2000		/* the group that may read the rings */
#define CONTAINER_UID	1000
#define USERNS_UID	1001
#define MEMBER_UID	1002
#define STRANGER_UID	1003
#define HOST_MARKER	"/dev/shm/bcast-ns-host-marker"

#define FIRST_RUN	10000		/* messages of the first writer */
#define SECOND_RUN	1000		/* and of the one replacing it */
#define GROUP_MESSAGES	100
#define MAX_LEN		256
#define BURST		100		/* the writer pauses after so many */

#define SETUP_MS	60000		/* a container coming up, emulated */
#define READ_MS		120000		/* a writer's whole run read */
#define WAIT_MS		10000		/* one bcast_wait() for a message */
#define GONE_MS		5000		/* the kill seen, and a pause after */
#define ASLEEP_US	30000		/* for the reader to fall asleep */
#define DEATH_LIMIT_S	0.1

/* Everything a namespace has, but the user namespace. */
#define CONTAINER_NAMESPACES (CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | \
			      CLONE_NEWNET | CLONE_NEWPID)

/* What the parent, the writers and the container share. */
struct shared {
	struct failure reader;		/* the container's (or a child's) */
	struct failure writer;
	double gone_at[2];		/* writer i's death reported, CLOCK_MONOTONIC */
	struct bcast_reader_stats st;	/* the container reader's at the end */
};

static size_t msg_len(uint64_t seq)
{
	return 8 + (size_t)(seq * 37 % (MAX_LEN - 7));
}

static const char *why(const struct failure *f)
{
	return failed(f) ? f->why : "no failure reported (a time-out?)";
}

static struct shared *shared_new(void)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---- words on a pipe, with time limits ---- */

static int say(int fd, char word)
{
	return write(fd, &word, 1) == 1 ? 0 : -1;
}

/* 0 once `word` arrives within `ms`; -1 on a time-out, the other side
 * gone, or another word. */
static int expect_word(int fd, char word, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c == word ? 0 : -1;
}

/* waitpid() for at most `secs`; a child still running then is killed.
 * 0 with its status, or -1. */
static int reap(pid_t pid, double secs, int *status)
{
	double end = now_s() + secs;

	while (now_s() < end) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

static void kill_child(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	waitpid(*pid, &status, 0);
	*pid = 0;
}

/* ---- writers, in the initial namespaces ---- */

static int publish_run(const char *path, uint64_t first, uint64_t count,
		       struct failure *f)
{
	unsigned char buf[MAX_LEN];
	struct bcast_writer *w;
	struct bcast_ring *r;
	uint64_t seq;
	int rc;

	rc = bcast_ring_open(path, BCAST_RDWR, &r);
	if (!rc)
		rc = bcast_writer_open(r, &w);
	if (rc) {
		fail(f, "writer: opening %s: %s", path, bcast_strerror(rc));
		return -1;
	}
	for (seq = first; seq < first + count; seq++) {
		payload_fill(buf, msg_len(seq), seq);
		rc = bcast_publish(w, buf, msg_len(seq), (uint32_t)seq);
		if (rc) {
			fail(f, "writer: publishing message %llu: %s",
			     (unsigned long long)seq, bcast_strerror(rc));
			return -1;
		}
		/* so that the reader keeps catching up and falling asleep */
		if ((seq + 1) % BURST == 0)
			usleep(500);
	}
	return 0;
}

/*
 * A child that publishes messages first .. first+count-1 on the ring at
 * `path` and then waits to be killed, keeping the writer.  Its pid once it
 * has published them all, or -1 (why in f).
 */
static pid_t spawn_publisher(const char *path, uint64_t first, uint64_t count,
			     struct failure *f)
{
	int fds[2], status;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		if (publish_run(path, first, count, f) || say(fds[1], 'd'))
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (pid > 0 && expect_word(fds[0], 'd', READ_MS)) {
		if (!failed(f))
			fail(f, "writer: no word after publishing %llu messages",
			     (unsigned long long)count);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		pid = -1;
	}
	close(fds[0]);
	return pid;
}

/* ---- reading ---- */

/*
 * Receive messages first .. first+count-1, each checked byte for byte,
 * sleeping in bcast_wait() while none is pending: 0, or -1 saying why.
 */
static int receive_run(struct bcast_reader *rd, uint64_t first,
		       uint64_t count, struct failure *f)
{
	unsigned char buf[MAX_LEN];
	uint64_t seq = first;
	struct bcast_msg m;

	while (seq < first + count) {
		ssize_t n = bcast_receive(rd, buf, sizeof(buf), &m);
		int rc;

		if (n == -EAGAIN) {
			rc = bcast_wait(rd, WAIT_MS);
			if (rc) {
				fail(f, "waiting for message %llu: %s",
				     (unsigned long long)seq, bcast_strerror(rc));
				return -1;
			}
			continue;
		}
		if (n == -EINPROGRESS)
			continue;
		if (n < 0) {
			fail(f, "receiving message %llu: %s",
			     (unsigned long long)seq, bcast_strerror((int)n));
			return -1;
		}
		if ((size_t)n != msg_len(seq) || m.type != (uint32_t)seq ||
		    !payload_ok(buf, (size_t)n, seq)) {
			fail(f, "message %llu: %zd bytes of type %u (%s), expected %zu bytes of type %u",
			     (unsigned long long)seq, n, m.type,
			     (size_t)n == msg_len(seq) ? "bytes differ" : "length differs",
			     msg_len(seq), (uint32_t)seq);
			return -1;
		}
		seq++;
	}
	return 0;
}

/* ---- what a process may not do ---- */

/* 0 if call `what` failed with `want`, else -1 saying what it did. */
static int refused(int rc, int want, const char *what, struct failure *f)
{
	int err = errno;

	if (rc != -1) {
		fail(f, "%s: succeeded, should fail with %s", what, strerror(want));
		return -1;
	}
	if (err != want) {
		fail(f, "%s: %s, should be %s", what, strerror(err), strerror(want));
		return -1;
	}
	return 0;
}

/* The same for a call that returns -errno (the library's). */
static int refused_neg(int rc, int want, const char *what, struct failure *f)
{
	if (rc == -want)
		return 0;
	fail(f, "%s: %s, should be %s", what,
	     rc ? bcast_strerror(rc) : "succeeded", strerror(want));
	return -1;
}

/* 0 or the errno of opening or reading a sysfs attribute of bcastN. */
static int sysfs_errno(unsigned minor, const char *attr)
{
	char path[128], buf[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/sys/class/bcast/bcast%u/%s", minor, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (read(fd, buf, sizeof(buf)) < 0)
		err = errno;
	close(fd);
	return err;
}

static int open_node(const char *path, int flags)
{
	return open(path, flags | O_CLOEXEC);
}

/* The control device: refused by its node, and by the kernel to a file
 * of it handed in (ctl_fd, opened by root outside). */
static int cannot_create_or_destroy(int ctl_fd, struct failure *f)
{
	struct bcast_ring_opts o = { .size = 64 * KIB };
	struct bcast_ctl_create create;
	struct bcast_ctl_destroy destroy;
	struct bcast_ring *r = NULL;
	int fd = open("/dev/bcast-ctl", O_RDWR | O_CLOEXEC);

	/* The node is root's alone (0600) unless the module has a ctl_gid,
	 * whose members need it (0666, the ioctls check). */
	if (param_num("ctl_gid") >= 0) {
		if (fd < 0) {
			fail(f, "open(/dev/bcast-ctl) with ctl_gid set: %s",
			     strerror(errno));
			return -1;
		}
		close(fd);
	} else if (refused(fd, EACCES, "open(/dev/bcast-ctl, O_RDWR)", f)) {
		return -1;
	}
	memset(&create, 0, sizeof(create));
	snprintf(create.name, sizeof(create.name), INTRUDER);
	create.size = 64 * KIB;
	create.mode = 0666;
	create.uid = getuid();	/* its own: only the capability is missing */
	create.gid = getgid();
	if (refused(ioctl(ctl_fd, BCAST_CTL_CREATE, &create), EPERM,
		    "BCAST_CTL_CREATE through a control file handed in", f))
		return -1;
	memset(&destroy, 0, sizeof(destroy));
	snprintf(destroy.name, sizeof(destroy.name), RING);
	if (refused(ioctl(ctl_fd, BCAST_CTL_DESTROY, &destroy), EPERM,
		    "BCAST_CTL_DESTROY of " RING " through a control file handed in", f))
		return -1;
	if (refused_neg(bcast_ring_create(INTRUDER, &o, &r), EACCES,
			"bcast_ring_create(" INTRUDER ")", f))
		return -1;
	return 0;
}

/* mmap(PROT_WRITE) of a reader's file with `flags` fails with `want`. */
static int writable_mapping(int fd, size_t len, int flags, int want,
			    struct failure *f)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	int rc = refused(p == MAP_FAILED ? -1 : 0, want, flags == MAP_SHARED ?
			 "mmap(PROT_WRITE, MAP_SHARED) of a reader's file" :
			 "mmap(PROT_WRITE, MAP_PRIVATE) of a reader's file", f);

	if (p != MAP_FAILED)
		munmap(p, len);
	return rc;
}

/* Neither a node of its own for the ring nor new permissions on this
 * one: the way round the node's mode a root of a user namespace might
 * try. */
static int cannot_remake_the_node(const char *path, struct failure *f)
{
	struct stat st;

	if (stat(path, &st)) {
		fail(f, "stat(%s): %s", path, strerror(errno));
		return -1;
	}
	if (refused(mknod("/dev/shm/bcast-forged", S_IFCHR | 0666, st.st_rdev),
		    EPERM, "mknod() of the ring's device number", f) ||
	    refused(chmod(path, 0666), EPERM, "chmod(0666) of the ring's node", f))
		return -1;
	return 0;
}

/* Neither the node nor a reader's file or mapping lets a byte be
 * written; `path` names a ring the caller may read. */
static int cannot_write(const char *path, struct failure *f)
{
	struct bcast_ring_hdr *h;
	struct bcast_ring *r = NULL;
	uint64_t magic;
	size_t len;
	int fd, mem, rc = -1;

	if (refused(open_node(path, O_RDWR), EACCES, "open(O_RDWR) of the ring", f) ||
	    refused(open_node(path, O_WRONLY), EACCES, "open(O_WRONLY) of the ring", f) ||
	    refused_neg(bcast_ring_open(path, BCAST_RDWR, &r), EACCES,
			"bcast_ring_open(BCAST_RDWR)", f))
		return -1;
	fd = open_node(path, O_RDONLY);
	if (fd < 0) {
		fail(f, "open(O_RDONLY) of %s: %s", path, strerror(errno));
		return -1;
	}
	h = map_ring(fd, PROT_READ, &len);
	if (!h) {
		fail(f, "mapping %s read-only: %s", path, strerror(errno));
		goto out;
	}
	magic = h->magic;
	if (writable_mapping(fd, len, MAP_SHARED, EACCES, f) ||
	    writable_mapping(fd, len, MAP_PRIVATE, EINVAL, f))
		goto unmap;
	if (refused(mprotect(h, len, PROT_READ | PROT_WRITE), EACCES,
		    "mprotect(PROT_WRITE) of a reader's mapping", f) ||
	    refused(write(fd, "x", 1), EBADF, "write() to a reader's file", f) ||
	    refused(ioctl(fd, BCAST_IOC_NOTIFY), EPERM,
		    "BCAST_IOC_NOTIFY on a reader's file", f))
		goto unmap;
	/* /proc/PID/mem writes with FOLL_FORCE, as a debugger does. */
	mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (mem < 0) {
		fail(f, "open(/proc/self/mem): %s", strerror(errno));
		goto unmap;
	}
	magic = ~magic;
	if (refused(pwrite(mem, &magic, sizeof(magic), (off_t)(uintptr_t)h) < 0 ? -1 : 0,
		    EIO, "pwrite() of /proc/self/mem over the mapping", f)) {
		close(mem);
		goto unmap;
	}
	close(mem);
	if (h->magic != BCAST_RING_MAGIC) {
		fail(f, "the ring's magic is %#llx after the refused writes",
		     (unsigned long long)h->magic);
		goto unmap;
	}
	rc = 0;
unmap:
	munmap(h, len);
out:
	close(fd);
	return rc;
}

struct ring_names {
	bool ring, other;
};

static int note_name(const struct bcast_ring_location *loc, void *arg)
{
	struct ring_names *seen = arg;

	if (!strcmp(loc->backend, "device") && !strcmp(loc->name, RING))
		seen->ring = true;
	if (!strcmp(loc->backend, "device") && !strcmp(loc->name, OTHER_RING))
		seen->other = true;
	return 0;
}

/* Every ring's name and size shows in sysfs; of a ring the caller may not
 * read, nothing more, and its node does not open. */
static int sees_only_names(unsigned other_minor, struct failure *f)
{
	struct ring_names seen = { false, false };
	char path[64], name[BCAST_NAME_MAX + 2];
	int err;

	snprintf(path, sizeof(path), "/dev/bcast%u", other_minor);
	if (refused(open_node(path, O_RDONLY), EACCES,
		    "open(O_RDONLY) of root's 0600 ring", f))
		return -1;
	if (sysfs_str(other_minor, "name", name, sizeof(name)) ||
	    strcmp(name, OTHER_RING)) {
		fail(f, "sysfs name of root's ring: '%s', should be " OTHER_RING, name);
		return -1;
	}
	if (sysfs_num(other_minor, "size") != 64 * KIB) {
		fail(f, "sysfs size of root's ring: %lld, should be %llu",
		     sysfs_num(other_minor, "size"), 64 * KIB);
		return -1;
	}
	err = sysfs_errno(other_minor, "writer_pid");
	if (err != EACCES) {
		fail(f, "sysfs writer_pid of root's 0600 ring: %s, should be EACCES",
		     err ? strerror(err) : "readable");
		return -1;
	}
	bcast_ring_list(note_name, &seen);
	if (!seen.ring || !seen.other) {
		fail(f, "bcast_ring_list() found %s" RING " and %s" OTHER_RING,
		     seen.ring ? "" : "no ", seen.other ? "" : "no ");
		return -1;
	}
	return 0;
}

/* ---- entering a container ---- */

struct container_reader {
	bool own_userns;	/* a user namespace of its own */
	unsigned uid;		/* outside */
	int ctl_fd;		/* /dev/bcast-ctl opened by root outside */
	int words;		/* to the parent */
	unsigned minor, other_minor;
	struct shared *sh;
};

static int write_text(const char *path, const char *text, struct failure *f)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	if (n != (ssize_t)strlen(text)) {
		fail(f, "writing '%s' to %s: %s", text, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Become `uid` (and gid), a member of the rings' group only. */
static int become(unsigned uid, struct failure *f)
{
	gid_t group = RING_GID;

	if (setgroups(1, &group) || setgid(uid) || setuid(uid)) {
		fail(f, "becoming uid %u in group %u: %s", uid, RING_GID,
		     strerror(errno));
		return -1;
	}
	/*
	 * The id change made the process undumpable, which gives its /proc
	 * files to root: make them its own again, so that it can write its
	 * uid_map and open /proc/self/mem, and what refuses a write there
	 * is the kernel's rule for the mapping, not the file's owner.  The
	 * change also cleared the parent-death signal.
	 */
	prctl(PR_SET_DUMPABLE, 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

/* An unprivileged user's own user namespace, its root mapped to `uid`. */
static int enter_user_namespace(unsigned uid, struct failure *f)
{
	char map[32];

	if (become(uid, f))
		return -1;
	if (unshare(CLONE_NEWUSER | CONTAINER_NAMESPACES)) {
		fail(f, "unshare(CLONE_NEWUSER | the others) as uid %u: %s",
		     uid, strerror(errno));
		return -1;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", uid);
	if (write_text("/proc/self/setgroups", "deny\n", f) ||
	    write_text("/proc/self/uid_map", map, f) ||
	    write_text("/proc/self/gid_map", map, f))
		return -1;
	return 0;
}

/* Pid 1 of the new pid namespace, with a private mount tree and /dev/shm. */
static int settle_in(struct failure *f)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getpid() != 1) {
		fail(f, "pid %d in the new pid namespace, should be 1", getpid());
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		fail(f, "making / private: %s", strerror(errno));
		return -1;
	}
	if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=1777,size=1m")) {
		fail(f, "mounting a tmpfs on /dev/shm: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int capabilities(uint64_t *effective, uint64_t *permitted)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d))
		return -1;
	*effective = d[0].effective | (uint64_t)d[1].effective << 32;
	*permitted = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return 0;
}

/* The process is what the container should make of it. */
static int check_isolation(const struct container_reader *c, struct failure *f)
{
	unsigned want_uid = c->own_userns ? 0 : c->uid;
	/* the rings' group has no name inside a user namespace of its own */
	long long want_gid = c->own_userns ? file_num("/proc/sys/kernel/overflowgid")
					   : RING_GID;
	uint64_t eff, perm;
	gid_t groups[4];
	int n;

	if (getuid() != want_uid || geteuid() != want_uid) {
		fail(f, "uid %u (euid %u), should be %u", getuid(), geteuid(),
		     want_uid);
		return -1;
	}
	n = getgroups(4, groups);
	if (n != 1 || groups[0] != (gid_t)want_gid) {
		fail(f, "%d supplementary groups (first %d), should be just %lld",
		     n, n > 0 ? (int)groups[0] : -1, want_gid);
		return -1;
	}
	if (capabilities(&eff, &perm)) {
		fail(f, "capget: %s", strerror(errno));
		return -1;
	}
	/* root of its own user namespace holds them all, over that one */
	if (c->own_userns ? !(eff & (1ULL << CAP_SYS_ADMIN)) : eff || perm) {
		fail(f, "capabilities effective %#llx permitted %#llx, should be %s",
		     (unsigned long long)eff, (unsigned long long)perm,
		     c->own_userns ? "all, in its user namespace" : "none");
		return -1;
	}
	if (!access(HOST_MARKER, F_OK) || errno != ENOENT) {
		fail(f, "the host's " HOST_MARKER " shows in the container's /dev/shm");
		return -1;
	}
	return 0;
}

/* As Docker's default seccomp profile does: reading must not need it. */
static int refuse_io_uring(struct failure *f)
{
	if (refuse_syscall(SYS_io_uring_setup, -1, EPERM) ||
	    refuse_syscall(SYS_io_uring_enter, -1, EPERM) ||
	    refuse_syscall(SYS_io_uring_register, -1, EPERM)) {
		fail(f, "installing the seccomp filter: %s", strerror(errno));
		return -1;
	}
	return refused(syscall(SYS_io_uring_setup, 1, NULL), EPERM,
		       "io_uring_setup under the filter", f);
}

/*
 * Writer i's run, its death (reported once, timed) and the pause until
 * the next one, with a word to the parent at each step.
 */
static int read_one_writer(const struct container_reader *c, struct bcast_ring *r,
			   struct bcast_reader *rd, int i, uint64_t *epoch)
{
	static const uint64_t first[2] = { 0, FIRST_RUN };
	static const uint64_t count[2] = { FIRST_RUN, SECOND_RUN };
	struct failure *f = &c->sh->reader;
	struct bcast_ring_info info;
	int rc;

	if (receive_run(rd, first[i], count[i], f))
		return -1;
	if (bcast_ring_info(r, &info) || (i && info.writer_epoch != *epoch + 1)) {
		fail(f, "writer epoch %llu after writer %d, should be %llu",
		     (unsigned long long)info.writer_epoch, i + 1,
		     (unsigned long long)*epoch + 1);
		return -1;
	}
	*epoch = info.writer_epoch;
	rc = bcast_wait(rd, 20);
	if (rc != -ETIMEDOUT) {
		fail(f, "bcast_wait() with everything read and writer %d alive: %s",
		     i + 1, rc ? bcast_strerror(rc) : "a message");
		return -1;
	}
	if (say(c->words, 'A'))
		return -1;
	rc = bcast_wait(rd, GONE_MS);
	c->sh->gone_at[i] = now_s();
	if (rc != -BCAST_EWRITERGONE) {
		fail(f, "bcast_wait() while writer %d was killed: %s, should be -BCAST_EWRITERGONE",
		     i + 1, rc ? bcast_strerror(rc) : "a message");
		return -1;
	}
	rc = bcast_wait(rd, 100);
	if (rc != -ETIMEDOUT) {
		fail(f, "bcast_wait() after writer %d's death was reported: %s, should sleep",
		     i + 1, rc ? bcast_strerror(rc) : "a message");
		return -1;
	}
	return say(c->words, 'G');
}

/* Inside: refused everything but reading, then read both writers. */
static int container_reads(const struct container_reader *c)
{
	struct failure *f = &c->sh->reader;
	struct bcast_reader *rd;
	struct bcast_ring *r;
	uint64_t epoch = 0;
	char path[64];
	int rc, i;

	snprintf(path, sizeof(path), "/dev/bcast%u", c->minor);
	if (check_isolation(c, f) || refuse_io_uring(f) ||
	    cannot_create_or_destroy(c->ctl_fd, f) || cannot_write(path, f) ||
	    cannot_remake_the_node(path, f) ||
	    sees_only_names(c->other_minor, f))
		return 1;
	close(c->ctl_fd);
	rc = bcast_ring_open(path, BCAST_RDONLY, &r);
	if (rc) {
		fail(f, "bcast_ring_open(%s, BCAST_RDONLY): %s", path,
		     bcast_strerror(rc));
		return 1;
	}
	rc = bcast_reader_open(r, BCAST_FROM_OLDEST, &rd);
	if (rc) {
		fail(f, "bcast_reader_open: %s", bcast_strerror(rc));
		return 1;
	}
	if (say(c->words, 'R'))
		return 1;
	for (i = 0; i < 2; i++)
		if (read_one_writer(c, r, rd, i, &epoch))
			return 1;
	bcast_reader_stats(rd, &c->sh->st);
	if (c->sh->st.messages != FIRST_RUN + SECOND_RUN ||
	    c->sh->st.lost_messages || c->sh->st.overruns ||
	    c->sh->st.missed_wakeups) {
		fail(f, "reader counts: %llu messages, %llu lost, %llu overruns, %llu missed wake-ups",
		     (unsigned long long)c->sh->st.messages,
		     (unsigned long long)c->sh->st.lost_messages,
		     (unsigned long long)c->sh->st.overruns,
		     (unsigned long long)c->sh->st.missed_wakeups);
		return 1;
	}
	bcast_reader_close(rd);
	bcast_ring_close(r);
	return 0;
}

/*
 * The container's first process: it makes the namespaces (a user
 * namespace too, unprivileged, if asked), and its child, pid 1 there,
 * reads.  Its exit status is the reader's.
 */
static int container_main(struct container_reader *c)
{
	struct failure *f = &c->sh->reader;
	int status;
	pid_t pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (c->own_userns) {
		if (enter_user_namespace(c->uid, f))
			return 1;
	} else if (unshare(CONTAINER_NAMESPACES)) {
		fail(f, "unshare(mount, IPC, UTS, net, pid): %s", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		fail(f, "fork into the new pid namespace: %s", strerror(errno));
		return 1;
	}
	if (!pid) {
		if (settle_in(f) || (!c->own_userns && become(c->uid, f)))
			_exit(1);
		_exit(container_reads(c));
	}
	close(c->words);
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ---- the sysctls that may forbid unprivileged user namespaces ---- */

struct sysctl_setting {
	const char *path;
	long long allow;	/* the value that allows them, if it is 0 */
	long long was;		/* -1: left as it was */
};

static int write_num(const char *path, long long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC), n, rc = 0;

	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%lld\n", v);
	if (write(fd, buf, n) != n)
		rc = -errno;
	close(fd);
	return rc;
}

/* ---- a reader in a container ---- */

FIXTURE(container) {
	struct shared *sh;
	unsigned minor, other_minor;
	char path[32];
	int ctl_fd;
	int words;		/* read end: the container's words */
	pid_t reader, writer;
	struct sysctl_setting sysctls[2];
};

FIXTURE_VARIANT(container) {
	bool own_userns;
	unsigned uid;
};

/* An unprivileged uid, in the initial user namespace. */
FIXTURE_VARIANT_ADD(container, namespaces) {
	.own_userns = false,
	.uid = CONTAINER_UID,
};

/* Root of a user namespace an unprivileged uid made. */
FIXTURE_VARIANT_ADD(container, user_namespace) {
	.own_userns = true,
	.uid = USERNS_UID,
};

/* Allow unprivileged user namespaces if the kernel forbids them, saying
 * so either way; teardown restores what was changed. */
static void allow_user_namespaces(struct __test_metadata *_metadata,
				  struct sysctl_setting *s, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		long long v = file_num(s[i].path);

		s[i].was = -1;
		if (v < 0) {
			TH_LOG("%s: absent, nothing to allow", s[i].path);
			continue;
		}
		if (v) {
			TH_LOG("%s = %lld: unprivileged user namespaces allowed as booted",
			       s[i].path, v);
			continue;
		}
		ASSERT_EQ(0, write_num(s[i].path, s[i].allow))
			TH_LOG("%s = 0 forbids unprivileged user namespaces and cannot be set",
			       s[i].path);
		s[i].was = 0;
		TH_LOG("%s was 0 (unprivileged user namespaces forbidden): set to %lld for this test",
		       s[i].path, s[i].allow);
	}
}

FIXTURE_SETUP(container)
{
	self->sysctls[0] = (struct sysctl_setting){
		"/proc/sys/kernel/unprivileged_userns_clone", 1, -1 };
	self->sysctls[1] = (struct sysctl_setting){
		"/proc/sys/user/max_user_namespaces", 64, -1 };
	self->ctl_fd = self->words = -1;
	self->sh = shared_new();
	ASSERT_NE(NULL, self->sh);
}

FIXTURE_TEARDOWN(container)
{
	int i;

	kill_child(&self->writer);
	kill_child(&self->reader);
	ctl_destroy(RING);
	ctl_destroy(OTHER_RING);
	unlink(HOST_MARKER);
	if (self->ctl_fd >= 0)
		close(self->ctl_fd);
	if (self->words >= 0)
		close(self->words);
	for (i = 0; i < 2; i++)
		if (self->sysctls[i].was >= 0)
			write_num(self->sysctls[i].path, self->sysctls[i].was);
	if (self->sh)
		munmap(self->sh, sizeof(*self->sh));
}

/* The rings, the control file to hand in and the host's mark in /dev/shm
 * (here, not in setup, so that teardown undoes whatever was made). */
static void prepare(struct __test_metadata *_metadata,
		    FIXTURE_DATA(container) *self, bool own_userns)
{
	int fd;

	ASSERT_NE(RING_GID, param_num("ctl_gid"))
		TH_LOG("the module's ctl_gid is the test's group %u: members may create rings",
		       RING_GID);
	if (own_userns)
		allow_user_namespaces(_metadata, self->sysctls, 2);
	ctl_destroy(RING);
	ctl_destroy(OTHER_RING);
	ASSERT_EQ(0, ctl_create_as(RING, RING_SIZE, 0, 0640, 0, RING_GID,
				   &self->minor));
	ASSERT_EQ(0, ctl_create_as(OTHER_RING, 64 * KIB, 0, 0600, 0, 0,
				   &self->other_minor));
	snprintf(self->path, sizeof(self->path), "/dev/bcast%u", self->minor);
	self->ctl_fd = open("/dev/bcast-ctl", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl_fd);
	fd = open(HOST_MARKER, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	close(fd);
}

/* The container's first process, its words coming on self->words. */
static pid_t spawn_container(FIXTURE_DATA(container) *self, bool own_userns,
			     unsigned uid)
{
	struct container_reader c = {
		.own_userns = own_userns,
		.uid = uid,
		.ctl_fd = self->ctl_fd,
		.minor = self->minor,
		.other_minor = self->other_minor,
		.sh = self->sh,
	};
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (!pid) {
		close(fds[0]);
		/* the control file stays open across fork: handed in */
		c.words = fds[1];
		_exit(container_main(&c));
	}
	close(fds[1]);
	self->words = fds[0];
	return pid;
}

TEST_F_TIMEOUT(container, reads_everything_sees_writers_go_and_come_cannot_write, 600)
{
	double killed, late[2];
	char name[BCAST_NAME_MAX + 2];
	int i, status;

	prepare(_metadata, self, variant->own_userns);
	self->reader = spawn_container(self, variant->own_userns, variant->uid);
	ASSERT_LT(0, self->reader);
	ASSERT_EQ(0, expect_word(self->words, 'R', SETUP_MS))
		TH_LOG("the container's reader did not start: %s",
		       why(&self->sh->reader));
	for (i = 0; i < 2; i++) {
		self->writer = spawn_publisher(self->path, i ? FIRST_RUN : 0,
					       i ? SECOND_RUN : FIRST_RUN,
					       &self->sh->writer);
		ASSERT_LT(0, self->writer)
			TH_LOG("writer %d: %s", i + 1, why(&self->sh->writer));
		ASSERT_EQ(0, expect_word(self->words, 'A', READ_MS))
			TH_LOG("reading writer %d's messages: %s", i + 1,
			       why(&self->sh->reader));
		usleep(ASLEEP_US);
		killed = now_s();
		kill_child(&self->writer);
		ASSERT_EQ(0, expect_word(self->words, 'G', 2 * GONE_MS))
			TH_LOG("writer %d's death: %s", i + 1,
			       why(&self->sh->reader));
		late[i] = self->sh->gone_at[i] - killed;
	}
	ASSERT_EQ(0, reap(self->reader, 30, &status))
		TH_LOG("the container did not end: %s", why(&self->sh->reader));
	self->reader = 0;
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the container: %s", why(&self->sh->reader));
	TH_LOG("%s: %llu messages, every byte checked, none lost, %llu sleeps",
	       variant->own_userns ? "own user namespace" : "namespaces",
	       (unsigned long long)self->sh->st.messages,
	       (unsigned long long)self->sh->st.sleeps);
	TH_LOG("writer deaths seen %.1f ms and %.1f ms after SIGKILL",
	       late[0] * 1e3, late[1] * 1e3);
	for (i = 0; i < 2; i++) {
		EXPECT_TRUE(late[i] >= 0 && late[i] < DEATH_LIMIT_S)
			TH_LOG("writer %d's death seen %.1f ms after SIGKILL (limit %.0f ms)",
			       i + 1, late[i] * 1e3, DEATH_LIMIT_S * 1e3);
	}
	/* The container's BCAST_CTL_DESTROY left the ring where it was. */
	ASSERT_EQ(0, sysfs_str(self->minor, "name", name, sizeof(name)));
	EXPECT_STREQ(RING, name);
}

/* ---- the node's group ---- */

FIXTURE(group_ring) {
	struct shared *sh;
	unsigned minor;
	char path[32];
	pid_t writer, child;
};

FIXTURE_SETUP(group_ring)
{
	self->sh = shared_new();
	ASSERT_NE(NULL, self->sh);
}

FIXTURE_TEARDOWN(group_ring)
{
	kill_child(&self->child);
	kill_child(&self->writer);
	ctl_destroy(GROUP_RING);
	if (self->sh)
		munmap(self->sh, sizeof(*self->sh));
}

/* A member of the node's group reads everything; writes nothing. */
static int member_reads(const char *path, unsigned minor, pid_t writer,
			struct failure *f)
{
	struct bcast_reader *rd;
	struct bcast_ring *r;
	struct stat st;
	int rc;

	if (stat(path, &st)) {
		fail(f, "member: stat(%s): %s", path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 07777) != 0640 || st.st_uid || st.st_gid != RING_GID) {
		fail(f, "%s: mode %o owner %u:%u, should be 640 0:%u", path,
		     st.st_mode & 07777, st.st_uid, st.st_gid, RING_GID);
		return -1;
	}
	if (refused(open_node(path, O_RDWR), EACCES, "member: open(O_RDWR)", f) ||
	    refused(open_node(path, O_WRONLY), EACCES, "member: open(O_WRONLY)", f) ||
	    refused_neg(bcast_ring_open(path, BCAST_RDWR, &r), EACCES,
			"member: bcast_ring_open(BCAST_RDWR)", f))
		return -1;
	rc = bcast_ring_open(path, BCAST_RDONLY, &r);
	if (rc) {
		fail(f, "member: bcast_ring_open(BCAST_RDONLY): %s", bcast_strerror(rc));
		return -1;
	}
	rc = bcast_reader_open(r, BCAST_FROM_OLDEST, &rd);
	if (rc) {
		fail(f, "member: bcast_reader_open: %s", bcast_strerror(rc));
		return -1;
	}
	if (receive_run(rd, 0, GROUP_MESSAGES, f))
		return -1;
	rc = bcast_wait(rd, 20);
	if (rc != -ETIMEDOUT) {
		fail(f, "member: bcast_wait() after the last message: %s, should time out",
		     rc ? bcast_strerror(rc) : "a message");
		return -1;
	}
	if (sysfs_num(minor, "writer_pid") != writer) {
		fail(f, "member: sysfs writer_pid %lld, should be %d",
		     sysfs_num(minor, "writer_pid"), writer);
		return -1;
	}
	bcast_reader_close(rd);
	bcast_ring_close(r);
	return 0;
}

/* Anyone else: not a byte, nor the private attributes. */
static int stranger_is_refused(const char *path, unsigned minor,
			       struct failure *f)
{
	char name[BCAST_NAME_MAX + 2];
	struct bcast_ring *r = NULL;
	int err;

	if (refused(open_node(path, O_RDONLY), EACCES, "stranger: open(O_RDONLY)", f) ||
	    refused(open_node(path, O_RDWR), EACCES, "stranger: open(O_RDWR)", f) ||
	    refused_neg(bcast_ring_open(path, BCAST_RDONLY, &r), EACCES,
			"stranger: bcast_ring_open(BCAST_RDONLY)", f))
		return -1;
	if (sysfs_str(minor, "name", name, sizeof(name)) || strcmp(name, GROUP_RING)) {
		fail(f, "stranger: sysfs name '%s', should be " GROUP_RING, name);
		return -1;
	}
	err = sysfs_errno(minor, "writer_pid");
	if (err != EACCES) {
		fail(f, "stranger: sysfs writer_pid: %s, should be EACCES",
		     err ? strerror(err) : "readable");
		return -1;
	}
	return 0;
}

/* Become `uid` (and gid) in no supplementary group. */
static int become_stranger(unsigned uid, struct failure *f)
{
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) {
		fail(f, "becoming uid %u in no group: %s", uid, strerror(errno));
		return -1;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* cleared by the id change */
	return 0;
}

/* A child as `uid`, in the rings' group or in none: 0 if it passed. */
static int run_as(FIXTURE_DATA(group_ring) *self, unsigned uid, bool member)
{
	struct failure *f = &self->sh->reader;
	int status, rc;

	self->child = fork();
	if (self->child < 0)
		return -1;
	if (!self->child) {
		if (member ? become(uid, f) : become_stranger(uid, f))
			_exit(1);
		rc = member ? member_reads(self->path, self->minor, self->writer, f)
			    : stranger_is_refused(self->path, self->minor, f);
		_exit(rc ? 1 : 0);
	}
	rc = reap(self->child, 60, &status);
	self->child = 0;
	return !rc && WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

TEST_F_TIMEOUT(group_ring, the_nodes_group_may_read_others_get_eacces_nobody_writes, 120)
{
	ctl_destroy(GROUP_RING);
	ASSERT_EQ(0, ctl_create_as(GROUP_RING, 64 * KIB, 0, 0640, 0, RING_GID,
				   &self->minor));
	snprintf(self->path, sizeof(self->path), "/dev/bcast%u", self->minor);
	self->writer = spawn_publisher(self->path, 0, GROUP_MESSAGES,
				       &self->sh->writer);
	ASSERT_LT(0, self->writer) TH_LOG("%s", why(&self->sh->writer));
	EXPECT_EQ(0, run_as(self, MEMBER_UID, true))
		TH_LOG("uid %u in group %u: %s", MEMBER_UID, RING_GID,
		       why(&self->sh->reader));
	memset(&self->sh->reader, 0, sizeof(self->sh->reader));
	EXPECT_EQ(0, run_as(self, STRANGER_UID, false))
		TH_LOG("uid %u in no group: %s", STRANGER_UID,
		       why(&self->sh->reader));
}

/* ---- a node that outlived its ring ---- */

#define STALE_RING	"ns-stale"	/* a container's node is made for it */
#define NEXT_RING	"ns-next"	/* root's alone, made after it went */
#define NODE_COPY	"/dev/bcast-ns-copy"

FIXTURE(stale_node) {
	struct shared *sh;
	pid_t child;
};

FIXTURE_SETUP(stale_node)
{
	self->sh = shared_new();
	ASSERT_NE(NULL, self->sh);
}

FIXTURE_TEARDOWN(stale_node)
{
	kill_child(&self->child);
	unlink(NODE_COPY);
	ctl_destroy(STALE_RING);
	ctl_destroy(NEXT_RING);
	if (self->sh)
		munmap(self->sh, sizeof(*self->sh));
}

/* As a member of the old ring's group, open the copy: 0 if refused
 * with `want`, else -1 saying which ring opened. */
static int copy_is_refused(int want, struct failure *f)
{
	struct bcast_dev_info di;
	int fd;

	if (become(MEMBER_UID, f))
		return -1;
	fd = open(NODE_COPY, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		memset(&di, 0, sizeof(di));
		ioctl(fd, BCAST_IOC_INFO, &di);
		fail(f, "uid %u opened ring '%s' (minor %u) through a copy of " STALE_RING
		     "'s node: should fail with %s", MEMBER_UID, di.name, di.minor,
		     strerror(want));
		return -1;
	}
	return refused(fd, want, "open() of the copy of a destroyed ring's node", f);
}

/*
 * A container runtime gives a container its own node of the ring's
 * number, mode and owner (Docker's --device, a device plugin).  Once the
 * ring is destroyed and another created, that number may be the new
 * ring's: the copy must not open it with the old ring's permissions.
 */
TEST_F(stale_node, a_copy_of_a_destroyed_rings_node_opens_no_later_ring)
{
	unsigned old_minor, new_minor;
	char path[32];
	struct stat st;
	int status;

	unlink(NODE_COPY);
	ctl_destroy(STALE_RING);
	ctl_destroy(NEXT_RING);
	ASSERT_EQ(0, ctl_create_as(STALE_RING, 64 * KIB, 0, 0640, 0, RING_GID,
				   &old_minor));
	snprintf(path, sizeof(path), "/dev/bcast%u", old_minor);
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, mknod(NODE_COPY, S_IFCHR | 0640, st.st_rdev));
	ASSERT_EQ(0, chown(NODE_COPY, 0, RING_GID));
	ASSERT_EQ(0, ctl_destroy(STALE_RING));
	ASSERT_EQ(0, ctl_create_as(NEXT_RING, 64 * KIB, 0, 0600, 0, 0, &new_minor));
	TH_LOG("the next ring has minor %u, the destroyed one had %u",
	       new_minor, old_minor);
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (!self->child)
		_exit(copy_is_refused(new_minor == old_minor ? EACCES : ENXIO,
				      &self->sh->reader) ? 1 : 0);
	ASSERT_EQ(0, reap(self->child, 60, &status));
	self->child = 0;
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("%s", why(&self->sh->reader));
}

TEST_HARNESS_MAIN
