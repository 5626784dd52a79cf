// SPDX-License-Identifier: GPL-2.0
/*
 * timerring batch kernels, AVX2 (4 lanes of u64).
 *
 * Bit-identical to the scalar kernels of batch.c; the tests check it.
 * Where AVX2 lacks an instruction:
 *  - unsigned 64-bit compares flip the sign bits and compare signed;
 *  - the 64x64->128 multiply-high of the reciprocal division is built from
 *    four 32x32->64 multiplies (vpmuludq), and the exact remainder test
 *    q * d == x from two (d, the tick length, is below 2^32);
 *  - the wheel level (the 6-bit group of the highest set bit, what
 *    AVX-512CD gets from vplzcntq) is a sum of 7 compares;
 *  - compressing the due indices uses a 256-entry table of vpermd
 *    selectors instead of vpcompressd.
 * Lanes left over at the end of a range go through the scalar code.
 */
#include "batch_simd.h"

#ifndef __CHECKER__

#define TR_SIGN		(-0x7fffffffffffffffLL - 1)

/* Lanes of x that are zero: all ones, else zero. */
static __always_inline __m256i tr_eq0(__m256i x)
{
	return _mm256_cmpeq_epi64(x, _mm256_setzero_si256());
}

static __always_inline __m256i tr_ne0(__m256i x)
{
	return _mm256_xor_si256(tr_eq0(x), _mm256_set1_epi64x(-1));
}

/*
 * m ? b : a, for lane masks m of all ones or all zeros. Not vpblendvb:
 * GCC 12 folds _mm256_blendv_epi8() into a "char < 0" test, which the
 * kernel's -funsigned-char turns into "never".
 */
static __always_inline __m256i tr_blend(__m256i a, __m256i b, __m256i m)
{
	return _mm256_or_si256(_mm256_and_si256(m, b),
			       _mm256_andnot_si256(m, a));
}

static __always_inline __m256i tr_ucmpgt(__m256i a, __m256i b)
{
	const __m256i s = _mm256_set1_epi64x(TR_SIGN);

	return _mm256_cmpgt_epi64(_mm256_xor_si256(a, s),
				  _mm256_xor_si256(b, s));
}

/* High 64 bits of x * m, m given with its high half in mh. */
static __always_inline __m256i tr_mulhi(__m256i x, __m256i m, __m256i mh)
{
	const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
	__m256i xh = _mm256_srli_epi64(x, 32);
	__m256i ll = _mm256_mul_epu32(x, m);
	__m256i lh = _mm256_mul_epu32(x, mh);
	__m256i hl = _mm256_mul_epu32(xh, m);
	__m256i hh = _mm256_mul_epu32(xh, mh);
	__m256i mid;

	mid = _mm256_add_epi64(_mm256_srli_epi64(ll, 32),
			       _mm256_and_si256(lh, lo32));
	mid = _mm256_add_epi64(mid, _mm256_and_si256(hl, lo32));
	hh = _mm256_add_epi64(hh, _mm256_srli_epi64(lh, 32));
	hh = _mm256_add_epi64(hh, _mm256_srli_epi64(hl, 32));
	return _mm256_add_epi64(hh, _mm256_srli_epi64(mid, 32));
}

struct tr_avx2_div {
	__m256i magic, magic_hi, d, one;
	__m128i shift;
	bool add;
};

/* ceil(x / d), as tr_recip_ceil() */
static __always_inline __m256i tr_ceil_div(const struct tr_avx2_div *v,
					   __m256i x)
{
	__m256i q = tr_mulhi(x, v->magic, v->magic_hi);
	__m256i prod;

	if (v->add)
		q = _mm256_add_epi64(_mm256_srli_epi64(_mm256_sub_epi64(x, q),
						       1), q);
	q = _mm256_srl_epi64(q, v->shift);
	prod = _mm256_mul_epu32(_mm256_srli_epi64(q, 32), v->d);
	prod = _mm256_add_epi64(_mm256_mul_epu32(q, v->d),
				_mm256_slli_epi64(prod, 32));
	/* + 1 unless exact: cmpeq is -1 where q * d == x */
	return _mm256_add_epi64(q, _mm256_add_epi64(v->one,
				_mm256_cmpeq_epi64(prod, x)));
}

