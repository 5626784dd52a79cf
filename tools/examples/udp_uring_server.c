// SPDX-License-Identifier: GPL-2.0
/*
 * udp_uring_server: udp_server on io_uring. The same sessions and timers
 * (udp_session.h: an idle and a retransmit timer per client, in one
 * timerring instance), with every system call of the event loop folded
 * into one io_uring_submit_and_wait() per round:
 *
 *	datagrams in	IORING_OP_RECVMSG, RECVS of them always posted
 *	datagrams out	IORING_OP_SENDMSG, one per datagram
 *	timer ops	IORING_OP_URING_CMD on the timerring fd: the ops of
 *			a round as one batch (timerring_prep_uring_cmd())
 *	expirations	IORING_OP_POLL_ADD multishot on the timerring fd
 *			wakes the wait; the CQEs themselves are read from
 *			the timerring's own mapped ring with liburing's CQ
 *			helpers (timerring_fill_io_uring_cq())
 *	the clock	IORING_OP_TIMEOUT, a tick for the end-of-run checks
 *
 * Batches are asynchronous here: a URING_CMD usually completes inside
 * io_uring_submit(), but one that has to allocate (the first arm of 128
 * ids, a new wheel page) runs later in an io_uring worker. So:
 *
 *  - one batch is in flight at a time, and ops queued meanwhile wait for
 *    its CQE: batches are applied in the order the ops were queued, and a
 *    CANCEL never overtakes the ARM it cancels;
 *  - the batch's memory (ops, then results) stays untouched until then;
 *  - an expiration read while its timer has an op queued or in flight is
 *    stale (udp_session.h): that op re-arms or cancels the timer.
 *
 *	udp_uring_server [-p PORT] [-i IDLE_MS] [-r REXMIT_MS] [-t SECONDS] [-v]
 *
 * Needs liburing (link with -luring) and a kernel whose io_uring has
 * IORING_OP_URING_CMD (5.19 and later).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <liburing.h>

#include "timerring.h"
#include "timerring_liburing.h"
#include "udp_common.h"
#include "udp_session.h"

#define RECVS		32	/* RECVMSG requests kept posted */
#define SENDS		1024	/* SENDMSG buffers */
#define REAP_MAX	256	/* expirations handled per round */
#define BATCH_CAP	16384	/* ops of one batch */
#define RING_SQES	512
#define RING_CQES	4096
#define TICK_MS		20

/* What a CQE of the io_uring is for: user_data = kind << 32 | index. */
enum { U_RECV = 1, U_SEND, U_POLL, U_TICK, U_CTL, U_CMD, U_CANCEL };
#define UDATA(kind, i)	((__u64)(kind) << 32 | (i))

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct recv_buf {
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_in from;
	char data[UDP_MSG_MAX];
	char ctl[CMSG_SPACE(sizeof(uint32_t))];	/* SO_RXQ_OVFL */
};

struct send_buf {
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_in to;
	char data[UDP_MSG_MAX];
	int next_free;
};

struct server {
	struct udp_sessions sess;
	struct timerring tr;
	struct io_uring ring;		/* the io_uring we submit to */
	struct io_uring tcq;		/* liburing's view of tr's CQ ring */
	struct udp_batch inflight;	/* the batch the kernel has */
	bool busy;			/* inflight is in flight */
	bool stopping;			/* post no more requests */
	unsigned int in_kernel;		/* requests not completed yet */
	int sock;
	int ctl_fd;
	char ctl_byte;
	uint64_t client_done;
	struct __kernel_timespec tick;
	struct recv_buf rx[RECVS];
	unsigned int parked[RECVS];	/* RECVMSGs held back, see on_recv */
	unsigned int nparked;
	struct send_buf tx[SENDS];
	int tx_free;			/* free list of tx, -1: none */
};

static volatile sig_atomic_t srv_stop;

/*
 * A free SQE, for a request that will complete with a CQE (counted in
 * in_kernel until then). When the SQ ring is full, submit what it holds.
 */
static struct io_uring_sqe *get_sqe(struct server *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe) {
		io_uring_submit(&s->ring);
		sqe = io_uring_get_sqe(&s->ring);
	}
	if (sqe)
		s->in_kernel++;
	return sqe;
}

