// SPDX-License-Identifier: MIT
/*
 * Module lifetime: unload is refused while a ring is open or mapped and
 * works afterwards; 100 load/create/map/unload cycles leave free memory and
 * unreclaimable slab where they started; unloading right after the last
 * files went, with wake-ups still queued for the worker, waits for them
 * and leaves nothing allocated.  Runs in the VM as root with bcast.ko
 * loaded from /opt/bcast.ko.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include "common.h"

#define KO "/opt/bcast.ko"

static int sh(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void meminfo(long *free_kb, long *slab_kb)
{
	drop_caches();
	*free_kb = meminfo_kb("MemFree");
	*slab_kb = meminfo_kb("SUnreclaim");
}

/* Map all of /dev/bcastN and touch every page. */
static void *map_and_touch(int fd, size_t *len)
{
	unsigned char *p = (unsigned char *)map_ring(fd, PROT_READ | PROT_WRITE,
						     len);
	size_t off;

	if (!p)
		return NULL;
	for (off = 0; off < *len; off += 4096)
		p[off] = 1;
	return p;
}

static int unload_refused_while_in_use(void)
{
	unsigned minor;
	size_t len;
	void *p;
	int fd;

	if (ctl_create("busy", 1 << 20, BCAST_RING_HUGEPAGE, &minor))
		return 1;
	fd = open_ring(minor, O_RDWR);
	if (fd < 0 || !(p = map_and_touch(fd, &len)))
		return 2;
	if (sh("rmmod bcast 2>/dev/null") == 0)
		return 3;			/* open and mapped */
	close(fd);
	if (sh("rmmod bcast 2>/dev/null") == 0)
		return 4;			/* still mapped */
	munmap(p, len);
	if (sh("rmmod bcast") != 0)
		return 5;			/* nothing left: must go */
	return 0;
}

/*
 * 64 readers with eventfds in an epoll set (more than bcast.ko wakes in
 * line), notified, then everything closed and the module unloaded at once.
 */
#define QUEUED_READERS 64

static int unload_with_queued_wakeups(int cycles)
{
	int i, k;

	for (i = 0; i < cycles; i++) {
		int fd[QUEUED_READERS], efd[QUEUED_READERS], w, ep;
		struct bcast_ring_hdr *h;
		unsigned minor;
		size_t len;

		if (sh("insmod " KO))
			return 1;
		if (ctl_create("queued", 1 << 16, 0, &minor))
			return 2;
		w = open_ring(minor, O_RDWR);
		h = w >= 0 ? map_ring(w, PROT_READ | PROT_WRITE, &len) : NULL;
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (!h || ep < 0)
			return 3;
		for (k = 0; k < QUEUED_READERS; k++) {
			struct epoll_event ev = { .events = EPOLLIN };

			fd[k] = open_ring(minor, O_RDONLY);
			efd[k] = eventfd(0, EFD_CLOEXEC);
			if (fd[k] < 0 || efd[k] < 0 ||
			    ioctl(fd[k], BCAST_IOC_SET_EVENTFD, &efd[k]) ||
			    arm_reader(fd[k], 0, 0, 0) ||
			    epoll_ctl(ep, EPOLL_CTL_ADD, fd[k], &ev))
				return 4;
		}
		h->committed = 8;
		if (ioctl(w, BCAST_IOC_NOTIFY) || ioctl(w, BCAST_IOC_NOTIFY))
			return 5;
		for (k = 0; k < QUEUED_READERS; k++) {
			close(fd[k]);
			close(efd[k]);
		}
		close(ep);
		munmap(h, len);
		close(w);			/* detach: one more wake-up */
		if (ctl_destroy("queued"))
			return 6;
		if (sh("rmmod bcast"))
			return 7;
	}
	if (sh("dmesg | grep -q 'still allocated at unload'") == 0)
		return 8;
	return 0;
}

int main(void)
{
	int cycles = getenv("BCAST_CYCLES") ? atoi(getenv("BCAST_CYCLES")) : 100;
	long free0 = -1, slab0 = -1, free1 = -1, slab1 = -1;
	int i, rc;

	printf("TAP version 13\n1..3\n");
	rc = unload_refused_while_in_use();
	printf("%sok 1 - unload refused while a ring is open or mapped, "
	       "works after (step %d)\n", rc ? "not " : "", rc);
	if (rc)
		return 1;
	/* The first cycles warm caches up: measure from the fifth on. */
	for (i = 0; i < cycles + 5; i++) {
		if (i == 5)
			meminfo(&free0, &slab0);
		size_t len;
		void *p;
		int fd;

		if (sh("insmod " KO " rings=cycle,other ring_size=4194304")) {
			printf("# insmod failed in cycle %d\n", i);
			break;
		}
		fd = open_ring(0, O_RDWR);
		p = fd >= 0 ? map_and_touch(fd, &len) : NULL;
		if (!p) {
			printf("# map failed in cycle %d\n", i);
			break;
		}
		munmap(p, len);
		close(fd);
		if (sh("rmmod bcast")) {
			printf("# rmmod failed in cycle %d\n", i);
			break;
		}
		if (i >= 5 && (i - 4) % 25 == 0) {
			meminfo(&free1, &slab1);
			printf("# after %d cycles: MemFree %ld kB, SUnreclaim %ld kB\n",
			       i - 4, free1, slab1);
			fflush(stdout);
		}
	}
	meminfo(&free1, &slab1);
	i -= 5;
	printf("# %d cycles: MemFree %ld -> %ld kB, SUnreclaim %ld -> %ld kB\n",
	       i, free0, free1, slab0, slab1);
	/* One leaked ring a cycle would be 800 MiB; MemFree wanders by about
	 * 10 MiB here with nothing leaking. */
	rc = i == cycles && free1 > free0 - 32768 && slab1 < slab0 + 1024;
	printf("%sok 2 - %d load/create/map/unload cycles leave memory where "
	       "it was\n", rc ? "" : "not ", cycles);
	i = unload_with_queued_wakeups(20);
	printf("%sok 3 - unload right after queued wake-ups, 20 times (step %d)\n",
	       i ? "not " : "", i);
	sh("insmod " KO);	/* leave it loaded, as found */
	return rc && !i ? 0 : 1;
}
