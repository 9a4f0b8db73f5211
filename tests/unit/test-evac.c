/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-evac.c: self-fencing (isolation grace, once per loss,
 * start-up counts as a loss) and the coordinator's failure policy over a
 * real replicated state fed what CPG would deliver: nothing restarted before
 * the absent node is fenced (self-fence wait, agent success, admin), agent
 * retries and the fallback, a node whose corosync still runs never counted
 * as self-fenced, nothing while a member's VM list is unknown or without
 * quorum, restarts in priority order under the per-node limit, a restart
 * that fails retried once elsewhere, and quarantine. Fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/cluster-fixture.h"

#include "clusterd/cluster.h"
#include "clusterd/evac.h"
#include "clusterd/prepared.h"
#include "clusterd/ha.h"
#include "clusterd/selffence.h"

#define N       3
#define MS      USEC_PER_MSEC
#define S       USEC_PER_SEC
#define GIB_KIB (1024 * 1024)

static struct cfg *cfg;
static char dir[] = "/tmp/test-evac.XXXXXX";

static int setup(void **state)
{
	cfg = fixture_cfg(
		dir, N,
		"fencing = { self_fence_ms = 4000; isolation_grace_ms = 1000; quarantine_failures = 2;\n"
		"  quarantine_window_s = 600; quarantine_s = 60; };\n"
		"migration = { max_concurrent = 1; };\n");
	return cfg ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	cfg_free(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- self-fencing ---- */

static void test_selffence(void **state)
{
	struct sf_guard g;

	/* start-up is a loss: HA VMs running here while not quorate are stopped */
	sf_init(&g, true, 1000, 4000, 10 * S);
	assert_false(sf_may_start(&g));
	assert_int_equal(sf_next_deadline(&g), 11 * S);
	assert_int_equal(sf_tick(&g, 10 * S + 999 * MS), SF_NONE);
	sf_quorum(&g, true, 10 * S + 500 * MS); /* quorate in time: nothing */
	assert_int_equal(sf_tick(&g, 20 * S), SF_NONE);
	assert_true(sf_may_start(&g));
	assert_int_equal(sf_next_deadline(&g), USEC_INFINITY);
	/* a blip shorter than the grace is forgiven */
	sf_quorum(&g, false, 30 * S);
	assert_false(sf_may_start(&g));
	assert_int_equal(sf_tick(&g, 30 * S + 900 * MS), SF_NONE);
	sf_quorum(&g, true, 30 * S + 950 * MS);
	assert_int_equal(sf_tick(&g, 40 * S), SF_NONE);
	/* a real loss: once, at the grace, with the deadline's time left */
	sf_quorum(&g, false, 50 * S);
	assert_int_equal(sf_tick(&g, 51 * S - 1), SF_NONE);
	assert_int_equal(sf_tick(&g, 51 * S), SF_FENCE);
	assert_int_equal(sf_time_left(&g, 51 * S), 3 * S);
	assert_int_equal(sf_tick(&g, 52 * S), SF_NONE);
	assert_int_equal(sf_next_deadline(&g), USEC_INFINITY);
	/* quorum back, lost again: acts again */
	sf_quorum(&g, true, 60 * S);
	sf_quorum(&g, false, 70 * S);
	assert_int_equal(sf_tick(&g, 71 * S), SF_FENCE);
	/* the watchdog: fed while quorate, in the grace, and after a self-fence
	 * that worked; not when it failed (or clusterd hangs: nobody feeds) */
	sf_quorum(&g, true, 80 * S);
	assert_true(sf_feed_watchdog(&g, false, 80 * S));
	sf_quorum(&g, false, 90 * S);
	assert_true(sf_feed_watchdog(&g, false, 90 * S + 999 * MS));
	assert_int_equal(sf_tick(&g, 91 * S), SF_FENCE);
	assert_false(sf_feed_watchdog(&g, false, 91 * S));
	assert_true(sf_feed_watchdog(&g, true, 91 * S));
	/* fencing.mode none: never */
	sf_init(&g, false, 1000, 4000, 0);
	assert_int_equal(sf_tick(&g, 100 * S), SF_NONE);
	assert_int_equal(sf_next_deadline(&g), USEC_INFINITY);
}

/* ---- the failure policy ---- */

struct world {
	struct cl_cluster *c;
	struct evac_planner *p;
	struct evac_out out;
	struct clm_vm vms[N + 1][8];
	size_t n_vms[N + 1];
	uint32_t gen[N + 1];
	uint64_t next_id;
	usec_t now;
};

static void deliver_at(struct world *w, uint32_t from, const uint8_t *buf, int len, int line)
{
	if (len <= 0)
		fail_msg("encoding the message at line %d failed: %d", line, len);
	(void)cl_cluster_receive(w->c, from, buf, (size_t)len, w->now);
}
#define deliver(w, from, buf, len) deliver_at(w, from, buf, len, __LINE__)

static void publish_inv(struct world *w, uint32_t x)
{
	static struct clm_inventory inv;
	static uint8_t buf[CLM_HEADER_LEN + CLM_INV_HEADER_LEN + 8 * CLM_INV_ENTRY_LEN];

	if (x == 1) {
		cl_cluster_local_inventory(w->c, w->vms[1], w->n_vms[1], true, 8ull * GIB_KIB, 2, w->now);
		return;
	}
	memset(&inv, 0, sizeof(inv));
	inv = (struct clm_inventory){.sender = x,
				     .generation = ++w->gen[x],
				     .libvirt_up = true,
				     .host_free_kib = 8ull * GIB_KIB,
				     .host_cpus = 2,
				     .count = (uint16_t)w->n_vms[x]};
	memcpy(inv.vms, w->vms[x], w->n_vms[x] * sizeof(struct clm_vm));
	deliver(w, x, buf, clm_encode_inventory(&inv, buf, sizeof(buf)));
}

static void members(struct world *w, const uint32_t *ids, size_t n, const uint32_t *cs_ids, size_t n_cs)
{
	struct cs_quorum q = {
		.quorate = n_cs * 2 > N, .total_votes = (uint32_t)n_cs, .expected_votes = N, .quorum = 2};

	memcpy(q.members, cs_ids, n_cs * sizeof(*cs_ids));
	q.n_members = n_cs;
	cl_cluster_membership(w->c, ids, n, w->now);
	cl_cluster_quorum(w->c, &q, w->now);
}

static const char *uuid_of(char id)
{
	static char u[37];

	memset(u, id, 36);
	u[8] = u[13] = u[18] = u[23] = '-';
	u[36] = '\0';
	return u;
}

static void ha_add(struct world *w, const char *name, char id, int prio)
{
	struct ha_msg m = {.sender = 2, .op = HA_OP_SET};
	uint8_t buf[4096];
	char xml[512];

	snprintf(xml, sizeof(xml),
		 "<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory unit='KiB'>262144"
		 "</memory><vcpu placement='static'>1</vcpu></domain>",
		 name, uuid_of(id));
	memcpy(m.vm.uuid, uuid_of(id), 37);
	snprintf(m.vm.name, sizeof(m.vm.name), "%s", name);
	m.vm.priority = prio;
	m.vm.version = 10;
	m.vm.xml = xml;
	deliver(w, 2, buf, ha_msg_encode(&m, buf, sizeof(buf)));
	assert_non_null(ha_registry_find(cl_cluster_ha(w->c), uuid_of(id)));
}

static struct clm_vm mkvm(const char *name, char id)
{
	struct clm_vm v;

	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "%s", name);
	memcpy(v.uuid, uuid_of(id), 37);
	v.state = CLM_VM_RUNNING;
	v.vcpus = 1;
	v.mem_kib = 262144;
	return v;
}

/* Three nodes up, n3 runs "web" (HA, priority 1) and "db" (HA, priority 5). */
static void world_up(struct world *w)
{
	const uint32_t all[] = {1, 2, 3};

	memset(w, 0, sizeof(*w));
	w->now = 100 * S;
	w->next_id = 1;
	assert_int_equal(cl_cluster_new(cfg, 1, &w->c), 0);
	assert_int_equal(evac_planner_new(cfg, &w->p), 0);
	cl_cluster_connected(w->c, true, w->now);
	members(w, all, 3, all, 3);
	w->vms[3][0] = mkvm("web", 'a');
	w->vms[3][1] = mkvm("db", 'b');
	w->n_vms[3] = 2;
	for (uint32_t x = 1; x <= N; x++)
		publish_inv(w, x);
	ha_add(w, "web", 'a', 1);
	ha_add(w, "db", 'b', 5);
}

static void world_down(struct world *w)
{
	evac_planner_free(w->p);
	cl_cluster_free(w->c);
}

static void step(struct world *w)
{
	evac_step(w->p, w->c, w->now, &w->out);
}

static const char *status_of(struct world *w, uint32_t node)
{
	const struct evac_node_status *st;
	size_t n = evac_status(w->p, &st);

	for (size_t i = 0; i < n; i++)
		if (st[i].node == node)
			return st[i].text;
	return "";
}

static void apply_out(struct world *w)
{
	for (size_t i = 0; i < w->out.n_fences; i++) {
		struct clm_fence_msg m = {.sender = 1,
					  .node = w->out.fences[i].node,
					  .state = CLM_FENCE_FENCED,
					  .how = (uint8_t)w->out.fences[i].how,
					  .version = w->out.fences[i].version};
		uint8_t buf[CLM_FENCE_LEN];

		deliver(w, 1, buf, clm_encode_fence(&m, buf, sizeof(buf)));
	}
	for (size_t i = 0; i < w->out.n_starts; i++) {
		const struct drain_order *o = &w->out.starts[i];
		struct clm_migrate m = {.sender = 1,
					.id = w->next_id++,
					.source = 3,
					.target = o->target,
					.kind = CLM_KIND_START};
		uint8_t buf[CLM_MIGRATE_LEN];

		memcpy(m.uuid, o->uuid, sizeof(m.uuid));
		memcpy(m.name, o->name, sizeof(m.name));
		deliver(w, 1, buf, clm_encode_migrate(&m, buf, sizeof(buf)));
	}
	for (size_t i = 0; i < w->out.n_admin; i++) {
		const struct drain_admin *a = &w->out.admin[i];
		struct clm_admin_msg m = {.sender = 1,
					  .node = a->node,
					  .state = (uint8_t)a->state,
					  .version = a->version,
					  .if_version = a->if_version,
					  .drain = a->drain};
		uint8_t buf[CLM_ADMIN_LEN];

		snprintf(m.reason, sizeof(m.reason), "%s", a->reason);
		deliver(w, 1, buf, clm_encode_admin(&m, buf, sizeof(buf)));
	}
}

static void report(struct world *w, uint64_t id, enum clm_mig_state st, const char *why)
{
	const struct cl_migration *m = cl_cluster_migration(w->c, id);
	struct clm_mig_report r = {.sender = m->target, .id = id, .state = (uint8_t)st, .eta_s = -1};
	uint8_t buf[CLM_MIG_STATE_LEN];

	if (why)
		snprintf(r.reason, sizeof(r.reason), "%s", why);
	deliver(w, m->target, buf, clm_encode_mig_report(&r, buf, sizeof(buf)));
}

/* n3 dies (corosync and all): nothing until the self-fence wait is over
 * (it counts from when n3 left), then FENCED, then the two HA VMs restart —
 * the higher priority first, one per node at a time (max_concurrent 1). */
static void test_self_fence_wait_then_restart(void **state)
{
	const uint32_t two[] = {1, 2};
	struct world w;
	uint32_t first_target, web_target;

	world_up(&w);
	step(&w);
	assert_int_equal(w.out.n_starts + w.out.n_fences + w.out.n_run_agent, 0); /* all is well */
	w.now += 1 * S;
	members(&w, two, 2, two, 2);
	assert_int_equal(cl_cluster_node_state(w.c, 3), CL_NODE_FAILED);
	step(&w);
	assert_int_equal(w.out.n_starts + w.out.n_fences, 0);
	assert_non_null(strstr(status_of(&w, 3), "self-fence wait: 5000 ms left"));
	assert_int_equal(evac_next_deadline(w.p), w.now + 5 * S); /* 4 s + 1 s margin */
	w.now += 5 * S - 1;
	step(&w);
	assert_int_equal(w.out.n_fences + w.out.n_starts, 0);
	w.now += 1;
	step(&w);
	assert_int_equal(w.out.n_fences, 1);
	assert_int_equal(w.out.fences[0].how, CLM_FENCED_SELF_WAIT);
	assert_int_equal(w.out.n_starts, 0); /* not before the record is applied */
	apply_out(&w);
	assert_int_equal(cl_cluster_fence(w.c, 3).state, CLM_FENCE_FENCED);
	step(&w);
	assert_int_equal(w.out.n_fences, 0);
	assert_int_equal(w.out.n_starts, 2);             /* one on each survivor */
	assert_string_equal(w.out.starts[0].name, "db"); /* priority 5 first */
	assert_string_equal(w.out.starts[1].name, "web");
	assert_int_not_equal(w.out.starts[0].target, w.out.starts[1].target);
	first_target = w.out.starts[0].target;
	web_target = w.out.starts[1].target;
	apply_out(&w);
	w.now += 100 * MS;
	step(&w);
	assert_int_equal(w.out.n_starts, 0); /* in the table: not asked twice */
	/* db's start fails: retried on the other node */
	report(&w, 1, CLM_MIG_RUNNING, NULL);
	report(&w, 1, CLM_MIG_FAILED, "no space");
	report(&w, 2, CLM_MIG_RUNNING, NULL);
	report(&w, 2, CLM_MIG_SUCCEEDED, NULL);
	w.vms[web_target][w.n_vms[web_target]++] = mkvm("web", 'a');
	publish_inv(&w, web_target);
	w.now += 100 * MS;
	step(&w);
	assert_int_equal(w.out.n_starts, 1);
	assert_string_equal(w.out.starts[0].name, "db");
	assert_int_not_equal(w.out.starts[0].target, first_target);
	world_down(&w);
}

/* Fence agent: run once per failure; success -> FENCED (agent) at once, no
 * wait; two failures -> the self-fence fallback (allowed by default); with
 * the fallback off, nothing is ever restarted. */
static void test_agent(void **state)
{
	const uint32_t two[] = {1, 2};
	struct world w;

	cfg->fencing.mode = CFG_FENCE_AGENT;
	snprintf(cfg->fencing.agent, sizeof(cfg->fencing.agent), "/bin/true");
	world_up(&w);
	members(&w, two, 2, two, 2);
	step(&w);
	assert_int_equal(w.out.n_run_agent, 1);
	assert_int_equal(w.out.run_agent[0], 3);
	step(&w);
	assert_int_equal(w.out.n_run_agent, 0); /* running */
	evac_agent_done(w.p, 3, true, "ok", w.now);
	step(&w);
	assert_int_equal(w.out.n_fences, 1);
	assert_int_equal(w.out.fences[0].how, CLM_FENCED_AGENT);
	apply_out(&w);
	step(&w);
	assert_int_equal(w.out.n_starts, 2);
	world_down(&w);

	world_up(&w);
	members(&w, two, 2, two, 2);
	step(&w);
	assert_int_equal(w.out.n_run_agent, 1);
	evac_agent_done(w.p, 3, false, "exit status 1: Unable to connect", w.now);
	step(&w);
	assert_int_equal(w.out.n_run_agent, 0); /* retry after a pause */
	assert_non_null(strstr(status_of(&w, 3), "Unable to connect"));
	w.now += EVAC_AGENT_RETRY_USEC;
	step(&w);
	assert_int_equal(w.out.n_run_agent, 1);
	evac_agent_done(w.p, 3, false, "timed out after 60 s", w.now);
	w.now += EVAC_AGENT_RETRY_USEC;
	step(&w);
	assert_int_equal(w.out.n_run_agent, 0); /* gave up: the fallback wait */
	assert_non_null(strstr(status_of(&w, 3), "self-fence wait"));
	assert_non_null(strstr(status_of(&w, 3), "timed out"));
	w.now += 10 * S;
	step(&w);
	assert_int_equal(w.out.n_fences, 1);
	assert_int_equal(w.out.fences[0].how, CLM_FENCED_SELF_WAIT);
	world_down(&w);

	cfg->fencing.allow_self_fence_fallback = false;
	world_up(&w);
	members(&w, two, 2, two, 2);
	for (int i = 0; i < EVAC_AGENT_ATTEMPTS; i++) {
		step(&w);
		assert_int_equal(w.out.n_run_agent, 1);
		evac_agent_done(w.p, 3, false, "exit status 1", w.now);
		w.now += EVAC_AGENT_RETRY_USEC;
	}
	w.now += 600 * S;
	step(&w);
	assert_int_equal(w.out.n_run_agent + w.out.n_fences + w.out.n_starts, 0);
	assert_non_null(strstr(status_of(&w, 3), "allow_self_fence_fallback is off"));
	world_down(&w);
	cfg->fencing.allow_self_fence_fallback = true;
	cfg->fencing.mode = CFG_FENCE_SELF;
	cfg->fencing.agent[0] = '\0';
}

/* Corosync's view: all three members, quorate, with this quorum figure. */
static void all_members_quorum(struct world *w, uint32_t quorum)
{
	struct cs_quorum q = {.quorate = true, .total_votes = 3, .expected_votes = 3, .quorum = quorum};

	q.members[0] = 1, q.members[1] = 2, q.members[2] = 3;
	q.n_members = 3;
	cl_cluster_quorum(w->c, &q, w->now);
}

/* Three nodes up, n3 seen dead while still a member: the agent runs at
 * once, on n3. */
static void early_agent(struct world *w)
{
	world_up(w);
	evac_set_suspect(w->p, 3, true);
	step(w);
	assert_int_equal(w->out.n_run_agent, 1);
	assert_int_equal(w->out.run_agent[0], 3);
}

/* n3 seen dead (heartbeat and knet) while still a member: the agent runs
 * at once, its success is kept and published the moment n3 is out of the
 * membership — and only then are its VMs restarted. */
static void test_agent_early(void **state)
{
	const uint32_t two[] = {1, 2}, all[] = {1, 2, 3};
	struct world w;

	cfg->fencing.mode = CFG_FENCE_AGENT;
	snprintf(cfg->fencing.agent, sizeof(cfg->fencing.agent), "/bin/true");
	early_agent(&w);
	assert_int_equal(w.out.run_agent[0], 3);
	assert_non_null(strstr(status_of(&w, 3), "early"));
	step(&w);
	assert_int_equal(w.out.n_run_agent, 0); /* running */
	evac_agent_done(w.p, 3, true, "ok", w.now);
	step(&w);
	/* still a member: nothing published, nothing restarted (but prepared:
	 * test_prepared_restarts) */
	assert_int_equal(w.out.n_fences + w.out.n_starts + w.out.n_run_agent, 0);
	assert_non_null(strstr(status_of(&w, 3), "waiting for corosync"));
	assert_int_equal(w.out.n_prepares, 2);
	evac_prepare_done(w.p, w.out.prepares[0].uuid, true);
	evac_prepare_done(w.p, w.out.prepares[1].uuid, true);
	w.now += 500 * MS;
	members(&w, two, 2, two, 2);
	step(&w);
	assert_int_equal(w.out.n_run_agent, 0); /* not run twice */
	assert_int_equal(w.out.n_fences, 1);
	assert_int_equal(w.out.fences[0].how, CLM_FENCED_AGENT);
	assert_int_equal(w.out.n_starts, 0);
	apply_out(&w);
	step(&w);
	assert_int_equal(w.out.n_starts, 2);
	world_down(&w);

	/* suspicion gone before corosync agreed (it was alive after all): the
	 * early success is forgotten; a later failure is fenced anew */
	early_agent(&w);
	evac_agent_done(w.p, 3, true, "ok", w.now);
	evac_set_suspect(w.p, 3, false);
	step(&w);
	members(&w, two, 2, two, 2);
	step(&w);
	assert_int_equal(w.out.n_fences, 0);
	assert_int_equal(w.out.n_run_agent, 1);
	world_down(&w);

	/* an early failure is not retried early and not counted: once n3 is
	 * out, the usual attempts follow */
	early_agent(&w);
	evac_agent_done(w.p, 3, false, "exit status 1", w.now);
	w.now += 5 * S;
	step(&w);
	assert_int_equal(w.out.n_run_agent, 0);
	members(&w, two, 2, two, 2);
	for (int i = 0; i < EVAC_AGENT_ATTEMPTS; i++) {
		step(&w);
		assert_int_equal(w.out.n_run_agent, 1);
		evac_agent_done(w.p, 3, false, "exit status 1", w.now);
		w.now += EVAC_AGENT_RETRY_USEC;
	}
	step(&w);
	assert_int_equal(w.out.n_run_agent, 0);
	assert_non_null(strstr(status_of(&w, 3), "self-fence wait"));
	world_down(&w);

	/* the members not suspected are below quorum (we may be the isolated
	 * one): nobody is fenced early */
	world_up(&w);
	evac_set_suspect(w.p, 2, true);
	evac_set_suspect(w.p, 3, true);
	step(&w);
	assert_int_equal(w.out.n_run_agent + w.out.n_fences + w.out.n_starts, 0);
	world_down(&w);

	/* corosync's quorum figure missing (0): still a majority of the
	 * configured nodes is needed — one suspect of three is fine, two not */
	world_up(&w);
	all_members_quorum(&w, 0);
	evac_set_suspect(w.p, 2, true);
	evac_set_suspect(w.p, 3, true);
	step(&w);
	assert_int_equal(w.out.n_run_agent, 0);
	evac_set_suspect(w.p, 2, false);
	step(&w);
	assert_int_equal(w.out.n_run_agent, 1);
	assert_int_equal(w.out.run_agent[0], 3);
	world_down(&w);

	/* without an agent, suspicion changes nothing */
	cfg->fencing.mode = CFG_FENCE_SELF;
	cfg->fencing.agent[0] = '\0';
	world_up(&w);
	evac_set_suspect(w.p, 3, true);
	step(&w);
	assert_int_equal(w.out.n_run_agent + w.out.n_fences + w.out.n_starts, 0);
	members(&w, all, 3, all, 3);
	world_down(&w);
}

/* The prepare (or start) order of uuid id in orders, or NULL. */
static const struct drain_order *order_of(const struct drain_order *o, size_t n, char id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(o[i].uuid, uuid_of(id)) == 0)
			return &o[i];
	return NULL;
}

