// SPDX-License-Identifier: MIT
/*
 * bcast-bench: libbcast against what a user would otherwise pick, measured
 * in one run, interleaved: a bare reference ring, a pipe, a Unix-domain
 * socket and ZeroMQ PUB/SUB.  Throughput, one-way latency of a paced
 * writer, the wake-up latency of a blocked reader, and the writer's own
 * when it wakes sleepers (notify.c); every figure with its ratio to the
 * baselines and the project's targets judged at the end.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bcast.h"
#include <linux/bcast.h>
#include "cli.h"
#include "bench.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTIONS]\n"
"\n"
"Measures libbcast against a bare reference ring (tools/bench/refring.h), a\n"
"pipe, a Unix-domain socket and ZeroMQ PUB/SUB over ipc://, all in the same\n"
"run, interleaved round by round, and prints every figure with its ratio to\n"
"the baselines, then the targets met or missed.\n"
"\n"
"  throughput  one writer thread and one reader thread pinned to two CPUs;\n"
"              messages delivered per second at the reader (and \"gated\":\n"
"              bcast_receive() from a BCAST_GATED ring, the reader\n"
"              registered, the ring itself holding the writer back)\n"
"  latency     a paced writer stamps each message; the reader (spinning on\n"
"              the rings, blocked in the kernel on the channels, and bcast\n"
"              once more blocked in bcast_wait) takes receive time - stamp\n"
"  wakeup      the reader sleeps; the writer publishes one message and the\n"
"              time until the reader runs again is measured: bcast_wait and\n"
"              a bcast_poller over many rings on shm, against a raw futex;\n"
"              on device rings bcast_wait, the reader's file in poll() and\n"
"              in io_uring (POLL_ADD; bcast.ko's URING_WAIT on 6.7+) and a\n"
"              poller, against an eventfd (read, io_uring POLL_ADD); a\n"
"              pipe and a socket for context\n"
"  fanout      one writer and 1..N reader threads (--readers), every one\n"
"              getting every message: the slowest reader's messages per\n"
"              second, beside pipes, sockets and ZeroMQ with as many readers\n"
"  instructions  instructions per message of publish and of each read\n"
"              style beside the reference ring's, counted by valgrind's\n"
"              callgrind (skipped without valgrind); --sizes applies\n"
"  notify      the writer's latency: how long bcast_publish() takes when it\n"
"              wakes readers asleep in bcast_wait(), with each mode of\n"
"              bcast_writer_set_notify() (sync, io_uring, sqpoll), on a shm\n"
"              ring and, when bcast.ko is loaded, a device ring\n"
"  bridge      ring -> bcast-bridge -> NATS -> bcast-bridge -> ring through\n"
"              a nats-server it starts on 127.0.0.1, batching and not,\n"
"              beside a nats.c publisher -> subscriber: msgs/s at 64 B and\n"
"              4 KiB (--messages: per round), latency at --rate/--size\n"
"              (--samples); needs nats-server and bcast-bridge\n"
"\n"
"Options:\n"
"  --tests LIST      what to run: throughput,fanout,latency,wakeup,\n"
"                    instructions,notify,bridge (default: all but bridge)\n"
"  --baselines LIST  kernel channels to compare with: pipe,unix,zeromq or\n"
"                    none (default: all that are built)\n"
"  --cpus W,R        CPUs of the writer and the reader (default 0,1)\n"
"  --rounds N        rounds per implementation (default 7)\n"
"  --json            print the results as one JSON object instead\n"
"  --plot FILE.png   draw the latency distributions and throughput bars\n"
"                    with gnuplot\n"
"  -v, --verbose     print every round on stderr\n"
"  -h, --help        show this help\n"
"  -V, --version     the version\n"
"\n"
"Throughput:\n"
"  --sizes LIST      message sizes in bytes (default 8,64,255,4096)\n"
"  --seconds S       target duration of one round (default 0.3); messages per\n"
"                    round are calibrated per size and implementation\n"
"  --messages N      messages per round instead of calibrating\n"
"  --capacity BYTES  ring data capacity, a power of two >= 4096; suffixes\n"
"                    K, M, G (default 1M)\n"
"  --mode LIST       bcast reader APIs to measure: receive, batch, bulk\n"
"                    (default: all three)\n"
"  --backpressure B  wait: the harness holds each ring's writer back while\n"
"                    the reader is a ring behind, so nothing is lost; none:\n"
"                    the writer never waits; both (default): every API\n"
"                    both ways.  The floor every ratio is taken against is\n"
"                    the reference ring held back (ref-held)\n"
"  --bulk-window B   bytes each bcast_read_bulk() copies at most (default\n"
"                    64K; at least two frames of the largest --sizes)\n"
"  --retries N       run a disturbed (bcast, reference) pair again, up to N\n"
"                    times (default 3)\n"
"  --settle S        before each round, while a cache line takes over twice\n"
"                    as long as the fastest seen to go between the two CPUs\n"
"                    and back (a shared host moved them apart), wait for it,\n"
"                    up to S seconds in all per size (default 60; 0: never)\n"
"Fan-out:\n"
"  --readers N       1..N reader threads, all on the reader CPU, every one\n"
"                    getting every message (default 3, at most 16); the\n"
"                    figure is the slowest reader's messages per second\n"
"Latency (and fan-out):\n"
"  --rate N          paced messages per second (default 20k)\n"
"  --samples N       messages per implementation and round (default 5000)\n"
"  --size BYTES      message size (default 64)\n"
"Wake-up:\n"
"  --wakeups N       wake-ups per implementation and round (default 300)\n"
"  --gap US          the reader sleeps this long before each (default 300);\n"
"                    device rings are measured too when /dev/bcast-ctl exists\n"
"  --poller-rings N  rings of each kind in a poller row (default 1024;\n"
"                    device rings need bcast.ko's max_rings above that)\n"
"  --poller-no-uring the pollers sleep in epoll (BCAST_POLLER_NO_URING)\n"
"Writer latency (notify):\n"
"  --sleepers N      reader processes asleep on the reader CPU (default 2,\n"
"                    at most 16)\n"
"  --publishes N     timed publishes per mode and round (default 500)\n"
"  --notify-gap US   between two publishes, for the readers to fall asleep\n"
"                    again (default 200)\n"
"\n"
"Exit status: 0 on success (targets missed included), 1 if a measurement\n"
"failed, 2 on a usage error.\n");
}

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

static void parse_sizes(const char *arg, struct options *o)
{
	const char *p = arg;

	o->nsizes = 0;
	if (!*arg)
		cli_usage_error("--sizes: empty list");
	for (;;) {
		uint64_t v;
		char *end;

		if (!parse_u64(p, &v, &end) || (*end && *end != ','))
			cli_usage_error("--sizes: '%s' is not a comma-separated "
					"list of sizes in bytes", arg);
		if (v < 1 || v > BCAST_MAX_MTU)
			cli_usage_error("--sizes: %" PRIu64 " is out of range "
					"[1, %u]", v, BCAST_MAX_MTU);
		if (o->nsizes == MAX_SIZES)
			cli_usage_error("--sizes: more than %d sizes", MAX_SIZES);
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
		cli_usage_error("--cpus: '%s' is not two CPU numbers W,R", arg);
	if (w >= CPU_SETSIZE || r >= CPU_SETSIZE)
		cli_usage_error("--cpus: '%s': CPU numbers must be below %d",
				arg, CPU_SETSIZE);
	if (w == r)
		cli_usage_error("--cpus: '%s': the writer and the reader need "
				"two different CPUs", arg);
	o->wcpu = (int)w;
	o->rcpu = (int)r;
}

/* A comma-separated list of names out of `names`; returns a bit mask. */
static unsigned parse_list(const char *opt, const char *arg,
			   const char *const *names, int n, int first)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	unsigned mask = 0;
	int i;

	if (!copy)
		die("out of memory");
	if (!strcmp(arg, "none")) {
		free(copy);
		return 0;
	}
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = first; i < n; i++)
			if (!strcmp(tok, names[i]))
				break;
		if (i == n)
			cli_usage_error("%s: '%s' is not one of the accepted "
					"names (see --help)", opt, tok);
		mask |= 1u << i;
	}
	free(copy);
	if (!mask)
		cli_usage_error("%s: empty list", opt);
	return mask;
}