static void post_recv(struct server *s, unsigned int i)
{
	struct recv_buf *r = &s->rx[i];
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe) {
		s->parked[s->nparked++] = i;
		return;
	}
	/* recvmsg() writes the lengths back: reset them every time. */
	memset(&r->mh, 0, sizeof(r->mh));
	r->iov.iov_base = r->data;
	r->iov.iov_len = sizeof(r->data) - 1;
	r->mh.msg_iov = &r->iov;
	r->mh.msg_iovlen = 1;
	r->mh.msg_name = &r->from;
	r->mh.msg_namelen = sizeof(r->from);
	r->mh.msg_control = r->ctl;
	r->mh.msg_controllen = sizeof(r->ctl);
	io_uring_prep_recvmsg(sqe, s->sock, &r->mh, 0);
	io_uring_sqe_set_data64(sqe, UDATA(U_RECV, i));
}

static void post_poll(struct server *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return;
	/* One CQE (IORING_CQE_F_MORE set) per wake-up of the timerring fd. */
	io_uring_prep_poll_multishot(sqe, s->tr.fd, POLLIN);
	io_uring_sqe_set_data64(sqe, UDATA(U_POLL, 0));
}

static void post_tick(struct server *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &s->tick, 0, 0);
	io_uring_sqe_set_data64(sqe, UDATA(U_TICK, 0));
}

static void post_ctl(struct server *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, s->ctl_fd, &s->ctl_byte, 1, 0);
	io_uring_sqe_set_data64(sqe, UDATA(U_CTL, 0));
}

/* The session layer's send hook: one SENDMSG, from a buffer of the pool. */
static void send_to(struct udp_sessions *ss, const struct sockaddr_in *to,
		    const char *msg, int len)
{
	struct server *s = ss->priv;
	struct io_uring_sqe *sqe;
	struct send_buf *t;
	int i = s->tx_free;

	sqe = i >= 0 && len <= UDP_MSG_MAX ? get_sqe(s) : NULL;
	if (!sqe) {
		ss->rep->tx_errors++;
		return;
	}
	t = &s->tx[i];
	s->tx_free = t->next_free;
	memcpy(t->data, msg, len);
	t->to = *to;
	memset(&t->mh, 0, sizeof(t->mh));
	t->iov.iov_base = t->data;
	t->iov.iov_len = len;
	t->mh.msg_iov = &t->iov;
	t->mh.msg_iovlen = 1;
	t->mh.msg_name = &t->to;
	t->mh.msg_namelen = sizeof(t->to);
	io_uring_prep_sendmsg(sqe, s->sock, &t->mh, 0);
	io_uring_sqe_set_data64(sqe, UDATA(U_SEND, i));
}

/*
 * Hand the queued ops to the kernel as one URING_CMD, if no batch is in
 * flight: the queue becomes the in-flight batch, and the SQE goes out
 * with the next io_uring_submit(), together with the network requests.
 */
static void submit_batch(struct server *s)
{
	struct udp_batch b = s->inflight;
	struct io_uring_sqe *sqe;

	if (s->busy || !s->sess.pending.nr)
		return;
	sqe = get_sqe(s);
	if (!sqe)
		return;
	s->inflight = s->sess.pending;
	s->sess.pending = b;
	s->sess.pending.nr = 0;
	timerring_prep_uring_cmd(sqe, s->tr.fd, s->inflight.ops,
				 s->inflight.nr, TIMERRING_URING_RESULTS);
	io_uring_sqe_set_data64(sqe, UDATA(U_CMD, 0));
	s->busy = true;
}

/* The CQE of the batch: res is the number of ops processed, or -errno. */
static void on_batch_done(struct server *s, int res)
{
	struct udp_batch *b = &s->inflight;

	if (res < 0 || (unsigned int)res != b->nr)
		fprintf(stderr, "udp_uring_server: URING_CMD: %s (%d of %u done)\n",
			res < 0 ? strerror(-res) : "short", res < 0 ? 0 : res,
			b->nr);
	udp_sess_results(&s->sess, b, timerring_uring_results(b->ops, b->nr),
			 res < 0 ? 0 : res);
	s->busy = false;
}

/*
 * A datagram in. While a batch is in flight and the queue is already
 * half full, the RECVMSG is not posted again (parked) until the queue
 * drains: so the queue never overflows, and the datagrams wait in the
 * socket meanwhile.
 */
