/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-cluster.c: the replicated cluster state machine — node
 * states from membership, quorum and replicated link views, the
 * coordinator, the link-view messages (encoded, delivered to other
 * instances as CPG would), and rejection of bad messages. Fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/cluster-fixture.h"

#include "clusterd/cluster.h"
#include "clusterd/status.h"

#define N           3
#define NET_MGMT    0
#define NET_CLUSTER 1
#define NET_MIG     2

static struct cfg *cfg;
static char dir[] = "/tmp/test-cluster.XXXXXX";

struct evlog {
	struct cl_event ev[64];
	size_t n;
};

static void record(const struct cl_event *ev, void *ud)
{
	struct evlog *l = ud;

	assert_true(l->n < 64);
	l->ev[l->n++] = *ev;
}

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

static struct cs_quorum quorum(bool quorate, const uint32_t *members, size_t n);

/* Start-up as corosync delivers it: connected, quorum first (all three in
 * corosync's membership), then our group growing as clusterds start. No
 * node is ever FAILED on the way; one never seen in our group is UNKNOWN,
 * and FAILED only once it has been a member and left. */
static void test_startup_judges_nobody_failed(void **state)
{
	const uint32_t all[] = {1, 2, 3}, me[] = {1}, two[] = {1, 2};
	struct cs_quorum q = quorum(true, all, N);
	struct evlog log = {0};
	struct cl_cluster *c;

	assert_int_equal(cl_cluster_new(cfg, 1, &c), 0);
	cl_cluster_set_event_cb(c, record, &log);
	cl_cluster_connected(c, true, 1);
	cl_cluster_quorum(c, &q, 1);
	for (uint32_t id = 1; id <= N; id++)
		assert_int_equal(cl_cluster_node_state(c, id), CL_NODE_UNKNOWN); /* no membership yet */
	cl_cluster_membership(c, me, 1, 2);
	assert_int_equal(cl_cluster_node_state(c, 1), CL_NODE_ONLINE);
	assert_int_equal(cl_cluster_node_state(c, 2), CL_NODE_UNKNOWN);
	cl_cluster_membership(c, two, 2, 3);
	assert_int_equal(cl_cluster_node_state(c, 2), CL_NODE_ONLINE);
	assert_int_equal(cl_cluster_node_state(c, 3), CL_NODE_UNKNOWN);
	for (size_t i = 0; i < log.n; i++)
		if (log.ev[i].kind == CL_EV_NODE)
			assert_int_not_equal(log.ev[i].new_state, CL_NODE_FAILED);
	/* n2's clusterd goes away while its corosync stays: FAILED */
	cl_cluster_membership(c, me, 1, 4);
	assert_int_equal(cl_cluster_node_state(c, 2), CL_NODE_FAILED);
	assert_int_equal(cl_cluster_node_state(c, 3), CL_NODE_UNKNOWN);
	/* n3 leaves corosync's membership: FAILED even though never seen */
	q = quorum(true, two, 2);
	cl_cluster_quorum(c, &q, 5);
	assert_int_equal(cl_cluster_node_state(c, 3), CL_NODE_FAILED);
	cl_cluster_free(c);
}

static struct cs_quorum quorum(bool quorate, const uint32_t *members, size_t n)
{
	struct cs_quorum q = {
		.quorate = quorate, .total_votes = (uint32_t)n, .expected_votes = N, .quorum = 2};

	memcpy(q.members, members, n * sizeof(*members));
	q.n_members = n;
	return q;
}

/* A node's cluster instance, up and a member of a quorate group of `n`. */
static struct cl_cluster *node_up(uint32_t id, const uint32_t *members, size_t n, bool quorate,
				  struct evlog *log)
{
	struct cl_cluster *c;
	struct cs_quorum q = quorum(quorate, members, n);

	assert_int_equal(cl_cluster_new(cfg, id, &c), 0);
	if (log)
		cl_cluster_set_event_cb(c, record, log);
	cl_cluster_connected(c, true, 1);
	cl_cluster_membership(c, members, n, 1);
	cl_cluster_quorum(c, &q, 1);
	return c;
}

static void set_link_h(struct cl_cluster *c, uint32_t peer, uint8_t link, enum hb_link_state s,
		       enum hb_node_health h, bool rising, usec_t now)
{
	struct hb_link_stats st = {
		.state = s, .cls = HB_CLASS_SAME_SUBNET, .rtt_us = 300, .loss_permille = 0, .rising = rising};

	cl_cluster_local_link(c, peer, link, &st, h, now);
}

/* a settled view: a DOWN link with the node DEGRADED, UP links with it UP */
static void set_link(struct cl_cluster *c, uint32_t peer, uint8_t link, enum hb_link_state s, usec_t now)
{
	set_link_h(c, peer, link, s, s == HB_LINK_DOWN ? HB_NODE_DEGRADED : HB_NODE_UP, false, now);
}

/* Deliver `from`'s due view to every instance in `to` (CPG total order). */
static void deliver(struct cl_cluster *from, uint32_t from_id, struct cl_cluster **to, size_t n, usec_t now)
{
	uint8_t buf[8192];
	int len = cl_cluster_poll_send(from, now, buf, sizeof(buf));

	assert_true(len > 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cl_cluster_receive(to[i], from_id, buf, (size_t)len, now), 0);
}

static void test_all_online_one_coordinator(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c[N];

	for (int i = 0; i < N; i++)
		c[i] = node_up((uint32_t)i + 1, all, N, true, NULL);
	for (int i = 0; i < N; i++) {
		for (uint32_t id = 1; id <= N; id++)
			assert_int_equal(cl_cluster_node_state(c[i], id), CL_NODE_ONLINE);
		assert_int_equal(cl_cluster_coordinator(c[i]), 1);
		assert_true(cl_cluster_is_quorate(c[i]));
	}
	for (int i = 0; i < N; i++)
		cl_cluster_free(c[i]);
}

