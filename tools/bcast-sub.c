// SPDX-License-Identifier: MIT
/*
 * bcast-sub: read a bcast ring and write its messages to stdout.
 *
 * Blocks in bcast_wait() (or spins with --spin) while the ring is empty,
 * reports every overrun on stderr with what it lost, and ends cleanly when
 * the writer goes away and everything was read (--follow waits for the
 * next writer instead).  With --stats/--json it measures what it received:
 * rate, losses, sleeps, and for synthetic messages from bcast-pub (struct
 * synth_hdr) the one-way latency and any sequence gap that no reported
 * overrun explains.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bcast.h"
#include "cli.h"
#include "json.h"

#define PROG		"bcast-sub"
#define FIRST_BUF	(64u << 10)	/* receive buffer; grows on demand */
/* bcast_wait() is called with at most this timeout, so a stop signal that
 * lands between the flag check and the sleep delays the exit by no more. */
#define WAIT_SLICE_MS	100
#define RING_POLL_NS	100000000ULL	/* --follow: look for the ring */
#define SPIN_CHECK_NS	2000000ULL	/* --spin: writer liveness check */
#define CLOCK_EVERY	256		/* --seconds without --stats */

enum out_mode { OUT_LINES, OUT_HEX, OUT_RAW, OUT_RECORDS, OUT_NONE };

struct options {
	const char *name;
	char **names;		/* NAME..., n_names of them */
	int n_names;
	enum out_mode out;
	bool from_oldest, spin, follow, stats, json, quiet, verbose, reg;
	uint64_t count;		/* 0: no limit */
	double seconds;		/* 0: no limit */
	int64_t timeout_ms;	/* -1: none */
	const char *label;
	int cpu;		/* -1: anywhere */
};

/*
 * Latency histogram, log-linear: exact below 128 ns, then 128 buckets per
 * power of two, so any value is within 1/128 (0.8%) of its bucket's start
 * and reported at the bucket's middle (0.4%).  Fixed 58 KiB, any count.
 */
#define LAT_SUB_BITS	7
#define LAT_SUB		(1u << LAT_SUB_BITS)
#define LAT_BUCKETS	((64 - LAT_SUB_BITS + 1) * LAT_SUB)

struct hist {
	uint64_t n, max;
	uint64_t counts[LAT_BUCKETS];
};

struct sub {
	struct options o;
	const char *who;		/* prefix of stderr lines */
	const char *tag;		/* several rings: the ring's name, put
					 * before each of its messages */
	bool done;			/* several rings: this one is finished */
	bool missing;			/* --follow: not there yet */
	struct bcast_ring *r;
	struct bcast_reader *rd;
	unsigned char *buf;
	size_t cap;
	bool timed;			/* take the time of every message */
	uint64_t msgs, bytes;
	uint64_t start_ns, first_ns, last_ns, end_ns;
	uint64_t backlog;	/* synthetic messages sent before we started */
	uint64_t idle_since_ns;		/* 0 while messages flow */
	uint64_t next_spin_check_ns;
	const char *end;		/* why it stopped */
	bool no_writer_at_start;	/* drain, then exit */
	bool writer_gone;		/* --follow: waiting for the next */
	bool gone_seen_spinning;	/* --spin: drain once more, then gone */
	/* overruns: reported once the reader has resynchronised */
	bool overrun_pending;
	uint64_t overrun_pos;
	uint64_t lost_msgs_told, lost_bytes_told;
	/* synthetic messages */
	struct hist *lat;
	uint64_t synth, next_seq, seq_gaps, lost_at_synth;
	bool seq_known, overrun_since_synth;
};

/* What an idle wait says the loop should do. */
enum { GO_ON = 0, DONE = 1 };


