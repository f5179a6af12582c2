// SPDX-License-Identifier: MIT
/* Rings: create, open, attach, destroy, info, backends, hugepages, errors. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include "tap.h"
#include "clock.h"
#include "fixture.h"
#include <linux/bcast.h>

TEST(attach_formats_largest_power_of_two)
{
	size_t len = BCAST_HDR_SIZE + 100000;
	void *mem = ring_memory(len);
	struct bcast_ring *r;
	struct bcast_ring_info info;

	CHECK_OK(bcast_ring_attach(mem, len, BCAST_FORMAT, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.capacity, 65536);
	CHECK_EQ(info.mtu, 65536 / 4 - 8);
	CHECK(!strcmp(info.backend, "memory"));
	CHECK_EQ(info.writer_alive, 0);
	CHECK_EQ(info.committed, 0);
	bcast_ring_close(r);
	/* Attaching again without FORMAT validates and keeps the contents. */
	CHECK_OK(bcast_ring_attach(mem, len, 0, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.capacity, 65536);
	bcast_ring_close(r);
	free(mem);
}

TEST(attach_rejects_what_is_not_a_ring)
{
	size_t len = BCAST_HDR_SIZE + 8192;
	unsigned char *mem = ring_memory(len);
	struct bcast_ring *r = NULL;
	struct bcast_ring_hdr *h = (struct bcast_ring_hdr *)mem;

	CHECK_EQ(bcast_ring_attach(mem, len, 0, &r), -EINVAL);
	memset(mem, 0xa5, len);
	CHECK_EQ(bcast_ring_attach(mem, len, 0, &r), -EINVAL);
	CHECK_EQ(bcast_ring_attach(NULL, len, BCAST_FORMAT, &r), -EINVAL);
	CHECK_EQ(bcast_ring_attach(mem, 100, BCAST_FORMAT, &r), -EINVAL);
	CHECK_EQ(bcast_ring_attach(mem, len, 0x100, &r), -EINVAL);
	CHECK_OK(bcast_ring_attach(mem, len, BCAST_FORMAT, &r));
	bcast_ring_close(r);
	h->abi_version = BCAST_ABI_VERSION + 1;
	CHECK_EQ(bcast_ring_attach(mem, len, 0, &r), -EPROTO);
	h->abi_version = BCAST_ABI_VERSION;
	h->capacity = 12345;
	CHECK_EQ(bcast_ring_attach(mem, len, 0, &r), -BCAST_ECORRUPT);
	h->capacity = 1ULL << 20;	/* larger than the memory */
	CHECK_EQ(bcast_ring_attach(mem, len, 0, &r), -BCAST_ECORRUPT);
	h->capacity = 8192;
	h->mtu = 8192;			/* above capacity / 4 */
	CHECK_EQ(bcast_ring_attach(mem, len, 0, &r), -BCAST_ECORRUPT);
	h->mtu = 1000;
	h->metadata_len = 5000;
	CHECK_EQ(bcast_ring_attach(mem, len, 0, &r), -BCAST_ECORRUPT);
	h->metadata_len = 0;
	h->chunk_shift = 40;
	CHECK_EQ(bcast_ring_attach(mem, len, 0, &r), -BCAST_ECORRUPT);
	h->chunk_shift = 9;
	CHECK_OK(bcast_ring_attach(mem, len, 0, &r));
	bcast_ring_close(r);
	free(mem);
}

/* capacity/256, or the largest power of two a frame of the MTU holds */
static unsigned expected_chunk_shift(uint64_t cap, uint64_t mtu)
{
	uint64_t step = cap / 256, frame = (mtu + 7) / 8 * 8 + 8;

	while (step > frame)
		step /= 2;
	return (unsigned)__builtin_ctzll(step);
}

