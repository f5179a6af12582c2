// SPDX-License-Identifier: MIT
/*
 * bcast-bench: throughput of one libbcast writer and one reader, against a
 * bare reference ring (tools/refring.h) measured in the same run.
 *
 * One writer thread pinned to one CPU publishes fixed-size messages as fast
 * as it can; one reader thread pinned to another CPU receives them into a
 * buffer.  The figure is messages DELIVERED per second at the reader;
 * messages lost to overruns are counted and reported separately.
 *
 * Backpressure is the same for both rings and lives outside them, in this
 * harness.  With --backpressure wait (the default) the reader hands the
 * writer credits (its message count, every <= 64 messages) and the writer
 * waits while a ring's worth is unread, so the reader always keeps up and
 * nothing is lost: the figure is the lossless throughput.  With
 * --backpressure none the writer never waits, as a bcast writer in
 * production; a reader lapped by it skips ahead (bcast: -BCAST_EOVERRUN,
 * reference: a position check) and what it lost is reported.  On a
 * writer faster than its reader that regime is dominated by laps.
 *
 * Both rings live in the same 2 MiB-aligned anonymous mapping (formatted
 * afresh before each round), use the same capacity, message sizes, number
 * of messages per round and CPUs, and run interleaved: for each size,
 * bcast, reference, bcast, reference, ...  Medians are reported per size
 * with the ratio bcast/reference.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "bcast.h"
#include <linux/bcast.h>
#include "refring.h"

#define PROG "bcast-bench"
#define MAX_SIZES 64
#define HUGE_2M (2UL << 20)
#define MIN_MESSAGES 1000ULL

enum impl { IMPL_BCAST, IMPL_REF, IMPL_COUNT };
enum mode { MODE_RECEIVE, MODE_BATCH, MODE_BULK };

static const char *const impl_name[IMPL_COUNT] = { "bcast", "reference" };
static const char *const mode_name[] = { "receive", "batch", "bulk" };
static const char *const mode_desc[] = {
	"bcast_receive() into a buffer; reference: one acquire load and one copy per message",
	"bcast_batch() + bcast_batch_next() + bcast_msg_read() into a buffer; "
	"reference: one acquire load per batch, one copy per message",
	"bcast_read_bulk() + bcast_bulk_next(); "
	"reference: one acquire load and one window copy per bulk, then a walk",
};

struct options {
	size_t sizes[MAX_SIZES];
	int nsizes;
	int rounds;
	double seconds;
	uint64_t capacity;
	enum mode mode;
	bool json;
	bool verbose;
	uint64_t messages;	/* 0: calibrate per size */
	int wcpu, rcpu;
	bool backpressure;	/* the writer waits for the reader */
	int retries;		/* times a disturbed pair may be run again */
};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try '" PROG " --help')\n");
	exit(2);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double tmp[n > 0 ? n : 1];

	if (n <= 0)
		return 0;
	memcpy(tmp, v, sizeof(double) * (size_t)n);
	qsort(tmp, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void min_max(const double *v, int n, double *lo, double *hi)
{
	int i;

	*lo = *hi = n ? v[0] : 0;
	for (i = 1; i < n; i++) {
		if (v[i] < *lo)
			*lo = v[i];
		if (v[i] > *hi)
			*hi = v[i];
	}
}

static uint64_t frame_total(size_t len)
{
	return BCAST_FRAME_HDR + (((uint64_t)len + 7) & ~7ULL);
}

/*
 * Backpressure: the most messages of `size` bytes that may be unread.  The
 * bcast writer's `claimed` frontier runs up to a chunk (capacity/16) ahead
 * of its position, and a wrap wastes less than a frame, so this many frames
 * never make a reader see an overrun.  The reference uses the same figure.
 */
static uint64_t credit_of(uint64_t cap, size_t size)
{
	uint64_t ft = BCAST_FRAME_HDR + (((uint64_t)size + 7) & ~7ULL);
	uint64_t n = (cap - cap / 16) / ft;

	return n > 2 ? n - 2 : 0;
}

static uint64_t mtu_of(uint64_t cap)
{
	uint64_t mtu = cap / 4 - BCAST_FRAME_HDR;	/* libbcast's default */

	return mtu > BCAST_MAX_MTU ? BCAST_MAX_MTU : mtu;
}

/* ------------------------------------------------------------------ */
/* option parsing                                                       */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTIONS]\n"
"\n"
"Throughput of one libbcast writer thread and one reader thread, each pinned\n"
"to its own CPU, against a bare reference ring (tools/refring.h) run in the\n"
"same process, interleaved round by round: bcast, reference, bcast, ...\n"
"\n"
"The figure is messages delivered per second at the reader; messages lost to\n"
"overruns (the writer lapping the reader) are reported separately, and so\n"
"are rounds disturbed by other load on the two CPUs.\n"
"\n"
"Options:\n"
"  --sizes LIST      message sizes in bytes, comma-separated (default 8,64,255,4096)\n"
"  --rounds N        measured rounds per implementation and size (default 7)\n"
"  --seconds S       target duration of one round (default 0.3); the messages\n"
"                    per round are calibrated per size so that the faster\n"
"                    implementation takes about S seconds\n"
"  --messages N      messages per round instead of calibrating\n"
"  --capacity BYTES  ring data capacity, a power of two >= 4096; suffixes\n"
"                    k, m, g (x1024) accepted (default 1m)\n"
"  --mode MODE       reader API: receive (bcast_receive, the default),\n"
"                    batch (bcast_batch/bcast_msg_read) or bulk (bcast_read_bulk)\n"
"  --backpressure B  wait (default): the writer waits while the reader is a\n"
"                    ring behind, the same harness-side credit for both rings,\n"
"                    so nothing is lost; none: the writer never waits (bcast's\n"
"                    own behaviour) and lapped readers lose messages\n"
"  --retries N       run a (bcast, reference) pair again, up to N times, when\n"
"                    either round was disturbed: a thread got < 97%% of its CPU\n"
"                    or the hypervisor stole > 3%% (default 3; 0: never)\n"
"  --cpus W,R        CPUs of the writer and the reader (default 0,1)\n"
"  --json            print the results as JSON instead of a table\n"
"  -v, --verbose     print every round on stderr\n"
"  -h, --help        show this help\n"
"\n"
"Exit status: 0 on success, 1 if a run failed, 2 on a usage error.\n");
}

