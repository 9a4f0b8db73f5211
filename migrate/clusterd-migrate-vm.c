/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/clusterd-migrate-vm.c: one live migration, as its own process, so
 * that the daemon's loop never blocks in virDomainMigrateToURI3 (which lasts
 * as long as the migration). While it runs, a second thread prints
 * "progress PROCESSED REMAINING TOTAL DIRTY_RATE ITERATION" (bytes, bytes/s)
 * every --progress-ms from the job stats, and SIGUSR1 aborts the job
 * (virDomainAbortJob: the guest keeps running on the source). Ends with one
 * line, "ok" or "error: MESSAGE", and exits 0 or 1 (2 for usage). Killing
 * this process does not stop a peer-to-peer migration: send SIGUSR1. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void quiet(void *ud, virErrorPtr e)
{
}

/* The progress/abort thread's view of the job. */
struct watch {
	const char *src, *dom_uuid;
	unsigned period_ms;
	sigset_t sigs; /* SIGUSR1 (abort) and SIGUSR2 (wake up: done), blocked in
			* every thread, taken here */
	volatile int done;
};

static void *watch_job(void *arg)
{
	struct watch *w = arg;
	virConnectPtr c = virConnectOpen(w->src);
	virDomainPtr dom = c ? virDomainLookupByUUIDString(c, w->dom_uuid) : NULL;
	struct timespec ts = {.tv_sec = w->period_ms / 1000,
			      .tv_nsec = (long)(w->period_ms % 1000) * 1000000L};

	while (!w->done) {
		virTypedParameterPtr p = NULL;
		int n = 0, type;
		unsigned long long processed = 0, remaining = 0, total = 0, dirty = 0, iteration = 0;

		/* wait for the period, an abort request or the end, whichever first */
		int sig = sigtimedwait(&w->sigs, NULL, &ts);

		if (w->done)
			break;
		if (sig == SIGUSR1) {
			if (dom && virDomainAbortJob(dom) == 0)
				printf("abort requested\n");
			fflush(stdout);
			continue;
		}
		if (!dom || virDomainGetJobStats(dom, &type, &p, &n, 0) < 0 || type == VIR_DOMAIN_JOB_NONE) {
			virTypedParamsFree(p, n);
			continue;
		}
		virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &processed);
		virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_REMAINING, &remaining);
		virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_TOTAL, &total);
		virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, &dirty);
		virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_ITERATION, &iteration);
		virTypedParamsFree(p, n);
		if (!w->done)
			printf("progress %llu %llu %llu %llu %llu\n", processed, remaining, total,
			       dirty * 4096, iteration);
		fflush(stdout);
	}
	if (dom)
		virDomainFree(dom);
	if (c)
		virConnectClose(c);
	return NULL;
}

