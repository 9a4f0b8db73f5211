/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/corosync.h: clusterd as corosync's client — one CPG group for
 * totally ordered messages and membership, libquorum for quorate or not,
 * libvotequorum for votes. All fds on the event loop; when corosync is not
 * running or goes away, it says so and reconnects with backoff, and nothing
 * is reported as a membership or quorum until it is back. */
#ifndef CL_COROSYNC_H
#define CL_COROSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"

#define CS_MAX_MEMBERS      64
#define CS_MAX_MESSAGE      (1024 * 1024)
#define CS_BACKOFF_MIN_USEC (200 * USEC_PER_MSEC)
#define CS_BACKOFF_MAX_USEC (5 * USEC_PER_SEC)

/* votequorum flags as we report them */
#define CS_FLAG_TWO_NODE          (1u << 0)
#define CS_FLAG_WAIT_FOR_ALL      (1u << 1)
#define CS_FLAG_LAST_MAN_STANDING (1u << 2)
#define CS_FLAG_AUTO_TIE_BREAKER  (1u << 3)

struct cs_quorum {
	bool quorate;
	uint32_t total_votes;
	uint32_t expected_votes;
	uint32_t quorum;                  /* votes needed */
	uint32_t flags;                   /* CS_FLAG_* */
	uint32_t members[CS_MAX_MEMBERS]; /* corosync membership (node ids), ascending */
	size_t n_members;
	uint64_t ring_id; /* (rep node id << 32 | seq) as corosync-quorumtool prints "%x.%llx" */
	uint32_t ring_rep;
	uint64_t ring_seq;
};

struct cs_callbacks {
	/* connected to corosync; local_id is corosync's node id for this node */
	void (*connected)(void *ud, uint32_t local_id, usec_t now);
	/* lost (or could not reach) corosync; reconnect attempts continue */
	void (*disconnected)(void *ud, const char *why, usec_t now);
	/* the CPG group's members (node ids, ascending) after a change */
	void (*membership)(void *ud, const uint32_t *members, size_t n, usec_t now);
	/* quorum state or votes changed */
	void (*quorum)(void *ud, const struct cs_quorum *q, usec_t now);
	/* a message multicast to the group (also our own, in total order) */
	void (*message)(void *ud, uint32_t from, const void *data, size_t len, usec_t now);
};

struct cs_client;

/* Start connecting (now, then with backoff). group: CPG group name (<= 127
 * bytes). Callbacks are copied. -EINVAL, -ENOMEM. */
int cs_client_new(struct ev_loop *loop, const char *group, const struct cs_callbacks *cb, void *userdata,
		  struct cs_client **ret_client);
void cs_client_free(struct cs_client *c); /* leaves the group; NULL is fine */

bool cs_client_connected(const struct cs_client *c);
/* Multicast in agreed order. -ENOTCONN when not connected, -EAGAIN when
 * corosync applies flow control (try again later), -EMSGSIZE above
 * CS_MAX_MESSAGE. */
int cs_client_send(struct cs_client *c, const void *data, size_t len);
/* The last quorum snapshot (zeroed when not connected). */
const struct cs_quorum *cs_client_quorum(const struct cs_client *c);

#endif
