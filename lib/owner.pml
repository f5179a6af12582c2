/*
 * owner.pml: who is the writer of a shm, file or memory ring, and what a
 * reader reports of it (device rings too, with -DDEVICE).
 *
 * A Promela model of lib/owner.c (owner_claim, owner_release, owner_alive)
 * as bcast_writer_open() and bcast_writer_close() in lib/writer.c use it,
 * and of the reader's view of the writer in lib/wait.c (look_at_writer).
 * With -DDEVICE: bcast.ko's writer attach and detach (kmod/file.c) and
 * bcast_wait()'s reports on a device ring, hangups included.
 * Checked exhaustively by tests/model/run.sh (part of `make check`).
 *
 * What is modelled
 *   - The header's writer_lock word (0 = free, else the owner's identity),
 *     writer_alive and writer_epoch, each one shared word; every load,
 *     store, fetch-add and compare-and-swap is one atomic step, in program
 *     order (sequential consistency: see "Abstractions").
 *   - N contender processes (tokens 1..N).  Each calls bcast_writer_open()
 *     until it has been the writer once (-EBUSY makes it try again), then
 *     publishes and calls bcast_writer_close(); resume_positions() may fail,
 *     which releases the claim and gives up.  The contender's loop is the
 *     one of owner_claim(): load the word; judge the owner alive or dead;
 *     CAS from 0 or from the exact dead value; on CAS failure judge the
 *     value the CAS returned.
 *   - Crashes at ANY step: a Killer process may kill any running contender
 *     between any two of its steps (the `unless` escape), up to KILLS times.
 *     Death makes the process's identity dead for every later liveness check,
 *     releases its OFD lock (the kernel closes its files), and leaves the
 *     lock word, writer_alive and writer_epoch as they were.
 *   - With -DOFD (shm and file rings): the OFD write lock on the lock word's
 *     bytes, a kernel-atomic test-and-set (F_OFD_SETLK) that a process
 *     releases itself (ofd_unlock) or by dying; F_OFD_GETLK tests whether
 *     another open file holds it.  Without -DOFD: memory rings (no file).
 *   - With -DFOREIGN: a liveness check by pid may not see the owner's
 *     process because it runs in another pid namespace, where its pid names
 *     no process or another one: each check nondeterministically sees the
 *     truth or "no such process".  The same answer comes from another time
 *     namespace with a boottime offset: /proc/PID/stat gives the start time
 *     (field 22) in the time namespace of the process that reads it, so
 *     the owner's own (owner.c:101) and a contender's (owner.c:141-143)
 *     differ by the offset, and a live owner looks like a reused pid.
 *     With -DOFD this must still be safe (the lock tells); without it, it
 *     is not (the run expects a counter-example: the processes sharing a
 *     memory ring must share one pid namespace, and one boottime).  A
 *     process that kill() finds but /proc does not show (/proc mounted
 *     hidepid=invisible, or not at all) is "cannot say" (see
 *     Abstractions), as the code has it since 1eb3adf; -DHIDEPID_DEAD is
 *     the code before, which took it for dead: on a memory ring the run
 *     expects a counter-example.
 *   - An owner that could not read its own start time (no /proc where it
 *     runs) has start time 0 in its token (owner.c:108-109).  Since
 *     6dc40fe a contender finds the pid with kill() and answers "cannot
 *     say" (owner.c:139-140) without comparing start times: the "cannot
 *     say" the model gives for every owner (see Abstractions).
 *     -DSTART0_DEAD is the code before, which compared 0 with the real
 *     start time read from /proc (owner.c:141-143) and took a live owner
 *     for a reused pid: contender 1 runs without /proc, and every other
 *     contender that judges its token finds it dead.  On a memory ring the
 *     run expects a counter-example (two writers); on a shm or file ring
 *     the OFD lock still tells, and it must pass.
 *   - A Reader that judges the writer once, at any point of any run, as
 *     look_at_writer() and owner_alive() do: epoch, then the alive flag,
 *     then the lock word, then the owner's liveness ("gone" = !alive ||
 *     word == 0 || owner dead).  A reader keeps nothing from one judgement
 *     to the next and writes nothing, so one judgement starting at any
 *     point covers every judgement of every reader.
 *   - With -DOLD: the protocol before ABI 2 (git show 79818a2:lib/writer.c,
 *     lock_writer() lines 326-340, writer_process_alive() in lib/wait.c
 *     lines 117-137): the lock word is the pid alone, "free" when
 *     writer_alive == 0, the start time written after the CAS (line 412) and
 *     trusted during a take-over, release by a plain store of 0.  The run
 *     expects a counter-example (two writers).
 *   - With -DDEVICE (device rings): N writers (N = 3) open the device one
 *     after the other; the kernel admits one at a time under ring->lock
 *     and keeps ring->writer_state (present, epoch), and each writer's
 *     header stores (writer_alive, writer_epoch; the library's own
 *     writer_alive stores) are steps.  A writer closes, or dies at any
 *     point (then only the kernel's detach runs).  One Reader calls
 *     bcast_wait() again and again: look_at_writer(), BCAST_IOC_ARM for the
 *     view it took, and a poll() that returns EPOLLHUP alone when the
 *     kernel has no writer for a reader that armed without
 *     BCAST_ARM_WRITER_GONE, or returns for anything else (data, NOTIFY,
 *     EPOLLPRI, time-out) at any moment.  bcast_poll() runs at once and
 *     after every wake-up, so letting it look at any moment, and return
 *     empty-handed at any moment, covers every run.  Data is left out: it
 *     only makes bcast_wait() return before a report (wait.c:61, 277).
 *     The attach stores ring->writer_state before the header's
 *     writer_alive and writer_epoch (kmod/file.c:56-57, then 61, 64), as
 *     since 6dc40fe; after a hangup look_at_writer() reports nothing for
 *     epoch 0 (wait.c:35).  Variants, each the code before a fix:
 *     -DSTATE_LAST (the attach before 6dc40fe: the header, then
 *     writer_state), -DHANGUP_EPOCH0 (look_at_writer() before 6dc40fe:
 *     epoch 0 reported after a hangup), -DOLD_HANGUP (look_at_writer()
 *     before 1eb3adf: a freshly loaded epoch reported after a hangup) and
 *     -DEPOCH_FIRST (the attach before 1eb3adf: the epoch, then
 *     writer_alive = 1).
 *
 * Properties
 *   - Mutual exclusion: `holders` counts the live processes between a
 *     successful claim (the CAS, owner.c:279) and their release (the CAS to
 *     0, owner.c:310); it is asserted <= 1 at every claim, and every step a
 *     holder takes as the writer asserts that the word still names it and
 *     that it is the only holder.
 *   - The reader reports gone only a writer that left: at the step at which
 *     it concludes "gone", the writer of the epoch it read must not be
 *     between its epoch bump (owner.c:301, after its alive=1 store at writer.c:621)
 *     and its alive=0 store (writer.c:658) or death.  That epoch is the one
 *     bcast_wait() reports gone and remembers (wait.c:42, 279-281): were
 *     it the arriving writer's, its real departure would never be
 *     reported.  -DEPOCH_FIRST, the order before 1eb3adf (the bump, then
 *     alive = 1), must fail it: a reader that reads the new epoch, then the
 *     alive flag its predecessor cleared, takes the arriving writer for a
 *     departed one.
 *   - With -DDEVICE the same property at each report of bcast_wait()
 *     (wait.c:68-70), and that the epochs reported are writers' (never
 *     0) and increase: each departure is reported once.  The code before
 *     6dc40fe failed both, as the variants show:
 *       . -DSTATE_LAST: bcast_writer_attach() stored the header's
 *         writer_alive and writer_epoch before ring->writer_state: a
 *         reader that looks in between sees the new epoch alive, arms for
 *         its departure, and poll() finds no writer in the kernel:
 *         EPOLLHUP, and bcast_wait() reports the arriving writer gone
 *         (wait.c:34-36), so never its real departure.  Must FAIL the
 *         first property.
 *       . -DHANGUP_EPOCH0: a reader that read epoch 0 before the first
 *         writer's epoch store (kmod/file.c:64) and its writer_alive = 1
 *         (61) after sleeps as WRITER_LIVE on epoch 0; after the hangup
 *         the code before 6dc40fe reported epoch 0 gone (wait.c:35
 *         without its "*epoch &&"), and on the next call epoch 1, not yet
 *         reported: one departure, reported twice.  Must FAIL the second.
 *   - No deadlock: spin's invalid end states (every process must be able to
 *     reach its end).
 *   - With -DPROGRESS (run with weak fairness, pan -a -f): the LTL property
 *     <> (finished == N): every contender that does not crash eventually has
 *     been the writer and closed; so whenever the holders are dead or gone,
 *     some live contender becomes the writer.  (The "cannot say" answer of
 *     the liveness check is left out there: a check that never answers
 *     would block take-over, by design.)
 *
 * Abstractions, and why they are sound
 *   - Memory model.  Exclusion is decided by the CAS on writer_lock alone
 *     (all read-modify-writes of one word are totally ordered in every
 *     memory model) and by facts the kernel keeps (whether a process runs,
 *     who holds the OFD lock): the memory model cannot matter for it.  The
 *     reader's loads are acquire loads in program order (wait.c:38,
 *     owner.c:198, 202) and each writer's stores are ordered (release
 *     stores, writer.c:621 and 541, the release fetch-add of writer_epoch,
 *     owner.c:301, and the acq_rel CAS that chains one writer to the
 *     next), so on x86-TSO and on arm64 (other-multi-copy atomic) a reader
 *     observes a state of this sequentially consistent model.  What the
 *     reader property needs holds in the C11 model too: a reader whose
 *     acquire load reads a writer's epoch (a release fetch-add since
 *     1eb3adf, relaxed before) then reads that writer's writer_alive = 1,
 *     its lock word, or later values of each (write-read coherence).
 *     Device rings: the kernel stores writer_state, then writer_alive,
 *     then writer_epoch by a release store (kmod/file.c:56, 61, 64), and
 *     the reader's poll() reads writer_state after its header loads and
 *     an smp_mb() (file.c:260).  A reader that read the new epoch finds
 *     the writer present (release/acquire).  The smp_mb__after_atomic() at
 *     file.c:57 follows atomic64_set(), not a read-modify-write, so the
 *     kernel memory model does not count it as ordering writer_state
 *     before writer_alive (x86 and arm64 do order them); the runs the
 *     model cuts that way, a reader that read the old epoch and the new
 *     writer_alive = 1 and then finds no writer in the kernel, report the
 *     old epoch, whose writer did leave, or nothing (epoch 0, or already
 *     reported): no property depends on them.
 *   - Steps.  Each shared access of the C code is one step; a step may
 *     also carry the local branch that follows it, and a judgement that
 *     ends in -EBUSY carries the OFD unlock that follows it (a lock release
 *     moves left: Lipton's reduction keeps every reachable state of the
 *     others).
 *   - Identities: a token is pid plus start time; a process's token is never
 *     again the token of a live process (pid reuse gets another start time),
 *     so "dead" is permanent: dead[t].  A reused pid is a new contender with
 *     a new token; contenders 1..N cover it.  A live owner's check never
 *     says "dead" (but with FOREIGN, HIDEPID_DEAD or START0_DEAD).  An
 *     owner whose process could not read its own start time (no /proc
 *     where it runs) has start time 0 in its token (owner.c:108-109): a
 *     later process given its pid without /proc has the same token.  That
 *     one takes the word for its own (owner.c:134-135) and gets -EBUSY,
 *     any other gets "cannot say" while the pid lives (owner.c:139-140):
 *     the dead owner stands, as with the "cannot say" answer below, and
 *     an -EBUSY undoes all its claim did (the OFD unlock): a matter of
 *     progress, never of exclusion; the model's answers cover it.
 *   - token_process_alive() (owner.c:126-149) makes several system calls;
 *     they read one monotone fact (is that process alive), so the answer is
 *     the one at its last read: one atomic step.  Its "cannot say" (-1)
 *     answer (owner.c:146-147: kill() finds the pid, /proc has no entry for
 *     it, as under hidepid=invisible or without /proc; owner.c:139-140: the
 *     token has no start time to compare; or a pid reused by such a
 *     process) is modelled as a nondeterministic "alive", for any owner,
 *     without -DOFD (where token_alive() returns alive < 0, owner.c:190);
 *     with -DOFD the OFD lock decides then, as in the code
 *     (owner.c:188-189), which the FOREIGN "no such process" answer
 *     covers.  F_OFD_GETLK failing counts as held (owner.c:169):
 *     conservative, left out.  For the reader, "cannot say" only ever
 *     means "alive": no "gone" to check, left out.
 *   - In owner_claim() the contender holds the OFD lock, on an open file
 *     of its own (own_open_file(), owner.c:209-218), before it reads the
 *     word (owner.c:264), and asks F_OFD_GETLK from that same open file,
 *     which reports no conflict with its own lock, so ofd_lock_held()
 *     there always says no: no step, but the CAS asserts that premise.  (The search confirms what follows: with
 *     the OFD lock a contender never even sees a live owner or loses a CAS;
 *     the lock alone excludes, the word records.)
 *   - writer_pid, writer_flags and resume_positions()'s reads: nothing in
 *     the protocol judges them; only resume_positions()'s failure matters.
 *   - Publishing is one step "the writer writes" that asserts exclusion.
 *   - fork() children sharing the owner's open file (which keep the OFD lock
 *     held) and rings that mix OFD and non-OFD contenders are not modelled.
 *
 * Switches (spin -D...), as tests/model/run.sh uses them
 *   N, KILLS       contenders (default 4) and crashes (default 2)
 *   OFD            shm/file ring; default a memory ring
 *   FOREIGN        pid checks may not see the owner (another pid
 *                  namespace)                  (pass with OFD, must FAIL without)
 *   PROGRESS       the LTL property, for pan -a -f
 *   OLD            the pre-ABI-2 protocol                      must FAIL
 *   NO_TAKEOVER    CAS from 0 only: progress                   must FAIL
 *   EPOCH_FIRST    the epoch before writer_alive = 1 (bcast_writer_open()
 *                  or, with DEVICE, bcast_writer_attach() before
 *                  1eb3adf): the reader property               must FAIL
 *   HIDEPID_DEAD   a pid that kill() finds and /proc does not show is dead
 *                  (owner.c before 1eb3adf), memory ring       must FAIL
 *   START0_DEAD    a token without start time (contender 1's) compared
 *                  with the real one: dead (owner.c before 6dc40fe)
 *                                    (pass with OFD, must FAIL without)
 *   NOREADER       no Reader (so a FAIL shows the two writers, not the view)
 *   DEVICE         device rings (N = 3 writers by default)
 *   STATE_LAST     with DEVICE: writer_state after the header (the attach
 *                  before 6dc40fe): the reader property        must FAIL
 *   HANGUP_EPOCH0  with DEVICE: epoch 0 reported after a hangup
 *                  (wait.c before 6dc40fe): report once        must FAIL
 *   OLD_HANGUP     with DEVICE: a fresh epoch reported after a hangup
 *                  (wait.c before 1eb3adf): the reader property must FAIL
 */

