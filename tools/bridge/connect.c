// SPDX-License-Identifier: MIT
/*
 * The NATS connection: every server of the list, reconnection for ever
 * (or --max-reconnect times) with a back-off that doubles per round of the
 * list up to --reconnect-max, TLS and credentials as nats.c takes them,
 * and each disconnection and reconnection counted and, with --verbose,
 * told.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "bridge.h"

#define MAX_SERVERS 64

const char *bridge_server(struct bridge *br, char *buf, size_t len)
{
	if (!br->nc || natsConnection_GetConnectedUrl(br->nc, buf, len) != NATS_OK ||
	    !buf[0])
		snprintf(buf, len, "(none)");
	return buf;
}

static void disconnected(natsConnection *nc, void *arg)
{
	struct bridge *br = arg;

	if (__atomic_load_n(&br->closing, __ATOMIC_ACQUIRE))
		return;
	__atomic_add_fetch(&br->st.disconnects, 1, __ATOMIC_RELAXED);
	if (br->o.verbose)
		cli_error("disconnected from the NATS server: reconnecting");
}

static void reconnected(natsConnection *nc, void *arg)
{
	struct bridge *br = arg;
	char url[256];

	__atomic_add_fetch(&br->st.reconnects, 1, __ATOMIC_RELAXED);
	if (br->o.verbose)
		cli_error("reconnected to %s", bridge_server(br, url, sizeof(url)));
}

static void async_error(natsConnection *nc, natsSubscription *sub,
			natsStatus err, void *arg)
{
	struct bridge *br = arg;

	if (br->o.verbose)
		cli_error("NATS: %s (subject '%s')", natsStatus_GetText(err),
			  br->o.subject);
}

/*
 * After each pass over the servers (nats.c counts passes in @attempts,
 * from 1) the wait doubles, up to the most.
 */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *arg)
{
	struct bridge *br = arg;
	int64_t wait = br->o.reconnect_wait_ms;
	int rounds = attempts - 1;

	while (rounds-- > 0 && wait < br->o.reconnect_max_ms)
		wait *= 2;
	if (wait > br->o.reconnect_max_ms)
		wait = br->o.reconnect_max_ms;
	/* up to a quarter more, so that many bridges do not come at once */
	return wait + (wait / 4 ? rand() % (wait / 4 + 1) : 0);
}

/* Split "a,b,c" into servers[] (pointers into a copy kept in *copy). */
static int split_servers(const char *list, char **copy, const char **servers)
{
	char *s, *save = NULL, *tok;
	int n = 0;

	*copy = s = strdup(list);
	if (!s)
		return -1;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!*tok)
			continue;
		if (n == MAX_SERVERS)
			return -1;
		servers[n++] = tok;
	}
	return n;
}

static bool wants_tls(const struct bridge_opts *o)
{
	return o->tls || o->tls_ca || o->tls_cert || strstr(o->servers, "tls://");
}

/* natsStatus and nats.c's own words, or -1 after saying which step. */
static int check(natsStatus s, const char *what, const char *arg)
{
	if (s == NATS_OK)
		return 0;
	cli_error("%s%s%s: %s (%s)", what, arg ? " " : "", arg ? arg : "",
		  natsStatus_GetText(s), nats_GetLastError(NULL));
	return -1;
}

static int set_security(const struct bridge_opts *o, natsOptions *no)
{
	if (wants_tls(o) && check(natsOptions_SetSecure(no, true), "TLS", NULL))
		return -1;
	if (o->tls_ca && check(natsOptions_LoadCATrustedCertificates(no, o->tls_ca),
			       "--tls-ca", o->tls_ca))
		return -1;
	if ((o->tls_cert || o->tls_key) &&
	    check(natsOptions_LoadCertificatesChain(no, o->tls_cert, o->tls_key),
		  "--tls-cert/--tls-key", o->tls_cert))
		return -1;
	if (o->tls_insecure &&
	    check(natsOptions_SkipServerVerification(no, true), "--tls-insecure", NULL))
		return -1;
	if (o->creds && check(natsOptions_SetUserCredentialsFromFiles(no, o->creds, NULL),
			      "--creds", o->creds))
		return -1;
	if (o->user && check(natsOptions_SetUserInfo(no, o->user, o->password),
			     "--user", o->user))
		return -1;
	if (o->token && check(natsOptions_SetToken(no, o->token), "--token", NULL))
		return -1;
	return 0;
}

