// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the workloads, each written once against the backend
 * table (backends.c). See tools/bench/README.md for their definitions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/timerring.h>

#include "bench.h"

enum { OP_ARM, OP_MODIFY, OP_CANCEL };
static const char *const op_name[] = { "arm", "modify", "cancel" };

static struct bctx *be_open(int sys, unsigned int n, unsigned int bmax)
{
	struct bctx *x = backends[sys].open(sys, n, bmax);

	if (!x)
		die("%s open: %m", backends[sys].name);
	x->be = &backends[sys];
	x->errors = 0;
	return x;
}

/* The batch size of @x's records (0 for a system without batches). */
static unsigned int rec_b(struct bctx *x, unsigned int b)
{
	return x->be->flags & BE_BATCHED ? b : 0;
}

static void rec_errors(struct bctx *x)
{
	if (!x->be->err_key)
		return;
	if (x->be->count_errors)
		x->be->count_errors(x);
	rec_num(x->be->err_key, x->errors);
}

static void rec_extra(struct bctx *x, const char *wl)
{
	if (x->be->rec_extra)
		x->be->rec_extra(x, wl);
}

static void be_sync(struct bctx *x)
{
	if (x->be->sync)
		x->be->sync(x);
}

/*
 * Ops of @kind over the indices [lo, hi) in batches of @b: arm id k with
 * far_exp[k]; modify id perm[k] with far_exp2[k]; cancel id perm[k]. Ids
 * beyond the instance (timerfd may have fewer) wrap.
 */
static void range(struct bctx *x, int kind, unsigned int lo, unsigned int hi,
		  unsigned int b)
{
	const struct backend *be = x->be;
	unsigned int i, j, n;

	for (i = lo; i < hi; i += n) {
		n = hi - i < b ? hi - i : b;
		for (j = i; j < i + n; j++) {
			if (kind == OP_ARM)
				be->arm(x, j, far_exp[j], 0);
			else if (kind == OP_MODIFY)
				be->modify(x, perm[j] % x->n, far_exp2[j], 0);
			else
				be->cancel(x, perm[j] % x->n);
		}
		be->submit(x);
	}
	be_sync(x);
}

/* When to schedule timers that must not fire before arming ends. */
static int64_t start_after_arming(int sys, unsigned int n)
{
	double est = arm_ns_est[sys] > 0 ? arm_ns_est[sys] : 20000;

	return now_ns() + (int64_t)(est * n * 2) + 500000000LL;
}

/* Lateness statistics of lat[0..n). */
static void rec_lat(unsigned int n)
{
	if (!n)
		return;
	qsort(lat, n, sizeof(lat[0]), cmp_i64);
	rec_num("late_p50_us", lat[n / 2] / 1e3);
	rec_num("late_p99_us", lat[(size_t)n * 99 / 100] / 1e3);
	rec_num("late_max_us", lat[n - 1] / 1e3);
}

/* ------------------------------------------------- arm, modify, cancel */

/*
 * One system in an interleaved pass: its instance, batch size, the name
 * of its records and what the pass measured.
 */
struct lane {
	struct bctx *x;
	unsigned int b;
	const char *suffix;	/* of the workload name of its records */
	int64_t ns;
	unsigned int ops;
	bool sampled;
};

static void rec_lane(struct lane *l, const char *wl)
{
	char name[32];

	snprintf(name, sizeof(name), "%s%s", wl, l->suffix);
	rec_begin(l->x->sys, name, rec_b(l->x, l->b));
	rec_num("ops", l->ops);
	rec_num("live", l->x->n);
	if (l->sampled)
		rec_num("sampled", 1);
	rec_num("ns_per_op", (double)l->ns / l->ops);
	rec_errors(l->x);
	rec_extra(l->x, name);
	rec_end();
}

/*
 * Cost of one batch of b cancels of armed ids among perm[lo, lo + n), with
 * the live count as it is (the ids are re-armed after each try): median of
 * 7 tries.
 */