static void test_left_membership_failed_and_coordinator_moves(void **state)
{
	const uint32_t all[] = {1, 2, 3}, without1[] = {2, 3};
	struct evlog log = {0};
	struct cl_cluster *c = node_up(2, all, N, true, &log);
	struct cs_quorum q = quorum(true, without1, 2);

	log.n = 0;
	cl_cluster_membership(c, without1, 2, 10);
	cl_cluster_quorum(c, &q, 10);
	assert_int_equal(cl_cluster_node_state(c, 1), CL_NODE_FAILED);
	assert_int_equal(cl_cluster_coordinator(c), 2);
	assert_int_equal(log.n, 2); /* node 1 failed, then the coordinator */
	assert_int_equal(log.ev[0].kind, CL_EV_NODE);
	assert_int_equal(log.ev[0].node_id, 1);
	assert_int_equal(log.ev[0].old_state, CL_NODE_ONLINE);
	assert_int_equal(log.ev[0].new_state, CL_NODE_FAILED);
	assert_string_equal(log.ev[0].reason, "clusterd left the membership");
	assert_int_equal(log.ev[1].kind, CL_EV_COORDINATOR);
	assert_int_equal(log.ev[1].node_id, 2);
	/* it comes back */
	cl_cluster_membership(c, all, N, 20);
	assert_int_equal(cl_cluster_node_state(c, 1), CL_NODE_ONLINE);
	assert_int_equal(cl_cluster_coordinator(c), 1);
	cl_cluster_free(c);
}

/* Partition 1 | 2,3: the single node is not quorate and declares nobody
 * FAILED; the pair is quorate and declares node 1 FAILED. */
static void test_partition_minority_judges_nobody(void **state)
{
	const uint32_t one[] = {1}, pair[] = {2, 3};
	struct cl_cluster *alone = node_up(1, one, 1, false, NULL), *two = node_up(2, pair, 2, true, NULL);

	assert_int_equal(cl_cluster_node_state(alone, 1), CL_NODE_ONLINE);
	assert_int_equal(cl_cluster_node_state(alone, 2), CL_NODE_UNKNOWN);
	assert_int_equal(cl_cluster_node_state(alone, 3), CL_NODE_UNKNOWN);
	assert_int_equal(cl_cluster_coordinator(alone), 0);
	assert_false(cl_cluster_is_quorate(alone));
	assert_int_equal(cl_cluster_node_state(two, 1), CL_NODE_FAILED);
	assert_int_equal(cl_cluster_node_state(two, 3), CL_NODE_ONLINE);
	assert_int_equal(cl_cluster_coordinator(two), 2);
	cl_cluster_free(alone);
	cl_cluster_free(two);
}

/* n2's cluster link is down: n1 and n3 see n2/cluster DOWN, n2 sees both
 * of its cluster links DOWN. After the views replicate, every node says n2
 * is DEGRADED on "cluster" and n1, n3 are ONLINE. */
static void test_degraded_is_the_same_everywhere(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c[N];

	for (int i = 0; i < N; i++)
		c[i] = node_up((uint32_t)i + 1, all, N, true, NULL);
	for (int i = 0; i < N; i++)
		for (uint32_t p = 1; p <= N; p++)
			for (uint8_t l = 0; l < 3; l++)
				if (p != (uint32_t)i + 1)
					set_link(c[i], p, l, HB_LINK_UP, 5);
	set_link(c[0], 2, NET_CLUSTER, HB_LINK_DOWN, 6);
	set_link(c[2], 2, NET_CLUSTER, HB_LINK_DOWN, 6);
	set_link(c[1], 1, NET_CLUSTER, HB_LINK_DOWN, 6);
	set_link(c[1], 3, NET_CLUSTER, HB_LINK_DOWN, 6);
	for (int i = 0; i < N; i++)
		deliver(c[i], (uint32_t)i + 1, c, N, 7);
	for (int i = 0; i < N; i++) {
		assert_int_equal(cl_cluster_node_state(c[i], 1), CL_NODE_ONLINE);
		assert_int_equal(cl_cluster_node_state(c[i], 2), CL_NODE_DEGRADED);
		assert_int_equal(cl_cluster_degraded_mask(c[i], 2), 1u << NET_CLUSTER);
		assert_int_equal(cl_cluster_node_state(c[i], 3), CL_NODE_ONLINE);
	}
	/* one side's report is enough: n1 alone says n3/migration DOWN -> pair
	 * (1,3) down on migration, but n3 still reaches n2 there: not degraded */
	set_link(c[0], 3, NET_MIG, HB_LINK_DOWN, 8);
	deliver(c[0], 1, c, N, 9);
	for (int i = 0; i < N; i++)
		assert_int_equal(cl_cluster_node_state(c[i], 3), CL_NODE_ONLINE);
	for (int i = 0; i < N; i++)
		cl_cluster_free(c[i]);
}

/* Still in the CPG membership, but every other member sees all its links
 * DOWN: FAILED in a quorate partition (faster than corosync's token). */
