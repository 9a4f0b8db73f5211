/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_listen.h: the target's permanent mcopy listener — one TCP
 * socket on the migration network shared by every incoming migration. It
 * reads which migration a stream is for from its HELLO (peeked, not
 * consumed) and hands the stream to that migration's engine, which the
 * caller finds or creates (mcopy_engine_adopt runs the real handshake). Never
 * logs, never authenticates anything itself: it only routes. */
#ifndef MCOPY_LISTEN_H
#define MCOPY_LISTEN_H

#include <stdint.h>
#include <sys/socket.h>

#include "common/loop.h"
#include "common/time.h"
#include "migrate/mcopy.h"

#define MCOPY_LISTEN_PENDING_MAX 64 /* streams waiting for their HELLO; more are closed at once */

/* The engine of migration id (created on demand), or NULL: no such migration
 * to this node (the stream is closed). peer: "address:port". */
typedef struct mcopy_engine *(*mcopy_listen_route_fn)(void *userdata, uint64_t migration_id,
						      const char *peer);
/* A stream was closed before reaching an engine: error is -ENOENT (route said
 * no), -MCOPY_EBADMSG (not an mcopy HELLO), -ETIMEDOUT (no HELLO within the
 * timeout), -ECONNRESET (closed first), -EBUSY (too many pending) or -errno;
 * migration_id is 0 unless the HELLO was read. */
typedef void (*mcopy_listen_drop_fn)(void *userdata, uint64_t migration_id, const char *peer, int error);

struct mcopy_listen;

/* Listen on addr (port 0: any; see mcopy_listen_port). timeout: how long a
 * stream may take to send its HELLO. -errno from socket/bind/listen. */
int mcopy_listen_new(struct ev_loop *loop, const struct sockaddr *addr, socklen_t len, usec_t timeout,
		     mcopy_listen_route_fn route, mcopy_listen_drop_fn drop, void *userdata,
		     struct mcopy_listen **ret_listen);
/* Closes the socket and every pending stream. NULL is fine. */
void mcopy_listen_free(struct mcopy_listen *l);
/* The TCP port bound, or -errno. */
int mcopy_listen_port(const struct mcopy_listen *l);

#endif
