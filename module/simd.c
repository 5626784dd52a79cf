// SPDX-License-Identifier: GPL-2.0
/*
 * timerring batch kernel selection, the way lib/raid6 and lib/crc32 pick
 * theirs.
 *
 * Two phases use the kernels, and each gets its own choice: prep (a
 * submitted chunk of up to 256 ops, in process context) and drain (a step
 * of up to 64 wheel entries on the expiry path, wheel.c: scan_due, place
 * and cqe_fill, usually in soft-IRQ context).
 *
 * At load, the CPU's features say which implementations can run (scalar
 * always; AVX2 on x86-64 with AVX2, POPCNT and YMM state enabled; AVX-512
 * with AVX-512F/VL/CD and its state enabled). Each of them is then timed
 * per phase on synthetic work at sizes from 4 to 256 ops (prep) and 1 to
 * 64 entries (drain), FPU section included, a few ms in all: the fastest
 * at the full size is chosen (a wider one only if at least 10% faster),
 * and its break-even size is the smallest calibrated size from which it
 * beats scalar at every larger size; smaller batches run scalar, since
 * kernel_fpu_begin()/end() cost more than they save there. Where no SIMD
 * version beats scalar, scalar is kept for that phase. Before that, each
 * SIMD version must pass a self-test against the scalar results, or it is
 * not used at all.
 *
 * The module parameter impl (auto, scalar, avx2, avx512; writable at
 * runtime) forces one implementation for both phases and every size;
 * forcing one the CPU lacks fails (at load: a warning, and auto). The
 * choice is applied through static keys, logged, traced
 * (timerring_impl_select, once per phase) and shown with the calibration
 * figures in debugfs timerring/simd.
 */
#include <linux/dcache.h>
#include <linux/debugfs.h>
#include <linux/jump_label.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "instance.h"
#include "simd_run.h"
#include "trace.h"

#define TR_NR_IMPLS	3
#define TR_IMPL_AUTO	U32_MAX
#define TR_NEVER	U32_MAX

static const struct tr_batch_impl *const tr_impls[TR_NR_IMPLS] = {
	[TIMERRING_IMPL_SCALAR] = &tr_batch_scalar,
#ifdef CONFIG_X86_64
	[TIMERRING_IMPL_AVX2] = &tr_batch_avx2,
	[TIMERRING_IMPL_AVX512] = &tr_batch_avx512,
#endif
};

enum { TR_PH_PREP, TR_PH_DRAIN, TR_NR_PH };

static const char *const tr_ph_name[TR_NR_PH] = { "prep", "drain" };

/* Static keys per phase: [phase][0] avx2, [phase][1] avx512. */
static struct static_key_false tr_use_simd[TR_NR_PH][2] = {
	{ STATIC_KEY_FALSE_INIT, STATIC_KEY_FALSE_INIT },
	{ STATIC_KEY_FALSE_INIT, STATIC_KEY_FALSE_INIT },
};

static DEFINE_MUTEX(tr_simd_mutex);

/* Under tr_simd_mutex, except the lockless reads said so. */
static u32 tr_impl_mode = TR_IMPL_AUTO;	/* auto, or the forced one */
static u32 tr_impl_cur[TR_NR_PH];	/* read locklessly */
static u32 tr_break_even[TR_NR_PH];	/* read locklessly */
static bool tr_cpu_has[TR_NR_IMPLS];
static bool tr_detected, tr_simd_ready;
static bool tr_selftest_failed[TR_NR_IMPLS];

/* Calibration: ps per op (entry) of each implementation at each size. */
#define TR_CAL_SIZES	7
#define TR_CAL_FULL	(TR_CAL_SIZES - 1)
static const u32 tr_cal_sizes[TR_NR_PH][TR_CAL_SIZES] = {
	{ 4, 8, 16, 32, 64, 128, TR_BATCH_CHUNK },
	{ 1, 2, 4, 8, 16, 32, TR_DRAIN_BATCH },
};