/* Prepared restarts: once the agent has fenced n3 early, its two HA VMs
 * get a paused copy on a survivor — never n3, never a VM a live member
 * lists, never twice — and when corosync agrees, each restart goes to its
 * copy's node, even against what the registry now prefers. */
static void test_prepared_restarts(void **state)
{
	const uint32_t two[] = {1, 2};
	const struct drain_order *web, *db;
	uint32_t web_at, db_at;
	struct world w;

	cfg->fencing.mode = CFG_FENCE_AGENT;
	snprintf(cfg->fencing.agent, sizeof(cfg->fencing.agent), "/bin/true");
	early_agent(&w);
	/* an HA VM n2 runs is none of this */
	w.vms[2][0] = mkvm("mail", 'c');
	w.n_vms[2] = 1;
	publish_inv(&w, 2);
	ha_add(&w, "mail", 'c', 9);
	step(&w);
	assert_int_equal(w.out.n_prepares, 0); /* the agent has not answered */
	evac_agent_done(w.p, 3, true, "ok", w.now);
	step(&w);
	assert_int_equal(w.out.n_fences + w.out.n_starts + w.out.n_run_agent, 0);
	assert_int_equal(w.out.n_prepares, 2);
	web = order_of(w.out.prepares, 2, 'a');
	db = order_of(w.out.prepares, 2, 'b');
	assert_non_null(web);
	assert_non_null(db);
	assert_true(web->target == 1 || web->target == 2);
	assert_true(db->target == 1 || db->target == 2);
	web_at = web->target;
	db_at = db->target;
	assert_null(order_of(w.out.prepares, 2, 'c'));
	/* asked once */
	step(&w);
	assert_int_equal(w.out.n_prepares, 0);
	/* the registry now prefers the other node for both */
	{
		struct ha_msg m = {.sender = 2, .op = HA_OP_SET};
		uint8_t buf[4096];
		char xml[512];

		for (int i = 0; i < 2; i++) {
			const char *name = i ? "db" : "web";
			char id = i ? 'b' : 'a';

			memset(&m.vm, 0, sizeof(m.vm));
			snprintf(xml, sizeof(xml),
				 "<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory "
				 "unit='KiB'>262144</memory><vcpu placement='static'>1</vcpu></domain>",
				 name, uuid_of(id));
			memcpy(m.vm.uuid, uuid_of(id), 37);
			snprintf(m.vm.name, sizeof(m.vm.name), "%s", name);
			m.vm.priority = i ? 5 : 1;
			m.vm.preferred[0] = 3 - (i ? db_at : web_at);
			m.vm.version = 20;
			m.vm.xml = xml;
			deliver(&w, 2, buf, ha_msg_encode(&m, buf, sizeof(buf)));
		}
	}
	w.now += 500 * MS;
	members(&w, two, 2, two, 2);
	step(&w);
	assert_int_equal(w.out.n_fences, 1);
	apply_out(&w);
	/* the prepares have not ended: the orders wait for them */
	step(&w);
	assert_int_equal(w.out.n_starts, 0);
	assert_int_equal(evac_next_deadline(w.p), w.now - 500 * MS + EVAC_PREPARE_WAIT_USEC);
	evac_prepare_done(w.p, uuid_of('a'), true);
	step(&w);
	assert_int_equal(w.out.n_starts, 1);
	assert_int_equal(order_of(w.out.starts, 1, 'a')->target, web_at);
	apply_out(&w);
	evac_prepare_done(w.p, uuid_of('b'), true);
	step(&w);
	assert_int_equal(w.out.n_starts, 1);
	assert_int_equal(w.out.n_prepares, 0);
	assert_int_equal(order_of(w.out.starts, 1, 'b')->target, db_at);
	world_down(&w);

	/* a prepare that never ends: the order waits EVAC_PREPARE_WAIT_USEC,
	 * then is placed as usual */
	early_agent(&w);
	evac_agent_done(w.p, 3, true, "ok", w.now);
	step(&w);
	assert_int_equal(w.out.n_prepares, 2);
	members(&w, two, 2, two, 2);
	step(&w);
	apply_out(&w);
	step(&w);
	assert_int_equal(w.out.n_starts, 0);
	w.now += EVAC_PREPARE_WAIT_USEC;
	step(&w);
	assert_int_equal(w.out.n_starts, 2);
	world_down(&w);

	/* a prepare that failed is not asked again; the restart is placed as
	 * usual (here: by the registry's preference) */
	early_agent(&w);
	evac_agent_done(w.p, 3, true, "ok", w.now);
	step(&w);
	assert_int_equal(w.out.n_prepares, 2);
	evac_prepare_done(w.p, uuid_of('a'), false);
	evac_prepare_done(w.p, uuid_of('b'), true);
	db_at = order_of(w.out.prepares, 2, 'b')->target;
	step(&w);
	assert_int_equal(w.out.n_prepares, 0);
	members(&w, two, 2, two, 2);
	step(&w);
	apply_out(&w);
	step(&w);
	assert_int_equal(w.out.n_starts, 2);
	assert_int_equal(order_of(w.out.starts, 2, 'b')->target, db_at);
	world_down(&w);

	/* the agent's early run failed: nothing prepared */
	early_agent(&w);
	evac_agent_done(w.p, 3, false, "exit status 1", w.now);
	step(&w);
	assert_int_equal(w.out.n_prepares, 0);
	world_down(&w);

	/* two suspects, one fenced early: only its VMs, never on the other
	 * suspect (nor on it) */
	world_up(&w);
	all_members_quorum(&w, 1);
	evac_set_suspect(w.p, 3, true);
	step(&w);
	assert_int_equal(w.out.n_run_agent, 1);
	evac_agent_done(w.p, 3, true, "ok", w.now);
	evac_set_suspect(w.p, 2, true); /* n2 too, now: no majority left to act */
	step(&w);
	/* one start at a time per node (max_concurrent 1): the next when the
	 * first prepare has ended */
	assert_int_equal(w.out.n_prepares, 1);
	assert_int_equal(w.out.prepares[0].target, 1);
	db = order_of(w.out.prepares, 1, 'b'); /* priority first */
	assert_non_null(db);
	step(&w);
	assert_int_equal(w.out.n_prepares, 0);
	evac_prepare_done(w.p, uuid_of('b'), true);
	step(&w);
	assert_int_equal(w.out.n_prepares, 1);
	assert_int_equal(w.out.prepares[0].target, 1);
	assert_non_null(order_of(w.out.prepares, 1, 'a'));
	world_down(&w);

	cfg->fencing.mode = CFG_FENCE_SELF;
	cfg->fencing.agent[0] = '\0';
}