#ifndef N
#ifdef DEVICE
#define N 3		/* writers, one after the other */
#else
#define N 4		/* contenders */
#endif
#endif
#ifndef KILLS
#define KILLS 2		/* crashes the Killer may cause */
#endif

#define READER (N + 1)	/* the reader's identity: never a writer */

byte lock;		/* header writer_lock (OLD: writer_pid): 0 free */
byte ofd;		/* process holding the OFD write lock, 0 none */
bool alive;		/* header writer_alive */
byte epoch;		/* header writer_epoch */
#ifdef OLD
byte wstart;		/* header writer_start; process p's start time is p */
#endif
bool dead[N + 2];	/* the process of token t died (t = 1..N) */

/* Ghosts: what the properties are stated on. */
byte holders;		/* live processes that believe they are the writer */
bool holder[N + 2];
bool running[N + 2];	/* started and not finished: the Killer's victims */
byte finished;		/* contenders that ended (closed, gave up, or died) */
byte set_epoch;		/* epoch of the writer past its epoch bump and not
			 * departed, 0 none */
byte set_by;		/* ... and who it is */

/* ---- the liveness checks ---- */

/* Is the process of token t alive, seen from `me`: token_process_alive()
 * == 1, owner.c:134-135 (oneself) and 137-143 (kill(), /proc/PID/stat). */
