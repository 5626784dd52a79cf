// SPDX-License-Identifier: GPL-2.0
/*
 * timerring id table and ref pool: the memory of the core.
 *
 * Ids index the table directly: id >> 7 picks a chunk, id & 127 the entry
 * in it. A chunk is 128 entries of 24 bytes (3 KiB) and is allocated by the
 * driver (from a per-NUMA-node slab) the first time an id in it is armed,
 * so a sparse id space costs memory only where it is used. Chunks stay
 * until the instance is closed: the per-id generation must survive a
 * cancel, so that stale CQEs stay recognisable. A periodic timer also uses
 * 16 bytes (struct tr_period) of a per-chunk interval array (2 KiB),
 * allocated when the chunk sees its first periodic timer.
 *
 * The wheel's queues hold refs (4-byte ids) in 64-byte blocks of 15, from
 * 4 KiB pages of 64 blocks. A queue of n refs uses at most n / 15 + 2
 * blocks (a partly used block at each end), refs never outnumber what ops
 * added, and the expiry path only moves refs from queue to queue. So a
 * pool of at least refs / 15 + 2 * min(queues, refs) + 1 blocks never runs
 * dry on the expiry path, and an op that would add a ref checks that bound
 * first (tr_pool_room()) instead of allocating. The driver allocates the
 * pages a chunk of ops may need outside the lock (tr_pool_want()) and sets
 * them aside (tr_pool_spare_add()); an op that finds the pool short
 * installs one (tr_pool_reserve()), so that an op that fails, or is never
 * applied, grows nothing. Pages stay until the instance is closed, at most
 * tr_pool_pages_max(), which covers the refs of max_ids armed timers plus
 * the stale refs the wheel lets stay (wheel.c: one per armed timer plus
 * 4096) with room to spare.
 *
 * Per armed timer, at 2^20 timers: 24 bytes of entry, 4.3 of ref, 0.4 of
 * the blocks the bound keeps in reserve, 0.2 of directories: about 29 B.
 *
 *   max_timers   directories   all chunks   pool pages, max_timers armed
 *   2^16         12.6 KiB      1.5 MiB      0.64 MiB
 *   2^20         165 KiB       24 MiB       4.6 MiB
 *   2^24         2.6 MiB       384 MiB      69 MiB
 */
#include "batch.h"

static u32 tr_pool_blocks_for(u64 refs)
{
	return refs / TR_BLK_REFS + 2 * min_t(u64, TR_NR_QUEUES, refs) + 1;
}

/* Pages the pool may need for @max_ids timers: the size of its directory. */
u32 tr_pool_pages_max(u32 max_ids)
{
	u64 refs = 3ULL * max_ids + 8192 + 64ULL * TR_NR_QUEUES;
	u64 blocks = min_t(u64, tr_pool_blocks_for(refs), TR_BLK_MAX);

	return DIV_ROUND_UP(blocks, TR_BLK_PAGE_BLOCKS);
}

void tr_core_init(struct tr_core *c, u32 max_ids, u64 res_ns, u64 now_tick,
		  struct tr_entry **chunk_dir, struct tr_period **ival_dir,
		  struct tr_blk **blk_dir)
{
	memset(c, 0, sizeof(*c));
	c->max_ids = max_ids;
	c->nr_chunks = DIV_ROUND_UP(max_ids, TR_CHUNK_IDS);
	c->chunk = chunk_dir;
	c->ival = ival_dir;
	c->blk_page = blk_dir;
	c->blk_pages_max = tr_pool_pages_max(max_ids);
	c->blk_free = TR_NIL;
	c->res_ns = res_ns;
	tr_set_elapsed(c, now_tick);
	c->now_tick = now_tick;
	c->now_ns = now_tick * res_ns;
	c->draining = TR_L_NONE;
	c->kern = &tr_batch_scalar;
}

