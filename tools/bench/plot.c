// SPDX-License-Identifier: MIT
/*
 * --plot FILE.png: the latency and wake-up distributions (cumulative, log
 * time axis) and the throughput bars (log scale), drawn by gnuplot from
 * data files in a temporary directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

#define CDF_POINTS 2000

static FILE *open_in(const char *dir, const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	return fopen(path, "we");
}

/* A cumulative distribution: microseconds, percent of samples <= it. */
static bool write_cdf(const char *dir, const char *name, struct samples *s)
{
	char path[512];
	size_t i, step;
	FILE *f;

	if (!s->n)
		return false;
	samples_pct(s, 50);	/* sorts */
	f = open_in(dir, name, path, sizeof(path));
	if (!f)
		die("--plot: cannot write %s: %s", path, strerror(errno));
	step = s->n / CDF_POINTS ? s->n / CDF_POINTS : 1;
	for (i = 0; i < s->n; i += step)
		fprintf(f, "%.3f %.4f\n", (double)s->v[i] / 1e3,
			100.0 * (double)(i + 1) / (double)s->n);
	fprintf(f, "%.3f 100\n", (double)s->v[s->n - 1] / 1e3);
	fclose(f);
	return true;
}

struct curve {
	const char *file, *title;
	struct samples *s;
};

static void plot_cdfs(FILE *g, const char *dir, const char *title,
		      struct curve *c, int n)
{
	const char *sep = "plot ";
	int i;

	fprintf(g, "set title '%s'\nset logscale x\nunset logscale y\n"
		"set xlabel 'microseconds (log)'\nset ylabel "
		"'%% of messages at or below'\nset yrange [0:100]\n"
		"set key bottom right\n", title);
	for (i = 0; i < n; i++) {
		if (!write_cdf(dir, c[i].file, c[i].s))
			continue;
		fprintf(g, "%s'%s/%s' using 1:2 with lines lw 2 title '%s'", sep,
			dir, c[i].file, c[i].title);
		sep = ", \\\n     ";
	}
	if (!strcmp(sep, "plot "))
		fprintf(g, "set label 1 'not measured' at graph 0.4,0.5\n"
			"plot NaN notitle\nunset label 1");
	fprintf(g, "\n");
}

static void plot_throughput(FILE *g, const char *dir, struct figures *fig)
{
	char path[512];
	FILE *f = open_in(dir, "throughput.dat", path, sizeof(path));
	int i, k, col = 2;
	const char *sep = "plot ";

	if (!f)
		die("--plot: cannot write %s: %s", path, strerror(errno));
	for (i = 0; i < fig->nsizes; i++) {
		fprintf(f, "%zuB", fig->sizes[i]);
		for (k = 0; k < IMPL_COUNT; k++)
			fprintf(f, " %.6f", fig->rate[i][k] / 1e6);
		fprintf(f, "\n");
	}
	fclose(f);
	fprintf(g, "set title 'Throughput, 1 writer -> 1 reader'\n"
		"unset logscale x\nset logscale y\nset yrange [*:*]\n"
		"set xlabel 'message size'\nset ylabel 'million messages/s (log)'\n"
		"set style data histograms\nset style histogram clustered gap 1\n"
		"set style fill solid 0.8 border -1\nset key top right\n");
	if (!fig->nsizes) {
		fprintf(g, "set label 1 'not measured' at graph 0.4,0.5\n"
			"plot NaN notitle\nunset label 1\n");
		return;
	}
	for (k = 0; k < IMPL_COUNT; k++, col++) {
		if (fig->rate[0][k] <= 0)
			continue;
		fprintf(g, "%s'%s/throughput.dat' using %d:xtic(1) title '%s'",
			sep, dir, col, impl_name[k]);
		sep = ", \\\n     ";
	}
	fprintf(g, "\nunset style data\n");
}

static int run_gnuplot(const char *script)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

static void remove_dir(const char *dir)
{
	static const char *const files[] = {
		"plot.gp", "throughput.dat", "lat-bcast.dat", "lat-ref.dat",
		"lat-wait.dat", "lat-pipe.dat", "lat-unix.dat", "lat-zmq.dat",
		"wake-shm.dat", "wake-futex.dat", "wake-dev.dat",
		"wake-eventfd.dat", "wake-pipe.dat", "wake-unix.dat",
	};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int plot_write(const struct options *o, struct figures *fig)
{
	struct curve lat[] = {
		{ "lat-bcast.dat", "bcast (spin)", &fig->lat[IMPL_BCAST] },
		{ "lat-ref.dat", "reference (spin)", &fig->lat[IMPL_REF] },
		{ "lat-wait.dat", "bcast (bcast\\_wait)", &fig->lat_bcast_wait },
		{ "lat-pipe.dat", "pipe", &fig->lat[IMPL_PIPE] },
		{ "lat-unix.dat", "unix socket", &fig->lat[IMPL_UNIX] },
		{ "lat-zmq.dat", "zeromq", &fig->lat[IMPL_ZMQ] },
	};
	struct curve wake[] = {
		{ "wake-shm.dat", "bcast (shm)", &fig->wake[WAKE_BCAST_SHM] },
		{ "wake-futex.dat", "raw futex", &fig->wake[WAKE_FUTEX] },
		{ "wake-dev.dat", "bcast (device)", &fig->wake[WAKE_BCAST_DEV] },
		{ "wake-eventfd.dat", "eventfd", &fig->wake[WAKE_EVENTFD] },
		{ "wake-pipe.dat", "pipe", &fig->wake[WAKE_PIPE] },
		{ "wake-unix.dat", "unix socket", &fig->wake[WAKE_UNIX] },
	};
	char dir[] = "/tmp/bcast-bench-plot.XXXXXX", script[512];
	FILE *g;
	int err;

	if (!mkdtemp(dir))
		die("--plot: mkdtemp: %s", strerror(errno));
	g = open_in(dir, "plot.gp", script, sizeof(script));
	if (!g)
		die("--plot: cannot write %s: %s", script, strerror(errno));
	fprintf(g, "set terminal png size 1800,600\nset output '%s'\n"
		"set grid\nset multiplot layout 1,3\n", o->plot);
	plot_cdfs(g, dir, "One-way latency, paced writer", lat, 6);
	plot_cdfs(g, dir, "Wake-up latency of a blocked reader", wake, 6);
	plot_throughput(g, dir, fig);
	fprintf(g, "unset multiplot\n");
	fclose(g);
	err = run_gnuplot(script);
	remove_dir(dir);
	if (err == -ENOENT)
		fprintf(stderr, PROG ": --plot: gnuplot is not installed "
			"(apt-get install gnuplot-nox)\n");
	else if (err)
		fprintf(stderr, PROG ": --plot: gnuplot failed to draw %s\n",
			o->plot);
	else if (!o->json)
		printf("plot: %s\n", o->plot);
	return err ? 1 : 0;
}
