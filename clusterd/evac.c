/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/evac.c: the failure policy (see evac.h). Costs per step, for N
 * nodes, H HA VMs, M table entries: O(N^2 + H x (N x inventory + M)). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clusterd/evac.h"
#include "clusterd/ha.h"

enum agent_state { AG_IDLE = 0, AG_RUNNING, AG_FAILED, AG_GAVE_UP };

struct node_mem {
	enum agent_state agent;
	bool agent_ok; /* the last run succeeded: publish FENCED (agent) */
	bool suspect;  /* seen dead, still a member (evac_set_suspect) */
	bool early;    /* the agent run (running or done) started on suspicion */
	bool early_tried;
	unsigned attempts;
	usec_t retry_at;
	char agent_why[CLM_REASON_MAX];
	enum cl_node_state last;
	usec_t degraded_since;
	usec_t fails[128]; /* FAILED transitions (ring), for quarantine */
	size_t n_fails;
	uint64_t asked_admin_if; /* an admin change asked on this version (0: none) */
	usec_t asked_admin_at;
	uint64_t asked_fence_version;
	usec_t asked_fence_at;
};

struct asked_start {
	char uuid[CLM_VM_UUID_LEN];
	uint32_t target; /* prepared: 0 once it failed */
	usec_t at;
	bool running; /* prepared: the prepare has not ended yet */
};

struct evac_planner {
	const struct cfg *cfg;
	drain_prefs_cb prefs;
	void *prefs_ud;
	struct node_mem mem[CFG_MAX_NODES];
	struct asked_start asked[CL_MAX_MIGRATIONS];
	size_t n_asked;
	struct asked_start prepared[CL_MAX_MIGRATIONS]; /* copies asked prepared (their target) */
	size_t n_prepared;
	struct evac_node_status status[CFG_MAX_NODES + 1];
	size_t n_status;
	usec_t next;
};

int evac_planner_new(const struct cfg *cfg, struct evac_planner **ret)
{
	struct evac_planner *p;

	if (!cfg || !ret)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	p->next = USEC_INFINITY;
	*ret = p;
	return 0;
}

void evac_planner_free(struct evac_planner *p)
{
	free(p);
}

void evac_planner_set_prefs(struct evac_planner *p, drain_prefs_cb cb, void *ud)
{
	p->prefs = cb;
	p->prefs_ud = ud;
}

void evac_planner_reset(struct evac_planner *p)
{
	memset(p->mem, 0, sizeof(p->mem));
	p->n_asked = 0;
	p->n_prepared = 0;
	p->n_status = 0;
	p->next = USEC_INFINITY;
}

void evac_set_suspect(struct evac_planner *p, uint32_t node, bool suspect)
{
	int x = cfg_node_by_id(p->cfg, node);

	if (x >= 0)
		p->mem[x].suspect = suspect;
}

void evac_agent_done(struct evac_planner *p, uint32_t node, bool ok, const char *why, usec_t now)
{
	int x = cfg_node_by_id(p->cfg, node);
	struct node_mem *m;

	if (x < 0)
		return;
	m = &p->mem[x];
	if (m->agent != AG_RUNNING)
		return;
	snprintf(m->agent_why, sizeof(m->agent_why), "%s", ok ? "" : why ? why : "failed");
	if (ok) {
		m->agent = AG_IDLE; /* the step publishes FENCED (agent) */
		m->agent_ok = true;
		m->retry_at = 0;
		return;
	}
	if (m->early) {
		/* not counted: the failure, once corosync agrees, starts afresh */
		m->early = false;
		m->agent = AG_IDLE;
		m->attempts = 0;
		return;
	}
	m->agent = m->attempts >= EVAC_AGENT_ATTEMPTS ? AG_GAVE_UP : AG_FAILED;
	m->retry_at = now + EVAC_AGENT_RETRY_USEC;
}

/* The prepared entry of uuid, or NULL. */
static struct asked_start *prepared_of(struct evac_planner *p, const char *uuid)
{
	for (size_t i = 0; i < p->n_prepared; i++)
		if (strcmp(p->prepared[i].uuid, uuid) == 0)
			return &p->prepared[i];
	return NULL;
}

