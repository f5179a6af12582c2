// SPDX-License-Identifier: MIT
/*
 * bcast-pub: publish to a bcast ring, as its only writer.
 *
 * Input is stdin cut into messages (lines, length-prefixed records or
 * fixed-size chunks), or synthetic timestamped messages generated at a
 * given rate (struct synth_hdr + quote-like text, see cli.h) for bcast-sub
 * to measure one-way latency with.  On a terminal a progress line shows
 * the rate; a summary follows at the end.  SIGINT/SIGTERM end the run
 * cleanly: what was claimed is committed, the writer closes (readers see
 * it gone at once) and the summary is printed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include "bcast.h"
#include "cli.h"
#include "json.h"

#define PROG		"bcast-pub"
#define MAX_MSG		0xffffffffULL	/* bcast_publish(): up to 4 GiB - 1 */
#define INPUT_BUF	(1u << 20)	/* first size of the stdin buffer */
#define PROGRESS_NS	500000000ULL	/* progress line every 0.5 s */
/* Sleeps overshoot by tens of microseconds even with a 1 us timer slack,
 * so the last stretch before a send time is spun. */
#define SPIN_NS		100000ULL
/* After a stall (preemption, a slow terminal, SIGSTOP) the schedule is
 * moved forward rather than caught up: at most 1 ms worth of messages is
 * ever sent back to back, so a stall never turns into a burst that laps
 * readers. */
#define MAX_BEHIND_NS	1000000ULL
#define DEFAULT_RING	(1ULL << 20)
#define DEFAULT_SIZE	64

enum input_mode { IN_LINES, IN_RECORDS, IN_CHUNKS, IN_SYNTH };

struct options {
	const char *name;
	enum input_mode mode;
	bool create, hugepage, quiet, json, verbose;
	bool type_set;
	uint64_t ring_size;	/* 0: not given */
	uint64_t chunk;
	uint32_t type;
	uint64_t rate;		/* msgs/s; 0: as fast as possible */
	uint64_t size;
	uint64_t count;		/* 0: no limit */
	double seconds;		/* 0: no limit */
	uint64_t flush_every;	/* 0: every message visible at once */
	double heartbeat;	/* 0: none */
	int cpu;		/* -1: anywhere */
	uint64_t spin_ns;	/* --rate: spin this long before a message */
};

struct pub {
	struct options o;
	struct bcast_ring *r;
	struct bcast_writer *w;
	size_t mtu;
	uint64_t msgs, bytes;
	uint64_t deferred;		/* commits not yet flushed */
	uint64_t first_ns, last_ns;	/* first and last message */
	uint64_t msgs_timed;		/* msgs when last_ns was taken */
	uint64_t hb_ns;			/* heartbeat interval; 0: none */
	uint64_t last_activity_ns;	/* last data or heartbeat */
	bool progress;			/* progress line on stderr */
	bool progress_shown;
	uint64_t next_progress_ns, progress_ns, progress_msgs, progress_bytes;
	unsigned char *scratch;		/* synthetic messages above the MTU */
};

/* The stdin buffer: unread bytes are buf[head, tail). */
struct input {
	unsigned char *buf;
	size_t cap, head, tail;
	uint64_t offset;	/* stdin offset of buf[head] */
	bool eof;
};

static sigset_t stop_signals;

