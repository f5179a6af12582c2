// SPDX-License-Identifier: MIT
/*
 * The baselines a user would otherwise pick to fan messages out between
 * processes: a pipe, a Unix-domain socket, ZeroMQ PUB/SUB over ipc://.
 * Each is used the way its users use it: a pipe is a byte stream, so a
 * message is a 4-byte length and the payload, written with one write() and
 * drained by the reader in 64 KiB read()s; a SOCK_SEQPACKET socket keeps
 * message boundaries, one send() and one recv() per message; ZeroMQ frames
 * messages itself.  A broadcast to n readers costs n sends on the first
 * two, one on ZeroMQ (its I/O thread fans out).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "bench.h"
#ifdef BCAST_HAVE_ZMQ
#include <zmq.h>
#endif

#define PIPE_BUF_BYTES 65536

const char *const impl_name[IMPL_COUNT] = {
	"bcast", "reference", "pipe", "unix", "zeromq"
};
const char *const impl_desc[IMPL_COUNT] = {
	"libbcast",
	"bare reference ring (tools/bench/refring.h)",
	"pipe(2): 4-byte length + payload per write(), reader drains 64 KiB read()s",
	"AF_UNIX SOCK_SEQPACKET: one send()/recv() per message",
	"ZeroMQ PUB/SUB over ipc://",
};

bool channel_available(enum impl impl, const char **why)
{
#ifndef BCAST_HAVE_ZMQ
	if (impl == IMPL_ZMQ) {
		*why = "not built: install libzmq3-dev and rebuild";
		return false;
	}
#endif
	*why = NULL;
	return impl >= IMPL_PIPE && impl < IMPL_COUNT;
}

static int open_pipes(struct channel *c)
{
	int i, p[2];

	for (i = 0; i < c->n; i++) {
		if (pipe2(p, O_CLOEXEC))
			return -errno;
		c->rfd[i] = p[0];
		c->wfd[i] = p[1];
		/* A bigger pipe lets the writer run ahead like a ring does. */
		fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
		c->rbuf[i] = malloc(PIPE_BUF_BYTES);
		if (!c->rbuf[i])
			return -ENOMEM;
	}
	return 0;
}

static int open_sockets(struct channel *c)
{
	int i, sv[2], sz = 4 << 20;

	for (i = 0; i < c->n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
			return -errno;
		c->wfd[i] = sv[0];
		c->rfd[i] = sv[1];
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	return 0;
}

#ifdef BCAST_HAVE_ZMQ
/* PUB/SUB drops what is sent before a subscription arrives: probe first. */
static int zmq_handshake(struct channel *c)
{
	char probe;
	int i, tries;

	for (i = 0; i < c->n; i++) {
		for (tries = 0; tries < 5000; tries++) {
			zmq_send(c->zpub, "", 0, ZMQ_DONTWAIT);
			if (zmq_recv(c->zsub[i], &probe, 1, ZMQ_DONTWAIT) >= 0)
				break;
			usleep(1000);
		}
		if (tries == 5000)
			return -ETIMEDOUT;
	}
	/* Drain the probes every subscriber may still hold. */
	usleep(20000);
	for (i = 0; i < c->n; i++)
		while (zmq_recv(c->zsub[i], &probe, 1, ZMQ_DONTWAIT) >= 0)
			;
	return 0;
}

static int open_zmq(struct channel *c)
{
	char ep[128];
	int i, zero = 0;

	snprintf(c->zpath, sizeof(c->zpath), "/tmp/bcast-bench-%d-%p.ipc",
		 (int)getpid(), (void *)c);
	snprintf(ep, sizeof(ep), "ipc://%s", c->zpath);
	c->zctx = zmq_ctx_new();
	if (!c->zctx)
		return -zmq_errno();
	c->zpub = zmq_socket(c->zctx, ZMQ_PUB);
	if (!c->zpub)
		return -zmq_errno();
	/* No high-water mark: the harness does the backpressure. */
	zmq_setsockopt(c->zpub, ZMQ_SNDHWM, &zero, sizeof(zero));
	if (zmq_bind(c->zpub, ep))
		return -zmq_errno();
	for (i = 0; i < c->n; i++) {
		c->zsub[i] = zmq_socket(c->zctx, ZMQ_SUB);
		if (!c->zsub[i])
			return -zmq_errno();
		zmq_setsockopt(c->zsub[i], ZMQ_RCVHWM, &zero, sizeof(zero));
		zmq_setsockopt(c->zsub[i], ZMQ_SUBSCRIBE, "", 0);
		if (zmq_connect(c->zsub[i], ep))
			return -zmq_errno();
	}
	return zmq_handshake(c);
}
#endif

int channel_open(struct channel *c, enum impl impl, int readers,
		 const char **what)
{
	int i, err;

	memset(c, 0, sizeof(*c));
	c->impl = impl;
	c->n = readers;
	for (i = 0; i < CHANNEL_MAX_READERS; i++)
		c->wfd[i] = c->rfd[i] = -1;
	if (readers < 1 || readers > CHANNEL_MAX_READERS)
		return -EINVAL;
	switch (impl) {
	case IMPL_PIPE:
		*what = "pipe2";
		err = open_pipes(c);
		break;
	case IMPL_UNIX:
		*what = "socketpair(AF_UNIX, SOCK_SEQPACKET)";
		err = open_sockets(c);
		break;
#ifdef BCAST_HAVE_ZMQ
	case IMPL_ZMQ:
		*what = "zmq PUB/SUB over ipc://";
		err = open_zmq(c);
		break;
#endif
	default:
		*what = "channel_open";
		err = -ENOTSUP;
	}
	if (err)
		channel_close(c);
	return err;
}

static int write_all(int fd, const struct iovec *iov, int cnt, size_t total)
{
	ssize_t w = writev(fd, iov, cnt);

	/* Messages up to PIPE_BUF go in whole; the rest in pieces. */
	while (w >= 0 && (size_t)w < total) {
		const unsigned char *rest;
		size_t off = (size_t)w;

		if (off < iov[0].iov_len)
			return -EIO;	/* a length prefix split: not with <= PIPE_BUF */
		rest = (const unsigned char *)iov[1].iov_base + (off - iov[0].iov_len);
		w = write(fd, rest, total - off);
		if (w >= 0)
			w += (ssize_t)off;
	}
	return w < 0 ? -errno : 0;
}

int channel_send(struct channel *c, const void *p, size_t len)
{
	uint32_t hdr = (uint32_t)len;
	struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)p, len } };
	int i, err;

	for (i = 0; i < c->n; i++) {
		switch (c->impl) {
		case IMPL_PIPE:
			err = write_all(c->wfd[i], iov, 2, sizeof(hdr) + len);
			if (err)
				return err;
			break;
		case IMPL_UNIX:
			if (send(c->wfd[i], p, len, 0) < 0)
				return -errno;
			break;
#ifdef BCAST_HAVE_ZMQ
		case IMPL_ZMQ:
			if (zmq_send(c->zpub, p, len, 0) < 0)
				return -zmq_errno();
			return 0;	/* one send reaches every subscriber */
#endif
		default:
			return -ENOTSUP;
		}
	}
	return 0;
}

