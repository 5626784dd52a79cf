// SPDX-License-Identifier: GPL-2.0
/*
 * udp_server: a UDP server on 127.0.0.1 that knows its clients by address
 * and keeps two timers per client in one timerring instance:
 *
 *	idle timer	id 2 * slot	re-armed (MODIFY) on every packet;
 *					when it fires, the client is dropped
 *	retransmit	id 2 * slot + 1	armed when the server sends a
 *					request that needs an ack, cancelled
 *					by the ack; when it fires, the
 *					request is sent again and re-armed
 *
 * The ops of one round of the event loop (every datagram received, every
 * expiration read) go to the kernel in one TIMERRING_IOC_SUBMIT; epoll
 * waits on the socket and the timerring fd together. Every ARM/MODIFY
 * result carries the id's generation: an expiration whose generation is
 * not the one last armed is stale (the client spoke after its timer fired
 * and before we read the CQE) and is ignored.
 *
 *	udp_server [-p PORT] [-i IDLE_MS] [-r REXMIT_MS] [-t SECONDS] [-v]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#define HASH_SIZE	16384		/* power of 2 */
#define RECV_BATCH	64
#define OPS_MAX		1024
#define MSG_MAX		64

enum { T_IDLE = 0, T_REXMIT = 1 };

struct client {
	struct sockaddr_in addr;
	bool used;
	bool closing;		/* dropped: freed when its ops are done */
	bool hashed;
	bool rexmit_armed;
	unsigned int idx;
	int next;		/* hash chain */
	uint64_t last_rx;
	unsigned int idle_gen;
	unsigned int rexmit_gen;
	unsigned int req_seq;	/* outstanding request, 0 = none */
	unsigned int retries;
	unsigned int rx;
	/* Generation of the last retransmit arm a CANCEL ended (0: none). */
	unsigned int rexmit_cancelled_gen;
	bool rexmit_cancel_raced;
};

/* What an op of the pending batch was for. */
struct op_meta {
	unsigned int slot;
	unsigned char kind;	/* T_IDLE / T_REXMIT */
	bool free_after;	/* the slot is freed once this op is done */
};

struct server {
	const struct udp_opts *o;
	struct udp_report *rep;
	struct timerring tr;
	int sock;
	struct client *cl;
	unsigned int nslots;
	int *free_list;
	unsigned int nfree;
	int hash[HASH_SIZE];
	struct timerring_op ops[OPS_MAX];
	struct op_meta meta[OPS_MAX];
	__s32 res[OPS_MAX];
	unsigned int nops;
	unsigned int req_seq;
	unsigned int live;	/* sessions open */
};

static volatile sig_atomic_t srv_stop;

static unsigned int addr_hash(const struct sockaddr_in *a)
{
	uint32_t h = a->sin_addr.s_addr * 2654435761U ^
		     (uint32_t)a->sin_port * 40503U;

	return (h ^ (h >> 15)) & (HASH_SIZE - 1);
}

static int lookup(struct server *s, const struct sockaddr_in *a)
{
	int i;

	for (i = s->hash[addr_hash(a)]; i >= 0; i = s->cl[i].next)
		if (s->cl[i].addr.sin_addr.s_addr == a->sin_addr.s_addr &&
		    s->cl[i].addr.sin_port == a->sin_port)
			return i;
	return -1;
}

static void unhash(struct server *s, unsigned int slot)
{
	int *pp = &s->hash[addr_hash(&s->cl[slot].addr)];

	while (*pp >= 0 && *pp != (int)slot)
		pp = &s->cl[*pp].next;
	if (*pp == (int)slot)
		*pp = s->cl[slot].next;
	s->cl[slot].hashed = false;
}

static void submit(struct server *s);

static void queue_op(struct server *s, unsigned char opcode,
		     unsigned int slot, unsigned char kind, uint64_t expiry,
		     bool free_after)
{
	struct client *c = &s->cl[slot];
	__u8 flags = 0;

	if (kind == T_IDLE && !s->o->no_slack)
		flags = TIMERRING_OPF_SLACK;
	if (s->nops == OPS_MAX)
		submit(s);
	timerring_op_prep(&s->ops[s->nops], opcode, 2 * slot + kind, expiry,
			  opcode == TIMERRING_OP_CANCEL ? 0 : flags,
			  opcode == TIMERRING_OP_CANCEL ? 0 :
			  (uint64_t)c->idx << 32 | kind, 0);
	s->meta[s->nops].slot = slot;
	s->meta[s->nops].kind = kind;
	s->meta[s->nops].free_after = free_after;
	s->nops++;
}

