// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: kernel memory accounting, from /proc/meminfo and
 * /proc/slabinfo snapshots.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void slab_read(struct memsnap *m)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");
	int cap = 0;

	m->nslab = 0;
	m->slabs = NULL;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		long long active, num, objsize;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %lld %lld %lld", name, &active, &num,
			   &objsize) != 4)
			continue;
		if (m->nslab == cap) {
			cap = cap ? cap * 2 : 256;
			m->slabs = realloc(m->slabs, cap * sizeof(*m->slabs));
			if (!m->slabs)
				die("out of memory");
		}
		snprintf(m->slabs[m->nslab].name, sizeof(m->slabs[0].name),
			 "%s", name);
		m->slabs[m->nslab].bytes = num * objsize;
		m->nslab++;
	}
	fclose(f);
}

/* Active objects of slab cache @name, -1 if unknown. */
long long slab_active(const char *name)
{
	char line[512], n[64];
	long long active = -1, a;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", n, &a) == 2 && !strcmp(n, name)) {
			active = a;
			break;
		}
	fclose(f);
	return active;
}

void mem_snap(struct memsnap *m)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	memset(m, 0, sizeof(*m));
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			long long v;
			char k[64];

			if (sscanf(line, "%63[^:]: %lld", k, &v) != 2)
				continue;
			v *= 1024;
			if (!strcmp(k, "MemFree"))
				m->memfree = v;
			else if (!strcmp(k, "Slab"))
				m->slab = v;
			else if (!strcmp(k, "SUnreclaim"))
				m->sunreclaim = v;
			else if (!strcmp(k, "VmallocUsed"))
				m->vmalloc = v;
			else if (!strcmp(k, "PageTables"))
				m->pagetables = v;
			else if (!strcmp(k, "Percpu"))
				m->percpu = v;
		}
		fclose(f);
	}
	slab_read(m);
}

void mem_free(struct memsnap *m)
{
	free(m->slabs);
	m->slabs = NULL;
}

/* Wait until freed kernel memory (deferred frees, RCU) settles. */
void mem_settle(void)
{
	struct memsnap m;
	long long last = -1;
	int stable = 0, i;

	for (i = 0; i < 150 && stable < 3 && !cfg.quick; i++) {
		mem_snap(&m);
		mem_free(&m);
		if (last >= 0 && llabs(m.memfree - last) < (1LL << 20))
			stable++;
		else
			stable = 0;
		last = m.memfree;
		msleep(200);
	}
}

/* Memory record: deltas between two snapshots, per timer. */
void rec_mem(int sys, unsigned int n, struct memsnap *a, struct memsnap *b,
	     double module_bytes)
{
	char top[512] = "";
	int i, j, k, used = 0;
	struct { int idx; long long d; } best[4] = { { -1, 0 } };

	for (i = 0; i < b->nslab; i++) {
		long long before = 0, d;

		for (j = 0; j < a->nslab; j++)
			if (!strcmp(a->slabs[j].name, b->slabs[i].name)) {
				before = a->slabs[j].bytes;
				break;
			}
		d = b->slabs[i].bytes - before;
		for (k = 0; k < 3; k++) {
			if (best[k].idx < 0 || d > best[k].d) {
				memmove(&best[k + 1], &best[k],
					(2 - k) * sizeof(best[0]));
				best[k].idx = i;
				best[k].d = d;
				break;
			}
		}
	}
	for (k = 0; k < 3; k++) {
		if (best[k].idx < 0 || best[k].d <= 0)
			continue;
		used += snprintf(top + used, sizeof(top) - used, "%s%s %.1f",
				 used ? ", " : "", b->slabs[best[k].idx].name,
				 (double)best[k].d / n);
	}
	rec_begin(sys, "memory", 0);
	rec_num("timers", n);
	rec_num("bytes_per_timer", (double)(a->memfree - b->memfree) / n);
	rec_num("slab_bytes_per_timer", (double)(b->slab - a->slab) / n);
	rec_num("vmalloc_bytes_per_timer", (double)(b->vmalloc - a->vmalloc) / n);
	rec_num("pagetable_bytes_per_timer",
		(double)(b->pagetables - a->pagetables) / n);
	if (module_bytes > 0)
		rec_num("module_bytes_per_timer", module_bytes / n);
	rec_str("slab_top", b->nslab ? top : "no /proc/slabinfo");
	rec_end();
}

