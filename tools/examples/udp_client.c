// SPDX-License-Identifier: GPL-2.0
/*
 * udp_client: load for udp_server. Simulates many clients, one UDP socket
 * (so one source port) each. Every client sends a datagram every
 * interval and acks the server's requests. After the warm-up, every
 * idle_every-th client (idx % idle_every == 0) goes silent: it sends one
 * last datagram asking for a reply, then neither sends nor reads, as a
 * peer that vanished would; the server should retransmit to it and
 * finally drop it on its idle timeout. At the end the active clients say
 * bye.
 *
 *	udp_client -p PORT [-n CLIENTS] [-I IDLE_EVERY] [-s INTERVAL_MS]
 *		   [-w WARMUP_ROUNDS] [-T ROUNDS] [-v]
 *
 * A round is one datagram from every active client; rounds start every
 * INTERVAL_MS (later on a machine too slow for that).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "udp_common.h"

#define EVS	256

struct uclient {
	int fd;
	uint64_t last_tx;
	unsigned int seq;
	unsigned int acks;
	bool idle;
};

static int send_msg(int fd, const char *fmt, unsigned int a, unsigned int b,
		    unsigned int c)
{
	char msg[64];
	int len = snprintf(msg, sizeof(msg), fmt, a, b, c);

	return send(fd, msg, len, MSG_DONTWAIT) == len ? 0 : -errno;
}

/* Record how long client @i went without sending (for the driver). */
static void note_gap(const struct udp_opts *o, struct uclient *c,
		     unsigned int i, uint64_t now)
{
	if (o->max_gap_ns && c->last_tx && now - c->last_tx > o->max_gap_ns[i])
		o->max_gap_ns[i] = now - c->last_tx;
	c->last_tx = now;
}

/* Make room for @n sockets. */
static int raise_nofile(unsigned int n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= n + 64)
		return 0;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > n + 64 ?
		      n + 64 : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < n + 64)
		return -EMFILE;
	return 0;
}

int udp_client_run(const struct udp_opts *o)
{
	struct sockaddr_in srv = { .sin_family = AF_INET };
	struct epoll_event ev, evs[EVS];
	struct uclient *cl;
	uint64_t start, next, now, last_round, max_gap = 0;
	unsigned int i, rounds = 0, send_err = 0, acks = 0, idled = 0;
	bool warm = true;
	int ep, n, rc = 0;

	if (!o->clients || o->clients > UDP_MAX_CLIENTS) {
		fprintf(stderr, "udp_client: 1..%u clients\n", UDP_MAX_CLIENTS);
		return 2;
	}
	if (raise_nofile(o->clients)) {
		fprintf(stderr, "udp_client: cannot open %u sockets (RLIMIT_NOFILE)\n",
			o->clients);
		return 1;
	}
	cl = calloc(o->clients, sizeof(*cl));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cl || ep < 0)
		return 1;
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.sin_port = htons(o->port);
	for (i = 0; i < o->clients; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET };

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cl[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
				  SOCK_CLOEXEC, 0);
		if (cl[i].fd < 0 ||
		    bind(cl[i].fd, (struct sockaddr *)&a, sizeof(a)) ||
		    connect(cl[i].fd, (struct sockaddr *)&srv, sizeof(srv))) {
			perror("udp_client: socket");
			return 1;
		}
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
	}

	start = udp_now();
	next = start;
	last_round = start;
	for (;;) {
		now = udp_now();
		if (now >= next) {
			/* One round: every active client sends one datagram. */
			if (now - last_round > max_gap && rounds)
				max_gap = now - last_round;
			last_round = now;
			if (rounds >= o->run_rounds)
				break;
			if (warm && rounds >= o->warmup_rounds)
				warm = false;
			for (i = 0; i < o->clients; i++) {
				struct uclient *c = &cl[i];
				bool want = c->seq % 4 == 3;

				if (c->idle)
					continue;
				if (!warm && udp_is_idler(o, i)) {
					/* Vanish with a request pending. */
					c->idle = true;
					idled++;
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					want = true;
				}
				if (send_msg(c->fd, "D %u %u %u", i, ++c->seq,
					     want))
					send_err++;
				note_gap(o, c, i, udp_now());
			}
			rounds++;
			next += o->interval_ms * MSEC;
			if (next < now)
				next = now + o->interval_ms * MSEC / 2;
		}
		n = epoll_wait(ep, evs, EVS,
			       (int)((next - now) / MSEC) + 1);
		for (i = 0; i < (unsigned int)(n > 0 ? n : 0); i++) {
			struct uclient *c = &cl[evs[i].data.u32];
			unsigned int seq;
			char buf[64];
			ssize_t len;

			while ((len = recv(c->fd, buf, sizeof(buf) - 1,
					   MSG_DONTWAIT)) > 0) {
				buf[len] = '\0';
				if (c->idle || sscanf(buf, "R %u", &seq) != 1)
					continue;
				if (send_msg(c->fd, "A %u %u", evs[i].data.u32,
					     seq, 0))
					send_err++;
				c->acks++;
				acks++;
			}
		}
	}
	for (i = 0; i < o->clients; i++) {
		if (cl[i].idle)
			continue;
		if (send_msg(cl[i].fd, "B %u", i, 0, 0))
			send_err++;
		note_gap(o, &cl[i], i, udp_now());
	}
	printf("# client: %u clients, %u went idle, %u rounds, %u acks sent, %u send errors, longest gap between rounds %llu ms\n",
	       o->clients, idled, rounds, acks, send_err,
	       (unsigned long long)(max_gap / MSEC));
	if (max_gap >= o->idle_ms * MSEC * 3 / 4)
		printf("# client: WARNING: this machine stalled the client for %llu ms, close to the %u ms idle timeout: active clients may time out\n",
		       (unsigned long long)(max_gap / MSEC), o->idle_ms);
	if (send_err)
		rc = 1;
	fflush(stdout);
	/* Let the byes leave before the sockets close. */
	usleep(10000);
	for (i = 0; i < o->clients; i++)
		close(cl[i].fd);
	close(ep);
	free(cl);
	return rc;
}

#ifndef UDP_NO_MAIN
int main(int argc, char **argv)
{
	struct udp_opts o;
	int c;

	udp_default_opts(&o);
	while ((c = getopt(argc, argv, "p:n:I:s:w:T:i:vh")) != -1) {
		switch (c) {
		case 'p':
			o.port = atoi(optarg);
			break;
		case 'n':
			o.clients = atoi(optarg);
			break;
		case 'I':
			o.idle_every = atoi(optarg);
			break;
		case 's':
			o.interval_ms = atoi(optarg);
			break;
		case 'w':
			o.warmup_rounds = atoi(optarg);
			break;
		case 'T':
			o.run_rounds = atoi(optarg);
			break;
		case 'i':
			o.idle_ms = atoi(optarg);
			break;
		case 'v':
			o.verbose = 1;
			break;
		default:
			goto usage;
		}
	}
	if (!o.port || !o.interval_ms)
		goto usage;
	return udp_client_run(&o);
usage:
	fprintf(stderr,
		"usage: udp_client -p PORT [-n CLIENTS] [-I IDLE_EVERY] [-s INTERVAL_MS]\n"
		"                  [-w WARMUP_ROUNDS] [-T ROUNDS] [-i SERVER_IDLE_MS]\n");
	return 2;
}
#endif
