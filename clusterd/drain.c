/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/drain.c: the drain planner (see drain.h). Costs per step, for D
 * draining nodes, V VMs on them, N nodes and M table entries:
 * O(D x (V x (M + N x prefs) + V log V + M)) — a few thousand operations. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clusterd/drain.h"
#include "clusterd/ha.h"

struct asked {
	char uuid[CLM_VM_UUID_LEN];
	struct mig_flow flow;
	usec_t at;
};

struct asked_admin {
	uint32_t node;
	uint64_t if_version;
	usec_t at;
};

struct drain_planner {
	const struct cfg *cfg;
	drain_prefs_cb prefs;
	void *prefs_ud;
	struct asked asked[CL_MAX_MIGRATIONS];
	size_t n_asked;
	struct asked_admin asked_admin[CFG_MAX_NODES];
	size_t n_asked_admin;
};

int drain_planner_new(const struct cfg *cfg, struct drain_planner **ret)
{
	struct drain_planner *p;

	if (!cfg || !ret)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	*ret = p;
	return 0;
}

void drain_planner_free(struct drain_planner *p)
{
	free(p);
}

void drain_planner_set_prefs(struct drain_planner *p, drain_prefs_cb cb, void *ud)
{
	p->prefs = cb;
	p->prefs_ud = ud;
}

void drain_planner_reset(struct drain_planner *p)
{
	p->n_asked = 0;
	p->n_asked_admin = 0;
}

static bool link_down(const struct cl_cluster *c, uint32_t a, uint32_t b, int net)
{
	struct cl_link_info v;

	if (cl_cluster_link(c, a, b, (uint8_t)net, &v) == 0 && v.known && v.state == HB_LINK_DOWN)
		return true;
	return cl_cluster_link(c, b, a, (uint8_t)net, &v) == 0 && v.known && v.state == HB_LINK_DOWN;
}

static bool has_addrs(const struct cfg *cfg, uint32_t a, uint32_t b, int net)
{
	int x = cfg_node_by_id(cfg, a), y = cfg_node_by_id(cfg, b);

	return net >= 0 && x >= 0 && y >= 0 && cfg->nodes[x].has_addr[net] && cfg->nodes[y].has_addr[net];
}

int drain_migration_network(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source,
			    uint32_t target, const char **ret_why)
{
	int mnet = cfg->migration.network, fb = cfg->migration.fallback_network;

	if (has_addrs(cfg, source, target, mnet) && !link_down(c, source, target, mnet))
		return mnet;
	if (has_addrs(cfg, source, target, fb) && !link_down(c, source, target, fb))
		return fb;
	if (!has_addrs(cfg, source, target, mnet))
		*ret_why = fb >= 0 ? "no migration-network address, and the fallback network is down"
				   : "no migration-network address on both nodes";
	else
		*ret_why = fb >= 0 ? "the migration link is down, and so is the fallback network's"
				   : "the migration link is down (no migration.fallback_network)";
	return -1;
}

size_t drain_migration_links(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source,
			     uint32_t target, int ret_nets[CFG_MIG_LINKS_MAX], uint32_t *ret_down)
{
	size_t n = 0;
	uint32_t down = 0;

	for (size_t k = 0; k < cfg->migration.n_links; k++) {
		int net = cfg->migration.links[k];

		if (!has_addrs(cfg, source, target, net))
			continue;
		if (link_down(c, source, target, net))
			down |= 1u << net;
		else
			ret_nets[n++] = net;
	}
	if (n == 0) /* every link DOWN: try them all rather than none */
		for (size_t k = 0; k < cfg->migration.n_links; k++)
			if (has_addrs(cfg, source, target, cfg->migration.links[k]))
				ret_nets[n++] = cfg->migration.links[k];
	*ret_down = down;
	return n;
}

