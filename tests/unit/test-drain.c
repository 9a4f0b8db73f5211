/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-drain.c: the drain planner over a real replicated state
 * (clusterd/cluster.c) fed the messages CPG would deliver — placement by
 * capacity, the concurrency limits, DRAINED at the end, one retry on
 * another target then "blocked", a failed target replanned, the migration
 * link rule with and without a fallback network, abort, and the admin
 * register's last-writer-wins rules. Fake clock. */
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
#include "clusterd/drain.h"

#define N        3
#define NET_MGMT 0
#define NET_MIG  2
#define MS       USEC_PER_MSEC
#define GIB_KIB  (1024 * 1024)

static struct cfg *cfg;
static char dir[] = "/tmp/test-drain.XXXXXX";

static int setup(void **state)
{
	cfg = fixture_cfg(dir, N, NULL);
	return cfg ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	cfg_free(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- a small world: n1's replicated state, fed what CPG would deliver ---- */

struct world {
	struct cl_cluster *c;
	struct drain_planner *p;
	struct drain_out out;
	struct clm_vm vms[N + 1][8];
	size_t n_vms[N + 1];
	uint64_t free_kib[N + 1];
	uint32_t gen[N + 1];
	uint64_t next_id;
	usec_t now;
};

static struct clm_vm mkvm(const char *name, char id, uint64_t mem_kib)
{
	struct clm_vm v;

	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "%s", name);
	memset(v.uuid, id, 36);
	v.uuid[8] = v.uuid[13] = v.uuid[18] = v.uuid[23] = '-';
	v.state = CLM_VM_RUNNING;
	v.vcpus = 1;
	v.mem_kib = mem_kib;
	return v;
}

static void deliver(struct world *w, uint32_t from, const uint8_t *buf, int len)
{
	assert_true(len > 0);
	(void)cl_cluster_receive(w->c, from, buf, (size_t)len, w->now);
}

/* Node x's inventory as its clusterd would multicast it (n1: local). */
static void publish_inv(struct world *w, uint32_t x)
{
	static struct clm_inventory inv;
	static uint8_t buf[CLM_HEADER_LEN + CLM_INV_HEADER_LEN + 8 * CLM_INV_ENTRY_LEN];

	if (x == 1) {
		cl_cluster_local_inventory(w->c, w->vms[1], w->n_vms[1], true, w->free_kib[1], 2, w->now);
		return;
	}
	memset(&inv, 0, sizeof(inv));
	inv.sender = x;
	inv.generation = ++w->gen[x];
	inv.libvirt_up = true;
	inv.host_free_kib = w->free_kib[x];
	inv.host_cpus = 2;
	inv.count = (uint16_t)w->n_vms[x];
	memcpy(inv.vms, w->vms[x], w->n_vms[x] * sizeof(struct clm_vm));
	deliver(w, x, buf, clm_encode_inventory(&inv, buf, sizeof(buf)));
}

static void world_up(struct world *w)
{
	const uint32_t all[] = {1, 2, 3};
	struct cs_quorum q = {.quorate = true, .total_votes = N, .expected_votes = N, .quorum = 2};

	memset(w, 0, sizeof(*w));
	memcpy(q.members, all, sizeof(all));
	q.n_members = N;
	w->now = 1000 * MS;
	w->next_id = 1;
	assert_int_equal(cl_cluster_new(cfg, 1, &w->c), 0);
	assert_int_equal(drain_planner_new(cfg, &w->p), 0);
	cl_cluster_connected(w->c, true, w->now);
	cl_cluster_membership(w->c, all, N, w->now);
	cl_cluster_quorum(w->c, &q, w->now);
	for (uint32_t x = 1; x <= N; x++)
		w->free_kib[x] = 8ull * GIB_KIB;
}

static void world_down(struct world *w)
{
	drain_planner_free(w->p);
	cl_cluster_free(w->c);
}

static void admin_r(struct world *w, uint32_t node, enum clm_admin st, uint8_t flags, uint64_t version,
		    uint64_t if_version, uint64_t drain, const char *reason)
{
	struct clm_admin_msg m = {.sender = 2,
				  .node = node,
				  .state = (uint8_t)st,
				  .flags = flags,
				  .version = version,
				  .if_version = if_version,
				  .drain = drain};
	uint8_t buf[CLM_ADMIN_LEN];

	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	deliver(w, 2, buf, clm_encode_admin(&m, buf, sizeof(buf)));
}

static void admin(struct world *w, uint32_t node, enum clm_admin st, uint8_t flags, uint64_t version,
		  uint64_t if_version, uint64_t drain)
{
	admin_r(w, node, st, flags, version, if_version, drain, "");
}

static void step(struct world *w)
{
	drain_step(w->p, w->c, w->now, &w->out);
}

/* Deliver the planner's output as the coordinator's multicasts. */
static void apply_out(struct world *w)
{
	for (size_t i = 0; i < w->out.n_orders; i++) {
		const struct drain_order *o = &w->out.orders[i];
		struct clm_migrate m = {.sender = 1,
					.id = w->next_id++,
					.source = o->source,
					.target = o->target,
					.drain = o->drain};
		uint8_t buf[CLM_MIGRATE_LEN];

		memcpy(m.uuid, o->uuid, sizeof(m.uuid));
		memcpy(m.name, o->name, sizeof(m.name));
		deliver(w, 1, buf, clm_encode_migrate(&m, buf, sizeof(buf)));
	}
	for (size_t i = 0; i < w->out.n_admin; i++) {
		const struct drain_admin *a = &w->out.admin[i];

		admin_r(w, a->node, a->state, a->flags, a->version, a->if_version, a->drain, a->reason);
		assert_int_equal(cl_cluster_admin(w->c, a->node).version, a->version);
	}
}

static void report(struct world *w, uint64_t id, enum clm_mig_state st, const char *why)
{
	const struct cl_migration *m = cl_cluster_migration(w->c, id);
	struct clm_mig_report r = {.sender = m->source, .id = id, .state = (uint8_t)st, .eta_s = -1};
	uint8_t buf[CLM_MIG_STATE_LEN];

	if (why)
		snprintf(r.reason, sizeof(r.reason), "%s", why);
	deliver(w, m->source, buf, clm_encode_mig_report(&r, buf, sizeof(buf)));
}

/* Migration id done: the VM leaves its source's inventory for the target's. */
static void complete(struct world *w, uint64_t id)
{
	const struct cl_migration *m = cl_cluster_migration(w->c, id);
	uint32_t s = m->source, t = m->target;

	report(w, id, CLM_MIG_RUNNING, NULL);
	report(w, id, CLM_MIG_SUCCEEDED, NULL);
	for (size_t i = 0; i < w->n_vms[s]; i++)
		if (strcmp(w->vms[s][i].uuid, m->uuid) == 0) {
			w->free_kib[t] -= w->vms[s][i].mem_kib;
			w->free_kib[s] += w->vms[s][i].mem_kib;
			w->vms[t][w->n_vms[t]++] = w->vms[s][i];
			w->vms[s][i] = w->vms[s][--w->n_vms[s]];
			break;
		}
	publish_inv(w, s);
	publish_inv(w, t);
}

static size_t active_from(struct world *w, uint32_t src)
{
	const struct cl_migration *migs;
	size_t n = cl_cluster_migrations(w->c, &migs), k = 0;

	for (size_t i = 0; i < n; i++)
		k += migs[i].source == src &&
		     (migs[i].state == CLM_MIG_REQUESTED || migs[i].state == CLM_MIG_RUNNING);
	return k;
}

static void three_vms_on_n1(struct world *w)
{
	w->vms[1][0] = mkvm("small", 'a', GIB_KIB / 8);
	w->vms[1][1] = mkvm("big", 'b', GIB_KIB);
	w->vms[1][2] = mkvm("mid", 'c', GIB_KIB / 2);
	w->n_vms[1] = 3;
	for (uint32_t x = 1; x <= N; x++)
		publish_inv(w, x);
}

/* Three VMs, max_concurrent 2: the two largest go first, one to each
 * survivor (spread); nothing more while both run; the third when one ends;
 * asked-but-not-yet-delivered requests are not asked twice; DRAINED when
 * empty, conditional on the drain's version. */
static void test_drain_limits_and_drained(void **state)
{
	struct world w;
	uint64_t v;

	world_up(&w);
	three_vms_on_n1(&w);
	step(&w);
	assert_int_equal(w.out.n_orders, 0); /* nothing is draining */
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	assert_int_equal(cl_cluster_admin(w.c, 1).state, CLM_ADMIN_DRAINING);
	step(&w);
	assert_int_equal(w.out.n_orders, 2);
	assert_string_equal(w.out.orders[0].name, "big");
	assert_string_equal(w.out.orders[1].name, "mid");
	assert_int_not_equal(w.out.orders[0].target, w.out.orders[1].target);
	assert_int_equal(w.out.orders[0].drain, 100);
	assert_int_equal(w.out.n_admin, 0); /* nothing to say yet */
	w.now += 10 * MS;
	step(&w); /* not delivered yet: not asked again, and the limit holds */
	assert_int_equal(w.out.n_orders, 0);
	world_down(&w);

	/* again, delivering what the planner says each time */
	world_up(&w);
	three_vms_on_n1(&w);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	apply_out(&w);
	assert_int_equal(active_from(&w, 1), 2);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 0);
	complete(&w, 1);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	assert_string_equal(w.out.orders[0].name, "small");
	apply_out(&w);
	complete(&w, 2);
	complete(&w, 3);
	assert_int_equal(w.n_vms[1], 0);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 0);
	assert_int_equal(w.out.n_admin, 1);
	assert_int_equal(w.out.admin[0].state, CLM_ADMIN_DRAINED);
	assert_int_equal(w.out.admin[0].if_version, 100);
	v = w.out.admin[0].version;
	apply_out(&w);
	assert_int_equal(cl_cluster_admin(w.c, 1).state, CLM_ADMIN_DRAINED);
	assert_int_equal(cl_cluster_admin(w.c, 1).version, v);
	step(&w);
	assert_int_equal(w.out.n_admin + w.out.n_orders, 0); /* drained is final */
	world_down(&w);
}

