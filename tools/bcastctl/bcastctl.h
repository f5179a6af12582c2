/* SPDX-License-Identifier: MIT */
/*
 * bcastctl: create, destroy, list and inspect bcast rings.  What its files
 * share: main.c dispatches to one file per command (create.c, destroy.c,
 * list.c, info.c, stat.c), which stand on these parts:
 *
 *   target.c    NAME as the library locates it; the errors that say where
 *               bcastctl looked
 *   snapshot.c  an opened ring (a view) and what it looks like now
 *   readers.c   who maps a file (/proc/PID/maps)
 *   sysfs.c     bcast.ko's attributes
 *   options.c   option parsing every command does alike
 *   output.c    sizes, writer and readers in words; the JSON document
 *
 * Names are the library's: shm:NAME, file:PATH, /dev/bcastN, or a bare NAME
 * (the bcast.ko ring when /dev/bcast-ctl exists, else shm:NAME).  Where a
 * name leads (bcast_ring_locate), which rings exist (bcast_ring_list) and
 * what an opened ring maps (bcast_ring_info) are the library's answers;
 * bcastctl adds the wording of errors, bcast.ko's other sysfs attributes
 * and the count of the processes that map a ring.
 *
 * Who reads a ring: for bcast.ko rings the module counts reader files
 * (sysfs `readers`); for shm and file rings nothing counts them, so
 * bcastctl counts the processes that map the ring's file (/proc/PID/maps).
 */
#ifndef BCAST_BCASTCTL_H
#define BCAST_BCASTCTL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bcast.h>
#include <linux/bcast.h>

#include "cli.h"
#include "json.h"

#define CTL_PATH	"/dev/bcast-ctl"
#define SYSFS_CLASS	"/sys/class/bcast"
#define MODULE_PARAMS	"/sys/module/bcast/parameters"
#define SHM_DIR		"/dev/shm"
#define NOT_LOADED	"bcast.ko is not loaded: " CTL_PATH " does not exist; " \
			"use shm:NAME or load the module"

/* --json, before the command or among its options. */
extern bool json_out;

