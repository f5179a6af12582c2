// SPDX-License-Identifier: MIT
/*
 * Option parsing every command does alike: getopt errors, the one NAME,
 * help, and the options info and stat share.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcastctl.h"

void bad_option(int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		cli_usage_error("option '%s' needs a value", opt);
	if (optopt && optopt < 0x100 && strncmp(opt, "--", 2))
		cli_usage_error("unknown option '-%c'", optopt);
	cli_usage_error("unknown option '%s'", opt);
}

const char *one_name(int argc, char **argv)
{
	if (optind >= argc)
		cli_usage_error("missing NAME");
	if (optind + 1 < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	return argv[optind];
}

void help(const char *text)
{
	fputs(text, stdout);
	exit(EXIT_SUCCESS);
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

void watch_parse(int argc, char **argv, struct watch_args *a, bool is_stat,
		 const char *usage)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "device", no_argument, NULL, OPT_DEVICE },
		{ "readers", no_argument, NULL, OPT_READERS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->interval = 1.0;
	/* info takes only the last four */
	while ((c = getopt_long(argc, argv, is_stat ? ":hi:c:" : ":h",
				is_stat ? opts : opts + 2, NULL)) != -1) {
		switch (c) {
		case 'i': a->interval = parse_interval(optarg); break;
		case 'c':
			a->count = cli_number("--count", optarg, false, 1,
					      UINT64_MAX);
			break;
		case OPT_DEVICE: a->device = true; break;
		case OPT_READERS: a->readers = true; break;
		case OPT_JSON: json_out = true; break;
		case 'h': help(usage);
		default: bad_option(c, argv);
		}
	}
	a->name = one_name(argc, argv);
}
