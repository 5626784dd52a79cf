// SPDX-License-Identifier: GPL-2.0
/*
 * Sharded instances (timerring_params.shards, "Shards" in the uapi
 * header): SETUP's shard count (0, N, AUTO, the VER1 struct, the limits,
 * EINVAL and CLAMP, resv2, SETUP_SQ) and the layout of the rings; every
 * expiration in the ring of its id's shard only, never early, consumed
 * with liburing's helpers too; random batches give the same results,
 * done, failed, CQEs and STATS on 1, 3 and 4 shards, also with
 * STOP_ON_ERROR; STOP_ON_ERROR stops in the order given across shards;
 * CANCEL_ALL in all shards; poll(), WAIT and its ready across rings; a
 * full ring holds back only its own shard and loses nothing; two threads
 * submitting to one instance against a model; the eventfd signalled from
 * shard 1, and ring 0's EVENTFD_DISABLED for all rings; parallel big
 * batches: the same results again (eq.parallel), the SETUP flags, a fault
 * part way, the learned break-even and the module parameter's override.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <liburing.h>

#include "kselftest_harness.h"
#include "common.h"
#include "timerring_liburing.h"

/*
 * Loop bodies with an EXPECT or ASSERT are braced: each of those macros is
 * two statements, the check and then the loop of its TH_LOG and bail.
 */
#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define SHARD_IDS	TIMERRING_SHARD_IDS

static void sh_params(struct timerring_params *p, __u32 shards, __u32 max,
		      __u32 cq)
{
	tr_default_params(p);
	p->shards = shards;
	p->max_timers = max;
	p->cq_entries = cq;
}

/* Id @j of the @blk-th block of 128 ids of shard @k of @n. */
static __u32 sh_id(unsigned int k, unsigned int n, unsigned int blk,
		   unsigned int j)
{
	return (blk * n + k) * SHARD_IDS + j;
}

/* A __u32 field at offset @off of the ring of shard @k. */
static unsigned int ring_u32(const struct timerring *tr, unsigned int k,
			     __u32 off)
{
	return __atomic_load_n((unsigned int *)((char *)tr->ring_ptr +
			       k * tr->params.cq_stride + off),
			       __ATOMIC_ACQUIRE);
}

static unsigned int ring_ready(struct timerring *tr, unsigned int k)
{
	return timerring_ring_ready(timerring_shard_cq(tr, k));
}

/*
 * Collect @want CQEs from all rings of @tr within @timeout_ns, noting in
 * @ring (if not NULL) the ring each came from; returns how many.
 */
static unsigned int sh_collect(struct timerring *tr, struct io_uring_cqe *out,
			       unsigned char *ring, unsigned int want,
			       uint64_t timeout_ns)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + timeout_ns, now;
	unsigned int got = 0, k, n, i;

	while (got < want) {
		for (k = 0; k < timerring_nr_shards(tr) && got < want; k++) {
			n = timerring_ring_copy(timerring_shard_cq(tr, k),
						out + got, want - got);
			for (i = 0; ring && i < n; i++)
				ring[got + i] = k;
			got += n;
		}
		if (got == want)
			break;
		now = now_ns(CLOCK_MONOTONIC);
		if (now >= end)
			break;
		timerring_wait(tr, 1, end - now);
	}
	return got;
}

/* xorshift64*: the same seed gives the same batches on every instance. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static unsigned int rnd_below(uint64_t *s, unsigned int n)
{
	return (rnd(s) >> 16) % n;
}

/* Case 1: SETUP of shards. */

TEST(setup)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct timerring_params p, q;
	struct timerring_stats st;
	struct timerring tr;
	__u64 size1, ring_bytes;
	unsigned int k, want;
	void *m;
	int fd;

	ASSERT_LT(0, ncpu);
	/* two shards: two complete rings, cq_stride apart */
	sh_params(&p, 2, 1024, 256);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(2, p.shards);
	EXPECT_EQ(0, p.resv2);
	EXPECT_TRUE(p.features & TIMERRING_FEAT_SHARDS);
	EXPECT_EQ(256, p.cq_entries);
	ring_bytes = p.cq_off.cqes + 256 * sizeof(struct io_uring_cqe);
	EXPECT_EQ(0, p.cq_stride % getpagesize());
	EXPECT_LE(ring_bytes, p.cq_stride);
	EXPECT_LE(p.cq_stride + ring_bytes, p.mmap_size);
	EXPECT_EQ(2, timerring_nr_shards(&tr));
	for (k = 0; k < 2; k++) {
		struct timerring_cq *cq = timerring_shard_cq(&tr, k);

		EXPECT_EQ(256, ring_u32(&tr, k, p.cq_off.ring_entries));
		EXPECT_EQ(255, ring_u32(&tr, k, p.cq_off.ring_mask));
		EXPECT_EQ(0, ring_u32(&tr, k, p.cq_off.head));
		EXPECT_EQ(0, ring_u32(&tr, k, p.cq_off.tail));
		EXPECT_EQ(0, ring_u32(&tr, k, p.cq_off.overflow));
		EXPECT_EQ(0, ring_u32(&tr, k, p.cq_off.kflags));
		EXPECT_EQ(0, ring_u32(&tr, k, p.cq_off.overflow_pending));
		EXPECT_EQ((char *)tr.ring_ptr + k * p.cq_stride +
			  p.cq_off.cqes, (char *)cq->cqes);
		/* the last CQE of every ring is inside the mapping */
		EXPECT_EQ(0, __atomic_load_n(&cq->cqes[255].user_data,
					     __ATOMIC_RELAXED));
	}
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(2, st.shards);
	/* no longer mapping than mmap_size */
	m = mmap(NULL, p.mmap_size + getpagesize(), PROT_READ, MAP_SHARED,
		 tr.fd, 0);
	EXPECT_EQ(MAP_FAILED, m);
	if (m != MAP_FAILED)
		munmap(m, p.mmap_size + getpagesize());
	timerring_close(&tr);

	/* 0 and 1 are one shard */
	sh_params(&p, 0, 1024, 256);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(1, p.shards);
	EXPECT_EQ(1, timerring_nr_shards(&tr));
	EXPECT_TRUE(p.features & TIMERRING_FEAT_SHARDS);
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(1, st.shards);
	size1 = p.mmap_size;
	timerring_close(&tr);
	sh_params(&p, 1, 1024, 256);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(1, p.shards);
	EXPECT_EQ(size1, p.mmap_size);
	timerring_close(&tr);

	/* a VER1 struct: shards, past its 184 bytes, is not read or written */
	TR_OPEN_DEV_OR_SKIP(fd);
	sh_params(&p, 4, 1024, 256);
	p.cq_stride = 0x5a5a;
	ASSERT_EQ(0, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_SETUP,
					       TIMERRING_PARAMS_SIZE_VER1),
			      &p));
	EXPECT_EQ(4, p.shards);
	EXPECT_EQ(0x5a5a, p.cq_stride);
	EXPECT_EQ(size1, p.mmap_size);
	ASSERT_EQ(0, tr_get_stats(fd, &st));
	EXPECT_EQ(1, st.shards);
	close(fd);

	/* AUTO: one per online CPU, at most 64 and one per 128 ids */
	want = ncpu < 8 ? ncpu : 8;
	sh_params(&p, TIMERRING_SHARDS_AUTO, 1024, 64);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(want, p.shards) TH_LOG("%ld CPUs online", ncpu);
	EXPECT_EQ(want, timerring_nr_shards(&tr));
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(want, st.shards);
	timerring_close(&tr);
	want = ncpu < 64 ? ncpu : 64;
	sh_params(&p, TIMERRING_SHARDS_AUTO, 1 << 16, 64);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(want, p.shards);
	timerring_close(&tr);
	sh_params(&p, TIMERRING_SHARDS_AUTO, 128, 64);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(1, p.shards);
	timerring_close(&tr);

	/* 65: EINVAL; a failed SETUP is retried on the same fd, clamped */
	TR_OPEN_DEV_OR_SKIP(fd);
	sh_params(&p, 65, 8192, 64);
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	sh_params(&p, 65, 8192, 64);
	p.flags = TIMERRING_SETUP_CLAMP;
	ASSERT_EQ(0, timerring_open_fd(&tr, fd, &p));
	EXPECT_EQ(64, p.shards);
	EXPECT_EQ(64, timerring_nr_shards(&tr));
	EXPECT_LE(63 * p.cq_stride + p.cq_off.cqes +
		  64 * sizeof(struct io_uring_cqe), p.mmap_size);
	for (k = 0; k < 64; k++) {
		EXPECT_EQ(64, ring_u32(&tr, k, p.cq_off.ring_entries));
		EXPECT_EQ(63, ring_u32(&tr, k, p.cq_off.ring_mask));
	}
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(64, st.shards);
	/* set up: a bad field is EINVAL, good ones EBUSY */
	sh_params(&q, 65, 8192, 64);
	EXPECT_EQ(-EINVAL, tr_ioctl(tr.fd, TIMERRING_IOC_SETUP, &q));
	sh_params(&q, 2, 1024, 64);
	EXPECT_EQ(-EBUSY, tr_ioctl(tr.fd, TIMERRING_IOC_SETUP, &q));
	EXPECT_EQ(0, tr_fires(&tr, 0));
	timerring_close(&tr);

	/* one shard per 128 ids: 256 ids are 2 shards at most, 257 are 3 */
	TR_OPEN_DEV_OR_SKIP(fd);
	sh_params(&p, 3, 256, 64);
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	/* resv2 set */
	sh_params(&p, 2, 1024, 64);
	p.resv2 = 1;
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	/* the SQ ring needs one shard; CLAMP does not make it one */
	sh_params(&p, 2, 1024, 64);
	p.flags = TIMERRING_SETUP_SQ;
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	p.flags |= TIMERRING_SETUP_CLAMP;
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	sh_params(&p, 3, 256, 64);
	p.flags = TIMERRING_SETUP_CLAMP;
	ASSERT_EQ(0, timerring_open_fd(&tr, fd, &p));
	EXPECT_EQ(2, p.shards);
	EXPECT_EQ(2, timerring_nr_shards(&tr));
	timerring_close(&tr);
	sh_params(&p, 3, 257, 64);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(3, p.shards);
	timerring_close(&tr);

	sh_params(&p, 1, 1024, 64);
	p.flags = TIMERRING_SETUP_SQ;
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(1, p.shards);
	EXPECT_TRUE(p.features & TIMERRING_FEAT_SQ);
	EXPECT_NE(0, p.sq_off.ops);
	timerring_close(&tr);
	/* AUTO with SETUP_SQ: one shard, whatever the CPUs */
	TR_OPEN_DEV_OR_SKIP(fd);
	sh_params(&p, TIMERRING_SHARDS_AUTO, 1024, 64);
	p.flags = TIMERRING_SETUP_SQ;
	EXPECT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	EXPECT_EQ(1, p.shards);
	close(fd);
}

