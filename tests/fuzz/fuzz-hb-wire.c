/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz-hb-wire.c: fuzz target for the heartbeat decoder and the
 * failure detector. Every input is decoded as a packet (invariants when it
 * authenticates) and also read as a script of monitor operations whose
 * results are checked against a mirror. Used by libFuzzer and fuzz-main.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "heartbeat/hb_monitor.h"
#include "heartbeat/hb_wire.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_CLUSTER "fuzz-cluster"
#define NODES        4 /* node ids 2..5; we are node 1 */
#define LINKS        2
#define LOCAL        1
#define MAX_OPS      192

static struct hb_key *key;
static uint32_t cid;

static void init_once(void)
{
	uint8_t k[HB_KEY_MIN];

	if (key)
		return;
	for (size_t i = 0; i < sizeof(k); i++)
		k[i] = (uint8_t)(i * 31 + 7);
	FUZZ_CHECK(hb_key_new(k, sizeof(k), &key) == 0);
	cid = hb_cluster_id(FUZZ_CLUSTER);
}

/* ---- part 1: the wire decoder ---- */

static void fuzz_wire(const uint8_t *data, size_t size)
{
	struct hb_monitor_params p = {
		.cluster_id = cid,
		.incarnation = 1,
		.cls = {{100, 3}, {100, 3}},
		.rise = 1,
		.history_len = 4,
	};
	struct hb_packet pkt, sentinel;
	struct hb_link_stats st;
	uint8_t again[HB_WIRE_LEN];
	struct hb_monitor *m;
	int r;

	memset(&pkt, 0xa5, sizeof(pkt));
	sentinel = pkt;
	r = hb_wire_decode(data, size, cid, key, &pkt);
	if (r < 0) {
		FUZZ_CHECK(r <= -HB_ETOOSHORT && r >= -HB_EBADFIELD);
		FUZZ_CHECK(memcmp(&pkt, &sentinel, sizeof(pkt)) == 0);
		if (size < 8)
			FUZZ_CHECK(r == -HB_ETOOSHORT);
		if (size > HB_WIRE_LEN)
			FUZZ_CHECK(r == -HB_ETOOLONG);
		return;
	}
	FUZZ_CHECK(r == 0 && size == HB_WIRE_LEN);
	FUZZ_CHECK(pkt.cluster_id == cid && pkt.seq != 0 && pkt.sender != 0 && pkt.target != 0);
	FUZZ_CHECK(hb_wire_encode(&pkt, key, again, sizeof(again)) == HB_WIRE_LEN);
	FUZZ_CHECK(memcmp(again, data, HB_WIRE_LEN) == 0);

	/* An authentic packet, fed to a monitor for which it is meant. */
	p.local_id = pkt.target;
	FUZZ_CHECK(hb_monitor_new(&p, &m) == 0);
	if (pkt.sender == pkt.target) {
		FUZZ_CHECK(hb_monitor_rx(m, &pkt, USEC_PER_SEC) == HB_RX_MISDIRECTED);
		hb_monitor_free(m);
		return;
	}
	FUZZ_CHECK(hb_monitor_add_link(m, pkt.sender, pkt.link, HB_CLASS_SAME_SUBNET, USEC_PER_SEC) == 0);
	FUZZ_CHECK(hb_monitor_rx(m, &pkt, USEC_PER_SEC) == HB_RX_OK);
	FUZZ_CHECK(hb_monitor_rx(m, &pkt, USEC_PER_SEC) == HB_RX_DUP);
	FUZZ_CHECK(hb_monitor_link_stats(m, pkt.sender, pkt.link, &st) == 0);
	FUZZ_CHECK(st.state == HB_LINK_UP && st.rx == 1 && st.dup == 1 && st.lost == 0);
	FUZZ_CHECK(hb_monitor_node_health(m, pkt.sender) == HB_NODE_UP);
	hb_monitor_tick(m, USEC_PER_SEC + 350 * USEC_PER_MSEC);
	FUZZ_CHECK(hb_monitor_link_stats(m, pkt.sender, pkt.link, &st) == 0 && st.state == HB_LINK_DOWN);
	hb_monitor_free(m);
}