static void usage(void)
{
	printf(
"Usage: bcast-pub [OPTIONS] NAME\n"
"\n"
"Publish to the bcast ring NAME as its only writer: stdin cut into\n"
"messages, or synthetic timestamped messages at a given rate.\n"
"NAME is shm:NAME, file:/path, /dev/bcastN, or a bare name (the device\n"
"ring when bcast.ko is loaded, else shm).\n"
"\n"
"Ring:\n"
"  -c, --create          create the ring if it does not exist\n"
"      --ring-size BYTES data capacity when creating (power of two,\n"
"                        4K..1T, suffixes K M G; default 1M)\n"
"      --hugepage        back a created ring with huge pages if possible\n"
"\n"
"Stdin (default: one message per line, without the newline; a last\n"
"line without a newline is sent too):\n"
"  -r, --records         4-byte little-endian length, then that many bytes\n"
"      --chunk BYTES     fixed-size chunks, suffixes K M G (the last one may\n"
"                        be shorter)\n"
"  -t, --type N          message type (default 0)\n"
"\n"
"Synthetic messages (any of these selects them; stdin is not read):\n"
"      --rate N          messages per second, suffixes k m g (default 0:\n"
"                        as fast as possible)\n"
"      --size BYTES      message size, >= 24, suffixes K M G (default 64)\n"
"  -n, --count N         stop after N messages (suffixes k m g)\n"
"      --seconds T       stop after T seconds (fractions allowed)\n"
"  Each message is a struct synth_hdr (magic, size, seq 0,1,2..., send time\n"
"  in CLOCK_MONOTONIC ns) then quote-like text, type 0x53594e54 (\"SYNT\");\n"
"  bcast-sub --stats measures their latency and checks their sequence.\n"
"\n"
"      --spin-us US      with --rate: sleep until US microseconds before a\n"
"                        message is due, then spin (default 100); 0: only\n"
"                        sleep, and send what is due when woken, back to\n"
"                        back (for machines with few CPUs)\n"
"\n"
"Writing:\n"
"      --flush-every N   defer commits and make them visible N at a time\n"
"                        (and whenever input pauses)\n"
"      --heartbeat T     publish a heartbeat after T idle seconds\n"
"\n"
"Placement:\n"
"      --cpu N           run on CPU N only\n"
"\n"
"Output:\n"
"  -q, --quiet           no progress line, no summary\n"
"      --json            the summary as one JSON object on stdout\n"
"  -v, --verbose         say on stderr when the writer is ready\n"
"  -h, --help            this help\n"
"  -V, --version         the version\n"
"\n"
"On a terminal, stderr shows messages, msg/s and MB/s every 0.5 s; a\n"
"summary (messages, bytes, seconds, rate) ends the run.  SIGINT/SIGTERM\n"
"stop cleanly: readers see the writer gone, the exit status is 0.\n"
"\n"
"Exit status: 0 ok, 1 runtime error, 2 usage error, 3 no such ring (or it\n"
"cannot be opened), 4 the ring already has a live writer.\n");
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static void parse_args(struct options *o, int argc, char **argv)
{
	enum { O_RING_SIZE = 256, O_HUGEPAGE, O_CHUNK, O_RATE, O_SIZE,
	       O_SECONDS, O_FLUSH_EVERY, O_HEARTBEAT, O_JSON, O_CPU,
	       O_SPIN_US };
	static const struct option longopts[] = {
		{ "create", no_argument, NULL, 'c' },
		{ "ring-size", required_argument, NULL, O_RING_SIZE },
		{ "hugepage", no_argument, NULL, O_HUGEPAGE },
		{ "records", no_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, O_CHUNK },
		{ "type", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, O_RATE },
		{ "size", required_argument, NULL, O_SIZE },
		{ "count", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "flush-every", required_argument, NULL, O_FLUSH_EVERY },
		{ "heartbeat", required_argument, NULL, O_HEARTBEAT },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "spin-us", required_argument, NULL, O_SPIN_US },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, O_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool records = false, synth = false;
	int c;

	*o = (struct options){ .mode = IN_LINES, .size = DEFAULT_SIZE,
			       .cpu = -1, .spin_ns = SPIN_NS };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":crt:n:qvhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'c': o->create = true; break;
		case O_RING_SIZE:
			o->ring_size = cli_number("--ring-size", optarg, true,
						  4096, 1ULL << 40);
			if (!is_pow2(o->ring_size))
				cli_usage_error("--ring-size: %s is not a power of two",
						optarg);
			break;
		case O_HUGEPAGE: o->hugepage = true; break;
		case 'r': records = true; break;
		case O_CHUNK:
			o->chunk = cli_number("--chunk", optarg, true, 1, MAX_MSG);
			break;
		case 't':
			o->type = (uint32_t)cli_number("--type", optarg, false,
						       0, UINT32_MAX);
			o->type_set = true;
			break;
		case O_RATE:
			o->rate = cli_number("--rate", optarg, false, 0,
					     1000000000);
			synth = true;
			break;
		case O_SIZE:
			o->size = cli_number("--size", optarg, true,
					     sizeof(struct synth_hdr), MAX_MSG);
			synth = true;
			break;
		case 'n':
			o->count = cli_number("--count", optarg, false, 1,
					      UINT64_MAX);
			synth = true;
			break;
		case O_SECONDS:
			o->seconds = cli_seconds("--seconds", optarg);
			if (o->seconds <= 0)
				cli_usage_error("--seconds: must be more than 0");
			synth = true;
			break;
		case O_FLUSH_EVERY:
			o->flush_every = cli_number("--flush-every", optarg,
						    false, 1, 1u << 20);
			break;
		case O_HEARTBEAT:
			o->heartbeat = cli_seconds("--heartbeat", optarg);
			if (o->heartbeat < 0.001)
				cli_usage_error("--heartbeat: %s is below 0.001 s",
						optarg);
			break;
		case O_CPU:
			o->cpu = cli_cpu("--cpu", optarg);
			break;
		case O_SPIN_US:
			o->spin_ns = cli_number("--spin-us", optarg, false, 0,
						1000000) * 1000;
			break;
		case 'q': o->quiet = true; break;
		case O_JSON: o->json = true; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(); exit(0);
		default:
			cli_common_option(c, argv, optind);
		}
	}
	o->name = cli_ring_name(argc, argv, optind);
	if ((records + !!o->chunk + synth) > 1)
		cli_usage_error("--records, --chunk and the synthetic options "
				"(--rate, --size, --count, --seconds) exclude "
				"each other");
	if (synth && o->type_set)
		cli_usage_error("--type: synthetic messages always have type "
				"0x%x", SYNTH_TYPE);
	if ((o->ring_size || o->hugepage) && !o->create)
		cli_usage_error("%s only applies with --create",
				o->ring_size ? "--ring-size" : "--hugepage");
	o->mode = synth ? IN_SYNTH : records ? IN_RECORDS :
		  o->chunk ? IN_CHUNKS : IN_LINES;
	if (!o->ring_size)
		o->ring_size = DEFAULT_RING;
	if (o->cpu >= 0)
		cli_pin("--cpu", o->cpu);
}