bool drain_target_ok(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source, uint32_t target,
		     const char **ret_why)
{
	struct cl_admin a = cl_cluster_admin(c, target);
	enum cl_node_state st = cl_cluster_node_state(c, target);
	const struct clm_vm *vms;
	size_t n;
	bool up = false, known = false;

	if (target == source) {
		*ret_why = "it is the source";
		return false;
	}
	if (st != CL_NODE_ONLINE) {
		*ret_why = st == CL_NODE_DEGRADED ? "degraded"
			   : st == CL_NODE_FAILED ? "failed"
						  : "state unknown";
		return false;
	}
	if (a.state != CLM_ADMIN_NONE) {
		*ret_why = cl_admin_name(a.state);
		return false;
	}
	if (cl_cluster_inventory(c, target, &vms, &n, &up, &known) < 0 || !known || !up) {
		*ret_why = "its libvirt is not connected";
		return false;
	}
	return source == 0 || drain_migration_network(c, cfg, source, target, ret_why) >= 0;
}

static bool active(const struct cl_migration *m)
{
	return m->state == CLM_MIG_REQUESTED || m->state == CLM_MIG_RUNNING;
}

/* Forget requests the table now holds, and those too old to still come. */
static void expire_asked(struct drain_planner *p, const struct cl_cluster *c, usec_t now)
{
	const struct cl_migration *migs;
	size_t n = cl_cluster_migrations(c, &migs), k = 0;

	for (size_t i = 0; i < p->n_asked; i++) {
		bool seen = false;

		for (size_t j = 0; j < n && !seen; j++)
			seen = strcmp(migs[j].uuid, p->asked[i].uuid) == 0 &&
			       migs[j].requested >= p->asked[i].at;
		if (!seen && now < p->asked[i].at + DRAIN_PENDING_USEC)
			p->asked[k++] = p->asked[i];
	}
	p->n_asked = k;
	k = 0;
	for (size_t i = 0; i < p->n_asked_admin; i++) {
		struct cl_admin a = cl_cluster_admin(c, p->asked_admin[i].node);

		if (a.version == p->asked_admin[i].if_version &&
		    now < p->asked_admin[i].at + DRAIN_PENDING_USEC)
			p->asked_admin[k++] = p->asked_admin[i];
	}
	p->n_asked_admin = k;
}

static bool was_asked(const struct drain_planner *p, const char *uuid)
{
	for (size_t i = 0; i < p->n_asked; i++)
		if (strcmp(p->asked[i].uuid, uuid) == 0)
			return true;
	return false;
}

static bool admin_asked(const struct drain_planner *p, uint32_t node, uint64_t if_version)
{
	for (size_t i = 0; i < p->n_asked_admin; i++)
		if (p->asked_admin[i].node == node && p->asked_admin[i].if_version == if_version)
			return true;
	return false;
}

/* The VM (by uuid) running on a node other than `source`, per inventories. */
static bool runs_elsewhere(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source,
			   const char *uuid)
{
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct clm_vm *vms;
		size_t n;
		bool up, known;

		if (cfg->nodes[i].id == source ||
		    cl_cluster_inventory(c, cfg->nodes[i].id, &vms, &n, &up, &known) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			if (strcmp(vms[k].uuid, uuid) == 0 && vms[k].state == CLM_VM_RUNNING)
				return true;
	}
	return false;
}

static const struct clm_vm *find_vm(const struct cl_cluster *c, uint32_t node, const char *uuid)
{
	const struct clm_vm *vms;
	size_t n;
	bool up, known;

	if (cl_cluster_inventory(c, node, &vms, &n, &up, &known) < 0)
		return NULL;
	for (size_t k = 0; k < n; k++)
		if (strcmp(vms[k].uuid, uuid) == 0)
			return &vms[k];
	return NULL;
}

static bool movable(const struct clm_vm *vm)
{
	return vm->state == CLM_VM_RUNNING || vm->state == CLM_VM_PAUSED;
}

/* Append "; text" (or "text") to a reason, cut at its size. */
static void add_reason(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_reason(char *buf, size_t len, const char *fmt, ...)
{
	size_t off = strnlen(buf, len);
	va_list ap;

	if (off + 1 >= len)
		return;
	snprintf(buf + off, len - off, "%s", off ? "; " : "");
	off = strnlen(buf, len);
	va_start(ap, fmt);
	vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
}

int drain_cand_cmp(const void *a, const void *b)
{
	const struct mig_vm *x = &((const struct drain_cand *)a)->vm,
			    *y = &((const struct drain_cand *)b)->vm;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->mem_kib != y->mem_kib)
		return x->mem_kib > y->mem_kib ? -1 : 1;
	return strcmp(x->name, y->name);
}

