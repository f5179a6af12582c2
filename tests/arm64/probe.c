// SPDX-License-Identifier: MIT
/*
 * What tests/arm64/run.sh tells about the emulator before the tests run,
 * built for aarch64 and run under qemu-aarch64:
 *
 *   probe hwcap      the CPU the program sees: with LSE atomics (CAS, LDADD,
 *                    SWP) or without, where the outline atomics the library
 *                    is compiled with take their LDAXR/STLXR loops
 *   probe proc-stat  does a process's own /proc/PID/stat give the start time
 *                    (field 22) that another process reads there?  The
 *                    library's writer identity (lib/owner.c) is pid + start
 *                    time; qemu-user answers a process's own stat file
 *                    itself, with qemu's start time (a fork() child keeps
 *                    its parent's), while other processes read the kernel's.
 *
 * Each prints one line and exits 0 (as on a kernel), 1 (differs) or 2 (the
 * probe itself failed).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

/* Field 22 of a stat file (start time in clock ticks), or -1. */
static long long start_time(const char *path)
{
	char buf[4096], *p;
	size_t n;
	FILE *f;
	int i;

	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* Fields 3 and on follow the command name's last ')'. */
	p = strrchr(buf, ')');
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	return p ? strtoll(p + 1, NULL, 10) : -1;
}

/* A fork() child reads its own /proc/self/stat; the parent reads the
 * child's /proc/PID/stat while it lives. */
static int probe_proc_stat(void)
{
	int up[2], down[2];
	long long own = -1, seen;
	char path[64], ch;
	pid_t c;

	if (pipe(up) || pipe(down))
		return 2;
	/* Let the clock move on (100 ticks/s): the child starts later than
	 * this process did. */
	usleep(200000);
	c = fork();
	if (c < 0)
		return 2;
	if (c == 0) {
		own = start_time("/proc/self/stat");
		if (write(up[1], &own, sizeof(own)) != sizeof(own) ||
		    read(down[0], &ch, 1) != 1)	/* live until read */
			_exit(2);
		_exit(0);
	}
	if (read(up[0], &own, sizeof(own)) != sizeof(own)) {
		waitpid(c, NULL, 0);
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)c);
	seen = start_time(path);
	if (write(down[1], "x", 1) != 1)
		return 2;
	waitpid(c, NULL, 0);
	if (own < 0 || seen < 0)
		return 2;
	printf("a fork() child's own /proc/self/stat says start time %lld, "
	       "its parent reads %lld in /proc/%d/stat\n", own, seen, (int)c);
	return own == seen ? 0 : 1;
}

static int probe_hwcap(void)
{
#if defined(__aarch64__)
	/* HWCAP_ATOMICS is bit 8 (asm/hwcap.h). */
	printf("aarch64, %s\n", getauxval(AT_HWCAP) & (1UL << 8) ?
	       "LSE atomics" :
	       "no LSE atomics (the outline atomics use LDAXR/STLXR loops)");
	return 0;
#else
	printf("not aarch64\n");
	return 1;
#endif
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "hwcap"))
		return probe_hwcap();
	if (argc == 2 && !strcmp(argv[1], "proc-stat"))
		return probe_proc_stat();
	fprintf(stderr, "usage: %s hwcap | proc-stat\n", argv[0]);
	return 2;
}
