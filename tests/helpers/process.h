/* SPDX-License-Identifier: MIT */
/* Who a process is, as the library tells writers apart. */
#ifndef BCAST_TEST_PROCESS_H
#define BCAST_TEST_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

/* The fields of /proc/PID/stat after the command's name, from the state
 * (field 3) on, read into buf; NULL if the process is gone. */
char *process_stat(pid_t pid, char *buf, size_t len);

/* When process pid started (field 22 of /proc/PID/stat, clock ticks since
 * boot); 0 if that cannot be read. */
uint64_t process_start(pid_t pid);

/* The writer_lock word of a writer that is process pid, started at
 * `start` (BCAST_LOCK_* in the ABI). */
uint64_t writer_lock_token(pid_t pid, uint64_t start);

#endif