bool drain_place(const struct drain_cand *k, struct mig_node *nodes, size_t n_nodes, uint32_t source,
		 struct mig_placement *pl)
{
	*pl = (struct mig_placement){.why = MIG_NO_TARGET};
	if (mig_plan(&k->vm, 1, nodes, n_nodes, source, k->exclude, k->n_exclude, pl) < 0 ||
	    pl->why != MIG_PLACED)
		return false;
	for (size_t j = 0; j < n_nodes; j++)
		if (nodes[j].id == pl->target) {
			nodes[j].free_mem_kib -= k->vm.mem_kib;
			nodes[j].free_vcpus =
				nodes[j].free_vcpus > k->vm.vcpus ? nodes[j].free_vcpus - k->vm.vcpus : 0;
			nodes[j].n_vms++;
		}
	return true;
}

/* Capacity of every node as a target for `source`, with what is already
 * on its way there subtracted. */
size_t drain_capacities(const struct cl_cluster *c, const struct cfg *cfg, uint32_t source,
			struct mig_node *nodes, char (*why)[80])
{
	const struct cl_migration *migs;
	size_t n_migs = cl_cluster_migrations(c, &migs), k = 0;

	for (size_t i = 0; i < cfg->n_nodes; i++) {
		uint32_t id = cfg->nodes[i].id, cpus, used = 0, count = 0;
		const struct clm_vm *vms;
		const char *w = "";
		uint64_t free_kib, coming = 0;
		size_t n;
		bool up, known;

		if (id == source)
			continue;
		cl_cluster_host(c, id, &free_kib, &cpus);
		if (cl_cluster_inventory(c, id, &vms, &n, &up, &known) == 0)
			for (size_t v = 0; v < n; v++)
				if (movable(&vms[v])) {
					used += vms[v].vcpus;
					count++;
				}
		for (size_t m = 0; m < n_migs; m++) {
			const struct clm_vm *vm;

			if (migs[m].target != id || !active(&migs[m]))
				continue;
			vm = find_vm(c, migs[m].source, migs[m].uuid);
			if (vm) {
				coming += vm->mem_kib;
				used += vm->vcpus;
			} else {
				/* a restart: its source is gone; the registry's XML says its size */
				const struct ha_vm *h = ha_registry_find(cl_cluster_ha(c), migs[m].uuid);
				uint64_t mem = 0;
				uint32_t vcpus = 0;

				if (h && ha_xml_size(h->xml, &mem, &vcpus) == 0) {
					coming += mem;
					used += vcpus;
				}
			}
		}
		nodes[k] = (struct mig_node){
			.id = id,
			.eligible = drain_target_ok(c, cfg, source, id, &w),
			.free_mem_kib = free_kib > coming ? free_kib - coming : 0,
			.free_vcpus = cpus * cfg->migration.cpu_overcommit > used
					      ? cpus * cfg->migration.cpu_overcommit - used
					      : 0,
			.n_vms = count,
		};
		snprintf(why[k], sizeof(why[k]), "%s", nodes[k].eligible ? "ok" : w);
		k++;
	}
	return k;
}

static void publish(struct drain_planner *p, const struct cl_cluster *c, struct drain_out *out, uint32_t node,
		    enum clm_admin state, bool blocked, const char *reason, usec_t now)
{
	struct cl_admin a = cl_cluster_admin(c, node);
	struct drain_admin *o;

	if (a.state == state && a.blocked == blocked && strncmp(a.reason, reason, sizeof(a.reason)) == 0)
		return;
	if (admin_asked(p, node, a.version) || out->n_admin == CFG_MAX_NODES ||
	    p->n_asked_admin == CFG_MAX_NODES)
		return;
	o = &out->admin[out->n_admin++];
	*o = (struct drain_admin){.node = node,
				  .state = state,
				  .flags = blocked ? CLM_ADM_BLOCKED : 0,
				  .version = a.version + 1,
				  .if_version = a.version,
				  .drain = a.drain};
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	p->asked_admin[p->n_asked_admin++] =
		(struct asked_admin){.node = node, .if_version = a.version, .at = now};
}

