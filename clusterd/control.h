/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/control.h: the control socket (docs/PROTOCOL.md) — a UNIX stream
 * server on the event loop, one JSON request and one JSON reply per line,
 * credentials from SO_PEERCRED, size and connection limits. It parses and
 * authorizes; what a command does is the handler's business. */
#ifndef CTL_CONTROL_H
#define CTL_CONTROL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/loop.h"

#define CTL_MAX_REQUEST       65536
#define CTL_MAX_CONNECTIONS   64
#define CTL_IDLE_TIMEOUT_USEC (60 * USEC_PER_SEC)

/* Error codes of failed replies ("code" member). */
#define CTL_EINVAL      "EINVAL"
#define CTL_ENOSYS      "ENOSYS"
#define CTL_EPERM       "EPERM"
#define CTL_E2BIG       "E2BIG"
#define CTL_ENOTQUORATE "ENOTQUORATE"
#define CTL_ENOTCONN    "ENOTCONN"
#define CTL_EIO         "EIO"

enum ctl_class { CTL_READ, CTL_CHANGE };

struct ctl_request {
	const char *cmd;          /* the "cmd" member */
	struct json_object *args; /* the whole request object (borrowed) */
	uid_t uid;                /* peer credentials */
	gid_t gid;
	pid_t pid;
};

/* Handle one authorized request. On success set *ret_data to a new object
 * (the reply's "data") and return 0; on failure return -1 and fill code (one
 * of CTL_E*) and msg. Called on the loop thread; must not block. */
typedef int (*ctl_handler_fn)(void *userdata, const struct ctl_request *req, struct json_object **ret_data,
			      const char **ret_code, char *msg, size_t msglen);

struct ctl_command {
	const char *name;
	enum ctl_class cls;
	ctl_handler_fn fn;
};

struct ctl_server;

/* Listen on path (its directory is created 0755 if missing; a stale socket
 * file is replaced, a live one — another daemon answering — is -EADDRINUSE).
 * The socket is chmod 0660 and chgrp read_gid. commands: a table ended by a
 * {NULL} entry, kept by pointer. -errno on failure. */
int ctl_server_new(struct ev_loop *loop, const char *path, gid_t read_gid, gid_t admin_gid,
		   const struct ctl_command *commands, void *userdata, struct ctl_server **ret_server);
/* Closes every connection and removes the socket file. NULL is fine. */
void ctl_server_free(struct ctl_server *s);

/* Who may run a command of class cls (pure, for tests): root always; read:
 * a member (primary or supplementary) of read_gid or admin_gid; change:
 * of admin_gid. */
bool ctl_authorized(enum ctl_class cls, uid_t uid, gid_t gid, gid_t read_gid, gid_t admin_gid);

/* Parse one request line (pure, for tests and the fuzzer): 0 and a new
 * object in *ret_req, or -1 with code/msg filled (EINVAL/E2BIG). */
int ctl_parse_request(const char *line, size_t len, struct json_object **ret_req, const char **ret_code,
		      char *msg, size_t msglen);

#endif