static void usage(void)
{
	printf(
"Usage: bcast-sub [OPTIONS] NAME...\n"
"\n"
"Read the bcast ring NAME and write its messages to stdout.  NAME is\n"
"shm:NAME, file:/path, /dev/bcastN, or a bare name (the device ring when\n"
"bcast.ko is loaded, else shm).\n"
"\n"
"Several rings are read at once, through one bcast_poller (no thread or\n"
"spinning per ring): each output line starts with its ring's NAME and\n"
"': ' (--hex: 'ring=NAME '), each stderr line names its ring, --follow\n"
"works per ring, --count counts all rings' messages together, --json\n"
"prints one summary object per ring (its \"ring\" member), and reading\n"
"ends when every ring has ended.  --raw, --records and --spin take one\n"
"ring.\n"
"\n"
"Output (one of):\n"
"      (default)         each payload followed by a newline\n"
"  -x, --hex             one line per message: pos=P type=T len=L HEX\n"
"      --raw             payload bytes only, nothing between messages\n"
"  -r, --records         4-byte little-endian length, then the payload\n"
"                        (what bcast-pub --records reads)\n"
"  -q, --quiet           no message output, no notices (for measuring)\n"
"\n"
"Reading:\n"
"  -f, --from WHERE      oldest: the oldest intact message first;\n"
"                        latest: only what is published from now (default)\n"
"      --register        own a slot of the ring's reader registry: 'bcastctl\n"
"                        info --readers' lists this reader, and the writer\n"
"                        of a gated ring waits for it\n"
"      --spin            poll instead of sleeping in bcast_wait()\n"
"      --cpu N           run on CPU N only\n"
"  -F, --follow          wait for the ring to appear and, when the writer\n"
"                        goes, for the next writer (it continues the\n"
"                        positions); without it, stop once the writer is\n"
"                        gone and all was read (or at once if there is\n"
"                        no writer, after reading what is there)\n"
"  -n, --count N         stop after N messages (suffixes k m g)\n"
"      --seconds T       stop after T seconds (fractions allowed)\n"
"      --timeout MS      fail (exit 1) when no message came for MS ms (exit 3\n"
"                        if, with --follow, the ring never appeared)\n"
"\n"
"Measuring:\n"
"  -s, --stats           at the end, a summary on stderr: messages, bytes,\n"
"                        seconds (first to last message), rates, overruns,\n"
"                        lost messages/bytes, sleeps; for synthetic\n"
"                        messages (bcast-pub --rate/--size/--count) the\n"
"                        one-way latency p50/p90/p99/p99.9/p99.99/max in\n"
"                        microseconds (of messages sent after this\n"
"                        subscriber started) and the sequence gaps that no\n"
"                        reported overrun explains (must be 0)\n"
"      --json            that summary as one JSON object on stdout\n"
"                        (implies no message output)\n"
"      --label NAME      name the summary and stderr lines (default\n"
"                        bcast-sub)\n"
"  -v, --verbose         say on stderr when reading starts and writers\n"
"                        come and go\n"
"  -h, --help            this help\n"
"  -V, --version         the version\n"
"\n"
"Every overrun is reported on stderr, as\n"
"  bcast-sub: overrun at position P: lost N messages (B bytes)\n"
"and reading goes on.  SIGINT/SIGTERM stop cleanly (summary, status 0).\n"
"\n"
"Exit status: 0 ok (writer gone and all read, --count/--seconds reached,\n"
"a signal, stdout closed), 1 runtime error or --timeout, 2 usage error,\n"
"3 no such ring (or it cannot be opened).\n");
}

static void parse_args(struct options *o, int argc, char **argv)
{
	enum { O_RAW = 256, O_SPIN, O_SECONDS, O_TIMEOUT, O_JSON, O_LABEL,
	       O_CPU, O_REGISTER };
	static const struct option longopts[] = {
		{ "hex", no_argument, NULL, 'x' },
		{ "raw", no_argument, NULL, O_RAW },
		{ "records", no_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "from", required_argument, NULL, 'f' },
		{ "spin", no_argument, NULL, O_SPIN },
		{ "register", no_argument, NULL, O_REGISTER },
		{ "follow", no_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "stats", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, O_JSON },
		{ "label", required_argument, NULL, O_LABEL },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, formats = 0;

	*o = (struct options){ .out = OUT_LINES, .timeout_ms = -1, .cpu = -1 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":xrqf:Fn:svhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'x': o->out = OUT_HEX; formats++; break;
		case O_RAW: o->out = OUT_RAW; formats++; break;
		case 'r': o->out = OUT_RECORDS; formats++; break;
		case 'q': o->quiet = true; break;
		case 'f':
			if (!strcmp(optarg, "oldest"))
				o->from_oldest = true;
			else if (!strcmp(optarg, "latest"))
				o->from_oldest = false;
			else
				cli_usage_error("--from: '%s' is neither "
						"'oldest' nor 'latest'", optarg);
			break;
		case O_SPIN: o->spin = true; break;
		case O_REGISTER: o->reg = true; break;
		case 'F': o->follow = true; break;
		case 'n':
			o->count = cli_number("--count", optarg, false, 1,
					      UINT64_MAX);
			break;
		case O_SECONDS:
			o->seconds = cli_seconds("--seconds", optarg);
			if (o->seconds <= 0)
				cli_usage_error("--seconds: must be more than 0");
			break;
		case O_TIMEOUT:
			o->timeout_ms = (int64_t)cli_number("--timeout", optarg,
							    false, 1, 1ULL << 40);
			break;
		case 's': o->stats = true; break;
		case O_JSON: o->json = true; break;
		case O_LABEL:
			if (!*optarg)
				cli_usage_error("--label: empty");
			o->label = optarg;
			break;
		case O_CPU:
			o->cpu = cli_cpu("--cpu", optarg);
			break;
		case 'v': o->verbose = true; break;
		case 'h': usage(); exit(0);
		default:
			cli_common_option(c, argv, optind);
		}
	}
	if (optind == argc)
		cli_usage_error("missing ring NAME");
	o->names = &argv[optind];
	o->n_names = argc - optind;
	o->name = argv[optind];
	for (int i = 0; i < o->n_names; i++) {
		if (!*o->names[i])
			cli_usage_error("empty ring NAME");
		for (int k = 0; k < i; k++)
			if (!strcmp(o->names[i], o->names[k]))
				cli_usage_error("ring '%s' named twice",
						o->names[i]);
	}
	if (o->n_names > 1 && (o->out == OUT_RAW || o->out == OUT_RECORDS))
		cli_usage_error("--raw and --records take one ring (the "
				"output could not tell the rings apart)");
	if (o->n_names > 1 && o->spin)
		cli_usage_error("--spin takes one ring");
	if (o->cpu >= 0)
		cli_pin("--cpu", o->cpu);
	if (formats > 1)
		cli_usage_error("--hex, --raw and --records exclude each other");
	if (o->json || o->quiet)
		o->out = OUT_NONE;
}