/* Make chunk @chunk_idx (3 KiB at @mem) usable; it must be absent. */
void tr_table_install(struct tr_core *c, u32 chunk_idx, struct tr_entry *mem)
{
	unsigned int i;

	for (i = 0; i < TR_CHUNK_IDS; i++) {
		mem[i].expires = 0;
		mem[i].user_data = 0;
		mem[i].posf = 0;
		mem[i].gen = 0;
		mem[i].where = TR_L_NONE;
	}
	c->chunk[chunk_idx] = mem;
	c->chunks_present++;
}

void tr_table_install_ival(struct tr_core *c, u32 chunk_idx,
			   struct tr_period *mem)
{
	memset(mem, 0, TR_CHUNK_IDS * sizeof(*mem));
	c->ival[chunk_idx] = mem;
	c->ivals_present++;
}

/*
 * Pages to install before ops that add up to @more refs, so that none of
 * them finds the pool short (0 once the directory is full).
 */
u32 tr_pool_want(const struct tr_core *c, u32 more)
{
	u32 want = tr_pool_blocks_for((u64)c->refs + more), have = c->blk_nr;
	u32 pages = c->blk_nr >> TR_BLK_PAGE_SHIFT;

	if (want <= have)
		return 0;
	return min(DIV_ROUND_UP(want - have, TR_BLK_PAGE_BLOCKS),
		   c->blk_pages_max - pages);
}

/*
 * The most refs a pool of @blocks blocks holds on the expiry path: the
 * largest r with tr_pool_blocks_for(r) <= blocks. Up to TR_NR_QUEUES refs
 * a ref costs 2 + 1/15 blocks, past it 1/15: the estimate of each part,
 * the larger one, then exact. (Taking the second part alone from
 * 2 * TR_NR_QUEUES + 1 blocks on made a pool of 97 pages hold 915 refs
 * where 96 held 2972, and an op adding one ref found no room and no page
 * to add: ENOMEM.)
 */
static u32 tr_pool_refs_max(u32 blocks)
{
	u64 r = min_t(u64, (blocks - 1ULL) * TR_BLK_REFS /
			   (2 * TR_BLK_REFS + 1), TR_NR_QUEUES);

	if (blocks >= 2ULL * TR_NR_QUEUES + 1)
		r = max_t(u64, r, (blocks - 2ULL * TR_NR_QUEUES - 1) *
				  TR_BLK_REFS);
	r = min_t(u64, r + 2 * TR_BLK_REFS, U32_MAX);
	while (r && tr_pool_blocks_for(r) > blocks)
		r--;
	return r;
}

/* Add a 4 KiB page of blocks to the pool; the directory has room. */
void tr_pool_install(struct tr_core *c, void *page)
{
	struct tr_blk *blk = page;
	u32 pi = c->blk_nr >> TR_BLK_PAGE_SHIFT, i;

	c->blk_page[pi] = blk;
	for (i = TR_BLK_PAGE_BLOCKS; i-- > 0;) {
		blk[i].next = c->blk_free;
		c->blk_free = (pi << TR_BLK_PAGE_SHIFT) + i;
	}
	c->blk_nr += TR_BLK_PAGE_BLOCKS;
	c->blk_nr_free += TR_BLK_PAGE_BLOCKS;
	c->refs_max = tr_pool_refs_max(c->blk_nr);
}

/* Install spare pages until an op may add a ref; false if they run out. */
bool tr_pool_grow_spare(struct tr_core *c)
{
	void *page;

	while (!tr_pool_room(c, 1)) {
		page = tr_pool_spare_take(c);
		if (!page)
			return false;
		tr_pool_install(c, page);
	}
	return true;
}

/* Bytes of table and pool in use (directories, chunks, arrays, pages). */
size_t tr_table_bytes(const struct tr_core *c)
{
	size_t n = (size_t)c->nr_chunks * 2 * sizeof(void *);

	n += (size_t)c->blk_pages_max * sizeof(void *);
	n += (size_t)c->chunks_present * TR_CHUNK_IDS * sizeof(struct tr_entry);
	n += (size_t)c->ivals_present * TR_CHUNK_IDS * sizeof(struct tr_period);
	n += (size_t)(c->blk_nr >> TR_BLK_PAGE_SHIFT) * TR_BLK_PAGE_BLOCKS *
	     sizeof(struct tr_blk);
	return n;
}
