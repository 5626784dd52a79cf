// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: concurrency and teardown.
 *
 * race: one thread arms, modifies and cancels ids in batches while timers
 * fire, another consumes the CQEs; every successful ARM/MODIFY must end in
 * exactly one way: one CQE (one-shot), one successful CANCEL, or one
 * MODIFY reporting TIMERRING_RES_REARMED.
 *
 * close: closing an instance with very many armed timers is prompt and
 * leaves the module usable.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include "kselftest_harness.h"
#include "common.h"

#define HOUR_NS		(3600 * NSEC_PER_SEC)

#define RACE_IDS	256
#define RACE_BATCH	32
#define RACE_MAX_BATCHES 4000
#define RACE_NS		(1500 * NSEC_PER_MSEC)
#define RACE_SERIALS	(RACE_MAX_BATCHES * RACE_BATCH + 2 * RACE_IDS + 2)

struct race {
	struct timerring tr;
	int stop;

	/* Written by the producer only. */
	__u32 next_serial;
	__u32 *ser_id;
	__u16 *ser_gen;
	__u8 *ser_valid;	/* ARM/MODIFY succeeded */
	__u8 *ser_periodic;
	__u8 *ser_ended;	/* CANCEL 0 or MODIFY REARMED ended it */
	__u32 cur[RACE_IDS];	/* last successful serial of the id */
	unsigned long errors;	/* inconsistent results */
	unsigned long n_arm, n_mod, n_rearm, n_cancel, n_enoent, n_eexist;

	/* Written by the consumer only. */
	__u8 *cqe_once;		/* CQEs without F_MORE */
	__u32 *cqe_more;	/* CQEs with F_MORE */
	__u16 *cqe_gen;
	__u32 *cqe_id;
	unsigned long bad_cqes, total_cqes;
};

static void pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void consume(struct race *r)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	timerring_for_each_cqe(&r->tr, head, cqe) {
		__u64 s = cqe->user_data;

		n++;
		r->total_cqes++;
		if (!s || s >= RACE_SERIALS) {
			r->bad_cqes++;
			continue;
		}
		if (timerring_cqe_more(cqe))
			r->cqe_more[s]++;
		else
			r->cqe_once[s]++;
		r->cqe_gen[s] = timerring_cqe_gen(cqe);
		r->cqe_id[s] = timerring_cqe_id(cqe);
	}
	timerring_cq_advance(&r->tr, n);
}

static void *consumer(void *arg)
{
	struct race *r = arg;

	pin(1);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		timerring_wait(&r->tr, 1, 5 * NSEC_PER_MSEC);
		consume(r);
	}
	/* Final drain, flushing the overflow list. */
	do {
		consume(r);
		timerring_wait(&r->tr, 0, 0);
	} while (timerring_cq_ready(&r->tr) ||
		 timerring_cq_overflow_pending(&r->tr));
	return NULL;
}

static void apply_results(struct race *r, const struct timerring_op *ops,
			  const __s32 *res, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		__u32 id = ops[i].id, s = (__u32)ops[i].user_data;
		__s32 v = res[i];

		switch (ops[i].opcode) {
		case TIMERRING_OP_ARM:
			if (v == -EEXIST) {
				r->n_eexist++;
				break;
			}
			if (v < 0 || (v & TIMERRING_RES_REARMED)) {
				r->errors++;
				break;
			}
			r->n_arm++;
			/* The id was idle: a live periodic arm cannot be. */
			if (r->cur[id] && r->ser_periodic[r->cur[id]] &&
			    !r->ser_ended[r->cur[id]])
				r->errors++;
			goto armed;
		case TIMERRING_OP_MODIFY:
			if (v < 0) {
				r->errors++;
				break;
			}
			r->n_mod++;
			if (v & TIMERRING_RES_REARMED) {
				r->n_rearm++;
				if (!r->cur[id] || r->ser_ended[r->cur[id]])
					r->errors++;
				else
					r->ser_ended[r->cur[id]]++;
			} else if (r->cur[id] && r->ser_periodic[r->cur[id]] &&
				   !r->ser_ended[r->cur[id]]) {
				r->errors++;
			}
armed:
			r->ser_valid[s] = 1;
			r->ser_id[s] = id;
			r->ser_gen[s] = timerring_res_gen(v);
			r->ser_periodic[s] = ops[i].interval != 0;
			r->cur[id] = s;
			break;
		case TIMERRING_OP_CANCEL:
			if (v == -ENOENT) {
				r->n_enoent++;
				/* A periodic timer never goes idle by itself. */
				if (r->cur[id] && r->ser_periodic[r->cur[id]] &&
				    !r->ser_ended[r->cur[id]])
					r->errors++;
				break;
			}
			if (v != 0 || !r->cur[id] || r->ser_ended[r->cur[id]]) {
				r->errors++;
				break;
			}
			r->n_cancel++;
			r->ser_ended[r->cur[id]]++;
			break;
		}
	}
}

