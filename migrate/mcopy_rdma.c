/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_rdma.c: backend choice (auto/tcp/rdma) and, under HAVE_RDMA,
 * the verbs probe that says whether an RDMA device reaches a peer. The ring
 * and credit logic is in mcopy_ring.c (pure, unit-tested); this file must
 * stay the thin, hardware-only part. Never logs: the reason goes in `why`. */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef HAVE_RDMA
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#endif

#include "migrate/mcopy.h"

#define RDMA_RESOLVE_MS 500 /* address resolution deadline of the probe */

const char *mcopy_backend_name(enum mcopy_backend b)
{
	switch (b) {
	case MCOPY_BACKEND_TCP:
		return "tcp";
	case MCOPY_BACKEND_RDMA:
		return "rdma";
	default:
		return "auto";
	}
}

#ifdef HAVE_RDMA
/* 1: a device reaches peer (resolved through rdma_cm), 0: none, -errno. */
static int rdma_reaches(const struct sockaddr *peer, char *why, size_t whylen)
{
	struct rdma_event_channel *ch = NULL;
	struct rdma_cm_id *id = NULL;
	struct rdma_cm_event *ev = NULL;
	struct ibv_device **list;
	int n = 0, r = 0;

	list = ibv_get_device_list(&n);
	if (list)
		ibv_free_device_list(list);
	if (n <= 0) {
		snprintf(why, whylen, "no RDMA device on this node (ibv_get_device_list found none)");
		return 0;
	}
	ch = rdma_create_event_channel();
	if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) < 0) {
		r = -errno;
		snprintf(why, whylen, "rdma_cm unavailable: %s", strerror(errno));
		goto out;
	}
	/* rdma_resolve_addr reports through the channel within RDMA_RESOLVE_MS */
	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)peer, RDMA_RESOLVE_MS) < 0 ||
	    rdma_get_cm_event(ch, &ev) < 0) {
		snprintf(why, whylen, "%d RDMA device(s), none reaches the peer: %s", n, strerror(errno));
		goto out;
	}
	if (ev->event == RDMA_CM_EVENT_ADDR_RESOLVED && id->verbs) {
		snprintf(why, whylen, "RDMA device %s reaches the peer",
			 ibv_get_device_name(id->verbs->device));
		r = 1;
	} else {
		snprintf(why, whylen, "%d RDMA device(s), none reaches the peer (%s)", n,
			 rdma_event_str(ev->event));
	}
	rdma_ack_cm_event(ev);
out:
	if (id)
		rdma_destroy_id(id);
	if (ch)
		rdma_destroy_event_channel(ch);
	return r;
}
#endif

int mcopy_backend_choose(enum mcopy_backend want, const struct sockaddr *peer, socklen_t len,
			 enum mcopy_backend *ret_backend, char *why, size_t whylen)
{
	char buf[160] = "";
	int r = 0;

	if (!ret_backend || (want != MCOPY_BACKEND_TCP && !peer) || !why || whylen == 0)
		return -EINVAL;
	(void)len;
	if (want == MCOPY_BACKEND_TCP) {
		snprintf(why, whylen, "tcp requested");
		*ret_backend = MCOPY_BACKEND_TCP;
		return 0;
	}
#ifdef HAVE_RDMA
	r = rdma_reaches(peer, buf, sizeof(buf));
#else
	snprintf(buf, sizeof(buf), "built without RDMA support (libibverbs/librdmacm not found)");
#endif
	if (r == 1) {
		/* The engine's data path is tcp only for now (see mcopy_ring.h):
		 * even a reachable device is reported, not used. */
		snprintf(why, whylen, "%s, but the RDMA data path is not wired into the engine yet", buf);
		if (want == MCOPY_BACKEND_RDMA)
			return -EOPNOTSUPP;
		*ret_backend = MCOPY_BACKEND_TCP;
		return 0;
	}
	if (want == MCOPY_BACKEND_RDMA) {
		snprintf(why, whylen, "%s", buf);
#ifdef HAVE_RDMA
		return r < 0 ? r : -ENODEV;
#else
		return -EOPNOTSUPP;
#endif
	}
	snprintf(why, whylen, "tcp, because %s", buf);
	*ret_backend = MCOPY_BACKEND_TCP;
	return 0;
}