TEST(geometry_is_the_one_the_abi_header_defines)
{
	static const uint64_t caps[] = { 4096, 65536, 1 << 20, 1ULL << 30 };
	static const uint64_t mtus[] = { 0, 8, 9, 100, 1000, 4088, 4096, 100000 };
	size_t len = BCAST_MAP_SIZE(1 << 20);
	void *mem = ring_memory(len);
	struct bcast_ring_hdr *h = mem;
	struct bcast_ring *r;
	size_t c, m;

	for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		for (m = 0; m < sizeof(mtus) / sizeof(mtus[0]); m++) {
			uint64_t cap = caps[c], mtu = mtus[m];
			struct bcast_ring_opts o = { .size = cap, .mtu = mtu };
			uint64_t want_mtu = mtu ? mtu : BCAST_DEFAULT_MTU(cap);

			CHECK_EQ(bcast_chunk_shift(cap, want_mtu),
				 expected_chunk_shift(cap, want_mtu));
			if (cap > len - BCAST_HDR_SIZE)
				continue;
			if (!bcast_mtu_valid(want_mtu, cap)) {
				CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
				continue;
			}
			CHECK_OK(bcast_ring_format(mem, len, &o, &r));
			CHECK_EQ(h->mtu, want_mtu);
			CHECK_EQ(h->chunk_shift, expected_chunk_shift(cap, want_mtu));
			bcast_ring_close(r);
		}
	}
	CHECK_EQ(BCAST_DEFAULT_MTU(4096), 1016);
	CHECK_EQ(BCAST_DEFAULT_MTU(1ULL << 30), BCAST_MAX_MTU);
	CHECK(bcast_capacity_valid(4096) && bcast_capacity_valid(1ULL << 40));
	CHECK(!bcast_capacity_valid(0) && !bcast_capacity_valid(2048));
	CHECK(!bcast_capacity_valid(1ULL << 41) && !bcast_capacity_valid(12288));
	CHECK(!bcast_chunk_shift_valid(2, 65536) && bcast_chunk_shift_valid(3, 65536));
	CHECK(bcast_chunk_shift_valid(14, 65536) && !bcast_chunk_shift_valid(15, 65536));
	free(mem);
}