static void forget_prepared(struct evac_planner *p, const char *uuid)
{
	struct asked_start *a = prepared_of(p, uuid);

	if (a)
		*a = p->prepared[--p->n_prepared];
}

void evac_prepare_done(struct evac_planner *p, const char *uuid, bool ok)
{
	struct asked_start *a = uuid ? prepared_of(p, uuid) : NULL;

	/* kept, without a target: not prepared again, and its restart placed
	 * afresh */
	if (a && !ok)
		a->target = 0;
	if (a)
		a->running = false;
}

size_t evac_status(const struct evac_planner *p, const struct evac_node_status **ret)
{
	*ret = p->status;
	return p->n_status;
}

usec_t evac_next_deadline(const struct evac_planner *p)
{
	return p->next;
}

static void want_at(struct evac_planner *p, usec_t t)
{
	if (t < p->next)
		p->next = t;
}

static void say(struct evac_planner *p, uint32_t node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(struct evac_planner *p, uint32_t node, const char *fmt, ...)
{
	va_list ap;

	if (p->n_status >= sizeof(p->status) / sizeof(p->status[0]))
		return;
	p->status[p->n_status].node = node;
	va_start(ap, fmt);
	vsnprintf(p->status[p->n_status].text, sizeof(p->status[0].text), fmt, ap);
	va_end(ap);
	p->n_status++;
}

static const char *node_name(const struct cfg *cfg, uint32_t id)
{
	int x = cfg_node_by_id(cfg, id);
	return x >= 0 ? cfg->nodes[x].name : "?";
}

static void publish_fence(struct evac_planner *p, const struct cl_cluster *c, struct evac_out *out, size_t x,
			  enum clm_fence_how how, const char *reason, usec_t now)
{
	struct cl_fence f = cl_cluster_fence(c, p->cfg->nodes[x].id);
	struct node_mem *m = &p->mem[x];
	struct evac_fence *o;

	if (m->asked_fence_version == f.version + 1 && now < m->asked_fence_at + DRAIN_PENDING_USEC)
		return; /* asked, not delivered yet */
	if (out->n_fences == CFG_MAX_NODES)
		return;
	o = &out->fences[out->n_fences++];
	*o = (struct evac_fence){.node = p->cfg->nodes[x].id, .how = how, .version = f.version + 1};
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	m->asked_fence_version = f.version + 1;
	m->asked_fence_at = now;
}

static void publish_admin(struct evac_planner *p, const struct cl_cluster *c, struct evac_out *out, size_t x,
			  enum clm_admin state, const char *reason, usec_t now)
{
	struct cl_admin a = cl_cluster_admin(c, p->cfg->nodes[x].id);
	struct node_mem *m = &p->mem[x];
	struct drain_admin *o;

	if ((m->asked_admin_if == a.version && now < m->asked_admin_at + DRAIN_PENDING_USEC) ||
	    out->n_admin == CFG_MAX_NODES)
		return;
	o = &out->admin[out->n_admin++];
	*o = (struct drain_admin){.node = p->cfg->nodes[x].id,
				  .state = state,
				  .version = a.version + 1,
				  .if_version = a.version,
				  .drain = state == CLM_ADMIN_DRAINING ? a.version + 1 : 0};
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	m->asked_admin_if = a.version;
	m->asked_admin_at = now;
}

/* Is absent node x known to be fenced? If not, drive it there (agent run,
 * self-fence wait) and say what it waits for. */
static bool fenced(struct evac_planner *p, const struct cl_cluster *c, size_t x, usec_t now,
		   struct evac_out *out)
{
	const struct cfg *cfg = p->cfg;
	uint32_t id = cfg->nodes[x].id;
	struct cl_fence f = cl_cluster_fence(c, id);
	struct node_mem *m = &p->mem[x];
	const struct cs_quorum *q = cl_cluster_quorum_info(c);
	bool in_corosync = false, agent = cfg->fencing.mode == CFG_FENCE_AGENT && cfg->fencing.agent[0];
	usec_t base, until;

	if (f.state == CLM_FENCE_FENCED) {
		say(p, id, "fenced (%s)", cl_fence_how_name(f.how));
		return true;
	}
	if (cfg->fencing.mode == CFG_FENCE_NONE) {
		say(p, id,
		    "not fenced: fencing.mode is none; nothing it ran is restarted until 'clusterctl fence "
		    "%s "
		    "--confirm'",
		    cfg->nodes[x].name);
		return false;
	}
	for (size_t i = 0; i < q->n_members; i++)
		in_corosync |= q->members[i] == id;
	if (agent && m->agent_ok) {
		publish_fence(p, c, out, x, CLM_FENCED_AGENT, "the fence agent powered it off", now);
		say(p, id, "fenced by the agent (publishing)");
		return false;
	}
	if (agent && m->agent != AG_GAVE_UP) {
		if (m->agent == AG_RUNNING) {
			say(p, id, "fence agent running (attempt %u of %d)", m->attempts,
			    EVAC_AGENT_ATTEMPTS);
			return false;
		}
		if (m->agent == AG_FAILED && now < m->retry_at) {
			want_at(p, m->retry_at);
			say(p, id, "fence agent failed (%s); retrying", m->agent_why);
			return false;
		}
		if (out->n_run_agent < CFG_MAX_NODES) {
			out->run_agent[out->n_run_agent++] = id;
			m->agent = AG_RUNNING;
			m->attempts++;
			m->agent_why[0] = '\0';
		}
		say(p, id, "fence agent running (attempt %u of %d)", m->attempts, EVAC_AGENT_ATTEMPTS);
		return false;
	}
	if (agent && !cfg->fencing.allow_self_fence_fallback) {
		say(p, id,
		    "not fenced, nothing it ran is restarted: allow_self_fence_fallback is off and the fence "
		    "agent "
		    "failed %d times (%.70s)",
		    EVAC_AGENT_ATTEMPTS, m->agent_why);
		return false;
	}
	if (in_corosync) {
		/* its corosync is in our quorate membership: it is quorate, so it
		 * never self-fences — its VMs may well still run */
		say(p, id,
		    "not fenced: clusterd is gone there but corosync is not, so it keeps quorum and does not "
		    "self-fence; %s",
		    agent ? "the fence agent failed"
			  : "configure a fence agent or 'clusterctl fence NODE --confirm'");
		return false;
	}
	/* it lost quorum at the latest when we gained it, or when it left us */
	base = cl_cluster_left_at(c, id);
	if (cl_cluster_quorate_since(c) > base)
		base = cl_cluster_quorate_since(c);
	until = base + (usec_t)cfg->fencing.self_fence_ms * USEC_PER_MSEC + EVAC_MARGIN_USEC;
	if (now < until) {
		want_at(p, until);
		say(p, id, "self-fence wait: %llu ms left%s%s%s",
		    (unsigned long long)((until - now) / USEC_PER_MSEC),
		    agent ? " (the fence agent failed: " : "", agent ? m->agent_why : "", agent ? ")" : "");
		return false;
	}
	publish_fence(p, c, out, x, CLM_FENCED_SELF_WAIT,
		      agent ? "the fence agent failed; self-fence time passed" : "self-fence time passed",
		      now);
	say(p, id, "self-fence time passed (publishing)");
	return false;
}

/* Member x is suspected dead: with an agent, fence it now (once) if the
 * members not suspected still hold quorum's votes. Its memory is kept while
 * suspected or while an agent run is in flight; otherwise a member starts
 * afresh (a later failure is fenced anew). */
static void suspected_member(struct evac_planner *p, const struct cl_cluster *c, size_t x, usec_t now,
			     struct evac_out *out)
{
	const struct cfg *cfg = p->cfg;
	const struct cs_quorum *q = cl_cluster_quorum_info(c);
	struct node_mem *m = &p->mem[x];
	/* quorum's votes, and never less than a majority of the configured
	 * nodes: an early fence is only a head start, so when corosync's
	 * figure is missing (0) or lower it must not open the door to a
	 * coordinator that is the one cut off */
	uint32_t alive = 0, need = (uint32_t)cfg->n_nodes / 2 + 1;

	if (q->quorum > need)
		need = q->quorum;
	if (!m->suspect) {
		if (m->agent != AG_RUNNING) {
			m->agent = AG_IDLE;
			m->agent_ok = false;
			m->attempts = 0;
			m->early = false;
		}
		m->early_tried = false;
		return;
	}
	if (cfg->fencing.mode != CFG_FENCE_AGENT || !cfg->fencing.agent[0])
		return;
	if (m->agent_ok) {
		say(p, cfg->nodes[x].id, "seen dead, fenced by the agent; waiting for corosync to agree");
		return;
	}
	if (m->agent == AG_RUNNING) {
		say(p, cfg->nodes[x].id, "seen dead: fence agent running early");
		return;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++)
		alive += cl_cluster_is_member(c, cfg->nodes[i].id) && !p->mem[i].suspect;
	if (m->early_tried || alive < need || out->n_run_agent == CFG_MAX_NODES)
		return;
	out->run_agent[out->n_run_agent++] = cfg->nodes[x].id;
	m->agent = AG_RUNNING;
	m->attempts++;
	m->early = true;
	m->early_tried = true;
	m->agent_why[0] = '\0';
	say(p, cfg->nodes[x].id, "seen dead (heartbeat and corosync's links): fence agent running early");
}

static bool active(const struct cl_migration *m)
{
	return m->state == CLM_MIG_REQUESTED || m->state == CLM_MIG_RUNNING;
}

/* Where any member's inventory lists uuid (any state), or 0; members with
 * skip[x] set are not looked at (NULL: none skipped). */
static uint32_t listed_on(const struct cl_cluster *c, const struct cfg *cfg, const char *uuid,
			  const bool *skip)
{
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct clm_vm *vms;
		size_t n;
		bool up, known;

		if ((skip && skip[i]) || !cl_cluster_is_member(c, cfg->nodes[i].id) ||
		    cl_cluster_inventory(c, cfg->nodes[i].id, &vms, &n, &up, &known) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			if (strcmp(vms[k].uuid, uuid) == 0)
				return cfg->nodes[i].id;
	}
	return 0;
}

static void expire_asked(struct evac_planner *p, const struct cl_cluster *c, usec_t now)
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
	for (size_t i = 0; i < p->n_prepared; i++)
		if (now < p->prepared[i].at + EVAC_PREPARED_KEEP_USEC)
			p->prepared[k++] = p->prepared[i];
	p->n_prepared = k;
}

