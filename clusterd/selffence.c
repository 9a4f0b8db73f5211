/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/selffence.c: the self-fencing state machine (see selffence.h). */
#include "clusterd/selffence.h"

void sf_init(struct sf_guard *g, bool enabled, unsigned isolation_grace_ms, unsigned self_fence_ms,
	     usec_t now)
{
	*g = (struct sf_guard){.enabled = enabled,
			       .grace = (usec_t)isolation_grace_ms * USEC_PER_MSEC,
			       .limit = (usec_t)self_fence_ms * USEC_PER_MSEC,
			       .lost_at = now ? now : 1};
}

void sf_quorum(struct sf_guard *g, bool quorate, usec_t now)
{
	if (quorate == g->quorate)
		return;
	g->quorate = quorate;
	g->fenced = false;
	g->lost_at = quorate ? 0 : now ? now : 1;
}

enum sf_action sf_tick(struct sf_guard *g, usec_t now)
{
	if (!g->enabled || g->quorate || !g->lost_at || g->fenced || now < g->lost_at + g->grace)
		return SF_NONE;
	g->fenced = true;
	return SF_FENCE;
}

usec_t sf_next_deadline(const struct sf_guard *g)
{
	if (!g->enabled || g->quorate || !g->lost_at || g->fenced)
		return USEC_INFINITY;
	return g->lost_at + g->grace;
}

bool sf_may_start(const struct sf_guard *g)
{
	return g->quorate;
}

usec_t sf_time_left(const struct sf_guard *g, usec_t now)
{
	if (!g->lost_at || now >= g->lost_at + g->limit)
		return 0;
	return g->lost_at + g->limit - now;
}

bool sf_feed_watchdog(const struct sf_guard *g, bool destroyed, usec_t now)
{
	if (!g->enabled || g->quorate || !g->lost_at)
		return true;
	return now < g->lost_at + g->grace || (g->fenced && destroyed);
}