static int fail(const char *what)
{
	virErrorPtr e = virGetLastError();

	printf("error: %s: %s\n", what, e && e->message ? e->message : "unknown libvirt error");
	fflush(stdout);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: clusterd-migrate-vm --domain UUID|NAME --dest-uri URI [options]\n"
		   "  --source-uri URI      libvirt URI of this host (default: libvirt's default)\n"
		   "  --dest-uri URI        libvirt URI of the target host (peer-to-peer)\n"
		   "  --migrate-uri URI     where the migration stream goes (tcp://ADDR or unix:///PATH)\n"
		   "  --bandwidth MIBS      bandwidth cap in MiB/s (0: none)\n"
		   "  --max-downtime MS     maximum pause at switch-over\n"
		   "  --parallel N          multifd connections (N > 1)\n"
		   "  --auto-converge       throttle the guest's vCPUs when it does not converge\n"
		   "  --postcopy            allow post-copy\n"
		   "  --keep-source         do not undefine the domain on the source afterwards\n"
		   "  --progress-ms MS      print progress this often (default 500; 0: never)\n"
		   "SIGUSR1 aborts the migration; the guest keeps running on the source.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"source-uri", required_argument, NULL, 's'},
		{"dest-uri", required_argument, NULL, 't'},
		{"migrate-uri", required_argument, NULL, 'm'},
		{"bandwidth", required_argument, NULL, 'b'},
		{"max-downtime", required_argument, NULL, 'w'},
		{"parallel", required_argument, NULL, 'p'},
		{"auto-converge", no_argument, NULL, 'a'},
		{"postcopy", no_argument, NULL, 'P'},
		{"keep-source", no_argument, NULL, 'k'},
		{"progress-ms", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dom_id = NULL, *src = NULL, *dst = NULL, *muri = NULL;
	unsigned long bandwidth = 0, parallel = 0, progress_ms = 500;
	struct watch w = {0};
	pthread_t watcher;
	bool watching = false;
	char uuid[VIR_UUID_STRING_BUFLEN];
	unsigned long long downtime = 0;
	bool autoconv = false, postcopy = false, keep = false;
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, c, li = 0, r, ret = 1;
	unsigned int flags;
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'd':
			dom_id = optarg;
			break;
		case 's':
			src = optarg;
			break;
		case 't':
			dst = optarg;
			break;
		case 'm':
			muri = optarg;
			break;
		case 'b':
			bandwidth = strtoul(optarg, &end, 10);
			break;
		case 'w':
			downtime = strtoull(optarg, &end, 10);
			break;
		case 'p':
			parallel = strtoul(optarg, &end, 10);
			break;
		case 'a':
			autoconv = true;
			break;
		case 'P':
			postcopy = true;
			break;
		case 'k':
			keep = true;
			break;
		case 'r':
			progress_ms = strtoul(optarg, &end, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (end && *end) {
			fprintf(stderr, "clusterd-migrate-vm: --%s wants a number, got '%s'\n", opts[li].name,
				optarg);
			return 2;
		}
	}
	if (!dom_id || !dst || optind < argc) {
		usage(stderr);
		return 2;
	}
	virSetErrorFunc(NULL, quiet);
	flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
		(keep ? 0 : VIR_MIGRATE_UNDEFINE_SOURCE) | (autoconv ? VIR_MIGRATE_AUTO_CONVERGE : 0) |
		(postcopy ? VIR_MIGRATE_POSTCOPY : 0) | (parallel > 1 ? VIR_MIGRATE_PARALLEL : 0);
	conn = virConnectOpen(src);
	if (!conn)
		return fail("cannot connect to the source libvirt");
	dom = virDomainLookupByUUIDString(conn, dom_id);
	if (!dom)
		dom = virDomainLookupByName(conn, dom_id);
	if (!dom) {
		ret = fail("no such domain");
		goto out;
	}
	if ((muri &&
	     virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI, muri) < 0) ||
	    (bandwidth && virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
						  bandwidth) < 0) ||
	    (parallel > 1 &&
	     virTypedParamsAddInt(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
				  (int)parallel) < 0)) {
		ret = fail("cannot build the migration parameters");
		goto out;
	}
	if (downtime && virDomainMigrateSetMaxDowntime(dom, downtime, 0) < 0) {
		ret = fail("cannot set the maximum downtime");
		goto out;
	}
	/* SIGUSR1 and SIGUSR2 are taken by the watcher thread only (blocked here
	 * and inherited) */
	sigemptyset(&w.sigs);
	sigaddset(&w.sigs, SIGUSR1);
	sigaddset(&w.sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &w.sigs, NULL);
	if (progress_ms && virDomainGetUUIDString(dom, uuid) == 0) {
		w = (struct watch){
			.src = src, .dom_uuid = uuid, .period_ms = (unsigned)progress_ms, .sigs = w.sigs};
		watching = pthread_create(&watcher, NULL, watch_job, &w) == 0;
	}
	r = virDomainMigrateToURI3(dom, dst, params, (unsigned)nparams, flags);
	/* the verdict must be the last line: stop the watcher first, waking it
	 * now rather than at the end of its period (up to progress-ms later) */
	w.done = 1;
	if (watching) {
		pthread_kill(watcher, SIGUSR2);
		pthread_join(watcher, NULL);
	}
	watching = false;
	if (r < 0) {
		ret = fail("migration failed");
		goto out;
	}
	printf("ok\n");
	fflush(stdout);
	ret = 0;
out:
	w.done = 1;
	if (watching)
		pthread_join(watcher, NULL);
	virTypedParamsFree(params, nparams);
	if (dom)
		virDomainFree(dom);
	virConnectClose(conn);
	return ret;
}
