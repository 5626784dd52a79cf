// SPDX-License-Identifier: GPL-2.0
/*
 * The batch kernels alone (bench -K [reps]): ns per op of every phase, for
 * each implementation this CPU runs, at batch sizes 256, 1024, 4096 and
 * 8192. The best of several runs is printed, as a Markdown table. The
 * kernels within the driver's whole path are in bench.c.
 */
#include <string.h>
#include <time.h>
#include "tr_impls.h"

#define LIVE		(1U << 20)
#define RES_NS		1000000ULL
#define MAXB		8192
#define NOPS		(1U << 14)	/* e2e: each batch other ids */

static const u32 bsizes[] = { 256, 1024, 4096, 8192 };

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static u64 elapsed0 = 1000, now0 = 1000 * RES_NS;
static struct timerring_op *ops;
static struct tr_prep_out *out;
static u64 *exps;
static u16 *where;
static u32 *idx, *ids, *cflags;
static u64 *uds;
static struct tr_cqe *ring;
static u32 ring_tail;
static volatile u64 sink;

/* A batch of MODIFYs of random live ids, relative expiries up to 3 h */
static void fill_ops(u32 n)
{
	u32 i;

	for (i = 0; i < n; i++) {
		struct timerring_op *op = &ops[i];

		memset(op, 0, sizeof(*op));
		op->opcode = TIMERRING_OP_MODIFY;
		op->id = rnd_below(LIVE);
		op->expiry = rnd_below(10800ULL * 1000000000ULL);
		op->user_data = i;
	}
}

static void run_prep(const struct tr_batch_impl *im,
		     const struct timerring_op *bops, u32 n)
{
	struct tr_prep p = { .now_ns = now0, .res_ns = RES_NS,
			     .max_ids = LIVE };
	struct tr_recip r;
	u32 pos;

	tr_recip_init(&r, RES_NS);
	for (pos = 0; pos < n; pos += TR_BATCH_CHUNK) {
		u32 m = min_t(u32, n - pos, TR_BATCH_CHUNK);

		im->prep(&p, &r, bops + pos, 0, m, out);
		sink += out->tick[m - 1];
	}
}

/* The seed's prep: two 64-bit divisions per op (tr_prep_ref). */
static void prep_div(const struct tr_prep *p, const struct tr_recip *r,
		     const struct timerring_op *o, u32 i0, u32 i1,
		     struct tr_prep_out *po)
{
	tr_prep_ref(p, o, i1, po);
}

static const struct tr_batch_impl seed_impl = {
	.name = "scalar, div (seed)",
	.impl = TIMERRING_IMPL_SCALAR,
	.prep = prep_div,
	.place = tr_place_scalar,
	.scan_due = tr_scan_due_scalar,
	.cqe_fill = tr_cqe_fill_scalar,
};

/* the seed's prep first, then the table of implementations */
#define NIMPL	(1 + TR_NR_HARNESS_IMPLS)

static const struct tr_batch_impl *impl_at[NIMPL];

enum { PH_PREP, PH_PLACE, PH_SCAN, PH_CQE, PH_DRAIN, PH_NR };
static const char *const ph_name[PH_NR] = {
	"prep (validate + ns->tick)", "place (level/slot)",
	"scan_due (compress)", "cqe_fill",
	"drain steps (scan_due + place + cqe_fill, 64 per step)",
};

/* Sliding windows over 4 * MAXB expiries: no pattern to learn. */
static u32 win;

static void run_phase(const struct tr_batch_impl *im, int ph, u32 n,
		      u32 opos)
{
	const u64 *e = exps + win;

	win = (win + 1000) % (3 * MAXB);
	switch (ph) {
	case PH_PREP:
		run_prep(im, ops + opos, n);
		break;
	case PH_PLACE:
		im->place(elapsed0, e, n, where);
		sink += where[n - 1];
		break;
	case PH_SCAN:
		sink += im->scan_due(elapsed0 + 5000, e, n, idx);
		break;
	case PH_CQE:
		im->cqe_fill(ring, 16383, ring_tail, ids, uds, cflags, n);
		ring_tail += n;
		break;
	case PH_DRAIN: {
		/* what wheel.c runs per drain step, on a cascading slot */
		u32 i, k;

		for (i = 0; i < n; i += TR_DRAIN_BATCH) {
			k = im->scan_due(elapsed0 + 32, e + i,
					 TR_DRAIN_BATCH, idx);
			im->place(elapsed0, e + i, TR_DRAIN_BATCH, where);
			im->cqe_fill(ring, 16383, ring_tail, ids + i, uds + i,
				     cflags + i, k);
			ring_tail += k;
		}
		sink += where[TR_DRAIN_BATCH - 1];
		break;
	}
	}
}

int bench_kernels(int reps);

int bench_kernels(int reps)
{
	double res[PH_NR][NIMPL][ARRAY_SIZE(bsizes)];
	u32 i, b;
	int ph, im;

	ops = xaligned(64, NOPS * sizeof(*ops));
	out = xaligned(64, sizeof(*out));
	exps = xaligned(64, 4 * MAXB * 8);
	where = xaligned(64, MAXB * 2);
	idx = xaligned(64, MAXB * 4);
	ids = xaligned(64, MAXB * 4);
	cflags = xaligned(64, MAXB * 4);
	uds = xaligned(64, MAXB * 8);
	ring = xaligned(64, 16384 * sizeof(*ring));
	if (reps <= 0)
		reps = 7;
	impl_at[0] = &seed_impl;
	for (i = 0; i < TR_NR_HARNESS_IMPLS; i++)
		impl_at[i + 1] = tr_harness_impls[i];
	for (i = 0; i < 4 * MAXB; i++)
		exps[i] = elapsed0 + rnd_below(10000);
	for (i = 0; i < MAXB; i++) {
		ids[i] = rnd_below(LIVE);
		cflags[i] = rnd();
		uds[i] = rnd();
	}
	for (ph = 0; ph < PH_NR; ph++)
		for (im = 0; im < (int)NIMPL; im++)
			for (b = 0; b < ARRAY_SIZE(bsizes); b++) {
				u32 n = bsizes[b];
				double best = 1e30;
				int k, loops = (1 << 17) / n;

				res[ph][im][b] = 0;
				if (!tr_harness_runs(impl_at[im]))
					continue;
				for (k = 0; k < reps; k++) {
					double t0, t;
					int l;

					fill_ops(NOPS);
					t0 = now_ns();
					for (l = 0; l < loops; l++)
						run_phase(impl_at[im], ph, n,
							  l * n % NOPS);
					t = (now_ns() - t0) / loops / n;
					if (t < best)
						best = t;
				}
				res[ph][im][b] = best;
			}

	printf("| phase | impl |");
	for (b = 0; b < ARRAY_SIZE(bsizes); b++)
		printf(" %u |", bsizes[b]);
	printf("\n|---|---|");
	for (b = 0; b < ARRAY_SIZE(bsizes); b++)
		printf("---|");
	printf("\n");
	for (ph = 0; ph < PH_NR; ph++)
		for (im = 0; im < (int)NIMPL; im++) {
			if (!tr_harness_runs(impl_at[im]) ||
			    (!im && ph != PH_PREP))
				continue;
			printf("| %s | %s |", ph_name[ph], impl_at[im]->name);
			for (b = 0; b < ARRAY_SIZE(bsizes); b++) {
				double s = res[ph][1][b], t = res[ph][im][b];

				if (im > 1)
					printf(" %.2f (x%.2f) |", t, s / t);
				else
					printf(" %.2f |", t);
			}
			printf("\n");
		}
	return 0;
}
