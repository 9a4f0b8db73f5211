/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heartbeat/hb_monitor.c: the per-(node, link) failure detector — replay
 * window, loss and route history, RTT, miss counting, hysteresis, node health.
 * A pure state machine: time comes in as `now`; it never reads the clock,
 * does no I/O and never logs. Links live in one array: every call is O(links). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heartbeat/hb_monitor.h"

/* Our own recent heartbeats remembered per link, to match echoes for RTT. An
 * echo of a heartbeat older than this many sends is not "recent": ignored. */
#define HB_SENT_RING 16

struct hist_ent {
	uint64_t seq;
	usec_t rx_time;
	int64_t rtt_us;
	uint32_t gen; /* peer incarnation generation the entry belongs to */
	bool lost;
	bool counts; /* lost while the link was not DOWN: keeps the link LOSSY */
};

struct sent_rec {
	uint64_t seq;
	usec_t time;
};

struct hb_link {
	uint32_t node_id;
	uint8_t link;
	enum hb_class cls;
	usec_t delay; /* µs */
	uint32_t threshold;
	enum hb_link_state state;
	usec_t state_since;
	usec_t added;
	uint64_t missed;     /* intervals missed in a row as of the last advance */
	uint32_t rise_count; /* in-order heartbeats in a row while DOWN */
	usec_t next_tx;
	usec_t next_miss; /* when `missed` grows next */

	/* receive side: replay window of the peer's current incarnation */
	bool heard;
	uint64_t peer_inc;
	uint32_t gen;       /* bumped on every new peer incarnation */
	uint64_t top_seq;   /* highest seq seen: the last in-order one */
	uint64_t first_seq; /* first seq seen in this incarnation */
	uint64_t window;    /* bit i set: seq top_seq - i seen */
	usec_t last_rx;     /* when top_seq arrived */
	usec_t peer_send_time;

	/* send side */
	uint64_t tx_seq;
	struct sent_rec sent[HB_SENT_RING];

	uint64_t tx, rx, lost, late, dup, stale;
	int64_t rtt, srtt, jitter;

	/* route history: ring of history_len entries, ordered by arrival of seq */
	struct hist_ent *hist;
	size_t hist_head, hist_count;
	size_t hist_lost;  /* entries with lost set */
	size_t hist_lossy; /* entries with counts set */
};

struct hb_node {
	uint32_t id;
	enum hb_node_health health;
	bool dirty; /* a link changed during the current tick: judge after it */
};

struct hb_monitor {
	struct hb_monitor_params p;
	struct hb_link *links;
	size_t n_links, cap_links;
	struct hb_node *nodes;
	size_t n_nodes, cap_nodes;
	usec_t now;   /* latest `now` seen: time never goes backwards in here */
	bool in_tick; /* node_update only marks nodes dirty while links advance */
	hb_event_cb cb;
	void *userdata;
};

static usec_t sat_add(usec_t a, usec_t b)
{
	return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

static usec_t clamp_now(struct hb_monitor *m, usec_t now)
{
	if (now < m->now)
		return m->now;
	m->now = now;
	return now;
}

static bool class_params_ok(const struct hb_class_params *c)
{
	return c->delay_ms >= HB_DELAY_MIN_MS && c->delay_ms <= HB_DELAY_MAX_MS &&
	       c->threshold >= HB_THRESHOLD_MIN && c->threshold <= HB_THRESHOLD_MAX;
}

int hb_monitor_new(const struct hb_monitor_params *params, struct hb_monitor **ret_monitor)
{
	struct hb_monitor *m;

	if (!params || !ret_monitor)
		return -EINVAL;
	if (params->local_id == 0 || params->cluster_id == 0 || !class_params_ok(&params->cls[0]) ||
	    !class_params_ok(&params->cls[1]) || params->rise < 1 || params->rise > HB_RISE_MAX ||
	    params->history_len < 1 || params->history_len > HB_HISTORY_MAX)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->p = *params;
	*ret_monitor = m;
	return 0;
}

void hb_monitor_free(struct hb_monitor *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_links; i++)
		free(m->links[i].hist);
	free(m->links);
	free(m->nodes);
	free(m);
}

void hb_monitor_set_event_cb(struct hb_monitor *m, hb_event_cb cb, void *userdata)
{
	if (!m)
		return;
	m->cb = cb;
	m->userdata = userdata;
}