/* Parse an unsigned decimal integer, rejecting signs, junk and overflow. */
static bool parse_u64(const char *s, uint64_t *out, char **end)
{
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, end, 10);
	if (errno)
		return false;
	*out = v;
	return true;
}

static uint64_t parse_count(const char *opt, const char *arg, uint64_t lo,
			    uint64_t hi)
{
	uint64_t v;
	char *end;

	if (!parse_u64(arg, &v, &end) || *end)
		usage_error("%s: '%s' is not a whole number", opt, arg);
	if (v < lo || v > hi)
		usage_error("%s: %s is out of range [%" PRIu64 ", %" PRIu64 "]",
			    opt, arg, lo, hi);
	return v;
}

static uint64_t parse_capacity(const char *arg)
{
	uint64_t v, mul = 1;
	char *end;

	if (!parse_u64(arg, &v, &end))
		usage_error("--capacity: '%s' is not a size in bytes", arg);
	if (*end) {
		switch (tolower((unsigned char)*end)) {
		case 'k': mul = 1ULL << 10; break;
		case 'm': mul = 1ULL << 20; break;
		case 'g': mul = 1ULL << 30; break;
		default:
			usage_error("--capacity: '%s' has an unknown suffix "
				    "(use k, m or g)", arg);
		}
		if (end[1] && !((end[1] == 'i' || end[1] == 'I') &&
				(end[2] == 'b' || end[2] == 'B') && !end[3]) &&
		    !((end[1] == 'b' || end[1] == 'B') && !end[2]))
			usage_error("--capacity: '%s' has an unknown suffix "
				    "(use k, m or g)", arg);
		if (v > (1ULL << 30))
			usage_error("--capacity: '%s' is too large (at most 1g)", arg);
		v *= mul;
	}
	if (v < 4096 || v > (1ULL << 30))
		usage_error("--capacity: %s is out of range [4096, 1g]", arg);
	if (v & (v - 1))
		usage_error("--capacity: %s is not a power of two", arg);
	return v;
}

static void parse_sizes(const char *arg, struct options *o)
{
	const char *p = arg;

	o->nsizes = 0;
	if (!*arg)
		usage_error("--sizes: empty list");
	for (;;) {
		uint64_t v;
		char *end;

		if (!parse_u64(p, &v, &end) || (*end && *end != ','))
			usage_error("--sizes: '%s' is not a comma-separated list "
				    "of sizes in bytes", arg);
		if (v < 1 || v > BCAST_MAX_MTU)
			usage_error("--sizes: %" PRIu64 " is out of range [1, %u]",
				    v, BCAST_MAX_MTU);
		if (o->nsizes == MAX_SIZES)
			usage_error("--sizes: more than %d sizes", MAX_SIZES);
		o->sizes[o->nsizes++] = (size_t)v;
		if (!*end)
			break;
		p = end + 1;
	}
}

static void parse_cpus(const char *arg, struct options *o)
{
	uint64_t w, r;
	char *end;

	if (!parse_u64(arg, &w, &end) || *end != ',' ||
	    !parse_u64(end + 1, &r, &end) || *end)
		usage_error("--cpus: '%s' is not two CPU numbers W,R", arg);
	if (w >= CPU_SETSIZE || r >= CPU_SETSIZE)
		usage_error("--cpus: '%s': CPU numbers must be below %d", arg,
			    CPU_SETSIZE);
	if (w == r)
		usage_error("--cpus: '%s': the writer and the reader need two "
			    "different CPUs", arg);
	o->wcpu = (int)w;
	o->rcpu = (int)r;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "messages", required_argument, NULL, 'n' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "backpressure", required_argument, NULL, 'b' },
		{ "retries", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool sizes_given = false;
	cpu_set_t allowed;
	uint64_t mtu;
	int c, i;

	memset(o, 0, sizeof(*o));
	o->sizes[0] = 8;
	o->sizes[1] = 64;
	o->sizes[2] = 255;
	o->sizes[3] = 4096;
	o->nsizes = 4;
	o->rounds = 7;
	o->seconds = 0.3;
	o->capacity = 1ULL << 20;
	o->mode = MODE_RECEIVE;
	o->wcpu = 0;
	o->rcpu = 1;
	o->backpressure = true;
	o->retries = 3;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			parse_sizes(optarg, o);
			sizes_given = true;
			break;
		case 'r':
			o->rounds = (int)parse_count("--rounds", optarg, 1, 1000);
			break;
		case 'S': {
			char *end;

			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (!*optarg || *end || errno || !isfinite(o->seconds) ||
			    isspace((unsigned char)*optarg))
				usage_error("--seconds: '%s' is not a number", optarg);
			if (o->seconds < 0.001 || o->seconds > 3600)
				usage_error("--seconds: %s is out of range "
					    "[0.001, 3600]", optarg);
			break;
		}
		case 'n':
			o->messages = parse_count("--messages", optarg, 1,
						  1000000000000ULL);
			break;
		case 'c':
			o->capacity = parse_capacity(optarg);
			break;
		case 'm':
			for (i = 0; i < 3; i++)
				if (!strcmp(optarg, mode_name[i]))
					break;
			if (i == 3)
				usage_error("--mode: '%s' is not one of receive, "
					    "batch, bulk", optarg);
			o->mode = (enum mode)i;
			break;
		case 'C':
			parse_cpus(optarg, o);
			break;
		case 'R':
			o->retries = (int)parse_count("--retries", optarg, 0, 100);
			break;
		case 'b':
			if (!strcmp(optarg, "none"))
				o->backpressure = false;
			else if (!strcmp(optarg, "wait"))
				o->backpressure = true;
			else
				usage_error("--backpressure: '%s' is not one of "
					    "none, wait", optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			usage_error("option '%s' needs an argument", argv[optind - 1]);
		default: {
			const char *bad = argv[optind - 1];

			if (!strncmp(bad, "--", 2)) {
				size_t n = strcspn(bad, "=");

				if (bad[n])
					usage_error("option '%.*s' takes no argument",
						    (int)n, bad);
				usage_error("unknown option '%s'", bad);
			}
			usage_error("unknown option '-%c'", optopt ? optopt : '?');
		}
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);

	mtu = mtu_of(o->capacity);
	for (i = 0; i < o->nsizes; i++) {
		uint64_t need = 4096;

		if (o->sizes[i] <= mtu)
			continue;
		while (mtu_of(need) < o->sizes[i])
			need <<= 1;
		usage_error("%s: a %zu-byte message does not fit the %" PRIu64
			    "-byte MTU of a %" PRIu64 "-byte ring (the reference "
			    "ring does not fragment); use --capacity %" PRIu64
			    " or more", sizes_given ? "--sizes" : "--capacity",
			    o->sizes[i], mtu, o->capacity, need);
	}

	for (i = 0; o->backpressure && i < o->nsizes; i++)
		if (credit_of(o->capacity, o->sizes[i]) < 1)
			usage_error("--backpressure wait: a %" PRIu64 "-byte ring "
				    "cannot hold a %zu-byte message in flight; "
				    "use a larger --capacity", o->capacity,
				    o->sizes[i]);

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		die("sched_getaffinity: %s", strerror(errno));
	if (!CPU_ISSET(o->wcpu, &allowed) || !CPU_ISSET(o->rcpu, &allowed)) {
		int first = -1, second = -1;

		for (i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &allowed)) {
				if (first < 0)
					first = i;
				else if (second < 0)
					second = i;
			}
		if (second < 0)
			usage_error("--cpus: this process may only run on %d CPU; "
				    "the benchmark needs two", CPU_COUNT(&allowed));
		usage_error("--cpus: CPU %d is not available to this process; "
			    "CPUs %d and %d are",
			    CPU_ISSET(o->wcpu, &allowed) ? o->rcpu : o->wcpu,
			    first, second);
	}
}

