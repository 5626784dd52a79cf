// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libtimerring: userspace access to /dev/timerring.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "timerring.h"

static int tr_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && errno == EINTR && cmd != TIMERRING_IOC_WAIT);
	return ret < 0 ? -errno : ret;
}

static void *tr_ptr(void *base, __u32 off)
{
	return (char *)base + off;
}

/* The view of the ring at @ptr of the layout of @p. */
static void tr_map_cq(struct timerring_cq *cq, void *ptr,
		      const struct timerring_params *p)
{
	const struct timerring_cq_offsets *o = &p->cq_off;

	cq->khead = tr_ptr(ptr, o->head);
	cq->ktail = tr_ptr(ptr, o->tail);
	cq->kring_mask = tr_ptr(ptr, o->ring_mask);
	cq->kring_entries = tr_ptr(ptr, o->ring_entries);
	cq->koverflow = tr_ptr(ptr, o->overflow);
	cq->cqes = tr_ptr(ptr, o->cqes);
	cq->uflags = tr_ptr(ptr, o->flags);
	cq->kflags = tr_ptr(ptr, o->kflags);
	cq->koverflow_pending = tr_ptr(ptr, o->overflow_pending);
	/* Never trust the shared copies: userspace may scribble on them. */
	cq->ring_entries = p->cq_entries;
	cq->ring_mask = p->cq_entries - 1;
}

static int tr_map(struct timerring *tr)
{
	const struct timerring_params *p = &tr->params;
	unsigned int shards = p->shards ? p->shards : 1, k;
	void *ptr;

	if (!p->mmap_size || shards > TIMERRING_SHARDS_MAX ||
	    (shards > 1 && p->cq_stride < p->cq_off.cqes) ||
	    (shards - 1) * p->cq_stride + p->cq_off.cqes +
		(__u64)p->cq_entries * sizeof(struct io_uring_cqe) >
		p->mmap_size)
		return -EPROTO;
	if ((p->flags & TIMERRING_SETUP_SQ) &&
	    (!p->sq_entries ||
	     p->sq_off.ops + (__u64)p->sq_entries *
		sizeof(struct timerring_op) > p->mmap_size))
		return -EPROTO;
	if (shards > 1) {
		tr->cqs = calloc(shards, sizeof(*tr->cqs));
		if (!tr->cqs)
			return -ENOMEM;
		tr->nr_cqs = shards;
	}

	ptr = mmap(NULL, p->mmap_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_POPULATE, tr->fd, (off_t)p->mmap_offset);
	if (ptr == MAP_FAILED) {
		int err = errno;

		free(tr->cqs);
		tr->cqs = NULL;
		tr->nr_cqs = 0;
		return -err;
	}

	tr->ring_ptr = ptr;
	tr->ring_sz = p->mmap_size;
	tr_map_cq(&tr->cq, ptr, p);
	for (k = 0; k < tr->nr_cqs; k++)
		tr_map_cq(&tr->cqs[k], (char *)ptr + k * p->cq_stride, p);
	if (p->flags & TIMERRING_SETUP_SQ) {
		const struct timerring_sq_offsets *s = &p->sq_off;

		tr->sq.khead = tr_ptr(ptr, s->head);
		tr->sq.ktail = tr_ptr(ptr, s->tail);
		tr->sq.kflags = tr_ptr(ptr, s->flags);
		tr->sq.kdropped = tr_ptr(ptr, s->dropped);
		tr->sq.ops = tr_ptr(ptr, s->ops);
		tr->sq.ring_entries = p->sq_entries;
		tr->sq.ring_mask = p->sq_entries - 1;
		tr->sq.tail = *tr->sq.ktail;
	}
	return 0;
}

int timerring_open_fd(struct timerring *tr, int fd,
		      struct timerring_params *p)
{
	struct timerring_params defp;
	int ret;