static double parse_seconds(const char *opt, const char *arg, double lo,
			    double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (!*arg || *end || errno || !isfinite(v) || isspace((unsigned char)*arg))
		cli_usage_error("%s: '%s' is not a number", opt, arg);
	if (v < lo || v > hi)
		cli_usage_error("%s: %s is out of range [%g, %g]", opt, arg, lo,
				hi);
	return v;
}

static void check_cpus(const struct options *o)
{
	cpu_set_t allowed;
	int i, first = -1, second = -1;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		die("sched_getaffinity: %s", strerror(errno));
	if (CPU_ISSET(o->wcpu, &allowed) && CPU_ISSET(o->rcpu, &allowed))
		return;
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &allowed)) {
			if (first < 0)
				first = i;
			else if (second < 0)
				second = i;
		}
	if (second < 0)
		cli_usage_error("--cpus: this process may only run on %d CPU; "
				"the benchmark needs two", CPU_COUNT(&allowed));
	cli_usage_error("--cpus: CPU %d is not available to this process; "
			"CPUs %d and %d are",
			CPU_ISSET(o->wcpu, &allowed) ? o->rcpu : o->wcpu,
			first, second);
}

static void check_sizes(const struct options *o, bool sizes_given)
{
	uint64_t mtu = mtu_of(o->capacity);
	int i;

	for (i = 0; i < o->nsizes; i++) {
		uint64_t need = 4096;

		if (o->sizes[i] <= mtu)
			continue;
		while (mtu_of(need) < o->sizes[i])
			need <<= 1;
		cli_usage_error("%s: a %zu-byte message does not fit the %" PRIu64
				"-byte MTU of a %" PRIu64 "-byte ring (the "
				"reference ring does not fragment); use "
				"--capacity %" PRIu64 " or more",
				sizes_given ? "--sizes" : "--capacity",
				o->sizes[i], mtu, o->capacity, need);
	}
}

