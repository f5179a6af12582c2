/* SPDX-License-Identifier: MIT */
/*
 * What the command-line tools share: number parsing with unit suffixes,
 * error messages that name the program, a monotonic clock, stop signals,
 * and the layout of the synthetic timestamped messages bcast-pub generates
 * and bcast-sub / bcast-bench measure.
 *
 * cli.c holds the state (the program's name, the stop flag) once per
 * program: tools made of several files share it.
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

/* The name error messages start with ("bcast" until a tool sets it). */
extern const char *cli_prog;

/* "PROG: message" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a usage error and a hint, exit EXIT_USAGE. */
void cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/*
 * "4096", "64K", "2M", "1G" (powers of 1024 when `binary`, else of 1000:
 * rates and counts read "100k" as 100,000).  The whole string must parse.
 */
bool cli_parse_u64(const char *s, bool binary, uint64_t *out);

/* Parse option `opt`'s argument within [lo, hi] or exit with a usage error. */
uint64_t cli_number(const char *opt, const char *arg, bool binary,
		    uint64_t lo, uint64_t hi);

/* --cpu N: run on that CPU only (a usage error names it if it is not one
 * this process may use). */
int cli_cpu(const char *opt, const char *arg);
void cli_pin(const char *opt, int cpu);

/*
 * A duration in seconds, fractions allowed ("0.5", "10"), within [0, 1e9],
 * or a usage error naming the option.
 */
double cli_seconds(const char *opt, const char *arg);

/*
 * What getopt_long() returned that every tool answers the same way:
 * 'V' (--version), ':' (a missing value) and anything unknown.  Exits.
 */
void cli_common_option(int c, char **argv, int optind_now)
	__attribute__((noreturn));

/* The one ring NAME left after the options. */
const char *cli_ring_name(int argc, char **argv, int optind_now);

/* Set once SIGINT or SIGTERM came, after cli_catch_stop_signals(). */
extern volatile sig_atomic_t cli_stop_requested;

/*
 * SIGINT and SIGTERM ask the tool to stop cleanly.  No SA_RESTART: a
 * blocked read(), sleep or futex wait returns at once with EINTR.
 */
void cli_catch_stop_signals(void);

/* In line: the subscriber and the benchmarks take the time per message. */
static inline uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

#endif /* BCAST_TOOLS_CLI_H */
