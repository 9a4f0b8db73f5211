/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mig_exec.c: a child process and its verdict line (see mig_exec.h).
 * The pipe is read as data arrives and split into lines: progress lines go
 * to the callback, any other non-empty line becomes the verdict candidate
 * (the last one wins). At EOF the child has exited (or closed stdout, then it
 * is about to), so waitpid is called once, blocking only for that instant.
 * A line longer than MIG_EXEC_MAX_OUTPUT is cut. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "migrate/mig_exec.h"

extern char **environ;

struct mig_exec {
	struct ev_loop *loop;
	pid_t pid;
	int fd;
	struct ev_io *io;
	char out[MIG_EXEC_MAX_OUTPUT]; /* the line being read */
	size_t len;
	char last[MIG_EXEC_MAX_OUTPUT]; /* the last complete non-progress line */
	mig_exec_done_fn done;
	mig_exec_progress_fn progress;
	void *userdata;
	bool finished;
};

/* Decide from the last line and the exit status; returns ok. */
static bool verdict(struct mig_exec *e, int status, char *msg, size_t len)
{
	const char *line = e->last;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(line, "ok") == 0) {
		snprintf(msg, len, "ok");
		return true;
	}
	if (strncmp(line, "error: ", 7) == 0)
		snprintf(msg, len, "%s", line + 7);
	else if (WIFSIGNALED(status))
		snprintf(msg, len, "helper killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		snprintf(msg, len, "helper exited with status %d%s%s", WEXITSTATUS(status),
			 line[0] ? ": " : "", line);
	else
		snprintf(msg, len, "helper gave no verdict%s%s", line[0] ? ": " : "", line);
	return false;
}

/* One complete line (NUL-terminated, without '\n'). */
static void take_line(struct mig_exec *e, const char *line, usec_t now)
{
	if (strncmp(line, "progress ", 9) == 0) {
		if (e->progress)
			e->progress(e->userdata, line + 9, now);
	} else if (line[0]) {
		snprintf(e->last, sizeof(e->last), "%s", line);
	}
}

static void on_output(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	struct mig_exec *e = ud;
	char buf[512], msg[MIG_EXEC_MAX_OUTPUT + 64];
	ssize_t n;
	int status = 0;
	bool ok;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n') {
					e->out[e->len] = '\0';
					take_line(e, e->out, now);
					e->len = 0;
				} else if (e->len < sizeof(e->out) - 1) {
					e->out[e->len++] = buf[i];
				}
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* more later */
		break;          /* EOF (or a read error: treat as EOF) */
	}
	if (e->len) { /* a last line without its newline */
		e->out[e->len] = '\0';
		take_line(e, e->out, now);
		e->len = 0;
	}
	ev_io_del(e->io);
	e->io = NULL;
	close(e->fd);
	e->fd = -1;
	while (waitpid(e->pid, &status, 0) < 0 && errno == EINTR)
		;
	e->pid = -1;
	e->finished = true;
	ok = verdict(e, status, msg, sizeof(msg));
	e->done(e->userdata, ok, msg, now); /* may free e: nothing after this */
}

int mig_exec_start(struct ev_loop *loop, char *const argv[], mig_exec_done_fn done, void *userdata,
		   struct mig_exec **ret_exec)
{
	posix_spawn_file_actions_t fa;
	struct mig_exec *e;
	int p[2], r;

	if (!loop || !argv || !argv[0] || !done || !ret_exec)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		free(e);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	r = -posix_spawn(&e->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		free(e);
		return r;
	}
	e->loop = loop;
	e->fd = p[0];
	e->done = done;
	e->userdata = userdata;
	(void)fcntl(e->fd, F_SETFL, fcntl(e->fd, F_GETFL) | O_NONBLOCK);
	r = ev_io_add(loop, e->fd, EPOLLIN, on_output, e, &e->io);
	if (r < 0) {
		mig_exec_free(e);
		return r;
	}
	*ret_exec = e;
	return 0;
}

void mig_exec_set_progress(struct mig_exec *e, mig_exec_progress_fn fn)
{
	if (e)
		e->progress = fn;
}

int mig_exec_signal(struct mig_exec *e, int signo)
{
	if (!e || e->pid <= 0)
		return -ESRCH;
	return kill(e->pid, signo) < 0 ? -errno : 0;
}

pid_t mig_exec_pid(const struct mig_exec *e)
{
	return e ? e->pid : -1;
}

void mig_exec_free(struct mig_exec *e)
{
	if (!e)
		return;
	ev_io_del(e->io);
	if (e->fd >= 0)
		close(e->fd);
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		while (waitpid(e->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(e);
}
