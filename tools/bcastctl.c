// SPDX-License-Identifier: MIT
/*
 * bcastctl: create, destroy, list and inspect bcast rings.
 *
 * Names resolve as libbcast resolves them: shm:NAME, file:PATH, /dev/bcastN,
 * or a bare NAME (the bcast.ko ring when /dev/bcast-ctl exists, else
 * shm:NAME).  bcastctl repeats that resolution only to say where it looked
 * and to find the file or sysfs directory behind a ring; opening, creating
 * and removing always go through the library.
 *
 * Who reads a ring: for bcast.ko rings the module counts reader files
 * (sysfs `readers`); for shm and file rings nothing counts them, so
 * bcastctl counts the processes that map the ring's file (/proc/PID/maps).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <mntent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <bcast.h>
#include <linux/bcast.h>

#include "cli.h"
#include "json.h"

#define CTL_PATH	"/dev/bcast-ctl"
#define SYSFS_CLASS	"/sys/class/bcast"
#define MODULE_PARAMS	"/sys/module/bcast/parameters"
#define SHM_DIR		"/dev/shm"
#define DEFAULT_SIZE	(1ULL << 20)
#define NOT_LOADED	"bcast.ko is not loaded: " CTL_PATH " does not exist; " \
			"use shm:NAME or load the module"

static bool json_out;
static char prog_buf[64];

/* ------------------------------------------------------------------ */
/* Help */

static const char usage_main[] =
"Usage: bcastctl [--json] COMMAND [OPTIONS] [NAME]\n"
"       bcastctl --help | --version\n"
"\n"
"Create, remove, list and inspect bcast rings: bcast.ko devices, POSIX\n"
"shared memory and files.\n"
"\n"
"Commands:\n"
"  create NAME    create a ring (--size, --hugepage, --mtu, --mode, --metadata)\n"
"  destroy NAME   remove a ring; refused while its writer is alive (--force)\n"
"  list           every ring: bcast.ko devices, /dev/shm, hugetlbfs mounts\n"
"  info NAME      geometry, positions, writer, metadata and readers\n"
"  stat NAME      positions, byte rate, writer and readers, refreshed\n"
"                 (--interval SECONDS, --count N)\n"
"\n"
"NAME:\n"
"  shm:NAME       /dev/shm/NAME (bcast.NAME on a hugetlbfs mount if it was\n"
"                 created with huge pages)\n"
"  file:PATH      a regular or hugetlbfs file\n"
"  /dev/bcastN    a bcast.ko ring by its node (/dev/shm/NAME means shm:NAME)\n"
"  NAME           the bcast.ko ring of that name when the module is loaded\n"
"                 (" CTL_PATH " exists), else shm:NAME\n"
"\n"
"Options of every command:\n"
"      --json     machine-readable output (JSON)\n"
"  -h, --help     this help; 'bcastctl COMMAND --help' for one command\n"
"      --version  print the version\n"
"\n"
"Exit status: 0 ok, 1 error, 2 bad command line, 3 no such ring,\n"
"4 ring busy (a live writer holds it).\n";

static const char usage_create[] =
"Usage: bcastctl create NAME [OPTIONS]\n"
"\n"
"Create a ring.  It starts empty, with no writer.\n"
"\n"
"  -s, --size BYTES      data capacity, a power of two from 4K to 1T\n"
"                        (suffixes K, M, G; default 1M)\n"
"      --hugepage        back it with huge pages if possible (shm: a file on\n"
"                        the first hugetlbfs mount with free pages; bcast.ko:\n"
"                        2 MiB pages if the kernel has them); 'info' tells\n"
"                        whether it got them\n"
"      --mtu BYTES       largest frame payload (default and maximum: a\n"
"                        quarter of the ring less 8); larger messages are\n"
"                        fragmented\n"
"      --mode OCTAL      permissions of the file or device node (default 0600)\n"
"      --metadata TEXT   up to 1024 bytes stored in the header for readers\n"
"      --device          NAME must be a bcast.ko ring (fail if not loaded)\n"
"      --json            print the new ring as JSON\n"
"  -h, --help            this help\n"
"\n"
"bcast.ko rings need CAP_SYS_ADMIN or membership of the module's ctl_gid.\n"
"Exit status: 0 created, 1 error (it exists, permission, no memory),\n"
"2 bad command line.\n";

static const char usage_destroy[] =
"Usage: bcastctl destroy NAME [--force] [--device] [--json]\n"
"\n"
"Remove a ring's name (shm/file: unlink; bcast.ko: remove /dev/bcastN).\n"
"Processes that have it open or mapped keep a valid ring until they close.\n"
"\n"
"  -f, --force     remove it even while its writer is alive, or when its\n"
"                  header is damaged\n"
"      --device    NAME must be a bcast.ko ring\n"
"      --json      report as JSON\n"
"  -h, --help      this help\n"
"\n"
"Exit status: 0 removed, 1 error, 2 bad command line, 3 no such ring\n"
"(or the file is not a bcast ring: never removed), 4 a live writer holds\n"
"it (without --force).\n";

static const char usage_list[] =
"Usage: bcastctl list [--json]\n"
"\n"
"List every ring: bcast.ko rings (" SYSFS_CLASS "), shm rings in\n"
SHM_DIR " and bcast.* rings on hugetlbfs mounts.  Files are checked for a\n"
"ring header first; files this user cannot read are left out.\n"
"\n"
"Columns: NAME (as bcastctl and the library take it), BACKEND, SIZE (data\n"
"capacity), HUGEPAGE, WRITER (pid of the live writer, - if none), READERS\n"
"(bcast.ko: open reader files; shm/file: other processes that map the file;\n"
"? if /proc cannot be read), PATH.\n"
"\n"
"  --json       a JSON array of objects\n"
"  -h, --help   this help\n";

static const char usage_info[] =
"Usage: bcastctl info NAME [--device] [--json]\n"
"\n"
"Show a ring: backend, path, capacity, mtu, mapped size, huge pages,\n"
"committed and claimed positions, writer (alive, pid, epoch), metadata\n"
"(as text when printable, else hex), readers, owner and mode.\n"
"\n"
"  --device     NAME must be a bcast.ko ring\n"
"  --json       one JSON object\n"
"  -h, --help   this help\n"
"\n"
"Exit status: 0 ok, 1 error, 2 bad command line, 3 no such ring.\n";

static const char usage_stat[] =
"Usage: bcastctl stat NAME [--interval SECONDS] [--count N] [--device] [--json]\n"
"\n"
"Watch a ring: committed and claimed positions, messages and payload bytes\n"
"published so far and their rates per second, writer, huge pages and\n"
"readers.  On a terminal the display is\n"
"redrawn in place; otherwise one line of KEY=VALUE pairs (or, with --json,\n"
"one JSON object) is printed per refresh.  Ctrl-C ends it (exit 0).\n"
"\n"
"  -i, --interval SECONDS   time between refreshes (default 1; fractions ok)\n"
"  -c, --count N            stop after N refreshes\n"
"      --device             NAME must be a bcast.ko ring\n"
"      --json               one JSON object per refresh\n"
"  -h, --help               this help\n"
"\n"
"Exit status: 0 ok (also on Ctrl-C), 1 error, 2 bad command line, 3 no such\n"
"ring (also when it is removed while watched).\n";

/* ------------------------------------------------------------------ */
/* Small helpers */

/* "64K", "1M": exact binary units for the powers of two rings use. */
static const char *fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (v && !(v & 1023) && u < 3) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	return buf;
}

static const char *fmt_rate(double bps, char *buf, size_t len)
{
	static const char *const units[] = { "B/s", "KiB/s", "MiB/s", "GiB/s" };
	unsigned u = 0;

	while (bps >= 1024 && u < 3) {
		bps /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bps, units[u]);
	return buf;
}

static bool module_loaded(void)
{
	return !access(CTL_PATH, F_OK);
}

static void __attribute__((noreturn)) module_missing(int code)
{
	cli_error(NOT_LOADED);
	exit(code);
}

