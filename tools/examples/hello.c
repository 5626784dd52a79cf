// SPDX-License-Identifier: GPL-2.0
/*
 * hello: the timerring tour in one screen. Five connections get an idle
 * timeout each in one batch; connection 1 then shows activity (its timer
 * is re-armed with MODIFY) and connection 3 is closed (its timer is
 * cancelled). The expirations are read off the completion ring like
 * io_uring CQEs. Exits 0 only if exactly 0, 2, 4, 1 expired, in order.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "timerring.h"

#define MS		1000000ULL
#define NCONN		5
#define CONN_TAG	0xc0de0000ULL	/* user_data = CONN_TAG | conn */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int main(void)
{
	static const unsigned int want[] = { 0, 2, 4, 1 };
	struct timerring_params p = { .max_timers = 64, .clockid = CLOCK_MONOTONIC,
				      .numa_node = TIMERRING_NODE_CURRENT };
	struct timerring_op ops[NCONN];
	__s32 res[NCONN];
	struct timerring tr;
	unsigned int i, got = 0, bad = 0, gen[NCONN];
	uint64_t t0, deadline[NCONN];
	int ret;

	ret = timerring_open(&tr, &p);
	if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO) {
		printf("1..0 # SKIP no %s (module not loaded)\n", TIMERRING_DEV_PATH);
		return 4;
	}
	if (ret < 0) {
		printf("Bail out! timerring_open: %s\n", strerror(-ret));
		return 1;
	}
	printf("# instance: %u ids, %u CQ entries, tick %llu ns\n", p.max_timers,
	       p.cq_entries, (unsigned long long)p.resolution_ns);

	/* One batch: connection i times out after 100 + 50 * i ms. */
	t0 = now_ns();
	for (i = 0; i < NCONN; i++) {
		deadline[i] = t0 + (100 + 50 * i) * MS;
		timerring_op_arm(&ops[i], i, (100 + 50 * i) * MS, 0, CONN_TAG | i, 0);
	}
	ret = timerring_submit(&tr, ops, NCONN, res, 0, NULL, NULL);
	for (i = 0; i < NCONN; i++)
		gen[i] = timerring_res_gen(res[i]);
	printf("# armed %d connection timeouts (100..300 ms)\n", ret);

	/* Activity on connection 1: push its timeout to 400 ms. Close 3. */
	timerring_op_modify(&ops[0], 1, 400 * MS, 0, CONN_TAG | 1, 0);
	timerring_op_cancel(&ops[1], 3);
	deadline[1] = now_ns() + 400 * MS;
	ret = timerring_submit(&tr, ops, 2, res, 0, NULL, NULL);
	gen[1] = timerring_res_gen(res[0]);
	printf("# conn 1 re-armed to 400 ms (res %d), conn 3 cancelled (res %d)\n",
	       res[0], res[1]);
	bad += ret != 2 || res[0] < 0 || !timerring_res_rearmed(res[0]) || res[1];

	/* The CQ loop: wait, reap every ready CQE, hand them back. */
	while (got < 4 && timerring_wait(&tr, 1, 5000 * MS) >= 0) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		timerring_for_each_cqe(&tr, head, cqe) {
			unsigned int id = timerring_cqe_id(cqe);
			uint64_t t = now_ns();
			int ok = got < 4 && id == want[got] && cqe->user_data == (CONN_TAG | id) &&
				 !timerring_cqe_is_stale(cqe, gen[id]) &&
				 t + p.resolution_ns >= deadline[id];

			printf("# conn %u timed out at %llu ms (user_data 0x%llx): %s\n", id,
			       (unsigned long long)((t - t0) / MS),
			       (unsigned long long)cqe->user_data, ok ? "as expected" : "WRONG");
			bad += !ok;
			got++;
			n++;
		}
		timerring_cq_advance(&tr, n);
	}
	/* Connection 3 must stay silent. */
	ret = timerring_wait(&tr, 1, 200 * MS);
	printf("# after 200 more ms: %u more expirations\n", timerring_cq_ready(&tr));
	bad += got != 4 || ret != -ETIME;
	timerring_close(&tr);
	printf("1..1\n%s 1 - hello: 4 timeouts in order, re-arm and cancel work\n",
	       bad ? "not ok" : "ok");
	return bad ? 1 : 0;
}