/* ------------------------------------------------------------------ */
/* the ring memory                                                      */

struct memory {
	unsigned char *base;	/* 2 MiB aligned */
	size_t len;		/* BCAST_HDR_SIZE + capacity */
	size_t map_len;		/* rounded up to 2 MiB */
	unsigned char *raw;
	size_t raw_len;
	long huge_kb;		/* AnonHugePages of the mapping, -1 unknown */
};

static long anon_huge_kb(const void *addr)
{
	unsigned long lo, hi, want = (unsigned long)(uintptr_t)addr;
	char line[512];
	bool in = false;
	long kb = -1, v;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') &&
		    isxdigit((unsigned char)line[0])) {
			in = want >= lo && want < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &v) == 1) {
			kb = v;
			break;
		}
	}
	fclose(f);
	return kb;
}

static void memory_init(struct memory *m, uint64_t cap)
{
	uintptr_t a;

	m->len = BCAST_HDR_SIZE + cap;
	m->map_len = (m->len + HUGE_2M - 1) & ~(HUGE_2M - 1);
	m->raw_len = m->map_len + HUGE_2M;
	m->raw = mmap(NULL, m->raw_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->raw == MAP_FAILED)
		die("mmap of %zu bytes: %s", m->raw_len, strerror(errno));
	a = ((uintptr_t)m->raw + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1);
	m->base = (unsigned char *)a;
#ifdef MADV_HUGEPAGE
	madvise(m->base, m->map_len, MADV_HUGEPAGE);
#endif
	memset(m->base, 0, m->map_len);	/* fault everything in now */
	m->huge_kb = anon_huge_kb(m->base);
}

/* ------------------------------------------------------------------ */
/* one round                                                            */

/* What disturbed a thread during its timed run. */
struct usage {
	long ivcsw;		/* involuntary context switches */
	double cpu;		/* CPU seconds the thread got */
};

