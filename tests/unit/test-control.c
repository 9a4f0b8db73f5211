/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-control.c: the control socket — request parsing and the
 * authorization rule as tables, then the real server on a real loop with a
 * socket in a temporary directory, driven by connected clients. Every wait
 * is "run the loop until the reply is there or a deadline passed"; never a
 * sleep. Credential tests fork a client that becomes nobody (needs root). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clusterd/control.h"
#include "common/log.h"

#define DEADLINE_USEC (5 * USEC_PER_SEC) /* real time, for every wait */
#define STEP_USEC     (20 * USEC_PER_MSEC)
#define NOBODY        65534
#define BIG_BLOB      (64 * 1024)

/* ---- ctl_parse_request ---- */

struct parse_case {
	const char *name;
	const char *in;
	size_t len;       /* 0: strlen(in) */
	const char *code; /* NULL: valid */
	const char *msg;  /* substring of the message */
};

static const struct parse_case parse_cases[] = {
	{"valid", "{\"cmd\":\"status\"}", 0, NULL, NULL},
	{"valid with args", "{\"cmd\":\"drain\",\"node\":\"n2\",\"wait\":true}", 0, NULL, NULL},
	{"surrounding whitespace", " \t{ \"cmd\" : \"nodes\" } \r", 0, NULL, NULL},
	{"nested args", "{\"cmd\":\"x\",\"a\":{\"b\":[1,{\"c\":[]}]}}", 0, NULL, NULL},
	{"empty", "", 0, CTL_EINVAL, "empty request"},
	{"whitespace", "  \t \r ", 0, CTL_EINVAL, "empty request"},
	{"not JSON", "status please", 0, CTL_EINVAL, "malformed JSON"},
	{"unterminated", "{\"cmd\":\"status\"", 0, CTL_EINVAL, "malformed JSON"},
	{"single quotes", "{'cmd':'status'}", 0, CTL_EINVAL, "malformed JSON"},
	{"trailing comma", "{\"cmd\":\"status\",}", 0, CTL_EINVAL, "malformed JSON"},
	{"array", "[{\"cmd\":\"status\"}]", 0, CTL_EINVAL, "not a JSON object (got array)"},
	{"number", "42", 0, CTL_EINVAL, "not a JSON object (got int)"},
	{"string", "\"status\"", 0, CTL_EINVAL, "not a JSON object (got string)"},
	{"null", "null", 0, CTL_EINVAL, "not a JSON object"},
	{"missing cmd", "{}", 0, CTL_EINVAL, "missing \"cmd\""},
	{"other key", "{\"command\":\"status\"}", 0, CTL_EINVAL, "missing \"cmd\""},
	{"cmd number", "{\"cmd\":1}", 0, CTL_EINVAL, "\"cmd\" is not a string (got int)"},
	{"cmd null", "{\"cmd\":null}", 0, CTL_EINVAL, "\"cmd\" is not a string"},
	{"cmd array", "{\"cmd\":[\"status\"]}", 0, CTL_EINVAL, "\"cmd\" is not a string (got array)"},
	{"cmd empty", "{\"cmd\":\"\"}", 0, CTL_EINVAL, "\"cmd\" is empty"},
	{"cmd with NUL", "{\"cmd\":\"status\\u0000x\"}", 0, CTL_EINVAL, "NUL"},
	{"trailing garbage", "{\"cmd\":\"status\"} x", 0, CTL_EINVAL, "trailing data"},
	{"two objects", "{\"cmd\":\"a\"}{\"cmd\":\"b\"}", 0, CTL_EINVAL, "trailing data"},
	{"raw NUL byte", "{\"cmd\":\"status\"}\0", 17, CTL_EINVAL, "NUL byte"},
	{"invalid UTF-8", "{\"cmd\":\"st\xff\xfe\"}", 0, CTL_EINVAL, "malformed JSON"},
};