static void build_batch(struct race *r, struct timerring_op *ops,
			unsigned int n, __u64 res_ns, unsigned int *seed)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		unsigned int x = rand_r(seed);
		__u32 id = x % RACE_IDS;
		unsigned int kind = (x >> 8) % 16;
		__u64 exp, iv = 0;
		__u8 flags = 0;

		/* Short expiries fire during the run, long ones get hit. */
		if ((x >> 12) & 1)
			exp = ((x >> 13) % 4) * res_ns;
		else
			exp = 5 * NSEC_PER_MSEC + ((x >> 13) % 25) * NSEC_PER_MSEC;
		if (((x >> 20) & 15) == 0) {
			flags |= TIMERRING_OPF_ABS;
			exp += timerring_now(&r->tr) - 2 * res_ns;
		}
		if (((x >> 24) & 7) == 0)
			flags |= TIMERRING_OPF_SLACK;
		if (((x >> 27) & 15) == 0)
			iv = res_ns * (2 + (x >> 28) % 4);

		if (kind < 6) {
			timerring_op_arm(&ops[i], id, exp, flags,
					 r->next_serial++, iv);
		} else if (kind < 10) {
			timerring_op_modify(&ops[i], id, exp, flags,
					    r->next_serial++, iv);
		} else {
			timerring_op_cancel(&ops[i], id);
			ops[i].user_data = 0;
		}
	}
}

FIXTURE(race) {
	struct race *r;
};

FIXTURE_SETUP(race)
{
	struct timerring_params p;
	struct race *r;

	r = calloc(1, sizeof(*r));
	ASSERT_NE(NULL, r);
	self->r = r;
	tr_default_params(&p);
	p.max_timers = RACE_IDS;
	p.cq_entries = 64;	/* small: the overflow list gets used too */
	TR_OPEN_OR_SKIP(&r->tr, &p);
	r->next_serial = 1;
	r->ser_id = calloc(RACE_SERIALS, sizeof(*r->ser_id));
	r->ser_gen = calloc(RACE_SERIALS, sizeof(*r->ser_gen));
	r->ser_valid = calloc(RACE_SERIALS, 1);
	r->ser_periodic = calloc(RACE_SERIALS, 1);
	r->ser_ended = calloc(RACE_SERIALS, 1);
	r->cqe_once = calloc(RACE_SERIALS, 1);
	r->cqe_more = calloc(RACE_SERIALS, sizeof(*r->cqe_more));
	r->cqe_gen = calloc(RACE_SERIALS, sizeof(*r->cqe_gen));
	r->cqe_id = calloc(RACE_SERIALS, sizeof(*r->cqe_id));
	ASSERT_NE(NULL, r->ser_id);
	ASSERT_NE(NULL, r->ser_gen);
	ASSERT_NE(NULL, r->ser_valid);
	ASSERT_NE(NULL, r->ser_periodic);
	ASSERT_NE(NULL, r->ser_ended);
	ASSERT_NE(NULL, r->cqe_once);
	ASSERT_NE(NULL, r->cqe_more);
	ASSERT_NE(NULL, r->cqe_gen);
	ASSERT_NE(NULL, r->cqe_id);
}