static int set_options(struct bridge *br, natsOptions *no, const char **servers,
		       int n)
{
	const struct bridge_opts *o = &br->o;

	if (check(natsOptions_SetServers(no, servers, n), "servers", o->servers) ||
	    check(natsOptions_SetName(no, o->name), "--name", o->name) ||
	    check(natsOptions_SetTimeout(no, o->connect_timeout_ms), "timeout", NULL) ||
	    check(natsOptions_SetMaxReconnect(no, o->max_reconnect), "reconnect", NULL) ||
	    check(natsOptions_SetCustomReconnectDelay(no, reconnect_delay, br),
		  "reconnect", NULL) ||
	    /* publishes during a reconnection wait here (and may be lost
	     * with the server that took them: the receiver counts them) */
	    check(natsOptions_SetReconnectBufSize(no, 32 << 20), "buffer", NULL) ||
	    check(natsOptions_SetDisconnectedCB(no, disconnected, br), "cb", NULL) ||
	    check(natsOptions_SetReconnectedCB(no, reconnected, br), "cb", NULL) ||
	    check(natsOptions_SetErrorHandler(no, async_error, br), "cb", NULL) ||
	    /* a subscriber that falls behind drops, counted as gaps, rather
	     * than take all memory */
	    check(natsOptions_SetMaxPendingMsgs(no, 1 << 20), "pending", NULL))
		return -1;
	return set_security(o, no);
}

int bridge_connect(struct bridge *br)
{
	const char *servers[MAX_SERVERS];
	natsOptions *no = NULL;
	char *copy = NULL, url[256];
	natsStatus s;
	int n, rc = -1;

	n = split_servers(br->o.servers, &copy, servers);
	if (n <= 0) {
		cli_error("'%s': no server, or more than %d", br->o.servers,
			  MAX_SERVERS);
		goto out;
	}
	if (check(natsOptions_Create(&no), "NATS options", NULL) ||
	    set_options(br, no, servers, n))
		goto out;
	s = natsConnection_Connect(&br->nc, no);
	if (s != NATS_OK) {
		const struct bridge_opts *o = &br->o;
		/* a server that wants a client certificate just hangs up */
		bool tls = o->tls || o->tls_ca || o->tls_insecure ||
			   strstr(o->servers, "tls://");

		cli_error("cannot connect to %s: %s (%s)%s", o->servers,
			  natsStatus_GetText(s), nats_GetLastError(NULL),
			  tls && !o->tls_cert && s == NATS_PROTOCOL_ERROR ?
			  "; does the server want a client certificate "
			  "(--tls-cert, --tls-key)?" : "");
		br->nc = NULL;
		goto out;
	}
	br->max_payload = (size_t)natsConnection_GetMaxPayload(br->nc);
	if (br->o.verbose)
		cli_error("connected to %s (max_payload %zu)",
			  bridge_server(br, url, sizeof(url)), br->max_payload);
	rc = 0;
out:
	natsOptions_Destroy(no);
	free(copy);
	return rc;
}

void bridge_disconnect(struct bridge *br)
{
	if (br->js)
		jsCtx_Destroy(br->js);
	br->js = NULL;
	__atomic_store_n(&br->closing, true, __ATOMIC_RELEASE);
	if (br->nc) {
		natsConnection_Flush(br->nc);
		natsConnection_Destroy(br->nc);
	}
	br->nc = NULL;
}
