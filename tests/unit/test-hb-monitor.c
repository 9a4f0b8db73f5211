/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-hb-monitor.c: the failure detector under a fake clock —
 * exact detection instants, hysteresis, replay window, RTT, history, events.
 * No sockets, no sleeps: time is a plain usec_t the test moves. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heartbeat/hb_monitor.h"

#define LOCAL         1
#define CID           0xc1c1c1c1u
#define INC           1000 /* our incarnation */
#define PINC          5000 /* the peers' incarnation */
#define MS            USEC_PER_MSEC
#define SEC           USEC_PER_SEC
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct evlog {
	struct hb_event ev[512];
	size_t n;
};

struct fx {
	struct hb_monitor *m;
	struct evlog log;
};

static void record(const struct hb_event *ev, void *userdata)
{
	struct evlog *log = userdata;

	assert_true(log->n < ARRAY_SIZE(log->ev));
	assert_int_not_equal(ev->old_state, ev->new_state);
	log->ev[log->n++] = *ev;
}

static struct hb_monitor_params params_default(void)
{
	return (struct hb_monitor_params){
		.local_id = LOCAL,
		.cluster_id = CID,
		.incarnation = INC,
		.cls = {{HB_DEFAULT_SAME_DELAY_MS, HB_DEFAULT_SAME_THRESHOLD},
			{HB_DEFAULT_CROSS_DELAY_MS, HB_DEFAULT_CROSS_THRESHOLD}},
		.rise = HB_DEFAULT_RISE,
		.history_len = HB_DEFAULT_HISTORY,
	};
}

static void fx_init(struct fx *f, const struct hb_monitor_params *p)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(hb_monitor_new(p, &f->m), 0);
	hb_monitor_set_event_cb(f->m, record, &f->log);
}

static void fx_init_default(struct fx *f)
{
	struct hb_monitor_params p = params_default();

	fx_init(f, &p);
}

static void fx_done(struct fx *f)
{
	hb_monitor_free(f->m);
	f->m = NULL;
}

static struct hb_packet peer_pkt(uint32_t node, uint8_t link, uint64_t inc, uint64_t seq, usec_t send_time)
{
	return (struct hb_packet){
		.cluster_id = CID,
		.sender = node,
		.target = LOCAL,
		.link = link,
		.incarnation = inc,
		.seq = seq,
		.send_time = send_time,
	};
}

static int rx(struct fx *f, uint32_t node, uint8_t link, uint64_t seq, usec_t now)
{
	struct hb_packet p = peer_pkt(node, link, PINC, seq, now * 3 + 7); /* peer clock: unrelated to ours */

	return hb_monitor_rx(f->m, &p, now);
}

static struct hb_link_stats stats(const struct fx *f, uint32_t node, uint8_t link)
{
	struct hb_link_stats s;

	assert_int_equal(hb_monitor_link_stats(f->m, node, link, &s), 0);
	return s;
}

static enum hb_link_state lstate(const struct fx *f, uint32_t node, uint8_t link)
{
	return stats(f, node, link).state;
}

static void expect_ev(const struct hb_event *e, enum hb_event_kind kind, uint32_t node, uint8_t link, int old,
		      int new, usec_t now)
{
	assert_int_equal(e->kind, kind);
	assert_int_equal(e->node_id, node);
	if (kind == HB_EV_LINK)
		assert_int_equal(e->link, link);
	assert_int_equal(e->old_state, old);
	assert_int_equal(e->new_state, new);
	assert_int_equal(e->now, now);
}

/* ---- parameters and bookkeeping ---- */

static void test_params_invalid(void **state)
{
	struct hb_monitor_params p;
	struct hb_monitor *m = (struct hb_monitor *)&p, *const sentinel = m;

	(void)state;
	for (int i = 0; i < 13; i++) {
		p = params_default();
		switch (i) {
		case 0:
			p.local_id = 0;
			break;
		case 1:
			p.cluster_id = 0;
			break;
		case 2:
			p.cls[0].delay_ms = HB_DELAY_MIN_MS - 1;
			break;
		case 3:
			p.cls[0].delay_ms = HB_DELAY_MAX_MS + 1;
			break;
		case 4:
			p.cls[1].delay_ms = 0;
			break;
		case 5:
			p.cls[0].threshold = HB_THRESHOLD_MIN - 1;
			break;
		case 6:
			p.cls[1].threshold = HB_THRESHOLD_MAX + 1;
			break;
		case 7:
			p.rise = 0;
			break;
		case 8:
			p.rise = HB_RISE_MAX + 1;
			break;
		case 9:
			p.history_len = 0;
			break;
		case 10:
			p.history_len = HB_HISTORY_MAX + 1;
			break;
		case 11:
			assert_int_equal(hb_monitor_new(NULL, &m), -EINVAL);
			continue;
		case 12:
			assert_int_equal(hb_monitor_new(&p, NULL), -EINVAL);
			continue;
		}
		assert_int_equal(hb_monitor_new(&p, &m), -EINVAL);
		assert_ptr_equal(m, sentinel);
	}
	/* the limits themselves are accepted */
	p = params_default();
	p.cls[0] = (struct hb_class_params){HB_DELAY_MIN_MS, HB_THRESHOLD_MIN};
	p.cls[1] = (struct hb_class_params){HB_DELAY_MAX_MS, HB_THRESHOLD_MAX};
	p.rise = HB_RISE_MAX;
	p.history_len = HB_HISTORY_MAX;
	assert_int_equal(hb_monitor_new(&p, &m), 0);
	hb_monitor_free(m);
	hb_monitor_free(NULL);
}

static void test_add_link_and_lookup_errors(void **state)
{
	struct hb_history_entry h[1];
	struct hb_link_stats s;
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_next_deadline(f.m), USEC_INFINITY);
	assert_int_equal(hb_monitor_add_link(f.m, 0, 0, HB_CLASS_SAME_SUBNET, 0), -EINVAL);
	assert_int_equal(hb_monitor_add_link(f.m, LOCAL, 0, HB_CLASS_SAME_SUBNET, 0), -EINVAL);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, (enum hb_class)2, 0), -EINVAL);
	assert_int_equal(hb_monitor_add_link(NULL, 2, 0, HB_CLASS_SAME_SUBNET, 0), -EINVAL);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, 0), 0);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_CROSS_SUBNET, 0), -EEXIST);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 1, HB_CLASS_CROSS_SUBNET, 0), 0);

	assert_int_equal(hb_monitor_link_stats(f.m, 2, 2, &s), -ENOENT);
	assert_int_equal(hb_monitor_link_stats(f.m, 3, 0, &s), -ENOENT);
	assert_int_equal(hb_monitor_link_history(f.m, 3, 0, h, 1), -ENOENT);
	assert_int_equal(hb_monitor_node_health(f.m, 3), -ENOENT);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_UNKNOWN);
	assert_int_equal(hb_monitor_link_history(f.m, 2, 0, NULL, 0), 0);

	s = stats(&f, 2, 1);
	assert_int_equal(s.state, HB_LINK_UNKNOWN);
	assert_int_equal(s.cls, HB_CLASS_CROSS_SUBNET);
	assert_int_equal(s.delay_ms, HB_DEFAULT_CROSS_DELAY_MS);
	assert_int_equal(s.threshold, HB_DEFAULT_CROSS_THRESHOLD);
	assert_int_equal(s.rtt_us, -1);
	assert_int_equal(s.srtt_us, -1);
	assert_int_equal(s.jitter_us, -1);
	assert_int_equal(s.last_rx, 0);
	assert_int_equal(f.log.n, 0);
	fx_done(&f);
}