static void cancel_batch(struct bctx *x, unsigned int b, unsigned int lo,
			 unsigned int n, const char *name)
{
	const struct backend *be = x->be;
	unsigned int m = b < n ? b : n, rep, j, fail = 0, saved;
	unsigned long long live = trb_armed_now(x);
	int64_t ns[7], t0;

	if (be->count_errors)
		be->count_errors(x);
	saved = x->errors;
	for (rep = 0; rep < 7; rep++) {
		if (be->count_errors)
			be->count_errors(x);
		x->errors = 0;
		for (j = 0; j < m; j++)
			be->cancel(x, perm[lo + (rep * m + j) % n]);
		t0 = now_ns();
		be->submit(x);
		be_sync(x);
		ns[rep] = now_ns() - t0;
		if (be->count_errors)
			be->count_errors(x);
		fail += x->errors;
		for (j = 0; j < m; j++) {
			unsigned int id = perm[lo + (rep * m + j) % n];

			be->arm(x, id, far_exp[id], 0);
		}
		be->submit(x);
		be_sync(x);
	}
	if (be->count_errors)
		be->count_errors(x);
	qsort(ns, 7, sizeof(ns[0]), cmp_i64);
	x->errors = fail;
	rec_begin(x->sys, name, b);
	rec_num("ops", m);
	rec_num("live", live);
	rec_num("ns_per_op", (double)ns[3] / m);
	rec_errors(x);
	rec_end();
	x->errors = saved;
}

/*
 * One pass of @kind over every lane, alternating in @slices slices so that
 * the systems see the same noise. A sampled lane does one op per slice
 * (modify and cancel only). With @low, the timerring lanes measure a
 * cancel batch at the last slice's live count first.
 */
static void pass(struct lane *l, unsigned int nl, int kind,
		 unsigned int slices, bool low)
{
	unsigned int k, i, lo, hi;
	int64_t t0;

	for (i = 0; i < nl; i++) {
		l[i].ns = 0;
		l[i].ops = 0;
		l[i].sampled = kind != OP_ARM &&
			       (l[i].x->be->flags & BE_SAMPLED);
		if (l[i].x->be->count_errors)
			l[i].x->be->count_errors(l[i].x);
		l[i].x->errors = 0;
	}
	for (k = 0; k < slices; k++) {
		for (i = 0; i < nl; i++) {
			struct bctx *x = l[i].x;

			if (l[i].sampled) {
				lo = kind == OP_MODIFY ? k : x->n - 1 - k;
				hi = lo + 1;
			} else {
				lo = (uint64_t)x->n * k / slices;
				hi = (uint64_t)x->n * (k + 1) / slices;
			}
			if (low && k == slices - 1 && slices > 1 &&
			    (x->be->flags & BE_TIMERRING))
				cancel_batch(x, l[i].b, lo, hi - lo,
					     "cancel_at_low");
			t0 = now_ns();
			range(x, kind, lo, hi, l[i].sampled ? 1 : l[i].b);
			l[i].ns += now_ns() - t0;
			l[i].ops += hi - lo;
		}
	}
	for (i = 0; i < nl; i++) {
		if (kind == OP_ARM && !*l[i].suffix)
			arm_ns_est[l[i].x->sys] = (double)l[i].ns / l[i].ops;
		rec_lane(&l[i], op_name[kind]);
		if (kind == OP_ARM && (l[i].x->be->flags & BE_TIMERRING) &&
		    !*l[i].suffix) {
			rec_begin(l[i].x->sys, "impl", l[i].b);
			rec_extra(l[i].x, "impl");
			rec_end();
		}
	}
}

/*
 * arm / modify / cancel at batch size b, every batched system, interleaved:
 * arm in 16 slices of the ids; modify and cancel in cfg.sample slices,
 * each sampled io_uring op (a list walk at N pending) alternating with
 * 1/sample of the others' passes. timerring: also one batch of random
 * cancels at N pending and at N/sample.
 */