/* Apply the pending batch: one ioctl, then look at each result. */
static void submit(struct server *s)
{
	unsigned int i, done = 0;
	int ret;

	if (!s->nops)
		return;
	ret = timerring_submit(&s->tr, s->ops, s->nops, s->res, 0, &done,
			       NULL);
	s->rep->batches++;
	s->rep->ops += s->nops;
	if (ret < 0 || done != s->nops) {
		fprintf(stderr, "udp_server: submit: %s (%u of %u done)\n",
			ret < 0 ? strerror(-ret) : "short", done, s->nops);
		s->rep->ops_failed += s->nops - done;
	}
	for (i = 0; i < done; i++) {
		const struct op_meta *m = &s->meta[i];
		struct client *c = &s->cl[m->slot];
		__s32 r = s->res[i];

		switch (s->ops[i].opcode) {
		case TIMERRING_OP_MODIFY:	/* idle timer */
		case TIMERRING_OP_ARM:		/* retransmit timer */
			if (r < 0) {
				s->rep->ops_failed++;
				break;
			}
			/* rexmit_armed was set when the op was queued. */
			if (m->kind == T_IDLE)
				c->idle_gen = timerring_res_gen(r);
			else
				c->rexmit_gen = timerring_res_gen(r);
			break;
		case TIMERRING_OP_CANCEL:
			if (m->kind == T_REXMIT) {
				/* -ENOENT: it fired, its CQE is unread. */
				c->rexmit_cancelled_gen = c->rexmit_gen | 0x10000;
				c->rexmit_cancel_raced = r == -ENOENT;
				if (r == -ENOENT)
					s->rep->raced_cancels++;
				else if (r)
					s->rep->ops_failed++;
			} else if (r && r != -ENOENT) {
				s->rep->ops_failed++;
			}
			break;
		}
		if (m->free_after && c->closing && c->used) {
			c->used = false;
			s->free_list[s->nfree++] = m->slot;
			s->live--;
		}
	}
	s->nops = 0;
}

static void send_req(struct server *s, unsigned int slot)
{
	struct client *c = &s->cl[slot];
	char msg[MSG_MAX];
	int len;

	if (!c->req_seq)
		c->req_seq = ++s->req_seq ? s->req_seq : ++s->req_seq;
	len = snprintf(msg, sizeof(msg), "R %u", c->req_seq);
	sendto(s->sock, msg, len, MSG_DONTWAIT,
	       (const struct sockaddr *)&c->addr, sizeof(c->addr));
	queue_op(s, TIMERRING_OP_ARM, slot, T_REXMIT,
		 s->o->rexmit_ms * MSEC, false);
	c->rexmit_armed = true;
}

/*
 * Stop tracking a client: cancel its timers (the idle one may have fired
 * already: its CANCEL then fails harmlessly) and free the slot once the
 * batch holding the cancels is done, so no pending op sees a new owner.
 */
static void drop_client(struct server *s, unsigned int slot)
{
	struct client *c = &s->cl[slot];

	c->closing = true;
	unhash(s, slot);
	if (c->rexmit_armed) {
		queue_op(s, TIMERRING_OP_CANCEL, slot, T_REXMIT, 0, false);
		c->rexmit_armed = false;
	}
	queue_op(s, TIMERRING_OP_CANCEL, slot, T_IDLE, 0, true);
}

static void on_packet(struct server *s, const struct sockaddr_in *from,
		      char *msg, uint64_t now)
{
	unsigned int idx = 0, a = 0, b = 0;
	struct client *c;
	char type = msg[0];
	int slot = lookup(s, from);

	if (sscanf(msg + 1, "%u %u %u", &idx, &a, &b) < 1 ||
	    idx >= UDP_MAX_CLIENTS)
		return;
	if (slot < 0) {
		if (type != 'D' || !s->nfree)
			return;		/* only data opens a session */
		slot = s->free_list[--s->nfree];
		c = &s->cl[slot];
		memset(c, 0, sizeof(*c));
		c->used = true;
		c->addr = *from;
		c->idx = idx;
		c->next = s->hash[addr_hash(from)];
		s->hash[addr_hash(from)] = slot;
		c->hashed = true;
		s->live++;
		s->rep->registered[idx]++;
		if (s->o->verbose)
			printf("client %u (%s:%u) connected, slot %d\n", idx,
			       inet_ntoa(from->sin_addr), ntohs(from->sin_port),
			       slot);
	}
	c = &s->cl[slot];
	c->last_rx = now;
	switch (type) {
	case 'D':
		c->rx++;
		queue_op(s, TIMERRING_OP_MODIFY, slot, T_IDLE,
			 s->o->idle_ms * MSEC, false);
		if (!c->req_seq && (b || c->rx % s->o->req_every == 1)) {
			c->retries = 0;
			send_req(s, slot);
		}
		break;
	case 'A':
		queue_op(s, TIMERRING_OP_MODIFY, slot, T_IDLE,
			 s->o->idle_ms * MSEC, false);
		if (a && a == c->req_seq) {
			c->req_seq = 0;
			if (c->rexmit_armed) {
				queue_op(s, TIMERRING_OP_CANCEL, slot, T_REXMIT,
					 0, false);
				c->rexmit_armed = false;
				s->rep->cancels_ok++;
			}
		}
		break;
	case 'B':
		s->rep->byes[idx]++;
		if (s->o->verbose)
			printf("client %u said bye\n", idx);
		drop_client(s, slot);
		break;
	}
}

