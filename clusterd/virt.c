/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt.c: the libvirt connection, its reconnection with backoff, and
 * the domain inventory (see virt.h). The inventory is rebuilt from a full
 * listing at every connect and patched per lifecycle event (O(domains) per
 * event); libvirt's own error printing is silenced and errors are logged
 * here once per outage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "clusterd/virt.h"
#include "clusterd/virt_event.h"
#include "clusterd/virt_xml.h"
#include "common/log.h"

struct virt_client {
	struct ev_loop *loop;
	char *uri;
	struct virt_callbacks cb;
	void *userdata;
	virConnectPtr conn;
	int lifecycle_id;
	bool lost;      /* the close callback fired: tear down from the loop */
	bool said_down; /* "not connected" logged for this outage */
	usec_t backoff;
	struct ev_timer *retry;
	struct virt_domain *doms;
	size_t n_doms;
};

static const char *const state_names[] = {"other", "running", "paused", "shut off", "crashed"};

const char *virt_dom_state_name(enum virt_dom_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static void silence(void *ud, virErrorPtr err)
{
	/* libvirt prints every error to stderr by default; we log what matters */
}

static const char *last_error(void)
{
	virErrorPtr e = virGetLastError();
	return e && e->message ? e->message : "unknown libvirt error";
}

static enum virt_dom_state map_state(int s)
{
	switch (s) {
	case VIR_DOMAIN_RUNNING:
		return VIRT_DOM_RUNNING;
	case VIR_DOMAIN_PAUSED:
		return VIRT_DOM_PAUSED;
	case VIR_DOMAIN_SHUTOFF:
		return VIRT_DOM_SHUTOFF;
	case VIR_DOMAIN_CRASHED:
		return VIRT_DOM_CRASHED;
	default:
		return VIRT_DOM_OTHER;
	}
}

static int describe(virDomainPtr dom, struct virt_domain *ret)
{
	virDomainInfo info;
	struct virt_domain d = {0};
	const char *name = virDomainGetName(dom);
	int persistent;

	if (!name || virDomainGetUUIDString(dom, d.uuid) < 0 || virDomainGetInfo(dom, &info) < 0)
		return -EIO;
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.state = map_state(info.state);
	d.mem_kib = info.memory;
	d.vcpus = info.nrVirtCpu;
	persistent = virDomainIsPersistent(dom);
	d.persistent = persistent == 1;
	d.prepared = d.state == VIRT_DOM_PAUSED && virt_domain_is_prepared(dom) == 1;
	*ret = d;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct virt_domain *)a)->name, ((const struct virt_domain *)b)->name);
}

static ssize_t find_dom(const struct virt_client *v, const char *uuid)
{
	for (size_t i = 0; i < v->n_doms; i++)
		if (strcmp(v->doms[i].uuid, uuid) == 0)
			return (ssize_t)i;
	return -1;
}

/* Replace or insert d (keeps the array sorted by name), or remove it. */
static void inventory_put(struct virt_client *v, const struct virt_domain *d, bool gone)
{
	ssize_t i = find_dom(v, d->uuid);

	if (gone) {
		if (i >= 0) {
			memmove(&v->doms[i], &v->doms[i + 1], (v->n_doms - (size_t)i - 1) * sizeof(*v->doms));
			v->n_doms--;
		}
		return;
	}
	if (i >= 0) {
		v->doms[i] = *d;
	} else {
		struct virt_domain *n = realloc(v->doms, (v->n_doms + 1) * sizeof(*n));
		if (!n) {
			log_err("libvirt: out of memory tracking domain %s", d->name);
			return;
		}
		v->doms = n;
		v->doms[v->n_doms++] = *d;
	}
	qsort(v->doms, v->n_doms, sizeof(*v->doms), by_name);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct virt_client *v = opaque;
	struct virt_domain d;
	usec_t now = ev_loop_now(v->loop);
	bool gone = event == VIR_DOMAIN_EVENT_UNDEFINED;

	if (describe(dom, &d) < 0) {
		/* a transient domain that stopped is already gone: drop it by uuid */
		if (virDomainGetUUIDString(dom, d.uuid) < 0)
			return 0;
		snprintf(d.name, sizeof(d.name), "%s", virDomainGetName(dom) ? virDomainGetName(dom) : "?");
		gone = true;
	} else if (event == VIR_DOMAIN_EVENT_STOPPED &&
		   (!d.persistent || detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED)) {
		/* a domain migrated away is not here any more. libvirt undefines
		 * the source (VIR_MIGRATE_UNDEFINE_SOURCE) after this event without
		 * an UNDEFINED event of its own, so when we look before it has,
		 * the domain would stay listed "shut off" here until the next
		 * full listing: a VM seen on two nodes. */
		gone = true;
	}
	inventory_put(v, &d, gone);
	if (v->cb.domain)
		v->cb.domain(v->userdata, &d, gone, now);
	return 0;
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct virt_client *v = opaque;

	/* inside libvirt's dispatch: just mark; the retry timer tears down */
	v->lost = true;
	ev_timer_set(v->retry, ev_loop_now(v->loop));
}