/* A VM whose migration fails is retried once on another target; failing
 * there too, it is left where it runs and the drain says it is blocked. */
static void test_retry_once_then_blocked(void **state)
{
	struct world w;
	uint32_t first;

	world_up(&w);
	w.vms[1][0] = mkvm("web", 'w', GIB_KIB / 4);
	w.n_vms[1] = 1;
	for (uint32_t x = 1; x <= N; x++)
		publish_inv(&w, x);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	first = w.out.orders[0].target;
	apply_out(&w);
	report(&w, 1, CLM_MIG_FAILED, "target refused");
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	assert_int_not_equal(w.out.orders[0].target, first); /* another target */
	apply_out(&w);
	report(&w, 2, CLM_MIG_FAILED, "no space left");
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 0);
	assert_int_equal(w.out.n_admin, 1);
	assert_int_equal(w.out.admin[0].state, CLM_ADMIN_DRAINING);
	assert_true(w.out.admin[0].flags & CLM_ADM_BLOCKED);
	assert_non_null(strstr(w.out.admin[0].reason, "web: failed twice (no space left)"));
	apply_out(&w);
	assert_true(cl_cluster_admin(w.c, 1).blocked);
	assert_int_equal(cl_cluster_admin(w.c, 1).drain, 100); /* the same drain */
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders + w.out.n_admin, 0); /* said once */
	/* draining it again starts over: the VM gets its two attempts back */
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 5000000, 0, 5000000);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	assert_int_equal(w.out.orders[0].drain, 5000000);
	world_down(&w);
}