/* O(links). */
static struct hb_link *link_find(const struct hb_monitor *m, uint32_t node_id, uint8_t link)
{
	for (size_t i = 0; i < m->n_links; i++)
		if (m->links[i].node_id == node_id && m->links[i].link == link)
			return &m->links[i];
	return NULL;
}

/* O(nodes). */
static struct hb_node *node_find(const struct hb_monitor *m, uint32_t node_id)
{
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].id == node_id)
			return &m->nodes[i];
	return NULL;
}

/* When the link last showed life: its last in-order heartbeat, else when added. */
static usec_t link_base(const struct hb_link *l)
{
	return l->heard ? l->last_rx : l->added;
}

static void fire(struct hb_monitor *m, const struct hb_event *ev)
{
	if (m->cb)
		m->cb(ev, m->userdata);
}

/* Health over the node's links, per hb_monitor.h. O(links).
 * A link that is UP or LOSSY but silent right now (missed >= 1) proves
 * nothing: when a node dies its links go DOWN one after the other, a few µs
 * to one interval apart, and calling it DEGRADED in between would be a lie
 * (and DEGRADED is drained live, DOWN is fenced). So DEGRADED needs a live
 * link (heard within the current interval); with some links DOWN and the
 * rest silent, the health holds (`cur`) until they are heard again or go
 * DOWN too: at most threshold intervals. Symmetrically, a DOWN link that is
 * being heard again but has not yet had `rise` good heartbeats is in
 * transition: when every DOWN link is such a one (a node coming back, its
 * links recovering µs apart), the health holds until they finish rising or
 * fall silent again: at most rise intervals. */
static enum hb_node_health node_compute(const struct hb_monitor *m, uint32_t node_id, enum hb_node_health cur,
					usec_t *ret_base)
{
	size_t up = 0, live = 0, down = 0, rising = 0, total = 0;
	usec_t base = 0;

	for (size_t i = 0; i < m->n_links; i++) {
		const struct hb_link *l = &m->links[i];

		if (l->node_id != node_id)
			continue;
		total++;
		if (l->state == HB_LINK_UP || l->state == HB_LINK_LOSSY) {
			up++;
			live += l->missed == 0;
		} else if (l->state == HB_LINK_DOWN) {
			down++;
			rising += l->rise_count > 0 && l->missed == 0;
		}
		if (link_base(l) > base)
			base = link_base(l);
	}
	*ret_base = base;
	if (total > 0 && down == total && rising < down)
		return HB_NODE_DOWN;
	if (down > 0 && live > 0 && rising < down)
		return HB_NODE_DEGRADED;
	if (down > 0 && rising == down && cur != HB_NODE_UNKNOWN)
		return cur; /* every DOWN link is coming back: wait for them */
	if (down > 0 && up > 0)
		return cur; /* undecided: the other links are silent too */
	if (up > 0)
		return HB_NODE_UP;
	return HB_NODE_UNKNOWN;
}

static void node_update(struct hb_monitor *m, uint32_t node_id, usec_t now)
{
	struct hb_node *n = node_find(m, node_id);
	enum hb_node_health h;
	struct hb_event ev;
	usec_t base;

	if (!n)
		return;
	if (m->in_tick) {
		n->dirty = true;
		return;
	}
	n->dirty = false;
	h = node_compute(m, node_id, n->health, &base);
	if (h == n->health)
		return;
	ev = (struct hb_event){
		.kind = HB_EV_NODE,
		.node_id = node_id,
		.old_state = (int)n->health,
		.new_state = (int)h,
		.now = now,
		.silent_us = h == HB_NODE_DOWN ? now - base : 0,
	};
	n->health = h;
	fire(m, &ev);
}

/* The one place a link changes state: LINK event, then the node's. The
 * callback may only read the monitor (no add_link, no free). */
static void link_set_state(struct hb_monitor *m, struct hb_link *l, enum hb_link_state s, usec_t now)
{
	struct hb_event ev;
	uint32_t node_id = l->node_id;

	if (l->state == s)
		return;
	if (s == HB_LINK_DOWN) {
		/* Losses before and during an outage are explained by DOWN; once
		 * the link is back they stay in the history for diagnosis but no
		 * longer make it LOSSY. */
		for (size_t i = 0; i < m->p.history_len; i++)
			l->hist[i].counts = false;
		l->hist_lossy = 0;
		l->rise_count = 0;
	}
	ev = (struct hb_event){
		.kind = HB_EV_LINK,
		.node_id = node_id,
		.link = l->link,
		.old_state = (int)l->state,
		.new_state = (int)s,
		.now = now,
		.silent_us = s == HB_LINK_DOWN ? now - link_base(l) : 0,
	};
	l->state = s;
	l->state_since = now;
	fire(m, &ev);
	node_update(m, node_id, now);
}

