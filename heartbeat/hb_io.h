/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heartbeat/hb_io.h: the thin UDP layer around hb_monitor — one socket per
 * local link address, datagrams decoded/authenticated and fed to the
 * monitor, due heartbeats encoded and sent. Exposes fds and lets the caller's
 * event loop drive it; owns no loop, no threads, never sleeps, never logs. */
#ifndef HB_IO_H
#define HB_IO_H

#include <stdint.h>

#include "common/time.h"
#include "heartbeat/hb_monitor.h"
#include "heartbeat/hb_net.h"
#include "heartbeat/hb_wire.h"

struct hb_io_counters {
	uint64_t rx_datagrams;     /* read from the sockets */
	uint64_t tx_datagrams;     /* sent */
	uint64_t tx_errors;        /* sendto failed (link down, no route, buffer full) */
	uint64_t rx_errors;        /* recvmmsg failed */
	uint64_t decode_errors[9]; /* by hb_wire_error - HB_ETOOSHORT */
	uint64_t wrong_source;     /* authentic, but not from the sender's address on that link */
	uint64_t verdicts[6];      /* by enum hb_rx_verdict */
};

struct hb_io;

/* The io keeps pointers to m and key; both must outlive it. */
int hb_io_new(struct hb_monitor *m, const struct hb_key *key, uint32_t cluster_id, struct hb_io **ret_io);
void hb_io_free(struct hb_io *io); /* closes its sockets; NULL is fine */

/* Bind a UDP socket for link `link` on local:port (DSCP CS6, non-blocking).
 * Returns the fd (owned by io) or -errno (-EADDRNOTAVAIL when local is not
 * configured here, -EEXIST for a link added twice). */
int hb_io_add_link(struct hb_io *io, uint8_t link, const struct hb_addr *local, uint16_t port);
/* Where (node_id, link) is reached. -ENOENT if the link was not added. */
int hb_io_add_peer(struct hb_io *io, uint32_t node_id, uint8_t link, const struct hb_addr *addr,
		   uint16_t port);

/* Drain the socket fd: decode, check source, feed the monitor at `now`.
 * Returns datagrams read, or -errno (-ENOENT for an fd not ours). */
int hb_io_recv(struct hb_io *io, int fd, usec_t now);
/* Send every heartbeat the monitor has due at `now`. Returns how many were
 * sent; failures are counted in tx_errors, never fatal. */
int hb_io_send_due(struct hb_io *io, usec_t now);

const struct hb_io_counters *hb_io_get_counters(const struct hb_io *io);

#endif
