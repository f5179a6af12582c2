// SPDX-License-Identifier: MIT
/* bcastctl create: a new, empty ring. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bcastctl.h"

#define DEFAULT_SIZE	(1ULL << 20)

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
"      --reader-slots N  slots in the reader registry, 0 to 65536 (default\n"
"                        1024 on shm and file rings, 16 on bcast.ko rings)\n"
"      --gated           lossless: the writer never overwrites what a\n"
"                        registered reader has not read (it waits instead)\n"
"      --evict-bytes BYTES  gated: stop waiting for a reader this far behind\n"
"                        (suffixes K, M, G; it loses what it skipped, and\n"
"                        is told exactly how much)\n"
"      --evict-ms MS     gated: stop waiting for a reader that has held the\n"
"                        writer up this long\n"
"      --device          NAME must be a bcast.ko ring (fail if not loaded)\n"
"      --json            print the new ring as JSON\n"
"  -h, --help            this help\n"
"\n"
"bcast.ko rings need CAP_SYS_ADMIN or membership of the module's ctl_gid.\n"
"Exit status: 0 created, 1 error (it exists, permission, no memory),\n"
"2 bad command line.\n";

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
		{ "reader-slots", required_argument, NULL, OPT_READER_SLOTS },
		{ "gated", no_argument, NULL, OPT_GATED },
		{ "evict-bytes", required_argument, NULL, OPT_EVICT_BYTES },
		{ "evict-ms", required_argument, NULL, OPT_EVICT_MS },
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
		case OPT_READER_SLOTS:
			a->o.flags |= BCAST_READER_SLOTS;
			a->o.reader_slots = (unsigned)cli_number(
				"--reader-slots", optarg, false, 0,
				BCAST_MAX_READER_SLOTS);
			break;
		case OPT_GATED: a->o.flags |= BCAST_GATED; break;
		case OPT_EVICT_BYTES:
			a->o.flags |= BCAST_EVICT;
			a->o.evict_bytes = cli_number("--evict-bytes", optarg,
						      true, 1, BCAST_MAX_CAPACITY);
			break;
		case OPT_EVICT_MS:
			a->o.flags |= BCAST_EVICT;
			a->o.evict_ms = (unsigned)cli_number("--evict-ms", optarg,
							     false, 1, INT32_MAX);
			break;
		case OPT_DEVICE: a->device = true; break;
		case OPT_JSON: json_out = true; break;
		case 'h': help(usage_create);
		default: bad_option(c, argv);
		}
	}
	a->name = one_name(argc, argv);
	if ((a->o.flags & BCAST_EVICT) && !(a->o.flags & BCAST_GATED))
		cli_usage_error("--evict-bytes and --evict-ms are for gated rings "
				"(add --gated)");
	if ((a->o.flags & BCAST_GATED) && (a->o.flags & BCAST_READER_SLOTS) &&
	    !a->o.reader_slots)
		cli_usage_error("--gated needs reader slots (--reader-slots 1 or "
				"more)");
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
	struct bcast_ring_location now;
	char p1[32], p2[32];

	switch (-err) {
	case EEXIST:
		/* A device ring's node: the one it has now. */
		if (dev && !bcast_ring_locate(t->loc.name, &now) && now.path[0])
			cli_error("ring '%s' already exists (%s)", t->arg,
				  now.path);
		else
			cli_error("ring '%s' already exists (%s)", t->arg,
				  dev ? "bcast.ko" : t->loc.path);
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
				  (a->o.flags & BCAST_HUGEPAGE) &&
				  t->loc.alt_path[0] ? t->loc.alt_path :
				  t->loc.path);
		break;
	case EOPNOTSUPP:
		cli_error("cannot create ring '%s': bcast.ko has a reader "
			  "registry only with 4 KiB pages, so neither --gated "
			  "nor --reader-slots here (use shm:%s or file:PATH)",
			  t->arg, t->arg);
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
				  "file system", t->loc.path);
		break;
	default:
		if (err == -ENOENT && !dev) {
			cli_error("cannot create %s: its directory does not "
				  "exist", t->loc.path);
			break;
		}
		cli_error("cannot create ring '%s'%s%s%s: %s", t->arg,
			  dev ? "" : " (", dev ? "" : t->loc.path,
			  dev ? "" : ")",
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
		 stat(in->path, &st) ? (unsigned)a->o.mode :
		 (unsigned)(st.st_mode & 07777));
	if (json_out) {
		json_start(&j, 0);
		json_object(&j);
		json_member_string(&j, "name", t->arg);
		json_member_string(&j, "backend", in->backend);
		json_member_string(&j, "path", in->path);
		json_member_u64(&j, "capacity", in->capacity);
		json_member_u64(&j, "mtu", in->mtu);
		json_member_u64(&j, "map_size", in->map_size);
		json_member_bool(&j, "hugepage", in->hugepage);
		json_member_string(&j, "mode", mode);
		json_member_u64(&j, "metadata_len", in->metadata_len);
		json_member_u64(&j, "reader_slots", in->reader_slots);
		json_member_bool(&j, "gated", in->gated);
		json_member_u64(&j, "evict_bytes", in->evict_bytes);
		json_member_u64(&j, "evict_ms", in->evict_ms);
		json_object_end(&j);
		return json_finish(&j);
	}
	printf("created %s%s ring '%s' at %s: %s, mtu %zu, %s pages, mode %s, "
	       "%u reader slots\n", in->gated ? "gated " : "",
	       in->backend, t->arg, in->path,
	       fmt_size(in->capacity, sz, sizeof(sz)), in->mtu,
	       in->hugepage ? "huge" : "normal", mode, in->reader_slots);
	if ((a->o.flags & BCAST_HUGEPAGE) && !in->hugepage)
		printf("note: huge pages were asked for but are not available "
		       "(%s); normal pages are used\n",
		       t->kind == K_DEVICE ? "bcast.ko found no free 2 MiB pages "
		       "or its hugepage parameter is off" :
		       "no writable hugetlbfs mount with free huge pages");
	return EXIT_SUCCESS;
}

int cmd_create(int argc, char **argv)
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
	err = bcast_ring_create(t.loc.name, &a.o, &r);
	if (err)
		create_failed(&t, &a, err);
	/* in.path: where the ring went (its node; hugetlbfs or /dev/shm) */
	err = bcast_ring_info(r, &in);
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
