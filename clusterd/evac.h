/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/evac.h: the coordinator's failure policy — a pure step over the
 * replicated state, like the drain planner. For every node outside the
 * quorate membership it decides how that node is known to be fenced (a
 * fence agent's success, the self-fence wait, an admin's confirmation) and
 * publishes it; once every absent node is fenced, it restarts the HA VMs
 * that no member runs on the survivors (placement by mig_plan, priority
 * order, max_concurrent per node), from the registry's XML. It also drains
 * a node DEGRADED for longer than heartbeat.degraded_grace_s (alive: moved
 * live, never restarted) and quarantines a node that failed
 * fencing.quarantine_failures times within quarantine_window_s.
 * Nothing is restarted while any absent node is not known to be fenced:
 * a VM that no member lists may still run there. No I/O, no clock reads. */
#ifndef CL_EVAC_H
#define CL_EVAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clusterd/cluster.h"
#include "clusterd/config.h"
#include "clusterd/drain.h"
#include "common/time.h"

/* Added to detection + self_fence_ms before a self-fenced node counts as
 * fenced: scheduling slack on the isolated node (its loop, libvirt's
 * destroy) and clock-rate differences. */
#define EVAC_MARGIN_USEC (1 * USEC_PER_SEC)
/* Fence agent attempts per failure before falling back (or giving up). */
#define EVAC_AGENT_ATTEMPTS 2
/* Between two attempts. */
#define EVAC_AGENT_RETRY_USEC (1 * USEC_PER_SEC)
/* Restarts per VM before it is left alone (reported). */
#define EVAC_MAX_ATTEMPTS 2

/* A fence record to multicast (CLM_FENCE). */
struct evac_fence {
	uint32_t node;
	enum clm_fence_how how;
	uint64_t version;
	char reason[CLM_REASON_MAX];
};

struct evac_out {
	uint32_t run_agent[CFG_MAX_NODES]; /* nodes to run the fence agent on now */
	size_t n_run_agent;
	struct evac_fence fences[CFG_MAX_NODES];
	size_t n_fences;
	struct drain_order starts[CL_MAX_MIGRATIONS]; /* kind START: source = the failed node (or 0) */
	size_t n_starts;
	struct drain_admin admin[CFG_MAX_NODES]; /* degraded -> draining; quarantine on/off */
	size_t n_admin;
	/* restart copies to start paused now on their target (prepared.h): the
	 * HA VMs of members the agent fenced early, while corosync re-forms */
	struct drain_order prepares[CL_MAX_MIGRATIONS];
	size_t n_prepares;
};

/* What the coordinator knows of each absent node and of the restarts, for
 * status and the log (coordinator only; empty elsewhere). */
struct evac_node_status {
	uint32_t node;
	char text[CLM_REASON_MAX];
};

struct evac_planner;

int evac_planner_new(const struct cfg *cfg, struct evac_planner **ret);
void evac_planner_free(struct evac_planner *p);
/* This node stopped being coordinator: forget agent runs, counters. */
void evac_planner_reset(struct evac_planner *p);
void evac_planner_set_prefs(struct evac_planner *p, drain_prefs_cb cb, void *ud);

/* A member this node sees dead by two independent means — its own
 * heartbeat DOWN on every link, and corosync's links to it (knet) all
 * disconnected — before corosync has formed the membership without it
 * (token + consensus later). With a fence agent, the step fences such a
 * node at once, provided the members seen alive still hold quorum's votes
 * (so an isolated coordinator never fences the majority); the result is
 * kept and published as soon as the node is out of the membership. Nothing
 * is restarted any earlier: that still waits for the quorate membership
 * without it. Set before each step (false: not, or no longer, suspected). */
void evac_set_suspect(struct evac_planner *p, uint32_t node, bool suspect);

/* Prepared restarts: once the agent has fenced a member early, the step
 * also asks (evac_out.prepares) for each of its HA VMs' restart copy to be
 * started *paused* on the node it will be restarted on; when corosync's
 * membership without it comes, the restart order goes to that same node,
 * which only resumes the copy (~300 ms of libvirt's and QEMU's start-up
 * saved). A copy is never resumed but by that order; its node destroys it
 * when in doubt (prepared.h). The caller reports each prepare's end here
 * (ok: the copy exists; not ok: the restart places the VM afresh). */
void evac_prepare_done(struct evac_planner *p, const char *uuid, bool ok);
/* How long the coordinator keeps steering a restart to its prepared copy:
 * well inside the time its node keeps it (PREP_TTL_USEC, 30 s). */
#define EVAC_PREPARED_KEEP_USEC (15 * USEC_PER_SEC)
/* A restart waits this long at most for its copy's prepare to end (the
 * order would otherwise race the prepare's create on the target). */
#define EVAC_PREPARE_WAIT_USEC (5 * USEC_PER_SEC)

void evac_step(struct evac_planner *p, const struct cl_cluster *c, usec_t now, struct evac_out *out);
/* The fence agent run on node finished: ok, or why not. */
void evac_agent_done(struct evac_planner *p, uint32_t node, bool ok, const char *why, usec_t now);
/* Why nothing is (or what is being) restarted: one line per absent node and
 * one for the restarts; valid until the next step. */
size_t evac_status(const struct evac_planner *p, const struct evac_node_status **ret);
/* When the step has time-driven work next (a wait ending, a retry, the end
 * of a grace or quarantine); USEC_INFINITY for none. */
usec_t evac_next_deadline(const struct evac_planner *p);

#endif