static void test_rx_filtering(void **state)
{
	struct fx f;
	struct hb_packet p;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);

	p = peer_pkt(2, 0, PINC, 1, 0), p.target = 9;
	assert_int_equal(hb_monitor_rx(f.m, &p, SEC), HB_RX_MISDIRECTED);
	p = peer_pkt(LOCAL, 0, PINC, 1, 0);
	assert_int_equal(hb_monitor_rx(f.m, &p, SEC), HB_RX_MISDIRECTED); /* our own packet looped back */
	p = peer_pkt(2, 0, PINC, 1, 0), p.cluster_id = CID + 1;
	assert_int_equal(hb_monitor_rx(f.m, &p, SEC), HB_RX_MISDIRECTED);
	p = peer_pkt(7, 0, PINC, 1, 0);
	assert_int_equal(hb_monitor_rx(f.m, &p, SEC), HB_RX_UNKNOWN_PEER);
	p = peer_pkt(2, 5, PINC, 1, 0);
	assert_int_equal(hb_monitor_rx(f.m, &p, SEC), HB_RX_UNKNOWN_PEER);
	p = peer_pkt(2, 0, PINC, 0, 0);
	assert_int_equal(hb_monitor_rx(f.m, &p, SEC), -EINVAL);
	assert_int_equal(hb_monitor_rx(f.m, NULL, SEC), -EINVAL);
	assert_int_equal(hb_monitor_rx(NULL, &p, SEC), -EINVAL);

	assert_int_equal(stats(&f, 2, 0).rx, 0);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_UNKNOWN);
	assert_int_equal(f.log.n, 0);
	fx_done(&f);
}

/* ---- detection timing ---- */

struct detect_case {
	enum hb_class cls;
	uint32_t delay_ms, threshold;
};

static const struct detect_case detect_cases[] = {
	{HB_CLASS_SAME_SUBNET, HB_DEFAULT_SAME_DELAY_MS, HB_DEFAULT_SAME_THRESHOLD},
	{HB_CLASS_CROSS_SUBNET, HB_DEFAULT_CROSS_DELAY_MS, HB_DEFAULT_CROSS_THRESHOLD},
	{HB_CLASS_SAME_SUBNET, HB_DELAY_MIN_MS, HB_THRESHOLD_MIN},
	{HB_CLASS_CROSS_SUBNET, HB_DELAY_MAX_MS, HB_THRESHOLD_MAX},
	{HB_CLASS_SAME_SUBNET, 250, 7},
	{HB_CLASS_CROSS_SUBNET, 333, 5},
	{HB_CLASS_SAME_SUBNET, HB_DELAY_MAX_MS, HB_THRESHOLD_MIN},
	{HB_CLASS_CROSS_SUBNET, HB_DELAY_MIN_MS, HB_THRESHOLD_MAX},
};

static struct hb_monitor_params params_for(const struct detect_case *c)
{
	struct hb_monitor_params p = params_default();

	p.cls[c->cls] = (struct hb_class_params){c->delay_ms, c->threshold};
	return p;
}

/* Not DOWN at last_rx + T*d + d/2 - 1 µs, DOWN at exactly that + 1 µs, with
 * every intermediate miss counted at its instant. */
static void test_detect_exact_threshold(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(detect_cases); i++) {
		const struct detect_case *c = &detect_cases[i];
		struct hb_monitor_params p = params_for(c);
		usec_t d = c->delay_ms * MS, t0 = 5 * SEC, t1 = t0 + 10 * MS;
		usec_t down_at = t1 + c->threshold * d + d / 2;
		struct hb_link_stats s;
		struct fx f;

		print_message("  %s d=%u ms T=%u\n", hb_class_name(c->cls), c->delay_ms, c->threshold);
		fx_init(&f, &p);
		assert_int_equal(hb_monitor_add_link(f.m, 2, 0, c->cls, t0), 0);
		assert_int_equal(rx(&f, 2, 0, 1, t1), HB_RX_OK);
		assert_int_equal(lstate(&f, 2, 0), HB_LINK_UP);
		for (uint32_t k = 1; k < c->threshold; k++) {
			hb_monitor_tick(f.m, t1 + k * d + d / 2 - 1);
			assert_int_equal(stats(&f, 2, 0).missed, k - 1);
			hb_monitor_tick(f.m, t1 + k * d + d / 2);
			assert_int_equal(stats(&f, 2, 0).missed, k);
			assert_int_equal(lstate(&f, 2, 0), HB_LINK_LOSSY);
		}
		hb_monitor_tick(f.m, down_at - 1);
		assert_int_equal(lstate(&f, 2, 0), HB_LINK_LOSSY);
		assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_UP);
		f.log.n = 0;
		hb_monitor_tick(f.m, down_at);
		s = stats(&f, 2, 0);
		assert_int_equal(s.state, HB_LINK_DOWN);
		assert_int_equal(s.missed, c->threshold);
		assert_int_equal(s.state_since, down_at);
		assert_int_equal(f.log.n, 2);
		expect_ev(&f.log.ev[0], HB_EV_LINK, 2, 0, HB_LINK_LOSSY, HB_LINK_DOWN, down_at);
		assert_int_equal(f.log.ev[0].silent_us, c->threshold * d + d / 2);
		expect_ev(&f.log.ev[1], HB_EV_NODE, 2, 0, HB_NODE_UP, HB_NODE_DOWN, down_at);
		assert_int_equal(f.log.ev[1].silent_us, c->threshold * d + d / 2);
		/* DESIGN bound: the peer sent its last heartbeat at most d/2 - 1 µs
		 * before it arrived, and we are DOWN within d*(T+1) of that. */
		assert_true(down_at - (t1 - (d / 2 - 1)) <= d * (c->threshold + 1));
		fx_done(&f);
	}
}

/* A loop that wakes only at next_deadline() still detects at the exact instant. */
static void test_detect_deadline_driven(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(detect_cases); i++) {
		const struct detect_case *c = &detect_cases[i];
		struct hb_monitor_params p = params_for(c);
		usec_t d = c->delay_ms * MS, t1 = 2 * SEC + 123, now = 0, prev = 0;
		struct hb_tx tx[4];
		struct fx f;
		size_t wakeups = 0;

		fx_init(&f, &p);
		assert_int_equal(hb_monitor_add_link(f.m, 2, 0, c->cls, t1 - 1), 0);
		assert_int_equal(rx(&f, 2, 0, 1, t1), HB_RX_OK);
		while (lstate(&f, 2, 0) != HB_LINK_DOWN) {
			now = hb_monitor_next_deadline(f.m);
			assert_true(now != USEC_INFINITY);
			assert_true(wakeups == 0 || now > prev);
			hb_monitor_tick(f.m, now);
			while (hb_monitor_poll_tx(f.m, now, tx, ARRAY_SIZE(tx)) > 0)
				;
			prev = now;
			assert_true(++wakeups < 1000);
		}
		assert_int_equal(now, t1 + c->threshold * d + d / 2);
		fx_done(&f);
	}
}

/* A link never heard from goes DOWN from UNKNOWN at added + T*d + d/2. */
static void test_detect_never_heard(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(detect_cases); i++) {
		const struct detect_case *c = &detect_cases[i];
		struct hb_monitor_params p = params_for(c);
		usec_t d = c->delay_ms * MS, t0 = 3 * SEC, down_at = t0 + c->threshold * d + d / 2;
		struct fx f;

		fx_init(&f, &p);
		assert_int_equal(hb_monitor_add_link(f.m, 4, 2, c->cls, t0), 0);
		hb_monitor_tick(f.m, down_at - 1);
		assert_int_equal(lstate(&f, 4, 2), HB_LINK_UNKNOWN);
		assert_int_equal(stats(&f, 4, 2).missed, c->threshold - 1);
		assert_int_equal(f.log.n, 0);
		hb_monitor_tick(f.m, down_at);
		assert_int_equal(f.log.n, 2);
		expect_ev(&f.log.ev[0], HB_EV_LINK, 4, 2, HB_LINK_UNKNOWN, HB_LINK_DOWN, down_at);
		assert_int_equal(f.log.ev[0].silent_us, down_at - t0);
		expect_ev(&f.log.ev[1], HB_EV_NODE, 4, 0, HB_NODE_UNKNOWN, HB_NODE_DOWN, down_at);
		fx_done(&f);
	}
}