static void test_heartbeat_dead_member_failed(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c[N];

	for (int i = 0; i < N; i++)
		c[i] = node_up((uint32_t)i + 1, all, N, true, NULL);
	for (uint8_t l = 0; l < 3; l++) {
		set_link(c[0], 3, l, l == 2 ? HB_LINK_UP : HB_LINK_DOWN, 5);
		set_link(c[1], 3, l, HB_LINK_DOWN, 5);
	}
	deliver(c[0], 1, c, 2, 6);
	deliver(c[1], 2, c, 2, 6);
	assert_int_equal(cl_cluster_node_state(c[0], 3),
			 CL_NODE_DEGRADED); /* n1 still hears it on migration */
	/* every link DOWN, but a monitor that has not settled on DOWN yet */
	for (uint8_t l = 0; l < 3; l++) {
		set_link_h(c[0], 3, l, HB_LINK_DOWN, HB_NODE_DEGRADED, false, 7);
		set_link_h(c[1], 3, l, HB_LINK_DOWN, HB_NODE_DOWN, false, 7);
	}
	deliver(c[0], 1, c, 2, 8);
	deliver(c[1], 2, c, 2, 8);
	assert_int_not_equal(cl_cluster_node_state(c[0], 3), CL_NODE_FAILED);
	for (uint8_t l = 0; l < 3; l++)
		set_link_h(c[0], 3, l, HB_LINK_DOWN, HB_NODE_DOWN, false, 9);
	deliver(c[0], 1, c, 2, 10);
	assert_int_equal(cl_cluster_node_state(c[0], 3), CL_NODE_FAILED);
	assert_int_equal(cl_cluster_node_state(c[1], 3), CL_NODE_FAILED);
	/* coming back: every DOWN link rising is no longer "dead" */
	for (uint8_t l = 0; l < 3; l++)
		set_link_h(c[0], 3, l, HB_LINK_DOWN, HB_NODE_DOWN, true, 11);
	deliver(c[0], 1, c, 2, 12);
	assert_int_not_equal(cl_cluster_node_state(c[1], 3), CL_NODE_FAILED);
	for (int i = 0; i < N; i++)
		cl_cluster_free(c[i]);
}

/* n3 dies, then comes back. n2's monitor has its management link DOWN but holds the node UP
 * (its other links are silent, not yet DOWN), and that partial view is the
 * last one CPG delivers before the ring re-forms; n1 has settled on DOWN.
 * n3 must not be DEGRADED ("alive, drain it live") in between. */
static void test_dying_node_partial_view_not_degraded(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c[N];

	for (int i = 0; i < N; i++)
		c[i] = node_up((uint32_t)i + 1, all, N, true, NULL);
	for (int i = 0; i < 2; i++)
		for (uint8_t l = 0; l < 3; l++)
			set_link(c[i], 3, l, HB_LINK_UP, 5);
	deliver(c[2], 3, c, N, 5); /* n3's last view: all fine */
	set_link_h(c[1], 3, NET_MGMT, HB_LINK_DOWN, HB_NODE_UP, false, 6);
	deliver(c[1], 2, c, 2, 6);
	for (uint8_t l = 0; l < 3; l++)
		set_link_h(c[0], 3, l, HB_LINK_DOWN, HB_NODE_DOWN, false, 7);
	deliver(c[0], 1, c, 2, 7);
	for (int i = 0; i < 2; i++)
		assert_int_equal(cl_cluster_node_state(c[i], 3), CL_NODE_ONLINE);

	/* it comes back: a member again while its links rise one by one (the
	 * monitors hold DOWN until all have risen): never DEGRADED either */
	set_link_h(c[1], 3, NET_CLUSTER, HB_LINK_DOWN, HB_NODE_DOWN, false, 8);
	set_link_h(c[1], 3, NET_MIG, HB_LINK_DOWN, HB_NODE_DOWN, false, 8);
	set_link_h(c[1], 3, NET_MGMT, HB_LINK_DOWN, HB_NODE_DOWN, true, 8);
	set_link_h(c[0], 3, NET_MGMT, HB_LINK_DOWN, HB_NODE_DOWN, true, 8);
	deliver(c[1], 2, c, 2, 9);
	deliver(c[0], 1, c, 2, 9);
	for (int i = 0; i < 2; i++)
		assert_int_not_equal(cl_cluster_node_state(c[i], 3), CL_NODE_DEGRADED);
	for (int i = 0; i < N; i++)
		cl_cluster_free(c[i]);
}

static void test_disconnected_knows_nothing(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c = node_up(1, all, N, true, NULL);
	uint8_t buf[4096];

	set_link(c, 2, 0, HB_LINK_UP, 2);
	cl_cluster_connected(c, false, 3);
	for (uint32_t id = 1; id <= N; id++)
		assert_int_equal(cl_cluster_node_state(c, id), CL_NODE_UNKNOWN);
	assert_int_equal(cl_cluster_coordinator(c), 0);
	assert_false(cl_cluster_is_quorate(c));
	assert_int_equal(cl_cluster_quorum_info(c)->n_members, 0);
	assert_int_equal(cl_cluster_poll_send(c, 4, buf, sizeof(buf)), 0); /* nothing to send to */
	assert_int_equal(cl_cluster_next_deadline(c), USEC_INFINITY);
	cl_cluster_free(c);
}

