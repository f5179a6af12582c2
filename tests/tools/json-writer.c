// SPDX-License-Identifier: MIT
/*
 * The tools' JSON writer (tools/common/json.c) on its own, built and run by
 * test-json.sh.
 *
 *   json-writer           TAP: exact output of every kind of value, each
 *                         style, every escape, invalid UTF-8, the depth
 *                         limit and each misuse
 *   json-writer strings   stdin: records (4-byte little-endian length, then
 *                         the bytes); stdout: one JSON array of them as
 *                         strings, for an independent decoder to check
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int tests, failures;

static void ok(int pass, const char *what)
{
	tests++;
	if (!pass)
		failures++;
	printf("%sok %d - %s\n", pass ? "" : "not ", tests, what);
}

/* A document written by fill() in `style`: its bytes and json_end()'s. */
struct doc {
	char *text;
	size_t len;
	int rc;
};

static struct doc write_doc(enum json_style style, unsigned wrap,
			    void (*fill)(struct json *))
{
	struct doc d = { NULL, 0, 0 };
	FILE *f = open_memstream(&d.text, &d.len);
	struct json j;

	if (!f) {
		perror("open_memstream");
		exit(1);
	}
	json_begin(&j, f, style, wrap);
	fill(&j);
	d.rc = json_end(&j);
	fclose(f);
	return d;
}

static void expect_wrapped(const char *what, enum json_style style,
			   unsigned wrap, void (*fill)(struct json *), int rc,
			   const char *text)
{
	struct doc d = write_doc(style, wrap, fill);
	int pass = d.rc == rc && d.len == strlen(text) &&
		   !memcmp(d.text, text, d.len);

	ok(pass, what);
	if (!pass)
		printf("#   got rc %d, \"%.*s\"\n#   expected rc %d, \"%s\"\n",
		       d.rc, (int)d.len, d.text, rc, text);
	free(d.text);
}

/* "a": [], "o": {} */
static void empty_containers(struct json *j)
{
	json_key(j, "a");
	json_array(j);
	json_array_end(j);
	json_key(j, "o");
	json_object(j);
	json_object_end(j);
}

/* On one line. */
static void expect(const char *what, enum json_style style,
		   void (*fill)(struct json *), int rc, const char *text)
{
	expect_wrapped(what, style, 0, fill, rc, text);
}

static void every_kind(struct json *j)
{
	json_object(j);
	json_member_string(j, "s", "x");
	json_member_string(j, "none", NULL);
	json_member_u64(j, "u", UINT64_MAX);
	json_member_i64(j, "i", INT64_MIN);
	json_member_double(j, "d", 1.5, 2);
	json_member_double(j, "d0", 2.5, 0);
	json_member_bool(j, "t", true);
	json_member_bool(j, "f", false);
	json_member_null(j, "n");
	empty_containers(j);
	json_object_end(j);
}

static void nested(struct json *j)
{
	json_object(j);
	json_member_u64(j, "a", 1);
	json_key(j, "b");
	json_array(j);
	json_u64(j, 1);
	json_object(j);
	json_member_null(j, "c");
	json_object_end(j);
	json_array_end(j);
	json_key(j, "e");
	json_array(j);
	json_array_end(j);
	json_object_end(j);
}

