/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/mcopy-pump.c: the ends of bench/mcopy — a source that writes N bytes
 * into a TCP or unix socket, and a sink that reads one to EOF — plain
 * read/write with a 256 KiB buffer, so the plain-TCP baseline is exactly "a
 * minimal sender/receiver writing the socket directly". Not part of clusterd. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF (256 * 1024)

static int die(const char *what)
{
	fprintf(stderr, "mcopy-pump: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int tcp_addr(const char *host, const char *port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

static int listen_one(int fam, const struct sockaddr *sa, socklen_t len)
{
	int one = 1, fd = socket(fam, SOCK_STREAM, 0), c;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, 1) < 0)
		die("bind/listen");
	c = accept(fd, NULL, NULL);
	if (c < 0)
		die("accept");
	close(fd);
	return c;
}

/* cc: the socket's congestion control (TCP_CONGESTION), or NULL: the host's */
static int connect_to(int fam, const struct sockaddr *sa, socklen_t len, const char *cc)
{
	int fd = socket(fam, SOCK_STREAM, 0);

	if (fd >= 0 && cc && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) < 0)
		die("TCP_CONGESTION");
	if (fd < 0 || connect(fd, sa, len) < 0)
		die("connect");
	return fd;
}

static void sink(int fd)
{
	static char buf[BUF];
	unsigned long long total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (unsigned long long)n;
	if (n < 0)
		die("read");
	printf("%llu\n", total);
}

static void source(int fd, unsigned long long bytes)
{
	static char buf[BUF];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < sizeof(buf); i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	while (bytes > 0) {
		size_t want = bytes < sizeof(buf) ? (size_t)bytes : sizeof(buf);
		ssize_t n = write(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		bytes -= (unsigned long long)n;
	}
	shutdown(fd, SHUT_WR);
	/* wait for the peer to close, so that "done" means delivered */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (argc == 3 && !strcmp(argv[1], "tcp-sink") && tcp_addr("0.0.0.0", argv[2], &sin) == 0) {
		sink(listen_one(AF_INET, (struct sockaddr *)&sin, sizeof(sin)));
	} else if ((argc == 5 || argc == 6) && !strcmp(argv[1], "tcp-source") &&
		   tcp_addr(argv[2], argv[3], &sin) == 0) {
		source(connect_to(AF_INET, (struct sockaddr *)&sin, sizeof(sin), argc == 6 ? argv[5] : NULL),
		       strtoull(argv[4], NULL, 0));
	} else if (argc == 3 && !strcmp(argv[1], "unix-sink")) {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[2]);
		unlink(argv[2]);
		sink(listen_one(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun)));
	} else if (argc == 4 && !strcmp(argv[1], "unix-source")) {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[2]);
		source(connect_to(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun), NULL),
		       strtoull(argv[3], NULL, 0));
	} else {
		fprintf(stderr,
			"usage: mcopy-pump tcp-sink PORT | tcp-source IPV4 PORT BYTES [CONGESTION] |\n"
			"                  unix-sink PATH | unix-source PATH BYTES\n");
		return 2;
	}
	return 0;
}
