// SPDX-License-Identifier: MIT
/* bcastctl stat: a ring watched, refreshed every --interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bcastctl.h"

static const char usage_stat[] =
"Usage: bcastctl stat NAME [--interval SECONDS] [--count N] [--readers]\n"
"                         [--device] [--json]\n"
"\n"
"Watch a ring: committed and claimed positions, messages and payload bytes\n"
"published so far and their rates per second, writer, huge pages,\n"
"readers and the reader registry (registered readers, the largest lag).\n"
"On a terminal the display is\n"
"redrawn in place; otherwise one line of KEY=VALUE pairs (or, with --json,\n"
"one JSON object) is printed per refresh.  Ctrl-C ends it (exit 0).\n"
"\n"
"  -i, --interval SECONDS   time between refreshes (default 1; fractions ok)\n"
"  -c, --count N            stop after N refreshes\n"
"      --readers            also every registered reader (see 'info --help')\n"
"      --device             NAME must be a bcast.ko ring\n"
"      --json               one JSON object per refresh\n"
"  -h, --help               this help\n"
"\n"
"Exit status: 0 ok (also on Ctrl-C), 1 error, 2 bad command line, 3 no such\n"
"ring (also when it is removed while watched).\n";

static const char *fmt_rate(double bps, char *buf, size_t len)
{
	static const char *const units[] = { "B/s", "KiB/s", "MiB/s", "GiB/s" };
	unsigned u = 0;

	while (bps >= 1024 && u < 3) {
		bps /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bps, units[u]);
	return buf;
}

/* Sleep until `deadline` (CLOCK_MONOTONIC seconds) or a signal. */
static void sleep_until(double deadline)
{
	struct timespec ts;

	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	while (!cli_stop_requested &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void clock_text(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm) || !strftime(buf, len, "%H:%M:%S", &tm))
		snprintf(buf, len, "?");
}

/* Per second between two snapshots; < 0: unknown (first refresh, or no
 * counts from the header). */
struct rates {
	double bytes;		/* of `committed`: frame bytes */
	double messages;
	double payload;
};

static struct rates rates_between(const struct snap *a, const struct snap *b)
{
	double dt = b->time - a->time;
	struct rates r = { -1, -1, -1 };

	if (dt <= 0)
		return r;
	r.bytes = b->committed >= a->committed ?
		  (double)(b->committed - a->committed) / dt : 0;
	if (a->have_count && b->have_count && b->messages >= a->messages &&
	    b->payload >= a->payload) {
		r.messages = (double)(b->messages - a->messages) / dt;
		r.payload = (double)(b->payload - a->payload) / dt;
	}
	return r;
}

static int stat_json(const struct view *v, const struct snap *s, double dt,
		     const struct rates *r, bool readers)
{
	struct json j;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	json_start(&j, 0);
	json_object(&j);
	json_member_string(&j, "name", v->t.arg);
	json_member_double(&j, "time",
			   (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, 3);
	json_member_double(&j, "interval", dt, 3);
	json_member_u64(&j, "committed", s->committed);
	json_member_u64(&j, "claimed", s->claimed);
	member_count(&j, "messages", s->have_count ? (long)s->messages : -1);
	member_count(&j, "payload_bytes", s->have_count ? (long)s->payload : -1);
	json_member_double(&j, "bytes_per_sec", r->bytes, 0);
	member_count(&j, "messages_per_sec",
		     r->messages < 0 ? -1 : (long)(r->messages + 0.5));
	member_count(&j, "payload_bytes_per_sec",
		     r->payload < 0 ? -1 : (long)(r->payload + 0.5));
	json_member_bool(&j, "writer_alive", s->writer_alive);
	member_count(&j, "writer_pid", s->writer_alive ? s->writer_pid : -1);
	member_count(&j, "writer_epoch", s->have_hdr ? (long)s->epoch : -1);
	json_member_bool(&j, "hugepage", s->hugepage);
	member_count(&j, "readers", s->readers);
	registry_json(&j, s, readers);
	json_object_end(&j);
	return json_finish(&j);
}

/* A count or a rate for KEY=VALUE, "?" when it is not known. */
static void count_text(char *buf, size_t size, bool known, uint64_t v)
{
	if (known)
		snprintf(buf, size, "%llu", (unsigned long long)v);
	else
		snprintf(buf, size, "?");
}

static void rate_text(char *buf, size_t size, double v)
{
	if (v >= 0)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "?");
}