static void read_socket(struct server *s)
{
	struct mmsghdr mm[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_in from[RECV_BATCH];
	char buf[RECV_BATCH][MSG_MAX];
	char ctl[RECV_BATCH][CMSG_SPACE(sizeof(uint32_t))];
	struct cmsghdr *cm;
	int n, i;

	do {
		for (i = 0; i < RECV_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = MSG_MAX - 1;
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
			/* SO_RXQ_OVFL: datagrams dropped so far (full buffer) */
			for (cm = CMSG_FIRSTHDR(&mm[i].msg_hdr); cm;
			     cm = CMSG_NXTHDR(&mm[i].msg_hdr, cm)) {
				uint32_t d;

				if (cm->cmsg_level != SOL_SOCKET ||
				    cm->cmsg_type != SO_RXQ_OVFL)
					continue;
				memcpy(&d, CMSG_DATA(cm), sizeof(d));
				if (d > s->rep->rx_drops)
					s->rep->rx_drops = d;
			}
			buf[i][mm[i].msg_len] = '\0';
			s->rep->packets++;
			on_packet(s, &from[i], buf[i], udp_now());
		}
	} while (n == RECV_BATCH);
}

static void on_cqe(struct server *s, const struct io_uring_cqe *cqe)
{
	unsigned int id = timerring_cqe_id(cqe), slot = id / 2, kind = id & 1;
	unsigned int gen = timerring_cqe_gen(cqe);
	struct client *c = &s->cl[slot];
	/*
	 * Read the clock per CQE: a submit in this loop (a full op batch)
	 * may post CQEs of timers that fired after the loop began.
	 */
	uint64_t now = udp_now();

	s->rep->cqes++;
	if (slot >= s->nslots || (cqe->user_data & 1) != kind) {
		s->rep->bad_cqes++;
		return;
	}
	if (kind == T_REXMIT) {
		if (c->rexmit_cancelled_gen == (gen | 0x10000)) {
			/* The arm we cancelled: only fine if CANCEL missed. */
			if (!c->rexmit_cancel_raced)
				s->rep->bad_cqes++;
			c->rexmit_cancelled_gen = 0;
			return;
		}
		if (!c->used || c->closing || !c->rexmit_armed ||
		    gen != c->rexmit_gen) {
			s->rep->stale++;
			return;
		}
		if (cqe->user_data >> 32 != c->idx)
			s->rep->bad_cqes++;
		c->rexmit_armed = false;
		if (!c->req_seq || c->retries >= s->o->max_rexmit)
			return;
		c->retries++;
		s->rep->rexmits[c->idx]++;
		send_req(s, slot);
		return;
	}
	if (!c->used || c->closing || gen != c->idle_gen) {
		s->rep->stale++;
		return;
	}
	if (cqe->user_data >> 32 != c->idx)
		s->rep->bad_cqes++;
	/* The idle timeout: the client is gone. */
	if (now - c->last_rx + s->tr.params.resolution_ns <
	    s->o->idle_ms * MSEC && s->rep->early++ < 5)
		printf("# early: client %u slot %u gen %u: idle %llu us < %u ms (%u packets, user_data 0x%llx)\n",
		       c->idx, slot, gen,
		       (unsigned long long)((now - c->last_rx) / 1000),
		       s->o->idle_ms, c->rx,
		       (unsigned long long)cqe->user_data);
	if (now - c->last_rx > s->rep->max_idle_ns)
		s->rep->max_idle_ns = now - c->last_rx;
	s->rep->expired[c->idx]++;
	if (s->o->verbose)
		printf("client %u (%s:%u) idle for %llu ms: dropped\n",
		       c->idx, inet_ntoa(c->addr.sin_addr),
		       ntohs(c->addr.sin_port),
		       (unsigned long long)((now - c->last_rx) / MSEC));
	drop_client(s, slot);
}

static void reap(struct server *s)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	if (timerring_cq_overflow_pending(&s->tr))
		timerring_wait(&s->tr, 0, 0);
	timerring_for_each_cqe(&s->tr, head, cqe) {
		on_cqe(s, cqe);
		n++;
	}
	timerring_cq_advance(&s->tr, n);
}