static void tr_prep_avx2(const struct tr_prep *p, const struct tr_recip *r,
			 const struct timerring_op *ops, u32 i0, u32 i1,
			 struct tr_prep_out *out)
{
	const struct tr_avx2_div dv = {
		.magic = _mm256_set1_epi64x(r->magic),
		.magic_hi = _mm256_set1_epi64x(r->magic >> 32),
		.d = _mm256_set1_epi64x(r->d),
		.one = _mm256_set1_epi64x(1),
		.shift = _mm_cvtsi32_si128(r->shift),
		.add = r->add,
	};
	const __m256i now = _mm256_set1_epi64x(p->now_ns);
	const __m256i off = _mm256_set1_epi64x(p->ns_off);
	const __m256i negoff = _mm256_set1_epi64x(0 - (u64)p->ns_off);
	const __m256i res = _mm256_set1_epi64x(p->res_ns);
	const __m256i maxid = _mm256_set1_epi64x(p->max_ids);
	const __m256i hbad = _mm256_set1_epi64x(TR_HDR_BAD);
	const __m256i habs = _mm256_set1_epi64x(TR_HDR_ABS);
	const __m256i hflags = _mm256_set1_epi64x(TR_HDR_FLAGS);
	const __m256i m_fe = _mm256_set1_epi64x(0xfe);
	const __m256i m_ff = _mm256_set1_epi64x(0xff);
	const __m256i two = _mm256_set1_epi64x(2);
	const __m256i three = _mm256_set1_epi64x(3);
	const __m256i einv = _mm256_set1_epi64x(-EINVAL);
	const __m256i erng = _mm256_set1_epi64x(-ERANGE);
	const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
	bool off_pos = p->ns_off >= 0;
	u32 i;

	for (i = i0; i + 4 <= i1; i += 4) {
		const __m256i *src = (const __m256i *)&ops[i];
		__m256i a0 = _mm256_loadu_si256(src);
		__m256i a1 = _mm256_loadu_si256(src + 1);
		__m256i a2 = _mm256_loadu_si256(src + 2);
		__m256i a3 = _mm256_loadu_si256(src + 3);
		__m256i t0 = _mm256_unpacklo_epi64(a0, a1);
		__m256i t1 = _mm256_unpackhi_epi64(a0, a1);
		__m256i t2 = _mm256_unpacklo_epi64(a2, a3);
		__m256i t3 = _mm256_unpackhi_epi64(a2, a3);
		__m256i hdr = _mm256_permute2x128_si256(t0, t2, 0x20);
		__m256i exp = _mm256_permute2x128_si256(t1, t3, 0x20);
		__m256i ival = _mm256_permute2x128_si256(t1, t3, 0x31);
		__m256i ud = _mm256_permute2x128_si256(t0, t2, 0x31);
		__m256i ns, absv, rel, op, id, is3, einval, t;

		/* verdict */
		op = _mm256_and_si256(hdr, m_fe);
		id = _mm256_srli_epi64(hdr, 32);
		einval = tr_ne0(_mm256_and_si256(hdr, hbad));
		/* ARM/MODIFY: interval zero or at least one tick */
		t = _mm256_andnot_si256(tr_eq0(ival), tr_ucmpgt(res, ival));
		t = _mm256_and_si256(tr_eq0(op), t);
		einval = _mm256_or_si256(einval, t);
		/* CANCEL, CANCEL_ALL: expiry, user_data, interval, flags zero */
		t = _mm256_or_si256(_mm256_or_si256(exp, ival), ud);
		t = _mm256_or_si256(t, _mm256_and_si256(hdr, hflags));
		t = _mm256_andnot_si256(tr_eq0(t), _mm256_cmpeq_epi64(op, two));
		einval = _mm256_or_si256(einval, t);
		/* CANCEL_ALL: id zero */
		is3 = _mm256_cmpeq_epi64(_mm256_and_si256(hdr, m_ff), three);
		einval = _mm256_or_si256(einval,
					 _mm256_andnot_si256(tr_eq0(id), is3));
		/* ids and max_ids are below 2^32: a signed compare will do */
		t = _mm256_or_si256(einval, is3);
		t = _mm256_or_si256(t, _mm256_cmpgt_epi64(maxid, id));
		t = _mm256_or_si256(_mm256_and_si256(einval, einv),
				    _mm256_andnot_si256(t, erng));
		t = _mm256_permutevar8x32_epi32(t, pick);
		_mm_storeu_si128((__m128i *)&out->verdict[i],
				 _mm256_castsi256_si128(t));

		/* expiry in ns: relative saturates at U64_MAX */
		rel = _mm256_add_epi64(exp, now);
		rel = _mm256_or_si256(rel, tr_ucmpgt(now, rel));
		if (off_pos) {
			t = tr_ucmpgt(exp, off);
			absv = _mm256_and_si256(_mm256_sub_epi64(exp, off), t);
		} else {
			absv = _mm256_add_epi64(exp, negoff);
			absv = _mm256_or_si256(absv, tr_ucmpgt(exp, absv));
		}
		t = _mm256_cmpeq_epi64(_mm256_and_si256(hdr, habs), habs);
		ns = tr_blend(rel, absv, t);

		_mm256_storeu_si256((__m256i *)&out->tick[i],
				    tr_ceil_div(&dv, ns));
		_mm256_storeu_si256((__m256i *)&out->ival[i],
				    tr_ceil_div(&dv, ival));
	}
	tr_prep_scalar_range(p, r, ops, i, i1, out);
}

