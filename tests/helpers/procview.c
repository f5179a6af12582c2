// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "procview.h"

long process_syscall(pid_t pid)
{
	char path[64], buf[32];
	long nr = -2;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -2;
	if (fgets(buf, sizeof(buf), f))
		nr = strncmp(buf, "running", 7) ? strtol(buf, NULL, 10) : -1;
	fclose(f);
	return nr;
}

int wait_blocked_in(const pid_t *pids, int n, long nr, int ms)
{
	double deadline = now_s() + ms / 1e3;
	long got = -2;
	int i = 0;

	while (i < n) {
		got = process_syscall(pids[i]);
		if (got == nr) {
			i++;
			continue;
		}
		if (now_s() > deadline) {
			printf("# process %d is in system call %ld, not %ld, after %d ms\n",
			       (int)pids[i], got, nr, ms);
			return 0;
		}
		usleep(200);
	}
	return 1;
}

int uring_count(pid_t pid, int *fd)
{
	char dir[64], path[320], target[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, "anon_inode:[io_uring]"))
			continue;
		if (!n && fd)
			*fd = atoi(de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

int uring_positions(pid_t pid, int fd, struct uring_positions *p)
{
	char path[64], line[128];
	unsigned v, seen = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SqHead: %u", &v) == 1)
			p->sq_head = v, seen |= 1;
		else if (sscanf(line, "SqTail: %u", &v) == 1)
			p->sq_tail = v, seen |= 2;
		else if (sscanf(line, "CqHead: %u", &v) == 1)
			p->cq_head = v, seen |= 4;
		else if (sscanf(line, "CqTail: %u", &v) == 1)
			p->cq_tail = v, seen |= 8;
	}
	fclose(f);
	return seen == 15 ? 0 : -1;
}