static void step_node(struct drain_planner *p, const struct cl_cluster *c, uint32_t src,
		      const struct cl_admin *a, usec_t now, struct drain_out *out, struct mig_flow *flows,
		      size_t *n_flows)
{
	const struct cfg *cfg = p->cfg;
	const struct cl_migration *migs;
	size_t n_migs = cl_cluster_migrations(c, &migs), n_vms, n_nodes, n_cand = 0, placed = 0, moving = 0;
	const struct clm_vm *vms;
	struct drain_cand *cand;
	struct mig_node nodes[CFG_MAX_NODES];
	char why[CFG_MAX_NODES][80], reason[CLM_REASON_MAX] = "";
	bool up, known;
	size_t stuck = 0;

	if (cl_cluster_inventory(c, src, &vms, &n_vms, &up, &known) < 0 || !known || !up) {
		publish(p, c, out, src, CLM_ADMIN_DRAINING, false, "waiting for the node's libvirt", now);
		return;
	}
	cand = calloc(n_vms ? n_vms : 1, sizeof(*cand));
	if (!cand)
		return;
	n_nodes = drain_capacities(c, cfg, src, nodes, why);
	for (size_t v = 0; v < n_vms; v++) {
		const struct clm_vm *vm = &vms[v];
		const char *last = "";
		size_t fails = 0;
		bool busy = was_asked(p, vm->uuid);
		struct drain_cand *k;

		if (!movable(vm))
			continue;
		for (size_t m = 0; m < n_migs && !busy; m++) {
			if (strcmp(migs[m].uuid, vm->uuid) != 0)
				continue;
			busy = active(&migs[m]) || (migs[m].state == CLM_MIG_SUCCEEDED &&
						    now < migs[m].updated + DRAIN_SETTLE_USEC);
		}
		if (busy || runs_elsewhere(c, cfg, src, vm->uuid)) {
			moving++;
			continue;
		}
		k = &cand[n_cand];
		*k = (struct drain_cand){0};
		for (size_t m = 0; m < n_migs; m++) {
			const char *w;

			if (migs[m].drain != a->drain || migs[m].state != CLM_MIG_FAILED ||
			    strcmp(migs[m].uuid, vm->uuid) != 0)
				continue;
			if (k->n_exclude < CFG_MAX_NODES)
				k->exclude[k->n_exclude++] = migs[m].target;
			/* a target that failed or left is replanned, not held against the VM */
			if (drain_target_ok(c, cfg, src, migs[m].target, &w)) {
				fails++;
				last = migs[m].reason;
			}
		}
		if (fails >= DRAIN_MAX_ATTEMPTS) {
			add_reason(reason, sizeof(reason), "%s: failed twice (%s)", vm->name, last);
			stuck++;
			continue;
		}
		snprintf(k->vm.name, sizeof(k->vm.name), "%s", vm->name);
		memcpy(k->uuid, vm->uuid, sizeof(k->uuid));
		k->vm.mem_kib = vm->mem_kib;
		k->vm.vcpus = vm->vcpus;
		if (p->prefs)
			p->prefs(p->prefs_ud, vm->uuid, &k->vm);
		n_cand++;
	}
	qsort(cand, n_cand, sizeof(*cand), drain_cand_cmp);
	{
		struct mig_flow waiting[CL_MAX_MIGRATIONS];
		size_t idx[CL_MAX_MIGRATIONS], n_wait = 0, n_start;
		struct mig_limits lim = {.per_source = cfg->migration.max_concurrent,
					 .per_target = cfg->migration.max_concurrent,
					 .cluster = cfg->migration.max_cluster};
		size_t which[CL_MAX_MIGRATIONS];

		for (size_t i = 0; i < n_cand; i++) {
			struct mig_placement pl;

			if (!drain_place(&cand[i], nodes, n_nodes, src, &pl)) {
				if (pl.why == MIG_NO_TARGET) {
					char all[CLM_REASON_MAX] = "";

					for (size_t j = 0; j < n_nodes; j++) {
						int x = cfg_node_by_id(cfg, nodes[j].id);
						bool tried = false;

						for (size_t e = 0; e < cand[i].n_exclude; e++)
							tried |= cand[i].exclude[e] == nodes[j].id;
						add_reason(all, sizeof(all), "%s: %s",
							   x >= 0 ? cfg->nodes[x].name : "?",
							   nodes[j].eligible && tried ? "failed it already"
										      : why[j]);
					}
					add_reason(reason, sizeof(reason), "%s: no target (%s)",
						   cand[i].vm.name, all);
				} else {
					add_reason(reason, sizeof(reason), "%s: %s", cand[i].vm.name,
						   mig_unplaced_str(pl.why));
				}
				stuck++;
				continue;
			}
			placed++;
			if (n_wait < CL_MAX_MIGRATIONS) {
				waiting[n_wait] = (struct mig_flow){.source = src, .target = pl.target};
				which[n_wait++] = i;
			}
		}
		n_start = mig_schedule(flows, *n_flows, waiting, n_wait, &lim, idx);
		for (size_t s = 0; s < n_start && out->n_orders < CL_MAX_MIGRATIONS &&
				   p->n_asked < CL_MAX_MIGRATIONS && *n_flows < 2 * CL_MAX_MIGRATIONS;
		     s++) {
			const struct drain_cand *k = &cand[which[idx[s]]];
			struct drain_order *o = &out->orders[out->n_orders++];

			*o = (struct drain_order){
				.source = src, .target = waiting[idx[s]].target, .drain = a->drain};
			memcpy(o->uuid, k->uuid, sizeof(o->uuid));
			snprintf(o->name, sizeof(o->name), "%s", k->vm.name);
			p->asked[p->n_asked++] = (struct asked){.flow = waiting[idx[s]], .at = now};
			memcpy(p->asked[p->n_asked - 1].uuid, k->uuid, sizeof(k->uuid));
			flows[(*n_flows)++] = waiting[idx[s]];
		}
	}
	free(cand);
	/* a VM leaves its source's inventory at the switch-over, before the
	 * source reports its migration done: not drained while one still goes */
	for (size_t m = 0; m < n_migs; m++) {
		const struct clm_vm *vm;

		if (migs[m].source != src || !active(&migs[m]))
			continue;
		vm = find_vm(c, src, migs[m].uuid);
		if (!vm || !movable(vm))
			moving++;
	}
	if (moving == 0 && placed == 0 && stuck == 0)
		publish(p, c, out, src, CLM_ADMIN_DRAINED, false, "", now);
	else
		publish(p, c, out, src, CLM_ADMIN_DRAINING, moving == 0 && placed == 0, reason, now);
}

