/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_helper.c: clusterd-virt, the process that holds clusterd's
 * libvirt connection (libvirt is kept out of the daemon: it triples its
 * memory, and its calls are synchronous RPCs). Runs the libvirt client on
 * its own loop and writes one JSON line per change to stdout:
 *   {"libvirt":"connected"|"not connected","why":"…","vms":[{…}…]}
 * with the full domain list each time. Exits when stdin closes (the daemon
 * is gone). Usage: clusterd-virt [URI]
 * One-shot: clusterd-virt --dumpxml URI DOMAIN prints DOMAIN's XML (uuid or
 * name; see virt_xml.h) and exits 0, or prints one line to stderr and exits
 * 1. An empty URI is libvirt's default. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clusterd/virt.h"
#include "clusterd/virt_xml.h"
#include "common/log.h"
#include "common/loop.h"

static struct virt_client *client;
static char why[256] = "not connected yet";
static uint64_t last_free_kib;

/* Free memory moves without domain events: look every HOST_POLL_USEC and
 * say so when it moved by more than HOST_SLACK_KIB. */
#define HOST_POLL_USEC (5 * USEC_PER_SEC)
#define HOST_SLACK_KIB (64 * 1024)

static void emit(void)
{
	const struct virt_domain *d;
	size_t n = virt_client_domains(client, &d);
	struct json_object *o = json_object_new_object(), *vms = json_object_new_array();
	bool up = virt_client_connected(client);

	json_object_object_add(o, "libvirt", json_object_new_string(up ? "connected" : "not connected"));
	if (!up)
		json_object_object_add(o, "why", json_object_new_string(why));
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_new_object();

		json_object_object_add(v, "name", json_object_new_string(d[i].name));
		json_object_object_add(v, "uuid", json_object_new_string(d[i].uuid));
		json_object_object_add(v, "state", json_object_new_int(d[i].state));
		json_object_object_add(v, "mem_kib", json_object_new_int64((int64_t)d[i].mem_kib));
		json_object_object_add(v, "vcpus", json_object_new_int64(d[i].vcpus));
		json_object_object_add(v, "persistent", json_object_new_boolean(d[i].persistent));
		if (d[i].prepared)
			json_object_object_add(v, "prepared", json_object_new_boolean(true));
		json_object_array_add(vms, v);
	}
	json_object_object_add(o, "vms", vms);
	if (up) {
		struct virt_host h;

		if (virt_client_host(client, &h) == 0) {
			struct json_object *ho = json_object_new_object();

			json_object_object_add(ho, "free_kib",
					       json_object_new_int64((int64_t)h.free_mem_kib));
			json_object_object_add(ho, "cpus", json_object_new_int64(h.cpus));
			json_object_object_add(o, "host", ho);
			last_free_kib = h.free_mem_kib;
		}
	}
	/* one write per line: the daemon reads whole lines */
	if (printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0 ||
	    fflush(stdout) != 0)
		_exit(0); /* the daemon is gone */
	json_object_put(o);
}

static void on_connected(void *ud, usec_t now)
{
	emit();
}

static void on_disconnected(void *ud, const char *reason, usec_t now)
{
	snprintf(why, sizeof(why), "%s", reason);
	emit();
}

static void on_domain(void *ud, const struct virt_domain *d, bool gone, usec_t now)
{
	emit();
}

static void on_host_timer(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct virt_host h;

	if (virt_client_connected(client) && virt_client_host(client, &h) == 0 &&
	    (h.free_mem_kib > last_free_kib + HOST_SLACK_KIB ||
	     h.free_mem_kib + HOST_SLACK_KIB < last_free_kib))
		emit();
	ev_timer_set(t, now + HOST_POLL_USEC);
}

static void on_stdin(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		ev_loop_quit(loop); /* the daemon closed our stdin: it is gone */
}

static void on_term(struct ev_loop *loop, int signo, usec_t now, void *ud)
{
	ev_loop_quit(loop);
}

/* For the daemon (mig_exec's protocol): the XML into `to` (mode 0600: it
 * may hold secrets), then one verdict line on stdout, "ok" or "error: …". */
static int dump_xml_to(const char *uri, const char *domain, const char *to)
{
	char reason[512], *xml = NULL;
	FILE *f;
	int fd, r = virt_domain_xml(*uri ? uri : NULL, domain, &xml, reason, sizeof(reason));

	if (r < 0) {
		printf("error: %s\n", reason);
		return 1;
	}
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || fputs(xml, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		printf("error: cannot write %s: %s\n", to, strerror(errno));
		if (f)
			fclose(f);
		else if (fd >= 0)
			close(fd);
		free(xml);
		return 1;
	}
	fclose(f);
	free(xml);
	printf("ok\n");
	return 0;
}

/* --create URI FILE: start the domain FILE describes (transient), or
 * resume its prepared copy ("progress resumed" before the verdict);
 * --prepare URI FILE: start it paused, marked as a prepared copy. */
