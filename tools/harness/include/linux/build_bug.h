/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shim of <linux/build_bug.h> for the harness: static_assert() with the
 * message optional, as the kernel has it.
 */
#ifndef _LINUX_BUILD_BUG_H
#define _LINUX_BUILD_BUG_H

#undef static_assert
#define static_assert(expr, ...) __static_assert(expr, ##__VA_ARGS__, #expr)
#define __static_assert(expr, msg, ...) _Static_assert(expr, msg)

#endif
