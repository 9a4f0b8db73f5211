/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mig_exec.h: run a helper program (clusterd-migrate-vm) as a child
 * process and get its one-line verdict ("ok" / "error: …") back through a
 * pipe watched by the event loop, so long blocking work never runs on the
 * loop. Never logs; never includes clusterd/. */
#ifndef MIG_EXEC_H
#define MIG_EXEC_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/loop.h"

#define MIG_EXEC_MAX_OUTPUT 1024

/* ok: the child printed "ok" and exited 0. Otherwise msg says why: its
 * "error: …" text, or how it ended (exit status, signal, no verdict). */
typedef void (*mig_exec_done_fn)(void *userdata, bool ok, const char *msg, usec_t now);
/* A line the child printed before its verdict that starts with "progress ":
 * the rest of the line (e.g. "PROCESSED REMAINING TOTAL DIRTY ITERATION"). */
typedef void (*mig_exec_progress_fn)(void *userdata, const char *line, usec_t now);

struct mig_exec;

/* Start argv[0] (a path) with argv; stdin is /dev/null, stderr is inherited.
 * done is called exactly once, from the loop, unless the exec is freed
 * first. -errno when the child cannot be started. */
int mig_exec_start(struct ev_loop *loop, char *const argv[], mig_exec_done_fn done, void *userdata,
		   struct mig_exec **ret_exec);
/* Deliver progress lines to fn (NULL: ignore them). */
void mig_exec_set_progress(struct mig_exec *e, mig_exec_progress_fn fn);
/* Send the child a signal (SIGUSR1: abort the migration). -ESRCH when done. */
int mig_exec_signal(struct mig_exec *e, int signo);
pid_t mig_exec_pid(const struct mig_exec *e);
/* Free; a child still running gets SIGTERM and is reaped (blocking up to
 * the time it takes to exit: the helper exits at once on SIGTERM). */
void mig_exec_free(struct mig_exec *e);

#endif
