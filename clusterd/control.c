/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/control.c: the control socket server (docs/PROTOCOL.md) — accepts
 * UNIX stream connections on the loop, splits requests on '\n', parses and
 * authorizes them and queues one reply line each. It never blocks and never
 * drops a reply; what a command does is left to the handlers it is given. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clusterd/control.h"
#include "common/log.h"

#define CTL_MAX_DEPTH      16                    /* JSON nesting of a request */
#define CTL_IN_MAX         (CTL_MAX_REQUEST + 1) /* a longest line and its '\n' */
#define CTL_IN_INITIAL     4096                  /* input buffer grows up to CTL_IN_MAX */
#define CTL_OUT_HIGH_WATER (256 * 1024)          /* stop handling requests above this */
#define CTL_ACCEPT_BURST   64                    /* accepts per loop iteration */
#define CTL_ACCEPT_PAUSE   (100 * USEC_PER_MSEC) /* after EMFILE and friends */
#define CTL_MSG_MAX        512                   /* human-readable error text */
#define CTL_NAME_SHOWN     64                    /* client strings quoted in messages */

struct ctl_conn {
	struct ctl_server *srv;
	struct ctl_conn *prev, *next;
	int fd;
	struct ev_io *io;
	struct ev_timer *idle;
	uint32_t events; /* what io currently waits for */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool in_read_group; /* supplementary membership, resolved at accept */
	bool in_admin_group;
	char *in; /* unprocessed input [0, in_len) */
	size_t in_len, in_cap;
	char *out; /* unsent output [out_off, out_len) */
	size_t out_off, out_len, out_cap;
	bool eof;     /* the peer shut down its sending side */
	bool closing; /* close once the output is flushed (E2BIG) */
	bool logged_malformed, logged_refused;
};

struct ctl_server {
	struct ev_loop *loop;
	int fd;
	struct ev_io *io;
	struct ev_timer *accept_pause;
	char *path;
	dev_t dev; /* of the socket file we bound: remove only that one */
	ino_t ino;
	gid_t read_gid, admin_gid;
	char read_name[64], admin_name[64];
	const struct ctl_command *commands;
	void *userdata;
	struct ctl_conn *conns;
	unsigned nconns;
	bool logged_limit;
};

/* ---- pure parts: authorization and request parsing ---- */

bool ctl_authorized(enum ctl_class cls, uid_t uid, gid_t gid, gid_t read_gid, gid_t admin_gid)
{
	if (uid == 0)
		return true;
	switch (cls) {
	case CTL_READ:
		return gid == read_gid || gid == admin_gid;
	case CTL_CHANGE:
		return gid == admin_gid;
	}
	return false;
}

