/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rules of uapi/linux/timerring.h that both reference models check:
 * the white-box model of the core (model.c) and the differential fuzzer of
 * the real module (tools/fuzz/timerring-fuzz.c). Each function is a
 * reading of the header, not of the module: which errors a malformed op
 * may get, the flags of an expiration CQE, and the nanosecond grid of a
 * periodic timer.
 */
#ifndef _TR_UAPI_RULES_H
#define _TR_UAPI_RULES_H

#include <linux/types.h>	/* the shim of include/: u32, u64 */
#include <linux/timerring.h>

/* Errors a malformed op may get (tr_uapi_op_errors()). */
#define TR_UAPI_EINVAL		0x1
#define TR_UAPI_ERANGE		0x2

/*
 * Which of EINVAL and ERANGE apply to @op on an instance of @max_timers
 * ids and a tick of @res_ns (0: a valid op). The header lists both for
 * every op and gives no order between them: an op with both gets either.
 *
 * EINVAL: an unknown opcode or flag, resv set, an interval below the
 * resolution (ARM, MODIFY), a field the opcode does not use set (CANCEL:
 * expiry, user_data, interval, flags; CANCEL_ALL: those and id).
 * ERANGE: id >= max_timers (CANCEL_ALL has no id: a non-zero one is
 * EINVAL).
 */
static inline unsigned int tr_uapi_op_errors(const struct timerring_op *op,
					     u32 max_timers, u64 res_ns)
{
	bool unused_set = op->expiry || op->user_data || op->interval ||
			  op->flags;
	unsigned int e = 0;

	if (op->resv || (op->flags & ~TIMERRING_OPF_ALL))
		e |= TR_UAPI_EINVAL;
	switch (op->opcode) {
	case TIMERRING_OP_ARM:
	case TIMERRING_OP_MODIFY:
		if (op->interval && op->interval < res_ns)
			e |= TR_UAPI_EINVAL;
		break;
	case TIMERRING_OP_CANCEL:
		if (unused_set)
			e |= TR_UAPI_EINVAL;
		break;
	case TIMERRING_OP_CANCEL_ALL:
		if (unused_set || op->id)
			e |= TR_UAPI_EINVAL;
		return e;
	default:
		return e | TR_UAPI_EINVAL;
	}
	if (op->id >= max_timers)
		e |= TR_UAPI_ERANGE;
	return e;
}

/*
 * The flags of an expiration CQE: the low 16 bits of the generation at
 * TIMERRING_CQE_GEN_SHIFT; for a periodic timer also F_MORE, F_PERIODIC
 * and the missed periods at TIMERRING_CQE_OVERRUN_SHIFT, saturating at
 * TIMERRING_CQE_OVERRUN_MASK.
 */
static inline u32 tr_uapi_cqe_flags(u32 gen, bool periodic,
				      u64 overruns)
{
	u32 f = (gen & TIMERRING_RES_GEN_MASK) << TIMERRING_CQE_GEN_SHIFT;

	if (periodic) {
		if (overruns > TIMERRING_CQE_OVERRUN_MASK)
			overruns = TIMERRING_CQE_OVERRUN_MASK;
		f |= TIMERRING_CQE_F_MORE | TIMERRING_CQE_F_PERIODIC |
		     (u32)overruns << TIMERRING_CQE_OVERRUN_SHIFT;
	}
	return f;
}

/*
 * Period @k of a periodic timer first due at @due0 ns with @ival ns is due
 * at due0 + k * ival exactly; false (and *@due = U64_MAX, never) if that
 * is beyond the u64 clock.
 */
static inline bool tr_uapi_period_due(u64 due0, u64 ival, u64 k,
				      u64 *due)
{
	unsigned __int128 t = (unsigned __int128)due0 +
			      (unsigned __int128)ival * k;

	if (t > (u64)~0ULL) {
		*due = ~0ULL;
		return false;
	}
	*due = (u64)t;
	return true;
}

/* Periods k >= 0 of (@due0, @ival) due at or before @now: none if before. */
static inline u64 tr_uapi_periods_due_by(u64 due0, u64 ival, u64 now)
{
	if (now < due0)
		return 0;
	return (now - due0) / ival + 1;
}

#endif /* _TR_UAPI_RULES_H */
