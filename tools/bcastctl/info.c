// SPDX-License-Identifier: MIT
/* bcastctl info: one ring, everything known about it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bcastctl.h"

static const char usage_info[] =
"Usage: bcastctl info NAME [--readers] [--device] [--json]\n"
"\n"
"Show a ring: backend, path, capacity, mtu, mapped size, huge pages,\n"
"committed and claimed positions, writer (alive, pid, epoch), metadata\n"
"(as text when printable, else hex), readers, the reader registry (slots,\n"
"registered readers, how far behind the slowest is, gated or lossy and the\n"
"eviction policy), owner and mode.\n"
"\n"
"  --readers    also every registered reader: slot, pid, alive or dead,\n"
"               position, lag in bytes and messages, overruns, lost\n"
"               messages and bytes, evictions, seconds since it was last\n"
"               active (its last catch-up, wait or 4096th message)\n"
"  --device     NAME must be a bcast.ko ring\n"
"  --json       one JSON object\n"
"  -h, --help   this help\n"
"\n"
"Exit status: 0 ok, 1 error, 2 bad command line, 3 no such ring.\n";

/* Metadata is text when every byte is printable (trailing NULs aside). */
static bool meta_printable(const struct snap *s, size_t *len)
{
	size_t i, n = s->meta_len;

	while (n && !s->meta[n - 1])
		n--;
	for (i = 0; i < n; i++)
		if (s->meta[i] < 0x20 || s->meta[i] > 0x7e)
			return false;
	*len = n;
	return true;
}

/* n bytes as 2n hex digits and a NUL in out. */
static char *hex_text(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}

/* Owner and mode of the ring's file or node: "0600 uid 0 gid 0". */
static bool owner_of(const struct view *v, struct stat *st)
{
	return !stat(v->path, st);
}

static int info_json(const struct view *v, const struct snap *s,
		     bool readers)
{
	char hex[2 * BCAST_METADATA_MAX + 1];
	struct json j;
	struct stat st;
	char mode[8];
	size_t tlen;

	json_start(&j, 0);
	json_object(&j);
	json_member_string(&j, "name", v->t.arg);
	json_member_string(&j, "backend", s->backend);
	json_member_string(&j, "path", v->path);
	json_member_u64(&j, "capacity", s->capacity);
	member_count(&j, "mtu", s->have_hdr ? (long)s->mtu : -1);
	member_count(&j, "map_size", s->have_hdr ? (long)s->map_size : -1);
	json_member_bool(&j, "hugepage", s->hugepage);
	if (s->pmd_mappings >= 0)
		member_count(&j, "pmd_mappings", s->pmd_mappings);
	json_member_u64(&j, "committed", s->committed);
	json_member_u64(&j, "claimed", s->claimed);
	member_count(&j, "messages", s->have_count ? (long)s->messages : -1);
	member_count(&j, "payload_bytes", s->have_count ? (long)s->payload : -1);
	json_member_bool(&j, "writer_alive", s->writer_alive);
	member_count(&j, "writer_pid", s->writer_alive ? s->writer_pid : -1);
	member_count(&j, "writer_epoch", s->have_hdr ? (long)s->epoch : -1);
	if (!s->have_hdr) {
		json_member_null(&j, "metadata");
		json_member_null(&j, "metadata_hex");
		json_member_null(&j, "metadata_len");
	} else {
		json_key(&j, "metadata");
		if (meta_printable(s, &tlen))
			json_string_bytes(&j, s->meta, tlen);
		else
			json_null(&j);
		json_member_string(&j, "metadata_hex",
				   hex_text(s->meta, s->meta_len, hex));
		json_member_u64(&j, "metadata_len", s->meta_len);
	}
	member_count(&j, "readers", s->readers);
	registry_json(&j, s, readers);
	if (owner_of(v, &st)) {
		snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
		json_member_string(&j, "mode", mode);
		json_member_u64(&j, "uid", st.st_uid);
		json_member_u64(&j, "gid", st.st_gid);
	}
	if (!s->have_hdr)
		json_member_string(&j, "header", bcast_strerror(v->open_err));
	json_object_end(&j);
	return json_finish(&j);
}

