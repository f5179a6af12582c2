// SPDX-License-Identifier: MIT
/* bcastctl: the commands, the help, --version. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcastctl.h"

bool json_out;
static char prog_buf[64];

static const char usage_main[] =
"Usage: bcastctl [--json] COMMAND [OPTIONS] [NAME]\n"
"       bcastctl --help | --version\n"
"\n"
"Create, remove, list and inspect bcast rings: bcast.ko devices, POSIX\n"
"shared memory and files.\n"
"\n"
"Commands:\n"
"  create NAME    create a ring (--size, --hugepage, --mtu, --mode, --metadata,\n"
"                 --reader-slots, --gated, --evict-bytes, --evict-ms)\n"
"  destroy NAME   remove a ring; refused while its writer is alive (--force)\n"
"  list           every ring: bcast.ko devices, /dev/shm, hugetlbfs mounts\n"
"  info NAME      geometry, positions, writer, metadata and readers\n"
"  stat NAME      positions, byte rate, writer and readers, refreshed\n"
"                 (--interval SECONDS, --count N, --readers)\n"
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
"\n"
"Before the command:\n"
"      --version  print the version\n"
"\n"
"Exit status: 0 ok, 1 error, 2 bad command line, 3 no such ring,\n"
"4 ring busy (a live writer holds it).\n";

/* Per command: "bcastctl create: ..." and "Try 'bcastctl create --help'". */
static void set_prog(const char *cmd)
{
	snprintf(prog_buf, sizeof(prog_buf), "bcastctl %s", cmd);
	cli_prog = prog_buf;
}

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
			printf("bcastctl %s (ring ABI %d)\n", bcast_version(),
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
