/* SPDX-License-Identifier: MIT */
/* Rings for the tests to work on. */
#ifndef BCAST_TEST_FIXTURE_H
#define BCAST_TEST_FIXTURE_H

#include <stddef.h>

/* `len` zeroed bytes, page-aligned, for a ring attached to plain memory
 * (free() them); NULL when out of memory. */
void *ring_memory(size_t len);

#endif