/* A migration that failed because its target died does not count against
 * the VM: the target is excluded and the VM replanned, not blocked. */
static void test_failed_target_replanned(void **state)
{
	const uint32_t two[] = {1, 3};
	struct cs_quorum q = {.quorate = true, .total_votes = 2, .expected_votes = N, .quorum = 2};
	struct world w;

	world_up(&w);
	w.vms[1][0] = mkvm("db", 'd', GIB_KIB / 4);
	w.n_vms[1] = 1;
	w.free_kib[3] = GIB_KIB / 2; /* n2 has more room: the first choice */
	for (uint32_t x = 1; x <= N; x++)
		publish_inv(&w, x);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	assert_int_equal(w.out.orders[0].target, 2);
	apply_out(&w);
	report(&w, 1, CLM_MIG_RUNNING, NULL);
	report(&w, 1, CLM_MIG_FAILED, "the target node failed");
	memcpy(q.members, two, sizeof(two));
	q.n_members = 2;
	cl_cluster_membership(w.c, two, 2, w.now);
	cl_cluster_quorum(w.c, &q, w.now);
	assert_int_equal(cl_cluster_node_state(w.c, 2), CL_NODE_FAILED);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	assert_int_equal(w.out.orders[0].target, 3);
	apply_out(&w);
	report(&w, 2, CLM_MIG_FAILED, "again");
	w.now += 200 * MS;
	step(&w);
	/* n3 failed it for real, n2 is gone: one real failure, but no target left */
	assert_int_equal(w.out.n_orders, 0);
	assert_int_equal(w.out.n_admin, 1);
	assert_true(w.out.admin[0].flags & CLM_ADM_BLOCKED);
	assert_non_null(strstr(w.out.admin[0].reason, "db: no target (n2: failed; n3: failed it already)"));
	world_down(&w);
}