static int create_from(const char *uri, const char *path, bool paused)
{
	char reason[512], *xml;
	FILE *f = fopen(path, "re");
	long len = -1;
	int r;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(xml = calloc(1, (size_t)len + 1)) || fread(xml, 1, (size_t)len, f) != (size_t)len) {
		printf("error: cannot read %s: %s\n", path, len == 0 ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	r = (paused ? virt_domain_prepare : virt_domain_create)(*uri ? uri : NULL, xml, reason,
								sizeof(reason));
	free(xml);
	if (r < 0) {
		printf("error: %s\n", reason);
		return 1;
	}
	if (r == 1)
		printf("progress resumed\n");
	printf("ok\n");
	return 0;
}

/* SIGKILL the QEMU of domain `name` by libvirt's pid file, when it is one:
 * the self-fence cannot wait for virDomainDestroy's SIGTERM-then-wait (it
 * took 1.7 s per TCG guest here), nor count on libvirtd being alive. Only a
 * process whose name starts with "qemu" is killed. 1 killed, 0 not found. */
static int kill_qemu(const char *name)
{
	char path[512], comm[64] = "";
	FILE *f;
	long pid = 0;

	snprintf(path, sizeof(path), "/run/libvirt/qemu/%s.pid", name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	if (strncmp(comm, "qemu", 4) != 0)
		return 0;
	return kill((pid_t)pid, SIGKILL) == 0;
}

/* --destroy URI UUID/NAME...: stop each at once (its QEMU killed first,
 * then libvirt told); every one is tried. */
static int destroy_all(const char *uri, char **vms, int n)
{
	char reason[512], first[600] = "";
	int bad = 0;

	for (int i = 0; i < n; i++) {
		char *slash = strchr(vms[i], '/');

		if (slash) {
			*slash = '\0';
			if (kill_qemu(slash + 1)) {
				printf("progress killed %s\n", slash + 1);
				fflush(stdout);
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (virt_domain_destroy(*uri ? uri : NULL, vms[i], reason, sizeof(reason)) < 0) {
			if (!bad++)
				snprintf(first, sizeof(first), "%s", reason);
		}
	if (bad) {
		printf("error: %d of %d not confirmed destroyed by libvirt (their QEMUs were killed): %s\n",
		       bad, n, first);
		return 1;
	}
	printf("ok\n");
	return 0;
}

static int dump_xml(const char *uri, const char *domain)
{
	char reason[512], *xml = NULL;
	int r;

	signal(SIGPIPE, SIG_IGN); /* a closed stdout is an error to report, not a death */
	r = virt_domain_xml(*uri ? uri : NULL, domain, &xml, reason, sizeof(reason));

	if (r < 0) {
		fprintf(stderr, "clusterd-virt: %s\n", reason);
		return 1;
	}
	r = fputs(xml, stdout) < 0 || fflush(stdout) != 0;
	free(xml);
	if (r) {
		fprintf(stderr, "clusterd-virt: cannot write the XML: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct virt_callbacks cbs = {on_connected, on_disconnected, on_domain};
	struct ev_loop *loop;
	int r;

	if (argc == 4 && strcmp(argv[1], "--create") == 0)
		return create_from(argv[2], argv[3], false);
	if (argc == 4 && strcmp(argv[1], "--prepare") == 0)
		return create_from(argv[2], argv[3], true);
	if (argc >= 4 && strcmp(argv[1], "--destroy") == 0)
		return destroy_all(argv[2], argv + 3, argc - 3);
	if (argc >= 2 && strcmp(argv[1], "--dumpxml") == 0) {
		if (argc == 6 && strcmp(argv[4], "--to") == 0 && *argv[3] && *argv[5])
			return dump_xml_to(argv[2], argv[3], argv[5]);
		if (argc != 4 || !*argv[3]) {
			fprintf(stderr,
				"usage: clusterd-virt --dumpxml LIBVIRT-URI UUID-OR-NAME [--to FILE]\n");
			return 2;
		}
		return dump_xml(argv[2], argv[3]);
	}
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--help") == 0)) {
		fprintf(stderr, "usage: clusterd-virt [LIBVIRT-URI]\n"
				"       clusterd-virt --dumpxml LIBVIRT-URI UUID-OR-NAME [--to FILE]\n"
				"       clusterd-virt --create LIBVIRT-URI XML-FILE\n"
				"       clusterd-virt --prepare LIBVIRT-URI XML-FILE\n"
				"       clusterd-virt --destroy LIBVIRT-URI UUID/NAME...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_open("clusterd-virt", true, LOG_LVL_INFO); /* stderr: the daemon's log */
	if ((r = ev_loop_new(NULL, &loop)) < 0 ||
	    (r = ev_io_add(loop, 0, EPOLLIN, on_stdin, NULL, NULL)) < 0 ||
	    (r = ev_signal_add(loop, SIGTERM, on_term, NULL)) < 0 ||
	    (r = ev_timer_add(loop, ev_loop_now(loop) + HOST_POLL_USEC, on_host_timer, NULL, NULL)) < 0 ||
	    (r = virt_client_new(loop, argc == 2 ? argv[1] : NULL, &cbs, NULL, &client)) < 0) {
		fprintf(stderr, "clusterd-virt: cannot start: %s\n", strerror(-r));
		return 1;
	}
	r = ev_loop_run(loop);
	virt_client_free(client);
	ev_loop_free(loop);
	return r < 0 ? 1 : 0;
}