FIXTURE_TEARDOWN(race)
{
	/* The test runs in a child process: its exit frees everything. */
	if (self->r && self->r->tr.fd >= 0)
		timerring_close(&self->r->tr);
}

TEST_F_TIMEOUT(race, arm_cancel_vs_consume, 120)
{
	struct race *r = self->r;
	__u64 res_ns = r->tr.params.resolution_ns;
	struct timerring_op ops[RACE_IDS];
	__s32 res[RACE_IDS];
	unsigned int seed = 12345, batches = 0, i, done, failed;
	unsigned long lost = 0, dup = 0, mism = 0, phantom = 0, pend = 0;
	struct timerring_stats st;
	pthread_t th;
	__u64 end;

	pin(0);
	ASSERT_EQ(0, pthread_create(&th, NULL, consumer, r));
	end = now_ns(CLOCK_MONOTONIC) + RACE_NS;
	while (batches < RACE_MAX_BATCHES && now_ns(CLOCK_MONOTONIC) < end) {
		unsigned int n = 1 + rand_r(&seed) % RACE_BATCH;

		build_batch(r, ops, n, res_ns, &seed);
		ASSERT_EQ(n, timerring_submit(&r->tr, ops, n, res, 0, &done,
					      &failed));
		apply_results(r, ops, res, n);
		batches++;
	}

	/* Cancel whatever is left, one id at a time for exact accounting. */
	for (i = 0; i < RACE_IDS; i++)
		timerring_op_cancel(&ops[i], i);
	ASSERT_EQ(RACE_IDS, timerring_submit(&r->tr, ops, RACE_IDS, res, 0,
					     NULL, NULL));
	apply_results(r, ops, res, RACE_IDS);
	ASSERT_EQ(0, timerring_stats(&r->tr, &st));
	EXPECT_EQ(0, st.armed_now);

	/* Let the consumer drain the ring and the overflow list. */
	sleep_ns(50 * NSEC_PER_MSEC);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, timerring_stats(&r->tr, &st));
	EXPECT_EQ(0, st.overflow_now);
	EXPECT_EQ(0, timerring_cq_ready(&r->tr));

	for (i = 1; i < r->next_serial; i++) {
		if (!r->ser_valid[i]) {
			if (r->cqe_once[i] || r->cqe_more[i])
				phantom++;
			continue;
		}
		if (r->cqe_once[i] || r->cqe_more[i]) {
			if (r->cqe_id[i] != r->ser_id[i] ||
			    r->cqe_gen[i] != r->ser_gen[i])
				mism++;
		}
		if (r->ser_periodic[i]) {
			if (r->cqe_once[i] || r->ser_ended[i] != 1)
				pend++;
			continue;
		}
		if (r->cqe_more[i])
			mism++;
		if (r->cqe_once[i] + r->ser_ended[i] == 0)
			lost++;
		else if (r->cqe_once[i] + r->ser_ended[i] > 1)
			dup++;
	}
	TH_LOG("%u batches, %u serials, %lu CQEs: arm %lu modify %lu (rearm %lu) cancel %lu, ENOENT %lu EEXIST %lu; overflowed %llu",
	       batches, r->next_serial - 1, r->total_cqes, r->n_arm, r->n_mod,
	       r->n_rearm, r->n_cancel, r->n_enoent, r->n_eexist,
	       (unsigned long long)st.overflowed_total);
	EXPECT_EQ(0, r->errors);
	EXPECT_EQ(0, r->bad_cqes);
	EXPECT_EQ(0, phantom);
	EXPECT_EQ(0, mism);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, dup);
	EXPECT_EQ(0, pend);
	/* The run really exercised the interesting paths. */
	EXPECT_GT(r->n_cancel, 0);
	EXPECT_GT(r->n_rearm, 0);
	EXPECT_GT(r->total_cqes, 100);
	EXPECT_EQ(st.expired_total, r->total_cqes);
}