/* Append to the route history, evicting the oldest entry when full. */
static void hist_push(struct hb_monitor *m, struct hb_link *l, const struct hist_ent *e)
{
	size_t len = m->p.history_len;

	if (l->hist_count == len) {
		const struct hist_ent *old = &l->hist[l->hist_head];

		l->hist_lost -= old->lost;
		l->hist_lossy -= old->counts;
		l->hist_head = (l->hist_head + 1) % len;
		l->hist_count--;
	}
	l->hist[(l->hist_head + l->hist_count) % len] = *e;
	l->hist_count++;
	l->hist_lost += e->lost;
	l->hist_lossy += e->counts;
}

/* A LATE heartbeat fills its hole, if the hole is still in the history.
 * O(history_len); reordering is rare. Returns true if a hole was filled. */
static bool hist_fill(struct hb_monitor *m, struct hb_link *l, uint64_t seq, usec_t now)
{
	for (size_t i = 0; i < l->hist_count; i++) {
		struct hist_ent *e = &l->hist[(l->hist_head + i) % m->p.history_len];

		if (e->gen != l->gen || e->seq != seq || !e->lost)
			continue;
		l->hist_lost--;
		l->hist_lossy -= e->counts;
		*e = (struct hist_ent){.seq = seq, .rx_time = now, .rtt_us = -1, .gen = l->gen};
		return true;
	}
	return false;
}

/* The state a link should be in given its counters; DOWN and UNKNOWN are
 * left only by a heartbeat (see link_rx_inorder). */
static enum hb_link_state link_eval(const struct hb_link *l)
{
	if (l->missed >= l->threshold)
		return HB_LINK_DOWN;
	if (l->state == HB_LINK_DOWN || l->state == HB_LINK_UNKNOWN)
		return l->state;
	return l->missed > 0 || l->hist_lossy > 0 ? HB_LINK_LOSSY : HB_LINK_UP;
}

/* Count missed intervals up to `now`: the k-th is missed at
 * base + k*d + d/2. Idempotent for the same now. O(1) plus events. */
static void link_advance(struct hb_monitor *m, struct hb_link *l, usec_t now)
{
	usec_t base = link_base(l), half = l->delay / 2;
	uint64_t missed = 0;

	if (now >= sat_add(base, half))
		missed = (now - base - half) / l->delay;
	if (missed > l->missed && l->state == HB_LINK_DOWN)
		l->rise_count = 0; /* a silent interval breaks the run of good heartbeats */
	bool liveness_changed = (missed == 0) != (l->missed == 0);
	enum hb_link_state before = l->state;
	l->missed = missed;
	l->next_miss = sat_add(sat_add(base, half), sat_add(missed * l->delay, l->delay));
	link_set_state(m, l, link_eval(l), now);
	/* heard again / fell silent without a state change: the node's health
	 * may be waiting on exactly that (see node_compute) */
	if (liveness_changed && l->state == before)
		node_update(m, l->node_id, now);
}

/* RTT from the echo fields, if they echo one of our recent heartbeats on this
 * link exactly; -1 otherwise. Updates rtt/srtt/jitter (RFC 6298 weights,
 * integer arithmetic). */
static int64_t link_rtt_sample(struct hb_link *l, const struct hb_packet *pkt, usec_t now)
{
	const struct sent_rec *s;
	usec_t elapsed;
	int64_t rtt, diff;

	if (pkt->echo_seq == 0 || pkt->echo_seq > l->tx_seq || l->tx_seq - pkt->echo_seq >= HB_SENT_RING)
		return -1;
	s = &l->sent[pkt->echo_seq % HB_SENT_RING];
	if (s->seq != pkt->echo_seq || s->time != pkt->echo_time || now < s->time)
		return -1;
	elapsed = now - s->time;
	if (elapsed < pkt->echo_hold || elapsed - pkt->echo_hold > INT64_MAX)
		return -1;
	rtt = (int64_t)(elapsed - pkt->echo_hold);

	l->rtt = rtt;
	if (l->srtt < 0) {
		l->srtt = rtt;
		l->jitter = rtt / 2;
	} else {
		diff = rtt > l->srtt ? rtt - l->srtt : l->srtt - rtt;
		l->jitter += (diff - l->jitter) / 4;
		l->srtt += (rtt - l->srtt) / 8;
	}
	return rtt;
}

