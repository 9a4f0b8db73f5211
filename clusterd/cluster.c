/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/cluster.c: the replicated cluster state (see cluster.h). Every
 * input updates the stored facts, then recompute() derives node states and
 * the coordinator from them and reports what changed. Costs: recompute is
 * O(nodes^2 x networks), at most 32 x 32 x 8 pair checks, on each input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clusterd/cluster.h"
#include "clusterd/ha.h"

struct cl_cluster {
	const struct cfg *cfg;
	uint32_t local_id;
	int local_idx;
	cl_event_cb cb;
	void *userdata;

	bool connected;
	bool have_members;          /* a CPG membership arrived since we connected */
	bool member[CFG_MAX_NODES]; /* by cfg node index */
	bool seen[CFG_MAX_NODES];   /* was a member at some point since we started */
	struct cs_quorum q;

	/* view[from][to][link]: what `from` last said about its link to `to` */
	struct cl_link_info view[CFG_MAX_NODES][CFG_MAX_NODES][CFG_MAX_NETWORKS];
	uint32_t gen_rx[CFG_MAX_NODES];
	uint32_t gen_tx;
	bool view_due;
	usec_t last_sent;

	/* inventories: inv[x] is node x's latest list (ours: current) */
	struct clm_inventory *inv[CFG_MAX_NODES]; /* NULL: never heard */
	uint32_t inv_gen_tx;
	bool inv_due;
	int last_sent_type; /* what the last poll_send returned, for send_failed */

	struct cl_migration migs[CL_MAX_MIGRATIONS];
	size_t n_migs;
	struct cl_admin admin[CFG_MAX_NODES];
	struct cl_fence fence[CFG_MAX_NODES];
	usec_t left_at[CFG_MAX_NODES];
	usec_t quorate_since;
	struct ha_registry *ha;

	/* derived */
	enum cl_node_state state[CFG_MAX_NODES];
	uint32_t degraded[CFG_MAX_NODES];
	uint32_t coordinator;
};

static const char *const state_names[] = {"unknown", "online", "degraded", "failed"};
static void fire(struct cl_cluster *c, const struct cl_event *ev);

static const char *const mig_state_names[] = {"requested", "running", "succeeded", "failed"};

const char *cl_mig_state_name(enum clm_mig_state s)
{
	return (unsigned)s < sizeof(mig_state_names) / sizeof(mig_state_names[0]) ? mig_state_names[s] : "?";
}

/* Which REQUESTED migrations may run: in request order, each whose source
 * and target are under migration.max_concurrent (counting the running ones
 * and those admitted before it). The same table gives the same answer on
 * every node, so no two sources race for a target's slots. O(migs x nodes). */
static void admit(struct cl_cluster *c)
{
	uint32_t out[CFG_MAX_NODES] = {0}, in[CFG_MAX_NODES] = {0}, all = 0;
	uint32_t max = c->cfg->migration.max_concurrent, max_all = c->cfg->migration.max_cluster;

	for (size_t i = 0; i < c->n_migs; i++) {
		struct cl_migration *m = &c->migs[i];
		int s = cfg_node_by_id(c->cfg, m->source), t = cfg_node_by_id(c->cfg, m->target);

		m->admitted = false;
		if (s < 0 || t < 0)
			continue;
		if (m->state == CLM_MIG_RUNNING) {
			out[s] += m->kind == CLM_KIND_MIGRATE; /* a restart's source is gone */
			in[t]++;
			all++;
		}
	}
	for (size_t i = 0; i < c->n_migs; i++) {
		struct cl_migration *m = &c->migs[i];
		int s = cfg_node_by_id(c->cfg, m->source), t = cfg_node_by_id(c->cfg, m->target);

		if (m->state != CLM_MIG_REQUESTED || s < 0 || t < 0 ||
		    (m->kind == CLM_KIND_MIGRATE && out[s] >= max) || in[t] >= max ||
		    (max_all && all >= max_all))
			continue;
		m->admitted = true;
		out[s] += m->kind == CLM_KIND_MIGRATE;
		in[t]++;
		all++;
	}
}

static void mig_set(struct cl_cluster *c, struct cl_migration *m, enum clm_mig_state st, const char *reason,
		    usec_t now)
{
	struct cl_event ev = {.kind = CL_EV_MIGRATION,
			      .mig_id = m->id,
			      .old_state = (int)m->state,
			      .new_state = (int)st,
			      .reason = reason,
			      .now = now};

	if (reason)
		snprintf(m->reason, sizeof(m->reason), "%s", reason);
	m->updated = now;
	if (m->state == st)
		return;
	m->state = st;
	fire(c, &ev);
}

