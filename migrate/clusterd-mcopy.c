/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/clusterd-mcopy.c: the copy engine on its own — `send` carries QEMU
 * connections (or a file) to a peer's `recv`, for benchmarks and debugging.
 * Parses options, runs one engine on one event loop, says what happened and
 * exits 0 (done), 1 (failed) or 2 (usage). No protocol logic here. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "migrate/mcopy.h"

struct run {
	struct ev_loop *loop;
	const char *mode;
	int rc; /* -1 while running */
	usec_t start, first_up;
	uint64_t bytes;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: clusterd-mcopy send -k KEYFILE -m ID -t HOST[:PORT]... (-u PATH | -i FILE|-)\n"
		   "                          [-s STREAMS] [-c CHANNELS] [-b MBIT] [options]\n"
		   "       clusterd-mcopy recv -k KEYFILE -m ID -l ADDR[:PORT]... (-u PATH | -o FILE|-)\n"
		   "                          [-c CHANNELS] [options]\n"
		   "options: --timeout SEC --setup-timeout SEC --sock-buf BYTES --backend auto|tcp|rdma\n"
		   "         --framed (send: frame a single stream too) --congestion NAME (tcp)\n"
		   "         --port-file FILE (recv: write the bound port) -v (debug)\n"
		   "See clusterd-mcopy(1).\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max || *s == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

/* HOST[:PORT] or [V6]:PORT; numeric or /etc/hosts names. */
static int parse_addr(const char *arg, bool passive, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256], *port = NULL, portbuf[8];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	int r;