/* The target's side (prepared.h): which copies it destroys, and when. */
static void test_prepared_copies(void **state)
{
	struct prep_set set = {0};
	struct prep_destroy out[VLINK_MAX_PREPARED];
	struct clm_vm held[2];
	struct world w;
	usec_t t0;

	world_up(&w); /* this node is n1; web (a) and db (b) are HA and run on n3 */
	held[0] = mkvm("web", 'a');
	held[1] = mkvm("db", 'b');
	t0 = w.now;
	prep_update(&set, held, 2, t0);
	assert_true(prep_has(&set, uuid_of('a')));
	assert_false(prep_has(&set, uuid_of('c')));
	/* listed on a member this node does not hear (n3, just fenced, still a
	 * member until corosync agrees): kept */
	{
		const bool heard[N] = {true, true, false};

		assert_int_equal(prep_sweep(&set, w.c, cfg, 1, heard, w.now, out), 0);
	}
	/* listed on a live member (n3 has not gone): both go at once */
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now, out), 2);
	assert_string_equal(out[0].why, "the VM is listed on another member");
	assert_false(prep_has(&set, uuid_of('a'))); /* being destroyed */
	/* not again until the retry time; then again, if still here */
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now + PREP_RETRY_USEC - 1, out), 0);
	assert_int_equal(prep_next_deadline(&set), t0 + PREP_RETRY_USEC);
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now + PREP_RETRY_USEC, out), 2);
	/* n3 gone from the lists: kept while its order may come */
	w.n_vms[3] = 0;
	publish_inv(&w, 3);
	memset(&set, 0, sizeof(set));
	prep_update(&set, held, 2, t0);
	w.now = t0 + 5 * S;
	prep_update(&set, held, 2, w.now); /* seen again: still t0 */
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now, out), 0);
	assert_int_equal(prep_next_deadline(&set), t0 + PREP_TTL_USEC);
	/* db's restart ordered on n2 (after the copy was seen): db goes */
	{
		struct clm_migrate m = {
			.sender = 1, .id = 7, .source = 3, .target = 2, .kind = CLM_KIND_START};
		uint8_t buf[CLM_MIGRATE_LEN];

		memcpy(m.uuid, uuid_of('b'), 37);
		snprintf(m.name, sizeof(m.name), "db");
		deliver(&w, 1, buf, clm_encode_migrate(&m, buf, sizeof(buf)));
		/* web's ordered here: kept, even past its time to live */
		m.id = 8;
		m.target = 1;
		memcpy(m.uuid, uuid_of('a'), 37);
		snprintf(m.name, sizeof(m.name), "web");
		deliver(&w, 1, buf, clm_encode_migrate(&m, buf, sizeof(buf)));
	}
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now, out), 1);
	assert_string_equal(set.c[out[0].idx].name, "db");
	assert_string_equal(out[0].why, "its restart was ordered on another node");
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, t0 + PREP_TTL_USEC + 1, out),
			 1); /* db's retry only */
	assert_string_equal(set.c[out[0].idx].name, "db");
	world_down(&w);

	/* an order elsewhere from before the copy was seen (an older
	 * evacuation) says nothing; the time to live does */
	world_up(&w);
	w.n_vms[3] = 0;
	publish_inv(&w, 3);
	{
		struct clm_migrate m = {
			.sender = 1, .id = 9, .source = 3, .target = 2, .kind = CLM_KIND_START};
		uint8_t buf[CLM_MIGRATE_LEN];

		memcpy(m.uuid, uuid_of('a'), 37);
		snprintf(m.name, sizeof(m.name), "web");
		deliver(&w, 1, buf, clm_encode_migrate(&m, buf, sizeof(buf)));
		report(&w, 9, CLM_MIG_SUCCEEDED, NULL);
	}
	w.now += S;
	memset(&set, 0, sizeof(set));
	prep_update(&set, held, 1, w.now);
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now, out), 0);
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now + PREP_TTL_USEC, out), 1);
	assert_string_equal(out[0].why, "no restart order came for it");
	/* not in the HA registry; not quorate */
	memset(&set, 0, sizeof(set));
	held[1] = mkvm("other", 'z');
	prep_update(&set, held + 1, 1, w.now);
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now, out), 1);
	assert_string_equal(out[0].why, "the VM is not in the HA registry");
	memset(&set, 0, sizeof(set));
	prep_update(&set, held, 1, w.now);
	{
		const uint32_t one[] = {1};

		members(&w, one, 1, one, 1);
	}
	assert_int_equal(prep_sweep(&set, w.c, cfg, 1, NULL, w.now, out), 1);
	assert_string_equal(out[0].why, "this node is not quorate");
	/* gone from libvirt: forgotten */
	prep_update(&set, NULL, 0, w.now);
	assert_int_equal(set.n, 0);
	assert_int_equal(prep_next_deadline(&set), USEC_INFINITY);
	world_down(&w);
}

