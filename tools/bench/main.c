// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the same timer workloads through /dev/timerring (by
 * ioctl, by IORING_OP_URING_CMD and through its SQ ring), io_uring
 * timeouts (liburing) and timerfd + epoll, in one run, so that the ratios
 * between them hold on a noisy machine (or under QEMU TCG, where
 * absolute times mean little).
 *
 * Workloads (see tools/bench/README.md for the exact definitions):
 *   arm, modify, cancel	ns/op with --live timers, per batch size
 *   herd			--live timers due at the same instant
 *   spread			--live timers spread over --spread-s seconds
 *   conn			idle + retransmit timer per connection
 *   memory			bytes per armed timer
 *   shards			timerring of 1 and 2 shards: concurrent
 *				submitters, herd, 65536-op batches
 *
 * Results: one JSON document (--json FILE, or stdout between the lines
 * "##### BENCH-JSON-BEGIN" / "##### BENCH-JSON-END"), progress on stderr.
 * The files: bench.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include "timerring.h"
#include "bench.h"

struct bench_cfg cfg = {
	.live = 1 << 20,
	.batches = { 256, 1024, 4096, 8192 },
	.nbatches = 4,
	.conn_batch = 1024,
	.sample = 32,
	.conn_sample = 16,
	.spread_s = 10,
	.conn_s = 2,
	.cq_entries = 65536,
	/* the SQ ring without warm-up: for its own runs (RESULTS.md) */
	.systems = ((1U << NSYS) - 1) & ~(1U << SYS_SQCOLD),
	.workloads = "all",
	.seed = 12345,
};

unsigned int N;
unsigned int NT;
int64_t *far_exp;
int64_t *far_exp2;
uint32_t *perm;
int64_t *lat;
uint32_t *conn_pick;
unsigned int conn_npick;
uint8_t *rtx_armed;
double arm_ns_est[NSYS];

static void usage(void)
{
	fprintf(stderr,
"usage: timerring-bench [options]\n"
"  --live N          live timers per workload (default 1048576)\n"
"  --tfd-max N       cap of timerfd timers (default: RLIMIT_NOFILE)\n"
"  --batches LIST    batch sizes, e.g. 256,1024,4096,8192\n"
"  --conn-batch N    batch size of herd/spread/conn/memory (1024)\n"
"  --sample N        io_uring modify/cancel ops measured at N live (32)\n"
"  --conn-sample N   io_uring conn events per batch (16)\n"
"  --spread-s S      spread of the spread workload (10)\n"
"  --conn-s S        duration of the conn workload (2)\n"
"  --conn-rate R     conn events/s, 0 = as fast as possible (0)\n"
"  --cq-entries N    timerring CQ ring size (65536)\n"
"  --shards N        shards of the timerring instances without an SQ ring\n"
"                    (0: one; the shards workload sets its own)\n"
"  --systems LIST    timerring,io_uring,timerfd,timerring_uring_cmd,\n"
"                    timerring_sq,timerring_sqpoll,timerring_warm,\n"
"                    timerring_sq_cold (all but timerring_sq_cold)\n"
"  --workloads LIST  ops,herd,spread,conn,shards (all; memory comes with\n"
"                    herd)\n"
"  --label TEXT      free text stored in the JSON (e.g. the machine)\n"
"  --json FILE       write the JSON there (default: stdout, marked)\n"
"  --summary         print a side-by-side table of the systems at the end\n"
"  --quick           do not wait for free memory to settle between phases\n"
"                    (bytes per timer from slab and module counts only)\n");
	exit(2);
}

static void parse_list(const char *s)
{
	char *dup = strdup(s), *tok, *save = NULL;

	cfg.nbatches = 0;
	for (tok = strtok_r(dup, ",", &save); tok && cfg.nbatches < 8;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned int b = strtoul(tok, NULL, 0);

		if (!b || b > TIMERRING_BATCH_MAX || b > 32768)
			die("bad batch size %s", tok);
		cfg.batches[cfg.nbatches++] = b;
	}
	free(dup);
}