/* Read one sysfs attribute (first line, newline stripped). */
static int sysfs_read(const char *dir, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, attr) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int sysfs_u64(const char *dir, const char *attr, uint64_t *v)
{
	char buf[64], *end;
	int err = sysfs_read(dir, attr, buf, sizeof(buf));

	if (err)
		return err;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno || end == buf || *end ? -EIO : 0;
}

/*
 * The first mounted hugetlbfs this user may write: where libbcast puts the
 * huge-page file of shm:NAME (as bcast.NAME).
 */
static bool hugetlbfs_dir(char *dir, size_t len)
{
	FILE *f = setmntent("/proc/mounts", "re");
	struct mntent *m;
	bool found = false;

	if (!f)
		return false;
	while (!found && (m = getmntent(f)))
		if (!strcmp(m->mnt_type, "hugetlbfs") && !access(m->mnt_dir, W_OK))
			found = snprintf(dir, len, "%s", m->mnt_dir) < (int)len;
	endmntent(f);
	return found;
}

/* ASCII letters, digits, '.', '_', '-': what bcast.ko accepts. */
static bool device_name_valid(const char *n)
{
	size_t len = strlen(n);

	if (!len || len >= BCAST_NAME_MAX || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	return strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == len;
}

/*
 * The sysfs directory of the bcast.ko ring called `name`, or of the node
 * `node` (matched by device number, so /dev/bcast/NAME links work too).
 */
static bool device_sysdir(const char *name, const char *node, char *dir,
			  size_t len)
{
	char cand[PATH_MAX], buf[BCAST_NAME_MAX + 2];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;

	if (node && (stat(node, &st) || !S_ISCHR(st.st_mode)))
		return false;
	d = opendir(SYSFS_CLASS);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		unsigned ma, mi;

		if (strncmp(de->d_name, "bcast", 5))
			continue;
		snprintf(cand, sizeof(cand), SYSFS_CLASS "/%s", de->d_name);
		if (node)
			found = !sysfs_read(cand, "dev", buf, sizeof(buf)) &&
				sscanf(buf, "%u:%u", &ma, &mi) == 2 &&
				makedev(ma, mi) == st.st_rdev;
		else
			found = !sysfs_read(cand, "name", buf, sizeof(buf)) &&
				!strcmp(buf, name);
		if (found)
			snprintf(dir, len, "%s", cand);
	}
	closedir(d);
	return found;
}

/* ------------------------------------------------------------------ */
/* Resolving NAME */

enum kind { K_SHM, K_FILE, K_DEVICE };

struct target {
	const char *arg;		/* NAME as given */
	enum kind kind;
	char lib[PATH_MAX + 8];		/* the name handed to libbcast */
	char path[PATH_MAX];		/* shm/file: the file; device: the node */
	char alt[PATH_MAX];		/* shm: its hugetlbfs place, or "" */
	char sysdir[PATH_MAX];		/* device: sysfs directory, or "" */
};

static void resolve_shm(const char *name, struct target *t)
{
	char dir[PATH_MAX];

	if (!*name || strlen(name) > NAME_MAX || strchr(name, '/') ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		cli_usage_error("invalid shm ring name '%s' (one file name in "
				SHM_DIR ")", name);
	t->kind = K_SHM;
	snprintf(t->lib, sizeof(t->lib), "shm:%s", name);
	snprintf(t->path, sizeof(t->path), SHM_DIR "/%s", name);
	if (hugetlbfs_dir(dir, sizeof(dir)) &&
	    snprintf(t->alt, sizeof(t->alt), "%s/bcast.%s", dir, name) >=
	    (int)sizeof(t->alt))
		t->alt[0] = '\0';
}

/* The device node of the ring found in sysfs: /dev/ + directory name. */
static void device_node_of(struct target *t)
{
	const char *base = strrchr(t->sysdir, '/');

	snprintf(t->path, sizeof(t->path), "/dev/%s", base ? base + 1 : "?");
}

/*
 * Resolve NAME as libbcast does.  `missing` is the exit code when a
 * device ring is meant but bcast.ko is not loaded (3 when the ring can
 * then not exist, 1 when it was to be created).
 */
static void resolve(const char *arg, bool want_device, int missing,
		    struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->arg = arg;
	if (!*arg)
		cli_usage_error("empty ring name");
	if (want_device &&
	    (!strncmp(arg, "shm:", 4) || !strncmp(arg, "file:", 5)))
		cli_usage_error("--device: '%s' is not a bcast.ko ring name", arg);
	if (!strncmp(arg, "shm:", 4)) {
		resolve_shm(arg + 4, t);
		return;
	}
	if (!strncmp(arg, "file:", 5)) {
		if (!arg[5] || strlen(arg + 5) >= sizeof(t->path))
			cli_usage_error("invalid file ring name '%s'", arg);
		t->kind = K_FILE;
		snprintf(t->lib, sizeof(t->lib), "%s", arg);
		snprintf(t->path, sizeof(t->path), "%s", arg + 5);
		return;
	}
	/* The library would take /dev/shm/X for a device: mean shm:X. */
	if (!want_device && !strncmp(arg, SHM_DIR "/", 9) && !strchr(arg + 9, '/')) {
		resolve_shm(arg + 9, t);
		return;
	}
	if (!strncmp(arg, "/dev/", 5)) {
		if (!module_loaded())
			module_missing(missing);
		if (strlen(arg) >= sizeof(t->path))
			cli_usage_error("invalid device path '%s'", arg);
		t->kind = K_DEVICE;
		snprintf(t->lib, sizeof(t->lib), "%s", arg);
		snprintf(t->path, sizeof(t->path), "%s", arg);
		device_sysdir(NULL, arg, t->sysdir, sizeof(t->sysdir));
		return;
	}
	if (strchr(arg, '/'))
		cli_usage_error("'%s' is not a ring name: use file:%s for a file "
				"or /dev/bcastN for a bcast.ko ring", arg, arg);
	if (!want_device && !module_loaded()) {
		resolve_shm(arg, t);
		return;
	}
	if (!module_loaded())
		module_missing(missing);
	if (!device_name_valid(arg))
		cli_usage_error("invalid bcast.ko ring name '%s' (1 to %d of "
				"A-Z a-z 0-9 . _ -)", arg, BCAST_NAME_MAX - 1);
	t->kind = K_DEVICE;
	snprintf(t->lib, sizeof(t->lib), "%s", arg);
	if (device_sysdir(arg, NULL, t->sysdir, sizeof(t->sysdir)))
		device_node_of(t);
}

/* shm: the file that holds the ring now, as the library picks it. */
static const char *ring_file(const struct target *t)
{
	if (t->kind == K_SHM && t->alt[0] && access(t->path, F_OK) &&
	    !access(t->alt, F_OK))
		return t->alt;
	return t->path;
}

static void __attribute__((noreturn)) no_ring(const struct target *t)
{
	char shm[PATH_MAX];

	switch (t->kind) {
	case K_SHM:
		if (t->alt[0])
			cli_error("no ring '%s' (looked in %s and %s)", t->arg,
				  t->path, t->alt);
		else
			cli_error("no ring '%s' (looked in %s)", t->arg, t->path);
		break;
	case K_FILE:
		cli_error("no ring '%s' (looked in %s)", t->arg, t->path);
		break;
	case K_DEVICE:
		if (!strncmp(t->arg, "/dev/", 5)) {
			cli_error("no ring '%s' (no bcast.ko ring has that node)",
				  t->arg);
			break;
		}
		snprintf(shm, sizeof(shm), SHM_DIR "/%s", t->arg);
		if (!access(shm, F_OK))
			cli_error("no ring '%s' (looked in " SYSFS_CLASS
				  "/*/name); %s exists: use shm:%s", t->arg,
				  shm, t->arg);
		else
			cli_error("no ring '%s' (looked in " SYSFS_CLASS
				  "/*/name)", t->arg);
		break;
	}
	exit(EXIT_NORING);
}

/* Opening an existing ring failed: say why and exit. */
static void __attribute__((noreturn)) open_failed(const struct target *t,
						  int err)
{
	const char *where = t->kind == K_DEVICE ? t->path : ring_file(t);

	switch (-err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		no_ring(t);
	case EACCES:
	case EPERM:
		cli_error("permission denied opening %s (ring '%s')", where,
			  t->arg);
		exit(EXIT_FAILURE);
	case EINVAL:
		cli_error("%s is not a bcast ring (no valid ring header)", where);
		exit(EXIT_NORING);
	case EPROTO:
		cli_error("%s: ring of another bcast version (this bcastctl "
			  "reads ring ABI %d)", where, BCAST_ABI_VERSION);
		exit(EXIT_FAILURE);
	default:
		cli_error("cannot open ring '%s' (%s): %s", t->arg, where,
			  bcast_strerror(err));
		exit(EXIT_FAILURE);
	}
}

/* ------------------------------------------------------------------ */
/* Who maps a file */

struct file_id {
	dev_t dev;
	ino_t ino;
	char path[PATH_MAX];	/* canonical, as /proc/PID/maps prints it */
};

static int file_id_of(const char *path, struct file_id *id)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	if (!realpath(path, id->path))
		snprintf(id->path, sizeof(id->path), "%s", path);
	return 0;
}