/* Restart the HA VMs no member lists. Only called when every absent node
 * is fenced and every member's inventory is known. With early (the members
 * the agent fenced before corosync agrees, by index), prepare instead: the
 * HA VMs only those members list get a paused copy on the node they will be
 * restarted on (evac_prepare_done); never one of them. */
static void restarts(struct evac_planner *p, const struct cl_cluster *c, usec_t now, struct evac_out *out,
		     const bool *early)
{
	const struct cfg *cfg = p->cfg;
	const struct ha_registry *reg = cl_cluster_ha(c);
	const struct cl_migration *migs;
	size_t n_migs = cl_cluster_migrations(c, &migs), n_ha = ha_registry_count(reg), n_cand = 0, n_nodes,
	       n_flows = 0, stuck = 0, placed = 0;
	struct mig_node nodes[CFG_MAX_NODES];
	char why[CFG_MAX_NODES][80], text[CLM_REASON_MAX] = "";
	/* flows: the table's, the asked, the prepares running */
	struct mig_flow flows[3 * CL_MAX_MIGRATIONS], waiting[CL_MAX_MIGRATIONS];
	size_t which[CL_MAX_MIGRATIONS], idx[CL_MAX_MIGRATIONS], n_wait = 0, n_start;
	struct mig_limits lim = {.per_source = CL_MAX_MIGRATIONS, /* the source is gone */
				 .per_target = cfg->migration.max_concurrent,
				 .cluster = cfg->migration.max_cluster};
	struct drain_cand *cand;

	if (n_ha == 0)
		return;
	cand = calloc(n_ha, sizeof(*cand));
	if (!cand)
		return;
	for (size_t m = 0; m < n_migs; m++)
		if (active(&migs[m]))
			flows[n_flows++] = (struct mig_flow){.source = 0, .target = migs[m].target};
	for (size_t i = 0; i < p->n_asked; i++)
		flows[n_flows++] = (struct mig_flow){.source = 0, .target = p->asked[i].target};
	for (size_t i = 0; early && i < p->n_prepared; i++)
		if (p->prepared[i].running)
			flows[n_flows++] = (struct mig_flow){.source = 0, .target = p->prepared[i].target};
	for (size_t e = 0; e < n_ha; e++) {
		const struct ha_vm *h = ha_registry_list(reg, e);
		struct drain_cand *k = &cand[n_cand];
		const struct asked_start *prep = prepared_of(p, h->uuid);
		const char *last = "";
		size_t fails = 0;
		bool busy = false;

		if (listed_on(c, cfg, h->uuid, early))
			continue;
		/* prepared: what only the early-fenced list, once */
		if (early && (!listed_on(c, cfg, h->uuid, NULL) || prep))
			continue;
		for (size_t i = 0; i < p->n_asked && !busy; i++)
			busy = strcmp(p->asked[i].uuid, h->uuid) == 0;
		/* its copy is still being prepared: the order waits for it (a
		 * while), or the two creates race on its node */
		if (!early && prep && prep->running) {
			if (now < prep->at + EVAC_PREPARE_WAIT_USEC) {
				want_at(p, prep->at + EVAC_PREPARE_WAIT_USEC);
				continue;
			}
			forget_prepared(p, h->uuid);
			prep = NULL;
		}
		*k = (struct drain_cand){0};
		/* nor on a member seen dead, fenced or not */
		for (size_t x = 0; early && x < cfg->n_nodes; x++)
			if (early[x] || p->mem[x].suspect)
				k->exclude[k->n_exclude++] = cfg->nodes[x].id;
		for (size_t m = 0; m < n_migs && !busy; m++) {
			const char *w;

			if (strcmp(migs[m].uuid, h->uuid) != 0)
				continue;
			/* a move that just ended: its target (a member) will list the VM
			 * any moment; a target that is gone lists nothing, ever */
			busy = active(&migs[m]) || (migs[m].state == CLM_MIG_SUCCEEDED &&
						    now < migs[m].updated + DRAIN_SETTLE_USEC &&
						    cl_cluster_is_member(c, migs[m].target));
			if (migs[m].kind == CLM_KIND_START && migs[m].state == CLM_MIG_FAILED) {
				if (k->n_exclude < CFG_MAX_NODES)
					k->exclude[k->n_exclude++] = migs[m].target;
				if (drain_target_ok(c, cfg, 0, migs[m].target, &w)) {
					fails++;
					last = migs[m].reason;
				}
			}
		}
		if (busy)
			continue;
		if (fails >= EVAC_MAX_ATTEMPTS) {
			size_t off = strlen(text);
			snprintf(text + off, sizeof(text) - off, "%s%.64s: failed twice (%.60s)",
				 off ? "; " : "", h->name, last);
			stuck++;
			continue;
		}
		snprintf(k->vm.name, sizeof(k->vm.name), "%s", h->name);
		memcpy(k->uuid, h->uuid, sizeof(k->uuid));
		if (ha_xml_size(h->xml, &k->vm.mem_kib, &k->vm.vcpus) < 0) {
			k->vm.mem_kib = 0;
			k->vm.vcpus = 1;
		}
		k->vm.priority = h->priority;
		for (size_t i = 0; i < HA_NODES_MAX && i < MIG_MAX_PREFS; i++) {
			k->vm.preferred[i] = h->preferred[i];
			k->vm.forbidden[i] = h->forbidden[i];
		}
		/* its copy waits paused there: that node first (the preferences
		 * chose it already) */
		if (!early && prep && prep->target) {
			memset(k->vm.preferred, 0, sizeof(k->vm.preferred));
			k->vm.preferred[0] = prep->target;
		}
		n_cand++;
	}
	qsort(cand, n_cand, sizeof(*cand), drain_cand_cmp);
	n_nodes = drain_capacities(c, cfg, 0, nodes, why);
	for (size_t i = 0; i < n_cand; i++) {
		struct mig_placement pl;

		if (!drain_place(&cand[i], nodes, n_nodes, 0, &pl)) {
			size_t off = strlen(text);
			snprintf(text + off, sizeof(text) - off, "%s%s: %s", off ? "; " : "", cand[i].vm.name,
				 mig_unplaced_str(pl.why));
			stuck++;
			continue;
		}
		placed++;
		if (n_wait < CL_MAX_MIGRATIONS) {
			waiting[n_wait] = (struct mig_flow){.source = 0, .target = pl.target};
			which[n_wait++] = i;
		}
	}
	n_start = mig_schedule(flows, n_flows, waiting, n_wait, &lim, idx);
	for (size_t s = 0; s < n_start; s++) {
		const struct drain_cand *k = &cand[which[idx[s]]];
		struct asked_start *a;
		struct drain_order *o;

		if (early ? out->n_prepares == CL_MAX_MIGRATIONS || p->n_prepared == CL_MAX_MIGRATIONS
			  : out->n_starts == CL_MAX_MIGRATIONS || p->n_asked == CL_MAX_MIGRATIONS)
			break;
		o = early ? &out->prepares[out->n_prepares++] : &out->starts[out->n_starts++];
		*o = (struct drain_order){.source = 0, .target = waiting[idx[s]].target};
		memcpy(o->uuid, k->uuid, sizeof(o->uuid));
		snprintf(o->name, sizeof(o->name), "%s", k->vm.name);
		if (!early)
			forget_prepared(p, k->uuid); /* ordered: the copy is its target's now */
		a = early ? &p->prepared[p->n_prepared++] : &p->asked[p->n_asked++];
		*a = (struct asked_start){.target = o->target, .at = now, .running = early != NULL};
		memcpy(a->uuid, k->uuid, sizeof(k->uuid));
	}
	/* (what is prepared is said when it is restarted) */
	if (!early && (placed || stuck))
		say(p, 0, "restarting %zu HA VM(s)%s%s", placed, stuck ? "; cannot: " : "", text);
	free(cand);
}