#define PROC_ALIVE(t)	(t == me || !dead[t])

/* ---- the writer's identity, claimed and released ---- */

#ifndef OLD

/*
 * lock_word_claim(), owner.c:260-286, as bcast_writer_open() calls it
 * through the backend's writer_claim, owner_claim() (owner.c:288).  Goes to `busy` on -EBUSY, falls through claimed.
 */
#define CLAIM \
	OFD_LOCK; \
	/* owner.c:270 cur = load_acquire(word) */ \
	atomic { running[me] = 1; cur = lock }; \
judge:	/* owner.c:272 cur && token_alive(r, cur): token_process_alive() \
	 * at line 175 first */ \
	if \
	:: cur == 0 -> goto cas \
	:: atomic { cur != 0 && PROC_ALIVE(cur) -> OFD_UNLOCK }; \
		goto busy	/* owner.c:184-185 alive; 273-276 unlock, -EBUSY */ \
	:: atomic { cur != 0 && !PROC_ALIVE(cur) -> TAKEOVER }	/* 0: dead */ \
	FOREIGN_CHECK \
	CANNOT_SAY \
	fi; \
cas:	/* owner.c:279-282: CAS(word, cur -> mine); on failure cur is the \
	 * value found, judged again (the loop, line 236) */ \
	if \
	:: atomic { lock == cur -> OFD_HELD; lock = me; holder[me] = 1; \
		    holders++; assert(holders == 1) } \
	:: atomic { lock != cur -> cur = lock }; goto judge \
	fi