/* ---- stderr lines ---- */

static void say(const struct sub *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(const struct sub *s, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", s->who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Notices (not errors, not overruns) are silenced by --quiet/--json. */
#define notice(s, ...) \
	do { if (!(s)->o.quiet && !(s)->o.json) say(s, __VA_ARGS__); } while (0)

static void install_signals(void)
{
	cli_catch_stop_signals();
	/* A closed stdout is an EPIPE write error, ending the run cleanly. */
	signal(SIGPIPE, SIG_IGN);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL),
			       (long)(ns % 1000000000ULL) };

	nanosleep(&ts, NULL);	/* a signal ends it early: fine */
}

/* ---- latency histogram ---- */

static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < LAT_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - LAT_SUB_BITS;
	return (shift + 1) * LAT_SUB + (unsigned)((v >> shift) - LAT_SUB);
}

/* The middle of bucket `i`. */
static double hist_value(unsigned i)
{
	unsigned group = i / LAT_SUB, sub = i % LAT_SUB;
	double width;

	if (!group)
		return sub;
	width = (double)(1ULL << (group - 1));
	return (double)(LAT_SUB + sub) * width + width / 2;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The q-quantile (0 < q < 1) in ns, never above the exact maximum. */
static double hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->n), seen = 0;

	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < LAT_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			double v = hist_value(i);

			return v > (double)h->max ? (double)h->max : v;
		}
	}
	return (double)h->max;
}

/* ---- overruns and synthetic messages ---- */

/* Tell the pending overrun with the losses counted since the last one
 * told: the reader counts them when it resynchronises, which may be after
 * bcast_receive() returned -BCAST_EOVERRUN, so this runs at the next
 * message (or when idle, or at the end). */
static void tell_overrun(struct sub *s)
{
	struct bcast_reader_stats st;

	if (!s->overrun_pending)
		return;
	s->overrun_pending = false;
	bcast_reader_stats(s->rd, &st);
	say(s, "overrun at position %" PRIu64 ": lost %" PRIu64
	    " messages (%" PRIu64 " bytes)", s->overrun_pos,
	    st.lost_messages - s->lost_msgs_told,
	    st.lost_bytes - s->lost_bytes_told);
	s->lost_msgs_told = st.lost_messages;
	s->lost_bytes_told = st.lost_bytes;
}

static void note_overrun(struct sub *s, uint64_t pos)
{
	tell_overrun(s);	/* a second overrun before any message */
	s->overrun_pending = true;
	s->overrun_pos = pos;
	s->overrun_since_synth = true;
}

/*
 * A synthetic message: latency sample, and sequence check.  A jump forward
 * is a gap unless overruns since the previous synthetic message lost at
 * least that many messages; a jump back is a new publisher run (seq starts
 * at 0 again), a new baseline.
 */
static void synth_check(struct sub *s, const unsigned char *p, size_t len,
			uint64_t now)
{
	struct synth_hdr h;
	uint64_t lost = s->lost_at_synth;

	memcpy(&h, p, sizeof(h));
	if (h.magic != SYNTH_MAGIC || h.size != len)
		return;
	s->synth++;
	/* Sent before this subscriber existed: time spent waiting for it,
	 * not the ring's latency. */
	if (h.sent_ns < s->start_ns)
		s->backlog++;
	else
		hist_add(s->lat, now - h.sent_ns);
	if (s->overrun_since_synth) {
		struct bcast_reader_stats st;

		bcast_reader_stats(s->rd, &st);
		lost = st.lost_messages;
		s->overrun_since_synth = false;
	}
	if (s->seq_known && h.seq > s->next_seq) {
		uint64_t gap = h.seq - s->next_seq;
		uint64_t explained = lost - s->lost_at_synth;

		if (gap > explained)
			s->seq_gaps += gap - explained;
	}
	s->lost_at_synth = lost;
	s->next_seq = h.seq + 1;
	s->seq_known = true;
}

/* ---- output ---- */

static int out_error(struct sub *s)
{
	if (errno == EPIPE) {
		s->end = "stdout-closed";
		return DONE;
	}
	say(s, "writing stdout: %s", strerror(errno));
	return -EIO;
}

static void put_hex(const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char line[4096];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		line[n++] = digits[p[i] >> 4];
		line[n++] = digits[p[i] & 15];
		if (n == sizeof(line)) {
			fwrite_unlocked(line, 1, n, stdout);
			n = 0;
		}
	}
	fwrite_unlocked(line, 1, n, stdout);
}

