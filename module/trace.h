/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring tracepoints (TRACE_SYSTEM timerring). Events store values
 * only, never pointers, so reading the trace after close or rmmod is safe.
 * Each event is documented in doc/TRACING.md.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM timerring

#if !defined(_TIMERRING_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TIMERRING_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(timerring_setup,
	TP_PROTO(u32 inst, u32 max_timers, u32 cq_entries, u64 res_ns,
		 u32 clockid, int node),
	TP_ARGS(inst, max_timers, cq_entries, res_ns, clockid, node),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, max_timers)
		__field(u32, cq_entries)
		__field(u32, clockid)
		__field(u64, res_ns)
		__field(int, node)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->max_timers = max_timers;
		__entry->cq_entries = cq_entries;
		__entry->clockid = clockid;
		__entry->res_ns = res_ns;
		__entry->node = node;
	),
	TP_printk("inst=%u max_timers=%u cq_entries=%u res_ns=%llu clockid=%u node=%d",
		  __entry->inst, __entry->max_timers, __entry->cq_entries,
		  __entry->res_ns, __entry->clockid, __entry->node)
);

TRACE_EVENT(timerring_teardown,
	TP_PROTO(u32 inst, u32 armed, u64 expired),
	TP_ARGS(inst, armed, expired),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, armed)
		__field(u64, expired)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->armed = armed;
		__entry->expired = expired;
	),
	TP_printk("inst=%u armed=%u expired=%llu",
		  __entry->inst, __entry->armed, __entry->expired)
);

TRACE_EVENT(timerring_submit,
	TP_PROTO(u32 inst, u32 nr, u32 done, u32 failed, const u32 *kinds,
		 u32 impl, u64 ns),
	TP_ARGS(inst, nr, done, failed, kinds, impl, ns),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, nr)
		__field(u32, done)
		__field(u32, failed)
		__field(u32, arm)
		__field(u32, modify)
		__field(u32, cancel)
		__field(u32, cancel_all)
		__field(u32, impl)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->nr = nr;
		__entry->done = done;
		__entry->failed = failed;
		__entry->arm = kinds[TIMERRING_OP_ARM];
		__entry->modify = kinds[TIMERRING_OP_MODIFY];
		__entry->cancel = kinds[TIMERRING_OP_CANCEL];
		__entry->cancel_all = kinds[TIMERRING_OP_CANCEL_ALL];
		__entry->impl = impl;
		__entry->ns = ns;
	),
	TP_printk("inst=%u nr=%u done=%u failed=%u arm=%u modify=%u cancel=%u cancel_all=%u impl=%s ns=%llu",
		  __entry->inst, __entry->nr, __entry->done, __entry->failed,
		  __entry->arm, __entry->modify, __entry->cancel,
		  __entry->cancel_all,
		  __print_symbolic(__entry->impl,
				   { TIMERRING_IMPL_SCALAR, "scalar" },
				   { TIMERRING_IMPL_AVX2, "avx2" },
				   { TIMERRING_IMPL_AVX512, "avx512" }),
		  __entry->ns)
);

/*
 * A batch that could go inline or in parallel (submit_par.c), after it:
 * the way it went, what it took, and the cost model as it learned from it.
 */
TRACE_EVENT(timerring_tier,
	TP_PROTO(u32 inst, u32 nr, u32 way, u64 ns, u64 fixed_ns,
		 u32 breakeven, u64 inline_ps, u64 par_ps, u64 model_fixed_ns),
	TP_ARGS(inst, nr, way, ns, fixed_ns, breakeven, inline_ps, par_ps,
		model_fixed_ns),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, nr)
		__field(u32, way)
		__field(u32, breakeven)
		__field(u64, ns)
		__field(u64, fixed_ns)
		__field(u64, inline_ps)
		__field(u64, par_ps)
		__field(u64, model_fixed_ns)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->nr = nr;
		__entry->way = way;
		__entry->breakeven = breakeven;
		__entry->ns = ns;
		__entry->fixed_ns = fixed_ns;
		__entry->inline_ps = inline_ps;
		__entry->par_ps = par_ps;
		__entry->model_fixed_ns = model_fixed_ns;
	),
	TP_printk("inst=%u nr=%u way=%s ns=%llu fixed_ns=%llu breakeven=%u inline_ps=%llu par_ps=%llu model_fixed_ns=%llu",
		  __entry->inst, __entry->nr,
		  __entry->way ? "parallel" : "inline",
		  __entry->ns, __entry->fixed_ns, __entry->breakeven,
		  __entry->inline_ps, __entry->par_ps, __entry->model_fixed_ns)
);