/* tr_place_avx2() has the wheel's 6 levels written out */
#if TR_LEVELS != 6
#error "tr_place_avx2() needs updating for the wheel's shape"
#endif

/*
 * tr_where_of() as compares: E is on level L or above iff E >= t(L - 1),
 * where t(L) = ((W >> 8(L+1)) + 2) << 8(L+1), the start of the rotation
 * after next of level L + 1; so the level is how many of t(0)..t(4) E
 * reaches, and E beyond t(5) is far.
 */
/* The last tick of level @lvl, for unsigned compares */
static __always_inline __m256i tr_level_end(u64 elapsed, unsigned int lvl)
{
	return _mm256_set1_epi64x(tr_lvl_end(elapsed, lvl) - 1);
}

static void tr_place_avx2(u64 elapsed, const u64 *exp, u32 n, u16 *where)
{
	const __m256i el = _mm256_set1_epi64x(elapsed);
	const __m256i mask = _mm256_set1_epi64x(TR_LVL_MASK);
	const __m256i lfar = _mm256_set1_epi64x(TR_L_FAR);
	const __m256i lpend = _mm256_set1_epi64x(TR_L_PENDING);
	const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
	const __m256i t0 = tr_level_end(elapsed, 0);
	const __m256i t1 = tr_level_end(elapsed, 1);
	const __m256i t2 = tr_level_end(elapsed, 2);
	const __m256i t3 = tr_level_end(elapsed, 3);
	const __m256i t4 = tr_level_end(elapsed, 4);
	const __m256i t5 = tr_level_end(elapsed, 5);
	u32 i;

	for (i = 0; i + 4 <= n; i += 4) {
		__m256i e = _mm256_loadu_si256((const __m256i *)&exp[i]);
		__m256i lvl, sh, w, a, b;
		__m128i w16;

		/* -level as a sum of compare masks (each -1 where reached) */
		a = _mm256_add_epi64(tr_ucmpgt(e, t0), tr_ucmpgt(e, t1));
		b = _mm256_add_epi64(tr_ucmpgt(e, t2), tr_ucmpgt(e, t3));
		a = _mm256_add_epi64(_mm256_add_epi64(a, b), tr_ucmpgt(e, t4));
		lvl = _mm256_sub_epi64(_mm256_setzero_si256(), a);
		sh = _mm256_slli_epi64(lvl, 3);
		a = _mm256_and_si256(_mm256_srlv_epi64(e, sh), mask);
		w = _mm256_or_si256(_mm256_slli_epi64(lvl, TR_LVL_BITS + 1), a);
		w = tr_blend(w, lfar, tr_ucmpgt(e, t5));
		w = tr_blend(lpend, w, tr_ucmpgt(e, el));
		w = _mm256_permutevar8x32_epi32(w, pick);
		w16 = _mm_packus_epi32(_mm256_castsi256_si128(w),
				       _mm256_castsi256_si128(w));
		_mm_storel_epi64((__m128i *)&where[i], w16);
	}
	for (; i < n; i++)
		where[i] = tr_where_of(elapsed, exp[i]);
}