static int write_message(struct sub *s, const struct bcast_msg *m,
			 const unsigned char *p, size_t len)
{
	unsigned char le[4];

	if (s->tag && s->o.out == OUT_LINES)
		printf("%s: ", s->tag);
	else if (s->tag && s->o.out == OUT_HEX)
		printf("ring=%s ", s->tag);
	switch (s->o.out) {
	case OUT_LINES:
		fwrite_unlocked(p, 1, len, stdout);
		putc_unlocked('\n', stdout);
		break;
	case OUT_RAW:
		fwrite_unlocked(p, 1, len, stdout);
		break;
	case OUT_RECORDS:
		le[0] = (unsigned char)len;
		le[1] = (unsigned char)(len >> 8);
		le[2] = (unsigned char)(len >> 16);
		le[3] = (unsigned char)(len >> 24);
		fwrite_unlocked(le, 1, 4, stdout);
		fwrite_unlocked(p, 1, len, stdout);
		break;
	case OUT_HEX:
		printf("pos=%" PRIu64 " type=%" PRIu32 " len=%zu%s", m->pos,
		       m->type, len, len ? " " : "");
		put_hex(p, len);
		putc_unlocked('\n', stdout);
		break;
	case OUT_NONE:
		return GO_ON;
	}
	return ferror_unlocked(stdout) ? out_error(s) : GO_ON;
}

static int flush_output(struct sub *s)
{
	if (s->o.out == OUT_NONE)
		return GO_ON;
	return fflush(stdout) ? out_error(s) : GO_ON;
}

/* ---- the loop ---- */

static int deliver(struct sub *s, const struct bcast_msg *m, size_t len)
{
	uint64_t now = 0;
	int rc;

	tell_overrun(s);
	s->idle_since_ns = 0;
	s->writer_gone = false;	/* all before the gap was read: a new one */
	if (s->timed || (s->end_ns && s->msgs % CLOCK_EVERY == 0))
		now = cli_now_ns();
	if (s->timed) {
		if (!s->msgs)
			s->first_ns = now;
		s->last_ns = now;
		if (m->type == SYNTH_TYPE && len >= sizeof(struct synth_hdr))
			synth_check(s, s->buf, len, now);
	}
	s->msgs++;
	s->bytes += len;
	rc = write_message(s, m, s->buf, len);
	if (!rc && now && s->end_ns && now >= s->end_ns) {
		s->end = "seconds";
		rc = DONE;
	}
	return rc;
}

/* The writer is gone and everything was read. */
static int writer_went(struct sub *s)
{
	if (s->no_writer_at_start) {
		notice(s, "no writer on '%s'; read what was there", s->o.name);
		s->end = "no-writer";
		return DONE;
	}
	if (!s->o.follow) {
		if (s->o.verbose)
			say(s, "writer gone, everything read");
		s->end = "writer-gone";
		return DONE;
	}
	if (!s->writer_gone) {
		s->writer_gone = true;
		s->seq_known = false;	/* the next writer counts from 0 */
		if (s->o.verbose)
			say(s, "writer gone; waiting for a new one (--follow)");
		else
			notice(s, "writer gone; waiting for a new one (--follow)");
	}
	/* bcast_wait() now sleeps until the next writer publishes. */
	return GO_ON;
}

/* --follow: a message after the writer went; say who sent it. */
static void writer_back(struct sub *s)
{
	struct bcast_ring_info info;

	s->writer_gone = false;
	if (s->o.verbose && !bcast_ring_info(s->r, &info))
		say(s, "new writer (pid %d, epoch %" PRIu64 ")",
		    info.writer_alive ? (int)info.writer_pid : 0,
		    info.writer_epoch);
}

/* --spin: nothing pending.  The writer's liveness is looked at every
 * SPIN_CHECK_NS; once it is seen dead, one more pass drains what it
 * committed before dying, and the next empty ring means gone. */
static int spin_idle(struct sub *s, uint64_t now)
{
	struct bcast_ring_info info;

	if (s->gone_seen_spinning) {
		s->gone_seen_spinning = false;
		return writer_went(s);
	}
	if (now >= s->next_spin_check_ns) {
		s->next_spin_check_ns = now + SPIN_CHECK_NS;
		if (!bcast_ring_info(s->r, &info) && !info.writer_alive &&
		    info.writer_epoch)
			s->gone_seen_spinning = true;
	}
	return GO_ON;
}

/* Nothing pending: flush, then sleep (or spin) unless a limit is hit. */
static int idle(struct sub *s)
{
	uint64_t now = cli_now_ns();
	int64_t wait_ms = WAIT_SLICE_MS;
	int rc;

	tell_overrun(s);
	if (!s->idle_since_ns) {
		s->idle_since_ns = now;
		rc = flush_output(s);
		if (rc)
			return rc;
	}
	if (s->end_ns && now >= s->end_ns) {
		s->end = "seconds";
		return DONE;
	}
	if (s->o.timeout_ms >= 0) {
		uint64_t limit = s->idle_since_ns +
				 (uint64_t)s->o.timeout_ms * 1000000ULL;

		if (now >= limit) {
			say(s, "no message for %" PRId64 " ms (--timeout)",
			    s->o.timeout_ms);
			s->end = "timeout";
			return -ETIMEDOUT;
		}
		if ((int64_t)((limit - now) / 1000000) + 1 < wait_ms)
			wait_ms = (int64_t)((limit - now) / 1000000) + 1;
	}
	if (s->end_ns && (int64_t)((s->end_ns - now) / 1000000) + 1 < wait_ms)
		wait_ms = (int64_t)((s->end_ns - now) / 1000000) + 1;
	if (s->no_writer_at_start)
		return writer_went(s);
	if (s->o.spin)
		return spin_idle(s, now);
	rc = bcast_wait(s->rd, (int)wait_ms);
	switch (rc) {
	case 0:
	case -ETIMEDOUT:
	case -EINTR:
		return GO_ON;
	case -BCAST_EWRITERGONE:
		return writer_went(s);
	default:
		say(s, "waiting on '%s': %s", s->o.name, bcast_strerror(rc));
		return rc;
	}
}