/* ---- the ring and the writer ---- */

/* Report the live writer that holds the ring (its pid from a read-only
 * look, since device rings refuse even the read-write open). */
static int report_busy(const struct pub *p)
{
	struct bcast_ring *r = p->r;
	struct bcast_ring_info info = { 0 };

	if (r || !bcast_ring_open(p->o.name, BCAST_RDONLY, &r))
		bcast_ring_info(r, &info);
	if (r && r != p->r)
		bcast_ring_close(r);
	if (info.writer_pid > 0)
		cli_error("ring '%s' already has a writer (pid %d)",
			  p->o.name, (int)info.writer_pid);
	else
		cli_error("ring '%s' already has a writer", p->o.name);
	return EXIT_BUSY;
}

/* Open (or with --create make) the ring and become its writer: 0 or the
 * exit status to leave with, the reason already printed. */
static int open_writer(struct pub *p)
{
	const struct options *o = &p->o;
	bool created = false;
	struct bcast_ring_info info;
	int err = bcast_ring_open(o->name, BCAST_RDWR, &p->r);

	if (err == -ENOENT && o->create) {
		struct bcast_ring_opts ro = {
			.size = o->ring_size,
			.flags = o->hugepage ? BCAST_HUGEPAGE : 0,
		};

		err = bcast_ring_create(o->name, &ro, &p->r);
		created = !err;
		if (err == -EEXIST)	/* someone else just made it */
			err = bcast_ring_open(o->name, BCAST_RDWR, &p->r);
	}
	if (err) {
		p->r = NULL;
		if (err == -EBUSY)
			return report_busy(p);
		if (err == -ENOENT)
			cli_error("no ring '%s'%s", o->name,
				  o->create ? "" : " (--create makes it)");
		else
			cli_error("cannot %s ring '%s': %s",
				  o->create ? "open or create" : "open",
				  o->name, bcast_strerror(err));
		return EXIT_NORING;
	}
	err = bcast_writer_open(p->r, &p->w);
	if (err == -EBUSY)
		return report_busy(p);
	if (err) {
		cli_error("cannot become the writer of '%s': %s", o->name,
			  bcast_strerror(err));
		return 1;
	}
	bcast_ring_info(p->r, &info);
	p->mtu = info.mtu;
	if (o->verbose)
		cli_error("writing to '%s' (%s ring, %s, capacity %zu, mtu %zu, "
			  "writer epoch %" PRIu64 ")", o->name, info.backend,
			  created ? "created" : "existing", info.capacity,
			  info.mtu, info.writer_epoch);
	return 0;
}

