// SPDX-License-Identifier: GPL-2.0
/*
 * timerring core: the schedule of a parallel big batch.
 *
 * A batch of a sharded instance above the break-even size (tier.c) is
 * applied by up to TR_PAR_MAX participants at once: its submitter and
 * workers of its shards' nodes (submit_par.c). Each participant takes the
 * next chunk of 256 ops (tr_par_take()), copies it in, prepares and splits
 * it by shard on its own CPU, publishes its segments (tr_par_ready()), and
 * then applies segments, its own or any other participant's, until its
 * chunk is applied; then it writes the chunk's results and takes the next.
 * Natively a chunk costs ~4.5 us to copy, prepare and split and ~3.5 us to
 * apply (tools/bench/RESULTS.md): the first half is what one submitter
 * cannot hand to a worker, so every participant does it for chunks of its
 * own, and only the apply is shared out.
 *
 * Order. Ops on one id are in one shard, so a batch is applied exactly as
 * inline if every shard applies its segments in the order of their chunks.
 * Shard k has a ticket: the chunk whose segment of shard k applies next.
 * A segment is picked only when its chunk holds the ticket of its shard
 * and no other participant is applying that shard (busy); a chunk with no
 * op in shard k passes the ticket on as soon as its split is known. The
 * lowest chunk in flight always holds every ticket it needs, so some
 * participant always progresses, and a shard is never applied by two.
 *
 * Stealing. tr_par_pick() looks at its caller's home shard first, then
 * at the others in turn: an idle participant takes the pending segment of
 * any shard (stolen counts them), under that shard's mutex, as the
 * submitter of an inline batch would.
 *
 * A CANCEL_ALL makes its chunk a barrier: its owner applies the chunk
 * whole, in order, once it holds every shard's ticket and no shard is
 * busy; then every ticket moves past it. So it takes effect between the
 * ops before it and those after it, as inline.
 *
 * Faults and signals. A chunk whose copy faults never publishes a split,
 * so no ticket passes it: no chunk after it is applied (stop), and the
 * batch's done is the ops of the chunks before it, as inline. A halt
 * (the submitter's fatal signal) hands out no further chunk; those in
 * flight are applied.
 *
 * Pure: no locks, no allocation. Every call is made under the caller's
 * lock of the schedule.
 */
#include "par.h"

void tr_par_init(struct tr_par *p, u32 shards, u32 nops,
		 struct tr_par_chunk *const *slots, u32 nslots)
{
	u32 i;

	memset(p, 0, sizeof(*p));
	p->nr_shards = shards;
	p->nr_ops = nops;
	p->nr_chunks = DIV_ROUND_UP(nops, TR_BATCH_CHUNK);
	p->stop = p->nr_chunks;
	p->nr_slots = min_t(u32, nslots, TR_PAR_MAX);
	for (i = 0; i < p->nr_slots; i++) {
		p->slot[i] = slots[i];
		slots[i]->state = TR_PAR_IDLE;
	}
}

/* Hand @ch (idle) the next chunk of the batch, or say there is none. */
int tr_par_take(struct tr_par *p, struct tr_par_chunk *ch)
{
	if (p->next >= p->stop)
		return TR_PAR_NONE;
	ch->idx = p->next++;
	ch->n = min_t(u32, p->nr_ops - ch->idx * TR_BATCH_CHUNK,
		      TR_BATCH_CHUNK);
	ch->state = TR_PAR_PREP;
	ch->left = 0;
	ch->done = 0;
	ch->failed = 0;
	memset(ch->kinds, 0, sizeof(ch->kinds));
	return TR_PAR_TAKEN;
}

/* @ch is split (ch->split, ch->v): publish its segments. */
void tr_par_ready(struct tr_par *p, struct tr_par_chunk *ch)
{
	u32 i;

	for (i = 0; i < p->nr_shards; i++)
		ch->seg_of[i] = TR_PAR_NOSEG;
	for (i = 0; i < ch->split->nseg; i++) {
		if (ch->split->seg[i].shard == TR_SEG_ALL) {
			ch->state = TR_PAR_BARRIER;
			ch->left = 1;
			return;
		}
	}
	for (i = 0; i < ch->split->nseg; i++)
		ch->seg_of[ch->split->seg[i].shard] = i;
	ch->left = ch->split->nseg;
	ch->state = TR_PAR_READY;
}

/* @ch could not be copied in: neither it nor any chunk after it applies. */
void tr_par_fail(struct tr_par *p, struct tr_par_chunk *ch)
{
	p->stop = min(p->stop, ch->idx);
	ch->state = TR_PAR_IDLE;
}