#ifdef NO_TAKEOVER
/* Broken on purpose: a dead owner's value is never replaced (CAS from 0
 * only).  The progress check must fail. */
#define TAKEOVER	OFD_UNLOCK; goto busy
#else
#define TAKEOVER	skip
#endif

#if defined(FOREIGN)
/* The owner's process cannot be seen from here, another pid namespace:
 * "no such process", owner.c:137-138, or a start time that does not
 * match, 137. */
#define FOREIGN_CHECK	:: cur != 0 && cur != me -> skip
#elif defined(HIDEPID_DEAD)
/* Broken on purpose, owner.c before 1eb3adf: kill() finds the owner, /proc
 * does not show it (hidepid=invisible, another user) and fopen()'s ENOENT
 * was taken for -ESRCH: "dead". */
#define FOREIGN_CHECK	:: cur != 0 && cur != me -> skip
#elif defined(START0_DEAD)
/* Broken on purpose, owner.c before 6dc40fe (without lines 133-134):
 * contender 1 ran without /proc and has start time 0 in its token; kill()
 * finds its pid, and the start time read from /proc does not match 0
 * (line 137): "dead", live or not. */
#define FOREIGN_CHECK	:: cur == 1 && me != 1 -> skip
#else
#define FOREIGN_CHECK
#endif