static void usage_mark(struct usage *u)
{
	struct rusage ru;
	struct timespec ts;

	getrusage(RUSAGE_THREAD, &ru);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	u->ivcsw = ru.ru_nivcsw;
	u->cpu = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage_since(struct usage *u)
{
	struct usage now;

	usage_mark(&now);
	u->ivcsw = now.ivcsw - u->ivcsw;
	u->cpu = now.cpu - u->cpu;
}

struct control {
	_Alignas(128) int writer_ready;
	_Alignas(128) int go;
	_Alignas(128) int done;
	_Alignas(128) uint64_t read_count;	/* backpressure: messages consumed */
	_Alignas(128) char end_pad;
};

/*
 * One round, shared by the two threads.  What each thread writes while it
 * runs sits on lines of its own (128 bytes: a line and its prefetch buddy),
 * away from what the other reads: the reference ring's writer and reader
 * state live here, and false sharing would slow it down, not bcast.
 */
struct round {
	/* set up by run_round(), read-only while the threads run */
	enum impl impl;
	enum mode mode;
	size_t size;
	uint64_t messages;	/* 0: run for `seconds` */
	double seconds;
	uint64_t credit;	/* backpressure: most messages in flight, 0: none */
	uint64_t credit_every;	/* the reader returns credit this often */
	int wcpu, rcpu;
	const unsigned char *src;
	unsigned char *buf;	/* >= mtu bytes */
	unsigned char *bulk;
	size_t bulk_cap;
	size_t buf_cap;
	struct bcast_writer *bw;
	struct bcast_reader *br;
	struct control *ctl;

	/* the writer's */
	_Alignas(128) struct ref_writer rw;
	uint64_t written;
	double wsecs;
	struct usage wu;	/* interference seen by the writer */
	int werr;		/* first unexpected error, 0 if none */

	/* the reader's */
	_Alignas(128) struct ref_reader rr;
	uint64_t delivered;
	uint64_t delivered_bytes;
	uint64_t overruns;	/* bcast: -BCAST_EOVERRUN returns; ref: laps */
	uint64_t sink;
	double rsecs;
	struct usage ru;	/* interference seen by the reader */
	int rerr;
	const char *rerr_where;
	_Alignas(128) char end_pad;
};

static void pin_self(int cpu, const char *who)
{
	cpu_set_t set;
	int err;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		die("cannot pin the %s thread to CPU %d: %s", who, cpu,
		    strerror(err));
	if (sched_getcpu() != cpu)
		sched_yield();
}

/* Backpressure: wait until fewer than `credit` messages are unread. */
static __attribute__((noinline)) uint64_t wait_credit(struct control *ctl,
						      uint64_t written,
						      uint64_t credit)
{
	uint64_t seen;

	while (written - (seen = __atomic_load_n(&ctl->read_count,
						 __ATOMIC_ACQUIRE)) >= credit)
		cpu_relax();
	return seen;
}

static void *writer_main(void *arg)
{
	struct round *rd = arg;
	struct control *ctl = rd->ctl;
	const unsigned char *src = rd->src;
	size_t size = rd->size;
	uint64_t i = 0, n = rd->messages, credit = rd->credit, seen = 0;
	double t0, t1, deadline = 0;

	pin_self(rd->wcpu, "writer");
	__atomic_store_n(&ctl->writer_ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE))
		cpu_relax();
	usage_mark(&rd->wu);
	t0 = now_s();
	if (!n) {
		deadline = t0 + rd->seconds;
		n = UINT64_MAX;
	}
	if (rd->impl == IMPL_BCAST) {
		struct bcast_writer *w = rd->bw;

		while (i < n) {
			uint64_t stop = n - i < 256 ? n : i + 256;

			for (; i < stop; i++) {
				int err;

				if (credit && i - seen >= credit)
					seen = wait_credit(ctl, i, credit);
				err = bcast_publish(w, src, size, 1);

				if (err) {
					rd->werr = err;
					goto out;
				}
			}
			if (deadline && now_s() >= deadline)
				break;
		}
	} else {
		struct ref_writer *w = &rd->rw;

		while (i < n) {
			uint64_t stop = n - i < 256 ? n : i + 256;

			for (; i < stop; i++) {
				if (credit && i - seen >= credit)
					seen = wait_credit(ctl, i, credit);
				ref_publish(w, src, (uint32_t)size, 1);
			}
			if (deadline && now_s() >= deadline)
				break;
		}
	}
out:
	t1 = now_s();
	usage_since(&rd->wu);
	rd->written = i;
	rd->wsecs = t1 - t0;
	__atomic_store_n(&ctl->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct sink_ctx {
	uint64_t delivered;
	uint64_t bytes;
	uint64_t sink;
	uint64_t credit_mask;	/* return credit every mask + 1 messages */
	uint64_t *read_count;	/* NULL without backpressure */
};

static inline void return_credit(struct sink_ctx *s)
{
	if (s->read_count)
		__atomic_store_n(s->read_count, s->delivered, __ATOMIC_RELEASE);
}

/* What the reader does with each message it got: count it and touch it. */
static __attribute__((noinline)) void deliver(void *ctx, const unsigned char *p,
					      uint32_t len)
{
	struct sink_ctx *s = ctx;

	s->delivered++;
	s->bytes += len;
	if (len)
		s->sink += p[0] ^ p[len - 1];
	if (!(s->delivered & s->credit_mask))
		return_credit(s);
}

static void reader_bcast(struct round *rd, struct sink_ctx *s)
{
	struct bcast_reader *r = rd->br;
	struct control *ctl = rd->ctl;
	ref_deliver_fn fn = deliver;
	bool done = false;

	for (;;) {
		ssize_t got;

		if (rd->mode == MODE_RECEIVE) {
			got = bcast_receive(r, rd->buf, rd->buf_cap, NULL);
			if (got >= 0) {
				fn(s, rd->buf, (uint32_t)got);
				continue;
			}
		} else if (rd->mode == MODE_BATCH) {
			struct bcast_batch b;
			struct bcast_msg m;
			int k;

			got = bcast_batch(r, &b);
			if (!got) {
				while ((k = bcast_batch_next(&b, &m)) == 1) {
					ssize_t len = bcast_msg_read(&m, rd->buf,
								     rd->buf_cap);

					if (len >= 0)
						fn(s, rd->buf, (uint32_t)len);
					else if (len == -BCAST_EOVERRUN)
						rd->overruns++;
					else {
						rd->rerr = (int)len;
						rd->rerr_where = "bcast_msg_read";
						return;
					}
				}
				if (!k)
					continue;
				got = k;
			}
		} else {
			struct bcast_bulk bulk;
			struct bcast_msg m;
			int k;

			got = bcast_read_bulk(r, rd->bulk, rd->bulk_cap, &bulk);
			if (got > 0) {
				while ((k = bcast_bulk_next(&bulk, &m)) == 1)
					fn(s, bcast_msg_peek(&m), m.len);
				if (!k)
					continue;
				got = k;
			}
		}
		if (got == -EAGAIN) {
			return_credit(s);
			if (done)
				return;
			done = __atomic_load_n(&ctl->done, __ATOMIC_ACQUIRE);
			cpu_relax();
		} else if (got == -BCAST_EOVERRUN) {
			rd->overruns++;
			if (rd->credit)
				die("bcast reader overrun despite backpressure "
				    "(credit %" PRIu64 " messages of %zu B)",
				    rd->credit, rd->size);
		} else {
			rd->rerr = (int)got;
			rd->rerr_where = rd->mode == MODE_RECEIVE ? "bcast_receive" :
					 rd->mode == MODE_BATCH ? "bcast_batch" :
					 "bcast_read_bulk";
			return;
		}
	}
}

static void reader_ref(struct round *rd, struct sink_ctx *s)
{
	struct ref_reader *r = &rd->rr;
	struct control *ctl = rd->ctl;
	ref_deliver_fn fn = deliver;
	bool done = false;

	for (;;) {
		long got;

		if (rd->mode == MODE_RECEIVE) {
			got = ref_receive(r, rd->buf);
			if (got >= 0) {
				fn(s, rd->buf, (uint32_t)got);
				continue;
			}
		} else if (rd->mode == MODE_BATCH) {
			got = ref_batch(r, rd->buf, fn, s);
			if (got >= 0)
				continue;
		} else {
			got = ref_bulk(r, rd->bulk, rd->bulk_cap, fn, s);
			if (got >= 0)
				continue;
		}
		if (got == REF_EAGAIN) {
			return_credit(s);
			if (done)
				return;
			done = __atomic_load_n(&ctl->done, __ATOMIC_ACQUIRE);
			cpu_relax();
		}
		/* REF_ELAPPED: counted in r->laps */
		if (got == REF_ELAPPED && rd->credit)
			die("reference reader lapped despite backpressure");
	}
}

static void *reader_main(void *arg)
{
	struct round *rd = arg;
	struct control *ctl = rd->ctl;
	struct sink_ctx s = { 0, 0, 0, rd->credit_every - 1,
			      rd->credit ? &ctl->read_count : NULL };
	double t0, t1;

	pin_self(rd->rcpu, "reader");
	while (!__atomic_load_n(&ctl->writer_ready, __ATOMIC_ACQUIRE))
		cpu_relax();
	usage_mark(&rd->ru);
	t0 = now_s();
	__atomic_store_n(&ctl->go, 1, __ATOMIC_RELEASE);
	if (rd->impl == IMPL_BCAST)
		reader_bcast(rd, &s);
	else
		reader_ref(rd, &s);
	t1 = now_s();
	usage_since(&rd->ru);
	rd->rsecs = t1 - t0;
	rd->delivered = s.delivered;
	rd->delivered_bytes = s.bytes;
	rd->sink = s.sink;
	if (rd->impl == IMPL_REF)
		rd->overruns = rd->rr.laps;
	return NULL;
}

struct bench {
	struct options *o;
	struct memory mem;
	uint64_t mtu;
	unsigned char *src;
	unsigned char *buf;
	unsigned char *bulk;
	size_t bulk_cap;
	uint64_t sink;
};

struct result {
	double rate;		/* delivered msgs/s at the reader */
	double gbps;		/* delivered payload GB/s (1e9 bytes) */
	double wrate;		/* written msgs/s at the writer */
	uint64_t written, delivered, overruns, lost;
	uint64_t lib_overruns, lib_lost;	/* bcast_reader_stats */
	double secs;
	long ivcsw;		/* involuntary context switches, both threads */
	double cpu_share;	/* lowest CPU time / wall time of the two */
	long steal;		/* hypervisor steal on the two CPUs, ticks */
};

/*
 * A round some other load on the machine got in the way of: a thread had
 * the CPU for less than 97% of the round (preempted by another task), or
 * the hypervisor stole more than 3% of it from the two CPUs.  A few
 * involuntary context switches alone (kernel work) do not count.
 */
static bool disturbed(const struct result *r)
{
	double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);

	return r->cpu_share < 0.97 ||
	       (double)r->steal * tick > 0.03 * 2 * r->secs;
}

/* Steal time of one CPU from /proc/stat (USER_HZ ticks), -1 if unknown. */
static long steal_ticks(int cpu)
{
	char line[512], want[32];
	long v[8];
	FILE *f = fopen("/proc/stat", "re");
	long steal = -1;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		if (sscanf(line + strlen(want), "%ld %ld %ld %ld %ld %ld %ld %ld",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) == 8)
			steal = v[7];
		break;
	}
	fclose(f);
	return steal;
}