/* ---- part 2: the monitor driven by a script ---- */

struct mlink {
	bool present;
	enum hb_link_state state;
	uint32_t delay_ms, threshold;
	uint64_t ok, late, dup, stale;
	uint64_t inc, top; /* what the simulated peer sent last */
	bool heard;
	uint64_t tx_seq; /* our last heartbeat on this link, for echoes */
	usec_t tx_time;
};

struct harness {
	struct hb_monitor *m;
	struct hb_monitor_params p;
	usec_t now, last_event;
	struct mlink l[NODES][LINKS];
	int health[NODES];
	bool node_present[NODES];
	const uint8_t *in;
	size_t left;
};

static uint8_t next(struct harness *h)
{
	if (!h->left)
		return 0;
	h->left--;
	return *h->in++;
}

static void on_event(const struct hb_event *ev, void *userdata)
{
	struct harness *h = userdata;
	unsigned n = ev->node_id - 2;

	/* event times never go backwards, even when the clock does */
	FUZZ_CHECK(ev->node_id >= 2 && n < NODES && ev->now <= h->now && ev->now >= h->last_event);
	h->last_event = ev->now;
	FUZZ_CHECK(ev->old_state != ev->new_state);
	if (ev->kind == HB_EV_LINK) {
		struct mlink *ml;

		FUZZ_CHECK(ev->link < LINKS);
		ml = &h->l[n][ev->link];
		FUZZ_CHECK(ml->present && (int)ml->state == ev->old_state);
		ml->state = (enum hb_link_state)ev->new_state;
		if (ev->new_state == HB_LINK_DOWN)
			FUZZ_CHECK(ev->silent_us >= (usec_t)ml->threshold * ml->delay_ms * USEC_PER_MSEC +
							    ml->delay_ms * USEC_PER_MSEC / 2);
		else
			FUZZ_CHECK(ev->silent_us == 0);
		FUZZ_CHECK(ev->new_state != HB_LINK_UNKNOWN);
	} else {
		FUZZ_CHECK(ev->kind == HB_EV_NODE && h->node_present[n] && h->health[n] == ev->old_state);
		h->health[n] = ev->new_state;
	}
}

/* The node-health rule of hb_monitor.h, from the model's link states and the
 * monitor's `missed`/`rising` counts: DEGRADED needs a link heard within its
 * current interval; with the rest silent, or every DOWN link recovering, the
 * health holds. */
static int health_of(const struct harness *h, unsigned n)
{
	unsigned up = 0, live = 0, down = 0, rising = 0, total = 0;

	for (unsigned k = 0; k < LINKS; k++) {
		const struct mlink *ml = &h->l[n][k];
		struct hb_link_stats st;

		if (!ml->present)
			continue;
		FUZZ_CHECK(hb_monitor_link_stats(h->m, n + 2, (uint8_t)k, &st) == 0);
		total++;
		if (ml->state == HB_LINK_UP || ml->state == HB_LINK_LOSSY) {
			up++;
			live += st.missed == 0;
		}
		if (ml->state == HB_LINK_DOWN) {
			down++;
			rising += st.rising > 0 && st.missed == 0;
		}
	}
	if (total && down == total && rising < down)
		return HB_NODE_DOWN;
	if (down && live && rising < down)
		return HB_NODE_DEGRADED;
	if (down && rising == down && h->health[n] != HB_NODE_UNKNOWN)
		return h->health[n]; /* held: every DOWN link is coming back */
	if (down && up)
		return h->health[n]; /* held: the other links are silent */
	return up ? HB_NODE_UP : HB_NODE_UNKNOWN;
}