/* vpermd selectors, one byte per lane: the set lanes of m, in order. */
static const u64 tr_compress_lut[256] = {
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000001ULL,
	0x0000000000000100ULL, 0x0000000000000002ULL, 0x0000000000000200ULL,
	0x0000000000000201ULL, 0x0000000000020100ULL, 0x0000000000000003ULL,
	0x0000000000000300ULL, 0x0000000000000301ULL, 0x0000000000030100ULL,
	0x0000000000000302ULL, 0x0000000000030200ULL, 0x0000000000030201ULL,
	0x0000000003020100ULL, 0x0000000000000004ULL, 0x0000000000000400ULL,
	0x0000000000000401ULL, 0x0000000000040100ULL, 0x0000000000000402ULL,
	0x0000000000040200ULL, 0x0000000000040201ULL, 0x0000000004020100ULL,
	0x0000000000000403ULL, 0x0000000000040300ULL, 0x0000000000040301ULL,
	0x0000000004030100ULL, 0x0000000000040302ULL, 0x0000000004030200ULL,
	0x0000000004030201ULL, 0x0000000403020100ULL, 0x0000000000000005ULL,
	0x0000000000000500ULL, 0x0000000000000501ULL, 0x0000000000050100ULL,
	0x0000000000000502ULL, 0x0000000000050200ULL, 0x0000000000050201ULL,
	0x0000000005020100ULL, 0x0000000000000503ULL, 0x0000000000050300ULL,
	0x0000000000050301ULL, 0x0000000005030100ULL, 0x0000000000050302ULL,
	0x0000000005030200ULL, 0x0000000005030201ULL, 0x0000000503020100ULL,
	0x0000000000000504ULL, 0x0000000000050400ULL, 0x0000000000050401ULL,
	0x0000000005040100ULL, 0x0000000000050402ULL, 0x0000000005040200ULL,
	0x0000000005040201ULL, 0x0000000504020100ULL, 0x0000000000050403ULL,
	0x0000000005040300ULL, 0x0000000005040301ULL, 0x0000000504030100ULL,
	0x0000000005040302ULL, 0x0000000504030200ULL, 0x0000000504030201ULL,
	0x0000050403020100ULL, 0x0000000000000006ULL, 0x0000000000000600ULL,
	0x0000000000000601ULL, 0x0000000000060100ULL, 0x0000000000000602ULL,
	0x0000000000060200ULL, 0x0000000000060201ULL, 0x0000000006020100ULL,
	0x0000000000000603ULL, 0x0000000000060300ULL, 0x0000000000060301ULL,
	0x0000000006030100ULL, 0x0000000000060302ULL, 0x0000000006030200ULL,
	0x0000000006030201ULL, 0x0000000603020100ULL, 0x0000000000000604ULL,
	0x0000000000060400ULL, 0x0000000000060401ULL, 0x0000000006040100ULL,
	0x0000000000060402ULL, 0x0000000006040200ULL, 0x0000000006040201ULL,
	0x0000000604020100ULL, 0x0000000000060403ULL, 0x0000000006040300ULL,
	0x0000000006040301ULL, 0x0000000604030100ULL, 0x0000000006040302ULL,
	0x0000000604030200ULL, 0x0000000604030201ULL, 0x0000060403020100ULL,
	0x0000000000000605ULL, 0x0000000000060500ULL, 0x0000000000060501ULL,
	0x0000000006050100ULL, 0x0000000000060502ULL, 0x0000000006050200ULL,
	0x0000000006050201ULL, 0x0000000605020100ULL, 0x0000000000060503ULL,
	0x0000000006050300ULL, 0x0000000006050301ULL, 0x0000000605030100ULL,
	0x0000000006050302ULL, 0x0000000605030200ULL, 0x0000000605030201ULL,
	0x0000060503020100ULL, 0x0000000000060504ULL, 0x0000000006050400ULL,
	0x0000000006050401ULL, 0x0000000605040100ULL, 0x0000000006050402ULL,
	0x0000000605040200ULL, 0x0000000605040201ULL, 0x0000060504020100ULL,
	0x0000000006050403ULL, 0x0000000605040300ULL, 0x0000000605040301ULL,
	0x0000060504030100ULL, 0x0000000605040302ULL, 0x0000060504030200ULL,
	0x0000060504030201ULL, 0x0006050403020100ULL, 0x0000000000000007ULL,
	0x0000000000000700ULL, 0x0000000000000701ULL, 0x0000000000070100ULL,
	0x0000000000000702ULL, 0x0000000000070200ULL, 0x0000000000070201ULL,
	0x0000000007020100ULL, 0x0000000000000703ULL, 0x0000000000070300ULL,
	0x0000000000070301ULL, 0x0000000007030100ULL, 0x0000000000070302ULL,
	0x0000000007030200ULL, 0x0000000007030201ULL, 0x0000000703020100ULL,
	0x0000000000000704ULL, 0x0000000000070400ULL, 0x0000000000070401ULL,
	0x0000000007040100ULL, 0x0000000000070402ULL, 0x0000000007040200ULL,
	0x0000000007040201ULL, 0x0000000704020100ULL, 0x0000000000070403ULL,
	0x0000000007040300ULL, 0x0000000007040301ULL, 0x0000000704030100ULL,
	0x0000000007040302ULL, 0x0000000704030200ULL, 0x0000000704030201ULL,
	0x0000070403020100ULL, 0x0000000000000705ULL, 0x0000000000070500ULL,
	0x0000000000070501ULL, 0x0000000007050100ULL, 0x0000000000070502ULL,
	0x0000000007050200ULL, 0x0000000007050201ULL, 0x0000000705020100ULL,
	0x0000000000070503ULL, 0x0000000007050300ULL, 0x0000000007050301ULL,
	0x0000000705030100ULL, 0x0000000007050302ULL, 0x0000000705030200ULL,
	0x0000000705030201ULL, 0x0000070503020100ULL, 0x0000000000070504ULL,
	0x0000000007050400ULL, 0x0000000007050401ULL, 0x0000000705040100ULL,
	0x0000000007050402ULL, 0x0000000705040200ULL, 0x0000000705040201ULL,
	0x0000070504020100ULL, 0x0000000007050403ULL, 0x0000000705040300ULL,
	0x0000000705040301ULL, 0x0000070504030100ULL, 0x0000000705040302ULL,
	0x0000070504030200ULL, 0x0000070504030201ULL, 0x0007050403020100ULL,
	0x0000000000000706ULL, 0x0000000000070600ULL, 0x0000000000070601ULL,
	0x0000000007060100ULL, 0x0000000000070602ULL, 0x0000000007060200ULL,
	0x0000000007060201ULL, 0x0000000706020100ULL, 0x0000000000070603ULL,
	0x0000000007060300ULL, 0x0000000007060301ULL, 0x0000000706030100ULL,
	0x0000000007060302ULL, 0x0000000706030200ULL, 0x0000000706030201ULL,
	0x0000070603020100ULL, 0x0000000000070604ULL, 0x0000000007060400ULL,
	0x0000000007060401ULL, 0x0000000706040100ULL, 0x0000000007060402ULL,
	0x0000000706040200ULL, 0x0000000706040201ULL, 0x0000070604020100ULL,
	0x0000000007060403ULL, 0x0000000706040300ULL, 0x0000000706040301ULL,
	0x0000070604030100ULL, 0x0000000706040302ULL, 0x0000070604030200ULL,
	0x0000070604030201ULL, 0x0007060403020100ULL, 0x0000000000070605ULL,
	0x0000000007060500ULL, 0x0000000007060501ULL, 0x0000000706050100ULL,
	0x0000000007060502ULL, 0x0000000706050200ULL, 0x0000000706050201ULL,
	0x0000070605020100ULL, 0x0000000007060503ULL, 0x0000000706050300ULL,
	0x0000000706050301ULL, 0x0000070605030100ULL, 0x0000000706050302ULL,
	0x0000070605030200ULL, 0x0000070605030201ULL, 0x0007060503020100ULL,
	0x0000000007060504ULL, 0x0000000706050400ULL, 0x0000000706050401ULL,
	0x0000070605040100ULL, 0x0000000706050402ULL, 0x0000070605040200ULL,
	0x0000070605040201ULL, 0x0007060504020100ULL, 0x0000000706050403ULL,
	0x0000070605040300ULL, 0x0000070605040301ULL, 0x0007060504030100ULL,
	0x0000070605040302ULL, 0x0007060504030200ULL, 0x0007060504030201ULL,
	0x0706050403020100ULL,
};