/* 1 if process `pid` maps the file, 0 if not, -errno if unreadable. */
static int maps_file(pid_t pid, const struct file_id *id, char **line,
		     size_t *cap)
{
	char path[64];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	errno = 0;
	while (!found && getline(line, cap, f) > 0) {
		unsigned ma, mi;
		unsigned long long ino;
		int off = 0;
		char *name;

		if (sscanf(*line, "%*x-%*x %*s %*x %x:%x %llu %n", &ma, &mi,
			   &ino, &off) < 3 || !off)
			continue;
		name = *line + off;
		name[strcspn(name, "\n")] = '\0';
		/* Device and inode; the path too where a stacked file
		 * system (overlayfs) shows another inode than stat(). */
		found = (ino == (unsigned long long)id->ino &&
			 makedev(ma, mi) == id->dev) || !strcmp(name, id->path);
	}
	if (!found && ferror(f))
		found = errno ? -errno : -EIO;
	fclose(f);
	return found;
}

/*
 * Processes mapping the file, other than this one and `writer`: the
 * readers of an shm or file ring.  *hidden counts processes whose maps
 * this user may not read.  -1 when /proc cannot be read at all.
 */
static long count_mappers(const struct file_id *id, pid_t writer, long *hidden)
{
	pid_t self = getpid();
	struct dirent *de;
	char *line = NULL;
	size_t cap = 0;
	long n = 0;
	DIR *d;

	*hidden = 0;
	if (access("/proc/self/maps", R_OK))
		return -1;
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int rc;

		if (*end || pid <= 0 || pid == self)
			continue;
		rc = maps_file((pid_t)pid, id, &line, &cap);
		if (rc > 0 && pid != writer)
			n++;
		else if (rc == -EACCES || rc == -EPERM)
			(*hidden)++;
	}
	closedir(d);
	free(line);
	return n;
}

/* ------------------------------------------------------------------ */
/* An opened ring and what it looks like now */

struct view {
	struct target t;
	struct bcast_ring *r;	/* NULL: a device ring seen through sysfs */
	int open_err;		/* why r is NULL */
	struct file_id file;	/* shm/file rings */
};

struct snap {
	const char *backend;
	bool have_hdr;		/* mtu, map_size, epoch, metadata known */
	uint64_t capacity, mtu, map_size, committed, claimed, epoch;
	bool hugepage;
	bool writer_alive;
	long writer_pid;
	unsigned char meta[BCAST_METADATA_MAX];
	size_t meta_len;
	long readers;		/* -1: unknown */
	long hidden;		/* processes whose mappings could not be read */
	long pmd_mappings;	/* device rings, else -1 */
	bool have_count;	/* messages and payload known */
	uint64_t messages, payload;	/* published so far (bcast_ring_count) */
	double time;		/* CLOCK_MONOTONIC seconds */
};

/*
 * Open NAME read-only.  A device node this user may not open is still
 * described from sysfs (world-readable), without the header's fields.
 */
static void view_open(struct view *v, const char *arg, bool want_device)
{
	int err;

	memset(v, 0, sizeof(*v));
	resolve(arg, want_device, EXIT_NORING, &v->t);
	if (v->t.kind == K_DEVICE && !v->t.sysdir[0] &&
	    strncmp(arg, "/dev/", 5))
		no_ring(&v->t);
	err = bcast_ring_open(v->t.lib, BCAST_RDONLY, &v->r);
	if (err) {
		v->r = NULL;
		if (v->t.kind == K_DEVICE && v->t.sysdir[0] &&
		    (err == -EACCES || err == -EPERM)) {
			v->open_err = err;
			return;
		}
		open_failed(&v->t, err);
	}
	if (v->t.kind != K_DEVICE &&
	    file_id_of(ring_file(&v->t), &v->file))
		v->file.path[0] = '\0';
}

static void view_close(struct view *v)
{
	bcast_ring_close(v->r);
	v->r = NULL;
}

static void snap_header(const struct view *v, struct snap *s)
{
	struct bcast_ring_info in;
	int tries, err = -EAGAIN;

	if (bcast_ring_info(v->r, &in))
		return;
	s->have_hdr = true;
	s->backend = in.backend;
	s->capacity = in.capacity;
	s->mtu = in.mtu;
	s->map_size = in.map_size;
	s->committed = in.committed;
	s->claimed = in.claimed;
	s->epoch = in.writer_epoch;
	s->hugepage = in.hugepage;
	s->writer_alive = in.writer_alive;
	s->writer_pid = in.writer_alive ? (long)in.writer_pid : 0;
	s->meta_len = in.metadata_len;
	memcpy(s->meta, in.metadata, in.metadata_len);
	/* -EAGAIN: the writer is stepping its frontier right now. */
	for (tries = 0; tries < 100; tries++) {
		err = bcast_ring_count(v->r, &s->messages, &s->payload);
		if (err != -EAGAIN)
			break;
	}
	s->have_count = !err;
}

/* Device rings: what the module says; -ENOENT once the ring is gone. */
static int snap_sysfs(const struct view *v, struct snap *s)
{
	const char *dir = v->t.sysdir;
	uint64_t val;
	char name[BCAST_NAME_MAX + 2];

	if (sysfs_read(dir, "name", name, sizeof(name)))
		return -ENOENT;
	if (strncmp(v->t.arg, "/dev/", 5) && strcmp(name, v->t.arg))
		return -ENOENT;		/* the minor now holds another ring */
	if (!sysfs_u64(dir, "hugepage", &val))
		s->hugepage = val;
	if (!sysfs_u64(dir, "pmd_mappings", &val))
		s->pmd_mappings = (long)val;
	if (!sysfs_u64(dir, "readers", &val))	/* less our own file */
		s->readers = (long)val - (v->r ? 1 : 0);
	if (v->r)
		return 0;
	s->backend = "device";
	if (!sysfs_u64(dir, "size", &val))
		s->capacity = val;
	if (!sysfs_u64(dir, "committed", &val))
		s->committed = val;
	if (!sysfs_u64(dir, "claimed", &val))
		s->claimed = val;
	if (!sysfs_u64(dir, "writer_pid", &val)) {
		s->writer_pid = (long)val;
		s->writer_alive = val != 0;
	}
	return 0;
}

/* The ring as it is now; -ENOENT if it has been removed meanwhile. */
static int snapshot(const struct view *v, struct snap *s)
{
	struct file_id now;

	memset(s, 0, sizeof(*s));
	s->readers = -1;
	s->pmd_mappings = -1;
	s->time = (double)cli_now_ns() / 1e9;
	if (v->r)
		snap_header(v, s);
	if (v->t.kind == K_DEVICE)
		return v->t.sysdir[0] ? snap_sysfs(v, s) : 0;
	/* The name now leads to another file, or none: removed. */
	if (!v->file.path[0] || file_id_of(ring_file(&v->t), &now) ||
	    now.dev != v->file.dev || now.ino != v->file.ino)
		return -ENOENT;
	s->readers = count_mappers(&v->file, (pid_t)s->writer_pid, &s->hidden);
	return 0;
}