static void test_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *pc = &parse_cases[i];
		struct json_object *req = (struct json_object *)&req; /* must stay untouched on failure */
		const char *code = NULL;
		char msg[256] = "";
		size_t len = pc->len ? pc->len : strlen(pc->in);
		int r = ctl_parse_request(pc->in, len, &req, &code, msg, sizeof(msg));

		print_message("parse: %s -> %d %s %s\n", pc->name, r, code ? code : "-", msg);
		if (!pc->code) {
			assert_int_equal(r, 0);
			assert_true(json_object_is_type(req, json_type_object));
			json_object_put(req);
			continue;
		}
		assert_int_equal(r, -1);
		assert_ptr_equal(req, (struct json_object *)&req);
		assert_non_null(code);
		assert_string_equal(code, pc->code);
		assert_non_null(strstr(msg, pc->msg));
	}
}

/* "{\"cmd\":\"x\",\"p\":\"" + padding + "\"}" of exactly len bytes. */
static char *padded_request(size_t len)
{
	static const char head[] = "{\"cmd\":\"read\",\"p\":\"", tail[] = "\"}";
	char *s = malloc(len + 2);

	assert_non_null(s);
	assert_true(len >= sizeof(head) + sizeof(tail));
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(s + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	s[len] = '\0';
	return s;
}

static void test_parse_limits(void **state)
{
	struct json_object *req = NULL;
	const char *code = NULL;
	char msg[256], *s;
	char deep[64];
	int n = 0;

	/* exactly the limit is fine, one more byte is E2BIG */
	s = padded_request(CTL_MAX_REQUEST);
	assert_int_equal(ctl_parse_request(s, CTL_MAX_REQUEST, &req, &code, msg, sizeof(msg)), 0);
	json_object_put(req);
	free(s);
	s = padded_request(CTL_MAX_REQUEST + 1);
	assert_int_equal(ctl_parse_request(s, CTL_MAX_REQUEST + 1, &req, &code, msg, sizeof(msg)), -1);
	assert_string_equal(code, CTL_E2BIG);
	free(s);

	/* nesting: 10 levels parse, 40 do not */
	n = snprintf(deep, sizeof(deep), "{\"cmd\":\"x\",\"a\":%.*s%.*s}", 9, "[[[[[[[[[[", 9, "]]]]]]]]]]");
	assert_true(n > 0 && (size_t)n < sizeof(deep));
	assert_int_equal(ctl_parse_request(deep, strlen(deep), &req, &code, msg, sizeof(msg)), 0);
	json_object_put(req);
	s = malloc(200);
	assert_non_null(s);
	n = snprintf(s, 200, "{\"cmd\":\"x\",\"a\":");
	for (int i = 0; i < 40; i++)
		s[n++] = '[';
	for (int i = 0; i < 40; i++)
		s[n++] = ']';
	s[n++] = '}';
	assert_int_equal(ctl_parse_request(s, (size_t)n, &req, &code, msg, sizeof(msg)), -1);
	assert_string_equal(code, CTL_EINVAL);
	assert_non_null(strstr(msg, "nested"));
	free(s);

	/* NULL line of length 0, no message buffer, tiny message buffer */
	assert_int_equal(ctl_parse_request(NULL, 0, &req, &code, NULL, 0), -1);
	assert_string_equal(code, CTL_EINVAL);
	assert_int_equal(ctl_parse_request("[]", 2, &req, &code, msg, 4), -1);
	assert_int_equal(strlen(msg), 3);
}

/* Deterministic mutations of valid requests: the parser must be total. */
static void test_parse_total(void **state)
{
	static const char *seeds[] = {"{\"cmd\":\"status\"}",
				      "{\"cmd\":\"drain\",\"node\":\"n2\",\"x\":[1,2.5e3]}",
				      "{\"a\":{\"b\":\"\\u00e9\\n\"},\"cmd\":\"q\"}"};
	uint32_t rnd = 12345;
	char buf[128];

	for (int iter = 0; iter < 20000; iter++) {
		const char *seed = seeds[iter % 3];
		size_t len = strlen(seed);
		struct json_object *req = NULL;
		const char *code = NULL;
		char msg[128];
		int r;

		memcpy(buf, seed, len);
		for (int k = 0; k < 1 + iter % 4; k++) {
			rnd = rnd * 1103515245u + 12345u;
			switch ((rnd >> 8) % 3) {
			case 0: /* flip a byte */
				buf[(rnd >> 12) % len] = (char)(rnd >> 20);
				break;
			case 1: /* cut */
				len = 1 + (rnd >> 12) % len;
				break;
			default: /* duplicate a tail */
				if (len * 2 < sizeof(buf)) {
					memcpy(buf + len, buf + (rnd >> 12) % len, len - (rnd >> 12) % len);
					len += len - (rnd >> 12) % len;
				}
			}
		}
		r = ctl_parse_request(buf, len, &req, &code, msg, sizeof(msg));
		if (r == 0) {
			assert_true(json_object_is_type(req, json_type_object));
			assert_true(
				json_object_is_type(json_object_object_get(req, "cmd"), json_type_string));
			json_object_put(req);
		} else {
			assert_int_equal(r, -1);
			assert_non_null(code);
			assert_true(strcmp(code, CTL_EINVAL) == 0 || strcmp(code, CTL_E2BIG) == 0);
			assert_true(strlen(msg) < sizeof(msg));
		}
	}
}

/* ---- ctl_authorized ---- */

static void test_authorized_table(void **state)
{
	enum { RD = 100, AD = 200, OTHER = 300 };
	static const struct {
		enum ctl_class cls;
		uid_t uid;
		gid_t gid;
		gid_t read_gid, admin_gid;
		bool ok;
	} t[] = {
		{CTL_READ, 0, 0, RD, AD, true},
		{CTL_CHANGE, 0, OTHER, RD, AD, true},
		{CTL_READ, 1000, RD, RD, AD, true},
		{CTL_CHANGE, 1000, RD, RD, AD, false},
		{CTL_READ, 1000, AD, RD, AD, true},
		{CTL_CHANGE, 1000, AD, RD, AD, true},
		{CTL_READ, 1000, OTHER, RD, AD, false},
		{CTL_CHANGE, 1000, OTHER, RD, AD, false},
		/* one group for both */
		{CTL_READ, 1000, RD, RD, RD, true},
		{CTL_CHANGE, 1000, RD, RD, RD, true},
		/* default config: group root for both */
		{CTL_READ, 1000, 0, 0, 0, true},
		{CTL_READ, 1000, 1000, 0, 0, false},
		{CTL_CHANGE, NOBODY, NOBODY, RD, AD, false},
		{(enum ctl_class)7, 1000, AD, RD, AD, false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		print_message("authorized[%zu]\n", i);
		assert_int_equal(ctl_authorized(t[i].cls, t[i].uid, t[i].gid, t[i].read_gid, t[i].admin_gid),
				 t[i].ok);
	}
}

/* ---- the server on a real loop ---- */

static usec_t fake_now;
static usec_t fake_clock(void)
{
	return fake_now;
}

static int h_read(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		  const char **ret_code, char *msg, size_t msglen)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "cmd", json_object_new_string(req->cmd));
	json_object_object_add(d, "uid", json_object_new_int64(req->uid));
	json_object_object_add(d, "n", json_object_get(json_object_object_get(req->args, "n")));
	(*(int *)ud)++;
	*ret_data = d;
	return 0;
}

