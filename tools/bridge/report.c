// SPDX-License-Identifier: MIT
/* What a bridge did: a --stats line every --stats-every seconds on
 * stderr, and at the end a summary (--stats) or a JSON object (--json). */
#include <stdio.h>
#include "cli.h"
#include "json.h"
#include "bridge.h"

static uint64_t counter(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static double seconds(const struct bridge *br)
{
	return (double)(cli_now_ns() - br->started_ns) / 1e9;
}

static void line(struct bridge *br, const char *what)
{
	const struct bridge_stats *st = &br->st;
	double s = seconds(br);

	fprintf(stderr,
		"%s: %s %s %s %s: %llu messages (%.0f/s), %llu bytes, "
		"%llu packets, %llu fragments, %llu gaps (%llu lost), "
		"%llu duplicates, %llu reconnects, lag %llu%s\n",
		cli_prog, what, br->o.out ? "out" : "in",
		br->o.out ? br->o.ring : br->o.subject, br->o.out ?
		br->o.subject : br->o.ring,
		(unsigned long long)st->messages, s > 0 ? st->messages / s : 0.0,
		(unsigned long long)st->bytes, (unsigned long long)st->packets,
		(unsigned long long)st->fragments, (unsigned long long)st->gaps,
		(unsigned long long)st->lost, (unsigned long long)st->duplicates,
		(unsigned long long)counter(&st->reconnects),
		(unsigned long long)st->lag, br->o.out ? " bytes" : " packets");
}

void bridge_report_ready(struct bridge *br)
{
	const struct bridge_opts *o = &br->o;
	char url[256];

	if (!o->verbose)
		return;
	if (o->out)
		cli_error("bridging '%s' to '%s'%s%s%s on %s", o->ring, o->subject,
			  o->stream ? " (stream '" : "", o->stream ? o->stream : "",
			  o->stream ? "')" : "", bridge_server(br, url, sizeof(url)));
	else
		cli_error("bridging '%s'%s%s%s on %s to '%s'", o->subject,
			  o->stream ? " (stream '" : "", o->stream ? o->stream : "",
			  o->stream ? "')" : "", bridge_server(br, url, sizeof(url)),
			  o->ring);
}

void bridge_report_tick(struct bridge *br)
{
	uint64_t now;

	if (!br->o.stats || !br->o.stats_every)
		return;
	now = cli_now_ns();
	if (now - br->last_report_ns < (uint64_t)(br->o.stats_every * 1e9))
		return;
	br->last_report_ns = now;
	line(br, "now");
}

static void json_summary(struct bridge *br, const char *end)
{
	const struct bridge_stats *st = &br->st;
	double s = seconds(br);
	struct json j;

	json_begin(&j, stdout, JSON_COMPACT, 0);
	json_object(&j);
	json_member_string(&j, "mode", br->o.out ? "out" : "in");
	json_member_string(&j, "ring", br->o.ring);
	json_member_string(&j, "subject", br->o.subject);
	json_member_string(&j, "servers", br->o.servers);
	json_member_u64(&j, "messages", st->messages);
	json_member_u64(&j, "bytes", st->bytes);
	json_member_double(&j, "seconds", s, 6);
	json_member_double(&j, "msg_per_s", s > 0 ? st->messages / s : 0, 1);
	json_member_u64(&j, "packets", st->packets);
	json_member_u64(&j, "fragments", st->fragments);
	json_member_u64(&j, "states", st->states);
	json_member_u64(&j, "gaps", st->gaps);
	json_member_u64(&j, "lost", st->lost);
	json_member_u64(&j, "duplicates", st->duplicates);
	json_member_u64(&j, "bad_packets", st->bad_packets);
	json_member_u64(&j, "publish_errors", st->publish_errors);
	json_member_u64(&j, "epochs", st->epochs);
	json_member_u64(&j, "disconnects", counter(&st->disconnects));
	json_member_u64(&j, "reconnects", counter(&st->reconnects));
	json_member_u64(&j, "lag", st->lag);
	json_member_string(&j, "end", end);
	json_object_end(&j);
	if (json_end_flush(&j))
		cli_error("writing the JSON summary failed");
}

void bridge_report_end(struct bridge *br, const char *end)
{
	if (br->o.stats)
		line(br, "total");
	if (br->o.json)
		json_summary(br, end);
}