TEST(format_options_are_checked)
{
	size_t len = BCAST_HDR_SIZE + 65536;
	void *mem = ring_memory(len);
	char meta[2000] = "instrument=ESZ6";
	struct bcast_ring_opts o = { .size = 65536, .metadata = meta,
				     .metadata_len = 16, .mtu = 1000 };
	struct bcast_ring_info info;
	struct bcast_ring *r;

	CHECK_OK(bcast_ring_format(mem, len, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.mtu, 1000);
	CHECK_EQ(info.metadata_len, 16);
	CHECK(!memcmp(info.metadata, "instrument=ESZ6", 16));
	bcast_ring_close(r);
	o.size = 65536 + 8;
	CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
	o.size = 131072;		/* does not fit */
	CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
	o.size = 65536;
	o.metadata_len = sizeof(meta);
	CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
	o.metadata_len = 16;
	o.mtu = 65536 / 2;		/* above capacity / 4 - 8 */
	CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
	o.mtu = 4;
	CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
	/* A flag this library does not know is an option it does not have. */
	o.mtu = 0;
	o.flags = 0x80;
	CHECK_EQ(bcast_ring_format(mem, len, &o, &r), -EINVAL);
	o.flags = BCAST_HUGEPAGE;	/* known; memory it is handed stays */
	CHECK_OK(bcast_ring_format(mem, len, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.reserved_[0] | info.reserved32_ | info.reader_slots | info.gated, 0);
	CHECK(!info.path && !info.sysfs);	/* memory: no file */
	bcast_ring_close(r);
	free(mem);
}

TEST(shm_create_open_destroy)
{
	const char *name = shm_name("shm");
	struct bcast_ring_opts o = { .size = 1 << 16, .mode = 0640,
				     .metadata = "hello", .metadata_len = 5 };
	struct bcast_ring *r, *r2;
	struct bcast_ring_info info;
	struct stat st;
	char path[128];

	bcast_ring_destroy(name);
	CHECK_OK(bcast_ring_create(name, &o, &r));
	CHECK_EQ(bcast_ring_create(name, &o, &r2), -EEXIST);
	snprintf(path, sizeof(path), "/dev/shm/%s", name + 4);
	CHECK(!stat(path, &st));
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK_OK(bcast_ring_open(name, BCAST_RDONLY, &r2));
	CHECK_OK(bcast_ring_info(r2, &info));
	CHECK(!strcmp(info.backend, "shm"));
	CHECK_EQ(info.capacity, 1 << 16);
	CHECK_EQ(info.metadata_len, 5);
	CHECK(!memcmp(info.metadata, "hello", 5));
	bcast_ring_close(r2);
	/* A bare name is shm while bcast.ko is not loaded. */
	if (access("/dev/bcast-ctl", F_OK)) {
		CHECK_OK(bcast_ring_open(name + 4, BCAST_RDWR, &r2));
		bcast_ring_close(r2);
	}
	CHECK_OK(bcast_ring_destroy(name));
	CHECK_EQ(bcast_ring_destroy(name), -ENOENT);
	CHECK_EQ(bcast_ring_open(name, BCAST_RDONLY, &r2), -ENOENT);
	bcast_ring_close(r);
}

struct listing {
	const char *want;
	struct bcast_ring_location *loc;
	int seen, calls;
	int stop_after;		/* return 7 from this call on; 0 never */
};

static int on_ring(const struct bcast_ring_location *loc, void *arg)
{
	struct listing *l = arg;

	l->calls++;
	if (l->want && !strcmp(loc->name, l->want)) {
		l->seen++;
		*l->loc = *loc;
	}
	return l->stop_after && l->calls >= l->stop_after ? 7 : 0;
}

/* How many times bcast_ring_list() reports `name` (the last in *loc). */
static int listed_as(const char *name, struct bcast_ring_location *loc)
{
	struct listing l = { .want = name, .loc = loc };

	return bcast_ring_list(on_ring, &l) ? -1 : l.seen;
}

TEST(names_lead_where_create_and_open_go)
{
	static char longname[BCAST_PATH_MAX + 16];
	struct bcast_ring_location loc;

	CHECK_OK(bcast_ring_locate("shm:quotes", &loc));
	CHECK(!strcmp(loc.backend, "shm") && !strcmp(loc.name, "shm:quotes"));
	CHECK(!strcmp(loc.path, "/dev/shm/quotes") || !access(loc.path, F_OK));
	CHECK(!loc.sysfs[0]);
	CHECK_OK(bcast_ring_locate("file:/tmp/a ring", &loc));
	CHECK(!strcmp(loc.backend, "file") && !strcmp(loc.path, "/tmp/a ring"));
	CHECK(!strcmp(loc.name, "file:/tmp/a ring") && !loc.alt_path[0]);
	if (access("/dev/bcast-ctl", F_OK)) {
		CHECK_OK(bcast_ring_locate("quotes", &loc));
		CHECK(!strcmp(loc.backend, "shm") && !strcmp(loc.name, "shm:quotes"));
	}
	CHECK_EQ(bcast_ring_locate("", &loc), -EINVAL);
	CHECK_EQ(bcast_ring_locate("shm:", &loc), -EINVAL);
	CHECK_EQ(bcast_ring_locate("shm:a/b", &loc), -EINVAL);
	CHECK_EQ(bcast_ring_locate("shm:..", &loc), -EINVAL);
	CHECK_EQ(bcast_ring_locate("file:", &loc), -EINVAL);
	CHECK_EQ(bcast_ring_locate(NULL, &loc), -EINVAL);
	CHECK_EQ(bcast_ring_locate("shm:x", NULL), -EINVAL);
	memcpy(longname, "file:/", 6);
	memset(longname + 6, 'a', sizeof(longname) - 7);
	CHECK_EQ(bcast_ring_locate(longname, &loc), -ENAMETOOLONG);
	CHECK_EQ(bcast_ring_list(NULL, NULL), -EINVAL);
}

TEST(device_ring_names_follow_one_rule)
{
	char name[BCAST_NAME_MAX + 1];

	CHECK(bcast_ring_name_valid("quotes.ES-Z6_a"));
	CHECK(bcast_ring_name_valid("...") && bcast_ring_name_valid(".a"));
	CHECK(!bcast_ring_name_valid("") && !bcast_ring_name_valid("."));
	CHECK(!bcast_ring_name_valid(".."));
	CHECK(!bcast_ring_name_valid("a/b") && !bcast_ring_name_valid("a b"));
	CHECK(!bcast_ring_name_valid("caf\xc3\xa9") && !bcast_ring_name_valid("a\n"));
	memset(name, 'n', sizeof(name));
	name[BCAST_NAME_MAX - 1] = '\0';	/* 63 bytes */
	CHECK(bcast_ring_name_valid(name));
	name[BCAST_NAME_MAX - 1] = 'n';	/* 64 bytes, and no NUL in reach */
	CHECK(!bcast_ring_name_valid(name));
}

TEST(list_finds_named_rings_and_only_them)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	char a[64], b[64], junk[128], file[128];
	struct bcast_ring_location loc;
	struct bcast_ring_info info;
	struct bcast_ring *ra, *rb, *rf;
	struct listing l = { 0 };
	int fd;

	snprintf(a, sizeof(a), "%s", shm_name("list-a"));
	snprintf(b, sizeof(b), "%s", shm_name("list-b"));
	CHECK_OK(bcast_ring_create(a, &o, &ra));
	CHECK_OK(bcast_ring_create(b, &o, &rb));
	CHECK_OK(bcast_ring_info(ra, &info));
	snprintf(junk, sizeof(junk), "/dev/shm/%s", a + 4);
	CHECK(info.path && !strcmp(info.path, junk) && !info.sysfs);
	/* Not rings: a file of zeros, and a ring header cut short. */
	snprintf(junk, sizeof(junk), "/dev/shm/bcast-junk-%d", (int)getpid());
	fd = open(junk, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && !ftruncate(fd, 1 << 20));
	close(fd);
	CHECK_EQ(listed_as(a, &loc), 1);
	CHECK(!strcmp(loc.backend, "shm") && !strcmp(loc.path, info.path));
	CHECK_EQ(listed_as(b, &loc), 1);
	snprintf(file, sizeof(file), "shm:bcast-junk-%d", (int)getpid());
	CHECK_EQ(listed_as(file, &loc), 0);
	unlink(junk);
	/* file: rings are reached by path only */
	snprintf(file, sizeof(file), "file:/tmp/bcast-list-%d", (int)getpid());
	CHECK_OK(bcast_ring_create(file, &o, &rf));
	CHECK_OK(bcast_ring_info(rf, &info));
	CHECK(!strcmp(info.path, file + 5) && !strcmp(info.backend, "file"));
	CHECK_EQ(listed_as(file, &loc), 0);
	bcast_ring_close(rf);
	CHECK_OK(bcast_ring_destroy(file));
	/* fn's non-zero stops the walk and is returned */
	l.stop_after = 1;
	CHECK_EQ(bcast_ring_list(on_ring, &l), 7);
	CHECK_EQ(l.calls, 1);
	bcast_ring_close(ra);
	bcast_ring_close(rb);
	CHECK_OK(bcast_ring_destroy(a));
	CHECK_OK(bcast_ring_destroy(b));
	CHECK_EQ(listed_as(a, &loc), 0);
}

TEST(bad_names_and_options)
{
	struct bcast_ring_opts o = { .size = 1 << 16 };
	struct bcast_ring *r;

	CHECK_EQ(bcast_ring_create("shm:", &o, &r), -EINVAL);
	CHECK_EQ(bcast_ring_create("shm:a/b", &o, &r), -EINVAL);
	CHECK_EQ(bcast_ring_create("shm:..", &o, &r), -EINVAL);
	CHECK_EQ(bcast_ring_create("file:", &o, &r), -EINVAL);
	CHECK_EQ(bcast_ring_create(NULL, &o, &r), -EINVAL);
	CHECK_EQ(bcast_ring_create("shm:x", NULL, &r), -EINVAL);
	o.size = 3000;
	CHECK_EQ(bcast_ring_create(shm_name("bad"), &o, &r), -EINVAL);
	o.size = 1024;			/* below the minimum */
	CHECK_EQ(bcast_ring_create(shm_name("bad"), &o, &r), -EINVAL);
	o.size = 1 << 16;
	o.flags = 0x80;
	CHECK_EQ(bcast_ring_create(shm_name("bad"), &o, &r), -EINVAL);
	CHECK_EQ(bcast_ring_open(shm_name("bad"), 0x40, &r), -EINVAL);
	CHECK_EQ(bcast_ring_open("file:/nonexistent/ring", BCAST_RDONLY, &r),
		 -ENOENT);
	{
		/* A file too small to hold a ring is refused. */
		char path[] = "/tmp/bcast-test-smallXXXXXX", name[64];
		int fd = mkstemp(path);

		CHECK(fd >= 0 && write(fd, "tiny", 4) == 4);
		close(fd);
		snprintf(name, sizeof(name), "file:%s", path);
		CHECK_EQ(bcast_ring_open(name, BCAST_RDONLY, &r), -EINVAL);
		unlink(path);
	}
}

TEST(file_backend_and_garbage_file)
{
	char path[] = "/tmp/bcast-test-ringXXXXXX", name[64];
	struct bcast_ring_opts o = { .size = 1 << 15 };
	struct bcast_ring *r, *r2;
	struct bcast_ring_info info;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	char buf[16];
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(name, sizeof(name), "file:%s", path);
	CHECK_OK(bcast_ring_create(name, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK(!strcmp(info.backend, "file"));
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_publish(w, "persist", 7, 7));
	bcast_writer_close(w);
	bcast_ring_close(r);
	/* The file keeps the ring across processes and mappings. */
	CHECK_OK(bcast_ring_open(name, BCAST_RDONLY, &r2));
	CHECK_OK(bcast_reader_open(r2, BCAST_FROM_OLDEST, &rd));
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), 7);
	CHECK(!memcmp(buf, "persist", 7));
	bcast_reader_close(rd);
	bcast_ring_close(r2);
	/* A file of the right size that is not a ring is refused. */
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "garbage!", 8, 0) == 8);
	close(fd);
	CHECK_EQ(bcast_ring_open(name, BCAST_RDONLY, &r2), -EINVAL);
	CHECK_OK(bcast_ring_destroy(name));
}

