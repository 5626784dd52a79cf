// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of the batch kernels (not a test): ns per op of every phase,
 * for each implementation this CPU runs, at batch sizes 256, 1024, 4096
 * and 8192, and end to end (prepare + apply to a wheel holding 1M live
 * timers) as the submit path does it, chunk by chunk, minus the ioctl and
 * the copies. The best of several runs is printed, as a markdown table.
 *
 *	./simd_bench [reps]
 */
#include <string.h>
#include <time.h>
#include "simd_common.h"

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

static struct tr_core core;
static struct timerring_op *ops;
static struct tr_prep_out *out;
static u64 *exps;
static u16 *where;
static u32 *idx, *ids, *cflags;
static u64 *uds;
static struct tr_cqe *ring;
static u32 ring_tail;
static volatile u64 sink;

static void setup_core(void)
{
	u32 nr = LIVE / TR_CHUNK_IDS, i;
	struct tr_entry **dir = calloc(nr, sizeof(*dir));
	struct tr_period **ival = calloc(nr, sizeof(*ival));
	struct timerring_cq_offsets off;
	size_t sz;
	void *cq;

	tr_core_init(&core, LIVE, RES_NS, 1000, dir, ival);
	for (i = 0; i < nr; i++)
		tr_table_install(&core, i, xaligned(64, TR_CHUNK_IDS *
						    sizeof(struct tr_entry)));
	tr_cq_layout(4096, &off, &sz);
	cq = xaligned(4096, sz);
	memset(cq, 0, sz);
	tr_cq_init(&core.cq, cq, 4096, &off);
	tr_set_now(&core, 1000 * RES_NS);
	for (i = 0; i < LIVE; i++)
		tr_arm(&core, i, 1001 + rnd_below(10000000), i, 0, 0);
}

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

static bool prefetch2;

static void run_prep(const struct tr_batch_impl *im,
		     const struct timerring_op *bops, u32 n, bool apply)
{
	struct tr_prep p = { .now_ns = core.now_ns, .res_ns = RES_NS,
			     .max_ids = LIVE };
	struct tr_recip r;
	u32 pos, i;

	tr_recip_init(&r, RES_NS);
	for (pos = 0; pos < n; pos += TR_BATCH_CHUNK) {
		const struct timerring_op *c = bops + pos;
		u32 m = min(n - pos, TR_BATCH_CHUNK);

		im->prep(&p, &r, c, 0, m, out);
		if (!apply) {
			sink += out->tick[m - 1];
			continue;
		}
		for (i = 0; i < m; i++) {
			if (prefetch2 && i + 8 < m)
				__builtin_prefetch(tr_entry_get(&core,
							c[i + 8].id), 1);
			if (prefetch2 && i + 4 < m) {
				/* 2nd stage: the list neighbours it unlinks */
				const struct tr_entry *e =
					tr_entry_get(&core, c[i + 4].id);

				if (e->where != TR_L_NONE) {
					if (e->prev != TR_NIL)
						__builtin_prefetch(tr_entry(&core,
							e->prev), 1);
					if (e->next != TR_NIL)
						__builtin_prefetch(tr_entry(&core,
							e->next), 1);
				}
			}
			if (out->verdict[i])
				continue;
			if (!prefetch2 && i + 4 < m)
				__builtin_prefetch(tr_entry_get(&core,
							c[i + 4].id), 1);
			tr_modify(&core, c[i].id, out->tick[i],
				  c[i].user_data, NULL, 0);
		}
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

static const struct tr_batch_impl *const bimpls[] = {
	&seed_impl, &tr_batch_scalar, &tr_batch_avx2, &tr_batch_avx512,
};
#define NIMPL	ARRAY_SIZE(bimpls)

enum { PH_PREP, PH_PLACE, PH_SCAN, PH_CQE, PH_DRAIN, PH_E2E, PH_E2E_PF,
       PH_NR };
static const char *const ph_name[PH_NR] = {
	"prep (validate + ns->tick)", "place (level/slot)",
	"scan_due (compress)", "cqe_fill",
	"drain steps (scan_due + place + cqe_fill, 64 per step)",
	"end to end (prep + apply, 1M live)",
	"end to end, 2-stage prefetch of list neighbours",
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
		run_prep(im, ops + opos, n, false);
		break;
	case PH_PLACE:
		im->place(core.elapsed, e, n, where);
		sink += where[n - 1];
		break;
	case PH_SCAN:
		sink += im->scan_due(core.elapsed + 5000, e, n, idx);
		break;
	case PH_CQE:
		im->cqe_fill(ring, 16383, ring_tail, ids, uds, cflags, n);
		ring_tail += n;
		break;
	case PH_DRAIN: {
		/* what wheel.c runs per drain step, on a cascading slot */
		u32 i, k;

		for (i = 0; i < n; i += TR_DRAIN_BATCH) {
			k = im->scan_due(core.elapsed + 32, e + i,
					 TR_DRAIN_BATCH, idx);
			im->place(core.elapsed, e + i, TR_DRAIN_BATCH, where);
			im->cqe_fill(ring, 16383, ring_tail, ids + i, uds + i,
				     cflags + i, k);
			ring_tail += k;
		}
		sink += where[TR_DRAIN_BATCH - 1];
		break;
	}
	case PH_E2E:
	case PH_E2E_PF:
		prefetch2 = ph == PH_E2E_PF;
		run_prep(im, ops + opos, n, true);
		break;
	}
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 7;
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
	setup_core();
	for (i = 0; i < 4 * MAXB; i++)
		exps[i] = core.elapsed + rnd_below(10000);
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
				int k, loops = (ph >= PH_E2E ? 1 << 14 :
						1 << 17) / n;

				res[ph][im][b] = 0;
				if (!simd_cpu_has(bimpls[im]->impl))
					continue;
				for (k = 0; k < reps; k++) {
					double t0, t;
					int l;

					fill_ops(NOPS);
					t0 = now_ns();
					for (l = 0; l < loops; l++)
						run_phase(bimpls[im], ph, n,
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
			if (!simd_cpu_has(bimpls[im]->impl) ||
			    (!im && ph != PH_PREP && ph < PH_E2E))
				continue;
			printf("| %s | %s |", ph_name[ph], bimpls[im]->name);
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