static int grow_buffer(struct sub *s, size_t need)
{
	unsigned char *b = realloc(s->buf, need);

	if (!b) {
		say(s, "out of memory for a %zu-byte message", need);
		return -ENOMEM;
	}
	s->buf = b;
	s->cap = need;
	return 0;
}

/* Read until a limit, the writer's end or a signal: 0 or -errno. */
static int run(struct sub *s)
{
	for (;;) {
		struct bcast_msg m;
		uint64_t pos;
		ssize_t len;
		int rc;

		if (cli_stop_requested) {
			s->end = "signal";
			return 0;
		}
		if (s->o.count && s->msgs >= s->o.count) {
			s->end = "count";
			return 0;
		}
		pos = bcast_reader_position(s->rd);
		len = bcast_receive(s->rd, s->buf, s->cap, &m);
		if (len >= 0 && s->writer_gone)
			writer_back(s);
		if (len >= 0)
			rc = deliver(s, &m, (size_t)len);
		else if (len == -EAGAIN)
			rc = idle(s);
		else if (len == -EINPROGRESS)
			rc = GO_ON;	/* bounded work, more pending */
		else if (len == -BCAST_EOVERRUN)
			rc = (note_overrun(s, pos), GO_ON);
		else if (len == -EMSGSIZE)
			rc = grow_buffer(s, m.len);
		else {
			say(s, "reading '%s': %s", s->o.name,
			    bcast_strerror((int)len));
			s->end = "error";
			return (int)len;
		}
		if (rc < 0) {
			if (!s->end)
				s->end = "error";
			return rc;
		}
		if (rc == DONE)
			return 0;
	}
}

/* ---- opening ---- */

/* Why the ring could not be opened, said once: EXIT_NORING. */
static int no_ring(const struct sub *s, int err)
{
	if (err == -ENOENT)
		say(s, "no ring '%s'", s->o.name);
	else
		say(s, "cannot open ring '%s': %s", s->o.name,
		    bcast_strerror(err));
	return EXIT_NORING;
}

/* 0, or the exit status to leave with.  --follow waits for the ring. */
static int open_ring(struct sub *s)
{
	bool told = false;

	for (;;) {
		int err = bcast_ring_open(s->o.name, BCAST_RDONLY, &s->r);

		if (!err)
			return 0;
		if (err != -ENOENT || !s->o.follow) {
			return no_ring(s, err);
		}
		if (!told)
			notice(s, "waiting for ring '%s' to appear", s->o.name);
		told = true;
		if (cli_stop_requested)
			return -1;
		if (s->end_ns && cli_now_ns() >= s->end_ns)
			return -1;
		if (s->o.timeout_ms >= 0 &&
		    cli_now_ns() - s->start_ns >=
		    (uint64_t)s->o.timeout_ms * 1000000ULL) {
			say(s, "no ring '%s' after %" PRId64 " ms (--timeout)",
			    s->o.name, s->o.timeout_ms);
			return EXIT_NORING;
		}
		sleep_ns(RING_POLL_NS);
	}
}

static int open_reader(struct sub *s)
{
	struct bcast_ring_info info;
	int err = bcast_reader_open(s->r, (s->o.from_oldest ? BCAST_FROM_OLDEST :
				    BCAST_FROM_LATEST) |
				    (s->o.reg ? BCAST_REGISTER : 0), &s->rd);

	if (err == -ENOSPC && s->o.reg) {
		say(s, "cannot register with ring '%s': every reader slot is "
		    "taken by a live reader", s->o.name);
		return 1;
	}
	if (err == -EOPNOTSUPP && s->o.reg) {
		say(s, "cannot register with ring '%s': it has no reader "
		    "registry", s->o.name);
		return 1;
	}
	if (err) {
		say(s, "cannot read ring '%s': %s", s->o.name,
		    bcast_strerror(err));
		return 1;
	}
	bcast_ring_info(s->r, &info);
	s->no_writer_at_start = !info.writer_alive && !s->o.follow;
	if (s->o.verbose)
		say(s, "reading '%s' (%s ring, capacity %zu) from %s at "
		    "position %" PRIu64 ", writer pid %d", s->o.name,
		    info.backend, info.capacity,
		    s->o.from_oldest ? "oldest" : "latest",
		    bcast_reader_position(s->rd),
		    info.writer_alive ? (int)info.writer_pid : 0);
	return 0;
}

