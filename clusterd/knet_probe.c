/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/knet_probe.c: see knet_probe.h. One thread, one cmap handle on
 * the stats map (opened on first need, reopened after an error). Costs:
 * per round O(asked nodes x 8 links) cmap lookups, only while asked. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/cmap.h>
#include <corosync/corotypes.h>

#include "clusterd/knet_probe.h"

/* knet keeps 8 links per node at most (KNET_MAX_LINK) */
#define KNET_LINKS 8

struct knet_node {
	uint32_t id;
	usec_t asked; /* last knet_probe_get for it (monotonic) */
	int state;    /* as knet_probe_get returns */
};

struct knet_probe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool stop;
	struct knet_node nodes[KNET_PROBE_MAX_NODES];
	size_t n_nodes;
};

/* One node's links, through handle h (thread only). */
static int ask(cmap_handle_t h, uint32_t id)
{
	bool seen = false;

	for (unsigned l = 0; l < KNET_LINKS; l++) {
		char key[CMAP_KEYNAME_MAXLEN];
		uint8_t up = 0;
		cs_error_t e;

		snprintf(key, sizeof(key), "stats.knet.node%u.link%u.connected", id, l);
		e = cmap_get_uint8(h, key, &up);
		if (e == CS_ERR_NOT_EXIST)
			continue;
		if (e != CS_OK)
			return -EIO;
		if (up)
			return 1;
		seen = true;
	}
	return seen ? 0 : -ENOENT;
}

static void *run(void *arg)
{
	struct knet_probe *p = arg;
	cmap_handle_t h = 0;
	bool open = false;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		usec_t now = time_now_usec();
		uint32_t ids[KNET_PROBE_MAX_NODES];
		size_t n = 0, k = 0;
		struct timespec until;

		/* forget nodes nobody asked about lately; wait while none is left */
		for (size_t i = 0; i < p->n_nodes; i++)
			if (now - p->nodes[i].asked < KNET_PROBE_IDLE_USEC)
				p->nodes[k++] = p->nodes[i];
		p->n_nodes = k;
		if (p->n_nodes == 0) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		for (size_t i = 0; i < p->n_nodes; i++)
			ids[n++] = p->nodes[i].id;
		pthread_mutex_unlock(&p->mu);

		/* the IPC, without the lock: the caller never waits for it */
		int res[KNET_PROBE_MAX_NODES];

		if (!open && cmap_initialize_map(&h, CMAP_MAP_STATS) == CS_OK)
			open = true;
		for (size_t i = 0; i < n; i++) {
			res[i] = open ? ask(h, ids[i]) : -EIO;
			if (res[i] == -EIO && open) {
				(void)cmap_finalize(h);
				open = false;
			}
		}

		pthread_mutex_lock(&p->mu);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < p->n_nodes; j++)
				if (p->nodes[j].id == ids[i])
					p->nodes[j].state = res[i];
		now = time_now_usec() + KNET_PROBE_PERIOD_USEC;
		until = (struct timespec){.tv_sec = (time_t)(now / USEC_PER_SEC),
					  .tv_nsec = (long)(now % USEC_PER_SEC) * 1000L};
		while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&p->mu);
	if (open)
		(void)cmap_finalize(h);
	return NULL;
}

int knet_probe_new(struct knet_probe **ret)
{
	struct knet_probe *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int r;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* as time_now_usec */
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&p->thread, NULL, run, p);
	if (r) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return -r;
	}
	*ret = p;
	return 0;
}

void knet_probe_free(struct knet_probe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int knet_probe_get(struct knet_probe *p, uint32_t nodeid)
{
	usec_t now = time_now_usec();
	int state = -ENOSPC;
	size_t i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->n_nodes && p->nodes[i].id != nodeid; i++)
		;
	if (i == p->n_nodes && i < KNET_PROBE_MAX_NODES) {
		p->nodes[p->n_nodes++] = (struct knet_node){.id = nodeid, .state = -EAGAIN};
		pthread_cond_signal(&p->cv);
	}
	if (i < p->n_nodes) {
		p->nodes[i].asked = now;
		state = p->nodes[i].state;
	}
	pthread_mutex_unlock(&p->mu);
	return state;
}
