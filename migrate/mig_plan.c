/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mig_plan.c: placement and scheduling of live migrations (see
 * mig_plan.h). Pure functions over caller-supplied capacities; a plan
 * works on a private copy so the caller's inputs are never modified. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/mig_plan.h"

static const char *const unplaced_names[] = {
	[MIG_PLACED] = "placed",
	[MIG_NO_TARGET] = "no other eligible node",
	[MIG_ALL_FORBIDDEN] = "every eligible node is forbidden for this VM",
	[MIG_NO_CAPACITY] = "no allowed node has enough free memory and vCPUs",
};

const char *mig_unplaced_str(enum mig_unplaced why)
{
	return (unsigned)why < sizeof(unplaced_names) / sizeof(unplaced_names[0]) ? unplaced_names[why] : "?";
}

static bool in_list(uint32_t id, const uint32_t *list, size_t max)
{
	for (size_t i = 0; i < max && list[i]; i++)
		if (list[i] == id)
			return true;
	return false;
}

static const struct mig_vm *sort_vms;

static int by_order(const void *a, const void *b)
{
	const struct mig_vm *x = &sort_vms[*(const size_t *)a], *y = &sort_vms[*(const size_t *)b];

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->mem_kib != y->mem_kib)
		return x->mem_kib > y->mem_kib ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool fits(const struct mig_node *n, const struct mig_vm *vm)
{
	return n->free_mem_kib >= vm->mem_kib && n->free_vcpus >= vm->vcpus;
}

/* Better spread target: clearly more memory left after placement (by more
 * than 1/16: free memory is sampled at different moments, and hosts of one
 * size differ by noise), then fewer VMs, then more memory, then lower id. */
static bool better(const struct mig_node *a, const struct mig_node *b, const struct mig_vm *vm)
{
	uint64_t la = a->free_mem_kib - vm->mem_kib, lb = b->free_mem_kib - vm->mem_kib;
	uint64_t hi = la > lb ? la : lb, diff = la > lb ? la - lb : lb - la;

	if (diff > hi / 16)
		return la > lb;
	if (a->n_vms != b->n_vms)
		return a->n_vms < b->n_vms;
	if (la != lb)
		return la > lb;
	if (a->n_vms != b->n_vms)
		return a->n_vms < b->n_vms;
	return a->id < b->id;
}

int mig_plan(const struct mig_vm *vms, size_t n_vms, const struct mig_node *nodes, size_t n_nodes,
	     uint32_t source, const uint32_t *exclude, size_t n_exclude, struct mig_placement *ret)
{
	struct mig_placement *out = NULL;
	struct mig_node *cap = NULL;
	size_t *order = NULL;
	int placed = 0, r = 0;

	if ((n_vms && (!vms || !ret)) || (n_nodes && !nodes) || (n_exclude && !exclude))
		return -EINVAL;
	if (n_vms == 0)
		return 0;
	out = calloc(n_vms, sizeof(*out));
	order = calloc(n_vms, sizeof(*order));
	cap = n_nodes ? calloc(n_nodes, sizeof(*cap)) : NULL;
	if (!out || !order || (n_nodes && !cap)) {
		r = -ENOMEM;
		goto out;
	}
	if (n_nodes)
		memcpy(cap, nodes, n_nodes * sizeof(*cap));
	for (size_t i = 0; i < n_vms; i++)
		order[i] = i;
	sort_vms = vms; /* qsort has no context argument; planning is single-threaded */
	qsort(order, n_vms, sizeof(*order), by_order);

	for (size_t k = 0; k < n_vms; k++) {
		const struct mig_vm *vm = &vms[order[k]];
		struct mig_node *best = NULL;
		size_t eligible = 0, allowed = 0;

		for (size_t p = 0; p < MIG_MAX_PREFS && vm->preferred[p] && !best; p++)
			for (size_t j = 0; j < n_nodes; j++) {
				struct mig_node *n = &cap[j];
				if (n->id == vm->preferred[p] && n->eligible && n->id != source &&
				    !in_list(n->id, vm->forbidden, MIG_MAX_PREFS) &&
				    !in_list(n->id, exclude, n_exclude) && fits(n, vm))
					best = n;
			}
		for (size_t j = 0; j < n_nodes; j++) {
			struct mig_node *n = &cap[j];

			if (!n->eligible || n->id == source || in_list(n->id, exclude, n_exclude))
				continue;
			eligible++;
			if (in_list(n->id, vm->forbidden, MIG_MAX_PREFS))
				continue;
			allowed++;
			if (!best && fits(n, vm))
				best = n;
			else if (best && !in_list(best->id, vm->preferred, MIG_MAX_PREFS) && fits(n, vm) &&
				 better(n, best, vm))
				best = n;
		}
		if (best) {
			best->free_mem_kib -= vm->mem_kib;
			best->free_vcpus -= vm->vcpus;
			best->n_vms++;
			out[order[k]] = (struct mig_placement){.target = best->id, .why = MIG_PLACED};
			placed++;
		} else {
			out[order[k]] = (struct mig_placement){.why = eligible == 0  ? MIG_NO_TARGET
								      : allowed == 0 ? MIG_ALL_FORBIDDEN
										     : MIG_NO_CAPACITY};
		}
	}
	memcpy(ret, out, n_vms * sizeof(*out));
	r = placed;
out:
	free(out);
	free(order);
	free(cap);
	return r;
}

static uint32_t count(const struct mig_flow *f, size_t n, uint32_t node, bool as_source)
{
	uint32_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += (as_source ? f[i].source : f[i].target) == node;
	return c;
}

size_t mig_schedule(const struct mig_flow *running, size_t n_running, const struct mig_flow *waiting,
		    size_t n_waiting, const struct mig_limits *lim, size_t *start)
{
	struct mig_flow *now;
	size_t n_now = 0, n_start = 0;

	if (!lim || (n_waiting && (!waiting || !start)))
		return 0;
	now = malloc((n_running + n_waiting + 1) * sizeof(*now));
	if (!now)
		return 0; /* nothing starts; the caller retries on its next pass */
	if (n_running)
		memcpy(now, running, n_running * sizeof(*now));
	n_now = n_running;
	for (size_t i = 0; i < n_waiting; i++) {
		const struct mig_flow *w = &waiting[i];

		if (lim->cluster && n_now >= lim->cluster)
			break;
		if (count(now, n_now, w->source, true) >= lim->per_source ||
		    count(now, n_now, w->target, false) >= lim->per_target)
			continue;
		now[n_now++] = *w;
		start[n_start++] = i;
	}
	free(now);
	return n_start;
}