/* ---- summary ---- */

static void print_stats(const struct sub *s, const struct bcast_reader_stats *st)
{
	double secs = s->msgs > 1 ? (double)(s->last_ns - s->first_ns) / 1e9 : 0;
	double rate = secs > 0 ? (double)s->msgs / secs : 0;
	double mbps = secs > 0 ? (double)s->bytes / secs / 1e6 : 0;
	const struct hist *h = s->lat;

	fprintf(stderr, "%s: %" PRIu64 " msgs, %.2f MB in %.3f s (%.0f msg/s, "
		"%.2f MB/s); overruns %" PRIu64 ", lost %" PRIu64 " msgs (%"
		PRIu64 " bytes); sleeps %" PRIu64 "\n", s->who, s->msgs,
		(double)s->bytes / 1e6, secs, rate, mbps, st->overruns,
		st->lost_messages, st->lost_bytes, st->sleeps);
	if (h->n)
		fprintf(stderr, "%s: latency us p50 %.1f p90 %.1f p99 %.1f "
			"p99.9 %.1f p99.99 %.1f max %.1f (%" PRIu64 " synth "
			"msgs, %" PRIu64 " sent before this subscriber started "
			"not timed); seq gaps %" PRIu64 "\n", s->who,
			hist_quantile(h, 0.5) / 1e3, hist_quantile(h, 0.9) / 1e3,
			hist_quantile(h, 0.99) / 1e3,
			hist_quantile(h, 0.999) / 1e3,
			hist_quantile(h, 0.9999) / 1e3, (double)h->max / 1e3,
			s->synth, s->backlog, s->seq_gaps);
}

