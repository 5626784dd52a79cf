/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring core: the schedule of a parallel big batch (par.c) and the
 * cost model that chooses between it and the inline path (tier.c).
 */
#ifndef _TIMERRING_PAR_H
#define _TIMERRING_PAR_H

#include "batch.h"

/* Participants of one parallel batch: its submitter and its workers. */
#define TR_PAR_MAX		8

/* What tr_par_take() says. */
enum {
	TR_PAR_TAKEN,			/* the chunk is the caller's */
	TR_PAR_NONE,			/* every chunk is handed out */
};

/* A chunk's state, as the schedule sees it. */
enum {
	TR_PAR_IDLE,			/* not in flight */
	TR_PAR_PREP,			/* being copied in and split */
	TR_PAR_READY,			/* segments published */
	TR_PAR_BARRIER,			/* it holds a CANCEL_ALL: applied whole */
};

#define TR_PAR_NOSEG		U16_MAX
#define TR_PAR_WHOLE		(U16_MAX - 1)

/*
 * One participant's chunk: its buffers (the participant's), and what the
 * schedule keeps of it. done, failed and kinds sum what its segments' appliers reported
 * (tr_par_applied()).
 */
struct tr_par_chunk {
	struct tr_batch_buf *b;		/* as copied in */
	struct tr_batch_buf *sorted;
	struct tr_split *split;
	struct tr_prep prep;
	struct tr_batch_buf *v;		/* b, or sorted (split by shard) */
	u32 idx;			/* ops [idx * 256, idx * 256 + n) */
	u32 n;
	u32 state;
	u32 left;			/* segments not yet applied */
	u32 done;
	u32 failed;
	u32 kinds[TIMERRING_OP_LAST];
	u16 seg_of[TIMERRING_SHARDS_MAX];	/* split.seg index, or NOSEG */
};

/* A segment to apply: seg of ch, or all of ch (TR_PAR_WHOLE). */
struct tr_par_item {
	struct tr_par_chunk *ch;
	u16 seg;
	u16 shard;			/* the shard it was picked for */
};

/*
 * The schedule of one batch. Every call is made under the caller's lock;
 * none sleeps or allocates.
 */
struct tr_par {
	u32 nr_shards;
	u32 nr_ops;
	u32 nr_chunks;
	u32 next;			/* the next chunk to hand out */
	u32 stop;			/* chunks from here are never applied */
	u32 nr_slots;
	u64 busy;			/* shards being applied, one bit each */
	u64 stolen;			/* segments applied off their home */
	u32 ticket[TIMERRING_SHARDS_MAX];	/* next chunk, per shard */
	struct tr_par_chunk *slot[TR_PAR_MAX];
};

void tr_par_init(struct tr_par *p, u32 shards, u32 nops,
		 struct tr_par_chunk *const *slots, u32 nslots);
int tr_par_take(struct tr_par *p, struct tr_par_chunk *ch);
void tr_par_ready(struct tr_par *p, struct tr_par_chunk *ch);
void tr_par_fail(struct tr_par *p, struct tr_par_chunk *ch);
void tr_par_halt(struct tr_par *p);
bool tr_par_pick(struct tr_par *p, u32 home, const struct tr_par_chunk *own,
		 struct tr_par_item *it);
bool tr_par_applied(struct tr_par *p, const struct tr_par_item *it);
bool tr_par_dead(const struct tr_par *p, const struct tr_par_chunk *ch);
bool tr_par_finished(const struct tr_par_chunk *ch);
void tr_par_put(struct tr_par *p, struct tr_par_chunk *ch);
bool tr_par_in_flight(const struct tr_par *p);

/*
 * tier.c: the choice between applying a batch inline, on its submitter
 * alone, and in parallel. Costs are EWMAs (weight 1/8) of what batches
 * took: inline_ps and par_ps in picoseconds per op, fixed_ns the fixed
 * cost of a parallel batch (its workers' start and end). breakeven is the
 * size from which a parallel batch is cheaper, TR_TIER_NEVER if none is.
 */
#define TR_TIER_NEVER		U32_MAX
#define TR_TIER_EXPLORE		16	/* one trial of the other way per */

enum {
	TR_TIER_INLINE,
	TR_TIER_PAR,
};

struct tr_tier {
	u64 inline_ps;
	u64 par_ps;
	u64 fixed_ns;
	u32 breakeven;
	u32 since;			/* batches since the other way was tried */
	u32 inline_n;			/* samples, saturating */
	u32 par_n;
};

void tr_tier_init(struct tr_tier *t);
u32 tr_tier_choose(struct tr_tier *t, u32 nops);
void tr_tier_learn(struct tr_tier *t, u32 tier, u32 nops, u64 ns,
		   u64 fixed_ns);

#endif /* _TIMERRING_PAR_H */