/* A heartbeat that arrives exactly at the DOWN instant is too late: the link
 * goes DOWN first and the heartbeat starts the rise count. One µs earlier it
 * keeps the link up. */
static void test_rx_at_down_instant(void **state)
{
	struct fx f;
	usec_t down_at = SEC + 10 * SEC + SEC / 2;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(rx(&f, 2, 0, 1, SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 2, 0, 2, down_at), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
	fx_done(&f);

	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(rx(&f, 2, 0, 1, SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 2, 0, 2, down_at - 1), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_UP);
	fx_done(&f);
}

/* ---- LOSSY ---- */

static void test_lossy_one_miss(void **state)
{
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(rx(&f, 2, 0, 1, SEC), HB_RX_OK);
	hb_monitor_tick(f.m, 2500 * MS - 1);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_UP);
	hb_monitor_tick(f.m, 2500 * MS);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_LOSSY);
	assert_int_equal(stats(&f, 2, 0).missed, 1);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_UP);
	/* the late heartbeat arrives: nothing was lost, so straight back to UP */
	assert_int_equal(rx(&f, 2, 0, 2, 2600 * MS), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_UP);
	assert_int_equal(stats(&f, 2, 0).missed, 0);
	assert_int_equal(stats(&f, 2, 0).lost, 0);
	assert_int_equal(f.log.n, 4);
	expect_ev(&f.log.ev[0], HB_EV_LINK, 2, 0, HB_LINK_UNKNOWN, HB_LINK_UP, SEC);
	expect_ev(&f.log.ev[1], HB_EV_NODE, 2, 0, HB_NODE_UNKNOWN, HB_NODE_UP, SEC);
	expect_ev(&f.log.ev[2], HB_EV_LINK, 2, 0, HB_LINK_UP, HB_LINK_LOSSY, 2500 * MS);
	assert_int_equal(f.log.ev[2].silent_us, 0);
	expect_ev(&f.log.ev[3], HB_EV_LINK, 2, 0, HB_LINK_LOSSY, HB_LINK_UP, 2600 * MS);
	fx_done(&f);
}

/* A lost heartbeat keeps the link LOSSY until it leaves the route history. */
static void test_lossy_gap_until_history_rolls(void **state)
{
	struct fx f;
	uint64_t seq;

	(void)state;
	fx_init_default(&f); /* history 10 */
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	for (seq = 1; seq <= 3; seq++)
		assert_int_equal(rx(&f, 2, 0, seq, seq * SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 2, 0, 5, 5 * SEC), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_LOSSY);
	assert_int_equal(stats(&f, 2, 0).lost, 1);
	assert_int_equal(stats(&f, 2, 0).loss_permille, 200); /* 1 of 5 */
	/* history now 1 2 3 4L 5; 4L is evicted by the 11th entry after seq 1 */
	for (seq = 6; seq <= 13; seq++) {
		assert_int_equal(rx(&f, 2, 0, seq, seq * SEC), HB_RX_OK);
		assert_int_equal(lstate(&f, 2, 0), HB_LINK_LOSSY);
	}
	assert_int_equal(stats(&f, 2, 0).loss_permille, 100);
	f.log.n = 0;
	assert_int_equal(rx(&f, 2, 0, 14, 14 * SEC), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_UP);
	assert_int_equal(stats(&f, 2, 0).loss_permille, 0);
	assert_int_equal(stats(&f, 2, 0).lost, 1); /* the counter keeps it */
	assert_int_equal(f.log.n, 1);
	expect_ev(&f.log.ev[0], HB_EV_LINK, 2, 0, HB_LINK_LOSSY, HB_LINK_UP, 14 * SEC);
	fx_done(&f);
}

/* ---- recovery with hysteresis ---- */

static void go_down(struct fx *f, uint64_t *seq)
{
	assert_int_equal(hb_monitor_add_link(f->m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(rx(f, 2, 0, (*seq)++, SEC), HB_RX_OK);
	hb_monitor_tick(f->m, SEC + 10 * SEC + SEC / 2);
	assert_int_equal(lstate(f, 2, 0), HB_LINK_DOWN);
}

static void test_recovery_hysteresis(void **state)
{
	const uint32_t rises[] = {1, 2, 3, 5, 10};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rises); i++) {
		struct hb_monitor_params p = params_default();
		uint32_t rise = rises[i];
		usec_t t = 20 * SEC;
		uint64_t seq = 1;
		struct hb_link_stats s;
		struct fx f;

		print_message("  rise %u\n", rise);
		p.rise = rise;
		fx_init(&f, &p);
		go_down(&f, &seq);
		seq = 100; /* the peer kept sending: 98 lost while we were down */
		for (uint32_t k = 1; k < rise; k++) {
			assert_int_equal(rx(&f, 2, 0, seq++, t += SEC), HB_RX_OK);
			assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
		}
		if (rise > 1) {
			/* a gap in the sequence restarts the count at this heartbeat */
			seq++;
			assert_int_equal(rx(&f, 2, 0, seq++, t += SEC), HB_RX_OK);
			assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
			for (uint32_t k = 2; k < rise; k++) {
				assert_int_equal(rx(&f, 2, 0, seq++, t += SEC), HB_RX_OK);
				assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
			}
		}
		f.log.n = 0;
		assert_int_equal(rx(&f, 2, 0, seq++, t += SEC), HB_RX_OK);
		s = stats(&f, 2, 0);
		/* UP, not LOSSY: the outage's losses are explained by DOWN */
		assert_int_equal(s.state, HB_LINK_UP);
		assert_int_equal(s.state_since, t);
		if (rise < 5) /* the losses are still in the history of 10 */
			assert_true(s.loss_permille > 0);
		assert_int_equal(f.log.n, 2);
		expect_ev(&f.log.ev[0], HB_EV_LINK, 2, 0, HB_LINK_DOWN, HB_LINK_UP, t);
		expect_ev(&f.log.ev[1], HB_EV_NODE, 2, 0, HB_NODE_DOWN, HB_NODE_UP, t);
		fx_done(&f);
	}
}

