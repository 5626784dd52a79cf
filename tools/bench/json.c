// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the records, written as one JSON document (and as
 * progress lines on stderr), and the --summary table.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "bench.h"

static FILE *js;
static char *js_buf;
static size_t js_len;
static int js_nrec;
static int js_nfield;

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/*
 * The side-by-side of --summary: per system, arm / re-arm / cancel ns per
 * op at the first batch size, expiry ns per timer of the herd, and bytes
 * per timer (the module's own count for timerring, slab growth for the
 * others), picked from the records as they are made.
 */
enum { SUM_ARM, SUM_MODIFY, SUM_CANCEL, SUM_EXPIRE, SUM_BYTES, NSUM };
static const struct {
	const char *wl, *key, *title;
} sum_col[NSUM] = {
	{ "arm", "ns_per_op", "arm ns" },
	{ "modify", "ns_per_op", "re-arm ns" },
	{ "cancel", "ns_per_op", "cancel ns" },
	{ "herd", "ns_per_timer", "expire ns" },
	{ "memory", "slab_bytes_per_timer", "bytes/timer" },
};
static double sum_val[NSYS][NSUM];
static int rec_sys;
static const char *rec_wl;
static unsigned int rec_batch;

static void sum_note(const char *k, double v)
{
	unsigned int c;

	for (c = 0; c < NSUM; c++) {
		if (strcmp(rec_wl, sum_col[c].wl))
			continue;
		/* timerring counts its own memory exactly */
		if (c == SUM_BYTES && !strcmp(k, "module_bytes_per_timer"))
			sum_val[rec_sys][c] = v;
		else if (!strcmp(k, sum_col[c].key) && !sum_val[rec_sys][c] &&
			 (c >= SUM_EXPIRE || rec_batch == cfg.batches[0] ||
			  !(backends[rec_sys].flags & BE_BATCHED)))
			sum_val[rec_sys][c] = v;
	}
}

void sum_print(const bool *avail)
{
	unsigned int c;
	int k;

	printf("\n%u timers through timerring (batches of %u), io_uring "
	       "IORING_OP_TIMEOUT and timerfd:\n", cfg.live, cfg.batches[0]);
	printf("%-24s", "");
	for (c = 0; c < NSUM; c++)
		printf("%12s", sum_col[c].title);
	printf("\n");
	for (k = 0; k < NSYS; k++) {
		if (!avail[k])
			continue;
		printf("%-24s", backends[k].name);
		for (c = 0; c < NSUM; c++)
			if (sum_val[k][c] > 0)
				printf("%12.0f", sum_val[k][c]);
			else
				printf("%12s", "-");
		printf("\n");
	}
	for (k = 1; k < NSYS; k++) {
		char title[32];

		if (!avail[k] || !avail[SYS_TR])
			continue;
		snprintf(title, sizeof(title), "%s / timerring", backends[k].name);
		printf("%-24s", title);
		for (c = 0; c < NSUM; c++) {
			double a = sum_val[k][c], b = sum_val[SYS_TR][c];

			if (a > 0 && b > 0)
				printf("%11.1fx", a / b);
			else
				printf("%12s", "-");
		}
		printf("\n");
	}
	printf("The CPU is emulated (QEMU TCG): the absolute figures mean little, only the ratios count.\n");
}

void rec_begin(int sys, const char *wl, unsigned int batch)
{
	rec_sys = sys;
	rec_wl = wl;
	rec_batch = batch;
	fprintf(js, "%s\n    {", js_nrec++ ? "," : "");
	js_nfield = 0;
	fprintf(js, "\"system\": \"%s\", \"workload\": \"%s\", \"batch\": %u",
		backends[sys].name, wl, batch);
	js_nfield = 3;
	fprintf(stderr, "#   %-9s %-14s b=%-5u", backends[sys].name, wl, batch);
}

void rec_num(const char *k, double v)
{
	sum_note(k, v);
	fprintf(js, ", \"%s\": %.10g", k, v);
	fprintf(stderr, " %s=%.4g", k, v);
}

void rec_str(const char *k, const char *v)
{
	fprintf(js, ", \"%s\": ", k);
	json_str(js, v);
	fprintf(stderr, " %s=%s", k, v);
}

void rec_end(void)
{
	fputc('}', js);
	fputc('\n', stderr);
}
static void header(FILE *f, const unsigned int *live, const char *tfd_limit)
{
	struct utsname u;
	char model[256] = "unknown", line[512], date[64];
	time_t t = time(NULL);
	FILE *c = fopen("/proc/cpuinfo", "r");
	unsigned int i;

	uname(&u);
	if (c) {
		while (fgets(line, sizeof(line), c)) {
			char *p = strchr(line, ':');

			if (!strncmp(line, "model name", 10) && p) {
				snprintf(model, sizeof(model), "%s", p + 2);
				model[strcspn(model, "\n")] = 0;
				break;
			}
		}
		fclose(c);
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(f, "{\n  \"tool\": \"timerring-bench\",\n  \"format\": 1,\n");
	fprintf(f, "  \"date\": \"%s\",\n  \"kernel\": ", date);
	json_str(f, u.release);
	fprintf(f, ",\n  \"machine\": ");
	json_str(f, model);
	fprintf(f, ",\n  \"cpus\": %ld,\n  \"label\": ", sysconf(_SC_NPROCESSORS_ONLN));
	json_str(f, cfg.label ? cfg.label : "");
	fprintf(f, ",\n  \"config\": {\"live\": %u, \"timerfd_live\": %u, "
		"\"timerfd_limit\": \"%s\", \"batches\": [", live[SYS_TR],
		live[SYS_TFD], tfd_limit);
	for (i = 0; i < cfg.nbatches; i++)
		fprintf(f, "%s%u", i ? ", " : "", cfg.batches[i]);
	fprintf(f, "], \"conn_batch\": %u, \"sample\": %u, \"conn_sample\": %u, "
		"\"spread_s\": %g, \"conn_s\": %g, \"conn_rate\": %g, "
		"\"cq_entries\": %u, \"shards\": %u},\n",
		cfg.conn_batch, cfg.sample, cfg.conn_sample, cfg.spread_s,
		cfg.conn_s, cfg.conn_rate, cfg.cq_entries, cfg.shards);
}

void json_open(void)
{
	js = open_memstream(&js_buf, &js_len);
	if (!js)
		die("open_memstream: %m");
}

/* The document: header, systems, then the records made so far. */
void json_write(const bool *avail, const char *const *why,
		const unsigned int *live, const char *tfd_limit)
{
	FILE *out;
	int k;

	fclose(js);
	if (cfg.json) {
		out = fopen(cfg.json, "w");
		if (!out)
			die("%s: %m", cfg.json);
	} else {
		out = stdout;
		printf("##### BENCH-JSON-BEGIN\n");
	}
	header(out, live, tfd_limit);
	fprintf(out, "  \"systems\": {");
	for (k = 0; k < NSYS; k++) {
		fprintf(out, "%s\n    \"%s\": {\"available\": %s, \"live\": %u, "
			"\"why\": ", k ? "," : "", backends[k].name,
			avail[k] ? "true" : "false", live[k]);
		json_str(out, why[k]);
		fputc('}', out);
	}
	fprintf(out, "\n  },\n  \"results\": [%s\n  ]\n}\n", js_buf ? js_buf : "");
	if (cfg.json)
		fclose(out);
	else
		printf("##### BENCH-JSON-END\n");
}