static u32 tr_scan_due_avx2(u64 now, const u64 *exp, u32 n, u32 *idx)
{
	const __m256i nows = _mm256_set1_epi64x(now ^ TR_SIGN);
	const __m256i s = _mm256_set1_epi64x(TR_SIGN);
	const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	u32 i, k = 0;

	for (i = 0; i + 8 <= n; i += 8) {
		__m256i a = _mm256_loadu_si256((const __m256i *)&exp[i]);
		__m256i b = _mm256_loadu_si256((const __m256i *)&exp[i + 4]);
		unsigned int m, cnt;
		__m256i sel, v, st;

		a = _mm256_cmpgt_epi64(_mm256_xor_si256(a, s), nows);
		b = _mm256_cmpgt_epi64(_mm256_xor_si256(b, s), nows);
		m = ~(_mm256_movemask_pd(_mm256_castsi256_pd(a)) |
		      _mm256_movemask_pd(_mm256_castsi256_pd(b)) << 4) & 0xff;
		if (!m)
			continue;
		cnt = __builtin_popcount(m);
		sel = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(tr_compress_lut[m]));
		v = _mm256_add_epi32(iota, _mm256_set1_epi32(i));
		v = _mm256_permutevar8x32_epi32(v, sel);
		st = _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), iota);
		_mm256_maskstore_epi32((int *)&idx[k], st, v);
		k += cnt;
	}
	for (; i < n; i++)
		if (exp[i] <= now)
			idx[k++] = i;
	return k;
}