/* A silent interval while coming back also restarts the count. */
static void test_recovery_silence_resets_rise(void **state)
{
	struct fx f;
	uint64_t seq = 1;

	(void)state;
	fx_init_default(&f); /* rise 3 */
	go_down(&f, &seq);
	assert_int_equal(rx(&f, 2, 0, seq++, 30 * SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 2, 0, seq++, 31 * SEC), HB_RX_OK);
	/* 1.6 s of silence: an interval missed, though no sequence number was */
	assert_int_equal(rx(&f, 2, 0, seq++, 32600 * MS), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
	assert_int_equal(rx(&f, 2, 0, seq++, 33600 * MS), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
	assert_int_equal(rx(&f, 2, 0, seq++, 34600 * MS), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_UP);
	fx_done(&f);
}

/* ---- replay window ---- */

static void test_reorder_late_fills_hole(void **state)
{
	struct hb_history_entry h[10];
	struct hb_link_stats s;
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(rx(&f, 2, 0, 1, 1 * SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 2, 0, 2, 2 * SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 2, 0, 4, 3 * SEC), HB_RX_OK);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_LOSSY);
	assert_int_equal(stats(&f, 2, 0).lost, 1);
	f.log.n = 0;
	assert_int_equal(rx(&f, 2, 0, 3, 3100 * MS), HB_RX_LATE);
	s = stats(&f, 2, 0);
	assert_int_equal(s.state, HB_LINK_UP);
	assert_int_equal(s.lost, 0);
	assert_int_equal(s.late, 1);
	assert_int_equal(s.rx, 4);
	assert_int_equal(s.last_rx, 3 * SEC); /* a late heartbeat is no news of liveness */
	assert_int_equal(s.loss_permille, 0);
	assert_int_equal(hb_monitor_link_history(f.m, 2, 0, h, ARRAY_SIZE(h)), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(h[i].seq, i + 1);
		assert_false(h[i].lost);
	}
	assert_int_equal(h[2].rx_time, 3100 * MS);
	assert_int_equal(f.log.n, 1);
	expect_ev(&f.log.ev[0], HB_EV_LINK, 2, 0, HB_LINK_LOSSY, HB_LINK_UP, 3100 * MS);
	/* the same one again is a duplicate */
	assert_int_equal(rx(&f, 2, 0, 3, 3200 * MS), HB_RX_DUP);
	/* the late one does not reset the miss clock: DOWN still counts from 3 s */
	hb_monitor_tick(f.m, 3 * SEC + 10 * SEC + SEC / 2);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
	fx_done(&f);
}

static void test_duplicates(void **state)
{
	struct hb_link_stats s;
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(rx(&f, 2, 0, 10, SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 2, 0, 10, SEC + 1), HB_RX_DUP);
	/* before the first one we heard: accepted as late, never counted lost */
	assert_int_equal(rx(&f, 2, 0, 8, SEC + 2), HB_RX_LATE);
	assert_int_equal(rx(&f, 2, 0, 8, SEC + 3), HB_RX_DUP);
	assert_int_equal(rx(&f, 2, 0, 10, SEC + 4), HB_RX_DUP);
	s = stats(&f, 2, 0);
	assert_int_equal(s.dup, 3);
	assert_int_equal(s.rx, 2);
	assert_int_equal(s.late, 1);
	assert_int_equal(s.lost, 0);
	assert_int_equal(s.state, HB_LINK_UP);
	fx_done(&f);
}

static void test_stale_replay(void **state)
{
	struct hb_packet p;
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	for (uint64_t seq = 1; seq <= 100; seq++)
		assert_int_equal(rx(&f, 2, 0, seq, SEC + seq * MS), HB_RX_OK);
	assert_int_equal(rx(&f, 2, 0, 100 - HB_REPLAY_WINDOW, 2 * SEC), HB_RX_STALE);
	assert_int_equal(rx(&f, 2, 0, 1, 2 * SEC), HB_RX_STALE);
	assert_int_equal(rx(&f, 2, 0, 100 - HB_REPLAY_WINDOW + 1, 2 * SEC), HB_RX_DUP);
	/* a jump past the window: the skipped ones are lost but may still arrive */
	assert_int_equal(rx(&f, 2, 0, 300, 2 * SEC), HB_RX_OK);
	assert_int_equal(stats(&f, 2, 0).lost, 199);
	assert_int_equal(rx(&f, 2, 0, 300 - HB_REPLAY_WINDOW + 1, 2 * SEC), HB_RX_LATE);
	assert_int_equal(stats(&f, 2, 0).lost, 198);
	assert_int_equal(rx(&f, 2, 0, 300 - HB_REPLAY_WINDOW, 2 * SEC), HB_RX_STALE);
	/* an older incarnation is a replay, whatever its seq */
	p = peer_pkt(2, 0, PINC - 1, 1000, 0);
	assert_int_equal(hb_monitor_rx(f.m, &p, 2 * SEC), HB_RX_STALE);
	assert_int_equal(stats(&f, 2, 0).stale, 4);
	assert_int_equal(stats(&f, 2, 0).rx, 102);
	fx_done(&f);
}

static void test_peer_restart(void **state)
{
	struct hb_history_entry h[10];
	struct hb_packet p;
	struct fx f;
	int n;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	p = peer_pkt(2, 0, PINC, 1, 0);
	assert_int_equal(hb_monitor_rx(f.m, &p, 1 * SEC), HB_RX_OK);
	p.seq = 3; /* 2 lost */
	assert_int_equal(hb_monitor_rx(f.m, &p, 2 * SEC), HB_RX_OK);
	/* restarted: a larger incarnation, seq from 1 again, no loss counted */
	p = peer_pkt(2, 0, PINC + 1, 1, 0);
	assert_int_equal(hb_monitor_rx(f.m, &p, 3 * SEC), HB_RX_OK);
	p.seq = 4;
	assert_int_equal(hb_monitor_rx(f.m, &p, 4 * SEC), HB_RX_OK);
	assert_int_equal(stats(&f, 2, 0).lost, 3);
	/* seq 2 of the new life fills its own hole, not the old life's */
	p.seq = 2;
	assert_int_equal(hb_monitor_rx(f.m, &p, 4100 * MS), HB_RX_LATE);
	assert_int_equal(stats(&f, 2, 0).lost, 2);
	n = hb_monitor_link_history(f.m, 2, 0, h, ARRAY_SIZE(h));
	assert_int_equal(n, 7); /* 1 2L 3 | 1 2 3L 4 */
	assert_int_equal(h[1].seq, 2);
	assert_true(h[1].lost);
	assert_int_equal(h[4].seq, 2);
	assert_false(h[4].lost);
	assert_int_equal(h[5].seq, 3);
	assert_true(h[5].lost);
	/* the old life replayed */
	p = peer_pkt(2, 0, PINC, 4, 0);
	assert_int_equal(hb_monitor_rx(f.m, &p, 5 * SEC), HB_RX_STALE);
	fx_done(&f);
}

/* ---- time ---- */

static void test_clock_stuck(void **state)
{
	struct hb_link_stats before, after;
	struct hb_tx tx[2];
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, 5 * SEC), 0);
	assert_int_equal(hb_monitor_add_link(f.m, 3, 0, HB_CLASS_SAME_SUBNET, 5 * SEC), 0);
	assert_int_equal(rx(&f, 2, 0, 1, 5 * SEC), HB_RX_OK);
	assert_int_equal(hb_monitor_poll_tx(f.m, 5 * SEC, tx, 2), 2);
	before = stats(&f, 2, 0);
	f.log.n = 0;
	for (int i = 0; i < 100000; i++) {
		hb_monitor_tick(f.m, 5 * SEC);
		assert_int_equal(hb_monitor_poll_tx(f.m, 5 * SEC, tx, 2), 0);
	}
	after = stats(&f, 2, 0);
	assert_int_equal(f.log.n, 0);
	assert_int_equal(after.state, HB_LINK_UP);
	assert_int_equal(after.missed, before.missed);
	assert_int_equal(after.tx, before.tx);
	assert_int_equal(after.state_since, before.state_since);
	assert_int_equal(lstate(&f, 3, 0), HB_LINK_UNKNOWN);
	fx_done(&f);
}

static void test_time_backwards(void **state)
{
	struct hb_tx tx[1];
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, 10 * SEC), 0);
	assert_int_equal(rx(&f, 2, 0, 1, 10 * SEC), HB_RX_OK);
	hb_monitor_tick(f.m, 5 * SEC);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_UP);
	assert_int_equal(stats(&f, 2, 0).missed, 0);
	/* a heartbeat stamped in the past counts as received at 10 s */
	assert_int_equal(rx(&f, 2, 0, 2, 3 * SEC), HB_RX_OK);
	assert_int_equal(stats(&f, 2, 0).last_rx, 10 * SEC);
	/* a link added "in the past" is added now */
	assert_int_equal(hb_monitor_add_link(f.m, 3, 0, HB_CLASS_SAME_SUBNET, 1 * SEC), 0);
	assert_int_equal(stats(&f, 3, 0).state_since, 10 * SEC);
	assert_int_equal(hb_monitor_poll_tx(f.m, 2 * SEC, tx, 1), 1);
	assert_int_equal(tx[0].pkt.send_time, 10 * SEC);
	hb_monitor_tick(f.m, 20 * SEC + SEC / 2 - 1);
	hb_monitor_tick(f.m, 1);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_LOSSY);
	hb_monitor_tick(f.m, 20 * SEC + SEC / 2);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
	fx_done(&f);
}

/* ---- node health and events ---- */

struct sched {
	uint8_t link;
	usec_t from, to; /* heartbeats each whole second in [from, to] */
};

