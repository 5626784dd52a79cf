/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring batch kernels: the data-parallel phases of a batch. See batch.c
 * for the scalar reference and its rules, batch_avx2.c and batch_avx512.c
 * for the vector versions, and simd.c for how one is chosen.
 */
#ifndef _TIMERRING_BATCH_H
#define _TIMERRING_BATCH_H

#include "core.h"

/* Ops handled per chunk: 256 ops are 8 KiB of input. */
#define TR_BATCH_CHUNK		256

struct tr_prep {
	u64 now_ns;		/* instance clock when the chunk was read */
	s64 ns_off;		/* time namespace offset of absolute expiries */
	u64 res_ns;		/* tick length */
	u32 max_ids;
	u32 resv;
};

/* Per-chunk output, structure of arrays, 64-byte aligned. */
struct tr_prep_out {
	u64 tick[TR_BATCH_CHUNK];	/* expiry tick (ARM, MODIFY) */
	u64 ival[TR_BATCH_CHUNK];	/* interval in ticks, 0 if one-shot */
	s32 verdict[TR_BATCH_CHUNK];	/* 0 or -errno */
} __aligned(64);

/*
 * floor(x / d) as a multiply-high and shifts (Granlund & Montgomery, as
 * libdivide does it), exact for every u64 x: q = mulhi(x, magic); then
 * q >>= shift, or with add set, q = (((x - q) >> 1) + q) >> shift. A power
 * of two d takes the add form with magic 0.
 */
struct tr_recip {
	u64 magic;
	u64 d;
	u32 shift;
	u32 add;
};

void tr_recip_init(struct tr_recip *r, u64 d);

static __always_inline u64 tr_mulhi64(u64 a, u64 b)
{
	return mul_u64_u64_shr(a, b, 64);	/* one mul on 64-bit */
}

static __always_inline u64 tr_recip_div(const struct tr_recip *r, u64 x)
{
	u64 q = tr_mulhi64(x, r->magic);

	if (r->add)
		q = ((x - q) >> 1) + q;
	return q >> r->shift;
}

/* ceil(x / d), exactly tr_ns_to_tick_ceil(x, d). */
static __always_inline u64 tr_recip_ceil(const struct tr_recip *r, u64 x)
{
	u64 q = tr_recip_div(r, x);

	return q + (q * r->d != x);
}

/*
 * The batch kernels of one implementation. All work on index ranges so
 * that a caller can cut a chunk into FPU sections.
 *
 * prep:     ops[i0, i1) -> out->{verdict,tick,ival}[i0, i1] (see batch.c).
 * place:    queue of each expiry tick for wheel time @elapsed, exactly
 *           tr_where_of(): TR_L_PENDING if due, TR_L_FAR beyond the
 *           wheel, else level * TR_LVL_SLOTS + slot; for any @elapsed
 *           below 2^62 (ticks of a u64 ns clock are below 2^54).
 * scan_due: indices i in [0, n) with exp[i] <= now, in order, into idx[];
 *           returns how many (the due ones of a slot being cascaded).
 * cqe_fill: CQE i of n = { ud[i], id[i], flags[i] } at ring position
 *           (tail + i) & mask.
 */
struct tr_batch_impl {
	const char *name;
	u32 impl;		/* TIMERRING_IMPL_* */
	void (*prep)(const struct tr_prep *p, const struct tr_recip *r,
		     const struct timerring_op *ops, u32 i0, u32 i1,
		     struct tr_prep_out *out);
	void (*place)(u64 elapsed, const u64 *exp, u32 n, u16 *where);
	u32 (*scan_due)(u64 now, const u64 *exp, u32 n, u32 *idx);
	void (*cqe_fill)(struct tr_cqe *cqes, u32 mask, u32 tail,
			 const u32 *id, const u64 *ud, const u32 *flags,
			 u32 n);
};

/* batch.c: the definition (one division per value) and the scalar kernels */
void tr_prep_ref(const struct tr_prep *p, const struct timerring_op *ops,
		 u32 n, struct tr_prep_out *out);
void tr_prep_scalar(const struct tr_prep *p, const struct timerring_op *ops,
		    u32 n, struct tr_prep_out *out);
void tr_prep_scalar_range(const struct tr_prep *p, const struct tr_recip *r,
			  const struct timerring_op *ops, u32 i0, u32 i1,
			  struct tr_prep_out *out);