/* clusterd died on n3 but its corosync runs: n3 stays quorate, never
 * self-fences, so waiting proves nothing: only an admin (or agent) fences. */
static void test_corosync_alive_never_self_fenced(void **state)
{
	const uint32_t two[] = {1, 2}, all[] = {1, 2, 3};
	struct world w;

	world_up(&w);
	members(&w, two, 2, all, 3);
	w.now += 600 * S;
	step(&w);
	assert_int_equal(w.out.n_fences + w.out.n_starts, 0);
	assert_non_null(strstr(status_of(&w, 3), "does not self-fence"));
	{
		struct clm_fence_msg m = {.sender = 2,
					  .node = 3,
					  .state = CLM_FENCE_FENCED,
					  .how = CLM_FENCED_ADMIN,
					  .version = 1};
		uint8_t buf[CLM_FENCE_LEN];

		deliver(&w, 2, buf, clm_encode_fence(&m, buf, sizeof(buf)));
	}
	step(&w);
	assert_int_equal(w.out.n_starts, 2);
	world_down(&w);
}

/* A VM that had just been moved to n3 when n3 died: no settling wait (its
 * target is gone, it will never list it) — restarted as soon as fenced. */
static void test_just_moved_to_the_dead_node(void **state)
{
	const uint32_t two[] = {1, 2};
	struct world w;
	struct clm_migrate mg = {.sender = 1, .id = 500, .source = 1, .target = 3};
	struct clm_mig_report rep = {.sender = 1, .id = 500, .state = CLM_MIG_RUNNING, .eta_s = -1};
	uint8_t buf[CLM_MIG_STATE_LEN];

	world_up(&w);
	memcpy(mg.uuid, uuid_of('a'), 37);
	snprintf(mg.name, sizeof(mg.name), "web");
	deliver(&w, 1, buf, clm_encode_migrate(&mg, buf, sizeof(buf)));
	deliver(&w, 1, buf, clm_encode_mig_report(&rep, buf, sizeof(buf)));
	rep.state = CLM_MIG_SUCCEEDED;
	deliver(&w, 1, buf, clm_encode_mig_report(&rep, buf, sizeof(buf)));
	w.now += 1 * S;
	members(&w, two, 2, two, 2);
	w.now += 5 * S; /* fenced well within DRAIN_SETTLE_USEC of the move */
	step(&w);
	apply_out(&w);
	step(&w);
	assert_int_equal(w.out.n_starts, 2);
	world_down(&w);
}