static void test_node_health_three_links(void **state)
{
	/* link 0 heard once, link 1 until 12 s then again from 30 s, link 2 until 15 s */
	const struct sched sched[] = {{0, 1 * SEC, 1 * SEC},
				      {1, 1 * SEC, 12 * SEC},
				      {1, 30 * SEC, 32 * SEC},
				      {2, 1 * SEC, 15 * SEC}};
	const struct {
		enum hb_event_kind kind;
		uint8_t link;
		int old, new;
		usec_t now;
	} want[] = {
		{HB_EV_LINK, 0, HB_LINK_UNKNOWN, HB_LINK_UP, 1 * SEC},
		{HB_EV_NODE, 0, HB_NODE_UNKNOWN, HB_NODE_UP, 1 * SEC},
		{HB_EV_LINK, 1, HB_LINK_UNKNOWN, HB_LINK_UP, 1 * SEC},
		{HB_EV_LINK, 2, HB_LINK_UNKNOWN, HB_LINK_UP, 1 * SEC},
		{HB_EV_LINK, 0, HB_LINK_UP, HB_LINK_LOSSY, 2500 * MS},
		{HB_EV_LINK, 0, HB_LINK_LOSSY, HB_LINK_DOWN, 11500 * MS},
		{HB_EV_NODE, 0, HB_NODE_UP, HB_NODE_DEGRADED, 11500 * MS},
		{HB_EV_LINK, 1, HB_LINK_UP, HB_LINK_LOSSY, 13500 * MS},
		{HB_EV_LINK, 2, HB_LINK_UP, HB_LINK_LOSSY, 16500 * MS},
		{HB_EV_LINK, 1, HB_LINK_LOSSY, HB_LINK_DOWN, 22500 * MS},
		{HB_EV_LINK, 2, HB_LINK_LOSSY, HB_LINK_DOWN, 25500 * MS},
		{HB_EV_NODE, 0, HB_NODE_DEGRADED, HB_NODE_DOWN, 25500 * MS},
		{HB_EV_LINK, 1, HB_LINK_DOWN, HB_LINK_UP, 32 * SEC},
		{HB_EV_NODE, 0, HB_NODE_DOWN, HB_NODE_DEGRADED, 32 * SEC},
	};
	uint64_t seq[3] = {1, 1, 1};
	struct fx f;

	(void)state;
	fx_init_default(&f);
	for (uint8_t l = 0; l < 3; l++)
		assert_int_equal(hb_monitor_add_link(f.m, 2, l, HB_CLASS_SAME_SUBNET, SEC), 0);
	for (usec_t t = SEC; t <= 33 * SEC; t += 100 * MS) {
		for (size_t i = 0; i < ARRAY_SIZE(sched); i++)
			if (t % SEC == 0 && t >= sched[i].from && t <= sched[i].to)
				assert_int_equal(rx(&f, 2, sched[i].link, seq[sched[i].link]++, t), HB_RX_OK);
		hb_monitor_tick(f.m, t);
		if (t == 20 * SEC)
			assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DEGRADED);
		if (t == 28 * SEC)
			assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DOWN);
	}
	assert_int_equal(f.log.n, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		expect_ev(&f.log.ev[i], want[i].kind, 2, want[i].link, want[i].old, want[i].new, want[i].now);
	assert_int_equal(f.log.ev[11].silent_us, 25500 * MS - 15 * SEC);
	assert_int_equal(f.log.ev[10].silent_us, 25500 * MS - 15 * SEC);
	assert_int_equal(f.log.ev[12].silent_us, 0);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DEGRADED);
	/* exactly once: more ticks at the same time fire nothing */
	for (int i = 0; i < 10; i++)
		hb_monitor_tick(f.m, 33 * SEC);
	assert_int_equal(f.log.n, ARRAY_SIZE(want));
	fx_done(&f);
}

static struct hb_monitor_params params_fast(void)
{
	struct hb_monitor_params p = params_default();

	p.cls[HB_CLASS_SAME_SUBNET] = (struct hb_class_params){100, 5};
	return p;
}

static size_t count_node_events(const struct fx *f, int new_state)
{
	size_t n = 0;

	for (size_t i = 0; i < f->log.n; i++)
		n += f->log.ev[i].kind == HB_EV_NODE && f->log.ev[i].new_state == new_state;
	return n;
}

/* A node that dies: its three links fall silent 0, 1 and 2 ms apart (the
 * peer sent on them at slightly different instants), so they go DOWN in
 * three different ticks. The node goes UP -> DOWN in one step: a dying node
 * is never reported DEGRADED (which would mean "drain it live"). */
static void test_node_health_dying_node_never_degraded(void **state)
{
	struct hb_monitor_params p = params_fast();
	uint64_t seq = 1;
	struct fx f;
	usec_t t;

	(void)state;
	fx_init(&f, &p);
	for (uint8_t l = 0; l < 3; l++)
		assert_int_equal(hb_monitor_add_link(f.m, 2, l, HB_CLASS_SAME_SUBNET, 0), 0);
	for (t = 0; t <= 2 * SEC; t += MS) {
		if (t % (100 * MS) < 3 * MS && t < SEC) /* link l heard at +l ms of each interval */
			assert_int_equal(rx(&f, 2, (uint8_t)(t % (100 * MS) / MS), seq, t), HB_RX_OK);
		if (t % (100 * MS) == 2 * MS)
			seq++;
		hb_monitor_tick(f.m, t);
	}
	/* last heartbeats at 900, 901, 902 ms: DOWN at +550 ms each, a tick apart */
	assert_int_equal(stats(&f, 2, 0).state_since, 1450 * MS);
	assert_int_equal(stats(&f, 2, 2).state_since, 1452 * MS);
	assert_int_equal(count_node_events(&f, HB_NODE_DEGRADED), 0);
	assert_int_equal(count_node_events(&f, HB_NODE_DOWN), 1);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DOWN);
	expect_ev(&f.log.ev[f.log.n - 1], HB_EV_NODE, 2, 0, HB_NODE_UP, HB_NODE_DOWN, 1452 * MS);
	fx_done(&f);
}

/* A DOWN node comes back: its three links finish their rise count 0, 1 and
 * 2 ms apart. The node goes DOWN -> UP in one step, never DEGRADED. Then one
 * link alone starts rising while the others stay dead: DOWN throughout. */
static void test_node_health_recovery_never_degraded(void **state)
{
	struct hb_monitor_params p = params_fast();
	uint64_t seq = 1;
	struct fx f;

	(void)state;
	fx_init(&f, &p);
	for (uint8_t l = 0; l < 3; l++)
		assert_int_equal(hb_monitor_add_link(f.m, 2, l, HB_CLASS_SAME_SUBNET, 0), 0);
	/* never heard: DOWN at 550 ms; heard from 1 s on, link l at +l ms */
	for (usec_t t = 0; t <= 2 * SEC; t += MS) {
		if (t >= SEC && t % (100 * MS) < 3 * MS)
			assert_int_equal(rx(&f, 2, (uint8_t)(t % (100 * MS) / MS), seq, t), HB_RX_OK);
		if (t % (100 * MS) == 2 * MS)
			seq++;
		hb_monitor_tick(f.m, t);
		if (t == 1150 * MS) /* each link has 2 of the 3 heartbeats it needs */
			assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DOWN);
	}
	assert_int_equal(count_node_events(&f, HB_NODE_DEGRADED), 0);
	assert_int_equal(count_node_events(&f, HB_NODE_UP), 1);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_UP);
	for (size_t i = 0; i < f.log.n; i++)
		if (f.log.ev[i].kind == HB_EV_NODE && f.log.ev[i].new_state == HB_NODE_UP)
			expect_ev(&f.log.ev[i], HB_EV_NODE, 2, 0, HB_NODE_DOWN, HB_NODE_UP, 1202 * MS);
	fx_done(&f);

	/* only link 0 comes back: once it has risen, the node is DEGRADED */
	fx_init(&f, &p);
	for (uint8_t l = 0; l < 3; l++)
		assert_int_equal(hb_monitor_add_link(f.m, 2, l, HB_CLASS_SAME_SUBNET, 0), 0);
	seq = 1;
	for (usec_t t = 0; t <= 2 * SEC; t += 10 * MS) {
		if (t >= SEC && t % (100 * MS) == 0)
			assert_int_equal(rx(&f, 2, 0, seq++, t), HB_RX_OK);
		hb_monitor_tick(f.m, t);
		if (t == 1100 * MS)
			assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DOWN);
	}
	assert_int_equal(count_node_events(&f, HB_NODE_DEGRADED), 1);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DEGRADED);
	fx_done(&f);
}

