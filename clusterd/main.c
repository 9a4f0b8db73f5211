/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/main.c: the daemon's entry point — options, config (with
 * --check-config), then one event loop until SIGTERM/SIGINT. Reads top to
 * bottom; all the work is in daemon.c and the libraries. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoconf.h"
#include "clusterd/config.h"
#include "clusterd/daemon.h"
#include "common/log.h"
#include "common/loop.h"
#include "migrate/mcopy.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: clusterd [-c FILE] [--foreground] [--verbose]\n"
		"       clusterd --check-config [-c FILE]\n"
		"\n"
		"  -c, --config FILE     configuration file (default %s)\n"
		"  -n, --check-config    validate the configuration and exit\n"
		"  -f, --foreground      stay in the foreground, log to stderr\n"
		"  -v, --verbose         log debug messages too\n"
		"  -V, --version         print the version and exit\n"
		"  -h, --help            print this help and exit\n",
		CFG_DEFAULT_PATH);
}

/* Print every config error; 0 when the file is valid. */
static int load_config(const char *path, struct cfg **ret_cfg)
{
	struct cfg_errors errs = {0};
	int r = cfg_load(path, ret_cfg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.v[i].msg);
	if (r < 0 && errs.n == 0)
		fprintf(stderr, "%s: cannot load configuration: %s\n", path, strerror(-r));
	cfg_errors_clear(&errs);
	return r;
}

static void on_quit(struct ev_loop *loop, int signo, usec_t now, void *userdata)
{
	log_info("received %s, shutting down", strsignal(signo));
	ev_loop_quit(loop);
}

static void on_status(struct ev_loop *loop, int signo, usec_t now, void *userdata)
{
	cl_daemon_log_status(userdata);
}

static void on_reload(struct ev_loop *loop, int signo, usec_t now, void *userdata)
{
	const char *path = userdata;
	struct cfg_errors errs = {0};
	struct cfg *cfg = NULL;

	/* Validate only: applying a new heartbeat topology live would reset
	 * every link's state, so changes take effect at the next restart. */
	if (cfg_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_err("reload: %s", errs.v[i].msg);
		log_err("reload: %s has errors; still running with the configuration loaded at start", path);
	} else {
		log_info("reload: %s is valid; changes take effect when clusterd restarts", path);
	}
	cfg_errors_clear(&errs);
	cfg_free(cfg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'n'},
		{"foreground", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = CFG_DEFAULT_PATH;
	bool check_only = false, foreground = false, verbose = false;
	struct ev_loop *loop = NULL;
	struct cl_daemon *d = NULL;
	struct cfg *cfg = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:nfvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf("clusterd %s\n", PACKAGE_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "clusterd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (load_config(path, &cfg) < 0)
		return EXIT_FAILURE;
	if (check_only) {
		/* what the file cannot say: whether this kernel offers it */
		r = mcopy_congestion_check(cfg_mig_congestion(cfg));
		if (r < 0) {
			fprintf(stderr,
				"%s: migration.congestion: \"%s\" is not offered by this kernel: %s\n", path,
				cfg->migration.congestion, mcopy_congestion_strerror(r));
			cfg_free(cfg);
			return EXIT_FAILURE;
		}
		printf("configuration OK\n");
		cfg_free(cfg);
		return EXIT_SUCCESS;
	}

	log_open("clusterd", true, verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	r = ev_loop_new(NULL, &loop);
	if (r < 0)
		log_fatal("cannot create the event loop: %s", strerror(-r));
	r = cl_daemon_new(cfg, loop, &d);
	if (r < 0) {
		cfg_free(cfg);
		ev_loop_free(loop);
		log_err("clusterd not started");
		return EXIT_FAILURE;
	}
	if (ev_signal_add(loop, SIGTERM, on_quit, NULL) < 0 ||
	    ev_signal_add(loop, SIGINT, on_quit, NULL) < 0 ||
	    ev_signal_add(loop, SIGUSR1, on_status, d) < 0 ||
	    ev_signal_add(loop, SIGHUP, on_reload, (void *)path) < 0)
		log_fatal("cannot set up signal handling: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	if (!foreground) {
		/* sockets are bound and errors reported: now detach */
		if (daemon(0, 0) < 0)
			log_fatal("cannot daemonize: %s", strerror(errno));
		log_open("clusterd", false, verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	}
	log_info("running");
	r = ev_loop_run(loop);
	if (r < 0)
		log_err("event loop failed: %s", strerror(-r));
	cl_daemon_free(d);
	ev_loop_free(loop);
	log_info("stopped");
	log_close();
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
