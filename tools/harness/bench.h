/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmarks of the harness share (bench.c): a core set up the
 * way the driver sets one up, its pool and ring, the op arrays, the
 * clock, the floor and the figures' medians. bench.c runs one core;
 * bench_shards.c (bench -s) several, each a shard.
 */
#ifndef _TR_HARNESS_BENCH_H
#define _TR_HARNESS_BENCH_H

#include <stddef.h>
#include "core.h"
#include "batch.h"
#include "pool.h"

#define RES_NS		1000000ULL
#define SPREAD_NS	10000000000ULL
#define RING		65536U

/*
 * One core with its id table (every chunk installed, on huge pages), ref
 * pool, ring and consumer head; the op arrays are of nids ops.
 */
struct bench {
	struct tr_core c;
	struct tr_entry **dir;
	struct tr_period **ivdir;
	struct tr_entry *chunks;
	u8 *pool;		/* the ref pool's pages, in huge pages */
	u32 pool_pages;
	u8 *ring;
	u32 ring_entries;
	struct tr_cqe *cqes;
	u32 head;
	u64 now_ns;
	struct timerring_op *ops;
	s32 *res;
	u32 *perm;
	struct tr_prep_out *out;
	u64 sink;
};

extern u32 nids;		/* max_ids of every core (-n) */
extern u32 batch;		/* ops per batch (-b) */
extern const struct tr_batch_impl *kern;	/* prep and drain (-k) */

u64 now_mono(void);
void *xalloc(size_t align, size_t size);
void *xalloc_huge(size_t size);
/* Pool pages for ops adding @more refs, as the driver grows the pool. */
void bench_pool_fill(struct bench *b, u32 more);
/* A core of nids ids and a ring of @ring CQEs, its clock at 1000 s. */
void bench_init(struct bench *b, u32 ring);
void bench_free(struct bench *b);
u64 xrand(void);
void shuffle(u32 *perm, bool seq);
/* b->ops: @opcode on every id; @exp 0: expiries uniform over 10 s. */
void fill_ops(struct bench *b, u8 opcode, bool seq, u64 exp);
/* Consume every CQE of b's ring, counting them in *@n. */
void consume(struct bench *b, u64 *n);
/* ns per op of one random 32-byte line written per op of b->ops. */
double run_floor(struct bench *b);
double median(double *v, int n);
void cpu_model(char *buf, size_t len);

int bench_kernels(int reps);
extern bool shard_mutex_plain;	/* bench -s -M */
int bench_shards(int runs, bool json);

#endif /* _TR_HARNESS_BENCH_H */
