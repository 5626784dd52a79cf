// SPDX-License-Identifier: GPL-2.0
/*
 * timerring statistics.
 *
 * Per instance: struct timerring_stats through TIMERRING_IOC_STATS (the
 * owner only: it needs the fd). Globally: debugfs timerring/stats sums all
 * open instances plus those already closed, and names the batch kernels in
 * use; it shows counts only, never kernel pointers. The counters live in
 * the core (struct tr_stats) and are updated under the shard lock, so
 * they cost nothing extra on the fast path; an instance's are the sums of
 * its shards'.
 */
#include <linux/debugfs.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "instance.h"
#include "sqpoll.h"

static LIST_HEAD(tr_instances);
static DEFINE_MUTEX(tr_instances_lock);
static struct timerring_stats tr_closed;	/* under tr_instances_lock */
static u64 tr_closed_instances;
static struct dentry *tr_debugfs_dir;

/* Copy out a struct the kernel may know as smaller or bigger than usize. */
int tr_copy_struct_to_user(void __user *dst, size_t usize, const void *src,
			   size_t ksize)
{
	size_t n = min(usize, ksize);

	if (copy_to_user(dst, src, n))
		return -EFAULT;
	if (usize > ksize && clear_user((u8 __user *)dst + ksize,
					usize - ksize))
		return -EFAULT;
	return 0;
}

/* Add the counters of shard @sh to @s, under its lock. */
static void tr_shard_stats(struct tr_shard *sh, struct timerring_stats *s)
{
	const struct tr_core *c = &sh->core;
	unsigned int i;

	spin_lock_bh(&sh->lock);
	s->armed_now += c->armed;
	s->armed_total += c->st.armed_total;
	s->modified_total += c->st.modified_total;
	s->cancelled_total += c->st.cancelled_total;
	s->expired_total += c->st.expired_total;
	s->overflowed_total += c->st.overflowed_total;
	s->overflow_now += tr_pending_nr(c);
	s->ops_failed += c->st.ops_failed;
	s->cascades += c->st.cascades;
	s->wakeups += sh->wakeups;
	s->mem_bytes += tr_table_bytes(c);
	for (i = 0; i < TIMERRING_LATENCY_BUCKETS; i++)
		s->lateness_hist[i] += c->st.lateness_hist[i];
	if (!sh->idx) {
		s->drain_impl = c->kern_last;
		tr_sqpoll_stats(sh->inst, s);
	}
	spin_unlock_bh(&sh->lock);
}

static void tr_stats_fill(struct tr_instance *inst, struct timerring_stats *s)
{
	const struct tr_core *c0 = &inst->shard.core;
	struct tr_shard *sh;
	u32 i;

	memset(s, 0, sizeof(*s));
	for (i = 0; (sh = tr_shard_at(inst, i)); i++)
		tr_shard_stats(sh, s);
	s->batches = atomic64_read(&inst->batches);
	s->mem_bytes += inst->ring_bytes + sizeof(*inst) +
			(inst->nr_shards - 1) * sizeof(*sh);
	for (i = 0; i < inst->nr_shards; i++)
		s->mem_bytes += sizeof(*inst->bufs[i]) +
				(inst->bufs[i]->sorted ?
				 sizeof(*inst->bufs[i]->sorted) : 0);
	s->resolution_ns = c0->res_ns;
	s->max_timers = c0->max_ids;
	s->cq_entries = c0->cq.entries;
	s->impl = READ_ONCE(inst->last_impl);
	s->shards = inst->nr_shards;
	s->par_batches = atomic64_read(&inst->par_batches);
	s->par_stolen = atomic64_read(&inst->par_stolen);
	s->par_mode = tr_par_mode(inst, &s->par_breakeven);
	spin_lock(&inst->tier_lock);
	s->par_inline_ps = inst->tier.inline_ps;
	s->par_ps = inst->tier.par_ps;
	s->par_fixed_ns = inst->tier.fixed_ns;
	spin_unlock(&inst->tier_lock);
}

long tr_ioctl_stats(struct tr_instance *inst, void __user *uarg,
		    size_t usize)
{
	struct timerring_stats s;

	tr_stats_fill(inst, &s);
	return tr_copy_struct_to_user(uarg, usize, &s, sizeof(s));
}

static void tr_stats_add(struct timerring_stats *sum,
			 const struct timerring_stats *s)
{
	unsigned int i;

	sum->armed_now += s->armed_now;
	sum->armed_total += s->armed_total;
	sum->modified_total += s->modified_total;
	sum->cancelled_total += s->cancelled_total;
	sum->expired_total += s->expired_total;
	sum->overflowed_total += s->overflowed_total;
	sum->overflow_now += s->overflow_now;
	sum->dropped_total += s->dropped_total;
	sum->batches += s->batches;
	sum->ops_failed += s->ops_failed;
	sum->cascades += s->cascades;
	sum->wakeups += s->wakeups;
	sum->mem_bytes += s->mem_bytes;
	sum->sq_ops_total += s->sq_ops_total;
	sum->sq_failed_total += s->sq_failed_total;
	sum->sq_enter_total += s->sq_enter_total;
	sum->sq_pass_total += s->sq_pass_total;
	sum->par_batches += s->par_batches;
	sum->par_stolen += s->par_stolen;
	for (i = 0; i < TIMERRING_LATENCY_BUCKETS; i++)
		sum->lateness_hist[i] += s->lateness_hist[i];
}

