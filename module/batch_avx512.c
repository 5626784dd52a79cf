// SPDX-License-Identifier: GPL-2.0
/*
 * timerring batch kernels, AVX-512 (F, VL, CD; 8 lanes of u64).
 *
 * Bit-identical to the scalar kernels of batch.c; the tests check it.
 * Compared with AVX2: mask registers and unsigned compares, the wheel
 * level from vplzcntq (AVX-512CD), due indices compressed by vpcompressd,
 * and CQEs formed two zmm (eight CQEs) at a time. The multiply-high of
 * the reciprocal division still takes four vpmuludq: AVX-512 has no
 * 64x64->128 multiply either.
 */
#include "batch_simd.h"

#ifndef __CHECKER__

static __always_inline __m512i tr_mulhi(__m512i x, __m512i m, __m512i mh)
{
	const __m512i lo32 = _mm512_set1_epi64(0xffffffffLL);
	__m512i xh = _mm512_srli_epi64(x, 32);
	__m512i ll = _mm512_mul_epu32(x, m);
	__m512i lh = _mm512_mul_epu32(x, mh);
	__m512i hl = _mm512_mul_epu32(xh, m);
	__m512i hh = _mm512_mul_epu32(xh, mh);
	__m512i mid;

	mid = _mm512_add_epi64(_mm512_srli_epi64(ll, 32),
			       _mm512_and_si512(lh, lo32));
	mid = _mm512_add_epi64(mid, _mm512_and_si512(hl, lo32));
	hh = _mm512_add_epi64(hh, _mm512_srli_epi64(lh, 32));
	hh = _mm512_add_epi64(hh, _mm512_srli_epi64(hl, 32));
	return _mm512_add_epi64(hh, _mm512_srli_epi64(mid, 32));
}

struct tr_avx512_div {
	__m512i magic, magic_hi, d, one;
	__m128i shift;
	bool add;
};

static __always_inline __m512i tr_ceil_div(const struct tr_avx512_div *v,
					   __m512i x)
{
	__m512i q = tr_mulhi(x, v->magic, v->magic_hi);
	__m512i prod;

	if (v->add)
		q = _mm512_add_epi64(_mm512_srli_epi64(_mm512_sub_epi64(x, q),
						       1), q);
	q = _mm512_srl_epi64(q, v->shift);
	prod = _mm512_mul_epu32(_mm512_srli_epi64(q, 32), v->d);
	prod = _mm512_add_epi64(_mm512_mul_epu32(q, v->d),
				_mm512_slli_epi64(prod, 32));
	return _mm512_mask_add_epi64(q, _mm512_cmpneq_epu64_mask(prod, x), q,
				     v->one);
}

