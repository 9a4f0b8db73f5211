/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_tcp.c: the copy engine and its tcp backend. The caller's loop
 * owns listening sockets, connects and handshakes; once every stream of a
 * channel is authenticated, one worker thread moves its data with splice
 * (payload never copied to user space) — unframed on a single stream, framed
 * when striped — or hands the channel to the RDMA data path (mcopy_rdma.c),
 * and reports through a pipe. Never logs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "migrate/mcopy.h"
#include "migrate/mcopy_backend.h"
#include "migrate/mcopy_stripe.h"

#define PIPE_WANT        (1 << 20) /* pipe capacity asked for: the largest frame we cut */
#define PEER_LEN         64
#define MCOPY_QEMU_RETRY (50 * USEC_PER_MSEC) /* recv: connecting to QEMU again after this */
/* recv: send buffer of our unix socket to QEMU (the kernel doubles it). The
 * default (net.core.wmem_default, 208 KiB here) makes every ~200 KiB a
 * hand-off between us and QEMU; with 1 MiB, over a cheap TCP (reno), the
 * receiving engine used ~30 % less CPU per GB, QEMU's side too, and 1 stream
 * ran ~20 % faster (docs/BENCHMARKS.md; 4 MiB gained little more). Costs
 * up to 2 MiB of kernel memory per channel while QEMU reads slower than the
 * network delivers. */
#define MCOPY_QEMU_SNDBUF (1 << 20)

struct mcopy_engine;

struct channel {
	struct mcopy_engine *e;
	unsigned idx;
	unsigned streams; /* 0 until known */
	uint16_t flags;   /* MCOPY_HELLO_RAW / _RDMA: how the data travels */
	unsigned n_up;
	bool started, finished;
	int qfd; /* QEMU side (input on send, output on recv); -1 */
	bool qfd_owned;
	bool duplex;       /* qfd is a socket: carry what QEMU writes on the target back (BACK frames) */
	bool back_eof;     /* target: QEMU closed its sending side */
	bool in_eof;       /* source: QEMU ended its data; its return path may still be open */
	uint64_t back_seq; /* BACK frames sent (target) / received (source) */
	int fds[MCOPY_STREAM_MAX];
	char peers[MCOPY_STREAM_MAX][PEER_LEN];
	pthread_t thread;
	/* written by the worker before it reports, read by the loop after join */
	int error, peer_error;
	const char *what;
	unsigned err_stream;
	uint64_t bytes;
};

struct conn {
	struct mcopy_engine *e;
	struct conn *next;
	int fd;
	bool connecting;
	struct ev_io *io;
	struct ev_timer *timer;
	struct mcopy_hs *hs;
	unsigned channel, stream;
	char peer[PEER_LEN];
};

struct mcopy_engine {
	struct ev_loop *loop;
	struct mcopy_params p;
	mcopy_event_cb cb;
	void *userdata;
	int listen_fds[MCOPY_LINK_MAX];
	struct ev_io *listen_io[MCOPY_LINK_MAX];
	int unix_fd;
	struct ev_io *unix_io;
	struct ev_timer *qemu_retry; /* recv: QEMU's unix socket is not there yet */
	bool waiting_qemu;
	int done_pipe[2];
	struct ev_io *done_io;
	int stop_fd;
	struct ev_timer *setup_timer;
	struct conn *conns;
	unsigned n_accepted, next_start, n_done;
	bool stopped;
	pthread_mutex_t rate_lock;
	struct mcopy_rate rate;
	uint64_t carried; /* payload bytes so far: workers add, mcopy_engine_stats reads (atomics) */
	struct channel ch[MCOPY_CHANNEL_MAX];
};

void mcopy_params_init(struct mcopy_params *p, enum mcopy_role role)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
	p->channels = 1;
	p->streams = 1;
	p->io_fd = -1;
	p->timeout = MCOPY_DEFAULT_TIMEOUT;
	p->setup_timeout = MCOPY_DEFAULT_SETUP;
	p->sock_buf = MCOPY_DEFAULT_SOCK_BUF;
	p->backend = role == MCOPY_CLIENT ? MCOPY_BACKEND_TCP : MCOPY_BACKEND_AUTO;
}

/* The HELLO flags a source asks for on each stream of a channel. */
static uint16_t hello_flags(const struct mcopy_params *p)
{
	if (p->backend == MCOPY_BACKEND_RDMA)
		return MCOPY_HELLO_RDMA;
	return p->streams == 1 && !p->framed ? MCOPY_HELLO_RAW : 0;
}

/* ---------------------------------------------------------------- helpers */

static void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "(unknown address family %d)", sa->sa_family);
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* TCP_NODELAY, buffers, and the deadlines the kernel enforces for us: unacked
 * data for longer than timeout kills the connection (TCP_USER_TIMEOUT), and
 * keepalive finds a dead peer on an idle stream within timeout/2 + 3 s. */
static void tune_tcp(int fd, const struct mcopy_params *p)
{
	int one = 1, ms = (int)(p->timeout / USEC_PER_MSEC), idle = (int)(p->timeout / USEC_PER_SEC / 2);
	int intvl = 1, cnt = 3;

	if (idle < 1)
		idle = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (p->congestion) /* checked in mcopy_engine_new */
		setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, p->congestion, strlen(p->congestion));
	if (p->sock_buf > 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &p->sock_buf, sizeof(p->sock_buf));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &p->sock_buf, sizeof(p->sock_buf));
	}
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static int ms_of(usec_t t)
{
	return t / USEC_PER_MSEC > INT_MAX ? INT_MAX : (int)(t / USEC_PER_MSEC);
}

/* --------------------------------------------------------------- workers */

/* poll pfd[1..n] plus the engine's stop fd in pfd[0]. 0 (something ready),
 * -ETIMEDOUT, -ECANCELED (engine stopping), -errno. */
