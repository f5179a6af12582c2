// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include "payload.h"
#include "sequence.h"
#include "tap.h"

uint64_t seq_of_type(uint64_t next, uint32_t type)
{
	uint64_t seq = (next & ~0xffffffffULL) | type;

	return seq < next ? seq + (1ULL << 32) : seq;
}

uint64_t sequence_take(struct sequence *q, uint32_t type, size_t len,
		       struct failure *f)
{
	uint64_t seq = seq_of_type(q->next, type);

	if (seq >= q->total) {
		fail(f, "message of type %u after seq %" PRIu64 ": not "
		     "increasing or out of range", type, q->next);
		return UINT64_MAX;
	}
	for (; q->next < seq; q->next++) {
		q->gaps++;
		q->gap_bytes += q->len_of(q->next);
	}
	q->next = seq + 1;
	q->handed++;
	q->handed_bytes += len;
	if (len != q->len_of(seq)) {
		fail(f, "seq %" PRIu64 ": length %zu, expected %zu", seq, len,
		     q->len_of(seq));
		return UINT64_MAX;
	}
	return seq;
}

int sequence_check(struct sequence *q, uint64_t seq, const void *data,
		   size_t len, struct failure *f)
{
	size_t bad = payload_mismatch(data, len, seq);

	if (bad < len) {
		fail(f, "seq %" PRIu64 " (%zu B): payload corrupt from byte "
		     "%zu", seq, len, bad);
		return -1;
	}
	q->verified++;
	return 0;
}

void sequence_late(struct sequence *q, size_t len)
{
	q->late++;
	q->late_bytes += len;
}

void sequence_lost_after(struct sequence *q, uint64_t published)
{
	for (; q->next < published; q->next++) {
		q->gaps++;
		q->gap_bytes += q->len_of(q->next);
	}
}

/* A handle found overwritten when it was read moved from delivered to
 * lost. */
int sequence_agrees(const struct sequence *q, struct bcast_reader *rd,
		    struct failure *f)
{
	struct bcast_reader_stats st;

	bcast_reader_stats(rd, &st);
	if (st.messages == q->handed - q->late &&
	    st.bytes == q->handed_bytes - q->late_bytes &&
	    st.lost_messages == q->gaps + q->late &&
	    st.lost_bytes == q->gap_bytes + q->late_bytes)
		return 0;
	fail(f, "after seq %" PRIu64 ": stats say %" PRIu64 " delivered (%"
	     PRIu64 " B), %" PRIu64 " lost (%" PRIu64 " B); handed %" PRIu64
	     " (%" PRIu64 " B), gaps %" PRIu64 " (%" PRIu64 " B)", q->next - 1,
	     st.messages, st.bytes, st.lost_messages, st.lost_bytes,
	     q->handed, q->handed_bytes, q->gaps, q->gap_bytes);
	return -1;
}

void check_sequence(const struct sequence *q,
		    const struct bcast_reader_stats *st, uint64_t published,
		    uint64_t published_bytes)
{
	CHECK_EQ(st->messages + st->lost_messages, published);
	CHECK_EQ(st->bytes + st->lost_bytes, published_bytes);
	CHECK_EQ(st->messages, q->verified);
	CHECK_EQ(st->messages, q->handed - q->late);
	CHECK_EQ(st->bytes, q->handed_bytes - q->late_bytes);
	CHECK_EQ(q->gaps + q->late, st->lost_messages);
	CHECK_EQ(q->gap_bytes + q->late_bytes, st->lost_bytes);
	CHECK_EQ(q->verified + q->late, q->handed);
	CHECK(st->lost_messages == 0 || st->overruns > 0);
}
