// SPDX-License-Identifier: MIT
/*
 * bcast-bridge's packets (tools/bridge/wire.c): what the out side builds,
 * the in side reads back the same; anything else from the network (cut
 * short, a byte changed, lengths and counts that lie) is refused or read
 * without a byte outside the packet (this test runs under ASan too).
 */
#include <stdint.h>
#include <string.h>
#include "tap.h"
#include "random.h"
#include "wire.h"

#define CAP 8192

/* A batch of random messages; their types and lengths in t[], l[]. */
static size_t build(unsigned char *buf, uint64_t seed, uint32_t *t,
		    uint32_t *l, uint32_t *n)
{
	struct wire_batch b = { .buf = buf, .cap = CAP };

	wire_batch_start(&b, 7, 1000 + seed);
	for (*n = 0; wire_batch_room(&b) > 64 && *n < 100; (*n)++) {
		uint32_t len = (uint32_t)(mix64(seed * 131 + *n) % 64);
		unsigned char *p = wire_batch_tail(&b);

		for (uint32_t k = 0; k < len; k++)
			p[k] = (unsigned char)(seed + *n + k);
		t[*n] = (uint32_t)mix64(*n + seed);
		l[*n] = len;
		wire_batch_add(&b, t[*n], len);
	}
	wire_batch_seal(&b);
	return b.len;
}

TEST(a_batch_reads_back_as_built)
{
	unsigned char buf[CAP];
	uint32_t t[100], l[100], n, i;
	uint64_t seed;

	for (seed = 0; seed < 200; seed++) {
		struct wire_packet pk;
		struct wire_cursor c;
		const char *why;
		const void *data;
		uint32_t type, len;
		size_t size = build(buf, seed, t, l, &n);

		CHECK_OK(wire_parse(buf, size, &pk, &why));
		CHECK_EQ(pk.kind, WIRE_BATCH);
		CHECK_EQ(pk.epoch, 7);
		CHECK_EQ(pk.seq, 1000 + seed);
		CHECK_EQ(pk.count, n);
		CHECK_EQ(wire_end(&pk), 1000 + seed + n);
		wire_records(&pk, &c);
		for (i = 0; wire_next(&c, &type, &data, &len); i++) {
			CHECK(i < n);
			CHECK_EQ(type, t[i]);
			CHECK_EQ(len, l[i]);
			for (uint32_t k = 0; k < len; k++)
				CHECK_EQ(((const unsigned char *)data)[k],
					 (unsigned char)(seed + i + k));
		}
		CHECK_EQ(i, n);
	}
}

