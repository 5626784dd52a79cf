// SPDX-License-Identifier: GPL-2.0
/*
 * Equivalence of the SIMD batch kernels with the scalar reference, run
 * natively for every implementation this CPU has (AVX-512 on the build
 * host), meant to be built also with -fsanitize=address,undefined.
 *
 * prep is checked against tr_prep_ref() (the definition: one division per
 * value), place/scan_due/cqe_fill against the scalar kernels, on random
 * batches and on the edge cases: batch sizes 0, 1, 7, 8, 9, 15, 16, 17,
 * 255, 256, 4095, 4096, 4097 (cut into 256-op chunks as submit.c does),
 * ids 0, max-1, max, U32_MAX, expiries 0, now, level boundaries, U64_MAX,
 * time namespace offsets of both signs and their extremes, tick lengths
 * of all shapes, and buffers at every 8-byte misalignment. Prints TAP.
 */
#include <string.h>
#include "simd_common.h"

#define MAXN	4097

static int tap_n, tap_failed;
static unsigned long checks;

static void tap(bool ok, const char *fmt, const char *what)
{
	printf("%s %d - %s %s\n", ok ? "ok" : "not ok", ++tap_n, fmt, what);
	if (!ok)
		tap_failed++;
	fflush(stdout);
}

#include "tests/simd_gen.h"

static bool cmp_out(const struct tr_prep_out *a, const struct tr_prep_out *b,
		    u32 n, const struct timerring_op *ops, const char *name)
{
	u32 i;

	for (i = 0; i < n; i++) {
		if (a->verdict[i] == b->verdict[i] && a->tick[i] == b->tick[i] &&
		    a->ival[i] == b->ival[i])
			continue;
		printf("# %s op %u: opc %u fl %#x resv %#x id %u exp %#llx ival %#llx: verdict %d/%d tick %#llx/%#llx ival %#llx/%#llx\n",
		       name, i, ops[i].opcode, ops[i].flags, ops[i].resv,
		       ops[i].id, (unsigned long long)ops[i].expiry,
		       (unsigned long long)ops[i].interval, a->verdict[i],
		       b->verdict[i], (unsigned long long)a->tick[i],
		       (unsigned long long)b->tick[i],
		       (unsigned long long)a->ival[i],
		       (unsigned long long)b->ival[i]);
		return false;
	}
	return true;
}

static const u32 sizes[] = { 0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65,
			     127, 128, 129, 255, 256, 4095, 4096, 4097 };

/* One batch of n ops (cut in 256-op chunks), every impl vs the definition */
static bool prep_batch(const struct tr_batch_impl *im, u32 n, u32 mis,
		       u32 cut, bool edge)
{
	static u8 raw[MAXN * sizeof(struct timerring_op) + 64] __aligned(64);
	static struct tr_prep_out want, got;
	struct timerring_op *ops = (void *)(raw + mis);
	struct tr_prep p;
	struct tr_recip r;
	u32 pos, i;

	gen_prep(&p);
	tr_recip_init(&r, p.res_ns);
	for (i = 0; i < n; i++) {
		if (edge)
			gen_edge_op(&p, i, &ops[i]);
		else
			gen_op(&p, &ops[i]);
	}
	for (pos = 0; pos < n || (!n && !pos); pos += TR_BATCH_CHUNK) {
		u32 c = min(n - pos, TR_BATCH_CHUNK);
		u32 a = cut ? min(cut, c) : c;

		memset(&want, 0x5a, sizeof(want));
		memset(&got, 0x5a, sizeof(got));
		tr_prep_ref(&p, ops + pos, c, &want);
		/* two ranges, as a caller cutting FPU sections does */
		im->prep(&p, &r, ops + pos, 0, a, &got);
		im->prep(&p, &r, ops + pos, a, c, &got);
		checks += c;
		if (!cmp_out(&want, &got, c, ops + pos, im->name) ||
		    memcmp(&want.verdict[c], &got.verdict[c],
			   (TR_BATCH_CHUNK - c) * sizeof(s32))) {
			printf("# res %llu now %#llx off %lld max %u n %u mis %u cut %u\n",
			       (unsigned long long)p.res_ns,
			       (unsigned long long)p.now_ns,
			       (long long)p.ns_off, p.max_ids, n, mis, cut);
			return false;
		}
		if (!n)
			break;
	}
	return true;
}

static void test_prep(const struct tr_batch_impl *im, u32 rounds)
{
	bool ok = true;
	u32 s, k;

	for (s = 0; s < ARRAY_SIZE(sizes) && ok; s++)
		for (k = 0; k < 8 && ok; k++)
			ok = prep_batch(im, sizes[s], k * 8, k * 9 % 17,
					k & 1);
	for (k = 0; k < rounds && ok; k++)
		ok = prep_batch(im, rnd_below(600), rnd_below(8) * 8,
				rnd_below(300), !rnd_below(4));
	tap(ok, "prep equals tr_prep_ref:", im->name);
}