/* An instance of four shards. */
FIXTURE(four) {
	struct timerring tr;
};

FIXTURE_SETUP(four)
{
	struct timerring_params p;

	self->tr.fd = -1;
	sh_params(&p, 4, 4096, 256);
	TR_OPEN_OR_SKIP(&self->tr, &p);
	ASSERT_EQ(4, timerring_nr_shards(&self->tr));
}

FIXTURE_TEARDOWN(four)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* An instance of two shards. */
FIXTURE(two) {
	struct timerring tr;
};

FIXTURE_SETUP(two)
{
	struct timerring_params p;

	self->tr.fd = -1;
	sh_params(&p, 2, 4096, 64);
	TR_OPEN_OR_SKIP(&self->tr, &p);
	ASSERT_EQ(2, timerring_nr_shards(&self->tr));
}

FIXTURE_TEARDOWN(two)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* Case 2: every CQE in the ring of its id's shard, never early. */
enum { RG_BLKS = 8, RG_PER = 3, RG_N = RG_BLKS * RG_PER };

struct rg_state {
	__u32 id[RG_N];
	uint64_t due[RG_N];
	unsigned char seen[RG_N];
	unsigned int per_ring[4], got;
};

static void rg_check(struct __test_metadata *_metadata, struct timerring *tr,
		     struct rg_state *s, const struct io_uring_cqe *cqe,
		     unsigned int k)
{
	uint64_t now = timerring_now(tr);
	__u64 i = cqe->user_data - 0x5000;

	ASSERT_LT(i, RG_N) TH_LOG("user_data %llx in ring %u",
				  (unsigned long long)cqe->user_data, k);
	EXPECT_EQ(s->id[i], cqe->res);
	EXPECT_EQ(k, TIMERRING_SHARD_OF((__u32)cqe->res, 4))
		TH_LOG("id %d in ring %u", cqe->res, k);
	EXPECT_LE(s->due[i], now) TH_LOG("id %d %llu ns early", cqe->res,
					 (unsigned long long)(s->due[i] - now));
	EXPECT_EQ(0, s->seen[i]) TH_LOG("id %d twice", cqe->res);
	s->seen[i]++;
	s->per_ring[k]++;
	s->got++;
}

TEST_F(four, rings)
{
	static const unsigned int js[RG_PER] = { 0, 61, 127 };
	struct timerring *tr = &self->tr;
	struct timerring_op ops[RG_N];
	struct io_uring_cqe buf[8];
	struct timerring_stats st;
	struct rg_state s;
	__s32 res[RG_N];
	uint64_t t0, end;
	unsigned int b, j, i, k, n, via_liburing = 0;

	memset(&s, 0, sizeof(s));
	t0 = timerring_now(tr);
	for (b = 0; b < RG_BLKS; b++) {
		for (j = 0; j < RG_PER; j++) {
			i = b * RG_PER + j;
			s.id[i] = b * SHARD_IDS + js[j];
			s.due[i] = t0 + (20 + (7 * i) % 23) * NSEC_PER_MSEC;
			timerring_op_arm(&ops[i], s.id[i], s.due[i],
					 TIMERRING_OPF_ABS, 0x5000 + i, 0);
		}
	}
	ASSERT_EQ(RG_N, timerring_submit(tr, ops, RG_N, res, 0, NULL, NULL));
	for (i = 0; i < RG_N; i++) {
		ASSERT_LE(0, res[i]);
	}

	end = now_ns(CLOCK_MONOTONIC) + WAIT_LONG_NS;
	while (s.got < RG_N && now_ns(CLOCK_MONOTONIC) < end) {
		for (k = 0; k < 4; k++) {
			if (k % 2 == 0) {
				/* rings 0 and 2 with liburing's helpers */
				struct io_uring ring;
				struct io_uring_cqe *cqe;

				timerring_fill_io_uring_cq_shard(tr, k, &ring);
				EXPECT_EQ(ring_ready(tr, k),
					  io_uring_cq_ready(&ring));
				while (!io_uring_peek_cqe(&ring, &cqe)) {
					rg_check(_metadata, tr, &s, cqe, k);
					io_uring_cqe_seen(&ring, cqe);
					via_liburing++;
				}
				continue;
			}
			n = timerring_ring_copy(timerring_shard_cq(tr, k),
						buf, 8);
			for (i = 0; i < n; i++)
				rg_check(_metadata, tr, &s, &buf[i], k);
		}
		if (s.got < RG_N)
			timerring_wait(tr, 1, 100 * NSEC_PER_MSEC);
	}
	ASSERT_EQ(RG_N, s.got);
	EXPECT_EQ(2 * RG_BLKS / 4 * RG_PER, via_liburing);
	for (k = 0; k < 4; k++) {
		EXPECT_EQ(RG_N / 4, s.per_ring[k]) TH_LOG("ring %u", k);
	}
	EXPECT_EQ(0, tr_settle(tr, 30 * NSEC_PER_MSEC));
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(RG_N, st.expired_total);
	EXPECT_EQ(0, st.armed_now);
	EXPECT_EQ(4, st.shards);
}

/*
 * Case 3: random batches to 1, 4 and 3 shards. Nothing fires during the
 * random phase (expiries 30-60 s ahead); then every id is modified to
 * fire in 20-27 ms, and the CQEs of all rings are compared as multisets.
 */
