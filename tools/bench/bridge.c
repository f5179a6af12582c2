// SPDX-License-Identifier: MIT
/*
 * --tests bridge: ring -> bcast-bridge out -> NATS -> bcast-bridge in ->
 * ring, through one nats-server on 127.0.0.1 that this test starts, beside
 * a plain nats.c publisher -> subscriber through the same server.  The
 * bridge runs twice, batching (--flush-us 100) and not (--flush-us 0).
 * Throughput: N messages published as fast as the publisher goes, the
 * rate at which they arrive (messages lost counted); latency: messages
 * paced at --rate, each stamped with CLOCK_MONOTONIC, the receiver's
 * clock when it has it.  The three take turns within every round; the
 * ratios are per round, their median reported.
 */
#ifdef BCAST_HAVE_NATS
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nats/nats.h>
#include "bench.h"

enum path { PATH_NATS, PATH_BATCHED, PATH_UNBATCHED, PATH_COUNT };
static const char *const path_name[PATH_COUNT] = {
	"nats", "bridge-batched", "bridge-unbatched"
};
static const char *const path_desc[PATH_COUNT] = {
	"nats.c publisher -> subscriber",
	"ring -> bridge (--flush-us 100) -> ring",
	"ring -> bridge (--flush-us 0) -> ring",
};

#define TP_SIZES	2
static const size_t tp_size[TP_SIZES] = { 64, 4096 };
#define SRC_CAPACITY	(256ULL << 20)
#define QUIET_NS	(1000ULL * 1000 * 1000)	/* the end of a round */

/* Every message starts so: the round's tag, its index, when it left. */
struct head {
	uint64_t tag, index, sent_ns;
};

struct lane {
	enum path path;
	/* nats: two connections; bridge: the two rings and two processes */
	natsConnection *pub, *sub_nc;
	natsSubscription *sub;
	struct bcast_ring *src, *dst;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	pid_t out_pid, in_pid;
	char src_name[64], dst_name[64], subject[64];
	unsigned char *buf;
	size_t cap;
};

struct bridge_bench {
	const struct options *o;
	pid_t server;
	char url[64];
	char bridge_bin[PATH_MAX];
	struct lane lane[PATH_COUNT];
	uint64_t tag;
	/* per round */
	double *rate[TP_SIZES][PATH_COUNT];
	double *ratio[TP_SIZES][PATH_COUNT];
	uint64_t lost[TP_SIZES][PATH_COUNT], sent[TP_SIZES][PATH_COUNT];
	struct samples lat[PATH_COUNT];
	double *lat_ratio[PATH_COUNT];
};

/* What a failed measurement (die(), exit) must not leave behind. */
static struct bridge_bench *running;

static void clean_up(void)
{
	struct bridge_bench *b = running;
	int p;

	if (!b)
		return;
	running = NULL;
	for (p = 0; p < PATH_COUNT; p++) {
		struct lane *l = &b->lane[p];

		if (l->out_pid > 0)
			kill(l->out_pid, SIGKILL);
		if (l->in_pid > 0)
			kill(l->in_pid, SIGKILL);
		if (l->src_name[0])
			bcast_ring_destroy(l->src_name);
		if (l->dst_name[0])
			bcast_ring_destroy(l->dst_name);
	}
	if (b->server > 0)
		kill(b->server, SIGKILL);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		die("no free port on 127.0.0.1: %s", strerror(errno));
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static bool executable(const char *path)
{
	return !access(path, X_OK);
}

/* PROG's directory first (the tools are built side by side), then PATH. */
static bool find_program(const char *name, const char *const *extra,
			 char *out, size_t len)
{
	char self[PATH_MAX], *slash, *path, *dir, *save = NULL;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	bool found = false;

	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			if ((size_t)snprintf(out, len, "%s/%s", self, name) < len &&
			    executable(out))
				return true;
		}
	}
	path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	for (dir = strtok_r(path, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		found = (size_t)snprintf(out, len, "%s/%s", dir, name) < len &&
			executable(out);
	}
	free(path);
	for (; !found && extra && *extra; extra++) {
		snprintf(out, len, "%s", *extra);
		found = executable(out);
	}
	return found;
}

