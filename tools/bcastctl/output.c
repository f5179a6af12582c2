// SPDX-License-Identifier: MIT
/*
 * What the commands print alike: sizes, the writer and the readers in
 * words, and the JSON document on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcastctl.h"

const char *fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (v && !(v & 1023) && u < 3) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	return buf;
}

void json_start(struct json *j, unsigned wrap)
{
	json_begin(j, stdout, JSON_SPACED, wrap);
}

void member_count(struct json *j, const char *key, long val)
{
	if (val < 0)
		json_member_null(j, key);
	else
		json_member_i64(j, key, val);
}

int json_finish(struct json *j)
{
	int err = json_end_flush(j);

	if (err) {
		cli_error("writing JSON to stdout: %s", strerror(-err));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

void writer_text(const struct snap *s, char *buf, size_t len)
{
	if (s->writer_alive && s->have_hdr)
		snprintf(buf, len, "alive, pid %ld, epoch %llu", s->writer_pid,
			 (unsigned long long)s->epoch);
	else if (s->writer_alive)
		snprintf(buf, len, "alive, pid %ld", s->writer_pid);
	else if (!s->have_hdr)
		snprintf(buf, len, "none");
	else if (!s->epoch)
		snprintf(buf, len, "none (never had one)");
	else
		snprintf(buf, len, "none (the last one left; epoch %llu)",
			 (unsigned long long)s->epoch);
}

void readers_text(const struct snap *s, char *buf, size_t len)
{
	if (s->readers < 0)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%ld", s->readers);
}
