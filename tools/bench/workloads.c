// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the workloads, each written once against the backend
 * table (backends.c). See tools/bench/README.md for their definitions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
