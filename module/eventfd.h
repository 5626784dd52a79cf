/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring eventfd registration and signalling (eventfd.c).
 */
#ifndef _TIMERRING_EVENTFD_H
#define _TIMERRING_EVENTFD_H

#include <linux/compiler_types.h>

struct tr_instance;
struct tr_eventfd;

long tr_ioctl_eventfd(struct tr_instance *inst, void __user *uarg);
void tr_eventfd_release(struct tr_instance *inst);
void tr_eventfd_notify(struct tr_instance *inst);

#endif /* _TIMERRING_EVENTFD_H */