static void stat_line(const struct snap *s, const struct rates *r,
		      bool readers)
{
	char clk[16], rd[24], msgs[32], mrate[32], pay[32], prate[32];

	clock_text(clk, sizeof(clk));
	readers_text(s, rd, sizeof(rd));
	count_text(msgs, sizeof(msgs), s->have_count, s->messages);
	rate_text(mrate, sizeof(mrate), r->messages);
	count_text(pay, sizeof(pay), s->have_count, s->payload);
	rate_text(prate, sizeof(prate), r->payload);
	printf("time=%s committed=%llu claimed=%llu messages=%s "
	       "messages_per_sec=%s payload_bytes=%s payload_bytes_per_sec=%s "
	       "bytes_per_sec=%.0f writer_alive=%d "
	       "writer_pid=%ld writer_epoch=%llu hugepage=%d readers=%s "
	       "registered=%u max_lag_bytes=%llu max_lag_messages=%llu\n",
	       clk, (unsigned long long)s->committed,
	       (unsigned long long)s->claimed, msgs, mrate, pay, prate, r->bytes,
	       s->writer_alive, s->writer_alive ? s->writer_pid : 0,
	       (unsigned long long)s->epoch, s->hugepage, rd, s->registered,
	       (unsigned long long)s->max_lag_bytes,
	       (unsigned long long)s->max_lag_messages);
	if (readers)
		registry_lines(s);
}

/* The terminal view: a block redrawn in place.  Returns its line count. */
static int stat_screen(const struct view *v, const struct snap *s,
		       double interval, const struct rates *r, bool readers,
		       int prev_lines)
{
	char clk[16], sz[32], rt[32], buf[256];

	if (prev_lines)
		printf("\033[%dA\033[J", prev_lines);
	clock_text(clk, sizeof(clk));
	printf("%s  every %gs  %s  (Ctrl-C to quit)\n", v->t.arg, interval, clk);
	printf("  %-10s %s  %s\n", "backend", s->backend, v->path);
	printf("  %-10s %s, hugepage %s\n", "capacity",
	       fmt_size(s->capacity, sz, sizeof(sz)), s->hugepage ? "yes" : "no");
	if (r->bytes < 0)
		snprintf(rt, sizeof(rt), "measuring");
	else
		fmt_rate(r->bytes, rt, sizeof(rt));
	printf("  %-10s %llu  (%s)\n", "committed",
	       (unsigned long long)s->committed, rt);
	printf("  %-10s %llu\n", "claimed", (unsigned long long)s->claimed);
	if (!s->have_count)
		printf("  %-10s unknown\n", "messages");
	else if (r->messages < 0)
		printf("  %-10s %llu  (measuring)\n", "messages",
		       (unsigned long long)s->messages);
	else
		printf("  %-10s %llu  (%.0f msg/s, %s of payload)\n", "messages",
		       (unsigned long long)s->messages, r->messages,
		       fmt_rate(r->payload, rt, sizeof(rt)));
	writer_text(s, buf, sizeof(buf));
	printf("  %-10s %s\n", "writer", buf);
	readers_text(s, buf, sizeof(buf));
	printf("  %-10s %s\n", "readers", buf);
	registry_text(s, buf, sizeof(buf));
	printf("  %-10s %s\n", "registry", buf);
	if (!readers || !s->registered)
		return 9;
	registry_table(s, "  ");
	return 10 + (int)s->listed + (s->registered > s->listed);
}

int cmd_stat(int argc, char **argv)
{
	static const struct rates none = { -1, -1, -1 };
	struct watch_args a;
	struct snap prev, cur;
	struct view v;
	bool tty;
	int lines = 0, status = EXIT_SUCCESS;
	uint64_t n;

	watch_parse(argc, argv, &a, true, usage_stat);
	view_open(&v, a.name, a.device);
	/* Ctrl-C and SIGTERM end the loop (exit 0). */
	cli_catch_stop_signals();
	tty = !json_out && isatty(STDOUT_FILENO);
	if (snapshot(&v, &prev))
		no_ring(&v.t);
	if (tty) {
		lines = stat_screen(&v, &prev, a.interval, &none, a.readers, 0);
		fflush(stdout);
	}
	for (n = 0; !cli_stop_requested && (!a.count || n < a.count); n++) {
		struct rates r;

		sleep_until(prev.time + a.interval);
		if (cli_stop_requested)
			break;
		if (snapshot(&v, &cur)) {
			cli_error("ring '%s' was removed", a.name);
			status = EXIT_NORING;
			break;
		}
		r = rates_between(&prev, &cur);
		if (json_out)
			status = stat_json(&v, &cur, cur.time - prev.time, &r,
					   a.readers);
		else if (tty)
			lines = stat_screen(&v, &cur, a.interval, &r, a.readers,
					    lines);
		else
			stat_line(&cur, &r, a.readers);
		fflush(stdout);
		if (status)
			break;
		prev = cur;
	}
	view_close(&v);
	return status;
}
