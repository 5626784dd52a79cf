// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: batched timers for userspace, with expirations delivered into
 * an mmap'd completion ring laid out like io_uring's.
 *
 * This file registers /dev/timerring (a misc device) and dispatches its
 * file operations. Each open file is one instance (instance.c); an
 * instance is configured once by TIMERRING_IOC_SETUP and then takes
 * batches of ops (submit.c; through io_uring's IORING_OP_URING_CMD:
 * uring_cmd.c), maps its ring (memmap.c) and is waited on with poll/epoll,
 * TIMERRING_IOC_WAIT or an eventfd (wait.c).
 *
 * Module parameters (read-only once loaded, except where said):
 *   max_timers         cap of one instance's id space       (2^24 ids)
 *   max_cq_entries     cap of one instance's CQ ring        (2^20 CQEs)
 *   max_user_bytes     memory all instances of one uid may pin, writable
 *                      at run time                (RAM / 16, >= 64 MiB)
 *   impl               batch kernels: auto, scalar, avx2, avx512 (simd.c)
 *
 * The device is created root-only (0600); the udev rule 60-timerring.rules
 * gives it to group timerring (0660), as /dev/kvm is given to group kvm.
 * What an unprivileged member of that group can pin is bounded by its
 * budget (account.c), and what it can make the soft-IRQ do by the per-CPU
 * soft-IRQ budget (shard.c).
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>

#include "instance.h"
#include "sqpoll.h"
#include "submit.h"
#include "trace.h"
#include "uring_cmd.h"

unsigned int tr_max_timers = 1U << 24;
module_param_named(max_timers, tr_max_timers, uint, 0444);
MODULE_PARM_DESC(max_timers, "Largest id space of one instance (default 2^24)");

unsigned int tr_max_cq_entries = 1U << 20;
module_param_named(max_cq_entries, tr_max_cq_entries, uint, 0444);
MODULE_PARM_DESC(max_cq_entries, "Largest completion ring of one instance (default 2^20)");

static int tr_open(struct inode *inode, struct file *file)
{
	struct tr_instance *inst = tr_instance_alloc();

	if (IS_ERR(inst))
		return PTR_ERR(inst);
	file->private_data = inst;
	return nonseekable_open(inode, file);
}

static int tr_release(struct inode *inode, struct file *file)
{
	tr_instance_free(file->private_data);
	return 0;
}

static long tr_ioctl_version(void __user *uarg, size_t usize)
{
	struct timerring_version v = {
		.api_version = TIMERRING_API_VERSION,
		.impl = tr_impl_active(),
		.max_timers = min_t(u32, tr_max_timers,
				    TIMERRING_MAX_TIMERS_MAX),
		.max_cq_entries = rounddown_pow_of_two(tr_max_cq_entries),
	};

	strscpy(v.module_version, THIS_MODULE->version ?: "",
		sizeof(v.module_version));
	return tr_copy_struct_to_user(uarg, usize, &v, sizeof(v));
}

/* An ioctl number without its size field. */
#define TR_IOC_NOSIZE(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

/*
 * The struct sizes an ioctl accepts: at least the first version's
 * (TIMERRING_*_SIZE_VER0), at most 4096 bytes (a page on x86-64), as
 * clone3() and openat2() bound theirs by a page.
 */
static int tr_check_usize(size_t usize, size_t ver0)
{
	if (usize < ver0)
		return -EINVAL;
	if (usize > SZ_4K)
		return -E2BIG;
	return 0;
}

static const struct {
	unsigned int cmd;
	size_t ver0;
} tr_ioc_sizes[] = {
	{ TIMERRING_IOC_VERSION, TIMERRING_VERSION_SIZE_VER0 },
	{ TIMERRING_IOC_SETUP, TIMERRING_PARAMS_SIZE_VER0 },
	{ TIMERRING_IOC_SUBMIT, TIMERRING_SUBMIT_SIZE_VER0 },
	{ TIMERRING_IOC_WAIT, TIMERRING_WAIT_SIZE_VER0 },
	{ TIMERRING_IOC_STATS, TIMERRING_STATS_SIZE_VER0 },
};

static_assert(sizeof(struct timerring_version) == TIMERRING_VERSION_SIZE_VER0);
static_assert(sizeof(struct timerring_params) == TIMERRING_PARAMS_SIZE_VER2);
static_assert(sizeof(struct timerring_submit) == TIMERRING_SUBMIT_SIZE_VER0);
static_assert(sizeof(struct timerring_wait) == TIMERRING_WAIT_SIZE_VER0);
static_assert(sizeof(struct timerring_stats) == TIMERRING_STATS_SIZE_VER3);

