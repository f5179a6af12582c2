/*
 * wait.pml: the wake-up handshake of shm, file and memory rings.
 *
 * A Promela model of the Dekker handshake between the writer's
 * publish_position() / notify() (lib/writer.c) with wake_readers()
 * (lib/wait.c), and the reader's bcast_wait() / sleep_on_ring() /
 * reader_barrier() (lib/wait.c) with reader_ready() (lib/reader.c).
 * Checked exhaustively by tests/model/run.sh (part of `make check`).
 *
 * What is modelled
 *   - One writer and NR readers (NR = 2 by default: 3 processes, plus the
 *     memory system).  The writer opens the ring (the writer_flags part of
 *     bcast_writer_open()), publishes M messages (M = 2) and stops.  Each
 *     reader runs bcast_wait() until it has seen all M: re-check committed,
 *     sample wake_seq, set need_wakeup, full fence, (membarrier), re-check
 *     committed, FUTEX_WAIT(wake_seq, sampled).  A reader that sees data
 *     consumes up to the committed value it read.
 *   - x86-TSO memory: every CPU (the writer, each reader) has a FIFO store
 *     buffer; plain stores (committed, need_wakeup, writer_flags) enter it
 *     and a Memory process makes them globally visible one at a time, in
 *     order, at any moment; a load reads the newest entry of its own buffer
 *     for that address, else memory.  fence_full() (mfence) and locked
 *     read-modify-writes (fetch_add of wake_seq, fetch_or of reader_flags)
 *     drain the own buffer first.  Buffers hold as many stores as the
 *     program can issue between two drains, so no TSO behaviour is cut.
 *   - membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED): a full barrier on every
 *     other CPU at a moment within the call: it drains every store buffer.
 *   - FUTEX_WAIT: under the futex bucket lock (a full barrier), atomically
 *     returns at once if wake_seq differs from the sampled value, else
 *     queues the reader.  FUTEX_WAKE dequeues and wakes every queued
 *     reader.  A timed wait may also time out at any moment.
 *   - The membarrier() failure fallback (-DMB_FAIL): reader 1's
 *     membarrier() fails (seccomp): it sets BCAST_READERS_NO_MEMBARRIER in
 *     reader_flags and sleeps with a timeout (bounded slices); the writer,
 *     at its next notify(), sees the flag, stops relying on membarrier
 *     (writer_flags = 0, full fence) and fences every later publish.
 *
 * Variants (spin -D...)
 *   default          writer not registered for membarrier: it fences.  PASS
 *   MEMBARRIER       writer registered; readers' membarrier() stands in for
 *                    the writer's fence.                                PASS
 *   MB_FAIL          as MEMBARRIER, reader 1's membarrier() fails.      PASS
 *   NO_WRITER_FENCE  the writer skips its fence, readers have no
 *                    membarrier to call (writer_flags 0).       must FAIL
 *   NO_READER_FENCE  the reader's need_wakeup store and fence_full()
 *                    (wait.c:210, 81) as a plain store, no fence.  must FAIL
 *   MB_FAIL_IGNORED  MB_FAIL, but the failure is ignored (the bug of issue
 *                    8 point 8): the reader sleeps without timeout. must FAIL
 *   NO_OPEN_FENCE    MEMBARRIER without bcast_writer_open()'s fence_full()
 *                    (writer.c:424): a reader that saw the old
 *                    writer_flags relies on a fence that never comes. must FAIL
 *
 * Properties
 *   - No lost wake-up: when nothing can move any more (the writer has
 *     stopped, every store is visible), no reader sleeps: the Check
 *     process asserts it on `timeout`.  Readers sleep without a timeout
 *     where the C code relies on the handshake (exact, see below), so a
 *     lost wake-up there is a reader asleep forever; a reader whose wait
 *     is bounded (MB_FAIL) can always time out, so the assertion says that
 *     a reader is never blocked without a timeout while a wake-up can be
 *     lost.  Every reader that finished saw all M messages (asserted).
 *   - No deadlock: spin's invalid end states.
 *
 * Abstractions, and why they are sound
 *   - The writer is always alive: look_at_writer() (wait.c:268) returns
 *     WRITER_LIVE, whose only effect is to bound the sleep to
 *     LIVENESS_SLICE_MS (wait.c:215-216).  The model drops that bound and
 *     sleeps without a timeout instead, which is stronger: a wake-up that
 *     the slice would merely delay by 25 ms is a deadlock here.  Likewise
 *     check_missed_wakeup() (wait.c:229-231) only counts; not modelled.
 *   - Positions are 1..M, wake_seq does not wrap (M notifies at most).
 *   - A reader's load of wake_seq and of reader_flags, and the writer's of
 *     need_wakeup, read memory or the own store buffer as TSO says; other
 *     words no process stores to plainly.  Loads are never reordered with
 *     each other or with earlier loads on TSO; the only reordering x86 does
 *     (a load passing an earlier store to another address) is the store
 *     buffer.  The handshake's other compiler-level orderings are
 *     release/acquire accesses, which on x86 are plain movs: exactly this.
 *   - A fence drains the own buffer in one step: the stores leave in order
 *     and the fencing CPU does nothing visible meanwhile, so every
 *     interleaving of a slow drain is one where the Memory process moved
 *     the same stores before the fence.
 *   - The seq_cst store of need_wakeup (wait.c:210) is an xchg on x86, a
 *     fence by itself; the model does not count on it (a plain store, then
 *     the fence_full() of reader_barrier(), wait.c:81), as on arm64, where
 *     a release store does not order a later plain load.
 *   - Device rings (bcast.ko: BCAST_IOC_ARM and poll set need_wakeup, then
 *     smp_mb(), then re-read committed, kmod/file.c) follow the same
 *     pattern on the reader's side; they are not this model.
 */

