// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: CPU hotplug under load.
 *
 * One instance per NUMA node, each set up from a thread pinned to a CPU
 * of its node (numa_node = TIMERRING_NODE_CURRENT, checked), and one of
 * one shard per CPU (TIMERRING_SHARDS_AUTO), whose shard of cpu1's node
 * keeps its timers while that node has no CPU online. A submitter
 * thread arms one-shot timers 1-16 ms ahead in batches of 32, on each
 * CPU in turn (so that the instances' hrtimers are queued on both), while
 * one consumer thread per instance reaps the CQEs and the test thread
 * takes cpu1 offline and back online in a loop. The submitter is never
 * pinned to cpu1 alone while it goes offline (cpu1_lock): the kernel would
 * have to force it off, and that path (select_fallback_rq() freeing the
 * task's affinity mask with kfree_rcu() under the runqueue lock) gives
 * lockdep a dependency on kvfree_rcu's lock that, with kmemleak's printk
 * under its object lock when a fault test failed one of its allocations,
 * closes a cycle in the kernel's own locks. Every successful ARM must
 * end in exactly one CQE, none before its expiry: the consumer reads the
 * ring's tail before the clock, so that a CQE it sees was posted before
 * that clock read.
 *
 * Skips where cpu1 cannot go offline (no such CPU, not root, no
 * CONFIG_HOTPLUG_CPU). HOTPLUG_SECS (environment) sets how long the loop
 * runs, default 15 s and at least 8 offline/online cycles.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include "kselftest_harness.h"
#include "common.h"

#define CPU1_ONLINE	"/sys/devices/system/cpu/cpu1/online"
#define HP_NODES	2
#define HP_INSTS	(HP_NODES + 1)	/* and the sharded one */
#define HP_IDS		4096
#define HP_BATCH	32
#define HP_SERIALS	(1U << 21)
#define HP_MIN_CYCLES	8
#define HP_MAX_SECS	45

struct hp_inst {
	struct timerring tr;
	__u32 shards;		/* asked of SETUP: 0, or SHARDS_AUTO */
	int cpu;		/* where it was set up */
	int node;		/* as SETUP returned it */
	int ret;		/* of the setup thread */
	__u8 *busy;		/* [HP_IDS]: armed and its CQE not reaped */
	pthread_t consumer;
	unsigned long cqes, bad, early;
	__u64 worst_early_ns;
};

struct hp {
	struct hp_inst in[HP_INSTS];
	int ninst;
	int stop_submit, stop_consume;

	/* per serial: written by the submitter before the SUBMIT */
	__u64 *expiry;
	__u8 *armed;
	/* per serial: CQEs seen, written by the consumers */
	__u8 *seen;
	__u32 next_serial;

	unsigned long dup, arm_failed, submits, pinned[2];

	/* held by the submitter while pinned to cpu1; cpu1_up under it */
	pthread_mutex_t cpu1_lock;
	int cpu1_up;
};

/* The first CPU of @node (its cpulist may be empty), or -1. */
static int node_cpu(int node)
{
	char path[64], buf[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist",
		 node);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return node == 0 ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	return atoi(buf);
}

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static void unpin(void)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Set the instance up from its node's CPU. */
static void *setup_fn(void *arg)
{
	struct hp_inst *in = arg;
	struct timerring_params p;

	in->ret = pin_to(in->cpu);
	if (in->ret)
		return NULL;
	tr_default_params(&p);
	p.max_timers = HP_IDS;
	p.cq_entries = 1024;
	p.shards = in->shards;
	in->ret = timerring_open(&in->tr, &p);
	in->node = p.numa_node;
	return NULL;
}

/* The CQEs of one ring of @in (the only one, or one shard's). */
static void reap_ring(struct hp *h, struct hp_inst *in,
		      struct timerring_cq *cq)
{
	unsigned int head = *cq->khead;
	unsigned int tail = timerring_load_acquire(cq->ktail);
	/* after the tail: every CQE up to it was posted before now */
	__u64 now = now_ns(CLOCK_MONOTONIC);

	for (; head != tail; head++) {
		struct io_uring_cqe *cqe = &cq->cqes[head & cq->ring_mask];
		__u64 s = cqe->user_data;
		__u32 id = timerring_cqe_id(cqe);

		in->cqes++;
		if (!s || s >= HP_SERIALS || id >= HP_IDS ||
		    !TR_READ_ONCE(h->armed[s])) {
			in->bad++;
			continue;
		}
		if (h->seen[s]++)
			__atomic_add_fetch(&h->dup, 1, __ATOMIC_RELAXED);
		if (h->expiry[s] > now) {
			in->early++;
			if (h->expiry[s] - now > in->worst_early_ns)
				in->worst_early_ns = h->expiry[s] - now;
		}
		/* the id may be armed again */
		__atomic_store_n(&in->busy[id], 0, __ATOMIC_RELEASE);
	}
	timerring_store_release(cq->khead, head);
}

static void reap(struct hp *h, struct hp_inst *in)
{
	unsigned int k;

	for (k = 0; k < timerring_nr_shards(&in->tr); k++)
		reap_ring(h, in, timerring_shard_cq(&in->tr, k));
}

struct hp_consumer {
	struct hp *h;
	struct hp_inst *in;
};

static void *consumer_fn(void *arg)
{
	struct hp_consumer *c = arg;

	while (!TR_READ_ONCE(c->h->stop_consume)) {
		timerring_wait(&c->in->tr, 1, 20 * NSEC_PER_MSEC);
		reap(c->h, c->in);
	}
	reap(c->h, c->in);
	return NULL;
}

/* Arm up to HP_BATCH free ids of @in; returns the ops submitted. */
static int submit_batch(struct hp *h, struct hp_inst *in, unsigned int *seed,
			unsigned int *next_id)
{
	struct timerring_op ops[HP_BATCH];
	__s32 res[HP_BATCH];
	__u32 ser[HP_BATCH], ids[HP_BATCH];
	__u64 now = now_ns(CLOCK_MONOTONIC);
	unsigned int n = 0, tries, i, done = 0;
	int ret;

	for (tries = 0; tries < HP_IDS && n < HP_BATCH; tries++) {
		__u32 id = (*next_id)++ % HP_IDS;
		__u32 s;

		if (__atomic_load_n(&in->busy[id], __ATOMIC_ACQUIRE))
			continue;
		if (h->next_serial >= HP_SERIALS)
			break;
		s = h->next_serial++;
		in->busy[id] = 1;
		h->expiry[s] = now + NSEC_PER_MSEC +
			       (__u64)(rand_r(seed) % (15 * NSEC_PER_MSEC));
		timerring_op_arm(&ops[n], id, h->expiry[s], TIMERRING_OPF_ABS,
				 s, 0);
		/* before the SUBMIT: a CQE for s can come only after it */
		TR_WRITE_ONCE(h->armed[s], 1);
		ser[n] = s;
		ids[n] = id;
		n++;
	}
	if (!n)
		return 0;
	ret = timerring_submit(&in->tr, ops, n, res, 0, &done, NULL);
	h->submits++;
	for (i = 0; i < n; i++) {
		if (ret >= 0 && i < done && res[i] >= 0)
			continue;
		/* no CQE will come for it */
		h->arm_failed++;
		TR_WRITE_ONCE(h->armed[ser[i]], 0);
		__atomic_store_n(&in->busy[ids[i]], 0, __ATOMIC_RELEASE);
	}
	return n;
}

static void *submit_fn(void *arg)
{
	struct hp *h = arg;
	unsigned int seed = 4242, next_id[HP_INSTS] = { 0 }, k = 0;

	while (!TR_READ_ONCE(h->stop_submit)) {
		int cpu = k & 1;
		bool locked = false;

		/* queue the hrtimers on each CPU in turn, cpu1 when online */
		if (cpu) {
			pthread_mutex_lock(&h->cpu1_lock);
			locked = true;
			if (!h->cpu1_up)
				cpu = 0;
		}
		if (!pin_to(cpu))
			h->pinned[cpu]++;
		else
			unpin();
		submit_batch(h, &h->in[(k >> 1) % h->ninst], &seed,
			     &next_id[(k >> 1) % h->ninst]);
		if (locked) {
			/* off cpu1 before it may go offline */
			unpin();
			pthread_mutex_unlock(&h->cpu1_lock);
		}
		k++;
		sleep_ns(NSEC_PER_MSEC);
	}
	return NULL;
}

/* 0, or -errno of the write; how long it took in *ns. */
static int set_cpu1(int online, __u64 *ns)
{
	__u64 t0 = now_ns(CLOCK_MONOTONIC);
	int ret = tr_write_file(CPU1_ONLINE, online ? "1" : "0");

	if (ns)
		*ns = now_ns(CLOCK_MONOTONIC) - t0;
	return ret;
}

/* set_cpu1() with the submitter told first (offline) or after (online). */
static int hp_set_cpu1(struct hp *h, int online, __u64 *ns)
{
	int ret;

	if (!online) {
		pthread_mutex_lock(&h->cpu1_lock);
		h->cpu1_up = 0;
		pthread_mutex_unlock(&h->cpu1_lock);
	}
	ret = set_cpu1(online, ns);
	if (online && !ret) {
		pthread_mutex_lock(&h->cpu1_lock);
		h->cpu1_up = 1;
		pthread_mutex_unlock(&h->cpu1_lock);
	}
	return ret;
}

FIXTURE(hotplug) {
	struct hp *h;
	int touched;
};

FIXTURE_SETUP(hotplug)
{
	self->h = NULL;
	self->touched = 0;
}

FIXTURE_TEARDOWN(hotplug)
{
	/* whatever happened, leave cpu1 online */
	if (self->touched)
		set_cpu1(1, NULL);
}

TEST_F_TIMEOUT(hotplug, offline_online_under_load, 240)
{
	struct hp_consumer cons[HP_INSTS];
	__u64 secs = 15, t_end, off_ns, on_ns, max_off = 0, max_on = 0;
	unsigned long cycles = 0, lost = 0, expected = 0, s;
	unsigned long cqes = 0, bad = 0, early = 0;
	__u64 worst_early = 0;
	pthread_t submitter;
	const char *env = getenv("HOTPLUG_SECS");
	struct hp *h;
	uint64_t online = 1;
	int i, ret;

	if (sysconf(_SC_NPROCESSORS_CONF) < 2 ||
	    tr_read_u64_file(CPU1_ONLINE, &online))
		SKIP(return, "no %s: cpu1 cannot go offline here", CPU1_ONLINE);
	if (!online)
		ASSERT_EQ(0, set_cpu1(1, NULL));
	if (env && atoi(env) > 0)
		secs = atoi(env);

	h = calloc(1, sizeof(*h));
	ASSERT_NE(NULL, h);
	self->h = h;
	h->expiry = calloc(HP_SERIALS, sizeof(*h->expiry));
	h->armed = calloc(HP_SERIALS, 1);
	h->seen = calloc(HP_SERIALS, 1);
	ASSERT_NE(NULL, h->expiry);
	ASSERT_NE(NULL, h->armed);
	ASSERT_NE(NULL, h->seen);
	h->next_serial = 1;
	pthread_mutex_init(&h->cpu1_lock, NULL);
	h->cpu1_up = 1;

	/* one instance per node that has a CPU, set up from that CPU */
	for (i = 0; i < HP_NODES; i++) {
		struct hp_inst *in = &h->in[h->ninst];
		pthread_t t;
		int cpu = node_cpu(i);

		if (cpu < 0)
			continue;
		in->cpu = cpu;
		in->busy = calloc(HP_IDS, 1);
		ASSERT_NE(NULL, in->busy);
		ASSERT_EQ(0, pthread_create(&t, NULL, setup_fn, in));
		pthread_join(t, NULL);
		if (in->ret == -ENOENT || in->ret == -ENODEV)
			SKIP(return, "no " TIMERRING_DEV_PATH);
		ASSERT_EQ(0, in->ret);
		EXPECT_EQ(i, in->node);
		h->ninst++;
	}
	ASSERT_LE(1, h->ninst);
	TH_LOG("%d instances, on nodes %d and %d", h->ninst, h->in[0].node,
	       h->ninst > 1 ? h->in[1].node : -1);
	/* and one of a shard per CPU, set up from cpu0 */
	{
		struct hp_inst *in = &h->in[h->ninst];
		pthread_t t;

		in->cpu = 0;
		in->shards = TIMERRING_SHARDS_AUTO;
		in->busy = calloc(HP_IDS, 1);
		ASSERT_NE(NULL, in->busy);
		ASSERT_EQ(0, pthread_create(&t, NULL, setup_fn, in));
		pthread_join(t, NULL);
		ASSERT_EQ(0, in->ret);
		EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN),
			  timerring_nr_shards(&in->tr));
		h->ninst++;
	}

	/* cpu1 must be able to go offline; else there is nothing to test */
	ret = set_cpu1(0, &off_ns);
	if (ret == -EPERM || ret == -EACCES || ret == -EBUSY ||
	    ret == -EINVAL || ret == -ENOENT || ret == -EROFS)
		SKIP(return, "cpu1 cannot go offline (%d)", ret);
	ASSERT_EQ(0, ret);
	self->touched = 1;
	ASSERT_EQ(0, set_cpu1(1, &on_ns));

	for (i = 0; i < h->ninst; i++) {
		cons[i].h = h;
		cons[i].in = &h->in[i];
		ASSERT_EQ(0, pthread_create(&h->in[i].consumer, NULL,
					    consumer_fn, &cons[i]));
	}
	ASSERT_EQ(0, pthread_create(&submitter, NULL, submit_fn, h));

	t_end = now_ns(CLOCK_MONOTONIC) + secs * NSEC_PER_SEC;
	for (;;) {
		__u64 now = now_ns(CLOCK_MONOTONIC);

		if (now >= t_end && cycles >= HP_MIN_CYCLES)
			break;
		if (now >= t_end + HP_MAX_SECS * NSEC_PER_SEC)
			break;
		sleep_ns(20 * NSEC_PER_MSEC);
		ret = hp_set_cpu1(h, 0, &off_ns);
		if (ret)
			break;
		sleep_ns(20 * NSEC_PER_MSEC);
		ret = hp_set_cpu1(h, 1, &on_ns);
		if (ret)
			break;
		if (off_ns > max_off)
			max_off = off_ns;
		if (on_ns > max_on)
			max_on = on_ns;
		cycles++;
	}
	EXPECT_EQ(0, ret);

	TR_WRITE_ONCE(h->stop_submit, 1);
	pthread_join(submitter, NULL);
	/* the last timers are due 16 ms after the last batch */
	sleep_ns(200 * NSEC_PER_MSEC);
	for (i = 0; i < h->ninst; i++) {
		uint64_t end = now_ns(CLOCK_MONOTONIC) + WAIT_LONG_NS;
		unsigned int id;

		/* every id free again, or the wait gives up */
		for (id = 0; id < HP_IDS; id++)
			while (__atomic_load_n(&h->in[i].busy[id],
					       __ATOMIC_ACQUIRE) &&
			       now_ns(CLOCK_MONOTONIC) < end)
				sleep_ns(NSEC_PER_MSEC);
	}
	TR_WRITE_ONCE(h->stop_consume, 1);
	for (i = 0; i < h->ninst; i++)
		pthread_join(h->in[i].consumer, NULL);

	for (i = 0; i < h->ninst; i++) {
		cqes += h->in[i].cqes;
		bad += h->in[i].bad;
		early += h->in[i].early;
		if (h->in[i].worst_early_ns > worst_early)
			worst_early = h->in[i].worst_early_ns;
	}
	for (s = 1; s < h->next_serial; s++) {
		if (!h->armed[s])
			continue;
		expected++;
		if (!h->seen[s])
			lost++;
	}
	TH_LOG("%lu offline/online cycles (longest offline %llu ms, online %llu ms), %lu batches (%lu on cpu0, %lu on cpu1)",
	       cycles, (unsigned long long)(max_off / NSEC_PER_MSEC),
	       (unsigned long long)(max_on / NSEC_PER_MSEC), h->submits,
	       h->pinned[0], h->pinned[1]);
	TH_LOG("%lu timers armed (%lu ARMs failed): %lu CQEs, %lu lost, %lu duplicated, %lu early (worst %llu ns), %lu unknown",
	       expected, h->arm_failed, cqes, lost, h->dup, early,
	       (unsigned long long)worst_early, bad);
	EXPECT_LE(HP_MIN_CYCLES, cycles);
	EXPECT_LT(1000, expected);
	EXPECT_EQ(0, h->arm_failed);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, h->dup);
	EXPECT_EQ(0, early);
	EXPECT_EQ(0, bad);
	/* both CPUs queued hrtimers */
	EXPECT_LT(0, h->pinned[1]);
	for (i = 0; i < h->ninst; i++) {
		struct timerring_stats st;

		ASSERT_EQ(0, timerring_stats(&h->in[i].tr, &st));
		EXPECT_EQ(h->in[i].cqes, st.expired_total);
		EXPECT_EQ(0, st.armed_now);
		timerring_close(&h->in[i].tr);
	}
}

TEST_HARNESS_MAIN