static void set_defaults(struct options *o)
{
	int k;
	const char *why;

	memset(o, 0, sizeof(*o));
	o->tests = TEST_THROUGHPUT | TEST_FANOUT | TEST_LATENCY | TEST_WAKEUP |
		   TEST_INSTRUCTIONS | TEST_NOTIFY;
	o->readers = 3;
	o->impls = (1u << IMPL_BCAST) | (1u << IMPL_REF);
	for (k = IMPL_PIPE; k < IMPL_COUNT; k++)
		if (channel_available((enum impl)k, &why))
			o->impls |= 1u << k;
	o->sizes[0] = 8;
	o->sizes[1] = 64;
	o->sizes[2] = 255;
	o->sizes[3] = 4096;
	o->nsizes = 4;
	o->rounds = 7;
	o->seconds = 0.3;
	o->capacity = 1ULL << 20;
	o->modes = 0x7;
	o->regimes = REGIME_HELD | REGIME_FREE;
	o->wcpu = 0;
	o->rcpu = 1;
	o->retries = 3;
	o->settle = 60;
	o->bulk_window = 65536;
	o->lat_rate = 20000;
	o->lat_samples = 5000;
	o->lat_size = 64;
	o->wakeups = 300;
	o->wake_gap_us = 300;
	o->poller_rings = 1024;
	o->sleepers = 2;
	o->notify_publishes = 500;
	o->notify_gap_us = 200;
}

