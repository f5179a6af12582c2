/* SPDX-License-Identifier: MIT */
/*
 * bcast-bench: what its parts share.  main.c parses options and prints the
 * verdicts; throughput.c, latency.c and wakeup.c each measure one thing
 * against the baselines of channel.c (pipe, Unix socket, ZeroMQ) and the
 * bare reference ring of refring.h; plot.c draws the figures.
 */
#ifndef BCAST_BENCH_H
#define BCAST_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "bcast.h"
#include <linux/bcast.h>
#include "cli.h"
#include "json.h"

#define PROG "bcast-bench"
#define MAX_SIZES 64
#define MAX_TP_VERDICTS 64

/* What is measured; the first two are rings, the rest kernel channels. */
enum impl {
	IMPL_BCAST, IMPL_REF, IMPL_PIPE, IMPL_UNIX, IMPL_ZMQ, IMPL_COUNT
};
extern const char *const impl_name[IMPL_COUNT];
extern const char *const impl_desc[IMPL_COUNT];

enum mode { MODE_RECEIVE, MODE_BATCH, MODE_BULK };
extern const char *const mode_name[3];

#define TEST_THROUGHPUT	0x1
#define TEST_LATENCY	0x2
#define TEST_WAKEUP	0x4
#define TEST_FANOUT	0x8
#define TEST_INSTRUCTIONS 0x10
#define TEST_NOTIFY	0x20
#define TEST_BRIDGE	0x40	/* not by default: it starts nats-server */

#define REGIME_HELD	0x1	/* the harness holds the writer back */
#define REGIME_FREE	0x2	/* the writer never waits */

struct options {
	unsigned tests;		/* TEST_* */
	unsigned impls;		/* 1 << impl: what runs */
	size_t sizes[MAX_SIZES];
	int nsizes;
	int rounds;
	double seconds;
	uint64_t capacity;
	unsigned modes;		/* 1 << mode: the bcast reader APIs measured */
	unsigned regimes;	/* REGIME_*: writer held back, free-running */
	bool json;
	bool verbose;
	uint64_t messages;	/* 0: calibrate per size */
	int wcpu, rcpu;
	int readers;		/* fan-out: 1..readers readers */
	int retries;		/* times a disturbed pair may be run again */
	double settle;		/* seconds a size may wait for the machine */
	uint64_t bulk_window;	/* bytes one bulk read copies at most */
	/* latency */
	uint64_t lat_rate;	/* paced messages per second */
	uint64_t lat_samples;	/* per implementation and round */
	size_t lat_size;
	/* wake-ups */
	uint64_t wakeups;	/* per implementation and round */
	double wake_gap_us;	/* the reader is asleep this long before each */
	int poller_rings;	/* rings of each kind in the poller rows */
	unsigned poller_flags;	/* bcast_poller_create()'s */
	/* writer latency (notify) */
	int sleepers;		/* reader processes blocked in bcast_wait() */
	uint64_t notify_publishes; /* per notify mode and round */
	double notify_gap_us;	/* between two publishes */
	const char *plot;	/* PNG file, or NULL */
};

/* Samples of a latency-like figure in nanoseconds. */
struct samples {
	uint64_t *v;
	size_t n, cap;
	bool sorted;
};

void samples_add(struct samples *s, uint64_t ns);
double samples_pct(struct samples *s, double pct);	/* nanoseconds */
void samples_free(struct samples *s);

/* The percentiles every latency table shows. */
#define NPCT 6
extern const double pct_points[NPCT];
extern const char *const pct_names[NPCT];

/* Ring arithmetic every part needs, the same for bcast and the reference. */
static inline uint64_t frame_total(size_t len)
{
	return BCAST_FRAME_TOTAL(len);
}

/* libbcast's default MTU for a ring of `cap` data bytes. */
static inline uint64_t mtu_of(uint64_t cap)
{
	return BCAST_DEFAULT_MTU(cap);
}

/*
 * Backpressure: the most messages of `size` bytes that may be unread.  The
 * bcast writer's `claimed` frontier runs at most a chunk (capacity/256) or
 * the frame being written ahead of `committed`, and the end of a lap wastes
 * less than a frame, so this many frames never make a reader see an
 * overrun.  The reference uses the same figure.
 */
static inline uint64_t credit_of(uint64_t cap, size_t size)
{
	uint64_t chunk = 1ULL << bcast_chunk_shift(cap, BCAST_DEFAULT_MTU(cap));
	uint64_t n = (cap - chunk) / frame_total(size);

	return n > 3 ? n - 3 : 0;
}

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
double now_s(void);
double median(const double *v, int n);
void pin_self(int cpu, const char *who);
void sleep_us(double us);	/* the whole time, signals or not */
double cross_cpu_round_trip_ns(int cpu_a, int cpu_b);

/*
 * The two measured CPUs count as apart (a shared host moved the vCPUs
 * away from each other) while a cache line's round trip between them
 * takes over CPUS_APART times the fastest seen; rounds wait for that to
 * pass (cpu_watch_wait) and are run again when it happened during them
 * (cpu_watch_apart).  lo, hi: the round trips seen.
 */
