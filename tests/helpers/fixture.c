// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

void *ring_memory(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len))
		return NULL;
	memset(p, 0, len);
	return p;
}
