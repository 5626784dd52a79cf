// SPDX-License-Identifier: GPL-2.0
/*
 * timerring tracepoint definitions, and the hooks through which the pure
 * core (wheel.c) emits events: the core calls them only when the event is
 * enabled (tracepoint_enabled() is a static key), so a disabled event
 * costs one patched-out branch.
 */
#include "instance.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static u32 tr_core_inst_id(const struct tr_core *c)
{
	return container_of(c, struct tr_shard, core)->inst->inst_id;
}

void tr_hook_expire(const struct tr_core *c, u32 id,
		    const struct tr_entry *e, u64 late_ns)
{
	trace_timerring_expire(tr_core_inst_id(c), id, e->user_data, late_ns);
}

void tr_hook_cascade(const struct tr_core *c, unsigned int lvl,
		     unsigned int slot)
{
	trace_timerring_cascade(tr_core_inst_id(c), lvl, slot, c->elapsed);
}

void tr_hook_op(const struct tr_core *c, const struct timerring_op *op,
		u64 tick, s32 res)
{
	trace_timerring_op(tr_core_inst_id(c), op->opcode, op->id, tick,
			   op->user_data, res);
}
