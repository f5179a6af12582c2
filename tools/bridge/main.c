// SPDX-License-Identifier: MIT
/* bcast-bridge: the command line. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "bridge.h"

#define PROG "bcast-bridge"

static void usage(void)
{
	printf(
"Usage: bcast-bridge out RING nats://HOST:PORT[,...] SUBJECT [OPTIONS]\n"
"       bcast-bridge in nats://HOST:PORT[,...] SUBJECT RING [OPTIONS]\n"
"\n"
"Carry a ring's messages over NATS to rings on other hosts.  'out' reads\n"
"RING (any backend) and publishes on SUBJECT; 'in' subscribes to SUBJECT\n"
"and writes RING as its only writer.  Message boundaries and types\n"
"survive the trip; small messages travel batched, large ones in pieces.\n"
"Every message keeps its number: messages lost on the way (the source\n"
"ring lapped 'out', NATS dropped them, a server died with them) reach\n"
"RING's readers as an overrun (-BCAST_EOVERRUN) with the count lost, and\n"
"a new writer at the source is a new writer at RING.\n"
"\n"
"Servers: any members of one cluster, comma-separated (nats://, tls://);\n"
"the bridge reconnects to any of them, with a back-off.\n"
"\n"
"out:\n"
"  -f, --from WHERE        latest (default): what is published from now;\n"
"                          oldest: the oldest message the ring still has\n"
"      --batch BYTES       largest packet (default 64K, with --jetstream\n"
"                          1M: one round trip each; at most the server's\n"
"                          max_payload; suffixes K M)\n"
"      --flush-us US       a batch waits at most US microseconds for more\n"
"                          messages (default 100; 0: no batching, one NATS\n"
"                          message per ring message)\n"
"      --heartbeat-ms MS   an idle ring's numbers are sent every MS ms, so\n"
"                          that losses at the end are seen (default 1000)\n"
"in:\n"
"  -c, --create            create RING if it does not exist\n"
"      --ring-size BYTES   its data capacity (default 16M, power of two)\n"
"\n"
"Both:\n"
"  -j, --jetstream STREAM  through JetStream: out stores every packet in\n"
"                          STREAM before it counts as sent (sent again\n"
"                          until stored, stored once), and a restarted out\n"
"                          goes on after what STREAM has; in reads through\n"
"                          a durable consumer and acknowledges what RING\n"
"                          has, and a restarted in goes on where it was:\n"
"                          nothing lost, nothing twice.  STREAM is created\n"
"                          if missing (subject SUBJECT, file storage, a\n"
"                          2-minute duplicate window)\n"
"      --replicas N        ... with N replicas (default 1)\n"
"      --durable NAME      in: the consumer (default bcast-bridge-RING)\n"
"  -n, --count N           stop after N messages (suffixes k m g)\n"
"      --name NAME         the connection's name, as servers show it\n"
"      --tls               TLS even for nats:// URLs\n"
"      --tls-ca FILE       trust the servers this CA signed\n"
"      --tls-cert FILE     client certificate (with --tls-key)\n"
"      --tls-key FILE      its private key\n"
"      --tls-insecure      do not verify the server's certificate\n"
"      --creds FILE        NATS credentials (JWT and NKey seed)\n"
"      --user USER         user name (with --password)\n"
"      --password PASS\n"
"      --token TOKEN       authentication token\n"
"      --connect-timeout-ms MS  per connection attempt (default 2000)\n"
"      --reconnect-wait-ms MS   first back-off (default 100), doubling per\n"
"                          round of the server list up to\n"
"      --reconnect-max-ms MS    (default 2000)\n"
"      --max-reconnect N   give up once every server has failed N\n"
"                          reconnection attempts in a row (default: never;\n"
"                          at start each server is tried once: none\n"
"                          answering is an error)\n"
"  -s, --stats             a line on stderr every --stats-every seconds\n"
"                          (default 1) and a summary at the end: messages,\n"
"                          bytes, packets, fragments, gaps and messages\n"
"                          lost, duplicates dropped, reconnects, lag (out:\n"
"                          bytes behind the ring's writer; in: packets\n"
"                          waiting)\n"
"      --stats-every SECONDS\n"
"      --json              the summary as one JSON object on stdout\n"
"  -v, --verbose           say on stderr what happens to the connection\n"
"  -h, --help              this help\n"
"  -V, --version           the version\n"
"\n"
"SIGINT and SIGTERM stop the bridge cleanly (what was read goes out).\n"
"Exit status: 0 done, 1 error, 2 usage, 3 no such ring, 4 RING has\n"
"another writer.\n");
}

enum {
	O_BATCH = 256, O_FLUSH_US, O_HEARTBEAT_MS, O_RING_SIZE, O_NAME, O_TLS,
	O_TLS_CA, O_TLS_CERT, O_TLS_KEY, O_TLS_INSECURE, O_CREDS, O_USER,
	O_PASSWORD, O_TOKEN, O_CONNECT_TIMEOUT, O_RECONNECT_WAIT,
	O_RECONNECT_MAX, O_MAX_RECONNECT, O_STATS_EVERY, O_JSON, O_REPLICAS,
	O_DURABLE,
};

static const struct option longopts[] = {
	{ "from", required_argument, NULL, 'f' },
	{ "batch", required_argument, NULL, O_BATCH },
	{ "flush-us", required_argument, NULL, O_FLUSH_US },
	{ "heartbeat-ms", required_argument, NULL, O_HEARTBEAT_MS },
	{ "create", no_argument, NULL, 'c' },
	{ "ring-size", required_argument, NULL, O_RING_SIZE },
	{ "count", required_argument, NULL, 'n' },
	{ "jetstream", required_argument, NULL, 'j' },
	{ "replicas", required_argument, NULL, O_REPLICAS },
	{ "durable", required_argument, NULL, O_DURABLE },
	{ "name", required_argument, NULL, O_NAME },
	{ "tls", no_argument, NULL, O_TLS },
	{ "tls-ca", required_argument, NULL, O_TLS_CA },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "tls-insecure", no_argument, NULL, O_TLS_INSECURE },
	{ "creds", required_argument, NULL, O_CREDS },
	{ "user", required_argument, NULL, O_USER },
	{ "password", required_argument, NULL, O_PASSWORD },
	{ "token", required_argument, NULL, O_TOKEN },
	{ "connect-timeout-ms", required_argument, NULL, O_CONNECT_TIMEOUT },
	{ "reconnect-wait-ms", required_argument, NULL, O_RECONNECT_WAIT },
	{ "reconnect-max-ms", required_argument, NULL, O_RECONNECT_MAX },
	{ "max-reconnect", required_argument, NULL, O_MAX_RECONNECT },
	{ "stats", no_argument, NULL, 's' },
	{ "stats-every", required_argument, NULL, O_STATS_EVERY },
	{ "json", no_argument, NULL, O_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int64_t ms_option(const char *opt, const char *arg, uint64_t lo)
{
	return (int64_t)cli_number(opt, arg, false, lo, 3600 * 1000);
}

/* One option of either side; false if it is not one. */
static bool option(struct bridge_opts *o, int c, bool *out_only, bool *in_only)
{
	switch (c) {
	case 'f':
		if (!strcmp(optarg, "oldest"))
			o->from_oldest = true;
		else if (strcmp(optarg, "latest"))
			cli_usage_error("--from: '%s' is neither oldest nor latest",
					optarg);
		*out_only = true;
		break;
	case O_BATCH:
		o->batch_bytes = cli_number("--batch", optarg, true, 256,
					    64 << 20);
		*out_only = true;
		break;
	case O_FLUSH_US:
		o->flush_us = cli_number("--flush-us", optarg, false, 0,
					 10 * 1000 * 1000);
		*out_only = true;
		break;
	case O_HEARTBEAT_MS:
		o->heartbeat_ms = (uint64_t)ms_option("--heartbeat-ms", optarg, 1);
		*out_only = true;
		break;
	case 'c': o->create = true; *in_only = true; break;
	case O_RING_SIZE:
		o->ring_size = cli_number("--ring-size", optarg, true, 4096,
					  1ULL << 40);
		if (o->ring_size & (o->ring_size - 1))
			cli_usage_error("--ring-size: %s is not a power of two",
					optarg);
		*in_only = true;
		break;
	case 'n':
		o->count = cli_number("--count", optarg, false, 1, UINT64_MAX);
		break;
	case 'j': o->stream = optarg; break;
	case O_REPLICAS:
		o->replicas = (int)cli_number("--replicas", optarg, false, 1, 5);
		break;
	case O_DURABLE: o->durable = optarg; break;
	case O_NAME: o->name = optarg; break;
	case O_TLS: o->tls = true; break;
	case O_TLS_CA: o->tls_ca = optarg; break;
	case O_TLS_CERT: o->tls_cert = optarg; break;
	case O_TLS_KEY: o->tls_key = optarg; break;
	case O_TLS_INSECURE: o->tls_insecure = true; break;
	case O_CREDS: o->creds = optarg; break;
	case O_USER: o->user = optarg; break;
	case O_PASSWORD: o->password = optarg; break;
	case O_TOKEN: o->token = optarg; break;
	case O_CONNECT_TIMEOUT:
		o->connect_timeout_ms = ms_option("--connect-timeout-ms", optarg, 1);
		break;
	case O_RECONNECT_WAIT:
		o->reconnect_wait_ms = ms_option("--reconnect-wait-ms", optarg, 1);
		break;
	case O_RECONNECT_MAX:
		o->reconnect_max_ms = ms_option("--reconnect-max-ms", optarg, 1);
		break;
	case O_MAX_RECONNECT:
		o->max_reconnect = (int)cli_number("--max-reconnect", optarg,
						   false, 0, 1 << 30);
		break;
	case 's': o->stats = true; break;
	case O_STATS_EVERY:
		o->stats_every = cli_seconds("--stats-every", optarg);
		break;
	case O_JSON: o->json = true; break;
	case 'v': o->verbose = true; break;
	default:
		return false;
	}
	return true;
}

