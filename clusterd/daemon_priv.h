/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/daemon_priv.h: the daemon's state, shared by its files —
 * daemon.c (the loop's wiring: heartbeat, corosync, control socket, drains,
 * migrations, libvirt) and daemon_evac.c (failures: fence agent runs,
 * self-fencing, restarts and prepared restarts). Not an interface: only
 * those two include it. */
#ifndef CL_DAEMON_PRIV_H
#define CL_DAEMON_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clusterd/cluster.h"
#include "clusterd/control.h"
#include "clusterd/corosync.h"
#include "clusterd/daemon.h"
#include "clusterd/drain.h"
#include "clusterd/evac.h"
#include "clusterd/fence.h"
#include "clusterd/ha.h"
#include "clusterd/knet_probe.h"
#include "clusterd/mig_wire.h"
#include "clusterd/prepared.h"
#include "clusterd/selffence.h"
#include "clusterd/virt_link.h"
#include "common/loop.h"
#include "heartbeat/hb_io.h"
#include "heartbeat/hb_monitor.h"
#include "migrate/mig_exec.h"
#include "migrate/mig_job.h"

/* How soon after a change the coordinator plans again (changes come in
 * bursts: a migration's report, then both inventories), and how often it
 * looks anyway while a drain runs (requests that were never applied). */
#define DRAIN_COALESCE_USEC (100 * USEC_PER_MSEC)
#define DRAIN_IDLE_USEC     USEC_PER_SEC

/* Prepares and destroys of prepared copies running at once. */
#define PREP_MAX_JOBS 16

/* After corosync refused a message (flow control), try again this much later. */
#define SEND_RETRY_USEC (50 * USEC_PER_MSEC)
/* A peer's rejected messages are logged at most this often. */
#define BAD_MESSAGE_LOG_USEC (60 * USEC_PER_SEC)
/* how long a request sent from here counts as under way before the table has
 * it: corosync delivers it back well within this, even on a loaded host */
#define SENT_PENDING_USEC (10 * USEC_PER_SEC)

struct cl_daemon {
	struct cfg *cfg;
	struct ev_loop *loop;
	uint32_t local_id;
	int local_idx;
	struct hb_key *key;
	struct hb_monitor *mon;
	struct hb_io *io;
	struct ev_io *watch[CFG_MAX_NETWORKS];
	size_t n_watch;
	usec_t hb_deadline; /* the monitor's next deadline as of the last tick */
	struct cl_cluster *cluster;
	struct cs_client *cs;
	struct ctl_server *ctl;
	struct vlink *virt;
	struct drain_planner *planner;
	struct evac_planner *evac;
	struct evac_out *evac_out;
	bool evac_due;
	usec_t evac_next;
	usec_t suspect_poll;     /* look again at a member seen dead by the heartbeat only (0: none) */
	struct knet_probe *knet; /* corosync's view of its links (coordinator, on demand) */
	char evac_said[CFG_MAX_NODES + 1]
		      [CLM_REASON_MAX]; /* last status line logged, per node (0: restarts) */
	struct fence_run *agent_run[CFG_MAX_NODES];
	struct agent_ctx {
		struct cl_daemon *d;
		uint32_t node;
		usec_t started;
	} agent_ctx[CFG_MAX_NODES];
	struct sf_guard sf;
	struct mig_exec *sf_exec; /* the self-fence's destroy, while it runs */
	usec_t sf_started;
	bool sf_destroyed; /* the last self-fence's destroy succeeded (or had nothing to do) */
	int wd_fd;         /* fencing.watchdog, -1 none */
	usec_t wd_fed;
	bool drain_due;    /* something changed: run the planner soon */
	usec_t drain_next; /* when it may run next */
	struct drain_out *drain_out;
	struct mw *mw; /* the copy engine: listener and engines (transport mcopy) */
	/* `ha add` fetches the domain XML from the VM's node through a child */
	struct ha_fetch *fetch[8];
	struct ha_result {
		char name[HA_NAME_MAX];
		char state[16]; /* "fetching", "done", "failed" */
		char error[256];
	} ha_results[16];
	size_t n_ha_results;
	/* migrations this node runs (it is their source); each is its own
	 * allocation because its child's callbacks hold its address */
	struct local_mig *lm[CL_MAX_MIGRATIONS];
	size_t n_lm;
	uint64_t tried[CL_MAX_MIGRATIONS]; /* ids started here (ring): never twice */
	/* the last migration request this node sent, until the cluster table has
	 * it (corosync takes a while to deliver it back, ~0.5 s seen under load):
	 * a second request for the same VM meanwhile would pass the table's check */
	uint64_t sent_id;
	char sent_uuid[CLM_VM_UUID_LEN];
	usec_t sent_at;
	size_t n_tried;
	/* messages corosync refused for now (flow control), sent before anything else */
	struct outmsg {
		uint8_t *buf;
		size_t len;
	} outq[64];
	size_t n_outq;
	uint32_t mig_counter;
	size_t n_vms_logged;
	bool virt_up_logged;
	usec_t send_retry_at;
	usec_t bad_logged[CFG_MAX_NODES];
	uint8_t msg[CLM_HEADER_LEN + CLM_VIEW_HEADER_LEN + CLM_MAX_VIEW_ENTRIES * CLM_VIEW_ENTRY_LEN];
	/* prepared restarts (prepared.h): the copies held here; the
	 * coordinator's prepares (on any node) and this node's destroys of
	 * copies, each a clusterd-virt child */
	struct prep_set prep;
	struct prep_job {
		struct cl_daemon *d;
		struct mig_exec *exec;
		bool destroy;
		uint32_t node;
		char uuid[CLM_VM_UUID_LEN];
		char name[CLM_VM_NAME_MAX];
		usec_t started;
		char path[4300]; /* a prepare's XML file */
	} * prep_job[PREP_MAX_JOBS];
};

struct local_mig {
	struct cl_daemon *d;
	uint64_t id;
	bool resumed; /* a restart that resumed its prepared copy */
	struct mig_exec *exec;
	struct mig_job job;
	usec_t last_report;
	struct mw_out *out; /* transport mcopy: the source's engine, else NULL */
	bool out_failed;    /* ... which failed: free it (closing QEMU's sockets) from the loop */
	char via[128];      /* what carried the stream, for the last log line */
};

/* daemon.c */
const char *dm_node_name(const struct cl_daemon *d, uint32_t id);
int dm_node_libvirt_uri(const struct cl_daemon *d, uint32_t node, bool local_ok, char *buf, size_t len);
enum hb_node_health dm_peer_health(const struct cl_daemon *d, uint32_t id);
int dm_multicast(struct cl_daemon *d, const uint8_t *buf, size_t len);
void dm_report(struct cl_daemon *d, struct local_mig *m, enum clm_mig_state st, const char *reason);
void dm_sibling_path(const char *name, char *buf, size_t len);
int dm_send_migrate(struct cl_daemon *d, struct clm_migrate *m);
int dm_send_admin(struct cl_daemon *d, const struct drain_admin *a);

/* daemon_evac.c */
void dm_start_restart(struct cl_daemon *d, const struct cl_migration *cm, usec_t now);
usec_t dm_sweep_prepared(struct cl_daemon *d, usec_t now);
usec_t dm_evac_prepare(struct ev_loop *loop, usec_t now, void *userdata);
usec_t dm_sf_prepare(struct ev_loop *loop, usec_t now, void *userdata);
int dm_setup_watchdog(struct cl_daemon *d);
int dm_send_fence(struct cl_daemon *d, uint32_t node, enum clm_fence_how how, uint64_t version,
		  const char *reason);

#endif