static void exit_on_segv(int sig)
{
	(void)sig;
	_exit(77);
}

TEST(readonly_ring_cannot_be_written)
{
	const char *name = shm_name("ro");
	struct bcast_ring_opts o = { .size = 1 << 16 };
	struct bcast_ring *r, *ro;
	struct bcast_writer *w;
	struct bcast_ring_info info;
	int status;
	pid_t pid;

	bcast_ring_destroy(name);
	CHECK_OK(bcast_ring_create(name, &o, &r));
	CHECK_OK(bcast_ring_open(name, BCAST_RDONLY, &ro));
	CHECK_EQ(bcast_writer_open(ro, &w), -EACCES);
	CHECK_OK(bcast_ring_info(ro, &info));
	pid = fork();
	if (!pid) {
		/* Writing the data area of a read-only mapping must fault
		 * (own handler: sanitizers would turn the signal into exit 1). */
		struct sigaction sa = { .sa_handler = exit_on_segv };

		sigaction(SIGSEGV, &sa, NULL);
		volatile unsigned char *data =
			(volatile unsigned char *)info.metadata -
			offsetof(struct bcast_ring_hdr, metadata) +
			BCAST_HDR_SIZE;
		data[0] = 1;
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 77);
	bcast_ring_close(ro);
	bcast_ring_close(r);
	bcast_ring_destroy(name);
}

