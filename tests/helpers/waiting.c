// SPDX-License-Identifier: MIT
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "clock.h"
#include "waiting.h"

int sleeps_until_timeout(struct bcast_reader *rd, int ms)
{
	double t0 = now_s(), c0 = thread_cpu_s(), dt, cpu;
	int rc = bcast_wait(rd, ms);

	dt = now_s() - t0;
	cpu = thread_cpu_s() - c0;
	if (rc == -ETIMEDOUT && dt >= ms / 1e3 * 0.95 && cpu < dt * 0.2)
		return 1;
	printf("# bcast_wait(%d ms): %s after %.1f ms using %.1f ms of CPU\n",
	       ms, bcast_strerror(rc), dt * 1e3, cpu * 1e3);
	return 0;
}

pid_t spawn_writer(const char *name, int count, int close_after)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (!pid) {
		struct bcast_ring *r;
		struct bcast_writer *w;
		int i;

		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* even if a check fails */
		close(fds[0]);
		if (bcast_ring_open(name, BCAST_RDWR, &r) ||
		    bcast_writer_open(r, &w))
			_exit(2);
		for (i = 0; i < count; i++)
			bcast_publish(w, &i, sizeof(i), (uint32_t)i);
		if (close_after)
			bcast_writer_close(w);
		if (write(fds[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &c, 1) != 1)
		pid = -1;
	close(fds[0]);
	return pid;
}

int drain(struct bcast_reader *rd, int *last)
{
	int v, n = 0;

	while (bcast_receive(rd, &v, sizeof(v), NULL) == sizeof(v)) {
		if (last)
			*last = v;
		n++;
	}
	return n;
}

int refuse_syscall(int nr, long long cmd, int err)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)cmd,
			 0, cmd < 0 ? 0 : 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(filter) / sizeof(filter[0]), filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int forbid_membarrier(void)
{
	return refuse_syscall(SYS_membarrier, -1, EPERM);
}

int pong(const char *in_name, const char *out_name, int cycles, int serve,
	 uint64_t *missed)
{
	struct bcast_ring *in, *out;
	struct bcast_reader_stats st;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	int i, v, rc;

	if (bcast_ring_open(out_name, BCAST_RDWR, &out) ||
	    bcast_writer_open(out, &w) ||
	    bcast_ring_open(in_name, BCAST_RDONLY, &in) ||
	    bcast_reader_open(in, BCAST_FROM_OLDEST, &rd))
		return -1;
	for (i = 0; i < cycles; i++) {
		if (!serve && bcast_publish(w, &i, sizeof(i), 0))
			return -2;
		while ((rc = (int)bcast_receive(rd, &v, sizeof(v), NULL)) ==
		       -EAGAIN) {
			rc = bcast_wait(rd, 10000);
			if (rc == -BCAST_EWRITERGONE && i == 0) {
				usleep(1000);	/* the peer is not attached yet */
				continue;
			}
			if (rc)
				return -3;	/* a lost wake-up hangs here */
		}
		if (rc != sizeof(v) || v != i)
			return -4;
		if (serve && bcast_publish(w, &i, sizeof(i), 0))
			return -5;
	}
	bcast_reader_stats(rd, &st);
	*missed = st.missed_wakeups;
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(in);
	bcast_ring_close(out);
	return 0;
}