TEST_F_TIMEOUT(race, close_with_many_armed, 120)
{
	struct timerring_params p;
	struct timerring_version v;
	struct timerring tr, tr2;
	struct timerring_op *ops;
	struct io_uring_cqe cqe;
	unsigned int n = 200000, chunk = 50000, i, j, failed;
	__u64 t0, t1;

	ASSERT_EQ(0, timerring_version(self->r->tr.fd, &v));
	if (v.max_timers < n)
		n = v.max_timers;
	tr_default_params(&p);
	p.max_timers = n;
	ASSERT_EQ(0, timerring_open(&tr, &p));
	ops = calloc(chunk, sizeof(*ops));
	ASSERT_NE(NULL, ops);
	for (i = 0; i < n; i += chunk) {
		unsigned int m = n - i < chunk ? n - i : chunk;

		for (j = 0; j < m; j++)
			timerring_op_arm(&ops[j], i + j,
					 HOUR_NS + (__u64)(i + j) * 7919 *
					 NSEC_PER_USEC, j & 1 ?
					 TIMERRING_OPF_SLACK : 0, i + j, 0);
		ASSERT_EQ(m, timerring_submit(&tr, ops, m, NULL, 0, NULL,
					      &failed));
		ASSERT_EQ(0, failed);
	}
	free(ops);

	t0 = now_ns(CLOCK_MONOTONIC);
	timerring_close(&tr);
	t1 = now_ns(CLOCK_MONOTONIC);
	TH_LOG("close with %u armed: %llu us", n,
	       (unsigned long long)(t1 - t0) / 1000);
	EXPECT_LT(t1 - t0, 5 * NSEC_PER_SEC);

	/* A new instance works. */
	tr_default_params(&p);
	ASSERT_EQ(0, timerring_open(&tr2, &p));
	ASSERT_GE(tr_arm(&tr2, 0, 0, 0, 42, 0), 0);
	ASSERT_EQ(1, tr_collect(&tr2, &cqe, 1, WAIT_LONG_NS));
	EXPECT_EQ(42, cqe.user_data);
	timerring_close(&tr2);
}

TEST_F_TIMEOUT(race, close_with_overflow_and_mapping, 60)
{
	struct timerring_params p;
	struct timerring tr;
	struct timerring_op *ops;
	unsigned int n = 5000, i;
	void *ring;
	size_t sz;

	tr_default_params(&p);
	p.max_timers = n;
	p.cq_entries = 64;
	ASSERT_EQ(0, timerring_open(&tr, &p));
	ops = calloc(n, sizeof(*ops));
	ASSERT_NE(NULL, ops);
	for (i = 0; i < n; i++)
		timerring_op_arm(&ops[i], i, i % 2 ? 0 : HOUR_NS, 0, i,
				 i % 7 ? 0 : tr.params.resolution_ns);
	ASSERT_EQ(n, timerring_submit(&tr, ops, n, NULL, 0, NULL, NULL));
	free(ops);
	ASSERT_LE(64, timerring_wait(&tr, 64, WAIT_LONG_NS));
	sleep_ns(20 * NSEC_PER_MSEC);
	EXPECT_TRUE(timerring_cq_overflow_pending(&tr));

	/* Close the fd first, with the ring still mapped, then unmap. */
	ring = tr.ring_ptr;
	sz = tr.ring_sz;
	close(tr.fd);
	sleep_ns(20 * NSEC_PER_MSEC);
	EXPECT_EQ(64, *tr.cq.ktail - *tr.cq.khead);
	munmap(ring, sz);

	/* Again, unmapping first. */
	tr_default_params(&p);
	ASSERT_EQ(0, timerring_open(&tr, &p));
	ASSERT_GE(tr_arm(&tr, 1, 0, 0, 1, p.resolution_ns), 0);
	sleep_ns(10 * NSEC_PER_MSEC);
	munmap(tr.ring_ptr, tr.ring_sz);
	tr.ring_ptr = NULL;
	sleep_ns(10 * NSEC_PER_MSEC);
	timerring_close(&tr);

	tr_default_params(&p);
	ASSERT_EQ(0, timerring_open(&tr, &p));
	ASSERT_GE(tr_arm(&tr, 3, 0, 0, 3, 0), 0);
	ASSERT_EQ(1, tr_collect(&tr, NULL, 1, WAIT_LONG_NS));
	timerring_close(&tr);
}

TEST_HARNESS_MAIN