/* ------------------------------------------------------------------ */
/* JSON output */

static void json_start(struct json *j, unsigned wrap)
{
	json_begin(j, stdout, JSON_SPACED, wrap);
}

/* A count, or null when unknown (negative). */
static void member_count(struct json *j, const char *key, long val)
{
	if (val < 0)
		json_member_null(j, key);
	else
		json_member_i64(j, key, val);
}

/* End the document; the exit status. */
static int json_finish(struct json *j)
{
	int err = json_end_flush(j);

	if (err) {
		cli_error("writing JSON to stdout: %s", strerror(-err));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Shared text */

static void writer_text(const struct snap *s, char *buf, size_t len)
{
	if (s->writer_alive && s->have_hdr)
		snprintf(buf, len, "alive, pid %ld, epoch %llu", s->writer_pid,
			 (unsigned long long)s->epoch);
	else if (s->writer_alive)
		snprintf(buf, len, "alive, pid %ld", s->writer_pid);
	else if (!s->have_hdr)
		snprintf(buf, len, "none");
	else if (!s->epoch)
		snprintf(buf, len, "none (never had one)");
	else
		snprintf(buf, len, "none (the last one left; epoch %llu)",
			 (unsigned long long)s->epoch);
}

static void readers_text(const struct snap *s, char *buf, size_t len)
{
	if (s->readers < 0)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%ld", s->readers);
}

/* Metadata is text when every byte is printable (trailing NULs aside). */
static bool meta_printable(const struct snap *s, size_t *len)
{
	size_t i, n = s->meta_len;

	while (n && !s->meta[n - 1])
		n--;
	for (i = 0; i < n; i++)
		if (s->meta[i] < 0x20 || s->meta[i] > 0x7e)
			return false;
	*len = n;
	return true;
}

/* n bytes as 2n hex digits and a NUL in out. */
static char *hex_text(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}

/* ------------------------------------------------------------------ */
/* Option parsing */

enum {
	OPT_JSON = 0x100, OPT_DEVICE, OPT_HUGEPAGE, OPT_MTU, OPT_MODE,
	OPT_METADATA,
};

/* Per command: "bcastctl create: ..." and "Try 'bcastctl create --help'". */
static void set_prog(const char *cmd)
{
	snprintf(prog_buf, sizeof(prog_buf), "bcastctl %s", cmd);
	cli_prog = prog_buf;
}

/* Report a getopt error and exit 2. */
static void __attribute__((noreturn)) bad_option(int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		cli_usage_error("option '%s' needs a value", opt);
	if (optopt && optopt < 0x100 && strncmp(opt, "--", 2))
		cli_usage_error("unknown option '-%c'", optopt);
	cli_usage_error("unknown option '%s'", opt);
}

/* The one NAME argument after the options. */
static const char *one_name(int argc, char **argv)
{
	if (optind >= argc)
		cli_usage_error("missing NAME");
	if (optind + 1 < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	return argv[optind];
}

static void __attribute__((noreturn)) help(const char *text)
{
	fputs(text, stdout);
	exit(EXIT_SUCCESS);
}

static unsigned parse_mode(const char *arg)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(arg, &end, 8);
	if (errno || end == arg || *end || *arg == '-' || m > 0777)
		cli_usage_error("--mode: '%s' is not an octal mode from 0 to 0777 "
				"(e.g. 0640)", arg);
	return (unsigned)m;
}

static double parse_interval(const char *arg)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(s))
		cli_usage_error("--interval: '%s' is not a number of seconds", arg);
	if (s < 0.01 || s > 86400)
		cli_usage_error("--interval: %s is out of range [0.01, 86400] "
				"seconds", arg);
	return s;
}

/* ------------------------------------------------------------------ */
/* create */

struct create_args {
	const char *name;
	struct bcast_ring_opts o;
	bool device;
};

static void create_parse(int argc, char **argv, struct create_args *a)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "hugepage", no_argument, NULL, OPT_HUGEPAGE },
		{ "mtu", required_argument, NULL, OPT_MTU },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "metadata", required_argument, NULL, OPT_METADATA },
		{ "device", no_argument, NULL, OPT_DEVICE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t max_mtu;
	char sz[32];
	int c;

	memset(a, 0, sizeof(*a));
	a->o.size = DEFAULT_SIZE;
	a->o.mode = 0600;
	while ((c = getopt_long(argc, argv, ":hs:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->o.size = cli_number("--size", optarg, true,
					       BCAST_MIN_CAPACITY,
					       BCAST_MAX_CAPACITY);
			if (a->o.size & (a->o.size - 1))
				cli_usage_error("--size: %s is not a power of two "
						"(e.g. 64K, 1M, 16M)", optarg);
			break;
		case OPT_HUGEPAGE: a->o.flags |= BCAST_HUGEPAGE; break;
		case OPT_MTU:
			a->o.mtu = cli_number("--mtu", optarg, true, 8,
					      BCAST_MAX_MTU);
			break;
		case OPT_MODE: a->o.mode = parse_mode(optarg); break;
		case OPT_METADATA:
			a->o.metadata = optarg;
			a->o.metadata_len = strlen(optarg);
			if (a->o.metadata_len > BCAST_METADATA_MAX)
				cli_usage_error("--metadata: %zu bytes, at most "
						"%d fit in the header",
						a->o.metadata_len,
						BCAST_METADATA_MAX);
			break;
		case OPT_DEVICE: a->device = true; break;
		case OPT_JSON: json_out = true; break;
		case 'h': help(usage_create);
		default: bad_option(c, argv);
		}
	}
	a->name = one_name(argc, argv);
	/* The library's rule: a frame (8-byte header + payload) may take at
	 * most a quarter of the ring. */
	max_mtu = a->o.size / 4 - BCAST_FRAME_HDR;
	if (max_mtu > BCAST_MAX_MTU)
		max_mtu = BCAST_MAX_MTU;
	if (a->o.mtu > max_mtu)
		cli_usage_error("--mtu: %zu is too large for a %s ring (at most "
				"%llu, a quarter of it less the frame header)",
				a->o.mtu, fmt_size(a->o.size, sz, sizeof(sz)),
				(unsigned long long)max_mtu);
}