void run_ops(unsigned int b, const bool *avail)
{
	struct lane l[NSYS];
	unsigned int nl = 0, i;

	for (i = 0; i < NSYS; i++) {
		int sys = sys_order[i];

		if (!avail[sys] || !(backends[sys].flags & BE_BATCHED))
			continue;
		memset(&l[nl], 0, sizeof(l[nl]));
		l[nl].x = be_open(sys, N, b);
		l[nl].b = b;
		l[nl].suffix = "";
		nl++;
	}
	if (!nl)
		return;
	pass(l, nl, OP_ARM, 16, false);
	pass(l, nl, OP_MODIFY, cfg.sample, false);
	for (i = 0; i < nl; i++)
		if (l[i].x->be->flags & BE_TIMERRING)
			cancel_batch(l[i].x, b, 0, N, "cancel_at_live");
	pass(l, nl, OP_CANCEL, cfg.sample, true);
	for (i = 0; i < nl; i++) {
		struct bctx *x = l[i].x;
		int sys = x->sys, kc;
		unsigned int left = x->n - l[i].ops;
		int64_t t0;

		if (!(x->be->flags & BE_CLOSE_ROW)) {
			x->be->close(x);
			continue;
		}
		/* teardown: the ring exit cancels what is left */
		kc = kcomplaints();
		t0 = now_ns();
		x->be->close(x);
		t0 = now_ns() - t0;
		mem_settle();
		rec_begin(sys, "close", b);
		rec_num("timers", left);
		rec_num("ns_per_timer", (double)t0 / left);
		rec_kc(kc);
		rec_end();
	}
	mem_settle();
}

/* ------------------------------------------------------- herd, spread */

/* herd (with the memory measurement: the herd arms every timer anyway) */
static void herd(struct bctx *x, struct memsnap *m0, unsigned int b)
{
	const struct backend *be = x->be;
	unsigned int i, j, n, got, N_ = x->n;
	struct memsnap m1;
	int64_t due, t0, t1, c0, s0;
	int kc;

	due = start_after_arming(x->sys, N_);
	for (i = 0; i < N_; i += n) {
		n = N_ - i < b ? N_ - i : b;
		for (j = i; j < i + n; j++)
			be->arm(x, j, due, BF_ABS);
		be->submit(x);
	}
	be_sync(x);
	t0 = now_ns();
	mem_snap(&m1);
	rec_mem(x->sys, N_, m0, &m1, be->mem_bytes ? be->mem_bytes(x) : 0);
	mem_free(&m1);

	kc = kcomplaints();
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	got = be->consume(x, N_, NULL, due + 60 * NSEC);
	t1 = now_ns();
	rec_begin(x->sys, "herd", rec_b(x, b));
	rec_num("timers", N_);
	rec_num("delivered", got);
	rec_num("lost", N_ - got);
	rec_errors(x);
	rec_num("armed_late", t0 > due);
	rec_num("ns_per_timer", (double)(t1 - due) / N_);
	rec_num("cpu_ns_per_timer", (double)(cpu_ns() - c0) / N_);
	rec_num("sys_cpu_ns_per_timer", (double)(sys_busy_ns() - s0) / N_);
	rec_num("wall_ms", (t1 - due) / 1e6);
	rec_extra(x, "herd");
	rec_kc(kc);
	rec_end();
}

static void spread(struct bctx *x, unsigned int b)
{
	const struct backend *be = x->be;
	unsigned int i, j, n, got, N_ = x->n;
	int64_t t0, span = (int64_t)(cfg.spread_s * NSEC), c0, s0, w0;
	int64_t *due = xcalloc(N_, sizeof(*due));

	t0 = start_after_arming(x->sys, N_);
	for (i = 0; i < N_; i++)
		due[i] = t0 + (int64_t)((double)span * i / N_);
	for (i = 0; i < N_; i += n) {
		n = N_ - i < b ? N_ - i : b;
		for (j = i; j < i + n; j++)
			be->arm(x, j, due[j], BF_ABS);
		be->submit(x);
	}
	be_sync(x);
	w0 = now_ns();
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	got = be->consume(x, N_, due, t0 + span + 60 * NSEC);
	rec_begin(x->sys, "spread", rec_b(x, b));
	rec_num("timers", N_);
	rec_num("spread_s", cfg.spread_s);
	rec_num("delivered", got);
	rec_num("armed_late", w0 > t0);
	rec_num("cpu_ns_per_exp", (double)(cpu_ns() - c0) / N_);
	rec_num("sys_cpu_ns_per_exp", (double)(sys_busy_ns() - s0) / N_);
	rec_extra(x, "spread");
	rec_lat(got);
	rec_end();
	free(due);
}

