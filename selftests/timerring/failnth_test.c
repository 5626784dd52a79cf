// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: every allocation and user copy of every entry point failed
 * in turn (fail-nth with failslab, fail_page_alloc and fail_usercopy; see
 * failinj.h): open(), SETUP, mmap() of the ring, SUBMITs that allocate a
 * table chunk, an interval array, several chunks, and batches over three
 * 256-op chunks, WAIT, EVENTFD and STATS. Each injected fault must fail
 * the call with ENOMEM or EFAULT and change nothing, or fail just the ops
 * it hit, or be absorbed; the instance keeps working. Per call a line
 * "fail-nth CALL: N faults injected: ..." says what the faults did.
 * Skips where the kernel has no fault injection (Debian's kernels).
 */
#include "kselftest_harness.h"
#include "failinj.h"

static const struct fi_knob knobs[] = {
	{ "failslab/ignore-gfp-wait", "N" },
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/min-order", "0" },
	{ "fail_page_alloc/verbose", "0" },
	{ "fail_usercopy/verbose", "0" },
};

static const struct fi_profile profile = {
	.name = "fail-nth",
	.knobs = knobs,
	.nr_knobs = ARRAY_SIZE(knobs),
	.enomem = true,
};

FIXTURE(fnth) {
	struct fi fi;
};

FIXTURE_SETUP(fnth)
{
	const char *why = fi_setup(&self->fi, &profile);

	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(fnth)
{
	fi_teardown(&self->fi);
}

/* The module's own points: its user and its instance. */
TEST_F(fnth, open)
{
	fi_sweep_open(_metadata, &self->fi, 2);
}

/* Copy in and out, three directories, the batch buffer, the ring. */
TEST_F(fnth, setup_call)
{
	fi_sweep_setup(_metadata, &self->fi, 7);
}

TEST_F(fnth, mmap)
{
	fi_sweep_mmap(_metadata, &self->fi, 1);
}

/* An ARM far from the armed id: a new table chunk. */
TEST_F(fnth, submit_new_chunk)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(new chunk)", .max_timers = 1024,
		.nr = 1, .opcode = TIMERRING_OP_ARM,
		.first = 7 * FI_TABLE_IDS + 9, .pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 3);
}

/* The same as a MODIFY of an idle id. */
TEST_F(fnth, submit_modify_new_chunk)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(MODIFY, new chunk)", .max_timers = 1024,
		.nr = 1, .opcode = TIMERRING_OP_MODIFY,
		.first = 5 * FI_TABLE_IDS + 7, .pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 3);
}

/* A periodic ARM next to an armed one-shot: only an interval array. */
TEST_F(fnth, submit_interval_array)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(interval array)", .max_timers = 1024,
		.nr = 1, .opcode = TIMERRING_OP_ARM,
		.first = 2 * FI_TABLE_IDS + 5, .interval = 10 * NSEC_PER_MSEC,
		.pre = 2 * FI_TABLE_IDS + 6,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 3);
}

/* A periodic ARM far from the armed id: a chunk and an interval array. */
TEST_F(fnth, submit_periodic_new_chunk)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(periodic, new chunk)", .max_timers = 1024,
		.nr = 1, .opcode = TIMERRING_OP_ARM,
		.first = 6 * FI_TABLE_IDS, .interval = 10 * NSEC_PER_MSEC,
		.pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 4);
}

/* Ids 127, 128, ..., 127 + 7 * 64: one present chunk and four new ones. */
TEST_F(fnth, submit_table_chunks)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(8 ops, 5 table chunks)", .max_timers = 1024,
		.nr = 8, .opcode = TIMERRING_OP_ARM,
		.first = FI_TABLE_IDS - 1, .stride = FI_TABLE_IDS / 2,
		.pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 6);
}

/*
 * 600 ARMs on ids 10..609: three 256-op chunks, four new table chunks,
 * and the pool pages for 600 refs.
 */
TEST_F_TIMEOUT(fnth, submit_op_chunks, 300)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(600 ops, 3 op chunks)", .max_timers = 1024,
		.nr = 600, .opcode = TIMERRING_OP_ARM,
		.first = 10, .stride = 1, .pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 9);
}

/* The same batch with STOP_ON_ERROR: a failed op ends it. */
TEST_F_TIMEOUT(fnth, submit_op_chunks_stop, 300)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(600 ops, STOP_ON_ERROR)", .max_timers = 1024,
		.flags = TIMERRING_SUBMIT_STOP_ON_ERROR,
		.nr = 600, .opcode = TIMERRING_OP_ARM,
		.first = 10, .stride = 1, .pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 9);
}

TEST_F(fnth, wait)
{
	fi_sweep_wait(_metadata, &self->fi, false, 1);
}

TEST_F(fnth, wait_overflow)
{
	fi_sweep_wait(_metadata, &self->fi, true, 1);
}

TEST_F(fnth, eventfd)
{
	fi_sweep_eventfd(_metadata, &self->fi, 1);
}

TEST_F(fnth, stats)
{
	fi_sweep_stats(_metadata, &self->fi, 1);
}

TEST_HARNESS_MAIN
