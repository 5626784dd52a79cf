// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the batch kernels: every implementation this CPU has
 * (scalar, AVX2, AVX-512), forced one at a time, gives bit-identical
 * results to the definition (tr_prep_ref) and to the scalar kernels, on
 * random batches and on the edge cases: batch sizes 0, 1, 7, 8, 9, 15,
 * 16, 17, 4095, 4096, 4097 (cut into 256-op chunks as submit.c does),
 * ids 0, max-1, max, U32_MAX, expiries 0, now, level boundaries, U64_MAX,
 * and op buffers at every 8-byte misalignment. Preparation goes through
 * tr_simd_run_prep(), the very FPU sections the driver uses, and must
 * report that the forced implementation ran.
 *
 * The wheel's drain steps run through the kernels too: the same random
 * timer workload on two cores, one with the scalar kernels and one with
 * the forced implementation (from several break-even sizes), must give
 * the same CQEs in the same order and the same state and statistics.
 *
 * The kernels come from this module's own copies (core_kunit.o has
 * batch.c, kunit_avx2.o and kunit_avx512.o the SIMD files).
 */
#include <kunit/test.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "../simd_run.h"

#include "../simd_gen.h"
#include "kt_pool.h"

static const u32 sk_impls[] = {
	TIMERRING_IMPL_SCALAR, TIMERRING_IMPL_AVX2, TIMERRING_IMPL_AVX512,
};