/* Memory is never overcommitted; vCPUs up to cpus x cpu_overcommit. */
static void test_capacity(void **state)
{
	struct world w;

	world_up(&w);
	w.vms[1][0] = mkvm("huge", 'h', 4ull * GIB_KIB);
	w.vms[1][1] = mkvm("wide", 'i', GIB_KIB / 8);
	w.vms[1][1].vcpus = 9; /* 2 cpus x 4 = 8 */
	w.n_vms[1] = 2;
	w.free_kib[2] = w.free_kib[3] = 2ull * GIB_KIB;
	for (uint32_t x = 1; x <= N; x++)
		publish_inv(&w, x);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	assert_int_equal(w.out.n_orders, 0);
	assert_int_equal(w.out.n_admin, 1);
	assert_true(w.out.admin[0].flags & CLM_ADM_BLOCKED);
	assert_non_null(strstr(w.out.admin[0].reason, "huge: "));
	assert_non_null(strstr(w.out.admin[0].reason, "wide: "));
	/* memory already on its way to a node counts as used */
	world_down(&w);

	world_up(&w);
	w.vms[1][0] = mkvm("a", 'a', 3ull * GIB_KIB / 2);
	w.vms[1][1] = mkvm("b", 'b', 3ull * GIB_KIB / 2);
	w.n_vms[1] = 2;
	w.free_kib[2] = 2ull * GIB_KIB;
	w.free_kib[3] = GIB_KIB; /* too small for either */
	for (uint32_t x = 1; x <= N; x++)
		publish_inv(&w, x);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	assert_int_equal(w.out.n_orders, 1); /* n2 fits one; the other cannot go anywhere */
	assert_int_equal(w.out.orders[0].target, 2);
	assert_int_equal(w.out.n_admin, 1);
	assert_false(w.out.admin[0].flags & CLM_ADM_BLOCKED); /* one is moving */
	assert_non_null(strstr(w.out.admin[0].reason, "b: "));
	apply_out(&w);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders + w.out.n_admin, 0); /* n2's room is spoken for */
	complete(&w, 1);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 0); /* n2 is full now, n3 too small */
	assert_int_equal(w.out.n_admin, 1);
	assert_true(w.out.admin[0].flags & CLM_ADM_BLOCKED); /* nothing moves any more */
	world_down(&w);
}

static void set_link(struct world *w, uint32_t peer, uint8_t link, enum hb_link_state s)
{
	struct hb_link_stats st = {.state = s, .cls = HB_CLASS_SAME_SUBNET, .rtt_us = 300};

	cl_cluster_local_link(w->c, peer, link, &st, s == HB_LINK_DOWN ? HB_NODE_DEGRADED : HB_NODE_UP,
			      w->now);
}

/* A DOWN migration link rules the target out, unless a fallback network
 * is configured and up; the source then uses the fallback. */
static void test_migration_link_rule(void **state)
{
	struct world w;
	const char *why = NULL;

	world_up(&w);
	w.vms[1][0] = mkvm("web", 'w', GIB_KIB / 4);
	w.n_vms[1] = 1;
	for (uint32_t x = 1; x <= N; x++)
		publish_inv(&w, x);
	for (uint32_t p = 2; p <= N; p++)
		for (uint8_t l = 0; l < 3; l++)
			set_link(&w, p, l, HB_LINK_UP);
	set_link(&w, 2, NET_MIG, HB_LINK_DOWN);
	assert_int_equal(drain_migration_network(w.c, cfg, 1, 2, &why), -1);
	assert_non_null(strstr(why, "migration link is down (no migration.fallback_network)"));
	assert_false(drain_target_ok(w.c, cfg, 1, 2, &why));
	assert_int_equal(drain_migration_network(w.c, cfg, 1, 3, &why), NET_MIG);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	assert_int_equal(w.out.orders[0].target, 3);
	cfg->migration.fallback_network = NET_MGMT;
	assert_int_equal(drain_migration_network(w.c, cfg, 1, 2, &why), NET_MGMT);
	assert_true(drain_target_ok(w.c, cfg, 1, 2, &why));
	set_link(&w, 2, NET_MGMT, HB_LINK_DOWN);
	assert_int_equal(drain_migration_network(w.c, cfg, 1, 2, &why), -1);
	assert_non_null(strstr(why, "fallback"));
	cfg->migration.fallback_network = -1;
	world_down(&w);
}