/* A bcast.ko module parameter, for messages about its limits. */
static const char *module_param(const char *name, char *buf, size_t len)
{
	if (sysfs_read(MODULE_PARAMS, name, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

static void __attribute__((noreturn)) create_failed(const struct target *t,
						    const struct create_args *a,
						    int err)
{
	bool dev = t->kind == K_DEVICE;
	char p1[32], p2[32], where[PATH_MAX];

	switch (-err) {
	case EEXIST:
		if (dev && device_sysdir(t->arg, NULL, where, sizeof(where)))
			cli_error("ring '%s' already exists (/dev/%s)", t->arg,
				  strrchr(where, '/') + 1);
		else
			cli_error("ring '%s' already exists (%s)", t->arg,
				  dev ? "bcast.ko" : ring_file(t));
		break;
	case EACCES:
	case EPERM:
		if (dev)
			cli_error("permission denied creating ring '%s': "
				  CTL_PATH " needs CAP_SYS_ADMIN or membership "
				  "of bcast.ko's ctl_gid (%s)", t->arg,
				  module_param("ctl_gid", p1, sizeof(p1)));
		else
			cli_error("permission denied creating %s",
				  (a->o.flags & BCAST_HUGEPAGE) && t->alt[0] ?
				  t->alt : t->path);
		break;
	case EFBIG:
		cli_error("cannot create ring '%s': --size %s is above "
			  "bcast.ko's max_ring_size (%s)", t->arg,
			  fmt_size(a->o.size, p1, sizeof(p1)),
			  module_param("max_ring_size", p2, sizeof(p2)));
		break;
	case ENOSPC:
		if (dev)
			cli_error("cannot create ring '%s': bcast.ko's limits "
				  "are reached (max_total %s bytes for all "
				  "rings, max_rings %s)", t->arg,
				  module_param("max_total", p1, sizeof(p1)),
				  module_param("max_rings", p2, sizeof(p2)));
		else
			cli_error("cannot create %s: no space left on the "
				  "file system", t->path);
		break;
	default:
		if (err == -ENOENT && !dev) {
			cli_error("cannot create %s: its directory does not "
				  "exist", t->path);
			break;
		}
		cli_error("cannot create ring '%s'%s%s%s: %s", t->arg,
			  dev ? "" : " (", dev ? "" : t->path, dev ? "" : ")",
			  bcast_strerror(err));
		break;
	}
	exit(EXIT_FAILURE);
}

/* The exit status: writing the JSON may fail. */
static int create_report(const struct target *t, const struct create_args *a,
			 const struct bcast_ring_info *in)
{
	char sz[32], mode[8];
	struct stat st;
	struct json j;

	snprintf(mode, sizeof(mode), "%04o",
		 stat(t->path, &st) ? (unsigned)a->o.mode :
		 (unsigned)(st.st_mode & 07777));
	if (json_out) {
		json_start(&j, 0);
		json_object(&j);
		json_member_string(&j, "name", t->arg);
		json_member_string(&j, "backend", in->backend);
		json_member_string(&j, "path", t->path);
		json_member_u64(&j, "capacity", in->capacity);
		json_member_u64(&j, "mtu", in->mtu);
		json_member_u64(&j, "map_size", in->map_size);
		json_member_bool(&j, "hugepage", in->hugepage);
		json_member_string(&j, "mode", mode);
		json_member_u64(&j, "metadata_len", in->metadata_len);
		json_object_end(&j);
		return json_finish(&j);
	}
	printf("created %s ring '%s' at %s: %s, mtu %zu, %s pages, mode %s\n",
	       in->backend, t->arg, t->path,
	       fmt_size(in->capacity, sz, sizeof(sz)), in->mtu,
	       in->hugepage ? "huge" : "normal", mode);
	if ((a->o.flags & BCAST_HUGEPAGE) && !in->hugepage)
		printf("note: huge pages were asked for but are not available "
		       "(%s); normal pages are used\n",
		       t->kind == K_DEVICE ? "bcast.ko found no free 2 MiB pages "
		       "or its hugepage parameter is off" :
		       "no writable hugetlbfs mount with free huge pages");
	return EXIT_SUCCESS;
}

static int cmd_create(int argc, char **argv)
{
	struct create_args a;
	struct bcast_ring_info in;
	struct bcast_ring *r;
	struct target t;
	int err, status = EXIT_SUCCESS;

	create_parse(argc, argv, &a);
	resolve(a.name, a.device, EXIT_FAILURE, &t);
	if (t.kind == K_DEVICE && !strncmp(a.name, "/dev/", 5))
		cli_usage_error("bcast.ko rings are created by name (the module "
				"picks N): bcastctl create NAME");
	err = bcast_ring_create(t.lib, &a.o, &r);
	if (err)
		create_failed(&t, &a, err);
	err = bcast_ring_info(r, &in);
	if (t.kind == K_DEVICE &&
	    device_sysdir(t.arg, NULL, t.sysdir, sizeof(t.sysdir)))
		device_node_of(&t);
	else if (t.kind == K_SHM && ring_file(&t) == t.alt)
		memcpy(t.path, t.alt, sizeof(t.path));	/* on hugetlbfs */
	if (!err)
		status = create_report(&t, &a, &in);
	bcast_ring_close(r);
	if (err) {
		cli_error("ring '%s' created, but reading it back failed: %s",
			  t.arg, bcast_strerror(err));
		return EXIT_FAILURE;
	}
	return status;
}

/* ------------------------------------------------------------------ */
/* destroy */

struct destroy_args {
	const char *name;
	bool force, device;
};

static void destroy_parse(int argc, char **argv, struct destroy_args *a)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "device", no_argument, NULL, OPT_DEVICE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, ":hf", opts, NULL)) != -1) {
		switch (c) {
		case 'f': a->force = true; break;
		case OPT_DEVICE: a->device = true; break;
		case OPT_JSON: json_out = true; break;
		case 'h': help(usage_destroy);
		default: bad_option(c, argv);
		}
	}
	a->name = one_name(argc, argv);
}

static void __attribute__((noreturn)) busy(long pid)
{
	cli_error("ring busy: writer pid %ld is alive; --force to remove anyway",
		  pid);
	exit(EXIT_BUSY);
}

/*
 * A device ring: the module removes the node even while files are open
 * (they keep the memory), so the live-writer rule is ours to enforce.
 * Returns the number of files still open on it.
 */
static long destroy_device_check(const struct target *t, bool force)
{
	uint64_t pid = 0, readers = 0;

	if (!t->sysdir[0]) {
		if (strncmp(t->arg, "/dev/", 5))
			no_ring(t);
		return -1;	/* a node sysfs does not show: let it say */
	}
	if (sysfs_u64(t->sysdir, "writer_pid", &pid) ||
	    sysfs_u64(t->sysdir, "readers", &readers))
		no_ring(t);
	if (pid && !force)
		busy((long)pid);
	return (long)readers + (pid ? 1 : 0);
}

/*
 * An shm or file ring: never unlink a file that is not a ring; a damaged
 * header needs --force.  Returns the processes still mapping it.
 */
static long destroy_file_check(const struct target *t, bool force)
{
	struct bcast_ring_info in;
	struct bcast_ring *r;
	struct file_id id;
	long hidden;
	int err = bcast_ring_open(t->lib, BCAST_RDONLY, &r);

	if (err == -EINVAL || err == -ENOENT || err == -ENODEV)
		open_failed(t, err);
	if (err && !force) {
		if (err == -EPROTO || err == -BCAST_ECORRUPT)
			cli_error("%s: %s; --force to remove anyway",
				  ring_file(t), bcast_strerror(err));
		else if (err == -EACCES || err == -EPERM)
			cli_error("permission denied opening %s to check for a "
				  "live writer; --force skips the check",
				  ring_file(t));
		else
			open_failed(t, err);
		exit(EXIT_FAILURE);
	}
	if (err)
		return -1;
	if (!bcast_ring_info(r, &in) && in.writer_alive && !force)
		busy((long)in.writer_pid);
	bcast_ring_close(r);
	if (file_id_of(ring_file(t), &id))
		return -1;
	return count_mappers(&id, 0, &hidden);
}

