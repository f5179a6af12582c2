// SPDX-License-Identifier: MIT
/* bcastctl list: every ring this user can see. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bcastctl.h"

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

int cmd_list(int argc, char **argv)
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