int mcopy_poll_stop(int stop_fd, struct pollfd *pfd, nfds_t n, int timeout_ms)
{
	int r;

	pfd[0] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
	do {
		r = poll(pfd, n + 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (pfd[0].revents)
		return -ECANCELED;
	return r == 0 ? -ETIMEDOUT : 0;
}

static int wait_fds(struct channel *c, struct pollfd *pfd, nfds_t n, int timeout_ms)
{
	return mcopy_poll_stop(c->e->stop_fd, pfd, n, timeout_ms);
}

static int wait_one(struct channel *c, int fd, short events, int timeout_ms)
{
	struct pollfd pfd[2] = {{0}, {.fd = fd, .events = events}};

	return wait_fds(c, pfd, 1, timeout_ms);
}

static int fail_at(struct channel *c, int err, const char *what, unsigned stream)
{
	c->error = err;
	c->what = what;
	c->err_stream = stream;
	return err;
}

/* Write all of buf to stream s (header or control frame). */
static int send_all(struct channel *c, unsigned s, const uint8_t *buf, size_t len, int flags)
{
	int stall = ms_of(c->e->p.timeout), r;

	while (len > 0) {
		ssize_t n = send(c->fds[s], buf, len, flags | MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			r = wait_one(c, c->fds[s], POLLOUT, stall);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Move exactly len bytes from the pipe to out, waiting (stall deadline) when out is full. */
static int splice_out(struct channel *c, int pipe_r, int out, size_t len)
{
	int stall = ms_of(c->e->p.timeout), r;

	while (len > 0) {
		ssize_t n = splice(pipe_r, NULL, out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			r = wait_one(c, out, POLLOUT, stall);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes from stream s (a frame's payload), stall deadline. */
static int recv_all(struct channel *c, unsigned s, uint8_t *buf, size_t len)
{
	int stall = ms_of(c->e->p.timeout), r;

	while (len > 0) {
		ssize_t n = recv(c->fds[s], buf, len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			r = wait_one(c, c->fds[s], POLLIN, stall);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -MCOPY_ETRUNCATED;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write all of buf to QEMU's socket, stall deadline. */
static int write_qemu(struct channel *c, const uint8_t *buf, size_t len)
{
	int stall = ms_of(c->e->p.timeout), r;

	while (len > 0) {
		ssize_t n = send(c->qfd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			r = wait_one(c, c->qfd, POLLOUT, stall);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* source: take what the target sent on stream s without waiting for a header
 * that has not (fully) arrived. BACK frames (stream 0: QEMU's return path on
 * the target) are written to QEMU here. Once QEMU has ended its data it may
 * still read its return path (a half-close), so they are still delivered;
 * only when QEMU then refuses them (it closed the whole socket) are they
 * dropped. Returns 1 with *ret_f for any other frame (DONE, ABORT), 0 when
 * no complete header is waiting, -ECONNRESET at EOF, or another error. */
static int take_from_target(struct channel *c, unsigned s, struct mcopy_frame *ret_f)
{
	uint8_t h[MCOPY_FRAME_HDR_LEN], payload[MCOPY_BACK_MAX];
	struct mcopy_frame f;
	ssize_t n;
	int r;

	for (;;) {
		n = recv(c->fds[s], h, sizeof(h), MSG_DONTWAIT | MSG_PEEK);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (n == 0)
			return -ECONNRESET;
		if ((size_t)n < sizeof(h))
			return 0; /* the rest of the header is on its way */
		if (recv(c->fds[s], h, sizeof(h), MSG_DONTWAIT) != (ssize_t)sizeof(h) ||
		    mcopy_frame_decode(h, sizeof(h), &f) < 0)
			return -MCOPY_EBADFRAME;
		if (f.type != MCOPY_FRAME_BACK) {
			*ret_f = f;
			return 1;
		}
		if (s != 0 || f.seq != c->back_seq)
			return -MCOPY_ESEQ;
		c->back_seq++;
		r = recv_all(c, s, payload, f.len);
		if (r < 0)
			return r;
		if (c->duplex) {
			r = write_qemu(c, payload, f.len);
			if (r < 0 && c->in_eof && (r == -EPIPE || r == -ECONNRESET))
				c->duplex = false; /* QEMU closed after its data: drop the rest */
			else if (r < 0)
				return r;
		}
	}
}

/* The target spoke or closed in the middle of the transfer: why? 0 when it
 * only sent QEMU's return-path bytes (delivered). */
static int peer_trouble(struct channel *c, unsigned s, int err)
{
	struct mcopy_frame f;
	int r = take_from_target(c, s, &f);

	if (r == 1 && f.type == MCOPY_FRAME_ABORT) {
		c->peer_error = f.seq < 4096 ? (int)f.seq : EPROTO;
		return -MCOPY_EPEERABORT;
	}
	if (r == 1)
		return -MCOPY_EBADFRAME;
	return r < 0 ? r : err;
}

/* target: what QEMU wrote on its side of the channel goes back to the source
 * on stream 0 as BACK frames. Never waits for QEMU: 0 when there is nothing
 * more now (or QEMU closed its side), else the error. */
static int back_pump(struct channel *c)
{
	uint8_t buf[MCOPY_FRAME_HDR_LEN + MCOPY_BACK_MAX];

	while (c->duplex && !c->back_eof) {
		struct mcopy_frame f = {.type = MCOPY_FRAME_BACK, .seq = c->back_seq};
		ssize_t n = recv(c->qfd, buf + MCOPY_FRAME_HDR_LEN, MCOPY_BACK_MAX, MSG_DONTWAIT);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		if (n == 0) {
			c->back_eof = true;
			return 0;
		}
		f.len = (uint32_t)n;
		if (mcopy_frame_encode(&f, buf, MCOPY_FRAME_HDR_LEN) < 0)
			return -EINVAL;
		r = send_all(c, 0, buf, MCOPY_FRAME_HDR_LEN + (size_t)n, 0);
		if (r < 0)
			return r;
		c->back_seq++;
	}
	return 0;
}

/* source, after its own direction ended: the target's DONE(count) on stream
 * s, still delivering QEMU's return path (BACK) that comes before it. */
static int wait_done(struct channel *c, unsigned s, uint64_t count)
{
	const char *what = "waiting for the target to acknowledge";
	struct mcopy_frame f;
	int r;

	for (;;) {
		r = take_from_target(c, s, &f);
		if (r != 0)
			break;
		r = wait_one(c, c->fds[s], POLLIN, ms_of(c->e->p.setup_timeout));
		if (r < 0)
			return fail_at(c, r, what, s);
	}
	if (r == 1 && f.type == MCOPY_FRAME_ABORT) {
		c->peer_error = f.seq < 4096 ? (int)f.seq : EPROTO;
		return fail_at(c, -MCOPY_EPEERABORT, what, s);
	}
	if (r < 0)
		return fail_at(c, r == -ECONNRESET ? -MCOPY_ETRUNCATED : r, what, s);
	if (f.type != MCOPY_FRAME_DONE || f.seq != count)
		return fail_at(c, -MCOPY_ESEQ, what, s);
	return 0;
}

static void rate_wait(struct channel *c, size_t n)
{
	struct mcopy_engine *e = c->e;
	usec_t wait;

	if (!e->p.bandwidth)
		return;
	pthread_mutex_lock(&e->rate_lock);
	wait = mcopy_rate_take(&e->rate, n, time_now_usec());
	pthread_mutex_unlock(&e->rate_lock);
	if (wait) {
		struct pollfd pfd[1];

		/* a deadline wait on the stop fd, not a poll loop */
		wait_fds(c, pfd, 0, ms_of(wait + USEC_PER_MSEC - 1));
	}
}

/* Live count for mcopy_engine_stats: one relaxed atomic add per chunk (up
 * to 1 MiB), nothing the data path waits on. */
static void carried(struct channel *c, uint64_t n)
{
	__atomic_fetch_add(&c->e->carried, n, __ATOMIC_RELAXED);
}

static int send_channel(struct channel *c, int pipe_r, int pipe_w, size_t cap)
{
	struct pollfd pfd[1 + MCOPY_STREAM_MAX + 1];
	int stall = ms_of(c->e->p.timeout);
	struct mcopy_tx tx;
	struct mcopy_frame f;
	uint8_t h[MCOPY_FRAME_HDR_LEN];
	int r;

	mcopy_tx_init(&tx, c->streams);
	for (;;) {
		ssize_t n = splice(c->qfd, NULL, pipe_w, NULL, cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		uint32_t writable = 0;
		int s;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* idle source: wait for it, or for the target to abort or vanish
			 * (keepalive and TCP_USER_TIMEOUT bound that) */
			pfd[1] = (struct pollfd){.fd = c->qfd, .events = POLLIN};
			for (unsigned i = 0; i < c->streams; i++)
				pfd[2 + i] = (struct pollfd){.fd = c->fds[i], .events = POLLIN};
			r = wait_fds(c, pfd, 1 + c->streams, -1);
			if (r < 0)
				return fail_at(c, r, "waiting for data from QEMU", 0);
			for (unsigned i = 0; i < c->streams; i++) {
				if (!pfd[2 + i].revents)
					continue;
				r = peer_trouble(c, i, i == 0 ? 0 : -ECONNRESET);
				if (r < 0)
					return fail_at(c, r, "receiving from the target", i);
			}
			continue;
		}
		if (n < 0)
			return fail_at(c, -errno, "reading from QEMU", 0);
		if (n == 0)
			break;
		rate_wait(c, (size_t)n);
		while (!writable) {
			for (unsigned i = 0; i < c->streams; i++)
				pfd[1 + i] = (struct pollfd){.fd = c->fds[i], .events = POLLOUT};
			pfd[1].events |= POLLIN; /* the target's return path, on stream 0 */
			r = wait_fds(c, pfd, c->streams, stall);
			if (r < 0)
				return fail_at(c, r, "writing to the target (no progress)", 0);
			for (unsigned i = 0; i < c->streams; i++) {
				if (pfd[1 + i].revents & (POLLERR | POLLHUP))
					return fail_at(c, peer_trouble(c, i, -ECONNRESET),
						       "writing to the target", i);
				if (i == 0 && (pfd[1].revents & POLLIN)) {
					r = peer_trouble(c, 0, 0);
					if (r < 0)
						return fail_at(c, r, "receiving from the target", 0);
				}
				if (pfd[1 + i].revents & POLLOUT)
					writable |= 1u << i;
			}
		}
		s = mcopy_tx_next(&tx, writable, (uint32_t)n, &f);
		if (s < 0 || mcopy_frame_encode(&f, h, sizeof(h)) < 0)
			return fail_at(c, -EINVAL, "framing", 0);
		r = send_all(c, (unsigned)s, h, sizeof(h), MSG_MORE);
		if (r == 0)
			r = splice_out(c, pipe_r, c->fds[s], (size_t)n);
		if (r < 0)
			return fail_at(c,
				       r == -EPIPE || r == -ECONNRESET ? peer_trouble(c, (unsigned)s, r) : r,
				       "writing to the target", (unsigned)s);
		carried(c, (uint64_t)n);
	}

	/* The source ended: END on every stream, then the target's DONE on each. */
	c->in_eof = true;
	mcopy_tx_end(&tx, &f);
	mcopy_frame_encode(&f, h, sizeof(h));
	for (unsigned i = 0; i < c->streams; i++) {
		r = send_all(c, i, h, sizeof(h), 0);
		if (r < 0)
			return fail_at(c, r == -EPIPE || r == -ECONNRESET ? peer_trouble(c, i, r) : r,
				       "writing to the target", i);
		shutdown(c->fds[i], SHUT_WR);
	}
	for (unsigned i = 0; i < c->streams; i++) {
		r = wait_done(c, i, tx.next_seq);
		if (r < 0)
			return r;
	}
	c->bytes = tx.bytes;
	return 0;
}

static int recv_finish(struct channel *c, uint64_t count);

static int recv_channel(struct channel *c, int pipe_r, int pipe_w, size_t cap)
{
	struct pollfd pfd[1 + MCOPY_STREAM_MAX + 1];
	uint8_t hdr[MCOPY_STREAM_MAX][MCOPY_FRAME_HDR_LEN];
	size_t hl[MCOPY_STREAM_MAX] = {0};
	int stall = ms_of(c->e->p.timeout), r;
	const char *out_what = c->e->p.unix_path ? "writing to QEMU" : "writing the output";
	struct mcopy_frame f;
	struct mcopy_rx rx;

	mcopy_rx_init(&rx, c->streams);
	for (;;) {
		unsigned s, nw = 0;
		uint32_t len;
		bool progress = false, midframe = false;

		r = mcopy_rx_next(&rx, &s, &len);
		if (r < 0)
			return fail_at(c, r, "reassembling frames from the source", 0);
		if (r == MCOPY_RX_COMPLETE)
			break;
		if (r == MCOPY_RX_DELIVER) {
			ssize_t n = splice(c->fds[s], NULL, pipe_w, NULL, len < cap ? len : cap,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				r = wait_one(c, c->fds[s], POLLIN, stall);
				if (r < 0)
					return fail_at(c, r, "reading a frame from the source", s);
				continue;
			}
			if (n < 0)
				return fail_at(c, -errno, "reading from the source", s);
			if (n == 0)
				return fail_at(c, -MCOPY_ETRUNCATED, "reading a frame from the source", s);
			r = splice_out(c, pipe_r, c->qfd, (size_t)n);
			if (r < 0)
				return fail_at(c, r, out_what, s);
			mcopy_rx_delivered(&rx, s, (uint32_t)n);
			carried(c, (uint64_t)n);
			r = back_pump(c); /* QEMU's return path is not starved by a busy stream */
			if (r < 0)
				return fail_at(c, r, "carrying QEMU's return path to the source", 0);
			continue;
		}
		for (s = 0; s < c->streams; s++) {
			ssize_t n;

			if (!mcopy_rx_wants_header(&rx, s))
				continue;
			n = recv(c->fds[s], hdr[s] + hl[s], sizeof(hdr[s]) - hl[s], MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				pfd[1 + nw++] = (struct pollfd){.fd = c->fds[s], .events = POLLIN};
				midframe |= hl[s] > 0;
				continue;
			}
			if (n < 0)
				return fail_at(c, -errno, "reading from the source", s);
			if (n == 0)
				return fail_at(c, mcopy_rx_eof(&rx, s, hl[s] > 0), "reading from the source",
					       s);
			progress = true;
			hl[s] += (size_t)n;
			if (hl[s] < sizeof(hdr[s]))
				continue;
			hl[s] = 0;
			r = mcopy_frame_decode(hdr[s], sizeof(hdr[s]), &f);
			if (r == 0)
				r = mcopy_rx_header(&rx, s, &f);
			if (r == -MCOPY_EPEERABORT)
				c->peer_error = f.seq < 4096 ? (int)f.seq : EPROTO;
			if (r < 0)
				return fail_at(c, r, "reading a frame header from the source", s);
		}
		if (progress || nw == 0)
			continue;
		r = back_pump(c);
		if (r < 0)
			return fail_at(c, r, "carrying QEMU's return path to the source", 0);
		if (c->duplex && !c->back_eof)
			pfd[1 + nw++] = (struct pollfd){.fd = c->qfd, .events = POLLIN};
		/* between frames an idle source is fine (keepalive bounds a dead
		 * one); inside a header it is a stall */
		r = wait_fds(c, pfd, nw, midframe ? stall : -1);
		if (r < 0)
			return fail_at(c, r, "reading from the source", 0);
	}

	/* Everything delivered: flush, then acknowledge on every stream. */
	r = recv_finish(c, rx.next_seq);
	if (r < 0)
		return r;
	c->bytes = rx.bytes;
	return 0;
}

/* ---------------------------------------------------- unframed (1 stream) */

/* source, raw: move len bytes from the pipe to the target's stream, taking
 * what the target sends meanwhile (QEMU's return path) so that neither side
 * can block the other with a full buffer. */
static int raw_out(struct channel *c, int pipe_r, size_t len)
{
	struct pollfd pfd[2];
	int fd = c->fds[0], r;

	while (len > 0) {
		ssize_t n = splice(pipe_r, NULL, fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			pfd[1] = (struct pollfd){.fd = fd, .events = POLLOUT | POLLIN};
			r = wait_fds(c, pfd, 1, ms_of(c->e->p.timeout));
			if (r < 0)
				return r;
			if (pfd[1].revents & (POLLIN | POLLERR | POLLHUP)) {
				r = peer_trouble(c, 0, pfd[1].revents & POLLIN ? 0 : -ECONNRESET);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (n < 0)
			return errno == EPIPE || errno == ECONNRESET ? peer_trouble(c, 0, -errno) : -errno;
		len -= (size_t)n;
	}
	return 0;
}

/* The bytes as they are, QEMU -> pipe -> TCP, each chunk as large as the
 * pipe takes. The stream has SO_LINGER 0 (channel_connect): only the FIN
 * of a clean end closes it gracefully; DONE counts bytes. The stream is full
 * duplex: the target's BACK frames (QEMU's return path) come back on it,
 * during the transfer and after our FIN, until its DONE. */
static int send_raw(struct channel *c, int pipe_r, int pipe_w, size_t cap)
{
	struct pollfd pfd[3];
	uint64_t bytes = 0;
	int fd = c->fds[0], r;

	for (;;) {
		ssize_t n = splice(c->qfd, NULL, pipe_w, NULL, cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* idle source: wait for it, for the target's return path, or
			 * for the target to abort or vanish */
			pfd[1] = (struct pollfd){.fd = c->qfd, .events = POLLIN};
			pfd[2] = (struct pollfd){.fd = fd, .events = POLLIN};
			r = wait_fds(c, pfd, 2, -1);
			if (r < 0)
				return fail_at(c, r, "waiting for data from QEMU", 0);
			if (pfd[2].revents) {
				r = peer_trouble(c, 0, 0);
				if (r < 0)
					return fail_at(c, r, "receiving from the target", 0);
			}
			continue;
		}
		if (n < 0)
			return fail_at(c, -errno, "reading from QEMU", 0);
		if (n == 0)
			break;
		rate_wait(c, (size_t)n);
		r = raw_out(c, pipe_r, (size_t)n);
		if (r < 0)
			return fail_at(c, r, "writing to the target", 0);
		bytes += (uint64_t)n;
		carried(c, (uint64_t)n);
	}
	/* clean end: the FIN says so (it ends our direction only), then the
	 * target's DONE after the rest of QEMU's return path */
	c->in_eof = true;
	shutdown(fd, SHUT_WR);
	r = wait_done(c, 0, bytes);
	if (r < 0)
		return r;
	c->bytes = bytes;
	return 0;
}

/* Everything delivered: make it durable or visible, then DONE(count) on
 * every stream. The source's end ends one direction only: QEMU's return path
 * is carried on until QEMU closes it, or until it has been silent for the
 * stall timeout (nothing is lost then: there is nothing to carry, and DONE
 * must come some time), because the source drops what comes after DONE. */
static int recv_finish(struct channel *c, uint64_t count)
{
	struct mcopy_frame f = {.type = MCOPY_FRAME_DONE, .seq = count};
	uint8_t h[MCOPY_FRAME_HDR_LEN];
	struct stat st;
	int r;

	if (fstat(c->qfd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (fdatasync(c->qfd) < 0)
			return fail_at(c, -errno, "flushing the output", 0);
	} else if (S_ISSOCK(st.st_mode)) {
		shutdown(c->qfd, SHUT_WR);
	}
	for (;;) {
		r = back_pump(c);
		if (r < 0)
			return fail_at(c, r, "carrying QEMU's return path to the source", 0);
		if (!c->duplex || c->back_eof)
			break;
		r = wait_one(c, c->qfd, POLLIN, ms_of(c->e->p.timeout));
		if (r == -ETIMEDOUT)
			break;
		if (r < 0)
			return fail_at(c, r, "carrying QEMU's return path to the source", 0);
	}
	mcopy_frame_encode(&f, h, sizeof(h));
	for (unsigned i = 0; i < c->streams; i++) {
		r = send_all(c, i, h, sizeof(h), 0);
		if (r < 0)
			return fail_at(c, r, "acknowledging to the source", i);
	}
	return 0;
}

/* TCP -> pipe -> QEMU until the source's FIN; a reset is a source that
 * died. What QEMU writes back (its return path) goes to the source as BACK
 * frames on the same stream, as on a framed one. */
static int recv_raw(struct channel *c, int pipe_r, int pipe_w, size_t cap)
{
	const char *out_what = c->e->p.unix_path ? "writing to QEMU" : "writing the output";
	const char *back_what = "carrying QEMU's return path to the source";
	struct pollfd pfd[3];
	uint64_t bytes = 0;
	int fd = c->fds[0], r;

	for (;;) {
		ssize_t n = splice(fd, NULL, pipe_w, NULL, cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* an idle source is fine (keepalive bounds a dead one); QEMU
			 * may be waiting for its return path meanwhile */
			r = back_pump(c);
			if (r < 0)
				return fail_at(c, r, back_what, 0);
			pfd[1] = (struct pollfd){.fd = fd, .events = POLLIN};
			pfd[2] = (struct pollfd){.fd = c->qfd, .events = POLLIN};
			r = wait_fds(c, pfd, c->duplex && !c->back_eof ? 2 : 1, -1);
			if (r < 0)
				return fail_at(c, r, "reading from the source", 0);
			continue;
		}
		if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
			return fail_at(c, -MCOPY_ETRUNCATED, "reading from the source (it reset the stream)",
				       0);
		if (n < 0)
			return fail_at(c, -errno, "reading from the source", 0);
		if (n == 0)
			break;
		r = splice_out(c, pipe_r, c->qfd, (size_t)n);
		if (r < 0)
			return fail_at(c, r, out_what, 0);
		bytes += (uint64_t)n;
		carried(c, (uint64_t)n);
		r = back_pump(c); /* not starved by a busy source */
		if (r < 0)
			return fail_at(c, r, back_what, 0);
	}
	r = recv_finish(c, bytes);
	if (r < 0)
		return r;
	c->bytes = bytes;
	return 0;
}

/* ----------------------------------------------------------- rdma glue */

static void throttle_cb(void *ctx, uint64_t n)
{
	rate_wait(ctx, (size_t)n);
}

static int rdma_channel(struct channel *c)
{
	struct mcopy_xfer x = {.qfd = c->qfd,
			       .ctl_fd = c->fds[0],
			       .stop_fd = c->e->stop_fd,
			       .timeout = c->e->p.timeout,
			       .setup_timeout = c->e->p.setup_timeout,
			       .throttle = c->e->p.bandwidth ? throttle_cb : NULL,
			       .ctx = c};
	int r;

	/* the RDMA data path has no BACK frames: it must never carry a channel
	 * whose QEMU side could have a return path (params_check and
	 * server_verdict refuse those before; this is the last guard) */
	if (c->duplex)
		return fail_at(c, -EOPNOTSUPP, "rdma: QEMU's side is a socket (no return path on rdma)", 0);
	r = c->e->p.role == MCOPY_CLIENT ? mcopy_rdma_send(&x) : mcopy_rdma_recv(&x);
	c->peer_error = x.peer_error;
	if (r < 0)
		return fail_at(c, r, x.what ? x.what : "rdma", 0);
	c->bytes = x.bytes;
	carried(c, x.bytes); /* the RDMA path counts at its end only */
	return 0;
}

static void *channel_worker(void *arg)
{
	struct channel *c = arg;
	struct mcopy_engine *e = c->e;
	int pipefd[2] = {-1, -1}, r;
	uint32_t idx = c->idx;
	long cap;

	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		fail_at(c, -errno, "creating a pipe", 0);
		goto out;
	}
	fcntl(pipefd[1], F_SETPIPE_SZ, PIPE_WANT); /* best effort: smaller frames otherwise */
	cap = fcntl(pipefd[1], F_GETPIPE_SZ);
	if (cap <= 0)
		cap = 65536;
	if (cap > (long)MCOPY_FRAME_MAX)
		cap = MCOPY_FRAME_MAX;
	{
		struct stat st;

		c->duplex = c->qfd >= 0 && fstat(c->qfd, &st) == 0 && S_ISSOCK(st.st_mode);
	}
	if (c->flags & MCOPY_HELLO_RDMA)
		r = rdma_channel(c);
	else if (c->flags & MCOPY_HELLO_RAW)
		r = e->p.role == MCOPY_CLIENT ? send_raw(c, pipefd[0], pipefd[1], (size_t)cap)
					      : recv_raw(c, pipefd[0], pipefd[1], (size_t)cap);
	else if (e->p.role == MCOPY_CLIENT)
		r = send_channel(c, pipefd[0], pipefd[1], (size_t)cap);
	else
		r = recv_channel(c, pipefd[0], pipefd[1], (size_t)cap);
	if (r < 0 && e->p.role == MCOPY_SERVER && r != -MCOPY_EPEERABORT) {
		/* tell the source why, best effort */
		struct mcopy_frame f = {.type = MCOPY_FRAME_ABORT,
					.seq = (uint64_t)(r > -2000 ? -r : EPROTO)};
		uint8_t h[MCOPY_FRAME_HDR_LEN];

		mcopy_frame_encode(&f, h, sizeof(h));
		for (unsigned i = 0; i < c->streams; i++) {
			if (send(c->fds[i], h, sizeof(h), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(h))
				shutdown(c->fds[i], SHUT_WR);
		}
	}
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	while (write(e->done_pipe[1], &idx, sizeof(idx)) < 0 && errno == EINTR)
		;
	return NULL;
}

/* ------------------------------------------------------------ loop side */

static void emit(struct mcopy_engine *e, struct mcopy_event ev)
{
	if (e->cb)
		e->cb(e, &ev, e->userdata);
}

static void engine_fail(struct mcopy_engine *e, int err, int peer_err, const char *what, const char *peer,
			unsigned channel, unsigned stream)
{
	uint64_t one = 1;

	if (e->stopped)
		return;
	e->stopped = true;
	if (write(e->stop_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write only fails on overflow: the flag is set anyway */
	}
	ev_timer_set(e->setup_timer, USEC_INFINITY);
	emit(e, (struct mcopy_event){.type = MCOPY_EV_FAILED,
				     .error = err,
				     .peer_error = peer_err,
				     .what = what,
				     .peer = peer,
				     .channel = channel,
				     .stream = stream});
}

static void conn_free(struct conn *c, bool close_fd)
{
	struct conn **pp;

	if (!c)
		return;
	for (pp = &c->e->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ev_io_del(c->io);
	ev_timer_del(c->timer);
	mcopy_hs_free(c->hs);
	if (close_fd && c->fd >= 0)
		close(c->fd);
	free(c);
}

static void conn_fail(struct conn *c, int err, const char *what)
{
	struct mcopy_engine *e = c->e;
	char peer[PEER_LEN];
	struct mcopy_hello h = {0};
	bool have_hello = c->hs && mcopy_hs_hello(c->hs, &h) == 0;
	unsigned channel = c->channel, stream = c->stream;

	memcpy(peer, c->peer, sizeof(peer));
	conn_free(c, true);
	if (e->p.role == MCOPY_CLIENT) {
		engine_fail(e, err, 0, what, peer, channel, stream);
		return;
	}
	emit(e, (struct mcopy_event){.type = MCOPY_EV_REFUSED,
				     .error = err,
				     .what = what,
				     .peer = peer,
				     .channel = have_hello ? h.channel : 0,
				     .stream = have_hello ? h.stream : 0,
				     .migration_id = have_hello ? h.migration_id : 0});
}

static int channel_start(struct channel *ch)
{
	struct mcopy_engine *e = ch->e;
	int r;

	ch->started = true;
	r = pthread_create(&ch->thread, NULL, channel_worker, ch);
	if (r != 0) {
		ch->started = false;
		return -r;
	}
	emit(e, (struct mcopy_event){.type = MCOPY_EV_CHANNEL_UP, .channel = ch->idx});
	return 0;
}

/* Best effort: beyond net.core.wmem_max only with CAP_NET_ADMIN (the daemon
 * has it), else as much as that allows. */
static void qemu_sndbuf(int fd)
{
	int want = MCOPY_QEMU_SNDBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
}

/* recv: connect to QEMU for each complete channel, in channel order (QEMU
 * expects its main channel first). */
static void start_ready_channels(struct mcopy_engine *e)
{
	while (!e->stopped && e->next_start < e->p.channels) {
		struct channel *ch = &e->ch[e->next_start];
		int r;

		if (!ch->streams || ch->n_up < ch->streams)
			return;
		if (e->p.role == MCOPY_SERVER && e->p.unix_path) {
			struct sockaddr_un sun = {.sun_family = AF_UNIX};
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

			snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", e->p.unix_path);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
				r = -errno;
				if (fd >= 0)
					close(fd);
				if (r == -ENOENT || r == -ECONNREFUSED) {
					/* QEMU is not listening yet: again soon, until the setup deadline */
					e->waiting_qemu = true;
					ev_timer_set(e->qemu_retry, ev_loop_now(e->loop) + MCOPY_QEMU_RETRY);
					return;
				}
				engine_fail(e, r, 0, "connecting to QEMU's unix socket", NULL, ch->idx, 0);
				return;
			}
			e->waiting_qemu = false;
			qemu_sndbuf(fd);
			set_nonblock(fd);
			ch->qfd = fd;
			ch->qfd_owned = true;
		}
		r = channel_start(ch);
		if (r < 0) {
			engine_fail(e, r, 0, "starting a worker thread", NULL, ch->idx, 0);
			return;
		}
		e->next_start++;
	}
	if (e->next_start == e->p.channels)
		ev_timer_set(e->setup_timer, USEC_INFINITY);
}

/* The stream's handshake succeeded: it belongs to its channel now. */
static void conn_ready(struct conn *c)
{
	struct mcopy_engine *e = c->e;
	struct channel *ch = &e->ch[c->channel];

	if (e->p.role == MCOPY_SERVER) {
		struct mcopy_hello h;

		mcopy_hs_hello(c->hs, &h);
		if (ch->started || (ch->streams && ch->streams != h.streams) || ch->fds[h.stream] >= 0) {
			conn_fail(c, -MCOPY_EREFUSED, "joining a channel (duplicate stream)");
			return;
		}
		ch->streams = h.streams;
		ch->flags = h.flags;
	}
	ch->fds[c->stream] = c->fd;
	memcpy(ch->peers[c->stream], c->peer, PEER_LEN);
	ch->n_up++;
	conn_free(c, false);
	if (e->p.role == MCOPY_SERVER) {
		start_ready_channels(e);
	} else if (ch->n_up == ch->streams) {
		int r = channel_start(ch);

		if (r < 0)
			engine_fail(e, r, 0, "starting a worker thread", NULL, ch->idx, 0);
		if (++e->next_start == e->p.channels)
			ev_timer_set(e->setup_timer, USEC_INFINITY);
	}
}

static uint32_t server_verdict(struct mcopy_engine *e, const struct mcopy_hello *h)
{
	const struct channel *ch;

	if (h->migration_id != e->p.migration_id)
		return MCOPY_ST_NO_MIGRATION;
	if (h->channel >= e->p.channels)
		return MCOPY_ST_BAD_STREAM;
	ch = &e->ch[h->channel];
	if (ch->started || (ch->streams && ch->streams != h->streams) || ch->fds[h->stream] >= 0)
		return MCOPY_ST_BAD_STREAM;
	if ((h->flags & MCOPY_HELLO_RDMA) &&
	    (e->p.backend == MCOPY_BACKEND_TCP || !mcopy_rdma_built() || e->p.unix_path))
		return MCOPY_ST_NO_RDMA; /* unix_path: QEMU's return path, which rdma does not carry */
	return MCOPY_ST_OK;
}

/* What to say about a failed handshake: the refusal reason, if any. */
static const char *hs_what(const struct conn *c, int err)
{
	return err == -MCOPY_EREFUSED ? mcopy_status_str(mcopy_hs_status(c->hs)) : "handshake";
}

static void conn_step(struct conn *c, usec_t now)
{
	const uint8_t *out;
	size_t n;
	int r;

	if (mcopy_hs_state(c->hs) == MCOPY_HS_DECIDE) {
		struct mcopy_hello h;

		mcopy_hs_hello(c->hs, &h);
		c->channel = h.channel;
		c->stream = h.stream;
		r = mcopy_hs_decide(c->hs, server_verdict(c->e, &h));
		if (r < 0) {
			conn_fail(c, r, "answering the handshake");
			return;
		}
	}
	while ((n = mcopy_hs_pending(c->hs, &out)) > 0) {
		ssize_t w = send(c->fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0) {
			conn_fail(c, -errno, "sending the handshake");
			return;
		}
		mcopy_hs_sent(c->hs, (size_t)w);
	}
	switch (mcopy_hs_state(c->hs)) {
	case MCOPY_HS_DONE:
		conn_ready(c);
		return;
	case MCOPY_HS_FAILED:
		r = mcopy_hs_error(c->hs);
		conn_fail(c, r, hs_what(c, r));
		return;
	default:
		break;
	}
	ev_io_modify(c->io, EPOLLIN | (mcopy_hs_pending(c->hs, NULL) ? EPOLLOUT : 0));
	ev_timer_set(c->timer, mcopy_hs_deadline(c->hs));
	(void)now;
}

static void conn_io_cb(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
		       void *userdata)
{
	struct conn *c = userdata;
	uint8_t buf[MCOPY_MSG_MAX], nonce[MCOPY_NONCE_LEN];
	int r;

	(void)loop;
	(void)io;
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			conn_fail(c, -err, "connecting to the target");
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->connecting = false;
		r = mcopy_nonce_fill(nonce);
		if (r == 0) {
			struct mcopy_hello h = {.migration_id = c->e->p.migration_id,
						.channel = (uint16_t)c->channel,
						.stream = (uint16_t)c->stream,
						.streams = (uint16_t)c->e->p.streams,
						.flags = hello_flags(&c->e->p)};

			r = mcopy_hs_new(MCOPY_CLIENT, c->e->p.key, &h, nonce, now, c->e->p.timeout, &c->hs);
		}
		if (r < 0) {
			conn_fail(c, r, "starting the handshake");
			return;
		}
		conn_step(c, now);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		/* peek, and take only what the handshake consumed: what follows it
		 * (an RDMA offer) belongs to the worker */
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_fail(c, -errno, "receiving the handshake");
			return;
		}
		if (n == 0) {
			conn_fail(c, -ECONNRESET, "handshake (the peer closed the connection)");
			return;
		}
		if (n > 0) {
			r = mcopy_hs_input(c->hs, buf, (size_t)n, now);
			if (r > 0 && recv(fd, buf, (size_t)r, MSG_DONTWAIT) != r)
				r = -EIO; /* cannot happen: the bytes were peeked */
			if (r >= 0 && r < n && mcopy_hs_state(c->hs) != MCOPY_HS_DONE)
				r = -MCOPY_EBADMSG; /* the peer talked out of turn */
			if (r < 0 && mcopy_hs_pending(c->hs, NULL) == 0) {
				conn_fail(c, r, hs_what(c, r));
				return;
			}
		}
	}
	conn_step(c, now);
}

static void conn_timer_cb(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *userdata)
{
	struct conn *c = userdata;

	(void)loop;
	(void)t;
	if (c->connecting || !c->hs) {
		conn_fail(c, -ETIMEDOUT, "connecting to the target");
		return;
	}
	if (mcopy_hs_tick(c->hs, now) < 0)
		conn_fail(c, -MCOPY_ETIMEDOUT, "handshake");
}

static int conn_new(struct mcopy_engine *e, int fd, bool connecting, const struct sockaddr *peer,
		    unsigned channel, unsigned stream, usec_t now)
{
	struct conn *c = calloc(1, sizeof(*c));
	uint8_t nonce[MCOPY_NONCE_LEN];
	int r;

	if (!c)
		return -ENOMEM;
	c->e = e;
	c->fd = fd;
	c->connecting = connecting;
	c->channel = channel;
	c->stream = stream;
	addr_str(peer, c->peer, sizeof(c->peer));
	if (e->p.role == MCOPY_SERVER) {
		r = mcopy_nonce_fill(nonce);
		if (r == 0)
			r = mcopy_hs_new(MCOPY_SERVER, e->p.key, NULL, nonce, now, e->p.timeout, &c->hs);
		if (r < 0)
			goto fail;
	}
	r = ev_io_add(e->loop, fd, connecting ? EPOLLOUT : EPOLLIN, conn_io_cb, c, &c->io);
	if (r < 0)
		goto fail;
	r = ev_timer_add(e->loop, now + e->p.timeout, conn_timer_cb, c, &c->timer);
	if (r < 0)
		goto fail;
	c->next = e->conns;
	e->conns = c;
	return 0;
fail:
	ev_io_del(c->io);
	mcopy_hs_free(c->hs);
	free(c);
	return r;
}

/* send: open the streams of a channel, stream i on link (channel + i) % links. */
static void channel_connect(struct mcopy_engine *e, struct channel *ch, usec_t now)
{
	ch->streams = e->p.streams;
	ch->flags = hello_flags(&e->p);
	for (unsigned i = 0; i < ch->streams; i++) {
		unsigned l = (ch->idx + i) % e->p.n_links;
		const struct sockaddr *sa = (const struct sockaddr *)&e->p.links[l];
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

		if (fd < 0) {
			engine_fail(e, -errno, 0, "creating a socket", NULL, ch->idx, i);
			return;
		}
		tune_tcp(fd, &e->p);
		if (ch->flags & MCOPY_HELLO_RAW) {
			/* no END frame on a raw stream: every close but the clean
			 * end's shutdown must be a reset, even when this process dies */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};

			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		r = connect(fd, sa, e->p.link_lens[l]) < 0 && errno != EINPROGRESS ? -errno : 0;
		if (r == 0)
			r = conn_new(e, fd, true, sa, ch->idx, i, now);
		if (r < 0) {
			char peer[PEER_LEN];

			close(fd);
			addr_str(sa, peer, sizeof(peer));
			engine_fail(e, r, 0, "connecting to the target", peer, ch->idx, i);
			return;
		}
	}
}

static void listen_cb(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
		      void *userdata)
{
	struct mcopy_engine *e = userdata;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int cfd, r;

	(void)loop;
	(void)io;
	(void)events;
	cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return; /* EAGAIN, or a connection that died in the queue */
	if (e->stopped) {
		close(cfd);
		return;
	}
	tune_tcp(cfd, &e->p);
	r = conn_new(e, cfd, false, (struct sockaddr *)&ss, 0, 0, now);
	if (r < 0) {
		char peer[PEER_LEN];

		addr_str((struct sockaddr *)&ss, peer, sizeof(peer));
		close(cfd);
		emit(e, (struct mcopy_event){
				.type = MCOPY_EV_REFUSED, .error = r, .what = "accepting", .peer = peer});
	}
}

/* send: QEMU connected to our unix socket: that is the next channel. */
static void unix_cb(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
		    void *userdata)
{
	struct mcopy_engine *e = userdata;
	struct channel *ch;
	int cfd;

	(void)loop;
	(void)io;
	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	if (e->stopped || e->n_accepted >= e->p.channels) {
		close(cfd); /* more connections than channels: not ours to carry */
		return;
	}
	ch = &e->ch[e->n_accepted++];
	ch->qfd = cfd;
	ch->qfd_owned = true;
	channel_connect(e, ch, now);
	if (e->n_accepted == e->p.channels) {
		ev_io_del(e->unix_io);
		e->unix_io = NULL;
	}
}

static void done_cb(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
		    void *userdata)
{
	struct mcopy_engine *e = userdata;
	uint32_t idx;
	struct channel *ch;

	(void)loop;
	(void)io;
	(void)events;
	(void)now;
	if (read(fd, &idx, sizeof(idx)) != (ssize_t)sizeof(idx) || idx >= e->p.channels)
		return;
	ch = &e->ch[idx];
	pthread_join(ch->thread, NULL);
	ch->finished = true;
	if (ch->error) {
		engine_fail(e, ch->error, ch->peer_error, ch->what, ch->peers[ch->err_stream], idx,
			    ch->err_stream);
		return;
	}
	emit(e, (struct mcopy_event){.type = MCOPY_EV_CHANNEL_DONE, .channel = idx, .bytes = ch->bytes});
	if (++e->n_done == e->p.channels && !e->stopped) {
		uint64_t total = 0;

		for (unsigned i = 0; i < e->p.channels; i++)
			total += e->ch[i].bytes;
		e->stopped = true;
		emit(e, (struct mcopy_event){.type = MCOPY_EV_DONE, .bytes = total});
	}
}

static void setup_timer_cb(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *userdata)
{
	struct mcopy_engine *e = userdata;

	(void)loop;
	(void)t;
	(void)now;
	engine_fail(e, -ETIMEDOUT, 0,
		    e->p.role == MCOPY_CLIENT ? "waiting for QEMU and the target to connect every channel"
		    : e->waiting_qemu         ? "waiting for QEMU to listen on its unix socket"
					      : "waiting for the source to connect every channel",
		    NULL, e->next_start, 0);
}

static void qemu_retry_cb(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *userdata)
{
	struct mcopy_engine *e = userdata;

	(void)loop;
	(void)now;
	ev_timer_set(t, USEC_INFINITY);
	start_ready_channels(e);
}

static int params_check(const struct mcopy_params *p)
{
	if (!p->key || p->channels < 1 || p->channels > MCOPY_CHANNEL_MAX ||
	    p->n_links < (p->role == MCOPY_SERVER ? 0u : 1u) || p->n_links > MCOPY_LINK_MAX ||
	    p->timeout == 0 || p->setup_timeout == 0)
		return -EINVAL;
	if (p->role == MCOPY_CLIENT && (p->streams < 1 || p->streams > MCOPY_STREAM_MAX))
		return -EINVAL;
	if (p->role != MCOPY_CLIENT && p->role != MCOPY_SERVER)
		return -EINVAL;
	if (p->role == MCOPY_CLIENT && p->backend != MCOPY_BACKEND_TCP && p->backend != MCOPY_BACKEND_RDMA)
		return -EINVAL; /* resolve auto with mcopy_backend_choose first */
	if (p->role == MCOPY_CLIENT && p->backend == MCOPY_BACKEND_RDMA && !mcopy_rdma_built())
		return -EOPNOTSUPP;
	if (p->role == MCOPY_CLIENT && p->backend == MCOPY_BACKEND_RDMA && p->streams != 1)
		return -EINVAL; /* rdma: one connection per channel, no striping */
	if (p->role == MCOPY_CLIENT && p->backend == MCOPY_BACKEND_RDMA && p->unix_path)
		return -EOPNOTSUPP; /* rdma carries no return path, QEMU's unix socket needs one */
	if ((p->unix_path != NULL) == (p->io_fd >= 0))
		return -EINVAL; /* exactly one QEMU side */
	if (p->io_fd >= 0 && p->channels != 1)
		return -EINVAL;
	if (p->unix_path && strlen(p->unix_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	for (unsigned i = 0; i < p->n_links; i++) {
		sa_family_t f = p->links[i].ss_family;

		if ((f != AF_INET && f != AF_INET6) || p->link_lens[i] == 0)
			return -EINVAL;
	}
	return 0;
}

int mcopy_congestion_check(const char *name)
{
	int fd, r = 0;

	if (!name)
		return 0;
	if (!*name || strlen(name) >= 16) /* TCP_CA_NAME_MAX */
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, strlen(name)) < 0)
		r = -errno;
	close(fd);
	return r;
}

const char *mcopy_congestion_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "not available here (see /proc/sys/net/ipv4/tcp_available_congestion_control; a "
		       "module such as tcp_htcp may need loading)";
	case -EPERM:
		return "not allowed (net.ipv4.tcp_allowed_congestion_control)";
	case -EINVAL:
		return "not a congestion control name (1-15 characters)";
	default:
		return strerror(-err);
	}
}

static int open_listeners(struct mcopy_engine *e)
{
	int one = 1;

	if (e->p.role == MCOPY_SERVER) {
		for (unsigned i = 0; i < e->p.n_links; i++) {
			const struct sockaddr *sa = (const struct sockaddr *)&e->p.links[i];
			int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

			if (fd < 0)
				return -errno;
			e->listen_fds[i] = fd;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (e->p.sock_buf > 0) /* inherited by accepted sockets, before the window is set */
				setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &e->p.sock_buf, sizeof(e->p.sock_buf));
			if (bind(fd, sa, e->p.link_lens[i]) < 0 || listen(fd, 64) < 0)
				return -errno;
		}
		for (unsigned i = 0; i < e->p.n_links; i++) {
			int r = ev_io_add(e->loop, e->listen_fds[i], EPOLLIN, listen_cb, e, &e->listen_io[i]);

			if (r < 0)
				return r;
		}
	} else if (e->p.unix_path) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		struct stat st;

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", e->p.unix_path);
		if (lstat(e->p.unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(e->p.unix_path); /* a stale socket of ours; never any other file */
		e->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (e->unix_fd < 0)
			return -errno;
		if (bind(e->unix_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(e->unix_fd, 64) < 0)
			return -errno;
		return ev_io_add(e->loop, e->unix_fd, EPOLLIN, unix_cb, e, &e->unix_io);
	}
	return 0;
}

int mcopy_engine_new(struct ev_loop *loop, const struct mcopy_params *p, mcopy_event_cb cb, void *userdata,
		     struct mcopy_engine **ret_engine)
{
	struct mcopy_engine *e;
	usec_t now;
	int r;

	if (!loop || !p || !ret_engine)
		return -EINVAL;
	r = params_check(p);
	if (r == 0)
		r = mcopy_congestion_check(p->congestion);
	if (r < 0)
		return r;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->loop = loop;
	e->p = *p;
	e->cb = cb;
	e->userdata = userdata;
	e->unix_fd = e->stop_fd = e->done_pipe[0] = e->done_pipe[1] = -1;
	for (unsigned i = 0; i < MCOPY_LINK_MAX; i++)
		e->listen_fds[i] = -1;
	for (unsigned i = 0; i < MCOPY_CHANNEL_MAX; i++) {
		e->ch[i].e = e;
		e->ch[i].idx = i;
		e->ch[i].qfd = -1;
		for (unsigned s = 0; s < MCOPY_STREAM_MAX; s++)
			e->ch[i].fds[s] = -1;
	}
	pthread_mutex_init(&e->rate_lock, NULL);
	now = ev_loop_now(loop);
	mcopy_rate_init(&e->rate, p->bandwidth, 0, time_now_usec());
	e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->stop_fd < 0 || pipe2(e->done_pipe, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	r = ev_io_add(loop, e->done_pipe[0], EPOLLIN, done_cb, e, &e->done_io);
	if (r < 0)
		goto fail;
	r = ev_timer_add(loop, now + p->setup_timeout, setup_timer_cb, e, &e->setup_timer);
	if (r == 0)
		r = ev_timer_add(loop, USEC_INFINITY, qemu_retry_cb, e, &e->qemu_retry);
	if (r < 0)
		goto fail;
	r = open_listeners(e);
	if (r < 0)
		goto fail;
	if (p->io_fd >= 0) {
		e->ch[0].qfd = p->io_fd;
		set_nonblock(p->io_fd);
		if (p->role == MCOPY_CLIENT) {
			e->n_accepted = 1;
			channel_connect(e, &e->ch[0], now);
		}
	}
	*ret_engine = e;
	return 0;
fail:
	mcopy_engine_free(e);
	return r;
}

int mcopy_engine_adopt(struct mcopy_engine *e, int fd, const struct sockaddr *peer, socklen_t len)
{
	int r;

	if (!e || fd < 0 || !peer || len == 0 || e->p.role != MCOPY_SERVER) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (e->stopped) {
		close(fd);
		return -ECANCELED;
	}
	tune_tcp(fd, &e->p);
	r = conn_new(e, fd, false, peer, 0, 0, ev_loop_now(e->loop));
	if (r < 0)
		close(fd);
	return r;
}

void mcopy_engine_stats(const struct mcopy_engine *e, struct mcopy_stats *ret)
{
	struct mcopy_stats st = {0};

	if (!e || !ret)
		return;
	st.bytes = __atomic_load_n(&e->carried, __ATOMIC_RELAXED);
	st.channels = e->p.channels;
	for (unsigned i = 0; i < e->p.channels; i++)
		st.up += e->ch[i].started;
	st.done = e->n_done;
	*ret = st;
}

int mcopy_engine_port(const struct mcopy_engine *e, unsigned link)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!e || link >= e->p.n_links || e->listen_fds[link] < 0)
		return -EINVAL;
	if (getsockname(e->listen_fds[link], (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void mcopy_engine_free(struct mcopy_engine *e)
{
	uint64_t one = 1;

	if (!e)
		return;
	if (e->stop_fd >= 0 && write(e->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail short of overflow; workers see it either way */
	}
	for (unsigned i = 0; i < MCOPY_CHANNEL_MAX; i++) {
		struct channel *ch = &e->ch[i];

		if (ch->started && !ch->finished)
			pthread_join(ch->thread, NULL);
		for (unsigned s = 0; s < MCOPY_STREAM_MAX; s++)
			if (ch->fds[s] >= 0)
				close(ch->fds[s]);
		if (ch->qfd_owned && ch->qfd >= 0)
			close(ch->qfd);
	}
	while (e->conns)
		conn_free(e->conns, true);
	for (unsigned i = 0; i < MCOPY_LINK_MAX; i++) {
		ev_io_del(e->listen_io[i]);
		if (e->listen_fds[i] >= 0)
			close(e->listen_fds[i]);
	}
	ev_io_del(e->unix_io);
	if (e->unix_fd >= 0) {
		close(e->unix_fd);
		unlink(e->p.unix_path);
	}
	ev_io_del(e->done_io);
	ev_timer_del(e->setup_timer);
	ev_timer_del(e->qemu_retry);
	if (e->done_pipe[0] >= 0)
		close(e->done_pipe[0]);
	if (e->done_pipe[1] >= 0)
		close(e->done_pipe[1]);
	if (e->stop_fd >= 0)
		close(e->stop_fd);
	pthread_mutex_destroy(&e->rate_lock);
	free(e);
}
