/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/drain.h: the coordinator's drain planner — a pure step function
 * over the replicated cluster state. Each step looks at every DRAINING
 * node and says which live migrations to request now (targets planned by
 * migrate/mig_plan over the capacities the inventories report, started
 * under the limits by mig_schedule) and which admin states to publish
 * (DRAINED when the node is empty; DRAINING with the reason when a VM
 * cannot move). It remembers only what it asked and has not yet seen
 * applied, so a new coordinator can take over from the replicated state
 * alone. No I/O, no clock reads, no logging. */
#ifndef CL_DRAIN_H
#define CL_DRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clusterd/cluster.h"
#include "clusterd/config.h"
#include "common/time.h"
#include "migrate/mig_plan.h"

/* A request sent but not yet seen in the replicated state is assumed
 * in flight this long (CPG delivers it in well under this; longer means
 * it was lost with a membership change and may be asked again). */
#define DRAIN_PENDING_USEC (5 * USEC_PER_SEC)
/* After a VM's migration succeeded, the source's inventory may list it a
 * little longer (its inventory follows libvirt's events): not moved twice. */
#define DRAIN_SETTLE_USEC (10 * USEC_PER_SEC)
/* Attempts per VM per drain (the first target, then one other). */
#define DRAIN_MAX_ATTEMPTS 2

struct drain_order {
	uint32_t source, target;
	char uuid[CLM_VM_UUID_LEN];
	char name[CLM_VM_NAME_MAX];
	uint64_t drain;
};

/* An admin state to multicast (conditional on if_version). */
struct drain_admin {
	uint32_t node;
	enum clm_admin state;
	uint8_t flags; /* CLM_ADM_BLOCKED */
	uint64_t version, if_version, drain;
	char reason[CLM_REASON_MAX];
};

struct drain_out {
	struct drain_order orders[CL_MAX_MIGRATIONS];
	size_t n_orders;
	struct drain_admin admin[CFG_MAX_NODES];
	size_t n_admin;
};

/* Per-VM placement wishes (HA registry): fill priority, preferred and
 * forbidden of vm (name, memory and vCPUs are set). Optional. */
typedef void (*drain_prefs_cb)(void *ud, const char *uuid, struct mig_vm *vm);

struct drain_planner;

int drain_planner_new(const struct cfg *cfg, struct drain_planner **ret);
void drain_planner_free(struct drain_planner *p);
void drain_planner_set_prefs(struct drain_planner *p, drain_prefs_cb cb, void *ud);
/* Forget what was asked (this node stopped being coordinator). */
void drain_planner_reset(struct drain_planner *p);

/* One step: fills out. The caller multicasts everything in out; the
 * planner counts it as asked (a failed send: drain_planner_reset). */
void drain_step(struct drain_planner *p, const struct cl_cluster *c, usec_t now, struct drain_out *out);

/* Could `target` take VMs from `source` now, and if not, why (static text)?
 * ONLINE, admin state none, libvirt connected, and (source not 0) a migration path:
 * the migration network (or migration.fallback_network) with addresses on
 * both and its link not DOWN in either node's heartbeat view. */
bool drain_target_ok(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source, uint32_t target,
		     const char **ret_why);

/* The networks of migration.links (cfg indexes, in config order, into
 * ret_nets) that should carry an mcopy migration source -> target: those
 * both nodes have an address on whose link is not DOWN in either view; all
 * of them when every one is DOWN. Returns how many (0: none has addresses);
 * *ret_down: bit mask (by network index) of the links seen DOWN. Pure. */
size_t drain_migration_links(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source,
			     uint32_t target, int ret_nets[CFG_MIG_LINKS_MAX], uint32_t *ret_down);

/* Every node but `source` as a placement target (mig_plan's input): eligible
 * as drain_target_ok says (source 0: a restart, no migration path needed),
 * free memory and vCPUs from the inventories minus what is on its way
 * there (migrations and restarts not finished), VMs running there. why[k]:
 * "ok" or why not. Returns the number of entries. */
size_t drain_capacities(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source,
			struct mig_node *nodes, char (*why)[80]);

/* A VM to place, with the nodes it must not go to (its failed attempts). */
struct drain_cand {
	struct mig_vm vm;
	char uuid[CLM_VM_UUID_LEN];
	uint32_t exclude[CFG_MAX_NODES];
	size_t n_exclude;
};

/* qsort order of candidates: priority, then larger memory, then name (as
 * mig_plan orders a batch: candidates are placed one by one because each
 * has its own exclusions). */
int drain_cand_cmp(const void *a, const void *b);

/* Place one candidate among nodes (drain_capacities) and debit the chosen
 * node's memory, vCPUs and VM count, so the next candidate sees what is
 * left. false and pl->why when it cannot be placed. */
bool drain_place(const struct drain_cand *k, struct mig_node *nodes, size_t n_nodes, uint32_t source,
		 struct mig_placement *pl);

/* The network a migration source -> target should use: the migration
 * network, or the fallback when the migration link is DOWN in either view
 * and the fallback's is not. -1 (and *ret_why) when there is none. */
int drain_migration_network(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source,
			    uint32_t target, const char **ret_why);

#endif
