/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring-bench: what its files share.
 *
 *   util.c		clocks, CPU time, sleeping, errors, the RNG, the
 *			kernel log's complaints
 *   mem.c		/proc/meminfo and /proc/slabinfo snapshots
 *   json.c		the records (JSON + progress) and the summary table
 *   backends.c		the backend table: one entry per system
 *   be_timerring.c	timerring: ioctl, URING_CMD, the SQ ring
 *   be_io_uring.c	io_uring IORING_OP_TIMEOUT
 *   be_timerfd.c	timerfd + epoll
 *   workloads.c	every workload, once, against the backend table; the
 *			shards workload (timerring only, threads)
 *   main.c		options, shared data, the order of the phases
 */
#ifndef TIMERRING_BENCH_H
#define TIMERRING_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NSEC	1000000000LL

/* Systems: the index of a backend in backends[] and of its records. */
enum {
	SYS_TR,		/* timerring, TIMERRING_IOC_SUBMIT */
	SYS_UR,		/* io_uring IORING_OP_TIMEOUT */
	SYS_TFD,	/* timerfd + epoll */
	SYS_UCMD,	/* timerring, IORING_OP_URING_CMD */
	SYS_SQ,		/* timerring SQ ring, a doorbell per batch */
	SYS_SQPOLL,	/* timerring SQ ring, consumed by the kernel's polling */
	SYS_TRWARM,	/* timerring, TIMERRING_IOC_SUBMIT, warmed instance */
	SYS_SQCOLD,	/* timerring SQ ring, a doorbell per batch, not warmed */
	NSYS
};

/* Expiries of arm/modify: far away, so nothing fires while measuring. */
#define FAR_MIN_NS	(600 * NSEC)
#define FAR_SPAN_NS	(600 * NSEC)
#define CONN_IDLE_NS	(120 * NSEC)
#define CONN_RTX_NS	(60 * NSEC)

struct bench_cfg {
	unsigned int live;		/* live timers per workload */
	unsigned int tfd_max;		/* cap for timerfd (0: RLIMIT_NOFILE) */
	unsigned int batches[8];
	unsigned int nbatches;
	unsigned int conn_batch;
	unsigned int sample;		/* io_uring modify/cancel sample */
	unsigned int conn_sample;	/* io_uring conn events per batch */
	double spread_s;
	double conn_s;
	double conn_rate;		/* events/s, 0 = as fast as possible */
	unsigned int cq_entries;
	unsigned int shards;		/* of timerring instances, 0 = 1 */
	unsigned int systems;		/* bit mask */
	const char *workloads;		/* comma list or "all" */
	const char *json;
	const char *label;
	unsigned int seed;
	bool summary;			/* print the side-by-side table */
	bool quick;			/* no waiting for memory to settle */
};
extern struct bench_cfg cfg;

/* util.c */
int64_t now_ns(void);
int64_t cpu_ns(void);
int64_t sys_busy_ns(void);
void sleep_until(int64_t t);
void msleep(unsigned int ms);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void *xcalloc(size_t n, size_t sz);
void rnd_seed(unsigned int seed);
uint64_t rnd(void);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool want(const char *w);
int kcomplaints(void);
void rec_kc(int before);
int cmp_i64(const void *a, const void *b);

/* mem.c */
struct memsnap {
	long long memfree, slab, sunreclaim, vmalloc, pagetables, percpu;
	int nslab;
	struct slabent { char name[64]; long long bytes; } *slabs;
};
void mem_snap(struct memsnap *m);
void mem_free(struct memsnap *m);
void mem_settle(void);
long long slab_active(const char *name);
void rec_mem(int sys, unsigned int n, struct memsnap *a, struct memsnap *b,
	     double module_bytes);

/* json.c */
void json_open(void);
void json_write(const bool *avail, const char *const *why,
		const unsigned int *live, const char *tfd_limit);
void rec_begin(int sys, const char *wl, unsigned int batch);
void rec_num(const char *k, double v);
void rec_str(const char *k, const char *v);
void rec_end(void);
void sum_print(const bool *avail);

/*
 * The backends (backends.c), in the style of io_uring's opdef.c: one
 * entry of backends[] per system. A workload opens an instance of @n
 * timers with batches of up to @bmax ops, queues ops with arm / modify /
 * cancel (ids < n; the expiration's user_data is id + 1), and applies
 * them with submit. After submit the ops are applied, except for
 * backends with sync, after which they are.
 */
#define BF_ABS		1U	/* absolute expiry on CLOCK_MONOTONIC */
#define BF_SLACK	2U	/* may fire late (timerring OPF_SLACK) */

/* What a backend is, for the workloads. */
#define BE_BATCHED	1U	/* records carry the batch size */
#define BE_SAMPLED	2U	/* modify/cancel walk a list: sample them */
#define BE_TIMERRING	4U	/* the timerring family: cancel_at_* rows */
#define BE_CLOSE_ROW	8U	/* "close" record: the teardown cost */
#define BE_EXPIRY	16U	/* runs herd, spread and memory */
#define BE_CONN		32U	/* runs conn */
#define BE_TFDPAIR	64U	/* its passes alternate with timerfd's */

struct bctx {
	const struct backend *be;
	int sys;
	unsigned int n;		/* timers of the instance */
	unsigned int bmax;
	unsigned int errors;	/* failed ops / unexpected results */
};

