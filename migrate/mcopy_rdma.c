/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_rdma.c: backend choice (auto/tcp/rdma) and, under HAVE_RDMA,
 * the verbs part of the RDMA backend: the probe that says whether a device
 * reaches a peer, and the data path (rdma_cm connect, RDMA WRITE with
 * immediate into the target's registered ring, credits back by SEND,
 * completions batched). Every decision about slots, credits and completions
 * is mcopy_ring.c's (pure, unit-tested); this file must stay the thin
 * hardware-only part. NOT exercised on hardware: no RDMA device (nor rxe/siw)
 * where it was written. Never logs: reasons go in `why` / x->what. */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef HAVE_RDMA
#include <arpa/inet.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate/mcopy_ring.h"
#endif

#include "migrate/mcopy.h"
#include "migrate/mcopy_backend.h"
#include "migrate/mcopy_proto.h"

#define RDMA_RESOLVE_MS 500 /* address resolution deadline of the probe */

const char *mcopy_backend_name(enum mcopy_backend b)
{
	switch (b) {
	case MCOPY_BACKEND_TCP:
		return "tcp";
	case MCOPY_BACKEND_RDMA:
		return "rdma";
	default:
		return "auto";
	}
}

#ifdef HAVE_RDMA
/* 1: a device reaches peer (resolved through rdma_cm), 0: none, -errno. */
static int rdma_reaches(const struct sockaddr *peer, char *why, size_t whylen)
{
	struct rdma_event_channel *ch = NULL;
	struct rdma_cm_id *id = NULL;
	struct rdma_cm_event *ev = NULL;
	struct ibv_device **list;
	int n = 0, r = 0;

	list = ibv_get_device_list(&n);
	if (list)
		ibv_free_device_list(list);
	if (n <= 0) {
		snprintf(why, whylen, "no RDMA device on this node (ibv_get_device_list found none)");
		return 0;
	}
	ch = rdma_create_event_channel();
	if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) < 0) {
		r = -errno;
		snprintf(why, whylen, "rdma_cm unavailable: %s", strerror(errno));
		goto out;
	}
	/* rdma_resolve_addr reports through the channel within RDMA_RESOLVE_MS */
	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)peer, RDMA_RESOLVE_MS) < 0 ||
	    rdma_get_cm_event(ch, &ev) < 0) {
		snprintf(why, whylen, "%d RDMA device(s), none reaches the peer: %s", n, strerror(errno));
		goto out;
	}
	if (ev->event == RDMA_CM_EVENT_ADDR_RESOLVED && id->verbs) {
		snprintf(why, whylen, "RDMA device %s reaches the peer",
			 ibv_get_device_name(id->verbs->device));
		r = 1;
	} else {
		snprintf(why, whylen, "%d RDMA device(s), none reaches the peer (%s)", n,
			 rdma_event_str(ev->event));
	}
	rdma_ack_cm_event(ev);
out:
	if (id)
		rdma_destroy_id(id);
	if (ch)
		rdma_destroy_event_channel(ch);
	return r;
}
#endif

int mcopy_backend_choose(enum mcopy_backend want, const struct sockaddr *peer, socklen_t len,
			 enum mcopy_backend *ret_backend, char *why, size_t whylen)
{
	char buf[160] = "";
	int r = 0;

	if (!ret_backend || (want != MCOPY_BACKEND_TCP && !peer) || !why || whylen == 0)
		return -EINVAL;
	(void)len;
	if (want == MCOPY_BACKEND_TCP) {
		snprintf(why, whylen, "tcp requested");
		*ret_backend = MCOPY_BACKEND_TCP;
		return 0;
	}
#ifdef HAVE_RDMA
	r = rdma_reaches(peer, buf, sizeof(buf));
#else
	snprintf(buf, sizeof(buf), "built without RDMA support (libibverbs/librdmacm not found)");
#endif
	if (r == 1) {
		snprintf(why, whylen, "%s%s",
			 want == MCOPY_BACKEND_RDMA ? "rdma requested, " : "rdma, because ", buf);
		*ret_backend = MCOPY_BACKEND_RDMA;
		return 0;
	}
	if (want == MCOPY_BACKEND_RDMA) {
		snprintf(why, whylen, "%s", buf);
#ifdef HAVE_RDMA
		return r < 0 ? r : -ENODEV;
#else
		return -EOPNOTSUPP;
#endif
	}
	snprintf(why, whylen, "tcp, because %s", buf);
	*ret_backend = MCOPY_BACKEND_TCP;
	return 0;
}