static void run_round(struct bench *b, enum impl impl, size_t size,
		      uint64_t messages, struct result *res)
{
	struct options *o = b->o;
	struct control *ctl;
	struct bcast_ring *ring = NULL;
	struct bcast_reader_stats st;
	struct round rd;
	pthread_t wt, rt;
	long steal0, steal1;
	int err;

	ctl = aligned_alloc(128, sizeof(*ctl));
	if (!ctl)
		die("out of memory");
	memset(ctl, 0, sizeof(*ctl));
	memset(&rd, 0, sizeof(rd));
	rd.impl = impl;
	rd.mode = o->mode;
	rd.size = size;
	rd.messages = messages;
	rd.seconds = o->seconds;
	rd.wcpu = o->wcpu;
	rd.rcpu = o->rcpu;
	rd.src = b->src;
	rd.buf = b->buf;
	rd.buf_cap = b->mtu;
	rd.bulk = b->bulk;
	rd.bulk_cap = b->bulk_cap;
	rd.ctl = ctl;
	if (o->backpressure) {
		rd.credit = credit_of(o->capacity, size);
		rd.credit_every = 1;
		while (rd.credit_every * 2 <= 64 &&
		       rd.credit_every * 2 <= rd.credit / 4)
			rd.credit_every *= 2;
	} else {
		rd.credit_every = 1ULL << 62;
	}

	if (impl == IMPL_BCAST) {
		struct bcast_ring_opts ro = { .size = o->capacity };

		err = bcast_ring_format(b->mem.base, b->mem.len, &ro, &ring);
		if (err)
			die("bcast_ring_format: %s", bcast_strerror(err));
		err = bcast_writer_open(ring, &rd.bw);
		if (err)
			die("bcast_writer_open: %s", bcast_strerror(err));
		err = bcast_reader_open(ring, BCAST_FROM_OLDEST, &rd.br);
		if (err)
			die("bcast_reader_open: %s", bcast_strerror(err));
	} else {
		ref_ring_format(&rd.rw.r, b->mem.base, o->capacity,
				(uint32_t)b->mtu);
		rd.rr.r = rd.rw.r;
	}

	steal0 = steal_ticks(o->wcpu) + steal_ticks(o->rcpu);
	err = pthread_create(&rt, NULL, reader_main, &rd);
	if (err)
		die("pthread_create: %s", strerror(err));
	err = pthread_create(&wt, NULL, writer_main, &rd);
	if (err)
		die("pthread_create: %s", strerror(err));
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	steal1 = steal_ticks(o->wcpu) + steal_ticks(o->rcpu);

	if (rd.werr)
		die("%s writer: bcast_publish: %s", impl_name[impl],
		    bcast_strerror(rd.werr));
	if (rd.rerr)
		die("%s reader: %s: %s", impl_name[impl], rd.rerr_where,
		    bcast_strerror(rd.rerr));

	memset(res, 0, sizeof(*res));
	if (impl == IMPL_BCAST) {
		bcast_reader_stats(rd.br, &st);
		res->lib_overruns = st.overruns;
		res->lib_lost = st.lost_messages;
		bcast_reader_close(rd.br);
		bcast_writer_close(rd.bw);
		bcast_ring_close(ring);
	}
	res->written = rd.written;
	res->delivered = rd.delivered;
	res->overruns = rd.overruns;
	res->lost = rd.written > rd.delivered ? rd.written - rd.delivered : 0;
	res->secs = rd.rsecs;
	res->rate = rd.rsecs > 0 ? (double)rd.delivered / rd.rsecs : 0;
	res->gbps = rd.rsecs > 0 ? (double)rd.delivered_bytes / rd.rsecs / 1e9 : 0;
	res->wrate = rd.wsecs > 0 ? (double)rd.written / rd.wsecs : 0;
	res->ivcsw = rd.wu.ivcsw + rd.ru.ivcsw;
	res->cpu_share = fmin(rd.wsecs > 0 ? rd.wu.cpu / rd.wsecs : 1,
			      rd.rsecs > 0 ? rd.ru.cpu / rd.rsecs : 1);
	res->steal = steal0 >= 0 && steal1 >= 0 ? steal1 - steal0 : 0;
	b->sink += rd.sink;
	if (rd.delivered > rd.written)
		die("%s: the reader delivered %" PRIu64 " messages of %" PRIu64
		    " written", impl_name[impl], rd.delivered, rd.written);
	free(ctl);
}