/* The commands (argv[0] is the command's name). */
int cmd_create(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_stat(int argc, char **argv);

/* ---- options.c ---- */

enum {
	OPT_JSON = 0x100, OPT_DEVICE, OPT_HUGEPAGE, OPT_MTU, OPT_MODE,
	OPT_METADATA, OPT_READERS, OPT_GATED, OPT_READER_SLOTS,
	OPT_EVICT_BYTES, OPT_EVICT_MS,
};

/* Report a getopt error and exit 2. */
void bad_option(int c, char **argv) __attribute__((noreturn));
/* The one NAME argument after the options. */
const char *one_name(int argc, char **argv);
/* Print a help text and exit 0. */
void help(const char *text) __attribute__((noreturn));

/* Options shared by info and stat. */
struct watch_args {
	const char *name;
	bool device;
	bool readers;		/* --readers: every registered reader */
	double interval;
	uint64_t count;		/* 0: until interrupted */
};

/* info takes --device, --readers, --json, --help; stat --interval and
 * --count too. */
void watch_parse(int argc, char **argv, struct watch_args *a, bool is_stat,
		 const char *usage);

/* ---- sysfs.c ---- */

/* Read one sysfs attribute (first line, newline stripped). */
int sysfs_read(const char *dir, const char *attr, char *buf, size_t len);
int sysfs_u64(const char *dir, const char *attr, uint64_t *v);

/* ---- target.c ---- */

/* The backend a name leads to, in the order list shows them. */
enum kind { K_DEVICE, K_SHM, K_FILE };

/* A struct bcast_ring_location's backend ("device", "shm", "file"). */
enum kind kind_of(const char *backend);

/*
 * NAME and where the library takes it: loc.name is what bcastctl hands to
 * libbcast, loc.path the file holding the ring (shm: where it would be
 * created, loc.alt_path its other place) or the device node ("" when no
 * bcast.ko ring has the name), loc.sysfs a device ring's directory.
 */
struct target {
	const char *arg;		/* NAME as given */
	enum kind kind;			/* loc.backend */
	struct bcast_ring_location loc;
};

/*
 * Locate NAME (bcast_ring_locate), after what only bcastctl does:
 * /dev/shm/X means shm:X, and every name the library would refuse is a
 * usage error in words.  `missing` is the exit code when a device ring is
 * meant but bcast.ko is not loaded (3 when the ring can then not exist, 1
 * when it was to be created).
 */
void resolve(const char *arg, bool want_device, int missing, struct target *t);
/* "no ring 'NAME' (looked in ...)", exit 3. */
void no_ring(const struct target *t) __attribute__((noreturn));
/* Opening an existing ring failed: say why and exit. */
void open_failed(const struct target *t, int err) __attribute__((noreturn));

/* ---- readers.c ---- */

struct file_id {
	dev_t dev;
	ino_t ino;
	char path[PATH_MAX];	/* canonical, as /proc/PID/maps prints it */
};

int file_id_of(const char *path, struct file_id *id);
/*
 * Processes mapping the file, other than this one and `writer`: the
 * readers of an shm or file ring.  *hidden counts processes whose maps
 * this user may not read.  -1 when /proc cannot be read at all.
 */
long count_mappers(const struct file_id *id, pid_t writer, long *hidden);

/* ---- snapshot.c ---- */

struct view {
	struct target t;
	struct bcast_ring *r;	/* NULL: a device ring seen through sysfs */
	int open_err;		/* why r is NULL */
	const char *path;	/* the file or node opened (bcast_ring_info) */
	const char *sysfs;	/* device rings: their directory, else "" */
	struct file_id file;	/* shm/file rings */
};

#define SNAP_READERS_MAX 256	/* registered readers shown one by one */

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
	/* the reader registry (registry.c) */
	unsigned reader_slots;	/* 0: none */
	bool gated;
	uint64_t evict_bytes;
	unsigned evict_ms;
	unsigned registered;	/* slots with an owner, dead ones too */
	unsigned dead;
	uint64_t max_lag_bytes, max_lag_messages;
	unsigned listed;	/* entries in reg[] */
	struct bcast_reader_entry reg[SNAP_READERS_MAX];
};

/*
 * Open NAME read-only (exits if it cannot).  A device node this user may
 * not open is still described from sysfs, without the header's fields.
 */
void view_open(struct view *v, const char *arg, bool want_device);
void view_close(struct view *v);
/* The ring as it is now; -ENOENT if it has been removed meanwhile. */
int snapshot(const struct view *v, struct snap *s);

/* ---- registry.c ---- */

/* The registry's part of a snapshot (nothing for rings without one). */
void snap_registry(const struct view *v, struct snap *s);
/* "1024 slots, 3 registered (1 dead), gated" */
void registry_text(const struct snap *s, char *buf, size_t len);
/* One line per registered reader, under a heading. */
void registry_table(const struct snap *s, const char *indent);
/* The registry's members; with `list` also "registered_readers". */
void registry_json(struct json *j, const struct snap *s, bool list);
/* stat's line mode: one "reader slot=... " line per registered reader. */
void registry_lines(const struct snap *s);

/* ---- output.c ---- */

/* "64K", "1M": exact binary units for the powers of two rings use. */
const char *fmt_size(uint64_t v, char *buf, size_t len);
void writer_text(const struct snap *s, char *buf, size_t len);
void readers_text(const struct snap *s, char *buf, size_t len);

/* A document on stdout, spaced; `wrap` as json_begin() takes it. */
void json_start(struct json *j, unsigned wrap);
/* A count, or null when unknown (negative). */
void member_count(struct json *j, const char *key, long val);
/* End the document; the exit status. */
int json_finish(struct json *j);

#endif /* BCAST_BCASTCTL_H */
