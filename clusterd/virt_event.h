/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_event.h: libvirt's event implementation, bridged onto our one
 * event loop (virEventRegisterImpl), so libvirt's sockets, keepalives and
 * domain events are dispatched by the loop that owns every other fd —
 * no libvirt event thread. Process-global, as libvirt's registry is. */
#ifndef CL_VIRT_EVENT_H
#define CL_VIRT_EVENT_H

#include "common/loop.h"

/* Register once, before the first virConnectOpen. -EALREADY if a different
 * loop was registered before (libvirt cannot unregister an implementation). */
int cl_virt_event_register(struct ev_loop *loop);

/* Handles and timeouts libvirt has registered and not removed (for tests). */
int cl_virt_event_count(void);

#endif