static long tr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct tr_instance *inst = file->private_data;
	void __user *uarg = (void __user *)arg;
	size_t usize = _IOC_SIZE(cmd);
	unsigned int i;
	int ret;

	/*
	 * The size in the ioctl number is the size of the struct userspace
	 * was built with: match on everything else, let the handlers accept
	 * older and newer sizes.
	 */
	for (i = 0; i < ARRAY_SIZE(tr_ioc_sizes); i++) {
		if (TR_IOC_NOSIZE(cmd) != TR_IOC_NOSIZE(tr_ioc_sizes[i].cmd))
			continue;
		ret = tr_check_usize(usize, tr_ioc_sizes[i].ver0);
		if (ret)
			return ret;
		break;
	}

	switch (TR_IOC_NOSIZE(cmd)) {
	case TR_IOC_NOSIZE(TIMERRING_IOC_VERSION):
		return tr_ioctl_version(uarg, usize);
	case TR_IOC_NOSIZE(TIMERRING_IOC_SETUP):
		return tr_instance_setup(inst, uarg, usize);
	case TR_IOC_NOSIZE(TIMERRING_IOC_EVENTFD):
		if (usize != sizeof(__s32))
			return -EINVAL;
		return tr_ioctl_eventfd(inst, uarg);
	case TR_IOC_NOSIZE(TIMERRING_IOC_SUBMIT):
		if (!tr_ready(inst))
			return -EINVAL;
		return tr_ioctl_submit(inst, uarg, usize);
	case TR_IOC_NOSIZE(TIMERRING_IOC_WAIT):
		if (!tr_ready(inst))
			return -EINVAL;
		return tr_ioctl_wait(inst, uarg, usize);
	case TR_IOC_NOSIZE(TIMERRING_IOC_STATS):
		if (!tr_ready(inst))
			return -EINVAL;
		return tr_ioctl_stats(inst, uarg, usize);
	case TIMERRING_IOC_SQ_ENTER:
		/* it has no argument: no other size */
		if (cmd != TIMERRING_IOC_SQ_ENTER)
			return -ENOTTY;
		if (!tr_ready(inst))
			return -EINVAL;
		return tr_sq_enter(inst, false);
	}
	return -ENOTTY;
}

static const struct file_operations tr_fops = {
	.owner		= THIS_MODULE,
	.open		= tr_open,
	.release	= tr_release,
	.unlocked_ioctl	= tr_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= tr_mmap,
	.poll		= tr_poll,
	.uring_cmd	= tr_uring_cmd,
};

static struct miscdevice tr_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= TIMERRING_DEV_NAME,
	.fops	= &tr_fops,
	.mode	= 0600,
};

static int __init tr_init(void)
{
	int ret;

	if (!tr_max_timers || tr_max_timers > TIMERRING_MAX_TIMERS_MAX ||
	    tr_max_cq_entries < TIMERRING_CQ_ENTRIES_MIN ||
	    tr_max_cq_entries > TIMERRING_CQ_ENTRIES_MAX) {
		pr_err("timerring: module parameters out of range\n");
		return -EINVAL;
	}
	tr_account_init();
	ret = tr_slab_init();
	if (ret)
		return ret;
	ret = tr_debugfs_init();
	if (ret)
		goto err_slab;
	/* after debugfs: it adds timerring/simd */
	ret = tr_simd_init();
	if (ret)
		goto err_debugfs;
	ret = misc_register(&tr_misc);
	if (ret)
		goto err_debugfs;
	pr_info("timerring: /dev/%s ready, batch kernels: %s\n",
		TIMERRING_DEV_NAME, tr_impl_name(tr_impl_active()));
	return 0;

err_debugfs:
	tr_debugfs_exit();
err_slab:
	tr_slab_exit();
	return ret;
}

static void __exit tr_exit(void)
{
	misc_deregister(&tr_misc);
	/* eventfd references are dropped from RCU callbacks (eventfd.c) */
	rcu_barrier();
	tr_debugfs_exit();
	tr_slab_exit();
}

module_init(tr_init);
module_exit(tr_exit);

MODULE_DESCRIPTION("Batched timers with an io_uring-compatible completion ring");
MODULE_AUTHOR("The timerring developers");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1.0");