#if defined(OFD) || defined(PROGRESS)
#define CANNOT_SAY
#else
/* token_process_alive() == -1, "cannot say" (owner.c:146-147: kill() finds
 * the pid, /proc does not show it; 133-134: the token has no start time):
 * alive, line 181, when no OFD lock can tell. */
#define CANNOT_SAY	:: cur != 0 -> goto busy
#endif

#ifdef OFD
/* owner.c:264 ofd_lock(): F_OFD_SETLK at line 240; -EBUSY at 242,
 * returned by the claim at 262-263. */
#define OFD_LOCK \
	if \
	:: atomic { ofd == 0 -> ofd = me; locked = 1; running[me] = 1 } \
	:: atomic { ofd != 0 -> running[me] = 1 }; goto busy \
	fi
/* owner.c:188-189: when the pid says no, the OFD bit (line 269) sends
 * token_alive() to ofd_lock_held() (158-165): does an open file other
 * than mine hold the lock?  In owner_claim() mine does (line 229), and
 * F_OFD_GETLK reports no conflict with one's own lock: the answer is
 * always no, so the call is no step here; the CAS asserts the premise. */
#define OFD_HELD	assert(ofd == me && locked)
/* ofd_unlock(), owner.c:248-254 (close_own_file(), 225-229) */
#define OFD_UNLOCK	if :: locked -> assert(ofd == me); ofd = 0; locked = 0 \
			   :: else fi
#else
#define OFD_LOCK	skip
#define OFD_HELD	skip
#define OFD_UNLOCK	skip
#endif

/* lock_word_release(), owner.c:304-314: CAS(mine -> 0) at 310-311, then the
 * OFD unlock at 259-260.  `holders` drops at the CAS: from there on this
 * process no longer acts as the writer. */
#define RELEASE \
	atomic { \
		assert(holder[me] && holders == 1); \
		holder[me] = 0; holders--; \
		if :: lock == me -> lock = 0 :: else fi \
	}; \
	atomic { OFD_UNLOCK }

#else /* OLD */

/* The old lock_writer(), 79818a2:lib/writer.c:326-340, and the old
 * writer_process_alive(), 79818a2:lib/wait.c:117-137. */
#define CLAIM \
	/* old writer.c:329 cur = load_acquire(&h->writer_pid) */ \
	atomic { running[me] = 1; cur = lock }; \
