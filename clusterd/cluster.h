/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/cluster.h: the replicated cluster state as a pure state machine.
 * Inputs: corosync connection, CPG membership, quorum, this node's heartbeat
 * view and the link views other members multicast. Outputs: each node's
 * state, the coordinator, and the link-view message to multicast. Every
 * member applies the same ordered messages, so every member computes the
 * same states. No I/O, no clock reads, no logging. */
#ifndef CL_CLUSTER_H
#define CL_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "clusterd/cluster_msg.h"
#include "clusterd/config.h"
#include "clusterd/corosync.h"
#include "common/time.h"
#include "heartbeat/hb_monitor.h"

/* Our link view is re-sent at least this often (RTT/loss for `links`),
 * and at once when a link state changes or the membership does. */
#define CL_VIEW_REFRESH_USEC (5 * USEC_PER_SEC)

/*
 * Node states (DESIGN.md; drain/fence states come with later issues):
 *  UNKNOWN  this partition cannot judge it: corosync not connected, no
 *           membership yet, not quorate and the node is not in our CPG
 *           partition, or corosync runs there but its clusterd has never
 *           joined since we started (starting up: nothing says it is gone).
 *  ONLINE   a member of the CPG group, links fine.
 *  DEGRADED a member whose link on some network is DOWN with every other
 *           member on that network (either side's view says DOWN).
 * A view's DOWN link counts toward DEGRADED only when its observer's own
 * monitor says the node is DEGRADED (some links down, some alive): a dying
 * node's links go DOWN one by one, and a partial view multicast in between —
 * possibly the last one CPG delivers before the ring re-forms — must not
 * make it DEGRADED; nor must a node coming back, whose links rise one by
 * one. Toward FAILED counts an observer whose monitor says DOWN (every link
 * DOWN) and whose links are not rising again.
 */
enum cl_node_state { CL_NODE_UNKNOWN = 0, CL_NODE_ONLINE, CL_NODE_DEGRADED, CL_NODE_FAILED };

enum cl_event_kind {
	CL_EV_NODE,
	CL_EV_COORDINATOR,
	CL_EV_QUORUM,
	CL_EV_BAD_MESSAGE,
	CL_EV_MIGRATION,
	CL_EV_ADMIN, /* node_id's admin state: old/new_state (enum clm_admin), reason */
	CL_EV_HA,    /* the HA registry changed: reason = the VM's name, new_state = HA_OP_* */
	CL_EV_FENCE, /* node_id's fence record: old/new_state (enum clm_fence), reason */
};

struct cl_event {
	enum cl_event_kind kind;
	uint64_t mig_id;  /* MIGRATION: which (old/new_state: enum clm_mig_state) */
	uint32_t node_id; /* NODE: the node; COORDINATOR: the new one (0 none); BAD_MESSAGE: sender */
	int old_state;    /* NODE: enum cl_node_state; QUORUM: bool */
	int new_state;
	const char *reason; /* NODE: why (static text); BAD_MESSAGE: what was wrong */
	usec_t now;
};

typedef void (*cl_event_cb)(const struct cl_event *ev, void *userdata);

struct cl_link_info {
	enum hb_link_state state;
	enum hb_class cls;
	int32_t rtt_us; /* -1 unknown */
	uint16_t loss_permille;
	enum hb_node_health health; /* `from`'s settled verdict on `to` (its monitor's node health) */
	bool rising;                /* DOWN, but `from` hears good heartbeats again */
	usec_t updated;             /* when this view arrived (ours: when last set) */
	bool known;                 /* false: `from` never reported this link */
};

/* Replicated migrations, applied in CPG order on every node (at most
 * CL_MAX_MIGRATIONS kept; the oldest finished ones make room). */
#define CL_MAX_MIGRATIONS 64

struct cl_migration {
	uint64_t id;
	enum clm_kind
		kind; /* MIGRATE: live, run by the source; START: restart on target, run by the target */
	uint32_t source, target;
	char uuid[CLM_VM_UUID_LEN];
	char name[CLM_VM_NAME_MAX];
	enum clm_mig_state state;
	bool admitted; /* REQUESTED and within migration.max_concurrent (derived, same on every node) */
	uint64_t processed, remaining, total;
	uint64_t dirty_rate; /* bytes/s */
	uint32_t iteration;
	int32_t eta_s; /* -1 unknown */
	char reason[CLM_REASON_MAX];
	uint64_t drain; /* the drain that ordered it, 0: an admin's migrate */
	usec_t requested, updated;
	/* what carries it and how far (the source's CLM_MIG_COPY); copy_known
	 * false until one arrives (queued, a restart, or an older source) */
	bool copy_known;
	struct clm_mig_copy copy;
};

/* A node's fence record (replicated; see CLM_FENCE). */
struct cl_fence {
	enum clm_fence state;
	enum clm_fence_how how;
	uint64_t version;
	char reason[CLM_REASON_MAX];
	usec_t since;
};

/* A node's administrative state (replicated, last writer wins; see
 * CLM_ADMIN in cluster_msg.h). Orthogonal to its health state. */
struct cl_admin {
	enum clm_admin state;
	uint64_t version; /* 0: never set */
	uint64_t drain;   /* DRAINING/DRAINED: the drain's id */
	bool blocked;     /* DRAINING, but the coordinator can move nothing more */
	char reason[CLM_REASON_MAX];
	usec_t since; /* when state last changed here */
};

struct cl_cluster;