static void set_msg(char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A printable copy of untrusted text for messages and logs: control and
 * non-ASCII bytes become '?', long text is cut with "...". */
static const char *shown(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; i < inlen && n + 4 < outlen; i++)
		out[n++] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	if (i < inlen && n + 3 < outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

int ctl_parse_request(const char *line, size_t len, struct json_object **ret_req, const char **ret_code,
		      char *msg, size_t msglen)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL, *cmd;
	enum json_tokener_error jerr;
	const char *code = CTL_EINVAL;
	size_t i, end;
	int r = -1;

	if (!ret_req) {
		set_msg(msg, msglen, "internal error: no result pointer");
		goto out;
	}
	if (!line)
		len = 0;
	if (len > CTL_MAX_REQUEST) {
		code = CTL_E2BIG;
		set_msg(msg, msglen, "request longer than %d bytes", CTL_MAX_REQUEST);
		goto out;
	}
	for (i = 0; i < len && is_json_space(line[i]); i++)
		;
	if (i == len) {
		set_msg(msg, msglen, "empty request");
		goto out;
	}
	if (memchr(line, '\0', len)) {
		set_msg(msg, msglen, "malformed JSON: NUL byte in request");
		goto out;
	}
	tok = json_tokener_new_ex(CTL_MAX_DEPTH);
	if (!tok) {
		code = CTL_EIO;
		set_msg(msg, msglen, "out of memory");
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!obj && jerr == json_tokener_continue) {
		/* a bare number or literal waits for more input: a NUL ends it */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (!obj && jerr == json_tokener_success) { /* JSON null is a NULL object */
		set_msg(msg, msglen, "request is not a JSON object (got null)");
		goto out;
	}
	if (!obj) {
		if (jerr == json_tokener_error_depth)
			set_msg(msg, msglen, "malformed JSON: nested deeper than %d levels", CTL_MAX_DEPTH);
		else
			set_msg(msg, msglen, "malformed JSON: %s at byte %zu", json_tokener_error_desc(jerr),
				end < len ? end : len);
		goto out;
	}
	for (i = end; i < len; i++) {
		if (!is_json_space(line[i])) {
			set_msg(msg, msglen, "malformed JSON: trailing data at byte %zu", i);
			goto out;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		set_msg(msg, msglen, "request is not a JSON object (got %s)",
			json_type_to_name(json_object_get_type(obj)));
		goto out;
	}
	if (!json_object_object_get_ex(obj, "cmd", &cmd)) {
		set_msg(msg, msglen, "missing \"cmd\"");
		goto out;
	}
	if (!json_object_is_type(cmd, json_type_string)) {
		set_msg(msg, msglen, "\"cmd\" is not a string (got %s)",
			json_type_to_name(json_object_get_type(cmd)));
		goto out;
	}
	if (json_object_get_string_len(cmd) == 0) {
		set_msg(msg, msglen, "\"cmd\" is empty");
		goto out;
	}
	if (strlen(json_object_get_string(cmd)) != (size_t)json_object_get_string_len(cmd)) {
		set_msg(msg, msglen, "\"cmd\" contains a NUL character");
		goto out;
	}
	*ret_req = obj;
	obj = NULL;
	code = NULL;
	r = 0;
out:
	json_object_put(obj);
	if (tok) /* json-c 0.16 does not take NULL here */
		json_tokener_free(tok);
	if (r < 0 && ret_code)
		*ret_code = code;
	return r;
}

/* ---- connections ---- */

static void conn_close(struct ctl_conn *c)
{
	struct ctl_server *s = c->srv;

	ev_io_del(c->io);
	ev_timer_del(c->idle);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	if (s->nconns < CTL_MAX_CONNECTIONS)
		s->logged_limit = false;
	free(c->in);
	free(c->out);
	free(c);
}

static int conn_queue(struct ctl_conn *c, const char *text, size_t len)
{
	size_t pending = c->out_len - c->out_off;

	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_off = 0;
		c->out_len = pending;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + len + 1)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return 0;
}

/* Queue reply as one line; takes the reference to reply. */
static int conn_reply(struct ctl_conn *c, struct json_object *reply)
{
	const char *text;
	size_t len;
	int r;

	if (!reply)
		return -ENOMEM;
	text = json_object_to_json_string_length(
		reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	r = text ? conn_queue(c, text, len) : -ENOMEM;
	json_object_put(reply);
	return r;
}

static struct json_object *error_reply(const char *code, const char *msg)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (json_object_object_add(o, "ok", json_object_new_boolean(0)) < 0 ||
	    json_object_object_add(o, "code", json_object_new_string(code)) < 0 ||
	    json_object_object_add(o, "error", json_object_new_string(msg)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int conn_reply_error(struct ctl_conn *c, const char *code, const char *msg)
{
	return conn_reply(c, error_reply(code, msg));
}

static bool conn_authorized(const struct ctl_conn *c, enum ctl_class cls)
{
	const struct ctl_server *s = c->srv;

	return ctl_authorized(cls, c->uid, c->gid, s->read_gid, s->admin_gid) ||
	       (c->in_read_group && ctl_authorized(cls, c->uid, s->read_gid, s->read_gid, s->admin_gid)) ||
	       (c->in_admin_group && ctl_authorized(cls, c->uid, s->admin_gid, s->read_gid, s->admin_gid));
}

static void known_commands(const struct ctl_command *cmds, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct ctl_command *k = cmds; k->name && n < len; k++) {
		int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", k->name);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* Parse, authorize and dispatch one request line; queue its reply. */
static int conn_handle_line(struct ctl_conn *c, const char *line, size_t len)
{
	struct ctl_server *s = c->srv;
	const struct ctl_command *k;
	struct json_object *req = NULL, *data = NULL, *reply;
	const char *code = NULL, *name;
	char msg[CTL_MSG_MAX], known[CTL_MSG_MAX / 2], nbuf[CTL_NAME_SHOWN + 4];
	struct ctl_request rq;
	int r;

	if (ctl_parse_request(line, len, &req, &code, msg, sizeof(msg)) < 0) {
		if (!c->logged_malformed) {
			log_info("control: malformed request from uid %u pid %d: %s", (unsigned)c->uid,
				 (int)c->pid, msg);
			c->logged_malformed = true;
		}
		return conn_reply_error(c, code, msg);
	}
	name = json_object_get_string(json_object_object_get(req, "cmd"));
	for (k = s->commands; k->name; k++)
		if (strcmp(k->name, name) == 0)
			break;
	if (!k->name) {
		known_commands(s->commands, known, sizeof(known));
		snprintf(msg, sizeof(msg), "unknown command '%s' (known: %s)",
			 shown(name, strlen(name), nbuf, sizeof(nbuf)), known);
		if (!c->logged_malformed) {
			log_info("control: uid %u pid %d: %s", (unsigned)c->uid, (int)c->pid, msg);
			c->logged_malformed = true;
		}
		r = conn_reply_error(c, CTL_ENOSYS, msg);
		goto out;
	}
	if (!conn_authorized(c, k->cls)) {
		if (k->cls == CTL_READ && s->read_gid != s->admin_gid)
			snprintf(msg, sizeof(msg), "permission denied: '%s' needs root or group %s or %s",
				 k->name, s->read_name, s->admin_name);
		else
			snprintf(msg, sizeof(msg), "permission denied: '%s' needs root or group %s", k->name,
				 k->cls == CTL_READ ? s->read_name : s->admin_name);
		if (!c->logged_refused) {
			log_warn("control: refused '%s' to uid %u gid %u pid %d", k->name, (unsigned)c->uid,
				 (unsigned)c->gid, (int)c->pid);
			c->logged_refused = true;
		}
		r = conn_reply_error(c, CTL_EPERM, msg);
		goto out;
	}

	rq = (struct ctl_request){.cmd = k->name, .args = req, .uid = c->uid, .gid = c->gid, .pid = c->pid};
	msg[0] = '\0';
	code = NULL;
	r = k->fn(s->userdata, &rq, &data, &code, msg, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	if (r < 0) {
		json_object_put(data); /* a handler should not set it on failure */
		if (!code) {
			log_err("control: handler of '%s' failed without an error code", k->name);
			code = CTL_EIO;
		}
		r = conn_reply_error(c, code, msg[0] ? msg : code);
		goto out;
	}
	if (!data) {
		log_err("control: handler of '%s' returned no data", k->name);
		r = conn_reply_error(c, CTL_EIO, "internal error: no data");
		goto out;
	}
	reply = json_object_new_object();
	if (!reply || json_object_object_add(reply, "ok", json_object_new_boolean(1)) < 0) {
		json_object_put(reply);
		json_object_put(data);
		r = -ENOMEM;
		goto out;
	}
	json_object_object_add(reply, "data", data); /* takes data, cannot fail for a new key */
	r = conn_reply(c, reply);
out:
	json_object_put(req);
	return r;
}

/* Handle the complete lines in the input buffer while the output is below
 * the high-water mark. An unterminated line longer than a request may be
 * gets E2BIG and the connection is closed after the reply. */
static int conn_process(struct ctl_conn *c)
{
	size_t off = 0;
	int r = 0;

	while (!c->closing && c->out_len - c->out_off < CTL_OUT_HIGH_WATER) {
		char *nl = c->in_len > off ? memchr(c->in + off, '\n', c->in_len - off) : NULL;
		if (!nl) {
			if (c->in_len - off > CTL_MAX_REQUEST) {
				char msg[CTL_MSG_MAX];

				log_info("control: request over %d bytes from uid %u pid %d, closing",
					 CTL_MAX_REQUEST, (unsigned)c->uid, (int)c->pid);
				snprintf(msg, sizeof(msg), "request line longer than %d bytes",
					 CTL_MAX_REQUEST);
				r = conn_reply_error(c, CTL_E2BIG, msg);
				c->closing = true;
				off = c->in_len;
			}
			break;
		}
		r = conn_handle_line(c, c->in + off, (size_t)(nl - (c->in + off)));
		off = (size_t)(nl - c->in) + 1;
		if (r < 0)
			break;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return r;
}

/* Read what is there (once). 1: progress, 0: nothing, -errno: close. */
static int conn_read(struct ctl_conn *c)
{
	ssize_t n;

	if (c->in_len == c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap * 2 : CTL_IN_INITIAL;
		char *p;

		if (c->in_cap >= CTL_IN_MAX)
			return 0;
		if (cap > CTL_IN_MAX)
			cap = CTL_IN_MAX;
		p = realloc(c->in, cap);
		if (!p)
			return -ENOMEM;
		c->in = p;
		c->in_cap = cap;
	}
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -errno;
	if (n == 0) {
		c->eof = true;
		return 1;
	}
	c->in_len += (size_t)n;
	return 1;
}

/* Send what the socket takes. 1: progress, 0: nothing, -errno: close. */
static int conn_flush(struct ctl_conn *c)
{
	int progress = 0;

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		c->out_off += (size_t)n;
		progress = 1;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return progress;
}

/* Handle input, flush output, then close or wait for what comes next. */
static void conn_run(struct ctl_conn *c, usec_t now)
{
	bool pending_out, want_read;
	uint32_t events;
	int r;

	r = conn_process(c);
	if (r < 0) {
		log_warn("control: connection of uid %u pid %d: %s, closing", (unsigned)c->uid, (int)c->pid,
			 strerror(-r));
		conn_close(c);
		return;
	}
	r = conn_flush(c);
	if (r < 0) {
		log_debug("control: uid %u pid %d went away: %s", (unsigned)c->uid, (int)c->pid,
			  strerror(-r));
		conn_close(c);
		return;
	}
	if (r > 0)
		ev_timer_set(c->idle, now + CTL_IDLE_TIMEOUT_USEC);

	pending_out = c->out_off < c->out_len;
	if (!pending_out && (c->closing || (c->eof && (!c->in_len || !memchr(c->in, '\n', c->in_len))))) {
		if (c->eof && c->in_len)
			log_debug("control: uid %u pid %d closed mid-request", (unsigned)c->uid, (int)c->pid);
		conn_close(c);
		return;
	}
	want_read = !c->eof && !c->closing && c->out_len - c->out_off < CTL_OUT_HIGH_WATER &&
		    c->in_len < CTL_IN_MAX;
	events = (want_read ? EPOLLIN : 0) | (pending_out ? EPOLLOUT : 0);
	if (events != c->events) {
		r = ev_io_modify(c->io, events);
		if (r < 0) {
			log_warn("control: cannot watch connection: %s, closing", strerror(-r));
			conn_close(c);
			return;
		}
		c->events = events;
	}
}

static void conn_on_io(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	struct ctl_conn *c = ud;
	int r;

	if (events & EPOLLERR) {
		conn_close(c);
		return;
	}
	if ((events & (EPOLLIN | EPOLLHUP)) && !c->eof && !c->closing) {
		r = conn_read(c);
		if (r < 0) {
			log_debug("control: uid %u pid %d: read: %s", (unsigned)c->uid, (int)c->pid,
				  strerror(-r));
			conn_close(c);
			return;
		}
		if (r > 0)
			ev_timer_set(c->idle, now + CTL_IDLE_TIMEOUT_USEC);
	}
	conn_run(c, now);
}

static void conn_on_idle(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct ctl_conn *c = ud;

	log_debug("control: closing connection of uid %u pid %d, idle for %llu s", (unsigned)c->uid,
		  (int)c->pid, (unsigned long long)(CTL_IDLE_TIMEOUT_USEC / USEC_PER_SEC));
	conn_close(c);
}

/* Supplementary groups of the peer. First the kernel's view of the process
 * (/proc/PID/status, only if its effective uid is still the peer's: the pid
 * may have been reused), else the user database. */
static int groups_from_proc(pid_t pid, uid_t uid, gid_t read_gid, gid_t admin_gid, bool *ret_read,
			    bool *ret_admin)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	bool uid_ok = false, have_groups = false, in_read = false, in_admin = false;
	FILE *f;
	int r = -ENOENT;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		unsigned long ruid, euid;

		if (sscanf(line, "Uid: %lu %lu", &ruid, &euid) == 2) {
			uid_ok = euid == (unsigned long)uid;
		} else if (strncmp(line, "Groups:", 7) == 0) {
			char *p = line + 7, *e;

			have_groups = true;
			for (;;) {
				unsigned long g;

				errno = 0;
				g = strtoul(p, &e, 10);
				if (e == p || errno)
					break;
				in_read |= g == (unsigned long)read_gid;
				in_admin |= g == (unsigned long)admin_gid;
				p = e;
			}
		}
	}
	if (uid_ok && have_groups) {
		*ret_read = in_read;
		*ret_admin = in_admin;
		r = 0;
	}
	free(line);
	fclose(f);
	return r;
}

static int groups_from_db(uid_t uid, gid_t gid, gid_t read_gid, gid_t admin_gid, bool *ret_read,
			  bool *ret_admin)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL;
	gid_t *groups = NULL;
	size_t buflen = 4096;
	int ngroups = 64, r;
	bool in_read = false, in_admin = false;

	for (;;) {
		char *p = realloc(buf, buflen);
		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		buf = p;
		r = getpwuid_r(uid, &pw, buf, buflen, &res);
		if (r != ERANGE || buflen >= 1024 * 1024)
			break;
		buflen *= 2;
	}
	if (r != 0 || !res) {
		r = r ? -r : -ENOENT;
		goto out;
	}
	for (;;) {
		gid_t *p = realloc(groups, (size_t)ngroups * sizeof(*groups));
		int n = ngroups;

		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		groups = p;
		if (getgrouplist(pw.pw_name, gid, groups, &n) >= 0) {
			ngroups = n;
			break;
		}
		if (n <= ngroups || n > 65536) {
			r = -EIO;
			goto out;
		}
		ngroups = n;
	}
	for (int i = 0; i < ngroups; i++) {
		in_read |= groups[i] == read_gid;
		in_admin |= groups[i] == admin_gid;
	}
	*ret_read = in_read;
	*ret_admin = in_admin;
	r = 0;
out:
	free(groups);
	free(buf);
	return r;
}

static int conn_new(struct ctl_server *s, int fd, usec_t now)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_conn *c;
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->srv = s;
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	if (c->uid != 0 && c->gid != s->admin_gid) {
		r = groups_from_proc(c->pid, c->uid, s->read_gid, s->admin_gid, &c->in_read_group,
				     &c->in_admin_group);
		if (r < 0)
			r = groups_from_db(c->uid, c->gid, s->read_gid, s->admin_gid, &c->in_read_group,
					   &c->in_admin_group);
		if (r < 0)
			log_debug("control: no supplementary groups of uid %u pid %d: %s", (unsigned)c->uid,
				  (int)c->pid, strerror(-r));
	}
	r = ev_timer_add(s->loop, now + CTL_IDLE_TIMEOUT_USEC, conn_on_idle, c, &c->idle);
	if (r < 0)
		goto fail;
	c->events = EPOLLIN;
	r = ev_io_add(s->loop, fd, EPOLLIN, conn_on_io, c, &c->io);
	if (r < 0)
		goto fail;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	return 0;
fail:
	ev_timer_del(c->idle);
	free(c);
	return r;
}

/* ---- the listening socket ---- */

static void server_reject(struct ctl_server *s, int fd)
{
	char msg[128], line[256];
	struct json_object *o;
	const char *text;
	int n;

	if (!s->logged_limit) {
		log_warn("control: %d connections open, refusing more", CTL_MAX_CONNECTIONS);
		s->logged_limit = true;
	}
	snprintf(msg, sizeof(msg), "too many connections (at most %d), try again later", CTL_MAX_CONNECTIONS);
	o = error_reply(CTL_EIO, msg);
	text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	n = text ? snprintf(line, sizeof(line), "%s\n", text) : -1;
	/* best effort: a fresh socket's buffer is empty, a short line fits */
	if (n > 0 && (size_t)n < sizeof(line) && send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("control: cannot tell a refused client why: %s", strerror(errno));
	json_object_put(o);
	close(fd);
}

static void server_on_accept(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
			     void *ud)
{
	struct ctl_server *s = ud;

	for (int i = 0; i < CTL_ACCEPT_BURST; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), r;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_warn("control: accept: %s, pausing for %llu ms", strerror(errno),
				 (unsigned long long)(CTL_ACCEPT_PAUSE / USEC_PER_MSEC));
			if (ev_io_modify(s->io, 0) == 0)
				ev_timer_set(s->accept_pause, now + CTL_ACCEPT_PAUSE);
			return;
		}
		if (s->nconns >= CTL_MAX_CONNECTIONS) {
			server_reject(s, cfd);
			continue;
		}
		r = conn_new(s, cfd, now);
		if (r < 0) {
			log_warn("control: cannot set up a connection: %s, closing it", strerror(-r));
			close(cfd);
		}
	}
}

static void server_on_accept_pause(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct ctl_server *s = ud;
	int r = ev_io_modify(s->io, EPOLLIN);

	if (r < 0) {
		log_warn("control: cannot resume accepting: %s, retrying", strerror(-r));
		ev_timer_set(t, now + CTL_ACCEPT_PAUSE);
	}
}

/* mkdir -p for the socket's directory; directories we create get 0755. */
static int make_parent_dirs(const char *path)
{
	char *dir = strdup(path), *slash;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		goto out;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			if (chmod(dir, 0755) < 0) {
				r = -errno;
				goto out;
			}
		} else if (errno != EEXIST) {
			r = -errno;
			goto out;
		}
		if (last)
			break;
		*p = '/';
	}
out:
	free(dir);
	return r;
}

/* 0: nothing at path (any stale socket removed); -EADDRINUSE: a server
 * answers there; -EEXIST: something that is not a socket. */
static int remove_stale_socket(const struct sockaddr_un *sa, socklen_t salen)
{
	struct stat st;
	int fd, r;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, salen) == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		r = -EADDRINUSE; /* EAGAIN: its backlog is full, still alive */
	} else if (errno == ECONNREFUSED) {
		r = unlink(sa->sun_path) < 0 && errno != ENOENT ? -errno : 0;
		if (r == 0)
			log_info("control: removed stale socket %s", sa->sun_path);
	} else {
		r = errno == ENOENT ? 0 : -errno;
	}
	close(fd);
	return r;
}

