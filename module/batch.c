// SPDX-License-Identifier: GPL-2.0
/*
 * timerring batch preparation, scalar reference.
 *
 * A batch is processed in chunks of 256 ops (8 KiB). For each chunk, this
 * phase checks every op against the rules of the uapi and converts its
 * expiry and interval from ns to ticks; it reads only the chunk and writes
 * only struct tr_prep_out, so it runs without a shard lock and is the
 * part that the SIMD kernels (batch_avx2.c, batch_avx512.c) vectorise. The
 * apply phase (submit.c) then walks the verdicts under the lock.
 *
 * Verdicts, in the order they are checked:
 *   -EINVAL  unknown opcode, unknown flag, resv != 0, interval shorter than
 *            one tick, CANCEL with expiry/user_data/interval/flags set,
 *            CANCEL_ALL with a non-zero id or expiry/user_data/interval/flags
 *   -ERANGE  id >= max_timers
 *
 * Expiries: an absolute expiry is moved from the caller's time namespace to
 * the host's by subtracting ns_off (clamped at 0 and U64_MAX, as
 * timens_ktime_to_host() clamps); a relative one is added to now_ns
 * (saturating at U64_MAX, so that U64_MAX means "never" and cannot wrap
 * into the past). Then both expiry and interval are rounded up to whole
 * ticks: a timer never fires early. Every op gets a tick and an interval,
 * whatever its verdict, so that all implementations write the same bytes.
 *
 * tr_prep_ref() is that definition, one division per value. The scalar
 * kernel divides by a reciprocal computed once per chunk (struct
 * tr_recip), which gives the same quotient for every u64; the tests check
 * every kernel against tr_prep_ref().
 */
#include "batch.h"

void tr_prep_ref(const struct tr_prep *p, const struct timerring_op *ops,
		 u32 n, struct tr_prep_out *out)
{
	u32 i;

	for (i = 0; i < n; i++) {
		const struct timerring_op *op = &ops[i];

		out->verdict[i] = tr_verdict(p, op);
		out->tick[i] = tr_ns_to_tick_ceil(tr_expiry_ns(p, op),
						  p->res_ns);
		out->ival[i] = tr_ns_to_tick_ceil(op->interval, p->res_ns);
	}
}

/* floor(2^(64 + l) / d) and its remainder, for 2^l < d < 2^(l + 1). */
static u64 tr_div_2pow(unsigned int l, u64 d, u64 *rem)
{
#if defined(__x86_64__)
	u64 q, r;

	asm("divq %4" : "=a" (q), "=d" (r) : "a" (0ULL), "d" (1ULL << l),
	    "rm" (d));
	*rem = r;
	return q;
#else
	u64 q = 0, r = 1ULL << l;
	int i;

	/* r < d < 2^63 throughout, so r * 2 cannot overflow */
	for (i = 63; i >= 0; i--) {
		r <<= 1;
		if (r >= d) {
			r -= d;
			q |= 1ULL << i;
		}
	}
	*rem = r;
	return q;
#endif
}

void tr_recip_init(struct tr_recip *r, u64 d)
{
	unsigned int l = fls64(d) - 1;
	u64 m, rem;

	r->d = d;
	if (!(d & (d - 1))) {
		/* (((x - 0) >> 1) + 0) >> (l - 1) == x >> l; d >= 2 */
		r->magic = 0;
		r->add = 1;
		r->shift = l - 1;
		return;
	}
	m = tr_div_2pow(l, d, &rem);
	if (d - rem < (1ULL << l)) {
		r->add = 0;
	} else {
		u64 twice = rem + rem;

		m += m;
		if (twice >= d || twice < rem)
			m++;
		r->add = 1;
	}
	r->magic = m + 1;
	r->shift = l;
}

void tr_prep_scalar_range(const struct tr_prep *p, const struct tr_recip *r,
			  const struct timerring_op *ops, u32 i0, u32 i1,
			  struct tr_prep_out *out)
{
	u32 i;

	for (i = i0; i < i1; i++) {
		const struct timerring_op *op = &ops[i];

		out->verdict[i] = tr_verdict(p, op);
		out->tick[i] = tr_recip_ceil(r, tr_expiry_ns(p, op));
		out->ival[i] = tr_recip_ceil(r, op->interval);
	}
}

void tr_prep_scalar(const struct tr_prep *p, const struct timerring_op *ops,
		    u32 n, struct tr_prep_out *out)
{
	struct tr_recip r;

	tr_recip_init(&r, p->res_ns);
	tr_prep_scalar_range(p, &r, ops, 0, n, out);
}

void tr_place_scalar(u64 elapsed, const u64 *exp, u32 n, u16 *where)
{
	u32 i;

	for (i = 0; i < n; i++)
		where[i] = tr_where_of(elapsed, exp[i]);
}

u32 tr_scan_due_scalar(u64 now, const u64 *exp, u32 n, u32 *idx)
{
	u32 i, k = 0;

	for (i = 0; i < n; i++)
		if (exp[i] <= now)
			idx[k++] = i;
	return k;
}

void tr_cqe_fill_scalar(struct tr_cqe *cqes, u32 mask, u32 tail,
			const u32 *id, const u64 *ud, const u32 *flags, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++) {
		struct tr_cqe *cqe = &cqes[(tail + i) & mask];

		cqe->user_data = ud[i];
		cqe->res = id[i];
		cqe->flags = flags[i];
	}
}

const struct tr_batch_impl tr_batch_scalar = {
	.name = "scalar",
	.impl = TIMERRING_IMPL_SCALAR,
	.prep = tr_prep_scalar_range,
	.place = tr_place_scalar,
	.scan_due = tr_scan_due_scalar,
	.cqe_fill = tr_cqe_fill_scalar,
};
