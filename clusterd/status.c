/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/status.c: JSON for `clusterctl status|nodes|quorum|links` (shapes
 * in docs/PROTOCOL.md). Reads the replicated cluster state and the local
 * heartbeat monitor; O(nodes^2 x networks) for the link matrix. */
#include <stdio.h>
#include <string.h>

#include "clusterd/status.h"
#include "clusterd/ha.h"

static const char *node_name(const struct cfg *cfg, uint32_t id)
{
	int i = cfg_node_by_id(cfg, id);
	return i >= 0 ? cfg->nodes[i].name : "?";
}

static struct json_object *id_array(const uint32_t *ids, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int64(ids[i]));
	return a;
}

struct json_object *cl_status_quorum(const struct cl_status_src *s)
{
	const struct cs_quorum *q = cl_cluster_quorum_info(s->cluster);
	bool conn = cl_cluster_is_connected(s->cluster);
	struct json_object *o = json_object_new_object(), *flags = json_object_new_array();
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {{CS_FLAG_TWO_NODE, "two_node"},
		     {CS_FLAG_WAIT_FOR_ALL, "wait_for_all"},
		     {CS_FLAG_LAST_MAN_STANDING, "last_man_standing"},
		     {CS_FLAG_AUTO_TIE_BREAKER, "auto_tie_breaker"}};
	char ring[48];

	json_object_object_add(o, "corosync", json_object_new_string(conn ? "connected" : "not connected"));
	json_object_object_add(o, "quorate", json_object_new_boolean(conn && q->quorate));
	json_object_object_add(o, "node_id", json_object_new_int64(s->local_id));
	json_object_object_add(o, "total_votes", json_object_new_int64(conn ? q->total_votes : 0));
	json_object_object_add(o, "expected_votes", json_object_new_int64(conn ? q->expected_votes : 0));
	json_object_object_add(o, "quorum", json_object_new_int64(conn ? q->quorum : 0));
	json_object_object_add(o, "members", id_array(q->members, conn ? q->n_members : 0));
	if (conn && q->quorate)
		json_object_array_add(flags, json_object_new_string("quorate"));
	for (size_t i = 0; conn && i < sizeof(names) / sizeof(names[0]); i++)
		if (q->flags & names[i].bit)
			json_object_array_add(flags, json_object_new_string(names[i].name));
	json_object_object_add(o, "flags", flags);
	snprintf(ring, sizeof(ring), "%x.%llx", q->ring_rep, (unsigned long long)q->ring_seq);
	json_object_object_add(o, "ring_id", conn ? json_object_new_string(ring) : NULL);
	return o;
}

static struct json_object *node_object(const struct cl_status_src *s, size_t i)
{
	const struct cfg *cfg = s->cfg;
	const struct cfg_node *n = &cfg->nodes[i];
	uint32_t coord = cl_cluster_coordinator(s->cluster),
		 mask = cl_cluster_degraded_mask(s->cluster, n->id);
	struct json_object *o = json_object_new_object();
	bool local = n->id == s->local_id;
	int h = local ? HB_NODE_UP : hb_monitor_node_health(s->mon, n->id);

	json_object_object_add(o, "id", json_object_new_int64(n->id));
	json_object_object_add(o, "name", json_object_new_string(n->name));
	json_object_object_add(
		o, "state",
		json_object_new_string(cl_node_state_name(cl_cluster_node_state(s->cluster, n->id))));
	json_object_object_add(o, "member", json_object_new_boolean(cl_cluster_is_member(s->cluster, n->id)));
	json_object_object_add(o, "local", json_object_new_boolean(local));
	json_object_object_add(o, "coordinator", json_object_new_boolean(coord != 0 && coord == n->id));
	json_object_object_add(o, "health",
			       json_object_new_string(h >= 0 ? hb_node_health_name(h) : "unknown"));
	{
		struct cl_admin a = cl_cluster_admin(s->cluster, n->id);

		json_object_object_add(o, "admin", json_object_new_string(cl_admin_name(a.state)));
		if (a.state == CLM_ADMIN_DRAINING)
			json_object_object_add(o, "drain_blocked", json_object_new_boolean(a.blocked));
		if (a.drain) { /* the drain's id, as in its migrations and the drain reply */
			char id[24];

			snprintf(id, sizeof(id), "%llx", (unsigned long long)a.drain);
			json_object_object_add(o, "drain", json_object_new_string(id));
		}
		if (a.reason[0])
			json_object_object_add(o, "admin_reason", json_object_new_string(a.reason));
	}
	{
		struct cl_fence f = cl_cluster_fence(s->cluster, n->id);

		json_object_object_add(o, "fenced",
				       f.state == CLM_FENCE_FENCED
					       ? json_object_new_string(cl_fence_how_name(f.how))
					       : NULL);
	}
	if (mask) {
		struct json_object *nets = json_object_new_array();
		for (size_t k = 0; k < cfg->n_networks; k++)
			if (mask & (1u << k))
				json_object_array_add(nets, json_object_new_string(cfg->networks[k].name));
		json_object_object_add(o, "degraded_networks", nets);
	}
	return o;
}

