/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mig_plan.h: where each VM of a node being emptied should go — a
 * pure placement function over capacities the caller gathered (libvirt) —
 * and which planned migrations may start now under the concurrency limits.
 * No I/O, no clock, no logging; never includes clusterd/. */
#ifndef MIG_PLAN_H
#define MIG_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_NAME_MAX  64
#define MIG_MAX_PREFS 8

struct mig_vm {
	char name[MIG_NAME_MAX];
	uint64_t mem_kib; /* memory the domain needs on the target */
	uint32_t vcpus;
	int priority; /* higher first (HA registry); ties: larger memory first, then name */
	uint32_t preferred[MIG_MAX_PREFS]; /* node ids, in order of preference; 0 ends */
	uint32_t forbidden[MIG_MAX_PREFS]; /* node ids never to use; 0 ends */
};

struct mig_node {
	uint32_t id;
	bool eligible;         /* ONLINE and accepting VMs (not draining, quarantined, degraded …) */
	uint64_t free_mem_kib; /* memory free for new domains */
	uint32_t free_vcpus;   /* vCPUs the caller's policy still allows (overcommit is its business) */
	uint32_t n_vms;        /* domains running there now (for spreading) */
};

enum mig_unplaced {
	MIG_PLACED = 0,
	MIG_NO_TARGET,     /* no eligible node other than the source */
	MIG_ALL_FORBIDDEN, /* every eligible node is forbidden for this VM */
	MIG_NO_CAPACITY,   /* none of the allowed nodes has the memory/vCPUs left */
};

struct mig_placement {
	uint32_t target;       /* node id, 0 when not placed */
	enum mig_unplaced why; /* MIG_PLACED, or why not */
};

/*
 * Plan a target for each of vms (all on node `source`). Order: priority,
 * then memory (largest first: the hard ones while there is room), then
 * name. Per VM the candidates are the eligible nodes other than the source,
 * not forbidden, not in `exclude` (e.g. a target that just failed), with the
 * memory and vCPUs left after this plan's earlier placements. The first
 * preferred candidate that fits wins; otherwise the one with clearly (by
 * more than 1/16) the most free memory left afterwards (spreads load), then
 * fewest VMs, then most memory, then lowest id.
 * ret[i] is the placement of vms[i]. Returns how many were placed, or
 * -EINVAL. O(vms x nodes x prefs) after an O(vms log vms) sort.
 */
int mig_plan(const struct mig_vm *vms, size_t n_vms, const struct mig_node *nodes, size_t n_nodes,
	     uint32_t source, const uint32_t *exclude, size_t n_exclude, struct mig_placement *ret);

const char *mig_unplaced_str(enum mig_unplaced why);

/* ---- scheduling ---- */

struct mig_limits {
	uint32_t per_source; /* migrations at once out of one node (migration.max_concurrent) */
	uint32_t per_target; /* into one node (migration.max_concurrent) */
	uint32_t cluster;    /* in the whole cluster; 0 = no cluster-wide limit */
};

/* A migration that is running, or one that is planned and waiting. */
struct mig_flow {
	uint32_t source;
	uint32_t target;
};

/*
 * Of `waiting` (in order), which may start now, given `running` and the
 * limits: fills start[] with indexes into waiting, in order, and returns how
 * many. A waiting flow that would exceed a limit is skipped, but later ones
 * may still start if they do not (a busy target does not block others).
 * O(waiting x (running + started)).
 */
size_t mig_schedule(const struct mig_flow *running, size_t n_running, const struct mig_flow *waiting,
		    size_t n_waiting, const struct mig_limits *lim, size_t *start);

#endif