static u64 tr_cal_ps[TR_NR_PH][TR_NR_IMPLS][TR_CAL_SIZES];
static u32 tr_cal_break_even[TR_NR_PH][TR_NR_IMPLS];

static void tr_simd_detect(void)
{
	u32 impl;

	if (tr_detected)
		return;
	tr_detected = true;
	for (impl = 0; impl < TR_NR_IMPLS; impl++)
		tr_cpu_has[impl] = tr_simd_cpu_has(impl);
}

/*
 * Load-time self-test, as crypto algorithms get: each SIMD implementation
 * must give the scalar results on a few random and edge-case chunks, or
 * it is not used (a CPU, hypervisor or emulator that gets a vector
 * instruction wrong must not corrupt timers). Deterministic inputs.
 */
#include "simd_gen.h"

struct tr_st_buf {
	struct tr_prep_out want, got;
	struct timerring_op ops[TR_BATCH_CHUNK];
	u64 exp[TR_BATCH_CHUNK];
	u16 w1[TR_BATCH_CHUNK], w2[TR_BATCH_CHUNK];
	u32 i1[TR_BATCH_CHUNK], i2[TR_BATCH_CHUNK];
	struct tr_cqe c1[64], c2[64];
	u32 id[64], fl[64];
	u64 ud[64];
};

static bool tr_st_prep(const struct tr_batch_impl *im, struct tr_st_buf *b,
		       u32 round)
{
	u32 n = TR_BATCH_CHUNK - round * 3, i;
	struct tr_prep p;

	gen_prep(&p);
	for (i = 0; i < n; i++) {
		if (round & 1)
			gen_op(&p, &b->ops[i]);
		else
			gen_edge_op(&p, round * TR_BATCH_CHUNK + i, &b->ops[i]);
	}
	memset(&b->want, 0, sizeof(b->want));
	memset(&b->got, 0, sizeof(b->got));
	tr_prep_ref(&p, b->ops, n, &b->want);
	tr_simd_run_prep(im, &p, b->ops, n, &b->got);
	return !memcmp(&b->want, &b->got, sizeof(b->got));
}

static bool tr_st_kernels(const struct tr_batch_impl *im, struct tr_st_buf *b,
			  u32 round)
{
	u32 n = TR_BATCH_CHUNK - round * 3, c1, c2 = 0, i;
	u64 el = edge_el(), now = el + rnd_below(3) - 1;
	u32 tail = rnd();

	for (i = 0; i < n; i++)
		b->exp[i] = edge_tick(el);
	for (i = 0; i < 64; i++) {
		b->id[i] = rnd_below(1U << 30);
		b->fl[i] = rnd();
		b->ud[i] = rnd();
	}
	memset(b->c1, 0, sizeof(b->c1));
	memset(b->c2, 0, sizeof(b->c2));
	tr_place_scalar(el, b->exp, n, b->w1);
	c1 = tr_scan_due_scalar(now, b->exp, n, b->i1);
	tr_cqe_fill_scalar(b->c1, 63, tail, b->id, b->ud, b->fl, 64 - round);
#ifdef CONFIG_X86_64
	if (!irq_fpu_usable())
		return true;
	kernel_fpu_begin();
	im->place(el, b->exp, n, b->w2);
	c2 = im->scan_due(now, b->exp, n, b->i2);
	im->cqe_fill(b->c2, 63, tail, b->id, b->ud, b->fl, 64 - round);
	kernel_fpu_end();
#endif
	return !memcmp(b->w1, b->w2, n * sizeof(u16)) && c1 == c2 &&
	       !memcmp(b->i1, b->i2, c1 * sizeof(u32)) &&
	       !memcmp(b->c1, b->c2, sizeof(b->c1));
}