/* An in-order heartbeat (newer seq, or a new peer incarnation). */
static void link_rx_inorder(struct hb_monitor *m, struct hb_link *l, const struct hb_packet *pkt, usec_t now)
{
	bool fresh = !l->heard || pkt->incarnation > l->peer_inc;
	uint64_t gap = fresh ? 0 : pkt->seq - l->top_seq - 1;
	enum hb_link_state s;
	struct hist_ent e;

	if (fresh) {
		l->peer_inc = pkt->incarnation;
		l->gen++;
		l->first_seq = pkt->seq;
		l->window = 1;
	} else {
		uint64_t shift = pkt->seq - l->top_seq;

		l->window = shift >= HB_REPLAY_WINDOW ? 1 : l->window << shift | 1;
	}
	l->top_seq = pkt->seq;

	if (gap > 0) {
		uint64_t n = gap < m->p.history_len ? gap : m->p.history_len;

		l->lost += gap;
		for (uint64_t i = n; i > 0; i--) {
			e = (struct hist_ent){.seq = pkt->seq - i,
					      .rtt_us = -1,
					      .gen = l->gen,
					      .lost = true,
					      .counts = l->state != HB_LINK_DOWN};
			hist_push(m, l, &e);
		}
	}
	e = (struct hist_ent){
		.seq = pkt->seq, .rx_time = now, .rtt_us = link_rtt_sample(l, pkt, now), .gen = l->gen};
	hist_push(m, l, &e);

	bool was_silent = l->missed > 0;
	enum hb_link_state before = l->state;

	l->heard = true;
	l->last_rx = now;
	l->peer_send_time = pkt->send_time;
	l->rx++;
	l->missed = 0;
	l->next_miss = sat_add(now, l->delay + l->delay / 2);

	if (l->state == HB_LINK_DOWN) {
		l->rise_count = gap > 0 ? 1 : l->rise_count + 1;
		s = l->rise_count >= m->p.rise ? HB_LINK_UP : HB_LINK_DOWN;
	} else {
		s = l->hist_lossy > 0 ? HB_LINK_LOSSY : HB_LINK_UP;
	}
	link_set_state(m, l, s, now);
	if (was_silent && l->state == before)
		node_update(m, l->node_id, now); /* live again: may settle a held node health */
}

/* Replay window verdict, before anything is changed. */
static enum hb_rx_verdict link_classify(const struct hb_link *l, const struct hb_packet *pkt)
{
	uint64_t age;

	if (!l->heard || pkt->incarnation > l->peer_inc)
		return HB_RX_OK;
	if (pkt->incarnation < l->peer_inc)
		return HB_RX_STALE;
	if (pkt->seq > l->top_seq)
		return HB_RX_OK;
	age = l->top_seq - pkt->seq;
	if (age >= HB_REPLAY_WINDOW)
		return HB_RX_STALE;
	return l->window >> age & 1 ? HB_RX_DUP : HB_RX_LATE;
}

/* O(links) for the lookup and the node health, O(history_len) for a LATE one. */
int hb_monitor_rx(struct hb_monitor *m, const struct hb_packet *pkt, usec_t now)
{
	enum hb_rx_verdict v;
	struct hb_link *l;

	if (!m || !pkt || pkt->seq == 0)
		return -EINVAL;
	now = clamp_now(m, now);
	if (pkt->cluster_id != m->p.cluster_id || pkt->target != m->p.local_id ||
	    pkt->sender == m->p.local_id)
		return HB_RX_MISDIRECTED;
	l = link_find(m, pkt->sender, pkt->link);
	if (!l)
		return HB_RX_UNKNOWN_PEER;

	/* Time passed before this packet: a link silent for long enough is DOWN
	 * even if the loop handles the packet before the timer. */
	link_advance(m, l, now);

	v = link_classify(l, pkt);
	switch (v) {
	case HB_RX_OK:
		link_rx_inorder(m, l, pkt, now);
		break;
	case HB_RX_LATE:
		/* Accepted but carries no news about liveness: last_rx, missed and
		 * the rise count are unchanged. */
		l->window |= (uint64_t)1 << (l->top_seq - pkt->seq);
		l->rx++;
		l->late++;
		if (pkt->seq > l->first_seq) {
			assert(l->lost > 0);
			l->lost--; /* it was counted when the gap was seen */
		}
		if (hist_fill(m, l, pkt->seq, now))
			link_set_state(m, l, link_eval(l), now);
		break;
	case HB_RX_DUP:
		l->dup++;
		break;
	default:
		l->stale++;
		break;
	}
	return (int)v;
}

