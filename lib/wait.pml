/*
 * wait.pml: the wake-up handshake of shm, file and memory rings, and of
 * device rings with bcast.ko.
 *
 * A Promela model of the Dekker handshake between the writer's
 * publish_position() / notify() (lib/writer.c) with futex_wake_readers()
 * (lib/futex.c), and the reader's bcast_wait() (lib/wait.c) / futex_sleep()
 * (lib/futex.c) / reader_barrier() (lib/membarrier.c) with reader_ready()
 * (lib/internal.h); with -DDEVICE, device_sleep() / arm_device()
 * (lib/device.c) and bcast.ko's side
 * (BCAST_IOC_ARM, poll, BCAST_IOC_NOTIFY: kmod/file.c, kmod/wake.c).
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
 *     (writer_flags = 0, full fence) and fences every later publish.  A
 *     device reader cannot write reader_flags (its mapping is read-only):
 *     it arms again with BCAST_ARM_NO_MEMBARRIER, and the kernel sets the
 *     flag (kmod/file.c:319-321).
 *
 * Variants (spin -D...)
 *   default          writer not registered for membarrier: it fences.  PASS
 *   MEMBARRIER       writer registered; readers' membarrier() stands in for
 *                    the writer's fence.                                PASS
 *   MB_FAIL          as MEMBARRIER, reader 1's membarrier() fails.      PASS
 *   NO_WRITER_FENCE  the writer skips its fence, readers have no
 *                    membarrier to call (writer_flags 0).       must FAIL
 *   NO_READER_FENCE  the reader's need_wakeup store and fence_full()
 *                    (futex.c:107, 81) as a plain store, no fence.  must FAIL
 *   MB_FAIL_IGNORED  MB_FAIL, but the failure is ignored (the bug of issue
 *                    8 point 8): the reader sleeps without timeout. must FAIL
 *   NO_OPEN_FENCE    MEMBARRIER without bcast_writer_open()'s fence_full()
 *                    (writer.c:625): a reader that saw the old
 *                    writer_flags relies on a fence that never comes. must FAIL
 *   DEVICE           device rings: the reader arms (BCAST_IOC_ARM) and
 *                    poll()s; the writer calls BCAST_IOC_NOTIFY, which
 *                    counts itself (ring->notifies); bcast_poll() reports
 *                    EPOLLIN once a NOTIFY came since the reader armed, and
 *                    only otherwise re-arms need_wakeup in the kernel.
 *                    With the writer's fence, with MEMBARRIER, and with
 *                    MB_FAIL (reader 1 then arms with
 *                    BCAST_ARM_NO_MEMBARRIER and polls in bounded slices
 *                    until the writer fences again):                  PASS
 *   OLD_POLL         with DEVICE: bcast_poll() before 1eb3adf, which after
 *                    a wake-up set need_wakeup again and re-checked
 *                    committed in the kernel (bcast_reader_ready(),
 *                    kmod/file.c:209-219) whatever NOTIFY came: a new
 *                    handshake with no membarrier() to stand in for the
 *                    writer's missing fence, so the writer's need_wakeup
 *                    load can pass its committed store and the reader
 *                    sleeps on.  With MEMBARRIER and with MB_FAIL:  must FAIL
 *   NOTIFY_COUNT_FIRST, NOTIFY_COUNT_LATE  DEVICE MEMBARRIER, with
 *                    BCAST_IOC_NOTIFY counting itself before it clears
 *                    need_wakeup, or after its wake-up, instead of in
 *                    between (file.c:343-350):                    must FAIL
 *   ARM_SAMPLE_LATE  DEVICE MEMBARRIER, with BCAST_IOC_ARM sampling the
 *                    count after setting need_wakeup instead of before
 *                    (file.c:328-331):                            must FAIL
 *   DEVICE_QUEUE_LATE  DEVICE, with bcast_poll() queueing on the wait queue
 *                    after its checks instead of before (file.c:274).  must FAIL
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
 *   - The writer is always alive: look_at_writer() (wait.c:63) returns
 *     WRITER_LIVE, whose only effect is to bound the sleep to
 *     LIVENESS_SLICE_MS (futex.c:112-113).  The model drops that bound and
 *     sleeps without a timeout instead, which is stronger: a wake-up that
 *     the slice would merely delay by 25 ms is a deadlock here.  Likewise
 *     check_missed_wakeup() (futex.c:126-128) only counts; not modelled.
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
 *   - The seq_cst store of need_wakeup (futex.c:107) is an xchg on x86, a
 *     fence by itself; the model does not count on it (a plain store, then
 *     the fence_full() of reader_barrier(), membarrier.c:65), as on arm64, where
 *     a release store does not order a later plain load.
 *   - Device rings (-DDEVICE): the kernel's side is modelled at the level
 *     of its barriers and its wait queue: BCAST_IOC_ARM, poll()'s
 *     bcast_poll() and its re-evaluation after each wake-up, NOTIFY with
 *     the in-line and the deferred (worker) wake-up of kmod/wake.c.  The
 *     wait-queue lock, pollwake()'s `triggered` flag and the workqueue's
 *     PENDING bit are single atomic steps (each is a lock or an atomic
 *     with the barriers wake.c's comment lists); HUP/PRI writer events
 *     are not (the writer stays: lib/owner.pml models its departure).
 *     ring->notifies is changed by locked increments only, and the
 *     reader's copy of it (bf->armed.notifies, ring->notifies at attach,
 *     file.c:95) under bf->arm_lock by the reader's own ARM: each read of
 *     either is one step.  It does not wrap, and only its comparison
 *     with the copy is ever used (file.c:261): the model keeps, for each
 *     reader, whether they differ (moved[r]: set by every NOTIFY, cleared
 *     by the reader's ARM), which has the same runs.  poll()'s sleep
 *     is bounded exactly when the reader's wait is (!exact):
 *     device_sleep() gives poll() BOUNDED_SLICE_MIN_MS then
 *     (device.c:536-537), else the caller's timeout, which the model drops
 *     as it does LIVENESS_SLICE_MS.
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
#ifdef DEVICE
bool trig[NCPU];	/* poll: pollwake() triggered this reader's entry */
bool wmask;		/* ring->wake_mask (kmod/wake.c), nonzero */
bool pending;		/* ring->wake_work is queued, its function not begun */
#ifndef OLD_POLL
bool moved[NCPU];	/* ring->notifies != reader r's bf->armed.notifies */
#endif
#endif