enum {
	OPT_TESTS = 256, OPT_BASELINES, OPT_PLOT, OPT_RATE, OPT_SAMPLES,
	OPT_SIZE, OPT_WAKEUPS, OPT_GAP, OPT_POLLER_RINGS, OPT_POLLER_NO_URING, OPT_READERS, OPT_WINDOW, OPT_SETTLE,
	OPT_SLEEPERS, OPT_PUBLISHES, OPT_NOTIFY_GAP,
};

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
		{ "settle", required_argument, NULL, OPT_SETTLE },
		{ "tests", required_argument, NULL, OPT_TESTS },
		{ "baselines", required_argument, NULL, OPT_BASELINES },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "samples", required_argument, NULL, OPT_SAMPLES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "wakeups", required_argument, NULL, OPT_WAKEUPS },
		{ "gap", required_argument, NULL, OPT_GAP },
		{ "poller-rings", required_argument, NULL, OPT_POLLER_RINGS },
		{ "poller-no-uring", no_argument, NULL, OPT_POLLER_NO_URING },
		{ "readers", required_argument, NULL, OPT_READERS },
		{ "bulk-window", required_argument, NULL, OPT_WINDOW },
		{ "sleepers", required_argument, NULL, OPT_SLEEPERS },
		{ "publishes", required_argument, NULL, OPT_PUBLISHES },
		{ "notify-gap", required_argument, NULL, OPT_NOTIFY_GAP },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const test_names[] = { "throughput", "latency",
						  "wakeup", "fanout",
						  "instructions", "notify", "bridge" };
	bool sizes_given = false;
	const char *why;
	int c, k;

	set_defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			parse_sizes(optarg, o);
			sizes_given = true;
			break;
		case 'r':
			o->rounds = (int)cli_number("--rounds", optarg, false, 1, 1000);
			break;
		case 'S':
			o->seconds = parse_seconds("--seconds", optarg, 0.001, 3600);
			break;
		case 'n':
			o->messages = cli_number("--messages", optarg, false, 1,
						 1000000000000ULL);
			break;
		case 'c':
			o->capacity = cli_number("--capacity", optarg, true, 4096,
						 1ULL << 30);
			if (o->capacity & (o->capacity - 1))
				cli_usage_error("--capacity: %s is not a power "
						"of two", optarg);
			break;
		case 'm':
			o->modes = parse_list("--mode", optarg, mode_name, 3, 0);
			if (!o->modes)
				cli_usage_error("--mode: name at least one of "
						"receive, batch, bulk");
			break;
		case 'C':
			parse_cpus(optarg, o);
			break;
		case 'R':
			o->retries = (int)cli_number("--retries", optarg, false, 0, 100);
			break;
		case OPT_SETTLE:
			o->settle = parse_seconds("--settle", optarg, 0, 3600);
			break;
		case 'b':
			if (!strcmp(optarg, "wait"))
				o->regimes = REGIME_HELD;
			else if (!strcmp(optarg, "none"))
				o->regimes = REGIME_FREE;
			else if (!strcmp(optarg, "both"))
				o->regimes = REGIME_HELD | REGIME_FREE;
			else
				cli_usage_error("--backpressure: '%s' is not one "
						"of wait, none, both", optarg);
			break;
		case OPT_TESTS:
			o->tests = parse_list("--tests", optarg, test_names, 7, 0);
			break;
		case OPT_BASELINES:
			o->impls = (1u << IMPL_BCAST) | (1u << IMPL_REF) |
				   parse_list("--baselines", optarg, impl_name,
					      IMPL_COUNT, IMPL_PIPE);
			for (k = IMPL_PIPE; k < IMPL_COUNT; k++)
				if ((o->impls & (1u << k)) &&
				    !channel_available((enum impl)k, &why))
					cli_usage_error("--baselines: %s is %s",
							impl_name[k], why);
			break;
		case OPT_PLOT:
			o->plot = optarg;
			break;
		case OPT_RATE:
			o->lat_rate = cli_number("--rate", optarg, false, 1, 10000000);
			break;
		case OPT_SAMPLES:
			o->lat_samples = cli_number("--samples", optarg, false, 10,
						    100000000);
			break;
		case OPT_SIZE:
			o->lat_size = cli_number("--size", optarg, true,
						 sizeof(uint64_t), 65536);
			break;
		case OPT_WAKEUPS:
			o->wakeups = cli_number("--wakeups", optarg, false, 1,
						10000000);
			break;
		case OPT_WINDOW:
			o->bulk_window = cli_number("--bulk-window", optarg, true,
						    64, 1ULL << 30);
			break;
		case OPT_READERS:
			o->readers = (int)cli_number("--readers", optarg, false, 1,
						     CHANNEL_MAX_READERS);
			break;
		case OPT_GAP:
			o->wake_gap_us = parse_seconds("--gap", optarg, 10, 1e6);
			break;
		case OPT_POLLER_NO_URING:
			o->poller_flags |= BCAST_POLLER_NO_URING;
			break;
		case OPT_POLLER_RINGS:
			o->poller_rings = (int)cli_number("--poller-rings", optarg,
							  false, 1, 65536);
			break;
		case OPT_SLEEPERS:
			o->sleepers = (int)cli_number("--sleepers", optarg, false,
						      1, CHANNEL_MAX_READERS);
			break;
		case OPT_PUBLISHES:
			o->notify_publishes = cli_number("--publishes", optarg,
							 false, 1, 10000000);
			break;
		case OPT_NOTIFY_GAP:
			o->notify_gap_us = parse_seconds("--notify-gap", optarg,
							 10, 1e6);
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
		case 'V':
			printf("bcast-bench %s\n", bcast_version());
			exit(0);
		case ':':
			cli_usage_error("option '%s' needs an argument",
					argv[optind - 1]);
		default:
			cli_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->tests & TEST_THROUGHPUT)
		check_sizes(o, sizes_given);
	if (o->lat_size > mtu_of(o->capacity))
		cli_usage_error("--size: %zu bytes do not fit the MTU of a "
				"%" PRIu64 "-byte ring", o->lat_size, o->capacity);
	check_cpus(o);
}

