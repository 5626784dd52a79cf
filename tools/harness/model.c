// SPDX-License-Identifier: GPL-2.0
/*
 * Reference model of the timerring core (module/wheel.c, table.c, cq.c).
 *
 * The model keeps, per timer id of a small pool, only what the uapi talks
 * about: idle / armed in the wheel / fired and waiting on the pending
 * (overflow) list, the expiry tick, user_data, the generation and the
 * period. A timer in the wheel is due when time reaches its tick. The real
 * core is driven the way the driver drives it, with random ops and passes
 * (tr_set_now, tr_cq_begin, tr_flush, tr_advance, [ops, as a submit
 * applies them], tr_flush, tr_cq_end; budgets often small, so that passes
 * stop and resume mid-slot) and a random consumer, and after every step
 * the two must agree:
 *
 *  - every op result (generation, REARMED, -EEXIST, -ENOENT, -ENOMEM,
 *    number cancelled);
 *  - every expiration: the timer fired is in the wheel, due (never early),
 *    has the smallest tick of all timers in the wheel (so nothing is late
 *    or skipped: a one-shot exact timer fires in the first pass whose
 *    now_tick >= its tick), and ticks never go back; ties may fire in any
 *    order, the model adopts the core's;
 *  - where an expiration goes: straight into the ring only if it has room
 *    and nothing older pends, else to the tail of the pending list, which
 *    is posted in FIFO order; the CQE contents (user_data, id, generation,
 *    F_MORE | F_PERIODIC and the overrun count of periodic timers);
 *  - the overrun count of a periodic timer: periods that ended by the
 *    pass's now_tick are counted, not delivered one by one;
 *  - CQEs are never written over unconsumed ones, are published by tail,
 *    and read back unchanged by the consumer, who may also run mid-pass
 *    (the pass must not see the room it frees until the next one);
 *  - armed and pending counts, kflags / overflow_pending, the statistics,
 *    and tr_next_tick() <= the earliest tick in the wheel;
 *  - a slack timer's effective tick E' (read from the entry): E' = E if
 *    (E - W) / 8 < 64 ticks, else E <= E' < E + (E - W) / 8 (the uapi
 *    allows up to max(1, timeout / 8)); after that it is exact;
 *  - overflowed_total: a timer queued on the pending list counts if the
 *    pending list is longer than the ring space the pass has left.
 *
 * The only things read from the core's insides are the effective tick of
 * a slack timer, the wheel time (elapsed, checked to move only forward and
 * to stop at now when the budget allows), the ring tail between the calls
 * of a pass (to split the CQEs of the two flushes from direct posts) and
 * the order of the pending list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "model.h"
#include "batch.h"
#include "pool.h"
#include "tr_rand.h"
#include "uapi_rules.h"

const struct tr_batch_impl *tr_model_kern;

#define MAXK		256
#define HSZ		1024
#define LOGN		48
#define FAR_MASK	((1ULL << TR_WHEEL_BITS) - 1)

enum { ST_IDLE, ST_WHEEL, ST_PEND };

struct mtimer {
	u32 id;
	u8 state;
	bool periodic;
	u64 tick;	/* effective expiry; the fired tick while pending */
	u64 ival;	/* in ticks, as the prep kernels give it */
	u64 due_ns;	/* periodic: due time of the next period */
	u64 ival_ns;
	u64 ud;
	u32 gen;
};

struct mcqe {
	u64 ud;
	s32 res;
	u32 flags;
};

struct oplog {
	u64 step;
	char op;
	u32 id;
	u64 a, b, c;
	s64 r;
};

struct mdl {
	struct tr_core c;
	struct tr_src *src;
	struct tr_model_res *res;
	jmp_buf jb;
	u64 step;

	/* configuration */
	u64 res_ns;
	u64 maxtick;
	u32 max_ids;
	u32 entries;
	u8 *ring;
	struct tr_cqe *cqes;
	struct timerring_cq_offsets off;
	struct tr_entry **dir;
	struct tr_period **ivdir;

	/* the model */
	u32 k;
	struct mtimer t[MAXK];
	u16 hash[HSZ];
	u32 pl[MAXK];
	u32 pl_n;
	u64 now;
	u64 now_ns;
	u64 w;
	u64 last_fire;
	u32 armed;

	/* free ring slots as the core counts them: within a pass, else 0 */
	u32 space;

	/* ring, as the consumer sees it */
	u32 cons_head;
	u32 prod_tail;
	struct mcqe *shadow;

	/* statistics */
	u64 st_armed, st_mod, st_cancel, st_exp, st_ovf;

	struct oplog log[LOGN];
	u64 log_n;
};

/* ------------------------------------------------------------------ */

void tr_src_seed(struct tr_src *s, u64 seed)
{
	memset(s, 0, sizeof(*s));
	s->state = seed;
}

void tr_src_data(struct tr_src *s, const u8 *data, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->data = data;
	s->len = len;
}

static u64 src_bytes(struct tr_src *s, unsigned int n)
{
	u64 v = 0;
	unsigned int i;

	if (!s->data)
		return tr_splitmix64(&s->state);
	for (i = 0; i < n; i++) {
		if (s->pos >= s->len) {
			s->done = true;
			break;
		}
		v |= (u64)s->data[s->pos++] << (8 * i);
	}
	return v;
}

static u64 mrnd(struct mdl *m)
{
	return src_bytes(m->src, 8);
}

/* Uniform-ish in [0, n). */
static u64 below(struct mdl *m, u64 n)
{
	unsigned int nb;

	if (n <= 1)
		return 0;
	nb = n <= 0x100 ? 1 : n <= 0x10000 ? 2 : n <= 0x100000000ULL ? 4 : 8;
	return src_bytes(m->src, nb) % n;
}