/* A node whose corosync runs but whose clusterd never joined since we
 * started is starting up: never fenced (not even with an agent), and
 * nothing is restarted while it may run VMs. */
static void test_starting_node_not_fenced(void **state)
{
	const uint32_t two[] = {1, 2}, all[] = {1, 2, 3};
	struct world w;

	cfg->fencing.mode = CFG_FENCE_AGENT;
	snprintf(cfg->fencing.agent, sizeof(cfg->fencing.agent), "/bin/true");
	memset(&w, 0, sizeof(w));
	w.now = 100 * S;
	assert_int_equal(cl_cluster_new(cfg, 1, &w.c), 0);
	assert_int_equal(evac_planner_new(cfg, &w.p), 0);
	cl_cluster_connected(w.c, true, w.now);
	members(&w, two, 2, all, 3); /* n3: corosync up, clusterd not started yet */
	ha_add(&w, "web", 'a', 1);
	publish_inv(&w, 1);
	publish_inv(&w, 2);
	assert_int_equal(cl_cluster_node_state(w.c, 3), CL_NODE_UNKNOWN);
	w.now += 600 * S;
	step(&w);
	assert_int_equal(w.out.n_run_agent + w.out.n_fences + w.out.n_starts, 0);
	assert_non_null(strstr(status_of(&w, 3), "not a member yet"));
	world_down(&w);
	cfg->fencing.mode = CFG_FENCE_SELF;
	cfg->fencing.agent[0] = '\0';
}