#if defined(MEMBARRIER) || defined(MB_FAIL) || defined(MB_FAIL_IGNORED) || \
    defined(NO_OPEN_FENCE)
#define REGISTERED 1	/* writer_registered_membarrier(), membarrier.c:15-31 */
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

/* ---- waking ---- */

#define WAKE_QUEUED \
	i = 1; \
	do \
	:: i <= NR -> if :: queued[i] -> trig[i] = 1 :: else fi; i++ \
	:: else -> break \
	od; \
	i = 0

#ifndef DEVICE
#define WAKE_READERS \
	/* futex.c:41 store need_wakeup = 0 */ \
	STORE(WCPU, A_NEED, 0); \
	/* futex.c:42 fetch_add(wake_seq): lock xadd */ \
	d_step { DRAIN(WCPU); wake_seq++ }; \
	/* futex.c:35 FUTEX_WAKE, INT_MAX: every queued reader */ \
	d_step { \
		i = 1; \
		do \
		:: i <= NR -> queued[i] = 0; timed[i] = 0; i++ \
		:: else -> break \
		od; \
		i = 0 \
	}
#else
/* bcast_wake(), kmod/wake.c:167-173, after its smp_mb() (line 170, a
 * drain), in line or deferred */
#define BCAST_WAKE \
	if \
	:: /* wake.c:100-120, in line: wake_up_locked_poll() under the \
	    * wait-queue lock wakes every entry */ \
	   d_step { WAKE_QUEUED } \
	:: /* wake.c:152-160, deferred: 154 atomic_or(wake_mask), 156 \
	    * smp_mb(), 158 queue_work() (PENDING set, or already set) */ \
	   d_step { wmask = 1 }; \
	   d_step { pending = 1 } \
	fi