static struct json_object *node_array(const struct cl_status_src *s)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < s->cfg->n_nodes; i++)
		json_object_array_add(a, node_object(s, i));
	return a;
}

static struct json_object *coordinator(const struct cl_status_src *s, bool full)
{
	uint32_t id = cl_cluster_coordinator(s->cluster);
	struct json_object *o;

	if (!id)
		return NULL;
	if (!full)
		return json_object_new_int64(id);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "name", json_object_new_string(node_name(s->cfg, id)));
	return o;
}

struct json_object *cl_status_nodes(const struct cl_status_src *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "cluster", json_object_new_string(s->cfg->cluster_name));
	json_object_object_add(o, "local_id", json_object_new_int64(s->local_id));
	json_object_object_add(o, "coordinator", coordinator(s, false));
	json_object_object_add(o, "quorate", json_object_new_boolean(cl_cluster_is_quorate(s->cluster)));
	json_object_object_add(o, "nodes", node_array(s));
	return o;
}

/* Every known (from, to, network) view: the whole matrix (down_only: the
 * DOWN ones, as {from, to, network}). */
static struct json_object *link_array(const struct cl_status_src *s, bool down_only)
{
	const struct cfg *cfg = s->cfg;
	struct json_object *a = json_object_new_array();

	for (size_t n = 0; n < cfg->n_networks; n++)
		for (size_t f = 0; f < cfg->n_nodes; f++)
			for (size_t t = 0; t < cfg->n_nodes; t++) {
				struct cl_link_info li;
				struct json_object *o;

				if (f == t ||
				    cl_cluster_link(s->cluster, cfg->nodes[f].id, cfg->nodes[t].id,
						    (uint8_t)n, &li) < 0 ||
				    !li.known || (down_only && li.state != HB_LINK_DOWN))
					continue;
				o = json_object_new_object();
				json_object_object_add(o, "from", json_object_new_string(cfg->nodes[f].name));
				json_object_object_add(o, "to", json_object_new_string(cfg->nodes[t].name));
				json_object_object_add(o, "network",
						       json_object_new_string(cfg->networks[n].name));
				if (!down_only) {
					json_object_object_add(
						o, "state",
						json_object_new_string(hb_link_state_name(li.state)));
					json_object_object_add(o, "class",
							       json_object_new_string(hb_class_name(li.cls)));
					/* a DOWN link's last RTT is history, not a measurement */
					json_object_object_add(
						o, "rtt_ms",
						li.rtt_us < 0 || li.state == HB_LINK_DOWN
							? NULL
							: json_object_new_double(li.rtt_us / 1000.0));
					json_object_object_add(
						o, "loss_pct",
						json_object_new_double(li.loss_permille / 10.0));
					json_object_object_add(
						o, "age_ms",
						json_object_new_int64(
							(int64_t)((s->now - li.updated) / USEC_PER_MSEC)));
				}
				json_object_array_add(a, o);
			}
	return a;
}

struct json_object *cl_status_links(const struct cl_status_src *s)
{
	struct json_object *o = json_object_new_object(), *nets = json_object_new_array();

	for (size_t n = 0; n < s->cfg->n_networks; n++)
		json_object_array_add(nets, json_object_new_string(s->cfg->networks[n].name));
	json_object_object_add(o, "networks", nets);
	json_object_object_add(o, "links", link_array(s, false));
	return o;
}

static const char *const vm_states[] = {"other", "running", "paused", "shut off", "crashed"};

/* Running, i.e. executing guest code. A paused copy is not: the target of
 * a live migration holds the domain paused until the switch-over. */
static bool active(uint8_t st)
{
	return st == CLM_VM_RUNNING;
}

/* Every VM of every node we have an inventory from; a VM (by uuid) running
 * on two nodes at once is flagged: that must never happen. O(VMs^2) for the
 * check, fine for a few hundred. */