static void test_send_schedule(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c = node_up(1, all, N, true, NULL);
	uint8_t buf[4096];
	struct clm_link_view v;
	int len;

	assert_int_equal(cl_cluster_next_deadline(c), 0); /* due: membership changed */
	set_link(c, 2, NET_CLUSTER, HB_LINK_UP, 2);
	len = cl_cluster_poll_send(c, 100, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(clm_decode_link_view(buf, (size_t)len, &v), 0);
	assert_int_equal(v.sender, 1);
	assert_int_equal(v.generation, 1);
	assert_int_equal(v.count, 1);
	assert_int_equal(v.entries[0].peer, 2);
	assert_int_equal(v.entries[0].link, NET_CLUSTER);
	assert_int_equal(v.entries[0].rtt_us, 300);
	assert_int_equal(cl_cluster_poll_send(c, 101, buf, sizeof(buf)), 0);
	assert_int_equal(cl_cluster_next_deadline(c), 100 + CL_VIEW_REFRESH_USEC);
	/* an RTT-only change waits for the refresh; a state change does not */
	set_link(c, 2, NET_CLUSTER, HB_LINK_UP, 200);
	assert_int_equal(cl_cluster_poll_send(c, 201, buf, sizeof(buf)), 0);
	set_link(c, 2, NET_CLUSTER, HB_LINK_LOSSY, 300);
	assert_true(cl_cluster_poll_send(c, 301, buf, sizeof(buf)) > 0);
	/* a failed send makes it due again */
	cl_cluster_send_failed(c);
	assert_int_equal(cl_cluster_next_deadline(c), 0);
	assert_true(cl_cluster_poll_send(c, 302, buf, sizeof(buf)) > 0);
	assert_int_equal(cl_cluster_poll_send(c, 302 + CL_VIEW_REFRESH_USEC - 1, buf, sizeof(buf)), 0);
	assert_true(cl_cluster_poll_send(c, 302 + CL_VIEW_REFRESH_USEC, buf, sizeof(buf)) > 0);
	assert_int_equal(cl_cluster_poll_send(c, 0, buf, 10), 0); /* not due: buffer size irrelevant */
	cl_cluster_send_failed(c);
	assert_int_equal(cl_cluster_poll_send(c, 999999999, buf, 10), -EMSGSIZE);
	cl_cluster_free(c);
}

static void test_bad_messages_rejected(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct evlog log = {0};
	struct cl_cluster *c1 = node_up(1, all, N, true, &log), *c2 = node_up(2, all, N, true, NULL);
	uint8_t buf[4096], bad[4096];
	int len;

	set_link(c2, 1, 0, HB_LINK_DOWN, 2);
	len = cl_cluster_poll_send(c2, 3, buf, sizeof(buf));
	assert_true(len > 0);
	log.n = 0;
	/* every truncation */
	for (int l = 0; l < len; l++)
		assert_true(cl_cluster_receive(c1, 2, buf, (size_t)l, 4) < 0);
	/* sender mismatch */
	assert_int_equal(cl_cluster_receive(c1, 3, buf, (size_t)len, 4), -EBADMSG);
	/* newer version: ignored as unsupported */
	memcpy(bad, buf, (size_t)len);
	bad[4] = 2;
	assert_int_equal(cl_cluster_receive(c1, 2, bad, (size_t)len, 4), -EPROTONOSUPPORT);
	/* unknown type */
	memcpy(bad, buf, (size_t)len);
	bad[5] = 99;
	assert_int_equal(cl_cluster_receive(c1, 2, bad, (size_t)len, 4), -ENOMSG);
	/* an entry with a state out of range */
	memcpy(bad, buf, (size_t)len);
	bad[CLM_HEADER_LEN + CLM_VIEW_HEADER_LEN + 5] = 9;
	assert_int_equal(cl_cluster_receive(c1, 2, bad, (size_t)len, 4), -EBADMSG);
	/* every event was a BAD_MESSAGE and nothing changed */
	for (size_t i = 0; i < log.n; i++)
		assert_int_equal(log.ev[i].kind, CL_EV_BAD_MESSAGE);
	assert_int_equal(log.n, (size_t)len + 4);
	assert_int_equal(cl_cluster_node_state(c1, 2), CL_NODE_ONLINE);
	/* the genuine one is accepted, then its replay is stale */
	assert_int_equal(cl_cluster_receive(c1, 2, buf, (size_t)len, 5), 0);
	assert_int_equal(cl_cluster_receive(c1, 2, buf, (size_t)len, 6), -ESTALE);
	{
		struct cl_link_info li;
		assert_int_equal(cl_cluster_link(c1, 2, 1, 0, &li), 0);
		assert_true(li.known);
		assert_int_equal(li.state, HB_LINK_DOWN);
		assert_int_equal(cl_cluster_link(c1, 9, 1, 0, &li), -ENOENT);
	}
	cl_cluster_free(c1);
	cl_cluster_free(c2);
}

/* A member that leaves takes its views with it: when it comes back it
 * starts a new generation count and its first view is accepted. */
static void test_rejoin_resets_views(void **state)
{
	const uint32_t all[] = {1, 2, 3}, without2[] = {1, 3};
	struct cl_cluster *c1 = node_up(1, all, N, true, NULL), *c2 = node_up(2, all, N, true, NULL);
	struct cl_link_info li;
	uint8_t buf[4096];
	int len;

	set_link(c2, 1, 0, HB_LINK_UP, 2);
	deliver(c2, 2, &c1, 1, 3);
	cl_cluster_membership(c1, without2, 2, 4);
	assert_int_equal(cl_cluster_link(c1, 2, 1, 0, &li), 0);
	assert_false(li.known);
	cl_cluster_free(c2);
	c2 = node_up(2, all, N, true, NULL); /* restarted: generation 1 again */
	set_link(c2, 1, 0, HB_LINK_LOSSY, 5);
	cl_cluster_membership(c1, all, N, 6);
	len = cl_cluster_poll_send(c2, 7, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(cl_cluster_receive(c1, 2, buf, (size_t)len, 7), 0);
	assert_int_equal(cl_cluster_link(c1, 2, 1, 0, &li), 0);
	assert_int_equal(li.state, HB_LINK_LOSSY);
	cl_cluster_free(c1);
	cl_cluster_free(c2);
}

static struct clm_vm mkvm(const char *name, char id, uint8_t st)
{
	struct clm_vm v;

	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "%s", name);
	memset(v.uuid, id, 36);
	v.uuid[8] = v.uuid[13] = v.uuid[18] = v.uuid[23] = '-';
	v.state = st;
	v.vcpus = 1;
	v.mem_kib = 262144;
	return v;
}

/* Drain every due message of `from` into `to`. */
static int deliver_all(struct cl_cluster *from, uint32_t from_id, struct cl_cluster **to, size_t n,
		       usec_t now)
{
	uint8_t buf[65536];
	int len, msgs = 0;

	while ((len = cl_cluster_poll_send(from, now, buf, sizeof(buf))) > 0) {
		for (size_t i = 0; i < n; i++)
			assert_int_equal(cl_cluster_receive(to[i], from_id, buf, (size_t)len, now), 0);
		msgs++;
	}
	assert_int_equal(len, 0);
	return msgs;
}

static void test_inventory_replicates(void **state)
{
	const uint32_t all[] = {1, 2, 3}, without1[] = {2, 3};
	struct cl_cluster *c1 = node_up(1, all, N, true, NULL), *c2 = node_up(2, all, N, true, NULL);
	struct clm_vm vms[2] = {mkvm("web", 'a', CLM_VM_RUNNING), mkvm("db", 'b', CLM_VM_PAUSED)};
	const struct clm_vm *got;
	size_t n;
	bool up, known;

	assert_int_equal(cl_cluster_inventory(c2, 1, &got, &n, &up, &known), 0);
	assert_false(known);
	cl_cluster_local_inventory(c1, vms, 2, true, 0, 0, 2);
	assert_int_equal(deliver_all(c1, 1, &c2, 1, 3), 2); /* link view + inventory */
	assert_int_equal(cl_cluster_inventory(c2, 1, &got, &n, &up, &known), 0);
	assert_true(known && up);
	assert_int_equal(n, 2);
	assert_string_equal(got[0].name, "web");
	assert_int_equal(got[1].state, CLM_VM_PAUSED);
	assert_int_equal(got[0].mem_kib, 262144);
	/* unchanged: nothing to send; changed: sent */
	cl_cluster_local_inventory(c1, vms, 2, true, 0, 0, 4);
	assert_int_equal(deliver_all(c1, 1, &c2, 1, 5), 0);
	cl_cluster_local_inventory(c1, vms, 1, true, 0, 0, 6);
	assert_int_equal(deliver_all(c1, 1, &c2, 1, 7), 1);
	assert_int_equal(cl_cluster_inventory(c2, 1, &got, &n, &up, &known), 0);
	assert_int_equal(n, 1);
	/* libvirt gone there: the list is unknown, not empty */
	cl_cluster_local_inventory(c1, NULL, 0, false, 0, 0, 8);
	assert_int_equal(deliver_all(c1, 1, &c2, 1, 9), 1);
	assert_int_equal(cl_cluster_inventory(c2, 1, &got, &n, &up, &known), 0);
	assert_true(known);
	assert_false(up);
	/* node 1 leaves: its inventory is forgotten */
	cl_cluster_membership(c2, without1, 2, 10);
	assert_int_equal(cl_cluster_inventory(c2, 1, &got, &n, &up, &known), 0);
	assert_false(known);
	cl_cluster_free(c1);
	cl_cluster_free(c2);
}

static void test_inventory_bad_messages(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c1 = node_up(1, all, N, true, NULL), *c2 = node_up(2, all, N, true, NULL);
	struct clm_vm vms[1] = {mkvm("web", 'a', CLM_VM_RUNNING)};
	uint8_t buf[4096], bad[4096];
	int len;

	cl_cluster_local_inventory(c1, vms, 1, true, 0, 0, 2);
	assert_true(cl_cluster_poll_send(c1, 3, buf, sizeof(buf)) > 0); /* the view */
	len = cl_cluster_poll_send(c1, 3, buf, sizeof(buf));
	assert_int_equal(len, CLM_HEADER_LEN + CLM_INV_HEADER_LEN + CLM_INV_ENTRY_LEN);
	for (int l = 0; l < len; l++)
		assert_true(cl_cluster_receive(c2, 1, buf, (size_t)l, 4) < 0);
	memcpy(bad, buf, (size_t)len);
	memset(bad + CLM_HEADER_LEN + CLM_INV_HEADER_LEN, 'x', CLM_VM_NAME_MAX); /* name without NUL */
	assert_int_equal(cl_cluster_receive(c2, 1, bad, (size_t)len, 4), -EBADMSG);
	memcpy(bad, buf, (size_t)len);
	bad[CLM_HEADER_LEN + CLM_INV_HEADER_LEN + 101] = 9; /* state out of range */
	assert_int_equal(cl_cluster_receive(c2, 1, bad, (size_t)len, 4), -EBADMSG);
	memcpy(bad, buf, (size_t)len);
	bad[CLM_HEADER_LEN + CLM_INV_HEADER_LEN + 64 + 10] = 0; /* uuid cut short */
	assert_int_equal(cl_cluster_receive(c2, 1, bad, (size_t)len, 4), -EBADMSG);
	assert_int_equal(cl_cluster_receive(c2, 1, buf, (size_t)len, 5), 0);
	assert_int_equal(cl_cluster_receive(c2, 1, buf, (size_t)len, 6), -ESTALE);
	cl_cluster_free(c1);
	cl_cluster_free(c2);
}

/* The same VM (uuid) running on two nodes is flagged by `vms`; running on
 * one and paused on another (a live migration's target) is not. */
static void test_vms_running_twice_flagged(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c1 = node_up(1, all, N, true, NULL), *c2 = node_up(2, all, N, true, NULL);
	struct clm_vm a[3] = {mkvm("web", 'a', CLM_VM_RUNNING), mkvm("idle", 'c', CLM_VM_SHUTOFF),
			      mkvm("moving", 'd', CLM_VM_RUNNING)};
	struct clm_vm b[3] = {mkvm("web", 'a', CLM_VM_RUNNING), mkvm("idle", 'c', CLM_VM_RUNNING),
			      mkvm("moving", 'd', CLM_VM_PAUSED)}; /* a migration's paused target */
	struct cl_status_src src = {.cfg = cfg, .cluster = c1, .local_id = 1, .now = 10};
	struct json_object *o, *twice, *list;

	cl_cluster_local_inventory(c1, a, 3, true, 0, 0, 1);
	cl_cluster_local_inventory(c2, b, 3, true, 0, 0, 1);
	deliver_all(c2, 2, &c1, 1, 2);
	o = cl_status_vms(&src);
	assert_true(json_object_object_get_ex(o, "running_twice", &twice));
	assert_int_equal(json_object_array_length(twice), 2); /* "web" on both nodes' lists */
	assert_string_equal(json_object_get_string(json_object_array_get_idx(twice, 0)), "web");
	assert_true(json_object_object_get_ex(o, "vms", &list));
	assert_int_equal(json_object_array_length(list), 6);
	json_object_put(o);
	/* node 3 has told us nothing: listed as without inventory */
	o = cl_status_vms(&src);
	assert_true(json_object_object_get_ex(o, "nodes_without_inventory", &list));
	assert_int_equal(json_object_array_length(list), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(list, 0)), "n3");
	json_object_put(o);
	cl_cluster_free(c1);
	cl_cluster_free(c2);
}