judge:	/* old writer.c:332-334: cur && writer_alive ... */ \
	if \
	:: atomic { cur != 0 && alive -> p2 = lock } \
		/* ... && writer_process_alive(h): old wait.c:119 reloads the \
		 * pid; :121 loads the start time; :126-133 trusts it */ \
		atomic { w2 = wstart; \
			 res = (p2 != 0 && !dead[p2] && (w2 == 0 || w2 == p2)); \
			 p2 = 0; w2 = 0 }; \
		if :: res -> goto busy :: else fi \
	:: atomic { !(cur != 0 && alive) -> skip } \
	fi; \
	/* old writer.c:335-338: CAS(writer_pid, cur -> me) */ \
	if \
	:: atomic { lock == cur -> lock = me; holder[me] = 1; holders++; \
		    assert(holders == 1) } \
	:: atomic { lock != cur -> cur = lock }; goto judge \
	fi; \
	/* old writer.c:411-412: the start time, after the CAS */ \
	wstart = me

/* old writer.c:434 and :450: store_release(&h->writer_pid, 0) */
#define RELEASE \
	atomic { \
		assert(holder[me] && holders == 1); \
		holder[me] = 0; holders--; lock = 0 \
	}
#endif /* OLD */

/* A step the writer takes as the writer: it must be the only one. */
#define AS_WRITER	assert(holder[me] && holders == 1 && lock == me)

/*
 * The reader's view: look_at_writer(), wait.c:28-44, with owner_alive(),
 * owner.c:193-202.  At the step that concludes "gone" the writer of the
 * epoch read must not be past its epoch bump and not departed: that is
 * the epoch bcast_wait() would report gone, wait.c:42, 279-281.
 */
#define GONE(e) assert(!(set_epoch != 0 && set_epoch == e))

#ifndef DEVICE

proctype Contender(byte me)
{
	byte cur;
	bool res, locked;
#ifdef OLD
	byte p2, w2;
#endif

	{
		skip;
open:		/* bcast_writer_open(), writer.c:568-636 */
		CLAIM;
		/* owner.c:294 writer_pid, writer.c:611-612 writer_flags:
		 * nothing judges them.  writer.c:613 resume_positions() may
		 * fail (504-505): writer_release (owner_release()) at 519 */
		if
		:: RELEASE; goto leave
		:: skip
		fi;
#ifndef EPOCH_FIRST
		/* writer.c:621 store_release(writer_alive, 1), before the new
		 * epoch: until the bump a reader sees the new owner alive with
		 * the old epoch, never "gone" */
		atomic { AS_WRITER; alive = 1 };
		/* owner.c:301 writer_epoch++ (a release fetch-add); the fence
		 * at 427 orders no ownership state */
		atomic { AS_WRITER; epoch++; set_epoch = epoch; set_by = me };
#else
		/* Broken on purpose, bcast_writer_open() before 1eb3adf: the
		 * epoch bump, then fence_full() and writer_alive = 1 */
		atomic { AS_WRITER; epoch++; set_epoch = epoch; set_by = me };
		atomic { AS_WRITER; alive = 1 };
#endif
		/* bcast_publish() and friends, then bcast_writer_close():
		 * writer.c:654 bcast_flush(), 541 store_release(writer_alive, 0) */
		atomic { AS_WRITER; alive = 0; set_epoch = 0; set_by = 0 };
		/* writer.c:659 the backend's writer_release: owner_release() */
		RELEASE;
		/* writer.c:660-661 fence, the backend's wake_readers: no
		 * ownership state */
		goto leave;
busy:		/* -EBUSY: the caller tries again */
		atomic { cur = 0; res = 0 };
		goto open;
leave:
		atomic { running[me] = 0; finished++; cur = 0; res = 0 }
	} unless {
		/* death: the Killer did the rest atomically */
		atomic { dead[me] -> running[me] = 0; finished++;
			 cur = 0; res = 0; locked = 0 }
	}
}

/* Kills any running contender between any two of its steps. */
#define KILL(v) \
	atomic { \
		running[v] && !dead[v] -> \
		dead[v] = 1; \
		/* the kernel closes its files: the OFD lock goes */ \
		if :: ofd == v -> ofd = 0 :: else fi; \
		if :: holder[v] -> holder[v] = 0; holders-- :: else fi; \
		if :: set_by == v -> set_epoch = 0; set_by = 0 :: else fi; \
		k++ \
	}

