/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/mig_wire.h: the copy engine (migrate/mcopy) wired into the
 * daemon for migration.transport = "mcopy". Target side: one listener on this
 * node's migration-network address for as long as the daemon runs, and an
 * engine per incoming migration, made when its first stream arrives and the
 * replicated table says that migration comes to this node. Source side: an
 * engine per outgoing migration, QEMU's unix socket to the target's listener.
 * Logs what it does (daemon layer); holds no migration policy. */
#ifndef MIG_WIRE_H
#define MIG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "clusterd/cluster.h"
#include "clusterd/config.h"
#include "common/loop.h"
#include "heartbeat/hb_net.h"

/* Where the unix sockets between QEMU and the engine live, on both nodes
 * (the source's and the target's QEMU see the same URI, unix://PATH). */
#define MW_SOCKET_DIR "/run/clusterd/migrate"

struct mw;
struct mw_out;

/* QEMU connections of one migration: 1, or migration.streams multifd
 * channels plus the main one. Both nodes must agree (same config). Pure. */
unsigned mw_channels(const struct cfg *cfg);
/* unix socket path of migration id: MW_SOCKET_DIR/mig-<id hex>.sock. Pure. */
void mw_socket_path(uint64_t id, char *buf, size_t len);

/* Start the target side (listener) when cfg's transport is mcopy and this
 * node has a migration address; otherwise *ret_mw is a valid no-op. -errno
 * only for what makes mcopy impossible (no memory, bad key); a failed bind is
 * logged and incoming mcopy migrations then fail with a clear reason. */
int mw_new(struct ev_loop *loop, const struct cfg *cfg, uint32_t local_id, struct cl_cluster *cluster,
	   struct mw **ret_mw);
void mw_free(struct mw *w);
/* From the loop's prepare hook: free incoming engines that finished or whose
 * migration has ended in the replicated table. */
void mw_sweep(struct mw *w);

/* The source side of one migration. failed(ud, reason) is called at most
 * once, from the loop, when the engine fails (the caller aborts the job). */
typedef void (*mw_out_failed_fn)(void *userdata, const char *reason);
/* Listens on the migration's unix socket and will connect to the target's
 * addresses targets[0..n_targets-1] (1..MCOPY_LINK_MAX, one per network of
 * migration.links in use): QEMU's connections spread over them (channel i
 * on target i % n), or a single connection striped over all. Writes the
 * migration URI for libvirt ("unix://PATH") into uri. -errno on failure
 * (nothing left behind). */
int mw_out_start(struct mw *w, uint64_t id, const struct hb_addr *targets, size_t n_targets,
		 mw_out_failed_fn failed, void *userdata, char *uri, size_t urilen, struct mw_out **ret_out);
/* What carries the migration and how far it got, for a CLM_MIG_COPY (sender
 * and id left 0 for the caller): bytes so far (live, from the engine's
 * workers), copy time from the first channel up to now or to the copy's end.
 * o NULL: a direct migration (backend DIRECT, no counters). */
void mw_out_copy(const struct mw_out *o, usec_t now, struct clm_mig_copy *ret);
/* "mcopy: 5 channel(s), 163.7 MB carried, backend tcp unframed[, over 2 links]" */
void mw_out_summary(const struct mw_out *o, char *buf, size_t len);
/* "10.99.2.2:49300, 10.99.3.2:49300": the target addresses it carries to. */
const char *mw_out_peer(const struct mw_out *o);
/* Stops the engine, removes the socket. NULL is fine; never from the failed callback. */
void mw_out_free(struct mw_out *o);

#endif