/* No quorum, an unknown VM list, fencing.mode none: nothing restarted. A
 * FENCED record for a node that is back is stale; a rejoin clears it. */
static void test_nothing_without_certainty(void **state)
{
	const uint32_t two[] = {1, 2}, one[] = {1}, all[] = {1, 2, 3};
	struct world w;

	world_up(&w);
	members(&w, one, 1, one, 1); /* two of three gone: not quorate */
	w.now += 600 * S;
	step(&w);
	assert_int_equal(w.out.n_fences + w.out.n_starts + w.out.n_run_agent, 0);
	world_down(&w);

	world_up(&w);
	members(&w, two, 2, two, 2);
	cl_cluster_local_inventory(w.c, NULL, 0, false, 0, 0, w.now); /* our libvirt is gone */
	w.now += 600 * S;
	step(&w);
	apply_out(&w); /* n3 gets fenced anyway */
	step(&w);
	assert_int_equal(w.out.n_starts, 0);
	assert_non_null(strstr(status_of(&w, 0), "VM lists of every member"));
	/* n3 comes back: no longer fenced; nothing restarted (its VMs are listed) */
	members(&w, all, 3, all, 3);
	assert_int_equal(cl_cluster_fence(w.c, 3).state, CLM_FENCE_NONE);
	{
		struct clm_fence_msg m = {.sender = 2,
					  .node = 3,
					  .state = CLM_FENCE_FENCED,
					  .how = CLM_FENCED_ADMIN,
					  .version = 99};
		uint8_t buf[CLM_FENCE_LEN];

		deliver(&w, 2, buf, clm_encode_fence(&m, buf, sizeof(buf)));
		assert_int_equal(cl_cluster_fence(w.c, 3).state, CLM_FENCE_NONE); /* a member: stale */
	}
	world_down(&w);

	cfg->fencing.mode = CFG_FENCE_NONE;
	world_up(&w);
	members(&w, two, 2, two, 2);
	w.now += 600 * S;
	step(&w);
	assert_int_equal(w.out.n_fences + w.out.n_starts, 0);
	assert_non_null(strstr(status_of(&w, 3), "fencing.mode is none"));
	world_down(&w);
	cfg->fencing.mode = CFG_FENCE_SELF;
}

