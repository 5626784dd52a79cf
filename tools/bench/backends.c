// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the backend table, one entry per system (the style of
 * io_uring's opdef.c). The workloads (workloads.c) only go through it.
 */
#include "bench.h"

#define TIMERRING_COMMON				\
	.err_key = "failed",				\
	.close = trb_close,				\
	.arm = trb_arm,					\
	.modify = trb_modify,				\
	.cancel = trb_cancel,				\
	.consume = trb_consume,				\
	.rec_extra = trb_rec_extra,			\
	.count_errors = trb_count_errors,		\
	.mem_bytes = trb_mem_bytes

/* The order in which the systems run, one after the other or interleaved. */
const int sys_order[NSYS] = {
	SYS_TR, SYS_TRWARM, SYS_UCMD, SYS_SQ, SYS_SQPOLL, SYS_SQCOLD,
	SYS_UR, SYS_TFD,
};

const struct backend backends[NSYS] = {
	[SYS_TR] = {
		.name = "timerring",
		.flags = BE_BATCHED | BE_TIMERRING | BE_EXPIRY | BE_CONN |
			 BE_TFDPAIR,
		.open = trb_open_ioctl,
		.submit = trb_submit_ioctl,
		TIMERRING_COMMON,
	},
	[SYS_UCMD] = {
		.name = "timerring_uring_cmd",
		.flags = BE_BATCHED | BE_TIMERRING | BE_CONN,
		.open = trb_open_ucmd,
		.submit = trb_submit_ucmd,
		TIMERRING_COMMON,
	},
	[SYS_SQ] = {
		.name = "timerring_sq",
		.flags = BE_BATCHED | BE_TIMERRING | BE_CONN |
			 BE_TFDPAIR,
		.open = trb_open_sq,
		.submit = trb_submit_sq,
		TIMERRING_COMMON,
	},
	[SYS_SQPOLL] = {
		.name = "timerring_sqpoll",
		.flags = BE_BATCHED | BE_TIMERRING | BE_CONN |
			 BE_TFDPAIR,
		.open = trb_open_sq,
		.submit = trb_submit_sqpoll,
		.sync = trb_sync_sq,
		TIMERRING_COMMON,
	},
	[SYS_TRWARM] = {
		.name = "timerring_warm",
		.flags = BE_BATCHED | BE_TIMERRING,
		.open = trb_open_warm,
		.submit = trb_submit_ioctl,
		TIMERRING_COMMON,
	},
	[SYS_SQCOLD] = {
		.name = "timerring_sq_cold",
		.flags = BE_BATCHED | BE_TIMERRING,
		.open = trb_open_sq_cold,
		.submit = trb_submit_sq,
		TIMERRING_COMMON,
	},
	[SYS_UR] = {
		.name = "io_uring",
		.err_key = "errors",
		.flags = BE_BATCHED | BE_SAMPLED | BE_CLOSE_ROW | BE_EXPIRY |
			 BE_CONN,
		.open = urb_open,
		.close = urb_close,
		.arm = urb_arm,
		.modify = urb_modify,
		.cancel = urb_cancel,
		.submit = urb_submit,
		.consume = urb_consume,
		.rec_extra = urb_rec_extra,
		.conn_per = urb_conn_per,
	},
	[SYS_TFD] = {
		.name = "timerfd",
		.flags = BE_EXPIRY | BE_CONN,
		.open = tfd_open,
		.close = tfd_close,
		.arm = tfd_arm,
		.modify = tfd_arm,	/* settime re-arms */
		.cancel = tfd_cancel,
		.submit = tfd_submit,
		.consume = tfd_consume,
		.rec_extra = tfd_rec_extra,
	},
};