static void tr_simd_selftest(void)
{
	struct tr_st_buf *b = kmalloc(sizeof(*b), GFP_KERNEL);
	u32 impl, round;

	for (impl = 1; impl < TR_NR_IMPLS; impl++) {
		if (!tr_cpu_has[impl])
			continue;
		if (!b) {
			tr_cpu_has[impl] = false;
			continue;
		}
		tr_rand_seed(0x74696d657272696eULL);
		for (round = 0; round < 16; round++) {
			if (tr_st_prep(tr_impls[impl], b, round) &&
			    tr_st_kernels(tr_impls[impl], b, round))
				continue;
			pr_warn("timerring: %s batch kernels fail their self-test (round %u): not used\n",
				tr_impl_name(impl), round);
			tr_cpu_has[impl] = false;
			tr_selftest_failed[impl] = true;
			break;
		}
	}
	kfree(b);
}

static __always_inline const struct tr_batch_impl *tr_pick(u32 ph, u32 n)
{
#ifdef CONFIG_X86_64
	if (static_branch_unlikely(&tr_use_simd[ph][1])) {
		if (n >= READ_ONCE(tr_break_even[ph]))
			return &tr_batch_avx512;
	} else if (static_branch_unlikely(&tr_use_simd[ph][0])) {
		if (n >= READ_ONCE(tr_break_even[ph]))
			return &tr_batch_avx2;
	}
#endif
	return &tr_batch_scalar;
}

/* Prepare a chunk (process context, no lock needed); returns the impl. */
u32 tr_prep(const struct tr_prep *p, const struct timerring_op *ops, u32 n,
	    struct tr_prep_out *out)
{
	return tr_simd_run_prep(tr_pick(TR_PH_PREP, n), p, ops, n, out);
}

/*
 * Give a core the drain kernels of the moment, before a pass (under the
 * shard lock): wheel.c uses them from kern_min entries per step, when
 * the FPU is usable there.
 */
void tr_simd_set_drain(struct tr_core *c)
{
	c->kern = tr_pick(TR_PH_DRAIN, U32_MAX);
	c->kern_min = READ_ONCE(tr_break_even[TR_PH_DRAIN]);
}

u32 tr_impl_active(void)
{
	return READ_ONCE(tr_impl_cur[TR_PH_PREP]);
}

u32 tr_drain_impl_active(void)
{
	return READ_ONCE(tr_impl_cur[TR_PH_DRAIN]);
}

const char *tr_impl_name(u32 impl)
{
	switch (impl) {
	case TIMERRING_IMPL_AVX2:
		return "avx2";
	case TIMERRING_IMPL_AVX512:
		return "avx512";
	default:
		return "scalar";
	}
}

/* Synthetic work for the calibration of both phases. */
struct tr_cal_buf {
	struct tr_prep p;
	struct timerring_op ops[TR_BATCH_CHUNK];
	struct tr_prep_out out;
	u64 exp[TR_DRAIN_BATCH], ud[TR_DRAIN_BATCH];
	u32 id[TR_DRAIN_BATCH], idx[TR_DRAIN_BATCH], fl[TR_DRAIN_BATCH];
	u16 where[TR_DRAIN_BATCH];
	struct tr_cqe cqes[TR_DRAIN_BATCH];
	u64 elapsed;
};

/* One unit of work of phase @ph at size @n, as the driver runs it. */
static void tr_cal_run(const struct tr_batch_impl *im, u32 ph,
		       struct tr_cal_buf *b, u32 n)
{
	if (ph == TR_PH_PREP) {
		tr_simd_run_prep(im, &b->p, b->ops, n, &b->out);
		return;
	}
	/* a drain step of a cascading slot, FPU held as wheel.c holds it */
	if (im->impl != TIMERRING_IMPL_SCALAR)
		tr_fpu_begin();
	im->scan_due(b->elapsed, b->exp, n, b->idx);
	im->place(b->elapsed, b->exp, n, b->where);
	im->cqe_fill(b->cqes, TR_DRAIN_BATCH - 1, b->id[0], b->id, b->ud,
		     b->fl, n);
	if (im->impl != TIMERRING_IMPL_SCALAR)
		tr_fpu_end();
}

