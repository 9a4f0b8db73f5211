/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_link.c: runs clusterd-virt and follows its output (see
 * virt_link.h). The helper's stdin is a pipe we hold: when the daemon exits
 * the helper sees EOF and exits too. Lines over VLINK_MAX_LINE or that do not
 * parse are logged and the helper restarted: its output is not trusted. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clusterd/virt_link.h"
#include "common/log.h"

extern char **environ;

struct vlink {
	struct ev_loop *loop;
	char *helper, *uri;
	vlink_inventory_fn fn;
	void *userdata;
	pid_t pid;
	int in_fd, out_fd; /* our ends: helper's stdin (write), stdout (read) */
	struct ev_io *io;
	struct ev_timer *timer;
	usec_t backoff;
	char *buf;
	size_t len;
	struct clm_vm *vms;
	bool said_down;
};

int vlink_parse(const char *line, struct clm_vm *vms, size_t cap, size_t *ret_n, bool *ret_up,
		struct vlink_host *ret_host, char *why, size_t whylen)
{
	struct json_object *o = json_tokener_parse(line), *lv, *list, *w, *h, *hf;
	struct vlink_host host = {0};
	size_t n = 0;
	int r = -EBADMSG;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "libvirt", &lv) || !json_object_is_type(lv, json_type_string) ||
	    !json_object_object_get_ex(o, "vms", &list) || !json_object_is_type(list, json_type_array) ||
	    json_object_array_length(list) > cap)
		goto out;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *v = json_object_array_get_idx(list, i), *f;
		struct clm_vm m;
		const char *s;

		memset(&m, 0, sizeof(m));
		if (!json_object_object_get_ex(v, "name", &f) || !(s = json_object_get_string(f)) || !s[0] ||
		    strlen(s) >= sizeof(m.name))
			goto out;
		memcpy(m.name, s, strlen(s));
		if (!json_object_object_get_ex(v, "uuid", &f) || !(s = json_object_get_string(f)) ||
		    strlen(s) != sizeof(m.uuid) - 1)
			goto out;
		memcpy(m.uuid, s, strlen(s));
		if (!json_object_object_get_ex(v, "state", &f) || json_object_get_int(f) < 0 ||
		    json_object_get_int(f) > CLM_VM_CRASHED)
			goto out;
		m.state = (uint8_t)json_object_get_int(f);
		m.mem_kib =
			json_object_object_get_ex(v, "mem_kib", &f) ? (uint64_t)json_object_get_int64(f) : 0;
		m.vcpus = json_object_object_get_ex(v, "vcpus", &f) ? (uint32_t)json_object_get_int64(f) : 0;
		m.persistent = json_object_object_get_ex(v, "persistent", &f) && json_object_get_boolean(f);
		if (!json_object_object_get_ex(v, "prepared", &f) || !json_object_get_boolean(f))
			vms[n++] = m;
		else if (host.n_prepared < VLINK_MAX_PREPARED)
			host.prepared[host.n_prepared++] = m;
		else
			goto out; /* not one may go unseen: it would never be cleaned up */
	}
	if (json_object_object_get_ex(o, "host", &h)) {
		if (!json_object_is_type(h, json_type_object))
			goto out;
		if (json_object_object_get_ex(h, "free_kib", &hf) && json_object_get_int64(hf) > 0)
			host.free_kib = (uint64_t)json_object_get_int64(hf);
		if (json_object_object_get_ex(h, "cpus", &hf) && json_object_get_int64(hf) > 0 &&
		    json_object_get_int64(hf) < 1 << 20)
			host.cpus = (uint32_t)json_object_get_int64(hf);
	}
	*ret_host = host;
	*ret_n = n;
	*ret_up = strcmp(json_object_get_string(lv), "connected") == 0;
	snprintf(why, whylen, "%s",
		 json_object_object_get_ex(o, "why", &w) && json_object_get_string(w)
			 ? json_object_get_string(w)
			 : "");
	r = 0;
out:
	json_object_put(o);
	return r;
}

