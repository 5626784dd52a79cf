// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of the timerring core in userspace, through the driver's own
 * code: for each chunk of TR_BATCH_CHUNK ops, the batch kernels' prep,
 * the pool grown as the driver grows it, then tr_pass_begin(),
 * tr_pass_expire(), tr_apply(), tr_pass_expire(), tr_pass_end() (pass.c),
 * as submit.c runs them under its lock. Expiry runs the passes of
 * shard.c: one per 1 ms tick.
 *
 *	bench [-r runs] [-b batch] [-n log2ids] [-k scalar|avx2|avx512] [-j]
 *	(-k: the prep and drain kernels; default the widest this CPU runs)
 *	bench -K [reps]		the batch kernels alone (bench_kernels.c)
 *	bench -s [-r runs] [-n log2ids] [-k kernels] [-j] [-M]
 *				sharded instances (bench_shards.c)
 *
 * 2^20 live timers by default (max_ids 2^20, 1 ms ticks), batches of 1024.
 * Each run measures, in this order:
 *   floor    one random 32-byte line written per op, with the apply
 *            loop's prefetch (16 ahead), over a table of the same size;
 *   random   arm, modify, cancel of all ids in random order, expiries
 *            uniform over 10 s; then arm again and expire them all, a pass
 *            per tick into a 65536-entry ring whose consumer keeps up: ns
 *            per delivered timer and the longest pass (wall clock, refs
 *            handled);
 *   in order arm, modify, cancel of ids 0, 1, 2, ...;
 *   herd     all timers due at one tick: into a ring that holds them all,
 *            and into a 65536-entry ring, the rest through the overflow
 *            queue, the consumer emptying the ring after each pass.
 * Figures are medians over the runs. Default output is a Markdown table;
 * -j prints one JSON object (make bench-json).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include "bench.h"
#include "tr_impls.h"

#define MAXRUNS		15

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS	"?"
#endif

enum {
	F_FLOOR, F_ARM, F_CANCEL, F_MODIFY, F_ARM_SEQ, F_CANCEL_SEQ,
	F_MODIFY_SEQ, F_EXPIRE, F_HERD, F_HERD_OVF, F_LONGEST, F_LONGEST_REFS,
	F_BYTES, F_NR
};

static const char *const fname[F_NR] = {
	"floor_ns", "arm_ns", "cancel_ns", "modify_ns", "arm_seq_ns",
	"cancel_seq_ns", "modify_seq_ns", "expire_ns", "herd_ns",
	"herd_overflow_ns", "longest_pass_us", "longest_pass_refs",
	"bytes_per_timer",
};

u32 nids = 1U << 20;
u32 batch = 1024;
const struct tr_batch_impl *kern = &tr_batch_scalar;

u64 now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void *xalloc(size_t align, size_t size)
{
	void *p = aligned_alloc(align, (size + align - 1) & ~(align - 1));

	if (!p) {
		perror("alloc");
		exit(1);
	}
	memset(p, 0, size);
	return p;
}

/*
 * The id table: in the kernel its chunks come from the direct map, which
 * is mapped with huge pages, so give them transparent huge pages here too.
 */
void *xalloc_huge(size_t size)
{
	size_t huge = 2UL << 20;
	void *p = aligned_alloc(huge, (size + huge - 1) & ~(huge - 1));

	if (!p) {
		perror("alloc");
		exit(1);
	}
	madvise(p, size, MADV_HUGEPAGE);
	memset(p, 0, size);
	return p;
}

/*
 * The ref pool's pages: the driver's come from alloc_pages(), in the
 * direct map, so carve them from one huge-page arena here.
 */
void bench_pool_fill(struct bench *b, u32 more)
{
	u32 n = tr_pool_want(&b->c, more);

	while (n--) {
		if (b->pool_pages == tr_pool_pages_max(nids))
			abort();
		tr_pool_install(&b->c, b->pool + (size_t)b->pool_pages++ * 4096);
	}
}

