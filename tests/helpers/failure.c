// SPDX-License-Identifier: MIT
#include <stdio.h>
#include "failure.h"

void vfail(struct failure *f, const char *fmt, va_list ap)
{
	uint32_t none = FAILURE_NONE;

	if (!__atomic_compare_exchange_n(&f->state, &none, FAILURE_WRITING, 0,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	__atomic_store_n(&f->state, FAILURE_WRITTEN, __ATOMIC_RELEASE);
}

void fail(struct failure *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(f, fmt, ap);
	va_end(ap);
}