TEST(fragments_and_states_read_back)
{
	unsigned char buf[256], piece[100];
	struct wire_packet pk;
	const char *why;
	size_t len;

	memset(piece, 0xab, sizeof(piece));
	len = wire_fragment(buf, 3, 42, 9, 250, 200, piece, 50);
	CHECK_OK(wire_parse(buf, len, &pk, &why));
	CHECK_EQ(pk.kind, WIRE_FRAGMENT);
	CHECK_EQ(pk.seq, 42);
	CHECK_EQ(pk.type, 9);
	CHECK_EQ(pk.total, 250);
	CHECK_EQ(pk.offset, 200);
	CHECK_EQ(pk.body_len, 50);
	CHECK_EQ(pk.body[49], 0xab);
	CHECK_EQ(wire_end(&pk), 43);	/* the last piece */
	len = wire_fragment(buf, 3, 42, 9, 250, 100, piece, 100);
	CHECK_OK(wire_parse(buf, len, &pk, &why));
	CHECK_EQ(wire_end(&pk), 42);	/* not yet */
	/* An empty message is one empty piece. */
	len = wire_fragment(buf, 3, 43, 9, 0, 0, NULL, 0);
	CHECK_OK(wire_parse(buf, len, &pk, &why));
	CHECK_EQ(wire_end(&pk), 44);
	len = wire_state(buf, 5, 77, WIRE_WRITER_GONE);
	CHECK_OK(wire_parse(buf, len, &pk, &why));
	CHECK_EQ(pk.kind, WIRE_STATE);
	CHECK_EQ(pk.seq, 77);
	CHECK_EQ(pk.flags, WIRE_WRITER_GONE);
	CHECK_EQ(wire_end(&pk), 77);
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* the tests run little-endian */
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

TEST(packets_that_lie_are_refused)
{
	unsigned char buf[CAP], bad[CAP];
	uint32_t t[100], l[100], n;
	size_t size = build(buf, 1, t, l, &n), flen;
	struct wire_packet pk;
	const char *why = NULL;
	unsigned char piece[16] = { 0 };

	struct { size_t at, width; uint64_t v; const char *what; } lies[] = {
		{ 0, 4, 0x12345678, "magic" },
		{ 4, 1, 2, "version" },
		{ 5, 1, 9, "kind" },
		{ 6, 2, 1, "flags of a batch" },
		{ 16, 8, UINT64_MAX - 3, "numbers past 2^64" },
		{ 24, 4, 0, "no messages" },
		{ 24, 4, UINT32_MAX, "more messages than bytes" },
		{ 24, 4, 1, "fewer messages than bytes" },
		{ 28, 4, 1, "reserved" },
		{ WIRE_HDR + 4, 4, CAP, "a length past the end" },
		{ WIRE_HDR + 4, 4, UINT32_MAX, "a length of 4 GiB" },
	};
	for (unsigned i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		memcpy(bad, buf, size);
		if (lies[i].width == 1)
			bad[lies[i].at] = (unsigned char)lies[i].v;
		else if (lies[i].width == 2)
			bad[lies[i].at] = (unsigned char)lies[i].v,
			bad[lies[i].at + 1] = 0;
		else if (lies[i].width == 4)
			put32(bad + lies[i].at, (uint32_t)lies[i].v);
		else
			put64(bad + lies[i].at, lies[i].v);
		if (wire_parse(bad, size, &pk, &why) != -EBADMSG)
			FAILF("%s: not refused", lies[i].what);
		CHECK(why != NULL);
	}
	/* Cut short anywhere, or a byte more. */
	for (size_t cut = 0; cut < size; cut++)
		CHECK_EQ(wire_parse(buf, cut, &pk, &why), -EBADMSG);
	buf[size] = 0;
	CHECK_EQ(wire_parse(buf, size + 1, &pk, &why), -EBADMSG);
	/* Fragments outside their message. */
	flen = wire_fragment(bad, 1, 5, 0, 10, 8, piece, 4);
	CHECK_EQ(wire_parse(bad, flen, &pk, &why), -EBADMSG);
	flen = wire_fragment(bad, 1, 5, 0, 10, 11, piece, 0);
	CHECK_EQ(wire_parse(bad, flen, &pk, &why), -EBADMSG);
	flen = wire_fragment(bad, 1, 5, 0, 10, 4, piece, 0);
	CHECK_EQ(wire_parse(bad, flen, &pk, &why), -EBADMSG);
	flen = wire_fragment(bad, 1, UINT64_MAX, 0, 10, 0, piece, 10);
	CHECK_EQ(wire_parse(bad, flen, &pk, &why), -EBADMSG);
	/* A state packet with anything in it. */
	flen = wire_state(bad, 1, 5, 0x2);
	CHECK_EQ(wire_parse(bad, flen, &pk, &why), -EBADMSG);
	flen = wire_state(bad, 1, 5, 0);
	CHECK_EQ(wire_parse(bad, flen + 1, &pk, &why), -EBADMSG);
}

/* Random bytes changed: refused, or every record inside the packet. */
TEST(changed_bytes_never_lead_outside_the_packet)
{
	unsigned char buf[CAP];
	uint32_t t[100], l[100], n;
	uint64_t round, accepted = 0;

	for (round = 0; round < 200000; round++) {
		size_t size = build(buf, round % 50, t, l, &n);
		struct wire_packet pk;
		struct wire_cursor c;
		const char *why;
		const void *data;
		uint32_t type, len, k, got = 0;
		uint64_t r = mix64(round);

		for (k = 0; k < 1 + r % 4; k++) {
			uint64_t q = mix64(r + k);

			buf[q % size] = (unsigned char)(q >> 32);
		}
		if (wire_parse(buf, size, &pk, &why))
			continue;
		accepted++;
		if (pk.kind != WIRE_BATCH)
			continue;
		wire_records(&pk, &c);
		while (wire_next(&c, &type, &data, &len)) {
			const unsigned char *p = data;

			CHECK(p >= buf + WIRE_HDR && p + len <= buf + size);
			got++;
		}
		CHECK_EQ(got, pk.count);
	}
	printf("# %llu of 200000 changed packets still made sense\n",
	       (unsigned long long)accepted);
}

TEST_MAIN()