static void send_msg(struct cl_cluster **to, size_t n, uint32_t from, const uint8_t *buf, int len, int want)
{
	assert_true(len > 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cl_cluster_receive(to[i], from, buf, (size_t)len, 5), want);
}

static void request(struct cl_cluster **to, size_t n, uint32_t sender, uint64_t id, uint32_t src,
		    uint32_t dst, char u)
{
	struct clm_migrate m = {.sender = sender, .id = id, .source = src, .target = dst};
	uint8_t buf[CLM_MIGRATE_LEN];

	memset(m.uuid, u, 36);
	m.uuid[8] = m.uuid[13] = m.uuid[18] = m.uuid[23] = '-';
	snprintf(m.name, sizeof(m.name), "vm-%c", u);
	send_msg(to, n, sender, buf, clm_encode_migrate(&m, buf, sizeof(buf)), 0);
}

static int report_msg(struct cl_cluster **to, size_t n, uint32_t sender, uint64_t id, uint8_t st,
		      const char *why)
{
	struct clm_mig_report r = {
		.sender = sender, .id = id, .state = st, .processed = 10, .total = 100, .remaining = 90};
	uint8_t buf[CLM_MIG_STATE_LEN];
	int len, ret = 0;

	if (why)
		snprintf(r.reason, sizeof(r.reason), "%s", why);
	len = clm_encode_mig_report(&r, buf, sizeof(buf));
	assert_true(len > 0);
	for (size_t i = 0; i < n; i++)
		ret = cl_cluster_receive(to[i], sender, buf, (size_t)len, 6);
	return ret;
}