static int h_change(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		    const char **ret_code, char *msg, size_t msglen)
{
	*ret_data = json_object_new_object();
	json_object_object_add(*ret_data, "changed", json_object_new_boolean(1));
	return 0;
}

static int h_fail(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		  const char **ret_code, char *msg, size_t msglen)
{
	*ret_code = CTL_ENOTQUORATE;
	snprintf(msg, msglen, "not quorate: 1 of 3 votes");
	return -1;
}

static int h_big(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		 const char **ret_code, char *msg, size_t msglen)
{
	char *blob = malloc(BIG_BLOB + 1);

	memset(blob, 'b', BIG_BLOB);
	blob[BIG_BLOB] = '\0';
	*ret_data = json_object_new_object();
	json_object_object_add(*ret_data, "blob", json_object_new_string(blob));
	free(blob);
	return 0;
}

static int h_buggy(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		   const char **ret_code, char *msg, size_t msglen)
{
	return 0; /* success without data: the server must not crash */
}

static const struct ctl_command commands[] = {
	{"read", CTL_READ, h_read}, {"change", CTL_CHANGE, h_change}, {"fail", CTL_READ, h_fail},
	{"big", CTL_READ, h_big},   {"buggy", CTL_READ, h_buggy},     {NULL, CTL_READ, NULL},
};