/* ---------------------------------------------------------------- conn */

/*
 * Per connection an idle timer (id 2c) and a retransmit timer (2c + 1),
 * all armed first; then every event re-arms the idle timer of a random
 * connection and arms its retransmit timer if idle, else cancels it, in
 * submits of the backend's number of events, for cfg.conn_s seconds.
 */
static void conn(struct bctx *x, unsigned int b)
{
	const struct backend *be = x->be;
	unsigned int c, C = x->n / 2, i, n, ev = 0, per, chunk = b / 2;
	int64_t t0, t1, c0, s0, end;

	per = be->conn_per ? be->conn_per(b) : b / 2;
	for (c = 0; c < C; c += n) {
		n = C - c < chunk ? C - c : chunk;
		for (i = c; i < c + n; i++) {
			be->arm(x, 2 * i, CONN_IDLE_NS, BF_SLACK);
			be->arm(x, 2 * i + 1, CONN_RTX_NS, 0);
			rtx_armed[i] = 1;
		}
		be->submit(x);
	}
	be_sync(x);
	if (be->count_errors)
		be->count_errors(x);
	x->errors = 0;
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	t0 = now_ns();
	end = t0 + (int64_t)(cfg.conn_s * NSEC);
	for (;;) {
		int64_t now = now_ns();

		if (now >= end && ev)
			break;
		if (cfg.conn_rate > 0 &&
		    ev >= (now - t0) / 1e9 * cfg.conn_rate) {
			msleep(1);
			continue;
		}
		for (i = 0; i < per; i++) {
			c = conn_pick[(ev + i) % conn_npick] % C;
			be->modify(x, 2 * c, CONN_IDLE_NS, BF_SLACK);
			if (rtx_armed[c])
				be->cancel(x, 2 * c + 1);
			else
				be->arm(x, 2 * c + 1, CONN_RTX_NS, 0);
			rtx_armed[c] ^= 1;
		}
		be->submit(x);
		ev += per;
	}
	be_sync(x);
	t1 = now_ns();
	rec_begin(x->sys, "conn", b);
	rec_num("connections", C);
	rec_num("live", x->n);
	rec_num("events", ev);
	rec_num("ns_per_event", (double)(t1 - t0) / ev);
	rec_num("cpu_ns_per_event", (double)(cpu_ns() - c0) / ev);
	rec_num("sys_cpu_ns_per_event", (double)(sys_busy_ns() - s0) / ev);
	rec_num("rate_target", cfg.conn_rate);
	rec_num("rate_achieved", ev / ((t1 - t0) / 1e9));
	rec_errors(x);
	rec_extra(x, "conn");
	rec_end();
}

/* ----------------------------------------------------------- the phases */

static void kernel_log_rec(int sys, const char *name, unsigned int b, int kc)
{
	rec_begin(sys, "kernel_log", b);
	rec_str("phase", name);
	rec_kc(kc);
	rec_end();
}

/*
 * timerfd: one set of fds for all its workloads. Its arm / modify / cancel
 * passes alternate in 16 slices with those of the BE_TFDPAIR systems at
 * batch cfg.conn_batch (records "*_tfdpair"), so that each pair sees the
 * same noise.
 */
void run_timerfd(const bool *avail)
{
	struct lane l[NSYS];
	struct memsnap m0;
	unsigned int nl = 0, i, b = cfg.conn_batch;
	int kc = kcomplaints();
	struct bctx *x;

	mem_settle();
	mem_snap(&m0);
	x = be_open(SYS_TFD, NT, b);
	if (want("ops")) {
		memset(l, 0, sizeof(l));
		l[nl].x = x;
		l[nl].b = b;
		l[nl++].suffix = "";
		for (i = 0; i < NSYS; i++) {
			int sys = sys_order[i];

			if (!avail[sys] || !(backends[sys].flags & BE_TFDPAIR))
				continue;
			l[nl].x = be_open(sys, N, b);
			l[nl].b = b;
			l[nl++].suffix = "_tfdpair";
		}
		pass(l, nl, OP_ARM, 16, false);
		pass(l, nl, OP_MODIFY, 16, false);
		pass(l, nl, OP_CANCEL, 16, false);
		for (i = 1; i < nl; i++)
			l[i].x->be->close(l[i].x);
	}
	if (want("herd"))
		herd(x, &m0, b);
	mem_free(&m0);
	if (want("spread"))
		spread(x, b);
	if (want("conn"))
		conn(x, b);
	x->be->close(x);
	mem_settle();
	kernel_log_rec(SYS_TFD, "timerfd", 0, kc);
}