static void on_recv(struct server *s, unsigned int i, int res)
{
	struct recv_buf *r = &s->rx[i];

	if (res >= 0) {
		udp_sess_rx_drops(&s->sess, &r->mh);
		r->data[res] = '\0';
		udp_sess_packet(&s->sess, &r->from, r->data, udp_now());
	} else if (res != -EAGAIN && res != -EINTR && res != -ECANCELED) {
		fprintf(stderr, "udp_uring_server: recvmsg: %s\n",
			strerror(-res));
	}
	if (s->stopping)
		return;
	if (s->busy && s->sess.pending.nr > BATCH_CAP / 2)
		s->parked[s->nparked++] = i;
	else
		post_recv(s, i);
}

/* Every CQE of the io_uring that is ready. */
static void handle_cqes(struct server *s)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&s->ring, head, cqe) {
		unsigned int kind = cqe->user_data >> 32;
		unsigned int i = (__u32)cqe->user_data;

		n++;
		/* A multishot poll stays armed while it sets F_MORE. */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			s->in_kernel--;
		switch (kind) {
		case U_RECV:
			on_recv(s, i, cqe->res);
			break;
		case U_SEND:
			if (cqe->res < 0)
				s->sess.rep->tx_errors++;
			s->tx[i].next_free = s->tx_free;
			s->tx_free = i;
			break;
		case U_CMD:
			on_batch_done(s, cqe->res);
			break;
		case U_POLL:
			/* Nothing to do: every round reads the ring. */
			if (!(cqe->flags & IORING_CQE_F_MORE) && !s->stopping)
				post_poll(s);
			break;
		case U_TICK:
			if (!s->stopping)
				post_tick(s);
			break;
		case U_CTL:
			if (cqe->res > 0 && !s->stopping)
				post_ctl(s);
			else if (cqe->res <= 0 && !s->client_done)
				s->client_done = udp_now();	/* EOF */
			break;
		}
	}
	io_uring_cq_advance(&s->ring, n);
}

/*
 * Expirations, read from the timerring ring through liburing's view of
 * it: at most REAP_MAX a round. Returns true if more are ready.
 */
static bool reap(struct server *s)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	/* Expirations that found the ring full wait for WAIT to post them. */
	if (timerring_cq_overflow_pending(&s->tr))
		timerring_wait(&s->tr, 0, 0);
	io_uring_for_each_cqe(&s->tcq, head, cqe) {
		if (n == REAP_MAX)
			break;
		udp_sess_expired(&s->sess, cqe);
		n++;
	}
	io_uring_cq_advance(&s->tcq, n);
	return io_uring_cq_ready(&s->tcq) > 0;
}

/* One round: submit everything queued, wait for anything, handle it. */
static int round_trip(struct server *s, bool nowait)
{
	int ret;

	submit_batch(s);
	ret = io_uring_submit_and_wait(&s->ring, nowait ? 0 : 1);
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
		return ret;
	handle_cqes(s);
	return 0;
}

/*
 * Wait until every request has completed, so that the kernel is done
 * with our buffers; give up on one that takes more than a second.
 */
static void drain(struct server *s)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;

	io_uring_submit(&s->ring);
	while (s->in_kernel &&
	       !io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts))
		handle_cqes(s);
	if (s->in_kernel)
		fprintf(stderr, "udp_uring_server: %u requests did not complete\n",
			s->in_kernel);
}

/*
 * io_uring, IORING_OP_URING_CMD and the other opcodes here must all be
 * there; if not, the report says why the server cannot run (the test
 * skips). A batch of no ops, which changes nothing, checks that the
 * timerring fd takes commands.
 */
static int setup_ring(struct server *s)
{
	static const int opcodes[] = {
		IORING_OP_URING_CMD, IORING_OP_RECVMSG, IORING_OP_SENDMSG,
		IORING_OP_POLL_ADD, IORING_OP_TIMEOUT, IORING_OP_READ,
		IORING_OP_ASYNC_CANCEL,
	};
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE,
		.cq_entries = RING_CQES,
	};
	struct io_uring_probe *probe;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	unsigned int i;
	int ret;

	ret = io_uring_queue_init_params(RING_SQES, &s->ring, &p);
	if (ret < 0) {
		s->sess.rep->skip_reason = "no io_uring";
		return ret;
	}
	probe = io_uring_get_probe_ring(&s->ring);
	for (i = 0; probe && i < ARRAY_SIZE(opcodes); i++)
		if (!io_uring_opcode_supported(probe, opcodes[i]))
			break;
	if (!probe || i < ARRAY_SIZE(opcodes)) {
		s->sess.rep->skip_reason = probe ?
			"io_uring lacks an opcode (URING_CMD needs 5.19)" :
			"no io_uring probe";
		io_uring_free_probe(probe);
		ret = -EOPNOTSUPP;
		goto out_exit;
	}
	io_uring_free_probe(probe);

	sqe = io_uring_get_sqe(&s->ring);
	if (!sqe) {
		ret = -EBUSY;
		goto out_exit;
	}
	timerring_prep_uring_cmd(sqe, s->tr.fd, s->inflight.ops, 0, 0);
	ret = io_uring_submit_and_wait(&s->ring, 1);
	if (ret >= 0)
		ret = io_uring_peek_cqe(&s->ring, &cqe);
	if (!ret) {
		ret = cqe->res;
		io_uring_cqe_seen(&s->ring, cqe);
	}
	if (ret == -EOPNOTSUPP || ret == -ENOTTY)
		s->sess.rep->skip_reason = "no URING_CMD on the timerring fd";
	if (ret < 0)
		goto out_exit;
	return 0;
