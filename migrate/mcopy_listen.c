/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_listen.c: accept, wait (SO_RCVLOWAT, with a deadline) until
 * a whole HELLO can be peeked, route it by migration id. See mcopy_listen.h.
 * Costs one accept, one peek and one pending entry per stream; no data is
 * read, so the engine sees the stream from its first byte. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "migrate/mcopy_listen.h"

#define PEER_LEN 64

struct pending {
	struct mcopy_listen *l;
	struct pending *next;
	int fd;
	struct ev_io *io;
	struct ev_timer *timer;
	struct sockaddr_storage ss;
	socklen_t len;
	char peer[PEER_LEN];
};

struct mcopy_listen {
	struct ev_loop *loop;
	int fd;
	struct ev_io *io;
	usec_t timeout;
	mcopy_listen_route_fn route;
	mcopy_listen_drop_fn drop;
	void *userdata;
	struct pending *pending;
	unsigned n_pending;
};

static void peer_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

/* Unlink p; close its fd when close_fd. */
static void pending_free(struct pending *p, bool close_fd)
{
	struct pending **pp;

	for (pp = &p->l->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			p->l->n_pending--;
			break;
		}
	ev_io_del(p->io);
	ev_timer_del(p->timer);
	if (close_fd && p->fd >= 0)
		close(p->fd);
	free(p);
}

static void pending_drop(struct pending *p, uint64_t id, int error)
{
	struct mcopy_listen *l = p->l;
	char peer[PEER_LEN];

	memcpy(peer, p->peer, sizeof(peer));
	pending_free(p, true);
	if (l->drop)
		l->drop(l->userdata, id, peer, error);
}

static void pending_io_cb(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
			  void *userdata)
{
	struct pending *p = userdata;
	struct mcopy_listen *l = p->l;
	struct mcopy_engine *e;
	uint8_t buf[MCOPY_HELLO_LEN];
	uint64_t id = 0;
	ssize_t n;
	int one = 1, r;

	(void)loop;
	(void)io;
	(void)events;
	(void)now;
	n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pending_drop(p, 0, n == 0 ? -ECONNRESET : -errno);
		return;
	}
	r = mcopy_hello_peek(buf, (size_t)n, &id);
	if (r == -EAGAIN)
		return; /* SO_RCVLOWAT makes this rare: the rest is on its way */
	if (r < 0) {
		pending_drop(p, 0, r);
		return;
	}
	e = l->route(l->userdata, id, p->peer);
	if (!e) {
		pending_drop(p, id, -ENOENT);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	{
		struct sockaddr_storage ss = p->ss;
		socklen_t len = p->len;
		int cfd = p->fd;

		p->fd = -1;
		pending_free(p, false);
		(void)mcopy_engine_adopt(e, cfd, (struct sockaddr *)&ss, len); /* the engine reports */
	}
}

static void pending_timer_cb(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *userdata)
{
	(void)loop;
	(void)t;
	(void)now;
	pending_drop(userdata, 0, -ETIMEDOUT);
}

static void listen_cb(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
		      void *userdata)
{
	struct mcopy_listen *l = userdata;
	struct pending *p;
	int lowat = MCOPY_HELLO_LEN;

	(void)io;
	(void)events;
	p = calloc(1, sizeof(*p));
	if (!p)
		return; /* the connection waits in the backlog */
	p->l = l;
	p->len = sizeof(p->ss);
	p->fd = accept4(fd, (struct sockaddr *)&p->ss, &p->len, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (p->fd < 0) {
		free(p);
		return;
	}
	peer_str(&p->ss, p->peer, sizeof(p->peer));
	p->next = l->pending;
	l->pending = p;
	l->n_pending++;
	if (l->n_pending > MCOPY_LISTEN_PENDING_MAX) {
		pending_drop(p, 0, -EBUSY);
		return;
	}
	setsockopt(p->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	if (ev_io_add(loop, p->fd, EPOLLIN, pending_io_cb, p, &p->io) < 0 ||
	    ev_timer_add(loop, now + l->timeout, pending_timer_cb, p, &p->timer) < 0)
		pending_drop(p, 0, -ENOMEM);
}

int mcopy_listen_new(struct ev_loop *loop, const struct sockaddr *addr, socklen_t len, usec_t timeout,
		     mcopy_listen_route_fn route, mcopy_listen_drop_fn drop, void *userdata,
		     struct mcopy_listen **ret_listen)
{
	struct mcopy_listen *l;
	int one = 1, r;

	if (!loop || !addr || !len || !timeout || !route || !ret_listen ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = (struct mcopy_listen){.fd = -1,
				   .loop = loop,
				   .timeout = timeout,
				   .route = route,
				   .drop = drop,
				   .userdata = userdata};
	l->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0) {
		r = -errno;
		goto fail;
	}
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, addr, len) < 0 || listen(l->fd, 128) < 0) {
		r = -errno;
		goto fail;
	}
	r = ev_io_add(loop, l->fd, EPOLLIN, listen_cb, l, &l->io);
	if (r < 0)
		goto fail;
	*ret_listen = l;
	return 0;
fail:
	mcopy_listen_free(l);
	return r;
}

void mcopy_listen_free(struct mcopy_listen *l)
{
	if (!l)
		return;
	while (l->pending)
		pending_free(l->pending, true);
	ev_io_del(l->io);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

int mcopy_listen_port(const struct mcopy_listen *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!l || l->fd < 0)
		return -EINVAL;
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}