enum { EQ_IDS = 4096, EQ_BATCHES = 60, EQ_MAX_OPS = 700, EQ_INST = 3 };

static const unsigned int eq_shards[EQ_INST] = { 1, 4, 3 };

FIXTURE(eq) {
	struct timerring tr[EQ_INST];
};

FIXTURE_VARIANT(eq) {
	unsigned int flags;		/* TIMERRING_SUBMIT_* */
	unsigned int setup;		/* SETUP flags of the sharded ones */
	unsigned int max_ops;		/* of a random batch */
	unsigned int bad_pct;		/* invalid ops */
	unsigned int modify_pct;	/* MODIFYs, which never fail */
	bool one_bad;			/* and one failing op a batch */
	uint64_t seed;
};

FIXTURE_VARIANT_ADD(eq, mixed) {
	.flags = 0,
	.max_ops = EQ_MAX_OPS,
	.bad_pct = 10,
	.modify_pct = 28,
	.seed = 0x5eed5eed0001ULL,
};

/*
 * Every batch of more than one chunk on the sharded instances applied in
 * parallel ("Parallel big batches"), CANCEL_ALLs among them.
 */
FIXTURE_VARIANT_ADD(eq, parallel) {
	.flags = 0,
	.setup = TIMERRING_SETUP_PAR_ALWAYS,
	.max_ops = 3000,
	.bad_pct = 10,
	.modify_pct = 28,
	.seed = 0x5eed5eed0003ULL,
};

/*
 * MODIFYs and CANCEL_ALLs, which never fail, and one op that fails at a
 * random place (past the first chunk of 256 too), where the batch stops.
 */
FIXTURE_VARIANT_ADD(eq, stop_on_error) {
	.flags = TIMERRING_SUBMIT_STOP_ON_ERROR,
	.setup = TIMERRING_SETUP_PAR_ALWAYS,
	.max_ops = EQ_MAX_OPS,
	.bad_pct = 0,
	.modify_pct = 100,
	.one_bad = true,
	.seed = 0x5eed5eed0002ULL,
};

FIXTURE_SETUP(eq)
{
	struct timerring_params p;
	unsigned int i;

	for (i = 0; i < EQ_INST; i++)
		self->tr[i].fd = -1;
	for (i = 0; i < EQ_INST; i++) {
		sh_params(&p, eq_shards[i], EQ_IDS, EQ_IDS);
		if (eq_shards[i] > 1)
			p.flags |= variant->setup;
		TR_OPEN_OR_SKIP(&self->tr[i], &p);
		ASSERT_EQ(eq_shards[i], timerring_nr_shards(&self->tr[i]));
	}
}

FIXTURE_TEARDOWN(eq)
{
	unsigned int i;

	for (i = 0; i < EQ_INST; i++)
		if (self->tr[i].fd >= 0)
			timerring_close(&self->tr[i]);
}

/* An invalid op (EINVAL or ERANGE) of @id, else as given. */
static void eq_bad_op(uint64_t *s, struct timerring_op *op, __u32 id,
		      __u64 exp, __u8 fl, __u64 ud, __u64 ival)
{
	timerring_op_arm(op, id, exp, fl, ud, ival);
	switch (rnd_below(s, 10)) {
	case 0:
		op->opcode = TIMERRING_OP_LAST + rnd_below(s, 250);
		break;
	case 1:
		op->id = EQ_IDS + rnd_below(s, 1 << 20);
		break;
	case 2:
		op->id = rnd_below(s, 2) ? UINT32_MAX : EQ_IDS;
		op->opcode = TIMERRING_OP_MODIFY;
		break;
	case 3:
		timerring_op_cancel(op, EQ_IDS + rnd_below(s, 100));
		break;
	case 4:
		op->flags |= 0x80;
		break;
	case 5:
		op->resv = 1 + rnd_below(s, 100);
		break;
	case 6:
		timerring_op_cancel(op, id);
		op->user_data = ud | 1;
		break;
	case 7:
		/* a CANCEL_ALL with an id: an op of that id's shard */
		timerring_op_cancel_all(op);
		op->id = id | 1;
		break;
	case 8:
		op->interval = 1 + rnd_below(s, 1000);
		break;
	default:
		op->opcode = TIMERRING_OP_MODIFY;
		op->flags = 0x40;
		break;
	}
}

/* One random op; @abs is 40 s from now on CLOCK_MONOTONIC. */
static void eq_op(uint64_t *s, const FIXTURE_VARIANT(eq) *v,
		  struct timerring_op *op, __u64 abs)
{
	unsigned int r = rnd_below(s, 100);
	__u32 id = rnd_below(s, EQ_IDS);
	__u64 exp = 30 * NSEC_PER_SEC + rnd_below(s, 30000) * NSEC_PER_MSEC;
	__u64 ud = rnd(s);
	__u8 fl = rnd_below(s, 4) ? 0 : TIMERRING_OPF_SLACK;
	__u64 ival = rnd_below(s, 8) ? 0 : NSEC_PER_SEC;

	if (rnd_below(s, 8) == 0) {
		fl |= TIMERRING_OPF_ABS;
		exp = abs;
	}
	if (rnd_below(s, 300) == 0)
		timerring_op_cancel_all(op);
	else if (r < v->bad_pct)
		eq_bad_op(s, op, id, exp, fl, ud, ival);
	else if (r < v->bad_pct + v->modify_pct)
		timerring_op_modify(op, id, exp, fl, ud, ival);
	else if (rnd_below(s, 20) < 11)
		timerring_op_arm(op, id, exp, fl, ud, ival);
	else
		timerring_op_cancel(op, id);
}

/*
 * Op @pos of the batch fails: an invalid op, or the ARM of an id a MODIFY
 * before it armed (EEXIST, found under the shard lock).
 */
static void eq_one_bad(uint64_t *s, struct timerring_op *ops,
		       unsigned int pos)
{
	unsigned int k = pos ? rnd_below(s, pos) : 0;

	if (pos && rnd_below(s, 2) && ops[k].opcode == TIMERRING_OP_MODIFY) {
		timerring_op_arm(&ops[pos], ops[k].id, HOUR_NS, 0, 1, 0);
		return;
	}
	eq_bad_op(s, &ops[pos], rnd_below(s, EQ_IDS), HOUR_NS, 0, 2, 0);
}

static int cqe_cmp(const void *a, const void *b)
{
	const struct io_uring_cqe *x = a, *y = b;

	if (x->res != y->res)
		return x->res < y->res ? -1 : 1;
	if (x->user_data != y->user_data)
		return x->user_data < y->user_data ? -1 : 1;
	if (x->flags != y->flags)
		return x->flags < y->flags ? -1 : 1;
	return 0;
}