/* ------------------------------------------------------------------ */
/* reporting                                                            */

struct size_report {
	size_t size;
	uint64_t messages;
	struct result *r[IMPL_COUNT];	/* [rounds] */
	double med_rate[IMPL_COUNT], med_gbps[IMPL_COUNT];
	double lo[IMPL_COUNT], hi[IMPL_COUNT];
	uint64_t lost[IMPL_COUNT], overruns[IMPL_COUNT], written[IMPL_COUNT];
	double ratio, paired;
	int retries;		/* disturbed pairs run again */
};

static void summarise(struct size_report *sr, int rounds)
{
	double rate[rounds], gbps[rounds], pr[rounds];
	int k, i;

	for (k = 0; k < IMPL_COUNT; k++) {
		sr->lost[k] = sr->overruns[k] = sr->written[k] = 0;
		for (i = 0; i < rounds; i++) {
			rate[i] = sr->r[k][i].rate;
			gbps[i] = sr->r[k][i].gbps;
			sr->lost[k] += sr->r[k][i].lost;
			sr->overruns[k] += sr->r[k][i].overruns;
			sr->written[k] += sr->r[k][i].written;
		}
		sr->med_rate[k] = median(rate, rounds);
		sr->med_gbps[k] = median(gbps, rounds);
		min_max(rate, rounds, &sr->lo[k], &sr->hi[k]);
	}
	for (i = 0; i < rounds; i++)
		pr[i] = sr->r[IMPL_REF][i].rate > 0 ?
			sr->r[IMPL_BCAST][i].rate / sr->r[IMPL_REF][i].rate : 0;
	sr->ratio = sr->med_rate[IMPL_REF] > 0 ?
		    sr->med_rate[IMPL_BCAST] / sr->med_rate[IMPL_REF] : 0;
	sr->paired = median(pr, rounds);
}

static void print_preamble(const struct bench *b)
{
	const struct options *o = b->o;

	printf(PROG ": 1 writer (CPU %d) -> 1 reader (CPU %d), mode %s\n",
	       o->wcpu, o->rcpu, mode_name[o->mode]);
	printf("  reader:       %s\n", mode_desc[o->mode]);
	printf("  ring:         capacity %" PRIu64 " B, MTU %" PRIu64
	       " B; both rings in the same 2 MiB-aligned anonymous mapping",
	       o->capacity, b->mtu);
	if (b->mem.huge_kb >= 0)
		printf(" (%ld of %zu kB in huge pages)\n", b->mem.huge_kb,
		       b->mem.map_len / 1024);
	else
		printf("\n");
	if (o->backpressure)
		printf("  backpressure: the same for both rings, outside them: the "
		       "writer waits while\n"
		       "                the reader is a ring behind (credits "
		       "returned every <= 64 messages),\n"
		       "                so nothing is lost\n");
	else
		printf("  backpressure: none for either ring: the writer never "
		       "waits; a lapped reader\n"
		       "                skips ahead (bcast: -BCAST_EOVERRUN, "
		       "reference: position check)\n");
	printf("  figure:       messages DELIVERED per second at the reader "
	       "(GB/s = payload 1e9 B/s);\n"
	       "                messages lost to overruns are counted "
	       "separately\n");
	printf("  reference:    tools/refring.h: SPSC, same frame layout and "
	       "padding, release/acquire\n"
	       "                committed, reader copies out, no validation, "
	       "noinline like a library call\n");
	printf("  rounds:       %d x (bcast, reference) interleaved per size, ",
	       o->rounds);
	if (o->messages)
		printf("%" PRIu64 " messages each\n", o->messages);
	else
		printf("messages per round calibrated\n"
		       "                so the faster side takes ~%.2f s\n",
		       o->seconds);
	if (o->retries)
		printf("                a pair disturbed by other load is run "
		       "again, up to %d times\n", o->retries);
	printf("\n");
}