/* cfg is borrowed and must outlive the cluster. local_id must be in cfg. */
int cl_cluster_new(const struct cfg *cfg, uint32_t local_id, struct cl_cluster **ret_cluster);
void cl_cluster_free(struct cl_cluster *c);
void cl_cluster_set_event_cb(struct cl_cluster *c, cl_event_cb cb, void *userdata);

/* ---- inputs ---- */
void cl_cluster_connected(struct cl_cluster *c, bool connected, usec_t now);
void cl_cluster_membership(struct cl_cluster *c, const uint32_t *members, size_t n, usec_t now);
void cl_cluster_quorum(struct cl_cluster *c, const struct cs_quorum *q, usec_t now);
/* This node's heartbeat view of (peer, link), with its monitor's node health
 * of peer. A change of state or health makes our view due to be multicast. */
void cl_cluster_local_link(struct cl_cluster *c, uint32_t peer, uint8_t link, const struct hb_link_stats *st,
			   enum hb_node_health health, usec_t now);
/* This node's domains (libvirt inventory), or libvirt_up false when libvirt
 * is not connected (the list is then unknown, not empty). A change makes our
 * inventory due to be multicast. At most CLM_MAX_INV_ENTRIES are kept. */
void cl_cluster_local_inventory(struct cl_cluster *c, const struct clm_vm *vms, size_t n, bool libvirt_up,
				uint64_t host_free_kib, uint32_t host_cpus, usec_t now);
/* A message delivered by CPG (ours included). 0, or -errno for a message
 * that was rejected (a CL_EV_BAD_MESSAGE event says why); never fatal. */
int cl_cluster_receive(struct cl_cluster *c, uint32_t from, const void *buf, size_t len, usec_t now);

/* ---- outputs ---- */
/* If a message of ours is due — our link view (changed, membership changed,
 * or refresh), else our inventory (changed, or membership changed) — encode
 * it into buf and return its length; 0 when nothing is due; -errno. It
 * counts as sent: on a failed send call cl_cluster_send_failed. Call again
 * until 0 to drain. */
int cl_cluster_poll_send(struct cl_cluster *c, usec_t now, uint8_t *buf, size_t cap);
void cl_cluster_send_failed(struct cl_cluster *c);
/* When poll_send will next have something without new input. */
usec_t cl_cluster_next_deadline(const struct cl_cluster *c);

/* ---- queries ---- */
enum cl_node_state cl_cluster_node_state(const struct cl_cluster *c, uint32_t node_id);
/* Networks (cfg indexes) on which node_id is DEGRADED, as a bit mask. */
uint32_t cl_cluster_degraded_mask(const struct cl_cluster *c, uint32_t node_id);
bool cl_cluster_is_member(const struct cl_cluster *c, uint32_t node_id);
bool cl_cluster_is_connected(const struct cl_cluster *c);
bool cl_cluster_is_quorate(const struct cl_cluster *c);
uint32_t cl_cluster_coordinator(const struct cl_cluster *c); /* 0: none (not quorate) */
const struct cs_quorum *cl_cluster_quorum_info(const struct cl_cluster *c);
/* The latest view `from` has of its link to `to` on `link`. -ENOENT if
 * either node is unknown; ret->known false if never reported. */
int cl_cluster_link(const struct cl_cluster *c, uint32_t from, uint32_t to, uint8_t link,
		    struct cl_link_info *ret);

/* The latest inventory of a member: its VMs (valid until the next input),
 * whether its libvirt was connected, and whether we have heard one at all.
 * -ENOENT for an unknown node. */
int cl_cluster_inventory(const struct cl_cluster *c, uint32_t node_id, const struct clm_vm **ret_vms,
			 size_t *ret_n, bool *ret_libvirt_up, bool *ret_known);
/* A member's host capacity as its last inventory said (0s: unknown). */
void cl_cluster_host(const struct cl_cluster *c, uint32_t node_id, uint64_t *ret_free_kib,
		     uint32_t *ret_cpus);

/* A node's admin state; a zeroed one (NONE, version 0) for unknown ids. */
struct cl_admin cl_cluster_admin(const struct cl_cluster *c, uint32_t node_id);
const char *cl_admin_name(enum clm_admin s); /* "none", "draining", "drained", "quarantined" */
struct cl_fence cl_cluster_fence(const struct cl_cluster *c, uint32_t node_id);
const char *cl_fence_how_name(enum clm_fence_how h); /* "", "fence agent", "self-fence wait", "admin" */
/* When this node saw node_id leave the membership (0: never saw it as a
 * member since start), and since when this partition has been quorate
 * (0: it is not). Local clock: for the coordinator's waits. */
usec_t cl_cluster_left_at(const struct cl_cluster *c, uint32_t node_id);
usec_t cl_cluster_quorate_since(const struct cl_cluster *c);
/* May node_id take VMs now: ONLINE, admin NONE, libvirt connected there. */
bool cl_cluster_accepts_vms(const struct cl_cluster *c, uint32_t node_id);

/* The HA VM registry (clusterd/ha.h), replicated like the rest: SET/REMOVE
 * messages apply last-writer-wins. Mutable only to load it at start-up. */
struct ha_registry *cl_cluster_ha(const struct cl_cluster *c);

/* The migrations table, in request order. */
size_t cl_cluster_migrations(const struct cl_cluster *c, const struct cl_migration **ret_migs);
const struct cl_migration *cl_cluster_migration(const struct cl_cluster *c, uint64_t id);
const char *cl_mig_state_name(enum clm_mig_state s);

const char *cl_node_state_name(enum cl_node_state s); /* "unknown", "online", "degraded", "failed" */

#endif