void tr_place_scalar(u64 elapsed, const u64 *exp, u32 n, u16 *where);
u32 tr_scan_due_scalar(u64 now, const u64 *exp, u32 n, u32 *idx);
void tr_cqe_fill_scalar(struct tr_cqe *cqes, u32 mask, u32 tail,
			const u32 *id, const u64 *ud, const u32 *flags, u32 n);
extern const struct tr_batch_impl tr_batch_scalar;

/*
 * batch_avx2.c, batch_avx512.c (x86-64 only): call only where the CPU has
 * the features and the FPU is held (kernel_fpu_begin()).
 */
extern const struct tr_batch_impl tr_batch_avx2;
extern const struct tr_batch_impl tr_batch_avx512;

/* One op's verdict and expiry in ns: shared by all kernels. */
static __always_inline s32 tr_verdict(const struct tr_prep *p,
				      const struct timerring_op *op)
{
	bool unused_zero = !op->expiry && !op->user_data && !op->interval &&
			   !op->flags;

	if (op->resv || (op->flags & ~TIMERRING_OPF_ALL))
		return -EINVAL;
	switch (op->opcode) {
	case TIMERRING_OP_ARM:
	case TIMERRING_OP_MODIFY:
		if (op->interval && op->interval < p->res_ns)
			return -EINVAL;
		break;
	case TIMERRING_OP_CANCEL:
		if (!unused_zero)
			return -EINVAL;
		break;
	case TIMERRING_OP_CANCEL_ALL:
		return unused_zero && !op->id ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
	return op->id < p->max_ids ? 0 : -ERANGE;
}

static __always_inline u64 tr_expiry_ns(const struct tr_prep *p,
					const struct timerring_op *op)
{
	u64 t;

	if (op->flags & TIMERRING_OPF_ABS) {
		if (p->ns_off >= 0)
			return op->expiry > (u64)p->ns_off ?
			       op->expiry - p->ns_off : 0;
		t = op->expiry - (u64)p->ns_off;
		return t < op->expiry ? U64_MAX : t;
	}
	t = p->now_ns + op->expiry;
	return t < p->now_ns ? U64_MAX : t;
}

/*
 * pass.c: applying a chunk of prepared ops (tr_apply()). kinds counts the
 * ops applied by opcode, failed those that failed.
 */
struct tr_apply {
	const struct timerring_op *ops;
	const struct tr_prep_out *out;
	const struct tr_prep *prep;
	s32 *res;
	u32 n;
	u32 failed;
	u32 kinds[TIMERRING_OP_LAST];
	bool stop_on_error;
	bool stop;
};

/*
 * Pass budgets, in refs: a pass of the expiry path before it yields, and
 * what the submit path may expire per chunk before applying it.
 */
#define TR_PASS_BUDGET			4096
#define TR_SUBMIT_ADVANCE_BUDGET	64

void tr_pass_begin(struct tr_core *c, u64 now_ns);
bool tr_pass_expire(struct tr_core *c, u32 *budget);
u32 tr_pass_end(struct tr_core *c);
u32 tr_apply(struct tr_core *c, struct tr_apply *a, u32 i);

/*
 * A chunk of ops as copied in and prepared, with the results of the apply
 * loop. fresh is the driver's: what it allocated for an op (submit.c).
 */
struct tr_batch_buf {
	struct tr_prep_out out;
	struct timerring_op ops[TR_BATCH_CHUNK];
	s32 res[TR_BATCH_CHUNK];
	u8 fresh[TR_BATCH_CHUNK];
};

/* A run of a chunk's ops that go to one shard, or a CANCEL_ALL (all). */
struct tr_seg {
	u16 start;
	u16 end;
	u16 shard;			/* or TR_SEG_ALL */
};

#define TR_SEG_ALL		U16_MAX

/* split.c: a chunk's segments, and where each op of a sorted chunk was */
struct tr_split {
	u32 nseg;
	struct tr_seg seg[TR_BATCH_CHUNK];
	u16 pos[TR_BATCH_CHUNK];
};

u16 tr_op_seg(const struct tr_batch_buf *b, u32 i, u32 shards);
struct tr_batch_buf *tr_split(struct tr_split *sp, struct tr_batch_buf *b,
			      struct tr_batch_buf *sorted, u32 n, u32 shards,
			      bool in_order);
void tr_split_unsort(const struct tr_split *sp,
		     const struct tr_batch_buf *sorted, struct tr_batch_buf *b,
		     u32 n);

/* sq.c: ops a caller that cannot allocate may apply */
u32 tr_sq_applicable(const struct tr_core *c, const struct timerring_op *ops,
		     const struct tr_prep_out *out, u32 n);

#endif /* _TIMERRING_BATCH_H */