#ifndef HAVE_RDMA
int mcopy_rdma_built(void)
{
	return 0;
}

int mcopy_rdma_send(struct mcopy_xfer *x)
{
	x->what = "rdma (built without libibverbs/librdmacm)";
	return -EOPNOTSUPP;
}

int mcopy_rdma_recv(struct mcopy_xfer *x)
{
	x->what = "rdma (built without libibverbs/librdmacm)";
	return -EOPNOTSUPP;
}
#else

#define RDMA_SLOTS        16 /* target ring: 16 slots of 1 MiB */
#define RDMA_SLOT_SIZE    (1u << 20)
#define RDMA_SQ_DEPTH     16 /* source: WRITEs in flight = staging slots */
#define RDMA_SIGNAL_EVERY 4  /* one signaled WRITE in 4 */
#define RDMA_CREDIT_MSGS  8  /* credit messages in flight (target sends, source receives) */
#define RDMA_FLUSH_DELAY  (1 * USEC_PER_MSEC)
#define RDMA_CQ_BATCH     16   /* completions retired per ibv_poll_cq */
#define RDMA_CM_MS        5000 /* address and route resolution */

int mcopy_rdma_built(void)
{
	return 1;
}

/* Everything one side of a channel holds; rdma_close undoes any prefix of setup. */
struct rdma_chan {
	struct rdma_event_channel *ec;
	struct rdma_cm_id *listen_id; /* target only */
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	bool has_qp, connected;
	struct ibv_mr *data_mr, *ctl_mr;
	uint8_t *data; /* target: the ring; source: staging for WRITEs in flight */
	uint8_t *ctl;  /* credit messages */
	size_t data_len;
};

static void rdma_close(struct rdma_chan *c)
{
	if (c->connected)
		rdma_disconnect(c->id);
	if (c->has_qp)
		rdma_destroy_qp(c->id);
	if (c->data_mr)
		ibv_dereg_mr(c->data_mr);
	if (c->ctl_mr)
		ibv_dereg_mr(c->ctl_mr);
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->cc)
		ibv_destroy_comp_channel(c->cc);
	if (c->pd)
		ibv_dealloc_pd(c->pd);
	if (c->id)
		rdma_destroy_id(c->id);
	if (c->listen_id)
		rdma_destroy_id(c->listen_id);
	if (c->ec)
		rdma_destroy_event_channel(c->ec);
	free(c->data);
	free(c->ctl);
}

static int ms_left(usec_t deadline)
{
	usec_t now = time_now_usec();

	if (deadline == USEC_INFINITY)
		return -1;
	if (now >= deadline)
		return 0;
	return (deadline - now) / USEC_PER_MSEC + 1 > INT_MAX ? INT_MAX
							      : (int)((deadline - now) / USEC_PER_MSEC + 1);
}

/* poll pfd[1..n] and the stop fd in pfd[0]: 0, -ETIMEDOUT, -ECANCELED, -errno. */
static int wait_on(const struct mcopy_xfer *x, struct pollfd *pfd, nfds_t n, int timeout_ms)
{
	return mcopy_poll_stop(x->stop_fd, pfd, n, timeout_ms);
}

static int fail(struct mcopy_xfer *x, int err, const char *what)
{
	x->what = what;
	return err;
}

/* Exactly len bytes of the control stream, by deadline. */
static int ctl_read(struct mcopy_xfer *x, uint8_t *buf, size_t len, usec_t deadline)
{
	struct pollfd pfd[2];
	int r;

	while (len > 0) {
		ssize_t n = recv(x->ctl_fd, buf, len, MSG_DONTWAIT);

		if (n == 0)
			return -MCOPY_ETRUNCATED;
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		pfd[1] = (struct pollfd){.fd = x->ctl_fd, .events = POLLIN};
		r = wait_on(x, pfd, 1, ms_left(deadline));
		if (r < 0)
			return r;
	}
	return 0;
}

