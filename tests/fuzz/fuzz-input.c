// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>
#include "fuzz-input.h"

_Static_assert(FUZZ_FIXED == 120, "input layout");
_Static_assert(sizeof(struct bcast_sync_point) == FUZZ_SYNC_SIZE, "sync");
_Static_assert(offsetof(struct bcast_ring_hdr, reader_slots) == FUZZ_LINE0, "l0");
_Static_assert(offsetof(struct bcast_ring_hdr, line3_pad) -
	       offsetof(struct bcast_ring_hdr, writer_alive) == FUZZ_LINE3, "l3");

static const uint64_t fuzz_caps[4] = { 4096, 8192, 16384, 4096 };

static unsigned log2_u64(uint64_t v)
{
	return 63 - (unsigned)__builtin_clzll(v);
}

static void fix_header(struct bcast_ring_hdr *h, unsigned mode, uint64_t cap)
{
	uint64_t max_mtu = cap / 4 - BCAST_FRAME_HDR;
	unsigned max_shift = log2_u64(cap) - 2;

	if (mode >= 1) {
		h->magic = BCAST_RING_MAGIC;
		h->abi_version = BCAST_ABI_VERSION;
		h->hdr_size = BCAST_HDR_SIZE;
		h->capacity = cap;
	}
	if (mode >= 2) {
		if (h->mtu < 8 || h->mtu > max_mtu)
			h->mtu = (uint32_t)(8 + h->mtu % (max_mtu - 8 + 1));
		if (h->chunk_shift < 3 || h->chunk_shift > max_shift)
			h->chunk_shift = 3 + h->chunk_shift % (max_shift - 3 + 1);
		if (h->metadata_len > BCAST_METADATA_MAX)
			h->metadata_len %= BCAST_METADATA_MAX + 1;
	}
	if (mode >= 3) {
		h->committed &= ~7ULL;
		if (h->claimed < h->committed ||
		    h->claimed - h->committed > 2 * cap)
			h->claimed = h->committed + h->claimed % (2 * cap + 1);
	}
}

static void take(unsigned char *dst, size_t n, const uint8_t **p,
		 size_t *left)
{
	size_t k = *left < n ? *left : n;

	if (k)
		memcpy(dst, *p, k);
	*p += k;
	*left -= k;
}

int fuzz_decode(const uint8_t *data, size_t size, struct fuzz_ring *fr)
{
	struct bcast_ring_hdr *h;
	const uint8_t *p = data;
	size_t left = size;
	unsigned char pre[FUZZ_PREFIX] = { 0 };
	unsigned nsync, i, mode;

	take(pre, sizeof(pre), &p, &left);
	fr->ctl = pre[0];
	fr->ops = pre[1];
	nsync = pre[2] % (BCAST_SYNC_SLOTS + 1);
	fr->ext = pre[3];
	fr->cap = fuzz_caps[fr->ctl & 3];
	fr->size = BCAST_HDR_SIZE + fr->cap;
	fr->mem = aligned_alloc(64, fr->size);
	if (!fr->mem)
		return -1;
	memset(fr->mem, 0, fr->size);
	h = (struct bcast_ring_hdr *)fr->mem;

	take(fr->mem, FUZZ_LINE0, &p, &left);
	take((unsigned char *)&h->committed, 8, &p, &left);
	take((unsigned char *)&h->claimed, 8, &p, &left);
	take((unsigned char *)&h->writer_alive, FUZZ_LINE3, &p, &left);
	take((unsigned char *)&h->need_wakeup, FUZZ_WAKE, &p, &left);
	for (i = 0; i < BCAST_SYNC_SLOTS; i++)
		h->sync[i].pos = BCAST_SYNC_INVALID;
	for (i = 0; i < nsync; i++)
		take((unsigned char *)&h->sync[i], FUZZ_SYNC_SIZE, &p, &left);
	take(fr->mem + BCAST_HDR_SIZE, fr->cap, &p, &left);

	mode = (fr->ctl >> 2) & 3;
	fix_header(h, mode, fr->cap);
	fr->len = fr->size;
	if (!mode && (fr->ctl & 0x10) && (size_t)fr->ext * 64 < fr->size)
		fr->len = fr->size - (size_t)fr->ext * 64;
	return 0;
}

size_t fuzz_encoded_max(uint64_t cap)
{
	return FUZZ_FIXED + BCAST_SYNC_SLOTS * FUZZ_SYNC_SIZE + cap;
}

size_t fuzz_encode(const void *mem, uint64_t cap, unsigned ctl, unsigned ops,
		   unsigned ext, unsigned char *out)
{
	const struct bcast_ring_hdr *h = mem;
	const unsigned char *d = (const unsigned char *)mem + BCAST_HDR_SIZE;
	unsigned nsync = 0, i;
	size_t n = 0, dlen = cap;

	for (i = 0; i < BCAST_SYNC_SLOTS; i++)
		if (h->sync[i].pos != BCAST_SYNC_INVALID)
			nsync = i + 1;
	while (dlen && !d[dlen - 1])
		dlen--;
	for (i = 0; i < 4; i++)
		if (fuzz_caps[i] == cap)
			break;
	out[n++] = (unsigned char)((ctl & ~3U) | (i & 3));
	out[n++] = (unsigned char)ops;
	out[n++] = (unsigned char)nsync;
	out[n++] = (unsigned char)ext;
	memcpy(out + n, h, FUZZ_LINE0);
	n += FUZZ_LINE0;
	memcpy(out + n, &h->committed, 8);
	n += 8;
	memcpy(out + n, &h->claimed, 8);
	n += 8;
	memcpy(out + n, &h->writer_alive, FUZZ_LINE3);
	n += FUZZ_LINE3;
	memcpy(out + n, &h->need_wakeup, FUZZ_WAKE);
	n += FUZZ_WAKE;
	memcpy(out + n, h->sync, (size_t)nsync * FUZZ_SYNC_SIZE);
	n += (size_t)nsync * FUZZ_SYNC_SIZE;
	memcpy(out + n, d, dlen);
	return n + dlen;
}