active proctype Killer()
{
	byte k;

	do
	:: k < KILLS ->
		if
		:: KILL(1)
		:: KILL(2)
#if N >= 3
		:: KILL(3)
#endif
#if N >= 4
		:: KILL(4)
#endif
#if N >= 5
		:: KILL(5)
#endif
		:: else -> break	/* nobody to kill now: interleavings
					 * that kill later cover the rest */
		fi
	:: break
	od
}

#ifdef OFD
/* owner.c:188-189, F_OFD_GETLK (ofd_lock_held(), 164-171): the last read
 * decides. */
#define READER_DEAD(e) \
	if :: atomic { ofd != 0 -> skip } :: atomic { ofd == 0 -> GONE(e) } fi
#else
#define READER_DEAD(e)	GONE(e)
#endif

#ifndef NOREADER
active proctype Reader()
{
	byte me = READER;	/* holds no OFD lock, is nobody's token */
	byte e, t;

	/* wait.c:38 epoch = load_acquire(&writer_epoch) */
	e = epoch;
	if
	:: atomic { !alive -> GONE(e) }		/* owner.c:198-199 */
	/* owner.c:200 token = load_acquire(&writer_lock); 203 token == 0 */
	:: atomic { alive && lock == 0 -> GONE(e) }
	:: atomic { alive && lock != 0 -> t = lock }
		/* owner.c:201 token_alive(), 179-191: by pid first */
		if
		:: atomic { PROC_ALIVE(t) -> skip }	/* lines 177-178: live */
		:: atomic { !PROC_ALIVE(t) -> READER_DEAD(e) }
#if defined(FOREIGN) || defined(HIDEPID_DEAD)
		:: READER_DEAD(e)	/* cannot see the process */
#elif defined(START0_DEAD)
		:: atomic { t == 1 -> READER_DEAD(e) }	/* no start time */
#endif
		fi
	fi
}
#endif

#else /* DEVICE */

/*
 * Device rings: bcast.ko keeps the writer (one O_RDWR file at a time, under
 * ring->lock), its epoch and its presence (ring->writer_state), and copies
 * writer_alive and writer_epoch into the header for readers.
 */
bool mtx;		/* ring->lock held */
bool present;		/* writer_state & BCAST_WRITER_PRESENT */
byte wsepoch;		/* bcast_ws_epoch(writer_state) */
byte reported;		/* the last epoch the reader reported gone */

/* The writer of epoch `set_epoch` departs: its first writer_alive = 0. */
#define DEPART	if :: set_by == me -> set_epoch = 0; set_by = 0 :: else fi

#ifndef STATE_LAST
/* kmod/file.c:56 writer_state = epoch << 1 | PRESENT, 57
 * smp_mb__after_atomic(): the kernel's record first, so that a reader that
 * saw the header say alive finds the writer present */
#define STATE_FIRST	atomic { present = 1; wsepoch = e }
#define STATE_THEN
#else
/* Broken on purpose, bcast_writer_attach() before 6dc40fe: writer_state
 * after the header's writer_alive and writer_epoch */
#define STATE_FIRST	skip
#define STATE_THEN	present = 1; wsepoch = e;
#endif

proctype Contender(byte me)
{
	byte e;

	/* open(O_RDWR): bcast_writer_attach(), kmod/file.c:40-69, under the
	 * mutex (45-65); -EBUSY while a writer is present (46-50), and the
	 * caller tries again: no state changes until it can attach */
	atomic { !mtx && !present -> mtx = 1; e = wsepoch + 1 };  /* 51 */
	STATE_FIRST;
	/* lines 58-60 writer_pid, writer_pidns, writer_start: nobody judges
	 * them on a device ring */
#ifndef EPOCH_FIRST
	alive = 1;			/* line 61 WRITE_ONCE(writer_alive, 1) */
	/* line 64 smp_store_release(&writer_epoch, epoch) */
	atomic { epoch = e; set_epoch = e; set_by = me };
#else
	/* Broken on purpose, bcast_writer_attach() before 1eb3adf: the
	 * epoch, then smp_store_release(&writer_alive, 1) */
	atomic { epoch = e; set_epoch = e; set_by = me };
	alive = 1;
#endif
	/* line 65 mutex_unlock(); 67 bcast_wake(EPOLLPRI): see the Reader's
	 * poll */
	atomic { STATE_THEN mtx = 0; e = 0 };
	/* The process may die at any point: the kernel releases its file. */
	if
	:: /* bcast_writer_open(), writer.c:621 store_release(writer_alive, 1) */
	   alive = 1;
	   if
	   :: /* bcast_writer_close(), writer.c:658 writer_alive = 0 */
	      atomic { alive = 0; DEPART }
	   :: skip
	   fi
	:: skip
	fi;
	/* the file is released: bcast_writer_detach(), file.c:72-87 */
	atomic { !mtx -> mtx = 1 };		/* line 77 */
	atomic { alive = 0; DEPART };		/* line 79 */
	/* lines 81-82 writer_state &= ~PRESENT, 85 mutex_unlock(); 86
	 * bcast_wake(EPOLLHUP | EPOLLIN) */
	atomic { present = 0; mtx = 0 }
}