struct json_object *cl_status_vms(const struct cl_status_src *s)
{
	const struct cfg *cfg = s->cfg;
	struct json_object *o = json_object_new_object(), *list = json_object_new_array(),
			   *blind = json_object_new_array(), *twice = json_object_new_array();

	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct clm_vm *vms;
		size_t n;
		bool up, known;

		if (cl_cluster_inventory(s->cluster, cfg->nodes[i].id, &vms, &n, &up, &known) < 0)
			continue;
		if (!known || !up) {
			if (cl_cluster_is_member(s->cluster, cfg->nodes[i].id) ||
			    cfg->nodes[i].id == s->local_id)
				json_object_array_add(blind, json_object_new_string(cfg->nodes[i].name));
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			struct json_object *v = json_object_new_object();
			bool dup = false;

			for (size_t j = 0; active(vms[k].state) && j < cfg->n_nodes && !dup; j++) {
				const struct clm_vm *other;
				size_t m;
				bool oup, oknown;

				if (j == i || cl_cluster_inventory(s->cluster, cfg->nodes[j].id, &other, &m,
								   &oup, &oknown) < 0)
					continue;
				for (size_t q = 0; q < m && !dup; q++)
					dup = active(other[q].state) &&
					      strcmp(other[q].uuid, vms[k].uuid) == 0;
			}
			json_object_object_add(v, "name", json_object_new_string(vms[k].name));
			json_object_object_add(v, "uuid", json_object_new_string(vms[k].uuid));
			json_object_object_add(v, "node", json_object_new_string(cfg->nodes[i].name));
			json_object_object_add(v, "state",
					       json_object_new_string(vms[k].state <= CLM_VM_CRASHED
									      ? vm_states[vms[k].state]
									      : "other"));
			json_object_object_add(v, "memory_mib",
					       json_object_new_int64((int64_t)(vms[k].mem_kib >> 10)));
			json_object_object_add(v, "vcpus", json_object_new_int64(vms[k].vcpus));
			json_object_object_add(v, "persistent", json_object_new_boolean(vms[k].persistent));
			json_object_object_add(
				v, "ha",
				json_object_new_boolean(
					ha_registry_find(cl_cluster_ha(s->cluster), vms[k].uuid) != NULL));
			json_object_object_add(v, "running_twice", json_object_new_boolean(dup));
			if (dup)
				json_object_array_add(twice, json_object_new_string(vms[k].name));
			json_object_array_add(list, v);
		}
	}
	/* HA VMs no inventory lists: not running anywhere we can see */
	for (size_t e = 0; e < ha_registry_count(cl_cluster_ha(s->cluster)); e++) {
		const struct ha_vm *h = ha_registry_list(cl_cluster_ha(s->cluster), e);
		bool seen = false;

		for (size_t i = 0; i < cfg->n_nodes && !seen; i++) {
			const struct clm_vm *vms;
			size_t n;
			bool up, known;

			if (cl_cluster_inventory(s->cluster, cfg->nodes[i].id, &vms, &n, &up, &known) < 0)
				continue;
			for (size_t k = 0; k < n && !seen; k++)
				seen = strcmp(vms[k].uuid, h->uuid) == 0;
		}
		if (!seen) {
			struct json_object *v = json_object_new_object();

			json_object_object_add(v, "name", json_object_new_string(h->name));
			json_object_object_add(v, "uuid", json_object_new_string(h->uuid));
			json_object_object_add(v, "node", NULL);
			json_object_object_add(v, "state", json_object_new_string("not running"));
			json_object_object_add(v, "ha", json_object_new_boolean(true));
			json_object_object_add(v, "running_twice", json_object_new_boolean(false));
			json_object_array_add(list, v);
		}
	}
	json_object_object_add(o, "vms", list);
	json_object_object_add(o, "nodes_without_inventory", blind);
	json_object_object_add(o, "running_twice", twice);
	return o;
}

/* The source engine's counters (CLM_MIG_COPY), or NULL: not heard, or a
 * direct migration (nothing counts its bytes but QEMU: processed_mib). */
static struct json_object *copy_object(const struct cl_migration *m)
{
	const struct clm_mig_copy *c = &m->copy;
	struct json_object *o;
	double secs = (double)c->copy_us / 1e6;