/* ---- signals and waiting ---- */

static void install_signals(void)
{
	cli_catch_stop_signals();
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
}

/*
 * Sleep until `deadline_ns` (UINT64_MAX: no limit) or until `fd` (if >= 0)
 * is readable: > 0 readable, 0 timed out, -EINTR on a stop signal.  The
 * signals are blocked from the flag check until ppoll() unblocks them
 * atomically, so one arriving in between still ends the sleep.
 */
static int wait_event(int fd, uint64_t deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	sigset_t old;
	int rc;

	sigprocmask(SIG_BLOCK, &stop_signals, &old);
	if (cli_stop_requested) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -EINTR;
	}
	if (deadline_ns != UINT64_MAX) {
		uint64_t now = cli_now_ns();
		uint64_t left = deadline_ns > now ? deadline_ns - now : 0;

		ts.tv_sec = (time_t)(left / 1000000000ULL);
		ts.tv_nsec = (long)(left % 1000000000ULL);
		tsp = &ts;
	}
	rc = ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, tsp, &old);
	if (rc < 0)
		rc = -errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- publishing ---- */

static int flush_deferred(struct pub *p)
{
	int err;

	if (!p->deferred)
		return 0;
	p->deferred = 0;
	err = bcast_flush(p->w);
	if (err)
		cli_error("flush failed: %s", bcast_strerror(err));
	return err;
}

static void account(struct pub *p, size_t len, uint64_t now)
{
	if (!p->msgs++)
		p->first_ns = now ? now : cli_now_ns();
	p->bytes += len;
	if (now) {
		p->last_ns = now;
		p->msgs_timed = p->msgs;
		p->last_activity_ns = now;
	}
}

/* Take the time of the last message when messages went out since the
 * clock was last read: stdin modes read it per input chunk, not per
 * message. */
static void note_time(struct pub *p)
{
	if (p->msgs != p->msgs_timed) {
		p->last_ns = cli_now_ns();
		p->msgs_timed = p->msgs;
	}
}

/* One message from stdin.  With --flush-every, messages that fit a frame
 * are committed deferred and flushed N at a time. */
static int send_message(struct pub *p, const void *data, size_t len)
{
	int err;

	if (p->o.flush_every && len <= p->mtu) {
		struct bcast_claim c;

		err = bcast_claim(p->w, len, &c);
		if (!err) {
			if (len)
				memcpy(c.data, data, len);
			err = bcast_commit(&c, p->o.type, BCAST_DEFER);
		}
		if (!err && ++p->deferred >= p->o.flush_every)
			err = flush_deferred(p);
	} else {
		err = flush_deferred(p);
		if (!err)
			err = bcast_publish(p->w, data, len, p->o.type);
	}
	if (err) {
		cli_error("cannot publish a %zu-byte message: %s", len,
			  bcast_strerror(err));
		return err;
	}
	account(p, len, 0);
	return 0;
}

/* ---- heartbeats and the progress line ---- */

static uint64_t next_service_ns(const struct pub *p)
{
	uint64_t t = UINT64_MAX;

	if (p->hb_ns)
		t = p->last_activity_ns + p->hb_ns;
	if (p->progress && p->next_progress_ns < t)
		t = p->next_progress_ns;
	return t;
}