void bench_init(struct bench *b, u32 ring)
{
	u32 nch = nids / TR_CHUNK_IDS, i;
	struct timerring_cq_offsets off;
	size_t size;

	b->now_ns = 1000 * 1000000000ULL;	/* 1000 s after boot */
	b->dir = xalloc(64, nch * sizeof(void *));
	b->ivdir = xalloc(64, nch * sizeof(void *));
	b->chunks = xalloc_huge((size_t)nids * sizeof(struct tr_entry));
	b->pool = xalloc_huge((size_t)tr_pool_pages_max(nids) * 4096);
	b->pool_pages = 0;
	b->ring_entries = ring;
	tr_cq_layout(ring, &off, &size);
	b->ring = xalloc(4096, size);
	tr_core_init(&b->c, nids, RES_NS, b->now_ns / RES_NS, b->dir,
		     b->ivdir, pool_dir(nids));
	tr_cq_init(&b->c.cq, b->ring, ring, &off);
	b->cqes = (struct tr_cqe *)(b->ring + off.cqes);
	b->head = 0;
	b->c.kern = kern;
	/* the driver installs a chunk when an id in it is first armed */
	for (i = 0; i < nch; i++)
		tr_table_install(&b->c, i, b->chunks + (size_t)i * TR_CHUNK_IDS);
}

void bench_free(struct bench *b)
{
	free(b->c.blk_page);
	free(b->pool);
	free(b->dir);
	free(b->ivdir);
	free(b->chunks);
	free(b->ring);
}

static u64 rng = 0x243f6a8885a308d3ULL;

u64 xrand(void)
{
	return tr_splitmix64(&rng);
}