/* ------------------------------------------------------------------ */
/* verdicts                                                             */

struct verdict {
	const char *what;
	double value, limit;
	bool at_most;		/* value must be <= limit, else >= */
	bool measured;
};

static int collect_verdicts(const struct options *o, struct figures *fig,
			    struct verdict *v)
{
	int n = 0, i;

	/* Per-round ratios of columns that ran back to back, under the same
	 * load: what compares them when the machine's speed swings. */
	for (i = 0; i < fig->ntp; i++)
		v[n++] = (struct verdict){ fig->tp[i].what, fig->tp[i].value,
			fig->tp[i].limit, false, fig->tp[i].value > 0 };
	for (i = 0; i < fig->nsizes; i++) {
		if (fig->sizes[i] != 64)
			continue;
		v[n++] = (struct verdict){ "  64 B receive-held / Unix socket",
			fig->rate[i][IMPL_UNIX] > 0 ?
			fig->rate[i][IMPL_BCAST] / fig->rate[i][IMPL_UNIX] : 0,
			20, false, fig->rate[i][IMPL_UNIX] > 0 };
	}
	if (fig->fan_readers) {
		v[n++] = (struct verdict){ "fan-out writer rate, N readers / none",
			fig->fan_writer_ratio, 0.95, false,
			fig->fan_writer_ratio > 0 };
		v[n++] = (struct verdict){ "fan-out slowest reader / lone (CPU-s)",
			fig->fan_reader_ratio, 0.9, false,
			fig->fan_reader_ratio > 0 };
	}
	if (fig->lat_done) {
		double ref = samples_pct(&fig->lat[IMPL_REF], 50);

		v[n++] = (struct verdict){ "spinning latency p50 / reference",
			ref > 0 ? samples_pct(&fig->lat[IMPL_BCAST], 50) / ref : 0,
			1.0, true, ref > 0 };
	}
	for (i = 0; fig->icount_done && i < fig->icount_sizes; i++) {
		static char what[MAX_SIZES][48];

		snprintf(what[i], sizeof(what[i]),
			 "%4zu B publish instructions / reference",
			 fig->sizes[i] ? fig->sizes[i] : o->sizes[i]);
		v[n++] = (struct verdict){ what[i], fig->icount_publish_ratio[i],
			1.1, true, fig->icount_publish_ratio[i] > 0 };
	}
	if (fig->wake_done)
		v[n++] = (struct verdict){ "shm wake-up p50 / raw futex",
			fig->wake_paired[WAKE_BCAST_SHM], 1.1, true,
			fig->wake_paired[WAKE_BCAST_SHM] > 0 };
	if (fig->wake_dev_done)
		v[n++] = (struct verdict){ "device wake-up p50 / eventfd",
			fig->wake_paired[WAKE_BCAST_DEV], 1.1, true,
			fig->wake_paired[WAKE_BCAST_DEV] > 0 };
	(void)o;
	return n;
}