/* Quarantine and degraded-drain bookkeeping for member x. */
static void member_policy(struct evac_planner *p, const struct cl_cluster *c, size_t x, usec_t now,
			  struct evac_out *out)
{
	const struct cfg *cfg = p->cfg;
	uint32_t id = cfg->nodes[x].id;
	struct node_mem *m = &p->mem[x];
	enum cl_node_state st = cl_cluster_node_state(c, id);
	struct cl_admin a = cl_cluster_admin(c, id);

	if (st == CL_NODE_DEGRADED) {
		usec_t grace = (usec_t)cfg->heartbeat.degraded_grace_s * USEC_PER_SEC;

		if (!m->degraded_since)
			m->degraded_since = now ? now : 1;
		if (a.state == CLM_ADMIN_NONE) {
			if (now >= m->degraded_since + grace) {
				char why[CLM_REASON_MAX];
				snprintf(why, sizeof(why), "degraded for %llu s: drained live (not fenced)",
					 (unsigned long long)((now - m->degraded_since) / USEC_PER_SEC));
				publish_admin(p, c, out, x, CLM_ADMIN_DRAINING, why, now);
			} else {
				want_at(p, m->degraded_since + grace);
				say(p, id, "degraded: drained live if it lasts %llu s more",
				    (unsigned long long)((m->degraded_since + grace - now) / USEC_PER_SEC));
			}
		}
	} else {
		m->degraded_since = 0;
	}
	if (a.state == CLM_ADMIN_QUARANTINED) {
		usec_t end = a.since + (usec_t)cfg->fencing.quarantine_s * USEC_PER_SEC;

		if (now >= end)
			publish_admin(p, c, out, x, CLM_ADMIN_NONE, "quarantine over", now);
		else
			want_at(p, end);
	}
}

