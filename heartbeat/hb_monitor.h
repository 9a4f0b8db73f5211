/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heartbeat/hb_monitor.h: the failure detector as a pure state machine, one
 * entry per (peer node, link). Driven by decoded packets and an injected
 * monotonic clock; it says when heartbeats are due and reports state changes
 * through a callback. No I/O, no clock reads, no logging. */
#ifndef HB_MONITOR_H
#define HB_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/time.h"
#include "heartbeat/hb_wire.h"

/* Defaults (DESIGN.md "Heartbeat"); limits are enforced by the config layer. */
#define HB_DEFAULT_SAME_DELAY_MS   1000
#define HB_DEFAULT_SAME_THRESHOLD  10
#define HB_DEFAULT_CROSS_DELAY_MS  1000
#define HB_DEFAULT_CROSS_THRESHOLD 20
#define HB_DEFAULT_HISTORY         10
#define HB_DEFAULT_RISE            3
#define HB_DELAY_MIN_MS            50
#define HB_DELAY_MAX_MS            10000
#define HB_THRESHOLD_MIN           3
#define HB_THRESHOLD_MAX           120
#define HB_HISTORY_MAX             1000
#define HB_RISE_MAX                100
/* Duplicate/replay window of sequence numbers per link. */
#define HB_REPLAY_WINDOW 64

enum hb_class { HB_CLASS_SAME_SUBNET = 0, HB_CLASS_CROSS_SUBNET = 1 };

/*
 * Link states. UNKNOWN: nothing heard yet since the link was added.
 * UP: heard on time and no loss in the route history. LOSSY: at least one
 * interval missed right now, or a lost heartbeat in the route history.
 * DOWN: `threshold` consecutive intervals missed. A DOWN link becomes UP
 * only after `rise` consecutive in-order heartbeats (hysteresis); a gap in
 * the sequence or a missed interval restarts that count. Losses seen before
 * or during a DOWN period stay in the route history (and loss_permille) but
 * do not make the recovered link LOSSY.
 *
 * Timing contract: with d = delay of the link's class and T = threshold,
 * the k-th interval counts as missed at last_rx + k*d + d/2 (half an
 * interval of grace against jitter), so a silent link is DOWN at exactly
 * last_rx + T*d + d/2 — within the DESIGN bound d*(T+1) after the peer's
 * last heartbeat was sent, as long as one-way latency stays under d/2.
 * An UNKNOWN link that stays silent goes DOWN at added + T*d + d/2.
 */
enum hb_link_state { HB_LINK_UNKNOWN = 0, HB_LINK_UP, HB_LINK_LOSSY, HB_LINK_DOWN };

/* Node health over all its links: UP (none DOWN, at least one UP/LOSSY),
 * DEGRADED (some DOWN, and another heard within its current interval), DOWN
 * (all DOWN), UNKNOWN (nothing heard yet). Links in transition are no
 * evidence: while the only non-DOWN links are silent right now (a dying
 * node's links go DOWN µs to one interval apart), or every DOWN link is
 * rising again (a node coming back), the health holds its previous value
 * until they settle — at most threshold (resp. rise) intervals. So a node
 * that dies goes UP -> DOWN and one that returns DOWN -> UP, never through
 * DEGRADED, which means "alive, drain it live". Node events fire after all
 * link events of the same tick. */
enum hb_node_health { HB_NODE_UNKNOWN = 0, HB_NODE_UP, HB_NODE_DEGRADED, HB_NODE_DOWN };

struct hb_class_params {
	uint32_t delay_ms;  /* interval between heartbeats */
	uint32_t threshold; /* missed intervals in a row before DOWN */
};

struct hb_monitor_params {
	uint32_t local_id;             /* this node's id (sender of our packets) */
	uint32_t cluster_id;           /* copied into every packet */
	uint64_t incarnation;          /* our start time, realtime µs */
	struct hb_class_params cls[2]; /* indexed by enum hb_class */
	uint32_t rise;                 /* good heartbeats in a row to leave DOWN */
	uint32_t history_len;          /* route history entries per link, 1..HB_HISTORY_MAX */
};

/* Result of hb_monitor_rx (>= 0). */
enum hb_rx_verdict {
	HB_RX_OK = 0,       /* in order, accepted */
	HB_RX_LATE,         /* older than the newest but inside the window and new: accepted (reordered) */
	HB_RX_DUP,          /* already seen: dropped */
	HB_RX_STALE,        /* older than the window or an older incarnation: dropped (replay) */
	HB_RX_UNKNOWN_PEER, /* no such (sender, link): dropped */
	HB_RX_MISDIRECTED,  /* target is not us, or sender is us: dropped */
};

