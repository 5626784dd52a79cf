/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The UDP example: a server that tracks clients by address with an idle
 * timeout and a retransmit timer per client (the sessions: udp_session.c;
 * the server loop: udp_server.c with epoll and TIMERRING_IOC_SUBMIT, or
 * udp_uring_server.c with io_uring), a load client simulating many
 * clients (udp_client.c) and a driver running a server and the client as
 * a test (udp_test.c, built as udp_test and udp_uring_test).
 *
 * The protocol, one text datagram per message:
 *	client -> server  "D <idx> <seq> <want>"	data; want=1 asks for
 *							a reply that needs an
 *							ack
 *	client -> server  "A <idx> <reqseq>"		ack of a request
 *	client -> server  "B <idx>"			bye: the client leaves
 *	server -> client  "R <reqseq>"			request: ack it
 * <idx> is the client's own number, for the reports only: the server
 * knows a client by its address.
 */
#ifndef _UDP_COMMON_H
#define _UDP_COMMON_H

#include <stdint.h>
#include <time.h>

#define UDP_MAX_CLIENTS		8192
#define MSEC			1000000ULL

struct udp_opts {
	unsigned short port;		/* server port, 0 = any */
	unsigned int clients;		/* client: number of clients */
	unsigned int idle_every;	/* client: idx % idle_every == 0 idles */
	unsigned int interval_ms;	/* client: send period of a client */
	unsigned int warmup_rounds;	/* client: rounds all clients are active */
	unsigned int run_rounds;	/* client: rounds before bye */
	unsigned int idle_ms;		/* server: idle timeout */
	unsigned int rexmit_ms;		/* server: retransmit timeout */
	unsigned int max_rexmit;	/* server: retransmits of one request */
	unsigned int req_every;		/* server: request every N data */
	unsigned int duration_ms;	/* server: 0 = until signal or ctl EOF */
	int no_slack;			/* server: idle timers without SLACK */
	int verbose;
	/*
	 * client: if not NULL, the longest time each client went without
	 * sending while active, in ns (shared with the test driver).
	 */
	uint64_t *max_gap_ns;
};

/* Defaults: small enough to run in a few seconds in a TCG VM. */
static inline void udp_default_opts(struct udp_opts *o)
{
	o->port = 0;
	o->clients = 256;
	o->idle_every = 3;
	o->interval_ms = 40;
	o->warmup_rounds = 6;
	o->run_rounds = 12;
	o->idle_ms = 200;
	o->rexmit_ms = 40;
	o->max_rexmit = 8;
	o->req_every = 4;
	o->duration_ms = 0;
	o->no_slack = 0;
	o->verbose = 0;
	o->max_gap_ns = NULL;
}

static inline int udp_is_idler(const struct udp_opts *o, unsigned int idx)
{
	return o->idle_every && idx % o->idle_every == 0;
}

static inline uint64_t udp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* What the server saw, per client idx (for the test driver). */
struct udp_report {
	unsigned int registered[UDP_MAX_CLIENTS];
	unsigned int expired[UDP_MAX_CLIENTS];	/* idle expirations */
	unsigned int byes[UDP_MAX_CLIENTS];
	unsigned int rexmits[UDP_MAX_CLIENTS];
	unsigned int early;		/* idle expirations before idle_ms */
	unsigned int bad_cqes;		/* CQE of a cancelled arm, or bad */
	unsigned int stale;		/* stale CQEs ignored (generation) */
	unsigned int raced_cancels;	/* CANCEL -ENOENT: CQE in flight */
	unsigned int rx_drops;		/* datagrams the server socket dropped */
	unsigned int tx_errors;		/* datagrams the server failed to send */
	unsigned int cancels_ok;	/* retransmit timers cancelled by acks */
	unsigned int ops_failed;	/* unexpected op failures */
	uint64_t packets;
	uint64_t cqes;
	uint64_t batches;
	uint64_t ops;
	uint64_t max_idle_ns;		/* longest idle time at expiry */
	uint64_t armed_now_end;		/* TIMERRING_IOC_STATS at the end */
	uint64_t expired_total_end;
	int setup_error;		/* -errno of the server's setup, or 0 */
	/* If set: the server cannot run here (no io_uring...), and why. */
	const char *skip_reason;
};

int udp_server_run(const struct udp_opts *o, int sock, int ctl_fd,
		   struct udp_report *rep);
int udp_client_run(const struct udp_opts *o);
int udp_server_socket(unsigned short port, unsigned short *bound);

#endif /* _UDP_COMMON_H */
