// SPDX-License-Identifier: MIT
/*
 * Ring memory belongs to its creator's memory cgroup (issue 8 point 13):
 * in a child cgroup with memory.max = 16M, creating a 64 MiB ring fails
 * with ENOMEM (4 KiB or 2 MiB pages alike) while a 4 MiB one succeeds and
 * shows in memory.current until it is destroyed; and max_total defaults
 * to half of RAM.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define CGROOT "/sys/fs/cgroup"
#define CG CGROOT "/bcast-memcg"

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		rc = -errno;
	close(fd);
	return rc;
}

/* cgroup2 with the memory controller for children, and our group. */
static int setup_cgroup(void)
{
	struct stat st;

	if (stat(CGROOT "/cgroup.controllers", &st)) {
		mkdir(CGROOT, 0755);
		if (mount("cgroup2", CGROOT, "cgroup2", 0, NULL))
			return -errno;
	}
	if (write_file(CGROOT "/cgroup.subtree_control", "+memory"))
		return -EOPNOTSUPP;
	rmdir(CG);
	if (mkdir(CG, 0755))
		return -errno;
	if (write_file(CG "/memory.max", "16M"))
		return -EOPNOTSUPP;
	return 0;
}

/* In the child, inside the group: what happened, as an exit status. */
static int in_cgroup(void)
{
	char pid[32];
	long long c0, c1, c2;
	unsigned minor;
	int rc;

	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (write_file(CG "/cgroup.procs", pid))
		return 10;
	c0 = file_num(CG "/memory.current");
	rc = ctl_create("m-big", 64 * MIB, 0, NULL);
	printf("# 64 MiB ring, 4 KiB pages, in 16M: %s\n", strerror(-rc));
	if (rc != -ENOMEM) {
		ctl_destroy("m-big");
		return 11;
	}
	rc = ctl_create("m-big", 64 * MIB, BCAST_RING_HUGEPAGE, NULL);
	printf("# 64 MiB ring, 2 MiB pages, in 16M: %s\n", strerror(-rc));
	if (rc != -ENOMEM) {
		ctl_destroy("m-big");
		return 12;
	}
	if (file_num(CG "/memory.current") > c0 + (long long)MIB)
		return 13;		/* the failures were uncharged */
	rc = ctl_create("m-small", 4 * MIB, 0, &minor);
	if (rc)
		return 14;
	c1 = file_num(CG "/memory.current");
	printf("# memory.current %lld -> %lld with a 4 MiB ring\n", c0, c1);
	if (c1 < c0 + (long long)(4 * MIB))
		return 15;		/* not charged to us */
	if (ctl_destroy("m-small"))
		return 16;
	c2 = file_num(CG "/memory.current");
	printf("# memory.current %lld after destroying it\n", c2);
	/*
	 * Charges and uncharges reach memory.current in per-CPU batches (up
	 * to 64 pages each) and the process allocates a little on its own:
	 * most of the 4 MiB must be gone, not every byte.
	 */
	if (c2 > c1 - (long long)(3 * MIB) || c2 > c0 + (long long)MIB)
		return 17;		/* not uncharged */
	return 0;
}

TEST(rings_count_against_the_creators_memory_cgroup)
{
	int status, err = setup_cgroup();
	pid_t pid;

	if (err == -EOPNOTSUPP || err == -ENODEV)
		SKIP(return, "no cgroup2 memory controller here");
	ASSERT_EQ(0, err);
	pid = fork();
	if (!pid)
		_exit(in_cgroup());
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ctl_destroy("m-big");
	ctl_destroy("m-small");
	EXPECT_EQ(0, rmdir(CG));
}

TEST(max_total_defaults_to_half_of_ram)
{
	long long total = param_num("max_total");
	long long ram = meminfo_kb("MemTotal") * 1024;

	TH_LOG("max_total %lld, MemTotal %lld", total, ram);
	ASSERT_LT(0, ram);
	EXPECT_EQ(ram / 2, total);
}

TEST_HARNESS_MAIN
