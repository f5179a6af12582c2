// SPDX-License-Identifier: MIT
/*
 * NAME to what it means: the backend, the file or device node, the sysfs
 * directory; and the errors that say where bcastctl looked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bcastctl.h"

static bool module_loaded(void)
{
	return !access(CTL_PATH, F_OK);
}

static void __attribute__((noreturn)) module_missing(int code)
{
	cli_error(NOT_LOADED);
	exit(code);
}

/*
 * The first mounted hugetlbfs this user may write: where libbcast puts the
 * huge-page file of shm:NAME (as bcast.NAME).
 */
bool hugetlbfs_dir(char *dir, size_t len)
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
bool device_sysdir(const char *name, const char *node, char *dir, size_t len)
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

void device_node_of(struct target *t)
{
	const char *base = strrchr(t->sysdir, '/');

	snprintf(t->path, sizeof(t->path), "/dev/%s", base ? base + 1 : "?");
}

void resolve(const char *arg, bool want_device, int missing, struct target *t)
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

const char *ring_file(const struct target *t)
{
	if (t->kind == K_SHM && t->alt[0] && access(t->path, F_OK) &&
	    !access(t->alt, F_OK))
		return t->alt;
	return t->path;
}

void no_ring(const struct target *t)
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

void open_failed(const struct target *t, int err)
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
