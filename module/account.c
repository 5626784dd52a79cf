// SPDX-License-Identifier: GPL-2.0
/*
 * timerring per-user memory budget.
 *
 * Every byte an instance pins is charged to the real uid that opened it
 * (struct tr_user, one per uid with open instances), and all instances of
 * a uid together may pin at most max_user_bytes. A charge that would go
 * over fails with -ENOSPC and changes nothing, so one user can neither pin
 * memory without bound nor take any from another: there is no global cap
 * to exhaust. Openers with CAP_SYS_RESOURCE are charged (the usage shows
 * in debugfs timerring/users) but never refused, as with pipe buffers.
 *
 * Why a cap of our own rather than RLIMIT_MEMLOCK: Debian's default memlock
 * limit is 8 MiB, and 10^6 timers need about 33 MiB (7813 table chunks of
 * 4 KiB, 128 KiB of directories, the ring and ~130 KiB of instance). The
 * default budget is 1/16 of RAM, at least 64 MiB (128 MiB on a 2 GiB
 * machine, 1.5 GiB on 24 GiB), and root can change it at run time; like
 * inotify's max_user_watches, it bounds what a user can pin, not how
 * many users there are.
 *
 * What is charged is what the allocators hand out, not what was asked
 * for: tr_alloc_bytes() rounds a kmalloc size up to its slab, or a larger
 * kvmalloc up to its page order. Everything is also accounted to the
 * memory cgroup of the task making the call (TR_GFP, SLAB_ACCOUNT), whose
 * limit fails the call with ENOMEM, never with the OOM killer.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/debugfs.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/refcount.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>

#include "account.h"

#define TR_USER_BUDGET_MIN	(64UL << 20)

struct tr_user {
	struct hlist_node node;
	kuid_t uid;
	refcount_t ref;			/* instances of this uid */
	atomic_long_t bytes;		/* charged by them */
};

/* 0 until tr_account_init() sets the default. */
unsigned long tr_max_user_bytes;
module_param_named(max_user_bytes, tr_max_user_bytes, ulong, 0644);
MODULE_PARM_DESC(max_user_bytes, "Kernel memory all instances of one user may pin (default: RAM / 16, at least 64 MiB)");

static DEFINE_HASHTABLE(tr_users, 6);
static DEFINE_SPINLOCK(tr_users_lock);

void tr_account_init(void)
{
	if (!tr_max_user_bytes)
		tr_max_user_bytes = max((totalram_pages() << PAGE_SHIFT) / 16,
					TR_USER_BUDGET_MIN);
}

/* Bytes the allocator really takes for a k(v)malloc of @size. */
size_t tr_alloc_bytes(size_t size)
{
	if (size <= KMALLOC_MAX_CACHE_SIZE)
		return kmalloc_size_roundup(size);
	return PAGE_SIZE << get_order(size);
}

static struct tr_user *tr_user_get(kuid_t uid)
{
	struct tr_user *u, *fresh;

	fresh = kzalloc(sizeof(*fresh), TR_GFP);
	if (!fresh)
		return NULL;
	spin_lock(&tr_users_lock);
	hash_for_each_possible(tr_users, u, node, __kuid_val(uid)) {
		if (uid_eq(u->uid, uid)) {
			refcount_inc(&u->ref);
			spin_unlock(&tr_users_lock);
			kfree(fresh);
			return u;
		}
	}
	fresh->uid = uid;
	refcount_set(&fresh->ref, 1);
	atomic_long_set(&fresh->bytes, 0);
	hash_add(tr_users, &fresh->node, __kuid_val(uid));
	spin_unlock(&tr_users_lock);
	return fresh;
}

static void tr_user_put(struct tr_user *u)
{
	bool last;

	spin_lock(&tr_users_lock);
	last = refcount_dec_and_test(&u->ref);
	if (last)
		hash_del(&u->node);
	spin_unlock(&tr_users_lock);
	if (!last)
		return;
	WARN_ON_ONCE(atomic_long_read(&u->bytes));
	kfree(u);
}

int tr_charge(struct tr_charge *ch, size_t bytes)
{
	unsigned long limit = READ_ONCE(tr_max_user_bytes);

	if ((unsigned long)atomic_long_add_return(bytes, &ch->user->bytes) >
	    limit && ch->limited) {
		atomic_long_sub(bytes, &ch->user->bytes);
		return -ENOSPC;
	}
	atomic_long_add(bytes, &ch->bytes);
	return 0;
}

void tr_uncharge(struct tr_charge *ch, size_t bytes)
{
	atomic_long_sub(bytes, &ch->user->bytes);
	atomic_long_sub(bytes, &ch->bytes);
}

/* At open: find the opener's tr_user and charge the instance to it. */
int tr_charge_open(struct tr_charge *ch, size_t bytes)
{
	int ret;

	ch->user = tr_user_get(current_uid());
	if (!ch->user)
		return -ENOMEM;
	atomic_long_set(&ch->bytes, 0);
	ch->limited = !capable(CAP_SYS_RESOURCE);
	ret = tr_charge(ch, bytes);
	if (ret) {
		tr_user_put(ch->user);
		ch->user = NULL;
	}
	return ret;
}

/* At the last close: give everything back. */
void tr_charge_close(struct tr_charge *ch)
{
	if (!ch->user)
		return;
	tr_uncharge(ch, atomic_long_read(&ch->bytes));
	tr_user_put(ch->user);
	ch->user = NULL;
}

/* debugfs timerring/users: "uid bytes" per user with open instances. */
static int tr_users_show(struct seq_file *m, void *v)
{
	struct tr_user *u;
	int bkt;

	seq_printf(m, "max_user_bytes %lu\n", READ_ONCE(tr_max_user_bytes));
	spin_lock(&tr_users_lock);
	hash_for_each(tr_users, bkt, u, node)
		seq_printf(m, "uid %u bytes %ld instances %u\n",
			   from_kuid_munged(&init_user_ns, u->uid),
			   atomic_long_read(&u->bytes),
			   refcount_read(&u->ref));
	spin_unlock(&tr_users_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tr_users);

void tr_account_debugfs(struct dentry *dir)
{
	debugfs_create_file("users", 0400, dir, NULL, &tr_users_fops);
}