void channel_end(struct channel *c)
{
	int i;

	for (i = 0; i < c->n; i++) {
		if (c->impl == IMPL_PIPE && c->wfd[i] >= 0) {
			close(c->wfd[i]);
			c->wfd[i] = -1;
		} else if (c->impl == IMPL_UNIX && c->wfd[i] >= 0) {
			shutdown(c->wfd[i], SHUT_WR);
		}
	}
#ifdef BCAST_HAVE_ZMQ
	/* Benchmark messages are never empty: an empty one ends the stream. */
	if (c->impl == IMPL_ZMQ)
		zmq_send(c->zpub, "", 0, 0);
#endif
}

static ssize_t pipe_recv(struct channel *c, int i, void *buf, size_t cap)
{
	uint32_t len;

	for (;;) {
		size_t have = c->rlen[i] - c->roff[i];
		ssize_t r;

		if (have >= sizeof(len)) {
			memcpy(&len, c->rbuf[i] + c->roff[i], sizeof(len));
			if (len > PIPE_BUF_BYTES - sizeof(len) || len > cap)
				return -EMSGSIZE;
			if (have >= sizeof(len) + len) {
				memcpy(buf, c->rbuf[i] + c->roff[i] + sizeof(len), len);
				c->roff[i] += sizeof(len) + len;
				return len;
			}
		}
		memmove(c->rbuf[i], c->rbuf[i] + c->roff[i], have);
		c->rlen[i] = have;
		c->roff[i] = 0;
		r = read(c->rfd[i], c->rbuf[i] + have, PIPE_BUF_BYTES - have);
		if (r == 0)
			return -EPIPE;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			c->rlen[i] += (size_t)r;
	}
}

ssize_t channel_recv(struct channel *c, int i, void *buf, size_t cap)
{
	ssize_t r;

	switch (c->impl) {
	case IMPL_PIPE:
		return pipe_recv(c, i, buf, cap);
	case IMPL_UNIX:
		do
			r = recv(c->rfd[i], buf, cap, 0);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			return -EPIPE;
		return r < 0 ? -errno : r;
#ifdef BCAST_HAVE_ZMQ
	case IMPL_ZMQ:
		do
			r = zmq_recv(c->zsub[i], buf, cap, 0);
		while (r < 0 && zmq_errno() == EINTR);
		if (r == 0)
			return -EPIPE;
		return r < 0 ? -zmq_errno() : r;
#endif
	default:
		return -ENOTSUP;
	}
}

void channel_close(struct channel *c)
{
	int i, linger = 0;

	for (i = 0; i < CHANNEL_MAX_READERS; i++) {
		if (c->wfd[i] >= 0)
			close(c->wfd[i]);
		if (c->rfd[i] >= 0)
			close(c->rfd[i]);
		free(c->rbuf[i]);
		c->wfd[i] = c->rfd[i] = -1;
		c->rbuf[i] = NULL;
	}
#ifdef BCAST_HAVE_ZMQ
	for (i = 0; i < c->n; i++)
		if (c->zsub[i]) {
			zmq_setsockopt(c->zsub[i], ZMQ_LINGER, &linger, sizeof(linger));
			zmq_close(c->zsub[i]);
		}
	if (c->zpub) {
		zmq_setsockopt(c->zpub, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(c->zpub);
	}
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	if (c->zpath[0])
		unlink(c->zpath);
#else
	(void)linger;
#endif
	memset(c, 0, sizeof(*c));
	for (i = 0; i < CHANNEL_MAX_READERS; i++)
		c->wfd[i] = c->rfd[i] = -1;
}