static void tr_prep_avx512(const struct tr_prep *p, const struct tr_recip *r,
			   const struct timerring_op *ops, u32 i0, u32 i1,
			   struct tr_prep_out *out)
{
	const struct tr_avx512_div dv = {
		.magic = _mm512_set1_epi64(r->magic),
		.magic_hi = _mm512_set1_epi64(r->magic >> 32),
		.d = _mm512_set1_epi64(r->d),
		.one = _mm512_set1_epi64(1),
		.shift = _mm_cvtsi32_si128(r->shift),
		.add = r->add,
	};
	const __m512i ones = _mm512_set1_epi64(-1);
	const __m512i now = _mm512_set1_epi64(p->now_ns);
	const __m512i off = _mm512_set1_epi64(p->ns_off);
	const __m512i negoff = _mm512_set1_epi64(0 - (u64)p->ns_off);
	const __m512i res = _mm512_set1_epi64(p->res_ns);
	const __m512i maxid = _mm512_set1_epi64(p->max_ids);
	const __m512i hbad = _mm512_set1_epi64(TR_HDR_BAD);
	const __m512i habs = _mm512_set1_epi64(TR_HDR_ABS);
	const __m512i hflags = _mm512_set1_epi64(TR_HDR_FLAGS);
	const __m512i m_fe = _mm512_set1_epi64(0xfe);
	const __m512i m_ff = _mm512_set1_epi64(0xff);
	const __m512i idmask = _mm512_set1_epi64(0xffffffff00000000LL);
	const __m512i two = _mm512_set1_epi64(2);
	const __m512i three = _mm512_set1_epi64(3);
	const __m512i einv = _mm512_set1_epi64(-EINVAL);
	const __m512i erng = _mm512_set1_epi64(-ERANGE);
	/* 2 ops per zmm: gather word w of 4 ops from a pair of zmm */
	const __m512i g_he = _mm512_setr_epi64(0, 4, 8, 12, 1, 5, 9, 13);
	const __m512i g_iu = _mm512_setr_epi64(3, 7, 11, 15, 2, 6, 10, 14);
	const __m512i lo4 = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11);
	const __m512i hi4 = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
	bool off_pos = p->ns_off >= 0;
	u32 i;

	for (i = i0; i + 8 <= i1; i += 8) {
		const __m512i *src = (const __m512i *)&ops[i];
		__m512i z0 = _mm512_loadu_si512(src);
		__m512i z1 = _mm512_loadu_si512(src + 1);
		__m512i z2 = _mm512_loadu_si512(src + 2);
		__m512i z3 = _mm512_loadu_si512(src + 3);
		__m512i he0 = _mm512_permutex2var_epi64(z0, g_he, z1);
		__m512i he1 = _mm512_permutex2var_epi64(z2, g_he, z3);
		__m512i iu0 = _mm512_permutex2var_epi64(z0, g_iu, z1);
		__m512i iu1 = _mm512_permutex2var_epi64(z2, g_iu, z3);
		__m512i hdr = _mm512_permutex2var_epi64(he0, lo4, he1);
		__m512i exp = _mm512_permutex2var_epi64(he0, hi4, he1);
		__m512i ival = _mm512_permutex2var_epi64(iu0, lo4, iu1);
		__m512i ud = _mm512_permutex2var_epi64(iu0, hi4, iu1);
		__mmask8 einval, erange, is3, uz, m;
		__m512i ns, rel, absv, op, t;

		/* verdict */
		op = _mm512_and_si512(hdr, m_fe);
		einval = _mm512_test_epi64_mask(hdr, hbad);
		/* ARM/MODIFY: interval zero or at least one tick */
		einval |= _mm512_testn_epi64_mask(op, op) &
			  _mm512_test_epi64_mask(ival, ival) &
			  _mm512_cmplt_epu64_mask(ival, res);
		/* CANCEL, CANCEL_ALL: expiry, user_data, interval, flags zero */
		t = _mm512_or_si512(_mm512_or_si512(exp, ival), ud);
		t = _mm512_or_si512(t, _mm512_and_si512(hdr, hflags));
		uz = _mm512_testn_epi64_mask(t, t);
		einval |= _mm512_cmpeq_epi64_mask(op, two) & ~uz;
		/* CANCEL_ALL: id zero */
		t = _mm512_and_si512(hdr, m_ff);
		is3 = _mm512_cmpeq_epi64_mask(t, three);
		einval |= is3 & _mm512_test_epi64_mask(hdr, idmask);
		t = _mm512_srli_epi64(hdr, 32);
		erange = ~(einval | is3 | _mm512_cmplt_epu64_mask(t, maxid));
		t = _mm512_maskz_mov_epi64(einval, einv);
		t = _mm512_mask_mov_epi64(t, erange, erng);
		_mm256_storeu_si256((__m256i *)&out->verdict[i],
				    _mm512_cvtepi64_epi32(t));

		/* expiry in ns: relative saturates at U64_MAX */
		rel = _mm512_add_epi64(exp, now);
		m = _mm512_cmplt_epu64_mask(rel, now);
		rel = _mm512_mask_mov_epi64(rel, m, ones);
		if (off_pos) {
			m = _mm512_cmpgt_epu64_mask(exp, off);
			absv = _mm512_maskz_sub_epi64(m, exp, off);
		} else {
			absv = _mm512_add_epi64(exp, negoff);
			m = _mm512_cmplt_epu64_mask(absv, exp);
			absv = _mm512_mask_mov_epi64(absv, m, ones);
		}
		m = _mm512_test_epi64_mask(hdr, habs);
		ns = _mm512_mask_blend_epi64(m, rel, absv);

		_mm512_storeu_si512(&out->tick[i], tr_ceil_div(&dv, ns));
		_mm512_storeu_si512(&out->ival[i], tr_ceil_div(&dv, ival));
	}
	tr_prep_scalar_range(p, r, ops, i, i1, out);
}

/* The last tick of level @lvl, for unsigned compares */
static __always_inline __m512i tr_level_end(u64 elapsed, unsigned int lvl)
{
	return _mm512_set1_epi64(tr_lvl_end(elapsed, lvl) - 1);
}