static bool admitted(struct cl_cluster *c, uint64_t id)
{
	const struct cl_migration *m = cl_cluster_migration(c, id);

	assert_non_null(m);
	return m->admitted;
}

/* Three requests from n1 to n2 with migration.max_concurrent 2 (default):
 * the first two are admitted, the third waits until one ends; every node
 * derives the same; only the source may report; a source that leaves fails
 * its migrations; a repeated request is ignored. */
static void test_migrations_admission(void **state)
{
	const uint32_t all[] = {1, 2, 3}, without1[] = {2, 3};
	struct cl_cluster *c[N];

	assert_int_equal(cfg->migration.max_concurrent, 2);
	for (int i = 0; i < N; i++)
		c[i] = node_up((uint32_t)i + 1, all, N, true, NULL);
	request(c, N, 3, 100, 1, 2, 'a'); /* asked on n3: any node may ask */
	request(c, N, 2, 101, 1, 2, 'b');
	request(c, N, 1, 102, 1, 2, 'c');
	request(c, N, 1, 103, 3, 2, 'd'); /* into n2 too: n2 already has 2 coming */
	for (int i = 0; i < N; i++) {
		assert_true(admitted(c[i], 100));
		assert_true(admitted(c[i], 101));
		assert_false(admitted(c[i], 102));
		assert_false(admitted(c[i], 103));
	}
	/* a report from a node that is not the source is refused */
	assert_int_equal(report_msg(c, N, 2, 100, CLM_MIG_RUNNING, NULL), -EPERM);
	assert_int_equal(report_msg(c, N, 1, 100, CLM_MIG_RUNNING, NULL), 0);
	assert_true(admitted(c[0], 101));
	assert_int_equal(cl_cluster_migration(c[2], 100)->state, CLM_MIG_RUNNING);
	assert_int_equal(cl_cluster_migration(c[2], 100)->processed, 10);
	/* one finishes: the next in request order gets its slot */
	assert_int_equal(report_msg(c, N, 1, 100, CLM_MIG_SUCCEEDED, NULL), 0);
	for (int i = 0; i < N; i++) {
		assert_true(admitted(c[i], 102));
		assert_false(admitted(c[i], 103)); /* n2 still has 101 and 102 coming */
	}
	/* finished is final */
	assert_int_equal(report_msg(c, N, 1, 100, CLM_MIG_RUNNING, NULL), -ESTALE);
	/* the same request again is ignored */
	{
		struct clm_migrate m = {.sender = 1, .id = 101, .source = 1, .target = 2};
		uint8_t buf[CLM_MIGRATE_LEN];
		memset(m.uuid, 'b', 36);
		m.uuid[8] = m.uuid[13] = m.uuid[18] = m.uuid[23] = '-';
		snprintf(m.name, sizeof(m.name), "vm-b");
		send_msg(c, N, 1, buf, clm_encode_migrate(&m, buf, sizeof(buf)), -ESTALE);
	}
	/* the source leaves: its migrations fail, n3's request into n2 runs */
	cl_cluster_membership(c[1], without1, 2, 7);
	assert_int_equal(cl_cluster_migration(c[1], 101)->state, CLM_MIG_FAILED);
	assert_string_equal(cl_cluster_migration(c[1], 101)->reason, "the source node left the membership");
	assert_int_equal(cl_cluster_migration(c[1], 102)->state, CLM_MIG_FAILED);
	assert_true(admitted(c[1], 103));
	{
		struct cl_status_src src = {.cfg = cfg, .cluster = c[1], .local_id = 2, .now = 8};
		struct json_object *o = cl_status_migrations(&src), *a, *m;
		assert_true(json_object_object_get_ex(o, "migrations", &a));
		assert_int_equal(json_object_array_length(a), 4);
		m = json_object_array_get_idx(a, 0);
		assert_true(json_object_object_get_ex(m, "state", &m));
		assert_string_equal(json_object_get_string(m), "succeeded");
		json_object_put(o);
	}
	for (int i = 0; i < N; i++)
		cl_cluster_free(c[i]);
}