/* One expiry or conn workload of one system, on an instance of its own. */
void run_expiry(int sys, const char *wl)
{
	unsigned int b = cfg.conn_batch;
	int kc = kcomplaints();
	struct memsnap m0;
	struct bctx *x;

	if (!strcmp(wl, "herd")) {
		mem_settle();
		mem_snap(&m0);
	}
	x = be_open(sys, N, b);
	if (!strcmp(wl, "herd")) {
		herd(x, &m0, b);
		mem_free(&m0);
	} else if (!strcmp(wl, "spread")) {
		spread(x, b);
	} else {
		conn(x, b);
	}
	x->be->close(x);
	mem_settle();
	kernel_log_rec(sys, wl, b, kc);
}

/* -------------------------------------------------------------- shards */

/*
 * Sharded instances (issue 14), timerring through the ioctl: instances of
 * 1 and 2 shards, measured in SHARD_ROUNDS rounds that alternate them;
 * each record has the median, min and max of the rounds.
 *   shards_submit  T = 1, 2 threads, each pinned to its own CPU, submit
 *                  batches of 256 ops to ONE instance: ARM of an idle id,
 *                  else MODIFY or CANCEL by halves, on random ids of the
 *                  thread's own (blocks of 4096 ids dealt out to the
 *                  threads, so that each thread's ids are in every shard;
 *                  with 2 shards also blocks of 128, so that each thread
 *                  has the ids of one shard), from 2/3 of the ids armed,
 *                  which is 1/3 of each op; far expiries, nothing fires.
 *                  live/2 ops per thread; ns per op of all threads
 *                  together over their wall clock. The instance is warmed
 *                  (every id armed once) before;
 *   shards_herd    every id due at one instant on a fresh instance (rings
 *                  of --cq-entries CQEs each): from the due instant to the
 *                  last CQE consumed, one consumer reading every ring;
 *   shards_batch   ARM of every id in random order in batches of 65536
 *                  ops by one thread, on warmed instances (then all
 *                  cancelled, untimed): 1 shard, and 2 shards as the
 *                  cost model chooses, inline (TIMERRING_SETUP_PAR_NEVER)
 *                  and in parallel (TIMERRING_SETUP_PAR_ALWAYS).
 * Then shards_ratios: the ratios of the medians.
 */
#define SHARD_ROUNDS	3
#define SHARD_OWN	4096U	/* ids dealt out to the threads at once */
#define SHARD_BATCH	256U
#define SHARD_BIG	65536U
#define SHARD_TH	2

enum { MIX_ARM, MIX_MODIFY, MIX_CANCEL };

struct mixop {
	uint32_t id;
	uint32_t kind;
};

struct submitter {
	pthread_t th;
	struct bctx *x;			/* a clone of the instance */
	const struct mixop *ops;
	unsigned int nops;
	pthread_barrier_t *bar;
	int64_t t0, t1;
};

/* One instance of the mix, and the state of its ids as the ops left it. */
struct shard_inst {
	struct bctx *x;
	unsigned int shards;
	uint8_t *armed;
};

static struct bctx *shard_open(unsigned int shards, unsigned int bmax,
			       unsigned int flags, bool warm)
{
	struct bctx *x = trb_open_shards(SYS_TR, N, bmax, shards, flags, warm);

	if (!x)
		die("timerring open, %u shards: %m", shards);
	x->be = &backends[SYS_TR];
	x->errors = 0;
	if (trb_shards(x) != (shards ? shards : 1))
		die("timerring: %u shards, not %u", trb_shards(x), shards);
	return x;
}