struct hb_link_stats {
	enum hb_link_state state;
	enum hb_class cls;
	uint32_t delay_ms, threshold;
	uint32_t missed; /* intervals missed in a row right now */
	uint32_t rising; /* DOWN only: good heartbeats in a row so far (UP at `rise`) */
	uint64_t tx, rx, lost, late, dup, stale;
	usec_t last_rx;         /* µs of the last in-order heartbeat, 0: never (LATE ones do not move it) */
	usec_t state_since;     /* when the current state was entered */
	int64_t rtt_us;         /* last RTT, -1 unknown */
	int64_t srtt_us;        /* smoothed RTT (7/8 old + 1/8 new), -1 unknown */
	int64_t jitter_us;      /* mean deviation of RTT (3/4 old + 1/4 |diff|), -1 unknown */
	uint32_t loss_permille; /* lost heartbeats in the route history, per mille */
};

struct hb_history_entry {
	uint64_t seq;
	usec_t rx_time; /* 0 when lost */
	int64_t rtt_us; /* -1 when unknown or lost */
	bool lost;
};

enum hb_event_kind { HB_EV_LINK, HB_EV_NODE };

struct hb_event {
	enum hb_event_kind kind;
	uint32_t node_id;
	uint8_t link;  /* HB_EV_LINK only */
	int old_state; /* enum hb_link_state or enum hb_node_health */
	int new_state;
	usec_t now;
	usec_t silent_us; /* time since the last accepted heartbeat (DOWN events), else 0 */
};

/* Called synchronously from add_link, rx and tick (LINK event first, then the
 * node's). It may read the monitor; it must not add links or free it. */
typedef void (*hb_event_cb)(const struct hb_event *ev, void *userdata);

/* A heartbeat that is due: the I/O layer encodes and sends it to (target, link). */
struct hb_tx {
	struct hb_packet pkt;
};

struct hb_monitor;

/* -EINVAL on out-of-range params, -ENOMEM. */
int hb_monitor_new(const struct hb_monitor_params *params, struct hb_monitor **ret_monitor);
void hb_monitor_free(struct hb_monitor *m); /* NULL is fine */
void hb_monitor_set_event_cb(struct hb_monitor *m, hb_event_cb cb, void *userdata);

/* Start monitoring (node_id, link), classified cls. Its first heartbeat is due
 * at `now`. -EEXIST if present, -EINVAL for node_id 0 or our own id, -ENOMEM.
 * May fire a NODE event (a DOWN node that gains an UNKNOWN link is UNKNOWN). */
int hb_monitor_add_link(struct hb_monitor *m, uint32_t node_id, uint8_t link, enum hb_class cls, usec_t now);

/* Feed a decoded, authenticated packet. Returns an enum hb_rx_verdict, or
 * -EINVAL. May fire events (a first heartbeat, recovery). A `now` earlier
 * than a previous one is treated as that previous one. */
int hb_monitor_rx(struct hb_monitor *m, const struct hb_packet *pkt, usec_t now);

/* Advance time: count missed intervals, fire LINK/NODE events. Idempotent for
 * the same `now`. */
void hb_monitor_tick(struct hb_monitor *m, usec_t now);

/* Heartbeats due at `now`: fills at most n, returns how many; call until 0.
 * Each returned heartbeat's next one is scheduled one delay later (never in
 * a burst to catch up after a stall). Echo fields are filled from the last
 * heartbeat received on that link. */
size_t hb_monitor_poll_tx(struct hb_monitor *m, usec_t now, struct hb_tx *out, size_t n);

/* Earliest time tick or poll_tx has work to do; USEC_INFINITY when no links. */
usec_t hb_monitor_next_deadline(const struct hb_monitor *m);

/* 0 or -ENOENT. */
int hb_monitor_link_stats(const struct hb_monitor *m, uint32_t node_id, uint8_t link,
			  struct hb_link_stats *ret_stats);
/* Oldest first (the newest n when n is short); returns entries written (<= n) or -ENOENT. */
int hb_monitor_link_history(const struct hb_monitor *m, uint32_t node_id, uint8_t link,
			    struct hb_history_entry *out, size_t n);
/* enum hb_node_health, or -ENOENT for a node with no links. */
int hb_monitor_node_health(const struct hb_monitor *m, uint32_t node_id);

const char *hb_link_state_name(enum hb_link_state s); /* "unknown", "up", "lossy", "down" */
const char *hb_node_health_name(enum hb_node_health h);
const char *hb_class_name(enum hb_class c); /* "same-subnet", "cross-subnet" */
const char *hb_rx_verdict_name(enum hb_rx_verdict v);

#endif
