/* SPDX-License-Identifier: MIT */
/*
 * Deterministic pseudo-random numbers: message sizes, kinds and delays are
 * functions of a sequence number or of a seed, so that a run can be
 * repeated and a reader can work out what the writer did.
 */
#ifndef BCAST_TEST_RANDOM_H
#define BCAST_TEST_RANDOM_H

#include <stdint.h>

/* A 64-bit mixer (MurmurHash3's finaliser): close inputs, unrelated outputs. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The next number of the generator whose state is *state. */
static inline uint64_t rng_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return mix64(*state);
}

#endif