static void check_all(const struct harness *h)
{
	struct hb_history_entry hist[16];

	for (unsigned n = 0; n < NODES; n++) {
		if (!h->node_present[n]) {
			FUZZ_CHECK(hb_monitor_node_health(h->m, n + 2) == -ENOENT);
			continue;
		}
		FUZZ_CHECK(hb_monitor_node_health(h->m, n + 2) == h->health[n]);
		FUZZ_CHECK(h->health[n] == health_of(h, n));
		for (unsigned k = 0; k < LINKS; k++) {
			const struct mlink *ml = &h->l[n][k];
			struct hb_link_stats st;
			size_t lost = 0;
			int c;

			if (!ml->present) {
				FUZZ_CHECK(hb_monitor_link_stats(h->m, n + 2, (uint8_t)k, &st) == -ENOENT);
				continue;
			}
			FUZZ_CHECK(hb_monitor_link_stats(h->m, n + 2, (uint8_t)k, &st) == 0);
			FUZZ_CHECK(st.state == ml->state);
			FUZZ_CHECK(st.rx == ml->ok + ml->late && st.late == ml->late);
			FUZZ_CHECK(st.dup == ml->dup && st.stale == ml->stale);
			FUZZ_CHECK(st.missed < st.threshold || st.state == HB_LINK_DOWN);
			FUZZ_CHECK(st.state != HB_LINK_UP || st.missed == 0);
			FUZZ_CHECK(st.rtt_us >= -1 && st.srtt_us >= -1 && st.jitter_us >= -1);
			FUZZ_CHECK((st.rtt_us < 0) == (st.srtt_us < 0));
			FUZZ_CHECK(st.loss_permille <= 1000);
			FUZZ_CHECK(st.last_rx <= h->now && st.state_since <= h->now);
			c = hb_monitor_link_history(h->m, n + 2, (uint8_t)k, hist, 16);
			FUZZ_CHECK(c >= 0 && (uint32_t)c <= h->p.history_len);
			for (int i = 0; i < c; i++) {
				if (hist[i].lost) {
					FUZZ_CHECK(hist[i].rx_time == 0 && hist[i].rtt_us == -1);
					lost++;
				}
				FUZZ_CHECK(hist[i].seq != 0 && hist[i].rtt_us >= -1);
			}
			FUZZ_CHECK(st.loss_permille == (c ? lost * 1000 / (size_t)c : 0));
		}
	}
}

static void script_rx(struct harness *h, struct mlink *ml, unsigned n, unsigned k, uint64_t inc, uint64_t seq)
{
	struct hb_packet pkt = {
		.cluster_id = cid,
		.sender = n + 2,
		.target = LOCAL,
		.link = (uint8_t)k,
		.incarnation = inc,
		.seq = seq,
		.send_time = h->now ^ 0x5555,
	};
	bool newer = !ml->heard || inc > ml->inc || (inc == ml->inc && seq > ml->top);
	uint8_t e = next(h);
	int r;

	if (e & 1) { /* echo our last heartbeat, held a little */
		pkt.echo_seq = ml->tx_seq - (e >> 5 & 1);
		pkt.echo_time = ml->tx_time + (e >> 6 & 1);
		pkt.echo_hold = (uint32_t)(e >> 1) * 1000;
	}
	r = hb_monitor_rx(h->m, &pkt, h->now);
	FUZZ_CHECK(r >= HB_RX_OK && r <= HB_RX_STALE);
	if (newer) {
		FUZZ_CHECK(r == HB_RX_OK);
		ml->heard = true;
		ml->inc = inc;
		ml->top = seq;
	} else if (inc < ml->inc || ml->top - seq >= HB_REPLAY_WINDOW) {
		FUZZ_CHECK(r == HB_RX_STALE);
	} else if (seq == ml->top) {
		FUZZ_CHECK(r == HB_RX_DUP);
	} else {
		FUZZ_CHECK(r == HB_RX_LATE || r == HB_RX_DUP);
	}
	ml->ok += r == HB_RX_OK;
	ml->late += r == HB_RX_LATE;
	ml->dup += r == HB_RX_DUP;
	ml->stale += r == HB_RX_STALE;
}