/* Hand out no further chunk; those in flight are applied. */
void tr_par_halt(struct tr_par *p)
{
	p->stop = min(p->stop, p->next);
}

/* Chunk @idx if it is in flight, else NULL. */
static struct tr_par_chunk *tr_par_find(const struct tr_par *p, u32 idx)
{
	u32 i;

	for (i = 0; i < p->nr_slots; i++)
		if (p->slot[i]->state != TR_PAR_IDLE && p->slot[i]->idx == idx)
			return p->slot[i];
	return NULL;
}

/* Whether chunk @idx, a barrier, may be applied now. */
static bool tr_par_barrier_free(const struct tr_par *p, u32 idx)
{
	u32 k;

	if (p->busy)
		return false;
	for (k = 0; k < p->nr_shards; k++)
		if (p->ticket[k] != idx)
			return false;
	return true;
}

/*
 * The next segment of shard @k that may be applied, if any: passes the
 * shard's ticket over chunks that have no op in it, published ones and
 * those already retired (a chunk handed out before the stop and no
 * longer in flight was applied whole).
 */
static bool tr_par_pick_shard(struct tr_par *p, u32 k,
			      const struct tr_par_chunk *own,
			      struct tr_par_item *it)
{
	struct tr_par_chunk *ch;

	for (;;) {
		if (p->ticket[k] >= p->stop || p->ticket[k] >= p->next)
			return false;
		ch = tr_par_find(p, p->ticket[k]);
		if (!ch) {
			p->ticket[k]++;
			continue;
		}
		if (ch->state == TR_PAR_PREP)
			return false;
		if (ch->state == TR_PAR_BARRIER) {
			if (ch != own || !tr_par_barrier_free(p, ch->idx))
				return false;
			*it = (struct tr_par_item){
				.ch = ch, .seg = TR_PAR_WHOLE, .shard = k,
			};
			p->busy = p->nr_shards < 64 ?
				  BIT_ULL(p->nr_shards) - 1 : ~0ULL;
			return true;
		}
		if (ch->seg_of[k] != TR_PAR_NOSEG) {
			*it = (struct tr_par_item){
				.ch = ch, .seg = ch->seg_of[k], .shard = k,
			};
			p->busy |= BIT_ULL(k);
			return true;
		}
		p->ticket[k]++;
	}
}

/*
 * A segment for a participant whose home shard is @home and whose chunk
 * is @own (or NULL): its home shard's first, else another's.
 */
bool tr_par_pick(struct tr_par *p, u32 home, const struct tr_par_chunk *own,
		 struct tr_par_item *it)
{
	u32 j, k;

	for (j = 0; j < p->nr_shards; j++) {
		k = (home + j) % p->nr_shards;
		if (p->busy & BIT_ULL(k))
			continue;
		if (tr_par_pick_shard(p, k, own, it)) {
			p->stolen += it->seg != TR_PAR_WHOLE && k != home;
			return true;
		}
	}
	return false;
}

/*
 * @it was applied: its shard's ticket moves on (all of them for a whole
 * chunk). Returns whether its chunk has no segment left.
 */
bool tr_par_applied(struct tr_par *p, const struct tr_par_item *it)
{
	struct tr_par_chunk *ch = it->ch;
	u32 k;

	if (it->seg == TR_PAR_WHOLE) {
		for (k = 0; k < p->nr_shards; k++)
			p->ticket[k] = ch->idx + 1;
		p->busy = 0;
	} else {
		p->ticket[it->shard] = ch->idx + 1;
		p->busy &= ~BIT_ULL(it->shard);
	}
	return !--ch->left;
}

/* @ch will never be applied: a chunk before it failed to copy in. */
bool tr_par_dead(const struct tr_par *p, const struct tr_par_chunk *ch)
{
	return ch->idx >= p->stop;
}

bool tr_par_finished(const struct tr_par_chunk *ch)
{
	return ch->state != TR_PAR_PREP && !ch->left;
}

/* Its owner is done with @ch. */
void tr_par_put(struct tr_par *p, struct tr_par_chunk *ch)
{
	ch->state = TR_PAR_IDLE;
}

/* Whether any chunk is still in flight. */
bool tr_par_in_flight(const struct tr_par *p)
{
	u32 i;

	for (i = 0; i < p->nr_slots; i++)
		if (p->slot[i]->state != TR_PAR_IDLE)
			return true;
	return false;
}
