// SPDX-License-Identifier: MIT
/*
 * NAME to where the library takes it (bcast_ring_locate), with the checks
 * that give its errors bcastctl's words; and the errors that say where
 * bcastctl looked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bcastctl.h"

static bool module_loaded(void)
{
	return !access(CTL_PATH, F_OK);
}

static void __attribute__((noreturn)) module_missing(int code)
{
	cli_error(NOT_LOADED);
	exit(code);
}

static void __attribute__((noreturn)) device_name_invalid(const char *name)
{
	cli_usage_error("invalid bcast.ko ring name '%s' (1 to %d of "
			"A-Z a-z 0-9 . _ -)", name, BCAST_NAME_MAX - 1);
}

static void __attribute__((noreturn)) shm_name_invalid(const char *name)
{
	cli_usage_error("invalid shm ring name '%s' (one file name in "
			SHM_DIR ")", name);
}

/* The library refused `name` (NAME as given: arg): say it in its terms. */
static void __attribute__((noreturn)) name_invalid(const char *arg,
						   const char *name)
{
	if (!strncmp(name, "shm:", 4))
		shm_name_invalid(name + 4);
	if (!strncmp(name, "file:", 5))
		cli_usage_error("invalid file ring name '%s'", arg);
	if (!strncmp(name, "/dev/", 5))
		cli_usage_error("invalid device path '%s'", arg);
	if (module_loaded())
		device_name_invalid(arg);
	shm_name_invalid(arg);
}

enum kind kind_of(const char *backend)
{
	if (!strcmp(backend, "device"))
		return K_DEVICE;
	return strcmp(backend, "file") ? K_SHM : K_FILE;
}

void resolve(const char *arg, bool want_device, int missing, struct target *t)
{
	char shm[PATH_MAX + 8];
	const char *name = arg;

	memset(t, 0, sizeof(*t));
	t->arg = arg;
	if (!*arg)
		cli_usage_error("empty ring name");
	if (want_device &&
	    (!strncmp(arg, "shm:", 4) || !strncmp(arg, "file:", 5)))
		cli_usage_error("--device: '%s' is not a bcast.ko ring name", arg);
	/* The library would take /dev/shm/X for a device: mean shm:X. */
	if (!want_device && !strncmp(arg, SHM_DIR "/", 9) &&
	    !strchr(arg + 9, '/')) {
		snprintf(shm, sizeof(shm), "shm:%s", arg + 9);
		name = shm;
	} else if (strncmp(arg, "shm:", 4) && strncmp(arg, "file:", 5) &&
		   strncmp(arg, "/dev/", 5) && strchr(arg, '/')) {
		cli_usage_error("'%s' is not a ring name: use file:%s for a file "
				"or /dev/bcastN for a bcast.ko ring", arg, arg);
	}
	if (bcast_ring_locate(name, &t->loc)) {
		if ((want_device || !strncmp(name, "/dev/", 5)) &&
		    !module_loaded())
			module_missing(missing);
		name_invalid(arg, name);
	}
	t->kind = kind_of(t->loc.backend);
	/* A bare name leads to shm while bcast.ko is not loaded. */
	if ((want_device || t->kind == K_DEVICE) && !module_loaded())
		module_missing(missing);
}

void no_ring(const struct target *t)
{
	char shm[PATH_MAX];

	switch (t->kind) {
	case K_SHM:
		if (t->loc.alt_path[0])
			cli_error("no ring '%s' (looked in %s and %s)", t->arg,
				  t->loc.path, t->loc.alt_path);
		else
			cli_error("no ring '%s' (looked in %s)", t->arg,
				  t->loc.path);
		break;
	case K_FILE:
		cli_error("no ring '%s' (looked in %s)", t->arg, t->loc.path);
		break;
	case K_DEVICE:
		if (!strncmp(t->arg, "/dev/", 5)) {
			cli_error("no ring '%s' (no bcast.ko ring has that node)",
				  t->arg);
			break;
		}
		snprintf(shm, sizeof(shm), SHM_DIR "/%s", t->arg);
		if (!access(shm, F_OK))
			cli_error("no ring '%s' (looked in " SYSFS_CLASS
				  "/*/name); %s exists: use shm:%s", t->arg,
				  shm, t->arg);
		else
			cli_error("no ring '%s' (looked in " SYSFS_CLASS
				  "/*/name)", t->arg);
		break;
	}
	exit(EXIT_NORING);
}

void open_failed(const struct target *t, int err)
{
	const char *where = t->loc.path;

	switch (-err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		no_ring(t);
	case EACCES:
	case EPERM:
		cli_error("permission denied opening %s (ring '%s')", where,
			  t->arg);
		exit(EXIT_FAILURE);
	case EINVAL:
		cli_error("%s is not a bcast ring (no valid ring header)", where);
		exit(EXIT_NORING);
	case EPROTO:
		cli_error("%s: ring of another bcast version (this bcastctl "
			  "reads ring ABI %d)", where, BCAST_ABI_VERSION);
		exit(EXIT_FAILURE);
	default:
		cli_error("cannot open ring '%s' (%s): %s", t->arg, where,
			  bcast_strerror(err));
		exit(EXIT_FAILURE);
	}
}
