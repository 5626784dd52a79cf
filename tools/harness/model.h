/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reference model of the timerring core, for the randomized model test
 * (modeltest.c) and the fuzz target (fuzz.c). See model.c.
 */
#ifndef _TR_MODEL_H
#define _TR_MODEL_H

#include <stddef.h>
#include "core.h"

/*
 * Where the random decisions come from: a PRNG (seeded), or the bytes of a
 * fuzzer input (then the run ends when the input is used up).
 */
struct tr_src {
	const u8 *data;
	size_t len;
	size_t pos;
	u64 state;
	bool done;
};

void tr_src_seed(struct tr_src *s, u64 seed);
void tr_src_data(struct tr_src *s, const u8 *data, size_t len);

struct tr_model_res {
	u64 ops;		/* ops and passes run */
	u64 fires;		/* expirations checked */
	u64 cqes;		/* CQEs checked by the consumer */
	u64 overflows;		/* expirations that waited on the pending list */
	char msg[8192];		/* what went wrong, with the last ops */
};

/* Drain kernels the core under test uses (scalar if NULL). */
extern const struct tr_batch_impl *tr_model_kern;

/* Run up to @max_ops steps; 0 if the core matched the model all along. */
int tr_model_run(struct tr_src *src, u32 max_ops, struct tr_model_res *res);

#endif /* _TR_MODEL_H */