static void group_name(gid_t gid, char *buf, size_t len)
{
	struct group gr, *res = NULL;
	char tmp[4096];

	if (getgrgid_r(gid, &gr, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, len, "%s", res->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned)gid);
}

int ctl_server_new(struct ev_loop *loop, const char *path, gid_t read_gid, gid_t admin_gid,
		   const struct ctl_command *commands, void *userdata, struct ctl_server **ret_server)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t salen;
	struct ctl_server *s;
	struct stat st;
	bool bound = false;
	int r;

	if (!loop || !path || path[0] != '/' || !commands || !ret_server)
		return -EINVAL;
	for (const struct ctl_command *k = commands; k->name; k++)
		if (!k->fn || (k->cls != CTL_READ && k->cls != CTL_CHANGE))
			return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->fd = -1;
	s->read_gid = read_gid;
	s->admin_gid = admin_gid;
	s->commands = commands;
	s->userdata = userdata;
	group_name(read_gid, s->read_name, sizeof(s->read_name));
	group_name(admin_gid, s->admin_name, sizeof(s->admin_name));
	s->path = strdup(path);
	if (!s->path) {
		r = -ENOMEM;
		goto fail;
	}
	r = make_parent_dirs(path);
	if (r < 0)
		goto fail;
	r = remove_stale_socket(&sa, salen);
	if (r < 0)
		goto fail;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (bind(s->fd, (struct sockaddr *)&sa, salen) < 0) {
		r = -errno;
		goto fail;
	}
	bound = true;
	if (lstat(path, &st) < 0) {
		r = -errno;
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	/* Credentials are checked per request anyway; the mode keeps strangers
	 * from even connecting. Unprivileged (tests): keep our uid. */
	if (chown(path, geteuid() == 0 ? 0 : (uid_t)-1, read_gid) < 0 || chmod(path, 0660) < 0 ||
	    listen(s->fd, SOMAXCONN) < 0) {
		r = -errno;
		goto fail;
	}
	r = ev_timer_add(loop, USEC_INFINITY, server_on_accept_pause, s, &s->accept_pause);
	if (r < 0)
		goto fail;
	r = ev_io_add(loop, s->fd, EPOLLIN, server_on_accept, s, &s->io);
	if (r < 0)
		goto fail;
	*ret_server = s;
	return 0;
fail:
	if (bound)
		unlink(path);
	ev_timer_del(s->accept_pause);
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
	return r;
}

void ctl_server_free(struct ctl_server *s)
{
	struct stat st;

	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	ev_io_del(s->io);
	ev_timer_del(s->accept_pause);
	close(s->fd);
	/* remove the file only if it is still ours (not a successor's) */
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	free(s);
}