	memset(tr, 0, sizeof(*tr));
	tr->fd = -1;
	if (!p) {
		memset(&defp, 0, sizeof(defp));
		defp.max_timers = TIMERRING_LIB_DEFAULT_MAX_TIMERS;
		defp.clockid = CLOCK_MONOTONIC;
		defp.numa_node = TIMERRING_NODE_CURRENT;
		p = &defp;
	}

	ret = tr_ioctl(fd, TIMERRING_IOC_SETUP, p);
	if (ret < 0)
		return ret;

	tr->fd = fd;
	tr->params = *p;
	ret = tr_map(tr);
	if (ret < 0) {
		tr->fd = -1;
		return ret;
	}
	return 0;
}

int timerring_open(struct timerring *tr, struct timerring_params *p)
{
	int fd, ret;

	fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		memset(tr, 0, sizeof(*tr));
		tr->fd = -1;
		return ret;
	}
	ret = timerring_open_fd(tr, fd, p);
	if (ret < 0)
		close(fd);
	return ret;
}

void timerring_close(struct timerring *tr)
{
	if (tr->ring_ptr)
		munmap(tr->ring_ptr, tr->ring_sz);
	free(tr->cqs);
	if (tr->fd >= 0)
		close(tr->fd);
	memset(tr, 0, sizeof(*tr));
	tr->fd = -1;
}

int timerring_sq_enter(struct timerring *tr)
{
	return tr_ioctl(tr->fd, TIMERRING_IOC_SQ_ENTER, NULL);
}

int timerring_sq_submit(struct timerring *tr)
{
	if (!tr->sq.ops)
		return -EINVAL;
	if (!timerring_sq_flush(tr) || !timerring_sq_needs_enter(tr))
		return 0;
	return timerring_sq_enter(tr);
}

int timerring_submit(struct timerring *tr, const struct timerring_op *ops,
		     unsigned int nr, __s32 *results, unsigned int flags,
		     unsigned int *done, unsigned int *failed)
{
	struct timerring_submit s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.ops = (__u64)(uintptr_t)ops;
	s.results = (__u64)(uintptr_t)results;
	s.nr = nr;
	s.flags = flags;

	ret = tr_ioctl(tr->fd, TIMERRING_IOC_SUBMIT, &s);
	if (ret < 0) {
		s.done = 0;
		s.failed = 0;
	}
	if (done)
		*done = s.done;
	if (failed)
		*failed = s.failed;
	return ret < 0 ? ret : (int)s.done;
}

int timerring_wait(struct timerring *tr, unsigned int min_complete,
		   int64_t timeout_ns)
{
	struct timerring_wait w;
	int ret;

	memset(&w, 0, sizeof(w));
	w.min_complete = min_complete;
	w.timeout_ns = timeout_ns;

	ret = tr_ioctl(tr->fd, TIMERRING_IOC_WAIT, &w);
	return ret < 0 ? ret : (int)w.ready;
}

int timerring_register_eventfd(struct timerring *tr, int efd)
{
	__s32 v = efd;

	return tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v);
}

int timerring_unregister_eventfd(struct timerring *tr)
{
	return timerring_register_eventfd(tr, -1);
}

int timerring_stats(struct timerring *tr, struct timerring_stats *st)
{
	memset(st, 0, sizeof(*st));
	return tr_ioctl(tr->fd, TIMERRING_IOC_STATS, st);
}

int timerring_version(int fd, struct timerring_version *v)
{
	int ret, own = -1;

	if (fd < 0) {
		own = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
		if (own < 0)
			return -errno;
		fd = own;
	}
	memset(v, 0, sizeof(*v));
	ret = tr_ioctl(fd, TIMERRING_IOC_VERSION, v);
	if (own >= 0)
		close(own);
	return ret;
}

uint64_t timerring_now(const struct timerring *tr)
{
	struct timespec ts;

	if (clock_gettime((clockid_t)tr->params.clockid, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