/* tr_where_of() as compares, as tr_place_avx2() does it */
static void tr_place_avx512(u64 elapsed, const u64 *exp, u32 n, u16 *where)
{
	const __m512i el = _mm512_set1_epi64(elapsed);
	const __m512i one = _mm512_set1_epi64(1);
	const __m512i mask = _mm512_set1_epi64(TR_LVL_MASK);
	const __m512i lfar = _mm512_set1_epi64(TR_L_FAR);
	const __m512i lpend = _mm512_set1_epi64(TR_L_PENDING);
	const __m512i t0 = tr_level_end(elapsed, 0);
	const __m512i t1 = tr_level_end(elapsed, 1);
	const __m512i t2 = tr_level_end(elapsed, 2);
	const __m512i t3 = tr_level_end(elapsed, 3);
	const __m512i t4 = tr_level_end(elapsed, 4);
	const __m512i t5 = tr_level_end(elapsed, 5);
	u32 i;

	for (i = 0; i + 8 <= n; i += 8) {
		__m512i e = _mm512_loadu_si512(&exp[i]);
		__m512i lvl = _mm512_setzero_si512(), sh, w;
		__mmask8 m;

		lvl = _mm512_mask_add_epi64(lvl, _mm512_cmpgt_epu64_mask(e, t0),
					    lvl, one);
		lvl = _mm512_mask_add_epi64(lvl, _mm512_cmpgt_epu64_mask(e, t1),
					    lvl, one);
		lvl = _mm512_mask_add_epi64(lvl, _mm512_cmpgt_epu64_mask(e, t2),
					    lvl, one);
		lvl = _mm512_mask_add_epi64(lvl, _mm512_cmpgt_epu64_mask(e, t3),
					    lvl, one);
		lvl = _mm512_mask_add_epi64(lvl, _mm512_cmpgt_epu64_mask(e, t4),
					    lvl, one);
		sh = _mm512_slli_epi64(lvl, 3);
		w = _mm512_and_si512(_mm512_srlv_epi64(e, sh), mask);
		w = _mm512_or_si512(_mm512_slli_epi64(lvl, TR_LVL_BITS + 1), w);
		m = _mm512_cmpgt_epu64_mask(e, t5);
		w = _mm512_mask_mov_epi64(w, m, lfar);
		m = _mm512_cmple_epu64_mask(e, el);
		w = _mm512_mask_mov_epi64(w, m, lpend);
		_mm_storeu_si128((__m128i *)&where[i], _mm512_cvtepi64_epi16(w));
	}
	for (; i < n; i++)
		where[i] = tr_where_of(elapsed, exp[i]);
}

static u32 tr_scan_due_avx512(u64 now, const u64 *exp, u32 n, u32 *idx)
{
	const __m512i nowv = _mm512_set1_epi64(now);
	const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
					       10, 11, 12, 13, 14, 15);
	u32 i, k = 0;

	for (i = 0; i + 16 <= n; i += 16) {
		__m512i a = _mm512_loadu_si512(&exp[i]);
		__m512i b = _mm512_loadu_si512(&exp[i + 8]);
		__mmask16 m = _mm512_cmple_epu64_mask(a, nowv) |
			      _mm512_cmple_epu64_mask(b, nowv) << 8;
		unsigned int cnt;
		__m512i v;

		if (!m)
			continue;
		cnt = __builtin_popcount(m);
		v = _mm512_add_epi32(iota, _mm512_set1_epi32(i));
		v = _mm512_maskz_compress_epi32(m, v);
		/* store only the cnt compressed lanes: idx[] has no slack */
		_mm512_mask_storeu_epi32(&idx[k], (__mmask16)((1U << cnt) - 1),
					 v);
		k += cnt;
	}
	for (; i < n; i++)
		if (exp[i] <= now)
			idx[k++] = i;
	return k;
}

static void tr_cqe_fill_avx512(struct tr_cqe *cqes, u32 mask, u32 tail,
			       const u32 *id, const u64 *ud, const u32 *flags,
			       u32 n)
{
	const __m512i c_lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
	const __m512i c_hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);

	while (n) {
		u32 pos = tail & mask;
		u32 run = min(n, mask + 1 - pos);
		struct tr_cqe *dst = &cqes[pos];
		u32 j;

		for (j = 0; j + 8 <= run; j += 8) {
			__m512i u = _mm512_loadu_si512(&ud[j]);
			__m256i a = _mm256_loadu_si256((const __m256i *)&id[j]);
			__m256i f = _mm256_loadu_si256((const __m256i *)&flags[j]);
			__m512i rf = _mm512_cvtepu32_epi64(a);
			__m512i c0, c1;

			/* res | flags << 32, then interleaved with user_data */
			c0 = _mm512_slli_epi64(_mm512_cvtepu32_epi64(f), 32);
			rf = _mm512_or_si512(rf, c0);
			c0 = _mm512_permutex2var_epi64(u, c_lo, rf);
			c1 = _mm512_permutex2var_epi64(u, c_hi, rf);
			_mm512_storeu_si512(&dst[j], c0);
			_mm512_storeu_si512(&dst[j + 4], c1);
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

const struct tr_batch_impl tr_batch_avx512 = {
	.name = "avx512",
	.impl = TIMERRING_IMPL_AVX512,
	.prep = tr_prep_avx512,
	.place = tr_place_avx512,
	.scan_due = tr_scan_due_avx512,
	.cqe_fill = tr_cqe_fill_avx512,
};

#endif /* !__CHECKER__ */