static void sk_impl_desc(const u32 *impl, char *desc)
{
	static const char *const names[] = { "scalar", "avx2", "avx512" };

	strscpy(desc, names[*impl], KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(sk_impl, sk_impls, sk_impl_desc);

static const struct tr_batch_impl *sk_get(struct kunit *test)
{
	u32 impl = *(const u32 *)test->param_value;
	u64 seed = get_random_u64();

	if (!tr_simd_cpu_has(impl))
		kunit_skip(test, "not supported by this CPU");
	tr_rand_seed(seed);
	kunit_info(test, "seed %#llx\n", seed);
	switch (impl) {
#ifdef CONFIG_X86_64
	case TIMERRING_IMPL_AVX2:
		return &tr_batch_avx2;
	case TIMERRING_IMPL_AVX512:
		return &tr_batch_avx512;
#endif
	default:
		return &tr_batch_scalar;
	}
}

struct sk_buf {
	u8 raw[TR_BATCH_CHUNK * sizeof(struct timerring_op) + 64];
	struct tr_prep_out want;
	struct tr_prep_out got;
};

/*
 * A batch of n ops, chunk by chunk, with the ops at byte offset @mis;
 * edge: the deterministic sweep, else random ops.
 */
static void sk_prep_batch(struct kunit *test, const struct tr_batch_impl *im,
			  struct sk_buf *b, u32 n, u32 mis, bool edge)
{
	struct timerring_op *ops = (void *)(b->raw + mis);
	struct tr_prep p;
	u32 pos = 0, i;

	gen_prep(&p);
	do {
		u32 c = min(n - pos, TR_BATCH_CHUNK);

		for (i = 0; i < c; i++) {
			if (edge)
				gen_edge_op(&p, pos + i, &ops[i]);
			else
				gen_op(&p, &ops[i]);
		}
		memset(&b->want, 0x5a, sizeof(b->want));
		memset(&b->got, 0x5a, sizeof(b->got));
		tr_prep_ref(&p, ops, c, &b->want);
		KUNIT_ASSERT_EQ(test, tr_simd_run_prep(im, &p, ops, c, &b->got),
				im->impl);
		for (i = 0; i < c; i++) {
			KUNIT_ASSERT_EQ_MSG(test, b->got.verdict[i],
					    b->want.verdict[i],
					    "n %u op %u res %llu", n, pos + i,
					    p.res_ns);
			KUNIT_ASSERT_EQ_MSG(test, b->got.tick[i],
					    b->want.tick[i],
					    "n %u op %u res %llu exp %llx", n,
					    pos + i, p.res_ns, ops[i].expiry);
			KUNIT_ASSERT_EQ_MSG(test, b->got.ival[i],
					    b->want.ival[i],
					    "n %u op %u res %llu", n, pos + i,
					    p.res_ns);
		}
		/* nothing written past the chunk */
		KUNIT_ASSERT_EQ(test, memcmp(&b->got, &b->want,
					     sizeof(b->got)), 0);
		pos += c;
	} while (pos < n);
}

static const u32 sk_sizes[] = { 0, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129,
				255, 256, 257, 4095, 4096, 4097 };

static void sk_test_prep_edges(struct kunit *test)
{
	const struct tr_batch_impl *im = sk_get(test);
	struct sk_buf *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	u32 s, mis;

	KUNIT_ASSERT_NOT_NULL(test, b);
	for (s = 0; s < ARRAY_SIZE(sk_sizes); s++)
		for (mis = 0; mis < 64; mis += 8) {
			sk_prep_batch(test, im, b, sk_sizes[s], mis, true);
			sk_prep_batch(test, im, b, sk_sizes[s], mis, false);
		}
}

static void sk_test_prep_random(struct kunit *test)
{
	const struct tr_batch_impl *im = sk_get(test);
	struct sk_buf *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	u32 k;

	KUNIT_ASSERT_NOT_NULL(test, b);
	for (k = 0; k < 400; k++)
		sk_prep_batch(test, im, b, rnd_below(1100),
			      rnd_below(8) * 8, false);
}

#define SK_N		4097
#define SK_SECTION	512	/* u64 expiries: 4 KiB per FPU section */
#define SK_DCHUNKS	16	/* drain test: 2048 ids */
#define SK_RES_NS	1000000ULL
#define SK_START	1000000ULL

static void sk_kernel_begin(const struct tr_batch_impl *im)
{
#ifdef CONFIG_X86_64
	if (im->impl != TIMERRING_IMPL_SCALAR)
		kernel_fpu_begin();
#endif
}

static void sk_kernel_end(const struct tr_batch_impl *im)
{
#ifdef CONFIG_X86_64
	if (im->impl != TIMERRING_IMPL_SCALAR)
		kernel_fpu_end();
#endif
}

/* Wheel placement and due scan of a cascading slot, vs scalar. */
static void sk_test_place_scan(struct kunit *test)
{
	const struct tr_batch_impl *im = sk_get(test);
	u64 *raw = kunit_kmalloc_array(test, SK_N + 8, sizeof(u64), GFP_KERNEL);
	u16 *w1 = kunit_kmalloc_array(test, SK_N, sizeof(u16), GFP_KERNEL);
	u16 *w2 = kunit_kmalloc_array(test, SK_N, sizeof(u16), GFP_KERNEL);
	u32 *i1 = kunit_kmalloc_array(test, SK_N, sizeof(u32), GFP_KERNEL);
	u32 *i2 = kunit_kmalloc_array(test, SK_N, sizeof(u32), GFP_KERNEL);
	u32 k, j;

	KUNIT_ASSERT_NOT_NULL(test, raw);
	KUNIT_ASSERT_NOT_NULL(test, w1);
	KUNIT_ASSERT_NOT_NULL(test, w2);
	KUNIT_ASSERT_NOT_NULL(test, i1);
	KUNIT_ASSERT_NOT_NULL(test, i2);
	for (k = 0; k < 300; k++) {
		u32 n = k < ARRAY_SIZE(sk_sizes) ? sk_sizes[k] :
			rnd_below(SK_N + 1);
		u64 *exp = raw + rnd_below(8);
		u64 el = edge_el();
		u64 now = el + (rnd_below(2) ? rnd() >> rnd_below(64) : 0) -
			  rnd_below(3);
		u32 c1 = 0, c2 = 0;

		for (j = 0; j < n; j++)
			exp[j] = edge_tick(el);
		tr_place_scalar(el, exp, n, w1);
		for (j = 0; j < n; j += SK_SECTION) {
			u32 m = min_t(u32, SK_SECTION, n - j);
			u32 a, b;

			sk_kernel_begin(im);
			im->place(el, exp + j, m, w2 + j);
			b = im->scan_due(now, exp + j, m, i2 + c2);
			sk_kernel_end(im);
			a = tr_scan_due_scalar(now, exp + j, m, i1 + c1);
			KUNIT_ASSERT_EQ(test, a, b);
			KUNIT_ASSERT_EQ(test, memcmp(i1 + c1, i2 + c2,
						     a * sizeof(u32)), 0);
			c1 += a;
			c2 += b;
		}
		for (j = 0; j < n; j++)
			KUNIT_ASSERT_EQ_MSG(test, w2[j], w1[j],
					    "el %llx exp %llx", el, exp[j]);
	}
}

/* CQE formation into a ring, wrapping, vs scalar. */
static void sk_test_cqe_fill(struct kunit *test)
{
	const struct tr_batch_impl *im = sk_get(test);
	const u32 entries = 256;
	size_t sz = (entries + 4) * sizeof(struct tr_cqe);
	u8 *r1 = kunit_kmalloc(test, sz, GFP_KERNEL);
	u8 *r2 = kunit_kmalloc(test, sz, GFP_KERNEL);
	u32 *id = kunit_kmalloc_array(test, entries, sizeof(u32), GFP_KERNEL);
	u32 *fl = kunit_kmalloc_array(test, entries, sizeof(u32), GFP_KERNEL);
	u64 *ud = kunit_kmalloc_array(test, entries, sizeof(u64), GFP_KERNEL);
	u32 k, j;

	KUNIT_ASSERT_NOT_NULL(test, r1);
	KUNIT_ASSERT_NOT_NULL(test, r2);
	KUNIT_ASSERT_NOT_NULL(test, id);
	KUNIT_ASSERT_NOT_NULL(test, fl);
	KUNIT_ASSERT_NOT_NULL(test, ud);
	for (k = 0; k < 300; k++) {
		u32 n = k < ARRAY_SIZE(sk_sizes) ? min(sk_sizes[k], entries) :
			rnd_below(entries + 1);
		u32 tail = rnd_below(2) ? (u32)rnd() : entries - rnd_below(9);
		u32 mis = rnd_below(4) * 16;

		for (j = 0; j < n; j++) {
			id[j] = rnd_below(1U << 30);
			fl[j] = rnd();
			ud[j] = rnd();
		}
		memset(r1, 0xa5, sz);
		memset(r2, 0xa5, sz);
		tr_cqe_fill_scalar((void *)(r1 + mis), entries - 1, tail, id,
				   ud, fl, n);
		sk_kernel_begin(im);
		im->cqe_fill((void *)(r2 + mis), entries - 1, tail, id, ud,
			     fl, n);
		sk_kernel_end(im);
		KUNIT_ASSERT_EQ_MSG(test, memcmp(r1, r2, sz), 0,
				    "n %u tail %u", n, tail);
	}
}

/* The reciprocal division equals division, for every tick length shape. */
static void sk_test_recip(struct kunit *test)
{
	u32 k, j;

	tr_rand_seed(get_random_u64());
	for (k = 0; k < 3000; k++) {
		u64 d = k < ARRAY_SIZE(res_vals) ? res_vals[k] :
			(k & 1) ? 1ULL << (10 + rnd_below(20)) :
			1000 + rnd_below(1000000000 - 999);
		struct tr_recip r;

		tr_recip_init(&r, d);
		for (j = 0; j < 64; j++) {
			u64 x = j < 8 ? U64_MAX - j : j < 16 ? d * j :
				j < 24 ? d * j - 1 : rnd() >> rnd_below(64);

			KUNIT_ASSERT_EQ_MSG(test, tr_recip_ceil(&r, x),
					    tr_ns_to_tick_ceil(x, d),
					    "d %llu x %llx", d, x);
		}
	}
}

/* One core of the drain test, with its ring and its id table. */
struct sk_core {
	struct tr_core c;
	struct tr_entry *dir[SK_DCHUNKS];
	struct tr_period *ival[SK_DCHUNKS];
	void *ring;
	u32 head;
};

static struct sk_core *sk_core_new(struct kunit *test,
				   const struct tr_batch_impl *im, u32 entries)
{
	struct sk_core *k = kunit_kzalloc(test, sizeof(*k), GFP_KERNEL);
	struct timerring_cq_offsets off;
	size_t sz;
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, k);
	tr_core_init(&k->c, SK_DCHUNKS * TR_CHUNK_IDS, SK_RES_NS, SK_START,
		     k->dir, k->ival, kt_pool_dir(test, SK_DCHUNKS * TR_CHUNK_IDS));
	kt_pool_fill(test, &k->c, 4 * SK_DCHUNKS * TR_CHUNK_IDS);
	for (i = 0; i < SK_DCHUNKS; i++) {
		void *e = kunit_kzalloc(test, TR_CHUNK_IDS *
					sizeof(struct tr_entry), GFP_KERNEL);
		void *v = kunit_kzalloc(test, TR_CHUNK_IDS *
					sizeof(struct tr_period), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, e);
		KUNIT_ASSERT_NOT_NULL(test, v);
		tr_table_install(&k->c, i, e);
		tr_table_install_ival(&k->c, i, v);
	}
	tr_cq_layout(entries, &off, &sz);
	k->ring = kunit_kzalloc(test, sz, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, k->ring);
	tr_cq_init(&k->c.cq, k->ring, entries, &off);
	k->c.kern = im;
	return k;
}

static void sk_core_pass(struct sk_core *k, u64 now, u32 budget)
{
	tr_pass_begin(&k->c, now * SK_RES_NS);
	tr_pass_expire(&k->c, &budget);
	tr_pass_end(&k->c);
}

/* Consume up to @n CQEs of both cores; they must be the same. */
static void sk_core_consume(struct kunit *test, struct sk_core *a,
			    struct sk_core *b, u32 n)
{
	u32 ta, tb;

	/* acquire: the CQEs are read after the tails that cover them */
	ta = smp_load_acquire(a->c.cq.ktail);
	/* the same for the second core */
	tb = smp_load_acquire(b->c.cq.ktail);
	KUNIT_ASSERT_EQ(test, ta - a->head, tb - b->head);
	for (; n && a->head != ta; n--, a->head++, b->head++) {
		const struct tr_cqe *x = &a->c.cq.cqes[a->head & a->c.cq.mask];
		const struct tr_cqe *y = &b->c.cq.cqes[b->head & b->c.cq.mask];

		KUNIT_ASSERT_EQ(test, x->res, y->res);
		KUNIT_ASSERT_EQ(test, x->user_data, y->user_data);
		KUNIT_ASSERT_EQ(test, x->flags, y->flags);
	}
	/* release: done with the CQEs before their slots are handed back */
	smp_store_release(a->c.cq.khead, a->head);
	/* the same for the second core */
	smp_store_release(b->c.cq.khead, b->head);
}

/*
 * The expiry path with the forced kernels vs the scalar ones: random arms
 * (all levels, some periodic, some slack), modifies and cancels on ids of
 * all lanes, passes with small budgets (steps stop mid-slot), a ring small
 * enough to overflow, a consumer that lags.
 */
static void sk_test_drain(struct kunit *test)
{
	const struct tr_batch_impl *im = sk_get(test);
	static const u32 mins[] = { 0, 1, 9, 33, TR_DRAIN_BATCH };
	struct sk_core *a = sk_core_new(test, &tr_batch_scalar, 256);
	struct sk_core *b = sk_core_new(test, im, 256);
	u64 now = SK_START;
	u32 round, i, budget, simd_steps = 0;

	for (round = 0; round < 400; round++) {
		u32 nops = rnd_below(200);

		b->c.kern_min = mins[round % ARRAY_SIZE(mins)];
		for (i = 0; i < nops; i++) {
			u32 id = rnd_below(SK_DCHUNKS * TR_CHUNK_IDS);
			u64 d = rnd_below(1ULL << (6 * rnd_below(4) + 6));
			u64 ival = rnd_below(8) ? 0 : 1 + rnd_below(500);
			u8 fl = rnd_below(4) ? 0 : TR_EF_SLACK;
			u64 ud = rnd();
			struct tr_period per = {
				.ival_ns = ival * SK_RES_NS,
				.due_ns = (now + d) * SK_RES_NS,
			};
			const struct tr_period *pp = ival ? &per : NULL;
			int ra, rb;

			switch (rnd_below(4)) {
			case 0:
				ra = tr_cancel(&a->c, id);
				rb = tr_cancel(&b->c, id);
				break;
			case 1:
				ra = tr_modify(&a->c, id, now + d, ud, pp, fl);
				rb = tr_modify(&b->c, id, now + d, ud, pp, fl);
				break;
			default:
				ra = tr_arm(&a->c, id, now + d, ud, pp, fl);
				rb = tr_arm(&b->c, id, now + d, ud, pp, fl);
				break;
			}
			KUNIT_ASSERT_EQ(test, ra, rb);
		}
		now += rnd_below(4) ? rnd_below(64) : rnd_below(1 << 14);
		budget = 1 + rnd_below(3 * TR_DRAIN_BATCH);
		sk_core_pass(a, now, budget);
		sk_core_pass(b, now, budget);
		simd_steps += b->c.kern_last == im->impl;
		sk_core_consume(test, a, b, rnd_below(300));
		KUNIT_ASSERT_EQ(test, a->c.armed, b->c.armed);
		KUNIT_ASSERT_EQ(test, tr_pending_nr(&a->c), tr_pending_nr(&b->c));
		KUNIT_ASSERT_EQ(test, a->c.elapsed, b->c.elapsed);
		KUNIT_ASSERT_EQ(test, a->c.draining, b->c.draining);
		KUNIT_ASSERT_EQ(test, a->c.cq.tail, b->c.cq.tail);
	}
	KUNIT_EXPECT_EQ(test, a->c.st.expired_total, b->c.st.expired_total);
	KUNIT_EXPECT_EQ(test, a->c.st.cascades, b->c.st.cascades);
	KUNIT_EXPECT_EQ(test, a->c.st.overflowed_total,
			b->c.st.overflowed_total);
	KUNIT_EXPECT_GT(test, a->c.st.expired_total, 1000ULL);
	KUNIT_EXPECT_GT(test, a->c.st.cascades, 1000ULL);
	/* the forced kernels did run the drain */
	KUNIT_EXPECT_GT(test, simd_steps, 0U);
	kunit_info(test, "%llu expired, %llu cascades, %u passes ended on %s\n",
		   a->c.st.expired_total, a->c.st.cascades, simd_steps,
		   im->name);
}

static struct kunit_case tr_simd_cases[] = {
	KUNIT_CASE(sk_test_recip),
	KUNIT_CASE_PARAM(sk_test_prep_edges, sk_impl_gen_params),
	KUNIT_CASE_PARAM(sk_test_prep_random, sk_impl_gen_params),
	KUNIT_CASE_PARAM(sk_test_place_scan, sk_impl_gen_params),
	KUNIT_CASE_PARAM(sk_test_cqe_fill, sk_impl_gen_params),
	KUNIT_CASE_PARAM(sk_test_drain, sk_impl_gen_params),
	{}
};

static struct kunit_suite tr_simd_suite = {
	.name = "timerring_simd",
	.test_cases = tr_simd_cases,
};

kunit_test_suite(tr_simd_suite);