	if (snprintf(host, sizeof(host), "%s", arg) >= (int)sizeof(host))
		return -EINVAL;
	if (host[0] == '[') {
		char *close = strchr(host, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		*close = '\0';
		if (close[1] == ':')
			port = close + 2;
		memmove(host, host + 1, strlen(host + 1) + 1); /* only the address part moves */
	} else {
		char *colon = strrchr(host, ':');

		if (colon && strchr(host, ':') == colon) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (!port || !*port) {
		snprintf(portbuf, sizeof(portbuf), "%u", MCOPY_DEFAULT_PORT);
		port = portbuf;
	}
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (r != 0)
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int load_key(const char *path, struct mcopy_key **ret_key)
{
	uint8_t buf[MCOPY_KEY_MAX + 1];
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && (n < MCOPY_KEY_MIN || n > MCOPY_KEY_MAX))
		r = -EMSGSIZE;
	if (r == 0)
		r = mcopy_key_new(buf, (size_t)n, ret_key);
	memset(buf, 0, sizeof(buf));
	return r;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void on_event(struct mcopy_engine *e, const struct mcopy_event *ev, void *userdata)
{
	struct run *run = userdata;
	char peer[96] = "";

	(void)e;
	if (ev->peer)
		snprintf(peer, sizeof(peer), " (peer %s)", ev->peer);
	switch (ev->type) {
	case MCOPY_EV_REFUSED:
		log_warn("%s: dropped a stream%s for migration %" PRIu64 " channel %u stream %u: %s: %s",
			 run->mode, peer, ev->migration_id, ev->channel, ev->stream, ev->what,
			 mcopy_strerror(ev->error));
		break;
	case MCOPY_EV_CHANNEL_UP:
		if (!run->first_up)
			run->first_up = time_now_usec();
		log_debug("%s: channel %u up", run->mode, ev->channel);
		break;
	case MCOPY_EV_CHANNEL_DONE:
		log_debug("%s: channel %u done, %" PRIu64 " bytes", run->mode, ev->channel, ev->bytes);
		break;
	case MCOPY_EV_FAILED:
		if (ev->peer_error)
			log_err("%s: failed: channel %u stream %u%s: %s: %s: %s", run->mode, ev->channel,
				ev->stream, peer, ev->what, mcopy_strerror(ev->error),
				strerror(ev->peer_error));
		else
			log_err("%s: failed: channel %u stream %u%s: %s: %s", run->mode, ev->channel,
				ev->stream, peer, ev->what, mcopy_strerror(ev->error));
		run->rc = 1;
		ev_loop_quit(run->loop);
		break;
	case MCOPY_EV_DONE:
		run->bytes = ev->bytes;
		run->rc = 0;
		ev_loop_quit(run->loop);
		break;
	}
}

static void on_signal(struct ev_loop *loop, int signo, usec_t now, void *userdata)
{
	struct run *run = userdata;

	(void)now;
	log_err("%s: interrupted by signal %d, stopping", run->mode, signo);
	run->rc = 1;
	ev_loop_quit(loop);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"migration", required_argument, NULL, 'm'},
		{"to", required_argument, NULL, 't'},
		{"listen", required_argument, NULL, 'l'},
		{"unix", required_argument, NULL, 'u'},
		{"input", required_argument, NULL, 'i'},
		{"output", required_argument, NULL, 'o'},
		{"streams", required_argument, NULL, 's'},
		{"channels", required_argument, NULL, 'c'},
		{"bandwidth", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 'T'},
		{"setup-timeout", required_argument, NULL, 'S'},
		{"sock-buf", required_argument, NULL, 'B'},
		{"backend", required_argument, NULL, 'K'},
		{"port-file", required_argument, NULL, 'P'},
		{"framed", no_argument, NULL, 'F'},
		{"congestion", required_argument, NULL, 'C'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct mcopy_params p;
	struct mcopy_key *key = NULL;
	struct mcopy_engine *e = NULL;
	struct run run = {.rc = -1};
	enum mcopy_backend want = MCOPY_BACKEND_AUTO, got;
	const char *key_path = NULL, *in = NULL, *out = NULL, *port_file = NULL;
	bool have_id = false, send_mode, verbose = false;
	char why[256];
	sigset_t mask;
	uint64_t v;
	double cpu0;
	int opt, r, rc = 2;

	if (argc < 2 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
		usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	send_mode = !strcmp(argv[1], "send");
	run.mode = argv[1];
	mcopy_params_init(&p, send_mode ? MCOPY_CLIENT : MCOPY_SERVER);
	optind = 2;
	while ((opt = getopt_long(argc, argv, "k:m:t:l:u:i:o:s:c:b:vh", opts, NULL)) != -1) {
		bool bad = false;

		switch (opt) {
		case 'k':
			key_path = optarg;
			break;
		case 'm':
			bad = parse_u64(optarg, 0, UINT64_MAX, &p.migration_id) < 0;
			have_id = !bad;
			break;
		case 't':
		case 'l':
			if ((opt == 't') != send_mode || p.n_links >= MCOPY_LINK_MAX) {
				fprintf(stderr, "clusterd-mcopy %s: -%c: %s\n", run.mode, opt,
					p.n_links >= MCOPY_LINK_MAX ? "too many links (allowed: 1..4)"
								    : "not an option of this mode");
				return 2;
			}
			bad = parse_addr(optarg, opt == 'l', &p.links[p.n_links], &p.link_lens[p.n_links]) <
			      0;
			p.n_links++;
			break;
		case 'u':
			p.unix_path = optarg;
			break;
		case 'i':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			bad = parse_u64(optarg, 1, MCOPY_STREAM_MAX, &v) < 0;
			p.streams = (unsigned)v;
			break;
		case 'c':
			bad = parse_u64(optarg, 1, MCOPY_CHANNEL_MAX, &v) < 0;
			p.channels = (unsigned)v;
			break;
		case 'b':
			bad = parse_u64(optarg, 0, 10000000, &v) < 0; /* Mbit/s */
			p.bandwidth = v * 1000000 / 8;
			break;
		case 'T':
		case 'S':
			bad = parse_u64(optarg, 1, 86400, &v) < 0;
			*(opt == 'T' ? &p.timeout : &p.setup_timeout) = v * USEC_PER_SEC;
			break;
		case 'B':
			bad = parse_u64(optarg, 0, 1 << 30, &v) < 0;
			p.sock_buf = (int)v;
			break;
		case 'K':
			if (!strcmp(optarg, "auto"))
				want = MCOPY_BACKEND_AUTO;
			else if (!strcmp(optarg, "tcp"))
				want = MCOPY_BACKEND_TCP;
			else if (!strcmp(optarg, "rdma"))
				want = MCOPY_BACKEND_RDMA;
			else
				bad = true;
			break;
		case 'P':
			port_file = optarg;
			break;
		case 'F':
			p.framed = true;
			break;
		case 'C':
			p.congestion = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "clusterd-mcopy %s: bad value for --%s: '%s'\n", run.mode,
				opt == 'm'   ? "migration"
				: opt == 't' ? "to"
				: opt == 'l' ? "listen"
					     : "option",
				optarg);
			return 2;
		}
	}
	if (optind != argc || !key_path || !have_id || p.n_links == 0 ||
	    (!!p.unix_path + !!in + !!out) != 1 || (send_mode ? out != NULL : in != NULL)) {
		fprintf(stderr,
			"clusterd-mcopy %s: need --key, --migration, at least one --%s, and exactly one of "
			"--unix or --%s\n",
			run.mode, send_mode ? "to" : "listen", send_mode ? "input" : "output");
		return 2;
	}
	if ((in || out) && p.channels != 1) {
		fprintf(stderr, "clusterd-mcopy %s: --%s carries exactly one channel\n", run.mode,
			in ? "input" : "output");
		return 2;
	}
	r = mcopy_congestion_check(p.congestion);
	if (r < 0) {
		fprintf(stderr, "clusterd-mcopy %s: --congestion %s: %s\n", run.mode, p.congestion,
			mcopy_congestion_strerror(r));
		return 2;
	}
	log_open("clusterd-mcopy", true, verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);

	r = load_key(key_path, &key);
	if (r < 0) {
		log_err("%s: cluster key %s: %s", run.mode, key_path,
			r == -EMSGSIZE ? "must hold 32 to 1024 bytes" : strerror(-r));
		goto out;
	}
	if (send_mode && want == MCOPY_BACKEND_AUTO && (p.streams > 1 || p.n_links > 1)) {
		/* rdma carries one connection per channel: striping is tcp's */
		want = MCOPY_BACKEND_TCP;
		log_info("send: --streams/several --to: striping is tcp only, not probing for RDMA");
	} else if (want == MCOPY_BACKEND_AUTO && p.unix_path) {
		/* QEMU on a unix socket has a return path; rdma does not carry one */
		want = MCOPY_BACKEND_TCP;
		log_info("%s: --unix: QEMU's return path needs tcp, not probing for RDMA", run.mode);
	}
	r = mcopy_backend_choose(want, (struct sockaddr *)&p.links[0], p.link_lens[0], &got, why,
				 sizeof(why));
	if (r < 0) {
		log_err("%s: backend %s unavailable: %s", run.mode, mcopy_backend_name(want), why);
		rc = 1;
		goto out;
	}
	if (got == MCOPY_BACKEND_RDMA && p.unix_path) {
		log_err("%s: backend rdma does not carry QEMU's return path, which --unix needs: use "
			"--input/--output or --backend tcp",
			run.mode);
		rc = 2;
		goto out;
	}
	if (send_mode && got == MCOPY_BACKEND_RDMA && (p.streams > 1 || p.n_links > 1)) {
		log_err("send: backend rdma carries one stream per channel on one link: drop --streams and "
			"the extra --to, or use --backend tcp");
		rc = 2;
		goto out;
	}
	if (send_mode) {
		p.backend = got;
		log_info("send: backend %s (%s)%s%s%s", mcopy_backend_name(got), why,
			 got == MCOPY_BACKEND_TCP
				 ? (p.streams == 1 && !p.framed ? ", unframed splice" : ", framed")
				 : "",
			 p.congestion ? ", congestion control " : "", p.congestion ? p.congestion : "");
	} else {
		/* the source decides per channel; recv only refuses rdma with --backend tcp */
		p.backend = want == MCOPY_BACKEND_TCP ? MCOPY_BACKEND_TCP : MCOPY_BACKEND_AUTO;
		log_info("recv: takes %s sources (%s)%s%s",
			 got == MCOPY_BACKEND_RDMA ? "tcp and rdma" : "tcp", why,
			 p.congestion ? ", congestion control " : "", p.congestion ? p.congestion : "");
	}

	if (in)
		p.io_fd = strcmp(in, "-") ? open(in, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	else if (out)
		p.io_fd = strcmp(out, "-") ? open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
					   : STDOUT_FILENO;
	if ((in || out) && p.io_fd < 0) {
		log_err("%s: %s: %s", run.mode, in ? in : out, strerror(errno));
		rc = 1;
		goto out;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	r = ev_loop_new(NULL, &run.loop);
	if (r == 0)
		r = ev_signal_add(run.loop, SIGINT, on_signal, &run);
	if (r == 0)
		r = ev_signal_add(run.loop, SIGTERM, on_signal, &run);
	if (r < 0) {
		log_err("%s: event loop: %s", run.mode, strerror(-r));
		rc = 1;
		goto out;
	}
	cpu0 = cpu_seconds();
	run.start = time_now_usec();
	p.key = key;
	r = mcopy_engine_new(run.loop, &p, on_event, &run, &e);
	if (r < 0) {
		log_err("%s: %s: %s", run.mode, send_mode ? "starting" : "listening", mcopy_strerror(r));
		rc = 1;
		goto out;
	}
	if (!send_mode) {
		FILE *f;

		log_info("recv: migration %" PRIu64 ": listening on port %d%s, %u channel(s)", p.migration_id,
			 mcopy_engine_port(e, 0), p.n_links > 1 ? " (first link)" : "", p.channels);
		if (port_file && (f = fopen(port_file, "w"))) {
			fprintf(f, "%d\n", mcopy_engine_port(e, 0));
			fclose(f);
		}
	} else if (p.unix_path) {
		log_info("send: migration %" PRIu64 ": waiting for %u QEMU connection(s) on %s",
			 p.migration_id, p.channels, p.unix_path);
	}
	while (run.rc < 0) {
		r = ev_loop_run(run.loop);
		if (r < 0) {
			log_err("%s: event loop: %s", run.mode, strerror(-r));
			run.rc = 1;
		}
	}
	rc = run.rc;
	if (rc == 0) {
		usec_t t0 = run.first_up ? run.first_up : run.start;
		double secs = (double)(time_now_usec() - t0) / 1e6, cpu = cpu_seconds() - cpu0;

		log_info("%s: done: %" PRIu64
			 " bytes in %.3f s (%.3f GB/s), cpu %.3f s (%.3f s/GB), %u channel(s)",
			 run.mode, run.bytes, secs, secs > 0 ? (double)run.bytes / secs / 1e9 : 0.0, cpu,
			 run.bytes ? cpu / ((double)run.bytes / 1e9) : 0.0, p.channels);
	}
out:
	mcopy_engine_free(e);
	ev_loop_free(run.loop);
	mcopy_key_free(key);
	if (p.io_fd > STDERR_FILENO)
		close(p.io_fd);
	return rc;
}