static void test_migration_messages_checked(void **state)
{
	struct clm_migrate m = {.sender = 1, .id = 5, .source = 1, .target = 2};
	struct clm_migrate back;
	struct clm_mig_report r = {.sender = 1, .id = 5, .state = CLM_MIG_FAILED};
	struct clm_mig_report rback;
	uint8_t buf[CLM_MIG_STATE_LEN + 8];
	int len;

	memset(m.uuid, 'e', 36);
	m.uuid[8] = m.uuid[13] = m.uuid[18] = m.uuid[23] = '-';
	snprintf(m.name, sizeof(m.name), "db");
	len = clm_encode_migrate(&m, buf, sizeof(buf));
	assert_int_equal(len, CLM_MIGRATE_LEN);
	assert_int_equal(clm_decode_migrate(buf, (size_t)len, &back), 0);
	assert_int_equal(back.target, 2);
	assert_string_equal(back.name, "db");
	for (int l = 0; l < len; l++)
		assert_true(clm_decode_migrate(buf, (size_t)l, &back) < 0);
	buf[CLM_HEADER_LEN + 60] = 0; /* name cut: still valid ("db") but reserved bytes must be 0 */
	buf[CLM_HEADER_LEN + 120] = 1;
	assert_int_equal(clm_decode_migrate(buf, (size_t)len, &back), -EBADMSG);
	m.target = m.source; /* to itself */
	assert_int_equal(clm_encode_migrate(&m, buf, sizeof(buf)), -EINVAL);
	snprintf(r.reason, sizeof(r.reason), "no progress for 60 s");
	len = clm_encode_mig_report(&r, buf, sizeof(buf));
	assert_int_equal(len, CLM_MIG_STATE_LEN);
	assert_int_equal(clm_decode_mig_report(buf, (size_t)len, &rback), 0);
	assert_string_equal(rback.reason, "no progress for 60 s");
	buf[CLM_HEADER_LEN + 8] = 9; /* state out of range */
	assert_int_equal(clm_decode_mig_report(buf, (size_t)len, &rback), -EBADMSG);
}

/* CLM_MIG_COPY: round trip, every truncation and one byte more refused,
 * each field range checked, reserved bytes zero. */
static void test_mig_copy_codec(void **state)
{
	const struct clm_mig_copy c = {.sender = 1,
				       .id = 0x1234,
				       .bytes = 436300000,
				       .copy_us = 3500000,
				       .channels = 5,
				       .up = 5,
				       .backend = CLM_COPY_TCP_RAW,
				       .links = 2,
				       .streams = 1,
				       .flags = CLM_COPY_DONE};
	static const struct {
		size_t off;
		uint8_t v;
	} bad[] = {
		{CLM_HEADER_LEN + 0, 0},  /* id 0 (with the rest of the id zeroed below) */
		{CLM_HEADER_LEN + 27, 6}, /* up > channels */
		{CLM_HEADER_LEN + 28, 4}, /* backend out of range */
		{CLM_HEADER_LEN + 29, 0}, /* no link */
		{CLM_HEADER_LEN + 29, CLM_COPY_LINKS_MAX + 1},
		{CLM_HEADER_LEN + 30, 0},                  /* no stream */
		{CLM_HEADER_LEN + 31, 0x04},               /* unknown flag */
		{CLM_HEADER_LEN + 31, CLM_COPY_FLAGS_ALL}, /* done and failed */
		{CLM_HEADER_LEN + 39, 1},                  /* reserved */
	};
	struct clm_mig_copy back, bad_in;
	uint8_t buf[CLM_MIG_COPY_LEN + 8], mut[CLM_MIG_COPY_LEN + 8];
	int len;

	(void)state;
	len = clm_encode_mig_copy(&c, buf, sizeof(buf));
	assert_int_equal(len, CLM_MIG_COPY_LEN);
	assert_int_equal(clm_decode_mig_copy(buf, (size_t)len, &back), 0);
	assert_true(back.sender == c.sender && back.id == c.id && back.bytes == c.bytes &&
		    back.copy_us == c.copy_us && back.channels == c.channels && back.up == c.up &&
		    back.backend == c.backend && back.links == c.links && back.streams == c.streams &&
		    back.flags == c.flags);
	for (int l = 0; l < len; l++)
		assert_true(clm_decode_mig_copy(buf, (size_t)l, &back) < 0);
	memcpy(mut, buf, (size_t)len);
	mut[len] = 0;
	assert_int_equal(clm_decode_mig_copy(mut, (size_t)len + 1, &back), -EBADMSG); /* oversize */
	assert_int_equal(clm_encode_mig_copy(&c, buf, CLM_MIG_COPY_LEN - 1), -EMSGSIZE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(mut, buf, (size_t)len);
		if (bad[i].off == CLM_HEADER_LEN)
			memset(mut + CLM_HEADER_LEN, 0, 8);
		mut[bad[i].off] = bad[i].v;
		memset(&back, 0xaa, sizeof(back));
		assert_int_equal(clm_decode_mig_copy(mut, (size_t)len, &back), -EBADMSG);
		assert_int_equal(back.id, 0xaaaaaaaaaaaaaaaaull); /* untouched on failure */
	}
	/* the encoder refuses what the decoder would */
	bad_in = c;
	bad_in.up = 6;
	assert_int_equal(clm_encode_mig_copy(&bad_in, buf, sizeof(buf)), -EINVAL);
	bad_in = c;
	bad_in.links = 0;
	assert_int_equal(clm_encode_mig_copy(&bad_in, buf, sizeof(buf)), -EINVAL);
	/* another type with this length is not a copy report */
	len = clm_encode_mig_copy(&c, buf, sizeof(buf));
	buf[5] = CLM_MIG_STATE;
	assert_int_equal(clm_decode_mig_copy(buf, (size_t)len, &back), -EBADMSG);
	assert_string_equal(clm_copy_backend_name(CLM_COPY_TCP_FRAMED), "tcp framed");
	assert_string_equal(clm_copy_backend_name(9), "?");
}