TEST_F_TIMEOUT(eq, same_as_one_shard, 120)
{
	struct timerring_op *ops = calloc(EQ_IDS, sizeof(*ops));
	__s32 (*res)[EQ_IDS] = calloc(EQ_INST, sizeof(*res));
	struct io_uring_cqe *cqe[EQ_INST];
	unsigned char *ring = calloc(EQ_IDS, 1);
	struct timerring_stats st[EQ_INST];
	uint64_t seed = variant->seed, t_start;
	unsigned int b, i, j, n, done[EQ_INST], failed[EQ_INST];
	unsigned int ops_done = 0, ops_failed = 0, stopped = 0, max_done = 0;
	int ret[EQ_INST];

	ASSERT_NE(NULL, ops);
	ASSERT_NE(NULL, res);
	ASSERT_NE(NULL, ring);
	for (j = 0; j < EQ_INST; j++) {
		cqe[j] = calloc(EQ_IDS + 8, sizeof(**cqe));
		ASSERT_NE(NULL, cqe[j]);
	}
	TH_LOG("seed %#llx", (unsigned long long)variant->seed);
	t_start = now_ns(CLOCK_MONOTONIC);
	for (b = 0; b < EQ_BATCHES; b++) {
		__u64 abs = now_ns(CLOCK_MONOTONIC) + 40 * NSEC_PER_SEC;

		n = 1 + rnd_below(&seed, variant->max_ops);
		for (i = 0; i < n; i++) {
			/* now and then the same op twice: EEXIST, ENOENT */
			if (i && rnd_below(&seed, 20) == 0)
				ops[i] = ops[i - 1];
			else
				eq_op(&seed, variant, &ops[i], abs);
		}
		if (variant->one_bad)
			eq_one_bad(&seed, ops, rnd_below(&seed, n));
		for (j = 0; j < EQ_INST; j++) {
			for (i = 0; i < n; i++)
				res[j][i] = INT32_MIN + 7;
			ret[j] = timerring_submit(&self->tr[j], ops, n, res[j],
						  variant->flags, &done[j],
						  &failed[j]);
		}
		ASSERT_LT(0, ret[0]) TH_LOG("batch %u", b);
		ops_done += done[0];
		ops_failed += failed[0];
		stopped += done[0] < n;
		if (done[0] < n && done[0] > max_done)
			max_done = done[0];
		for (j = 1; j < EQ_INST; j++) {
			ASSERT_EQ(ret[0], ret[j])
				TH_LOG("batch %u, %u shards", b, eq_shards[j]);
			ASSERT_EQ(done[0], done[j])
				TH_LOG("batch %u, %u shards", b, eq_shards[j]);
			ASSERT_EQ(failed[0], failed[j])
				TH_LOG("batch %u, %u shards", b, eq_shards[j]);
			for (i = 0; i < n; i++)
				if (res[0][i] != res[j][i])
					break;
			ASSERT_EQ(n, i)
				TH_LOG("batch %u op %u (opcode %u id %u): %d on 1 shard, %d on %u",
				       b, i, ops[i].opcode, ops[i].id,
				       res[0][i], res[j][i], eq_shards[j]);
		}
	}
	TH_LOG("%u ops applied, %u failed, %u batches stopped early, the latest after %u ops",
	       ops_done, ops_failed, stopped, max_done);
	EXPECT_LT(EQ_BATCHES / 4, ops_failed);
	/* with STOP_ON_ERROR, most stop, some past the first chunk */
	if (variant->flags & TIMERRING_SUBMIT_STOP_ON_ERROR) {
		EXPECT_LT(EQ_BATCHES / 2, stopped);
		EXPECT_LT(256, max_done);
	}
	/* the random phase took less than the 30 s of its nearest expiry */
	ASSERT_GT(t_start + 30 * NSEC_PER_SEC, now_ns(CLOCK_MONOTONIC));
	for (j = 0; j < EQ_INST; j++) {
		ASSERT_EQ(0, timerring_stats(&self->tr[j], &st[j]));
		EXPECT_EQ(0, st[j].expired_total);
		EXPECT_EQ(ops_failed, st[j].ops_failed);
	}

	/* every id fires in 20-27 ms */
	for (i = 0; i < EQ_IDS; i++)
		timerring_op_modify(&ops[i], i, (20 + i % 8) * NSEC_PER_MSEC,
				    0, 0xc0de0000ULL + i, 0);
	for (j = 0; j < EQ_INST; j++) {
		ret[j] = timerring_submit(&self->tr[j], ops, EQ_IDS, res[j],
					  variant->flags, &done[j],
					  &failed[j]);
		ASSERT_EQ(EQ_IDS, ret[j]);
		ASSERT_EQ(0, failed[j]);
		if (j) {
			ASSERT_EQ(0, memcmp(res[0], res[j], sizeof(res[0])));
		}
	}
	for (j = 0; j < EQ_INST; j++) {
		struct timerring *tr = &self->tr[j];

		ASSERT_EQ(EQ_IDS, sh_collect(tr, cqe[j], ring, EQ_IDS,
					     WAIT_LONG_NS))
			TH_LOG("%u shards", eq_shards[j]);
		for (i = 0; i < EQ_IDS; i++) {
			ASSERT_EQ(TIMERRING_SHARD_OF((__u32)cqe[j][i].res,
						     eq_shards[j]), ring[i])
				TH_LOG("id %d, %u shards", cqe[j][i].res,
				       eq_shards[j]);
		}
		EXPECT_EQ(0, tr_settle(tr, 20 * NSEC_PER_MSEC));
		qsort(cqe[j], EQ_IDS, sizeof(**cqe), cqe_cmp);
		for (i = 0; i < EQ_IDS; i++) {
			ASSERT_EQ(i, cqe[j][i].res);
			ASSERT_EQ(0xc0de0000ULL + i, cqe[j][i].user_data);
		}
		if (j) {
			for (i = 0; i < EQ_IDS; i++)
				if (cqe_cmp(&cqe[0][i], &cqe[j][i]))
					break;
			EXPECT_EQ(EQ_IDS, i)
				TH_LOG("id %u: flags %#x on 1 shard, %#x on %u",
				       i, cqe[0][i].flags, cqe[j][i].flags,
				       eq_shards[j]);
		}
		ASSERT_EQ(0, timerring_stats(tr, &st[j]));
		EXPECT_EQ(eq_shards[j], st[j].shards);
		EXPECT_EQ(0, st[j].armed_now);
		EXPECT_EQ(EQ_IDS, st[j].expired_total);
		EXPECT_EQ(ops_failed, st[j].ops_failed);
		if (!j)
			continue;
		EXPECT_EQ(st[0].armed_now, st[j].armed_now);
		EXPECT_EQ(st[0].armed_total, st[j].armed_total);
		EXPECT_EQ(st[0].modified_total, st[j].modified_total);
		EXPECT_EQ(st[0].cancelled_total, st[j].cancelled_total);
		EXPECT_EQ(st[0].expired_total, st[j].expired_total);
		EXPECT_EQ(st[0].ops_failed, st[j].ops_failed);
		EXPECT_EQ(st[0].batches, st[j].batches);
		/* STOP_ON_ERROR is never applied in parallel */
		if (variant->flags & TIMERRING_SUBMIT_STOP_ON_ERROR) {
			EXPECT_EQ(0, st[j].par_batches);
		} else if (variant->setup) {
			EXPECT_EQ(TIMERRING_PAR_ALWAYS, st[j].par_mode);
			if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
				EXPECT_LT(EQ_BATCHES / 4, st[j].par_batches);
			}
		}
	}
	TH_LOG("parallel batches %llu and %llu, segments stolen %llu and %llu",
	       (unsigned long long)st[1].par_batches,
	       (unsigned long long)st[2].par_batches,
	       (unsigned long long)st[1].par_stolen,
	       (unsigned long long)st[2].par_stolen);
	for (j = 0; j < EQ_INST; j++)
		free(cqe[j]);
	free(ring);
	free(res);
	free(ops);
}

