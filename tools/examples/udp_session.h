/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sessions of the UDP example servers (udp_session.c): the client
 * table, the protocol of udp_common.h and the two timers per client:
 *
 *	idle timer	id 2 * slot	re-armed (MODIFY) on every packet;
 *					when it fires, the client is dropped
 *	retransmit	id 2 * slot + 1	armed when the server sends a
 *					request that needs an ack, cancelled
 *					by the ack; when it fires, the
 *					request is sent again and re-armed
 *
 * This part does no I/O. Its caller, the server loop, feeds it:
 *
 *	udp_sess_packet()	every datagram received
 *	udp_sess_expired()	every expiration CQE read from the ring
 *	udp_sess_results()	the results of a batch it submitted
 *
 * and it answers with datagrams to send (the send hook) and timer ops,
 * queued in s->pending for the caller to submit in one batch, however it
 * submits: udp_server.c with TIMERRING_IOC_SUBMIT, udp_uring_server.c
 * with an IORING_OP_URING_CMD.
 *
 * Every ARM/MODIFY result carries the id's generation: an expiration
 * whose generation is not the one last armed is stale (the client spoke
 * after its timer fired and before we read the CQE) and is ignored. So
 * is an expiration of a timer that has an op queued or in flight whose
 * result is not back yet: that op re-arms or cancels the timer, so the
 * client spoke, or is being dropped, after the timer fired.
 */
#ifndef _UDP_SESSION_H
#define _UDP_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "timerring.h"
#include "udp_common.h"

#define UDP_HASH_SIZE	16384		/* power of 2 */
#define UDP_MSG_MAX	64

enum { T_IDLE = 0, T_REXMIT = 1 };

struct udp_client {
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
	/* Ops of each timer queued or in flight, their results not back. */
	unsigned int idle_queued;
	unsigned int rexmit_queued;
	unsigned int req_seq;	/* outstanding request, 0 = none */
	unsigned int retries;
	unsigned int rx;
	/* Generation of the last retransmit arm a CANCEL ended (0: none). */
	unsigned int rexmit_cancelled_gen;
	bool rexmit_cancel_raced;
};

/* What an op of a batch is for. */
struct udp_op_meta {
	unsigned int slot;
	unsigned char kind;	/* T_IDLE / T_REXMIT */
	bool free_after;	/* the slot is freed once this op is done */
};

/*
 * A batch of timer ops and what each is for. ops has room for cap ops
 * followed by cap __s32 results: the layout of a URING_CMD batch with
 * TIMERRING_URING_RESULTS (see timerring_uring_results()).
 */
struct udp_batch {
	struct timerring_op *ops;
	struct udp_op_meta *meta;
	unsigned int nr;
	unsigned int cap;
};

struct udp_sessions {
	const struct udp_opts *o;
	struct udp_report *rep;
	uint64_t resolution_ns;		/* the instance's tick */
	struct udp_client *cl;
	unsigned int nslots;
	int *free_list;
	unsigned int nfree;
	int hash[UDP_HASH_SIZE];
	struct udp_batch pending;	/* ops queued, not submitted yet */
	unsigned int req_seq;
	unsigned int live;		/* sessions open */
	/* Send @len bytes of @msg to @to (the caller counts failures). */
	void (*send)(struct udp_sessions *s, const struct sockaddr_in *to,
		     const char *msg, int len);
	/*
	 * pending is full: submit it now (and udp_sess_results() it). NULL
	 * if the caller makes sure that pending never fills up.
	 */
	void (*flush)(struct udp_sessions *s);
	void *priv;			/* the caller's */
};

int udp_batch_init(struct udp_batch *b, unsigned int cap);
void udp_batch_free(struct udp_batch *b);

int udp_sess_init(struct udp_sessions *s, const struct udp_opts *o,
		  struct udp_report *rep, unsigned int batch_cap);
void udp_sess_free(struct udp_sessions *s);

/*
 * Open the timerring instance of the server into @tr (on failure,
 * rep->setup_error says why), and at the end read its counters into the
 * report and close it.
 */
int udp_sess_open_timerring(struct udp_sessions *s, struct timerring *tr);
void udp_sess_close_timerring(struct udp_sessions *s, struct timerring *tr);

/*
 * Once the load client is done (@client_done: when, or 0 while it runs),
 * set *@end, the end of the run: one idle timeout after the last session
 * ended, to catch stray expirations, or a generous cap.
 */
void udp_sess_check_end(struct udp_sessions *s, uint64_t client_done,
			uint64_t *end);

/* A datagram @msg (NUL-terminated) from @from, received at @now. */
void udp_sess_packet(struct udp_sessions *s, const struct sockaddr_in *from,
		     char *msg, uint64_t now);

/* Note the SO_RXQ_OVFL count (datagrams dropped) of a received @mh. */
void udp_sess_rx_drops(struct udp_sessions *s, struct msghdr *mh);

/* An expiration CQE from the timerring ring. */
void udp_sess_expired(struct udp_sessions *s, const struct io_uring_cqe *cqe);

/*
 * The outcome of a submitted batch @b: @done ops were processed, with
 * results @res (ARM/MODIFY generations, CANCEL errors). Frees the slots
 * of dropped clients whose last op is done and empties @b.
 */
void udp_sess_results(struct udp_sessions *s, struct udp_batch *b,
		      const __s32 *res, unsigned int done);

/*
 * main() of a server: options, the socket, udp_server_run() (the
 * server's own, see udp_common.h) until SIGINT or SIGTERM sets *@stop,
 * a summary.
 */
int udp_server_main(int argc, char **argv, const char *name,
		    volatile sig_atomic_t *stop);

#endif /* _UDP_SESSION_H */
