// SPDX-License-Identifier: MIT
/*
 * Instructions per message, counted by valgrind's callgrind: exact and
 * repeatable where wall-clock figures swing with the machine.  Each figure
 * comes from one run of this program under callgrind that collects only
 * inside the phase it measures (--toggle-collect=icount_phase): publishing
 * N messages into a ring nobody reads, or reading N messages that were
 * published before the phase began, with each bcast read style and with
 * the reference ring's.  The count is the phase's instructions over N, so
 * the loop that calls the library is counted too, the same for every
 * column.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bcast.h"
#include <linux/bcast.h>
#include "bench.h"
#include "refring.h"

enum phase {
	PH_REF_PUBLISH, PH_PUBLISH, PH_REF_RECEIVE, PH_RECEIVE, PH_BATCH,
	PH_REF_BULK, PH_BULK, PH_COUNT
};
static const char *const phase_name[PH_COUNT] = {
	"ref-publish", "publish", "ref-receive", "receive", "batch",
	"ref-bulk", "bulk"
};
#define ICOUNT_MESSAGES 20000
#define BULK_WINDOW 65536

struct phase_ring {
	unsigned char *mem;
	size_t len;
	uint64_t cap;
	struct bcast_ring *r;
	struct bcast_writer *w;
	struct bcast_reader *rd;
	struct ref_writer rw;
	struct ref_reader rr;
	unsigned char *src, *buf, *bulk;
	uint64_t sink;
};

static void ref_sink(void *ctx, const unsigned char *p, uint32_t len)
{
	struct phase_ring *pr = ctx;

	pr->sink += len ? p[0] : 1;
}

/* A bulk window that holds no more than the `left` messages wanted. */
static uint64_t window(uint64_t left, size_t size)
{
	uint64_t w = left * frame_total(size);

	return w < BULK_WINDOW ? w : BULK_WINDOW;
}

/* What callgrind counts: only this function and what it calls. */
__attribute__((noinline)) void icount_phase(struct phase_ring *pr, enum phase ph,
					    size_t size, uint64_t n);
__attribute__((noinline)) void icount_phase(struct phase_ring *pr, enum phase ph,
					    size_t size, uint64_t n)
{
	struct bcast_bulk bulk;
	struct bcast_batch b;
	struct bcast_msg m;
	uint64_t i, got = 0;

	switch (ph) {
	case PH_REF_PUBLISH:
		for (i = 0; i < n; i++)
			ref_publish(&pr->rw, pr->src, (uint32_t)size, 1);
		break;
	case PH_PUBLISH:
		for (i = 0; i < n; i++)
			bcast_publish(pr->w, pr->src, size, 1);
		break;
	case PH_REF_RECEIVE:
		while (got < n && ref_receive(&pr->rr, pr->buf) >= 0)
			got++;
		break;
	case PH_RECEIVE:
		while (got < n && bcast_receive(pr->rd, pr->buf, size, NULL) >= 0)
			got++;
		break;
	case PH_BATCH:
		while (got < n && !bcast_batch(pr->rd, &b))
			while (got < n && bcast_batch_next(&b, &m) == 1 &&
			       bcast_msg_read(&m, pr->buf, size) >= 0)
				got++;
		break;
	case PH_REF_BULK:
		while (got < n) {
			long k = ref_bulk(&pr->rr, pr->bulk, window(n - got, size),
					  ref_sink, pr);

			if (k < 0)
				break;
			got += (uint64_t)k;
		}
		break;
	case PH_BULK:
		while (got < n && bcast_read_bulk(pr->rd, pr->bulk,
						  window(n - got, size), &bulk) > 0)
			while (bcast_bulk_next(&bulk, &m) == 1) {
				pr->sink += m.len;
				got++;
			}
		break;
	default:
		break;
	}
	pr->sink += got;
}