static int cmd_destroy(int argc, char **argv)
{
	struct destroy_args a;
	struct target t;
	struct json j;
	char where[PATH_MAX];
	long still;
	int err;

	destroy_parse(argc, argv, &a);
	resolve(a.name, a.device, EXIT_NORING, &t);
	if (t.kind == K_DEVICE)
		still = destroy_device_check(&t, a.force);
	else
		still = destroy_file_check(&t, a.force);
	snprintf(where, sizeof(where), "%s", ring_file(&t));
	err = bcast_ring_destroy(t.lib);
	if (err == -ENOENT || err == -ENODEV || err == -ENXIO)
		no_ring(&t);
	if (err == -EPERM || err == -EACCES) {
		if (t.kind == K_DEVICE)
			cli_error("permission denied removing ring '%s': needs "
				  "CAP_SYS_ADMIN, or membership of bcast.ko's "
				  "ctl_gid and ownership of %s", t.arg, where);
		else
			cli_error("permission denied removing %s", where);
		return EXIT_FAILURE;
	}
	if (err) {
		cli_error("cannot remove ring '%s' (%s): %s", t.arg, where,
			  bcast_strerror(err));
		return EXIT_FAILURE;
	}
	if (json_out) {
		json_start(&j, 0);
		json_object(&j);
		json_member_string(&j, "name", t.arg);
		json_member_string(&j, "path", where);
		json_member_bool(&j, "destroyed", true);
		json_member_bool(&j, "forced", a.force);
		member_count(&j, "still_open", still);
		json_object_end(&j);
		return json_finish(&j);
	}
	printf("destroyed ring '%s' (%s)\n", t.arg, where);
	if (still > 0)
		printf("note: %ld %s%s still %s it; its memory is freed when "
		       "the last one closes\n", still,
		       t.kind == K_DEVICE ? "open file" : "process",
		       still == 1 ? "" : t.kind == K_DEVICE ? "s" : "es",
		       t.kind == K_DEVICE ? (still == 1 ? "holds" : "hold") :
		       (still == 1 ? "maps" : "map"));
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* list */

struct entry {
	char name[PATH_MAX + 8];
	const char *backend;
	char path[PATH_MAX];
	uint64_t size, committed;
	bool hugepage;
	long writer_pid;	/* 0: none */
	long readers;		/* -1: unknown */
	int order;		/* devices, then shm, then files */
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static struct entry *entry_add(struct entries *es)
{
	if (es->n == es->cap) {
		size_t cap = es->cap ? es->cap * 2 : 16;
		struct entry *v = realloc(es->v, cap * sizeof(*v));

		if (!v) {
			cli_error("out of memory");
			exit(EXIT_FAILURE);
		}
		es->v = v;
		es->cap = cap;
	}
	memset(&es->v[es->n], 0, sizeof(es->v[0]));
	return &es->v[es->n++];
}

static void list_devices(struct entries *es)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(SYSFS_CLASS);
	uint64_t v;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct entry *e;
		char name[BCAST_NAME_MAX + 2];

		if (strncmp(de->d_name, "bcast", 5))
			continue;
		snprintf(dir, sizeof(dir), SYSFS_CLASS "/%s", de->d_name);
		if (sysfs_read(dir, "name", name, sizeof(name)))
			continue;	/* removed meanwhile */
		e = entry_add(es);
		snprintf(e->name, sizeof(e->name), "%s", name);
		snprintf(e->path, sizeof(e->path), "/dev/%s", de->d_name);
		e->backend = "device";
		e->order = 0;
		e->readers = -1;
		if (!sysfs_u64(dir, "size", &v))
			e->size = v;
		if (!sysfs_u64(dir, "hugepage", &v))
			e->hugepage = v;
		if (!sysfs_u64(dir, "writer_pid", &v))
			e->writer_pid = (long)v;
		if (!sysfs_u64(dir, "readers", &v))
			e->readers = (long)v;
		if (!sysfs_u64(dir, "committed", &v))
			e->committed = v;
	}
	closedir(d);
}

/*
 * Cheap check before mapping anything: a regular file, this user can read
 * it, and its first bytes are a ring header of this ABI.
 */
static bool looks_like_ring(const char *path)
{
	struct bcast_ring_hdr h;
	struct stat st;
	bool ok = false;
	int fd;

	if (lstat(path, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < BCAST_HDR_SIZE + BCAST_MIN_CAPACITY)
		return false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, &h, offsetof(struct bcast_ring_hdr, line0_pad), 0) ==
	    (ssize_t)offsetof(struct bcast_ring_hdr, line0_pad))
		ok = h.magic == BCAST_RING_MAGIC &&
		     h.abi_version == BCAST_ABI_VERSION &&
		     h.capacity <= (uint64_t)st.st_size - BCAST_HDR_SIZE;
	close(fd);
	return ok;
}

/* Add the ring in `path`, addressed as `name`, if it is one. */
static void list_file(struct entries *es, const char *path, const char *name,
		      bool shm)
{
	char lib[PATH_MAX + 8];
	struct bcast_ring_info in;
	struct bcast_ring *r;
	struct file_id id;
	struct entry *e;
	long hidden;

	if (!looks_like_ring(path))
		return;
	snprintf(lib, sizeof(lib), "file:%s", path);
	if (bcast_ring_open(lib, BCAST_RDONLY, &r))
		return;
	if (bcast_ring_info(r, &in)) {
		bcast_ring_close(r);
		return;
	}
	e = entry_add(es);
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->backend = shm ? "shm" : "file";
	e->order = shm ? 1 : 2;
	e->size = in.capacity;
	e->committed = in.committed;
	e->hugepage = in.hugepage;
	e->writer_pid = in.writer_alive ? (long)in.writer_pid : 0;
	bcast_ring_close(r);
	e->readers = file_id_of(path, &id) ? -1 :
		     count_mappers(&id, (pid_t)e->writer_pid, &hidden);
}

static void list_shm(struct entries *es)
{
	char path[PATH_MAX], name[PATH_MAX + 8];
	struct dirent *de;
	DIR *d = opendir(SHM_DIR);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SHM_DIR "/%s", de->d_name);
		snprintf(name, sizeof(name), "shm:%s", de->d_name);
		list_file(es, path, name, true);
	}
	closedir(d);
}

/*
 * bcast.NAME files on every hugetlbfs mount.  On the mount libbcast uses
 * for shm:NAME they are shm rings (unless /dev/shm/NAME shadows them);
 * elsewhere they can only be reached as file:PATH.
 */
static void list_hugetlbfs(struct entries *es)
{
	char lib_dir[PATH_MAX] = "", path[PATH_MAX], name[PATH_MAX + 8];
	FILE *f = setmntent("/proc/mounts", "re");
	struct mntent *m;

	if (!f)
		return;
	hugetlbfs_dir(lib_dir, sizeof(lib_dir));
	while ((m = getmntent(f))) {
		struct dirent *de;
		DIR *d;

		if (strcmp(m->mnt_type, "hugetlbfs") || !(d = opendir(m->mnt_dir)))
			continue;
		while ((de = readdir(d))) {
			bool shm;

			if (strncmp(de->d_name, "bcast.", 6) || !de->d_name[6])
				continue;
			snprintf(path, sizeof(path), "%s/%s", m->mnt_dir,
				 de->d_name);
			snprintf(name, sizeof(name), SHM_DIR "/%s",
				 de->d_name + 6);
			shm = !strcmp(m->mnt_dir, lib_dir) &&
			      access(name, F_OK);
			if (shm)
				snprintf(name, sizeof(name), "shm:%s",
					 de->d_name + 6);
			else
				snprintf(name, sizeof(name), "file:%s", path);
			list_file(es, path, name, shm);
		}
		closedir(d);
	}
	endmntent(f);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->order != y->order)
		return x->order - y->order;
	return strcmp(x->name, y->name);
}

/* One ring a line. */
static int list_json(const struct entries *es)
{
	struct json j;
	size_t i;

	json_start(&j, 1);
	json_array(&j);
	for (i = 0; i < es->n; i++) {
		const struct entry *e = &es->v[i];

		json_object(&j);
		json_member_string(&j, "name", e->name);
		json_member_string(&j, "backend", e->backend);
		json_member_string(&j, "path", e->path);
		json_member_u64(&j, "size", e->size);
		json_member_bool(&j, "hugepage", e->hugepage);
		json_member_bool(&j, "writer_alive", e->writer_pid != 0);
		member_count(&j, "writer_pid", e->writer_pid ? e->writer_pid : -1);
		member_count(&j, "readers", e->readers);
		json_member_u64(&j, "committed", e->committed);
		json_object_end(&j);
	}
	json_array_end(&j);
	return json_finish(&j);
}