#if !defined(NOTIFY_COUNT_FIRST) && !defined(NOTIFY_COUNT_LATE)
#define WAKE_READERS \
	/* device.c:375-378 device_wake_readers(): BCAST_IOC_NOTIFY, \
	 * bcast_ioc_notify(), kmod/file.c:337-352; line 319 \
	 * WRITE_ONCE(need_wakeup, 0) */ \
	STORE(WCPU, A_NEED, 0); \
	/* lines 324-325 smp_mb__before_atomic(); atomic_long_inc(notifies): \
	 * a locked op on x86 */ \
	d_step { DRAIN(WCPU); COUNT_NOTIFY }; \
	/* line 326 bcast_wake(): its smp_mb() finds nothing to drain */ \
	BCAST_WAKE
#elif defined(NOTIFY_COUNT_FIRST)
/* Broken on purpose: the count before need_wakeup is cleared.  A reader
 * that arms in between samples the new count, and its need_wakeup store
 * can be undone by the clear: its poll re-arms in the kernel. */
#define WAKE_READERS \
	d_step { DRAIN(WCPU); COUNT_NOTIFY }; \
	STORE(WCPU, A_NEED, 0); \
	d_step { DRAIN(WCPU) }; \
	BCAST_WAKE
#else
/* Broken on purpose: the count after the wake-up.  A reader woken before
 * it moves re-arms in the kernel, as OLD_POLL does. */
#define WAKE_READERS \
	STORE(WCPU, A_NEED, 0); \
	d_step { DRAIN(WCPU) }; \
	BCAST_WAKE; \
	d_step { COUNT_NOTIFY }
#endif

/* The wake-up worker, kmod/wake.c:122-135. */
active proctype Worker()
{
	byte i;
	bool m;

end:	do
	:: /* process_one_work(): PENDING cleared, smp_mb(), then the
	    * function */
	   d_step { pending -> pending = 0 };
	   d_step { m = wmask; wmask = 0 };	/* line 126 atomic_xchg() */
	   if
	   :: m -> d_step { WAKE_QUEUED; m = 0 }	/* line 129 */
	   :: else
	   fi
	od
}

#ifndef OLD_POLL
/*
 * A NOTIFY since the reader armed cleared need_wakeup (file.c:343, before
 * its count at 325): bcast_reader_events() reports EPOLLIN (file.c:261) and the
 * reader re-arms itself, membarrier() included, instead of the kernel
 * setting need_wakeup again with no barrier of the reader's to pair with.
 */
#define COUNT_NOTIFY \
	i = 1; \
	do \
	:: i <= NR -> moved[i] = 1; i++ \
	:: else -> break \
	od; \
	i = 0
#define NOTIFIED_SINCE_ARM	moved[me]
#ifndef ARM_SAMPLE_LATE
#define ARM_SAMPLE_BEFORE	moved[me] = 0;
#define ARM_SAMPLE_AFTER
#else
/* Broken on purpose: the count sampled after need_wakeup is set.  A NOTIFY
 * in between clears the flag and is not seen as new by poll(). */
#define ARM_SAMPLE_BEFORE
#define ARM_SAMPLE_AFTER	; moved[me] = 0
#endif
#else
/* bcast_poll() before 1eb3adf: no count; bcast_reader_ready() always. */
#define COUNT_NOTIFY		skip
#define NOTIFIED_SINCE_ARM	0
#define ARM_SAMPLE_BEFORE
#define ARM_SAMPLE_AFTER
#endif

/* Only reader 1 of MB_FAIL ever arms with BCAST_ARM_NO_MEMBARRIER. */
#ifdef MB_FAIL
#define ARM_FLAG \
	if \
	:: d_step { rd_no_mb -> DRAIN(me); no_mb = 1; armed_no_mb = 1 } \
	:: else \
	fi;
#else
#define ARM_FLAG
#endif

/*
 * device_arm(), BCAST_IOC_ARM: bcast_ioc_arm(), kmod/file.c:306-335.
 * With rd->no_membarrier (arm_device(), device.c:493-494, 451-452),
 * BCAST_ARM_NO_MEMBARRIER makes the kernel set reader_flags (lines
 * 248-250, atomic_or: a locked op).  Then, under bf->arm_lock, the armed
 * position and the count of notifies (line 304), sampled before
 * need_wakeup is set.
 */