/* A child whose output goes nowhere (its errors to stderr, if `errors`). */
static pid_t spawn(char *const argv[], bool errors)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		if (!errors)
			dup2(null, STDERR_FILENO);
		execv(argv[0], argv);
		fprintf(stderr, PROG ": cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static natsConnection *connect_server(const char *url, double patience_s)
{
	natsConnection *nc = NULL;
	double until = now_s() + patience_s;
	natsStatus s;

	do {
		s = natsConnection_ConnectTo(&nc, url);
		if (s == NATS_OK)
			return nc;
		sleep_us(50000);
	} while (now_s() < until);
	die("cannot connect to %s: %s", url, natsStatus_GetText(s));
}

static void start_server(struct bridge_bench *b)
{
	static const char *const where[] = { "/usr/sbin/nats-server", NULL };
	char bin[PATH_MAX], port[16];
	int p = free_port();

	if (!find_program("nats-server", where, bin, sizeof(bin)))
		die("--tests bridge needs nats-server (apt-get install "
		    "nats-server)");
	snprintf(port, sizeof(port), "%d", p);
	snprintf(b->url, sizeof(b->url), "nats://127.0.0.1:%d", p);
	b->server = spawn((char *const[]){ bin, "-a", "127.0.0.1", "-p", port,
					   NULL }, false);
	natsConnection_Destroy(connect_server(b->url, 10));
}

/* The destination ring appears when the in bridge is up; a probe that
 * comes through says the out bridge is too. */
static void wait_lane(struct bridge_bench *b, struct lane *l);

static void open_bridge_lane(struct bridge_bench *b, struct lane *l)
{
	struct bcast_ring_opts ro = { .size = SRC_CAPACITY };
	char *flush = l->path == PATH_BATCHED ? "100" : "0";
	int pid = (int)getpid(), err;

	snprintf(l->src_name, sizeof(l->src_name), "shm:bcast-bench-bridge-%d-%s-src",
		 pid, flush);
	snprintf(l->dst_name, sizeof(l->dst_name), "shm:bcast-bench-bridge-%d-%s-dst",
		 pid, flush);
	snprintf(l->subject, sizeof(l->subject), "bench.%d.%s", pid,
		 path_name[l->path]);
	err = bcast_ring_create(l->src_name, &ro, &l->src);
	if (!err)
		err = bcast_writer_open(l->src, &l->w);
	if (err)
		die("%s: %s", l->src_name, bcast_strerror(err));
	l->in_pid = spawn((char *const[]){ b->bridge_bin, "in", b->url,
		l->subject, l->dst_name, "--create", "--ring-size", "256M",
		NULL }, true);
	l->out_pid = spawn((char *const[]){ b->bridge_bin, "out", l->src_name,
		b->url, l->subject, "--flush-us", flush, NULL }, true);
	wait_lane(b, l);
}

static void open_nats_lane(struct bridge_bench *b, struct lane *l)
{
	natsStatus s;

	snprintf(l->subject, sizeof(l->subject), "bench.%d.nats", (int)getpid());
	l->pub = connect_server(b->url, 5);
	l->sub_nc = connect_server(b->url, 5);
	s = natsConnection_SubscribeSync(&l->sub, l->sub_nc, l->subject);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(l->sub, -1, -1);
	if (s == NATS_OK)
		s = natsConnection_Flush(l->sub_nc);
	if (s != NATS_OK)
		die("subscribing to '%s' on %s: %s", l->subject, b->url,
		    natsStatus_GetText(s));
}

static int lane_send(struct lane *l, const void *p, size_t len)
{
	natsStatus s;

	if (l->path != PATH_NATS)
		return bcast_publish(l->w, p, len, 1);
	s = natsConnection_Publish(l->pub, l->subject, p, (int)len);
	return s == NATS_OK ? 0 : -EIO;
}

/* The next message into l->buf: its length, 0 after `timeout_ms`. */
static size_t lane_recv(struct lane *l, int timeout_ms)
{
	uint64_t until = cli_now_ns() + (uint64_t)timeout_ms * 1000000;

	if (l->path == PATH_NATS) {
		natsMsg *m = NULL;
		size_t n;

		if (natsSubscription_NextMsg(&m, l->sub, timeout_ms) != NATS_OK)
			return 0;
		n = (size_t)natsMsg_GetDataLength(m);
		if (n > l->cap)
			n = l->cap;
		memcpy(l->buf, natsMsg_GetData(m), n);
		natsMsg_Destroy(m);
		return n;
	}
	for (;;) {
		struct bcast_msg m;
		ssize_t n = bcast_receive(l->rd, l->buf, l->cap, &m);
		uint64_t now;

		if (n >= 0)
			return (size_t)n;
		if (n == -BCAST_EOVERRUN)
			continue;	/* counted as not received */
		if (n != -EAGAIN && n != -EINPROGRESS && n != -BCAST_EWRITERGONE)
			die("reading %s: %s", l->dst_name, bcast_strerror((int)n));
		now = cli_now_ns();
		if (now >= until)
			return 0;
		bcast_wait(l->rd, (int)((until - now) / 1000000) + 1);
	}
}

static void wait_lane(struct bridge_bench *b, struct lane *l)
{
	struct head h = { .tag = ++b->tag };
	double until = now_s() + 15;
	int err;

	while ((err = bcast_ring_open(l->dst_name, BCAST_RDONLY, &l->dst))) {
		if (now_s() > until)
			die("bcast-bridge in did not create %s: %s", l->dst_name,
			    bcast_strerror(err));
		sleep_us(20000);
	}
	err = bcast_reader_open(l->dst, BCAST_FROM_LATEST, &l->rd);
	if (err)
		die("reading %s: %s", l->dst_name, bcast_strerror(err));
	for (;;) {
		if (lane_send(l, &h, sizeof(h)))
			die("publishing to %s", l->src_name);
		if (lane_recv(l, 200) >= sizeof(h))
			break;
		if (now_s() > until)
			die("nothing came through the bridge %s -> %s", l->src_name,
			    l->dst_name);
	}
	while (lane_recv(l, 100))
		;	/* the other probes */
}

static void close_lane(struct lane *l)
{
	if (l->path == PATH_NATS) {
		natsSubscription_Destroy(l->sub);
		natsConnection_Destroy(l->pub);
		natsConnection_Destroy(l->sub_nc);
		return;
	}
	stop(l->out_pid);
	stop(l->in_pid);
	l->out_pid = l->in_pid = 0;
	bcast_reader_close(l->rd);
	bcast_writer_close(l->w);
	bcast_ring_close(l->src);
	bcast_ring_close(l->dst);
	bcast_ring_destroy(l->src_name);
	bcast_ring_destroy(l->dst_name);
	l->src_name[0] = l->dst_name[0] = 0;
}

/* A round's sender: n messages of `size`, paced at `rate` (0: flat out). */
struct sender {
	struct lane *l;
	uint64_t tag, n, rate;
	size_t size;
	int err;
};

static void *send_all(void *arg)
{
	struct sender *s = arg;
	unsigned char *msg = calloc(1, s->size);
	struct head h = { .tag = s->tag };
	uint64_t t0 = cli_now_ns(), i;

	if (!msg) {
		s->err = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < s->n && !s->err; i++) {
		if (s->rate) {
			uint64_t at = t0 + i * 1000000000ULL / s->rate;

			while (cli_now_ns() < at)
				;
		}
		h.index = i;
		h.sent_ns = cli_now_ns();
		memcpy(msg, &h, sizeof(h));
		s->err = lane_send(s->l, msg, s->size);
	}
	if (s->l->path == PATH_NATS)
		natsConnection_Flush(s->l->pub);
	free(msg);
	return NULL;
}

/*
 * One round on one lane: n messages; the receiver stops at the last one
 * or after a second without any.  Returns the messages per second from
 * the first sent to the last received; latencies into `lat` if given.
 */
static double one_round(struct bridge_bench *b, struct lane *l, size_t size,
			uint64_t n, uint64_t rate, struct samples *lat,
			uint64_t *got_out)
{
	struct sender s = { .l = l, .tag = ++b->tag, .n = n, .rate = rate,
			    .size = size };
	uint64_t got = 0, t0, last = 0, quiet_since;
	pthread_t t;

	t0 = cli_now_ns();
	if (pthread_create(&t, NULL, send_all, &s))
		die("pthread_create failed");
	quiet_since = t0;
	while (got < n) {
		size_t len = lane_recv(l, 50);
		struct head h;
		uint64_t now = cli_now_ns();

		if (len < sizeof(h)) {
			if (now - quiet_since > QUIET_NS)
				break;
			continue;
		}
		memcpy(&h, l->buf, sizeof(h));
		if (h.tag != s.tag)
			continue;	/* an earlier round's */
		quiet_since = last = now;
		got++;
		if (lat)
			samples_add(lat, now - h.sent_ns);
		if (h.index == n - 1)
			break;
	}
	pthread_join(t, NULL);
	if (s.err)
		die("publishing on %s: %s", path_name[l->path],
		    s.err == -EIO ? "NATS refused" : bcast_strerror(s.err));
	*got_out = got;
	return got && last > t0 ? (double)got * 1e9 / (double)(last - t0) : 0;
}

static uint64_t messages_for(const struct options *o, size_t size)
{
	uint64_t most = SRC_CAPACITY / 2 / frame_total(size);
	uint64_t n = o->messages ? o->messages : size <= 256 ? 300000 : 40000;

	return n < most ? n : most;	/* the source ring never laps */
}

static double *rounds_array(int rounds)
{
	double *v = calloc((size_t)rounds, sizeof(double));

	if (!v)
		die("out of memory");
	return v;
}

static void measure(struct bridge_bench *b)
{
	const struct options *o = b->o;
	int r, z, p;

	for (r = 0; r < o->rounds; r++) {
		for (z = 0; z < TP_SIZES; z++) {
			uint64_t n = messages_for(o, tp_size[z]);

			for (p = 0; p < PATH_COUNT; p++) {
				int q = (p + r) % PATH_COUNT;	/* turns */
				uint64_t got;

				b->rate[z][q][r] = one_round(b, &b->lane[q],
					tp_size[z], n, 0, NULL, &got);
				b->sent[z][q] += n;
				b->lost[z][q] += n - got;
				if (o->verbose)
					fprintf(stderr, "bridge round %d %zu B %s: "
						"%.0f msgs/s, %" PRIu64 " of %"
						PRIu64 "\n", r, tp_size[z],
						path_name[q], b->rate[z][q][r],
						got, n);
			}
			for (p = 0; p < PATH_COUNT; p++)
				b->ratio[z][p][r] = b->rate[z][PATH_NATS][r] > 0 ?
					b->rate[z][p][r] / b->rate[z][PATH_NATS][r] : 0;
		}
		{
			struct samples round[PATH_COUNT] = { { 0 } };
			uint64_t got;

			for (p = 0; p < PATH_COUNT; p++) {
				int q = (p + r) % PATH_COUNT;
				size_t i;

				one_round(b, &b->lane[q], o->lat_size,
					  o->lat_samples, o->lat_rate, &round[q],
					  &got);
				for (i = 0; i < round[q].n; i++)
					samples_add(&b->lat[q], round[q].v[i]);
			}
			for (p = 0; p < PATH_COUNT; p++) {
				double ref = samples_pct(&round[PATH_NATS], 50);

				b->lat_ratio[p][r] = ref > 0 ?
					samples_pct(&round[p], 50) / ref : 0;
			}
			for (p = 0; p < PATH_COUNT; p++)
				samples_free(&round[p]);
		}
	}
}

static void print_figures(struct bridge_bench *b)
{
	const struct options *o = b->o;
	int z, p, i;

	printf("bridge: through one nats-server on 127.0.0.1, %d rounds, the "
	       "three taking turns\n", o->rounds);
	for (p = 0; p < PATH_COUNT; p++)
		printf("  %-17s %s\n", path_name[p], path_desc[p]);
	printf("  throughput (msgs/s, median)   %14s %14s %14s\n",
	       path_name[0], path_name[1], path_name[2]);
	for (z = 0; z < TP_SIZES; z++) {
		printf("  %5zu B x %-8" PRIu64 "            ", tp_size[z],
		       messages_for(o, tp_size[z]));
		for (p = 0; p < PATH_COUNT; p++)
			printf(" %14.0f", median(b->rate[z][p], o->rounds));
		printf("\n        / nats (per round)          ");
		for (p = 0; p < PATH_COUNT; p++)
			printf(" %13.2fx", median(b->ratio[z][p], o->rounds));
		printf("\n        lost                        ");
		for (p = 0; p < PATH_COUNT; p++)
			printf(" %13.2f%%", b->sent[z][p] ?
			       100.0 * (double)b->lost[z][p] / (double)b->sent[z][p] : 0);
		printf("\n");
	}
	printf("  latency (us), %zu B at %" PRIu64 " msgs/s, %" PRIu64
	       " a round\n  %-17s", o->lat_size, o->lat_rate, o->lat_samples, "");
	for (i = 0; i < NPCT; i++)
		printf(" %9s", pct_names[i]);
	printf("   p50 / nats\n");
	for (p = 0; p < PATH_COUNT; p++) {
		printf("  %-17s", path_name[p]);
		for (i = 0; i < NPCT; i++)
			printf(" %9.1f", samples_pct(&b->lat[p], pct_points[i]) / 1e3);
		printf("   %6.2fx\n", median(b->lat_ratio[p], o->rounds));
	}
	printf("\n");
}

static void json_figures(struct bridge_bench *b, struct json *j)
{
	const struct options *o = b->o;
	char key[64];
	int z, p;

	json_key(j, "bridge");
	json_object(j);
	json_member_i64(j, "rounds", o->rounds);
	json_key(j, "throughput");
	json_array(j);
	for (z = 0; z < TP_SIZES; z++) {
		json_object(j);
		json_member_u64(j, "size", tp_size[z]);
		json_member_u64(j, "messages", messages_for(o, tp_size[z]));
		for (p = 0; p < PATH_COUNT; p++) {
			snprintf(key, sizeof(key), "%s_msgs_per_s", path_name[p]);
			json_member_double(j, key, median(b->rate[z][p], o->rounds), 0);
			snprintf(key, sizeof(key), "%s_per_nats", path_name[p]);
			json_member_double(j, key, median(b->ratio[z][p], o->rounds), 4);
			snprintf(key, sizeof(key), "%s_lost", path_name[p]);
			json_member_u64(j, key, b->lost[z][p]);
		}
		json_object_end(j);
	}
	json_array_end(j);
	json_key(j, "latency");
	json_object(j);
	json_member_u64(j, "size", o->lat_size);
	json_member_u64(j, "rate", o->lat_rate);
	for (p = 0; p < PATH_COUNT; p++) {
		json_key(j, path_name[p]);
		json_samples(j, &b->lat[p]);
		snprintf(key, sizeof(key), "%s_p50_per_nats", path_name[p]);
		json_member_double(j, key, median(b->lat_ratio[p], o->rounds), 4);
	}
	json_object_end(j);
	json_object_end(j);
}

void bridge_run(const struct options *o, struct json *json)
{
	struct bridge_bench b = { .o = o };
	int z, p;

	if (!find_program("bcast-bridge", NULL, b.bridge_bin,
			  sizeof(b.bridge_bin)))
		die("--tests bridge needs bcast-bridge beside " PROG " or in PATH");
	for (z = 0; z < TP_SIZES; z++)
		for (p = 0; p < PATH_COUNT; p++) {
			b.rate[z][p] = rounds_array(o->rounds);
			b.ratio[z][p] = rounds_array(o->rounds);
		}
	for (p = 0; p < PATH_COUNT; p++)
		b.lat_ratio[p] = rounds_array(o->rounds);
	running = &b;
	atexit(clean_up);
	start_server(&b);
	for (p = 0; p < PATH_COUNT; p++) {
		struct lane *l = &b.lane[p];

		l->path = (enum path)p;
		l->cap = 1 << 20;
		l->buf = malloc(l->cap);
		if (!l->buf)
			die("out of memory");
		if (p == PATH_NATS)
			open_nats_lane(&b, l);
		else
			open_bridge_lane(&b, l);
	}
	measure(&b);
	if (o->json)
		json_figures(&b, json);
	else
		print_figures(&b);
	for (p = 0; p < PATH_COUNT; p++) {
		close_lane(&b.lane[p]);
		free(b.lane[p].buf);
		samples_free(&b.lat[p]);
		free(b.lat_ratio[p]);
	}
	for (z = 0; z < TP_SIZES; z++)
		for (p = 0; p < PATH_COUNT; p++) {
			free(b.rate[z][p]);
			free(b.ratio[z][p]);
		}
	stop(b.server);
	running = NULL;
	nats_Close();
}
#else
#include "bench.h"

void bridge_run(const struct options *o, struct json *json)
{
	die("--tests bridge: this bcast-bench was built without nats.c "
	    "(libnats-dev)");
}
#endif