static void latency_json(struct json *j, const struct hist *h)
{
	static const struct { const char *key; double q; } points[] = {
		{ "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 },
		{ "p99_9", 0.999 }, { "p99_99", 0.9999 },
	};
	size_t i;

	json_key(j, "latency_us");
	if (!h->n) {
		json_null(j);
		return;
	}
	json_object(j);
	for (i = 0; i < sizeof(points) / sizeof(points[0]); i++)
		json_member_double(j, points[i].key,
				   hist_quantile(h, points[i].q) / 1e3, 3);
	json_member_double(j, "max", (double)h->max / 1e3, 3);
	json_object_end(j);
}

/* 0, or the exit status of a summary that could not be written. */
static int print_json(const struct sub *s, const struct bcast_reader_stats *st)
{
	double secs = s->msgs > 1 ? (double)(s->last_ns - s->first_ns) / 1e9 : 0;
	struct json j;
	int err;

	json_begin(&j, stdout, JSON_COMPACT, 0);
	json_object(&j);
	json_member_string(&j, "label", s->o.label ? s->o.label : PROG);
	json_member_string(&j, "ring", s->o.name);
	json_member_u64(&j, "messages", s->msgs);
	json_member_u64(&j, "bytes", s->bytes);
	json_member_double(&j, "seconds", secs, 6);
	json_member_double(&j, "msg_per_s",
			   secs > 0 ? (double)s->msgs / secs : 0, 1);
	json_member_double(&j, "mb_per_s",
			   secs > 0 ? (double)s->bytes / secs / 1e6 : 0, 3);
	json_member_u64(&j, "overruns", st->overruns);
	json_member_u64(&j, "lost_messages", st->lost_messages);
	json_member_u64(&j, "lost_bytes", st->lost_bytes);
	json_member_u64(&j, "sleeps", st->sleeps);
	json_member_u64(&j, "heartbeats", st->heartbeats);
	json_member_u64(&j, "synth_messages", s->synth);
	json_member_u64(&j, "synth_untimed", s->backlog);
	json_member_u64(&j, "seq_gaps", s->seq_gaps);
	latency_json(&j, s->lat);
	json_member_string(&j, "end", s->end ? s->end : "error");
	json_object_end(&j);
	err = json_end_flush(&j);
	if (err && err != -EPIPE) {
		say(s, "writing the summary: %s", strerror(-err));
		return 1;
	}
	return 0;
}

/* The summary; 0, or 1 if it could not be written. */
static int finish(struct sub *s)
{
	struct bcast_reader_stats st = { 0 };

	if (s->rd) {
		tell_overrun(s);
		bcast_reader_stats(s->rd, &st);
	}
	if (s->o.json)
		return print_json(s, &st);
	if (s->o.stats)
		print_stats(s, &st);
	return 0;
}

/* ---- several rings: one poller ---- */

#define DRAIN_BATCH	4096	/* messages of one ring before the next */
#define POLL_EVENTS	64

struct many {
	struct sub *subs;
	int n, live;
	struct bcast_poller *p;
	uint64_t msgs;			/* of every ring */
	uint64_t idle_since_ns;		/* 0 while messages flow */
	uint64_t next_look_ns;		/* --follow: look for missing rings */
};

/* One ring finished (its writer gone, or nothing to wait for). */
static void ring_done(struct many *m, struct sub *s)
{
	if (s->done)
		return;
	s->done = true;
	m->live--;
	if (s->rd)
		bcast_poller_remove_reader(m->p, s->rd);
}

/* Up to DRAIN_BATCH messages of one ring: GO_ON, DONE (--count or
 * --seconds), or -errno. */
static int drain_ring(struct many *m, struct sub *s)
{
	for (int k = 0; k < DRAIN_BATCH; k++) {
		struct bcast_msg msg;
		uint64_t pos;
		ssize_t len;
		int rc = GO_ON;

		if (s->o.count && m->msgs >= s->o.count)
			return DONE;
		pos = bcast_reader_position(s->rd);
		len = bcast_receive(s->rd, s->buf, s->cap, &msg);
		if (len >= 0) {
			if (s->writer_gone)
				writer_back(s);
			rc = deliver(s, &msg, (size_t)len);
			m->msgs++;
			m->idle_since_ns = 0;
		} else if (len == -EAGAIN) {
			return GO_ON;
		} else if (len == -BCAST_EOVERRUN) {
			note_overrun(s, pos);
		} else if (len == -EMSGSIZE) {
			rc = grow_buffer(s, msg.len);
		} else if (len != -EINPROGRESS) {
			say(s, "reading '%s': %s", s->o.name,
			    bcast_strerror((int)len));
			s->end = "error";
			return (int)len;
		}
		if (rc)
			return rc;
	}
	return GO_ON;
}

/* A ring's reader is open: into the poller, or finished at once when it
 * has no writer to wait for (after what is there was read). */
static int start_ring(struct many *m, struct sub *s)
{
	int rc;

	if (open_reader(s) || grow_buffer(s, FIRST_BUF))
		return -EIO;
	rc = bcast_poller_add_reader(m->p, s->rd, (uint64_t)(s - m->subs));
	if (rc) {
		say(s, "cannot watch ring '%s': %s", s->o.name,
		    bcast_strerror(rc));
		return rc;
	}
	if (!s->no_writer_at_start)
		return GO_ON;
	rc = drain_ring(m, s);
	if (rc == GO_ON) {
		writer_went(s);
		ring_done(m, s);
	}
	return rc;
}

/* Open every ring that is there; --follow leaves the others for later.
 * 0, or the exit status to leave with. */
static int open_rings(struct many *m)
{
	for (int i = 0; i < m->n; i++) {
		struct sub *s = &m->subs[i];
		int err = bcast_ring_open(s->o.name, BCAST_RDONLY, &s->r);

		if (err == -ENOENT && s->o.follow) {
			if (!s->missing)
				notice(s, "waiting for ring '%s' to appear",
				       s->o.name);
			s->missing = true;
			continue;
		}
		if (err) {
			return no_ring(s, err);
		}
		s->missing = false;
		err = start_ring(m, s);
		if (err < 0)
			return 1;
	}
	return 0;
}

/* --follow: rings that were not there yet. */
static int look_for_rings(struct many *m, uint64_t now)
{
	if (now < m->next_look_ns)
		return GO_ON;
	m->next_look_ns = now + RING_POLL_NS;
	for (int i = 0; i < m->n; i++) {
		struct sub *s = &m->subs[i];
		int rc;

		if (!s->missing ||
		    bcast_ring_open(s->o.name, BCAST_RDONLY, &s->r))
			continue;
		s->missing = false;
		rc = start_ring(m, s);
		if (rc)
			return rc;
	}
	return GO_ON;
}

/* What one event of the poller asks for. */
static int on_event(struct many *m, const struct bcast_poller_event *ev)
{
	struct sub *s = &m->subs[ev->tag];
	int rc = GO_ON;

	if (s->done)
		return GO_ON;
	if ((ev->events & BCAST_POLL_WRITER_NEW) && s->writer_gone)
		writer_back(s);
	if (ev->events & BCAST_POLL_DATA)
		rc = drain_ring(m, s);
	if (!rc && (ev->events & BCAST_POLL_WRITER_GONE) &&
	    writer_went(s) == DONE)
		ring_done(m, s);
	return rc;
}

static const char *o_label(const struct many *m)
{
	return m->subs[0].o.label ? m->subs[0].o.label : PROG;
}

/* The wait's timeout: the slice, cut by --seconds and --timeout; or the
 * limit hit (DONE, -ETIMEDOUT). */
static int many_wait_ms(struct many *m, uint64_t now, int *ms)
{
	const struct options *o = &m->subs[0].o;

	*ms = WAIT_SLICE_MS;
	if (m->subs[0].end_ns && now >= m->subs[0].end_ns)
		return DONE;
	if (m->subs[0].end_ns &&
	    (int64_t)((m->subs[0].end_ns - now) / 1000000) + 1 < *ms)
		*ms = (int)((m->subs[0].end_ns - now) / 1000000) + 1;
	if (o->timeout_ms >= 0) {
		uint64_t limit;

		if (!m->idle_since_ns)
			m->idle_since_ns = now;
		limit = m->idle_since_ns + (uint64_t)o->timeout_ms * 1000000ULL;
		if (now >= limit) {
			fprintf(stderr, "%s: no message on any ring for %"
				PRId64 " ms (--timeout)\n", o_label(m),
				o->timeout_ms);
			return -ETIMEDOUT;
		}
		if ((int64_t)((limit - now) / 1000000) + 1 < *ms)
			*ms = (int)((limit - now) / 1000000) + 1;
	}
	return GO_ON;
}

static const char *many_loop_end(int rc)
{
	return rc == -ETIMEDOUT ? "timeout" : rc < 0 ? "error" :
	       cli_stop_requested ? "signal" : "seconds";
}

/* Read every ring until each has ended, or a limit or a signal. */
static int run_many(struct many *m)
{
	struct bcast_poller_event ev[POLL_EVENTS];
	bool flushed = true;
	int rc = GO_ON;

	while (m->live > 0 && !rc) {
		uint64_t now = cli_now_ns();
		int got, ms;

		if (cli_stop_requested)
			break;
		if (m->subs[0].o.count && m->msgs >= m->subs[0].o.count)
			break;
		rc = look_for_rings(m, now);
		if (!rc)
			rc = many_wait_ms(m, now, &ms);
		if (rc)
			break;
		got = bcast_poller_wait(m->p, ev, POLL_EVENTS, 0);
		if (got == 0) {
			/* Idle: what was read goes out before sleeping. */
			if (!flushed && flush_output(&m->subs[0]) == DONE)
				return DONE;
			flushed = true;
			got = bcast_poller_wait(m->p, ev, POLL_EVENTS, ms);
		}
		if (got == -EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "%s: waiting on the rings: %s\n",
				o_label(m), bcast_strerror(got));
			return got;
		}
		for (int i = 0; i < got && !rc; i++)
			rc = on_event(m, &ev[i]);
		flushed = !got;
	}
	return rc;
}

