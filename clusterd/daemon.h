/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/daemon.h: one running clusterd — the validated config wired to the
 * heartbeat monitor and its UDP sockets on the event loop, with every state
 * change logged. Later issues hang corosync, libvirt and the control socket
 * off the same loop here. */
#ifndef CL_DAEMON_H
#define CL_DAEMON_H

#include "clusterd/config.h"
#include "common/loop.h"

struct cl_daemon;

/* Works out which node this is (cfg->local_id, else the node whose address
 * is configured on a local interface), opens the heartbeat sockets and
 * registers them on loop. Takes ownership of cfg on success. Logs what went
 * wrong and returns -errno on failure. */
int cl_daemon_new(struct cfg *cfg, struct ev_loop *loop, struct cl_daemon **ret_daemon);
void cl_daemon_free(struct cl_daemon *d); /* NULL is fine */

/* Log every link's state, RTT, loss and route history (SIGUSR1). */
void cl_daemon_log_status(const struct cl_daemon *d);

/* The node id this daemon runs as (0 if unknown). Pure lookup. */
int cl_daemon_find_local_node(const struct cfg *cfg, uint32_t *ret_id);

#endif
