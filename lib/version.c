// SPDX-License-Identifier: MIT
/*
 * The library's version.  The build passes the VERSION file's numbers in;
 * the public header carries its own copy for programs to test at compile
 * time, and the two must agree.
 */
#include "internal.h"

_Static_assert(BCAST_VERSION_MAJOR == BCAST_BUILD_MAJOR &&
	       BCAST_VERSION_MINOR == BCAST_BUILD_MINOR &&
	       BCAST_VERSION_PATCH == BCAST_BUILD_PATCH,
	       "include/bcast.h's BCAST_VERSION_* differ from the VERSION file");

BCAST_EXPORT const char *bcast_version(void)
{
	return BCAST_BUILD_VERSION;
}