struct fx {
	char dir[64];
	char path[128];
	struct ev_loop *loop;
	struct ctl_server *srv;
	gid_t read_gid, admin_gid;
	int handled; /* h_read calls */
};

struct client {
	int fd;
	char buf[4 * BIG_BLOB];
	size_t len;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-control-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(chmod(f->dir, 0755), 0); /* nobody must reach the socket */
	snprintf(f->path, sizeof(f->path), "%s/run/ctl.sock", f->dir);
	if (geteuid() == 0) {
		f->read_gid = 4242;
		f->admin_gid = 4343;
	} else {
		f->read_gid = getegid();
		f->admin_gid = getegid() + 1;
	}
	fake_now = 1000 * USEC_PER_SEC;
	assert_int_equal(ev_loop_new(fake_clock, &f->loop), 0);
	assert_int_equal(
		ctl_server_new(f->loop, f->path, f->read_gid, f->admin_gid, commands, &f->handled, &f->srv),
		0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char sub[160];

	ctl_server_free(f->srv);
	ev_loop_free(f->loop);
	unlink(f->path);
	snprintf(sub, sizeof(sub), "%s/run", f->dir);
	rmdir(sub);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static struct client *client_new(struct fx *f)
{
	struct client *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->fd = connect_to(f->path);
	assert_true(c->fd >= 0);
	assert_int_equal(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
	return c;
}

static void client_free(struct client *c)
{
	if (c) {
		close(c->fd);
		free(c);
	}
}

static bool past(usec_t deadline)
{
	return time_now_usec() > deadline;
}

/* Send everything, running the loop while the socket is full. */
static void client_send(struct fx *f, struct client *c, const char *data, size_t len)
{
	usec_t deadline = time_now_usec() + DEADLINE_USEC;
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EPIPE));
		if (errno == EPIPE) /* the server closed on us (E2BIG): the rest is moot */
			return;
		assert_false(past(deadline));
		assert_true(ev_loop_run_once(f->loop, STEP_USEC) >= 0);
	}
}

static void client_say(struct fx *f, struct client *c, const char *text)
{
	client_send(f, c, text, strlen(text));
}

/* The next reply line (malloc'd, without '\n'), or NULL at end of stream.
 * Runs the loop until it is there; fails the test at the deadline. */
static char *client_line(struct fx *f, struct client *c)
{
	usec_t deadline = time_now_usec() + DEADLINE_USEC;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - c->buf);
			char *line = strndup(c->buf, l);

			assert_non_null(line);
			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			return line;
		}
		assert_true(c->len < sizeof(c->buf));
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0 || errno == ECONNRESET) {
			assert_int_equal(c->len, 0); /* no partial line at the end */
			return NULL;
		}
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		assert_false(past(deadline));
		assert_true(ev_loop_run_once(f->loop, STEP_USEC) >= 0);
	}
}

/* Expect a reply: ok (code NULL) or failed with code; returns the parsed reply. */
static struct json_object *expect_reply(struct fx *f, struct client *c, const char *code)
{
	char *line = client_line(f, c);
	struct json_object *r, *ok;

	assert_non_null(line);
	r = json_tokener_parse(line);
	if (!r)
		fail_msg("not JSON: %.200s", line);
	free(line);
	ok = json_object_object_get(r, "ok");
	assert_true(json_object_is_type(ok, json_type_boolean));
	if (!code) {
		assert_true(json_object_get_boolean(ok));
		assert_true(json_object_is_type(json_object_object_get(r, "data"), json_type_object));
	} else {
		assert_false(json_object_get_boolean(ok));
		assert_string_equal(json_object_get_string(json_object_object_get(r, "code")), code);
		assert_true(json_object_is_type(json_object_object_get(r, "error"), json_type_string));
	}
	return r;
}

static void expect_ok(struct fx *f, struct client *c)
{
	json_object_put(expect_reply(f, c, NULL));
}

/* Expect failure with code and an error message containing text. */
static void expect_error(struct fx *f, struct client *c, const char *code, const char *text)
{
	struct json_object *r = expect_reply(f, c, code);
	const char *e = json_object_get_string(json_object_object_get(r, "error"));

	if (!strstr(e, text))
		fail_msg("error \"%s\" lacks \"%s\"", e, text);
	json_object_put(r);
}

