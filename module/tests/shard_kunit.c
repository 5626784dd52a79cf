// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite of timerring's shards: where a sharded instance's memory
 * and hrtimers are. Built into timerring.ko itself (it drives SETUP and
 * SUBMIT as an ioctl would), on kernels with KUnit built in: the test
 * kernel, whose VM has two nodes of one CPU each.
 *
 * A SETUP of one shard per CPU gives shard k the node of CPU k. The test
 * checks, with page_to_nid(), that the shard itself, its table
 * directories, a table chunk and an interval array allocated for one of
 * its ids, and the pool pages set aside for it are on that node; then
 * that after an ARM submitted from another node's CPU, the shard's
 * hrtimer is queued on a CPU of its own node.
 */
#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/kfence.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/topology.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "../instance.h"
#include "../submit.h"

/*
 * The node of @p's page, or @node itself for a KFENCE object: KFENCE
 * hands out samples of slab allocations from one pool of its own,
 * whatever node they asked for.
 */
static int tr_kt_nid(const void *p, int node)
{
	if (is_kfence_address(p))
		return node;
	return page_to_nid(is_vmalloc_addr(p) ? vmalloc_to_page(p) :
			   virt_to_page(p));
}

/* The node of the @k-th online CPU. */
static int tr_kt_cpu_node(u32 k)
{
	u32 cpu;

	for_each_online_cpu(cpu)
		if (!k--)
			return cpu_to_node(cpu);
	return NUMA_NO_NODE;
}

struct tr_kt_user {
	struct timerring_params p;
	struct timerring_op op;
	s32 res;
};

static void tr_kt_free(void *inst)
{
	tr_instance_free(inst);
}

/*
 * An instance of one shard per CPU set up with @p through a user page
 * (*@u), freed when the test ends; skips where there are not two nodes.
 */
static struct tr_instance *tr_kt_setup(struct kunit *test,
				       struct tr_kt_user __user **u,
				       struct timerring_params *p)
{
	struct tr_instance *inst;
	unsigned long addr;

	if (num_online_nodes() < 2 || num_online_cpus() < 2)
		kunit_skip(test, "needs two nodes with CPUs");
	addr = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	*u = (struct tr_kt_user __user *)addr;

	inst = tr_instance_alloc();
	KUNIT_ASSERT_FALSE(test, IS_ERR(inst));
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, tr_kt_free, inst), 0);
	KUNIT_ASSERT_EQ(test, copy_to_user(&(*u)->p, p, sizeof(*p)), 0);
	KUNIT_ASSERT_EQ(test, tr_instance_setup(inst, &(*u)->p, sizeof(*p)),
			0);
	KUNIT_ASSERT_EQ(test, copy_from_user(p, &(*u)->p, sizeof(*p)), 0);
	return inst;
}

