// SPDX-License-Identifier: MIT
/*
 * Garbage at bcast.ko: >= 100,000 random ioctls, mmaps, munmaps, opens and
 * closes on the control device and on rings, with random commands, sizes,
 * pointers and flags.  Passes if every call returns (no hang), the kernel
 * stays sane (the VM runner fails on any BUG/WARNING/Oops), and a ring still
 * works afterwards.  A tick every 5 ms interrupts what may sleep on purpose
 * (BCAST_IOC_WAIT with a random timeout): it must return -EINTR then.
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include "common.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned char *scratch;		/* a page of garbage, then a hole */
static long page;

/* A pointer an ioctl might be handed: valid, NULL, unmapped, straddling. */
static void *random_pointer(void)
{
	switch (next() % 6) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)next();
	case 2:
		return scratch + page - (next() % 16);	/* runs into the hole */
	case 3:
		return scratch + page + 8;		/* unmapped */
	default:
		for (int i = 0; i < 128; i++)
			scratch[i] = (unsigned char)next();
		if (next() % 2) {
			/* mostly sensible create requests, random details */
			struct bcast_ctl_create *c = (void *)scratch;

			snprintf(c->name, sizeof(c->name), "fz%u",
				 (unsigned)(next() % 8));
			c->size = 1ULL << (next() % 24);
			c->flags = next() % 3;
			c->mode = next() % 2 ? 0600 : (uint32_t)next();
			c->reader_slots = next() % 4 ? 0 : next() % 2 ?
				(uint32_t)next() : (uint32_t)(next() % 8);
		}
		return scratch;
	}
}

static void on_tick(int sig)
{
	(void)sig;
}

static unsigned long random_cmd(void)
{
	static const unsigned long cmds[] = {
		BCAST_CTL_CREATE, BCAST_CTL_DESTROY, BCAST_IOC_ARM,
		BCAST_IOC_NOTIFY, BCAST_IOC_SET_EVENTFD, BCAST_IOC_INFO,
		BCAST_IOC_OPEN_READER, BCAST_IOC_WAIT, BCAST_IOC_REGISTER,
		BCAST_IOC_SLOT_JOINED, BCAST_IOC_GATE_NOTIFY,
		BCAST_IOC_GATE_WAIT,
	};

	if (next() % 4)
		return cmds[next() % (sizeof(cmds) / sizeof(cmds[0]))];
	if (next() % 2)		/* our magic, other numbers and sizes */
		return _IOC(next() % 4, BCAST_IOC_MAGIC, next() % 256,
			    next() % 512);
	return (unsigned long)next();
}

#define MAX_FDS 16
#define MAX_MAPS 16

int main(void)
{
	long calls = getenv("BCAST_FUZZ_CALLS") ? atol(getenv("BCAST_FUZZ_CALLS")) :
		     100000;
	int fds[MAX_FDS], ctl, i;
	struct { void *p; size_t len; } maps[MAX_MAPS] = { { 0 } };
	long n, done[5] = { 0 };
	struct sigaction tick = { .sa_handler = on_tick };	/* no SA_RESTART */
	struct itimerval every_5ms = { { 0, 5000 }, { 0, 5000 } };
	unsigned minor;

	signal(SIGSEGV, SIG_IGN);	/* never touched; a fault would kill */
	if (sigaction(SIGALRM, &tick, NULL) ||
	    setitimer(ITIMER_REAL, &every_5ms, NULL))
		return 1;
	printf("TAP version 13\n1..2\n");
	page = sysconf(_SC_PAGESIZE);
	scratch = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED || munmap(scratch + page, page))
		return 1;
	ctl = open("/dev/bcast-ctl", O_RDWR);
	if (ctl < 0) {
		printf("not ok 1 - open /dev/bcast-ctl: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < MAX_FDS; i++)
		fds[i] = -1;
	for (n = 0; n < calls; n++) {
		int slot = (int)(next() % MAX_FDS), m = (int)(next() % MAX_MAPS);
		int fd = next() % 5 ? fds[slot] : ctl;

		switch (next() % 10) {
		case 0:		/* open a ring, reader or writer */
			if (fds[slot] >= 0)
				close(fds[slot]);
			fds[slot] = open_ring((unsigned)(next() % 12),
					      next() % 2 ? O_RDWR : O_RDONLY);
			done[0]++;
			break;
		case 1:		/* map something */
			if (fd < 0 || maps[m].p)
				break;
			maps[m].len = next() % 3 ? (next() % 64 + 1) * page :
				      (size_t)next() % (8u << 20);
			maps[m].p = mmap(NULL, maps[m].len,
					 (int)(next() % 8),
					 next() % 4 ? MAP_SHARED : (int)(next() % 64),
					 fd, next() % 4 ? 0 : (off_t)(next() % 16) * page);
			if (maps[m].p == MAP_FAILED)
				maps[m].p = NULL;
			done[1]++;
			break;
		case 2:		/* unmap */
			if (maps[m].p)
				munmap(maps[m].p, maps[m].len);
			maps[m].p = NULL;
			break;
		case 3:		/* poll */
			if (fd >= 0) {
				struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

				poll(&p, 1, 0);
			}
			break;
		case 4:		/* destroy something */
			snprintf((char *)scratch, 64, "fz%u", (unsigned)(next() % 8));
			ioctl(ctl, BCAST_CTL_DESTROY, scratch);
			done[4]++;
			break;
		default: {	/* ioctl with garbage */
			unsigned long cmd = random_cmd();
			int rc = ioctl(fd >= 0 ? fd : ctl, cmd, random_pointer());

			/* a reader file made from the ring file, or a
			 * registry slot file: keep it */
			if ((cmd == BCAST_IOC_OPEN_READER ||
			     cmd == BCAST_IOC_REGISTER) && rc >= 0) {
				slot = (int)(next() % MAX_FDS);
				if (fds[slot] >= 0)
					close(fds[slot]);
				fds[slot] = rc;
				done[3]++;
			}
			done[2]++;
			break;
		}
		}
	}
	every_5ms = (struct itimerval){ { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &every_5ms, NULL);
	printf("# %ld calls: %ld opens, %ld mmaps, %ld ioctls (%ld reader or slot files made by ioctl), %ld destroys\n",
	       calls, done[0], done[1], done[2], done[3], done[4]);
	printf("ok 1 - %ld random calls returned\n", calls);
	for (i = 0; i < MAX_MAPS; i++)
		if (maps[i].p)
			munmap(maps[i].p, maps[i].len);
	for (i = 0; i < MAX_FDS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (i = 0; i < 8; i++) {
		snprintf((char *)scratch, 64, "fz%d", i);
		ioctl(ctl, BCAST_CTL_DESTROY, scratch);
	}
	close(ctl);
	/* and the module still works */
	if (ctl_create("after-fuzz", 65536, 0, &minor) == 0 &&
	    open_ring(minor, O_RDWR) >= 0 && ctl_destroy("after-fuzz") == 0)
		printf("ok 2 - a ring still works after the fuzzing\n");
	else
		printf("not ok 2 - a ring still works after the fuzzing\n");
	return 0;
}