/* Count FAILED transitions; quarantine past the limit in the window. */
static void count_failures(struct evac_planner *p, const struct cl_cluster *c, size_t x, usec_t now,
			   struct evac_out *out)
{
	const struct cfg *cfg = p->cfg;
	struct node_mem *m = &p->mem[x];
	enum cl_node_state st = cl_cluster_node_state(c, cfg->nodes[x].id);
	usec_t window = (usec_t)cfg->fencing.quarantine_window_s * USEC_PER_SEC;
	size_t cap = sizeof(m->fails) / sizeof(m->fails[0]), recent = 0;

	if (st == CL_NODE_FAILED && m->last != CL_NODE_FAILED && m->last != CL_NODE_UNKNOWN)
		m->fails[m->n_fails++ % cap] = now ? now : 1;
	m->last = st;
	for (size_t i = 0; i < m->n_fails && i < cap; i++)
		recent += m->fails[i] && now - m->fails[i] < window;
	if (recent >= cfg->fencing.quarantine_failures &&
	    cl_cluster_admin(c, cfg->nodes[x].id).state == CLM_ADMIN_NONE && st != CL_NODE_FAILED) {
		char why[CLM_REASON_MAX];

		snprintf(why, sizeof(why), "failed %zu times within %u s: no VMs are placed on it for %u s",
			 recent, cfg->fencing.quarantine_window_s, cfg->fencing.quarantine_s);
		publish_admin(p, c, out, x, CLM_ADMIN_QUARANTINED, why, now);
		m->n_fails = 0;
		memset(m->fails, 0, sizeof(m->fails));
	}
}