static int hugetlbfs_mounted(void)
{
	char line[512];
	FILE *f = fopen("/proc/mounts", "r");
	int found = 0;

	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, " hugetlbfs ") != NULL;
	if (f)
		fclose(f);
	return found;
}

TEST(hugepage_fallback_is_reported)
{
	const char *name = shm_name("huge");
	struct bcast_ring_opts o = { .size = 1 << 21, .flags = BCAST_HUGEPAGE };
	struct bcast_ring_info info;
	struct bcast_ring *r;

	bcast_ring_destroy(name);
	CHECK_OK(bcast_ring_create(name, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	/* Without a mounted hugetlbfs the ring falls back to normal pages
	 * and says so. */
	printf("# shm ring with BCAST_HUGEPAGE: hugepage=%d\n", info.hugepage);
	if (!hugetlbfs_mounted())
		CHECK_EQ(info.hugepage, 0);
	bcast_ring_close(r);
	CHECK_OK(bcast_ring_destroy(name));
}

static int set_hugepages(long n)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");

	if (!f)
		return -1;
	fprintf(f, "%ld\n", n);
	return fclose(f);
}

static long get_hugepages(void)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* What the hugetlbfs mounted at `dir` must give; the caller cleans up. */
static void hugetlbfs_rings_in(const char *dir)
{
	struct bcast_ring_opts o = { .size = 1 << 21, .flags = BCAST_HUGEPAGE };
	struct bcast_ring_info info;
	struct bcast_ring_location loc;
	struct bcast_ring *r, *r2;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	char name[128], shm[64], buf[8], buf_path[64];

	snprintf(name, sizeof(name), "file:%s/ring", dir);
	CHECK_OK(bcast_ring_create(name, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.hugepage, 1);
	CHECK_EQ(info.capacity, 1 << 21);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_ring_open(name, BCAST_RDONLY, &r2));
	CHECK_OK(bcast_reader_open(r2, BCAST_FROM_OLDEST, &rd));
	CHECK_OK(bcast_publish(w, "huge", 4, 1));
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), 4);
	bcast_reader_close(rd);
	bcast_ring_close(r2);
	bcast_writer_close(w);
	bcast_ring_close(r);
	CHECK_OK(bcast_ring_destroy(name));
	/* shm: names use a mounted hugetlbfs when one is there */
	snprintf(shm, sizeof(shm), "shm:bcast-hp-%d", (int)getpid());
	CHECK_OK(bcast_ring_create(shm, &o, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.hugepage, 1);
	snprintf(buf_path, sizeof(buf_path), "/bcast.bcast-hp-%d", (int)getpid());
	CHECK(info.path && strlen(info.path) > strlen(buf_path) &&
	      !strcmp(info.path + strlen(info.path) - strlen(buf_path), buf_path));
	CHECK_OK(bcast_ring_locate(shm, &loc));
	CHECK(!strcmp(loc.path, info.path) && !strncmp(loc.alt_path, "/dev/shm/", 9));
	CHECK_EQ(listed_as(shm, &loc), 1);
	CHECK(!strcmp(loc.backend, "shm") && !strcmp(loc.path, info.path));
	CHECK_OK(bcast_ring_open(shm, BCAST_RDONLY, &r2));
	CHECK_OK(bcast_ring_info(r2, &info));
	CHECK(!strcmp(loc.path, info.path));
	bcast_ring_close(r2);
	bcast_ring_close(r);
	CHECK_OK(bcast_ring_destroy(shm));
	CHECK_EQ(bcast_ring_open(shm, BCAST_RDONLY, &r2), -ENOENT);
	CHECK_EQ(listed_as(shm, &loc), 0);
}