/* What NATS takes as a stream or consumer name. */
static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 200)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-_") == strlen(s);
}

/* bcast-bridge-RING, what NATS does not take in RING made '_'. */
static const char *default_durable(const char *ring)
{
	static char name[160];
	size_t n = (size_t)snprintf(name, sizeof(name), "bcast-bridge-%.140s", ring);

	for (size_t i = 0; i < n && i < sizeof(name) - 1; i++)
		if (!strchr("-_", name[i]) && !isalnum((unsigned char)name[i]))
			name[i] = '_';
	return name;
}

static void parse(int argc, char **argv, struct bridge_opts *o)
{
	bool out_only = false, in_only = false;
	const char *words[4];
	int c, n;

	*o = (struct bridge_opts){
		.flush_us = 100, .heartbeat_ms = 1000,
		.ring_size = 16 << 20, .name = PROG,
		.connect_timeout_ms = 2000, .reconnect_wait_ms = 100,
		.reconnect_max_ms = 2000, .max_reconnect = -1,
		.stats_every = 1, .replicas = 1,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:cj:n:svhV", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage();
			exit(0);
		}
		if (!option(o, c, &out_only, &in_only))
			cli_common_option(c, argv, optind);
	}
	n = argc - optind;
	if (n < 1)
		cli_usage_error("out or in, and what to bridge, are missing");
	if (strcmp(argv[optind], "out") && strcmp(argv[optind], "in"))
		cli_usage_error("'%s': the first word is out or in",
				argv[optind]);
	o->out = !strcmp(argv[optind], "out");
	if (n != 4)
		cli_usage_error("%s takes %s, not %d words", argv[optind],
				o->out ? "RING SERVERS SUBJECT" :
					 "SERVERS SUBJECT RING", n - 1);
	memcpy(words, argv + optind, sizeof(words));
	o->ring = o->out ? words[1] : words[3];
	o->servers = o->out ? words[2] : words[1];
	o->subject = o->out ? words[3] : words[2];
	if (!strstr(o->servers, "://"))
		cli_usage_error("'%s' is no server list (nats://HOST:PORT[,...])",
				o->servers);
	if (!*o->subject || strpbrk(o->subject, " \t\r\n*>"))
		cli_usage_error("'%s' is no subject to %s (no spaces, no "
				"wildcards)", o->subject,
				o->out ? "publish on" : "bridge from");
	if (o->out && in_only)
		cli_usage_error("--create and --ring-size are for 'in'");
	if (!o->out && out_only)
		cli_usage_error("--from, --batch, --flush-us and --heartbeat-ms "
				"are for 'out'");
	if (!o->batch_bytes)
		o->batch_bytes = o->stream ? 1 << 20 : 64 << 10;
	if ((o->tls_cert != NULL) != (o->tls_key != NULL))
		cli_usage_error("--tls-cert and --tls-key go together");
	if (o->password && !o->user)
		cli_usage_error("--password needs --user");
	if (o->stream && !valid_name(o->stream))
		cli_usage_error("--jetstream: '%s' is no stream name (letters, "
				"digits, '-' and '_')", o->stream);
	if (o->durable && !valid_name(o->durable))
		cli_usage_error("--durable: '%s' is no consumer name (letters, "
				"digits, '-' and '_')", o->durable);
	if (!o->stream && (o->durable || o->replicas != 1))
		cli_usage_error("--durable and --replicas need --jetstream");
	if (o->durable && o->out)
		cli_usage_error("--durable is for 'in'");
	if (o->stream && !o->out && !o->durable)
		o->durable = default_durable(o->ring);
	if (o->reconnect_max_ms < o->reconnect_wait_ms)
		o->reconnect_max_ms = o->reconnect_wait_ms;
}

int main(int argc, char **argv)
{
	struct bridge br = { 0 };
	int rc;

	cli_prog = PROG;
	parse(argc, argv, &br.o);
	cli_catch_stop_signals();
	br.started_ns = br.last_report_ns = cli_now_ns();
	rc = br.o.out ? bridge_out(&br) : bridge_in(&br);
	nats_Close();
	return rc;
}
