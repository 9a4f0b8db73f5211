/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_link.h: the daemon's side of clusterd-virt (virt_helper.c):
 * starts the helper, reads its JSON lines on the loop and reports the node's
 * VM inventory; when the helper dies, libvirt counts as not connected and
 * the helper is started again with backoff. */
#ifndef CL_VIRT_LINK_H
#define CL_VIRT_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "clusterd/cluster_msg.h"
#include "common/loop.h"

#define VLINK_MAX_LINE         (512 * 1024)
#define VLINK_BACKOFF_MIN_USEC (500 * USEC_PER_MSEC)
#define VLINK_BACKOFF_MAX_USEC (10 * USEC_PER_SEC)

#define VLINK_MAX_PREPARED 32

/* The host's capacity as the helper last asked libvirt (0s: unknown), and
 * the prepared copies it holds (virt_xml.h): paused restart copies that
 * are not VMs yet, so never in the inventory. */
struct vlink_host {
	uint64_t free_kib;
	uint32_t cpus;
	size_t n_prepared;
	struct clm_vm prepared[VLINK_MAX_PREPARED];
};

/* vms: zero-padded entries (the cluster compares them bytewise); up: libvirt
 * connected; why: the reason when not. */
typedef void (*vlink_inventory_fn)(void *userdata, const struct clm_vm *vms, size_t n, bool up,
				   const struct vlink_host *host, const char *why, usec_t now);

struct vlink;

/* helper: path of clusterd-virt; uri: libvirt URI (NULL: default). The helper
 * is started from the loop's next iteration. */
int vlink_new(struct ev_loop *loop, const char *helper, const char *uri, vlink_inventory_fn fn,
	      void *userdata, struct vlink **ret_link);
void vlink_free(struct vlink *l); /* stops the helper; NULL is fine */

/* Parse one helper line (pure, for tests): 0 and the entries, or -EBADMSG. */
int vlink_parse(const char *line, struct clm_vm *vms, size_t cap, size_t *ret_n, bool *ret_up,
		struct vlink_host *ret_host, char *why, size_t whylen);

#endif