/* Case 4: STOP_ON_ERROR applies the ops in the order given. */
TEST_F(two, stop_on_error_order)
{
	const __u32 a = sh_id(0, 2, 0, 1), b = sh_id(1, 2, 0, 1);
	const __u32 c = sh_id(0, 2, 0, 2), d = sh_id(1, 2, 1, 3);
	const __u32 e = sh_id(0, 2, 3, 4), f = sh_id(1, 2, 3, 5);
	struct timerring *tr = &self->tr;
	struct timerring_op ops[6];
	unsigned int done, failed, i;
	__s32 res[6];

	/* [ARM a (shard 0), ARM b bad flags (shard 1), ARM c (shard 0)] */
	timerring_op_arm(&ops[0], a, HOUR_NS, 0, 1, 0);
	timerring_op_arm(&ops[1], b, HOUR_NS, 0x80, 2, 0);
	timerring_op_arm(&ops[2], c, HOUR_NS, 0, 3, 0);
	for (i = 0; i < 3; i++)
		res[i] = 12345;
	EXPECT_EQ(2, timerring_submit(tr, ops, 3, res,
				      TIMERRING_SUBMIT_STOP_ON_ERROR, &done,
				      &failed));
	EXPECT_EQ(2, done);
	EXPECT_EQ(1, failed);
	EXPECT_LE(0, res[0]);
	EXPECT_EQ(-EINVAL, res[1]);
	EXPECT_EQ(12345, res[2]);
	EXPECT_EQ(-ENOENT, tr_cancel(tr, c));
	EXPECT_EQ(-ENOENT, tr_cancel(tr, b));
	EXPECT_EQ(0, tr_cancel(tr, a));

	/* a failure found under the shard lock (EEXIST) stops there too */
	ASSERT_LE(0, tr_arm(tr, b, HOUR_NS, 0, 9, 0));
	timerring_op_arm(&ops[1], b, HOUR_NS, 0, 2, 0);
	for (i = 0; i < 3; i++)
		res[i] = 12345;
	EXPECT_EQ(2, timerring_submit(tr, ops, 3, res,
				      TIMERRING_SUBMIT_STOP_ON_ERROR, &done,
				      &failed));
	EXPECT_EQ(-EEXIST, res[1]);
	EXPECT_EQ(12345, res[2]);
	EXPECT_EQ(-ENOENT, tr_cancel(tr, c));
	EXPECT_EQ(0, tr_cancel(tr, a));

	/* alternating shards, the fifth op fails: the sixth is not applied */
	timerring_op_arm(&ops[0], a, HOUR_NS, 0, 1, 0);
	timerring_op_arm(&ops[1], d, HOUR_NS, 0, 2, 0);
	timerring_op_arm(&ops[2], c, HOUR_NS, 0, 3, 0);
	timerring_op_modify(&ops[3], f, HOUR_NS, 0, 4, 0);
	timerring_op_cancel(&ops[4], f + 1);
	timerring_op_arm(&ops[5], e, HOUR_NS, 0, 6, 0);
	for (i = 0; i < 6; i++)
		res[i] = 12345;
	EXPECT_EQ(5, timerring_submit(tr, ops, 6, res,
				      TIMERRING_SUBMIT_STOP_ON_ERROR, &done,
				      &failed));
	EXPECT_EQ(1, failed);
	for (i = 0; i < 4; i++) {
		EXPECT_LE(0, res[i]) TH_LOG("op %u", i);
	}
	EXPECT_EQ(-ENOENT, res[4]);
	EXPECT_EQ(12345, res[5]);
	EXPECT_EQ(-ENOENT, tr_cancel(tr, e));
	EXPECT_EQ(5, tr_cancel_all(tr));	/* a, b, c, d, f */

	/*
	 * Without the flag every op is applied (shard 0's before shard 1's)
	 * and the results are in the order given:
	 * [ARM a, ARM d bad flags, ARM b armed, CANCEL c idle, CANCEL a]
	 */
	ASSERT_LE(0, tr_arm(tr, b, HOUR_NS, 0, 9, 0));
	timerring_op_arm(&ops[0], a, HOUR_NS, 0, 1, 0);
	timerring_op_arm(&ops[1], d, HOUR_NS, 0x80, 2, 0);
	timerring_op_arm(&ops[2], b, HOUR_NS, 0, 3, 0);
	timerring_op_cancel(&ops[3], c);
	timerring_op_cancel(&ops[4], a);
	EXPECT_EQ(5, timerring_submit(tr, ops, 5, res, 0, &done, &failed));
	EXPECT_EQ(3, failed);
	EXPECT_LE(0, res[0]);
	EXPECT_EQ(-EINVAL, res[1]);
	EXPECT_EQ(-EEXIST, res[2]);
	EXPECT_EQ(-ENOENT, res[3]);
	EXPECT_EQ(0, res[4]);
	EXPECT_EQ(1, tr_cancel_all(tr));	/* b */
}

/* Case 5: CANCEL_ALL cancels in every shard, at its place in the batch. */
TEST_F(four, cancel_all)
{
	enum { N = 1000 };
	struct timerring *tr = &self->tr;
	struct timerring_op *ops = calloc(N, sizeof(*ops));
	__s32 *res = calloc(N, sizeof(*res));
	const __u32 x = sh_id(1, 4, 7, 0), y = sh_id(2, 4, 7, 0);
	const __u32 z = sh_id(3, 4, 7, 0), w = sh_id(0, 4, 7, 0);
	unsigned int i, k, per[4] = { 0 };
	struct timerring_stats st;
	uint64_t t0;

	ASSERT_NE(NULL, ops);
	ASSERT_NE(NULL, res);
	/* ids i * 131 % 3584: all distinct, below the block of x, y, z, w */
	t0 = timerring_now(tr) + 500 * NSEC_PER_MSEC;
	for (i = 0; i < N; i++) {
		__u32 id = i * 131 % 3584;

		per[TIMERRING_SHARD_OF(id, 4)]++;
		timerring_op_arm(&ops[i], id, t0, TIMERRING_OPF_ABS, id,
				 i % 5 ? 0 : NSEC_PER_SEC);
	}
	for (k = 0; k < 4; k++) {
		ASSERT_LT(100, per[k]);
	}
	ASSERT_EQ(N, timerring_submit(tr, ops, N, res, 0, NULL, NULL));
	for (i = 0; i < N; i++) {
		ASSERT_LE(0, res[i]);
	}

	/* [ARM x (1), ARM y (2), ARM z (3), CANCEL_ALL, ARM w (0), ARM x] */
	timerring_op_arm(&ops[0], x, t0, TIMERRING_OPF_ABS, 1, 0);
	timerring_op_arm(&ops[1], y, t0, TIMERRING_OPF_ABS, 2, 0);
	timerring_op_arm(&ops[2], z, t0, TIMERRING_OPF_ABS, 3, 0);
	timerring_op_cancel_all(&ops[3]);
	timerring_op_arm(&ops[4], w, t0, TIMERRING_OPF_ABS, 4, 0);
	timerring_op_arm(&ops[5], x, t0, TIMERRING_OPF_ABS, 5, 0);
	ASSERT_EQ(6, timerring_submit(tr, ops, 6, res, 0, NULL, NULL));
	for (i = 0; i < 3; i++) {
		EXPECT_LE(0, res[i]);
	}
	EXPECT_EQ(N + 3, res[3]);
	EXPECT_LE(0, res[4]);
	EXPECT_LE(0, res[5]) TH_LOG("x still armed after CANCEL_ALL");
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(2, st.armed_now);
	EXPECT_EQ(2, tr_cancel_all(tr));
	EXPECT_EQ(0, tr_cancel_all(tr));

	/* past t0: no CQE in any ring */
	while (timerring_now(tr) < t0 + 100 * NSEC_PER_MSEC)
		sleep_ns(10 * NSEC_PER_MSEC);
	EXPECT_EQ(0, timerring_wait(tr, 0, 0));
	for (k = 0; k < 4; k++) {
		EXPECT_EQ(0, ring_ready(tr, k)) TH_LOG("ring %u", k);
	}
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(0, st.armed_now);
	EXPECT_EQ(0, st.expired_total);
	EXPECT_EQ(N + 5, st.armed_total);
	EXPECT_EQ(N + 5, st.cancelled_total);
	/* and the instance works on */
	EXPECT_EQ(0, tr_fires(tr, w));
	free(res);
	free(ops);
}

