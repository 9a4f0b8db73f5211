/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz-cluster-msg.c: fuzz target for the CPG messages nodes
 * multicast: the decoder must be total and re-encode what it accepted
 * byte for byte, and the cluster state machine must take any message from
 * any member without crashing or leaving a node in an invalid state. */
#include <string.h>

#include "clusterd/cluster.h"
#include "clusterd/drain.h"
#include "clusterd/evac.h"
#include "tests/fuzz/fuzz.h"

#define NODES 3

static struct cfg *test_cfg(void)
{
	static struct cfg cfg;
	static bool done;

	if (done)
		return &cfg;
	strcpy(cfg.cluster_name, "fuzz");
	cfg.n_nodes = NODES;
	cfg.n_networks = 3;
	for (size_t n = 0; n < cfg.n_networks; n++) {
		snprintf(cfg.networks[n].name, sizeof(cfg.networks[n].name), "net%zu", n);
		cfg.networks[n].heartbeat = true;
	}
	for (size_t i = 0; i < NODES; i++) {
		cfg.nodes[i].id = (uint32_t)i + 1;
		snprintf(cfg.nodes[i].name, sizeof(cfg.nodes[i].name), "n%zu", i + 1);
		for (size_t n = 0; n < cfg.n_networks; n++)
			cfg.nodes[i].has_addr[n] = true;
	}
	done = true;
	return &cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t all[NODES] = {1, 2, 3};
	struct cs_quorum q = {
		.quorate = true, .total_votes = 3, .expected_votes = 3, .quorum = 2, .n_members = 3};
	struct clm_link_view *v = malloc(sizeof(*v));
	struct cl_cluster *c;
	uint8_t *again;

	FUZZ_CHECK(v != NULL);
	if (clm_decode_link_view(data, size, v) == 0) {
		again = malloc(size);
		FUZZ_CHECK(again != NULL);
		FUZZ_CHECK(clm_encode_link_view(v, again, size) == (int)size);
		FUZZ_CHECK(memcmp(again, data, size) == 0);
		free(again);
	}
	free(v);
	{
		struct clm_inventory *inv = malloc(sizeof(*inv));

		FUZZ_CHECK(inv != NULL);
		if (clm_decode_inventory(data, size, inv) == 0) {
			again = malloc(size);
			FUZZ_CHECK(again != NULL);
			FUZZ_CHECK(clm_encode_inventory(inv, again, size) == (int)size);
			FUZZ_CHECK(memcmp(again, data, size) == 0);
			free(again);
		}
		free(inv);
	}

	{
		struct clm_migrate m;
		struct clm_mig_report r;
		uint8_t out[CLM_MIG_STATE_LEN];

		if (clm_decode_migrate(data, size, &m) == 0) {
			FUZZ_CHECK(clm_encode_migrate(&m, out, sizeof(out)) == (int)size);
			FUZZ_CHECK(memcmp(out, data, size) == 0);
		}
		if (clm_decode_mig_report(data, size, &r) == 0) {
			FUZZ_CHECK(clm_encode_mig_report(&r, out, sizeof(out)) == (int)size);
			FUZZ_CHECK(memcmp(out, data, size) == 0);
		}
	}
	{
		struct clm_mig_copy m;
		uint8_t out[CLM_MIG_COPY_LEN];

		if (clm_decode_mig_copy(data, size, &m) == 0) {
			FUZZ_CHECK(clm_encode_mig_copy(&m, out, sizeof(out)) == (int)size);
			FUZZ_CHECK(memcmp(out, data, size) == 0);
			FUZZ_CHECK(strcmp(clm_copy_backend_name(m.backend), "?") != 0);
		}
	}
	{
		struct clm_admin_msg a;
		uint8_t out[CLM_ADMIN_LEN];

		if (clm_decode_admin(data, size, &a) == 0) {
			FUZZ_CHECK(clm_encode_admin(&a, out, sizeof(out)) == (int)size);
			FUZZ_CHECK(memcmp(out, data, size) == 0);
		}
	}
	{
		struct clm_fence_msg f;
		uint8_t out[CLM_FENCE_LEN];

		if (clm_decode_fence(data, size, &f) == 0) {
			FUZZ_CHECK(clm_encode_fence(&f, out, sizeof(out)) == (int)size);
			FUZZ_CHECK(memcmp(out, data, size) == 0);
		}
	}