static void *submitter_fn(void *arg)
{
	struct submitter *s = arg;
	const struct backend *be = s->x->be;
	unsigned int i, j, n;

	pthread_barrier_wait(s->bar);
	s->t0 = now_ns();
	for (i = 0; i < s->nops; i += n) {
		n = s->nops - i < SHARD_BATCH ? s->nops - i : SHARD_BATCH;
		for (j = i; j < i + n; j++) {
			const struct mixop *o = &s->ops[j];

			if (o->kind == MIX_ARM)
				be->arm(s->x, o->id, far_exp[o->id], 0);
			else if (o->kind == MIX_MODIFY)
				be->modify(s->x, o->id, far_exp2[o->id], 0);
			else
				be->cancel(s->x, o->id);
		}
		be->submit(s->x);
	}
	s->t1 = now_ns();
	return NULL;
}

/* Every id armed once, then about 1/3 of them cancelled. */
static void mix_warm(struct shard_inst *si)
{
	const struct backend *be = si->x->be;
	unsigned int i, q = 0;

	for (i = 0; i < N; i++) {
		be->arm(si->x, i, far_exp[i], 0);
		si->armed[i] = 1;
		if (++q == si->x->bmax || i == N - 1) {
			be->submit(si->x);
			q = 0;
		}
	}
	for (i = 0, q = 0; i < N; i++) {
		if (!(rnd() % 3)) {
			be->cancel(si->x, i);
			si->armed[i] = 0;
			q++;
		}
		if (q == si->x->bmax || (i == N - 1 && q)) {
			be->submit(si->x);
			q = 0;
		}
	}
	if (si->x->errors)
		die("shards: warm-up, %u ops failed", si->x->errors);
}

/* @n ops of thread @t of @nt, ids in blocks of @blk: all succeed. */
static void mix_gen(struct shard_inst *si, struct mixop *ops, unsigned int n,
		    unsigned int t, unsigned int nt, unsigned int blk)
{
	unsigned int i, id;
	uint64_t r;

	for (i = 0; i < n; i++) {
		do
			id = rnd() % N;
		while ((id / blk) % nt != t);
		r = rnd();
		ops[i].id = id;
		if (!si->armed[id]) {
			ops[i].kind = MIX_ARM;
			si->armed[id] = 1;
		} else if (r & 1) {
			ops[i].kind = MIX_MODIFY;
		} else {
			ops[i].kind = MIX_CANCEL;
			si->armed[id] = 0;
		}
	}
}

/* @nt threads of @m ops on @si: ns per op of all; failed ops to *@err. */
static double mix_run(struct shard_inst *si, unsigned int nt,
		      unsigned int blk, struct mixop **ops, unsigned int m,
		      unsigned int *err)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct submitter s[SHARD_TH];
	pthread_barrier_t bar;
	int64_t t0 = 0, t1 = 0;
	unsigned int t;

	pthread_barrier_init(&bar, NULL, nt);
	for (t = 0; t < nt; t++) {
		pthread_attr_t attr;
		cpu_set_t set;

		mix_gen(si, ops[t], m, t, nt, blk);
		memset(&s[t], 0, sizeof(s[t]));
		s[t].x = trb_clone(si->x);
		s[t].ops = ops[t];
		s[t].nops = m;
		s[t].bar = &bar;
		CPU_ZERO(&set);
		CPU_SET(t % (ncpu > 0 ? ncpu : 1), &set);
		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (pthread_create(&s[t].th, &attr, submitter_fn, &s[t]))
			die("pthread_create: %m");
		pthread_attr_destroy(&attr);
	}
	for (t = 0; t < nt; t++) {
		pthread_join(s[t].th, NULL);
		if (!t || s[t].t0 < t0)
			t0 = s[t].t0;
		if (!t || s[t].t1 > t1)
			t1 = s[t].t1;
		*err += s[t].x->errors;
		s[t].x->be->close(s[t].x);
	}
	pthread_barrier_destroy(&bar);
	return (double)(t1 - t0) / ((double)m * nt);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of the rounds into the record. */