static void print_table(const struct bench *b, struct size_report *sr, int n)
{
	const struct options *o = b->o;
	bool any_loss = false;
	int i, total_disturbed = 0;

	printf("  size   msgs/round |  bcast Mmsg/s [min..max]   GB/s |"
	       "    ref Mmsg/s [min..max]   GB/s |  ratio  paired\n");
	printf("  ----  ----------- | ------------------------------- |"
	       " ------------------------------- | ------  ------\n");
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];

		printf("  %4zu  %11" PRIu64 " | %7.2f [%6.2f..%6.2f] %6.3f |"
		       " %7.2f [%6.2f..%6.2f] %6.3f | %5.3fx %5.3fx\n",
		       s->size, s->messages,
		       s->med_rate[IMPL_BCAST] / 1e6, s->lo[IMPL_BCAST] / 1e6,
		       s->hi[IMPL_BCAST] / 1e6, s->med_gbps[IMPL_BCAST],
		       s->med_rate[IMPL_REF] / 1e6, s->lo[IMPL_REF] / 1e6,
		       s->hi[IMPL_REF] / 1e6, s->med_gbps[IMPL_REF],
		       s->ratio, s->paired);
	}
	printf("\n  ratio = median bcast / median reference; paired = median "
	       "of per-round ratios\n");
	printf("\n  losses over the %d measured rounds (lost = written - "
	       "delivered):\n", o->rounds);
	printf("  size |   bcast lost  overruns  (lib: lost  overruns) |"
	       "  ref lost      laps\n");
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];
		uint64_t lib_lost = 0, lib_ovr = 0;
		int k;

		for (k = 0; k < o->rounds; k++) {
			lib_lost += s->r[IMPL_BCAST][k].lib_lost;
			lib_ovr += s->r[IMPL_BCAST][k].lib_overruns;
		}
		if (s->lost[IMPL_BCAST] || s->lost[IMPL_REF])
			any_loss = true;
		printf("  %4zu | %12" PRIu64 " %9" PRIu64 "  (%10" PRIu64
		       " %9" PRIu64 ") | %9" PRIu64 " %9" PRIu64 "\n",
		       s->size, s->lost[IMPL_BCAST], s->overruns[IMPL_BCAST],
		       lib_lost, lib_ovr, s->lost[IMPL_REF], s->overruns[IMPL_REF]);
	}
	if (any_loss)
		printf("  (losses mean the reader could not keep up with the "
		       "writer for part of a round)\n");

	printf("\n  interference: rounds disturbed by other load (a thread had "
	       "< 97%% of the CPU, or\n  hypervisor steal > 3%% on CPUs %d,%d); "
	       "ivcsw = involuntary context switches:\n", o->wcpu, o->rcpu);
	printf("  size | bcast disturbed  ivcsw min-cpu |   ref disturbed  "
	       "ivcsw min-cpu | pairs rerun\n");
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];
		int k;

		printf("  %4zu |", s->size);
		for (k = 0; k < IMPL_COUNT; k++) {
			long sw = 0;
			double lo = 1;
			int d = 0, j;

			for (j = 0; j < o->rounds; j++) {
				const struct result *r = &s->r[k][j];

				d += disturbed(r);
				sw += r->ivcsw;
				if (r->cpu_share < lo)
					lo = r->cpu_share;
			}
			total_disturbed += d;
			printf(" %8d/%-6d %6ld %6.0f%% |", d, o->rounds, sw,
			       100 * lo);
		}
		printf(" %5d\n", s->retries);
	}
	if (total_disturbed)
		printf("  warning: %d of %d rounds were disturbed: other "
		       "processes or the hypervisor\n  shared these CPUs, so "
		       "the figures are less reliable than they look\n",
		       total_disturbed, 2 * o->rounds * n);
	for (i = 0; i < n; i++)
		if (sr[i].size == 64)
			printf("\n  target: bcast >= 0.90x reference at 64 B: "
			       "%.3fx -> %s\n", sr[i].ratio,
			       sr[i].ratio >= 0.9 ? "met" : "NOT met");
}

static void json_result(const struct result *r)
{
	printf("{\"msgs_per_s\": %.1f, \"gb_per_s\": %.6f, "
	       "\"writer_msgs_per_s\": %.1f, \"seconds\": %.6f, "
	       "\"written\": %" PRIu64 ", \"delivered\": %" PRIu64 ", "
	       "\"lost\": %" PRIu64 ", \"overruns\": %" PRIu64,
	       r->rate, r->gbps, r->wrate, r->secs, r->written, r->delivered,
	       r->lost, r->overruns);
	printf(", \"ivcsw\": %ld, \"cpu_share\": %.4f, \"steal_ticks\": %ld, "
	       "\"disturbed\": %s", r->ivcsw, r->cpu_share, r->steal,
	       disturbed(r) ? "true" : "false");
}