/* Memory of every shard on its node: the shard, directories, chunks, pool. */
static void tr_test_shard_memory(struct kunit *test)
{
	struct timerring_params p = {
		.max_timers = 1 << 16,
		.clockid = CLOCK_MONOTONIC,
		.numa_node = TIMERRING_NODE_CURRENT,
		.shards = TIMERRING_SHARDS_AUTO,
	};
	void *spare[TR_POOL_SPARE_MAX];
	struct tr_kt_user __user *u;
	struct tr_instance *inst;
	struct tr_shard *sh;
	u32 k, i, id, n;
	u8 fresh;

	inst = tr_kt_setup(test, &u, &p);
	KUNIT_EXPECT_EQ(test, p.shards, min(num_online_cpus(),
					    TIMERRING_SHARDS_MAX));
	for (k = 0; (sh = tr_shard_at(inst, k)); k++) {
		int node = tr_kt_cpu_node(k);

		KUNIT_EXPECT_EQ(test, sh->node, node);
		if (k)	/* shard 0 is allocated with the instance at open() */
			KUNIT_EXPECT_EQ(test, tr_kt_nid(sh, node), node);
		KUNIT_EXPECT_EQ(test, tr_kt_nid(sh->core.chunk, node), node);
		KUNIT_EXPECT_EQ(test, tr_kt_nid(sh->core.ival, node), node);
		KUNIT_EXPECT_EQ(test, tr_kt_nid(sh->core.blk_page, node), node);

		/* the first id of this shard's second block of 128 */
		id = (k + p.shards) * TIMERRING_SHARD_IDS;
		KUNIT_ASSERT_EQ(test, tr_shard_idx(inst, id), k);
		fresh = 0;
		mutex_lock(&sh->mutex);
		KUNIT_EXPECT_EQ(test, tr_ensure_chunk(sh, id, true, false,
						      &fresh), 0);
		KUNIT_EXPECT_EQ(test, fresh, TR_FRESH_CHUNK | TR_FRESH_IVAL);
		KUNIT_EXPECT_EQ(test, tr_kt_nid(sh->core.chunk[id >>
						TR_CHUNK_SHIFT], node), node);
		KUNIT_EXPECT_EQ(test, tr_kt_nid(sh->core.ival[id >>
						TR_CHUNK_SHIFT], node), node);
		KUNIT_EXPECT_EQ(test, tr_ensure_pool(sh, TR_BATCH_CHUNK,
						     false), 0);
		spin_lock_bh(&sh->lock);
		KUNIT_EXPECT_GT(test, sh->core.blk_spare_nr, 0U);
		for (i = 0; i < sh->core.blk_spare_nr; i++)
			KUNIT_EXPECT_EQ(test,
					tr_kt_nid(sh->core.blk_spare[i], node),
					node);
		n = tr_pool_settle(sh, false, spare);
		spin_unlock_bh(&sh->lock);
		tr_pool_free(sh, spare, n);
		tr_drop_fresh(sh, id, fresh);
		KUNIT_EXPECT_NULL(test, sh->core.chunk[id >> TR_CHUNK_SHIFT]);
		mutex_unlock(&sh->mutex);
	}
}

/*
 * An ARM in shard k submitted from a CPU of another node: the shard's
 * hrtimer ends up queued on a CPU of its own node (tr_program() has the
 * shard's work item program it there).
 */
static void tr_test_shard_hrtimer(struct kunit *test)
{
	struct timerring_params p = {
		.max_timers = 1 << 12,
		.clockid = CLOCK_MONOTONIC,
		.numa_node = TIMERRING_NODE_CURRENT,
		.shards = TIMERRING_SHARDS_AUTO,
	};
	struct tr_batch_io io = { };
	struct tr_kt_user __user *u;
	struct timerring_op op = { };
	struct tr_instance *inst;
	struct tr_shard *sh;
	int here, cpu, tries;
	u32 k;

	inst = tr_kt_setup(test, &u, &p);

	here = numa_node_id();
	for (k = 0; (sh = tr_shard_at(inst, k)); k++)
		if (sh->node != here)
			break;
	KUNIT_ASSERT_NOT_NULL_MSG(test, sh, "no shard off node %d", here);

	op.opcode = TIMERRING_OP_ARM;
	op.id = k * TIMERRING_SHARD_IDS;
	op.expiry = 10ULL * NSEC_PER_SEC;
	KUNIT_ASSERT_EQ(test, copy_to_user(&u->op, &op, sizeof(op)), 0);
	io.nr = 1;
	io.uops = &u->op;
	io.ures = &u->res;
	KUNIT_ASSERT_EQ(test, tr_submit_batch(inst, &io), 0);
	KUNIT_EXPECT_EQ(test, io.done, 1U);
	KUNIT_EXPECT_EQ(test, io.failed, 0U);

	/* the work item on the shard's node runs a pass and programs it */
	for (tries = 0; tries < 100 && !hrtimer_is_queued(&sh->hrt); tries++) {
		flush_work(&sh->work);
		schedule_timeout_uninterruptible(1);
	}
	KUNIT_ASSERT_TRUE(test, hrtimer_is_queued(&sh->hrt));
	cpu = READ_ONCE(sh->hrt.base)->cpu_base->cpu;
	KUNIT_EXPECT_EQ_MSG(test, cpu_to_node(cpu), sh->node,
			    "shard %u of node %d queued on CPU %d", k,
			    sh->node, cpu);
}

static struct kunit_case tr_shard_cases[] = {
	KUNIT_CASE(tr_test_shard_memory),
	KUNIT_CASE(tr_test_shard_hrtimer),
	{}
};

static struct kunit_suite tr_shard_suite = {
	.name = "timerring_shards",
	.test_cases = tr_shard_cases,
};

kunit_test_suite(tr_shard_suite);