/* bcast-sub NAME NAME...: 0, 1 or the exit status of a ring not found. */
static int main_many(const struct options *o)
{
	struct many m = { .n = o->n_names };
	char **who;
	int status, rc = 0;

	m.subs = calloc((size_t)m.n, sizeof(*m.subs));
	who = calloc((size_t)m.n, sizeof(*who));
	if (!m.subs || !who || bcast_poller_create(0, &m.p)) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	for (int i = 0; i < m.n; i++) {
		struct sub *s = &m.subs[i];

		s->o = *o;
		s->o.name = o->names[i];
		s->tag = o->names[i];
		if (asprintf(&who[i], "%s: %s", o->label ? o->label : PROG,
			     o->names[i]) < 0)
			return 1;
		s->who = who[i];
		s->timed = o->stats || o->json;
		s->start_ns = cli_now_ns();
		if (o->seconds > 0)
			s->end_ns = s->start_ns + (uint64_t)(o->seconds * 1e9);
		if (s->timed && !(s->lat = calloc(1, sizeof(*s->lat)))) {
			fprintf(stderr, PROG ": out of memory\n");
			return 1;
		}
	}
	m.live = m.n;
	if (o->out != OUT_NONE)
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	status = open_rings(&m);
	if (!status) {
		rc = run_many(&m);
		if (flush_output(&m.subs[0]) < 0 && rc >= 0)
			rc = -EIO;
	}
	for (int i = 0; i < m.n; i++) {
		struct sub *s = &m.subs[i];

		if (!s->end)
			s->end = status ? "error" : s->done ? "writer-gone" :
				 rc == DONE || (o->count && m.msgs >= o->count) ?
				 "count" : many_loop_end(rc);
		if (!status && finish(s))
			status = 1;
		bcast_poller_remove_reader(m.p, s->rd);
		bcast_reader_close(s->rd);
		bcast_ring_close(s->r);
		free(s->buf);
		free(s->lat);
		free(who[i]);
	}
	if (!status && rc < 0)
		status = 1;
	bcast_poller_destroy(m.p);
	free(m.subs);
	free(who);
	return status;
}

int main(int argc, char **argv)
{
	struct sub s = { 0 };
	int status, err;

	cli_prog = PROG;
	parse_args(&s.o, argc, argv);
	if (s.o.n_names > 1) {
		install_signals();
		return main_many(&s.o);
	}
	s.who = s.o.label ? s.o.label : PROG;
	s.timed = s.o.stats || s.o.json;
	install_signals();
	s.start_ns = cli_now_ns();
	if (s.o.seconds > 0)
		s.end_ns = s.start_ns + (uint64_t)(s.o.seconds * 1e9);
	if (s.timed) {
		s.lat = calloc(1, sizeof(*s.lat));
		if (!s.lat) {
			say(&s, "out of memory");
			return 1;
		}
	}
	status = open_ring(&s);
	if (status > 0)
		return status;
	if (status < 0) {	/* stopped while waiting for the ring */
		s.end = cli_stop_requested ? "signal" : "seconds";
		return finish(&s);
	}
	if (s.o.out != OUT_NONE)
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	status = open_reader(&s);
	if (!status && grow_buffer(&s, FIRST_BUF))
		status = 1;
	if (!status) {
		err = run(&s);
		if (flush_output(&s) < 0 && !err)
			err = -EIO;
		status = err ? 1 : 0;
		if (finish(&s))
			status = 1;
	}
	bcast_reader_close(s.rd);
	bcast_ring_close(s.r);
	free(s.buf);
	free(s.lat);
	return status;
}
