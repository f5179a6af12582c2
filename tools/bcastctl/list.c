// SPDX-License-Identifier: MIT
/* bcastctl list: every ring this user can see. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	enum kind kind;		/* listed: devices, then shm, then files */
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

/* A bcast.ko ring: what the module says in sysfs. */
static void add_device(struct entry *e, const char *dir)
{
	uint64_t v;

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

/*
 * A ring in a file: its header, and who maps it.  Opened as file:PATH, the
 * very file listed (its shm name could lead to the other place).  false
 * if it cannot be opened after all.
 */
static bool add_file(struct entry *e, const char *path)
{
	char lib[PATH_MAX + 8];
	struct bcast_ring_info in;
	struct bcast_ring *r;
	struct file_id id;
	long hidden;

	snprintf(lib, sizeof(lib), "file:%s", path);
	if (bcast_ring_open(lib, BCAST_RDONLY, &r))
		return false;
	if (bcast_ring_info(r, &in)) {
		bcast_ring_close(r);
		return false;
	}
	e->size = in.capacity;
	e->committed = in.committed;
	e->hugepage = in.hugepage;
	e->writer_pid = in.writer_alive ? (long)in.writer_pid : 0;
	bcast_ring_close(r);
	e->readers = file_id_of(path, &id) ? -1 :
		     count_mappers(&id, (pid_t)e->writer_pid, &hidden);
	return true;
}

/* bcast_ring_list()'s callback: one entry per ring found. */
static int add_ring(const struct bcast_ring_location *loc, void *arg)
{
	static const char *const backend[] = {
		[K_DEVICE] = "device", [K_SHM] = "shm", [K_FILE] = "file",
	};
	struct entries *es = arg;
	struct entry *e = entry_add(es);

	snprintf(e->name, sizeof(e->name), "%s", loc->name);
	snprintf(e->path, sizeof(e->path), "%s", loc->path);
	e->kind = kind_of(loc->backend);
	e->backend = backend[e->kind];
	if (e->kind == K_DEVICE)
		add_device(e, loc->sysfs);
	else if (!add_file(e, loc->path))
		es->n--;	/* gone or unreadable meanwhile */
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
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
	bcast_ring_list(add_ring, &es);
	if (es.n)
		qsort(es.v, es.n, sizeof(es.v[0]), entry_cmp);
	if (json_out)
		status = list_json(&es);
	else
		list_table(&es);
	free(es.v);
	return status;
}