int udp_server_socket(unsigned short port, unsigned short *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, rcvbuf = 8 << 20, one = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A big buffer (beyond rmem_max if we may), and count drops. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		int e = errno;

		close(fd);
		return -e;
	}
	*bound = ntohs(a.sin_port);
	return fd;
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
	struct timerring_params p = {
		.max_timers = 2 * UDP_MAX_CLIENTS,
		.clockid = CLOCK_MONOTONIC,
		.resolution_ns = MSEC,
		.numa_node = TIMERRING_NODE_CURRENT,
	};
	struct epoll_event ev, evs[8];
	struct timerring_stats st;
	uint64_t end = 0, start = udp_now(), client_done = 0;
	struct server *s;
	int ep, i, n, ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = o;
	s->rep = rep;
	s->sock = sock;
	s->nslots = UDP_MAX_CLIENTS;
	s->cl = calloc(s->nslots, sizeof(*s->cl));
	s->free_list = calloc(s->nslots, sizeof(int));
	if (!s->cl || !s->free_list) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < HASH_SIZE; i++)
		s->hash[i] = -1;
	for (i = s->nslots - 1; i >= 0; i--)
		s->free_list[s->nfree++] = i;

	ret = timerring_open(&s->tr, &p);
	if (ret < 0) {
		rep->setup_error = ret;
		goto out_free;
	}
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
		end = start + o->duration_ms * MSEC;

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
		submit(s);
		reap(s);
		submit(s);
		if (client_done && !end) {
			uint64_t now = udp_now();

			/* Every session over, or a generous cap. */
			if (!s->live)
				end = now + o->idle_ms * MSEC;
			else if (now - client_done > 50 * o->idle_ms * MSEC +
						     10000 * MSEC)
				end = now;
		}
	}
	close(ep);
	if (!timerring_stats(&s->tr, &st)) {
		rep->armed_now_end = st.armed_now;
		rep->expired_total_end = st.expired_total;
	}
	timerring_close(&s->tr);
	ret = 0;
out_free:
	free(s->free_list);
	free(s->cl);
	free(s);
	return ret;
}

#ifndef UDP_NO_MAIN
static void on_signal(int sig)
{
	(void)sig;
	srv_stop = 1;
}

int main(int argc, char **argv)
{
	static struct udp_report rep;
	struct udp_opts o;
	unsigned short port;
	unsigned int i, clients = 0, expired = 0;
	int c, sock, ret;

	udp_default_opts(&o);
	while ((c = getopt(argc, argv, "p:i:r:t:vh")) != -1) {
		switch (c) {
		case 'p':
			o.port = atoi(optarg);
			break;
		case 'i':
			o.idle_ms = atoi(optarg);
			break;
		case 'r':
			o.rexmit_ms = atoi(optarg);
			break;
		case 't':
			o.duration_ms = atoi(optarg) * 1000;
			break;
		case 'v':
			o.verbose = 1;
			break;
		default:
			fprintf(stderr,
				"usage: udp_server [-p PORT] [-i IDLE_MS] [-r REXMIT_MS] [-t SECONDS] [-v]\n");
			return 2;
		}
	}
	if (!o.idle_ms || !o.rexmit_ms) {
		fprintf(stderr, "udp_server: timeouts must be > 0\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sock = udp_server_socket(o.port, &port);
	if (sock < 0) {
		fprintf(stderr, "udp_server: bind: %s\n", strerror(-sock));
		return 1;
	}
	printf("udp_server: listening on 127.0.0.1:%u, idle timeout %u ms, retransmit %u ms\n",
	       port, o.idle_ms, o.rexmit_ms);
	fflush(stdout);
	ret = udp_server_run(&o, sock, -1, &rep);
	if (ret < 0) {
		fprintf(stderr, "udp_server: %s: %s\n", TIMERRING_DEV_PATH,
			strerror(-ret));
		return 1;
	}
	for (i = 0; i < UDP_MAX_CLIENTS; i++) {
		clients += rep.registered[i];
		expired += rep.expired[i];
	}
	printf("udp_server: %llu packets, %u sessions, %u idle expirations, %llu ops in %llu batches, %u stale CQEs\n",
	       (unsigned long long)rep.packets, clients, expired,
	       (unsigned long long)rep.ops, (unsigned long long)rep.batches,
	       rep.stale);
	return 0;
}
#endif