/* Can this process map a hugetlbfs file at all?  (qemu-user maps files
 * itself at addresses that are not 2 MiB aligned, and fails.) */
static int hugetlbfs_mappable(const char *dir)
{
	char path[128];
	void *p;
	int fd, ok = 0;

	snprintf(path, sizeof(path), "%s/probe", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && !ftruncate(fd, 2 << 20)) {
		p = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ok = p != MAP_FAILED;
		if (ok)
			munmap(p, 2 << 20);
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	return ok;
}

TEST(hugetlbfs_backed_rings)
{
	char dir[] = "/tmp/bcast-hugeXXXXXX";
	long before = get_hugepages();

	if (geteuid() != 0 || before < 0) {
		printf("# not root: hugetlbfs test needs to mount one\n");
		CHECK(geteuid() != 0);
		return;
	}
	if (before < 8)
		set_hugepages(8);
	if (!mkdtemp(dir)) {
		set_hugepages(before);
		FAILF("mkdtemp: %s", strerror(errno));
	}
	if (mount("none", dir, "hugetlbfs", 0, "pagesize=2M")) {
		rmdir(dir);
		set_hugepages(before);
		FAILF("mount hugetlbfs: %s", strerror(errno));
	}
	if (hugetlbfs_mappable(dir))
		hugetlbfs_rings_in(dir);
	else
		printf("# skipped: a hugetlbfs file cannot be mapped here (%s)\n",
		       "an emulator that maps files itself?");
	umount(dir);
	rmdir(dir);
	set_hugepages(before);
}

/* Exact counts from any writer, across laps, fragments and a new writer. */
TEST(ring_count_is_exact)
{
	static unsigned char mem[BCAST_HDR_SIZE + 8192] __attribute__((aligned(4096)));
	static unsigned char big[5000];
	struct bcast_ring_opts o = { .size = 8192, .mtu = 512 };
	struct bcast_ring *r;
	struct bcast_writer *w;
	uint64_t msgs, bytes, want_msgs = 0, want_bytes = 0;
	int i;

	CHECK_OK(bcast_ring_format(mem, sizeof(mem), &o, &r));
	CHECK_EQ(bcast_ring_count(r, &msgs, &bytes), 0);
	CHECK_EQ(msgs, 0);
	CHECK_EQ(bytes, 0);
	CHECK_EQ(bcast_ring_count(NULL, &msgs, &bytes), -EINVAL);
	CHECK_EQ(bcast_ring_count(r, NULL, &bytes), -EINVAL);
	CHECK_OK(bcast_writer_open(r, &w));
	/* Many laps of an 8 KiB ring, sizes 0..1600 (fragmented above 512),
	 * heartbeats in between (not messages). */
	for (i = 0; i < 3000; i++) {
		size_t len = (size_t)(i * 37) % 1601;

		CHECK_OK(bcast_publish(w, big, len, 1));
		want_msgs++;
		want_bytes += len;
		if (i % 100 == 7)
			CHECK_OK(bcast_heartbeat(w));
		if (i % 250 == 0) {
			CHECK_OK(bcast_ring_count(r, &msgs, &bytes));
			CHECK_EQ(msgs, want_msgs);
			CHECK_EQ(bytes, want_bytes);
		}
	}
	bcast_writer_close(w);
	/* A second writer continues the counts. */
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_publish(w, big, 3, 1));
	CHECK_OK(bcast_ring_count(r, &msgs, &bytes));
	CHECK_EQ(msgs, want_msgs + 1);
	CHECK_EQ(bytes, want_bytes + 3);
	bcast_writer_close(w);
	bcast_ring_close(r);
}

/* Format `len` bytes at `mem`, publish one message, attach again without
 * formatting: the same ring, the message still there. */
static void attach_anywhere(unsigned char *mem, size_t len, size_t want_cap)
{
	struct bcast_ring_info info;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	struct bcast_ring *r;
	char buf[16];

	CHECK_OK(bcast_ring_attach(mem, len, BCAST_FORMAT, &r));
	CHECK_OK(bcast_ring_info(r, &info));
	CHECK_EQ(info.capacity, want_cap);
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_publish(w, "anywhere", 8, 3));
	bcast_writer_close(w);
	bcast_ring_close(r);
	CHECK_OK(bcast_ring_attach(mem, len, BCAST_RDONLY, &r));
	CHECK_OK(bcast_reader_open(r, BCAST_FROM_OLDEST, &rd));
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), 8);
	CHECK(!memcmp(buf, "anywhere", 8));
	bcast_reader_close(rd);
	bcast_ring_close(r);
}