	memcpy(q.members, all, sizeof(all));
	FUZZ_CHECK(cl_cluster_new(test_cfg(), 1, &c) == 0);
	cl_cluster_connected(c, true, 1);
	cl_cluster_membership(c, all, NODES, 1);
	cl_cluster_quorum(c, &q, 1);
	/* the same bytes from every member, twice (the second is stale or bad) */
	for (uint32_t from = 1; from <= NODES + 1; from++) {
		(void)cl_cluster_receive(c, from, data, size, 2);
		(void)cl_cluster_receive(c, from, data, size, 3);
	}
	for (uint32_t id = 1; id <= NODES; id++) {
		enum cl_node_state s = cl_cluster_node_state(c, id);
		FUZZ_CHECK(s >= CL_NODE_UNKNOWN && s <= CL_NODE_FAILED);
	}
	FUZZ_CHECK(cl_cluster_coordinator(c) == 1 || cl_cluster_coordinator(c) == 2 ||
		   cl_cluster_coordinator(c) == 3);
	for (uint32_t id = 1; id <= NODES; id++)
		FUZZ_CHECK(cl_cluster_admin(c, id).state <= CLM_ADMIN_QUARANTINED);
	{
		/* whatever state the bytes made, the drain planner copes */
		static struct drain_out out;
		struct drain_planner *p;

		FUZZ_CHECK(drain_planner_new(test_cfg(), &p) == 0);
		drain_step(p, c, 4, &out);
		FUZZ_CHECK(out.n_orders <= CL_MAX_MIGRATIONS && out.n_admin <= CFG_MAX_NODES);
		for (size_t i = 0; i < out.n_orders; i++)
			FUZZ_CHECK(out.orders[i].source != out.orders[i].target);
		drain_planner_free(p);
	}
	{
		static struct evac_out eout;
		struct evac_planner *e;

		FUZZ_CHECK(evac_planner_new(test_cfg(), &e) == 0);
		evac_step(e, c, 4, &eout);
		FUZZ_CHECK(eout.n_starts <= CL_MAX_MIGRATIONS && eout.n_fences <= CFG_MAX_NODES);
		evac_planner_free(e);
	}
	cl_cluster_free(c);
	return 0;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	struct clm_link_view v = {.sender = 2, .generation = 1};
	int len;

	if (i == 3 || i == 4) {
		static struct clm_inventory inv;
		memset(&inv, 0, sizeof(inv));
		inv = (struct clm_inventory){
			.sender = 3, .generation = 1, .libvirt_up = true, .count = (uint16_t)(i - 2)};
		for (uint16_t k = 0; k < inv.count; k++) {
			snprintf(inv.vms[k].name, sizeof(inv.vms[k].name), "vm%u", k);
			memset(inv.vms[k].uuid, 'a' + k, 36);
			inv.vms[k].state = CLM_VM_RUNNING;
			inv.vms[k].mem_kib = 131072;
		}
		len = clm_encode_inventory(&inv, buf, cap);
		return len > 0 ? (size_t)len : 0;
	}
	if (i == 5) {
		struct clm_migrate m = {.sender = 2, .id = 7, .source = 1, .target = 3};
		memset(m.uuid, 'f', 36);
		m.uuid[8] = m.uuid[13] = m.uuid[18] = m.uuid[23] = '-';
		snprintf(m.name, sizeof(m.name), "web");
		len = clm_encode_migrate(&m, buf, cap);
		return len > 0 ? (size_t)len : 0;
	}
	if (i == 6) {
		struct clm_mig_report r = {
			.sender = 1, .id = 7, .state = CLM_MIG_RUNNING, .processed = 5, .total = 9};
		len = clm_encode_mig_report(&r, buf, cap);
		return len > 0 ? (size_t)len : 0;
	}
	if (i == 7) {
		struct clm_admin_msg a = {.sender = 1,
					  .node = 2,
					  .state = CLM_ADMIN_DRAINING,
					  .version = 100,
					  .drain = 100,
					  .reason = "vm1: failed twice"};
		len = clm_encode_admin(&a, buf, cap);
		return len > 0 ? (size_t)len : 0;
	}
	if (i == 8) {
		struct clm_fence_msg f = {.sender = 1,
					  .node = 3,
					  .state = CLM_FENCE_FENCED,
					  .how = CLM_FENCED_SELF_WAIT,
					  .version = 2,
					  .reason = "self-fence time passed"};
		len = clm_encode_fence(&f, buf, cap);
		return len > 0 ? (size_t)len : 0;
	}
	if (i == 9) {
		struct clm_mig_copy m = {.sender = 1,
					 .id = 7,
					 .bytes = 1 << 20,
					 .copy_us = 500000,
					 .channels = 3,
					 .up = 2,
					 .backend = CLM_COPY_TCP_RAW,
					 .links = 2,
					 .streams = 1};
		len = clm_encode_mig_copy(&m, buf, cap);
		return len > 0 ? (size_t)len : 0;
	}
	if (i > 9)
		return 0;
	v.count = (uint16_t)(i * 3);
	for (uint16_t k = 0; k < v.count; k++)
		v.entries[k] = (struct clm_view_entry){.peer = k % 3 + 1,
						       .link = (uint8_t)(k % 3),
						       .state = (uint8_t)(k % 4),
						       .rtt_us = 250 * k};
	len = clm_encode_link_view(&v, buf, cap);
	return len > 0 ? (size_t)len : 0;
}
