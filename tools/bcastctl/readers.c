// SPDX-License-Identifier: MIT
/*
 * Who maps a file: the readers of an shm or file ring, from /proc/PID/maps
 * (nothing else counts them).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bcastctl.h"

int file_id_of(const char *path, struct file_id *id)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	if (!realpath(path, id->path))
		snprintf(id->path, sizeof(id->path), "%s", path);
	return 0;
}

/* 1 if process `pid` maps the file, 0 if not, -errno if unreadable. */
static int maps_file(pid_t pid, const struct file_id *id, char **line,
		     size_t *cap)
{
	char path[64];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	errno = 0;
	while (!found && getline(line, cap, f) > 0) {
		unsigned ma, mi;
		unsigned long long ino;
		int off = 0;
		char *name;

		if (sscanf(*line, "%*x-%*x %*s %*x %x:%x %llu %n", &ma, &mi,
			   &ino, &off) < 3 || !off)
			continue;
		name = *line + off;
		name[strcspn(name, "\n")] = '\0';
		/* Device and inode; the path too where a stacked file
		 * system (overlayfs) shows another inode than stat(). */
		found = (ino == (unsigned long long)id->ino &&
			 makedev(ma, mi) == id->dev) || !strcmp(name, id->path);
	}
	if (!found && ferror(f))
		found = errno ? -errno : -EIO;
	fclose(f);
	return found;
}

long count_mappers(const struct file_id *id, pid_t writer, long *hidden)
{
	pid_t self = getpid();
	struct dirent *de;
	char *line = NULL;
	size_t cap = 0;
	long n = 0;
	DIR *d;

	*hidden = 0;
	if (access("/proc/self/maps", R_OK))
		return -1;
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int rc;

		if (*end || pid <= 0 || pid == self)
			continue;
		rc = maps_file((pid_t)pid, id, &line, &cap);
		if (rc > 0 && pid != writer)
			n++;
		else if (rc == -EACCES || rc == -EPERM)
			(*hidden)++;
	}
	closedir(d);
	free(line);
	return n;
}