void shuffle(u32 *perm, bool seq)
{
	u32 i;

	for (i = 0; i < nids; i++)
		perm[i] = i;
	for (i = nids - 1; !seq && i > 0; i--) {
		u32 j = xrand() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
}

/* @exp: 0 for expiries uniform over 10 s, else that relative expiry. */
void fill_ops(struct bench *b, u8 opcode, bool seq, u64 exp)
{
	u32 i;

	shuffle(b->perm, seq);
	for (i = 0; i < nids; i++) {
		struct timerring_op *op = &b->ops[i];

		memset(op, 0, sizeof(*op));
		op->opcode = opcode;
		op->id = b->perm[i];
		if (opcode != TIMERRING_OP_CANCEL) {
			op->expiry = exp ? exp : 1 + xrand() % SPREAD_NS;
			op->user_data = op->id;
		}
	}
}

/* What submit.c does with one chunk, minus the copies and the lock. */
static void submit_chunk(struct bench *b, struct timerring_op *ops, u32 n,
			 s32 *res)
{
	struct tr_core *c = &b->c;
	struct tr_prep p = {
		.now_ns = b->now_ns,
		.res_ns = c->res_ns,
		.max_ids = c->max_ids,
	};
	struct tr_apply a = {
		.ops = ops, .out = b->out, .prep = &p, .res = res, .n = n,
	};
	struct tr_recip r;
	u32 budget;

	tr_recip_init(&r, c->res_ns);
	kern->prep(&p, &r, ops, 0, n, b->out);
	bench_pool_fill(b, n);
	tr_pass_begin(c, p.now_ns);
	budget = TR_SUBMIT_ADVANCE_BUDGET;
	tr_pass_expire(c, &budget);
	tr_apply(c, &a, 0);
	budget = TR_PASS_BUDGET;
	tr_pass_expire(c, &budget);
	tr_pass_end(c);
}

/* Submit all nids ops in batches; ns per op. */
static double run_ops(struct bench *b)
{
	u32 i, j, bad = 0;
	u64 t0, t1;

	t0 = now_mono();
	for (i = 0; i < nids; i += batch) {
		u32 n = min_t(u32, batch, nids - i);

		for (j = 0; j < n; j += TR_BATCH_CHUNK)
			submit_chunk(b, b->ops + i + j,
				     min_t(u32, TR_BATCH_CHUNK, n - j),
				     b->res + i + j);
	}
	t1 = now_mono();
	for (i = 0; i < nids; i++)
		bad += b->res[i] < 0;
	if (bad) {
		fprintf(stderr, "bench: %u ops failed\n", bad);
		exit(1);
	}
	return (double)(t1 - t0) / nids;
}

void consume(struct bench *b, u64 *n)
{
	u32 tail = smp_load_acquire(b->c.cq.ktail);

	for (; b->head != tail; b->head++) {
		b->sink += b->cqes[b->head & (b->ring_entries - 1)].user_data;
		(*n)++;
	}
	smp_store_release(b->c.cq.khead, b->head);
}

/*
 * Passes of the expiry path from tick to tick (@step ns) until every timer
 * is delivered; ns per delivered timer. With @worst: the longest pass in
 * wall-clock time, and in refs handled, which host noise does not move.
 */
static double run_expire(struct bench *b, u64 step, double *worst)
{
	struct tr_core *c = &b->c;
	u64 t = 0, n = 0, max_pass = 0, want = c->armed;
	u32 max_refs = 0;

	while (c->armed || tr_pending_nr(c)) {
		u32 budget = U32_MAX;
		u64 t0;

		b->now_ns += step;
		t0 = now_mono();
		tr_pass_begin(c, b->now_ns);
		tr_pass_expire(c, &budget);
		tr_pass_end(c);
		t0 = now_mono() - t0;
		t += t0;
		max_pass = max(max_pass, t0);
		max_refs = max(max_refs, U32_MAX - budget);
		consume(b, &n);
	}
	if (n != want) {
		fprintf(stderr, "bench: %llu of %llu delivered\n",
			(unsigned long long)n, (unsigned long long)want);
		exit(1);
	}
	if (worst) {
		worst[0] = max_pass / 1000.0;
		worst[1] = max_refs;
	}
	return (double)t / n;
}

/*
 * The floor: per op, one 32-byte line of a table as large as the id
 * table written at the op's id, prefetched 16 ops ahead like tr_apply().
 */
double run_floor(struct bench *b)
{
	struct line { u64 a, b, c, d; } *tab = xalloc_huge((size_t)nids * 32);
	const struct timerring_op *ops = b->ops;
	u64 t0, t1;
	u32 i;

	for (i = 0; i < nids; i++)
		tab[i].a = i;
	t0 = now_mono();
	for (i = 0; i < nids; i++) {
		struct line *l = &tab[ops[i].id];

		if (i + 16 < nids)
			prefetchw(&tab[ops[i + 16].id]);
		l->a += ops[i].expiry;
		l->b = ops[i].user_data;
	}
	t1 = now_mono();
	b->sink += tab[nids / 2].a;
	free(tab);
	return (double)(t1 - t0) / nids;
}

static void one_run(struct bench *b, double *f)
{
	/* random ids */
	bench_init(b, RING);
	fill_ops(b, TIMERRING_OP_ARM, false, 0);
	f[F_FLOOR] = run_floor(b);
	f[F_ARM] = run_ops(b);
	f[F_BYTES] = (double)(tr_table_bytes(&b->c) + sizeof(struct tr_core)) /
		     b->c.armed;
	fill_ops(b, TIMERRING_OP_MODIFY, false, 0);
	f[F_MODIFY] = run_ops(b);
	fill_ops(b, TIMERRING_OP_CANCEL, false, 0);
	f[F_CANCEL] = run_ops(b);
	if (b->c.armed)
		exit(1);
	fill_ops(b, TIMERRING_OP_ARM, false, 0);
	run_ops(b);
	/* F_LONGEST, F_LONGEST_REFS */
	f[F_EXPIRE] = run_expire(b, RES_NS, &f[F_LONGEST]);
	bench_free(b);

	/* ids in order */
	bench_init(b, RING);
	fill_ops(b, TIMERRING_OP_ARM, true, 0);
	f[F_ARM_SEQ] = run_ops(b);
	fill_ops(b, TIMERRING_OP_MODIFY, true, 0);
	f[F_MODIFY_SEQ] = run_ops(b);
	fill_ops(b, TIMERRING_OP_CANCEL, true, 0);
	f[F_CANCEL_SEQ] = run_ops(b);
	bench_free(b);

	/* a herd: all due at one tick, 1 s ahead */
	bench_init(b, nids);
	fill_ops(b, TIMERRING_OP_ARM, false, 1000 * RES_NS);
	run_ops(b);
	f[F_HERD] = run_expire(b, 1000 * RES_NS, NULL);
	bench_free(b);
	bench_init(b, RING);
	fill_ops(b, TIMERRING_OP_ARM, false, 1000 * RES_NS);
	run_ops(b);
	f[F_HERD_OVF] = run_expire(b, 1000 * RES_NS, NULL);
	bench_free(b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && p) {
			snprintf(buf, len, "%s", p + 2);
			buf[strcspn(buf, "\n")] = 0;
			break;
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	static double f[F_NR][MAXRUNS];
	double run[F_NR], med[F_NR];
	int runs = 5, opt, r, k;
	bool json = false, shards = false;
	char cpu[256], date[64];
	time_t now = time(NULL);
	struct bench *b;

	/* the best kernels this CPU runs, as the driver's calibration picks */
	for (k = 0; k < (int)TR_NR_HARNESS_IMPLS; k++)
		if (tr_harness_runs(tr_harness_impls[k]))
			kern = tr_harness_impls[k];
	while ((opt = getopt(argc, argv, "r:b:n:k:jKsM")) != -1) {
		switch (opt) {
		case 'r':
			runs = atoi(optarg);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		case 'n':
			nids = 1U << atoi(optarg);
			break;
		case 'k':
			kern = tr_harness_impl(optarg);
			if (!kern) {
				fprintf(stderr, "bench: no %s kernels here\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'K':
			return bench_kernels(optind < argc ?
					     atoi(argv[optind]) : 0);
		case 's':
			shards = true;
			break;
		case 'M':
			shard_mutex_plain = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-r runs] [-b batch] "
				"[-n log2ids] [-k kernels] [-j] [-s [-M]] | "
				"-K [reps]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > MAXRUNS || !batch)
		runs = 5;
	if (shards)
		return bench_shards(runs, json);

	b = xalloc(64, sizeof(*b));
	b->ops = xalloc(64, (size_t)nids * sizeof(*b->ops));
	b->res = xalloc(64, (size_t)nids * sizeof(*b->res));
	b->perm = xalloc(64, (size_t)nids * sizeof(*b->perm));
	b->out = xalloc(64, sizeof(*b->out));
	for (r = 0; r < runs; r++) {
		one_run(b, run);
		for (k = 0; k < F_NR; k++)
			f[k][r] = run[k];
	}
	for (k = 0; k < F_NR; k++)
		med[k] = median(f[k], runs);

	cpu_model(cpu, sizeof(cpu));
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	if (json) {
		printf("{\"date\": \"%s\", \"cpu\": \"%s\", \"cpus\": %ld, "
		       "\"cflags\": \"%s\", \"timers\": %u, \"batch\": %u, "
		       "\"kernels\": \"%s\", \"runs\": %d", date, cpu,
		       sysconf(_SC_NPROCESSORS_ONLN), BENCH_CFLAGS, nids,
		       batch, kern->name, runs);
		for (k = 0; k < F_NR; k++)
			printf(", \"%s\": %.2f", fname[k], med[k]);
		for (k = 0; k < F_NR; k++) {
			printf(", \"%s_runs\": [", fname[k]);
			for (r = 0; r < runs; r++)
				printf("%s%.2f", r ? ", " : "", f[k][r]);
			printf("]");
		}
		printf("}\n");
	} else {
		printf("Date: %s; CPU: %s; %u timers, batch %u, %s "
		       "kernels, median of %d runs\n\n", date, cpu, nids, batch,
		       kern->name, runs);
		printf("| figure | median | runs |\n|---|---:|---|\n");
		for (k = 0; k < F_NR; k++) {
			printf("| %s | %.2f |", fname[k], med[k]);
			for (r = 0; r < runs; r++)
				printf(" %.1f", f[k][r]);
			printf(" |\n");
		}
	}
	if (b->sink == 42)
		printf("\n");
	return 0;
}
