// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the input bytes are the decisions of a model run
 * (configuration, then ops, times, budgets and consumer steps, see
 * model.c), so the fuzzer steers the same comparison against the
 * reference model as the randomized test. A mismatch aborts with the
 * model's report.
 */
#include <stdio.h>
#include <stdlib.h>
#include "model.h"

#define FUZZ_MAX_OPS	4096

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct tr_model_res res;
	struct tr_src src;

	tr_src_data(&src, data, size);
	if (tr_model_run(&src, FUZZ_MAX_OPS, &res)) {
		fprintf(stderr, "timerring model mismatch:\n%s\n", res.msg);
		abort();
	}
	return 0;
}
