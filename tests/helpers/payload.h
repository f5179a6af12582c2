/* SPDX-License-Identifier: MIT */
/*
 * The payload of message `seq`, the one every test writes and checks: its
 * first 8 bytes carry seq itself (in host order; fewer bytes of it in a
 * shorter message), the rest is cut from a megabyte of fixed pseudo-random
 * bytes at a place that depends on seq.  So any reader can check every byte
 * of a message from its sequence number alone, at the speed of memcmp(),
 * and byte i never depends on the length: the first n bytes of a message
 * are the message of n bytes.
 */
#ifndef BCAST_TEST_PAYLOAD_H
#define BCAST_TEST_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void payload_fill(void *p, size_t len, uint64_t seq);

/* The index of the first byte of `p` that is not message seq's, or len. */
size_t payload_mismatch(const void *p, size_t len, uint64_t seq);

static inline bool payload_ok(const void *p, size_t len, uint64_t seq)
{
	return payload_mismatch(p, len, seq) == len;
}

/* The sequence number a message of at least 8 bytes carries. */
uint64_t payload_seq(const void *p);

#endif