/* Best time of a few runs of @loops units of @n, in ps per op. */
static u64 tr_cal_time(const struct tr_batch_impl *im, u32 ph,
		       struct tr_cal_buf *b, u32 n)
{
	u32 loops = max_t(u32, 1, 2048 / n), rep, k;
	u64 best = U64_MAX;

	for (rep = 0; rep < 5; rep++) {
		u64 t0 = ktime_get_ns(), t;

		for (k = 0; k < loops; k++)
			tr_cal_run(im, ph, b, n);
		t = ktime_get_ns() - t0;
		best = min(best, t);
		cond_resched();
	}
	return div64_u64(best * 1000, (u64)loops * n);
}

/*
 * A typical chunk: relative arms within 10 s, some modifies and cancels;
 * a typical drain step: a level-1 slot at 1 ms ticks, one entry in 8 due.
 */
static void tr_cal_fill(struct tr_cal_buf *b)
{
	struct tr_prep *p = &b->p;
	u32 i;

	*p = (struct tr_prep){ .now_ns = ktime_get_ns(), .ns_off = 0,
			       .res_ns = TIMERRING_RES_NS_DEFAULT,
			       .max_ids = 1U << 20 };
	for (i = 0; i < TR_BATCH_CHUNK; i++) {
		u32 r = get_random_u32();
		struct timerring_op *op = &b->ops[i];

		memset(op, 0, sizeof(*op));
		op->id = r & ((1U << 20) - 1);
		op->user_data = i;
		switch (r >> 28) {
		case 0:
			op->opcode = TIMERRING_OP_CANCEL;
			break;
		case 1 ... 3:
			op->opcode = TIMERRING_OP_MODIFY;
			op->flags = TIMERRING_OPF_ABS;
			op->expiry = p->now_ns + (r >> 4) * 1000ULL;
			break;
		default:
			op->opcode = TIMERRING_OP_ARM;
			op->expiry = (r >> 8) * 1000ULL;
			break;
		}
	}
	b->elapsed = div64_u64(p->now_ns, p->res_ns) & ~(u64)TR_LVL_MASK;
	for (i = 0; i < TR_DRAIN_BATCH; i++) {
		u32 r = get_random_u32();

		b->exp[i] = b->elapsed + ((r & 7) ? r % TR_LVL_SLOTS : 0);
		b->id[i] = r >> 12;
		b->ud[i] = r;
		b->fl[i] = r & 0xffff0000;
	}
}

static void tr_simd_calibrate(void)
{
	struct tr_cal_buf *b;
	u32 ph, impl, s;

	/* without figures (no memory), auto keeps scalar */
	for (ph = 0; ph < TR_NR_PH; ph++) {
		for (impl = 0; impl < TR_NR_IMPLS; impl++)
			tr_cal_break_even[ph][impl] = TR_NEVER;
		tr_cal_break_even[ph][TIMERRING_IMPL_SCALAR] = 0;
	}
	b = kmalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return;
	tr_cal_fill(b);
	for (ph = 0; ph < TR_NR_PH; ph++) {
		for (impl = 0; impl < TR_NR_IMPLS; impl++) {
			if (!tr_cpu_has[impl])
				continue;
			for (s = 0; s < TR_CAL_SIZES; s++)
				tr_cal_ps[ph][impl][s] =
					tr_cal_time(tr_impls[impl], ph, b,
						    tr_cal_sizes[ph][s]);
		}
		for (impl = 1; impl < TR_NR_IMPLS; impl++) {
			const u64 *sc = tr_cal_ps[ph][TIMERRING_IMPL_SCALAR];

			if (!tr_cpu_has[impl])
				continue;
			for (s = TR_CAL_SIZES; s > 0; s--)
				if (tr_cal_ps[ph][impl][s - 1] >= sc[s - 1])
					break;
			if (s < TR_CAL_SIZES)
				tr_cal_break_even[ph][impl] =
					s ? tr_cal_sizes[ph][s] : 0;
		}
	}
	kfree(b);
}

