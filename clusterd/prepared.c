/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/prepared.c: the target's rules for prepared copies (prepared.h). */
#include <string.h>

#include "clusterd/ha.h"
#include "clusterd/prepared.h"

void prep_update(struct prep_set *s, const struct clm_vm *list, size_t n, usec_t now)
{
	struct prep_set old = *s;

	s->n = 0;
	for (size_t i = 0; i < n && s->n < VLINK_MAX_PREPARED; i++) {
		struct prep_copy *p = &s->c[s->n++];

		*p = (struct prep_copy){.seen = now ? now : 1};
		memcpy(p->uuid, list[i].uuid, sizeof(p->uuid));
		memcpy(p->name, list[i].name, sizeof(p->name));
		for (size_t k = 0; k < old.n; k++)
			if (strcmp(old.c[k].uuid, p->uuid) == 0) {
				p->seen = old.c[k].seen;
				p->destroy_at = old.c[k].destroy_at;
				break;
			}
	}
}

bool prep_has(const struct prep_set *s, const char *uuid)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->c[i].uuid, uuid) == 0)
			return !s->c[i].destroy_at;
	return false;
}

/* Why copy p must go, or NULL while it may still be resumed. */
static const char *doomed(const struct prep_copy *p, const struct cl_cluster *c, const struct cfg *cfg,
			  uint32_t local, const bool *heard, usec_t now)
{
	const struct cl_migration *migs;
	size_t n = cl_cluster_migrations(c, &migs);

	if (!cl_cluster_is_quorate(c))
		return "this node is not quorate";
	for (size_t i = 0; i < n; i++)
		if (migs[i].kind == CLM_KIND_START && migs[i].target == local &&
		    strcmp(migs[i].uuid, p->uuid) == 0 &&
		    (migs[i].state == CLM_MIG_REQUESTED || migs[i].state == CLM_MIG_RUNNING))
			return NULL; /* its order is here: being resumed */
	if (now >= p->seen + PREP_TTL_USEC)
		return "no restart order came for it";
	if (!ha_registry_find(cl_cluster_ha(c), p->uuid))
		return "the VM is not in the HA registry";
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct clm_vm *vms;
		size_t k;
		bool up, known;

		if (cfg->nodes[i].id == local || (heard && !heard[i]) ||
		    !cl_cluster_is_member(c, cfg->nodes[i].id) ||
		    cl_cluster_inventory(c, cfg->nodes[i].id, &vms, &k, &up, &known) < 0)
			continue;
		while (k--)
			if (strcmp(vms[k].uuid, p->uuid) == 0)
				return "the VM is listed on another member";
	}
	for (size_t i = 0; i < n; i++)
		if (migs[i].kind == CLM_KIND_START && migs[i].target != local &&
		    strcmp(migs[i].uuid, p->uuid) == 0 && migs[i].requested >= p->seen &&
		    migs[i].state != CLM_MIG_FAILED)
			return "its restart was ordered on another node";
	return NULL;
}

size_t prep_sweep(struct prep_set *s, const struct cl_cluster *c, const struct cfg *cfg, uint32_t local,
		  const bool *heard, usec_t now, struct prep_destroy out[VLINK_MAX_PREPARED])
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct prep_copy *p = &s->c[i];
		const char *why;

		if (p->destroy_at && now < p->destroy_at + PREP_RETRY_USEC)
			continue;
		why = doomed(p, c, cfg, local, heard, now);
		if (!why && !p->destroy_at)
			continue;
		p->destroy_at = now ? now : 1;
		out[n++] = (struct prep_destroy){.idx = i, .why = why ? why : "a destroy did not end it"};
	}
	return n;
}

usec_t prep_next_deadline(const struct prep_set *s)
{
	usec_t next = USEC_INFINITY;

	for (size_t i = 0; i < s->n; i++) {
		usec_t t = s->c[i].destroy_at ? s->c[i].destroy_at + PREP_RETRY_USEC
					      : s->c[i].seen + PREP_TTL_USEC;

		if (t < next)
			next = t;
	}
	return next;
}
