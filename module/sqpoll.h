/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring submission ring, the driver side (sqpoll.c): who consumes the
 * SQ ring, when, and in which context.
 */
#ifndef _TIMERRING_SQPOLL_H
#define _TIMERRING_SQPOLL_H

#include <linux/types.h>

#include "core.h"

struct mem_cgroup;
struct tr_batch_buf;
struct tr_instance;
struct timerring_params;
struct timerring_stats;

/*
 * An instance's SQ ring and its consumer, that of its only shard. All of
 * it is under the shard lock; raw[0..n) are ops fetched from the ring, as
 * read, and not applied yet (the ring's head is before them). Each step
 * prepares a copy of them in buf. While blocked, raw[0] is an op only
 * process context can apply, and only the holder of the shard's mutex
 * touches raw and buf.
 */
struct tr_sqpoll {
	struct tr_sq ring;
	struct tr_batch_buf *buf;
	struct timerring_op *raw;	/* [TR_BATCH_CHUNK] */
	u32 n;
	bool blocked;		/* WRITE_ONCE(): the work item peeks at it */
	u64 poll_until;		/* instance clock: poll until then */
	u64 poll_ns;		/* the poll period */
	u64 poll_ticks;		/* the same, in ticks */
	u64 idle_ns;		/* sq_idle_ms */
	/* of the task that called SETUP */
	s64 ns_off;
	struct mem_cgroup *memcg;
	/* STATS */
	u64 ops_total;
	u64 failed_total;
	u64 enter_total;
	u64 pass_total;
};

int tr_sqpoll_check(struct timerring_params *p, size_t usize);
size_t tr_sqpoll_layout(struct timerring_params *p, size_t cq_bytes);
size_t tr_sqpoll_bytes(const struct timerring_params *p);
int tr_sqpoll_alloc(struct tr_instance *inst,
		    const struct timerring_params *p);
void tr_sqpoll_init(struct tr_instance *inst,
		    const struct timerring_params *p);
void tr_sqpoll_free(struct tr_instance *inst);

bool tr_sqpoll_pass(struct tr_instance *inst);
bool tr_sqpoll_more(struct tr_instance *inst);
void tr_sqpoll_publish(struct tr_instance *inst);
u64 tr_sqpoll_next(struct tr_instance *inst, u64 next);
void tr_sqpoll_work(struct tr_instance *inst);
int tr_sq_enter(struct tr_instance *inst, bool nonblock);
void tr_sqpoll_stats(struct tr_instance *inst, struct timerring_stats *s);

#endif /* _TIMERRING_SQPOLL_H */