#ifndef NR
#define NR 2		/* readers */
#endif
#ifndef M
#define M 2		/* messages the writer publishes */
#endif

#define NCPU	(NR + 1)
#define WCPU	0	/* the writer's CPU; reader r runs on CPU r (1..NR) */
#define CAP	4	/* store buffer entries per CPU (M + 2 suffice) */

/* Word addresses of plainly stored words. */
#define A_COMMITTED	0	/* hdr->committed */
#define A_NEED		1	/* hdr->need_wakeup */
#define A_WFLAGS	2	/* hdr->writer_flags (BCAST_WRITER_MEMBARRIER) */

byte mem[3];		/* what every CPU can see */
byte sb_a[NCPU * CAP];	/* store buffers: address ... */
byte sb_v[NCPU * CAP];	/* ... and value, oldest first */
byte sb_n[NCPU];	/* entries in each */
byte wake_seq;		/* hdr->wake_seq, the futex word (locked RMW only) */
bool no_mb;		/* hdr->reader_flags & BCAST_READERS_NO_MEMBARRIER */
bool queued[NCPU];	/* reader sleeps in FUTEX_WAIT */
bool timed[NCPU];	/* ... with a timeout */
bool done[NCPU];	/* reader saw all M messages */

#if defined(MEMBARRIER) || defined(MB_FAIL) || defined(MB_FAIL_IGNORED) || \
    defined(NO_OPEN_FENCE)
#define REGISTERED 1	/* writer_registered_membarrier(), wait.c:55-70 */
#else
#define REGISTERED 0
#endif
#if defined(MB_FAIL) || defined(MB_FAIL_IGNORED)
#define MB_WORKS(r)	(r != 1)	/* reader 1 runs under seccomp */
#else
#define MB_WORKS(r)	1
#endif

/* ---- TSO ---- */

/* A plain store: into the own buffer. */
#define STORE(p, a, v) \
	atomic { sb_n[p] < CAP -> \
		 sb_a[p * CAP + sb_n[p]] = a; sb_v[p * CAP + sb_n[p]] = v; \
		 sb_n[p]++ }

/* A load: the newest own buffered store to `a`, else memory (inside an
 * atomic or d_step; `i` is the caller's scratch). */
#define LOAD(p, a, dst) \
	dst = mem[a]; \
	i = 0; \
	do \
	:: i < sb_n[p] -> \
		if :: sb_a[p * CAP + i] == a -> dst = sb_v[p * CAP + i] \
		   :: else fi; \
		i++ \
	:: else -> break \
	od; \
	i = 0

/* The oldest buffered store of CPU p becomes visible. */
#define FLUSH1(p) \
	mem[sb_a[p * CAP]] = sb_v[p * CAP]; \
	j = 1; \
	do \
	:: j < sb_n[p] -> \
		sb_a[p * CAP + j - 1] = sb_a[p * CAP + j]; \
		sb_v[p * CAP + j - 1] = sb_v[p * CAP + j]; \
		j++ \
	:: else -> break \
	od; \
	sb_n[p]--; \
	sb_a[p * CAP + sb_n[p]] = 0; sb_v[p * CAP + sb_n[p]] = 0; \
	j = 0

/* Drain CPU p's buffer (mfence, a locked instruction, a syscall's lock). */
#define DRAIN(p) \
	do :: sb_n[p] > 0 -> FLUSH1(p) :: else -> break od

/* The memory system: any buffered store may become visible at any time. */
active proctype Memory()
{
	byte j, p;

end:	do
	:: d_step {
		sb_n[WCPU] > 0 -> p = WCPU; FLUSH1(p); p = 0 }
	:: d_step {
		sb_n[1] > 0 -> p = 1; FLUSH1(p); p = 0 }
#if NR >= 2
	:: d_step {
		sb_n[2] > 0 -> p = 2; FLUSH1(p); p = 0 }
#endif
#if NR >= 3
	:: d_step {
		sb_n[3] > 0 -> p = 3; FLUSH1(p); p = 0 }
#endif
	od
}

/* ---- the writer ---- */