static void list_table(const struct entries *es)
{
	int wname = 4, wpath = 4;
	char sz[32], wr[24], rd[24];
	size_t i;

	for (i = 0; i < es->n; i++) {
		if ((int)strlen(es->v[i].name) > wname)
			wname = (int)strlen(es->v[i].name);
		if ((int)strlen(es->v[i].path) > wpath)
			wpath = (int)strlen(es->v[i].path);
	}
	printf("%-*s  %-7s  %6s  %-8s  %7s  %7s  %s\n", wname, "NAME",
	       "BACKEND", "SIZE", "HUGEPAGE", "WRITER", "READERS", "PATH");
	for (i = 0; i < es->n; i++) {
		const struct entry *e = &es->v[i];

		snprintf(wr, sizeof(wr), e->writer_pid ? "%ld" : "-",
			 e->writer_pid);
		snprintf(rd, sizeof(rd), e->readers < 0 ? "?" : "%ld",
			 e->readers);
		printf("%-*s  %-7s  %6s  %-8s  %7s  %7s  %s\n", wname, e->name,
		       e->backend, fmt_size(e->size, sz, sizeof(sz)),
		       e->hugepage ? "yes" : "no", wr, rd, e->path);
	}
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct entries es = { NULL, 0, 0 };
	int c, status = EXIT_SUCCESS;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: json_out = true; break;
		case 'h': help(usage_list);
		default: bad_option(c, argv);
		}
	}
	if (optind < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	list_devices(&es);
	list_shm(&es);
	list_hugetlbfs(&es);
	if (es.n)
		qsort(es.v, es.n, sizeof(es.v[0]), entry_cmp);
	if (json_out)
		status = list_json(&es);
	else
		list_table(&es);
	free(es.v);
	return status;
}

/* ------------------------------------------------------------------ */
/* info */

static const char *view_path(const struct view *v)
{
	return v->t.kind == K_DEVICE ? v->t.path : ring_file(&v->t);
}

/* Owner and mode of the ring's file or node: "0600 uid 0 gid 0". */
static bool owner_of(const struct view *v, struct stat *st)
{
	return !stat(view_path(v), st);
}

static int info_json(const struct view *v, const struct snap *s)
{
	char hex[2 * BCAST_METADATA_MAX + 1];
	struct json j;
	struct stat st;
	char mode[8];
	size_t tlen;

	json_start(&j, 0);
	json_object(&j);
	json_member_string(&j, "name", v->t.arg);
	json_member_string(&j, "backend", s->backend);
	json_member_string(&j, "path", view_path(v));
	json_member_u64(&j, "capacity", s->capacity);
	member_count(&j, "mtu", s->have_hdr ? (long)s->mtu : -1);
	member_count(&j, "map_size", s->have_hdr ? (long)s->map_size : -1);
	json_member_bool(&j, "hugepage", s->hugepage);
	if (s->pmd_mappings >= 0)
		member_count(&j, "pmd_mappings", s->pmd_mappings);
	json_member_u64(&j, "committed", s->committed);
	json_member_u64(&j, "claimed", s->claimed);
	member_count(&j, "messages", s->have_count ? (long)s->messages : -1);
	member_count(&j, "payload_bytes", s->have_count ? (long)s->payload : -1);
	json_member_bool(&j, "writer_alive", s->writer_alive);
	member_count(&j, "writer_pid", s->writer_alive ? s->writer_pid : -1);
	member_count(&j, "writer_epoch", s->have_hdr ? (long)s->epoch : -1);
	if (!s->have_hdr) {
		json_member_null(&j, "metadata");
		json_member_null(&j, "metadata_hex");
		json_member_null(&j, "metadata_len");
	} else {
		json_key(&j, "metadata");
		if (meta_printable(s, &tlen))
			json_string_bytes(&j, s->meta, tlen);
		else
			json_null(&j);
		json_member_string(&j, "metadata_hex",
				   hex_text(s->meta, s->meta_len, hex));
		json_member_u64(&j, "metadata_len", s->meta_len);
	}
	member_count(&j, "readers", s->readers);
	if (owner_of(v, &st)) {
		snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
		json_member_string(&j, "mode", mode);
		json_member_u64(&j, "uid", st.st_uid);
		json_member_u64(&j, "gid", st.st_gid);
	}
	if (!s->have_hdr)
		json_member_string(&j, "header", bcast_strerror(v->open_err));
	json_object_end(&j);
	return json_finish(&j);
}

static void info_metadata_text(const struct snap *s)
{
	char line[2 * 32 + 1];
	size_t i, tlen;

	if (!s->meta_len) {
		printf("%-12s(none)\n", "metadata");
		return;
	}
	if (meta_printable(s, &tlen)) {
		printf("%-12s\"%.*s\"\n", "metadata", (int)tlen,
		       (const char *)s->meta);
		return;
	}
	printf("%-12s%zu bytes:\n", "metadata", s->meta_len);
	for (i = 0; i < s->meta_len; i += 32)
		printf("            %s\n", hex_text(s->meta + i,
		       s->meta_len - i < 32 ? s->meta_len - i : 32, line));
}

static void info_text(const struct view *v, const struct snap *s)
{
	char sz[32], buf[128], why[PATH_MAX + 128];
	struct stat st;

	snprintf(why, sizeof(why), "unknown (%s opening %s)",
		 bcast_strerror(v->open_err), view_path(v));
	printf("%-12s%s\n", "ring", v->t.arg);
	printf("%-12s%s\n", "backend", s->backend);
	printf("%-12s%s\n", "path", view_path(v));
	printf("%-12s%llu (%s)\n", "capacity", (unsigned long long)s->capacity,
	       fmt_size(s->capacity, sz, sizeof(sz)));
	if (s->have_hdr) {
		printf("%-12s%llu\n", "mtu", (unsigned long long)s->mtu);
		printf("%-12s%llu\n", "map size", (unsigned long long)s->map_size);
	} else {
		printf("%-12s%s\n", "mtu", why);
	}
	printf("%-12s%s", "hugepage", s->hugepage ? "yes" : "no");
	if (s->pmd_mappings >= 0)
		printf(" (%ld PMD mappings made)", s->pmd_mappings);
	putchar('\n');
	printf("%-12s%llu\n", "committed", (unsigned long long)s->committed);
	printf("%-12s%llu\n", "claimed", (unsigned long long)s->claimed);
	if (s->have_count)
		printf("%-12s%llu (%llu payload bytes)\n", "messages",
		       (unsigned long long)s->messages,
		       (unsigned long long)s->payload);
	else
		printf("%-12s%s\n", "messages", "unknown");
	writer_text(s, buf, sizeof(buf));
	printf("%-12s%s\n", "writer", buf);
	if (s->have_hdr)
		info_metadata_text(s);
	else
		printf("%-12s%s\n", "metadata", why);
	readers_text(s, buf, sizeof(buf));
	printf("%-12s%s", "readers", buf);
	if (v->t.kind == K_DEVICE && s->readers >= 0)
		fputs(" (open reader files)", stdout);
	else if (s->readers >= 0 && s->hidden && geteuid())
		printf(" (%ld processes of other users not inspected)",
		       s->hidden);
	putchar('\n');
	if (owner_of(v, &st))
		printf("%-12s%04o, uid %u, gid %u\n", "mode",
		       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
		       (unsigned)st.st_gid);
}

/* Options shared by info and stat. */
struct watch_args {
	const char *name;
	bool device;
	double interval;
	uint64_t count;		/* 0: until interrupted */
};

static void watch_parse(int argc, char **argv, struct watch_args *a,
			bool is_stat)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "device", no_argument, NULL, OPT_DEVICE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->interval = 1.0;
	/* info takes only the last three */
	while ((c = getopt_long(argc, argv, is_stat ? ":hi:c:" : ":h",
				is_stat ? opts : opts + 2, NULL)) != -1) {
		switch (c) {
		case 'i': a->interval = parse_interval(optarg); break;
		case 'c':
			a->count = cli_number("--count", optarg, false, 1,
					      UINT64_MAX);
			break;
		case OPT_DEVICE: a->device = true; break;
		case OPT_JSON: json_out = true; break;
		case 'h': help(is_stat ? usage_stat : usage_info);
		default: bad_option(c, argv);
		}
	}
	a->name = one_name(argc, argv);
}

static int cmd_info(int argc, char **argv)
{
	struct watch_args a;
	struct view v;
	struct snap s;
	int status = EXIT_SUCCESS;

	watch_parse(argc, argv, &a, false);
	view_open(&v, a.name, a.device);
	if (snapshot(&v, &s))
		no_ring(&v.t);
	if (json_out)
		status = info_json(&v, &s);
	else
		info_text(&v, &s);
	view_close(&v);
	return status;
}

/* ------------------------------------------------------------------ */
/* stat */

