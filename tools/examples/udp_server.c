// SPDX-License-Identifier: GPL-2.0
/*
 * udp_server: a UDP server on 127.0.0.1 that knows its clients by address
 * and keeps two timers per client in one timerring instance, an idle and
 * a retransmit timer (the sessions and their timers: udp_session.h).
 *
 * The ops of one round of the event loop (every datagram received, every
 * expiration read) go to the kernel in one TIMERRING_IOC_SUBMIT; epoll
 * waits on the socket and the timerring fd together. udp_uring_server.c
 * is the same server on io_uring.
 *
 *	udp_server [-p PORT] [-i IDLE_MS] [-r REXMIT_MS] [-t SECONDS] [-v]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "timerring.h"
#include "udp_common.h"
#include "udp_session.h"

#define RECV_BATCH	64
#define OPS_MAX		1024

struct server {
	struct udp_sessions sess;
	struct timerring tr;
	int sock;
	__s32 res[OPS_MAX];
};

static volatile sig_atomic_t srv_stop;

static void send_to(struct udp_sessions *ss, const struct sockaddr_in *to,
		    const char *msg, int len)
{
	struct server *s = ss->priv;

	if (sendto(s->sock, msg, len, MSG_DONTWAIT,
		   (const struct sockaddr *)to, sizeof(*to)) != len)
		ss->rep->tx_errors++;
}

/* Apply the pending batch: one ioctl, then look at each result. */
static void submit(struct udp_sessions *ss)
{
	struct server *s = ss->priv;
	struct udp_batch *b = &ss->pending;
	unsigned int done = 0;
	int ret;

	if (!b->nr)
		return;
	ret = timerring_submit(&s->tr, b->ops, b->nr, s->res, 0, &done, NULL);
	if (ret < 0 || done != b->nr)
		fprintf(stderr, "udp_server: submit: %s (%u of %u done)\n",
			ret < 0 ? strerror(-ret) : "short", done, b->nr);
	udp_sess_results(ss, b, s->res, done);
}

static void read_socket(struct server *s)
{
	struct mmsghdr mm[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_in from[RECV_BATCH];
	char buf[RECV_BATCH][UDP_MSG_MAX];
	char ctl[RECV_BATCH][CMSG_SPACE(sizeof(uint32_t))];
	int n, i;

	do {
		for (i = 0; i < RECV_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = UDP_MSG_MAX - 1;
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
			mm[i].msg_hdr.msg_control = ctl[i];
			mm[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		n = recvmmsg(s->sock, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
		for (i = 0; i < n; i++) {
			udp_sess_rx_drops(&s->sess, &mm[i].msg_hdr);
			buf[i][mm[i].msg_len] = '\0';
			udp_sess_packet(&s->sess, &from[i], buf[i], udp_now());
		}
	} while (n == RECV_BATCH);
}

static void reap(struct server *s)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	if (timerring_cq_overflow_pending(&s->tr))
		timerring_wait(&s->tr, 0, 0);
	timerring_for_each_cqe(&s->tr, head, cqe) {
		udp_sess_expired(&s->sess, cqe);
		n++;
	}
	timerring_cq_advance(&s->tr, n);
}

/*
 * Serve on @sock until a signal, o->duration_ms, or EOF on @ctl_fd (if
 * >= 0: the load client is done) and then the end of every session (the
 * active clients said bye, the idle ones must time out), plus one idle
 * timeout to catch stray expirations. Fills @rep.
 */
int udp_server_run(const struct udp_opts *o, int sock, int ctl_fd,
		   struct udp_report *rep)
{
	struct epoll_event ev, evs[8];
	uint64_t end = 0, client_done = 0;
	struct server *s;
	int ep, i, n, ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = udp_sess_init(&s->sess, o, rep, OPS_MAX);
	if (ret)
		goto out_free;
	s->sess.send = send_to;
	s->sess.flush = submit;
	s->sess.priv = s;
	s->sock = sock;

	ret = udp_sess_open_timerring(&s->sess, &s->tr);
	if (ret < 0)
		goto out_sess;
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.fd = sock;
	epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev);
	ev.data.fd = s->tr.fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, s->tr.fd, &ev);
	if (ctl_fd >= 0) {
		ev.data.fd = ctl_fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, ctl_fd, &ev);
	}
	if (o->duration_ms)
		end = udp_now() + o->duration_ms * MSEC;

	while (!srv_stop && (!end || udp_now() < end)) {
		n = epoll_wait(ep, evs, 8, 20);
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == ctl_fd) {
				char c;

				if (read(ctl_fd, &c, 1) <= 0) {
					/* The client is done. */
					epoll_ctl(ep, EPOLL_CTL_DEL, ctl_fd,
						  NULL);
					client_done = udp_now();
				}
			}
		}
		/*
		 * Packets first, whatever woke us: they re-arm, so that an
		 * idle timer that fired while their datagrams waited in the
		 * socket reads as stale below. Then the expirations.
		 */
		read_socket(s);
		submit(&s->sess);
		reap(s);
		submit(&s->sess);
		udp_sess_check_end(&s->sess, client_done, &end);
	}
	close(ep);
	udp_sess_close_timerring(&s->sess, &s->tr);
	ret = 0;
out_sess:
	udp_sess_free(&s->sess);
out_free:
	free(s);
	return ret;
}

#ifndef UDP_NO_MAIN
int main(int argc, char **argv)
{
	return udp_server_main(argc, argv, "udp_server", &srv_stop);
}
#endif