active proctype Writer()
{
	byte i, j, k, v;
	bool membarrier;	/* w->membarrier */

	/* bcast_writer_open(), writer.c:412: readers_fence_for_us(), 82-86 */
	atomic { membarrier = REGISTERED && !no_mb };
	/* writer.c:413-414 store writer_flags */
	STORE(WCPU, A_WFLAGS, membarrier);
#ifndef NO_OPEN_FENCE
	/* writer.c:424 fence_full(): readers that saw the old writer_flags
	 * must be seen sleeping by the first wake-up check */
	d_step { DRAIN(WCPU) };
#endif
	k = 1;
	do
	:: k <= M ->
		/* publish_position(), writer.c:107-125.  Line 111:
		 * store_release(&h->committed, w->pos) */
		STORE(WCPU, A_COMMITTED, k);
#ifndef NO_WRITER_FENCE
		/* writer.c:118-121: a compiler barrier with membarrier,
		 * else fence_full() */
		if
		:: membarrier -> skip
		:: else -> d_step { DRAIN(WCPU) }
		fi;
#endif
		/* writer.c:122 load_relaxed(&h->need_wakeup) */
		d_step { LOAD(WCPU, A_NEED, v) };
		if
		:: v ->
			/* notify(), writer.c:88-100; line 90:
			 * readers_fence_for_us() reads reader_flags */
			if
			:: atomic { membarrier && !(REGISTERED && !no_mb) ->
				    membarrier = 0 }	/* line 93 */
				/* line 94 store writer_flags = 0 */
				STORE(WCPU, A_WFLAGS, 0);
				d_step { DRAIN(WCPU) }	/* line 95 */
			:: atomic { !(membarrier && !(REGISTERED && !no_mb)) ->
				    skip }
			fi;
			/* line 97 wake_readers(), wait.c:42-53; line 50
			 * store need_wakeup = 0 */
			STORE(WCPU, A_NEED, 0);
			/* wait.c:51 fetch_add(wake_seq): lock xadd */
			d_step { DRAIN(WCPU); wake_seq++ };
			/* wait.c:52 FUTEX_WAKE, INT_MAX */
			d_step {
				i = 1;
				do
				:: i <= NR -> queued[i] = 0; timed[i] = 0; i++
				:: else -> break
				od;
				i = 0
			}
		:: else
		fi;
		atomic { v = 0; k++ }
	:: else -> break
	od
}

/* ---- the readers ---- */

proctype Reader(byte me)
{
	byte i, j, pos, seq, c, wf;
	bool exact;

	do
	:: pos == M -> break
	:: else ->
		/* bcast_wait(), wait.c:266: reader_ready(), reader.c:162-172 */
		d_step { LOAD(me, A_COMMITTED, c) };
		if
		:: c != pos -> atomic { pos = c; c = 0 }	/* return 0: read */
		:: else ->
			/* wait.c:268 look_at_writer(): WRITER_LIVE (see header);
			 * 283 sleep_on_ring(), 200-233.  Line 208: */
			atomic { seq = wake_seq; c = 0 };
			/* line 210 store need_wakeup = 1 */
			STORE(me, A_NEED, 1);
			/* line 211 reader_barrier(), 77-93 */
#ifndef NO_READER_FENCE
			d_step { DRAIN(me) };		/* line 81 fence_full() */
#endif
			d_step { LOAD(me, A_WFLAGS, wf) };	/* line 82 */
			exact = 1;
			if
			:: wf ->
				if
				:: MB_WORKS(me) ->
					/* line 84 membarrier() succeeds: a full
					 * barrier on every CPU */
					d_step {
						i = 0;
						do
						:: i < NCPU -> DRAIN(i); i++
						:: else -> break
						od;
						i = 0
					}
				:: else ->
#ifndef MB_FAIL_IGNORED
					/* lines 88-91 fetch_or(reader_flags),
					 * 92 return false */
					d_step { DRAIN(me); no_mb = 1; exact = 0 }
#else
					skip
#endif
				fi
			:: else
			fi;
			/* line 213 reader_ready() */
			d_step { LOAD(me, A_COMMITTED, c); wf = 0 };
			if
			:: c != pos -> atomic { pos = c; c = 0; exact = 0 }
			:: else ->
				/* lines 217-222: no exact wake-up, a bounded
				 * slice; line 225 FUTEX_WAIT(wake_seq, seq) */
				d_step {
					DRAIN(me);
					if
					:: wake_seq == seq -> queued[me] = 1;
						timed[me] = !exact
					:: else
					fi;
					seq = 0; exact = 0
				};
				if
				:: !queued[me]			/* woken */
				:: atomic { timed[me] -> queued[me] = 0;
					    timed[me] = 0 }	/* ETIMEDOUT */
				fi
			fi
		fi
	od;
	assert(pos == M);
	done[me] = 1
}

/* When nothing can move any more, no reader sleeps: a wake-up was lost. */
active proctype Check()
{
	byte r;

	timeout ->
	d_step {
		r = 1;
		do
		:: r <= NR -> assert(!queued[r] && done[r]); r++
		:: else -> break
		od
	}
}

init
{
	byte r;

	atomic {
		r = 1;
		do
		:: r <= NR -> run Reader(r); r++
		:: else -> break
		od
	}
}
