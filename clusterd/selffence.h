/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/selffence.h: self-fencing, the node's own half of "no VM ever
 * runs twice". A node that loses quorum (or corosync) must stop its HA VMs
 * before the quorate side restarts them elsewhere: the survivors wait
 * detection + fencing.self_fence_ms + a margin, so this node has
 * self_fence_ms from the loss to have them destroyed. A loss shorter than
 * fencing.isolation_grace_ms is forgiven (WSFC's resiliency period): a
 * network blip must not kill VMs. Pure: the caller feeds quorum changes and
 * ticks, and carries out the action. */
#ifndef CL_SELFFENCE_H
#define CL_SELFFENCE_H

#include <stdbool.h>

#include "common/time.h"

enum sf_action {
	SF_NONE = 0,
	SF_FENCE, /* destroy this node's HA VMs now (once per loss) */
};

struct sf_guard {
	bool enabled;
	usec_t grace, limit;
	bool quorate;
	usec_t lost_at; /* 0: quorate */
	bool fenced;    /* acted for this loss */
};

/* enabled false (fencing.mode "none"): never acts. A node starts as not
 * quorate since now: HA VMs running here when clusterd starts in a
 * partition without quorum are stopped too (the quorate side, which sees
 * this node gone, restarts them after its wait). */
void sf_init(struct sf_guard *g, bool enabled, unsigned isolation_grace_ms, unsigned self_fence_ms,
	     usec_t now);
/* Quorum as the node sees it: false also when corosync is not connected. */
void sf_quorum(struct sf_guard *g, bool quorate, usec_t now);
/* SF_FENCE once, at lost_at + grace, if still not quorate. */
enum sf_action sf_tick(struct sf_guard *g, usec_t now);
/* When sf_tick has something to do; USEC_INFINITY when nothing is pending. */
usec_t sf_next_deadline(const struct sf_guard *g);
/* May this node start an HA VM (quorate, not in a loss)? */
bool sf_may_start(const struct sf_guard *g);
/* The hardware watchdog (fencing.watchdog) is fed while this is true:
 * quorate, within the isolation grace, or once the self-fence has been
 * carried out (destroyed true: the HA VMs are gone, nothing to reset for).
 * A clusterd that hangs, or a self-fence that failed, stops feeding it and
 * the device resets the machine. */
bool sf_feed_watchdog(const struct sf_guard *g, bool destroyed, usec_t now);

/* Time left, at now, until the self-fence deadline (lost_at + self_fence_ms);
 * 0 when passed or not in a loss. For the log. */
usec_t sf_time_left(const struct sf_guard *g, usec_t now);

#endif
