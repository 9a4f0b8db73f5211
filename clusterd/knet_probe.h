/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/knet_probe.h: corosync's own view of whether a node is
 * reachable — its knet links to it, from corosync's stats map
 * (stats.knet.nodeN.linkL.connected; knet gives up on a silent link after
 * its ping timeout, a fraction of the token timeout) — without ever
 * blocking the caller's loop: libcmap's calls are synchronous IPC with no
 * timeout, so a hung corosync would hang whoever asks. A thread of its own
 * asks, only for the nodes asked about within the last second, about every
 * KNET_PROBE_PERIOD_USEC; the caller reads the last answer. I/O edge: no
 * policy here (clusterd/evac.c decides what an answer means). */
#ifndef CL_KNET_PROBE_H
#define CL_KNET_PROBE_H

#include <stdint.h>

#include "common/time.h"

#define KNET_PROBE_PERIOD_USEC (25 * USEC_PER_MSEC)
/* A node not asked about for this long is not probed any more. */
#define KNET_PROBE_IDLE_USEC (1 * USEC_PER_SEC)
#define KNET_PROBE_MAX_NODES 64

struct knet_probe;

int knet_probe_new(struct knet_probe **ret);
void knet_probe_free(struct knet_probe *p); /* NULL is fine; may wait for an IPC in flight */

/* Never blocks. 1: some knet link to nodeid is connected; 0: every one is
 * disconnected; -EAGAIN: asked, no answer yet (ask again soon); -ENOENT:
 * corosync has no knet statistics for it; -EIO: corosync did not answer;
 * -ENOSPC: too many nodes asked about at once. */
int knet_probe_get(struct knet_probe *p, uint32_t nodeid);

#endif
