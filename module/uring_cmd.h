/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring over io_uring (uring_cmd.c): IORING_OP_URING_CMD submits a
 * batch.
 */
#ifndef _TIMERRING_URING_CMD_H
#define _TIMERRING_URING_CMD_H

struct io_uring_cmd;

/*
 * f_op->uring_cmd: completes the command (CQE res: ops processed or
 * -errno) and returns -EIOCBQUEUED, or returns -EAGAIN having applied
 * nothing.
 */
int tr_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);

#endif /* _TIMERRING_URING_CMD_H */
