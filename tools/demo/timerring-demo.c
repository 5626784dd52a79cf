// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-demo: the showcase run by `make run`.
 *
 * It plays a small connection tracker: 100000 connections, each armed
 * with a 60 s handshake timeout. Then half of them see traffic (MODIFY to
 * a 1 s idle timeout), a quarter close (CANCEL) and a quarter go quiet
 * (MODIFY to a 300 ms idle timeout). Every live timer must expire exactly
 * once and never before the deadline it was given; closed ones never.
 * Everything is done in batches, and the expirations are consumed from the
 * shared ring.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timerring.h"

#define NCONN		100000U
#define BATCH		4096U
#define CONN_NS		(60ULL * 1000 * 1000 * 1000)	/* handshake: 60 s */
#define IDLE_NS		(300ULL * 1000 * 1000)	/* idle: 300 ms */
#define EXTRA_NS	(700ULL * 1000 * 1000)	/* active: +700 ms */

enum { CONN_IDLE, CONN_ACTIVE, CONN_CLOSED };

static struct timerring_op ops[BATCH];
static __s32 res[BATCH];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int submit_all(struct timerring *tr, unsigned int n, unsigned int *failed)
{
	unsigned int done, f;
	int ret = timerring_submit(tr, ops, n, res, 0, &done, &f);

	if (ret < 0 || done != n)
		return ret < 0 ? ret : -EIO;
	*failed += f;
	return 0;
}