const char *cl_node_state_name(enum cl_node_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static void fire(struct cl_cluster *c, const struct cl_event *ev)
{
	if (c->cb)
		c->cb(ev, c->userdata);
}

static bool monitored(const struct cfg *cfg, size_t a, size_t b, size_t n)
{
	return cfg->networks[n].heartbeat && cfg->nodes[a].has_addr[n] && cfg->nodes[b].has_addr[n];
}

/* A DOWN link counts toward DEGRADED only when its observer's settled
 * verdict on the node is DEGRADED: some of its links down, others alive.
 * A verdict of UP (still holding: the other links merely silent) is a
 * transient; DOWN (all links down: dying, cut off, or coming back) is
 * evidence for FAILED, never for "alive, drain it live". See cluster.h. */
static bool degraded_down(const struct cl_link_info *v)
{
	return v->known && v->state == HB_LINK_DOWN && v->health == HB_NODE_DEGRADED;
}

/* The pair's link on network n is DOWN when either side says so as above. */
static bool pair_down(const struct cl_cluster *c, size_t a, size_t b, size_t n)
{
	return degraded_down(&c->view[a][b][n]) || degraded_down(&c->view[b][a][n]);
}

/* Networks on which member x is DOWN with every other member there. */
static uint32_t degraded_mask(const struct cl_cluster *c, size_t x)
{
	const struct cfg *cfg = c->cfg;
	uint32_t mask = 0;

	for (size_t n = 0; n < cfg->n_networks; n++) {
		size_t others = 0, down = 0;

		for (size_t y = 0; y < cfg->n_nodes; y++) {
			if (y == x || !c->member[y] || !monitored(cfg, x, y, n))
				continue;
			others++;
			down += pair_down(c, x, y, n);
		}
		if (others > 0 && down == others)
			mask |= 1u << n;
	}
	return mask;
}

/* Every other member that monitors x sees every one of its links to x DOWN
 * (at least one such member must exist). */
static bool heartbeat_dead(const struct cl_cluster *c, size_t x)
{
	const struct cfg *cfg = c->cfg;
	size_t observers = 0;

	for (size_t y = 0; y < cfg->n_nodes; y++) {
		size_t links = 0, down = 0;

		if (y == x || !c->member[y])
			continue;
		for (size_t n = 0; n < cfg->n_networks; n++) {
			const struct cl_link_info *v = &c->view[y][x][n];

			if (!monitored(cfg, x, y, n))
				continue;
			links++;
			down += v->known && v->state == HB_LINK_DOWN && v->health == HB_NODE_DOWN &&
				!v->rising;
		}
		if (links == 0)
			continue;
		if (down < links)
			return false;
		observers++;
	}
	return observers > 0;
}

static bool in_corosync_membership(const struct cl_cluster *c, size_t x)
{
	for (size_t i = 0; i < c->q.n_members; i++)
		if (c->q.members[i] == c->cfg->nodes[x].id)
			return true;
	return false;
}

static enum cl_node_state derive(const struct cl_cluster *c, size_t x, uint32_t *ret_mask,
				 const char **ret_why)
{
	*ret_mask = 0;
	if (!c->connected) {
		*ret_why = "corosync not connected";
		return CL_NODE_UNKNOWN;
	}
	if (!c->have_members) {
		*ret_why = "waiting for the first membership";
		return CL_NODE_UNKNOWN;
	}
	if (!c->member[x]) {
		if (!c->q.quorate) {
			*ret_why = "not in this partition, which is not quorate";
			return CL_NODE_UNKNOWN;
		}
		if (!in_corosync_membership(c, x)) {
			*ret_why = "not in the corosync membership";
			return CL_NODE_FAILED;
		}
		if (!c->seen[x]) {
			/* corosync runs there but clusterd never joined: starting,
			 * or not installed; nothing says its VMs are gone */
			*ret_why = "corosync is up there, clusterd has not joined yet";
			return CL_NODE_UNKNOWN;
		}
		*ret_why = "clusterd left the membership";
		return CL_NODE_FAILED;
	}
	if (heartbeat_dead(c, x)) {
		if (!c->q.quorate) {
			*ret_why = "heartbeat down on every link, but this partition is not quorate";
			return CL_NODE_UNKNOWN;
		}
		*ret_why = "heartbeat down on every link";
		return CL_NODE_FAILED;
	}
	*ret_mask = degraded_mask(c, x);
	if (*ret_mask) {
		*ret_why = "a network's link is down to every other member";
		return CL_NODE_DEGRADED;
	}
	*ret_why = "member, links up";
	return CL_NODE_ONLINE;
}

static void recompute(struct cl_cluster *c, usec_t now)
{
	const struct cfg *cfg = c->cfg;
	uint32_t coord = 0;

	for (size_t x = 0; x < cfg->n_nodes; x++) {
		const char *why;
		uint32_t mask;
		enum cl_node_state s = derive(c, x, &mask, &why);

		c->degraded[x] = mask;
		if (s != c->state[x]) {
			struct cl_event ev = {.kind = CL_EV_NODE,
					      .node_id = cfg->nodes[x].id,
					      .old_state = (int)c->state[x],
					      .new_state = (int)s,
					      .reason = why,
					      .now = now};
			c->state[x] = s;
			fire(c, &ev);
		}
	}
	if (c->connected && c->q.quorate)
		for (size_t x = 0; x < cfg->n_nodes; x++)
			if (c->member[x] && (coord == 0 || cfg->nodes[x].id < coord))
				coord = cfg->nodes[x].id;
	if (coord != c->coordinator) {
		struct cl_event ev = {.kind = CL_EV_COORDINATOR,
				      .node_id = coord,
				      .old_state = (int)c->coordinator,
				      .new_state = (int)coord,
				      .now = now};
		c->coordinator = coord;
		fire(c, &ev);
	}
}

int cl_cluster_new(const struct cfg *cfg, uint32_t local_id, struct cl_cluster **ret_cluster)
{
	struct cl_cluster *c;
	int idx;

	if (!cfg || !ret_cluster)
		return -EINVAL;
	idx = cfg_node_by_id(cfg, local_id);
	if (idx < 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->local_id = local_id;
	c->local_idx = idx;
	c->view_due = true;
	if (ha_registry_new(&c->ha) < 0) {
		free(c);
		return -ENOMEM;
	}
	*ret_cluster = c;
	return 0;
}

void cl_cluster_free(struct cl_cluster *c)
{
	if (!c)
		return;
	for (size_t x = 0; x < CFG_MAX_NODES; x++)
		free(c->inv[x]);
	ha_registry_free(c->ha);
	free(c);
}

void cl_cluster_set_event_cb(struct cl_cluster *c, cl_event_cb cb, void *userdata)
{
	c->cb = cb;
	c->userdata = userdata;
}

/* Forget what a node said: it left, so its views are stale; when it comes
 * back it starts a new generation count. */
static void forget_views_of(struct cl_cluster *c, size_t x)
{
	memset(c->view[x], 0, sizeof(c->view[x]));
	c->gen_rx[x] = 0;
	free(c->inv[x]);
	c->inv[x] = NULL;
}

void cl_cluster_connected(struct cl_cluster *c, bool connected, usec_t now)
{
	if (connected == c->connected)
		return;
	c->connected = connected;
	if (connected)
		c->inv_due = c->inv[c->local_idx] != NULL;
	if (!connected) {
		/* nothing is known about the others until corosync is back */
		c->have_members = false;
		memset(c->member, 0, sizeof(c->member));
		memset(&c->q, 0, sizeof(c->q));
		c->quorate_since = 0;
		for (size_t x = 0; x < c->cfg->n_nodes; x++)
			if ((int)x != c->local_idx)
				forget_views_of(c, x);
	}
	c->view_due = true;
	recompute(c, now);
}

void cl_cluster_membership(struct cl_cluster *c, const uint32_t *members, size_t n, usec_t now)
{
	bool next[CFG_MAX_NODES] = {false};

	for (size_t i = 0; i < n; i++) {
		int x = cfg_node_by_id(c->cfg, members[i]);
		if (x >= 0)
			next[x] = true; /* a node not in our config is not ours to judge */
	}
	for (size_t x = 0; x < c->cfg->n_nodes; x++) {
		if (c->member[x] && !next[x] && (int)x != c->local_idx) {
			forget_views_of(c, x);
			c->left_at[x] = now;
		}
		if (next[x] && c->fence[x].state == CLM_FENCE_FENCED) {
			/* back: alive, so no longer fenced (a late FENCED is ignored while it is a member) */
			struct cl_event ev = {.kind = CL_EV_FENCE,
					      .node_id = c->cfg->nodes[x].id,
					      .old_state = CLM_FENCE_FENCED,
					      .new_state = CLM_FENCE_NONE,
					      .reason = "it rejoined the membership",
					      .now = now};
			c->fence[x].state = CLM_FENCE_NONE;
			c->fence[x].how = CLM_FENCED_NOT;
			snprintf(c->fence[x].reason, sizeof(c->fence[x].reason), "rejoined");
			c->fence[x].since = now;
			fire(c, &ev);
		}
	}
	memcpy(c->member, next, sizeof(next));
	for (size_t x = 0; x < c->cfg->n_nodes; x++)
		c->seen[x] |= next[x];
	c->have_members = true;
	c->view_due = true;                        /* newcomers must learn our view */
	c->inv_due = c->inv[c->local_idx] != NULL; /* … and our VMs */
	/* a source that left cannot finish (or report) its migrations */
	for (size_t i = 0; i < c->n_migs; i++) {
		struct cl_migration *m = &c->migs[i];
		int runner = cfg_node_by_id(c->cfg, m->kind == CLM_KIND_START ? m->target : m->source);

		if ((m->state == CLM_MIG_REQUESTED || m->state == CLM_MIG_RUNNING) && runner >= 0 &&
		    !next[runner])
			mig_set(c, m, CLM_MIG_FAILED,
				m->kind == CLM_KIND_START ? "the target node left the membership"
							  : "the source node left the membership",
				now);
	}
	admit(c);
	recompute(c, now);
}

void cl_cluster_quorum(struct cl_cluster *c, const struct cs_quorum *q, usec_t now)
{
	bool was = c->q.quorate;

	c->q = *q;
	if (!q->quorate)
		c->quorate_since = 0;
	else if (!was || !c->quorate_since)
		c->quorate_since = now ? now : 1;
	if (was != q->quorate) {
		struct cl_event ev = {
			.kind = CL_EV_QUORUM, .old_state = was, .new_state = q->quorate, .now = now};
		fire(c, &ev);
	}
	recompute(c, now);
}

void cl_cluster_local_link(struct cl_cluster *c, uint32_t peer, uint8_t link, const struct hb_link_stats *st,
			   enum hb_node_health health, usec_t now)
{
	int y = cfg_node_by_id(c->cfg, peer);
	struct cl_link_info *v;

	if (y < 0 || link >= c->cfg->n_networks || !st)
		return;
	v = &c->view[c->local_idx][y][link];
	if (!v->known || v->state != st->state || v->health != health || v->rising != (st->rising > 0))
		c->view_due = true;
	*v = (struct cl_link_info){
		.state = st->state,
		.cls = st->cls,
		.rtt_us = st->rtt_us < 0           ? -1
			  : st->rtt_us > INT32_MAX ? INT32_MAX
						   : (int32_t)st->rtt_us,
		.loss_permille = (uint16_t)(st->loss_permille > 1000 ? 1000 : st->loss_permille),
		.health = health,
		.rising = st->rising > 0,
		.updated = now,
		.known = true,
	};
	recompute(c, now);
}

static int reject(struct cl_cluster *c, uint32_t from, const char *why, int err, usec_t now)
{
	struct cl_event ev = {.kind = CL_EV_BAD_MESSAGE, .node_id = from, .reason = why, .now = now};

	fire(c, &ev);
	return err;
}

static int receive_migrate(struct cl_cluster *c, uint32_t from, const void *buf, size_t len, usec_t now)
{
	struct clm_migrate m;
	struct cl_migration *e;
	int r = clm_decode_migrate(buf, len, &m);

	if (r < 0)
		return reject(c, from, "malformed migration request", r, now);
	if (cfg_node_by_id(c->cfg, m.source) < 0 || cfg_node_by_id(c->cfg, m.target) < 0)
		return reject(c, from, "migration between nodes not in our config", -EBADMSG, now);
	if (cl_cluster_migration(c, m.id))
		return reject(c, from, "migration request seen before (ignored)", -ESTALE, now);
	/* a drain's request that comes after that drain ended (aborted or
	 * restarted, in CPG order) is void: every node drops it alike, so no
	 * source starts a migration of a drain that is over */
	if (m.drain && (c->admin[cfg_node_by_id(c->cfg, m.source)].state != CLM_ADMIN_DRAINING ||
			c->admin[cfg_node_by_id(c->cfg, m.source)].drain != m.drain))
		return reject(c, from, "migration request of a drain that has ended (ignored)", -ESTALE, now);
	if (c->n_migs == CL_MAX_MIGRATIONS) {
		size_t k;
		for (k = 0; k < c->n_migs; k++)
			if (c->migs[k].state == CLM_MIG_SUCCEEDED || c->migs[k].state == CLM_MIG_FAILED)
				break;
		if (k == c->n_migs)
			return reject(c, from, "too many migrations in progress (ignored)", -ENOSPC, now);
		memmove(&c->migs[k], &c->migs[k + 1], (c->n_migs - k - 1) * sizeof(c->migs[0]));
		c->n_migs--;
	}
	e = &c->migs[c->n_migs++];
	*e = (struct cl_migration){.id = m.id,
				   .source = m.source,
				   .target = m.target,
				   .state = CLM_MIG_REQUESTED,
				   .kind = (enum clm_kind)m.kind,
				   .drain = m.drain,
				   .eta_s = -1,
				   .requested = now,
				   .updated = now};
	memcpy(e->uuid, m.uuid, sizeof(e->uuid));
	memcpy(e->name, m.name, sizeof(e->name));
	{
		struct cl_event ev = {.kind = CL_EV_MIGRATION,
				      .mig_id = e->id,
				      .old_state = -1,
				      .new_state = CLM_MIG_REQUESTED,
				      .now = now};
		fire(c, &ev);
	}
	admit(c);
	return 0;
}

static int receive_mig_report(struct cl_cluster *c, uint32_t from, const void *buf, size_t len, usec_t now)
{
	struct clm_mig_report m;
	struct cl_migration *e;
	int r = clm_decode_mig_report(buf, len, &m);

	if (r < 0)
		return reject(c, from, "malformed migration report", r, now);
	e = (struct cl_migration *)cl_cluster_migration(c, m.id);
	if (!e)
		return reject(c, from, "report on an unknown migration (ignored)", -ENOENT, now);
	if (from != (e->kind == CLM_KIND_START ? e->target : e->source))
		return reject(c, from, "migration report not from the node that runs it", -EPERM, now);
	if (e->state == CLM_MIG_SUCCEEDED || e->state == CLM_MIG_FAILED || m.state == CLM_MIG_REQUESTED)
		return reject(c, from, "report on a finished migration (ignored)", -ESTALE, now);
	e->processed = m.processed;
	e->remaining = m.remaining;
	e->total = m.total;
	e->dirty_rate = m.dirty_rate;
	e->iteration = m.iteration;
	e->eta_s = m.eta_s;
	mig_set(c, e, (enum clm_mig_state)m.state, m.reason[0] ? m.reason : NULL, now);
	admit(c);
	return 0;
}

static int receive_mig_copy(struct cl_cluster *c, uint32_t from, const void *buf, size_t len, usec_t now)
{
	struct clm_mig_copy m;
	struct cl_migration *e;
	int r = clm_decode_mig_copy(buf, len, &m);

	if (r < 0)
		return reject(c, from, "malformed migration copy report", r, now);
	e = (struct cl_migration *)cl_cluster_migration(c, m.id);
	if (!e)
		return reject(c, from, "copy report on an unknown migration (ignored)", -ENOENT, now);
	if (e->kind != CLM_KIND_MIGRATE || from != e->source)
		return reject(c, from, "copy report not from the source of a live migration", -EPERM, now);
	if (e->state == CLM_MIG_SUCCEEDED || e->state == CLM_MIG_FAILED)
		return reject(c, from, "copy report on a finished migration (ignored)", -ESTALE, now);
	e->copy = m;
	e->copy_known = true;
	return 0;
}

size_t cl_cluster_migrations(const struct cl_cluster *c, const struct cl_migration **ret_migs)
{
	*ret_migs = c->migs;
	return c->n_migs;
}

const struct cl_migration *cl_cluster_migration(const struct cl_cluster *c, uint64_t id)
{
	for (size_t i = 0; i < c->n_migs; i++)
		if (c->migs[i].id == id)
			return &c->migs[i];
	return NULL;
}

static int receive_inventory(struct cl_cluster *c, size_t x, uint32_t from, const void *buf, size_t len,
			     usec_t now)
{
	struct clm_inventory *inv = malloc(sizeof(*inv));
	int r;

	if (!inv)
		return -ENOMEM;
	r = clm_decode_inventory(buf, len, inv);
	if (r < 0) {
		free(inv);
		return reject(c, from, "malformed inventory", r, now);
	}
	if (c->inv[x] && inv->generation <= c->inv[x]->generation) {
		free(inv);
		return reject(c, from, "inventory older than the one we have (ignored)", -ESTALE, now);
	}
	free(c->inv[x]);
	c->inv[x] = inv;
	return 0;
}

/* Free memory changes all the time; re-multicast it only when it moved by
 * more than this (placement needs the rough figure, not every page). */
#define HOST_MEM_SLACK_KIB (64 * 1024)

static bool host_changed(const struct clm_inventory *inv, uint64_t free_kib, uint32_t cpus)
{
	uint64_t d =
		inv->host_free_kib > free_kib ? inv->host_free_kib - free_kib : free_kib - inv->host_free_kib;
	return inv->host_cpus != cpus || d > HOST_MEM_SLACK_KIB ||
	       (free_kib == 0) != (inv->host_free_kib == 0);
}

void cl_cluster_local_inventory(struct cl_cluster *c, const struct clm_vm *vms, size_t n, bool libvirt_up,
				uint64_t host_free_kib, uint32_t host_cpus, usec_t now)
{
	struct clm_inventory *inv = c->inv[c->local_idx];

	if (!inv) {
		inv = calloc(1, sizeof(*inv));
		if (!inv)
			return;
		c->inv[c->local_idx] = inv;
		inv->sender = c->local_id;
	} else if (inv->libvirt_up == libvirt_up && !host_changed(inv, host_free_kib, host_cpus) &&
		   inv->count == (n > CLM_MAX_INV_ENTRIES ? CLM_MAX_INV_ENTRIES : n) &&
		   (inv->count == 0 || memcmp(inv->vms, vms, inv->count * sizeof(*vms)) == 0)) {
		return; /* nothing changed */
	}
	inv->libvirt_up = libvirt_up;
	inv->host_free_kib = host_free_kib;
	inv->host_cpus = host_cpus;
	inv->count = (uint16_t)(n > CLM_MAX_INV_ENTRIES ? CLM_MAX_INV_ENTRIES : n);
	if (inv->count) /* vms may be NULL when n is 0 */
		memcpy(inv->vms, vms, inv->count * sizeof(*vms));
	c->inv_due = true;
}

int cl_cluster_inventory(const struct cl_cluster *c, uint32_t node_id, const struct clm_vm **ret_vms,
			 size_t *ret_n, bool *ret_libvirt_up, bool *ret_known)
{
	int x = cfg_node_by_id(c->cfg, node_id);
	const struct clm_inventory *inv;

	if (x < 0)
		return -ENOENT;
	inv = c->inv[x];
	*ret_known = inv != NULL;
	*ret_libvirt_up = inv && inv->libvirt_up;
	*ret_vms = inv ? inv->vms : NULL;
	*ret_n = inv ? inv->count : 0;
	return 0;
}

void cl_cluster_host(const struct cl_cluster *c, uint32_t node_id, uint64_t *ret_free_kib, uint32_t *ret_cpus)
{
	int x = cfg_node_by_id(c->cfg, node_id);
	const struct clm_inventory *inv = x >= 0 ? c->inv[x] : NULL;

	*ret_free_kib = inv && inv->libvirt_up ? inv->host_free_kib : 0;
	*ret_cpus = inv && inv->libvirt_up ? inv->host_cpus : 0;
}

static const char *const admin_names[] = {"none", "draining", "drained", "quarantined"};
static const char *const fence_how_names[] = {"", "fence agent", "self-fence wait", "admin"};

const char *cl_fence_how_name(enum clm_fence_how h)
{
	return (unsigned)h < sizeof(fence_how_names) / sizeof(fence_how_names[0]) ? fence_how_names[h] : "?";
}

struct cl_fence cl_cluster_fence(const struct cl_cluster *c, uint32_t node_id)
{
	int x = cfg_node_by_id(c->cfg, node_id);
	struct cl_fence none = {.state = CLM_FENCE_NONE};

	return x < 0 ? none : c->fence[x];
}

usec_t cl_cluster_left_at(const struct cl_cluster *c, uint32_t node_id)
{
	int x = cfg_node_by_id(c->cfg, node_id);
	return x < 0 ? 0 : c->left_at[x];
}

usec_t cl_cluster_quorate_since(const struct cl_cluster *c)
{
	return c->connected && c->q.quorate ? c->quorate_since : 0;
}

/* A fence record: newer versions win, and only for a node outside the
 * membership (a FENCED that arrives after the node came back is stale). */
static int receive_fence(struct cl_cluster *c, uint32_t from, const void *buf, size_t len, usec_t now)
{
	struct clm_fence_msg m;
	struct cl_fence *f;
	enum clm_fence old;
	int x, r = clm_decode_fence(buf, len, &m);

	if (r < 0)
		return reject(c, from, "malformed fence record", r, now);
	x = cfg_node_by_id(c->cfg, m.node);
	if (x < 0)
		return reject(c, from, "fence record of a node not in our config", -EBADMSG, now);
	f = &c->fence[x];
	if (m.version <= f->version || (m.state == CLM_FENCE_FENCED && c->member[x]))
		return -ESTALE;
	old = f->state;
	f->state = (enum clm_fence)m.state;
	f->how = (enum clm_fence_how)m.how;
	f->version = m.version;
	f->since = now;
	snprintf(f->reason, sizeof(f->reason), "%s", m.reason);
	{
		struct cl_event ev = {.kind = CL_EV_FENCE,
				      .node_id = m.node,
				      .old_state = (int)old,
				      .new_state = (int)f->state,
				      .reason = f->reason,
				      .now = now};
		fire(c, &ev);
	}
	return 0;
}

const char *cl_admin_name(enum clm_admin s)
{
	return (unsigned)s < sizeof(admin_names) / sizeof(admin_names[0]) ? admin_names[s] : "?";
}

struct cl_admin cl_cluster_admin(const struct cl_cluster *c, uint32_t node_id)
{
	int x = cfg_node_by_id(c->cfg, node_id);
	struct cl_admin none = {.state = CLM_ADMIN_NONE};

	return x < 0 ? none : c->admin[x];
}

bool cl_cluster_accepts_vms(const struct cl_cluster *c, uint32_t node_id)
{
	int x = cfg_node_by_id(c->cfg, node_id);

	return x >= 0 && c->state[x] == CL_NODE_ONLINE && c->admin[x].state == CLM_ADMIN_NONE && c->inv[x] &&
	       c->inv[x]->libvirt_up;
}

/* A node's admin register (see CLM_ADMIN): newer versions win; a conditional
 * one applies only on the version it was based on. Stale ones are normal
 * (re-sent registers, races with an admin) and are dropped silently. Ending
 * a drain (abort, or undrain) fails the drain's queued migrations here, in
 * CPG order, so no source starts one after the abort; running ones are
 * aborted by their source, which sees the same event. */
static int receive_admin(struct cl_cluster *c, uint32_t from, const void *buf, size_t len, usec_t now)
{
	struct clm_admin_msg m;
	struct cl_admin *a;
	enum clm_admin old;
	uint64_t old_drain;
	int x, r = clm_decode_admin(buf, len, &m);

	if (r < 0)
		return reject(c, from, "malformed admin state", r, now);
	x = cfg_node_by_id(c->cfg, m.node);
	if (x < 0)
		return reject(c, from, "admin state of a node not in our config", -EBADMSG, now);
	a = &c->admin[x];
	if (m.version <= a->version || (m.if_version && m.if_version != a->version))
		return -ESTALE;
	old = a->state;
	old_drain = a->drain;
	a->version = m.version;
	a->state = (enum clm_admin)m.state;
	a->drain = m.state == CLM_ADMIN_NONE ? 0 : m.drain;
	a->blocked = m.flags & CLM_ADM_BLOCKED;
	snprintf(a->reason, sizeof(a->reason), "%s", m.reason);
	if (old != a->state)
		a->since = now;
	if (old == CLM_ADMIN_DRAINING && a->drain != old_drain) {
		for (size_t i = 0; i < c->n_migs; i++)
			if (c->migs[i].drain == old_drain && c->migs[i].state == CLM_MIG_REQUESTED)
				mig_set(c, &c->migs[i], CLM_MIG_FAILED,
					a->state == CLM_ADMIN_NONE ? "the drain was aborted"
								   : "the drain was restarted",
					now);
		admit(c);
	}
	{
		struct cl_event ev = {.kind = CL_EV_ADMIN,
				      .node_id = m.node,
				      .old_state = (int)old,
				      .new_state = (int)a->state,
				      .reason = a->reason,
				      .mig_id = old_drain,
				      .now = now};
		fire(c, &ev);
	}
	return 0;
}

struct ha_registry *cl_cluster_ha(const struct cl_cluster *c)
{
	return c->ha;
}

static int receive_ha(struct cl_cluster *c, uint32_t from, const void *buf, size_t len, usec_t now)
{
	struct ha_msg m;
	int r = ha_msg_decode(buf, len, &m);

	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return reject(c, from, "malformed HA registry entry", r, now);
	r = ha_registry_apply(c->ha, &m);
	if (r > 0) {
		struct cl_event ev = {.kind = CL_EV_HA,
				      .node_id = from,
				      .new_state = m.op,
				      .reason = m.vm.name,
				      .now = now};
		fire(c, &ev);
	}
	ha_msg_clear(&m);
	return r < 0 ? r : 0;
}

int cl_cluster_receive(struct cl_cluster *c, uint32_t from, const void *buf, size_t len, usec_t now)
{
	struct clm_link_view *v;
	uint32_t sender;
	uint8_t type;
	int x, r;

	r = clm_peek(buf, len, &type, &sender);
	if (r == -EPROTONOSUPPORT)
		return reject(c, from, "unsupported message version (ignored)", r, now);
	if (r < 0)
		return reject(c, from, "malformed message header", r, now);
	if (sender != from)
		return reject(c, from, "sender field does not match the CPG sender", -EBADMSG, now);
	if (type != CLM_LINK_VIEW && type != CLM_INVENTORY && type != CLM_MIGRATE && type != CLM_MIG_STATE &&
	    type != CLM_ADMIN && type != CLM_HA && type != CLM_FENCE && type != CLM_MIG_COPY)
		return reject(c, from, "unknown message type (ignored)", -ENOMSG, now);
	x = cfg_node_by_id(c->cfg, from);
	if (x < 0)
		return reject(c, from, "sender is not a configured node", -EBADMSG, now);
	/* ours too: every node applies these in the same order */
	if (type == CLM_MIGRATE)
		return receive_migrate(c, from, buf, len, now);
	if (type == CLM_MIG_STATE)
		return receive_mig_report(c, from, buf, len, now);
	if (type == CLM_MIG_COPY)
		return receive_mig_copy(c, from, buf, len, now);
	if (type == CLM_ADMIN)
		return receive_admin(c, from, buf, len, now);
	if (type == CLM_HA)
		return receive_ha(c, from, buf, len, now);
	if (type == CLM_FENCE)
		return receive_fence(c, from, buf, len, now);
	if (x == c->local_idx)
		return 0; /* our own, in total order: ours is already current */
	if (type == CLM_INVENTORY)
		return receive_inventory(c, (size_t)x, from, buf, len, now);
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = clm_decode_link_view(buf, len, v);
	if (r < 0) {
		free(v);
		return reject(c, from, "malformed link view", r, now);
	}
	if (v->generation <= c->gen_rx[x]) {
		free(v);
		return reject(c, from, "link view older than the one we have (ignored)", -ESTALE, now);
	}
	/* a view is complete: links it does not mention are no longer known */
	memset(c->view[x], 0, sizeof(c->view[x]));
	for (uint16_t i = 0; i < v->count; i++) {
		const struct clm_view_entry *e = &v->entries[i];
		int y = cfg_node_by_id(c->cfg, e->peer);

		if (y < 0 || e->link >= c->cfg->n_networks)
			continue; /* not in our config: a mismatch, not an attack */
		c->view[x][y][e->link] = (struct cl_link_info){.state = (enum hb_link_state)e->state,
							       .cls = (enum hb_class)e->cls,
							       .rtt_us = e->rtt_us,
							       .loss_permille = e->loss_permille,
							       .health = (enum hb_node_health)e->health,
							       .rising = e->rising,
							       .updated = now,
							       .known = true};
	}
	c->gen_rx[x] = v->generation;
	free(v);
	recompute(c, now);
	return 0;
}

int cl_cluster_poll_send(struct cl_cluster *c, usec_t now, uint8_t *buf, size_t cap)
{
	struct clm_link_view *v;
	const struct cfg *cfg = c->cfg;
	int r;

	if (!c->connected)
		return 0;
	if (!c->view_due && now < c->last_sent + CL_VIEW_REFRESH_USEC) {
		struct clm_inventory *inv = c->inv[c->local_idx];

		if (!c->inv_due || !inv)
			return 0;
		inv->generation = c->inv_gen_tx + 1;
		r = clm_encode_inventory(inv, buf, cap);
		if (r < 0)
			return r;
		c->inv_gen_tx++;
		c->inv_due = false;
		c->last_sent_type = CLM_INVENTORY;
		return r;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->sender = c->local_id;
	v->generation = c->gen_tx + 1;
	for (size_t y = 0; y < cfg->n_nodes; y++)
		for (size_t n = 0; n < cfg->n_networks; n++) {
			const struct cl_link_info *i = &c->view[c->local_idx][y][n];

			if (!i->known || v->count >= CLM_MAX_VIEW_ENTRIES)
				continue;
			v->entries[v->count++] = (struct clm_view_entry){.peer = cfg->nodes[y].id,
									 .link = (uint8_t)n,
									 .state = (uint8_t)i->state,
									 .cls = (uint8_t)i->cls,
									 .health = (uint8_t)i->health,
									 .rising = i->rising,
									 .rtt_us = i->rtt_us,
									 .loss_permille = i->loss_permille};
		}
	r = clm_encode_link_view(v, buf, cap);
	free(v);
	if (r < 0)
		return r;
	c->gen_tx++;
	c->view_due = false;
	c->last_sent = now;
	c->last_sent_type = CLM_LINK_VIEW;
	return r;
}

void cl_cluster_send_failed(struct cl_cluster *c)
{
	if (c->last_sent_type == CLM_INVENTORY)
		c->inv_due = true;
	else
		c->view_due = true;
}

usec_t cl_cluster_next_deadline(const struct cl_cluster *c)
{
	if (!c->connected)
		return USEC_INFINITY;
	return c->view_due || (c->inv_due && c->inv[c->local_idx]) ? 0 : c->last_sent + CL_VIEW_REFRESH_USEC;
}

enum cl_node_state cl_cluster_node_state(const struct cl_cluster *c, uint32_t node_id)
{
	int x = cfg_node_by_id(c->cfg, node_id);
	return x < 0 ? CL_NODE_UNKNOWN : c->state[x];
}

uint32_t cl_cluster_degraded_mask(const struct cl_cluster *c, uint32_t node_id)
{
	int x = cfg_node_by_id(c->cfg, node_id);
	return x < 0 ? 0 : c->degraded[x];
}

bool cl_cluster_is_member(const struct cl_cluster *c, uint32_t node_id)
{
	int x = cfg_node_by_id(c->cfg, node_id);
	return x >= 0 && c->member[x];
}

bool cl_cluster_is_connected(const struct cl_cluster *c)
{
	return c->connected;
}

bool cl_cluster_is_quorate(const struct cl_cluster *c)
{
	return c->connected && c->q.quorate;
}

uint32_t cl_cluster_coordinator(const struct cl_cluster *c)
{
	return c->coordinator;
}

const struct cs_quorum *cl_cluster_quorum_info(const struct cl_cluster *c)
{
	return &c->q;
}

int cl_cluster_link(const struct cl_cluster *c, uint32_t from, uint32_t to, uint8_t link,
		    struct cl_link_info *ret)
{
	int x = cfg_node_by_id(c->cfg, from), y = cfg_node_by_id(c->cfg, to);

	if (x < 0 || y < 0 || link >= c->cfg->n_networks || !ret)
		return -ENOENT;
	*ret = c->view[x][y][link];
	return 0;
}