/* Link 0 dies for good; links 1 and 2 happen to miss one heartbeat right when
 * link 0 goes DOWN. The health holds at UP (undecided) while they are silent
 * and becomes DEGRADED the moment link 1 is heard again. */
static void test_node_health_held_then_degraded(void **state)
{
	struct hb_monitor_params p = params_fast();
	uint64_t seq[3] = {1, 1, 1};
	struct fx f;

	(void)state;
	fx_init(&f, &p);
	for (uint8_t l = 0; l < 3; l++)
		assert_int_equal(hb_monitor_add_link(f.m, 2, l, HB_CLASS_SAME_SUBNET, 0), 0);
	for (usec_t t = 0; t <= 2 * SEC; t += 10 * MS) {
		bool beat = t % (100 * MS) == 0;

		if (beat && t <= 500 * MS)
			assert_int_equal(rx(&f, 2, 0, seq[0]++, t), HB_RX_OK);
		/* links 1, 2: heard every 100 ms except at 1000 ms (one loss each) */
		if (beat && t != 1000 * MS) {
			assert_int_equal(rx(&f, 2, 1, seq[1]++, t), HB_RX_OK);
			assert_int_equal(rx(&f, 2, 2, seq[2]++, t), HB_RX_OK);
		} else if (beat) {
			seq[1]++, seq[2]++;
		}
		hb_monitor_tick(f.m, t);
		if (t == 1040 * MS) /* link 0 DOWN at 1050; links 1, 2 silent since 900 */
			assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_UP);
		if (t == 1050 * MS) {
			assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
			assert_int_equal(stats(&f, 2, 1).missed, 1);
			assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_UP); /* held */
		}
		if (t == 1100 * MS) /* link 1 heard again: decided */
			assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DEGRADED);
	}
	assert_int_equal(count_node_events(&f, HB_NODE_DEGRADED), 1);
	assert_int_equal(count_node_events(&f, HB_NODE_DOWN), 0);
	fx_done(&f);
}

/* Two nodes do not disturb each other; a new UNKNOWN link moves a DOWN node to UNKNOWN. */
static void test_node_health_independent(void **state)
{
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(hb_monitor_add_link(f.m, 3, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(rx(&f, 2, 0, 1, SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 3, 0, 1, SEC), HB_RX_OK);
	assert_int_equal(rx(&f, 3, 0, 2, 10 * SEC), HB_RX_OK);
	hb_monitor_tick(f.m, 11500 * MS);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DOWN);
	assert_int_equal(hb_monitor_node_health(f.m, 3), HB_NODE_UP);
	f.log.n = 0;
	assert_int_equal(hb_monitor_add_link(f.m, 2, 1, HB_CLASS_CROSS_SUBNET, 12 * SEC), 0);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_UNKNOWN);
	assert_int_equal(f.log.n, 1);
	expect_ev(&f.log.ev[0], HB_EV_NODE, 2, 0, HB_NODE_DOWN, HB_NODE_UNKNOWN, 12 * SEC);
	/* the new link comes up on its first heartbeat: node DEGRADED */
	assert_int_equal(rx(&f, 2, 1, 1, 13 * SEC), HB_RX_OK);
	assert_int_equal(hb_monitor_node_health(f.m, 2), HB_NODE_DEGRADED);
	assert_int_equal(f.log.n, 3);
	expect_ev(&f.log.ev[1], HB_EV_LINK, 2, 1, HB_LINK_UNKNOWN, HB_LINK_UP, 13 * SEC);
	expect_ev(&f.log.ev[2], HB_EV_NODE, 2, 0, HB_NODE_UNKNOWN, HB_NODE_DEGRADED, 13 * SEC);
	fx_done(&f);
}