struct backend {
	const char *name;	/* "system" of its records */
	const char *err_key;	/* record key of bctx.errors, or NULL */
	unsigned int flags;	/* BE_* */
	/* returns the instance, NULL with errno set */
	struct bctx *(*open)(int sys, unsigned int n, unsigned int bmax);
	void (*close)(struct bctx *x);
	void (*arm)(struct bctx *x, unsigned int id, int64_t exp,
		    unsigned int bf);
	void (*modify)(struct bctx *x, unsigned int id, int64_t exp,
		       unsigned int bf);
	void (*cancel)(struct bctx *x, unsigned int id);
	void (*submit)(struct bctx *x);
	void (*sync)(struct bctx *x);	/* optional */
	/*
	 * Consume @want expirations, or until @give_up passes without one;
	 * with @due, the lateness of each goes to lat[].
	 */
	unsigned int (*consume)(struct bctx *x, unsigned int want,
				const int64_t *due, int64_t give_up);
	/* optional: extra keys of record @wl, the instance's memory */
	void (*rec_extra)(struct bctx *x, const char *wl);
	/* optional: bring bctx.errors up to date before it is recorded */
	void (*count_errors)(struct bctx *x);
	double (*mem_bytes)(struct bctx *x);
	/* optional: the largest batch of conn events it takes (default b/2) */
	unsigned int (*conn_per)(unsigned int b);
};
extern const struct backend backends[NSYS];
extern const int sys_order[NSYS];

/* be_timerring.c */
struct bctx *trb_open_ioctl(int sys, unsigned int n, unsigned int bmax);
struct bctx *trb_open_ucmd(int sys, unsigned int n, unsigned int bmax);
struct bctx *trb_open_warm(int sys, unsigned int n, unsigned int bmax);
struct bctx *trb_open_sq(int sys, unsigned int n, unsigned int bmax);
struct bctx *trb_open_sq_cold(int sys, unsigned int n, unsigned int bmax);
void trb_close(struct bctx *x);
void trb_arm(struct bctx *x, unsigned int id, int64_t exp, unsigned int bf);
void trb_modify(struct bctx *x, unsigned int id, int64_t exp,
		unsigned int bf);
void trb_cancel(struct bctx *x, unsigned int id);
void trb_submit_ioctl(struct bctx *x);
void trb_submit_ucmd(struct bctx *x);
void trb_submit_sq(struct bctx *x);
void trb_submit_sqpoll(struct bctx *x);
void trb_sync_sq(struct bctx *x);
unsigned int trb_consume(struct bctx *x, unsigned int want,
			 const int64_t *due, int64_t give_up);
void trb_rec_extra(struct bctx *x, const char *wl);
double trb_mem_bytes(struct bctx *x);
unsigned long long trb_armed_now(struct bctx *x);
void trb_count_errors(struct bctx *x);
struct bctx *trb_open_shards(int sys, unsigned int n, unsigned int bmax,
			     unsigned int shards, unsigned int flags, bool warm);
struct bctx *trb_clone(struct bctx *x);
unsigned int trb_shards(struct bctx *x);

/* be_io_uring.c */
struct bctx *urb_open(int sys, unsigned int n, unsigned int bmax);
void urb_close(struct bctx *x);
void urb_arm(struct bctx *x, unsigned int id, int64_t exp, unsigned int bf);
void urb_modify(struct bctx *x, unsigned int id, int64_t exp,
		unsigned int bf);
void urb_cancel(struct bctx *x, unsigned int id);
void urb_submit(struct bctx *x);
unsigned int urb_consume(struct bctx *x, unsigned int want,
			 const int64_t *due, int64_t give_up);
void urb_rec_extra(struct bctx *x, const char *wl);
unsigned int urb_conn_per(unsigned int b);

/* be_timerfd.c */
extern const char *tfd_limit_note;
unsigned int tfd_capacity(unsigned int want);
void tfd_alloc(unsigned int n);
struct bctx *tfd_open(int sys, unsigned int n, unsigned int bmax);
void tfd_close(struct bctx *x);
void tfd_arm(struct bctx *x, unsigned int id, int64_t exp, unsigned int bf);
void tfd_cancel(struct bctx *x, unsigned int id);
void tfd_submit(struct bctx *x);
unsigned int tfd_consume(struct bctx *x, unsigned int want,
			 const int64_t *due, int64_t give_up);
void tfd_rec_extra(struct bctx *x, const char *wl);

/* workloads.c */
void run_ops(unsigned int b, const bool *avail);
void run_timerfd(const bool *avail);
void run_expiry(int sys, const char *wl);
void run_shards(void);

/* main.c: data shared by the workloads, allocated before any measurement */
extern unsigned int N;		/* live timers of the batched systems */
extern unsigned int NT;		/* live timers of timerfd */
extern int64_t *far_exp;	/* [N] relative expiry of arm */
extern int64_t *far_exp2;	/* [N] relative expiry of modify */
extern uint32_t *perm;		/* [N] random permutation of ids */
extern int64_t *lat;		/* [N] lateness samples */
extern uint32_t *conn_pick;	/* [N] random connections */
extern unsigned int conn_npick;
extern uint8_t *rtx_armed;	/* [N/2] */
extern double arm_ns_est[NSYS];	/* last measured arm cost, for margins */

#endif /* TIMERRING_BENCH_H */