static void tr_cqe_fill_avx2(struct tr_cqe *cqes, u32 mask, u32 tail,
			     const u32 *id, const u64 *ud, const u32 *flags,
			     u32 n)
{
	while (n) {
		u32 pos = tail & mask;
		u32 run = min(n, mask + 1 - pos);
		struct tr_cqe *dst = &cqes[pos];
		u32 j;

		for (j = 0; j + 4 <= run; j += 4) {
			__m256i u = _mm256_loadu_si256((const __m256i *)&ud[j]);
			__m128i a = _mm_loadu_si128((const __m128i *)&id[j]);
			__m128i f = _mm_loadu_si128((const __m128i *)&flags[j]);
			__m256i rf = _mm256_set_m128i(_mm_unpackhi_epi32(a, f),
						      _mm_unpacklo_epi32(a, f));
			__m256i lo = _mm256_unpacklo_epi64(u, rf);
			__m256i hi = _mm256_unpackhi_epi64(u, rf);

			__m256i c01 = _mm256_permute2x128_si256(lo, hi, 0x20);
			__m256i c23 = _mm256_permute2x128_si256(lo, hi, 0x31);

			_mm256_storeu_si256((__m256i *)&dst[j], c01);
			_mm256_storeu_si256((__m256i *)&dst[j + 2], c23);
		}
		for (; j < run; j++) {
			dst[j].user_data = ud[j];
			dst[j].res = id[j];
			dst[j].flags = flags[j];
		}
		id += run;
		ud += run;
		flags += run;
		tail += run;
		n -= run;
	}
}

const struct tr_batch_impl tr_batch_avx2 = {
	.name = "avx2",
	.impl = TIMERRING_IMPL_AVX2,
	.prep = tr_prep_avx2,
	.place = tr_place_avx2,
	.scan_due = tr_scan_due_avx2,
	.cqe_fill = tr_cqe_fill_avx2,
};

#endif /* !__CHECKER__ */