static u64 sat_add(u64 a, u64 b)
{
	return a + b < a ? U64_MAX : a + b;
}

static u64 sat_mul(u64 a, u64 b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return r > U64_MAX ? U64_MAX : (u64)r;
}

static u64 sat_sub(u64 a, u64 b)
{
	return a > b ? a - b : 0;
}

/* ------------------------------------------------------------------ */

static void dump_log(struct mdl *m, char *p, size_t len)
{
	u64 i = m->log_n > LOGN ? m->log_n - LOGN : 0;
	size_t n = strlen(p);

	n += snprintf(p + n, len - n, "\n  last steps (op id a b c -> r):");
	for (; i < m->log_n && n < len; i++) {
		struct oplog *l = &m->log[i % LOGN];

		n += snprintf(p + n, len - n,
			      "\n    #%llu %c %u %llu %llu %llu -> %lld",
			      (unsigned long long)l->step, l->op, l->id,
			      (unsigned long long)l->a,
			      (unsigned long long)l->b,
			      (unsigned long long)l->c, (long long)l->r);
	}
	if (n < len)
		snprintf(p + n, len - n,
			 "\n  res_ns %llu max_ids %u entries %u now %llu w %llu",
			 (unsigned long long)m->res_ns, m->max_ids, m->entries,
			 (unsigned long long)m->now,
			 (unsigned long long)m->c.elapsed);
}

static __attribute__((format(printf, 3, 4), noreturn))
void fail(struct mdl *m, int line, const char *fmt, ...)
{
	char *p = m->res->msg;
	size_t len = sizeof(m->res->msg);
	va_list ap;
	int n;

	n = snprintf(p, len, "model.c:%d step %llu: ", line,
		     (unsigned long long)m->step);
	va_start(ap, fmt);
	vsnprintf(p + n, len - n, fmt, ap);
	va_end(ap);
	dump_log(m, p, len);
	longjmp(m->jb, 1);
}

