// SPDX-License-Identifier: MIT
/* The streaming JSON writer; what it writes and why is in json.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

void json_begin(struct json *j, FILE *f, enum json_style style,
		unsigned wrap)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->style = style;
	j->wrap = wrap;
}

int json_end(struct json *j)
{
	if (!j->err && (j->depth || !j->done || j->key_pending))
		j->err = -EINVAL;
	if (j->err)
		return j->err;
	fputc('\n', j->f);
	return ferror(j->f) ? -EIO : 0;
}

int json_end_flush(struct json *j)
{
	int err = json_end(j);

	if (err)
		return err;
	return fflush(j->f) ? -errno : 0;
}

/* The container the next member or element goes into: bit depth - 1. */
static uint32_t level_bit(const struct json *j)
{
	return 1u << (j->depth - 1);
}

static bool in_object(const struct json *j)
{
	return j->depth && (j->objects & level_bit(j));
}

static bool fail(struct json *j, int err)
{
	if (!j->err)
		j->err = err;
	return false;
}

static void indent(struct json *j, unsigned depth)
{
	fputc('\n', j->f);
	while (depth--)
		fputs("  ", j->f);
}

/* Before a member of an object or an element of an array. */
static void separate(struct json *j)
{
	bool first = !(j->nonempty & level_bit(j));

	if (!first)
		fputc(',', j->f);
	if (j->depth <= j->wrap)
		indent(j, j->depth);
	else if (j->style == JSON_SPACED && !first)
		fputc(' ', j->f);
	j->nonempty |= level_bit(j);
}

/* May a value go here?  Writes what separates it from the one before. */
static bool value_starts(struct json *j)
{
	if (j->err)
		return false;
	if (!j->depth)
		return j->done ? fail(j, -EINVAL) : true;
	if (in_object(j)) {
		if (!j->key_pending)
			return fail(j, -EINVAL);
		j->key_pending = false;
		return true;
	}
	separate(j);
	return true;
}

static void value_ends(struct json *j)
{
	if (!j->depth)
		j->done = true;
}

static void open_container(struct json *j, bool object)
{
	if (!value_starts(j))
		return;
	if (j->depth == JSON_MAX_DEPTH) {
		fail(j, -E2BIG);
		return;
	}
	j->depth++;
	if (object)
		j->objects |= level_bit(j);
	else
		j->objects &= ~level_bit(j);
	j->nonempty &= ~level_bit(j);
	fputc(object ? '{' : '[', j->f);
}

static void close_container(struct json *j, bool object)
{
	if (j->err)
		return;
	if (!j->depth || in_object(j) != object || j->key_pending) {
		fail(j, -EINVAL);
		return;
	}
	if (j->depth <= j->wrap && (j->nonempty & level_bit(j)))
		indent(j, j->depth - 1);
	fputc(object ? '}' : ']', j->f);
	j->depth--;
	value_ends(j);
}

void json_object(struct json *j)
{
	open_container(j, true);
}

void json_object_end(struct json *j)
{
	close_container(j, true);
}

void json_array(struct json *j)
{
	open_container(j, false);
}

void json_array_end(struct json *j)
{
	close_container(j, false);
}

/*
 * The length of the well-formed UTF-8 sequence at p (Unicode's table 3-7:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t utf8_sequence(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2)
		return 0;
	if (p[0] < 0xe0) {
		len = 2;
	} else if (p[0] < 0xf0) {
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] < 0xf5) {
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

/* The escape for byte c, or NULL when it goes out as it is. */
static const char *escape_of(unsigned char c, char buf[7])
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default: break;
	}
	if (c >= 0x20 && c != 0x7f)
		return NULL;
	snprintf(buf, 7, "\\u%04x", c);
	return buf;
}

/* Runs of bytes that need nothing go out in one fwrite(). */
static void put_string(FILE *f, const unsigned char *p, size_t len)
{
	size_t run = 0, i = 0;
	char buf[7];

	fputc('"', f);
	while (i < len) {
		size_t seq = utf8_sequence(p + i, len - i);
		const char *esc;

		if (!seq) {	/* not UTF-8: the byte as a code point */
			snprintf(buf, sizeof(buf), "\\u%04x", p[i]);
			esc = buf;
			seq = 1;
		} else {
			esc = seq == 1 ? escape_of(p[i], buf) : NULL;
		}
		if (!esc) {
			i += seq;
			run += seq;
			continue;
		}
		fwrite(p + i - run, 1, run, f);
		fputs(esc, f);
		run = 0;
		i += seq;
	}
	fwrite(p + i - run, 1, run, f);
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	if (j->err)
		return;
	if (!in_object(j) || j->key_pending) {
		fail(j, -EINVAL);
		return;
	}
	separate(j);
	put_string(j->f, (const unsigned char *)key, strlen(key));
	fputs(j->style == JSON_COMPACT ? ":" : ": ", j->f);
	j->key_pending = true;
}

void json_string_bytes(struct json *j, const void *p, size_t len)
{
	if (!value_starts(j))
		return;
	put_string(j->f, p, len);
	value_ends(j);
}

void json_string(struct json *j, const char *s)
{
	if (s)
		json_string_bytes(j, s, strlen(s));
	else
		json_null(j);
}

void json_u64(struct json *j, uint64_t v)
{
	if (!value_starts(j))
		return;
	fprintf(j->f, "%" PRIu64, v);
	value_ends(j);
}

void json_i64(struct json *j, int64_t v)
{
	if (!value_starts(j))
		return;
	fprintf(j->f, "%" PRId64, v);
	value_ends(j);
}

void json_double(struct json *j, double v, int decimals)
{
	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	if (!value_starts(j))
		return;
	fprintf(j->f, "%.*f", decimals, v);
	value_ends(j);
}

/* true, false, null */
static void put_word(struct json *j, const char *word)
{
	if (!value_starts(j))
		return;
	fputs(word, j->f);
	value_ends(j);
}

void json_bool(struct json *j, bool v)
{
	put_word(j, v ? "true" : "false");
}

void json_null(struct json *j)
{
	put_word(j, "null");
}

void json_member_string(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void json_member_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_u64(j, v);
}

void json_member_i64(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_i64(j, v);
}

void json_member_double(struct json *j, const char *key, double v,
			int decimals)
{
	json_key(j, key);
	json_double(j, v, decimals);
}

void json_member_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}

void json_member_null(struct json *j, const char *key)
{
	json_key(j, key);
	json_null(j);
}