static void expect_eof(struct fx *f, struct client *c)
{
	char *line = client_line(f, c);

	if (line)
		fail_msg("expected end of stream, got %.200s", line);
}

/* Run the loop until an iteration does nothing: every ready fd handled. */
static void run_until_quiet(struct fx *f)
{
	usec_t deadline = time_now_usec() + DEADLINE_USEC;

	while (ev_loop_run_once(f->loop, 0) > 0)
		assert_false(past(deadline));
}

static void test_read_and_change_as_root(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);
	struct json_object *r;

	client_say(f, c, "{\"cmd\":\"read\"}\n");
	r = expect_reply(f, c, NULL);
	assert_string_equal(
		json_object_get_string(json_object_object_get(json_object_object_get(r, "data"), "cmd")),
		"read");
	assert_int_equal(
		json_object_get_int64(json_object_object_get(json_object_object_get(r, "data"), "uid")),
		geteuid());
	json_object_put(r);
	client_say(f, c, "{\"cmd\":\"change\"}\n");
	if (geteuid() == 0)
		expect_ok(f, c);
	else
		expect_error(f, c, CTL_EPERM, "permission denied");
	assert_int_equal(f->handled, 1);
	client_free(c);
}

static void test_pipelined_in_one_write(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);
	struct json_object *r;

	client_say(f, c, "{\"cmd\":\"read\",\"n\":1}\n{\"cmd\":\"nope\"}\n{\"cmd\":\"read\",\"n\":3}\r\n");
	for (int i = 1; i <= 3; i++) {
		if (i == 2) {
			expect_error(f, c, CTL_ENOSYS, "nope");
			continue;
		}
		r = expect_reply(f, c, NULL);
		assert_int_equal(
			json_object_get_int(json_object_object_get(json_object_object_get(r, "data"), "n")),
			i);
		json_object_put(r);
	}
	client_free(c);
}

static void test_request_split_across_writes(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);
	char b;

	client_say(f, c, "{\"cmd\":");
	run_until_quiet(f);
	client_say(f, c, "\"re");
	run_until_quiet(f);
	assert_int_equal(recv(c->fd, &b, 1, 0), -1); /* nothing answered yet */
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(f->handled, 0);
	client_say(f, c, "ad\"}\n");
	expect_ok(f, c);
	assert_int_equal(f->handled, 1);
	client_free(c);
}

static void test_longest_line_accepted(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);
	char *s = padded_request(CTL_MAX_REQUEST);

	s[CTL_MAX_REQUEST] = '\n';
	client_send(f, c, s, CTL_MAX_REQUEST + 1);
	expect_ok(f, c);
	client_say(f, c, "{\"cmd\":\"read\"}\n");
	expect_ok(f, c);
	free(s);
	client_free(c);
}

static void test_overlong_line_closes(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);
	size_t len = CTL_MAX_REQUEST + 5000;
	char *s = malloc(len);

	memset(s, ' ', len);
	client_say(f, c, "{\"cmd\":\"read\"}\n"); /* answered before the long line */
	client_send(f, c, s, len);
	expect_ok(f, c);
	expect_error(f, c, CTL_E2BIG, "longer than 65536");
	expect_eof(f, c);
	free(s);
	client_free(c);
}

static void test_unknown_command(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);

	client_say(f, c, "{\"cmd\":\"frobnicate\"}\n");
	expect_error(f, c, CTL_ENOSYS,
		     "unknown command 'frobnicate' (known: read, change, fail, big, buggy)");
	client_say(f, c, "{\"cmd\":\"\\u001b[2J\"}\n"); /* control bytes are not echoed */
	expect_error(f, c, CTL_ENOSYS, "'?[2J'");
	client_free(c);
}

static void test_malformed_keeps_connection(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);

	client_say(f, c, "this is not json\n");
	expect_error(f, c, CTL_EINVAL, "malformed JSON");
	client_say(f, c, "[\"read\"]\n\n{\"cmd\":5}\n");
	expect_error(f, c, CTL_EINVAL, "not a JSON object");
	expect_error(f, c, CTL_EINVAL, "empty request");
	expect_error(f, c, CTL_EINVAL, "not a string");
	client_say(f, c, "{\"cmd\":\"read\"}\n");
	expect_ok(f, c);
	client_free(c);
}

