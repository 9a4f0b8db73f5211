/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/tools/cs-probe.c: prints what clusterd's corosync client sees, one
 * JSON object per line on stdout (connected, disconnected, membership,
 * quorum, message), for the sandbox tests. Logs go to stderr. A test tool:
 * it holds no logic of its own beyond the options. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "autoconf.h"
#include "clusterd/corosync.h"
#include "common/log.h"
#include "common/loop.h"

struct probe {
	struct ev_loop *loop;
	struct cs_client *cs;
	struct ev_timer *send_timer;
	const char *text; /* -s: multicast once, after the first membership */
	bool sent;
	bool have_membership;
};

static void emit(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

static struct json_object *event_new(const char *name)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string(name));
	return o;
}

static struct json_object *ids_json(const uint32_t *ids, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int64(ids[i]));
	return a;
}

/* send -s TEXT; on flow control try again a little later */
static void try_send(struct probe *p, usec_t now)
{
	int r;

	if (!p->text || p->sent || !p->have_membership)
		return;
	r = cs_client_send(p->cs, p->text, strlen(p->text));
	if (r == -EAGAIN) {
		ev_timer_set(p->send_timer, now + 50 * USEC_PER_MSEC);
		return;
	}
	if (r < 0) {
		log_warn("cs-probe: send failed: %s; retrying when connected", strerror(-r));
		return;
	}
	p->sent = true;
}

static void on_send_timer(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	ev_timer_set(t, USEC_INFINITY);
	try_send(ud, now);
}

static void on_connected(void *ud, uint32_t local_id, usec_t now)
{
	struct json_object *o = event_new("connected");

	json_object_object_add(o, "local_id", json_object_new_int64(local_id));
	emit(o);
}

static void on_disconnected(void *ud, const char *why, usec_t now)
{
	struct probe *p = ud;
	struct json_object *o = event_new("disconnected");

	p->have_membership = false;
	json_object_object_add(o, "why", json_object_new_string(why));
	emit(o);
}

static void on_membership(void *ud, const uint32_t *members, size_t n, usec_t now)
{
	struct probe *p = ud;
	struct json_object *o = event_new("membership");

	json_object_object_add(o, "members", ids_json(members, n));
	emit(o);
	p->have_membership = true;
	try_send(p, now);
}

static void on_quorum(void *ud, const struct cs_quorum *q, usec_t now)
{
	static const struct {
		uint32_t flag;
		const char *name;
	} flags[] = {
		{CS_FLAG_TWO_NODE, "two_node"},
		{CS_FLAG_WAIT_FOR_ALL, "wait_for_all"},
		{CS_FLAG_LAST_MAN_STANDING, "last_man_standing"},
		{CS_FLAG_AUTO_TIE_BREAKER, "auto_tie_breaker"},
	};
	struct json_object *o = event_new("quorum"), *fl = json_object_new_array();
	char ring[40];

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (q->flags & flags[i].flag)
			json_object_array_add(fl, json_object_new_string(flags[i].name));
	snprintf(ring, sizeof(ring), "%" PRIx32 ".%" PRIx64, q->ring_rep, q->ring_seq);
	json_object_object_add(o, "quorate", json_object_new_boolean(q->quorate));
	json_object_object_add(o, "total_votes", json_object_new_int64(q->total_votes));
	json_object_object_add(o, "expected_votes", json_object_new_int64(q->expected_votes));
	json_object_object_add(o, "quorum", json_object_new_int64(q->quorum));
	json_object_object_add(o, "members", ids_json(q->members, q->n_members));
	json_object_object_add(o, "flags", fl);
	json_object_object_add(o, "ring_id", json_object_new_string(ring));
	emit(o);
}

static void on_message(void *ud, uint32_t from, const void *data, size_t len, usec_t now)
{
	struct json_object *o = event_new("message");

	json_object_object_add(o, "from", json_object_new_int64(from));
	json_object_object_add(o, "data", json_object_new_string_len(data, (int)len));
	emit(o);
}

static void on_deadline(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	ev_loop_quit(loop);
}

static void on_signal(struct ev_loop *loop, int signo, usec_t now, void *ud)
{
	ev_loop_quit(loop);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: cs-probe [-g GROUP] [-s TEXT] [-d SECONDS] [-v]\n"
		   "  -g GROUP    CPG group to join (default clusterd-probe)\n"
		   "  -s TEXT     multicast TEXT once connected and in the group\n"
		   "  -d SECONDS  exit after SECONDS (default: run until SIGTERM/SIGINT)\n"
		   "  -v          debug logging on stderr\n"
		   "Prints one JSON object per line on stdout for each callback.\n");
}

int main(int argc, char **argv)
{
	const struct cs_callbacks cb = {
		.connected = on_connected,
		.disconnected = on_disconnected,
		.membership = on_membership,
		.quorum = on_quorum,
		.message = on_message,
	};
	struct probe p = {0};
	const char *group = "clusterd-probe";
	double secs = 0;
	enum log_level lvl = LOG_LVL_INFO;
	sigset_t ss;
	char *end;
	int opt, r, rc = 1;

	while ((opt = getopt(argc, argv, "g:s:d:vh")) != -1) {
		switch (opt) {
		case 'g':
			group = optarg;
			break;
		case 's':
			p.text = optarg;
			break;
		case 'd':
			errno = 0;
			secs = strtod(optarg, &end);
			if (errno || *end || secs <= 0 || secs > 86400) {
				fprintf(stderr, "cs-probe: -d: not a number of seconds (0..86400]: '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'v':
			lvl = LOG_LVL_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_open("cs-probe", true, lvl);
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = ev_loop_new(NULL, &p.loop);
	if (r < 0) {
		fprintf(stderr, "cs-probe: event loop: %s\n", strerror(-r));
		return 1;
	}
	if ((r = ev_signal_add(p.loop, SIGTERM, on_signal, NULL)) < 0 ||
	    (r = ev_signal_add(p.loop, SIGINT, on_signal, NULL)) < 0 ||
	    (r = ev_timer_add(p.loop, USEC_INFINITY, on_send_timer, &p, &p.send_timer)) < 0 ||
	    (secs > 0 && (r = ev_timer_add(p.loop, ev_loop_now(p.loop) + (usec_t)(secs * USEC_PER_SEC),
					   on_deadline, NULL, NULL)) < 0)) {
		fprintf(stderr, "cs-probe: setup: %s\n", strerror(-r));
		goto out;
	}
	r = cs_client_new(p.loop, group, &cb, &p, &p.cs);
	if (r < 0) {
		fprintf(stderr, "cs-probe: cs_client_new(%s): %s\n", group, strerror(-r));
		goto out;
	}
	r = ev_loop_run(p.loop);
	if (r < 0) {
		fprintf(stderr, "cs-probe: event loop: %s\n", strerror(-r));
		goto out;
	}
	rc = 0;
out:
	cs_client_free(p.cs);
	ev_loop_free(p.loop);
	log_close();
	return rc;
}