static void test_no_callback(void **state)
{
	struct hb_monitor_params p = params_default();
	struct hb_monitor *m;
	struct hb_packet pkt = peer_pkt(2, 0, PINC, 1, 0);

	(void)state;
	assert_int_equal(hb_monitor_new(&p, &m), 0);
	assert_int_equal(hb_monitor_add_link(m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(hb_monitor_rx(m, &pkt, SEC), HB_RX_OK);
	hb_monitor_tick(m, 60 * SEC);
	assert_int_equal(hb_monitor_node_health(m, 2), HB_NODE_DOWN);
	hb_monitor_set_event_cb(m, NULL, NULL);
	pkt.seq = 2;
	assert_int_equal(hb_monitor_rx(m, &pkt, 61 * SEC), HB_RX_OK);
	hb_monitor_free(m);
}

/* ---- sending ---- */

static void test_poll_tx_schedule(void **state)
{
	struct hb_monitor_params p = params_default();
	struct hb_tx tx[4];
	struct fx f;
	bool seen[3] = {false};

	(void)state;
	p.cls[HB_CLASS_CROSS_SUBNET].delay_ms = 2000;
	fx_init(&f, &p);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(hb_monitor_poll_tx(f.m, SEC, tx, 4), 1);
	assert_int_equal(tx[0].pkt.cluster_id, CID);
	assert_int_equal(tx[0].pkt.sender, LOCAL);
	assert_int_equal(tx[0].pkt.target, 2);
	assert_int_equal(tx[0].pkt.link, 0);
	assert_int_equal(tx[0].pkt.flags, 0);
	assert_int_equal(tx[0].pkt.incarnation, INC);
	assert_int_equal(tx[0].pkt.seq, 1);
	assert_int_equal(tx[0].pkt.send_time, SEC);
	assert_int_equal(tx[0].pkt.echo_seq, 0);
	assert_int_equal(tx[0].pkt.echo_time, 0);
	assert_int_equal(tx[0].pkt.echo_hold, 0);
	assert_int_equal(hb_monitor_poll_tx(f.m, SEC, tx, 4), 0);
	assert_int_equal(hb_monitor_poll_tx(f.m, 2 * SEC - 1, tx, 4), 0);
	assert_int_equal(hb_monitor_poll_tx(f.m, 2 * SEC, tx, 4), 1);
	assert_int_equal(tx[0].pkt.seq, 2);
	/* woken a little late: the cadence is kept */
	assert_int_equal(hb_monitor_poll_tx(f.m, 3 * SEC + 200 * MS, tx, 4), 1);
	assert_int_equal(tx[0].pkt.seq, 3);
	assert_int_equal(hb_monitor_poll_tx(f.m, 4 * SEC, tx, 4), 1);
	/* a stall of several intervals: one heartbeat, then one delay later */
	assert_int_equal(hb_monitor_poll_tx(f.m, 9300 * MS, tx, 4), 1);
	assert_int_equal(tx[0].pkt.seq, 5);
	assert_int_equal(tx[0].pkt.send_time, 9300 * MS);
	assert_int_equal(hb_monitor_poll_tx(f.m, 9300 * MS, tx, 4), 0);
	assert_int_equal(hb_monitor_poll_tx(f.m, 10300 * MS - 1, tx, 4), 0);
	assert_int_equal(stats(&f, 2, 0).tx, 5);

	/* three due at once, fetched two at a time */
	assert_int_equal(hb_monitor_add_link(f.m, 3, 0, HB_CLASS_SAME_SUBNET, 10300 * MS), 0);
	assert_int_equal(hb_monitor_add_link(f.m, 3, 1, HB_CLASS_CROSS_SUBNET, 10300 * MS), 0);
	assert_int_equal(hb_monitor_poll_tx(f.m, 10300 * MS, tx, 2), 2);
	assert_int_equal(hb_monitor_poll_tx(f.m, 10300 * MS, tx + 2, 2), 1);
	assert_int_equal(hb_monitor_poll_tx(f.m, 10300 * MS, tx, 2), 0);
	for (int i = 0; i < 3; i++) {
		int idx = tx[i].pkt.target == 2 ? 0 : 1 + tx[i].pkt.link;

		assert_false(seen[idx]);
		seen[idx] = true;
		assert_int_equal(tx[i].pkt.seq, tx[i].pkt.target == 2 ? 6 : 1); /* per-link sequences */
	}
	/* cross-subnet link at 2 s */
	assert_int_equal(hb_monitor_poll_tx(f.m, 11300 * MS, tx, 4), 2);
	assert_int_equal(hb_monitor_poll_tx(f.m, 12300 * MS, tx, 4), 3);
	assert_int_equal(hb_monitor_poll_tx(NULL, 12300 * MS, tx, 4), 0);
	fx_done(&f);
}

static void test_echo_fields(void **state)
{
	struct hb_packet p;
	struct hb_tx tx[1];
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	p = peer_pkt(2, 0, PINC, 7, 777);
	assert_int_equal(hb_monitor_rx(f.m, &p, 1200 * MS), HB_RX_OK);
	assert_int_equal(hb_monitor_poll_tx(f.m, 2 * SEC, tx, 1), 1);
	assert_int_equal(tx[0].pkt.echo_seq, 7);
	assert_int_equal(tx[0].pkt.echo_time, 777);
	assert_int_equal(tx[0].pkt.echo_hold, 800 * MS);
	p = peer_pkt(2, 0, PINC, 9, 999);
	assert_int_equal(hb_monitor_rx(f.m, &p, 2500 * MS), HB_RX_OK);
	p = peer_pkt(2, 0, PINC, 8, 888); /* late: not echoed */
	assert_int_equal(hb_monitor_rx(f.m, &p, 2600 * MS), HB_RX_LATE);
	assert_int_equal(hb_monitor_poll_tx(f.m, 3 * SEC, tx, 1), 1);
	assert_int_equal(tx[0].pkt.echo_seq, 9);
	assert_int_equal(tx[0].pkt.echo_time, 999);
	assert_int_equal(tx[0].pkt.echo_hold, 500 * MS);
	fx_done(&f);
}

/* ---- RTT ---- */

static int rx_echo(struct fx *f, uint64_t seq, uint64_t echo_seq, usec_t echo_time, uint32_t hold, usec_t now)
{
	struct hb_packet p = peer_pkt(2, 0, PINC, seq, 0);

	p.echo_seq = echo_seq;
	p.echo_time = echo_time;
	p.echo_hold = hold;
	return hb_monitor_rx(f->m, &p, now);
}

static void test_rtt(void **state)
{
	struct hb_history_entry h[10];
	struct hb_link_stats s;
	struct hb_tx tx[1];
	struct fx f;
	uint64_t seq = 1;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(hb_monitor_poll_tx(f.m, SEC, tx, 1), 1); /* our seq 1 at 1 s */
	assert_int_equal(rx_echo(&f, seq++, 1, SEC, 300, SEC + 1000), HB_RX_OK);
	s = stats(&f, 2, 0);
	assert_int_equal(s.rtt_us, 700);
	assert_int_equal(s.srtt_us, 700);
	assert_int_equal(s.jitter_us, 350);
	assert_int_equal(hb_monitor_poll_tx(f.m, 2 * SEC, tx, 1), 1); /* seq 2 at 2 s */
	assert_int_equal(rx_echo(&f, seq++, 2, 2 * SEC, 0, 2 * SEC + 1500), HB_RX_OK);
	s = stats(&f, 2, 0);
	assert_int_equal(s.rtt_us, 1500);
	assert_int_equal(s.srtt_us, 800);   /* 7/8*700 + 1/8*1500 */
	assert_int_equal(s.jitter_us, 462); /* 3/4*350 + 1/4*|700-1500| */

	/* ignored: no echo, wrong time, a seq we never sent, negative, not ours */
	assert_int_equal(rx_echo(&f, seq++, 0, 0, 0, 2 * SEC + 2000), HB_RX_OK);
	assert_int_equal(rx_echo(&f, seq++, 2, 2 * SEC + 1, 0, 2 * SEC + 3000), HB_RX_OK);
	assert_int_equal(rx_echo(&f, seq++, 3, 2 * SEC, 0, 2 * SEC + 4000), HB_RX_OK);
	assert_int_equal(rx_echo(&f, seq++, 2, 2 * SEC, 10 * SEC, 2 * SEC + 5000), HB_RX_OK);
	s = stats(&f, 2, 0);
	assert_int_equal(s.rtt_us, 1500);
	assert_int_equal(s.srtt_us, 800);
	assert_int_equal(hb_monitor_link_history(f.m, 2, 0, h, ARRAY_SIZE(h)), 6);
	assert_int_equal(h[0].rtt_us, 700);
	assert_int_equal(h[1].rtt_us, 1500);
	for (int i = 2; i < 6; i++)
		assert_int_equal(h[i].rtt_us, -1);

	/* an echo of a heartbeat we sent long ago is not recent */
	for (usec_t t = 3 * SEC; t <= 30 * SEC; t += SEC) {
		assert_int_equal(hb_monitor_poll_tx(f.m, t, tx, 1), 1);
		assert_int_equal(rx_echo(&f, seq++, tx[0].pkt.seq, t, 0, t + 2000), HB_RX_OK);
	}
	assert_int_equal(stats(&f, 2, 0).rtt_us, 2000);
	assert_int_equal(rx_echo(&f, seq++, 2, 2 * SEC, 0, 30 * SEC + 5000), HB_RX_OK);
	assert_int_equal(stats(&f, 2, 0).rtt_us, 2000);
	/* a zero RTT (same clock tick) is a valid sample */
	assert_int_equal(rx_echo(&f, seq++, tx[0].pkt.seq, 30 * SEC, 6000, 30 * SEC + 6000), HB_RX_OK);
	assert_int_equal(stats(&f, 2, 0).rtt_us, 0);
	fx_done(&f);
}

/* ---- history ---- */

static void test_history_and_loss(void **state)
{
	struct hb_monitor_params p = params_default();
	const uint64_t seqs[] = {1, 2, 4, 5, 8};
	struct hb_history_entry h[8];
	struct hb_link_stats s;
	struct fx f;

	(void)state;
	p.history_len = 5;
	fx_init(&f, &p);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	for (size_t i = 0; i < ARRAY_SIZE(seqs); i++)
		assert_int_equal(rx(&f, 2, 0, seqs[i], seqs[i] * SEC), HB_RX_OK);
	/* 1 2 3L 4 5 6L 7L 8: the newest five remain */
	assert_int_equal(hb_monitor_link_history(f.m, 2, 0, h, ARRAY_SIZE(h)), 5);
	for (int i = 0; i < 5; i++) {
		bool lost = i == 2 || i == 3;

		assert_int_equal(h[i].seq, 4 + i);
		assert_int_equal(h[i].lost, lost);
		assert_int_equal(h[i].rx_time, lost ? 0 : (4 + i) * SEC);
		assert_int_equal(h[i].rtt_us, -1);
	}
	s = stats(&f, 2, 0);
	assert_int_equal(s.lost, 3);
	assert_int_equal(s.rx, 5);
	assert_int_equal(s.loss_permille, 400);
	assert_int_equal(s.state, HB_LINK_LOSSY);
	/* short output: the newest ones, still oldest first */
	assert_int_equal(hb_monitor_link_history(f.m, 2, 0, h, 2), 2);
	assert_int_equal(h[0].seq, 7);
	assert_int_equal(h[1].seq, 8);
	assert_int_equal(hb_monitor_link_history(f.m, 2, 0, NULL, 2), -EINVAL);
	/* a huge gap: counted in full, but at most history_len entries added */
	assert_int_equal(rx(&f, 2, 0, 1000, 9 * SEC), HB_RX_OK);
	s = stats(&f, 2, 0);
	assert_int_equal(s.lost, 3 + 991);
	assert_int_equal(s.loss_permille, 800);
	assert_int_equal(hb_monitor_link_history(f.m, 2, 0, h, ARRAY_SIZE(h)), 5);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(h[i].seq, 996 + i);
		assert_true(h[i].lost);
	}
	assert_int_equal(h[4].seq, 1000);
	assert_false(h[4].lost);
	fx_done(&f);
}

/* ---- deadlines ---- */

static void test_next_deadline(void **state)
{
	struct hb_tx tx[2];
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_next_deadline(NULL), USEC_INFINITY);
	assert_int_equal(hb_monitor_next_deadline(f.m), USEC_INFINITY);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, SEC), 0);
	assert_int_equal(hb_monitor_next_deadline(f.m), SEC); /* first heartbeat due now */
	assert_int_equal(hb_monitor_poll_tx(f.m, SEC, tx, 2), 1);
	assert_int_equal(hb_monitor_next_deadline(f.m), 2 * SEC);
	assert_int_equal(rx(&f, 2, 0, 1, 1200 * MS), HB_RX_OK);
	assert_int_equal(hb_monitor_next_deadline(f.m), 2 * SEC);
	assert_int_equal(hb_monitor_poll_tx(f.m, 2 * SEC, tx, 2), 1);
	assert_int_equal(hb_monitor_next_deadline(f.m), 2700 * MS); /* first miss before next send */
	hb_monitor_tick(f.m, 2700 * MS);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_LOSSY);
	assert_int_equal(hb_monitor_next_deadline(f.m), 3 * SEC);
	/* a second, cross-subnet link added later with an earlier miss */
	assert_int_equal(hb_monitor_add_link(f.m, 3, 0, HB_CLASS_CROSS_SUBNET, 2800 * MS), 0);
	assert_int_equal(hb_monitor_next_deadline(f.m), 2800 * MS);
	assert_int_equal(hb_monitor_poll_tx(f.m, 2800 * MS, tx, 2), 1);
	assert_int_equal(hb_monitor_next_deadline(f.m), 3 * SEC);
	fx_done(&f);
}