#define ARM \
	ARM_FLAG \
	ARM_SAMPLE_BEFORE \
	/* line 306 smp_mb() (nothing to drain); 307 WRITE_ONCE(need_wakeup, 1) */ \
	STORE(me, A_NEED, 1); \
	/* lines 309-310 smp_mb(); committed != pos */ \
	d_step { DRAIN(me); LOAD(me, A_COMMITTED, c) } \
	ARM_SAMPLE_AFTER

/* poll_wait(), kmod/file.c:274 (BCAST_IOC_WAIT: prepare_to_wait_event()
 * in wait_event_interruptible_hrtimeout(), 270-272): on ring->wq, under
 * its lock */
#define QUEUE	d_step { DRAIN(me); queued[me] = 1; trig[me] = 0; timed[me] = !exact }
#ifndef DEVICE_QUEUE_LATE
#define QUEUE_EARLY	QUEUE
#define QUEUE_LATE	skip
#else
/* Broken on purpose: queued after the checks, just before sleeping. */
#define QUEUE_EARLY	skip
#define QUEUE_LATE	if :: !queued[me] -> QUEUE :: else fi
#endif

/*
 * device_poll() (lib/device.c): BCAST_IOC_WAIT, bcast_ioc_wait(),
 * kmod/file.c:283-304 (or poll(2), where do_poll() calls bcast_poll(),
 * 239-247), queues itself, evaluates bcast_reader_events(), 217-237,
 * sleeps until the entry is woken (or the timeout, with !exact:
 * device_sleep() bounds it), and evaluates it again.
 * bcast_reader_events(): a = bf->armed under arm_lock (223-225), smp_mb()
 * (231), ready if ring->notifies moved (232); else bcast_reader_ready(),
 * file.c:209-219: smp_mb() (183), committed (184), need_wakeup = 1 (186),
 * smp_mb() (188), committed (189).
 */
#define POLL \
	QUEUE_EARLY; \
repoll:	if \
	:: d_step { NOTIFIED_SINCE_ARM -> DRAIN(me); c = 255 }	/* EPOLLIN */ \
	:: d_step { !NOTIFIED_SINCE_ARM -> DRAIN(me) }; \
		d_step { LOAD(me, A_COMMITTED, c) }; \
		if \
		:: c == pos -> \
			STORE(me, A_NEED, 1); \
			d_step { DRAIN(me); LOAD(me, A_COMMITTED, c) } \
		:: else \
		fi \
	fi; \
	if \
	:: c != pos -> skip	/* EPOLLIN: poll() returns */ \
	:: else -> \
		QUEUE_LATE; \
		if \
		:: atomic { trig[me] -> trig[me] = 0 }; goto repoll \
		:: atomic { timed[me] -> skip }	/* DEVICE_POLL_TIMEOUT */ \
		fi \
	fi; \
	/* poll_freewait(): off the queue; back to bcast_wait() */ \
	atomic { queued[me] = 0; trig[me] = 0; timed[me] = 0; c = 0 }
#endif

/* ---- the writer ---- */

active proctype Writer()
{
	byte i, j, k, v;
	bool membarrier;	/* w->membarrier */

	/* bcast_writer_open(), writer.c:610: readers_fence_for_us(), 82-86 */
	atomic { membarrier = REGISTERED && !no_mb };
	/* writer.c:611-612 store writer_flags */
	STORE(WCPU, A_WFLAGS, membarrier);
#ifndef NO_OPEN_FENCE
	/* writer.c:625 fence_full(): readers that saw the old writer_flags
	 * must be seen sleeping by the first wake-up check */
	d_step { DRAIN(WCPU) };
#endif
	k = 1;
	do
	:: k <= M ->
		/* commit_position(), writer.c:159-177, the end of every
		 * publish.  Line 131: store_release(&h->committed, pos) */
		STORE(WCPU, A_COMMITTED, k);
#ifndef NO_WRITER_FENCE
		/* writer.c:169-172: a compiler barrier with membarrier,
		 * else fence_full() */
		if
		:: membarrier -> skip
		:: else -> d_step { DRAIN(WCPU) }
		fi;
#endif
		/* writer.c:173 load_relaxed(&h->need_wakeup) */
		d_step { LOAD(WCPU, A_NEED, v) };
		if
		:: v ->
			/* notify(), writer.c:136-152; line 90:
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
			/* line 97 the backend's wake_readers: futex_wake_readers(), futex.c:29-36 */
			WAKE_READERS
		:: else
		fi;
		atomic { v = 0; k++ }
	:: else -> break
	od
}