/*
 * The fastest implementation of a phase at full size, scalar if none
 * beats it. Each wider one must beat the one before by TR_CAL_MARGIN
 * percent: the FPU sections (and, on some CPUs, the lower clock after
 * 512-bit code) cost the rest of the path something the calibration of
 * the kernels alone does not see.
 */
#define TR_CAL_MARGIN	10

static u32 tr_simd_auto(u32 ph)
{
	u32 best = TIMERRING_IMPL_SCALAR, impl;

	for (impl = 1; impl < TR_NR_IMPLS; impl++)
		if (tr_cpu_has[impl] &&
		    tr_cal_break_even[ph][impl] != TR_NEVER &&
		    tr_cal_ps[ph][impl][TR_CAL_FULL] * 100 <
		    tr_cal_ps[ph][best][TR_CAL_FULL] * (100 - TR_CAL_MARGIN))
			best = impl;
	return best;
}

/* Apply tr_impl_mode to phase @ph. Called with tr_simd_mutex held. */
static void tr_simd_apply_phase(u32 ph)
{
	bool forced = tr_impl_mode != TR_IMPL_AUTO;
	u32 impl = forced ? tr_impl_mode : tr_simd_auto(ph);
	u32 be = forced ? 0 : tr_cal_break_even[ph][impl];
	const char *mode = forced ? "forced" : "auto";
	char what[48];

	/* keys off first: during the switch, batches run scalar */
	static_branch_disable(&tr_use_simd[ph][1]);
	static_branch_disable(&tr_use_simd[ph][0]);
	WRITE_ONCE(tr_break_even[ph], be);
	WRITE_ONCE(tr_impl_cur[ph], impl);
	if (impl == TIMERRING_IMPL_AVX512)
		static_branch_enable(&tr_use_simd[ph][1]);
	else if (impl == TIMERRING_IMPL_AVX2)
		static_branch_enable(&tr_use_simd[ph][0]);

	if (impl == TIMERRING_IMPL_SCALAR)
		snprintf(what, sizeof(what), "scalar (%s)", mode);
	else
		snprintf(what, sizeof(what), "%s (%s), from %u", tr_impl_name(impl),
			 mode, be);
	pr_info("timerring: %s kernels: %s; ps/op at %u: scalar %llu avx2 %llu avx512 %llu\n",
		tr_ph_name[ph], what, tr_cal_sizes[ph][TR_CAL_FULL],
		tr_cal_ps[ph][TIMERRING_IMPL_SCALAR][TR_CAL_FULL],
		tr_cal_ps[ph][TIMERRING_IMPL_AVX2][TR_CAL_FULL],
		tr_cal_ps[ph][TIMERRING_IMPL_AVX512][TR_CAL_FULL]);
	trace_timerring_impl_select(ph, impl, forced, be,
				    tr_cal_ps[ph][TIMERRING_IMPL_SCALAR][TR_CAL_FULL],
				    tr_cal_ps[ph][impl][TR_CAL_FULL]);
}

static void tr_simd_apply(void)
{
	u32 ph;

	for (ph = 0; ph < TR_NR_PH; ph++)
		tr_simd_apply_phase(ph);
}

static int tr_impl_param_set(const char *val, const struct kernel_param *kp)
{
	u32 mode;
	int ret = 0;

	if (sysfs_streq(val, "auto"))
		mode = TR_IMPL_AUTO;
	else if (sysfs_streq(val, "scalar"))
		mode = TIMERRING_IMPL_SCALAR;
	else if (sysfs_streq(val, "avx2"))
		mode = TIMERRING_IMPL_AVX2;
	else if (sysfs_streq(val, "avx512"))
		mode = TIMERRING_IMPL_AVX512;
	else
		return -EINVAL;

	mutex_lock(&tr_simd_mutex);
	tr_simd_detect();
	if (mode != TR_IMPL_AUTO && !tr_cpu_has[mode]) {
		if (tr_simd_ready) {
			ret = -EOPNOTSUPP;
			goto out;
		}
		pr_warn("timerring: impl=%s: not supported by this CPU, using auto\n",
			tr_impl_name(mode));
		mode = TR_IMPL_AUTO;
	}
	tr_impl_mode = mode;
	if (tr_simd_ready)
		tr_simd_apply();
out:
	mutex_unlock(&tr_simd_mutex);
	return ret;
}