static void stop_helper(struct vlink *l)
{
	ev_io_del(l->io);
	l->io = NULL;
	if (l->out_fd >= 0)
		close(l->out_fd);
	if (l->in_fd >= 0)
		close(l->in_fd);
	l->in_fd = l->out_fd = -1;
	if (l->pid > 0) {
		kill(l->pid, SIGTERM);
		while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	l->pid = -1;
	l->len = 0;
}

/* The helper is gone or misbehaved: libvirt is unknown until it is back. */
static void helper_lost(struct vlink *l, const char *why, usec_t now)
{
	stop_helper(l);
	if (!l->said_down)
		log_warn("libvirt: helper %s stopped (%s), restarting", l->helper, why);
	l->said_down = true;
	l->fn(l->userdata, NULL, 0, false, &(struct vlink_host){0}, why, now);
	ev_timer_set(l->timer, now + l->backoff);
	l->backoff = l->backoff * 2 > VLINK_BACKOFF_MAX_USEC ? VLINK_BACKOFF_MAX_USEC : l->backoff * 2;
}

static void on_output(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	struct vlink *l = ud;
	char *nl;

	for (;;) {
		ssize_t n = read(fd, l->buf + l->len, VLINK_MAX_LINE - l->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			helper_lost(l, n == 0 ? "it exited" : strerror(errno), now);
			return;
		}
		l->len += (size_t)n;
		while ((nl = memchr(l->buf, '\n', l->len))) {
			size_t count;
			bool up;
			struct vlink_host host;
			char why[256];

			*nl = '\0';
			if (vlink_parse(l->buf, l->vms, CLM_MAX_INV_ENTRIES, &count, &up, &host, why,
					sizeof(why)) < 0) {
				helper_lost(l, "it sent a line that does not parse", now);
				return;
			}
			l->backoff = VLINK_BACKOFF_MIN_USEC;
			l->said_down = false;
			l->fn(l->userdata, l->vms, count, up, &host, why, now);
			memmove(l->buf, nl + 1, l->len - (size_t)(nl + 1 - l->buf));
			l->len -= (size_t)(nl + 1 - l->buf);
		}
		if (l->len == VLINK_MAX_LINE) {
			helper_lost(l, "it sent an over-long line", now);
			return;
		}
	}
}

static void start_helper(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct vlink *l = ud;
	posix_spawn_file_actions_t fa;
	char *argv[] = {l->helper, l->uri, NULL};
	int in[2], out[2], r;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0) {
		helper_lost(l, strerror(errno), now);
		return;
	}
	/* the child's ends: blocking stdout, stdin it reads */
	(void)fcntl(out[1], F_SETFL, fcntl(out[1], F_GETFL) & ~O_NONBLOCK);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	r = posix_spawn(&l->pid, l->helper, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	l->in_fd = in[1];
	l->out_fd = out[0];
	if (r != 0) {
		l->pid = -1;
		helper_lost(l, strerror(r), now);
		return;
	}
	if (ev_io_add(loop, l->out_fd, EPOLLIN, on_output, l, &l->io) < 0)
		helper_lost(l, "cannot watch its output", now);
}

int vlink_new(struct ev_loop *loop, const char *helper, const char *uri, vlink_inventory_fn fn,
	      void *userdata, struct vlink **ret_link)
{
	struct vlink *l;
	int r;

	if (!loop || !helper || !fn || !ret_link)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = (struct vlink){.loop = loop,
			    .fn = fn,
			    .userdata = userdata,
			    .pid = -1,
			    .in_fd = -1,
			    .out_fd = -1,
			    .backoff = VLINK_BACKOFF_MIN_USEC};
	l->helper = strdup(helper);
	l->uri = uri ? strdup(uri) : NULL;
	l->buf = malloc(VLINK_MAX_LINE);
	l->vms = calloc(CLM_MAX_INV_ENTRIES, sizeof(*l->vms));
	if (!l->helper || (uri && !l->uri) || !l->buf || !l->vms) {
		r = -ENOMEM;
		goto fail;
	}
	r = ev_timer_add(loop, ev_loop_now(loop), start_helper, l, &l->timer);
	if (r < 0)
		goto fail;
	*ret_link = l;
	return 0;
fail:
	vlink_free(l);
	return r;
}

void vlink_free(struct vlink *l)
{
	if (!l)
		return;
	stop_helper(l);
	ev_timer_del(l->timer);
	free(l->helper);
	free(l->uri);
	free(l->buf);
	free(l->vms);
	free(l);
}