#define CPUS_APART 2.0
struct cpu_watch {
	int cpu_a, cpu_b;
	bool quiet;
	double budget, waited;	/* seconds */
	double fastest, lo, hi;	/* ns */
};
double cpu_watch_trip(struct cpu_watch *w);
void cpu_watch_wait(struct cpu_watch *w, const char *what);
bool cpu_watch_apart(struct cpu_watch *w);
void json_samples(struct json *j, struct samples *s);


/*
 * A kernel channel from one writer to `n` readers: a pipe per reader
 * (length-prefixed stream, the reader drains it in big reads), a Unix
 * SOCK_SEQPACKET pair per reader (one message per system call), or one
 * ZeroMQ PUB socket with n SUB sockets over ipc://.
 */
#define CHANNEL_MAX_READERS 16
struct channel {
	enum impl impl;
	int n;
	int wfd[CHANNEL_MAX_READERS], rfd[CHANNEL_MAX_READERS];
	void *zctx, *zpub, *zsub[CHANNEL_MAX_READERS];
	char zpath[108];
	/* pipe readers: what one read() brought in */
	unsigned char *rbuf[CHANNEL_MAX_READERS];
	size_t rlen[CHANNEL_MAX_READERS], roff[CHANNEL_MAX_READERS];
};

bool channel_available(enum impl impl, const char **why);
int channel_open(struct channel *c, enum impl impl, int readers,
		 const char **what);
/* Send to every reader, blocking: 0 or -errno. */
int channel_send(struct channel *c, const void *p, size_t len);
/* Tell every reader the stream ended. */
void channel_end(struct channel *c);
/* Reader i's next message, blocking: its length, -EPIPE at the end, -errno. */
ssize_t channel_recv(struct channel *c, int i, void *buf, size_t cap);
void channel_close(struct channel *c);

/* Results that outlive a section: for the verdicts, the plot and JSON. */
/* What the wake-up test wakes (wakeup.c): bcast_wait() on shm and on the
 * device, a device reader's file in poll() and in io_uring (POLL_ADD,
 * bcast.ko's URING_CMD WAIT), a bcast_poller over many rings of each
 * kind, and for reference a raw futex, an eventfd (read, and POLL_ADD in
 * io_uring), epoll over as many eventfds as the pollers have rings, a
 * pipe, a socket. */
enum wake_kind {
	WAKE_BCAST_SHM, WAKE_POLLER_SHM, WAKE_FUTEX,
	WAKE_BCAST_DEV, WAKE_DEV_POLL, WAKE_DEV_URING_POLL, WAKE_DEV_URING_CMD,
	WAKE_POLLER_DEV, WAKE_EVENTFD, WAKE_EVENTFD_URING, WAKE_EPOLL,
	WAKE_PIPE, WAKE_UNIX, WAKE_COUNT
};

struct figures {
	/* throughput: median delivered msgs/s per size and implementation */
	int nsizes;
	size_t sizes[MAX_SIZES];
	double rate[MAX_SIZES][IMPL_COUNT];	/* 0: not measured */
	double paired_ref[MAX_SIZES];	/* receive-held / floor, per round */
	/* throughput: its targets, judged where they were measured */
	int ntp;
	struct tp_verdict {
		char what[48];
		double value, limit;	/* met when value >= limit */
	} tp[MAX_TP_VERDICTS];
	/* fan-out: the slowest reader's msgs/s, [readers - 1][impl] */
	int fan_readers;
	double fan_writer_ratio;	/* free writer: N readers / none */
	double fan_reader_ratio;	/* per CPU second: slowest of N / lone */
	double fan[CHANNEL_MAX_READERS][IMPL_COUNT];
	/* latency: samples per implementation, spinning and blocking bcast */
	struct samples lat[IMPL_COUNT];
	struct samples lat_bcast_wait;
	bool lat_done;
	/* wake-ups */
	struct samples wake[WAKE_COUNT];
	bool wake_done, wake_dev_done;
	double wake_paired[WAKE_COUNT];	/* median per-round p50 ratio to its
					 * reference (wake_reference()) */
	/* instructions: publish / ref-publish per size */
	bool icount_done;
	int icount_sizes;
	double icount_publish_ratio[MAX_SIZES];
};

/* Each section prints its figures, or with --json adds them to `json` as
 * one member of the top-level object (fan-out: two). */
void throughput_run(const struct options *o, struct figures *fig,
		    struct json *json);
void fanout_run(const struct options *o, struct figures *fig,
		struct json *json);
void latency_run(const struct options *o, struct figures *fig,
		 struct json *json);
void wakeup_run(const struct options *o, struct figures *fig,
		struct json *json);
void instructions_run(const struct options *o, struct figures *fig,
		      struct json *json);
void notify_run(const struct options *o, struct json *json);
void bridge_run(const struct options *o, struct json *json);
int icount_child(const char *phase, size_t size);
int plot_write(const struct options *o, struct figures *fig);

#endif /* BCAST_BENCH_H */