/*
 * bcast_wait(), wait.c:46-81, called again and again (it returns on a
 * report, a time-out or data: each call starts with hangup false, and a
 * new epoch is read before it is used).  No data is published here:
 * reader_ready() (272, 277) is false.  The reader reports each departure
 * it sees: at the report, the writer of the epoch reported must not be up
 * (GONE), and the epochs reported must be writers' (not 0) and increase
 * (ONCE: no departure reported twice).
 */
#define ONCE(e)	assert(e != 0 && e > reported); reported = e

active proctype Reader()
{
	byte e;			/* bcast_wait()'s epoch */
	byte gone_epoch;	/* rd->gone_epoch, with rd->gone_known */
	bool gone_known, hangup, live, report;
	bool a_gone;		/* bf->armed.flags & BCAST_ARM_WRITER_GONE */

end:	do
	:: /* wait.c:63 look_at_writer(), 28-44 */
	   if
#ifndef OLD_HANGUP
	   :: hangup ->
		/* lines 32-36: the writer slept on is the one gone */
#ifndef HANGUP_EPOCH0
		/* line 35: as at line 42, epoch 0 is no writer */
		atomic { report = (e != 0 && !(gone_known && gone_epoch == e));
			 live = 0 }
#else
		/* Broken on purpose, look_at_writer() before 6dc40fe: epoch 0
		 * reported too */
		atomic { report = !(gone_known && gone_epoch == e); live = 0 }
#endif
	   :: !hangup ->
#else
	   :: true ->
		/* Broken on purpose, look_at_writer() before 1eb3adf: the epoch
		 * loaded afresh after a hangup too, and reported */
#endif
		/* line 38 *epoch = load_acquire(&writer_epoch) */
		e = epoch;
		/* line 39 the backend's writer_alive: owner_alive(),
		 * owner.c:198 writer_alive, or device.c:568-571 */
		if
		:: atomic { alive && !hangup -> live = 1; report = 0 }
		:: atomic { !alive || hangup -> live = 0;	/* line 42 */
			report = (e != 0 && !(gone_known && gone_epoch == e)) }
		fi
	   fi;
	   if
	   :: report ->
		/* lines 66-68: -BCAST_EWRITERGONE; the next call starts
		 * afresh */
		atomic { GONE(e); ONCE(e); gone_known = 1; gone_epoch = e;
			 report = 0; hangup = 0 }
	   :: else ->
		/* line 74 the backend's sleep: device_sleep(), device.c:525-545:
		 * arm_device() (389-405), BCAST_IOC_ARM with
		 * BCAST_ARM_WRITER_GONE for WRITER_NONE (392) and the epoch, bf->armed under arm_lock,
		 * file.c:322-329 */
		a_gone = !live;
		/* line 426 device_poll(): BCAST_IOC_WAIT (or poll())
		 * evaluates bcast_reader_events() at once and after every
		 * wake-up: here at any moment.  EPOLLHUP alone
		 * (DEVICE_POLL_HANGUP, lib/device.c:438-439) needs no writer
		 * in the kernel and no WRITER_GONE (bcast_writer_events(),
		 * file.c:227-238: with it, HUP comes with PRI or not at all,
		 * so the armed epoch is left out); it returns 1
		 * (device.c:542-543) for WRITER_LIVE. */
		if
		:: atomic { !a_gone && !present -> hangup = 1 }
		:: /* PRI, IN (data, a NOTIFY), the time-out, a signal: 0 */
		   hangup = 0
		fi;
		/* line 292 hangup = err == 1 */
		atomic { a_gone = 0; live = 0 }
	   fi
	od
}

#endif /* DEVICE */

init
{
	byte i;

	atomic {
		i = 1;
		do
		:: i <= N -> run Contender(i); i++
		:: else -> break
		od
	}
}

#ifdef PROGRESS
ltl everyone_writes { <> (finished == N) }
#endif