/* ---- the readers ---- */

/*
 * reader_barrier(), membarrier.c:63-70: sets exact (its result).  A device
 * reader's mapping is read-only: it cannot set reader_flags itself
 * (membarrier.c:47-49), it re-arms asking the kernel to (arm_device()).
 */
#ifdef DEVICE
#define READERS_FLAG	skip
#else
#define READERS_FLAG	no_mb = 1	/* membarrier.c:48-49 fetch_or, a locked op */
#endif
#ifndef NO_READER_FENCE
#define READER_FENCE	d_step { DRAIN(me) };	/* line 65 fence_full() */
#else
#define READER_FENCE
#endif
#ifndef MB_FAIL_IGNORED
#define MB_FAILED	d_step { DRAIN(me); rd_no_mb = 1; READERS_FLAG; exact = 0 }
#else
#define MB_FAILED	skip
#endif
#define READER_BARRIER \
	READER_FENCE \
	d_step { LOAD(me, A_WFLAGS, wf) };	/* line 66, 55 */ \
	exact = 1; \
	if \
	:: wf -> \
		if \
		:: MB_WORKS(me) -> \
			/* line 66, 38 membarrier() succeeds: a full barrier on \
			 * every CPU */ \
			d_step { \
				i = 0; \
				do \
				:: i < NCPU -> DRAIN(i); i++ \
				:: else -> break \
				od; \
				i = 0 \
			} \
		:: else -> \
			/* line 66 fails: 68 (46 rd->no_membarrier), 69 false */ \
			MB_FAILED \
		fi \
	:: else \
	fi; \
	wf = 0

proctype Reader(byte me)
{
	byte i, j, pos, seq, c, wf;
	bool exact, rd_no_mb, armed_no_mb;

	do
	:: pos == M -> break
	:: else ->
		/* bcast_wait(), wait.c:61: reader_ready(), internal.h:508-518 */
		d_step { LOAD(me, A_COMMITTED, c) };
		if
		:: c != pos -> atomic { pos = c; c = 0 }	/* return 0: read */
		:: else ->
			/* wait.c:63 look_at_writer(): WRITER_LIVE (see header) */
#ifndef DEVICE
			/* wait.c:76 the backend's sleep: futex_sleep(), futex.c:97-130.  Line 105: */
			atomic { seq = wake_seq; c = 0 };
			/* line 107 store need_wakeup = 1 */
			STORE(me, A_NEED, 1);
			/* line 108 reader_barrier() */
			READER_BARRIER;
			/* line 110 reader_ready() */
			d_step { LOAD(me, A_COMMITTED, c) };
			if
			:: c != pos -> atomic { pos = c; c = 0; exact = 0 }
			:: else ->
				/* lines 114-119: no exact wake-up, a bounded
				 * slice; line 122 FUTEX_WAIT(wake_seq, seq) */
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
#else
			/* wait.c:76 the backend's sleep: device_sleep(), device.c:525-545; arm_device(),
			 * 440-453, line 444 device_request_wakeup(), 430 device_arm(): BCAST_IOC_ARM */
			ARM;
			if
			:: c != pos -> c = 0	/* 1: look again (lines 446-447) */
			:: else ->
				/* line 448 reader_barrier() */
				READER_BARRIER;
				/* lines 449-452: a failed membarrier() arms again
				 * with BCAST_ARM_NO_MEMBARRIER */
				if
				:: !exact && !armed_no_mb -> ARM
				:: else -> c = pos
				fi;
				if
				:: c != pos -> c = 0
				:: else ->
					/* line 469 reader_ready(); then 471-472
					 * bound the poll when !exact, 474
					 * device_poll() */
					d_step { LOAD(me, A_COMMITTED, c) };
					if
					:: c != pos -> atomic { pos = c; c = 0 }
					:: else -> POLL
					fi
				fi
			fi;
			atomic { exact = 0; armed_no_mb = 0 }
#endif
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