/* migration.links: the links both views see up carry the migration; a
 * link DOWN in the heartbeat is left out (and reported in the mask); when
 * every one is DOWN, all are tried rather than none. */
static void test_migration_links(void **state)
{
	struct world w;
	int nets[CFG_MIG_LINKS_MAX];
	uint32_t down = 0;
	int saved[CFG_MIG_LINKS_MAX];
	size_t saved_n = cfg->migration.n_links;

	memcpy(saved, cfg->migration.links, sizeof(saved));
	cfg->migration.links[0] = NET_MIG;
	cfg->migration.links[1] = NET_MGMT;
	cfg->migration.n_links = 2;
	world_up(&w);
	for (uint32_t p = 2; p <= N; p++)
		for (uint8_t l = 0; l < 3; l++)
			set_link(&w, p, l, HB_LINK_UP);
	assert_int_equal(drain_migration_links(w.c, cfg, 1, 2, nets, &down), 2);
	assert_int_equal(nets[0], NET_MIG);
	assert_int_equal(nets[1], NET_MGMT);
	assert_int_equal(down, 0);
	set_link(&w, 2, NET_MGMT, HB_LINK_DOWN);
	assert_int_equal(drain_migration_links(w.c, cfg, 1, 2, nets, &down), 1);
	assert_int_equal(nets[0], NET_MIG);
	assert_int_equal(down, 1u << NET_MGMT);
	/* the other target is unaffected */
	assert_int_equal(drain_migration_links(w.c, cfg, 1, 3, nets, &down), 2);
	assert_int_equal(down, 0);
	set_link(&w, 2, NET_MIG, HB_LINK_DOWN);
	assert_int_equal(drain_migration_links(w.c, cfg, 1, 2, nets, &down), 2);
	assert_int_equal(down, (1u << NET_MGMT) | (1u << NET_MIG));
	world_down(&w);
	memcpy(cfg->migration.links, saved, sizeof(saved));
	cfg->migration.n_links = saved_n;
}

struct evlog {
	struct cl_event ev[32];
	size_t n;
};

static void record(const struct cl_event *ev, void *ud)
{
	struct evlog *l = ud;

	if (l->n < 32)
		l->ev[l->n++] = *ev;
}

/* Abort: the drain's queued migrations fail in CPG order (no source starts
 * one later); the running one is left to its source, told by the event
 * that names the drain that ended. Admin-register rules: older versions
 * and stale conditions are ignored; DRAINED from a coordinator that lost
 * the race to an undrain does not apply. */
static void test_abort_and_register(void **state)
{
	struct world w;
	struct evlog log = {0};
	const struct cl_migration *migs;
	size_t n;

	cfg->migration.max_concurrent = 1;
	world_up(&w);
	cl_cluster_set_event_cb(w.c, record, &log);
	three_vms_on_n1(&w);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	apply_out(&w);
	report(&w, 1, CLM_MIG_RUNNING, NULL);
	/* an admin's own migrate of another VM, queued behind the limit */
	{
		struct clm_migrate m = {.sender = 3, .id = 77, .source = 1, .target = 3, .drain = 100};
		uint8_t buf[CLM_MIGRATE_LEN];

		memcpy(m.uuid, w.vms[1][0].uuid, sizeof(m.uuid));
		snprintf(m.name, sizeof(m.name), "small");
		deliver(&w, 3, buf, clm_encode_migrate(&m, buf, sizeof(buf)));
	}
	assert_false(cl_cluster_migration(w.c, 77)->admitted);
	log.n = 0;
	admin(&w, 1, CLM_ADMIN_NONE, CLM_ADM_ABORT, 200, 0, 0);
	assert_int_equal(cl_cluster_admin(w.c, 1).state, CLM_ADMIN_NONE);
	assert_int_equal(cl_cluster_migration(w.c, 77)->state, CLM_MIG_FAILED);
	assert_string_equal(cl_cluster_migration(w.c, 77)->reason, "the drain was aborted");
	assert_int_equal(cl_cluster_migration(w.c, 1)->state, CLM_MIG_RUNNING);
	n = cl_cluster_migrations(w.c, &migs);
	assert_int_equal(n, 2);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.ev[1].kind, CL_EV_ADMIN);
	assert_int_equal(log.ev[1].old_state, CLM_ADMIN_DRAINING);
	assert_int_equal(log.ev[1].new_state, CLM_ADMIN_NONE);
	assert_int_equal(log.ev[1].mig_id, 100); /* the drain that ended */
	step(&w);
	assert_int_equal(w.out.n_orders + w.out.n_admin, 0); /* not draining: no plan */
	/* a request of the drain delivered after its abort (the coordinator
	 * planned before it saw the abort): dropped on every node alike */
	{
		struct clm_migrate m = {.sender = 1, .id = 78, .source = 1, .target = 2, .drain = 100};
		uint8_t buf[CLM_MIGRATE_LEN];

		memcpy(m.uuid, w.vms[1][1].uuid, sizeof(m.uuid));
		snprintf(m.name, sizeof(m.name), "mid");
		deliver(&w, 1, buf, clm_encode_migrate(&m, buf, sizeof(buf)));
		assert_null(cl_cluster_migration(w.c, 78));
	}

	/* older and stale ones are ignored */
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 150, 0, 150);
	assert_int_equal(cl_cluster_admin(w.c, 1).state, CLM_ADMIN_NONE);
	admin(&w, 1, CLM_ADMIN_DRAINED, 0, 201, 100, 100); /* based on the drain that was aborted */
	assert_int_equal(cl_cluster_admin(w.c, 1).state, CLM_ADMIN_NONE);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 300, 0, 300);
	assert_int_equal(cl_cluster_admin(w.c, 1).state, CLM_ADMIN_DRAINING);
	cfg->migration.max_concurrent = 2;
	world_down(&w);
}