/* tr_recip_ceil() against division, for every tick length shape */
static void test_recip(void)
{
	bool ok = true;
	u32 k, j;

	for (k = 0; k < 20000 && ok; k++) {
		u64 d = k < ARRAY_SIZE(res_vals) ? res_vals[k] :
			1000 + rnd_below(1000000000 - 999);
		struct tr_recip r;

		if (k % 3 == 0 && k >= ARRAY_SIZE(res_vals))
			d = 1ULL << (10 + rnd_below(20));
		tr_recip_init(&r, d);
		for (j = 0; j < 200 && ok; j++) {
			u64 x = j < 8 ? U64_MAX - j : j < 16 ? d * (j - 8) :
				j < 24 ? d * (j - 16) - 1 : rnd() >>
				rnd_below(64);

			if (j >= 24 && j < 40)
				x = (U64_MAX / d) * d + (j - 32);
			if (tr_recip_ceil(&r, x) != tr_ns_to_tick_ceil(x, d)) {
				printf("# d %llu x %#llx\n",
				       (unsigned long long)d,
				       (unsigned long long)x);
				ok = false;
			}
		}
	}
	tap(ok, "reciprocal division:", "exact");
}

static void test_place_scan(const struct tr_batch_impl *im, u32 rounds)
{
	static u8 raw[MAXN * 8 + 64] __aligned(64);
	bool ok = true;
	u32 k;

	for (k = 0; k < rounds && ok; k++) {
		u32 n = k < ARRAY_SIZE(sizes) * 4 ? sizes[k / 4] :
			rnd_below(700);
		u64 *exp = (u64 *)(raw + rnd_below(8) * 8);
		u64 el = edge_el(), now;
		u16 *w1 = malloc(n * 2 + 2), *w2 = malloc(n * 2 + 2);
		u32 *i1 = malloc(n * 4 + 4), *i2 = malloc(n * 4 + 4);
		u32 j, c1, c2;

		for (j = 0; j < n; j++)
			exp[j] = edge_tick(el);
		tr_place_scalar(el, exp, n, w1);
		im->place(el, exp, n, w2);
		/* scan against a few clocks: before, at and after el */
		now = el + (rnd_below(2) ? rnd() >> rnd_below(64) : 0) -
		      rnd_below(3);
		c1 = tr_scan_due_scalar(now, exp, n, i1);
		c2 = im->scan_due(now, exp, n, i2);
		checks += 2 * n;
		for (j = 0; j < n; j++)
			if (w1[j] != tr_where_of(el, exp[j]))
				ok = false;
		if (memcmp(w1, w2, n * 2) || c1 != c2 ||
		    memcmp(i1, i2, c1 * 4) || !ok) {
			printf("# n %u el %#llx now %#llx count %u/%u\n", n,
			       (unsigned long long)el,
			       (unsigned long long)now, c1, c2);
			for (j = 0; j < n; j++)
				if (w1[j] != w2[j]) {
					printf("# exp %#llx where %u/%u\n",
					       (unsigned long long)exp[j],
					       w1[j], w2[j]);
					break;
				}
			ok = false;
		}
		free(w1);
		free(w2);
		free(i1);
		free(i2);
	}
	tap(ok, "place and scan_due equal scalar:", im->name);
}

static void test_cqe(const struct tr_batch_impl *im, u32 rounds)
{
	bool ok = true;
	u32 k;

	for (k = 0; k < rounds && ok; k++) {
		u32 entries = 1U << (6 + rnd_below(7));
		u32 n = k < ARRAY_SIZE(sizes) ? min(sizes[k], entries) :
			rnd_below(entries + 1);
		u32 tail = rnd_below(3) ? rnd() : entries - rnd_below(9);
		size_t sz = entries * sizeof(struct tr_cqe);
		u8 *r1 = xaligned(64, sz + 64), *r2 = xaligned(64, sz + 64);
		u32 *id = malloc(n * 4 + 4), *fl = malloc(n * 4 + 4);
		u64 *ud = malloc(n * 8 + 8);
		u32 mis = rnd_below(4) * 16, j;

		for (j = 0; j < n; j++) {
			id[j] = rnd_below(1U << 30);
			fl[j] = rnd();
			ud[j] = rnd();
		}
		memset(r1, 0xa5, sz + 64);
		memset(r2, 0xa5, sz + 64);
		tr_cqe_fill_scalar((void *)(r1 + mis), entries - 1, tail, id,
				   ud, fl, n);
		im->cqe_fill((void *)(r2 + mis), entries - 1, tail, id, ud,
			     fl, n);
		checks += n;
		if (memcmp(r1, r2, sz + 64)) {
			printf("# entries %u n %u tail %u\n", entries, n, tail);
			ok = false;
		}
		free(r1);
		free(r2);
		free(id);
		free(fl);
		free(ud);
	}
	tap(ok, "cqe_fill equals scalar:", im->name);
}

int main(int argc, char **argv)
{
	u32 rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 2000;
	u32 i;

	printf("TAP version 13\n1..%zu\n", 1 + 3 * ARRAY_SIZE(simd_impls));
	test_recip();
	for (i = 0; i < ARRAY_SIZE(simd_impls); i++) {
		const struct tr_batch_impl *im = simd_impls[i];

		if (!simd_cpu_has(im->impl)) {
			printf("ok %d - # SKIP %s: not on this CPU\n", ++tap_n,
			       im->name);
			printf("ok %d - # SKIP\nok %d - # SKIP\n", tap_n + 1,
			       tap_n + 2);
			tap_n += 2;
			continue;
		}
		test_prep(im, rounds);
		test_place_scan(im, rounds);
		test_cqe(im, rounds / 4);
	}
	printf("# %lu values checked, %d failed\n", checks, tap_failed);
	return tap_failed ? 1 : 0;
}
