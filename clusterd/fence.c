/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/fence.c: a fence agent as a child process (see fence.h). Its
 * parameters are written to a pipe before the loop sees anything (a few
 * hundred bytes fit a pipe buffer); its stdout and stderr share one pipe read
 * on the loop; EOF plus waitpid ends a run, the timeout timer kills the
 * process group (the agent is its leader) and EOF follows. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clusterd/fence.h"

extern char **environ;

struct fence_run {
	struct ev_loop *loop;
	pid_t pid;
	int fd;
	struct ev_io *io;
	struct ev_timer *timer;
	bool timed_out;
	char out[FENCE_OUTPUT_MAX];
	size_t len;
	fence_done_fn done;
	void *userdata;
};

static bool key_ok(const char *k)
{
	if (!k || !*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || *k == '_'))
			return false;
	return true;
}

/* keep the last FENCE_OUTPUT_MAX-1 bytes */
static void keep_tail(struct fence_run *r, const char *buf, size_t n)
{
	size_t cap = sizeof(r->out) - 1, take = n < cap ? n : cap;

	buf += n - take; /* of a long piece only its end matters */
	if (r->len + take > cap) {
		size_t drop = r->len + take - cap;
		memmove(r->out, r->out + drop, r->len - drop);
		r->len -= drop;
	}
	memcpy(r->out + r->len, buf, take);
	r->len += take;
}

static void on_output(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	struct fence_run *r = ud;
	char buf[512];
	ssize_t n;
	int status = 0, result, code;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			keep_tail(r, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break; /* EOF: every process of the group closed the pipe */
	}
	ev_io_del(r->io);
	r->io = NULL;
	ev_timer_del(r->timer);
	r->timer = NULL;
	close(r->fd);
	r->fd = -1;
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	r->pid = -1;
	r->out[r->len] = '\0';
	if (r->timed_out) {
		result = -ETIMEDOUT;
		code = 0;
	} else if (WIFSIGNALED(status)) {
		result = -EINTR;
		code = WTERMSIG(status);
	} else {
		code = WEXITSTATUS(status);
		result = code == 0 ? 0 : -EIO;
	}
	r->done(r->userdata, result, code, r->out, now); /* may free r */
}

static void on_timeout(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct fence_run *r = ud;

	r->timed_out = true;
	if (r->pid > 0)
		kill(-r->pid, SIGKILL); /* the agent and whatever it started */
}

int fence_run_start(struct ev_loop *loop, const char *agent, const struct fence_param *params, size_t n,
		    unsigned timeout_s, fence_done_fn done, void *userdata, struct fence_run **ret_run)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct fence_run *r;
	char *argv[] = {(char *)agent, NULL};
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err;
	FILE *f;

	if (!loop || !agent || (n && !params) || !done || !ret_run || timeout_s == 0)
		return -EINVAL;
	{
		size_t total = 0;
		for (size_t i = 0; i < n; i++) {
			if (!key_ok(params[i].key) || !params[i].value || strchr(params[i].value, '\n'))
				return -EINVAL;
			total += strlen(params[i].key) + strlen(params[i].value) + 2;
		}
		if (total > FENCE_PARAMS_MAX)
			return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct fence_run){.loop = loop, .pid = -1, .fd = -1, .done = done, .userdata = userdata};
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		err = errno;
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0); /* its own group: the timeout kills all of it */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	err = posix_spawn(&r->pid, agent, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (err) {
		r->pid = -1;
		goto fail;
	}
	/* the parameters, then EOF: agents read stdin to its end */
	f = fdopen(in[1], "w");
	if (f) {
		in[1] = -1;
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s=%s\n", params[i].key, params[i].value);
		fclose(f); /* a write error (agent exited early) shows in its status */
	}
	r->fd = out[0];
	out[0] = -1;
	(void)fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
	if ((err = -ev_io_add(loop, r->fd, EPOLLIN, on_output, r, &r->io)) != 0 ||
	    (err = -ev_timer_add(loop, ev_loop_now(loop) + (usec_t)timeout_s * USEC_PER_SEC, on_timeout, r,
				 &r->timer)) != 0)
		goto fail;
	*ret_run = r;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	fence_run_free(r);
	return -err;
}

void fence_run_free(struct fence_run *r)
{
	if (!r)
		return;
	ev_io_del(r->io);
	ev_timer_del(r->timer);
	if (r->fd >= 0)
		close(r->fd);
	if (r->pid > 0) {
		kill(-r->pid, SIGKILL);
		while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(r);
}
