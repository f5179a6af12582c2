// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>
#include <linux/bcast.h>
#include "process.h"

char *process_stat(pid_t pid, char *buf, size_t len)
{
	char path[64], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	p = fgets(buf, (int)len, f);
	fclose(f);
	/* the name in parentheses may hold spaces: start from its end */
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' ? p + 2 : NULL;
}

uint64_t process_start(pid_t pid)
{
	char buf[1024], *p = process_stat(pid, buf, sizeof(buf));
	unsigned long long v = 0;
	int i;

	for (i = 3; p && i < 22; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		sscanf(p, "%llu", &v);
	return v;
}

uint64_t writer_lock_token(pid_t pid, uint64_t start)
{
	return ((start & BCAST_LOCK_START_MASK) << BCAST_LOCK_PID_BITS) |
	       ((uint64_t)pid & BCAST_LOCK_PID_MASK);
}