static void info_metadata_text(const struct snap *s)
{
	char line[2 * 32 + 1];
	size_t i, tlen;

	if (!s->meta_len) {
		printf("%-12s(none)\n", "metadata");
		return;
	}
	if (meta_printable(s, &tlen)) {
		printf("%-12s\"%.*s\"\n", "metadata", (int)tlen,
		       (const char *)s->meta);
		return;
	}
	printf("%-12s%zu bytes:\n", "metadata", s->meta_len);
	for (i = 0; i < s->meta_len; i += 32)
		printf("            %s\n", hex_text(s->meta + i,
		       s->meta_len - i < 32 ? s->meta_len - i : 32, line));
}

static void info_text(const struct view *v, const struct snap *s,
		      bool readers)
{
	char sz[32], buf[256], why[PATH_MAX + 128];
	struct stat st;

	snprintf(why, sizeof(why), "unknown (%s opening %s)",
		 bcast_strerror(v->open_err), v->path);
	printf("%-12s%s\n", "ring", v->t.arg);
	printf("%-12s%s\n", "backend", s->backend);
	printf("%-12s%s\n", "path", v->path);
	printf("%-12s%llu (%s)\n", "capacity", (unsigned long long)s->capacity,
	       fmt_size(s->capacity, sz, sizeof(sz)));
	if (s->have_hdr) {
		printf("%-12s%llu\n", "mtu", (unsigned long long)s->mtu);
		printf("%-12s%llu\n", "map size", (unsigned long long)s->map_size);
	} else {
		printf("%-12s%s\n", "mtu", why);
	}
	printf("%-12s%s", "hugepage", s->hugepage ? "yes" : "no");
	if (s->pmd_mappings >= 0)
		printf(" (%ld PMD mappings made)", s->pmd_mappings);
	putchar('\n');
	printf("%-12s%llu\n", "committed", (unsigned long long)s->committed);
	printf("%-12s%llu\n", "claimed", (unsigned long long)s->claimed);
	if (s->have_count)
		printf("%-12s%llu (%llu payload bytes)\n", "messages",
		       (unsigned long long)s->messages,
		       (unsigned long long)s->payload);
	else
		printf("%-12s%s\n", "messages", "unknown");
	writer_text(s, buf, sizeof(buf));
	printf("%-12s%s\n", "writer", buf);
	if (s->have_hdr)
		info_metadata_text(s);
	else
		printf("%-12s%s\n", "metadata", why);
	readers_text(s, buf, sizeof(buf));
	printf("%-12s%s", "readers", buf);
	if (v->t.kind == K_DEVICE && s->readers >= 0)
		fputs(" (open reader files)", stdout);
	else if (s->readers >= 0 && s->hidden && geteuid())
		printf(" (%ld processes of other users not inspected)",
		       s->hidden);
	putchar('\n');
	registry_text(s, buf, sizeof(buf));
	printf("%-12s%s\n", "registry", buf);
	if (readers)
		registry_table(s, "  ");
	if (owner_of(v, &st))
		printf("%-12s%04o, uid %u, gid %u\n", "mode",
		       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
		       (unsigned)st.st_gid);
}

int cmd_info(int argc, char **argv)
{
	struct watch_args a;
	struct view v;
	struct snap s;
	int status = EXIT_SUCCESS;

	watch_parse(argc, argv, &a, false, usage_info);
	view_open(&v, a.name, a.device);
	if (snapshot(&v, &s))
		no_ring(&v.t);
	if (json_out)
		status = info_json(&v, &s, a.readers);
	else
		info_text(&v, &s, a.readers);
	view_close(&v);
	return status;
}
