/* SPDX-License-Identifier: MIT */
/*
 * A streaming JSON writer: what every tool prints with --json.
 *
 * Values go straight to a FILE* as they are given: nothing is allocated
 * and nothing is kept but a few words of state, so a document of any size
 * (or one per message) costs only its bytes.  Separators, the colon after
 * a key, spacing and line breaks are the writer's business: compact or
 * spaced, and objects and arrays nested at most `wrap` deep put each of
 * their members on a line of its own, indented two spaces a level (0: one
 * line; 1: bcastctl list's one ring a line; JSON_MAX_DEPTH: every member).
 *
 * Strings: bytes go out as they are where JSON allows it (UTF-8 included);
 * '"' and '\' are escaped, so are the control characters (\b \f \n \r \t,
 * the others and DEL as \u00XX).  A byte that is not part of well-formed
 * UTF-8 (a file name may hold any byte) is written as \u00XX, the code
 * point of the same value (what Latin-1 makes of it): the document stays
 * valid UTF-8 that every parser takes, and no byte is dropped.
 *
 * Numbers: integers exact; doubles with a fixed number of decimals (the C
 * locale's '.': the tools never call setlocale()), NaN and the infinities
 * as null, since JSON has no such numbers.
 *
 * Misuse (a value where a key must come, a key outside an object, closing
 * what is not open, a second top-level value, nesting deeper than
 * JSON_MAX_DEPTH) stops the output where it happened; json_end() then
 * says so.  A document is therefore well-formed or visibly cut short.
 */
#ifndef BCAST_TOOLS_JSON_H
#define BCAST_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH	32	/* open objects and arrays at once */

enum json_style {
	JSON_COMPACT,	/* {"a":1,"b":[1,2]} */
	JSON_SPACED,	/* {"a": 1, "b": [1, 2]} */
};

struct json {
	FILE *f;
	enum json_style style;
	unsigned wrap;		/* depth up to which members go on lines */
	int err;		/* 0, or why the output stopped */
	unsigned depth;		/* containers open */
	uint32_t objects;	/* bit d: the container at depth d + 1 is an object */
	uint32_t nonempty;	/* bit d: it has a member or element already */
	bool key_pending;	/* a key was written, its value comes next */
	bool done;		/* the top-level value is complete */
};

/* Start a document on `f` (nothing is written yet). */
void json_begin(struct json *j, FILE *f, enum json_style style,
		unsigned wrap);
/*
 * End the document with a newline.  0; -EINVAL if it was misused or is
 * incomplete, -E2BIG if it nested too deep (the output stopped there, no
 * newline), -EIO if the stream has an error.  json_begin() may start the
 * next document on the same struct.
 */
int json_end(struct json *j);
/* json_end(), then fflush(): the document is out, or -errno says why not. */
int json_end_flush(struct json *j);

void json_object(struct json *j);
void json_object_end(struct json *j);
void json_array(struct json *j);
void json_array_end(struct json *j);
/* In an object: the key of the value that comes next. */
void json_key(struct json *j, const char *key);

void json_string(struct json *j, const char *s);	/* NULL: null */
void json_string_bytes(struct json *j, const void *p, size_t len);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_double(struct json *j, double v, int decimals);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* A key and its value: most of what the tools write. */
void json_member_string(struct json *j, const char *key, const char *s);
void json_member_u64(struct json *j, const char *key, uint64_t v);
void json_member_i64(struct json *j, const char *key, int64_t v);
void json_member_double(struct json *j, const char *key, double v,
			int decimals);
void json_member_bool(struct json *j, const char *key, bool v);
void json_member_null(struct json *j, const char *key);

#endif /* BCAST_TOOLS_JSON_H */