void drain_step(struct drain_planner *p, const struct cl_cluster *c, usec_t now, struct drain_out *out)
{
	const struct cfg *cfg = p->cfg;
	const struct cl_migration *migs;
	size_t n_migs = cl_cluster_migrations(c, &migs), n_flows = 0;
	struct mig_flow flows[2 * CL_MAX_MIGRATIONS];

	out->n_orders = 0;
	out->n_admin = 0;
	if (!cl_cluster_is_quorate(c))
		return;
	expire_asked(p, c, now);
	/* what runs or waits already, for the limits */
	for (size_t m = 0; m < n_migs; m++)
		if (active(&migs[m]))
			flows[n_flows++] =
				(struct mig_flow){.source = migs[m].source, .target = migs[m].target};
	for (size_t i = 0; i < p->n_asked; i++) /* asked, not yet in the table */
		flows[n_flows++] = p->asked[i].flow;
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		uint32_t id = cfg->nodes[i].id;
		struct cl_admin a = cl_cluster_admin(c, id);
		enum cl_node_state st = cl_cluster_node_state(c, id);

		/* a node that is gone is evacuated, not drained (fencing first) */
		if (a.state != CLM_ADMIN_DRAINING || (st != CL_NODE_ONLINE && st != CL_NODE_DEGRADED))
			continue;
		step_node(p, c, id, &a, now, out, flows, &n_flows);
	}
}
