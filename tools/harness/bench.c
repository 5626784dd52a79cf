// SPDX-License-Identifier: GPL-2.0
/*
 * Micro-benchmark of the timerring core in userspace: 2^20 live timers
 * (max_ids 2^20, 1 ms ticks, expiries spread over 10 s), ops submitted in
 * batches as the driver applies them (per chunk of TR_BATCH_CHUNK ops:
 * tr_prep_scalar(), then tr_arm / tr_modify / tr_cancel per op), and
 * expiry of all of them into a large ring whose consumer keeps up.
 *
 *	bench [-r runs] [-b batch] [-m modemask] [-n log2ids] [-c] [-g] [-P]
 *	      [-k scalar|avx2|avx512]
 *
 * Modes (-m bit mask, default all): 1 = ids in random order, 2 = ids in
 * order, 4 = random ids with the apply loop prefetching the entry of the
 * op 16 ahead and the list neighbours of the op 8 ahead (see
 * prefetch_op(); what submit.c does), 8 = random ids, all timers with
 * TIMERRING_OPF_SLACK. -c times with CLOCK_THREAD_CPUTIME_ID instead of
 * CLOCK_MONOTONIC (less noise on a loaded machine), -g adds a group
 * prefetch of each chunk, -P puts the id table on 4 KiB pages, -k picks
 * the batch kernels of the expiry's drain steps (default scalar).
 *
 * Prints a Markdown table: the median over the runs of ns per op, of ns
 * per delivered timer for the expiry and of its longest pass (a cascade's
 * cost at once, which timers due meanwhile wait for), per mode and batch
 * size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include "core.h"
#include "batch.h"
#include "tr_impls.h"

#define NIDS_DEFAULT	(1U << 20)
#define RES_NS		1000000ULL
#define SPREAD_NS	10000000000ULL
#define RING		65536U
#define MAXRUNS		15

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS	"?"
#endif

struct bench {
	struct tr_core c;
	struct tr_entry **dir;
	struct tr_period **ivdir;
	struct tr_entry *chunks;
	u8 *ring;
	struct tr_cqe *cqes;
	u32 head;
	u64 now_ns;
	struct timerring_op *ops;
	s32 *res;
	u32 *perm;
	struct tr_prep_out *out;
	u64 sink;
};

static u32 nids = NIDS_DEFAULT;
static const struct tr_batch_impl *kern = &tr_batch_scalar;
static u64 rng = 0x243f6a8885a308d3ULL;

static u64 xrand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static clockid_t bench_clock = CLOCK_MONOTONIC;

static u64 now_mono(void)
{
	struct timespec ts;

	clock_gettime(bench_clock, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *xalloc(size_t align, size_t size)
{
	void *p = aligned_alloc(align, (size + align - 1) & ~(align - 1));

	if (!p) {
		perror("alloc");
		exit(1);
	}
	memset(p, 0, size);
	return p;
}

static bool small_pages;

/*
 * The id table chunks: in the kernel they come from the direct map, which
 * is mapped with huge pages, so give them transparent huge pages here too
 * (-P: 4 KiB pages, a TLB miss on most random accesses).
 */
static void *xalloc_table(size_t size)
{
	size_t huge = 2UL << 20;
	void *p = aligned_alloc(huge, (size + huge - 1) & ~(huge - 1));

	if (!p) {
		perror("alloc");
		exit(1);
	}
	if (!small_pages)
		madvise(p, size, MADV_HUGEPAGE);
	memset(p, 0, size);
	return p;
}

static void bench_init(struct bench *b)
{
	u32 nch = nids / TR_CHUNK_IDS, i;
	struct timerring_cq_offsets off;
	size_t size;

	b->now_ns = 1000 * 1000000000ULL;	/* 1000 s after boot */
	b->dir = xalloc(64, nch * sizeof(void *));
	b->ivdir = xalloc(64, nch * sizeof(void *));
	b->chunks = xalloc_table((size_t)nids * sizeof(struct tr_entry));
	tr_cq_layout(RING, &off, &size);
	b->ring = xalloc(4096, size);
	tr_core_init(&b->c, nids, RES_NS, b->now_ns / RES_NS, b->dir,
		     b->ivdir);
	tr_cq_init(&b->c.cq, b->ring, RING, &off);
	b->cqes = (struct tr_cqe *)(b->ring + off.cqes);
	b->head = 0;
	/* the driver installs a chunk when an id in it is first armed */
	for (i = 0; i < nch; i++)
		tr_table_install(&b->c, i, b->chunks + (size_t)i * TR_CHUNK_IDS);
}

/* A random order of all ids: ops hit the table and lists at random. */
static bool seq_ids;
static bool slack;

