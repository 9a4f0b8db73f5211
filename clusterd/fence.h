/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/fence.h: runs a fence agent the fence-agents way — "key=value"
 * lines on its stdin (action, plug, ip, credentials …), success by exit
 * status — as a child process watched by the event loop, with a timeout
 * that kills the agent's whole process group (agents spawn ipmitool & co).
 * Decides nothing: when and whom to fence is the caller's policy. */
#ifndef CL_FENCE_H
#define CL_FENCE_H

#include <stddef.h>

#include "common/loop.h"

#define FENCE_OUTPUT_MAX 1024 /* the tail of the agent's output kept for the log */
#define FENCE_PARAMS_MAX 4096 /* all "key=value\n" lines together */

struct fence_param {
	const char *key;   /* [a-z_]+ */
	const char *value; /* no newline */
};

/* result: 0 the agent succeeded (exit 0); -EIO it failed (exit status in
 * status); -ETIMEDOUT it was killed at the timeout; -EINTR killed by a
 * signal (status = signal). output: the tail of what it printed. */
typedef void (*fence_done_fn)(void *userdata, int result, int status, const char *output, usec_t now);

struct fence_run;

/* -EINVAL for a bad key, a value with a newline or parameters over
 * FENCE_PARAMS_MAX bytes (they must fit a pipe buffer: written before the
 * agent reads), -ENOENT/-EACCES when the agent cannot be run; otherwise done
 * is called once, from the loop, unless the run is freed first. The caller
 * ignores SIGPIPE (an agent may exit without reading its stdin). */
int fence_run_start(struct ev_loop *loop, const char *agent, const struct fence_param *params, size_t n,
		    unsigned timeout_s, fence_done_fn done, void *userdata, struct fence_run **ret_run);
/* Kills a still-running agent (its process group) and reaps it. */
void fence_run_free(struct fence_run *r);

#endif
