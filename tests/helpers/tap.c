// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdbool.h>
#include "tap.h"

#define MAX_TESTS 128

struct test_case {
	const char *name;
	void (*fn)(void);
};

static struct test_case test_cases[MAX_TESTS];
static int test_count;
static bool failed_now;

void tap_register(const char *name, void (*fn)(void))
{
	if (test_count < MAX_TESTS)
		test_cases[test_count++] = (struct test_case){ name, fn };
}

void tap_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	failed_now = true;
}

/* BCAST_TESTS=name,name: run only those (the others are skipped). */
static bool selected(const char *name)
{
	const char *list = getenv("BCAST_TESTS"), *p;
	size_t len = strlen(name);

	if (!list || !*list)
		return true;
	for (p = list; (p = strstr(p, name)); p += len)
		if ((p == list || p[-1] == ',') && (!p[len] || p[len] == ','))
			return true;
	return false;
}

int tap_run(void)
{
	int i, failed = 0;

	printf("TAP version 13\n1..%d\n", test_count);
	fflush(stdout);
	for (i = 0; i < test_count; i++) {
		if (!selected(test_cases[i].name)) {
			printf("ok %d - %s # SKIP not in BCAST_TESTS\n", i + 1,
			       test_cases[i].name);
			continue;
		}
		failed_now = false;
		test_cases[i].fn();
		printf("%sok %d - %s\n", failed_now ? "not " : "", i + 1,
		       test_cases[i].name);
		fflush(stdout);
		failed += failed_now;
	}
	return failed ? 1 : 0;
}
