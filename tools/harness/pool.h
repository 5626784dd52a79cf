/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The harness's side of the core's ref pool (module/table.c): a directory
 * sized for max_ids, and pages added before ops as the driver adds them.
 */
#ifndef _TR_HARNESS_POOL_H
#define _TR_HARNESS_POOL_H

#include <stdlib.h>
#include "core.h"

static inline struct tr_blk **pool_dir(u32 max_ids)
{
	struct tr_blk **dir = calloc(tr_pool_pages_max(max_ids), sizeof(*dir));

	if (!dir)
		abort();
	return dir;
}

/* Make room for ops adding @more refs; pages start as garbage. */
static inline void pool_fill(struct tr_core *c, u32 more)
{
	u32 n = tr_pool_want(c, more);

	while (n--) {
		void *p = aligned_alloc(4096, 4096);

		if (!p)
			abort();
		memset(p, 0x5a, 4096);
		tr_pool_install(c, p);
	}
}

static inline void pool_free(struct tr_core *c)
{
	u32 i;

	for (i = 0; i < c->blk_nr >> TR_BLK_PAGE_SHIFT; i++)
		free(c->blk_page[i]);
	free(c->blk_page);
}

#endif /* _TR_HARNESS_POOL_H */
