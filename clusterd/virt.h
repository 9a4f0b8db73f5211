/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt.h: clusterd as libvirt's client — one connection (libvirt.uri)
 * with keepalive, lifecycle events dispatched by our loop (virt_event.c),
 * reconnection with backoff when libvirtd restarts, and an inventory of this
 * node's domains kept current by those events. libvirt calls are short
 * synchronous RPCs to the local daemon; long ones (migrations) do not run
 * here. */
#ifndef CL_VIRT_H
#define CL_VIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"

#define VIRT_NAME_MAX             64
#define VIRT_KEEPALIVE_INTERVAL_S 5
#define VIRT_KEEPALIVE_COUNT      3
#define VIRT_BACKOFF_MIN_USEC     (200 * USEC_PER_MSEC)
#define VIRT_BACKOFF_MAX_USEC     (5 * USEC_PER_SEC)

enum virt_dom_state {
	VIRT_DOM_OTHER = 0,
	VIRT_DOM_RUNNING,
	VIRT_DOM_PAUSED,
	VIRT_DOM_SHUTOFF,
	VIRT_DOM_CRASHED
};

struct virt_domain {
	char name[VIRT_NAME_MAX];
	char uuid[37]; /* canonical text form */
	enum virt_dom_state state;
	uint64_t mem_kib; /* current memory */
	uint32_t vcpus;
	bool persistent;
	bool prepared; /* a restart's copy started paused ahead of its order (virt_xml.h) */
};

struct virt_host {
	uint64_t total_mem_kib;
	uint64_t free_mem_kib;
	uint32_t cpus;
};

struct virt_callbacks {
	void (*connected)(void *ud, usec_t now);
	void (*disconnected)(void *ud, const char *why, usec_t now);
	/* a domain appeared, changed state, or (gone = true) disappeared */
	void (*domain)(void *ud, const struct virt_domain *d, bool gone, usec_t now);
};

struct virt_client;

/* Registers the event bridge on loop (once per process); the first connect
 * attempt runs in the loop's next iteration, then retries with backoff.
 * Callbacks only ever run from the loop. uri NULL: libvirt's default. */
int virt_client_new(struct ev_loop *loop, const char *uri, const struct virt_callbacks *cb, void *userdata,
		    struct virt_client **ret_client);
void virt_client_free(struct virt_client *v); /* NULL is fine */

bool virt_client_connected(const struct virt_client *v);
/* The inventory (sorted by name); valid until the next loop iteration. */
size_t virt_client_domains(const struct virt_client *v, const struct virt_domain **ret_domains);
/* Memory and CPUs of this host, asked now. -ENOTCONN, -EIO. */
int virt_client_host(struct virt_client *v, struct virt_host *ret_host);

const char *virt_dom_state_name(enum virt_dom_state s);

#endif