void evac_step(struct evac_planner *p, const struct cl_cluster *c, usec_t now, struct evac_out *out)
{
	const struct cfg *cfg = p->cfg;
	bool all_fenced = true, inventories = true, inv_alive = true, early[CFG_MAX_NODES] = {0},
	     any_early = false;
	char blind[CLM_REASON_MAX] = "";

	memset(out, 0, sizeof(*out));
	p->n_status = 0;
	p->next = USEC_INFINITY;
	if (!cl_cluster_is_quorate(c))
		return;
	expire_asked(p, c, now);
	for (size_t x = 0; x < cfg->n_nodes; x++) {
		uint32_t id = cfg->nodes[x].id;

		count_failures(p, c, x, now, out);
		if (cl_cluster_is_member(c, id)) {
			const struct clm_vm *vms;
			size_t n;
			bool up, known;

			suspected_member(p, c, x, now, out);
			member_policy(p, c, x, now, out);
			early[x] = p->mem[x].suspect && p->mem[x].agent_ok;
			any_early |= early[x];
			if (cl_cluster_inventory(c, id, &vms, &n, &up, &known) < 0 || !known || !up) {
				size_t off = strlen(blind);
				snprintf(blind + off, sizeof(blind) - off, "%s%s", off ? " " : "",
					 cfg->nodes[x].name);
				inventories = false;
				inv_alive &= early[x];
			}
			continue;
		}
		if (cl_cluster_node_state(c, id) != CL_NODE_FAILED) {
			/* UNKNOWN: corosync runs there but its clusterd has not joined
			 * since we started (starting up): never fenced for that, but
			 * what it may run is not known either */
			say(p, id, "not a member yet (%s): waiting for it to join",
			    cl_node_state_name(cl_cluster_node_state(c, id)));
			all_fenced = false;
			continue;
		}
		if (!fenced(p, c, x, now, out))
			all_fenced = false;
	}
	if (!inventories)
		say(p, 0, "no restarts until the VM lists of every member are known (libvirt: %s)", blind);
	else if (!all_fenced)
		say(p, 0, "no restarts until every absent node is fenced");
	else
		restarts(p, c, now, out, NULL);
	if (any_early && inv_alive && all_fenced)
		restarts(p, c, now, out, early);
	(void)node_name;
}