/* Sleep until `deadline` (CLOCK_MONOTONIC seconds) or a signal. */
static void sleep_until(double deadline)
{
	struct timespec ts;

	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	while (!cli_stop_requested &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void clock_text(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm) || !strftime(buf, len, "%H:%M:%S", &tm))
		snprintf(buf, len, "?");
}

/* Per second between two snapshots; < 0: unknown (first refresh, or no
 * counts from the header). */
struct rates {
	double bytes;		/* of `committed`: frame bytes */
	double messages;
	double payload;
};

static struct rates rates_between(const struct snap *a, const struct snap *b)
{
	double dt = b->time - a->time;
	struct rates r = { -1, -1, -1 };

	if (dt <= 0)
		return r;
	r.bytes = b->committed >= a->committed ?
		  (double)(b->committed - a->committed) / dt : 0;
	if (a->have_count && b->have_count && b->messages >= a->messages &&
	    b->payload >= a->payload) {
		r.messages = (double)(b->messages - a->messages) / dt;
		r.payload = (double)(b->payload - a->payload) / dt;
	}
	return r;
}

static int stat_json(const struct view *v, const struct snap *s, double dt,
		     const struct rates *r)
{
	struct json j;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	json_start(&j, 0);
	json_object(&j);
	json_member_string(&j, "name", v->t.arg);
	json_member_double(&j, "time",
			   (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, 3);
	json_member_double(&j, "interval", dt, 3);
	json_member_u64(&j, "committed", s->committed);
	json_member_u64(&j, "claimed", s->claimed);
	member_count(&j, "messages", s->have_count ? (long)s->messages : -1);
	member_count(&j, "payload_bytes", s->have_count ? (long)s->payload : -1);
	json_member_double(&j, "bytes_per_sec", r->bytes, 0);
	member_count(&j, "messages_per_sec",
		     r->messages < 0 ? -1 : (long)(r->messages + 0.5));
	member_count(&j, "payload_bytes_per_sec",
		     r->payload < 0 ? -1 : (long)(r->payload + 0.5));
	json_member_bool(&j, "writer_alive", s->writer_alive);
	member_count(&j, "writer_pid", s->writer_alive ? s->writer_pid : -1);
	member_count(&j, "writer_epoch", s->have_hdr ? (long)s->epoch : -1);
	json_member_bool(&j, "hugepage", s->hugepage);
	member_count(&j, "readers", s->readers);
	json_object_end(&j);
	return json_finish(&j);
}

static void stat_line(const struct snap *s, const struct rates *r)
{
	char clk[16], rd[24], msgs[32], mrate[32];

	clock_text(clk, sizeof(clk));
	readers_text(s, rd, sizeof(rd));
	if (s->have_count)
		snprintf(msgs, sizeof(msgs), "%llu", (unsigned long long)s->messages);
	else
		snprintf(msgs, sizeof(msgs), "?");
	if (r->messages >= 0)
		snprintf(mrate, sizeof(mrate), "%.0f", r->messages);
	else
		snprintf(mrate, sizeof(mrate), "?");
	printf("time=%s committed=%llu claimed=%llu messages=%s "
	       "messages_per_sec=%s bytes_per_sec=%.0f writer_alive=%d "
	       "writer_pid=%ld writer_epoch=%llu hugepage=%d readers=%s\n",
	       clk, (unsigned long long)s->committed,
	       (unsigned long long)s->claimed, msgs, mrate, r->bytes,
	       s->writer_alive, s->writer_alive ? s->writer_pid : 0,
	       (unsigned long long)s->epoch, s->hugepage, rd);
}

/* The terminal view: a block redrawn in place.  Returns its line count. */
static int stat_screen(const struct view *v, const struct snap *s,
		       double interval, const struct rates *r, int prev_lines)
{
	char clk[16], sz[32], rt[32], buf[128];

	if (prev_lines)
		printf("\033[%dA\033[J", prev_lines);
	clock_text(clk, sizeof(clk));
	printf("%s  every %gs  %s  (Ctrl-C to quit)\n", v->t.arg, interval, clk);
	printf("  %-10s %s  %s\n", "backend", s->backend, view_path(v));
	printf("  %-10s %s, hugepage %s\n", "capacity",
	       fmt_size(s->capacity, sz, sizeof(sz)), s->hugepage ? "yes" : "no");
	if (r->bytes < 0)
		snprintf(rt, sizeof(rt), "measuring");
	else
		fmt_rate(r->bytes, rt, sizeof(rt));
	printf("  %-10s %llu  (%s)\n", "committed",
	       (unsigned long long)s->committed, rt);
	printf("  %-10s %llu\n", "claimed", (unsigned long long)s->claimed);
	if (!s->have_count)
		printf("  %-10s unknown\n", "messages");
	else if (r->messages < 0)
		printf("  %-10s %llu  (measuring)\n", "messages",
		       (unsigned long long)s->messages);
	else
		printf("  %-10s %llu  (%.0f msg/s, %s of payload)\n", "messages",
		       (unsigned long long)s->messages, r->messages,
		       fmt_rate(r->payload, rt, sizeof(rt)));
	writer_text(s, buf, sizeof(buf));
	printf("  %-10s %s\n", "writer", buf);
	readers_text(s, buf, sizeof(buf));
	printf("  %-10s %s\n", "readers", buf);
	return 8;
}

static int cmd_stat(int argc, char **argv)
{
	static const struct rates none = { -1, -1, -1 };
	struct watch_args a;
	struct snap prev, cur;
	struct view v;
	bool tty;
	int lines = 0, status = EXIT_SUCCESS;
	uint64_t n;

	watch_parse(argc, argv, &a, true);
	view_open(&v, a.name, a.device);
	/* Ctrl-C and SIGTERM end the loop (exit 0). */
	cli_catch_stop_signals();
	tty = !json_out && isatty(STDOUT_FILENO);
	if (snapshot(&v, &prev))
		no_ring(&v.t);
	if (tty) {
		lines = stat_screen(&v, &prev, a.interval, &none, 0);
		fflush(stdout);
	}
	for (n = 0; !cli_stop_requested && (!a.count || n < a.count); n++) {
		struct rates r;

		sleep_until(prev.time + a.interval);
		if (cli_stop_requested)
			break;
		if (snapshot(&v, &cur)) {
			cli_error("ring '%s' was removed", a.name);
			status = EXIT_NORING;
			break;
		}
		r = rates_between(&prev, &cur);
		if (json_out)
			status = stat_json(&v, &cur, cur.time - prev.time, &r);
		else if (tty)
			lines = stat_screen(&v, &cur, a.interval, &r, lines);
		else
			stat_line(&cur, &r);
		fflush(stdout);
		if (status)
			break;
		prev = cur;
	}
	view_close(&v);
	return status;
}

/* ------------------------------------------------------------------ */

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "create", cmd_create },
	{ "destroy", cmd_destroy },
	{ "list", cmd_list },
	{ "info", cmd_info },
	{ "stat", cmd_stat },
};

int main(int argc, char **argv)
{
	size_t i;
	int a;

	cli_prog = "bcastctl";
	for (a = 1; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help"))
			help(usage_main);
		if (!strcmp(argv[a], "--version")) {
			printf("bcastctl %d.%d (ring ABI %d)\n",
			       BCAST_VERSION_MAJOR, BCAST_VERSION_MINOR,
			       BCAST_ABI_VERSION);
			return EXIT_SUCCESS;
		}
		if (!strcmp(argv[a], "--json"))
			json_out = true;
		else if (!strcmp(argv[a], "--")) {
			a++;
			break;
		} else
			cli_usage_error("unknown option '%s'", argv[a]);
	}
	if (a >= argc)
		cli_usage_error("no command given (create, destroy, list, info, "
				"stat)");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[a], commands[i].name)) {
			set_prog(commands[i].name);
			opterr = 0;
			return commands[i].run(argc - a, argv + a);
		}
	}
	cli_usage_error("unknown command '%s' (create, destroy, list, info, "
			"stat)", argv[a]);
}
