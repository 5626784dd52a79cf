// SPDX-License-Identifier: GPL-2.0
/*
 * timerring over io_uring: IORING_OP_URING_CMD on a timerring fd submits a
 * batch (f_op->uring_cmd), as drivers/nvme/host/ioctl.c passes NVMe
 * commands through. The batch itself is submit.c's tr_submit_batch(), the
 * one TIMERRING_IOC_SUBMIT runs: this file reads the command, finds the
 * ops and the results (user memory or a registered buffer), and turns the
 * outcome into the CQE's res.
 *
 * Reading the SQE. On the first issue io_uring hands the driver the SQE
 * in the shared SQ ring, which userspace may be writing. struct
 * timerring_uring_cmd (16 bytes) and the 64 reserved bytes of an SQE128
 * are read there once, each field with READ_ONCE(), into a copy, which is
 * validated and is then the only one used. A command that returns -EAGAIN
 * keeps that copy in its pdu for the retry from io-wq: io_uring 6.12
 * copies the SQE on -EAGAIN but retries from the SQ ring (6.1 retries
 * from its copy), and by then userspace may have reused the slot. The
 * pdu is not cleared between requests, so whether it holds our copy is
 * a bit of io_uring_cmd.flags, which io_uring sets from the SQE at every
 * prep (TR_UCMD_F_SAVED, compat.h). cmd_op and uring_cmd_flags were copied
 * by io_uring at prep.
 *
 * Blocking. The inline issue (IO_URING_F_NONBLOCK) must not sleep. The
 * batch then runs with tr_batch_io.nonblock (trylock, no allocation, ops
 * copied with page faults disabled: submit.c), and results in user memory
 * are written through their pages, taken with get_user_pages_fast_only(),
 * which never faults. Where that is not enough (the lock taken, a page or
 * table chunk missing, a CANCEL_ALL) nothing is applied, and the command
 * runs again, blocking, from the submitter's task work, on its way out of
 * io_uring_enter() (io_uring_cmd_complete_in_task()): no thread switch,
 * as SUBMIT would have run it. Under TCG an io-wq worker cost a batch of
 * 1024 arms in a fresh instance 4x the ioctl's time. A batch of more than
 * 256 ops (never inline) goes to an io-wq worker instead (-EAGAIN), which
 * runs it on another CPU while the submitter goes on.
 *
 * Completion. A command completes before this returns (or before its
 * task work does), with
 * io_uring_cmd_done() (res: ops processed or -errno; res2, in a CQE32
 * ring: ops failed) and -EIOCBQUEUED, as ublk does: 6.1's io_uring drops
 * a positive return value of a command issued from io-wq, where 6.12's
 * posts it. So nothing of a command stays here: a ring torn down with
 * commands in flight waits for issues in progress, which take at most one
 * batch's time (SUBMIT's bounds: 256-op chunks, a fatal signal ends the
 * batch between them and the wait for the submit lock), and the request
 * holds a reference to the file, so the instance outlives them.
 */
#include <linux/bvec.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "compat.h"
#include "instance.h"
#include "sqpoll.h"
#include "submit.h"
#include "uring_cmd.h"

/* The command area: 16 bytes of a 64-byte SQE, 80 of an SQE128. */
#define TR_UCMD_AREA		(sizeof(struct io_uring_sqe) - \
				 offsetof(struct io_uring_sqe, cmd))
#define TR_UCMD_AREA128		(TR_UCMD_AREA + sizeof(struct io_uring_sqe))

static_assert(sizeof(struct timerring_uring_cmd) == TIMERRING_URING_CMD_SIZE);
static_assert(TIMERRING_URING_CMD_SIZE == TR_UCMD_AREA);

/* The results of an inline batch (at most 256 ops) span at most 2 pages. */
#define TR_UCMD_RES_PAGES	2
static_assert(TR_BATCH_CHUNK * sizeof(s32) <= PAGE_SIZE);

/* What a command keeps between an -EAGAIN and its retry. */
struct tr_ucmd_pdu {
	struct timerring_uring_cmd c;
};

static_assert(sizeof(struct tr_ucmd_pdu) <=
	      sizeof_field(struct io_uring_cmd, pdu));

static struct tr_ucmd_pdu *tr_ucmd_pdu(struct io_uring_cmd *ioucmd)
{
	return (struct tr_ucmd_pdu *)ioucmd->pdu;
}

/*
 * The command: from the SQE, each byte read once, on the first issue; from
 * the pdu on a retry. Checked either way.
 */
static int tr_ucmd_get(struct io_uring_cmd *ioucmd, unsigned int issue_flags,
		       struct timerring_uring_cmd *c)
{
	const struct timerring_uring_cmd *uc = tr_uring_cmd_area(ioucmd);
	const u64 *tail = (const u64 *)(uc + 1);
	unsigned int i;