static void test_handler_errors(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);

	client_say(f, c, "{\"cmd\":\"fail\"}\n{\"cmd\":\"buggy\"}\n{\"cmd\":\"read\"}\n");
	expect_error(f, c, CTL_ENOTQUORATE, "not quorate: 1 of 3 votes");
	expect_error(f, c, CTL_EIO, "internal error");
	expect_ok(f, c);
	client_free(c);
}

/* Replies larger than the socket buffer, many of them, nobody reading:
 * the server must queue (EPOLLOUT), not block, not drop. */
static void test_replies_queue_when_socket_full(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);
	const int n = 40;
	char *req = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&req, &len);

	for (int i = 0; i < n; i++)
		fprintf(m, "{\"cmd\":\"big\"}\n{\"cmd\":\"read\",\"n\":%d}\n", i);
	fclose(m);
	client_send(f, c, req, len);
	run_until_quiet(f); /* the server fills the socket, then must wait */
	for (int i = 0; i < n; i++) {
		struct json_object *r = expect_reply(f, c, NULL), *d = json_object_object_get(r, "data");

		assert_int_equal(json_object_get_string_len(json_object_object_get(d, "blob")), BIG_BLOB);
		json_object_put(r);
		r = expect_reply(f, c, NULL);
		d = json_object_object_get(r, "data");
		assert_int_equal(json_object_get_int(json_object_object_get(d, "n")), i);
		json_object_put(r);
	}
	assert_int_equal(f->handled, n);
	free(req);
	client_free(c);
}

/* After a client goes away the server must stop watching it: the loop
 * falls quiet (a leftover EOF fd would be reported forever). */
static void test_disconnect_mid_request_and_mid_reply(void **state)
{
	struct fx *f = *state;
	struct client *a = client_new(f), *b = client_new(f), *c;

	client_say(f, a, "{\"cmd\":\"re");
	run_until_quiet(f);
	client_free(a);
	run_until_quiet(f);

	for (int i = 0; i < 20; i++)
		client_say(f, b, "{\"cmd\":\"big\"}\n");
	run_until_quiet(f);
	client_free(b); /* with replies queued */
	run_until_quiet(f);
	assert_int_equal(ev_loop_run_once(f->loop, 0), 0);

	c = client_new(f);
	client_say(f, c, "{\"cmd\":\"read\"}\n");
	expect_ok(f, c);
	client_free(c);
}

/* The client sends its request and shuts down its side: still answered. */
static void test_half_close_still_answered(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);

	client_say(f, c, "{\"cmd\":\"read\"}\n{\"cmd\":\"read\"}\n{\"cmd\":\"re");
	assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
	expect_ok(f, c);
	expect_ok(f, c);
	expect_eof(f, c);
	client_free(c);
}

static void test_connection_limit(void **state)
{
	struct fx *f = *state;
	struct client *c[CTL_MAX_CONNECTIONS], *extra;

	for (int i = 0; i < CTL_MAX_CONNECTIONS; i++) {
		c[i] = client_new(f);
		client_say(f, c[i], "{\"cmd\":\"read\"}\n");
		expect_ok(f, c[i]);
	}
	extra = client_new(f);
	expect_error(f, extra, CTL_EIO, "too many connections");
	expect_eof(f, extra);
	client_free(extra);

	client_free(c[0]);
	run_until_quiet(f);
	c[0] = client_new(f);
	client_say(f, c[0], "{\"cmd\":\"read\"}\n");
	expect_ok(f, c[0]);
	for (int i = 0; i < CTL_MAX_CONNECTIONS; i++)
		client_free(c[i]);
}

static void test_idle_timeout(void **state)
{
	struct fx *f = *state;
	struct client *c = client_new(f);
	char b;

	client_say(f, c, "{\"cmd\":\"read\"}\n");
	expect_ok(f, c);
	fake_now += CTL_IDLE_TIMEOUT_USEC - 1;
	run_until_quiet(f);
	assert_int_equal(recv(c->fd, &b, 1, 0), -1); /* still open */
	assert_int_equal(errno, EAGAIN);
	client_say(f, c, "{\"cmd\":\"read\"}\n"); /* activity re-arms */
	expect_ok(f, c);
	fake_now += CTL_IDLE_TIMEOUT_USEC - 1;
	run_until_quiet(f);
	assert_int_equal(recv(c->fd, &b, 1, 0), -1);
	fake_now += 1;
	expect_eof(f, c);
	client_free(c);
}