/* Run one phase in this process (under callgrind): 0, or 1 on failure. */
int icount_child(const char *phase, size_t size)
{
	struct bcast_ring_opts o = { 0 };
	struct phase_ring pr;
	uint64_t need, i, n = ICOUNT_MESSAGES;
	enum phase ph;
	bool ref;

	for (ph = 0; ph < PH_COUNT; ph++)
		if (!strcmp(phase, phase_name[ph]))
			break;
	if (ph == PH_COUNT)
		return 1;
	memset(&pr, 0, sizeof(pr));
	ref = !strncmp(phase, "ref-", 4);
	/* Readers: a ring that holds every message, so none is lapped. */
	need = n * frame_total(size) * 2 + (1 << 20);
	for (pr.cap = 1 << 20; pr.cap < need; pr.cap <<= 1)
		;
	pr.len = BCAST_MAP_SIZE(pr.cap);
	pr.mem = mmap(NULL, pr.len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	pr.src = calloc(1, size + 64);
	pr.buf = calloc(1, size + 64);
	pr.bulk = calloc(1, BULK_WINDOW);
	if (pr.mem == MAP_FAILED || !pr.src || !pr.buf || !pr.bulk)
		return 1;
	if (ref) {
		ref_ring_format(&pr.rw.r, pr.mem, pr.cap, (uint32_t)mtu_of(pr.cap));
		pr.rr.r = pr.rw.r;
	} else {
		o.size = pr.cap;
		if (bcast_ring_format(pr.mem, pr.len, &o, &pr.r) ||
		    bcast_writer_open(pr.r, &pr.w) ||
		    bcast_reader_open(pr.r, BCAST_FROM_OLDEST, &pr.rd))
			return 1;
	}
	/* Warm the code and the ring's pages, then (readers) fill it. */
	if (ph == PH_PUBLISH || ph == PH_REF_PUBLISH) {
		icount_phase(&pr, ph, size, n);
		icount_phase(&pr, ph, size, n);
	} else {
		for (i = 0; i < 2 * n; i++) {
			if (ref)
				ref_publish(&pr.rw, pr.src, (uint32_t)size, 1);
			else
				bcast_publish(pr.w, pr.src, size, 1);
		}
		icount_phase(&pr, ph, size, n / 10);
		icount_phase(&pr, ph, size, n);
	}
	return 0;
}

/* callgrind's count of the phases (the warm-up's share removed). */
static int count_one(const char *self, const char *dir, enum phase ph,
		     size_t size, double *per_message)
{
	char out[512], arg_size[32], line[256];
	unsigned long long ir = 0;
	pid_t pid;
	FILE *f;
	int st;

	snprintf(out, sizeof(out), "%s/cg.%s.%zu", dir, phase_name[ph], size);
	snprintf(arg_size, sizeof(arg_size), "%zu", size);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		char of[600];
		int null = open("/dev/null", O_WRONLY);

		snprintf(of, sizeof(of), "--callgrind-out-file=%s", out);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("valgrind", "valgrind", "--tool=callgrind",
		       "--toggle-collect=icount_phase", of, self,
		       "--icount-phase", phase_name[ph], arg_size, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -ECHILD;
	f = fopen(out, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "summary: %llu", &ir) == 1 ||
		    sscanf(line, "totals: %llu", &ir) == 1)
			break;
	fclose(f);
	unlink(out);
	if (!ir)
		return -ENODATA;
	/* Two phases ran: the warm-up (n/10 or n) and the measured n. */
	*per_message = (double)ir / (ph == PH_PUBLISH || ph == PH_REF_PUBLISH ?
				     2.0 * ICOUNT_MESSAGES :
				     1.1 * ICOUNT_MESSAGES);
	return 0;
}

void instructions_run(const struct options *o, struct figures *fig,
		      struct json *json)
{
	char self[512], dir[] = "/tmp/bcast-icount.XXXXXX";
	double v[MAX_SIZES][PH_COUNT];
	ssize_t n;
	int i, k, err;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		die("instructions: cannot find this program: %s", strerror(errno));
	self[n] = 0;
	const char *skip = NULL;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip = "a sanitizer build (valgrind cannot run it)";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
	skip = "a sanitizer build (valgrind cannot run it)";
#endif
#endif
	if (!skip && system("valgrind --version >/dev/null 2>&1"))
		skip = "valgrind is not installed";
	if (skip) {
		if (o->json) {
			json_key(json, "instructions");
			json_object(json);
			json_member_string(json, "skipped", skip);
			json_object_end(json);
		} else {
			printf("instructions: skipped (%s)\n\n", skip);
		}
		return;
	}
	if (!mkdtemp(dir))
		die("instructions: mkdtemp: %s", strerror(errno));
	for (i = 0; i < o->nsizes; i++) {
		for (k = 0; k < PH_COUNT; k++) {
			if (!o->json && !o->verbose)
				fprintf(stderr, "\r  instructions: %zu B %s      ",
					o->sizes[i], phase_name[k]);
			err = count_one(self, dir, (enum phase)k, o->sizes[i],
					&v[i][k]);
			if (err)
				die("instructions: callgrind run of %s at %zu B "
				    "failed: %s", phase_name[k], o->sizes[i],
				    strerror(-err));
		}
	}
	if (!o->json && !o->verbose)
		fprintf(stderr, "\r%60s\r", "");
	rmdir(dir);
	fig->icount_done = true;
	if (o->json) {
		json_key(json, "instructions");
		json_object(json);
		json_member_i64(json, "messages", ICOUNT_MESSAGES);
		json_key(json, "results");
		json_array(json);
		for (i = 0; i < o->nsizes; i++) {
			json_object(json);
			json_member_u64(json, "size", o->sizes[i]);
			for (k = 0; k < PH_COUNT; k++)
				json_member_double(json, phase_name[k], v[i][k], 1);
			json_object_end(json);
		}
		json_array_end(json);
		json_object_end(json);
	} else {
		printf("instructions per message (valgrind callgrind, %d messages "
		       "per phase, the calling\nloop included):\n  size",
		       ICOUNT_MESSAGES);
		for (k = 0; k < PH_COUNT; k++)
			printf(" %12s", phase_name[k]);
		printf("\n");
		for (i = 0; i < o->nsizes; i++) {
			printf("  %4zu", o->sizes[i]);
			for (k = 0; k < PH_COUNT; k++)
				printf(" %12.1f", v[i][k]);
			printf("\n");
		}
		printf("  publish / ref-publish:");
		for (i = 0; i < o->nsizes; i++)
			printf(" %zu B %.2fx%s", o->sizes[i],
			       v[i][PH_PUBLISH] / v[i][PH_REF_PUBLISH],
			       i + 1 < o->nsizes ? "," : "\n\n");
	}
	for (i = 0; i < o->nsizes && i < MAX_SIZES; i++)
		fig->icount_publish_ratio[i] = v[i][PH_PUBLISH] /
					       v[i][PH_REF_PUBLISH];
	fig->icount_sizes = o->nsizes;
}
