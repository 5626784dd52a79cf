// SPDX-License-Identifier: GPL-2.0
/*
 * Differential test of the batch kernels (module/batch*.c) in userspace:
 * every implementation this CPU runs (scalar, AVX2, AVX-512) against the
 * definition, tr_prep_ref(), and against the scalar place / scan_due /
 * cqe_fill, on random and edge-value inputs, over ranges that start and
 * end off the vector width. Also tr_recip_div() against the division.
 *
 *	kernels [-n iterations] [-s seed]	TAP
 * Built with -DTR_FUZZ_KERNELS it is a libFuzzer target instead, whose
 * input bytes are the ops, clock, offset and tick length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "core.h"
#include "batch.h"
#include "tr_impls.h"
#include "simd_gen.h"

#define ULL(x)	((unsigned long long)(x))

static const struct tr_batch_impl *impls[4];
static unsigned int nimpls;

static void find_impls(void)
{
	static const char *const names[] = { "scalar", "avx2", "avx512" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (tr_harness_impl(names[i]))
			impls[nimpls++] = tr_harness_impl(names[i]);
}

/* Compare every kernel with the definition; a message on mismatch. */
static int check_prep(const struct tr_prep *p, const struct timerring_op *ops,
		      u32 i0, u32 i1, char *msg, size_t len)
{
	static struct tr_prep_out want, got;
	struct tr_recip r;
	unsigned int k;
	u32 i;

	tr_prep_ref(p, ops, TR_BATCH_CHUNK, &want);
	tr_recip_init(&r, p->res_ns);
	for (k = 0; k < nimpls; k++) {
		memset(&got, 0x5a, sizeof(got));
		impls[k]->prep(p, &r, ops, i0, i1, &got);
		for (i = i0; i < i1; i++) {
			if (got.verdict[i] == want.verdict[i] &&
			    got.tick[i] == want.tick[i] &&
			    got.ival[i] == want.ival[i])
				continue;
			snprintf(msg, len, "%s prep [%u,%u) op %u {op %u fl %#x "
				 "resv %u id %u exp %llu ival %llu} now %llu "
				 "off %lld res %llu max %u: verdict %d tick %llu "
				 "ival %llu, ref %d %llu %llu", impls[k]->name,
				 i0, i1, i, ops[i].opcode, ops[i].flags,
				 ops[i].resv, ops[i].id, ULL(ops[i].expiry),
				 ULL(ops[i].interval), ULL(p->now_ns),
				 (long long)p->ns_off, ULL(p->res_ns),
				 p->max_ids, got.verdict[i], ULL(got.tick[i]),
				 ULL(got.ival[i]), want.verdict[i],
				 ULL(want.tick[i]), ULL(want.ival[i]));
			return -1;
		}
		/* nothing outside [i0, i1) written */
		for (i = 0; i < TR_BATCH_CHUNK; i++) {
			if (i >= i0 && i < i1)
				continue;
			if (got.verdict[i] != 0x5a5a5a5a ||
			    got.tick[i] != 0x5a5a5a5a5a5a5a5aULL ||
			    got.ival[i] != 0x5a5a5a5a5a5a5a5aULL) {
				snprintf(msg, len, "%s prep [%u,%u) wrote op %u",
					 impls[k]->name, i0, i1, i);
				return -1;
			}
		}
	}
	return 0;
}

static int check_place_scan(const u64 *exp, u32 n, u64 elapsed, u64 now,
			    char *msg, size_t len)
{
	static u16 wwant[TR_BATCH_CHUNK], wgot[TR_BATCH_CHUNK + 8];
	static u32 iwant[TR_BATCH_CHUNK], igot[TR_BATCH_CHUNK + 8];
	unsigned int k;
	u32 i, nw, ng;

	for (i = 0; i < n; i++)
		wwant[i] = tr_where_of(elapsed, exp[i]);
	nw = 0;
	for (i = 0; i < n; i++)
		if (exp[i] <= now)
			iwant[nw++] = i;
	for (k = 0; k < nimpls; k++) {
		impls[k]->place(elapsed, exp, n, wgot);
		for (i = 0; i < n; i++) {
			if (wgot[i] != wwant[i]) {
				snprintf(msg, len, "%s place n %u: exp %llu W "
					 "%llu -> %u, want %u", impls[k]->name,
					 n, ULL(exp[i]), ULL(elapsed), wgot[i],
					 wwant[i]);
				return -1;
			}
		}
		ng = impls[k]->scan_due(now, exp, n, igot);
		if (ng != nw || memcmp(igot, iwant, nw * sizeof(u32))) {
			snprintf(msg, len, "%s scan_due n %u now %llu: %u due, "
				 "want %u", impls[k]->name, n, ULL(now), ng, nw);
			return -1;
		}
	}
	return 0;
}