/* Case 6: poll() and WAIT count the CQEs of all rings. */
TEST_F(four, poll_wait)
{
	struct timerring *tr = &self->tr;
	struct pollfd pfd = { .fd = tr->fd, .events = POLLIN };
	struct timerring_op ops[4];
	struct io_uring_cqe buf[8];
	struct timerring_wait w;
	uint64_t t0;
	unsigned int i, k;

	/* three timers in shard 2 only */
	t0 = timerring_now(tr);
	for (i = 0; i < 3; i++)
		timerring_op_arm(&ops[i], sh_id(2, 4, i, 10 + i),
				 t0 + (150 + 20 * i) * NSEC_PER_MSEC,
				 TIMERRING_OPF_ABS, i, 0);
	ASSERT_EQ(3, timerring_submit(tr, ops, 3, NULL, 0, NULL, NULL));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	EXPECT_LE(t0 + 150 * NSEC_PER_MSEC, timerring_now(tr));
	EXPECT_LE(1, ring_ready(tr, 2));
	for (k = 0; k < 4; k++)
		if (k != 2) {
			EXPECT_EQ(0, ring_ready(tr, k)) TH_LOG("ring %u", k);
		}
	/* WAIT(3) returns when the three are in ring 2 */
	EXPECT_EQ(3, timerring_wait(tr, 3, WAIT_LONG_NS));
	EXPECT_LE(t0 + 190 * NSEC_PER_MSEC, timerring_now(tr));
	EXPECT_EQ(3, ring_ready(tr, 2));
	EXPECT_EQ(3, timerring_cq_ready(tr));
	EXPECT_EQ(3, timerring_ring_copy(timerring_shard_cq(tr, 2), buf, 8));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(sh_id(2, 4, buf[i].user_data, 10 + buf[i].user_data),
			  buf[i].res);
	}
	pfd.revents = 0;
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	/* two in ring 1, two in ring 3: WAIT(4) and ready count both */
	t0 = timerring_now(tr);
	for (i = 0; i < 4; i++)
		timerring_op_arm(&ops[i], sh_id(i < 2 ? 1 : 3, 4, i, 0),
				 t0 + (30 + 10 * i) * NSEC_PER_MSEC,
				 TIMERRING_OPF_ABS, i, 0);
	ASSERT_EQ(4, timerring_submit(tr, ops, 4, NULL, 0, NULL, NULL));
	EXPECT_EQ(4, timerring_wait(tr, 4, WAIT_LONG_NS));
	EXPECT_LE(t0 + 60 * NSEC_PER_MSEC, timerring_now(tr));
	EXPECT_EQ(2, ring_ready(tr, 1));
	EXPECT_EQ(2, ring_ready(tr, 3));
	EXPECT_EQ(4, timerring_wait(tr, 0, 0));
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	memset(&w, 0, sizeof(w));
	w.min_complete = 5;
	w.timeout_ns = 20 * NSEC_PER_MSEC;
	EXPECT_EQ(-ETIME, tr_ioctl(tr->fd, TIMERRING_IOC_WAIT, &w));
	EXPECT_EQ(4, w.ready);
	/* min_complete is at most cq_entries, whatever all rings hold */
	EXPECT_EQ(-EINVAL, timerring_wait(tr, tr->params.cq_entries + 1, 0));
	EXPECT_EQ(-ETIME, timerring_wait(tr, tr->params.cq_entries, 0));
	EXPECT_EQ(2, timerring_ring_copy(timerring_shard_cq(tr, 1), buf, 8));
	EXPECT_EQ(2, timerring_wait(tr, 0, 0));
	EXPECT_EQ(2, timerring_cq_copy(tr, buf, 8));
	pfd.revents = 0;
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, timerring_wait(tr, 0, 0));
}

/*
 * Case 7: 200 timers of shard 1 due at once into rings of 64: ring 1
 * fills and the rest waits on its overflow list, the other rings go on;
 * consuming ring 1 and WAIT deliver all 200, each once.
 */
TEST(full_ring)
{
	enum { N1 = 200, NO = 5, MORE = 3 };
	struct timerring_params p;
	struct timerring_op ops[N1 + 3 * NO];
	struct io_uring_cqe buf[64];
	struct timerring_stats st;
	struct timerring tr;
	const struct timerring_cq_offsets *o;
	unsigned char seen[2 * SHARD_IDS] = { 0 };
	unsigned int i, k, n, got = 0, other[4] = { 0 };
	uint64_t t0, end;

	sh_params(&p, 4, 4096, 64);
	TR_OPEN_OR_SKIP(&tr, &p);
	o = &tr.params.cq_off;
	ASSERT_EQ(64, tr.params.cq_entries);
	t0 = timerring_now(&tr) + 100 * NSEC_PER_MSEC;
	/* ids 128..227 and 640..739: blocks 0 and 1 of shard 1 */
	for (i = 0; i < N1; i++)
		timerring_op_arm(&ops[i], sh_id(1, 4, i / 100, i % 100), t0,
				 TIMERRING_OPF_ABS, i, 0);
	for (i = 0; i < 3 * NO; i++)
		timerring_op_arm(&ops[N1 + i], sh_id(i / NO ? i / NO + 1 : 0,
						     4, 0, i), t0,
				 TIMERRING_OPF_ABS, 1000 + i, 0);
	ASSERT_EQ(N1 + 3 * NO,
		  timerring_submit(&tr, ops, N1 + 3 * NO, NULL, 0, NULL, NULL));
	/* nothing consumes: wait for all 136 to be on the overflow list */
	end = now_ns(CLOCK_MONOTONIC) + WAIT_LONG_NS;
	while (ring_u32(&tr, 1, o->overflow_pending) < N1 - 64 &&
	       now_ns(CLOCK_MONOTONIC) < end)
		sleep_ns(10 * NSEC_PER_MSEC);
	sleep_ns(20 * NSEC_PER_MSEC);
	EXPECT_LE(t0, timerring_now(&tr));
	EXPECT_EQ(64, ring_ready(&tr, 1));
	EXPECT_EQ(N1 - 64, ring_u32(&tr, 1, o->overflow_pending));
	EXPECT_EQ(TIMERRING_KFLAG_CQ_OVERFLOW, ring_u32(&tr, 1, o->kflags));
	EXPECT_EQ(0, ring_u32(&tr, 1, o->overflow));
	for (k = 0; k < 4; k++) {
		if (k == 1)
			continue;
		EXPECT_EQ(NO, ring_ready(&tr, k)) TH_LOG("ring %u", k);
		EXPECT_EQ(0, ring_u32(&tr, k, o->kflags)) TH_LOG("ring %u", k);
		EXPECT_EQ(0, ring_u32(&tr, k, o->overflow_pending));
	}
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(N1 - 64, st.overflow_now);
	EXPECT_EQ(N1 - 64, st.overflowed_total);
	EXPECT_EQ(64 + 3 * NO, st.expired_total);

	/* shard 2 still posts while ring 1 is full */
	t0 = timerring_now(&tr);
	for (i = 0; i < MORE; i++)
		timerring_op_arm(&ops[i], sh_id(2, 4, 1, i), t0 +
				 10 * NSEC_PER_MSEC, TIMERRING_OPF_ABS,
				 2000 + i, 0);
	ASSERT_EQ(MORE, timerring_submit(&tr, ops, MORE, NULL, 0, NULL,
					 NULL));
	end = now_ns(CLOCK_MONOTONIC) + WAIT_LONG_NS;
	while (ring_ready(&tr, 2) < NO + MORE && now_ns(CLOCK_MONOTONIC) < end)
		sleep_ns(5 * NSEC_PER_MSEC);
	EXPECT_EQ(NO + MORE, ring_ready(&tr, 2));
	EXPECT_EQ(64, ring_ready(&tr, 1));
	EXPECT_EQ(64 + 3 * NO + MORE, timerring_wait(&tr, 64, 0));

	/* consume ring 1 in steps of 30; WAIT moves the rest in */
	end = now_ns(CLOCK_MONOTONIC) + WAIT_LONG_NS;
	while (got < N1 && now_ns(CLOCK_MONOTONIC) < end) {
		n = timerring_ring_copy(timerring_shard_cq(&tr, 1), buf, 30);
		for (i = 0; i < n; i++) {
			__u32 id = buf[i].res;

			ASSERT_EQ(1, TIMERRING_SHARD_OF(id, 4));
			ASSERT_LT(buf[i].user_data, N1);
			ASSERT_EQ(sh_id(1, 4, buf[i].user_data / 100,
					buf[i].user_data % 100), id);
			EXPECT_EQ(0, seen[buf[i].user_data])
				TH_LOG("id %u twice", id);
			seen[buf[i].user_data]++;
		}
		got += n;
		if (!n)
			sleep_ns(NSEC_PER_MSEC);
		timerring_wait(&tr, 0, 0);
	}
	EXPECT_EQ(N1, got);
	EXPECT_EQ(0, ring_ready(&tr, 1));
	EXPECT_EQ(0, ring_u32(&tr, 1, o->overflow_pending));
	EXPECT_EQ(0, ring_u32(&tr, 1, o->kflags));
	/* the other rings hold just their own */
	for (k = 0; k < 4; k++) {
		if (k == 1)
			continue;
		n = timerring_ring_copy(timerring_shard_cq(&tr, k), buf, 64);
		for (i = 0; i < n; i++) {
			EXPECT_EQ(k, TIMERRING_SHARD_OF((__u32)buf[i].res, 4));
			other[k]++;
		}
	}
	EXPECT_EQ(NO, other[0]);
	EXPECT_EQ(NO + MORE, other[2]);
	EXPECT_EQ(NO, other[3]);
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(0, st.overflow_now);
	EXPECT_EQ(N1 + 3 * NO + MORE, st.expired_total);
	EXPECT_EQ(0, st.armed_now);
	EXPECT_EQ(0, tr_settle(&tr, 20 * NSEC_PER_MSEC));
	timerring_close(&tr);
}