static void escapes(struct json *j)
{
	json_string(j, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f~");
}

static void key_escapes(struct json *j)
{
	json_object(j);
	json_member_u64(j, "\"k\\\n", 1);
	json_object_end(j);
}

static void utf8_valid(struct json *j)
{
	/* U+00E9, U+20AC, U+1F600, U+10FFFF, U+FFFD */
	json_string(j, "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf "
		       "\xef\xbf\xbd");
}

static void utf8_invalid(struct json *j)
{
	json_array(j);
	json_string(j, "\x80");			/* a lone continuation */
	json_string(j, "\xc0\xaf");		/* overlong '/' */
	json_string(j, "\xed\xa0\x80");		/* a surrogate, U+D800 */
	json_string(j, "\xf4\x90\x80\x80");	/* above U+10FFFF */
	json_string(j, "\xe2\x82");		/* cut short at the end */
	json_string(j, "\xe2\x82" "A\xe2\x82\xac");	/* cut short, then € */
	json_string(j, "\xff\xfe");
	json_array_end(j);
}

static void nul_byte(struct json *j)
{
	json_string_bytes(j, "a\0b", 3);
}

static void not_numbers(struct json *j)
{
	json_array(j);
	json_double(j, NAN, 3);
	json_double(j, INFINITY, 3);
	json_double(j, -INFINITY, 3);
	json_double(j, -0.25, 2);
	json_array_end(j);
}

static void deep(struct json *j, int levels)
{
	int i;

	for (i = 0; i < levels; i++)
		json_array(j);
	for (i = 0; i < levels; i++)
		json_array_end(j);
}

static void deepest(struct json *j)
{
	deep(j, JSON_MAX_DEPTH);
}

static void too_deep(struct json *j)
{
	deep(j, JSON_MAX_DEPTH + 1);
}

static void value_without_key(struct json *j)
{
	json_object(j);
	json_u64(j, 1);
	json_object_end(j);
}

static void key_in_array(struct json *j)
{
	json_array(j);
	json_key(j, "k");
	json_u64(j, 1);
	json_array_end(j);
}

static void key_twice(struct json *j)
{
	json_object(j);
	json_key(j, "a");
	json_key(j, "b");
	json_u64(j, 1);
	json_object_end(j);
}

static void wrong_close(struct json *j)
{
	json_object(j);
	json_array_end(j);
}

static void key_without_value(struct json *j)
{
	json_object(j);
	json_key(j, "a");
	json_object_end(j);
}

static void two_values(struct json *j)
{
	json_u64(j, 1);
	json_u64(j, 2);
}

static void unclosed(struct json *j)
{
	json_array(j);
	json_u64(j, 1);
}

static void nothing(struct json *j)
{
	(void)j;
}

static void top_level_key(struct json *j)
{
	json_key(j, "a");
}

/* Two documents through one struct, as bcastctl stat writes them. */
static void reuse(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct json j;
	int rc;

	json_begin(&j, f, JSON_SPACED, 0);
	json_u64(&j, 1);
	rc = json_end(&j);
	json_begin(&j, f, JSON_SPACED, 0);
	json_string(&j, "two");
	rc |= json_end(&j);
	fclose(f);
	ok(!rc && len == 8 && !memcmp(text, "1\n\"two\"\n", 8),
	   "json_begin starts the next document on the same struct");
	free(text);
}

/* A stream that cannot be written is an error json_end() reports. */
static void write_error(void)
{
	FILE *f = fopen("/dev/full", "w");
	struct json j;

	if (!f) {
		ok(1, "# SKIP no /dev/full");
		return;
	}
	setvbuf(f, NULL, _IONBF, 0);
	json_begin(&j, f, JSON_COMPACT, 0);
	json_string(&j, "lost");
	ok(json_end(&j) == -EIO, "a write error: -EIO");
	fclose(f);
}

static void empty_members(struct json *j)
{
	json_object(j);
	empty_containers(j);
	json_object_end(j);
}

static int self_test(void)
{
	char brackets[2 * JSON_MAX_DEPTH + 2];

	printf("1..24\n");
	expect("every kind of value, compact", JSON_COMPACT, every_kind, 0,
	       "{\"s\":\"x\",\"none\":null,\"u\":18446744073709551615,"
	       "\"i\":-9223372036854775808,\"d\":1.50,\"d0\":2,\"t\":true,"
	       "\"f\":false,\"n\":null,\"a\":[],\"o\":{}}\n");
	expect("spaced", JSON_SPACED, nested, 0,
	       "{\"a\": 1, \"b\": [1, {\"c\": null}], \"e\": []}\n");
	expect_wrapped("every member on its line", JSON_SPACED, JSON_MAX_DEPTH,
		       nested, 0,
		       "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    {\n"
		       "      \"c\": null\n    }\n  ],\n  \"e\": []\n}\n");
	expect_wrapped("the first level's members on lines", JSON_SPACED, 1,
		       nested, 0,
		       "{\n  \"a\": 1,\n  \"b\": [1, {\"c\": null}],\n"
		       "  \"e\": []\n}\n");
	expect("quotes, backslashes and control characters escaped",
	       JSON_COMPACT, escapes, 0,
	       "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f~\"\n");
	expect("keys escaped too", JSON_SPACED, key_escapes, 0,
	       "{\"\\\"k\\\\\\n\": 1}\n");
	expect("well-formed UTF-8 as it is", JSON_COMPACT, utf8_valid, 0,
	       "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf "
	       "\xef\xbf\xbd\"\n");
	expect("bytes outside well-formed UTF-8 as \\u00XX", JSON_COMPACT,
	       utf8_invalid, 0,
	       "[\"\\u0080\",\"\\u00c0\\u00af\",\"\\u00ed\\u00a0\\u0080\","
	       "\"\\u00f4\\u0090\\u0080\\u0080\",\"\\u00e2\\u0082\","
	       "\"\\u00e2\\u0082A\xe2\x82\xac\",\"\\u00ff\\u00fe\"]\n");
	expect("a NUL byte in counted bytes", JSON_COMPACT, nul_byte, 0,
	       "\"a\\u0000b\"\n");
	expect("NaN and infinities are null", JSON_COMPACT, not_numbers, 0,
	       "[null,null,null,-0.25]\n");
	memset(brackets, '[', JSON_MAX_DEPTH);
	memset(brackets + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	strcpy(brackets + 2 * JSON_MAX_DEPTH, "\n");
	expect("JSON_MAX_DEPTH levels", JSON_COMPACT, deepest, 0, brackets);
	brackets[JSON_MAX_DEPTH] = '\0';
	expect("one level more: -E2BIG, the output stops", JSON_COMPACT,
	       too_deep, -E2BIG, brackets);
	expect("a value without its key: -EINVAL", JSON_COMPACT,
	       value_without_key, -EINVAL, "{");
	expect("a key in an array: -EINVAL", JSON_COMPACT, key_in_array,
	       -EINVAL, "[");
	expect("two keys in a row: -EINVAL", JSON_COMPACT, key_twice, -EINVAL,
	       "{\"a\":");
	expect("closing an array that is an object: -EINVAL", JSON_COMPACT,
	       wrong_close, -EINVAL, "{");
	expect("a key without its value: -EINVAL", JSON_COMPACT,
	       key_without_value, -EINVAL, "{\"a\":");
	expect("a second top-level value: -EINVAL", JSON_COMPACT, two_values,
	       -EINVAL, "1");
	expect("an unclosed array: -EINVAL", JSON_COMPACT, unclosed, -EINVAL,
	       "[1");
	expect("no value at all: -EINVAL", JSON_COMPACT, nothing, -EINVAL, "");
	expect("a key outside any object: -EINVAL", JSON_COMPACT,
	       top_level_key, -EINVAL, "");
	expect_wrapped("empty containers stay on their line", JSON_SPACED,
		       JSON_MAX_DEPTH, empty_members, 0,
		       "{\n  \"a\": [],\n  \"o\": {}\n}\n");
	reuse();
	write_error();
	return failures ? 1 : 0;
}

/* Records on stdin to one array of strings on stdout. */
static int strings(void)
{
	unsigned char le[4], *buf = NULL;
	struct json j;
	size_t len;

	json_begin(&j, stdout, JSON_COMPACT, 0);
	json_array(&j);
	while (fread(le, 1, 4, stdin) == 4) {
		len = le[0] | (size_t)le[1] << 8 | (size_t)le[2] << 16 |
		      (size_t)le[3] << 24;
		buf = realloc(buf, len + 1);
		if (!buf || fread(buf, 1, len, stdin) != len) {
			fprintf(stderr, "json-writer: a short record\n");
			return 1;
		}
		json_string_bytes(&j, buf, len);
	}
	json_array_end(&j);
	free(buf);
	return json_end(&j) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "strings"))
		return strings();
	return self_test();
}