TEST(any_memory_of_any_alignment_holds_a_ring)
{
	const size_t len = BCAST_HDR_SIZE + 65536;
	_Alignas(16) unsigned char stack[BCAST_HDR_SIZE + 4096 + 64];
	unsigned char *m = malloc(len), *c = calloc(1, len + 8);
	unsigned char *map1, *map2;
	int fd;

	CHECK(m && c);
	attach_anywhere(m, len, 65536);		/* glibc: 16-byte aligned */
	attach_anywhere(c + 8, len, 65536);	/* 8-byte aligned */
	attach_anywhere(c + 3, len + 5, 65536);	/* the ring starts at c + 8 */
	attach_anywhere(c + 3, len, 32768);	/* 5 bytes short of 64 KiB */
	attach_anywhere(stack, sizeof(stack), 4096);
	free(m);
	free(c);
	/* One shared memory mapped twice: the same page offset in either
	 * mapping finds the same ring. */
	fd = memfd_create("bcast-test-any", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(!ftruncate(fd, 2 * len));
	map1 = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	map2 = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map1 != MAP_FAILED && map2 != MAP_FAILED);
	{
		struct bcast_ring *r1, *r2;
		struct bcast_writer *w;
		struct bcast_reader *rd;
		char buf[8];

		CHECK_OK(bcast_ring_attach(map1 + 4099, len, BCAST_FORMAT, &r1));
		CHECK_OK(bcast_ring_attach(map2 + 4099, len, BCAST_RDONLY, &r2));
		CHECK_OK(bcast_reader_open(r2, BCAST_FROM_OLDEST, &rd));
		CHECK_OK(bcast_writer_open(r1, &w));
		CHECK_OK(bcast_publish(w, "twice", 5, 0));
		CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), 5);
		bcast_writer_close(w);
		bcast_reader_close(rd);
		bcast_ring_close(r2);
		bcast_ring_close(r1);
	}
	munmap(map1, 2 * len);
	munmap(map2, 2 * len);
	close(fd);
}

TEST(read_only_memory_is_never_written)
{
	const size_t len = BCAST_HDR_SIZE + 65536;
	struct bcast_ring *rw, *ro;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	struct bcast_reader_stats st;
	unsigned char *wmap, *rmap;
	char buf[16];
	double t0;
	int fd;

	fd = memfd_create("bcast-test-ro", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(!ftruncate(fd, len));
	wmap = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rmap = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(wmap != MAP_FAILED && rmap != MAP_FAILED);
	CHECK_OK(bcast_ring_attach(wmap, len, BCAST_FORMAT, &rw));
	CHECK_OK(bcast_ring_attach(rmap, len, BCAST_RDONLY, &ro));
	/* A crash here is what this test is about: the library must not
	 * write to memory it was told is read-only. */
	CHECK_EQ(bcast_writer_open(ro, &w), -EACCES);
	CHECK_OK(bcast_reader_open(ro, BCAST_FROM_OLDEST, &rd));
	CHECK_EQ(bcast_reader_arm(rd), -ENOTSUP);
	CHECK_EQ(bcast_wait(rd, 30), -ETIMEDOUT);	/* no writer yet */
	CHECK_OK(bcast_writer_open(rw, &w));
	CHECK_OK(bcast_publish(w, "ro", 2, 0));
	CHECK_EQ(bcast_wait(rd, 1000), 0);
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), 2);
	/* Sleeping in slices: a message is seen well within one slice. */
	t0 = now_s();
	CHECK_OK(bcast_publish(w, "late", 4, 0));
	CHECK_EQ(bcast_wait(rd, 5000), 0);
	CHECK(now_s() - t0 < 0.5);
	CHECK_EQ(bcast_receive(rd, buf, sizeof(buf), NULL), 4);
	bcast_writer_close(w);
	CHECK_EQ(bcast_wait(rd, 1000), -BCAST_EWRITERGONE);
	CHECK_EQ(bcast_wait(rd, 60), -ETIMEDOUT);
	CHECK_OK(bcast_reader_stats(rd, &st));
	CHECK(st.sleeps > 0);
	bcast_reader_close(rd);
	bcast_ring_close(ro);
	bcast_ring_close(rw);
	munmap(wmap, len);
	munmap(rmap, len);
	close(fd);
}