/* At SETUP: debugfs timerring/stats counts the instance from now on. */
void tr_stats_register(struct tr_instance *inst)
{
	mutex_lock(&tr_instances_lock);
	list_add_tail(&inst->stats_link, &tr_instances);
	mutex_unlock(&tr_instances_lock);
}

void tr_stats_unregister(struct tr_instance *inst)
{
	struct timerring_stats s;

	tr_stats_fill(inst, &s);
	s.armed_now = 0;
	s.overflow_now = 0;
	s.mem_bytes = 0;
	mutex_lock(&tr_instances_lock);
	list_del(&inst->stats_link);
	tr_stats_add(&tr_closed, &s);
	tr_closed_instances++;
	mutex_unlock(&tr_instances_lock);
}

static const char *tr_par_mode_name(u32 mode)
{
	static const char *const names[] = {
		[TIMERRING_PAR_LEARNED] = "learned",
		[TIMERRING_PAR_NEVER] = "never",
		[TIMERRING_PAR_ALWAYS] = "always",
		[TIMERRING_PAR_FIXED] = "fixed",
	};

	return mode < ARRAY_SIZE(names) ? names[mode] : "?";
}

static noinline_for_stack void
tr_par_show(struct seq_file *m, struct tr_instance *inst)
{
	u32 breakeven, mode = tr_par_mode(inst, &breakeven);
	struct tr_tier t;

	spin_lock(&inst->tier_lock);
	t = inst->tier;
	spin_unlock(&inst->tier_lock);
	seq_printf(m, "par inst=%u shards=%u mode=%s breakeven=%u inline_ps=%llu par_ps=%llu fixed_ns=%llu batches=%llu stolen=%llu\n",
		   inst->inst_id, inst->nr_shards, tr_par_mode_name(mode),
		   breakeven, t.inline_ps, t.par_ps, t.fixed_ns,
		   (u64)atomic64_read(&inst->par_batches),
		   (u64)atomic64_read(&inst->par_stolen));
}

static int tr_stats_show(struct seq_file *m, void *v)
{
	struct timerring_stats sum, s;
	struct tr_instance *inst;
	u64 open = 0;
	unsigned int i;

	mutex_lock(&tr_instances_lock);
	sum = tr_closed;
	list_for_each_entry(inst, &tr_instances, stats_link) {
		tr_stats_fill(inst, &s);
		tr_stats_add(&sum, &s);
		open++;
	}
	seq_printf(m, "instances_open %llu\n", open);
	seq_printf(m, "instances_closed %llu\n", tr_closed_instances);
	mutex_unlock(&tr_instances_lock);

	seq_printf(m, "armed_now %llu\n", sum.armed_now);
	seq_printf(m, "armed_total %llu\n", sum.armed_total);
	seq_printf(m, "modified_total %llu\n", sum.modified_total);
	seq_printf(m, "cancelled_total %llu\n", sum.cancelled_total);
	seq_printf(m, "expired_total %llu\n", sum.expired_total);
	seq_printf(m, "overflowed_total %llu\n", sum.overflowed_total);
	seq_printf(m, "overflow_now %llu\n", sum.overflow_now);
	seq_printf(m, "dropped_total %llu\n", sum.dropped_total);
	seq_printf(m, "batches %llu\n", sum.batches);
	seq_printf(m, "ops_failed %llu\n", sum.ops_failed);
	seq_printf(m, "cascades %llu\n", sum.cascades);
	seq_printf(m, "wakeups %llu\n", sum.wakeups);
	seq_printf(m, "mem_bytes %llu\n", sum.mem_bytes);
	seq_printf(m, "sq_ops_total %llu\n", sum.sq_ops_total);
	seq_printf(m, "sq_failed_total %llu\n", sum.sq_failed_total);
	seq_printf(m, "sq_enter_total %llu\n", sum.sq_enter_total);
	seq_printf(m, "sq_pass_total %llu\n", sum.sq_pass_total);
	seq_printf(m, "par_batches %llu\n", sum.par_batches);
	seq_printf(m, "par_stolen %llu\n", sum.par_stolen);
	seq_printf(m, "impl %s\n", tr_impl_name(tr_impl_active()));
	seq_printf(m, "drain_impl %s\n", tr_impl_name(tr_drain_impl_active()));
	seq_puts(m, "lateness_us_log2");
	for (i = 0; i < TIMERRING_LATENCY_BUCKETS; i++)
		seq_printf(m, " %llu", sum.lateness_hist[i]);
	seq_putc(m, '\n');
	/* last: the cost model of each open sharded instance */
	mutex_lock(&tr_instances_lock);
	list_for_each_entry(inst, &tr_instances, stats_link)
		if (inst->nr_shards > 1)
			tr_par_show(m, inst);
	mutex_unlock(&tr_instances_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tr_stats);

int tr_debugfs_init(void)
{
	tr_debugfs_dir = debugfs_create_dir("timerring", NULL);
	debugfs_create_file("stats", 0444, tr_debugfs_dir, NULL,
			    &tr_stats_fops);
	tr_account_debugfs(tr_debugfs_dir);
	return 0;
}

void tr_debugfs_exit(void)
{
	debugfs_remove_recursive(tr_debugfs_dir);
}