static bool verdict_met(const struct verdict *v)
{
	return v->at_most ? v->value <= v->limit : v->value >= v->limit;
}

static void print_verdicts(struct verdict *v, int n)
{
	int i;

	if (!n)
		return;
	printf("targets:\n");
	for (i = 0; i < n; i++) {
		if (!v[i].measured) {
			printf("  %-40s not measured\n", v[i].what);
			continue;
		}
		printf("  %-40s %8.3fx  (target %s %.2fx)  %s\n", v[i].what,
		       v[i].value, v[i].at_most ? "<=" : ">=", v[i].limit,
		       verdict_met(&v[i]) ? "met" : "NOT met");
	}
}

static void json_verdicts(struct json *j, struct verdict *v, int n)
{
	int i;

	json_key(j, "targets");
	json_array(j);
	for (i = 0; i < n; i++) {
		json_object(j);
		json_member_string(j, "what", v[i].what);
		json_member_double(j, "value", v[i].value, 4);
		json_member_double(j, "limit", v[i].limit, 2);
		json_member_string(j, "compare", v[i].at_most ? "<=" : ">=");
		json_member_bool(j, "measured", v[i].measured);
		json_member_bool(j, "met", v[i].measured && verdict_met(&v[i]));
		json_object_end(j);
	}
	json_array_end(j);
}

int main(int argc, char **argv)
{
	struct options o;
	struct figures fig;
	struct verdict v[8 + MAX_TP_VERDICTS + MAX_SIZES];
	struct json json;
	int n, k, err;

	cli_prog = PROG;
	/* One phase of the instruction counts, run under callgrind. */
	if (argc == 4 && !strcmp(argv[1], "--icount-phase"))
		return icount_child(argv[2], (size_t)strtoull(argv[3], NULL, 10));
	parse_options(argc, argv, &o);
	memset(&fig, 0, sizeof(fig));
	/* A member a line: the figures are for reading too. */
	json_begin(&json, stdout, JSON_SPACED, JSON_MAX_DEPTH);
	if (o.json) {
		json_object(&json);
		json_member_string(&json, "tool", PROG);
	}
	if (o.tests & TEST_THROUGHPUT)
		throughput_run(&o, &fig, &json);
	fflush(stdout);
	if (o.tests & TEST_FANOUT)
		fanout_run(&o, &fig, &json);
	fflush(stdout);
	if (o.tests & TEST_LATENCY)
		latency_run(&o, &fig, &json);
	fflush(stdout);
	if (o.tests & TEST_WAKEUP)
		wakeup_run(&o, &fig, &json);
	fflush(stdout);
	if (o.tests & TEST_INSTRUCTIONS)
		instructions_run(&o, &fig, &json);
	fflush(stdout);
	if (o.tests & TEST_NOTIFY)
		notify_run(&o, &json);
	fflush(stdout);
	if (o.tests & TEST_BRIDGE)
		bridge_run(&o, &json);
	n = collect_verdicts(&o, &fig, v);
	if (o.json) {
		json_verdicts(&json, v, n);
		json_object_end(&json);
		err = json_end_flush(&json);
		if (err) {
			cli_error("writing JSON to stdout: %s", strerror(-err));
			return 1;
		}
	} else {
		print_verdicts(v, n);
	}
	fflush(stdout);
	if (o.plot && plot_write(&o, &fig))
		return 1;
	for (k = 0; k < IMPL_COUNT; k++)
		samples_free(&fig.lat[k]);
	samples_free(&fig.lat_bcast_wait);
	for (k = 0; k < WAKE_COUNT; k++)
		samples_free(&fig.wake[k]);
	return 0;
}
