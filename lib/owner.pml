/*
 * owner.pml: who is the writer of a shm, file or memory ring.
 *
 * A Promela model of lib/owner.c (owner_claim, owner_release, owner_alive)
 * as bcast_writer_open() and bcast_writer_close() in lib/writer.c use it,
 * and of the reader's view of the writer in lib/wait.c (look_at_writer).
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
 *     process (another pid namespace, /proc mounted hidepid=invisible or not
 *     at all): each check nondeterministically sees the truth or "no such
 *     process".  With -DOFD this must still be safe (the lock tells); without
 *     it, it is not (the run expects a counter-example).
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
 *
 * Properties
 *   - Mutual exclusion: `holders` counts the live processes between a
 *     successful claim (the CAS, owner.c:230) and their release (the CAS to
 *     0, owner.c:244); it is asserted <= 1 at every claim, and every step a
 *     holder takes as the writer asserts that the word still names it and
 *     that it is the only holder.
 *   - The reader never calls a writer gone that is fully up: at the step at
 *     which it concludes "gone", the writer of the epoch it read must not
 *     be between its alive=1 store (writer.c:425) and its alive=0 store
 *     (writer.c:445) or death.  With -DCHECK_REPORT, the stricter property
 *     that bcast_wait()'s "once per departed writer" needs: not between its
 *     epoch bump (writer.c:421) and its departure either.
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
 *     reader's loads are acquire loads in program order (wait.c:242,
 *     owner.c:176, 180) and each writer's stores are ordered (the fence at
 *     writer.c:424, release stores, and the acq_rel CAS that chains one
 *     writer to the next), so on x86-TSO and on arm64 (other-multi-copy
 *     atomic) a reader observes a state of this sequentially consistent
 *     model.  (In the C11 model the relaxed fetch-add of writer_epoch,
 *     writer.c:421, does not synchronize with the reader's acquire load;
 *     a release fetch-add would make the argument hold there too.)
 *   - Steps.  Each shared access of the C code is one step; a step may
 *     also carry the local branch that follows it, and a judgement that
 *     ends in -EBUSY carries the OFD unlock that follows it (a lock release
 *     moves left: Lipton's reduction keeps every reachable state of the
 *     others).
 *   - Identities: a token is pid plus start time; a process's token is never
 *     again the token of a live process (pid reuse gets another start time),
 *     so "dead" is permanent: dead[t].  A reused pid is a new contender with
 *     a new token; contenders 1..N cover it.
 *   - token_process_alive() (owner.c:110-130) makes several system calls;
 *     they read one monotone fact (is that process alive), so the answer is
 *     the one at its last read: one atomic step.  Its "cannot say" (-1)
 *     answer is modelled as a nondeterministic "alive" without -DOFD (where
 *     token_alive() returns alive < 0, owner.c:168); with -DOFD the OFD lock
 *     decides then, as in the code (owner.c:166-167), which the FOREIGN
 *     "no such process" answer covers.  F_OFD_GETLK failing counts as held
 *     (owner.c:150): conservative, left out.  For the reader, "cannot say"
 *     only ever means "alive": no "gone" to check, left out.
 *   - In owner_claim() the contender holds the OFD lock before it reads the
 *     word (owner.c:216), and F_OFD_GETLK reports no conflict with one's
 *     own lock, so ofd_lock_held() there always says no: no step, but the
 *     CAS asserts that premise.  (The search confirms what follows: with
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
 *   FOREIGN        pid checks may not see the owner          (pass with OFD,
 *                                                   must FAIL without)
 *   PROGRESS       the LTL property, for pan -a -f
 *   OLD            the pre-ABI-2 protocol                      must FAIL
 *   NO_TAKEOVER    CAS from 0 only: progress                   must FAIL
 *   NOREADER       no Reader (so a FAIL shows the two writers, not the view)
 *   CHECK_REPORT   the stricter reader property: FAILS on today's code
 *   FIX_ALIVE_FIRST  writer_alive = 1 before the epoch bump: a proposed fix
 *                  under which CHECK_REPORT passes
 */

#ifndef N
#define N 4		/* contenders */
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
byte up_epoch;		/* epoch of the writer that is fully up, 0 none */
byte set_epoch;		/* epoch of the writer past its epoch bump, 0 none */
byte set_by;		/* ... and who it is */

/* ---- the liveness checks ---- */

/* Is the process of token t alive, seen from `me`: token_process_alive()
 * == 1, owner.c:118-119 (oneself) and 120-129 (kill(), /proc/PID/stat). */
#define PROC_ALIVE(t)	(t == me || !dead[t])

/* ---- the writer's identity, claimed and released ---- */

#ifndef OLD

/*
 * owner_claim(), owner.c:212-237, as bcast_writer_open() calls it
 * (writer.c:407).  Goes to `busy` on -EBUSY, falls through claimed.
 */
#define CLAIM \
	OFD_LOCK; \
	/* owner.c:222 cur = load_acquire(word) */ \
	atomic { running[me] = 1; cur = lock }; \
judge:	/* owner.c:224 cur && token_alive(r, cur): token_process_alive() \
	 * at line 162 first */ \
	if \
	:: cur == 0 -> goto cas \
	:: atomic { cur != 0 && PROC_ALIVE(cur) -> OFD_UNLOCK }; \
		goto busy	/* owner.c:164-165 alive; 225-227 unlock, -EBUSY */ \
	:: atomic { cur != 0 && !PROC_ALIVE(cur) -> TAKEOVER }	/* 0: dead */ \
	FOREIGN_CHECK \
	CANNOT_SAY \
	fi; \
