// SPDX-License-Identifier: MIT
/*
 * Racing processes at bcast.ko: four processes create and destroy the same
 * few names, open readers and writers by minor, make readers with
 * BCAST_IOC_OPEN_READER, map and unmap, arm, notify (with enough readers
 * that wake-ups go to the worker), register eventfds and close, all at
 * once.  Passes if every call returns, the kernel prints no WARNING/BUG
 * (the VM runner checks; a ring freed with readers or a writer counted
 * warns), and the memory of all rings comes back (a leaked reference
 * would keep one).
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include "common.h"

#define PROCS 4
#define FDS 48
#define NAMES 3

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int racer(int id, long ops)
{
	struct { void *p; size_t len; } map[8] = { { 0 } };
	int fd[FDS], efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), i;
	long creates = 0, opens = 0, readers = 0, maps = 0, notifies = 0;
	char name[16];
	long n;

	rng = 0x9e3779b97f4a7c15ULL * (id + 1);
	for (i = 0; i < FDS; i++)
		fd[i] = -1;
	for (n = 0; n < ops; n++) {
		int s = (int)(next() % FDS), m = (int)(next() % 8), f = fd[s];
		unsigned minor = (unsigned)(next() % 4);

		snprintf(name, sizeof(name), "rc%u", (unsigned)(next() % NAMES));
		switch (next() % 16) {
		case 0:
			creates += !ctl_create(name, next() % 2 ? 65536 : 2 << 20,
					       next() % 2 ? BCAST_RING_HUGEPAGE : 0,
					       NULL);
			break;
		case 1:
			if (!(next() % 4))
				ctl_destroy(name);
			break;
		case 2:
		case 3:
		case 4:
		case 5:
			if (f >= 0)
				close(f);
			fd[s] = open_ring(minor, next() % 4 ? O_RDONLY : O_RDWR);
			opens += fd[s] >= 0;
			break;
		case 6:
		case 7:
			if (f >= 0) {
				int x = ioctl(f, BCAST_IOC_OPEN_READER);
				int t = (int)(next() % FDS);

				if (x >= 0) {
					readers++;
					if (fd[t] >= 0)
						close(fd[t]);
					fd[t] = x;
				}
			}
			break;
		case 8:
			if (f >= 0 && !map[m].p) {
				struct bcast_dev_info di;

				if (ioctl(f, BCAST_IOC_INFO, &di))
					break;
				map[m].len = di.map_size;
				map[m].p = mmap(NULL, di.map_size, PROT_READ,
						MAP_SHARED, f, 0);
				if (map[m].p == MAP_FAILED)
					map[m].p = NULL;
				else
					maps += *(volatile char *)map[m].p == 'B';
			}
			break;
		case 9:
			if (map[m].p)
				munmap(map[m].p, map[m].len);
			map[m].p = NULL;
			break;
		case 10:
			if (f >= 0)
				arm_reader(f, 0, next() % 3,
					   next() % 2 ? BCAST_ARM_WRITER_GONE : 0);
			break;
		case 11:
		case 12:
			if (f >= 0)
				notifies += !ioctl(f, BCAST_IOC_NOTIFY);
			break;
		case 13:
			if (f >= 0)
				ioctl(f, BCAST_IOC_SET_EVENTFD, &efd);
			break;
		default:
			if (f >= 0) {
				struct pollfd p = { .fd = f,
						    .events = POLLIN | POLLPRI };

				poll(&p, 1, 0);
				close(f);
				fd[s] = -1;
			}
			break;
		}
	}
	for (i = 0; i < 8; i++)
		if (map[i].p)
			munmap(map[i].p, map[i].len);
	for (i = 0; i < FDS; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	close(efd);
	printf("# racer %d: %ld creates, %ld opens, %ld readers by ioctl, %ld mappings, %ld notifies\n",
	       id, creates, opens, readers, maps, notifies);
	return 0;
}

int main(void)
{
	long ops = getenv("BCAST_RACE_OPS") ? atol(getenv("BCAST_RACE_OPS")) :
		   60000;
	long free0, free1;
	pid_t kids[PROCS];
	int i, status, ok = 1, rc;
	unsigned minor;
	char name[16];

	printf("TAP version 13\n1..2\n");
	for (i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "rc%d", i);
		ctl_destroy(name);
	}
	free0 = free_memory_kb();
	for (i = 0; i < PROCS; i++) {
		kids[i] = fork();
		if (!kids[i])
			_exit(racer(i, ops));
	}
	for (i = 0; i < PROCS; i++) {
		if (waitpid(kids[i], &status, 0) != kids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			ok = 0;
	}
	for (i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "rc%d", i);
		ctl_destroy(name);
	}
	sleep(1);		/* let queued wake-ups drop their rings */
	free1 = free_memory_kb();
	printf("# %d processes x %ld racing calls; free memory %ld -> %ld kB\n",
	       PROCS, ops, free0, free1);
	printf("%sok 1 - racing create/destroy/open/mmap/notify/close\n",
	       ok ? "" : "not ");
	rc = ctl_create("rc-after", 65536, 0, &minor);
	ok = ok && !rc && free1 > free0 - 8192;
	ctl_destroy("rc-after");
	printf("%sok 2 - the rings' memory is back and a ring still works\n",
	       ok ? "" : "not ");
	return ok ? 0 : 1;
}
