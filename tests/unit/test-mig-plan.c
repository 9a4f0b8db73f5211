/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-mig-plan.c: placement (capacity, spreading, preferred and
 * forbidden nodes, excluded targets, ordering, the reasons a VM cannot be
 * placed) and scheduling under per-source, per-target and cluster limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/mig_plan.h"

#define MIB           1024ull /* in KiB */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct mig_vm vm(const char *name, uint64_t mem_mib, uint32_t vcpus, int prio)
{
	struct mig_vm v = {.mem_kib = mem_mib * MIB, .vcpus = vcpus, .priority = prio};

	strncpy(v.name, name, sizeof(v.name) - 1);
	return v;
}

static struct mig_node node(uint32_t id, uint64_t free_mib, uint32_t vcpus, uint32_t n_vms)
{
	return (struct mig_node){.id = id,
				 .eligible = true,
				 .free_mem_kib = free_mib * MIB,
				 .free_vcpus = vcpus,
				 .n_vms = n_vms};
}

/* Four 256 MiB VMs off node 1 onto two equal nodes: spread 2 + 2. */
static void test_spreads_over_equal_nodes(void **state)
{
	struct mig_vm vms[] = {vm("a", 256, 1, 0), vm("b", 256, 1, 0), vm("c", 256, 1, 0),
			       vm("d", 256, 1, 0)};
	struct mig_node nodes[] = {node(1, 0, 0, 4), node(2, 2048, 8, 0), node(3, 2048, 8, 0)};
	struct mig_placement p[4];
	int on2 = 0, on3 = 0;

	assert_int_equal(mig_plan(vms, 4, nodes, 3, 1, NULL, 0, p), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(p[i].why, MIG_PLACED);
		on2 += p[i].target == 2;
		on3 += p[i].target == 3;
	}
	assert_int_equal(on2, 2);
	assert_int_equal(on3, 2);
	/* inputs untouched */
	assert_int_equal(nodes[1].free_mem_kib, 2048 * MIB);
}

/* Largest first: the 1500 MiB VM gets the only node with room for it. */
static void test_big_first_and_capacity(void **state)
{
	struct mig_vm vms[] = {vm("small1", 400, 1, 0), vm("big", 1500, 2, 0), vm("small2", 400, 1, 0)};
	struct mig_node nodes[] = {node(2, 1600, 8, 0), node(3, 1000, 8, 0), node(1, 0, 0, 3)};
	struct mig_placement p[3];

	assert_int_equal(mig_plan(vms, 3, nodes, 3, 1, NULL, 0, p), 3);
	assert_int_equal(p[1].target, 2);
	assert_int_equal(p[0].target, 3);
	assert_int_equal(p[2].target, 3);
}

static void test_vcpus_limit(void **state)
{
	struct mig_vm vms[] = {vm("wide", 100, 8, 0)};
	struct mig_node nodes[] = {node(2, 4096, 4, 0), node(3, 512, 8, 0)};
	struct mig_placement p[1];

	assert_int_equal(mig_plan(vms, 1, nodes, 2, 1, NULL, 0, p), 1);
	assert_int_equal(p[0].target, 3);
}

static void test_preferred_and_forbidden(void **state)
{
	struct mig_vm vms[] = {vm("pref3", 100, 1, 0), vm("not2", 100, 1, 0), vm("pref-full", 100, 1, 0)};
	struct mig_node nodes[] = {node(2, 8192, 8, 0), node(3, 1024, 8, 0), node(4, 150, 8, 0)};
	struct mig_placement p[3];

	vms[0].preferred[0] = 3; /* preferred although node 2 has more room */
	vms[1].forbidden[0] = 2;
	vms[1].forbidden[1] = 3; /* only 4 left */
	vms[2].preferred[0] = 4; /* 4 is full after not2: falls back to spreading */
	vms[2].preferred[1] = 9; /* a node that does not exist: ignored */
	assert_int_equal(mig_plan(vms, 3, nodes, 3, 1, NULL, 0, p), 3);
	assert_int_equal(p[0].target, 3);
	assert_int_equal(p[1].target, 4);
	assert_int_equal(p[2].target, 2);
}

static void test_priority_order(void **state)
{
	/* room for one: the high-priority VM gets it even though it is smaller */
	struct mig_vm vms[] = {vm("bulk", 900, 1, 0), vm("critical", 600, 1, 10)};
	struct mig_node nodes[] = {node(2, 1000, 8, 0)};
	struct mig_placement p[2];

	assert_int_equal(mig_plan(vms, 2, nodes, 1, 1, NULL, 0, p), 1);
	assert_int_equal(p[1].target, 2);
	assert_int_equal(p[0].target, 0);
	assert_int_equal(p[0].why, MIG_NO_CAPACITY);
}

