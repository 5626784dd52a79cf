/* SPDX-License-Identifier: GPL-2.0 */
/* Shim of <linux/build_bug.h> for the harness: C11's static_assert. */
#ifndef _LINUX_BUILD_BUG_H
#define _LINUX_BUILD_BUG_H

#include <assert.h>

#endif