static int copy_msg(struct cl_cluster **to, size_t n, uint32_t sender, uint64_t id, uint64_t bytes,
		    uint8_t backend)
{
	struct clm_mig_copy m = {.sender = sender,
				 .id = id,
				 .bytes = bytes,
				 .copy_us = 2000000,
				 .channels = 3,
				 .up = 3,
				 .backend = backend,
				 .links = 2,
				 .streams = 1};
	uint8_t buf[CLM_MIG_COPY_LEN];
	int len = clm_encode_mig_copy(&m, buf, sizeof(buf)), ret = 0;

	assert_int_equal(len, CLM_MIG_COPY_LEN);
	for (size_t i = 0; i < n; i++)
		ret = cl_cluster_receive(to[i], sender, buf, (size_t)len, 6);
	return ret;
}

static struct json_object *status_mig(struct cl_cluster *c, uint32_t local, size_t i)
{
	struct cl_status_src src = {.cfg = cfg, .cluster = c, .local_id = local, .now = 8};
	struct json_object *o = cl_status_migrations(&src), *a, *m;

	assert_true(json_object_object_get_ex(o, "migrations", &a));
	m = json_object_get(json_object_array_get_idx(a, i));
	json_object_put(o);
	return m;
}

/* Copy counters replicate from the source only, live, and show in the
 * migrations table; a finished migration keeps its last counters. */
static void test_mig_copy_replicates(void **state)
{
	const uint32_t all[] = {1, 2, 3};
	struct cl_cluster *c[N];
	struct json_object *m, *cp, *v;

	(void)state;
	for (int i = 0; i < N; i++)
		c[i] = node_up((uint32_t)i + 1, all, N, true, NULL);
	request(c, N, 1, 200, 1, 2, 'a');
	request(c, N, 1, 201, 3, 2, 'b');
	assert_int_equal(report_msg(c, N, 1, 200, CLM_MIG_RUNNING, NULL), 0);
	/* not heard yet: no transport, no counters */
	m = status_mig(c[2], 3, 0);
	assert_true(json_object_object_get_ex(m, "transport", &v) && v == NULL);
	assert_true(json_object_object_get_ex(m, "copy", &v) && v == NULL);
	json_object_put(m);
	assert_int_equal(copy_msg(c, N, 2, 200, 5, CLM_COPY_TCP_RAW), -EPERM); /* the target */
	assert_int_equal(copy_msg(c, N, 1, 999, 5, CLM_COPY_TCP_RAW), -ENOENT);
	assert_int_equal(copy_msg(c, N, 1, 200, 100000000, CLM_COPY_TCP_RAW), 0);
	for (int i = 0; i < N; i++) {
		assert_true(cl_cluster_migration(c[i], 200)->copy_known);
		assert_int_equal(cl_cluster_migration(c[i], 200)->copy.bytes, 100000000);
	}
	m = status_mig(c[2], 3, 0);
	assert_true(json_object_object_get_ex(m, "transport", &v));
	assert_string_equal(json_object_get_string(v), "mcopy");
	assert_true(json_object_object_get_ex(m, "copy", &cp) && cp);
	assert_true(json_object_object_get_ex(cp, "bytes", &v));
	assert_int_equal(json_object_get_int64(v), 100000000);
	assert_true(json_object_object_get_ex(cp, "mb_s", &v));
	assert_true(json_object_get_double(v) > 49.9 && json_object_get_double(v) < 50.1);
	assert_true(json_object_object_get_ex(cp, "channels", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(cp, "links", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(cp, "backend", &v));
	assert_string_equal(json_object_get_string(v), "tcp unframed");
	json_object_put(m);
	/* finished: the counters stay; later ones are stale */
	assert_int_equal(report_msg(c, N, 1, 200, CLM_MIG_SUCCEEDED, NULL), 0);
	assert_int_equal(copy_msg(c, N, 1, 200, 7, CLM_COPY_TCP_RAW), -ESTALE);
	assert_int_equal(cl_cluster_migration(c[1], 200)->copy.bytes, 100000000);
	/* a direct migration says so, with no counters */
	assert_int_equal(copy_msg(c, N, 3, 201, 0, CLM_COPY_DIRECT), 0);
	m = status_mig(c[0], 1, 1);
	assert_true(json_object_object_get_ex(m, "transport", &v));
	assert_string_equal(json_object_get_string(v), "direct");
	assert_true(json_object_object_get_ex(m, "copy", &v) && v == NULL);
	json_object_put(m);
	for (int i = 0; i < N; i++)
		cl_cluster_free(c[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_online_one_coordinator),
		cmocka_unit_test(test_startup_judges_nobody_failed),
		cmocka_unit_test(test_left_membership_failed_and_coordinator_moves),
		cmocka_unit_test(test_partition_minority_judges_nobody),
		cmocka_unit_test(test_degraded_is_the_same_everywhere),
		cmocka_unit_test(test_heartbeat_dead_member_failed),
		cmocka_unit_test(test_dying_node_partial_view_not_degraded),
		cmocka_unit_test(test_disconnected_knows_nothing),
		cmocka_unit_test(test_send_schedule),
		cmocka_unit_test(test_bad_messages_rejected),
		cmocka_unit_test(test_rejoin_resets_views),
		cmocka_unit_test(test_inventory_replicates),
		cmocka_unit_test(test_inventory_bad_messages),
		cmocka_unit_test(test_vms_running_twice_flagged),
		cmocka_unit_test(test_migrations_admission),
		cmocka_unit_test(test_migration_messages_checked),
		cmocka_unit_test(test_mig_copy_codec),
		cmocka_unit_test(test_mig_copy_replicates),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