int hb_monitor_add_link(struct hb_monitor *m, uint32_t node_id, uint8_t link, enum hb_class cls, usec_t now)
{
	struct hist_ent *hist = NULL;
	struct hb_link *l;
	int r;

	if (!m || node_id == 0 || node_id == m->p.local_id ||
	    (cls != HB_CLASS_SAME_SUBNET && cls != HB_CLASS_CROSS_SUBNET))
		return -EINVAL;
	if (link_find(m, node_id, link))
		return -EEXIST;

	/* Reserve everything first, so failure leaves the monitor as it was. */
	r = -ENOMEM;
	hist = calloc(m->p.history_len, sizeof(*hist));
	if (!hist)
		goto out;
	if (m->n_links == m->cap_links) {
		size_t cap = m->cap_links ? 2 * m->cap_links : 8;
		struct hb_link *nl = realloc(m->links, cap * sizeof(*nl));

		if (!nl)
			goto out;
		m->links = nl;
		m->cap_links = cap;
	}
	if (!node_find(m, node_id) && m->n_nodes == m->cap_nodes) {
		size_t cap = m->cap_nodes ? 2 * m->cap_nodes : 8;
		struct hb_node *nn = realloc(m->nodes, cap * sizeof(*nn));

		if (!nn)
			goto out;
		m->nodes = nn;
		m->cap_nodes = cap;
	}

	now = clamp_now(m, now);
	l = &m->links[m->n_links++];
	*l = (struct hb_link){
		.node_id = node_id,
		.link = link,
		.cls = cls,
		.delay = m->p.cls[cls].delay_ms * USEC_PER_MSEC,
		.threshold = m->p.cls[cls].threshold,
		.state = HB_LINK_UNKNOWN,
		.state_since = now,
		.added = now,
		.next_tx = now,
		.rtt = -1,
		.srtt = -1,
		.jitter = -1,
		.hist = hist,
	};
	l->next_miss = sat_add(now, l->delay + l->delay / 2);
	hist = NULL;
	if (!node_find(m, node_id))
		m->nodes[m->n_nodes++] = (struct hb_node){.id = node_id, .health = HB_NODE_UNKNOWN};
	/* An UNKNOWN link can change the node's health (DOWN -> UNKNOWN). */
	node_update(m, node_id, now);
	r = 0;
out:
	free(hist);
	return r;
}

/* O(links) plus events. */
void hb_monitor_tick(struct hb_monitor *m, usec_t now)
{
	if (!m)
		return;
	now = clamp_now(m, now);
	/* Every link first, then the nodes: a node is judged on all its links
	 * as of `now`, never on one that has not been advanced yet. */
	m->in_tick = true;
	for (size_t i = 0; i < m->n_links; i++)
		link_advance(m, &m->links[i], now);
	m->in_tick = false;
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].dirty)
			node_update(m, m->nodes[i].id, now);
}