	if (ioucmd->flags & TR_UCMD_F_SAVED) {
		*c = tr_ucmd_pdu(ioucmd)->c;
	} else {
		c->addr = READ_ONCE(uc->addr);
		c->nr = READ_ONCE(uc->nr);
		c->flags = READ_ONCE(uc->flags);
		if (issue_flags & IO_URING_F_SQE128)
			for (i = 0; i < (TR_UCMD_AREA128 - TR_UCMD_AREA) / 8;
			     i++)
				if (READ_ONCE(tail[i]))
					return -EINVAL;
	}
	if (c->flags & ~TIMERRING_URING_ALL || c->nr > TIMERRING_BATCH_MAX)
		return -EINVAL;
	return 0;
}

/* Keep the command for the retry that -EAGAIN asks io_uring for. */
static void tr_ucmd_save(struct io_uring_cmd *ioucmd,
			 const struct timerring_uring_cmd *c)
{
	tr_ucmd_pdu(ioucmd)->c = *c;
	ioucmd->flags |= TR_UCMD_F_SAVED;
}

/* The results of an inline batch: their pages, held while it runs. */
struct tr_ucmd_pages {
	struct page *page[TR_UCMD_RES_PAGES];
	struct bio_vec bv[TR_UCMD_RES_PAGES];
	int nr;
};

static void tr_ucmd_put_pages(struct tr_ucmd_pages *pg, bool written)
{
	int i;

	for (i = 0; i < pg->nr; i++) {
		/* anonymous: no page lock needed to dirty it */
		if (written)
			set_page_dirty(pg->page[i]);
		put_page(pg->page[i]);
	}
	pg->nr = 0;
}

/*
 * Take the @len (at most 1 KiB) bytes of results at @p as they are mapped
 * now, without faulting anything in: their anonymous pages, mapped
 * writable, held until tr_ucmd_put_pages(), and an iterator over them.
 * Writing the results once the ops are applied then cannot fault, as a
 * write through the mapping with page faults disabled could (NUMA hinting,
 * reclaim, another thread). 0, -EFAULT (not a user address) or -EAGAIN
 * (not mapped so: the blocking issue faults them in).
 */
static int tr_ucmd_get_pages(void __user *p, size_t len,
			     struct tr_ucmd_pages *pg, struct iov_iter *iter)
{
	unsigned long start = untagged_addr((unsigned long)p);
	unsigned long first = start & PAGE_MASK;
	size_t off = start - first, left = len;
	int nr, got, i;

	if (!access_ok(p, len))
		return -EFAULT;
	nr = DIV_ROUND_UP(off + len, PAGE_SIZE);
	if (WARN_ON_ONCE(nr > TR_UCMD_RES_PAGES))
		return -EAGAIN;
	got = get_user_pages_fast_only(first, nr, FOLL_WRITE, pg->page);
	pg->nr = max(got, 0);
	for (i = 0; i < pg->nr; i++)
		if (!PageAnon(pg->page[i]))
			break;
	if (pg->nr != nr || i != nr) {
		tr_ucmd_put_pages(pg, false);
		return -EAGAIN;
	}
	for (i = 0; i < nr; i++) {
		size_t n = min_t(size_t, left, PAGE_SIZE - off);

		bvec_set_page(&pg->bv[i], pg->page[i], n, off);
		left -= n;
		off = 0;
	}
	iov_iter_bvec(iter, ITER_DEST, pg->bv, nr, len);
	return 0;
}

/* The batch in a registered buffer: iterators over its pages. */
static int tr_ucmd_import_fixed(struct io_uring_cmd *ioucmd, u64 addr,
				size_t ops_len, size_t res_len,
				struct tr_batch_io *io)
{
	int ret;

	ret = io_uring_cmd_import_fixed(addr, ops_len, ITER_SOURCE,
					io->ops_iter, ioucmd);
	if (ret || !res_len) {
		io->res_iter = NULL;
		return ret;
	}
	return io_uring_cmd_import_fixed(addr + ops_len, res_len, ITER_DEST,
					 io->res_iter, ioucmd);
}