static void script_poll(struct harness *h, size_t n)
{
	struct hb_tx tx[3];
	size_t got, total = 0;

	while ((got = hb_monitor_poll_tx(h->m, h->now, tx, n)) > 0) {
		FUZZ_CHECK(got <= n);
		for (size_t i = 0; i < got; i++) {
			const struct hb_packet *p = &tx[i].pkt;
			uint8_t buf[HB_WIRE_LEN];
			struct hb_packet back;
			struct mlink *ml;

			FUZZ_CHECK(p->target >= 2 && p->target < 2 + NODES && p->link < LINKS);
			ml = &h->l[p->target - 2][p->link];
			FUZZ_CHECK(ml->present && p->seq == ml->tx_seq + 1 && p->send_time == h->now);
			FUZZ_CHECK(p->sender == LOCAL && p->cluster_id == cid &&
				   p->incarnation == h->p.incarnation);
			ml->tx_seq = p->seq;
			ml->tx_time = p->send_time;
			FUZZ_CHECK(hb_wire_encode(p, key, buf, sizeof(buf)) == HB_WIRE_LEN);
			FUZZ_CHECK(hb_wire_decode(buf, sizeof(buf), cid, key, &back) == 0);
			FUZZ_CHECK(back.seq == p->seq && back.echo_hold == p->echo_hold &&
				   back.echo_time == p->echo_time);
		}
		total += got;
		FUZZ_CHECK(total <= NODES * LINKS); /* each link at most once per instant */
	}
}