/* O(links) per call. */
size_t hb_monitor_poll_tx(struct hb_monitor *m, usec_t now, struct hb_tx *out, size_t n)
{
	size_t k = 0;

	if (!m || !out)
		return 0;
	now = clamp_now(m, now);
	for (size_t i = 0; i < m->n_links && k < n; i++) {
		struct hb_link *l = &m->links[i];
		struct hb_packet *pkt = &out[k].pkt;
		usec_t next;

		if (l->next_tx > now)
			continue;
		*pkt = (struct hb_packet){
			.cluster_id = m->p.cluster_id,
			.sender = m->p.local_id,
			.target = l->node_id,
			.link = l->link,
			.incarnation = m->p.incarnation,
			.seq = ++l->tx_seq,
			.send_time = now,
		};
		/* Echo the peer's newest heartbeat, unless the hold would not fit. */
		if (l->heard && now - l->last_rx <= UINT32_MAX) {
			pkt->echo_seq = l->top_seq;
			pkt->echo_time = l->peer_send_time;
			pkt->echo_hold = (uint32_t)(now - l->last_rx);
		}
		l->sent[l->tx_seq % HB_SENT_RING] = (struct sent_rec){.seq = l->tx_seq, .time = now};
		l->tx++;
		/* Keep the cadence; after a stall send once and restart it from now. */
		next = sat_add(l->next_tx, l->delay);
		l->next_tx = next > now ? next : sat_add(now, l->delay);
		k++;
	}
	return k;
}

/* O(links). */
usec_t hb_monitor_next_deadline(const struct hb_monitor *m)
{
	usec_t t = USEC_INFINITY;

	if (!m)
		return t;
	for (size_t i = 0; i < m->n_links; i++) {
		const struct hb_link *l = &m->links[i];

		if (l->next_tx < t)
			t = l->next_tx;
		if (l->next_miss < t)
			t = l->next_miss;
	}
	return t;
}

int hb_monitor_link_stats(const struct hb_monitor *m, uint32_t node_id, uint8_t link,
			  struct hb_link_stats *ret_stats)
{
	const struct hb_link *l;

	if (!m || !ret_stats)
		return -EINVAL;
	l = link_find(m, node_id, link);
	if (!l)
		return -ENOENT;
	*ret_stats = (struct hb_link_stats){
		.state = l->state,
		.cls = l->cls,
		.delay_ms = (uint32_t)(l->delay / USEC_PER_MSEC),
		.threshold = l->threshold,
		.missed = l->missed > UINT32_MAX ? UINT32_MAX : (uint32_t)l->missed,
		.rising = l->state == HB_LINK_DOWN ? l->rise_count : 0,
		.tx = l->tx,
		.rx = l->rx,
		.lost = l->lost,
		.late = l->late,
		.dup = l->dup,
		.stale = l->stale,
		.last_rx = l->heard ? l->last_rx : 0,
		.state_since = l->state_since,
		.rtt_us = l->rtt,
		.srtt_us = l->srtt,
		.jitter_us = l->jitter,
		.loss_permille = l->hist_count ? (uint32_t)(l->hist_lost * 1000 / l->hist_count) : 0,
	};
	return 0;
}

int hb_monitor_link_history(const struct hb_monitor *m, uint32_t node_id, uint8_t link,
			    struct hb_history_entry *out, size_t n)
{
	const struct hb_link *l;
	size_t k, skip;

	if (!m || (!out && n > 0))
		return -EINVAL;
	l = link_find(m, node_id, link);
	if (!l)
		return -ENOENT;
	/* The newest n when out is short, still oldest first. */
	k = l->hist_count < n ? l->hist_count : n;
	skip = l->hist_count - k;
	for (size_t i = 0; i < k; i++) {
		const struct hist_ent *e = &l->hist[(l->hist_head + skip + i) % m->p.history_len];

		out[i] = (struct hb_history_entry){
			.seq = e->seq, .rx_time = e->rx_time, .rtt_us = e->rtt_us, .lost = e->lost};
	}
	return (int)k;
}

int hb_monitor_node_health(const struct hb_monitor *m, uint32_t node_id)
{
	const struct hb_node *n;

	if (!m)
		return -EINVAL;
	n = node_find(m, node_id);
	return n ? (int)n->health : -ENOENT;
}

const char *hb_link_state_name(enum hb_link_state s)
{
	static const char *const names[] = {"unknown", "up", "lossy", "down"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "invalid";
}

const char *hb_node_health_name(enum hb_node_health h)
{
	static const char *const names[] = {"unknown", "up", "degraded", "down"};

	return (unsigned)h < sizeof(names) / sizeof(names[0]) ? names[h] : "invalid";
}

const char *hb_class_name(enum hb_class c)
{
	static const char *const names[] = {"same-subnet", "cross-subnet"};

	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "invalid";
}

const char *hb_rx_verdict_name(enum hb_rx_verdict v)
{
	static const char *const names[] = {"ok", "late", "dup", "stale", "unknown-peer", "misdirected"};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "invalid";
}