static void shuffle(u32 *perm)
{
	u32 i;

	for (i = 0; i < nids; i++)
		perm[i] = i;
	if (seq_ids)
		return;
	for (i = nids - 1; i > 0; i--) {
		u32 j = xrand() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
}

static void fill_ops(struct bench *b, u8 opcode)
{
	u32 i;

	shuffle(b->perm);
	for (i = 0; i < nids; i++) {
		struct timerring_op *op = &b->ops[i];

		memset(op, 0, sizeof(*op));
		op->opcode = opcode;
		op->id = b->perm[i];
		if (opcode != TIMERRING_OP_CANCEL) {
			op->flags = slack ? TIMERRING_OPF_SLACK : 0;
			op->expiry = 1 + xrand() % SPREAD_NS;
			op->user_data = op->id;
		}
	}
}

static unsigned int pf_dist;	/* -m: prefetch distance of mode 2 */

/*
 * Mode 2: what the apply loop could do, as all ids of a chunk are known in
 * advance: prefetch the entry of op i + D, and the list neighbours (prev,
 * next, the tail of the destination list) of op i + D / 2, whose entry
 * has arrived by then. Only hints: a stale neighbour costs nothing.
 */
static inline void prefetch_op(struct tr_core *c, const struct timerring_op *ops,
			       const struct tr_prep_out *out, u32 i, u32 k)
{
	u32 j = i + pf_dist, h = i + pf_dist / 2;

	if (j < k && !out->verdict[j])
		prefetchw(tr_entry(c, ops[j].id));
	if (h < k && !out->verdict[h]) {
		const struct tr_entry *e = tr_entry(c, ops[h].id);

		if (e->where != TR_L_NONE) {
			if (e->prev != TR_NIL)
				prefetchw(tr_entry(c, e->prev));
			if (e->next != TR_NIL)
				prefetchw(tr_entry(c, e->next));
		}
		if (ops[h].opcode != TIMERRING_OP_CANCEL) {
			u16 w = tr_where_of(c->elapsed, out->tick[h]);
			u32 t = w < TR_NR_BUCKETS ?
				tr_list_of(c, w, ops[h].id)->tail : TR_NIL;

			if (t != TR_NIL)
				prefetchw(tr_entry(c, t));
		}
	}
}

static bool pf_group;

/*
 * -g: group prefetch of a whole chunk before applying it: first the
 * entries of all its ops, then (reading those) their list neighbours and
 * the tails of their destination lists. 256 ops touch at most 1024 lines,
 * 64 KiB, which stay in L2 until the apply loop gets to them.
 */
static void prefetch_chunk(struct tr_core *c, const struct timerring_op *ops,
			   const struct tr_prep_out *out, u32 k)
{
	u32 i;

	for (i = 0; i < k; i++)
		if (!out->verdict[i])
			prefetchw(tr_entry(c, ops[i].id));
	for (i = 0; i < k; i++) {
		const struct tr_entry *e;

		if (out->verdict[i])
			continue;
		e = tr_entry(c, ops[i].id);
		if (e->where != TR_L_NONE) {
			if (e->prev != TR_NIL)
				prefetchw(tr_entry(c, e->prev));
			if (e->next != TR_NIL)
				prefetchw(tr_entry(c, e->next));
		}
		if (ops[i].opcode != TIMERRING_OP_CANCEL) {
			u16 w = tr_where_of(c->elapsed, out->tick[i]);
			u32 t = w < TR_NR_BUCKETS ?
				tr_list_of(c, w, ops[i].id)->tail : TR_NIL;

			if (t != TR_NIL)
				prefetchw(tr_entry(c, t));
		}
	}
}

/* What the driver does with one batch (minus copies and the lock). */
static void submit(struct bench *b, const struct timerring_op *ops, u32 n,
		   s32 *res)
{
	struct tr_core *c = &b->c;
	u32 off, i;

	for (off = 0; off < n; off += TR_BATCH_CHUNK) {
		u32 k = min_t(u32, TR_BATCH_CHUNK, n - off);
		const struct timerring_op *op = ops + off;
		struct tr_prep p = {
			.now_ns = b->now_ns,
			.res_ns = c->res_ns,
			.max_ids = c->max_ids,
		};
		struct tr_prep_out *out = b->out;

		tr_prep_scalar(&p, op, k, out);
		if (pf_group)
			prefetch_chunk(c, op, out, k);
		for (i = 0; i < k; i++, op++) {
			s32 v = out->verdict[i];
			u8 fl;

			if (pf_dist)
				prefetch_op(c, ops + off, out, i, k);
			fl = op->flags & TIMERRING_OPF_SLACK ? TR_EF_SLACK : 0;

			if (!v) {
				switch (op->opcode) {
				case TIMERRING_OP_ARM:
					/* one-shot timers only */
					v = tr_arm(c, op->id, out->tick[i],
						   op->user_data, NULL, fl);
					break;
				case TIMERRING_OP_MODIFY:
					v = tr_modify(c, op->id, out->tick[i],
						      op->user_data, NULL, fl);
					break;
				default:
					v = tr_cancel(c, op->id);
					break;
				}
			}
			res[off + i] = v;
		}
	}
}

/* Submit all nids ops in batches of @batch; ns per op. */
static double run_ops(struct bench *b, u32 batch)
{
	u64 t0, t1;
	u32 i, bad = 0;

	t0 = now_mono();
	for (i = 0; i < nids; i += batch)
		submit(b, b->ops + i, min_t(u32, batch, nids - i), b->res + i);
	t1 = now_mono();
	for (i = 0; i < nids; i++)
		bad += b->res[i] < 0;
	if (bad) {
		fprintf(stderr, "bench: %u ops failed\n", bad);
		exit(1);
	}
	return (double)(t1 - t0) / nids;
}

/*
 * Advance tick by tick through all timers; ns per delivered timer, and in
 * *worst the longest pass (us): what a cascade costs at once.
 */
static double run_expire(struct bench *b, u64 *delivered, double *worst)
{
	struct tr_core *c = &b->c;
	u64 t = 0, n = 0, end = b->now_ns + SPREAD_NS * 5 / 4 + RES_NS;
	u64 max_pass = 0;

	/* slack timers may be due up to 1/8 of their timeout later */
	while (b->now_ns < end && (c->armed || c->pending_nr)) {
		u32 budget = U32_MAX, tail;
		u64 t0;

		b->now_ns += RES_NS;
		t0 = now_mono();
		tr_set_now(c, b->now_ns);
		tr_cq_begin(&c->cq);
		tr_flush(c, &budget);
		tr_advance(c, c->now_tick, &budget);
		tr_flush(c, &budget);
		tr_cq_end(&c->cq, c->pending_nr);
		t0 = now_mono() - t0;
		t += t0;
		if (t0 > max_pass)
			max_pass = t0;

		/* the consumer keeps up */
		tail = smp_load_acquire(c->cq.ktail);
		for (; b->head != tail; b->head++) {
			b->sink += b->cqes[b->head & (RING - 1)].user_data;
			n++;
		}
		smp_store_release(c->cq.khead, b->head);
	}
	if (c->armed || c->pending_nr) {
		fprintf(stderr, "bench: %u armed, %u pending after expiry\n",
			c->armed, c->pending_nr);
		exit(1);
	}
	*delivered = n;
	*worst = max_pass / 1000.0;
	return n ? (double)t / n : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void cpu_model(char *buf, size_t len)
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

struct mode {
	const char *ids;
	const char *apply;
	bool seq;
	unsigned int pf;
	bool opf_slack;
};

static void loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(buf, len, "?");
	if (f) {
		if (fgets(buf, len, f))
			buf[strcspn(buf, " ")] = 0;
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	static const u32 batches[] = { 256, 1024, 4096, 8192 };
	static const struct mode modes[] = {
		{ "random", "no prefetch", false, 0, false },
		{ "sequential", "no prefetch", true, 0, false },
		{ "random", "prefetch 16 ahead (submit.c)", false, 16, false },
		{ "random, OPF_SLACK", "no prefetch", false, 0, true },
	};
	double arm[MAXRUNS], mod[MAXRUNS], can[MAXRUNS], exp[MAXRUNS];
	double med[ARRAY_SIZE(modes)][ARRAY_SIZE(batches)][5], bytes = 0;
	double worst[MAXRUNS];
	int runs = 5, opt, r;
	u32 only = 0, mask = 15;
	unsigned int bi, mi;
	char cpu[256], la0[32], la1[32];
	struct bench *b;
	u64 delivered = 0;
	time_t now = time(NULL);
	char date[64];

	while ((opt = getopt(argc, argv, "r:b:m:n:cgPk:")) != -1) {
		switch (opt) {
		case 'r':
			runs = atoi(optarg);
			break;
		case 'b':
			only = atoi(optarg);
			break;
		case 'm':
			mask = atoi(optarg);
			break;
		case 'n':
			nids = 1U << atoi(optarg);
			break;
		case 'c':
			bench_clock = CLOCK_THREAD_CPUTIME_ID;
			break;
		case 'g':
			pf_group = true;
			break;
		case 'P':
			small_pages = true;
			break;
		case 'k':
			kern = tr_harness_impl(optarg);
			if (!kern) {
				fprintf(stderr, "bench: no %s kernels here\n",
					optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: %s [-r runs] [-b batch] "
				"[-m modemask] [-n log2ids] [-c] [-g] [-P] "
				"[-k kernels]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > MAXRUNS)
		runs = 5;

	b = xalloc(64, sizeof(*b));
	b->ops = xalloc(64, (size_t)nids * sizeof(*b->ops));
	b->res = xalloc(64, (size_t)nids * sizeof(*b->res));
	b->perm = xalloc(64, (size_t)nids * sizeof(*b->perm));
	b->out = xalloc(64, sizeof(*b->out));

	loadavg(la0, sizeof(la0));
	for (mi = 0; mi < ARRAY_SIZE(modes); mi++) {
		if (!(mask & (1U << mi)))
			continue;
		seq_ids = modes[mi].seq;
		pf_dist = modes[mi].pf;
		slack = modes[mi].opf_slack;
		for (bi = 0; bi < ARRAY_SIZE(batches); bi++) {
			if (only && batches[bi] != only)
				continue;
			for (r = 0; r < runs; r++) {
				bench_init(b);
				fill_ops(b, TIMERRING_OP_ARM);
				arm[r] = run_ops(b, batches[bi]);
				if (b->c.armed != nids)
					exit(1);
				bytes = (double)(tr_table_bytes(&b->c) +
						 sizeof(struct tr_core)) /
					b->c.armed;
				fill_ops(b, TIMERRING_OP_MODIFY);
				mod[r] = run_ops(b, batches[bi]);
				fill_ops(b, TIMERRING_OP_CANCEL);
				can[r] = run_ops(b, batches[bi]);
				if (b->c.armed)
					exit(1);
				fill_ops(b, TIMERRING_OP_ARM);
				run_ops(b, batches[bi]);
				b->c.kern = kern;
				exp[r] = run_expire(b, &delivered, &worst[r]);
				if (delivered != nids) {
					fprintf(stderr, "bench: %llu delivered\n",
						(unsigned long long)delivered);
					exit(1);
				}
				free(b->dir);
				free(b->ivdir);
				free(b->chunks);
				free(b->ring);
			}
			med[mi][bi][0] = median(arm, runs);
			med[mi][bi][1] = median(can, runs);
			med[mi][bi][2] = median(mod, runs);
			med[mi][bi][3] = median(exp, runs);
			med[mi][bi][4] = median(worst, runs);
		}
	}
	loadavg(la1, sizeof(la1));

	cpu_model(cpu, sizeof(cpu));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	printf("Date: %s  \n", date);
	printf("CPU: %s, %ld online, load average %s at start, %s at end  \n",
	       cpu, sysconf(_SC_NPROCESSORS_ONLN), la0, la1);
	printf("Compiler: gcc %s, `%s`; clock: %s  \n", __VERSION__,
	       BENCH_CFLAGS, bench_clock == CLOCK_MONOTONIC ?
	       "CLOCK_MONOTONIC" : "CLOCK_THREAD_CPUTIME_ID");
	printf("Setup: %u live timers, max_ids %u, 1 ms ticks, expiries uniform "
	       "over 10 s, id table on %s pages, median of %d runs; ops per "
	       "%u-op chunk: tr_prep_scalar(), then tr_arm/tr_modify/tr_cancel "
	       "per op; expiry: one pass per 1 ms tick into a %u-entry ring, "
	       "consumer keeping up, %s drain kernels.\n\n", nids, nids,
	       small_pages ? "4 KiB" : "2 MiB (THP, like the kernel's direct "
	       "map)", runs, TR_BATCH_CHUNK, RING, kern->name);
	printf("| ids | apply loop | batch | arm ns/op | cancel ns/op | "
	       "modify ns/op | expire ns/timer | longest pass us |\n");
	printf("|-----|------------|------:|----------:|-------------:|"
	       "-------------:|----------------:|----------------:|\n");
	for (mi = 0; mi < ARRAY_SIZE(modes); mi++) {
		if (!(mask & (1U << mi)))
			continue;
		for (bi = 0; bi < ARRAY_SIZE(batches); bi++)
			if (!only || batches[bi] == only)
				printf("| %s | %s | %u | %.1f | %.1f | %.1f | "
				       "%.1f | %.0f |\n", modes[mi].ids,
				       modes[mi].apply, batches[bi],
				       med[mi][bi][0], med[mi][bi][1],
				       med[mi][bi][2], med[mi][bi][3],
				       med[mi][bi][4]);
	}
	printf("\nGoals: arm, cancel, modify <= 15 ns/op; expire <= 25 ns per "
	       "delivered timer; <= 32 B per timer.  \n");
	printf("Memory: %.2f B per armed timer (tr_table_bytes() + struct "
	       "tr_core of %zu B, over %u timers; ring not counted).\n",
	       bytes, sizeof(struct tr_core), nids);
	if (b->sink == 42)
		printf("\n");
	return 0;
}