static void show_progress(struct pub *p, uint64_t now)
{
	double dt = (double)(now - p->progress_ns) / 1e9;

	if (dt <= 0)
		return;
	fprintf(stderr, "\r%s: %" PRIu64 " msgs  %.0f msg/s  %.2f MB/s\033[K",
		PROG, p->msgs, (double)(p->msgs - p->progress_msgs) / dt,
		(double)(p->bytes - p->progress_bytes) / dt / 1e6);
	p->progress_shown = true;
	p->progress_ns = now;
	p->progress_msgs = p->msgs;
	p->progress_bytes = p->bytes;
	p->next_progress_ns = now + PROGRESS_NS;
}

/* Heartbeat and progress line, if due. */
static int service(struct pub *p, uint64_t now)
{
	int err;

	if (p->hb_ns && now >= p->last_activity_ns + p->hb_ns) {
		err = flush_deferred(p);
		if (!err)
			err = bcast_heartbeat(p->w);
		if (err) {
			cli_error("heartbeat failed: %s", bcast_strerror(err));
			return err;
		}
		p->last_activity_ns = now;
	}
	if (p->progress && now >= p->next_progress_ns)
		show_progress(p, now);
	return 0;
}

/* ---- stdin ---- */

/* Make room for `want` unread bytes (and at least one more), keeping
 * what is unread. */
static int input_room(struct input *in, size_t want)
{
	size_t unread = in->tail - in->head;

	if (in->head && (in->cap - in->head < want || in->tail == in->cap)) {
		memmove(in->buf, in->buf + in->head, unread);
		in->head = 0;
		in->tail = unread;
	}
	if (in->cap < want || in->tail == in->cap) {
		size_t cap = in->cap * 2 > want ? in->cap * 2 : want;
		unsigned char *buf = realloc(in->buf, cap);

		if (!buf) {
			cli_error("out of memory for a %zu-byte message", want);
			return -ENOMEM;
		}
		in->buf = buf;
		in->cap = cap;
	}
	return 0;
}

/*
 * Read more of stdin: 0 (in->eof may now be set), -EINTR when asked to
 * stop, or another -errno (reported).  Deferred commits are flushed
 * before waiting, so nothing stays invisible while stdin is quiet.
 */
static int input_fill(struct pub *p, struct input *in, size_t want)
{
	int err = input_room(in, want);
	ssize_t n;

	if (err)
		return err;
	err = flush_deferred(p);
	if (err)
		return err;
	note_time(p);
	for (;;) {
		uint64_t next = next_service_ns(p);
		int rc = wait_event(STDIN_FILENO, next);

		if (rc == -EINTR)
			return -EINTR;
		if (rc < 0) {
			cli_error("waiting for stdin: %s", strerror(-rc));
			return rc;
		}
		if (rc == 0) {
			err = service(p, cli_now_ns());
			if (err)
				return err;
			continue;
		}
		n = read(STDIN_FILENO, in->buf + in->tail, in->cap - in->tail);
		if (n > 0) {
			in->tail += (size_t)n;
			p->last_activity_ns = cli_now_ns();
			return service(p, p->last_activity_ns);
		}
		if (n == 0) {
			in->eof = true;
			return 0;
		}
		if (errno == EINTR && cli_stop_requested)
			return -EINTR;
		if (errno != EINTR && errno != EAGAIN) {
			cli_error("reading stdin: %s", strerror(errno));
			return -errno;
		}
	}
}

/* Have `want` unread bytes, or all there is at end of input. */
static int input_need(struct pub *p, struct input *in, size_t want)
{
	while (in->tail - in->head < want && !in->eof) {
		int err = input_fill(p, in, want);

		if (err)
			return err;
	}
	return 0;
}

static void input_consume(struct input *in, size_t n)
{
	in->head += n;
	in->offset += n;
}

