/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/prepared.h: what a node does with the prepared copies it holds
 * (paused restart copies started ahead of their order, virt_xml.h): it
 * resumes one when the restart order names this node, and destroys one
 * nobody needs any more. Only the restart order may ever resume a copy; any
 * doubt destroys it (the order then starts the VM the ordinary way).
 * Pure: state and the replicated table in, decisions out. */
#ifndef CL_PREPARED_H
#define CL_PREPARED_H

#include <stdbool.h>
#include <stddef.h>

#include "clusterd/cluster.h"
#include "clusterd/virt_link.h"
#include "common/time.h"

/* A copy no order came for within this long is destroyed (corosync forms
 * the membership without a fenced node within token + consensus: ~1 s
 * with token 500, ~8 s with its default). */
#define PREP_TTL_USEC (30 * USEC_PER_SEC)
/* A destroy that did not make a copy go is tried again this much later. */
#define PREP_RETRY_USEC (2 * USEC_PER_SEC)

struct prep_copy {
	char uuid[CLM_VM_UUID_LEN];
	char name[CLM_VM_NAME_MAX];
	usec_t seen;       /* first seen here */
	usec_t destroy_at; /* a destroy was started then (0: none) */
};

struct prep_set {
	struct prep_copy c[VLINK_MAX_PREPARED];
	size_t n;
};

/* The helper's latest list: new copies stamped now, copies gone forgotten. */
void prep_update(struct prep_set *s, const struct clm_vm *list, size_t n, usec_t now);
/* uuid has a prepared copy here that no destroy has been started for. */
bool prep_has(const struct prep_set *s, const char *uuid);

struct prep_destroy {
	size_t idx; /* into s->c */
	const char *why;
};

/* Which copies to destroy now, each with its reason; marks them (no second
 * destroy before PREP_RETRY_USEC). local: this node. heard[x] (by config
 * index; NULL: all): this node's heartbeat hears node x — a listing by a
 * member it does not hear is the node just fenced, still a member until
 * corosync agrees, and says nothing. Returns the count. */
size_t prep_sweep(struct prep_set *s, const struct cl_cluster *c, const struct cfg *cfg, uint32_t local,
		  const bool *heard, usec_t now, struct prep_destroy out[VLINK_MAX_PREPARED]);
/* The earliest time a sweep may decide something new by time alone. */
usec_t prep_next_deadline(const struct prep_set *s);

#endif
