// SPDX-License-Identifier: MIT
/* The round trip every other test builds on: publish, receive, in order. */
#include "tap.h"
#include "fixture.h"
#include "payload.h"
#include "random.h"

TEST(publish_receive_in_order)
{
	size_t len = 8192 + 65536;
	void *mem = ring_memory(len);
	struct bcast_ring *r;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	unsigned char buf[4096];
	struct bcast_msg m;
	uint64_t i;
	ssize_t n;

	CHECK_OK(bcast_ring_attach(mem, len, BCAST_FORMAT, &r));
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST, &rd));
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), &m), -EAGAIN);
	for (i = 0; i < 100000; i++) {
		size_t sz = mix64(i) % 1000;

		payload_fill(buf, sz, i);
		CHECK_OK(bcast_publish(w, buf, sz, (uint32_t)i));
		n = bcast_receive(rd, buf, sizeof(buf), &m);
		CHECK_EQ(n, (ssize_t)sz);
		CHECK_EQ(m.type, (uint32_t)i);
		CHECK(payload_ok(buf, sz, i));
	}
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), &m), -EAGAIN);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(r);
	free(mem);
}

TEST_MAIN()