static int ctl_write(struct mcopy_xfer *x, const uint8_t *buf, size_t len)
{
	usec_t deadline = time_now_usec() + x->timeout;
	struct pollfd pfd[2];
	int r;

	while (len > 0) {
		ssize_t n = send(x->ctl_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		pfd[1] = (struct pollfd){.fd = x->ctl_fd, .events = POLLOUT};
		r = wait_on(x, pfd, 1, ms_left(deadline));
		if (r < 0)
			return r;
	}
	return 0;
}

/* One control frame (header only) from the peer: ABORT becomes -MCOPY_EPEERABORT. */
static int ctl_frame(struct mcopy_xfer *x, usec_t deadline, struct mcopy_frame *f)
{
	uint8_t h[MCOPY_FRAME_HDR_LEN];
	int r = ctl_read(x, h, sizeof(h), deadline);

	if (r < 0)
		return r;
	if (mcopy_frame_decode(h, sizeof(h), f) < 0)
		return -MCOPY_EBADFRAME;
	if (f->type == MCOPY_FRAME_ABORT) {
		x->peer_error = f->seq < 4096 ? (int)f->seq : EPROTO;
		return -MCOPY_EPEERABORT;
	}
	return 0;
}

static int send_frame(struct mcopy_xfer *x, uint8_t type, uint64_t seq)
{
	struct mcopy_frame f = {.type = type, .seq = seq};
	uint8_t h[MCOPY_FRAME_HDR_LEN];

	mcopy_frame_encode(&f, h, sizeof(h));
	return ctl_write(x, h, sizeof(h));
}

/* Wait for one rdma_cm event of type want (kept in *ret_ev if asked, else acknowledged). */
static int cm_wait(struct mcopy_xfer *x, struct rdma_chan *c, enum rdma_cm_event_type want, usec_t deadline,
		   struct rdma_cm_event **ret_ev)
{
	struct pollfd pfd[2];
	int r;

	for (;;) {
		struct rdma_cm_event *ev;

		if (rdma_get_cm_event(c->ec, &ev) == 0) {
			enum rdma_cm_event_type got = ev->event;

			if (got == want && ret_ev) {
				*ret_ev = ev;
				return 0;
			}
			rdma_ack_cm_event(ev);
			if (got == want)
				return 0;
			return got == RDMA_CM_EVENT_REJECTED ? -ECONNREFUSED
			       : got == RDMA_CM_EVENT_UNREACHABLE ? -EHOSTUNREACH
			       : got == RDMA_CM_EVENT_ADDR_ERROR ? -EADDRNOTAVAIL
								 : -EPROTO;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		pfd[1] = (struct pollfd){.fd = c->ec->fd, .events = POLLIN};
		r = wait_on(x, pfd, 1, ms_left(deadline));
		if (r < 0)
			return r;
	}
}

/* PD (unless given), completion channel, CQ and an RC QP on id. */
static int verbs_setup(struct rdma_chan *c, struct rdma_cm_id *id, uint32_t send_wr, uint32_t recv_wr)
{
	struct ibv_qp_init_attr qa = {0};

	if (!c->pd && !(c->pd = ibv_alloc_pd(id->verbs)))
		return -errno ? -errno : -ENOMEM;
	c->cc = ibv_create_comp_channel(id->verbs);
	if (!c->cc)
		return -errno ? -errno : -ENOMEM;
	if (fcntl(c->cc->fd, F_SETFL, fcntl(c->cc->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	c->cq = ibv_create_cq(id->verbs, (int)(send_wr + recv_wr), NULL, c->cc, 0);
	if (!c->cq)
		return -errno ? -errno : -ENOMEM;
	qa.send_cq = c->cq;
	qa.recv_cq = c->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = send_wr;
	qa.cap.max_recv_wr = recv_wr;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	qa.cap.max_inline_data = MCOPY_CREDIT_LEN;
	if (rdma_create_qp(id, c->pd, &qa) < 0)
		return -errno;
	c->has_qp = true;
	return ibv_req_notify_cq(c->cq, 0) ? -EIO : 0;
}

static int post_recv(struct rdma_chan *c, uint64_t wr_id, void *buf, uint32_t len, uint32_t lkey)
{
	struct ibv_sge sge = {.addr = (uintptr_t)buf, .length = len, .lkey = lkey};
	struct ibv_recv_wr wr = {.wr_id = wr_id, .sg_list = buf ? &sge : NULL, .num_sge = buf ? 1 : 0}, *bad;

	return -ibv_post_recv(c->id->qp, &wr, &bad);
}

/* The completion channel fired: take the event, re-arm (then the caller polls the CQ). */
static int cq_rearm(struct rdma_chan *c)
{
	struct ibv_cq *cq;
	void *ctx;

	if (ibv_get_cq_event(c->cc, &cq, &ctx) < 0)
		return errno == EAGAIN ? 0 : -errno;
	ibv_ack_cq_events(cq, 1);
	return ibv_req_notify_cq(c->cq, 0) ? -EIO : 0;
}

/* ------------------------------------------------------------- source */

/* Retire a batch of completions: WRITEs done, credits arrived. */
static int tx_drain(struct mcopy_xfer *x, struct rdma_chan *c, struct mcopy_ring_tx *tx)
{
	struct ibv_wc wc[RDMA_CQ_BATCH];
	int n;

	while ((n = ibv_poll_cq(c->cq, RDMA_CQ_BATCH, wc)) > 0) {
		for (int i = 0; i < n; i++) {
			uint64_t consumed;

			if (wc[i].status != IBV_WC_SUCCESS)
				return fail(x, -EIO, ibv_wc_status_str(wc[i].status));
			if (wc[i].opcode == IBV_WC_RDMA_WRITE) {
				if (mcopy_ring_tx_completion(tx) < 0)
					return fail(x, -EPROTO, "an RDMA completion for nothing posted");
			} else if (wc[i].opcode == IBV_WC_RECV) {
				uint8_t *m = c->ctl + wc[i].wr_id * MCOPY_CREDIT_LEN;

				if (mcopy_credit_decode(m, wc[i].byte_len, &consumed) < 0 ||
				    mcopy_ring_tx_credit(tx, consumed) < 0)
					return fail(x, -EPROTO, "a bad credit message from the target");
				if (post_recv(c, wc[i].wr_id, m, MCOPY_CREDIT_LEN, c->ctl_mr->lkey) < 0)
					return fail(x, -EIO, "reposting a credit receive");
			}
		}
	}
	return n < 0 ? fail(x, -EIO, "polling the RDMA completion queue") : 0;
}

static int rdma_connect_offer(struct mcopy_xfer *x, struct rdma_chan *c, const struct mcopy_rdma_offer *off)
{
	struct rdma_conn_param cp = {.private_data = off->token,
				     .private_data_len = MCOPY_RDMA_TOKEN_LEN,
				     .retry_count = 7,
				     .rnr_retry_count = 7};
	usec_t deadline = time_now_usec() + x->setup_timeout;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int r = 0;

	if (getpeername(x->ctl_fd, (struct sockaddr *)&ss, &sl) < 0)
		return fail(x, -errno, "finding the target's address");
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(off->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(off->port);
	c->ec = rdma_create_event_channel();
	if (!c->ec || fcntl(c->ec->fd, F_SETFL, fcntl(c->ec->fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    rdma_create_id(c->ec, &c->id, NULL, RDMA_PS_TCP) < 0)
		return fail(x, -errno, "creating an rdma_cm id");
	if (rdma_resolve_addr(c->id, NULL, (struct sockaddr *)&ss, RDMA_CM_MS) < 0 ||
	    (r = cm_wait(x, c, RDMA_CM_EVENT_ADDR_RESOLVED, deadline, NULL)) < 0)
		return fail(x, r < 0 ? r : -errno, "resolving the target's address over RDMA");
	if (rdma_resolve_route(c->id, RDMA_CM_MS) < 0 ||
	    (r = cm_wait(x, c, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline, NULL)) < 0)
		return fail(x, r < 0 ? r : -errno, "resolving the RDMA route to the target");
	r = verbs_setup(c, c->id, RDMA_SQ_DEPTH, RDMA_CREDIT_MSGS);
	if (r < 0)
		return fail(x, r, "setting up the RDMA queue pair");
	c->data_len = (size_t)RDMA_SQ_DEPTH * off->slot_size;
	c->data = aligned_alloc(4096, (c->data_len + 4095) & ~(size_t)4095);
	c->ctl = calloc(RDMA_CREDIT_MSGS, MCOPY_CREDIT_LEN);
	if (!c->data || !c->ctl)
		return fail(x, -ENOMEM, "allocating RDMA buffers");
	c->data_mr = ibv_reg_mr(c->pd, c->data, c->data_len, IBV_ACCESS_LOCAL_WRITE);
	c->ctl_mr = ibv_reg_mr(c->pd, c->ctl, RDMA_CREDIT_MSGS * MCOPY_CREDIT_LEN, IBV_ACCESS_LOCAL_WRITE);
	if (!c->data_mr || !c->ctl_mr)
		return fail(x, -errno ? -errno : -ENOMEM, "registering RDMA memory");
	for (uint64_t i = 0; i < RDMA_CREDIT_MSGS; i++)
		if (post_recv(c, i, c->ctl + i * MCOPY_CREDIT_LEN, MCOPY_CREDIT_LEN, c->ctl_mr->lkey) < 0)
			return fail(x, -EIO, "posting credit receives");
	if (rdma_connect(c->id, &cp) < 0)
		return fail(x, -errno, "connecting over RDMA");
	r = cm_wait(x, c, RDMA_CM_EVENT_ESTABLISHED, deadline, NULL);
	if (r < 0)
		return fail(x, r, "connecting over RDMA");
	c->connected = true;
	return 0;
}

int mcopy_rdma_send(struct mcopy_xfer *x)
{
	usec_t deadline = time_now_usec() + x->setup_timeout;
	uint8_t body[MCOPY_RDMA_OFFER_LEN];
	struct rdma_chan c = {0};
	struct mcopy_rdma_offer off;
	struct mcopy_ring_tx tx;
	struct mcopy_frame f;
	struct pollfd pfd[4];
	int stall = (int)(x->timeout / USEC_PER_MSEC), r;

	r = ctl_frame(x, deadline, &f);
	if (r == 0 && f.type != MCOPY_FRAME_RDMA_OFFER)
		r = -MCOPY_EBADFRAME;
	if (r == 0)
		r = ctl_read(x, body, sizeof(body), deadline);
	if (r == 0 && mcopy_rdma_offer_decode(body, sizeof(body), &off) < 0)
		r = -EPROTO;
	if (r < 0) {
		fail(x, r, "receiving the target's RDMA offer");
		goto out;
	}
	r = rdma_connect_offer(x, &c, &off);
	if (r < 0)
		goto out;
	mcopy_ring_tx_init(&tx, off.slots, off.slot_size, RDMA_SIGNAL_EVERY, RDMA_SQ_DEPTH);
	for (;;) {
		bool room;
		nfds_t n = 2;

		r = tx_drain(x, &c, &tx);
		if (r < 0)
			goto out;
		room = mcopy_ring_tx_credits(&tx) > 0 && tx.sent - tx.retired < tx.sq_depth;
		if (room) {
			uint8_t *buf = c.data + (tx.sent % RDMA_SQ_DEPTH) * (size_t)off.slot_size;
			ssize_t got = read(x->qfd, buf, off.slot_size);
			struct mcopy_ring_post post;

			if (got == 0)
				break;
			if (got < 0 && errno != EAGAIN && errno != EINTR) {
				r = fail(x, -errno, "reading from QEMU");
				goto out;
			}
			if (got > 0) {
				struct ibv_sge sge = {.addr = (uintptr_t)buf,
						      .length = (uint32_t)got,
						      .lkey = c.data_mr->lkey};
				struct ibv_send_wr wr = {.sg_list = &sge,
							 .num_sge = 1,
							 .opcode = IBV_WR_RDMA_WRITE_WITH_IMM},
						   *bad;

				if (x->throttle)
					x->throttle(x->ctx, (uint64_t)got);
				mcopy_ring_tx_post(&tx, (uint32_t)got, false, &post); /* room was checked */
				wr.wr_id = tx.sent;
				wr.send_flags = post.signaled ? IBV_SEND_SIGNALED : 0;
				wr.imm_data = htonl(post.imm);
				wr.wr.rdma.remote_addr = off.addr + (uint64_t)post.slot * off.slot_size;
				wr.wr.rdma.rkey = off.rkey;
				r = -ibv_post_send(c.id->qp, &wr, &bad);
				if (r < 0) {
					fail(x, r, "posting an RDMA WRITE");
					goto out;
				}
				x->bytes += (uint64_t)got;
				continue;
			}
		}
		/* wait: QEMU (if a slot is free), completions, the target's word */
		pfd[1] = (struct pollfd){.fd = c.cc->fd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = x->ctl_fd, .events = POLLIN};
		if (room)
			pfd[++n] = (struct pollfd){.fd = x->qfd, .events = POLLIN};
		r = wait_on(x, pfd, n, room ? -1 : stall);
		if (r < 0) {
			fail(x, r,
			     r == -ETIMEDOUT ? "waiting for credits from the target (no progress)"
					     : "waiting for data from QEMU");
			goto out;
		}
		if (pfd[2].revents) {
			r = ctl_frame(x, time_now_usec() + x->timeout, &f);
			fail(x, r < 0 ? r : -MCOPY_EBADFRAME, "receiving from the target");
			r = r < 0 ? r : -MCOPY_EBADFRAME;
			goto out;
		}
		if (pfd[1].revents && (r = cq_rearm(&c)) < 0) {
			fail(x, r, "waiting for RDMA completions");
			goto out;
		}
	}
	/* QEMU's end: END (frames written) on the control stream, then DONE */
	r = send_frame(x, MCOPY_FRAME_END, tx.sent);
	if (r == 0)
		r = ctl_frame(x, time_now_usec() + x->setup_timeout, &f);
	if (r == 0 && (f.type != MCOPY_FRAME_DONE || f.seq != tx.sent))
		r = -MCOPY_ESEQ;
	if (r < 0)
		fail(x, r, "waiting for the target to acknowledge");
out:
	rdma_close(&c);
	return r;
}

/* ------------------------------------------------------------- target */

static int rdma_accept_offer(struct mcopy_xfer *x, struct rdma_chan *c)
{
	usec_t deadline = time_now_usec() + x->setup_timeout;
	uint8_t msg[MCOPY_FRAME_HDR_LEN + MCOPY_RDMA_OFFER_LEN];
	struct mcopy_frame f = {.type = MCOPY_FRAME_RDMA_OFFER, .len = MCOPY_RDMA_OFFER_LEN};
	struct rdma_conn_param cp = {.retry_count = 7, .rnr_retry_count = 7};
	struct mcopy_rdma_offer off = {.slots = RDMA_SLOTS, .slot_size = RDMA_SLOT_SIZE};
	struct sockaddr_storage ss;
	struct rdma_cm_event *ev;
	socklen_t sl = sizeof(ss);
	int r;

	if (getsockname(x->ctl_fd, (struct sockaddr *)&ss, &sl) < 0)
		return fail(x, -errno, "finding the migration address");
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	c->ec = rdma_create_event_channel();
	if (!c->ec || fcntl(c->ec->fd, F_SETFL, fcntl(c->ec->fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    rdma_create_id(c->ec, &c->listen_id, NULL, RDMA_PS_TCP) < 0)
		return fail(x, -errno, "creating an rdma_cm id");
	if (rdma_bind_addr(c->listen_id, (struct sockaddr *)&ss) < 0)
		return fail(x, -errno, "binding rdma_cm to the migration address");
	if (!c->listen_id->verbs)
		return fail(x, -ENODEV, "no RDMA device on the migration address");
	if (rdma_listen(c->listen_id, 1) < 0)
		return fail(x, -errno, "listening with rdma_cm");
	c->pd = ibv_alloc_pd(c->listen_id->verbs);
	c->data_len = (size_t)RDMA_SLOTS * RDMA_SLOT_SIZE;
	c->data = aligned_alloc(4096, c->data_len);
	c->ctl = calloc(RDMA_CREDIT_MSGS, MCOPY_CREDIT_LEN);
	if (!c->pd || !c->data || !c->ctl)
		return fail(x, -ENOMEM, "allocating the RDMA ring");
	c->data_mr =
		ibv_reg_mr(c->pd, c->data, c->data_len, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	c->ctl_mr = ibv_reg_mr(c->pd, c->ctl, RDMA_CREDIT_MSGS * MCOPY_CREDIT_LEN, IBV_ACCESS_LOCAL_WRITE);
	if (!c->data_mr || !c->ctl_mr)
		return fail(x, -errno ? -errno : -ENOMEM, "registering the RDMA ring");
	off.addr = (uintptr_t)c->data;
	off.rkey = c->data_mr->rkey;
	off.port = ntohs(rdma_get_src_port(c->listen_id));
	if (mcopy_nonce_fill(off.token) < 0)
		return fail(x, -EIO, "drawing the RDMA token");
	mcopy_frame_encode(&f, msg, sizeof(msg));
	mcopy_rdma_offer_encode(&off, msg + MCOPY_FRAME_HDR_LEN, MCOPY_RDMA_OFFER_LEN);
	r = ctl_write(x, msg, sizeof(msg));
	if (r < 0)
		return fail(x, r, "sending the RDMA offer");
	r = cm_wait(x, c, RDMA_CM_EVENT_CONNECT_REQUEST, deadline, &ev);
	if (r < 0)
		return fail(x, r, "waiting for the source's RDMA connection");
	/* only the source that read our offer on its authenticated stream knows the token */
	if (ev->param.conn.private_data_len < MCOPY_RDMA_TOKEN_LEN || !ev->param.conn.private_data ||
	    CRYPTO_memcmp(ev->param.conn.private_data, off.token, MCOPY_RDMA_TOKEN_LEN) != 0 ||
	    ev->id->verbs != c->listen_id->verbs) {
		rdma_reject(ev->id, NULL, 0);
		rdma_destroy_id(ev->id);
		rdma_ack_cm_event(ev);
		return fail(x, -MCOPY_EBADAUTH, "an RDMA connection without the offer's token (rejected)");
	}
	c->id = ev->id;
	rdma_ack_cm_event(ev);
	r = verbs_setup(c, c->id, RDMA_CREDIT_MSGS, RDMA_SLOTS);
	if (r < 0)
		return fail(x, r, "setting up the RDMA queue pair");
	/* a WRITE with immediate consumes a receive: one per slot, no buffer */
	for (uint64_t i = 0; i < RDMA_SLOTS; i++)
		if (post_recv(c, i, NULL, 0, 0) < 0)
			return fail(x, -EIO, "posting ring receives");
	if (rdma_accept(c->id, &cp) < 0)
		return fail(x, -errno, "accepting the RDMA connection");
	r = cm_wait(x, c, RDMA_CM_EVENT_ESTABLISHED, deadline, NULL);
	if (r < 0)
		return fail(x, r, "accepting the RDMA connection");
	c->connected = true;
	return 0;
}

int mcopy_rdma_recv(struct mcopy_xfer *x)
{
	uint32_t lens[RDMA_SLOTS], off = 0, sends = 0;
	uint64_t end_total = 0, credit_seq = 0;
	bool end_seen = false, blocked = false;
	struct rdma_chan c = {0};
	struct mcopy_ring_rx rx;
	struct mcopy_frame f;
	struct pollfd pfd[4];
	struct stat st;
	int r;

	r = rdma_accept_offer(x, &c);
	if (r < 0)
		goto out;
	mcopy_ring_rx_init(&rx, RDMA_SLOTS, RDMA_SLOT_SIZE, RDMA_FLUSH_DELAY);
	for (;;) {
		struct ibv_wc wc[RDMA_CQ_BATCH];
		usec_t now, dl;
		uint64_t consumed;
		nfds_t n = 2;
		int k;

		while ((k = ibv_poll_cq(c.cq, RDMA_CQ_BATCH, wc)) > 0) {
			for (int i = 0; i < k; i++) {
				uint32_t slot, len;

				if (wc[i].status != IBV_WC_SUCCESS) {
					r = fail(x, -EIO, ibv_wc_status_str(wc[i].status));
					goto out;
				}
				if (wc[i].opcode == IBV_WC_SEND) {
					sends--;
				} else if (wc[i].opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
					if (mcopy_ring_rx_arrived(&rx, ntohl(wc[i].imm_data), &slot, &len) <
						    0 ||
					    (end_seen && rx.arrived > end_total)) {
						r = fail(x, -MCOPY_ESEQ, "an RDMA WRITE out of turn");
						goto out;
					}
					lens[slot] = len;
				}
			}
		}
		if (k < 0) {
			r = fail(x, -EIO, "polling the RDMA completion queue");
			goto out;
		}
		/* hand arrived slots to QEMU in order */
		blocked = false;
		while (rx.consumed < rx.arrived) {
			uint32_t slot = (uint32_t)(rx.consumed % RDMA_SLOTS);
			ssize_t w =
				write(x->qfd, c.data + (size_t)slot * RDMA_SLOT_SIZE + off, lens[slot] - off);

			if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
				blocked = true;
				break;
			}
			if (w < 0) {
				r = fail(x, -errno, "writing to QEMU");
				goto out;
			}
			off += (uint32_t)w;
			x->bytes += (uint64_t)w;
			if (off < lens[slot])
				continue;
			off = 0;
			mcopy_ring_rx_release(&rx, time_now_usec());
			if (post_recv(&c, slot, NULL, 0, 0) < 0) {
				r = fail(x, -EIO, "reposting a ring receive");
				goto out;
			}
		}
		now = time_now_usec();
		if (sends < RDMA_CREDIT_MSGS && mcopy_ring_rx_grant(&rx, now, &consumed) == 1) {
			uint8_t *m = c.ctl + (credit_seq++ % RDMA_CREDIT_MSGS) * MCOPY_CREDIT_LEN;
			struct ibv_sge sge = {
				.addr = (uintptr_t)m, .length = MCOPY_CREDIT_LEN, .lkey = c.ctl_mr->lkey};
			struct ibv_send_wr wr = {.sg_list = &sge,
						 .num_sge = 1,
						 .opcode = IBV_WR_SEND,
						 .send_flags = IBV_SEND_SIGNALED | IBV_SEND_INLINE},
					   *bad;

			mcopy_credit_encode(consumed, m, MCOPY_CREDIT_LEN);
			r = -ibv_post_send(c.id->qp, &wr, &bad);
			if (r < 0) {
				fail(x, r, "sending credits to the source");
				goto out;
			}
			sends++;
		}
		if (end_seen && rx.consumed == end_total)
			break;
		pfd[1] = (struct pollfd){.fd = c.cc->fd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = x->ctl_fd, .events = end_seen ? 0 : POLLIN};
		if (blocked)
			pfd[++n] = (struct pollfd){.fd = x->qfd, .events = POLLOUT};
		/* a credit flush is due at dl, unless every credit message is in
		 * flight: then only a completion can help */
		dl = sends < RDMA_CREDIT_MSGS ? mcopy_ring_rx_deadline(&rx) : USEC_INFINITY;
		r = wait_on(x, pfd, n, blocked ? (int)(x->timeout / USEC_PER_MSEC) : ms_left(dl));
		if (r == -ETIMEDOUT && !blocked)
			continue; /* a credit flush is due */
		if (r < 0) {
			fail(x, r, blocked ? "writing to QEMU (no progress)" : "waiting for the source");
			goto out;
		}
		if (pfd[2].revents) {
			r = ctl_frame(x, time_now_usec() + x->timeout, &f);
			if (r == 0 && (f.type != MCOPY_FRAME_END || f.seq < rx.arrived))
				r = -MCOPY_ESEQ;
			if (r < 0) {
				fail(x, r, "reading the source's control stream");
				goto out;
			}
			end_seen = true;
			end_total = f.seq;
		}
		if (pfd[1].revents && (r = cq_rearm(&c)) < 0) {
			fail(x, r, "waiting for RDMA completions");
			goto out;
		}
	}
	/* everything delivered: durable or visible, then DONE */
	if (fstat(x->qfd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (fdatasync(x->qfd) < 0) {
			r = fail(x, -errno, "flushing the output");
			goto out;
		}
	} else if (S_ISSOCK(st.st_mode)) {
		shutdown(x->qfd, SHUT_WR);
	}
	r = send_frame(x, MCOPY_FRAME_DONE, end_total);
	if (r < 0)
		fail(x, r, "acknowledging to the source");
out:
	rdma_close(&c);
	return r;
}
#endif
