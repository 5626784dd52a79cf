// SPDX-License-Identifier: GPL-2.0
/*
 * timerring ring memory and mmap.
 *
 * The completion ring (layout in cq.c) lives in order-0 pages allocated on
 * the instance's NUMA node and accounted to the caller's memcg, mapped
 * contiguously into the kernel with vmap() and into userspace page by page
 * with vm_insert_page(). A 4096-entry ring takes 17 pages (68 KiB).
 *
 * The only mapping is at offset 0 (timerring_params.mmap_offset), of at
 * most mmap_size bytes; it cannot grow (VM_DONTEXPAND), is not dumped, and
 * can never be made executable (VM_MAYEXEC is cleared, so mprotect() with
 * PROT_EXEC fails with EACCES). The pages are charged to the opener's
 * budget by SETUP (instance.c).
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "instance.h"

int tr_ring_alloc(struct tr_instance *inst, size_t bytes)
{
	unsigned int i, nr = DIV_ROUND_UP(bytes, PAGE_SIZE);
	struct page **pages;

	pages = kvcalloc(nr, sizeof(*pages), TR_GFP);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		pages[i] = alloc_pages_node(inst->node, TR_GFP | __GFP_ZERO, 0);
		if (!pages[i])
			goto err;
	}
	inst->ring = vmap(pages, nr, VM_MAP, PAGE_KERNEL);
	if (!inst->ring)
		goto err;
	inst->ring_pages = pages;
	inst->ring_nr_pages = nr;
	inst->ring_bytes = (size_t)nr * PAGE_SIZE;
	return 0;
err:
	while (i--)
		__free_page(pages[i]);
	kvfree(pages);
	return -ENOMEM;
}

void tr_ring_free(struct tr_instance *inst)
{
	unsigned int i;

	if (!inst->ring_pages)
		return;
	vunmap(inst->ring);
	for (i = 0; i < inst->ring_nr_pages; i++)
		__free_page(inst->ring_pages[i]);
	kvfree(inst->ring_pages);
	inst->ring_pages = NULL;
	inst->ring = NULL;
}

int tr_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct tr_instance *inst = file->private_data;
	unsigned long len = vma->vm_end - vma->vm_start;
	unsigned int i;
	int ret;

	if (!tr_ready(inst))
		return -EINVAL;
	if (vma->vm_pgoff || len > inst->ring_bytes)
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	/* a private copy of head would never reach the kernel */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;

	tr_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	tr_vm_flags_clear(vma, VM_MAYEXEC);
	for (i = 0; i < len >> PAGE_SHIFT; i++) {
		ret = vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
				     inst->ring_pages[i]);
		if (ret)
			return ret;
	}
	return 0;
}