int main(void)
{
	struct timerring_params p = {
		.max_timers = 1U << 20,
		.cq_entries = 16384,
		.clockid = CLOCK_MONOTONIC,
		.numa_node = TIMERRING_NODE_CURRENT,
	};
	static unsigned char state[NCONN], seen[NCONN];
	static __u64 deadline[NCONN];
	struct timerring_version v;
	struct timerring_stats st;
	struct timerring tr;
	unsigned int i, n, failed = 0, expired = 0, want = 0, early = 0;
	unsigned int dup = 0, stale = 0;
	double t0, t_arm, t_mod, t_done = 1e18;
	int ret;

	ret = timerring_version(-1, &v);
	if (ret) {
		fprintf(stderr, "timerring-demo: module not loaded (%s)\n",
			strerror(-ret));
		return 1;
	}
	printf("timerring %s (API %u), batch kernels: %s\n",
	       v.module_version, v.api_version,
	       v.impl == TIMERRING_IMPL_AVX512 ? "avx512" :
	       v.impl == TIMERRING_IMPL_AVX2 ? "avx2" : "scalar");

	ret = timerring_open(&tr, &p);
	if (ret) {
		fprintf(stderr, "timerring_open: %s\n", strerror(-ret));
		return 1;
	}
	printf("instance: %u ids, %u CQEs, %llu ns tick, node %d, ring %llu B\n",
	       p.max_timers, p.cq_entries,
	       (unsigned long long)p.resolution_ns, p.numa_node,
	       (unsigned long long)p.mmap_size);

	/* 1. every connection gets an idle timer */
	t0 = now_s();
	for (i = 0; i < NCONN; i += n) {
		unsigned int k;

		n = NCONN - i < BATCH ? NCONN - i : BATCH;
		for (k = 0; k < n; k++)
			timerring_op_arm(&ops[k], i + k, CONN_NS, 0, i + k, 0);
		if (submit_all(&tr, n, &failed))
			goto fail;
	}
	t_arm = now_s() - t0;

	/* 2. traffic on half (re-arm), a quarter close (cancel) */
	t0 = now_s();
	for (i = 0; i < NCONN; i += n) {
		/* a relative expiry counts from after this clock read */
		__u64 start = timerring_now(&tr);
		unsigned int k;

		n = NCONN - i < BATCH ? NCONN - i : BATCH;
		for (k = 0; k < n; k++) {
			unsigned int id = i + k;

			deadline[id] = start + (id % 4 < 2 ? IDLE_NS + EXTRA_NS :
						IDLE_NS);
			if (id % 4 < 2) {
				state[id] = CONN_ACTIVE;
				timerring_op_modify(&ops[k], id,
						    IDLE_NS + EXTRA_NS, 0, id, 0);
			} else if (id % 4 == 2) {
				state[id] = CONN_CLOSED;
				timerring_op_cancel(&ops[k], id);
			} else {
				state[id] = CONN_IDLE;
				timerring_op_modify(&ops[k], id, IDLE_NS, 0,
						    id, 0);
			}
		}
		if (submit_all(&tr, n, &failed))
			goto fail;
	}
	t_mod = now_s() - t0;
	for (i = 0; i < NCONN; i++)
		want += state[i] != CONN_CLOSED;
	printf("armed %u timers in %.1f ms; re-armed %u, cancelled %u in %.1f ms (%u failed ops)\n",
	       NCONN, t_arm * 1e3, NCONN / 2 + NCONN / 4, NCONN / 4,
	       t_mod * 1e3, failed);

	/* 3. consume expirations until every live timer has fired */
	t0 = now_s();
	/* until all fired, then 1.2 s more: a duplicate would show up */
	while (now_s() - t0 < 30 && (expired < want || now_s() - t_done < 1.2)) {
		unsigned int head, seen_now = 0, ready;
		struct io_uring_cqe *cqe;
		__u64 now;

		ret = timerring_wait(&tr, 1, 200LL * 1000 * 1000);
		if (ret < 0 && ret != -ETIME)
			goto fail;
		/*
		 * The tail first, then the clock: every CQE up to that tail
		 * was posted before now, so now >= its expiry. (CQEs posted
		 * after the clock read wait for the next round: they may be
		 * due later than now.)
		 */
		ready = timerring_cq_ready(&tr);
		now = timerring_now(&tr);
		timerring_for_each_cqe(&tr, head, cqe) {
			__u32 id = timerring_cqe_id(cqe);

			if (seen_now == ready)
				break;

			seen_now++;
			if (id >= NCONN || cqe->user_data != id) {
				stale++;
				continue;
			}
			if (seen[id]++)
				dup++;
			if (state[id] == CONN_CLOSED)
				stale++;
			if (now < deadline[id])
				early++;
			expired++;
		}
		timerring_cq_advance(&tr, seen_now);
		if (expired >= want && t_done > now_s())
			t_done = now_s();
	}

	timerring_stats(&tr, &st);
	printf("expired %u/%u in %.2f s: %u duplicate, %u for closed ids, %u early\n",
	       expired, want, now_s() - t0, dup, stale, early);
	printf("stats: armed_total=%llu modified=%llu cancelled=%llu expired=%llu overflowed=%llu dropped=%llu cascades=%llu wakeups=%llu\n",
	       (unsigned long long)st.armed_total,
	       (unsigned long long)st.modified_total,
	       (unsigned long long)st.cancelled_total,
	       (unsigned long long)st.expired_total,
	       (unsigned long long)st.overflowed_total,
	       (unsigned long long)st.dropped_total,
	       (unsigned long long)st.cascades,
	       (unsigned long long)st.wakeups);
	printf("memory: %llu B in use for %u timers\n",
	       (unsigned long long)st.mem_bytes, NCONN);
	printf("lateness (log2 us buckets):");
	for (i = 0; i < TIMERRING_LATENCY_BUCKETS; i++)
		if (st.lateness_hist[i])
			printf(" [%u]=%llu", i,
			       (unsigned long long)st.lateness_hist[i]);
	printf("\n");
	timerring_close(&tr);

	if (expired != want || dup || stale || early || failed ||
	    st.dropped_total) {
		printf("RESULT: FAIL\n");
		return 1;
	}
	printf("RESULT: OK: every idle timer fired exactly once, none early, none lost\n");
	return 0;
fail:
	fprintf(stderr, "timerring-demo: %s\n", strerror(ret < 0 ? -ret : EIO));
	timerring_close(&tr);
	return 1;
}
