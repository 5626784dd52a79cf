// SPDX-License-Identifier: GPL-2.0
/*
 * udp_session: the client sessions shared by the UDP example servers
 * (udp_server.c, udp_uring_server.c). See udp_session.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "udp_session.h"

int udp_batch_init(struct udp_batch *b, unsigned int cap)
{
	/* Room for the results after the ops, as a URING_CMD wants. */
	b->ops = malloc((size_t)cap * (sizeof(*b->ops) + sizeof(__s32)));
	b->meta = calloc(cap, sizeof(*b->meta));
	b->nr = 0;
	b->cap = cap;
	if (!b->ops || !b->meta) {
		udp_batch_free(b);
		return -ENOMEM;
	}
	/*
	 * Touch every page: a URING_CMD issued inline finds its results'
	 * pages only if they are there, else it goes to an io_uring worker.
	 */
	memset(b->ops, 0, (size_t)cap * (sizeof(*b->ops) + sizeof(__s32)));
	return 0;
}

void udp_batch_free(struct udp_batch *b)
{
	free(b->ops);
	free(b->meta);
	b->ops = NULL;
	b->meta = NULL;
}

static unsigned int addr_hash(const struct sockaddr_in *a)
{
	uint32_t h = a->sin_addr.s_addr * 2654435761U ^
		     (uint32_t)a->sin_port * 40503U;

	return (h ^ (h >> 15)) & (UDP_HASH_SIZE - 1);
}

static int lookup(struct udp_sessions *s, const struct sockaddr_in *a)
{
	int i;

	for (i = s->hash[addr_hash(a)]; i >= 0; i = s->cl[i].next)
		if (s->cl[i].addr.sin_addr.s_addr == a->sin_addr.s_addr &&
		    s->cl[i].addr.sin_port == a->sin_port)
			return i;
	return -1;
}

static void unhash(struct udp_sessions *s, unsigned int slot)
{
	int *pp = &s->hash[addr_hash(&s->cl[slot].addr)];

	while (*pp >= 0 && *pp != (int)slot)
		pp = &s->cl[*pp].next;
	if (*pp == (int)slot)
		*pp = s->cl[slot].next;
	s->cl[slot].hashed = false;
}

static void queue_op(struct udp_sessions *s, unsigned char opcode,
		     unsigned int slot, unsigned char kind, uint64_t expiry,
		     bool free_after)
{
	struct udp_batch *b = &s->pending;
	struct udp_client *c = &s->cl[slot];
	__u8 flags = 0;

	if (kind == T_IDLE && !s->o->no_slack)
		flags = TIMERRING_OPF_SLACK;
	if (b->nr == b->cap && s->flush)
		s->flush(s);
	if (b->nr == b->cap) {
		/* The caller promised room: a bug, which the report shows. */
		s->rep->ops_failed++;
		return;
	}
	timerring_op_prep(&b->ops[b->nr], opcode, 2 * slot + kind, expiry,
			  opcode == TIMERRING_OP_CANCEL ? 0 : flags,
			  opcode == TIMERRING_OP_CANCEL ? 0 :
			  (uint64_t)c->idx << 32 | kind, 0);
	b->meta[b->nr].slot = slot;
	b->meta[b->nr].kind = kind;
	b->meta[b->nr].free_after = free_after;
	b->nr++;
	if (kind == T_IDLE)
		c->idle_queued++;
	else
		c->rexmit_queued++;
}