static int run_lines(struct pub *p, struct input *in)
{
	size_t scanned = 0;	/* unread bytes known to hold no newline */
	int err;

	for (;;) {
		unsigned char *s = in->buf + in->head, *nl;
		size_t avail = in->tail - in->head;

		nl = memchr(s + scanned, '\n', avail - scanned);
		if (nl) {
			size_t len = (size_t)(nl - s);

			err = send_message(p, s, len);
			if (err)
				return err;
			input_consume(in, len + 1);
			scanned = 0;
			continue;
		}
		scanned = avail;
		if (in->eof) {
			if (!avail)
				return 0;
			err = send_message(p, s, avail);
			input_consume(in, avail);
			return err;
		}
		if (avail > MAX_MSG) {
			cli_error("the line at offset %" PRIu64 " of stdin is "
				  "longer than 4 GiB - 1 bytes", in->offset);
			return -EMSGSIZE;
		}
		err = input_fill(p, in, avail + 1);
		if (err)
			return err;
	}
}

static uint32_t get_le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static int run_records(struct pub *p, struct input *in)
{
	for (;;) {
		size_t avail;
		uint32_t len;
		int err = input_need(p, in, 4);

		if (err)
			return err;
		avail = in->tail - in->head;
		if (!avail)
			return 0;
		if (avail < 4) {
			cli_error("truncated record at offset %" PRIu64 " of "
				  "stdin: %zu of the 4 length bytes",
				  in->offset, avail);
			return -EPROTO;
		}
		len = get_le32(in->buf + in->head);
		err = input_need(p, in, 4 + (size_t)len);
		if (err)
			return err;
		avail = in->tail - in->head;
		if (avail < 4 + (size_t)len) {
			cli_error("truncated record at offset %" PRIu64 " of "
				  "stdin: its length says %" PRIu32 " bytes, "
				  "%zu follow", in->offset, len, avail - 4);
			return -EPROTO;
		}
		err = send_message(p, in->buf + in->head + 4, len);
		if (err)
			return err;
		input_consume(in, 4 + (size_t)len);
	}
}

static int run_chunks(struct pub *p, struct input *in)
{
	for (;;) {
		size_t avail, len;
		int err = input_need(p, in, p->o.chunk);

		if (err)
			return err;
		avail = in->tail - in->head;
		if (!avail)
			return 0;
		len = avail < p->o.chunk ? avail : p->o.chunk;
		err = send_message(p, in->buf + in->head, len);
		if (err)
			return err;
		input_consume(in, len);
	}
}

static int run_stdin(struct pub *p)
{
	struct input in = { .cap = INPUT_BUF };
	int err;

	in.buf = malloc(in.cap);
	if (!in.buf) {
		cli_error("out of memory");
		return -ENOMEM;
	}
	switch (p->o.mode) {
	case IN_RECORDS: err = run_records(p, &in); break;
	case IN_CHUNKS: err = run_chunks(p, &in); break;
	default: err = run_lines(p, &in); break;
	}
	note_time(p);
	free(in.buf);
	return err;
}

/* ---- synthetic messages ---- */

/* Quote-like filler: a few symbols whose prices wander, so the payload
 * looks and compresses like market data rather than a constant. */
static const char *const symbols[] = {
	"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM",
};
#define NSYMBOLS (sizeof(symbols) / sizeof(symbols[0]))