out_exit:
	io_uring_queue_exit(&s->ring);
	return ret;
}

/*
 * Serve on @sock until a signal, o->duration_ms, or EOF on @ctl_fd (if
 * >= 0: the load client is done) and then the end of every session, as
 * udp_server.c does. @sock is made blocking: io_uring waits for it.
 */
int udp_server_run(const struct udp_opts *o, int sock, int ctl_fd,
		   struct udp_report *rep)
{
	uint64_t end = 0;
	struct io_uring_sqe *sqe;
	struct server *s;
	unsigned int i;
	bool more = false;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = udp_sess_init(&s->sess, o, rep, BATCH_CAP);
	if (ret)
		goto out_free;
	ret = udp_batch_init(&s->inflight, BATCH_CAP);
	if (ret)
		goto out_sess;
	s->sess.send = send_to;
	s->sess.flush = NULL;	/* on_recv() and the loop keep room */
	s->sess.priv = s;
	s->sock = sock;
	s->ctl_fd = ctl_fd;
	s->tick.tv_nsec = TICK_MS * MSEC;
	s->tx_free = -1;
	for (i = 0; i < SENDS; i++) {
		s->tx[i].next_free = s->tx_free;
		s->tx_free = i;
	}
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);

	ret = udp_sess_open_timerring(&s->sess, &s->tr);
	if (ret < 0)
		goto out_batch;
	ret = setup_ring(s);
	if (ret < 0) {
		rep->setup_error = ret;
		goto out_tr;
	}
	/* liburing's CQ helpers on the timerring ring: see reap(). */
	timerring_fill_io_uring_cq(&s->tr, &s->tcq);

	for (i = 0; i < RECVS; i++)
		post_recv(s, i);
	post_poll(s);
	post_tick(s);
	if (ctl_fd >= 0)
		post_ctl(s);
	if (o->duration_ms)
		end = udp_now() + o->duration_ms * MSEC;

	while (!srv_stop && (!end || udp_now() < end)) {
		/* Parked RECVMSGs go out again once the queue has room. */
		while (s->nparked && s->sess.pending.nr <= BATCH_CAP / 2)
			post_recv(s, s->parked[--s->nparked]);
		/* Wait only if no expiration is left unread in the ring. */
		ret = round_trip(s, more);
		if (ret < 0) {
			fprintf(stderr, "udp_uring_server: io_uring_submit_and_wait: %s\n",
				strerror(-ret));
			break;
		}
		/*
		 * Then the expirations: after the datagrams of this round,
		 * whose ops make the timers they re-arm read as stale.
		 * Not while the queue is half full: it must keep room.
		 */
		more = false;
		if (s->sess.pending.nr <= BATCH_CAP / 2)
			more = reap(s);
		udp_sess_check_end(&s->sess, s->client_done, &end);
	}

	/* The last batches, then cancel every request and wait for them. */
	while ((s->busy || s->sess.pending.nr) && !round_trip(s, false))
		;
	s->stopping = true;
	sqe = get_sqe(s);
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, UDATA(U_CANCEL, 0));
	}
	drain(s);
	io_uring_queue_exit(&s->ring);
	ret = 0;
out_tr:
	udp_sess_close_timerring(&s->sess, &s->tr);
out_batch:
	udp_batch_free(&s->inflight);
out_sess:
	udp_sess_free(&s->sess);
out_free:
	free(s);
	return ret;
}

#ifndef UDP_NO_MAIN
int main(int argc, char **argv)
{
	return udp_server_main(argc, argv, "udp_uring_server", &srv_stop);
}
#endif