/* Every descriptor the library keeps is close-on-exec. */
TEST(every_descriptor_is_close_on_exec)
{
	const char *name = shm_name("cloexec");
	struct bcast_ring_opts o = { .size = 1 << 16, .flags = BCAST_HUGEPAGE };
	struct bcast_ring *r, *ro, *fr;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	char path[64], file[64], inherited[1024];
	int fd, checked = 0;

	/* What this process was started with is not the library's. */
	for (fd = 0; fd < 1024; fd++)
		inherited[fd] = fcntl(fd, F_GETFD) >= 0;
	snprintf(file, sizeof(file), "file:/tmp/bcast-test-cloexec-%d",
		 (int)getpid());
	bcast_ring_destroy(name);
	bcast_ring_destroy(file);
	CHECK_OK(bcast_ring_create(name, &o, &r));
	CHECK_OK(bcast_ring_open(name, BCAST_RDONLY, &ro));
	CHECK_OK(bcast_ring_create(file, &o, &fr));
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_reader_open(ro, BCAST_FROM_LATEST, &rd));
	CHECK_OK(bcast_publish(w, "x", 1, 0));
	CHECK_EQ(bcast_wait(rd, 10), 0);
	for (fd = 3; fd < 1024; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl < 0 || inherited[fd])
			continue;
		snprintf(path, sizeof(path), "fd %d", fd);
		if (!(fl & FD_CLOEXEC))
			FAILF("%s is not close-on-exec", path);
		checked++;
	}
	CHECK(checked >= 3);
	bcast_reader_close(rd);
	bcast_writer_close(w);
	bcast_ring_close(fr);
	bcast_ring_close(ro);
	bcast_ring_close(r);
	bcast_ring_destroy(name);
	bcast_ring_destroy(file);
}

/*
 * Readers of shm rings need read permission only: another user, given
 * 0644, reads and waits (sleeping in slices: it cannot write the wake
 * page) but can neither write nor truncate the ring.
 */
TEST(readers_need_only_read_permission)
{
	const char *name = shm_name("perm");
	struct bcast_ring_opts o = { .size = 1 << 16, .mode = 0644 };
	struct bcast_ring *r;
	struct bcast_writer *w;
	int status, tochild[2], fromchild[2];
	char c;
	pid_t pid;

	if (geteuid() != 0) {
		printf("# skipped: needs root to become another user\n");
		return;
	}
	CHECK(!pipe(tochild) && !pipe(fromchild));
	bcast_ring_destroy(name);
	CHECK_OK(bcast_ring_create(name, &o, &r));
	CHECK_OK(bcast_writer_open(r, &w));
	CHECK_OK(bcast_publish(w, "first", 5, 0));
	pid = fork();
	if (!pid) {
		struct bcast_ring *rr, *rw;
		struct bcast_reader *rd;
		char buf[16];
		int code = 0;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (bcast_ring_open(name, BCAST_RDWR, &rw) != -EACCES)
			_exit(11);
		if (bcast_ring_open(name, BCAST_RDONLY, &rr) ||
		    bcast_reader_open(rr, BCAST_FROM_OLDEST, &rd))
			_exit(12);
		if (bcast_receive(rd, buf, sizeof(buf), NULL) != 5)
			_exit(13);
		if (write(fromchild[1], "r", 1) != 1)	/* ready: publish */
			_exit(14);
		if (bcast_wait(rd, 5000) != 0 ||
		    bcast_receive(rd, buf, sizeof(buf), NULL) != 6)
			code = 15;
		/* gone: reported once, after the rest was read */
		if (!code && read(tochild[0], &c, 1) != 1)
			code = 16;
		if (!code && bcast_wait(rd, 5000) != -BCAST_EWRITERGONE)
			code = 17;
		bcast_reader_close(rd);
		bcast_ring_close(rr);
		_exit(code);
	}
	CHECK(pid > 0);
	CHECK(read(fromchild[0], &c, 1) == 1);
	CHECK_OK(bcast_publish(w, "second", 6, 0));
	usleep(100000);
	bcast_writer_close(w);
	CHECK(write(tochild[1], "g", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	bcast_ring_close(r);
	bcast_ring_destroy(name);
}

TEST(strerror_names_every_code)
{
	CHECK(strstr(bcast_strerror(-BCAST_EOVERRUN), "overrun"));
	CHECK(strstr(bcast_strerror(-BCAST_ECORRUPT), "corrupt"));
	CHECK(strstr(bcast_strerror(-BCAST_EWRITERGONE), "writer gone"));
	CHECK(!strcmp(bcast_strerror(-EAGAIN), strerror(EAGAIN)));
	CHECK(!strcmp(bcast_strerror(0), "success"));
	/* Any int at all is named, the most negative one included. */
	CHECK(bcast_strerror(INT_MIN) != NULL);
	CHECK(bcast_strerror(INT_MAX) != NULL);
	CHECK(!strcmp(bcast_strerror(EAGAIN), bcast_strerror(-EAGAIN)));
}

TEST_MAIN()
