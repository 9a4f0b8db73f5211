/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_backend.h: the engine's internal backend interface — what a
 * data path gets once a channel's stream is authenticated, run in the
 * channel's worker thread. mcopy_tcp.c owns setup and handshakes and calls
 * these; they never log, never touch the event loop, and return -errno or
 * -MCOPY_E* with `what` set. Not installed, not for callers of mcopy.h. */
#ifndef MCOPY_BACKEND_H
#define MCOPY_BACKEND_H

#include <poll.h>
#include <stdint.h>

#include "common/time.h"

/* poll(pfd + 1 .. pfd + n) with pfd[0] set to stop_fd (the engine
 * stopping), retried on EINTR: 0 when something is ready, -ETIMEDOUT,
 * -ECANCELED (stop_fd readable), -errno. Every backend's waits go here. */
int mcopy_poll_stop(int stop_fd, struct pollfd *pfd, nfds_t n, int timeout_ms);

struct mcopy_xfer {
	/* in */
	int qfd;              /* QEMU side (input on send, output on recv), non-blocking */
	int ctl_fd;           /* the channel's authenticated TCP stream: control frames only */
	int stop_fd;          /* readable once the engine stops: give up with -ECANCELED */
	usec_t timeout;       /* no progress for this long mid-transfer: -ETIMEDOUT */
	usec_t setup_timeout; /* connection setup, and the final acknowledgement */
	/* bandwidth cap: called with each chunk's size before it is sent; may sleep */
	void (*throttle)(void *ctx, uint64_t n);
	void *ctx;
	/* out */
	uint64_t bytes;   /* payload carried */
	int peer_error;   /* positive errno from the peer's ABORT */
	const char *what; /* the operation that failed */
};

/* RDMA data path (mcopy_rdma.c; -EOPNOTSUPP when built without RDMA). The
 * source reads the target's RDMA_OFFER on ctl_fd, connects with rdma_cm to
 * the peer address of ctl_fd and writes the channel into the offered ring;
 * END and DONE travel on ctl_fd, as on tcp. */
int mcopy_rdma_send(struct mcopy_xfer *x);
/* The target binds rdma_cm on the local address of ctl_fd, registers its ring,
 * sends the offer, accepts the one connection that presents the offer's token,
 * and hands the ring's slots to qfd in order. */
int mcopy_rdma_recv(struct mcopy_xfer *x);
/* 1 when this build has the RDMA data path. */
int mcopy_rdma_built(void);

#endif
