// SPDX-License-Identifier: MIT
/* What the command-line tools share; see cli.h. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bcast.h"
#include "cli.h"

const char *cli_prog = "bcast";
volatile sig_atomic_t cli_stop_requested;

static void cli_verror(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", cli_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(fmt, ap);
	va_end(ap);
}

void cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help'.\n", cli_prog);
	exit(EXIT_USAGE);
}

bool cli_parse_u64(const char *s, bool binary, uint64_t *out)
{
	uint64_t unit = binary ? 1024 : 1000, mult = 1, v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K': mult = unit; end++; break;
	case 'm': case 'M': mult = unit * unit; end++; break;
	case 'g': case 'G': mult = unit * unit * unit; end++; break;
	default: break;
	}
	if (*end || (v && mult > UINT64_MAX / v))
		return false;
	*out = v * mult;
	return true;
}

uint64_t cli_number(const char *opt, const char *arg, bool binary,
		    uint64_t lo, uint64_t hi)
{
	uint64_t v;

	if (!cli_parse_u64(arg, binary, &v))
		cli_usage_error("%s: '%s' is not a number%s", opt, arg,
				binary ? " (suffixes K, M, G)" :
					 " (suffixes k, m, g)");
	if (v < lo || v > hi)
		cli_usage_error("%s: %s is out of range [%llu, %llu]", opt, arg,
				(unsigned long long)lo,
				(unsigned long long)hi);
	return v;
}

int cli_cpu(const char *opt, const char *arg)
{
	int cpu = (int)cli_number(opt, arg, false, 0, CPU_SETSIZE - 1);
	cpu_set_t allowed;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
	    !CPU_ISSET(cpu, &allowed))
		cli_usage_error("%s: CPU %d is not one this process may use "
				"(see nproc, taskset -p %d)", opt, cpu,
				(int)getpid());
	return cpu;
}

void cli_pin(const char *opt, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		cli_usage_error("%s: cannot run on CPU %d: %s", opt, cpu,
				strerror(errno));
}

double cli_seconds(const char *opt, const char *arg)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = arg && *arg ? strtod(arg, &end) : -1;
	if (!arg || !*arg || errno || *end || !(v >= 0 && v <= 1e9))
		cli_usage_error("%s: '%s' is not a number of seconds in [0, 1e9]",
				opt, arg ? arg : "");
	return v;
}

void cli_common_option(int c, char **argv, int optind_now)
{
	if (c == 'V') {
		printf("%s %s\n", cli_prog, bcast_version());
		exit(0);
	}
	if (c == ':')
		cli_usage_error("option '%s' needs a value", argv[optind_now - 1]);
	cli_usage_error("unknown option '%s'", argv[optind_now - 1]);
}

const char *cli_ring_name(int argc, char **argv, int optind_now)
{
	if (optind_now == argc)
		cli_usage_error("missing ring NAME");
	if (optind_now + 1 < argc)
		cli_usage_error("one ring NAME expected, got '%s' too",
				argv[optind_now + 1]);
	return argv[optind_now];
}

static void cli_on_stop_signal(int sig)
{
	(void)sig;
	cli_stop_requested = 1;
}

void cli_catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
