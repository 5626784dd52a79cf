/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The KUnit suites' side of the core's ref pool (table.c): a directory for
 * max_ids, and pages added before ops, as the driver adds them.
 */
#ifndef _TIMERRING_KT_POOL_H
#define _TIMERRING_KT_POOL_H

#include <kunit/test.h>
#include <linux/slab.h>

#include "../core.h"

static inline struct tr_blk **kt_pool_dir(struct kunit *test, u32 max_ids)
{
	struct tr_blk **dir = kunit_kcalloc(test, tr_pool_pages_max(max_ids),
					    sizeof(*dir), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dir);
	return dir;
}

/* Room for ops adding @more refs; the pages are freed with the test. */
static inline void kt_pool_fill(struct kunit *test, struct tr_core *c,
				u32 more)
{
	u32 n = tr_pool_want(c, more);

	while (n--) {
		void *p = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		memset(p, 0x5a, PAGE_SIZE);
		tr_pool_install(c, p);
	}
}

#endif /* _TIMERRING_KT_POOL_H */
