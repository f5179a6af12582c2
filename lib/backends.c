// SPDX-License-Identifier: MIT
/*
 * The named backends, in the order they are asked whether a name is
 * theirs: file:PATH, then bcast.ko (/dev/... and, while the module is
 * loaded, bare names), then shared memory, which takes the rest.
 */
#include "internal.h"

static const struct ring_backend *const named[] = {
	&file_backend, &device_backend, &shm_backend,
};

#define NAMED (sizeof(named) / sizeof(named[0]))

const struct ring_backend *backend_of(const char *name)
{
	size_t i;

	for (i = 0; i < NAMED - 1; i++)
		if (named[i]->takes(name))
			return named[i];
	return named[NAMED - 1];	/* shm takes every name */
}

int backends_list(bcast_ring_list_fn fn, void *arg)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < NAMED; i++)
		if (named[i]->list)
			rc = named[i]->list(fn, arg);
	return rc;
}
