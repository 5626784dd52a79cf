// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized model test of the timerring core: one TAP case per seed.
 *
 *	modeltest [-s first_seed] [-n seeds] [-o ops_per_seed] [-p prefix]
 *		  [-k scalar|avx2|avx512]
 *
 * -k runs the core's drain steps with those batch kernels (one the CPU
 * lacks, or that this binary was built without, skips the run).
 *
 * A failing case prints the seed and the last steps; rerun it alone with
 * "modeltest -s SEED -n 1 -o OPS".
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "model.h"
#include "tr_impls.h"

int main(int argc, char **argv)
{
	unsigned long long first = 1, nseeds = 32, ops = 20000, i;
	unsigned long long fires = 0, cqes = 0, ovf = 0, nops = 0;
	const char *prefix = "model", *kern = NULL;
	struct tr_model_res *res;
	int opt, failed = 0;

	while ((opt = getopt(argc, argv, "s:n:o:p:k:")) != -1) {
		switch (opt) {
		case 's':
			first = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			nseeds = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			ops = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'k':
			kern = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-s seed] [-n seeds] "
				"[-o ops] [-p prefix] [-k kernels]\n", argv[0]);
			return 2;
		}
	}
	if (kern) {
		tr_model_kern = tr_harness_impl(kern);
		if (!tr_model_kern) {
			printf("TAP version 13\n1..1\nok 1 - %s # SKIP %s "
			       "kernels: not built in or not supported by "
			       "this CPU\n", prefix, kern);
			return 0;
		}
	}
	res = malloc(sizeof(*res));
	if (!res)
		return 1;
	printf("TAP version 13\n1..%llu\n", nseeds);
	for (i = 0; i < nseeds; i++) {
		unsigned long long seed = first + i;
		struct tr_src src;

		tr_src_seed(&src, seed * 0x9e3779b97f4a7c15ULL + 1);
		if (tr_model_run(&src, ops, res)) {
			failed++;
			printf("not ok %llu - %s seed %llu\n", i + 1, prefix,
			       seed);
			printf("# %s\n", res->msg);
			printf("# rerun: %s -s %llu -n 1 -o %llu\n", argv[0],
			       seed, ops);
		} else {
			printf("ok %llu - %s seed %llu (%llu fires, %llu "
			       "overflowed, %llu CQEs)\n", i + 1, prefix, seed,
			       (unsigned long long)res->fires,
			       (unsigned long long)res->overflows,
			       (unsigned long long)res->cqes);
		}
		fflush(stdout);
		nops += res->ops;
		fires += res->fires;
		cqes += res->cqes;
		ovf += res->overflows;
	}
	printf("# %s: %llu steps, %llu expirations, %llu overflowed, "
	       "%llu CQEs consumed\n", prefix, nops, fires, ovf, cqes);
	printf("# %llu passed, %d failed\n", nseeds - failed, failed);
	free(res);
	return failed ? 1 : 0;
}
