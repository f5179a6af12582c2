// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fixture.h"

void *ring_memory(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len))
		return NULL;
	memset(p, 0, len);
	return p;
}

int fixture_open(struct ring_fixture *f, size_t capacity, size_t mtu,
		 unsigned what)
{
	struct bcast_ring_opts o = { .size = capacity, .mtu = mtu };
	int rc;

	memset(f, 0, sizeof(*f));
	f->len = BCAST_HDR_SIZE + capacity;
	f->mem = ring_memory(f->len);
	if (!f->mem)
		return -ENOMEM;
	f->h = (struct bcast_ring_hdr *)f->mem;
	f->data = f->mem + BCAST_HDR_SIZE;
	rc = bcast_ring_format(f->mem, f->len, &o, &f->r);
	if (!rc && (what & FIXTURE_WRITER))
		rc = bcast_writer_open(f->r, &f->w);
	if (!rc && (what & FIXTURE_READER))
		rc = bcast_reader_open(f->r, BCAST_FROM_OLDEST, &f->rd);
	return rc;
}

void fixture_close(struct ring_fixture *f)
{
	if (f->rd)
		bcast_reader_close(f->rd);
	if (f->w)
		bcast_writer_close(f->w);
	if (f->r)
		bcast_ring_close(f->r);
	free(f->mem);
	memset(f, 0, sizeof(*f));
}

const char *shm_name(const char *tag)
{
	static char name[96];

	snprintf(name, sizeof(name), "shm:bcast-test-%s-%d", tag,
		 (int)getpid());
	return name;
}

struct bcast_ring *shm_ring_new(const char *name, size_t capacity, size_t mtu)
{
	struct bcast_ring_opts o = { .size = capacity, .mtu = mtu };
	struct bcast_ring *r = NULL;

	bcast_ring_destroy(name);
	return bcast_ring_create(name, &o, &r) ? NULL : r;
}