void udp_sess_results(struct udp_sessions *s, struct udp_batch *b,
		      const __s32 *res, unsigned int done)
{
	unsigned int i;

	s->rep->batches++;
	s->rep->ops += b->nr;
	for (i = 0; i < b->nr; i++) {
		const struct udp_op_meta *m = &b->meta[i];
		struct udp_client *c = &s->cl[m->slot];
		__s32 r = i < done ? res[i] : 0;

		if (m->kind == T_IDLE)
			c->idle_queued--;
		else
			c->rexmit_queued--;
		/* Ops past done were never processed (the submit failed). */
		if (i >= done)
			s->rep->ops_failed++;
		switch (i < done ? b->ops[i].opcode : TIMERRING_OP_LAST) {
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
	b->nr = 0;
}

static void send_req(struct udp_sessions *s, unsigned int slot)
{
	struct udp_client *c = &s->cl[slot];
	char msg[UDP_MSG_MAX];
	int len;

	if (!c->req_seq)
		c->req_seq = ++s->req_seq ? s->req_seq : ++s->req_seq;
	len = snprintf(msg, sizeof(msg), "R %u", c->req_seq);
	s->send(s, &c->addr, msg, len);
	queue_op(s, TIMERRING_OP_ARM, slot, T_REXMIT,
		 s->o->rexmit_ms * MSEC, false);
	c->rexmit_armed = true;
}

/*
 * Stop tracking a client: cancel its timers (the idle one may have fired
 * already: its CANCEL then fails harmlessly) and free the slot once the
 * batch holding the cancels is done, so no pending op sees a new owner.
 */
static void drop_client(struct udp_sessions *s, unsigned int slot)
{
	struct udp_client *c = &s->cl[slot];

	c->closing = true;
	unhash(s, slot);
	if (c->rexmit_armed) {
		queue_op(s, TIMERRING_OP_CANCEL, slot, T_REXMIT, 0, false);
		c->rexmit_armed = false;
	}
	queue_op(s, TIMERRING_OP_CANCEL, slot, T_IDLE, 0, true);
}

void udp_sess_packet(struct udp_sessions *s, const struct sockaddr_in *from,
		     char *msg, uint64_t now)
{
	unsigned int idx = 0, a = 0, b = 0;
	struct udp_client *c;
	char type = msg[0];
	int slot = lookup(s, from);

	s->rep->packets++;
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

void udp_sess_rx_drops(struct udp_sessions *s, struct msghdr *mh)
{
	struct cmsghdr *cm;
	uint32_t d;

	/* SO_RXQ_OVFL: datagrams dropped so far (full buffer) */
	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SO_RXQ_OVFL)
			continue;
		memcpy(&d, CMSG_DATA(cm), sizeof(d));
		if (d > s->rep->rx_drops)
			s->rep->rx_drops = d;
	}
}

void udp_sess_expired(struct udp_sessions *s, const struct io_uring_cqe *cqe)
{
	unsigned int id = timerring_cqe_id(cqe), slot = id / 2, kind = id & 1;
	unsigned int gen = timerring_cqe_gen(cqe);
	struct udp_client *c = &s->cl[slot];
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
		if (c->rexmit_queued) {
			/* Cancelled or re-armed by an op not applied yet. */
			s->rep->stale++;
			return;
		}
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
	if (!c->used || c->closing || c->idle_queued || gen != c->idle_gen) {
		s->rep->stale++;
		return;
	}
	if (cqe->user_data >> 32 != c->idx)
		s->rep->bad_cqes++;
	/* The idle timeout: the client is gone. */
	if (now - c->last_rx + s->resolution_ns < s->o->idle_ms * MSEC &&
	    s->rep->early++ < 5)
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

int udp_sess_init(struct udp_sessions *s, const struct udp_opts *o,
		  struct udp_report *rep, unsigned int batch_cap)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->rep = rep;
	s->resolution_ns = MSEC;
	s->nslots = UDP_MAX_CLIENTS;
	s->cl = calloc(s->nslots, sizeof(*s->cl));
	s->free_list = calloc(s->nslots, sizeof(int));
	if (!s->cl || !s->free_list || udp_batch_init(&s->pending, batch_cap)) {
		udp_sess_free(s);
		return -ENOMEM;
	}
	for (i = 0; i < UDP_HASH_SIZE; i++)
		s->hash[i] = -1;
	for (i = s->nslots - 1; i >= 0; i--)
		s->free_list[s->nfree++] = i;
	return 0;
}

void udp_sess_free(struct udp_sessions *s)
{
	udp_batch_free(&s->pending);
	free(s->free_list);
	free(s->cl);
	s->free_list = NULL;
	s->cl = NULL;
}

int udp_sess_open_timerring(struct udp_sessions *s, struct timerring *tr)
{
	struct timerring_params p = {
		.max_timers = 2 * UDP_MAX_CLIENTS,
		.clockid = CLOCK_MONOTONIC,
		.resolution_ns = MSEC,
		.numa_node = TIMERRING_NODE_CURRENT,
	};
	int ret = timerring_open(tr, &p);

	if (ret < 0) {
		s->rep->setup_error = ret;
		return ret;
	}
	s->resolution_ns = tr->params.resolution_ns;
	return 0;
}

void udp_sess_close_timerring(struct udp_sessions *s, struct timerring *tr)
{
	struct timerring_stats st;

	if (!timerring_stats(tr, &st)) {
		s->rep->armed_now_end = st.armed_now;
		s->rep->expired_total_end = st.expired_total;
	}
	timerring_close(tr);
}

void udp_sess_check_end(struct udp_sessions *s, uint64_t client_done,
			uint64_t *end)
{
	uint64_t now = udp_now(), idle = s->o->idle_ms * MSEC;

	if (!client_done || *end)
		return;
	/* Every session over, or a generous cap. */
	if (!s->live)
		*end = now + idle;
	else if (now - client_done > 50 * idle + 10000 * MSEC)
		*end = now;
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

static volatile sig_atomic_t *srv_stop;

static void on_signal(int sig)
{
	(void)sig;
	*srv_stop = 1;
}

/*
 * The command line of the servers; @stop is the flag that ends the loop
 * of udp_server_run(), set on SIGINT and SIGTERM.
 */
int udp_server_main(int argc, char **argv, const char *name,
		    volatile sig_atomic_t *stop)
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
				"usage: %s [-p PORT] [-i IDLE_MS] [-r REXMIT_MS] [-t SECONDS] [-v]\n",
				name);
			return 2;
		}
	}
	if (!o.idle_ms || !o.rexmit_ms) {
		fprintf(stderr, "%s: timeouts must be > 0\n", name);
		return 2;
	}
	srv_stop = stop;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sock = udp_server_socket(o.port, &port);
	if (sock < 0) {
		fprintf(stderr, "%s: bind: %s\n", name, strerror(-sock));
		return 1;
	}
	printf("%s: listening on 127.0.0.1:%u, idle timeout %u ms, retransmit %u ms\n",
	       name, port, o.idle_ms, o.rexmit_ms);
	fflush(stdout);
	ret = udp_server_run(&o, sock, -1, &rep);
	if (ret < 0) {
		fprintf(stderr, "%s: %s: %s\n", name,
			rep.skip_reason ? rep.skip_reason : TIMERRING_DEV_PATH,
			strerror(-ret));
		return 1;
	}
	for (i = 0; i < UDP_MAX_CLIENTS; i++) {
		clients += rep.registered[i];
		expired += rep.expired[i];
	}
	printf("%s: %llu packets, %u sessions, %u idle expirations, %llu ops in %llu batches, %u stale CQEs\n",
	       name, (unsigned long long)rep.packets, clients, expired,
	       (unsigned long long)rep.ops, (unsigned long long)rep.batches,
	       rep.stale);
	return 0;
}

