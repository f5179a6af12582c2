// SPDX-License-Identifier: MIT
/*
 * bcastctl destroy: remove a ring's name, never a live writer's ring
 * without --force, never a file that is not a ring.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcastctl.h"

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

	if (!t->loc.sysfs[0]) {
		if (strncmp(t->arg, "/dev/", 5))
			no_ring(t);
		return -1;	/* a node sysfs does not show: let it say */
	}
	if (sysfs_u64(t->loc.sysfs, "writer_pid", &pid) ||
	    sysfs_u64(t->loc.sysfs, "readers", &readers))
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
	bool known;
	int err = bcast_ring_open(t->loc.name, BCAST_RDONLY, &r);

	if (err == -EINVAL || err == -ENOENT || err == -ENODEV)
		open_failed(t, err);
	if (err && !force) {
		if (err == -EPROTO || err == -BCAST_ECORRUPT)
			cli_error("%s: %s; --force to remove anyway",
				  t->loc.path, bcast_strerror(err));
		else if (err == -EACCES || err == -EPERM)
			cli_error("permission denied opening %s to check for a "
				  "live writer; --force skips the check",
				  t->loc.path);
		else
			open_failed(t, err);
		exit(EXIT_FAILURE);
	}
	if (err)
		return -1;
	if (bcast_ring_info(r, &in)) {
		bcast_ring_close(r);
		return -1;
	}
	if (in.writer_alive && !force)
		busy((long)in.writer_pid);
	known = !file_id_of(in.path, &id);	/* the file opened */
	bcast_ring_close(r);
	return known ? count_mappers(&id, 0, &hidden) : -1;
}

int cmd_destroy(int argc, char **argv)
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
	snprintf(where, sizeof(where), "%s", t.loc.path);
	err = bcast_ring_destroy(t.loc.name);
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