cas:	/* owner.c:230-233: CAS(word, cur -> mine); on failure cur is the \
	 * value found, judged again (the loop, line 223) */ \
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

#ifdef FOREIGN
/* The owner's process cannot be seen from here (another pid namespace,
 * /proc hidepid=invisible, no /proc): "no such process", owner.c:120-121,
 * or a start time that does not match, 124, or -ESRCH, 125-126. */
#define FOREIGN_CHECK	:: cur != 0 && cur != me -> skip
#else
#define FOREIGN_CHECK
#endif

#if defined(OFD) || defined(PROGRESS)
#define CANNOT_SAY
#else
/* token_process_alive() == -1, "cannot say" (owner.c:127-128): alive,
 * line 168, when no OFD lock can tell. */
#define CANNOT_SAY	:: cur != 0 -> goto busy
#endif

#ifdef OFD
/* owner.c:216 ofd_lock(): F_OFD_SETLK at line 198; -EBUSY at 200-201,
 * returned at 218-219. */
#define OFD_LOCK \
	if \
	:: atomic { ofd == 0 -> ofd = me; locked = 1; running[me] = 1 } \
	:: atomic { ofd != 0 -> running[me] = 1 }; goto busy \
	fi
/* owner.c:166-167: when the pid says no, the OFD bit (line 221) sends
 * token_alive() to ofd_lock_held() (145-152): does an open file other
 * than mine hold the lock?  In owner_claim() mine does (line 216), and
 * F_OFD_GETLK reports no conflict with one's own lock: the answer is
 * always no, so the call is no step here; the CAS asserts the premise. */
#define OFD_HELD	assert(ofd == me && locked)
/* ofd_unlock(), owner.c:205-210 */
#define OFD_UNLOCK	if :: locked -> assert(ofd == me); ofd = 0; locked = 0 \
			   :: else fi
#else
#define OFD_LOCK	skip
#define OFD_HELD	skip
#define OFD_UNLOCK	skip
#endif

/* owner_release(), owner.c:239-248: CAS(mine -> 0) at 244-245, then the
 * OFD unlock at 246-247.  `holders` drops at the CAS: from there on this
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

proctype Contender(byte me)
{
	byte cur;
	bool res, locked;
#ifdef OLD
	byte p2, w2;
#endif

	{
		skip;
open:		/* bcast_writer_open(), writer.c:378-435 */
		CLAIM;
		/* writer.c:410 writer_pid, 412-414 writer_flags: nothing
		 * judges them.  writer.c:415 resume_positions() may fail
		 * (416-417): owner_release() at 429-431 */
		if
		:: RELEASE; goto leave
		:: skip
		fi;
#ifndef FIX_ALIVE_FIRST
		/* writer.c:421 writer_epoch++ (a fetch-add) */
		atomic { AS_WRITER; epoch++; set_epoch = epoch; set_by = me };
		/* writer.c:424-425 fence_full(); store_release(writer_alive, 1) */
		atomic { AS_WRITER; alive = 1; up_epoch = epoch };
#else
		/* A proposed fix: writer_alive = 1 (writer.c:425) before the
		 * epoch bump (writer.c:421).  Until the bump a reader sees the
		 * new owner alive with the old epoch, never "gone". */
		atomic { AS_WRITER; alive = 1 };
		atomic { AS_WRITER; epoch++; set_epoch = epoch; set_by = me;
			 up_epoch = epoch };
#endif
		/* bcast_publish() and friends, then bcast_writer_close():
		 * writer.c:444 bcast_flush(), 445 store_release(writer_alive, 0) */
		atomic {
			AS_WRITER; alive = 0; up_epoch = 0;
			set_epoch = 0; set_by = 0
		};
		/* writer.c:447 owner_release() */
		RELEASE;
		/* writer.c:448-449 fence, wake_readers(): no ownership state */
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
		if :: set_by == v -> set_epoch = 0; set_by = 0; up_epoch = 0 \
		   :: else fi; \
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

/*
 * The reader's view: look_at_writer(), wait.c:239-249, with owner_alive(),
 * owner.c:171-182.  At the step that concludes "gone" the writer of the
 * epoch read must not be up (and, with -DCHECK_REPORT, not past its epoch
 * bump: that is the epoch bcast_wait() would report gone, wait.c:247,
 * 273-275).
 */
#ifdef CHECK_REPORT
#define GONE(e) assert(!(up_epoch != 0 && up_epoch == e) && \
		       !(set_epoch != 0 && set_epoch == e))
#else
#define GONE(e) assert(!(up_epoch != 0 && up_epoch == e))
#endif

#ifdef OFD
/* owner.c:166-167, F_OFD_GETLK (ofd_lock_held(), 145-152): the last read
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

	/* wait.c:242 epoch = load_acquire(&writer_epoch) */
	e = epoch;
	if
	:: atomic { !alive -> GONE(e) }		/* owner.c:176-177 */
	/* owner.c:180 token = load_acquire(&writer_lock); 181 token == 0 */
	:: atomic { alive && lock == 0 -> GONE(e) }
	:: atomic { alive && lock != 0 -> t = lock }
		/* owner.c:181 token_alive(), 160-169: by pid first */
		if
		:: atomic { PROC_ALIVE(t) -> skip }	/* lines 164-165: live */
		:: atomic { !PROC_ALIVE(t) -> READER_DEAD(e) }
#ifdef FOREIGN
		:: READER_DEAD(e)	/* cannot see the process */
#endif
		fi
	fi
}
#endif

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