/* ---- statistics under random loss ---- */

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Run the loop as the daemon does: wake at next_deadline, tick, send. */
static void run_until(struct fx *f, usec_t until)
{
	struct hb_tx tx[4];
	usec_t t;

	while ((t = hb_monitor_next_deadline(f->m)) <= until) {
		hb_monitor_tick(f->m, t);
		while (hb_monitor_poll_tx(f->m, t, tx, ARRAY_SIZE(tx)) > 0)
			;
	}
	hb_monitor_tick(f->m, until);
}

static void test_random_loss_never_down(void **state)
{
	const usec_t d = SEC;
	const uint32_t threshold = 10, intervals = 10000;
	uint64_t prng = 0x9e3779b97f4a7c15ull, received = 0, run = 0, max_run = 0, first = 0, top = 0;
	usec_t last = 0, down_at;
	struct hb_link_stats s;
	size_t lossy = 0;
	struct fx f;

	(void)state;
	fx_init_default(&f);
	assert_int_equal(hb_monitor_add_link(f.m, 2, 0, HB_CLASS_SAME_SUBNET, 0), 0);
	for (uint64_t i = 1; i <= intervals; i++) {
		usec_t arrive = i * d + 200 + xorshift64(&prng) % (300 * MS); /* latency < d/2 */
		bool lose = xorshift64(&prng) % 100 < 20;

		run_until(&f, arrive);
		if (lose) {
			run++;
			max_run = run > max_run ? run : max_run;
			continue;
		}
		run = 0;
		assert_int_equal(rx(&f, 2, 0, i, arrive), HB_RX_OK);
		first = first ? first : i;
		top = i;
		received++;
		last = arrive;
	}
	for (size_t i = 0; i < f.log.n; i++) {
		assert_int_not_equal(f.log.ev[i].new_state, HB_LINK_DOWN);
		lossy += f.log.ev[i].kind == HB_EV_LINK && f.log.ev[i].new_state == HB_LINK_LOSSY;
	}
	assert_true(max_run < threshold);
	assert_true(lossy > 100);
	s = stats(&f, 2, 0);
	assert_int_equal(s.rx, received);
	assert_true(received > 7700 && received < 8300);
	assert_int_equal(s.lost, top - first + 1 - received);
	assert_true(s.state != HB_LINK_DOWN);

	/* now 100% loss: DOWN at exactly last + T*d + d/2 */
	f.log.n = 0;
	down_at = last + threshold * d + d / 2;
	run_until(&f, down_at - 1);
	assert_int_not_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
	run_until(&f, down_at);
	assert_int_equal(lstate(&f, 2, 0), HB_LINK_DOWN);
	assert_int_equal(stats(&f, 2, 0).state_since, down_at);
	fx_done(&f);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(hb_link_state_name(HB_LINK_UNKNOWN), "unknown");
	assert_string_equal(hb_link_state_name(HB_LINK_UP), "up");
	assert_string_equal(hb_link_state_name(HB_LINK_LOSSY), "lossy");
	assert_string_equal(hb_link_state_name(HB_LINK_DOWN), "down");
	assert_string_equal(hb_link_state_name((enum hb_link_state)42), "invalid");
	assert_string_equal(hb_node_health_name(HB_NODE_UNKNOWN), "unknown");
	assert_string_equal(hb_node_health_name(HB_NODE_UP), "up");
	assert_string_equal(hb_node_health_name(HB_NODE_DEGRADED), "degraded");
	assert_string_equal(hb_node_health_name(HB_NODE_DOWN), "down");
	assert_string_equal(hb_node_health_name((enum hb_node_health) - 1), "invalid");
	assert_string_equal(hb_class_name(HB_CLASS_SAME_SUBNET), "same-subnet");
	assert_string_equal(hb_class_name(HB_CLASS_CROSS_SUBNET), "cross-subnet");
	assert_string_equal(hb_class_name((enum hb_class)2), "invalid");
	assert_string_equal(hb_rx_verdict_name(HB_RX_OK), "ok");
	assert_string_equal(hb_rx_verdict_name(HB_RX_LATE), "late");
	assert_string_equal(hb_rx_verdict_name(HB_RX_DUP), "dup");
	assert_string_equal(hb_rx_verdict_name(HB_RX_STALE), "stale");
	assert_string_equal(hb_rx_verdict_name(HB_RX_UNKNOWN_PEER), "unknown-peer");
	assert_string_equal(hb_rx_verdict_name(HB_RX_MISDIRECTED), "misdirected");
	assert_string_equal(hb_rx_verdict_name((enum hb_rx_verdict)99), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_invalid),
		cmocka_unit_test(test_add_link_and_lookup_errors),
		cmocka_unit_test(test_rx_filtering),
		cmocka_unit_test(test_detect_exact_threshold),
		cmocka_unit_test(test_detect_deadline_driven),
		cmocka_unit_test(test_detect_never_heard),
		cmocka_unit_test(test_rx_at_down_instant),
		cmocka_unit_test(test_lossy_one_miss),
		cmocka_unit_test(test_lossy_gap_until_history_rolls),
		cmocka_unit_test(test_recovery_hysteresis),
		cmocka_unit_test(test_recovery_silence_resets_rise),
		cmocka_unit_test(test_reorder_late_fills_hole),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_stale_replay),
		cmocka_unit_test(test_peer_restart),
		cmocka_unit_test(test_clock_stuck),
		cmocka_unit_test(test_time_backwards),
		cmocka_unit_test(test_node_health_three_links),
		cmocka_unit_test(test_node_health_dying_node_never_degraded),
		cmocka_unit_test(test_node_health_held_then_degraded),
		cmocka_unit_test(test_node_health_recovery_never_degraded),
		cmocka_unit_test(test_node_health_independent),
		cmocka_unit_test(test_no_callback),
		cmocka_unit_test(test_poll_tx_schedule),
		cmocka_unit_test(test_echo_fields),
		cmocka_unit_test(test_rtt),
		cmocka_unit_test(test_history_and_loss),
		cmocka_unit_test(test_next_deadline),
		cmocka_unit_test(test_random_loss_never_down),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