/*
 * Case 8: two threads submit batches of 256 random ARM/MODIFY/CANCEL ops
 * on their own ids (the low or the high 64 of every block of 128: both
 * shards) to one instance of two shards; each checks every result against
 * its model.
 */
enum { CS_BATCHES = 200, CS_OPS = 256, CS_BLKS = 32, CS_IDS = CS_BLKS * 128 };

struct cs_thread {
	pthread_t th;
	struct timerring *tr;
	pthread_barrier_t *go;
	unsigned int t;
	uint64_t seed;
	unsigned char armed[CS_IDS];
	unsigned int nr_armed, failed, bad;
	char why[160];
};

static void *cs_run(void *arg)
{
	struct cs_thread *c = arg;
	struct timerring_op ops[CS_OPS];
	__s32 res[CS_OPS];
	unsigned int b, i, done, failed, want_failed;
	int ret;

	pthread_barrier_wait(c->go);
	for (b = 0; b < CS_BATCHES && !c->bad; b++) {
		for (i = 0; i < CS_OPS; i++) {
			__u32 id = rnd_below(&c->seed, CS_BLKS) * SHARD_IDS +
				   c->t * 64 + rnd_below(&c->seed, 64);
			__u64 exp = HOUR_NS + rnd_below(&c->seed, 1 << 20) *
				    NSEC_PER_MSEC;

			switch (rnd_below(&c->seed, 3)) {
			case 0:
				timerring_op_arm(&ops[i], id, exp, 0, id, 0);
				break;
			case 1:
				timerring_op_modify(&ops[i], id, exp, 0, id,
						    0);
				break;
			default:
				timerring_op_cancel(&ops[i], id);
				break;
			}
		}
		ret = timerring_submit(c->tr, ops, CS_OPS, res, 0, &done,
				       &failed);
		if (ret != CS_OPS) {
			snprintf(c->why, sizeof(c->why),
				 "batch %u: submit %d, done %u", b, ret, done);
			c->bad++;
			break;
		}
		want_failed = 0;
		for (i = 0; i < CS_OPS && !c->bad; i++) {
			__u32 id = ops[i].id;
			bool was = c->armed[id], ok;

			switch (ops[i].opcode) {
			case TIMERRING_OP_ARM:
				ok = was ? res[i] == -EEXIST : res[i] >= 0;
				c->armed[id] = 1;
				want_failed += was;
				break;
			case TIMERRING_OP_MODIFY:
				ok = res[i] >= 0 &&
				     timerring_res_rearmed(res[i]) == was;
				c->armed[id] = 1;
				break;
			default:
				ok = res[i] == (was ? 0 : -ENOENT);
				c->armed[id] = 0;
				want_failed += !was;
				break;
			}
			c->nr_armed += (int)c->armed[id] - (int)was;
			if (!ok) {
				snprintf(c->why, sizeof(c->why),
					 "batch %u op %u: opcode %u id %u (shard %u) %s: %d",
					 b, i, ops[i].opcode, id,
					 TIMERRING_SHARD_OF(id, 2),
					 was ? "armed" : "idle", res[i]);
				c->bad++;
			}
		}
		if (!c->bad && failed != want_failed) {
			snprintf(c->why, sizeof(c->why),
				 "batch %u: failed %u, model %u", b, failed,
				 want_failed);
			c->bad++;
		}
		c->failed += want_failed;
	}
	return NULL;
}

TEST_F_TIMEOUT(two, concurrent_submitters, 120)
{
	struct cs_thread *c = calloc(2, sizeof(*c));
	struct timerring *tr = &self->tr;
	struct timerring_stats st;
	pthread_barrier_t go;
	unsigned int t;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(CS_IDS, tr->params.max_timers);
	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, 2));
	for (t = 0; t < 2; t++) {
		c[t].tr = tr;
		c[t].go = &go;
		c[t].t = t;
		c[t].seed = 0xc0ffee11ULL * (t + 1);
		ASSERT_EQ(0, pthread_create(&c[t].th, NULL, cs_run, &c[t]));
	}
	for (t = 0; t < 2; t++) {
		ASSERT_EQ(0, pthread_join(c[t].th, NULL));
		EXPECT_EQ(0, c[t].bad) TH_LOG("thread %u: %s", t, c[t].why);
	}
	pthread_barrier_destroy(&go);
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(c[0].nr_armed + c[1].nr_armed, st.armed_now);
	EXPECT_EQ(c[0].failed + c[1].failed, st.ops_failed);
	EXPECT_EQ(2 * CS_BATCHES, st.batches);
	EXPECT_EQ(0, st.expired_total);
	TH_LOG("armed %u + %u, failed %u + %u", c[0].nr_armed,
	       c[1].nr_armed, c[0].failed, c[1].failed);
	EXPECT_EQ(c[0].nr_armed + c[1].nr_armed, tr_cancel_all(tr));
	timerring_close(tr);
	free(c);
}

/* Case 9: a timer of shard 1 signals the eventfd. */
static int efd_wait(int efd, int ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return -1;
	return v > 0;
}

TEST_F(two, eventfd_shard1)
{
	struct timerring *tr = &self->tr;
	struct io_uring_cqe buf[4];
	unsigned int *uflags1;
	int efd;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, timerring_register_eventfd(tr, efd));
	memset(buf, 0, sizeof(buf));
	uflags1 = timerring_shard_cq(tr, 1)->uflags;

	ASSERT_LE(0, tr_arm(tr, 128, 20 * NSEC_PER_MSEC, 0, 1, 0));
	EXPECT_EQ(1, efd_wait(efd, 5000));
	EXPECT_EQ(1, ring_ready(tr, 1));
	EXPECT_EQ(0, ring_ready(tr, 0));

	/* ring 0's EVENTFD_DISABLED silences shard 1 too */
	timerring_cq_eventfd_toggle(tr, false);
	ASSERT_LE(0, tr_arm(tr, 129, 10 * NSEC_PER_MSEC, 0, 2, 0));
	EXPECT_EQ(2, timerring_wait(tr, 2, WAIT_LONG_NS));
	EXPECT_EQ(2, ring_ready(tr, 1));
	EXPECT_EQ(0, efd_wait(efd, 50));

	/* ring 1's flag is not the one that counts */
	timerring_cq_eventfd_toggle(tr, true);
	__atomic_store_n(uflags1, TIMERRING_CQ_F_EVENTFD_DISABLED,
			 __ATOMIC_RELAXED);
	ASSERT_LE(0, tr_arm(tr, 130, 10 * NSEC_PER_MSEC, 0, 3, 0));
	EXPECT_EQ(1, efd_wait(efd, 5000));
	EXPECT_EQ(3, timerring_wait(tr, 3, WAIT_LONG_NS));
	__atomic_store_n(uflags1, 0, __ATOMIC_RELAXED);
	EXPECT_EQ(3, timerring_ring_copy(timerring_shard_cq(tr, 1), buf, 4));
	EXPECT_EQ(128, buf[0].res);
	EXPECT_EQ(129, buf[1].res);
	EXPECT_EQ(130, buf[2].res);

	/* shard 0 as well */
	ASSERT_LE(0, tr_arm(tr, 5, 10 * NSEC_PER_MSEC, 0, 4, 0));
	EXPECT_EQ(1, efd_wait(efd, 5000));
	EXPECT_EQ(1, ring_ready(tr, 0));
	EXPECT_EQ(0, timerring_unregister_eventfd(tr));
	close(efd);
	timerring_close(tr);
}

