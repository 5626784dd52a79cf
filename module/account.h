/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring per-user memory budget (account.c).
 */
#ifndef _TIMERRING_ACCOUNT_H
#define _TIMERRING_ACCOUNT_H

#include <linux/atomic.h>
#include <linux/gfp.h>
#include <linux/types.h>

/*
 * Flags of every allocation made for a user's call (open, SETUP, ARM,
 * MODIFY, EVENTFD): accounted to the caller's memory cgroup, and failing
 * with ENOMEM at its limit or when memory is short rather than invoking
 * the OOM killer, which would kill a task of the cgroup (the caller,
 * often) for memory the call can do without. No warning either: the
 * size is the user's choice, and the error reaches the user.
 */
#define TR_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

struct dentry;
struct tr_user;

/*
 * What one instance has charged to its user; the submitters of its shards
 * charge at the same time. limited is false for an opener with
 * CAP_SYS_RESOURCE: charged, but never refused.
 */
struct tr_charge {
	struct tr_user *user;
	atomic_long_t bytes;
	bool limited;
};

extern unsigned long tr_max_user_bytes;

void tr_account_init(void);
int tr_charge_open(struct tr_charge *ch, size_t bytes);
int tr_charge(struct tr_charge *ch, size_t bytes);
void tr_uncharge(struct tr_charge *ch, size_t bytes);
void tr_charge_close(struct tr_charge *ch);
size_t tr_alloc_bytes(size_t size);
void tr_account_debugfs(struct dentry *dir);

#endif /* _TIMERRING_ACCOUNT_H */
