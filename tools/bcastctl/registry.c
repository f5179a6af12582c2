// SPDX-License-Identifier: MIT
/*
 * The reader registry as info and stat show it: the slots, the gating
 * policy, and each registered reader's position, lag and losses.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bcastctl.h"

static int keep_entry(const struct bcast_reader_entry *e, void *arg)
{
	struct snap *s = arg;

	s->registered++;
	if (!e->alive)
		s->dead++;
	else if (e->joined) {
		if (e->lag_bytes > s->max_lag_bytes)
			s->max_lag_bytes = e->lag_bytes;
		if (e->lag_messages > s->max_lag_messages)
			s->max_lag_messages = e->lag_messages;
	}
	if (s->listed < SNAP_READERS_MAX)
		s->reg[s->listed++] = *e;
	return 0;
}

void snap_registry(const struct view *v, struct snap *s)
{
	struct bcast_ring_info in;

	if (!v->r || bcast_ring_info(v->r, &in))
		return;
	s->reader_slots = in.reader_slots;
	s->gated = in.gated;
	s->evict_bytes = in.evict_bytes;
	s->evict_ms = in.evict_ms;
	bcast_ring_readers(v->r, keep_entry, s);
}

/* "evicts a reader 16K behind or holding it 50 ms", or "" */
static void policy_text(const struct snap *s, char *buf, size_t len)
{
	char sz[32];

	if (s->evict_bytes && s->evict_ms)
		snprintf(buf, len, ", evicts a reader %s behind or holding it "
			 "%u ms", fmt_size(s->evict_bytes, sz, sizeof(sz)),
			 s->evict_ms);
	else if (s->evict_bytes)
		snprintf(buf, len, ", evicts a reader %s behind",
			 fmt_size(s->evict_bytes, sz, sizeof(sz)));
	else if (s->evict_ms)
		snprintf(buf, len, ", evicts a reader holding it %u ms",
			 s->evict_ms);
	else
		buf[0] = '\0';
}

void registry_text(const struct snap *s, char *buf, size_t len)
{
	char dead[32] = "", lag[96] = "", policy[96] = "", sz[32];

	if (!s->reader_slots) {
		snprintf(buf, len, "none");
		return;
	}
	if (s->dead)
		snprintf(dead, sizeof(dead), " (%u dead)", s->dead);
	if (s->registered > s->dead)
		snprintf(lag, sizeof(lag), ", most behind: %s, %llu messages",
			 fmt_size(s->max_lag_bytes, sz, sizeof(sz)),
			 (unsigned long long)s->max_lag_messages);
	policy_text(s, policy, sizeof(policy));
	snprintf(buf, len, "%u slots, %u registered%s%s%s%s", s->reader_slots,
		 s->registered, dead, lag, s->gated ? "; gated" : "; lossy",
		 policy);
}

/* Seconds since a reader was last active; -1 when never stamped. */
static double idle_seconds(const struct bcast_reader_entry *e)
{
	struct timespec ts;
	int64_t now;

	if (e->active_ns <= 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return now > e->active_ns ? (double)(now - e->active_ns) / 1e9 : 0;
}

void registry_table(const struct snap *s, const char *indent)
{
	unsigned i;

	if (!s->reader_slots) {
		printf("%sno reader registry on this ring\n", indent);
		return;
	}
	if (!s->registered) {
		printf("%sno registered readers\n", indent);
		return;
	}
	printf("%s%5s %8s %-7s %14s %12s %10s %8s %10s %12s %6s %8s\n", indent,
	       "slot", "pid", "state", "position", "lag_bytes", "lag_msgs",
	       "overruns", "lost_msgs", "lost_bytes", "evict", "idle_s");
	for (i = 0; i < s->listed; i++) {
		const struct bcast_reader_entry *e = &s->reg[i];
		double idle = idle_seconds(e);
		char idle_txt[24];

		if (idle < 0)
			snprintf(idle_txt, sizeof(idle_txt), "-");
		else
			snprintf(idle_txt, sizeof(idle_txt), "%.1f", idle);
		printf("%s%5u %8ld %-7s %14llu %12llu %10llu %8llu %10llu %12llu "
		       "%6llu %8s\n", indent, e->slot, (long)e->pid,
		       !e->alive ? "dead" : e->joined ? "reading" : "joining",
		       (unsigned long long)e->position,
		       (unsigned long long)e->lag_bytes,
		       (unsigned long long)e->lag_messages,
		       (unsigned long long)e->overruns,
		       (unsigned long long)e->lost_messages,
		       (unsigned long long)e->lost_bytes,
		       (unsigned long long)e->evictions, idle_txt);
	}
	if (s->registered > s->listed)
		printf("%s... and %u more\n", indent, s->registered - s->listed);
}

static void entry_json(struct json *j, const struct bcast_reader_entry *e)
{
	double idle = idle_seconds(e);

	json_object(j);
	json_member_u64(j, "slot", e->slot);
	json_member_i64(j, "pid", e->pid);
	json_member_bool(j, "alive", e->alive);
	json_member_bool(j, "joined", e->joined);
	json_member_u64(j, "position", e->position);
	json_member_u64(j, "lag_bytes", e->lag_bytes);
	json_member_u64(j, "lag_messages", e->lag_messages);
	json_member_u64(j, "overruns", e->overruns);
	json_member_u64(j, "lost_messages", e->lost_messages);
	json_member_u64(j, "lost_bytes", e->lost_bytes);
	json_member_u64(j, "evictions", e->evictions);
	if (idle < 0)
		json_member_null(j, "idle_seconds");
	else
		json_member_double(j, "idle_seconds", idle, 3);
	json_object_end(j);
}

void registry_json(struct json *j, const struct snap *s, bool list)
{
	unsigned i;

	json_member_u64(j, "reader_slots", s->reader_slots);
	json_member_bool(j, "gated", s->gated);
	json_member_u64(j, "evict_bytes", s->evict_bytes);
	json_member_u64(j, "evict_ms", s->evict_ms);
	json_member_u64(j, "registered", s->registered);
	json_member_u64(j, "registered_dead", s->dead);
	json_member_u64(j, "max_lag_bytes", s->max_lag_bytes);
	json_member_u64(j, "max_lag_messages", s->max_lag_messages);
	if (!list)
		return;
	json_key(j, "registered_readers");
	json_array(j);
	for (i = 0; i < s->listed; i++)
		entry_json(j, &s->reg[i]);
	json_array_end(j);
}

void registry_lines(const struct snap *s)
{
	unsigned i;

	for (i = 0; i < s->listed; i++) {
		const struct bcast_reader_entry *e = &s->reg[i];

		printf("reader slot=%u pid=%ld alive=%d position=%llu "
		       "lag_bytes=%llu lag_messages=%llu overruns=%llu "
		       "lost_messages=%llu lost_bytes=%llu evictions=%llu\n",
		       e->slot, (long)e->pid, e->alive,
		       (unsigned long long)e->position,
		       (unsigned long long)e->lag_bytes,
		       (unsigned long long)e->lag_messages,
		       (unsigned long long)e->overruns,
		       (unsigned long long)e->lost_messages,
		       (unsigned long long)e->lost_bytes,
		       (unsigned long long)e->evictions);
	}
}