static void disconnect(struct virt_client *v, const char *why, usec_t now)
{
	if (v->conn) {
		if (v->lifecycle_id >= 0)
			virConnectDomainEventDeregisterAny(v->conn, v->lifecycle_id);
		virConnectUnregisterCloseCallback(v->conn, on_close);
		virConnectClose(v->conn);
		v->conn = NULL;
	}
	v->lifecycle_id = -1;
	v->lost = false;
	v->n_doms = 0;
	if (!v->said_down) {
		log_warn("libvirt: not connected to %s (%s), retrying", v->uri ? v->uri : "the default URI",
			 why);
		v->said_down = true;
		if (v->cb.disconnected)
			v->cb.disconnected(v->userdata, why, now);
	}
}

static int load_inventory(struct virt_client *v)
{
	virDomainPtr *list = NULL;
	int n = virConnectListAllDomains(v->conn, &list, 0);

	if (n < 0)
		return -EIO;
	v->n_doms = 0;
	for (int i = 0; i < n; i++) {
		struct virt_domain d;
		if (describe(list[i], &d) == 0)
			inventory_put(v, &d, false);
		virDomainFree(list[i]);
	}
	free(list);
	return 0;
}

static int try_connect(struct virt_client *v, usec_t now)
{
	const char *why;

	v->conn = virConnectOpen(v->uri);
	if (!v->conn) {
		why = last_error();
		goto fail;
	}
	if (virConnectSetKeepAlive(v->conn, VIRT_KEEPALIVE_INTERVAL_S, VIRT_KEEPALIVE_COUNT) < 0) {
		/* a driver inside this process has nothing to keep alive
		 * (VIR_ERR_NO_SUPPORT); a remote one that refuses is broken */
		virErrorPtr e = virGetLastError();
		if (!e || e->code != VIR_ERR_NO_SUPPORT) {
			why = last_error();
			goto fail;
		}
	}
	if (virConnectRegisterCloseCallback(v->conn, on_close, v, NULL) < 0) {
		why = last_error();
		goto fail;
	}
	v->lifecycle_id = virConnectDomainEventRegisterAny(v->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL);
	if (v->lifecycle_id < 0) {
		why = last_error();
		goto fail;
	}
	if (load_inventory(v) < 0) {
		why = last_error();
		goto fail;
	}
	log_info("libvirt: connected to %s, %zu domains", v->uri ? v->uri : "the default URI", v->n_doms);
	v->said_down = false;
	v->backoff = VIRT_BACKOFF_MIN_USEC;
	if (v->cb.connected)
		v->cb.connected(v->userdata, now);
	return 0;
fail:
	disconnect(v, why, now);
	return -ENOTCONN;
}

static void on_retry(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct virt_client *v = ud;

	if (v->lost)
		disconnect(v, "connection closed (libvirtd stopped or restarted?)", now);
	if (v->conn)
		return;
	if (try_connect(v, now) < 0) {
		ev_timer_set(t, now + v->backoff);
		v->backoff = v->backoff * 2 > VIRT_BACKOFF_MAX_USEC ? VIRT_BACKOFF_MAX_USEC : v->backoff * 2;
	}
}

int virt_client_new(struct ev_loop *loop, const char *uri, const struct virt_callbacks *cb, void *userdata,
		    struct virt_client **ret_client)
{
	struct virt_client *v;
	int r;

	if (!loop || !ret_client)
		return -EINVAL;
	r = cl_virt_event_register(loop);
	if (r < 0)
		return r;
	virSetErrorFunc(NULL, silence);
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->loop = loop;
	v->uri = uri ? strdup(uri) : NULL;
	if (cb)
		v->cb = *cb;
	v->userdata = userdata;
	v->lifecycle_id = -1;
	v->backoff = VIRT_BACKOFF_MIN_USEC;
	if ((uri && !v->uri) || (r = ev_timer_add(loop, USEC_INFINITY, on_retry, v, &v->retry)) < 0) {
		free(v->uri);
		free(v);
		return r < 0 ? r : -ENOMEM;
	}
	/* the first attempt runs from the loop, like every later one: callbacks
	 * never run before the caller has its handle */
	ev_timer_set(v->retry, ev_loop_now(loop));
	*ret_client = v;
	return 0;
}

void virt_client_free(struct virt_client *v)
{
	if (!v)
		return;
	v->said_down = true; /* no "not connected" on the way out */
	disconnect(v, "shutting down", 0);
	ev_timer_del(v->retry);
	free(v->doms);
	free(v->uri);
	free(v);
}

bool virt_client_connected(const struct virt_client *v)
{
	return v && v->conn && !v->lost;
}

size_t virt_client_domains(const struct virt_client *v, const struct virt_domain **ret_domains)
{
	*ret_domains = v ? v->doms : NULL;
	return virt_client_connected(v) ? v->n_doms : 0;
}

int virt_client_host(struct virt_client *v, struct virt_host *ret_host)
{
	virNodeInfo info;
	unsigned long long free_bytes;

	if (!virt_client_connected(v))
		return -ENOTCONN;
	if (virNodeGetInfo(v->conn, &info) < 0)
		return -EIO;
	free_bytes = virNodeGetFreeMemory(v->conn);
	if (free_bytes == 0 && virGetLastError())
		return -EIO;
	*ret_host = (struct virt_host){
		.total_mem_kib = info.memory, .free_mem_kib = free_bytes / 1024, .cpus = info.cpus};
	return 0;
}