/* Case 9: the parallel SETUP flags, NEVER over ALWAYS. */
TEST(par_flags)
{
	struct timerring_params p;
	struct timerring_stats st;
	struct timerring tr;

	/* both: NEVER wins */
	sh_params(&p, 2, 4096, 64);
	p.flags |= TIMERRING_SETUP_PAR_NEVER | TIMERRING_SETUP_PAR_ALWAYS;
	TR_OPEN_OR_SKIP(&tr, &p);
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(TIMERRING_PAR_NEVER, st.par_mode);
	timerring_close(&tr);
	sh_params(&p, 2, 4096, 64);
	p.flags |= TIMERRING_SETUP_PAR_NEVER;
	TR_OPEN_OR_SKIP(&tr, &p);
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(TIMERRING_PAR_NEVER, st.par_mode);
	EXPECT_EQ(TIMERRING_PAR_NONE, st.par_breakeven);
	timerring_close(&tr);
	/* one shard: nothing to do in parallel, whatever the flag */
	sh_params(&p, 1, 4096, 64);
	p.flags |= TIMERRING_SETUP_PAR_ALWAYS;
	TR_OPEN_OR_SKIP(&tr, &p);
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(TIMERRING_PAR_NEVER, st.par_mode);
	timerring_close(&tr);
}

/*
 * Case 10: a batch whose ops fault part way (a page of chunk PF_AT made
 * inaccessible) stops before that chunk, in parallel exactly as inline:
 * done, the results written and left, the timers armed.
 */
enum { PF_CHUNKS = 20, PF_AT = 12, PF_OPS = PF_CHUNKS * 256 };

TEST_F_TIMEOUT(two, par_fault, 60)
{
	size_t len = PF_OPS * sizeof(struct timerring_op);
	struct timerring_params p;
	struct timerring_stats st;
	struct timerring one, *tr[2] = { &one, &self->tr };
	struct timerring_op *ops;
	__s32 *res;
	unsigned int i, j, done, failed;
	long pg = sysconf(_SC_PAGESIZE);

	/* the fixture's instance, again with PAR_ALWAYS and more ids */
	timerring_close(&self->tr);
	self->tr.fd = -1;
	sh_params(&p, 2, 8192, 64);
	p.flags |= TIMERRING_SETUP_PAR_ALWAYS;
	TR_OPEN_OR_SKIP(&self->tr, &p);
	sh_params(&p, 1, 8192, 64);
	TR_OPEN_OR_SKIP(&one, &p);

	ops = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ops);
	res = calloc(PF_OPS, sizeof(*res));
	ASSERT_NE(NULL, res);
	for (i = 0; i < PF_OPS; i++)
		timerring_op_arm(&ops[i], i, HOUR_NS, 0, i, 0);
	/* a page inside chunk PF_AT */
	ASSERT_EQ(0, mprotect((char *)ops + ((PF_AT * 256 * 32 + 100) & ~(pg - 1)),
			      pg, PROT_NONE));
	for (j = 0; j < 2; j++) {
		for (i = 0; i < PF_OPS; i++)
			res[i] = INT32_MIN + 3;
		ASSERT_EQ(PF_AT * 256, timerring_submit(tr[j], ops, PF_OPS, res,
							0, &done, &failed))
			TH_LOG("%u shard(s)", j + 1);
		EXPECT_EQ(PF_AT * 256, done);
		EXPECT_EQ(0, failed);
		for (i = 0; i < PF_OPS; i++) {
			if (i < PF_AT * 256) {
				ASSERT_LE(0, res[i]) TH_LOG("op %u", i);
			} else {
				ASSERT_EQ(INT32_MIN + 3, res[i]) TH_LOG("op %u", i);
			}
		}
		ASSERT_EQ(0, timerring_stats(tr[j], &st));
		EXPECT_EQ(PF_AT * 256, st.armed_now);
		EXPECT_EQ(PF_AT * 256, st.armed_total);
		EXPECT_EQ(1, st.batches);
		if (j && sysconf(_SC_NPROCESSORS_ONLN) > 1) {
			EXPECT_EQ(1, st.par_batches);
		}
	}
	/* the first chunk faults: nothing processed, EFAULT, in both ways */
	for (j = 0; j < 2; j++) {
		ASSERT_EQ(-EFAULT, timerring_submit(tr[j], ops + PF_AT * 256,
						    PF_OPS - PF_AT * 256, res, 0,
						    &done, &failed));
		ASSERT_EQ(0, timerring_stats(tr[j], &st));
		EXPECT_EQ(PF_AT * 256, st.armed_now);
	}
	munmap(ops, len);
	free(res);
	timerring_close(&one);
}

#define PAR_PARAM	"/sys/module/timerring/parameters/parallel"

static int par_param(const char *v)
{
	FILE *f = fopen(PAR_PARAM, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(v, f) < 0 ? -1 : 0;
	return fclose(f) || ret ? -1 : 0;
}

/* MODIFYs of @n random ids of the fixture's 4096 an hour ahead. */
static int par_batch(struct timerring *tr, uint64_t *seed, unsigned int n)
{
	static struct timerring_op ops[4096];
	unsigned int i, done, failed;

	for (i = 0; i < n; i++)
		timerring_op_modify(&ops[i], rnd_below(seed, 4096), HOUR_NS, 0,
				    i, 0);
	return timerring_submit(tr, ops, n, NULL, 0, &done, &failed);
}

/*
 * Case 11: learned, both ways are measured and a break-even follows from
 * them; the module parameter overrides it: -1 never, N from N ops.
 */
TEST_F_TIMEOUT(two, par_learned, 120)
{
	struct timerring_stats st;
	uint64_t seed = 0x7a11;
	__u64 before;
	unsigned int i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: every batch is inline");
	if (access(PAR_PARAM, W_OK))
		SKIP(return, "no writable %s", PAR_PARAM);
	ASSERT_EQ(0, par_param("0"));
	for (i = 0; i < 40; i++)
		ASSERT_EQ(2048, par_batch(&self->tr, &seed, 2048));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st));
	TH_LOG("inline %llu ps/op, parallel %llu ps/op + %llu ns, break-even %u, %llu of 40 in parallel, %llu stolen",
	       (unsigned long long)st.par_inline_ps,
	       (unsigned long long)st.par_ps,
	       (unsigned long long)st.par_fixed_ns, st.par_breakeven,
	       (unsigned long long)st.par_batches,
	       (unsigned long long)st.par_stolen);
	EXPECT_EQ(TIMERRING_PAR_LEARNED, st.par_mode);
	EXPECT_LT(0, st.par_inline_ps);
	EXPECT_LT(0, st.par_ps);
	/* the second batch, then one in 16 at least either way */
	EXPECT_LE(3, st.par_batches);
	EXPECT_GE(40 - 2, st.par_batches);
	EXPECT_LT(256, st.par_breakeven);

	ASSERT_EQ(0, par_param("-1"));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st));
	EXPECT_EQ(TIMERRING_PAR_NEVER, st.par_mode);
	EXPECT_EQ(TIMERRING_PAR_NONE, st.par_breakeven);
	before = st.par_batches;
	for (i = 0; i < 20; i++)
		ASSERT_EQ(2048, par_batch(&self->tr, &seed, 2048));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st));
	EXPECT_EQ(before, st.par_batches);

	ASSERT_EQ(0, par_param("1000"));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st));
	EXPECT_EQ(TIMERRING_PAR_FIXED, st.par_mode);
	EXPECT_EQ(1000, st.par_breakeven);
	ASSERT_EQ(999, par_batch(&self->tr, &seed, 999));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st));
	EXPECT_EQ(before, st.par_batches);
	ASSERT_EQ(1000, par_batch(&self->tr, &seed, 1000));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st));
	EXPECT_EQ(before + 1, st.par_batches);
	ASSERT_EQ(0, par_param("0"));
}

TEST_HARNESS_MAIN