/* At the switch-over the VM leaves its source's inventory (libvirt's
 * events) before the source reports the migration done: the node is not
 * DRAINED while that migration is still running in the table. */
static void test_not_drained_while_running(void **state)
{
	struct world w;

	world_up(&w);
	w.vms[1][0] = mkvm("only", 'a', GIB_KIB / 4);
	w.n_vms[1] = 1;
	for (uint32_t x = 1; x <= N; x++)
		publish_inv(&w, x);
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	assert_int_equal(w.out.n_orders, 1);
	apply_out(&w);
	report(&w, 1, CLM_MIG_RUNNING, NULL);
	/* the inventories move on, the report does not yet */
	w.vms[w.out.orders[0].target][w.n_vms[w.out.orders[0].target]++] = w.vms[1][0];
	w.n_vms[1] = 0;
	publish_inv(&w, 1);
	publish_inv(&w, w.out.orders[0].target);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_orders, 0);
	for (size_t i = 0; i < w.out.n_admin; i++)
		assert_int_not_equal(w.out.admin[i].state, CLM_ADMIN_DRAINED);
	apply_out(&w);
	assert_int_equal(cl_cluster_admin(w.c, 1).state, CLM_ADMIN_DRAINING);
	report(&w, 1, CLM_MIG_SUCCEEDED, NULL);
	w.now += 200 * MS;
	step(&w);
	assert_int_equal(w.out.n_admin, 1);
	assert_int_equal(w.out.admin[0].state, CLM_ADMIN_DRAINED);
	world_down(&w);
}

/* A draining node is no target, for a drain or an admin's migrate. */
static void test_draining_node_takes_nothing(void **state)
{
	struct world w;
	const char *why = NULL;

	world_up(&w);
	three_vms_on_n1(&w);
	admin(&w, 2, CLM_ADMIN_DRAINED, 0, 50, 0, 50);
	assert_false(cl_cluster_accepts_vms(w.c, 2));
	assert_false(drain_target_ok(w.c, cfg, 1, 2, &why));
	assert_string_equal(why, "drained");
	assert_true(cl_cluster_accepts_vms(w.c, 3));
	admin(&w, 1, CLM_ADMIN_DRAINING, 0, 100, 0, 100);
	step(&w);
	assert_int_equal(w.out.n_orders, 2);
	for (size_t i = 0; i < w.out.n_orders; i++)
		assert_int_equal(w.out.orders[i].target, 3);
	world_down(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drain_limits_and_drained),
		cmocka_unit_test(test_retry_once_then_blocked),
		cmocka_unit_test(test_failed_target_replanned),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_migration_link_rule),
		cmocka_unit_test(test_migration_links),
		cmocka_unit_test(test_abort_and_register),
		cmocka_unit_test(test_draining_node_takes_nothing),
		cmocka_unit_test(test_not_drained_while_running),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