static int check_cqe_fill(const u32 *id, const u64 *ud, const u32 *fl, u32 n,
			  u32 mask, u32 tail, char *msg, size_t len)
{
	static struct tr_cqe want[1024], got[1024];
	unsigned int k;

	memset(want, 0x77, sizeof(want));
	tr_cqe_fill_scalar(want, mask, tail, id, ud, fl, n);
	for (k = 0; k < nimpls; k++) {
		memset(got, 0x77, sizeof(got));
		impls[k]->cqe_fill(got, mask, tail, id, ud, fl, n);
		if (memcmp(got, want, sizeof(got))) {
			snprintf(msg, len, "%s cqe_fill n %u mask %u tail %u",
				 impls[k]->name, n, mask, tail);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */

struct bytes {
	const u8 *p;
	size_t len, pos;
	u64 state;
};

static u64 next64(struct bytes *b)
{
	u64 v = 0;
	unsigned int i;

	if (!b->p)
		return tr_splitmix64(&b->state);
	for (i = 0; i < 8 && b->pos < b->len; i++)
		v |= (u64)b->p[b->pos++] << (8 * i);
	return v;
}

/* A u64 that is often an edge: 0, 1, small, near a multiple, near max. */
static u64 edgy(struct bytes *b, u64 res)
{
	u64 r = next64(b);

	switch (r & 15) {
	case 0:
		return 0;
	case 1:
		return (r >> 8) & 7;
	case 2:
		return U64_MAX - ((r >> 8) & 7);
	case 3:
		return res * ((r >> 8) & 0xffff) + ((r >> 32) & 3) - 1;
	case 4:
		return res - 1 + ((r >> 8) & 1);
	case 5:
		return (u64)S64_MAX + ((r >> 8) & 3) - 1;
	case 6:
		return (U64_MAX / res) * res + ((r >> 8) & 3) - 1;
	case 7:
		return r >> ((r >> 8) & 63);
	default:
		return next64(b);
	}
}

static const u64 res_list[] = { 1000, 1024, 4096, 1000000, 999999,
				1000000000, 1234567, 3, 1 << 20, 536870912 };

static void gen_case(struct bytes *b, struct tr_prep *p,
		     struct timerring_op *ops)
{
	u64 r = next64(b);
	u32 i;

	memset(p, 0, sizeof(*p));
	p->res_ns = (r & 1) ? res_list[(r >> 1) % ARRAY_SIZE(res_list)] :
		    1000 + (r >> 8) % 999999001;
	p->now_ns = edgy(b, p->res_ns);
	r = next64(b);
	p->ns_off = (r & 3) == 0 ? 0 : (r & 3) == 1 ? -(s64)(r >> 40) :
		    (r & 3) == 2 ? (s64)(r >> 2) : (s64)next64(b);
	p->max_ids = (r >> 8) & 1 ? 1U << 20 : (u32)next64(b);
	for (i = 0; i < TR_BATCH_CHUNK; i++) {
		struct timerring_op *op = &ops[i];
		u64 h = next64(b);

		memset(op, 0, sizeof(*op));
		op->opcode = (h & 7) < 6 ? h % 4 : (u8)(h >> 8);
		op->flags = (h >> 16) & 1 ? (u8)(h >> 24) & 3 : (u8)(h >> 24);
		op->resv = (h >> 32) % 16 ? 0 : (u16)(h >> 40);
		op->id = (h >> 33) & 1 ? (u32)(h >> 34) % (p->max_ids + 2) :
			 (u32)next64(b);
		op->expiry = (h >> 56) % 8 == 0 ? 0 : edgy(b, p->res_ns);
		op->interval = (h >> 59) % 4 == 0 ? 0 : edgy(b, p->res_ns);
		op->user_data = next64(b);
		if ((h >> 61) % 4 == 0 && op->opcode >= 2) {
			/* a valid cancel (-all) now and then */
			op->expiry = op->interval = 0;
			op->flags = 0;
			if (op->opcode == 3)
				op->id = 0;
		}
	}
}

static int run_case(struct bytes *b, char *msg, size_t len)
{
	static struct timerring_op ops[TR_BATCH_CHUNK];
	static u64 exp[TR_BATCH_CHUNK];
	static u32 id[1024], fl[1024];
	static u64 ud[1024];
	struct tr_prep p;
	u32 i0, i1, i, n, mask, tail;
	u64 elapsed, now, r;

	gen_case(b, &p, ops);
	r = next64(b);
	i0 = (r & 1) ? 0 : (r >> 1) % TR_BATCH_CHUNK;
	i1 = (r & 2) ? TR_BATCH_CHUNK : i0 + (r >> 16) % (TR_BATCH_CHUNK -
							    i0 + 1);
	if (check_prep(&p, ops, i0, i1, msg, len))
		return -1;

	r = next64(b);
	/* the place contract: any wheel time below 2^62 */
	elapsed = ((r & 1) ? next64(b) : (r >> 8)) >> 2;
	now = (r & 2) ? elapsed : elapsed + ((r >> 4) & 0xff) - 0x80;
	n = (r >> 16) % (TR_BATCH_CHUNK + 1);
	for (i = 0; i < n; i++) {
		u64 s = next64(b);

		switch (s & 7) {
		case 0:
			exp[i] = elapsed + ((s >> 8) & 7) - 3;
			break;
		case 1:
			exp[i] = elapsed ^ (1ULL << ((s >> 8) % 64));
			break;
		case 2:
			exp[i] = (elapsed | ((1ULL << (6 * ((s >> 8) % 9))) -
					     1)) + ((s >> 16) & 3);
			break;
		case 3:
			exp[i] = U64_MAX - ((s >> 8) & 3);
			break;
		default:
			exp[i] = elapsed + (s >> ((s >> 8) % 64));
			break;
		}
	}
	if (check_place_scan(exp, n, elapsed, now, msg, len))
		return -1;

	r = next64(b);
	mask = (1U << ((r >> 8) % 11)) - 1;
	tail = (u32)(r >> 32);
	n = (r >> 16) % (mask + 2);
	for (i = 0; i < n; i++) {
		id[i] = (u32)next64(b);
		ud[i] = next64(b);
		fl[i] = (u32)next64(b);
	}
	return check_cqe_fill(id, ud, fl, n, mask, tail, msg, len);
}

static int __maybe_unused check_recip(u64 seed, char *msg, size_t len)
{
	struct bytes b = { .state = seed };
	static const u64 ds[] = { 1000, 1001, 1024, 999999, 1000000,
				  1000000007, 1000000000, 3, 7, 641, 6700417,
				  (1ULL << 32) + 1, (1ULL << 63) + 1 };
	u32 i, j;

	for (i = 0; i < 2000; i++) {
		u64 d = i < ARRAY_SIZE(ds) ? ds[i] :
			i & 1 ? 1000 + next64(&b) % 999999001 :
			2 + next64(&b) % ((next64(&b) >> (next64(&b) % 62)) + 1);
		struct tr_recip r;

		tr_recip_init(&r, d);
		for (j = 0; j < 2000; j++) {
			u64 x = j < 8 ? (u64[]){ 0, 1, d - 1, d, d + 1,
						  U64_MAX, U64_MAX - 1,
						  U64_MAX - d }[j] :
				j & 1 ? next64(&b) :
				d * (next64(&b) % (U64_MAX / d)) +
				(next64(&b) & 3) - 1;

			if (tr_recip_div(&r, x) == x / d &&
			    tr_recip_ceil(&r, x) == tr_ns_to_tick_ceil(x, d))
				continue;
			snprintf(msg, len, "recip: %llu / %llu = %llu, ceil "
				 "%llu", ULL(x), ULL(d),
				 ULL(tr_recip_div(&r, x)),
				 ULL(tr_recip_ceil(&r, x)));
			return -1;
		}
	}
	return 0;
}

#ifdef TR_FUZZ_KERNELS
int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

static int fuzz_recip(struct bytes *b, char *msg, size_t len)
{
	u64 d = next64(b), x = next64(b);
	struct tr_recip r;

	d = d < 2 ? 2 : d;
	tr_recip_init(&r, d);
	if (tr_recip_div(&r, x) == x / d &&
	    tr_recip_ceil(&r, x) == tr_ns_to_tick_ceil(x, d))
		return 0;
	snprintf(msg, len, "recip: %llu / %llu = %llu", ULL(x), ULL(d),
		 ULL(tr_recip_div(&r, x)));
	return -1;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct bytes b = { .p = data, .len = size };
	static char msg[1024];

	if (!nimpls)
		find_impls();
	if (fuzz_recip(&b, msg, sizeof(msg)) || run_case(&b, msg, sizeof(msg))) {
		fprintf(stderr, "%s\n", msg);
		abort();
	}
	return 0;
}
#else
/*
 * The batches of simd_gen.h, which the KUnit suite and simd.c's load-time
 * self-test also run: random and edge ops in chunks cut in two ranges (as
 * a caller cutting FPU sections does), and expiries around every level's
 * bounds. Returns the rounds passed.
 */
static u64 run_gen(u64 seed, u32 rounds, char *msg, size_t len)
{
	static struct timerring_op ops[TR_BATCH_CHUNK];
	static u64 exp[TR_BATCH_CHUNK];
	struct tr_prep p;
	u32 k, i, n, cut;

	tr_rand_seed(seed);
	for (k = 0; k < rounds; k++) {
		u64 el;

		gen_prep(&p);
		n = 1 + rnd_below(TR_BATCH_CHUNK);
		for (i = 0; i < TR_BATCH_CHUNK; i++) {
			if (k & 1)
				gen_edge_op(&p, k * TR_BATCH_CHUNK + i, &ops[i]);
			else
				gen_op(&p, &ops[i]);
		}
		cut = rnd_below(n + 1);
		if (check_prep(&p, ops, 0, cut, msg, len) ||
		    check_prep(&p, ops, cut, n, msg, len))
			return k;
		el = edge_el();
		for (i = 0; i < n; i++)
			exp[i] = edge_tick(el);
		if (check_place_scan(exp, n, el, el + rnd_below(3) - 1, msg,
				     len))
			return k;
	}
	return k;
}

int main(int argc, char **argv)
{
	unsigned long long iters = 20000, seed = 1, i;
	static char msg[1024];
	int opt, n = 0, failed = 0;
	struct bytes b = { 0 };

	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			iters = strtoull(optarg, NULL, 0);
		else if (opt == 's')
			seed = strtoull(optarg, NULL, 0);
	}
	find_impls();
	printf("TAP version 13\n1..%u\n", nimpls + 2);
	printf("# kernels:");
	for (i = 0; i < nimpls; i++)
		printf(" %s", impls[i]->name);
	printf("\n");

	n++;
	if (check_recip(seed, msg, sizeof(msg))) {
		printf("not ok %d - recip: exact division\n# %s\n", n, msg);
		failed++;
	} else {
		printf("ok %d - recip: exact division\n", n);
	}
	/* all kernels are checked in each case; one line per kernel set */
	b.state = seed * 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < iters; i++)
		if (run_case(&b, msg, sizeof(msg)))
			break;
	for (opt = 0; opt < (int)nimpls; opt++) {
		n++;
		if (i < iters && strstr(msg, impls[opt]->name) == msg) {
			printf("not ok %d - %s kernels vs reference "
			       "(case %llu)\n# %s\n", n, impls[opt]->name, i,
			       msg);
			failed++;
		} else {
			printf("ok %d - %s kernels vs reference (%llu cases)\n",
			       n, impls[opt]->name, i);
		}
	}
	n++;
	i = run_gen(seed, iters, msg, sizeof(msg));
	if (i < iters) {
		printf("not ok %d - simd_gen.h batches (round %llu)\n# %s\n", n,
		       i, msg);
		failed++;
	} else {
		printf("ok %d - simd_gen.h batches, every kernel (%llu "
		       "rounds)\n", n, i);
	}
	printf("# %d passed, %d failed\n", n - failed, failed);
	return failed ? 1 : 0;
}
#endif