/* A node that fails quarantine_failures (2) times within the window is
 * quarantined when it is back, and released after quarantine_s. */
static void test_quarantine(void **state)
{
	const uint32_t two[] = {1, 3}, all[] = {1, 2, 3};
	struct world w;

	world_up(&w);
	for (int i = 0; i < 2; i++) {
		step(&w);
		members(&w, two, 2, two, 2);
		w.now += S;
		step(&w);
		assert_int_equal(w.out.n_admin, 0);
		members(&w, all, 3, all, 3);
		publish_inv(&w, 2);
		w.now += S;
	}
	step(&w);
	assert_int_equal(w.out.n_admin, 1);
	assert_int_equal(w.out.admin[0].node, 2);
	assert_int_equal(w.out.admin[0].state, CLM_ADMIN_QUARANTINED);
	apply_out(&w);
	assert_false(cl_cluster_accepts_vms(w.c, 2));
	w.now += 59 * S;
	step(&w);
	assert_int_equal(w.out.n_admin, 0);
	w.now += 1 * S;
	step(&w);
	assert_int_equal(w.out.n_admin, 1);
	assert_int_equal(w.out.admin[0].state, CLM_ADMIN_NONE);
	apply_out(&w);
	assert_true(cl_cluster_accepts_vms(w.c, 2));
	world_down(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selffence),
		cmocka_unit_test(test_self_fence_wait_then_restart),
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_agent_early),
		cmocka_unit_test(test_prepared_restarts),
		cmocka_unit_test(test_prepared_copies),
		cmocka_unit_test(test_corosync_alive_never_self_fenced),
		cmocka_unit_test(test_nothing_without_certainty),
		cmocka_unit_test(test_starting_node_not_fenced),
		cmocka_unit_test(test_just_moved_to_the_dead_node),
		cmocka_unit_test(test_quarantine),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