#define CHECK(m, cond, fmt, ...)					\
	do {								\
		if (unlikely(!(cond)))					\
			fail((m), __LINE__, "%s: " fmt, #cond,		\
			     ##__VA_ARGS__);				\
	} while (0)

#define ULL(x)	((unsigned long long)(x))

static void logop(struct mdl *m, char op, u32 id, u64 a, u64 b, u64 c,
		  s64 r)
{
	struct oplog *l = &m->log[m->log_n++ % LOGN];

	l->step = m->step;
	l->op = op;
	l->id = id;
	l->a = a;
	l->b = b;
	l->c = c;
	l->r = r;
}

/* ------------------------------------------------------------------ */

static u32 hslot(u32 id)
{
	return (id * 2654435761U) >> 22;	/* 10 bits: HSZ */
}

static int lookup(struct mdl *m, u32 id)
{
	u32 h = hslot(id);

	for (;; h = (h + 1) & (HSZ - 1)) {
		if (!m->hash[h])
			return -1;
		if (m->t[m->hash[h] - 1].id == id)
			return m->hash[h] - 1;
	}
}

static bool pool_add(struct mdl *m, u32 id)
{
	u32 h;

	if (id >= m->max_ids || lookup(m, id) >= 0)
		return false;
	for (h = hslot(id); m->hash[h]; h = (h + 1) & (HSZ - 1))
		;
	m->t[m->k].id = id;
	m->hash[h] = ++m->k;
	return true;
}

/*
 * Queue a due timer behind the pending ones. It counts as overflowed if
 * the ring, as of this pass, has no slot left for it (outside a pass the
 * core knows of no free slot).
 */
static void pl_push(struct mdl *m, u32 idx)
{
	m->t[idx].state = ST_PEND;
	m->pl[m->pl_n++] = idx;
	if (m->pl_n > m->space)
		m->st_ovf++;
}

static void pl_remove(struct mdl *m, u32 idx)
{
	u32 i;

	for (i = 0; i < m->pl_n; i++)
		if (m->pl[i] == idx)
			break;
	CHECK(m, i < m->pl_n, "model: idx %u not pending", idx);
	memmove(&m->pl[i], &m->pl[i + 1], (m->pl_n - i - 1) * sizeof(u32));
	m->pl_n--;
}

static u64 min_wheel_tick(struct mdl *m, int *who)
{
	u64 best = U64_MAX;
	u32 i;

	*who = -1;
	for (i = 0; i < m->k; i++) {
		if (m->t[i].state == ST_WHEEL && (*who < 0 ||
						  m->t[i].tick < best)) {
			best = m->t[i].tick;
			*who = i;
		}
	}
	return best;
}

static struct tr_cqe *slot(struct mdl *m, u32 pos)
{
	return &m->cqes[pos & (m->entries - 1)];
}

/* ------------------------------------------------------------------ */

/*
 * The core posted the CQE of pending/fired @idx at @pos, wheel time @w.
 * Periods of a periodic timer that ended by now (the pass's now_tick, or
 * the wheel time if that is later) are not delivered one by one: they
 * are counted as overruns, and the next expiry is the first after now.
 */
static void post_check(struct mdl *m, u32 idx, u64 w, u32 pos)
{
	struct mtimer *t = &m->t[idx];
	struct tr_cqe *cqe = slot(m, pos);
	u32 flags = tr_uapi_cqe_flags(t->gen, false, 0);
	struct mcqe *sh;

	CHECK(m, (u32)(pos - m->cons_head) < m->entries,
	      "CQE posted at %u over an unconsumed one (head %u, %u entries)",
	      pos, m->cons_head, m->entries);
	if (t->periodic) {
		u64 now = max(m->now_ns, w * m->res_ns), missed;

		CHECK(m, max(w, m->now) >= t->tick,
		      "model: posting before its tick");
		/* the period's ns grid: due, due + ival, ... */
		missed = tr_uapi_periods_due_by(t->due_ns, t->ival_ns, now);
		missed -= !!missed;
		flags = tr_uapi_cqe_flags(t->gen, true, missed);
		if (tr_uapi_period_due(t->due_ns, t->ival_ns, missed + 1,
				       &t->due_ns))
			t->tick = tr_ns_to_tick_ceil(t->due_ns, m->res_ns);
		else
			t->tick = U64_MAX;
		t->state = ST_WHEEL;
	} else {
		t->state = ST_IDLE;
		m->armed--;
	}
	CHECK(m, cqe->user_data == t->ud && cqe->res == (s32)t->id &&
	      cqe->flags == flags,
	      "CQE at %u is {ud %llu, res %d, flags %#x}, model wants "
	      "{ud %llu, res %u, flags %#x}", pos, ULL(cqe->user_data),
	      cqe->res, cqe->flags, ULL(t->ud), t->id, flags);
	sh = &m->shadow[pos & (m->entries - 1)];
	sh->ud = t->ud;
	sh->res = t->id;
	sh->flags = flags;
	m->st_exp++;
}

/* The core fired @idx (in the order of the calls): was that right? */
static void fire_check(struct mdl *m, u32 idx)
{
	struct mtimer *t = &m->t[idx];
	int who;
	u64 min;

	CHECK(m, t->state == ST_WHEEL, "id %u fired but is %s", t->id,
	      t->state == ST_IDLE ? "idle" : "already pending");
	CHECK(m, t->tick <= m->now, "id %u fired early: tick %llu, now %llu",
	      t->id, ULL(t->tick), ULL(m->now));
	min = min_wheel_tick(m, &who);
	CHECK(m, t->tick == min,
	      "id %u (tick %llu) fired before id %u (tick %llu): late/lost",
	      t->id, ULL(t->tick), m->t[who].id, ULL(min));
	CHECK(m, t->tick >= m->last_fire,
	      "id %u fired at tick %llu after one at %llu", t->id,
	      ULL(t->tick), ULL(m->last_fire));
	m->last_fire = t->tick;
	m->res->fires++;
}

/*
 * Model of tr_flush(): post pending ones, oldest first, as many as the
 * ring and the budget allow. The budget counts refs, stale ones too, so
 * it may run out before the model's count: then fewer are posted, but
 * never more, never out of order, and *budget ends at 0.
 */
static void model_flush(struct mdl *m, u32 *space, u32 *budget, u32 pos0,
			u32 pos1, u32 used, u32 left)
{
	u32 pos = pos0;

	while (m->pl_n && *space && pos != pos1) {
		u32 idx = m->pl[0];

		memmove(&m->pl[0], &m->pl[1], (m->pl_n - 1) * sizeof(u32));
		m->pl_n--;
		post_check(m, idx, m->w, pos);
		pos++;
		(*space)--;
	}
	CHECK(m, pos == pos1, "flush posted %u CQEs, model wants at most %u",
	      pos1 - pos0, pos - pos0);
	CHECK(m, used >= pos1 - pos0, "flush used %u budget for %u CQEs", used,
	      pos1 - pos0);
	CHECK(m, !m->pl_n || !*space || !left,
	      "flush stopped with %u pending, %u space, %u budget", m->pl_n,
	      *space, left);
	*budget = left;
}

static u32 next_pos(const struct tr_core *c, u32 p)
{
	if (++p % 16 != TR_BLK_REFS)
		return p;
	return c->blk_page[p / 16 >> TR_BLK_PAGE_SHIFT]
			  [p / 16 & (TR_BLK_PAGE_BLOCKS - 1)].next * 16;
}

/*
 * Every queue of the core: each live ref's entry points back, live counts
 * and occupancy bits are right, refs and blocks add up. The pending
 * queue's live ids, in order, go to @ids.
 */
static u32 walk_queues(struct mdl *m, u32 *ids)
{
	const struct tr_core *c = &m->c;
	u32 w, n = 0, refs = 0, nonempty = 0, free = 0;

	for (w = 0; w < TR_NR_QUEUES; w++) {
		const struct tr_queue *q = &c->q[w];
		u32 p = q->head, i, live = 0;

		for (i = 0; i < q->nr; i++, p = next_pos(c, p)) {
			u32 id = *tr_ref(c, p);
			const struct tr_entry *e;

			CHECK(m, lookup(m, id) >= 0, "queue %u: bad id %u", w, id);
			e = tr_entry_get(c, id);
			CHECK(m, e, "queue %u: id %u has no chunk", w, id);
			if (e->where != w || (e->posf & TR_POS_MASK) != p)
				continue;
			live++;
			if (w == TR_L_PENDING) {
				CHECK(m, n < MAXK, "pending: too many");
				ids[n++] = id;
			}
		}
		CHECK(m, !q->nr || (q->tail - 1) / 16 == (p - 1) / 16 ||
		      p % 16 == 0, "queue %u: tail %u, walk ends at %u", w,
		      q->tail, p);
		CHECK(m, live == q->live, "queue %u: %u live refs, count %u", w,
		      live, q->live);
		CHECK(m, !q->nr || q->live || w == c->draining ||
		      w == TR_L_PENDING, "queue %u: %u refs, none live", w,
		      q->nr);
		if (w < TR_NR_BUCKETS && w != c->draining)
			CHECK(m, !!(c->occupied[w / 64] & (1ULL << (w % 64))) ==
			      !!q->nr, "queue %u: occupancy bit wrong", w);
		refs += q->nr;
		nonempty += !!q->nr;
	}
	CHECK(m, refs == c->refs, "refs %u, counted %u", c->refs, refs);
	for (w = c->blk_free; w != TR_NIL && free <= c->blk_nr;
	     w = c->blk_page[w >> TR_BLK_PAGE_SHIFT]
			    [w & (TR_BLK_PAGE_BLOCKS - 1)].next)
		free++;
	CHECK(m, free == c->blk_nr_free, "free list %u, count %u", free,
	      c->blk_nr_free);
	/* the bound that keeps the expiry path from running dry (table.c) */
	CHECK(m, c->blk_nr - free <= refs / TR_BLK_REFS + 2 * nonempty,
	      "%u blocks in use for %u refs in %u queues", c->blk_nr - free,
	      refs, nonempty);
	return n;
}

static void check_state(struct mdl *m)
{
	u32 ids[MAXK], n, i;
	u64 min, next, sum = 0;
	int who;

	CHECK(m, m->c.elapsed == m->w, "elapsed moved outside a pass");
	CHECK(m, m->c.cq.space == m->space, "cq space %u, model %u",
	      m->c.cq.space, m->space);
	CHECK(m, m->c.armed == m->armed, "armed %u, model %u", m->c.armed,
	      m->armed);
	CHECK(m, tr_pending_nr(&m->c) == m->pl_n, "pending_nr %u, model %u",
	      tr_pending_nr(&m->c), m->pl_n);
	n = walk_queues(m, ids);
	CHECK(m, n == m->pl_n, "pending list has %u, model %u", n, m->pl_n);
	for (i = 0; i < n; i++)
		CHECK(m, ids[i] == m->t[m->pl[i]].id,
		      "pending list order: %u at %u, model has %u", ids[i], i,
		      m->t[m->pl[i]].id);
	for (i = 0; i < m->k; i++) {
		struct mtimer *t = &m->t[i];
		struct tr_entry *e = tr_entry_get(&m->c, t->id);

		if (t->state != ST_IDLE)
			CHECK(m, e && e->where != TR_L_NONE,
			      "id %u armed in model, idle in core", t->id);
		else
			CHECK(m, !e || e->where == TR_L_NONE,
			      "id %u idle in model, armed in core", t->id);
		CHECK(m, !e || e->gen == t->gen, "id %u gen %u, model %u",
		      t->id, e->gen, t->gen);
	}
	min = min_wheel_tick(m, &who);
	next = tr_next_tick(&m->c);
	CHECK(m, who < 0 || next <= min,
	      "tr_next_tick %llu > tick %llu of id %u", ULL(next), ULL(min),
	      m->t[who].id);
	CHECK(m, who < 0 || min >= m->w, "id %u in wheel at %llu < W %llu",
	      m->t[who].id, ULL(min), ULL(m->w));
	CHECK(m, m->c.st.armed_total == m->st_armed &&
	      m->c.st.modified_total == m->st_mod &&
	      m->c.st.cancelled_total == m->st_cancel &&
	      m->c.st.expired_total == m->st_exp &&
	      m->c.st.overflowed_total == m->st_ovf,
	      "stats a%llu/%llu m%llu/%llu c%llu/%llu e%llu/%llu o%llu/%llu",
	      ULL(m->c.st.armed_total), ULL(m->st_armed),
	      ULL(m->c.st.modified_total), ULL(m->st_mod),
	      ULL(m->c.st.cancelled_total), ULL(m->st_cancel),
	      ULL(m->c.st.expired_total), ULL(m->st_exp),
	      ULL(m->c.st.overflowed_total), ULL(m->st_ovf));
	for (i = 0; i < TIMERRING_LATENCY_BUCKETS; i++)
		sum += m->c.st.lateness_hist[i];
	CHECK(m, sum == m->st_exp, "lateness histogram counts %llu",
	      ULL(sum));
}

/* ------------------------------------------------------------------ */

static void step_op(struct mdl *m);

/* A pass as the driver runs it, to tick @tick with @budget. */
static void do_pass(struct mdl *m, u64 tick, u32 budget, bool garbage)
{
	u32 ids[MAXK], nobs, nr, nd, i, space, used, head, nops;
	u32 t0, t1, t2, t3, b, bm, b0, posted;
	bool fret, aret;
	u64 wnew, min;
	int who;

	if (tick != m->now)
		m->now_ns = tick * m->res_ns + below(m, m->res_ns);
	m->now = tick;
	tr_set_now(&m->c, m->now_ns);
	CHECK(m, m->c.now_tick == tick, "now_tick %llu for %llu ns",
	      ULL(m->c.now_tick), ULL(m->now_ns));

	if (garbage) {
		/* A consumer writing nonsense may stall only itself. */
		head = below(m, 2) ? m->prod_tail + 1 + (u32)below(m, 1000) :
			m->prod_tail - m->entries - 1 - (u32)below(m, 1000);
		WRITE_ONCE(*m->c.cq.khead, head);
	}
	head = READ_ONCE(*m->c.cq.khead);
	used = m->prod_tail - head;
	space = used > m->entries ? 0 : m->entries - used;

	tr_cq_begin(&m->c.cq);
	CHECK(m, m->c.cq.space == space, "cq space %u, model %u",
	      m->c.cq.space, space);
	t0 = m->c.cq.tail;
	CHECK(m, t0 == m->prod_tail, "cq tail %u, published %u", t0,
	      m->prod_tail);

	/* flush */
	b = bm = budget;
	fret = tr_flush(&m->c, &b);
	t1 = m->c.cq.tail;
	model_flush(m, &space, &bm, t0, t1, budget - b, b);
	CHECK(m, fret == !m->pl_n, "flush returned %d", fret);

	/* advance, sometimes with a budget of its own */
	if (!below(m, 8))
		b = below(m, 2) ? U32_MAX : 1 + below(m, 10);
	nr = m->pl_n;
	b0 = b;
	aret = tr_advance(&m->c, tick, &b);
	t2 = m->c.cq.tail;
	nobs = walk_queues(m, ids);
	CHECK(m, nobs >= nr, "advance lost pending entries");
	for (i = 0; i < nr; i++)
		CHECK(m, ids[i] == m->t[m->pl[i]].id,
		      "advance reordered the pending list at %u", i);
	nd = t2 - t1;
	CHECK(m, !nr || !nd, "%u expirations posted past %u older pending",
	      nd, nr);
	CHECK(m, nd <= space, "advance posted %u CQEs into %u free", nd,
	      space);
	CHECK(m, nobs == nr || nr || nd == space,
	      "expiration queued with %u of %u free slots unused",
	      space - nd, space);
	CHECK(m, b0 - b >= nd + nobs - nr, "advance used %u budget for %u",
	      b0 - b, nd + nobs - nr);
	for (i = 0; i < nd; i++) {
		struct tr_cqe *cqe = slot(m, t1 + i);
		int idx = cqe->res >= 0 ? lookup(m, cqe->res) : -1;

		CHECK(m, idx >= 0, "CQE for unknown id %d", cqe->res);
		fire_check(m, idx);
		post_check(m, idx, m->t[idx].tick, t1 + i);
		space--;
	}
	for (i = nr; i < nobs; i++) {
		int idx = lookup(m, ids[i]);

		fire_check(m, idx);
		m->space = space;
		pl_push(m, idx);
		m->res->overflows++;
	}
	wnew = m->c.elapsed;
	CHECK(m, wnew >= m->w && wnew <= max(m->w, tick),
	      "elapsed went from %llu to %llu, now %llu", ULL(m->w),
	      ULL(wnew), ULL(tick));
	CHECK(m, wnew >= m->last_fire, "elapsed %llu, fired at %llu",
	      ULL(wnew), ULL(m->last_fire));
	CHECK(m, aret || !b, "advance stopped with budget %u left", b);
	if (b)
		CHECK(m, wnew == max(m->w, tick),
		      "advance done with budget left, elapsed %llu", ULL(wnew));
	min = min_wheel_tick(m, &who);
	if (aret)
		CHECK(m, who < 0 || min > tick,
		      "advance claims done, id %u is due at %llu <= %llu",
		      m->t[who].id, ULL(min), ULL(tick));
	m->w = wnew;

	/*
	 * Ops applied within the pass, after the advance and before the
	 * second flush, as a submit does; the consumer may run meanwhile,
	 * which must not give the pass more room than it read at begin.
	 */
	nops = below(m, 3) ? 0 : 1 + below(m, 8);
	m->space = space;
	for (i = 0; i < nops; i++) {
		step_op(m);
		check_state(m);
	}

	/* flush again, with what is left or a fresh budget */
	if (below(m, 2))
		b = below(m, 4) ? U32_MAX : 1 + below(m, 10);
	bm = b;
	tr_flush(&m->c, &b);
	t3 = m->c.cq.tail;
	model_flush(m, &space, &bm, t2, t3, bm - b, b);

	m->space = 0;
	posted = tr_cq_end(&m->c.cq, tr_pending_nr(&m->c));
	CHECK(m, posted == t3 - t0, "cq_end posted %u of %u", posted,
	      t3 - t0);
	CHECK(m, smp_load_acquire(m->c.cq.ktail) == t3, "ktail %u, tail %u",
	      *m->c.cq.ktail, t3);
	CHECK(m, *m->c.cq.koverflow_pending == m->pl_n &&
	      *m->c.cq.kflags == (m->pl_n ? TIMERRING_KFLAG_CQ_OVERFLOW : 0),
	      "overflow_pending %u kflags %#x, model %u",
	      *m->c.cq.koverflow_pending, *m->c.cq.kflags, m->pl_n);
	m->prod_tail = t3;
	if (garbage)
		WRITE_ONCE(*m->c.cq.khead, m->cons_head);
	logop(m, 'P', budget, tick, t3 - t0, m->pl_n, aret);
}

static void do_consume(struct mdl *m)
{
	u32 tail = smp_load_acquire(m->c.cq.ktail);
	u32 avail = tail - m->cons_head, n, i;

	CHECK(m, tail == m->prod_tail, "ktail %u changed outside a pass",
	      tail);
	CHECK(m, avail <= m->entries, "%u CQEs ready in %u entries", avail,
	      m->entries);
	n = below(m, 3) ? avail : below(m, avail + 1);
	for (i = 0; i < n; i++) {
		u32 pos = m->cons_head + i;
		struct tr_cqe *cqe = slot(m, pos);
		struct mcqe *sh = &m->shadow[pos & (m->entries - 1)];

		CHECK(m, cqe->user_data == sh->ud && cqe->res == sh->res &&
		      cqe->flags == sh->flags,
		      "consumer read {%llu, %d, %#x} at %u, posted was "
		      "{%llu, %d, %#x}", ULL(cqe->user_data), cqe->res,
		      cqe->flags, pos, ULL(sh->ud), sh->res, sh->flags);
	}
	m->cons_head += n;
	smp_store_release(m->c.cq.khead, m->cons_head);
	m->res->cqes += n;
	/* within a pass, the kernel counts what it has not published yet */
	CHECK(m, tr_cq_ready(&m->c.cq) == m->c.cq.tail - m->cons_head,
	      "tr_cq_ready %u", tr_cq_ready(&m->c.cq));
	logop(m, 'C', n, m->cons_head, tail, 0, 0);
}

/* ------------------------------------------------------------------ */

static void maybe_install(struct mdl *m, u32 id, bool ival)
{
	u32 ci = id >> TR_CHUNK_SHIFT;

	/* the pool grows before ops, as the driver grows it per chunk */
	pool_fill(&m->c, 1 + below(m, 64));
	if (!m->dir[ci] && below(m, 16)) {
		size_t sz = TR_CHUNK_IDS * sizeof(struct tr_entry);
		struct tr_entry *mem = aligned_alloc(64, sz);

		if (!mem)
			abort();
		memset(mem, 0xa5, sz);	/* install must init it */
		tr_table_install(&m->c, ci, mem);
	}
	if (ival && !m->ivdir[ci] && below(m, 16)) {
		struct tr_period *mem = malloc(TR_CHUNK_IDS * sizeof(*mem));

		if (!mem)
			abort();
		tr_table_install_ival(&m->c, ci, mem);
	}
}

/* Level 1..TR_LEVELS boundary granularity, small levels much more often. */
static u64 gen_gran(struct mdl *m)
{
	unsigned int lvl = below(m, 4) ? 1 + below(m, 3) :
			   1 + below(m, TR_LEVELS);

	return 1ULL << (TR_LVL_BITS * lvl);
}

static u64 gen_expiry(struct mdl *m)
{
	u64 base = below(m, 4) ? m->now : m->w, g, b;
	int who;

	switch (below(m, 18)) {
	case 13:
	case 14:
		return base + 1 + below(m, TR_LVL_SLOTS);
	case 15:
		return base + 1 + below(m, 5000);
	case 16:
		return sat_add(base, 1 + below(m, 1 << 20));
	case 17:
		g = gen_gran(m);
		return sat_add(base, g - 1 + below(m, 3));
	case 0:
		return 0;
	case 1:
		return sat_sub(base, below(m, 100));
	case 2:
		return base;
	case 3:
		return base + 1 + below(m, 3);
	case 4:
		return base + below(m, 300);
	case 5:
		g = gen_gran(m);
		b = sat_add(base | (g - 1), 1);
		return sat_add(sat_sub(b, 2), below(m, 5));
	case 6:
		b = sat_add(base | FAR_MASK, 1);
		b = sat_add(b, below(m, 3) << TR_WHEEL_BITS);
		return sat_add(sat_sub(b, 2), below(m, 5));
	case 7:
		return U64_MAX - below(m, 3);
	case 8:
		/* "never" as batch.c makes it: U64_MAX ns in ticks */
		return tr_ns_to_tick_ceil(U64_MAX, m->res_ns) - below(m, 2);
	case 9:
		return sat_add(base, mrnd(m) >> (1 + below(m, 63)));
	case 10:
		b = m->t[below(m, m->k)].tick;
		return sat_sub(sat_add(b, below(m, 3)), 1);
	case 11:
		b = min_wheel_tick(m, &who);
		return who < 0 ? base : sat_sub(sat_add(b, below(m, 3)), 1);
	case 12:
		return mrnd(m);
	default:
		return base + 1;
	}
}

static u64 gen_ival(struct mdl *m)
{
	u64 top = tr_ns_to_tick_ceil(U64_MAX, m->res_ns);

	if (below(m, 5) < 3)
		return 0;
	switch (below(m, 6)) {
	case 0:
		return 1;
	case 1:
		return 1 + below(m, 3);
	case 2:
		return ((u64)TR_LVL_SLOTS << (TR_LVL_BITS * below(m, 3))) - 1 +
		       below(m, 3);
	case 3:
		return 1 + below(m, 1000);
	case 4:
		return top - below(m, 2);
	default:
		return 1 + ((mrnd(m) >> (8 + below(m, 56))) % top);
	}
}

static void do_arm(struct mdl *m, bool modify)
{
	u32 idx = below(m, m->k);
	struct mtimer *t = &m->t[idx];
	u64 exp = gen_expiry(m), ival = gen_ival(m), ud = mrnd(m);
	bool slack = !below(m, 4);
	u32 ci = t->id >> TR_CHUNK_SHIFT;
	int want, got, rearmed = 0;
	struct tr_period per;
	u64 eff;

	/*
	 * A period anywhere in the ns range that rounds up to these ticks,
	 * as the driver's prep gives them: not a whole number of ticks.
	 */
	per.due_ns = sat_mul(exp, m->res_ns);
	if (exp && per.due_ns != U64_MAX)
		per.due_ns -= below(m, m->res_ns);
	per.ival_ns = max(m->res_ns, sat_mul(ival, m->res_ns) -
				     below(m, m->res_ns));

	maybe_install(m, t->id, ival);
	if (!m->dir[ci] || (ival && !m->ivdir[ci]))
		want = -ENOMEM;
	else if (!modify && t->state != ST_IDLE)
		want = -EEXIST;
	else
		want = (t->gen + 1) & TIMERRING_RES_GEN_MASK;
	if (modify && want >= 0 && t->state != ST_IDLE)
		rearmed = TIMERRING_RES_REARMED;
	want |= rearmed;

	if (modify)
		got = tr_modify(&m->c, t->id, exp, ud, ival ? &per : NULL,
				slack ? TR_EF_SLACK : 0);
	else
		got = tr_arm(&m->c, t->id, exp, ud, ival ? &per : NULL,
			     slack ? TR_EF_SLACK : 0);
	logop(m, modify ? 'M' : 'A', t->id, exp, ival, slack, got);
	CHECK(m, got == want, "%s id %u: %d, model %d",
	      modify ? "modify" : "arm", t->id, got, want);
	if (got < 0)
		return;

	if (t->state == ST_PEND)
		pl_remove(m, idx);
	else if (t->state == ST_IDLE)
		m->armed++;
	eff = exp;
	if (slack) {
		eff = tr_entry(&m->c, t->id)->expires;
		if (exp <= m->w)
			CHECK(m, eff == exp, "slack moved a due expiry");
		else if ((exp - m->w) / 8 < TR_LVL_SLOTS)
			/* wheel.c: no rounding below 64 ticks of slack */
			CHECK(m, eff == exp, "slack expiry %llu for %llu at "
			      "W %llu", ULL(eff), ULL(exp), ULL(m->w));
		else
			/*
			 * Rounded up to a granularity g <= timeout / 8: late by
			 * at most g - 1 ticks (the uapi allows timeout / 8).
			 */
			CHECK(m, eff >= exp && eff - exp < (exp - m->w) / 8,
			      "slack expiry %llu for %llu at W %llu",
			      ULL(eff), ULL(exp), ULL(m->w));
	}
	t->gen++;
	t->tick = eff;
	t->ud = ud;
	t->ival = ival;
	t->due_ns = per.due_ns;
	t->ival_ns = per.ival_ns;
	t->periodic = ival != 0;
	t->state = ST_WHEEL;
	if (eff <= m->w)
		pl_push(m, idx);
	if (modify)
		m->st_mod++;
	else
		m->st_armed++;
}

static void do_cancel(struct mdl *m)
{
	u32 idx = below(m, m->k);
	struct mtimer *t = &m->t[idx];
	int want = t->state == ST_IDLE ? -ENOENT : 0;
	int got = tr_cancel(&m->c, t->id);

	logop(m, 'X', t->id, 0, 0, 0, got);
	CHECK(m, got == want, "cancel id %u: %d, model %d", t->id, got, want);
	if (got)
		return;
	if (t->state == ST_PEND)
		pl_remove(m, idx);
	t->state = ST_IDLE;
	m->armed--;
	m->st_cancel++;
}

static void do_cancel_all(struct mdl *m)
{
	u32 n = 0, i, budget;

	/* in pieces of a random budget, as the driver drops its lock */
	do {
		budget = 1 + below(m, 100);
	} while (!tr_cancel_all(&m->c, &budget, &n));
	logop(m, 'Z', 0, 0, 0, 0, n);
	CHECK(m, n == m->armed, "cancel-all: %u, model %u", n, m->armed);
	for (i = 0; i < m->k; i++)
		m->t[i].state = ST_IDLE;
	m->pl_n = 0;
	m->armed = 0;
	m->st_cancel += n;
}

/* A target tick if it is not too far, else a step. */
static u64 near_or_step(struct mdl *m, u64 t)
{
	if (t >= m->now && t - m->now < (1ULL << 26))
		return t;
	return m->now + 1 + below(m, 64);
}

/*
 * The next now_tick: mostly steps and jumps to due timers, some crossings
 * of level boundaries, rarely of a 2^48 boundary or a huge jump (the run
 * would reach the end of time too soon).
 */
static u64 gen_tick(struct mdl *m)
{
	u64 t, g;
	int who;
	u32 r = below(m, 1000);

	if (r < 300) {
		t = m->now + 1 + below(m, 3);
	} else if (r < 450) {
		t = m->now + below(m, 200);
	} else if (r < 550) {
		t = m->now;
	} else if (r < 680) {
		t = min_wheel_tick(m, &who);
		t = near_or_step(m, sat_sub(sat_add(t, below(m, 3)), 1));
	} else if (r < 790) {
		g = gen_gran(m);
		t = sat_sub(sat_add(m->now | (g - 1), 1 + below(m, 3)), 1);
		t = near_or_step(m, t);
	} else if (r < 870) {
		t = near_or_step(m, m->t[below(m, m->k)].tick);
	} else if (r < 990) {
		t = sat_add(m->now, 1ULL << (TR_LVL_BITS * below(m, 5)));
	} else if (r < 996) {
		t = m->now + below(m, min_t(u64, 1ULL << 36,
					    (m->maxtick - m->now) / 256));
	} else if (r < 999) {
		t = sat_sub(sat_add(m->now | FAR_MASK, 1 + below(m, 3)), 1);
		if (t > m->maxtick / 2)
			t = m->now + 1;
	} else {
		/* a fraction of the time left */
		t = m->now + ((m->maxtick - m->now) >> (4 + below(m, 20)));
	}
	return min(max(t, m->now), m->maxtick);
}

static u64 gen_start(struct mdl *m)
{
	u64 far = m->maxtick >> TR_WHEEL_BITS, t, g;

	switch (below(m, 20)) {
	case 0:
		return 0;
	case 1:
		return below(m, 1 << 20);
	case 2:
		if (!far)
			return below(m, m->maxtick);
		t = (1 + below(m, far)) << TR_WHEEL_BITS;
		return t - 1 - below(m, 70);
	case 3:
		g = 1ULL << (TR_LVL_BITS * (1 + below(m, TR_LEVELS - 1)));
		t = g * (1 + below(m, 3)) - 1;
		return min(t - min_t(u64, t, below(m, 70)), m->maxtick);
	case 4:
		return m->maxtick - below(m, 1000);
	case 5:
	case 6:
	case 7:
	case 8:
		return below(m, 1 << 20);
	case 9:
	case 10:
		if (!far)
			return below(m, 1 << 20);
		t = (1 + below(m, far)) << TR_WHEEL_BITS;
		return t - 1 - below(m, 70);
	default:
		return below(m, m->maxtick);
	}
}

static void setup(struct mdl *m)
{
	static const u64 res_list[] = { 1000, 1000000, 1000000000, 1234567,
					4096000 };
	static const u32 ents[] = { 1, 2, 4, 8, 16, 64, 1024 };
	static const u32 ks[] = { 4, 16, 64, 256 };
	size_t size;
	u32 want, tries;

	m->res_ns = res_list[below(m, ARRAY_SIZE(res_list))];
	m->maxtick = U64_MAX / m->res_ns - 1;
	switch (below(m, 4)) {
	case 0:
		m->max_ids = 300;
		break;
	case 1:
		m->max_ids = TR_CHUNK_IDS;
		break;
	case 2:
		m->max_ids = 1U << 22;
		break;
	default:
		m->max_ids = 1 + below(m, 1U << 22);
		break;
	}
	m->entries = ents[below(m, ARRAY_SIZE(ents))];

	want = min_t(u32, ks[below(m, ARRAY_SIZE(ks))], m->max_ids);
	for (tries = 0; m->k < want && tries < 4 * MAXK; tries++) {
		switch (below(m, 5)) {
		case 0:
		case 1:
			pool_add(m, below(m, min_t(u32, m->max_ids, 2 * want)));
			break;
		case 2:
			pool_add(m, below(m, m->max_ids));
			break;
		case 3:
			pool_add(m, m->max_ids - 1 - below(m, 2));
			break;
		default:
			pool_add(m, TR_CHUNK_IDS - 1 + below(m, 2));
			break;
		}
	}
	if (!m->k)
		pool_add(m, 0);

	m->dir = calloc(DIV_ROUND_UP(m->max_ids, TR_CHUNK_IDS), sizeof(void *));
	m->ivdir = calloc(DIV_ROUND_UP(m->max_ids, TR_CHUNK_IDS),
			  sizeof(void *));
	m->shadow = calloc(m->entries, sizeof(*m->shadow));
	tr_cq_layout(m->entries, &m->off, &size);
	m->ring = aligned_alloc(64, (size + 63) & ~63UL);
	if (!m->dir || !m->ivdir || !m->shadow || !m->ring)
		abort();
	memset(m->ring, 0, size);

	m->now = m->w = gen_start(m);
	m->now_ns = m->now * m->res_ns;
	tr_core_init(&m->c, m->max_ids, m->res_ns, m->now, m->dir, m->ivdir,
		     pool_dir(m->max_ids));
	if (tr_model_kern) {
		static const u32 mins[] = { 0, 1, 7, 33, TR_DRAIN_BATCH };

		/* small steps run scalar below kern_min: mix the two */
		m->c.kern = tr_model_kern;
		m->c.kern_min = mins[below(m, ARRAY_SIZE(mins))];
	}
	tr_cq_init(&m->c.cq, m->ring, m->entries, &m->off);
	m->cqes = (struct tr_cqe *)(m->ring + m->off.cqes);
	logop(m, 'S', m->max_ids, m->res_ns, m->now, m->entries, m->k);
}

static void teardown(struct mdl *m)
{
	u32 i, n = DIV_ROUND_UP(m->max_ids, TR_CHUNK_IDS);

	for (i = 0; m->dir && i < n; i++) {
		free(m->dir[i]);
		free(m->ivdir[i]);
	}
	free(m->dir);
	free(m->ivdir);
	if (m->c.blk_page)
		pool_free(&m->c);
	free(m->shadow);
	free(m->ring);
}

/* An op, or the consumer, alone or within a pass. */
static void step_op(struct mdl *m)
{
	u32 r = below(m, 100);

	if (r < 30)
		do_arm(m, false);
	else if (r < 55)
		do_arm(m, true);
	else if (r < 75)
		do_cancel(m);
	else if (r < 77)
		do_cancel_all(m);
	else
		do_consume(m);
}

int tr_model_run(struct tr_src *src, u32 max_ops, struct tr_model_res *res)
{
	struct mdl *m = calloc(1, sizeof(*m));
	volatile int ret = 0;
	u32 r;

	if (!m)
		abort();
	memset(res, 0, sizeof(*res));
	m->src = src;
	m->res = res;
	if (setjmp(m->jb)) {
		ret = -1;
		goto out;
	}
	setup(m);
	check_state(m);
	for (m->step = 1; m->step <= max_ops && !src->done; m->step++) {
		r = below(m, 100);
		if (r < 20)
			do_arm(m, false);
		else if (r < 34)
			do_arm(m, true);
		else if (r < 46)
			do_cancel(m);
		else if (r < 47)
			do_cancel_all(m);
		else if (r < 72)
			do_pass(m, gen_tick(m), below(m, 4) ? U32_MAX :
				1 + below(m, 10), false);
		else if (r < 74)
			do_pass(m, gen_tick(m), U32_MAX, true);
		else
			do_consume(m);
		check_state(m);
		res->ops++;
	}
out:
	if (getenv("TR_MODEL_DEBUG"))
		fprintf(stderr, "now %llu maxtick %llu armed %u pending %u "
			"ids %u res %llu entries %u\n", ULL(m->now),
			ULL(m->maxtick), m->armed, m->pl_n, m->k,
			ULL(m->res_ns), m->entries);
	teardown(m);
	free(m);
	return ret;
}
