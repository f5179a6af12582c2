/* SPDX-License-Identifier: MIT */
/* Settings from the environment: the long tests scale with them. */
#ifndef BCAST_TEST_ENV_H
#define BCAST_TEST_ENV_H

#include <stdint.h>

/* The number in variable `name` (decimal, 0x hex or 0 octal), else `def`;
 * a value that is not a number is ignored, saying so. */
uint64_t env_u64(const char *name, uint64_t def);
/* Is the running kernel at least MAJOR.MINOR? */
int kernel_at_least(int major, int minor);
/* As many open files as the hard limit allows (tests with 1,024 rings). */
void raise_fd_limit(void);

#endif