TRACE_EVENT(timerring_op,
	TP_PROTO(u32 inst, u8 opcode, u32 id, u64 tick, u64 user_data,
		 s32 res),
	TP_ARGS(inst, opcode, id, tick, user_data, res),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, id)
		__field(u64, tick)
		__field(u64, user_data)
		__field(s32, res)
		__field(u8, opcode)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->id = id;
		__entry->tick = tick;
		__entry->user_data = user_data;
		__entry->res = res;
		__entry->opcode = opcode;
	),
	TP_printk("inst=%u op=%s id=%u tick=%llu user_data=0x%llx res=%d",
		  __entry->inst,
		  __print_symbolic(__entry->opcode,
				   { TIMERRING_OP_ARM, "arm" },
				   { TIMERRING_OP_MODIFY, "modify" },
				   { TIMERRING_OP_CANCEL, "cancel" },
				   { TIMERRING_OP_CANCEL_ALL, "cancel_all" }),
		  __entry->id, __entry->tick, __entry->user_data, __entry->res)
);

TRACE_EVENT(timerring_expire,
	TP_PROTO(u32 inst, u32 id, u64 user_data, u64 late_ns),
	TP_ARGS(inst, id, user_data, late_ns),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, id)
		__field(u64, user_data)
		__field(u64, late_ns)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->id = id;
		__entry->user_data = user_data;
		__entry->late_ns = late_ns;
	),
	TP_printk("inst=%u id=%u user_data=0x%llx late_ns=%llu",
		  __entry->inst, __entry->id, __entry->user_data,
		  __entry->late_ns)
);

TRACE_EVENT(timerring_cascade,
	TP_PROTO(u32 inst, u32 level, u32 slot, u64 tick),
	TP_ARGS(inst, level, slot, tick),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, level)
		__field(u32, slot)
		__field(u64, tick)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->level = level;
		__entry->slot = slot;
		__entry->tick = tick;
	),
	TP_printk("inst=%u level=%u slot=%u tick=%llu", __entry->inst,
		  __entry->level, __entry->slot, __entry->tick)
);

TRACE_EVENT(timerring_overflow,
	TP_PROTO(u32 inst, u32 pending),
	TP_ARGS(inst, pending),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, pending)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->pending = pending;
	),
	TP_printk("inst=%u %s pending=%u", __entry->inst,
		  __entry->pending ? "entered" : "cleared", __entry->pending)
);

TRACE_EVENT(timerring_sq,
	TP_PROTO(u32 inst, u32 applied, u32 failed, u32 left),
	TP_ARGS(inst, applied, failed, left),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, applied)
		__field(u32, failed)
		__field(u32, left)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->applied = applied;
		__entry->failed = failed;
		__entry->left = left;
	),
	TP_printk("inst=%u applied=%u failed=%u left=%u", __entry->inst,
		  __entry->applied, __entry->failed, __entry->left)
);

TRACE_EVENT(timerring_wakeup,
	TP_PROTO(u32 inst, u32 posted),
	TP_ARGS(inst, posted),
	TP_STRUCT__entry(
		__field(u32, inst)
		__field(u32, posted)
	),
	TP_fast_assign(
		__entry->inst = inst;
		__entry->posted = posted;
	),
	TP_printk("inst=%u posted=%u", __entry->inst, __entry->posted)
);

TRACE_EVENT(timerring_impl_select,
	TP_PROTO(u32 phase, u32 impl, u32 forced, u32 break_even,
		 u64 scalar_ps, u64 simd_ps),
	TP_ARGS(phase, impl, forced, break_even, scalar_ps, simd_ps),
	TP_STRUCT__entry(
		__field(u32, phase)
		__field(u32, impl)
		__field(u32, forced)
		__field(u32, break_even)
		__field(u64, scalar_ps)
		__field(u64, simd_ps)
	),
	TP_fast_assign(
		__entry->phase = phase;
		__entry->impl = impl;
		__entry->forced = forced;
		__entry->break_even = break_even;
		__entry->scalar_ps = scalar_ps;
		__entry->simd_ps = simd_ps;
	),
	TP_printk("phase=%s impl=%s forced=%u break_even=%u scalar_ps_per_op=%llu simd_ps_per_op=%llu",
		  __entry->phase ? "drain" : "prep",
		  __print_symbolic(__entry->impl,
				   { TIMERRING_IMPL_SCALAR, "scalar" },
				   { TIMERRING_IMPL_AVX2, "avx2" },
				   { TIMERRING_IMPL_AVX512, "avx512" }),
		  __entry->forced, __entry->break_even, __entry->scalar_ps,
		  __entry->simd_ps)
);

#endif /* _TIMERRING_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