static double rec_rounds(const char *k, double *v, unsigned int n)
{
	char key[48];

	qsort(v, n, sizeof(*v), cmp_dbl);
	rec_num(k, v[n / 2]);
	snprintf(key, sizeof(key), "%s_min", k);
	rec_num(key, v[0]);
	snprintf(key, sizeof(key), "%s_max", k);
	rec_num(key, v[n - 1]);
	return v[n / 2];
}

/* Every id due at one instant: ms from then to the last CQE consumed. */
static double shard_herd(unsigned int shards, unsigned int *got,
			 unsigned int *late)
{
	unsigned int i, j, n, b = cfg.conn_batch;
	struct bctx *x = shard_open(shards, b, 0, false);
	const struct backend *be = x->be;
	int64_t due, t1;

	due = start_after_arming(SYS_TR, N);
	for (i = 0; i < N; i += n) {
		n = N - i < b ? N - i : b;
		for (j = i; j < i + n; j++)
			be->arm(x, j, due, BF_ABS);
		be->submit(x);
	}
	*late += now_ns() > due;
	*got += be->consume(x, N, NULL, due + 60 * NSEC);
	t1 = now_ns();
	if (x->errors)
		die("shards herd: %u ops failed", x->errors);
	be->close(x);
	return (t1 - due) / 1e6;
}

/* ARM of every id in random order in batches of SHARD_BIG: ns per op. */
static double shard_batch(struct bctx *x)
{
	const struct backend *be = x->be;
	unsigned int i, j, n;
	int64_t t0, t;

	t0 = now_ns();
	for (i = 0; i < N; i += n) {
		n = N - i < SHARD_BIG ? N - i : SHARD_BIG;
		for (j = i; j < i + n; j++)
			be->arm(x, perm[j], far_exp[perm[j]], 0);
		be->submit(x);
	}
	t = now_ns() - t0;
	for (i = 0; i < N; i += n) {
		n = N - i < SHARD_BIG ? N - i : SHARD_BIG;
		for (j = i; j < i + n; j++)
			be->cancel(x, perm[j]);
		be->submit(x);
	}
	return (double)t / N;
}