/* The systems named in the comma list @s. */
static unsigned int parse_systems(const char *s)
{
	char *dup = strdup(s), *tok, *save = NULL;
	unsigned int mask = 0, k;

	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < NSYS; k++)
			if (!strcmp(tok, backends[k].name))
				break;
		if (k == NSYS)
			die("unknown system %s", tok);
		mask |= 1U << k;
	}
	free(dup);
	return mask;
}

/* Whether a timerring instance with an SQ ring can be set up here. */
static bool sq_supported(void)
{
	struct timerring_params p;
	struct timerring tr;

	memset(&p, 0, sizeof(p));
	p.max_timers = 64;
	p.clockid = CLOCK_MONOTONIC;
	p.numa_node = TIMERRING_NODE_CURRENT;
	p.flags = TIMERRING_SETUP_SQ;
	if (timerring_open(&tr, &p) < 0)
		return false;
	timerring_close(&tr);
	return true;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "live", 1, 0, 'n' }, { "tfd-max", 1, 0, 'T' },
		{ "batches", 1, 0, 'b' }, { "conn-batch", 1, 0, 'B' },
		{ "sample", 1, 0, 's' }, { "conn-sample", 1, 0, 'S' },
		{ "spread-s", 1, 0, 'p' }, { "conn-s", 1, 0, 'c' },
		{ "conn-rate", 1, 0, 'r' }, { "cq-entries", 1, 0, 'q' },
		{ "shards", 1, 0, 'H' },
		{ "systems", 1, 0, 'y' }, { "workloads", 1, 0, 'w' },
		{ "label", 1, 0, 'l' }, { "json", 1, 0, 'j' },
		{ "seed", 1, 0, 'e' }, { "summary", 0, 0, 'M' },
		{ "quick", 0, 0, 'Q' },
		{ "help", 0, 0, 'h' }, { 0 }
	};
	bool avail[NSYS];
	const char *why[NSYS];
	unsigned int live[NSYS];
	struct io_uring probe;
	unsigned int i, k;
	int o, fd;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'n': cfg.live = strtoul(optarg, NULL, 0); break;
		case 'T': cfg.tfd_max = strtoul(optarg, NULL, 0); break;
		case 'b': parse_list(optarg); break;
		case 'B': cfg.conn_batch = strtoul(optarg, NULL, 0); break;
		case 's': cfg.sample = strtoul(optarg, NULL, 0); break;
		case 'S': cfg.conn_sample = strtoul(optarg, NULL, 0); break;
		case 'p': cfg.spread_s = atof(optarg); break;
		case 'c': cfg.conn_s = atof(optarg); break;
		case 'r': cfg.conn_rate = atof(optarg); break;
		case 'q': cfg.cq_entries = strtoul(optarg, NULL, 0); break;
		case 'H': cfg.shards = strtoul(optarg, NULL, 0); break;
		case 'y': cfg.systems = parse_systems(optarg); break;
		case 'w': cfg.workloads = optarg; break;
		case 'l': cfg.label = optarg; break;
		case 'j': cfg.json = optarg; break;
		case 'e': cfg.seed = strtoul(optarg, NULL, 0); break;
		case 'M': cfg.summary = true; break;
		case 'Q': cfg.quick = true; break;
		default: usage();
		}
	}
	if (cfg.live < 64 || cfg.live > (1U << 28))
		die("--live out of range");
	if (!cfg.sample)
		cfg.sample = 1;
	if (cfg.conn_batch < 2 || cfg.conn_batch > 8192)
		die("--conn-batch out of range");
	N = cfg.live;
	rnd_seed(cfg.seed);
	setvbuf(stderr, NULL, _IOLBF, 0);

	/* Which systems work here. */
	for (k = 0; k < NSYS; k++) {
		avail[k] = true;
		why[k] = "";
	}
	fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		avail[SYS_TR] = false;
		why[SYS_TR] = "no " TIMERRING_DEV_PATH " (module not loaded)";
	} else {
		close(fd);
	}
	if (io_uring_queue_init(8, &probe, 0) < 0) {
		avail[SYS_UR] = false;
		why[SYS_UR] = "io_uring_setup failed";
	} else {
		io_uring_queue_exit(&probe);
	}
	if (!avail[SYS_TR] || !avail[SYS_UR]) {
		avail[SYS_UCMD] = false;
		why[SYS_UCMD] = avail[SYS_TR] ? why[SYS_UR] : why[SYS_TR];
	}
	avail[SYS_TRWARM] = avail[SYS_TR];
	why[SYS_TRWARM] = why[SYS_TR];
	if (!avail[SYS_TR] || !sq_supported()) {
		avail[SYS_SQ] = avail[SYS_SQPOLL] = avail[SYS_SQCOLD] = false;
		why[SYS_SQ] = avail[SYS_TR] ?
			"no TIMERRING_SETUP_SQ (module without an SQ ring)" :
			why[SYS_TR];
		why[SYS_SQPOLL] = why[SYS_SQCOLD] = why[SYS_SQ];
	}
	NT = cfg.tfd_max && cfg.tfd_max < N ? cfg.tfd_max : N;
	if (cfg.systems & (1U << SYS_TFD)) {
		unsigned int cap = tfd_capacity(NT);

		if (cap < NT)
			NT = cap;
		else if (NT < N)
			tfd_limit_note = "capped by --tfd-max";
		NT &= ~1U;
	}
	for (k = 0; k < NSYS; k++)
		if (!(cfg.systems & (1U << k))) {
			avail[k] = false;
			why[k] = "not selected";
		}

	/* Shared arrays, touched now so that they stay out of the deltas. */
	far_exp = xcalloc(N, sizeof(*far_exp));
	far_exp2 = xcalloc(N, sizeof(*far_exp2));
	perm = xcalloc(N, sizeof(*perm));
	lat = xcalloc(N, sizeof(*lat));
	rtx_armed = xcalloc(N / 2 + 1, sizeof(*rtx_armed));
	tfd_alloc(NT);
	conn_npick = N;
	conn_pick = xcalloc(conn_npick, sizeof(*conn_pick));
	for (i = 0; i < N; i++) {
		far_exp[i] = FAR_MIN_NS + rnd() % FAR_SPAN_NS;
		far_exp2[i] = FAR_MIN_NS + rnd() % FAR_SPAN_NS;
		perm[i] = i;
		conn_pick[i] = rnd() % (N / 2);
	}
	for (i = N - 1; i > 0; i--) {
		uint32_t j = rnd() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}

	json_open();
	log_msg("live %u, timerfd %u %s", N, NT, tfd_limit_note);
	for (k = 0; k < NSYS; k++)
		if (avail[sys_order[k]])
			log_msg("system %s", backends[sys_order[k]].name);

	/* Per batch size, the batched systems interleaved. */
	if (want("ops")) {
		for (k = 0; k < cfg.nbatches; k++) {
			log_msg("ops, batch %u", cfg.batches[k]);
			run_ops(cfg.batches[k], avail);
		}
	} else {
		/* margins of the expiry workloads need an arm estimate */
		for (k = 0; k < NSYS; k++)
			arm_ns_est[k] = 20000;
	}
	if (avail[SYS_TFD]) {
		log_msg("timerfd: %u timers", NT);
		run_timerfd(avail);
	}
	/* Then each workload, the systems one after the other. */
	for (i = 0; i < 3; i++) {
		static const char *const wl[] = { "herd", "spread", "conn" };
		unsigned int need = i < 2 ? BE_EXPIRY : BE_CONN;

		if (!want(wl[i]))
			continue;
		if (i == 0)
			log_msg("herd + memory");
		else if (i == 1)
			log_msg("spread over %g s", cfg.spread_s);
		else
			log_msg("connection mix");
		for (k = 0; k < NSYS; k++) {
			int sys = sys_order[k];

			if (sys != SYS_TFD && avail[sys] &&
			    (backends[sys].flags & need))
				run_expiry(sys, wl[i]);
		}
	}

	if (want("shards") && avail[SYS_TR]) {
		log_msg("shards: submitters, herd, big batch");
		run_shards();
	}

	for (k = 0; k < NSYS; k++)
		live[k] = k == SYS_TFD ? NT : N;
	json_write(avail, why, live, tfd_limit_note);
	if (cfg.summary)
		sum_print(avail);
	log_msg("done");
	return 0;
}