struct quotes {
	uint64_t rng;
	uint32_t mid[NSYMBOLS];	/* cents */
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_price(char *p, uint32_t cents)
{
	p = put_u64(p, cents / 100);
	*p++ = '.';
	*p++ = (char)('0' + cents / 10 % 10);
	*p++ = (char)('0' + cents % 10);
	return p;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* "NVDA 131.07/131.09 400x1200 #17 " truncated or space-padded to len. */
static void quote_fill(struct quotes *q, uint64_t seq, char *out, size_t len)
{
	unsigned i = (unsigned)(seq % NSYMBOLS);
	uint64_t r = xorshift(&q->rng);
	char text[96], *t = text;
	size_t n;

	if (r & 1)
		q->mid[i] += (uint32_t)(r >> 1 & 7);
	else if (q->mid[i] > 1000)
		q->mid[i] -= (uint32_t)(r >> 1 & 7);
	t = put_str(t, symbols[i]);
	*t++ = ' ';
	t = put_price(t, q->mid[i] - 1);
	*t++ = '/';
	t = put_price(t, q->mid[i] + 1);
	*t++ = ' ';
	t = put_u64(t, 100 * (1 + (r >> 8) % 50));
	*t++ = 'x';
	t = put_u64(t, 100 * (1 + (r >> 16) % 50));
	t = put_str(t, " #");
	t = put_u64(t, seq);
	*t++ = ' ';
	n = (size_t)(t - text);
	if (n > len)
		n = len;
	memcpy(out, text, n);
	if (len > n)
		memset(out + n, ' ', len - n);
}

static void quotes_init(struct quotes *q)
{
	q->rng = 0x9e3779b97f4a7c15ULL ^ cli_now_ns();
	if (!q->rng)
		q->rng = 1;
	for (unsigned i = 0; i < NSYMBOLS; i++)
		q->mid[i] = 5000 + (uint32_t)(xorshift(&q->rng) % 50000);
}

/* Message `seq`, stamped just before it is committed. */
static int send_synth(struct pub *p, struct quotes *q, uint64_t seq)
{
	size_t size = p->o.size, hl = sizeof(struct synth_hdr);
	struct synth_hdr h = { .magic = SYNTH_MAGIC, .size = (uint32_t)size,
			       .seq = seq };
	struct bcast_claim c;
	int err;

	if (size <= p->mtu) {
		/* In place: no copy, the common case. */
		err = bcast_claim(p->w, size, &c);
		if (!err) {
			quote_fill(q, seq, (char *)c.data + hl, size - hl);
			h.sent_ns = cli_now_ns();
			memcpy(c.data, &h, hl);
			err = bcast_commit(&c, SYNTH_TYPE,
					   p->o.flush_every ? BCAST_DEFER : 0);
		}
		if (!err && p->o.flush_every &&
		    ++p->deferred >= p->o.flush_every)
			err = flush_deferred(p);
	} else {
		quote_fill(q, seq, (char *)p->scratch + hl, size - hl);
		err = flush_deferred(p);
		h.sent_ns = cli_now_ns();
		memcpy(p->scratch, &h, hl);
		if (!err)
			err = bcast_publish(p->w, p->scratch, size, SYNTH_TYPE);
	}
	if (err) {
		cli_error("cannot publish message %" PRIu64 ": %s", seq,
			  bcast_strerror(err));
		return err;
	}
	account(p, size, h.sent_ns);
	return 0;
}

/* Until `due`: sleep while it is far, spin the last SPIN_NS; heartbeats
 * and the progress line are served meanwhile.  0, or -EINTR to stop. */
static int wait_until(struct pub *p, uint64_t due)
{
	for (;;) {
		uint64_t now = cli_now_ns(), svc = next_service_ns(p);
		int err;

		if (now >= due)
			return 0;
		if (cli_stop_requested)
			return -EINTR;
		if (svc <= now) {
			err = service(p, now);
			if (err)
				return err;
			continue;
		}
		if (due - now <= p->o.spin_ns) {
			cpu_relax();
			continue;
		}
		/* Going to sleep: what was deferred becomes visible first. */
		err = flush_deferred(p);
		if (err)
			return err;
		err = wait_event(-1, due - p->o.spin_ns < svc ?
				     due - p->o.spin_ns : svc);
		if (err == -EINTR)
			return err;
	}
}

/*
 * Message i is due at base_ns + (i - base_i) / rate: an absolute schedule,
 * so sleep overshoots do not accumulate into a lower rate.  A sender more
 * than MAX_BEHIND_NS late moves the base to now instead of bursting.
 */
static int run_synth(struct pub *p)
{
	double period = p->o.rate ? 1e9 / (double)p->o.rate : 0;
	uint64_t base_ns = cli_now_ns(), base_i = 0, end_ns = UINT64_MAX;
	struct quotes q;
	int err = 0;

	quotes_init(&q);
	if (p->o.size > p->mtu) {
		p->scratch = malloc(p->o.size);
		if (!p->scratch) {
			cli_error("out of memory for %" PRIu64 "-byte messages",
				  p->o.size);
			return -ENOMEM;
		}
	}
	if (p->o.seconds > 0)
		end_ns = base_ns + (uint64_t)(p->o.seconds * 1e9);
	for (uint64_t i = 0; !p->o.count || i < p->o.count; i++) {
		uint64_t now = cli_now_ns();

		if (cli_stop_requested)
			break;
		if (p->o.rate) {
			uint64_t due = base_ns + (uint64_t)((double)(i - base_i) *
							    period);

			if (now > due + MAX_BEHIND_NS) {
				base_ns = due = now;
				base_i = i;
			}
			if (due >= end_ns)
				break;
			if (now < due) {
				err = wait_until(p, due);
				if (err)
					break;
			}
		} else if (now >= end_ns) {
			break;
		} else if (now >= next_service_ns(p)) {
			err = service(p, now);
			if (err)
				break;
		}
		err = send_synth(p, &q, i);
		if (err)
			break;
	}
	free(p->scratch);
	p->scratch = NULL;
	return err == -EINTR ? 0 : err;
}

/* ---- summary ---- */

/* 0, or 1 if the JSON summary could not be written. */
static int print_summary(struct pub *p, const struct bcast_writer_stats *ws)
{
	double secs = p->msgs > 1 ? (double)(p->last_ns - p->first_ns) / 1e9 : 0;
	double rate = secs > 0 ? (double)p->msgs / secs : 0;
	double mbps = secs > 0 ? (double)p->bytes / secs / 1e6 : 0;
	struct json j;
	int err;

	if (p->progress_shown)
		fputs("\r\033[K", stderr);
	if (p->o.json) {
		json_begin(&j, stdout, JSON_COMPACT, 0);
		json_object(&j);
		json_member_string(&j, "ring", p->o.name);
		json_member_u64(&j, "messages", p->msgs);
		json_member_u64(&j, "bytes", p->bytes);
		json_member_double(&j, "seconds", secs, 6);
		json_member_double(&j, "msg_per_s", rate, 1);
		json_member_double(&j, "mb_per_s", mbps, 3);
		json_member_u64(&j, "frames", ws->frames);
		json_member_u64(&j, "heartbeats", ws->heartbeats);
		json_member_u64(&j, "notifies", ws->notifies);
		json_object_end(&j);
		err = json_end_flush(&j);
		if (err && err != -EPIPE) {
			cli_error("writing the summary: %s", strerror(-err));
			return 1;
		}
	} else if (!p->o.quiet) {
		fprintf(stderr, "%s: %" PRIu64 " messages, %" PRIu64 " bytes in "
			"%.3f s (%.0f msg/s, %.2f MB/s)\n", PROG, p->msgs,
			p->bytes, secs, rate, mbps);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pub p = { 0 };
	struct bcast_writer_stats ws = { 0 };
	int status, err;

	cli_prog = PROG;
	parse_args(&p.o, argc, argv);
	status = open_writer(&p);
	if (status) {
		if (p.r)
			bcast_ring_close(p.r);
		return status;
	}
	install_signals();
	/* Timed sleeps of the pacer should end when asked, not 50 us late. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	p.hb_ns = (uint64_t)(p.o.heartbeat * 1e9);
	p.last_activity_ns = p.progress_ns = cli_now_ns();
	p.progress = !p.o.quiet && isatty(STDERR_FILENO);
	p.next_progress_ns = p.progress_ns + PROGRESS_NS;

	err = p.o.mode == IN_SYNTH ? run_synth(&p) : run_stdin(&p);
	if (err == -EINTR)
		err = 0;	/* SIGINT/SIGTERM: a clean end */
	if (flush_deferred(&p) && !err)
		err = -EIO;
	bcast_writer_stats(p.w, &ws);
	bcast_writer_close(p.w);
	bcast_ring_close(p.r);
	if (print_summary(&p, &ws))
		return 1;
	return err ? 1 : 0;
}