static void test_unplaced_reasons_and_exclude(void **state)
{
	struct mig_vm vms[] = {vm("x", 100, 1, 0)};
	struct mig_node only_source[] = {node(1, 9999, 9, 0)};
	struct mig_node ineligible[] = {node(1, 0, 0, 1), node(2, 9999, 9, 0)};
	struct mig_node two[] = {node(2, 9999, 9, 0), node(3, 9999, 9, 0)};
	const uint32_t failed[] = {2};
	struct mig_placement p[1];

	ineligible[1].eligible = false; /* e.g. draining or quarantined */
	assert_int_equal(mig_plan(vms, 1, only_source, 1, 1, NULL, 0, p), 0);
	assert_int_equal(p[0].why, MIG_NO_TARGET);
	assert_string_equal(mig_unplaced_str(p[0].why), "no other eligible node");
	assert_int_equal(mig_plan(vms, 1, ineligible, 2, 1, NULL, 0, p), 0);
	assert_int_equal(p[0].why, MIG_NO_TARGET);
	vms[0].forbidden[0] = 2;
	vms[0].forbidden[1] = 3;
	assert_int_equal(mig_plan(vms, 1, two, 2, 1, NULL, 0, p), 0);
	assert_int_equal(p[0].why, MIG_ALL_FORBIDDEN);
	vms[0].forbidden[0] = 0;
	/* a retry after node 2 failed goes elsewhere */
	assert_int_equal(mig_plan(vms, 1, two, 2, 1, failed, 1, p), 1);
	assert_int_equal(p[0].target, 3);
	assert_int_equal(mig_plan(vms, 1, two, 2, 1, NULL, 1, p), -EINVAL);
	assert_int_equal(mig_plan(NULL, 0, NULL, 0, 1, NULL, 0, NULL), 0);
}

/* Ties: same memory left -> fewer VMs -> lower id. */
static void test_tie_breaks(void **state)
{
	struct mig_vm vms[] = {vm("t", 100, 1, 0)};
	struct mig_node nodes[] = {node(5, 1000, 8, 3), node(4, 1000, 8, 1), node(3, 1000, 8, 1)};
	struct mig_placement p[1];

	assert_int_equal(mig_plan(vms, 1, nodes, 3, 1, NULL, 0, p), 1);
	assert_int_equal(p[0].target, 3);
}

/* Free memory within 1/16 is noise (hosts of one size, sampled at other
 * moments): the node with fewer VMs wins; a clear difference still rules. */
static void test_memory_noise_spreads_by_count(void **state)
{
	struct mig_vm vms[] = {vm("t", 100, 1, 0)};
	struct mig_node close[] = {node(2, 1030, 8, 2), node(3, 1000, 8, 0)};
	struct mig_node clear[] = {node(2, 2000, 8, 2), node(3, 1000, 8, 0)};
	struct mig_placement p[1];

	assert_int_equal(mig_plan(vms, 1, close, 2, 1, NULL, 0, p), 1);
	assert_int_equal(p[0].target, 3);
	assert_int_equal(mig_plan(vms, 1, clear, 2, 1, NULL, 0, p), 1);
	assert_int_equal(p[0].target, 2);
}

static void test_schedule_limits(void **state)
{
	const struct mig_flow waiting[] = {{1, 2}, {1, 3}, {1, 2}, {1, 4}, {5, 2}};
	const struct mig_flow running[] = {{6, 2}};
	struct mig_limits lim = {.per_source = 2, .per_target = 2, .cluster = 0};
	size_t start[8], n;

	/* per source 2: the first two from node 1; node 5 -> 2 is blocked (2 already has 2) */
	n = mig_schedule(running, 1, waiting, ARRAY_SIZE(waiting), &lim, start);
	assert_int_equal(n, 2);
	assert_int_equal(start[0], 0);
	assert_int_equal(start[1], 1);
	/* max_concurrent 1: one per source, and a busy target does not block others */
	lim = (struct mig_limits){.per_source = 1, .per_target = 1};
	n = mig_schedule(running, 1, waiting, ARRAY_SIZE(waiting), &lim, start);
	assert_int_equal(n, 1);
	assert_int_equal(start[0], 1); /* 1->2 skipped: target 2 busy with 6->2 */
	/* cluster-wide cap */
	lim = (struct mig_limits){.per_source = 4, .per_target = 4, .cluster = 3};
	n = mig_schedule(running, 1, waiting, ARRAY_SIZE(waiting), &lim, start);
	assert_int_equal(n, 2);
	/* nothing waiting, or already at the cap */
	assert_int_equal(mig_schedule(running, 1, NULL, 0, &lim, start), 0);
	lim.cluster = 1;
	assert_int_equal(mig_schedule(running, 1, waiting, ARRAY_SIZE(waiting), &lim, start), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spreads_over_equal_nodes),
		cmocka_unit_test(test_big_first_and_capacity),
		cmocka_unit_test(test_vcpus_limit),
		cmocka_unit_test(test_preferred_and_forbidden),
		cmocka_unit_test(test_priority_order),
		cmocka_unit_test(test_unplaced_reasons_and_exclude),
		cmocka_unit_test(test_tie_breaks),
		cmocka_unit_test(test_memory_noise_spreads_by_count),
		cmocka_unit_test(test_schedule_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