static void print_json(const struct bench *b, struct size_report *sr, int n)
{
	const struct options *o = b->o;
	int i, k, j;

	printf("{\n  \"tool\": \"" PROG "\",\n");
	printf("  \"mode\": \"%s\",\n", mode_name[o->mode]);
	printf("  \"capacity\": %" PRIu64 ",\n  \"mtu\": %" PRIu64 ",\n",
	       o->capacity, b->mtu);
	printf("  \"rounds\": %d,\n  \"seconds\": %g,\n", o->rounds, o->seconds);
	printf("  \"messages\": %" PRIu64 ",\n", o->messages);
	printf("  \"writer_cpu\": %d,\n  \"reader_cpu\": %d,\n", o->wcpu, o->rcpu);
	printf("  \"huge_kb\": %ld,\n  \"map_kb\": %zu,\n", b->mem.huge_kb,
	       b->mem.map_len / 1024);
	printf("  \"backpressure\": \"%s\",\n", o->backpressure ? "wait" : "none");
	printf("  \"retries\": %d,\n", o->retries);
	printf("  \"figure\": \"delivered messages per second at the reader\",\n");
	printf("  \"results\": [\n");
	for (i = 0; i < n; i++) {
		struct size_report *s = &sr[i];

		printf("    {\"size\": %zu, \"messages_per_round\": %" PRIu64 ",\n",
		       s->size, s->messages);
		for (k = 0; k < IMPL_COUNT; k++) {
			printf("     \"%s\": {\"median_msgs_per_s\": %.1f, "
			       "\"median_gb_per_s\": %.6f, \"min_msgs_per_s\": %.1f, "
			       "\"max_msgs_per_s\": %.1f, \"lost\": %" PRIu64
			       ", \"overruns\": %" PRIu64 ",\n      \"rounds\": [",
			       impl_name[k], s->med_rate[k], s->med_gbps[k],
			       s->lo[k], s->hi[k], s->lost[k], s->overruns[k]);
			for (j = 0; j < o->rounds; j++) {
				printf(j ? ",\n        " : "\n        ");
				json_result(&s->r[k][j]);
				if (k == IMPL_BCAST)
					printf(", \"lib_lost\": %" PRIu64
					       ", \"lib_overruns\": %" PRIu64,
					       s->r[k][j].lib_lost,
					       s->r[k][j].lib_overruns);
				printf("}");
			}
			printf("]},\n");
		}
		printf("     \"ratio_of_medians\": %.4f, \"median_paired_ratio\": %.4f, "
		       "\"pairs_rerun\": %d}%s\n",
		       s->ratio, s->paired, s->retries, i + 1 < n ? "," : "");
	}
	printf("  ]\n}\n");
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct options o;
	struct bench b;
	struct size_report *sr;
	size_t maxsize = 0;
	int i, k, j;

	parse_options(argc, argv, &o);
	memset(&b, 0, sizeof(b));
	b.o = &o;
	b.mtu = mtu_of(o.capacity);
	memory_init(&b.mem, o.capacity);
	for (i = 0; i < o.nsizes; i++)
		if (o.sizes[i] > maxsize)
			maxsize = o.sizes[i];
	b.src = aligned_alloc(128, (maxsize + 127) & ~(size_t)127);
	b.buf = aligned_alloc(128, (b.mtu + 127) & ~(uint64_t)127);
	b.bulk_cap = 65536;
	if (b.bulk_cap < 2 * frame_total(maxsize))
		b.bulk_cap = (size_t)(2 * frame_total(maxsize) + 127) & ~(size_t)127;
	b.bulk = aligned_alloc(128, b.bulk_cap);
	if (!b.src || !b.buf || !b.bulk)
		die("out of memory");
	for (i = 0; i < (int)maxsize; i++)
		b.src[i] = (unsigned char)(i * 131 + 7);
	memset(b.buf, 0, b.mtu);
	memset(b.bulk, 0, b.bulk_cap);

	sr = calloc((size_t)o.nsizes, sizeof(*sr));
	if (!sr)
		die("out of memory");
	if (!o.json)
		print_preamble(&b);
	fflush(stdout);

	for (i = 0; i < o.nsizes; i++) {
		struct size_report *s = &sr[i];
		struct result warm[IMPL_COUNT];

		s->size = o.sizes[i];
		for (k = 0; k < IMPL_COUNT; k++) {
			s->r[k] = calloc((size_t)o.rounds, sizeof(struct result));
			if (!s->r[k])
				die("out of memory");
		}
		/* Warm-up (time-based), which also calibrates the count. */
		for (k = 0; k < IMPL_COUNT; k++)
			run_round(&b, (enum impl)k, s->size, o.messages, &warm[k]);
		if (o.messages) {
			s->messages = o.messages;
		} else {
			double best = 0;

			for (k = 0; k < IMPL_COUNT; k++) {
				double r = warm[k].secs > 0 ?
					   (double)warm[k].written / warm[k].secs : 0;
				if (r > best)
					best = r;
			}
			s->messages = (uint64_t)(best * o.seconds);
			if (s->messages < MIN_MESSAGES)
				s->messages = MIN_MESSAGES;
		}
		if (o.verbose)
			fprintf(stderr, "size %zu: %" PRIu64 " messages per round\n",
				s->size, s->messages);
		for (j = 0; j < o.rounds; j++) {
			int attempt = 0;

		again:
			for (k = 0; k < IMPL_COUNT; k++) {
				struct result *r = &s->r[k][j];

				run_round(&b, (enum impl)k, s->size, s->messages, r);
				if (o.verbose)
					fprintf(stderr, "size %zu round %d %-9s "
						"%8.3f Mmsg/s %7.3f GB/s  writer "
						"%8.3f Mmsg/s  lost %" PRIu64
						" overruns %" PRIu64 "  %.3f s"
						"  ivcsw %ld cpu %.0f%% steal %ld\n",
						s->size, j + 1, impl_name[k],
						r->rate / 1e6, r->gbps,
						r->wrate / 1e6, r->lost,
						r->overruns, r->secs, r->ivcsw,
						100 * r->cpu_share, r->steal);
			}
			/* Run a disturbed pair again, a few times at most. */
			if ((disturbed(&s->r[IMPL_BCAST][j]) ||
			     disturbed(&s->r[IMPL_REF][j])) && attempt < o.retries) {
				attempt++;
				s->retries++;
				goto again;
			}
		}
		summarise(s, o.rounds);
	}

	if (o.json)
		print_json(&b, sr, o.nsizes);
	else
		print_table(&b, sr, o.nsizes);
	if (b.sink == 0x5eed5eed5eedULL)	/* keep the payload reads alive */
		fprintf(stderr, "\n");
	return 0;
}