static void fuzz_script(const uint8_t *data, size_t size)
{
	struct harness h = {.in = data, .left = size};
	uint8_t b0 = next(&h), b1 = next(&h), b2 = next(&h), b3 = next(&h);

	h.p = (struct hb_monitor_params){
		.local_id = LOCAL,
		.cluster_id = cid,
		.incarnation = 77,
		.cls = {{50 + (b0 & 3) * 50u, 3 + (b0 >> 2 & 7u)},
			{50 + (b1 & 3) * 100u, 3 + (b1 >> 2 & 15u)}},
		.rise = 1 + (b2 & 3u),
		.history_len = 1 + (b3 & 15u),
	};
	FUZZ_CHECK(hb_monitor_new(&h.p, &h.m) == 0);
	hb_monitor_set_event_cb(h.m, on_event, &h);
	h.now = 1000000 + (usec_t)(b2 >> 2) * 1000;

	for (int op = 0; op < MAX_OPS && h.left > 0; op++) {
		uint8_t b = next(&h);
		unsigned n = (b >> 3) % NODES, k = (b >> 5) & 1;
		struct mlink *ml = &h.l[n][k];

		switch (b & 7) {
		case 0: { /* add a link */
			enum hb_class cls = (enum hb_class)(b >> 6 & 1);
			int r = hb_monitor_add_link(h.m, n + 2, (uint8_t)k, cls, h.now);

			FUZZ_CHECK(r == (ml->present ? -EEXIST : 0));
			if (r == 0) {
				*ml = (struct mlink){.present = true,
						     .state = HB_LINK_UNKNOWN,
						     .delay_ms = h.p.cls[cls].delay_ms,
						     .threshold = h.p.cls[cls].threshold,
						     .inc = 1000};
				h.node_present[n] = true; /* health starts UNKNOWN (0) */
			}
			break;
		}
		case 1: { /* time passes */
			uint8_t a = next(&h), c = next(&h);

			h.now += (usec_t)a * (c & 15) * 1000 + c;
			break;
		}
		case 2: /* the peer's next heartbeat, maybe after a gap */
			if (ml->present) {
				uint8_t g = next(&h);

				script_rx(&h, ml, n, k, ml->inc, ml->top + 1 + (g % 4 == 0 ? g % 7 : 0));
			}
			break;
		case 3: /* an old one: late, duplicate or stale */
			if (ml->present && ml->heard) {
				uint64_t back = next(&h) % 80;

				if (back < ml->top)
					script_rx(&h, ml, n, k, ml->inc, ml->top - back);
			}
			break;
		case 4: /* the peer restarted, or a replay of its previous life */
			if (ml->present) {
				uint8_t c = next(&h);
				uint64_t inc = c & 1 ? ml->inc + 1 + (c >> 4) : ml->inc - 1;

				script_rx(&h, ml, n, k, inc, 1 + (c >> 1 & 7));
			}
			break;
		case 5: /* the loop wakes up: tick and send, then nothing is due */
			hb_monitor_tick(h.m, h.now);
			script_poll(&h, 1 + (b >> 3) % 3);
			FUZZ_CHECK(hb_monitor_next_deadline(h.m) > h.now);
			break;
		case 6: /* a clock that went backwards is clamped */
			hb_monitor_tick(h.m, h.now - (h.now > 1000 ? 1000 : h.now));
			break;
		default: /* tick only */
			hb_monitor_tick(h.m, h.now);
			break;
		}
		check_all(&h);
	}
	hb_monitor_free(h.m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	fuzz_wire(data, size);
	fuzz_script(data, size);
	return 0;
}

/* ---- seeds ---- */

static size_t seed_packet(const struct hb_packet *p, uint8_t *buf, size_t cap)
{
	init_once();
	if (cap < HB_WIRE_LEN || hb_wire_encode(p, key, buf, cap) != HB_WIRE_LEN)
		return 0;
	return HB_WIRE_LEN;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	/* scripts: add links, exchange heartbeats, lose some, reorder, restart, go silent */
	static const uint8_t scripts[][48] = {
		{0x05, 0x21, 0x02, 0x09, 0x00, 0x20, 0x08, 0x05, 0x02, 0x00, 0x22,
		 0x00, 0x05, 0x01, 0x40, 0x05, 0x02, 0x01, 0x05, 0x01, 0xff, 0x0f,
		 0x05, 0x02, 0x04, 0x03, 0x02, 0x05, 0x01, 0x90, 0x0f, 0x05},
		{0x0c, 0x4a, 0x03, 0x0f, 0x00, 0x08, 0x10, 0x18, 0x02, 0x01, 0x0a, 0x01,
		 0x12, 0x01, 0x1a, 0x01, 0x05, 0x01, 0x30, 0x04, 0x02, 0x08, 0x0b, 0x05,
		 0x03, 0x02, 0x0c, 0x11, 0x01, 0x06, 0x07, 0x05, 0x01, 0xff, 0xff, 0x05,
		 0x01, 0xff, 0xff, 0x05, 0x02, 0x00, 0x02, 0x01, 0x02, 0x01, 0x02, 0x05},
		{0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x60, 0x05, 0x02, 0x00, 0x42,
		 0x00, 0x62, 0x00, 0x01, 0x20, 0x0a, 0x05, 0x06, 0x06, 0x02, 0x04,
		 0x04, 0x81, 0x04, 0x00, 0x02, 0x02, 0x05, 0x07, 0x01, 0x80},
	};
	const struct hb_packet pkts[] = {
		{.cluster_id = cid,
		 .sender = 2,
		 .target = 1,
		 .link = 0,
		 .incarnation = 100,
		 .seq = 1,
		 .send_time = 1},
		{.cluster_id = cid,
		 .sender = 3,
		 .target = 1,
		 .link = 1,
		 .incarnation = 1700000000000000ull,
		 .seq = 12345,
		 .send_time = 999999,
		 .echo_seq = 77,
		 .echo_time = 555555,
		 .echo_hold = 1234},
		{.cluster_id = cid,
		 .sender = UINT32_MAX,
		 .target = 9,
		 .link = 255,
		 .incarnation = UINT64_MAX,
		 .seq = UINT64_MAX,
		 .send_time = UINT64_MAX,
		 .echo_seq = UINT64_MAX,
		 .echo_time = UINT64_MAX,
		 .echo_hold = UINT32_MAX},
		{.cluster_id = cid, .sender = 4, .target = 4, .link = 2, .incarnation = 1, .seq = 2},
	};
	const size_t n_pkts = sizeof(pkts) / sizeof(pkts[0]);
	const size_t n_scripts = sizeof(scripts) / sizeof(scripts[0]);

	init_once(); /* cid must be set before pkts is used */
	if (i < n_pkts) {
		struct hb_packet p = pkts[i];

		p.cluster_id = cid;
		return seed_packet(&p, buf, cap);
	}
	i -= (unsigned)n_pkts;
	if (i < n_scripts) {
		size_t len = sizeof(scripts[i]);

		if (cap < len)
			return 0;
		memcpy(buf, scripts[i], len);
		return len;
	}
	return 0;
}
