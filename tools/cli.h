/* SPDX-License-Identifier: MIT */
/*
 * What the command-line tools share: number parsing with unit suffixes,
 * error messages that name the program, a monotonic clock, JSON strings,
 * and the layout of the synthetic timestamped messages bcast-pub generates
 * and bcast-sub / bcast-bench measure.
 */
#ifndef BCAST_TOOLS_CLI_H
#define BCAST_TOOLS_CLI_H

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bcast.h"

/* Exit codes every tool documents. */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_NORING	3	/* the ring does not exist / cannot be opened */
#define EXIT_BUSY	4	/* another writer holds the ring */

static const char *cli_prog = "bcast";

static inline void cli_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void cli_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print a usage error and a hint, exit EXIT_USAGE. */
static inline void cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static inline void cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", cli_prog);
	exit(EXIT_USAGE);
}

/*
 * "4096", "64K", "2M", "1G" (powers of 1024 when `binary`, else of 1000:
 * rates and counts read "100k" as 100,000).  The whole string must parse.
 */
static inline bool cli_parse_u64(const char *s, bool binary, uint64_t *out)
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

/* Parse option `opt`'s argument within [lo, hi] or exit with a usage error. */
static inline uint64_t cli_number(const char *opt, const char *arg,
				  bool binary, uint64_t lo, uint64_t hi)
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

/* --cpu N: run on that CPU only (a usage error names it if it is not one
 * this process may use). */
static inline int cli_cpu(const char *opt, const char *arg)
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

static inline void cli_pin(const char *opt, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		cli_usage_error("%s: cannot run on CPU %d: %s", opt, cpu,
				strerror(errno));
}

static inline uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A JSON string literal, escaped. */
static inline void cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/*
 * Synthetic messages (bcast-pub --rate/--size/--count, make demo): this
 * header, then filler up to the requested size.  `sent_ns` is
 * CLOCK_MONOTONIC, comparable between processes of one machine (and its
 * containers), so a subscriber's receive time minus it is the one-way
 * latency.  Messages of this type carry it.
 */
#define SYNTH_TYPE	0x53594e54u	/* "SYNT" */
#define SYNTH_MAGIC	0x62637374u	/* "bcst" */

struct synth_hdr {
	uint32_t magic;
	uint32_t size;		/* whole message, header included */
	uint64_t seq;		/* 0, 1, 2, ... per publisher run */
	uint64_t sent_ns;
};

/*
 * A duration in seconds, fractions allowed ("0.5", "10"), within [0, 1e9],
 * or a usage error naming the option.
 */
static inline double cli_seconds(const char *opt, const char *arg)
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

/*
 * What getopt_long() returned that every tool answers the same way:
 * 'V' (--version), ':' (a missing value) and anything unknown.  Exits.
 */
static inline void cli_common_option(int c, char **argv, int optind_now)
	__attribute__((noreturn));
static inline void cli_common_option(int c, char **argv, int optind_now)
{
	if (c == 'V') {
		printf("%s %d.%d\n", cli_prog, BCAST_VERSION_MAJOR,
		       BCAST_VERSION_MINOR);
		exit(0);
	}
	if (c == ':')
		cli_usage_error("option '%s' needs a value", argv[optind_now - 1]);
	cli_usage_error("unknown option '%s'", argv[optind_now - 1]);
}

/* The one ring NAME left after the options. */
static inline const char *cli_ring_name(int argc, char **argv, int optind_now)
{
	if (optind_now == argc)
		cli_usage_error("missing ring NAME");
	if (optind_now + 1 < argc)
		cli_usage_error("one ring NAME expected, got '%s' too",
				argv[optind_now + 1]);
	return argv[optind_now];
}

/* Set once SIGINT or SIGTERM came, after cli_catch_stop_signals(). */
static volatile sig_atomic_t cli_stop_requested;

static inline void cli_on_stop_signal(int sig)
{
	(void)sig;
	cli_stop_requested = 1;
}

/*
 * SIGINT and SIGTERM ask the tool to stop cleanly.  No SA_RESTART: a
 * blocked read(), sleep or futex wait returns at once with EINTR.
 */
static inline void cli_catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Spinning politely: the sibling hyperthread gets the core meanwhile. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif /* BCAST_TOOLS_CLI_H */
