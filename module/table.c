// SPDX-License-Identifier: GPL-2.0
/*
 * timerring id table.
 *
 * Ids index the table directly: id >> 7 picks a chunk, id & 127 the entry
 * in it. A chunk is 128 entries of 32 bytes, exactly one 4 KiB page, and is
 * allocated by the driver (from a per-NUMA-node slab) the first time an id
 * in it is armed, so a sparse id space costs memory only where it is used.
 * The directory holds one pointer per chunk:
 *
 *   max_timers   directory    all chunks present   per id
 *   2^16         4 KiB        2 MiB                32.06 B
 *   2^20         64 KiB       32 MiB               32.06 B
 *   2^24         1 MiB        512 MiB              32.06 B
 *
 * An entry is 32 bytes armed or not (struct tr_entry), one-shot or
 * periodic; a periodic timer also uses 16 bytes (struct tr_period) of a
 * per-chunk interval array (2 KiB), allocated when the chunk sees its
 * first periodic timer.
 * Chunks stay until the instance is closed: the per-id generation must
 * survive a cancel, so that stale CQEs stay recognisable.
 */
#include "batch.h"

void tr_core_init(struct tr_core *c, u32 max_ids, u64 res_ns, u64 now_tick,
		  struct tr_entry **chunk_dir, struct tr_period **ival_dir)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->max_ids = max_ids;
	c->nr_chunks = DIV_ROUND_UP(max_ids, TR_CHUNK_IDS);
	c->chunk = chunk_dir;
	c->ival = ival_dir;
	c->res_ns = res_ns;
	c->elapsed = now_tick;
	c->now_tick = now_tick;
	c->now_ns = now_tick * res_ns;
	c->draining = TR_L_NONE;
	c->far_stop = TR_NIL;
	c->kern = &tr_batch_scalar;
	for (i = 0; i < TR_NR_BUCKETS * TR_LANES; i++) {
		c->bucket[i / TR_LANES].lane[i % TR_LANES].head = TR_NIL;
		c->bucket[i / TR_LANES].lane[i % TR_LANES].tail = TR_NIL;
	}
	for (i = 0; i < TR_NR_SINGLE; i++) {
		c->single[i].head = TR_NIL;
		c->single[i].tail = TR_NIL;
	}
}

/* Make chunk @chunk_idx (4 KiB at @mem) usable; it must be absent. */
void tr_table_install(struct tr_core *c, u32 chunk_idx, struct tr_entry *mem)
{
	unsigned int i;

	for (i = 0; i < TR_CHUNK_IDS; i++) {
		mem[i].expires = 0;
		mem[i].user_data = 0;
		mem[i].next = TR_NIL;
		mem[i].prev = TR_NIL;
		mem[i].gen = 0;
		mem[i].where = TR_L_NONE;
		mem[i].flags = 0;
		mem[i].resv = 0;
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

/* Bytes of id table in use (directories, chunks, interval arrays). */
size_t tr_table_bytes(const struct tr_core *c)
{
	size_t n = (size_t)c->nr_chunks * 2 * sizeof(void *);

	n += (size_t)c->chunks_present * TR_CHUNK_IDS * sizeof(struct tr_entry);
	n += (size_t)c->ivals_present * TR_CHUNK_IDS * sizeof(struct tr_period);
	return n;
}