static void test_socket_file(void **state)
{
	struct fx *f = *state;
	struct stat st;
	char sub[160];

	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, f->read_gid);
	assert_int_equal(st.st_uid, geteuid());
	snprintf(sub, sizeof(sub), "%s/run", f->dir); /* created for us */
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	ctl_server_free(f->srv);
	f->srv = NULL;
	assert_int_equal(lstat(f->path, &st), -1); /* removed */
	assert_int_equal(errno, ENOENT);
}

static void test_live_socket_in_use(void **state)
{
	struct fx *f = *state;
	struct ctl_server *s2 = NULL;
	struct client *c;

	assert_int_equal(ctl_server_new(f->loop, f->path, f->read_gid, f->admin_gid, commands, NULL, &s2),
			 -EADDRINUSE);
	assert_null(s2);
	run_until_quiet(f); /* the probe connection comes and goes */
	c = client_new(f);
	client_say(f, c, "{\"cmd\":\"read\"}\n");
	expect_ok(f, c);
	client_free(c);
}

static void test_stale_socket_replaced(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct client *c;
	int fd;

	ctl_server_free(f->srv);
	f->srv = NULL;
	/* a crashed daemon leaves its socket file behind */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(strlen(f->path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(connect_to(f->path), -ECONNREFUSED);
	assert_int_equal(
		ctl_server_new(f->loop, f->path, f->read_gid, f->admin_gid, commands, &f->handled, &f->srv),
		0);
	c = client_new(f);
	client_say(f, c, "{\"cmd\":\"read\"}\n");
	expect_ok(f, c);
	client_free(c);
}

static void test_not_a_socket_left_alone(void **state)
{
	struct fx *f = *state;
	struct ctl_server *s2 = NULL;
	char file[160];
	struct stat st;
	int fd;

	snprintf(file, sizeof(file), "%s/file", f->dir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ctl_server_new(f->loop, file, f->read_gid, f->admin_gid, commands, NULL, &s2),
			 -EEXIST);
	assert_int_equal(stat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(file);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct ctl_server *s2 = NULL;
	static const struct ctl_command no_fn[] = {{"x", CTL_READ, NULL}, {NULL, CTL_READ, NULL}};
	char longpath[200];

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(ctl_server_new(NULL, f->path, 0, 0, commands, NULL, &s2), -EINVAL);
	assert_int_equal(ctl_server_new(f->loop, "relative.sock", 0, 0, commands, NULL, &s2), -EINVAL);
	assert_int_equal(ctl_server_new(f->loop, f->path, 0, 0, NULL, NULL, &s2), -EINVAL);
	assert_int_equal(ctl_server_new(f->loop, f->path, 0, 0, no_fn, NULL, &s2), -EINVAL);
	assert_int_equal(ctl_server_new(f->loop, f->path, 0, 0, commands, NULL, NULL), -EINVAL);
	assert_int_equal(ctl_server_new(f->loop, longpath, 0, 0, commands, NULL, &s2), -ENAMETOOLONG);
	assert_null(s2);
	ctl_server_free(NULL);
}

/* ---- credentials: a forked client that is nobody ---- */

/* In the child: become nobody with these supplementary groups, connect, send
 * each request and write each reply line (or "connect: ERRNO") to out. */
static _Noreturn void child_client(const char *path, const gid_t *groups, size_t ngroups,
				   const char *const *reqs, int out)
{
	char buf[4096];
	size_t len = 0;
	int fd;

	if (setgroups(ngroups, groups) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		_exit(10);
	fd = connect_to(path);
	if (fd < 0) {
		dprintf(out, "connect: %d\n", -fd);
		_exit(0);
	}
	for (; *reqs; reqs++) {
		char *nl = NULL;

		if (write(fd, *reqs, strlen(*reqs)) != (ssize_t)strlen(*reqs))
			_exit(11);
		while (!nl) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			ssize_t n;

			if (poll(&p, 1, 5000) != 1)
				_exit(12); /* the parent's loop did not answer in time */
			n = read(fd, buf + len, sizeof(buf) - len);
			if (n <= 0)
				_exit(13);
			len += (size_t)n;
			nl = memchr(buf, '\n', len);
		}
		if (write(out, buf, (size_t)(nl - buf) + 1) < 0)
			_exit(14);
		len -= (size_t)(nl - buf) + 1;
		memmove(buf, nl + 1, len);
	}
	_exit(0);
}

/* Run child_client, driving the loop until it exits; returns its output. */
static char *as_nobody(struct fx *f, const gid_t *groups, size_t ngroups, const char *const *reqs)
{
	usec_t deadline = time_now_usec() + DEADLINE_USEC;
	static char out[8192];
	size_t len = 0;
	int p[2], status;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child_client(f->path, groups, ngroups, reqs, p[1]);
	}
	close(p[1]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (past(deadline)) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("child client did not finish");
		}
		assert_true(ev_loop_run_once(f->loop, STEP_USEC) >= 0);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (;;) {
		ssize_t n = read(p[0], out + len, sizeof(out) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	out[len] = '\0';
	return out;
}

static void skip_unless_root(void)
{
	if (geteuid() != 0) {
		print_message("needs root to become nobody, skipped\n");
		skip();
	}
}

static void test_nobody_in_read_group(void **state)
{
	struct fx *f = *state;
	static const char *const reqs[] = {"{\"cmd\":\"read\"}\n", "{\"cmd\":\"change\"}\n",
					   "{\"cmd\":\"change\"}\n", "{\"cmd\":\"read\"}\n", NULL};
	char *out, expect[512];

	skip_unless_root();
	out = as_nobody(f, &f->read_gid, 1, reqs);
	print_message("%s", out);
	snprintf(expect, sizeof(expect),
		 "{\"ok\":true,\"data\":{\"cmd\":\"read\",\"uid\":%d,\"n\":null}}\n"
		 "{\"ok\":false,\"code\":\"EPERM\",\"error\":\"permission denied: 'change' needs root or "
		 "group 4343\"}\n"
		 "{\"ok\":false,\"code\":\"EPERM\",\"error\":\"permission denied: 'change' needs root or "
		 "group 4343\"}\n"
		 "{\"ok\":true,\"data\":{\"cmd\":\"read\",\"uid\":%d,\"n\":null}}\n",
		 NOBODY, NOBODY);
	assert_string_equal(out, expect);
}

static void test_nobody_in_admin_group(void **state)
{
	struct fx *f = *state;
	static const char *const reqs[] = {"{\"cmd\":\"change\"}\n", "{\"cmd\":\"read\"}\n", NULL};
	gid_t groups[2] = {f->read_gid, f->admin_gid};
	char *out;

	skip_unless_root();
	out = as_nobody(f, groups, 2, reqs);
	print_message("%s", out);
	assert_non_null(strstr(out, "{\"ok\":true,\"data\":{\"changed\":true}}\n{\"ok\":true,"));
}

static void test_nobody_without_group_cannot_connect(void **state)
{
	struct fx *f = *state;
	static const char *const reqs[] = {"{\"cmd\":\"read\"}\n", NULL};
	char *out, expect[64];

	skip_unless_root();
	out = as_nobody(f, NULL, 0, reqs);
	snprintf(expect, sizeof(expect), "connect: %d\n", EACCES); /* the 0660 mode at work */
	assert_string_equal(out, expect);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_total),
		cmocka_unit_test(test_authorized_table),
		cmocka_unit_test_setup_teardown(test_read_and_change_as_root, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_in_one_write, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_request_split_across_writes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_longest_line_accepted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line_closes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_keeps_connection, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_handler_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_replies_queue_when_socket_full, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_mid_request_and_mid_reply, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_half_close_still_answered, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_socket_file, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_live_socket_in_use, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_not_a_socket_left_alone, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_nobody_in_read_group, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_nobody_in_admin_group, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_nobody_without_group_cannot_connect, fx_setup,
						fx_teardown),
	};

	log_open("test-control", true, LOG_LVL_ERR);
	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