static int tr_impl_param_get(char *buf, const struct kernel_param *kp)
{
	u32 mode = READ_ONCE(tr_impl_mode);

	return sysfs_emit(buf, "%s\n", mode == TR_IMPL_AUTO ? "auto" :
			  tr_impl_name(mode));
}

static const struct kernel_param_ops tr_impl_param_ops = {
	.set = tr_impl_param_set,
	.get = tr_impl_param_get,
};
module_param_cb(impl, &tr_impl_param_ops, NULL, 0644);
MODULE_PARM_DESC(impl, "Batch kernels: auto (default), scalar, avx2, avx512");

static int tr_simd_show(struct seq_file *m, void *v)
{
	u32 ph, impl, s;

	mutex_lock(&tr_simd_mutex);
	seq_printf(m, "impl %s\n", tr_impl_name(tr_impl_cur[TR_PH_PREP]));
	seq_printf(m, "drain_impl %s\n",
		   tr_impl_name(tr_impl_cur[TR_PH_DRAIN]));
	seq_printf(m, "mode %s\n", tr_impl_mode == TR_IMPL_AUTO ? "auto" :
		   "forced");
	seq_printf(m, "break_even %u\n", tr_break_even[TR_PH_PREP]);
	seq_printf(m, "drain_break_even %u\n", tr_break_even[TR_PH_DRAIN]);
	seq_puts(m, "cpu");
	for (impl = 0; impl < TR_NR_IMPLS; impl++)
		if (tr_cpu_has[impl])
			seq_printf(m, " %s", tr_impl_name(impl));
	for (impl = 0; impl < TR_NR_IMPLS; impl++)
		if (tr_selftest_failed[impl])
			seq_printf(m, " %s(selftest-failed)", tr_impl_name(impl));
	seq_putc(m, '\n');
	for (ph = 0; ph < TR_NR_PH; ph++) {
		seq_printf(m, "%s_ps_per_op_at", tr_ph_name[ph]);
		for (s = 0; s < TR_CAL_SIZES; s++)
			seq_printf(m, " %u", tr_cal_sizes[ph][s]);
		seq_putc(m, '\n');
		for (impl = 0; impl < TR_NR_IMPLS; impl++) {
			if (!tr_cpu_has[impl])
				continue;
			seq_printf(m, "%s %s", tr_ph_name[ph], tr_impl_name(impl));
			for (s = 0; s < TR_CAL_SIZES; s++)
				seq_printf(m, " %llu", tr_cal_ps[ph][impl][s]);
			if (tr_cal_break_even[ph][impl] == TR_NEVER)
				seq_puts(m, " break_even never\n");
			else
				seq_printf(m, " break_even %u\n",
					   tr_cal_break_even[ph][impl]);
		}
	}
	mutex_unlock(&tr_simd_mutex);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tr_simd);

/* Called after tr_debugfs_init(): the file goes in its directory. */
int tr_simd_init(void)
{
	struct dentry *dir;

	mutex_lock(&tr_simd_mutex);
	tr_simd_detect();
	tr_simd_selftest();
	if (tr_impl_mode != TR_IMPL_AUTO && !tr_cpu_has[tr_impl_mode]) {
		pr_warn("timerring: impl=%s: failed its self-test, using auto\n",
			tr_impl_name(tr_impl_mode));
		tr_impl_mode = TR_IMPL_AUTO;
	}
	tr_simd_calibrate();
	tr_simd_apply();
	tr_simd_ready = true;
	mutex_unlock(&tr_simd_mutex);

	dir = debugfs_lookup("timerring", NULL);
	if (!IS_ERR_OR_NULL(dir)) {
		debugfs_create_file("simd", 0444, dir, NULL, &tr_simd_fops);
		dput(dir);
	}
	return 0;
}
