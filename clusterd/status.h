/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/status.h: the "data" objects of the read commands of the control
 * protocol (docs/PROTOCOL.md), built from the cluster state and this node's
 * heartbeat monitor. Pure: reads state, builds JSON, nothing else. */
#ifndef CL_STATUS_H
#define CL_STATUS_H

#include <json-c/json.h>

#include "clusterd/cluster.h"
#include "clusterd/config.h"
#include "common/time.h"
#include "heartbeat/hb_monitor.h"

struct cl_status_src {
	const struct cfg *cfg;
	const struct cl_cluster *cluster;
	const struct hb_monitor *mon;
	uint32_t local_id;
	usec_t now;
};

struct json_object *cl_status_quorum(const struct cl_status_src *s);
struct json_object *cl_status_nodes(const struct cl_status_src *s);
struct json_object *cl_status_links(const struct cl_status_src *s);
struct json_object *cl_status_vms(const struct cl_status_src *s);
struct json_object *cl_status_migrations(const struct cl_status_src *s);
/* One migration, as in "migrations" (also the reply to "migrate"). */
struct json_object *cl_status_migration(const struct cl_status_src *s, const struct cl_migration *m);
struct json_object *cl_status_all(const struct cl_status_src *s);

#endif