/* The checked command @c: find its ops and results, run the batch. */
static int tr_ucmd_submit(struct io_uring_cmd *ioucmd,
			  const struct timerring_uring_cmd *c, bool nonblock,
			  u32 *failed)
{
	struct tr_instance *inst = ioucmd->file->private_data;
	size_t ops_len = (size_t)c->nr * sizeof(struct timerring_op);
	size_t res_len = c->flags & TIMERRING_URING_RESULTS ?
			 (size_t)c->nr * sizeof(s32) : 0;
	struct iov_iter ops_iter, res_iter;
	struct tr_ucmd_pages pg = { };
	void __user *ures;
	struct tr_batch_io io = {
		.nr = c->nr,
		.flags = c->flags & TIMERRING_SUBMIT_ALL,
		.nonblock = nonblock,
	};
	int ret = 0;

	if (c->addr + ops_len + res_len < c->addr)
		return -EFAULT;
	if (nonblock && c->nr > TR_BATCH_CHUNK)
		return -EAGAIN;
	if (!c->nr) {
		/* nothing to read or write: a batch of 0 ops, as SUBMIT's */
	} else if (ioucmd->flags & IORING_URING_CMD_FIXED) {
		io.ops_iter = &ops_iter;
		io.res_iter = &res_iter;
		ret = tr_ucmd_import_fixed(ioucmd, c->addr, ops_len, res_len,
					   &io);
	} else {
		io.uops = u64_to_user_ptr(c->addr);
		ures = u64_to_user_ptr(c->addr + ops_len);
		if (!res_len) {
			/* no results */
		} else if (nonblock) {
			io.res_iter = &res_iter;
			ret = tr_ucmd_get_pages(ures, res_len, &pg, &res_iter);
		} else {
			io.ures = ures;
			ret = tr_probe_writable(ures, res_len);
		}
	}
	if (ret)
		return ret;

	ret = tr_submit_batch(inst, &io);
	tr_ucmd_put_pages(&pg, io.done);
	if (ret)
		return ret;
	if (io.lost)
		return io.lost;
	*failed = io.failed;
	return io.done;
}

/*
 * The SQ ring's doorbell: its command area must be zero. Read once, on
 * the first issue; a retry from io-wq has nothing more to read.
 */
static int tr_ucmd_sq_enter(struct io_uring_cmd *ioucmd,
			    unsigned int issue_flags)
{
	struct tr_instance *inst = ioucmd->file->private_data;
	const u64 *area = tr_uring_cmd_area(ioucmd);
	size_t len = issue_flags & IO_URING_F_SQE128 ? TR_UCMD_AREA128 :
		     TR_UCMD_AREA;
	unsigned int i;

	if (ioucmd->flags & IORING_URING_CMD_FIXED)
		return -EINVAL;
	if (!(ioucmd->flags & TR_UCMD_F_SAVED))
		for (i = 0; i < len / 8; i++)
			if (READ_ONCE(area[i]))
				return -EINVAL;
	return tr_sq_enter(inst, issue_flags & IO_URING_F_NONBLOCK);
}

/*
 * The command, run again blocking from the submitter's task work, after
 * its inline issue would have had to sleep. Its checked copy is in the
 * pdu. A task that is going (or a kernel thread running the work for it)
 * gets -ECANCELED: it has no user memory to read.
 */
static void tr_ucmd_task_fn(struct io_uring_cmd *ioucmd,
			    unsigned int issue_flags)
{
	struct timerring_uring_cmd c = tr_ucmd_pdu(ioucmd)->c;
	u32 failed = 0;
	int ret;

	if (current->flags & (PF_EXITING | PF_KTHREAD))
		ret = -ECANCELED;
	else if (ioucmd->cmd_op == TIMERRING_URING_CMD_SQ_ENTER)
		ret = tr_sq_enter(ioucmd->file->private_data, false);
	else
		ret = tr_ucmd_submit(ioucmd, &c, false, &failed);
	tr_uring_cmd_done(ioucmd, ret, failed, issue_flags);
}

TR_UCMD_TASK_WORK(tr_ucmd_task_work, tr_ucmd_task_fn)

int tr_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	struct tr_instance *inst = ioucmd->file->private_data;
	bool nonblock = issue_flags & IO_URING_F_NONBLOCK;
	struct timerring_uring_cmd c = { };
	u32 failed = 0;
	int ret;

	switch (ioucmd->cmd_op) {
	case TIMERRING_URING_CMD_SUBMIT:
		ret = tr_ready(inst) ? tr_ucmd_get(ioucmd, issue_flags, &c) :
		      -EINVAL;
		if (!ret)
			ret = tr_ucmd_submit(ioucmd, &c, nonblock, &failed);
		break;
	case TIMERRING_URING_CMD_SQ_ENTER:
		ret = tr_ready(inst) ? tr_ucmd_sq_enter(ioucmd, issue_flags) :
		      -EINVAL;
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	if (ret == -EAGAIN) {
		tr_ucmd_save(ioucmd, &c);
		/* the biggest batches go to io-wq, on another CPU */
		if (c.nr > TR_BATCH_CHUNK)
			return ret;
		io_uring_cmd_complete_in_task(ioucmd, tr_ucmd_task_work);
		return -EIOCBQUEUED;
	}
	tr_uring_cmd_done(ioucmd, ret, failed, issue_flags);
	return -EIOCBQUEUED;
}