	if (!m->copy_known || c->backend == CLM_COPY_DIRECT)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)c->bytes));
	json_object_object_add(o, "seconds", json_object_new_double((double)(c->copy_us / 1000) / 1e3));
	/* over the copy time so far, or the whole copy once it ended */
	json_object_object_add(
		o, "mb_s",
		secs > 0 ? json_object_new_double((double)(int64_t)(c->bytes / secs / 1e5) / 10) : NULL);
	json_object_object_add(o, "channels", json_object_new_int(c->channels));
	json_object_object_add(o, "channels_up", json_object_new_int(c->up));
	json_object_object_add(o, "streams_per_channel", json_object_new_int(c->streams));
	json_object_object_add(o, "links", json_object_new_int(c->links));
	json_object_object_add(o, "backend", json_object_new_string(clm_copy_backend_name(c->backend)));
	json_object_object_add(o, "state",
			       json_object_new_string(c->flags & CLM_COPY_DONE     ? "done"
						      : c->flags & CLM_COPY_FAILED ? "failed"
						      : c->up                      ? "carrying"
										   : "waiting for QEMU"));
	return o;
}

struct json_object *cl_status_migration(const struct cl_status_src *s, const struct cl_migration *m)
{
	struct json_object *o = json_object_new_object();
	char id[24];
	int pct = -1;

	snprintf(id, sizeof(id), "%llx", (unsigned long long)m->id);
	if (m->state == CLM_MIG_SUCCEEDED)
		pct = 100;
	else if (m->total)
		pct = (int)(100 - (m->remaining > m->total ? m->total : m->remaining) * 100 / m->total);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "vm", json_object_new_string(m->name));
	json_object_object_add(o, "source", json_object_new_string(node_name(s->cfg, m->source)));
	json_object_object_add(o, "target", json_object_new_string(node_name(s->cfg, m->target)));
	json_object_object_add(o, "kind",
			       json_object_new_string(m->kind == CLM_KIND_START ? "restart" : "live"));
	json_object_object_add(o, "state",
			       json_object_new_string(m->state == CLM_MIG_REQUESTED && !m->admitted
							      ? "queued"
							      : cl_mig_state_name(m->state)));
	json_object_object_add(o, "percent", pct < 0 ? NULL : json_object_new_int(pct));
	json_object_object_add(o, "processed_mib", json_object_new_int64((int64_t)(m->processed >> 20)));
	json_object_object_add(o, "remaining_mib", json_object_new_int64((int64_t)(m->remaining >> 20)));
	json_object_object_add(o, "dirty_mib_s", json_object_new_int64((int64_t)(m->dirty_rate >> 20)));
	json_object_object_add(o, "iteration", json_object_new_int64(m->iteration));
	json_object_object_add(o, "eta_s",
			       m->eta_s < 0 || m->state != CLM_MIG_RUNNING ? NULL
									   : json_object_new_int64(m->eta_s));
	if (m->drain) {
		char dr[24];
		snprintf(dr, sizeof(dr), "%llx", (unsigned long long)m->drain);
		json_object_object_add(o, "drain", json_object_new_string(dr));
	}
	json_object_object_add(o, "age_s",
			       json_object_new_int64((int64_t)((s->now - m->requested) / USEC_PER_SEC)));
	json_object_object_add(o, "reason", m->reason[0] ? json_object_new_string(m->reason) : NULL);
	json_object_object_add(o, "transport",
			       !m->copy_known                       ? NULL
			       : m->copy.backend == CLM_COPY_DIRECT ? json_object_new_string("direct")
								    : json_object_new_string("mcopy"));
	json_object_object_add(o, "copy", copy_object(m));
	return o;
}

struct json_object *cl_status_migrations(const struct cl_status_src *s)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	const struct cl_migration *migs;
	size_t n = cl_cluster_migrations(s->cluster, &migs);

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, cl_status_migration(s, &migs[i]));
	json_object_object_add(o, "migrations", a);
	json_object_object_add(o, "max_concurrent", json_object_new_int64(s->cfg->migration.max_concurrent));
	return o;
}

struct json_object *cl_status_all(const struct cl_status_src *s)
{
	struct json_object *o = json_object_new_object(), *local = json_object_new_object();

	json_object_object_add(o, "cluster", json_object_new_string(s->cfg->cluster_name));
	json_object_object_add(local, "id", json_object_new_int64(s->local_id));
	json_object_object_add(local, "name", json_object_new_string(node_name(s->cfg, s->local_id)));
	json_object_object_add(o, "local", local);
	json_object_object_add(o, "quorum", cl_status_quorum(s));
	json_object_object_add(o, "coordinator", coordinator(s, true));
	json_object_object_add(o, "nodes", node_array(s));
	json_object_object_add(o, "links_down", link_array(s, true));
	{
		struct json_object *m = cl_status_migrations(s), *list = NULL;
		json_object_object_get_ex(m, "migrations", &list);
		json_object_object_add(o, "migrations", json_object_get(list));
		json_object_put(m);
	}
	return o;
}