void run_shards(void)
{
	static const struct {
		unsigned int shards, threads, blk;
	} mix[] = {
		{ 1, 1, SHARD_OWN }, { 1, 2, SHARD_OWN }, { 2, 1, SHARD_OWN },
		{ 2, 2, SHARD_OWN }, { 2, 2, TIMERRING_SHARD_IDS },
	};
	enum { NMIX = sizeof(mix) / sizeof(mix[0]) };
	/* big batches: 1 shard; 2 shards learned, inline, in parallel */
	static const struct {
		unsigned int shards, flags;
		const char *way;
	} big[] = {
		{ 1, 0, "inline" }, { 2, 0, "learned" },
		{ 2, TIMERRING_SETUP_PAR_NEVER, "inline" },
		{ 2, TIMERRING_SETUP_PAR_ALWAYS, "parallel" },
	};
	enum { NBIG = sizeof(big) / sizeof(big[0]) };
	double mns[NMIX][SHARD_ROUNDS], med[NMIX], hms[2][SHARD_ROUNDS];
	double bns[NBIG][SHARD_ROUNDS], hmed[2], bmed[NBIG], arm_est;
	unsigned int merr[NMIX] = { 0 }, hgot[2] = { 0 }, hlate[2] = { 0 };
	unsigned int m = N / 2, r, c, k, berr[NBIG];
	struct shard_inst si[2];
	struct mixop *ops[SHARD_TH];
	struct bctx *bx[NBIG];
	int kc = kcomplaints(), kc1;

	for (k = 0; k < SHARD_TH; k++)
		ops[k] = xcalloc(m, sizeof(*ops[k]));
	for (k = 0; k < 2; k++) {
		si[k].shards = k + 1;
		si[k].x = shard_open(k + 1, SHARD_BATCH, 0, true);
		si[k].armed = xcalloc(N, 1);
		mix_warm(&si[k]);
	}
	for (r = 0; r < SHARD_ROUNDS; r++)
		for (c = 0; c < NMIX; c++)
			mns[c][r] = mix_run(&si[mix[c].shards - 1],
					    mix[c].threads, mix[c].blk, ops, m,
					    &merr[c]);
	for (k = 0; k < 2; k++) {
		si[k].x->be->close(si[k].x);
		free(si[k].armed);
	}
	for (k = 0; k < SHARD_TH; k++)
		free(ops[k]);
	for (c = 0; c < NMIX; c++) {
		rec_begin(SYS_TR, "shards_submit", SHARD_BATCH);
		rec_num("shards", mix[c].shards);
		rec_num("threads", mix[c].threads);
		rec_str("ids", mix[c].blk == SHARD_OWN ? "all_shards" :
			"own_shard");
		rec_num("ops", (double)m * mix[c].threads);
		rec_num("rounds", SHARD_ROUNDS);
		med[c] = rec_rounds("ns_per_op", mns[c], SHARD_ROUNDS);
		rec_num("ops_per_s", 1e9 / med[c]);
		rec_num("failed", merr[c]);
		rec_end();
	}
	mem_settle();

	/*
	 * The herd is due once it is armed: at the arm cost the mix just
	 * measured (without the ops workload the estimate is a guess of
	 * 20 us, and the herd's consumer gives up before a due time that far).
	 */
	arm_est = arm_ns_est[SYS_TR];
	arm_ns_est[SYS_TR] = med[0];
	kc1 = kcomplaints();
	for (r = 0; r < SHARD_ROUNDS; r++)
		for (k = 0; k < 2; k++) {
			hms[k][r] = shard_herd(k + 1, &hgot[k], &hlate[k]);
			mem_settle();
		}
	arm_ns_est[SYS_TR] = arm_est;
	for (k = 0; k < 2; k++) {
		rec_begin(SYS_TR, "shards_herd", cfg.conn_batch);
		rec_num("shards", k + 1);
		rec_num("timers", N);
		rec_num("rounds", SHARD_ROUNDS);
		rec_num("delivered", hgot[k]);
		rec_num("lost", (double)N * SHARD_ROUNDS - hgot[k]);
		rec_num("armed_late", hlate[k]);
		rec_num("cq_entries", cfg.cq_entries);
		hmed[k] = rec_rounds("wall_ms", hms[k], SHARD_ROUNDS);
		rec_num("ns_per_timer", hmed[k] * 1e6 / N);
		if (k)
			rec_kc(kc1);
		rec_end();
	}

	for (k = 0; k < NBIG; k++)
		bx[k] = shard_open(big[k].shards, SHARD_BIG, big[k].flags, true);
	for (r = 0; r < SHARD_ROUNDS; r++)
		for (k = 0; k < NBIG; k++)
			bns[k][r] = shard_batch(bx[k]);
	for (k = 0; k < NBIG; k++) {
		berr[k] = bx[k]->errors;
		bx[k]->be->close(bx[k]);
	}
	for (k = 0; k < NBIG; k++) {
		rec_begin(SYS_TR, "shards_batch", SHARD_BIG);
		rec_num("shards", big[k].shards);
		rec_str("way", big[k].way);
		rec_num("ops", N);
		rec_num("rounds", SHARD_ROUNDS);
		bmed[k] = rec_rounds("ns_per_op", bns[k], SHARD_ROUNDS);
		rec_num("failed", berr[k]);
		rec_end();
	}
	mem_settle();

	rec_begin(SYS_TR, "shards_ratios", 0);
	/* ops/s of 2 threads / 1 thread, on 2 shards and on 1 */
	rec_num("submit_2t_1t_shards2", med[2] / med[3]);
	rec_num("submit_2t_1t_shards2_own_shard", med[2] / med[4]);
	rec_num("submit_2t_1t_shards1", med[0] / med[1]);
	/* time of 1 shard / 2 shards */
	rec_num("herd_1s_2s", hmed[0] / hmed[1]);
	rec_num("batch_1s_2s", bmed[0] / bmed[1]);
	rec_num("batch_1s_2s_inline", bmed[0] / bmed[2]);
	rec_num("batch_1s_2s_parallel", bmed[0] / bmed[3]);
	rec_end();
	kernel_log_rec(SYS_TR, "shards", 0, kc);
}
