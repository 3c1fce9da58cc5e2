// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: the mappings of a container, and their pinning.
 *
 * Theory of operation
 *
 * The mappings live in an rb-tree ordered by IOVA; they never overlap, so
 * "the first mapping that overlaps [start, last]" is well defined and is the
 * one lookup everything uses.  Ranges are carried as (start, last) with
 * last inclusive, or as offsets from a mapping's start, never as an end
 * that could wrap past the top of the 64-bit space.
 *
 * With no domain, a mapping is only recorded: emulated devices pin what they
 * use (emulated.c).  With domains, every page of every mapping is pinned
 * and mapped into every domain; pinning and its accounting in locked_vm
 * are pages.c's.  Pinning goes in batches (VFIO_DIRTY_PIN_BATCH);
 * physically consecutive pages are collected into a run, even across
 * batches, and each run is one iommu_map() per domain, so that the IOMMU
 * driver can use large pages where the memory allows.  With
 * disable_hugepages set when a mapping is pinned, every batch and every run
 * is one page.  The physical address of a pinned page is not stored:
 * unmapping reads it back from the first domain, after the other domains
 * have dropped the range, and unpins it once that domain has too.  The
 * pfns of VM_PFNMAP memory, which pages.c finds without a pin, make runs
 * as pages do.
 *
 * A failed map or replay gives back everything it pinned, mapped and
 * counted.  All of it runs under the container's lock.
 *
 * Updating a vaddr (VFIO_UPDATE_VADDR).  A process that hands its memory
 * over to another (live update) first invalidates the vaddr of mappings,
 * then maps the same memory again, possibly in a new process, and gives
 * each mapping its new vaddr.  In between, what is pinned stays pinned and
 * mapped in the domains, and counted; only pinning through the vaddr is
 * barred, which the callers ensure (no group attaches, no emulated group is
 * present).  The new vaddr's owner becomes the mapping's owner and pays for
 * the pages the mapping counts (vfio_dirty_change_owner()).
 */
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/rbtree.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "private.h"

/*
 * An unmap waits for the devices to unpin what they hold in the range; a
 * device that still holds pages after this many requests is broken.
 */
#define VFIO_DIRTY_UNMAP_RETRIES	10

/**
 * vfio_dirty_dma_first() - the lowest mapping overlapping [@start, @last]
 * @iommu: the container, locked
 * @start: first byte
 * @last: last byte, inclusive
 *
 * Return: the mapping, or NULL.
 */
struct vfio_dirty_dma *vfio_dirty_dma_first(struct vfio_dirty_iommu *iommu,
					    dma_addr_t start, dma_addr_t last)
{
	struct rb_node *node = iommu->dmas.rb_node;
	struct vfio_dirty_dma *found = NULL;

	lockdep_assert_held(&iommu->lock);
	while (node) {
		struct vfio_dirty_dma *dma = rb_entry(node, struct vfio_dirty_dma,
						      node);

		if (dma->iova + (dma->size - 1) < start) {
			node = node->rb_right;
		} else {
			found = dma;
			node = node->rb_left;
		}
	}
	return found && found->iova <= last ? found : NULL;
}

static void dma_link(struct vfio_dirty_iommu *iommu, struct vfio_dirty_dma *new)
{
	struct rb_node **link = &iommu->dmas.rb_node, *parent = NULL;

	while (*link) {
		struct vfio_dirty_dma *dma = rb_entry(*link, struct vfio_dirty_dma,
						      node);

		parent = *link;
		link = new->iova < dma->iova ? &parent->rb_left :
					       &parent->rb_right;
	}
	rb_link_node(&new->node, parent, link);
	rb_insert_color(&new->node, &iommu->dmas);
}

/* Bytes from @iova, at most @max, that @domain maps contiguously from @phys. */
static size_t dma_phys_run(struct iommu_domain *domain, dma_addr_t iova,
			   phys_addr_t phys, size_t max)
{
	size_t run;

	for (run = PAGE_SIZE; run < max; run += PAGE_SIZE) {
		if (iommu_iova_to_phys(domain, iova + run) != phys + run)
			break;
		if (!(run & (SZ_2M - 1)))
			cond_resched();
	}
	return run;
}

/* Map @npages pages from @pfn at @iova into every domain, or into none. */
static int dma_map_run(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
		       unsigned long pfn, unsigned long npages, int prot)
{
	size_t len = npages << PAGE_SHIFT;
	struct vfio_dirty_domain *d;
	int ret;

	list_for_each_entry(d, &iommu->domains, next) {
		ret = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_IOMMU_MAP) ? -ENOMEM :
		      vfio_dirty_iommu_map(d->domain, iova, PFN_PHYS(pfn), len,
					   prot | IOMMU_CACHE);
		if (ret)
			goto err_unmap;
	}
	return 0;

err_unmap:
	list_for_each_entry_continue_reverse(d, &iommu->domains, next)
		iommu_unmap(d->domain, iova, len);
	return ret;
}

/*
 * Unmap the first @len bytes of @dma from every domain, unpin them and count
 * them out.
 */
static void dma_unmap_unpin(struct vfio_dirty_iommu *iommu,
			    struct vfio_dirty_dma *dma, size_t len)
{
	struct vfio_dirty_domain *first, *d;
	size_t off = 0, run, unmapped;
	phys_addr_t phys;
	long count = 0;

	if (!len)
		return;
	first = list_first_entry(&iommu->domains, struct vfio_dirty_domain, next);
	d = first;
	list_for_each_entry_continue(d, &iommu->domains, next)
		iommu_unmap(d->domain, dma->iova, len);

	while (off < len) {
		phys = iommu_iova_to_phys(first->domain, dma->iova + off);
		if (WARN_ON(!phys)) {
			off += PAGE_SIZE;
			continue;
		}
		run = dma_phys_run(first->domain, dma->iova + off, phys,
				   len - off);
		unmapped = iommu_unmap(first->domain, dma->iova + off, run);
		if (WARN_ON(!unmapped))
			break;
		count += vfio_dirty_domain_unpin(dma, off >> PAGE_SHIFT,
						 PHYS_PFN(phys),
						 unmapped >> PAGE_SHIFT);
		off += unmapped;
		cond_resched();
	}
	vfio_dirty_account(dma, -count);
}

/*
 * Pin all of @dma and map it into every domain.  On failure nothing of it
 * stays pinned, mapped or counted.
 */
static int dma_pin_map(struct vfio_dirty_iommu *iommu, struct vfio_dirty_dma *dma)
{
	bool small = READ_ONCE(vfio_dirty_disable_hugepages);
	unsigned long max = small ? 1 : VFIO_DIRTY_PIN_BATCH;
	unsigned long npages = dma->size >> PAGE_SHIFT;
	unsigned long done = 0, run = 0, run_pfn = 0, batch, *pfns;
	struct page **pages;
	long ret, n, i, count;

	pages = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_PIN_BATCH_ALLOC) ? NULL :
		(struct page **)__get_free_page(GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pfns = (unsigned long *)(pages + VFIO_DIRTY_PIN_BATCH);

	/*
	 * Pages below @done are mapped; the @run pages from @done are pinned,
	 * counted and physically consecutive from @run_pfn, not yet mapped.
	 */
	while (done + run < npages) {
		batch = done + run;
		n = vfio_dirty_pin_user(dma, batch, min(npages - batch, max),
					pages, pfns);
		if (n < 0) {
			ret = n;
			goto err_release_run;
		}
		ret = vfio_dirty_account(dma,
					 vfio_dirty_domain_count_in(dma, batch,
								    pfns, n));
		if (ret)
			goto err_release_batch;
		for (i = 0; i < n; i++) {
			if (run && !small && pfns[i] == run_pfn + run) {
				run++;
				continue;
			}
			if (run) {
				ret = dma_map_run(iommu,
						  dma->iova + (done << PAGE_SHIFT),
						  run_pfn, run, dma->prot);
				if (ret)
					goto err_unaccount_batch;
				done += run;
			}
			run_pfn = pfns[i];
			run = 1;
		}
	}
	ret = dma_map_run(iommu, dma->iova + (done << PAGE_SHIFT), run_pfn, run,
			  dma->prot);
	if (ret)
		goto err_release_run;
	free_page((unsigned long)pages);
	return 0;

err_unaccount_batch:
	for (count = 0; i < n; i++)
		count += vfio_dirty_domain_unpin(dma, batch + i, pfns[i], 1);
	vfio_dirty_account(dma, -count);
	goto err_release_run;
err_release_batch:
	while (n--)
		vfio_dirty_domain_unpin(dma, batch + n, pfns[n], 1);
err_release_run:
	vfio_dirty_account(dma, -vfio_dirty_domain_unpin(dma, done, run_pfn, run));
	dma_unmap_unpin(iommu, dma, done << PAGE_SHIFT);
	free_page((unsigned long)pages);
	return ret;
}

/* Map what the first other domain maps of @dma into @domain as well. */
static int dma_copy_map(struct vfio_dirty_domain *from,
			struct vfio_dirty_domain *domain,
			struct vfio_dirty_dma *dma)
{
	phys_addr_t phys;
	size_t off = 0, run;
	int ret;

	while (off < dma->size) {
		phys = iommu_iova_to_phys(from->domain, dma->iova + off);
		if (WARN_ON(!phys)) {
			off += PAGE_SIZE;
			continue;
		}
		run = dma_phys_run(from->domain, dma->iova + off, phys,
				   dma->size - off);
		ret = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_IOMMU_MAP_COPY) ?
		      -ENOMEM :
		      vfio_dirty_iommu_map(domain->domain, dma->iova + off,
					   phys, run, dma->prot | IOMMU_CACHE);
		if (ret)
			return ret;
		off += run;
		cond_resched();
	}
	return 0;
}

static void dma_remove(struct vfio_dirty_iommu *iommu, struct vfio_dirty_dma *dma)
{
	WARN_ON(!xa_empty(&dma->pins));
	if (!list_empty(&iommu->domains))
		dma_unmap_unpin(iommu, dma, dma->size);
	if (dma->vaddr_invalid)
		iommu->vaddr_invalid--;
	rb_erase(&dma->node, &iommu->dmas);
	vfio_dirty_dma_clear(dma);
	put_task_struct(dma->task);
	mmdrop(dma->mm);
	kfree(dma);
	iommu->dma_avail++;
}

/* Is @addrs, the OR of addresses and sizes, aligned to the page size? */
static bool dma_aligned(struct vfio_dirty_iommu *iommu, u64 addrs)
{
	return !(addrs & ((1ULL << vfio_dirty_pgshift(iommu)) - 1));
}

/**
 * vfio_dirty_dma_map() - VFIO_IOMMU_MAP_DMA
 * @iommu: the container
 * @iova: first byte of IOVA
 * @vaddr: first byte of the caller's memory
 * @size: bytes; neither [@iova, @iova + @size) nor the memory range wraps
 * @prot: IOMMU_READ and/or IOMMU_WRITE
 *
 * Return: 0; -EINVAL for a range not aligned to the page size or outside
 * the usable IOVA ranges, -EEXIST if it overlaps a mapping, -ENOSPC past
 * dma_entry_limit, -ENOMEM past RLIMIT_MEMLOCK, or what pinning returned.
 */
int vfio_dirty_dma_map(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
		       unsigned long vaddr, u64 size, int prot)
{
	dma_addr_t last = iova + (size - 1);
	struct vfio_dirty_dma *dma;
	int ret;

	mutex_lock(&iommu->lock);
	if (!dma_aligned(iommu, iova | vaddr | size)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (vfio_dirty_dma_first(iommu, iova, last)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (!iommu->dma_avail) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	if (!vfio_dirty_iova_usable(iommu, iova, last)) {
		ret = -EINVAL;
		goto out_unlock;
	}

	dma = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_MAP_ALLOC) ? NULL :
	      kzalloc(sizeof(*dma), GFP_KERNEL_ACCOUNT);
	if (!dma) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	dma->iova = iova;
	dma->vaddr = vaddr;
	dma->size = size;
	dma->prot = prot;
	xa_init(&dma->pins);
	vfio_dirty_spans_init(&dma->dirty);
	dma->task = get_task_struct(current->group_leader);
	dma->lock_cap = capable(CAP_IPC_LOCK);
	dma->mm = current->mm;
	mmgrab(dma->mm);

	if (!list_empty(&iommu->domains)) {
		ret = dma_pin_map(iommu, dma);
		if (ret)
			goto err_put_owner;
	}
	dma_link(iommu, dma);
	iommu->dma_avail--;
	mutex_unlock(&iommu->lock);
	return 0;

err_put_owner:
	mmdrop(dma->mm);
	put_task_struct(dma->task);
	kfree(dma);
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/**
 * vfio_dirty_dma_check_range() - may a request act on [@iova, @iova + @size)?
 * @iommu: the container, locked
 * @iova: first byte
 * @size: bytes, at least one; the range does not wrap
 * @whole: the range must cut no mapping
 *
 * The range must be aligned to the container's page size.  With @whole,
 * the type1v2 rule, which a v2 unmap and every dirty bitmap query follow:
 * a range may hold any number of mappings, but only whole ones, so no
 * mapping may straddle its first or its last byte.
 *
 * Return: 0, or -EINVAL.
 */
int vfio_dirty_dma_check_range(struct vfio_dirty_iommu *iommu,
			       dma_addr_t iova, u64 size, bool whole)
{
	dma_addr_t last = iova + (size - 1);
	struct vfio_dirty_dma *dma;

	lockdep_assert_held(&iommu->lock);
	if (!dma_aligned(iommu, iova | size))
		return -EINVAL;
	if (!whole)
		return 0;
	dma = vfio_dirty_dma_first(iommu, iova, iova);
	if (dma && dma->iova != iova)
		return -EINVAL;
	dma = vfio_dirty_dma_first(iommu, last, last);
	if (dma && dma->iova + (dma->size - 1) != last)
		return -EINVAL;
	return 0;
}

/*
 * The first mapping an unmap of [@iova, @last] removes, after its checks,
 * or NULL.  A type1 (v1) container removes every mapping that starts in the
 * range, unless the range starts inside a mapping: then it removes none.
 */
static struct vfio_dirty_dma *unmap_first(struct vfio_dirty_iommu *iommu,
					  dma_addr_t iova, dma_addr_t last)
{
	struct vfio_dirty_dma *dma = vfio_dirty_dma_first(iommu, iova, last);

	return dma && dma->iova >= iova ? dma : NULL;
}

/*
 * The checks of an unmap that depend on the container: the range's
 * (alignment to its page size, whole mappings for v2), and with @bitmap
 * the report's, so that a request the report would refuse asks no device
 * to unpin.  Done again each time the lock was dropped.
 */
static int unmap_check(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
		       u64 size, bool all, struct vfio_bitmap *bitmap)
{
	int ret;

	lockdep_assert_held(&iommu->lock);
	if (all)
		return 0;
	ret = vfio_dirty_dma_check_range(iommu, iova, size, iommu->v2);
	if (!ret && bitmap)
		ret = vfio_dirty_report_check(iommu, bitmap->pgsize);
	return ret;
}

/*
 * Write the bytes of the mappings from @first up to @last, which a request
 * is about to unmap or invalidate, to the user's @usize, before it changes
 * any: a request whose answer cannot be written changes nothing, rather
 * than fail having done it.
 */
static int unmap_answer(struct vfio_dirty_dma *first, dma_addr_t last,
			u64 __user *usize)
{
	struct vfio_dirty_dma *dma;
	u64 bytes = 0;

	for (dma = first; dma && dma->iova <= last; dma = vfio_dirty_dma_next(dma))
		bytes += dma->size;
	bytes = vfio_dirty_test_unmapped(bytes);
	if (vfio_dirty_should_fail(VFIO_DIRTY_FAULT_UNMAP_COPY_OUT) ||
	    put_user(bytes, usize))
		return -EFAULT;
	return 0;
}

/**
 * vfio_dirty_dma_unmap() - VFIO_IOMMU_UNMAP_DMA
 * @iommu: the container
 * @iova: first byte; 0 with @all
 * @size: bytes, [@iova, @iova + @size) does not wrap; 0 with @all
 * @all: unmap everything
 * @bitmap: with VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, where to report the
 *	dirty pages of what is unmapped, from @iova on; else NULL
 * @usize: the user's size field, where the bytes unmapped are written
 *
 * A type1v2 container unmaps whole mappings only: a mapping that straddles
 * either end of the range fails the request.  A type1 container unmaps
 * every mapping that starts in the range, unless the range starts inside a
 * mapping, which unmaps nothing.
 *
 * An unmap happens in three steps.  First, the emulated devices are asked
 * to unpin what they hold in the mappings it removes; that drops the
 * container's lock, so after each request every check is made again.
 * Then, with @bitmap, every one of those mappings is reported, and the
 * bytes unmapped are written to @usize.  Then they are removed.  The lock
 * is held from the last check to the last removal, so what is reported is
 * what is removed, and a device's write lands before the report or finds
 * no mapping.  A request that fails, @usize's write included, has removed
 * nothing and cleared nothing.
 *
 * Return: 0; -EINVAL for a range or bitmap page size the container refuses,
 * or when not tracking; -EFAULT if the bitmap or @usize cannot be written;
 * -ENOMEM; -EBUSY if a device keeps its pins.
 */
int vfio_dirty_dma_unmap(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
			 u64 size, bool all, struct vfio_bitmap *bitmap,
			 u64 __user *usize)
{
	dma_addr_t last = all ? U64_MAX : iova + (size - 1), waited = 0;
	struct vfio_dirty_dma *first, *dma, *next;
	unsigned int retries = 0;
	int ret;

	mutex_lock(&iommu->lock);
again:
	ret = unmap_check(iommu, iova, size, all, bitmap);
	if (ret)
		goto out_unlock;
	first = unmap_first(iommu, iova, last);
	for (dma = first; dma && dma->iova <= last; dma = vfio_dirty_dma_next(dma)) {
		if (xa_empty(&dma->pins))
			continue;
		if (!retries || dma->iova != waited) {
			waited = dma->iova;
			retries = 1;
		} else if (++retries > VFIO_DIRTY_UNMAP_RETRIES) {
			pr_warn_ratelimited("%s: a device keeps pages pinned in [%#llx, %#llx] after %u requests to unpin them\n",
					    KBUILD_MODNAME, (u64)dma->iova,
					    (u64)(dma->iova + (dma->size - 1)),
					    VFIO_DIRTY_UNMAP_RETRIES);
			ret = -EBUSY;
			goto out_unlock;
		}
		vfio_dirty_notify_unmap(iommu, dma);
		goto again;
	}

	if (bitmap) {
		ret = vfio_dirty_report(iommu, iova, last, first,
					bitmap->pgsize, bitmap->data);
		if (ret)
			goto out_unlock;
	}

	ret = unmap_answer(first, last, usize);
	if (ret)
		goto out_unlock;
	for (dma = first; dma && dma->iova <= last; dma = next) {
		next = vfio_dirty_dma_next(dma);
		dma_remove(iommu, dma);
		cond_resched();
	}
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/**
 * vfio_dirty_dma_invalidate_vaddr() - VFIO_IOMMU_UNMAP_DMA with
 *	VFIO_DMA_UNMAP_FLAG_VADDR
 * @iommu: the container
 * @iova: first byte; 0 with @all
 * @size: bytes, [@iova, @iova + @size) does not wrap; 0 with @all
 * @all: every mapping
 * @usize: the user's size field, where the bytes of the mappings
 *	invalidated are written before any is
 *
 * Marks the vaddr of the mappings in the range invalid, the mappings
 * chosen as an unmap of the same range would choose them (whole mappings;
 * on a type1 container none when the range starts inside one).  Nothing is
 * unpinned or unmapped: devices behind an IOMMU keep reaching the pages
 * pinned so far, and their dirty bits are kept.  All or nothing: if a
 * mapping in the range is invalid already, none is invalidated.
 *
 * Return: 0; -EBUSY while an emulated group is attached, -EINVAL for a
 * range not aligned to the page size, that bisects a mapping (type1v2), or
 * that holds an invalid vaddr; -EFAULT if @usize cannot be written.
 */
int vfio_dirty_dma_invalidate_vaddr(struct vfio_dirty_iommu *iommu,
				    dma_addr_t iova, u64 size, bool all,
				    u64 __user *usize)
{
	dma_addr_t last = all ? U64_MAX : iova + (size - 1);
	struct vfio_dirty_dma *first, *dma;
	int ret;

	mutex_lock(&iommu->lock);
	/* An emulated device pins through vaddrs at any time. */
	if (!list_empty(&iommu->emulated_groups)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = unmap_check(iommu, iova, size, all, NULL);
	if (ret)
		goto out_unlock;
	first = unmap_first(iommu, iova, last);
	for (dma = first; dma && dma->iova <= last; dma = vfio_dirty_dma_next(dma)) {
		if (dma->vaddr_invalid) {
			ret = -EINVAL;
			goto out_unlock;
		}
	}
	ret = unmap_answer(first, last, usize);
	if (ret)
		goto out_unlock;
	for (dma = first; dma && dma->iova <= last; dma = vfio_dirty_dma_next(dma)) {
		dma->vaddr_invalid = true;
		iommu->vaddr_invalid++;
	}
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/**
 * vfio_dirty_dma_update_vaddr() - VFIO_IOMMU_MAP_DMA with
 *	VFIO_DMA_MAP_FLAG_VADDR
 * @iommu: the container
 * @iova: first byte of the mapping
 * @vaddr: first byte of its new process range, in the caller's mm
 * @size: bytes of the mapping; neither range wraps
 *
 * Gives an invalid mapping its new vaddr, and the caller as its owner (see
 * vfio_dirty_change_owner()).  What is pinned stays: the new range is
 * expected to show the same memory, as a memfd mapped again does.
 *
 * Return: 0; -EINVAL for a range not aligned to the page size, or when the
 * mapping found is not exactly [@iova, @iova + @size) or its vaddr is
 * valid; -ENOENT when no mapping overlaps the range; -ENOMEM past the new
 * owner's RLIMIT_MEMLOCK, the mapping then still invalid.
 */
int vfio_dirty_dma_update_vaddr(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
				unsigned long vaddr, u64 size)
{
	struct vfio_dirty_dma *dma;
	int ret;

	mutex_lock(&iommu->lock);
	if (!dma_aligned(iommu, iova | vaddr | size)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	dma = vfio_dirty_dma_first(iommu, iova, iova + (size - 1));
	if (!dma) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!dma->vaddr_invalid || dma->iova != iova || dma->size != size) {
		ret = -EINVAL;
		goto out_unlock;
	}
	ret = vfio_dirty_change_owner(dma);
	if (ret)
		goto out_unlock;
	dma->vaddr = vaddr;
	dma->vaddr_invalid = false;
	iommu->vaddr_invalid--;
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/**
 * vfio_dirty_dma_remove_all() - unmap, unpin and forget every mapping
 * @iommu: the container, locked; no emulated device holds a pin
 */
void vfio_dirty_dma_remove_all(struct vfio_dirty_iommu *iommu)
{
	struct rb_node *node;

	lockdep_assert_held(&iommu->lock);
	while ((node = rb_first(&iommu->dmas)))
		dma_remove(iommu, rb_entry(node, struct vfio_dirty_dma, node));
}

/**
 * vfio_dirty_dma_unpin_all() - unmap and unpin every mapping, keep them
 * @iommu: the container, locked, whose only domain is about to go while
 *	emulated groups stay
 *
 * Pages that emulated devices pin stay pinned, and stay counted.
 */
void vfio_dirty_dma_unpin_all(struct vfio_dirty_iommu *iommu)
{
	struct rb_node *node;

	lockdep_assert_held(&iommu->lock);
	for (node = rb_first(&iommu->dmas); node; node = rb_next(node)) {
		struct vfio_dirty_dma *dma = rb_entry(node, struct vfio_dirty_dma,
						      node);

		dma_unmap_unpin(iommu, dma, dma->size);
	}
}

/**
 * vfio_dirty_dma_replay() - map every mapping into a new domain
 * @iommu: the container, locked
 * @domain: the new domain, first in @iommu->domains
 *
 * With other domains, the new one maps the pages they map.  As the first
 * domain, it gets every mapping pinned and counted.
 *
 * Return: 0, or an errno with nothing pinned or counted for @domain; what
 * was mapped into @domain goes away with it.
 */
int vfio_dirty_dma_replay(struct vfio_dirty_iommu *iommu,
			  struct vfio_dirty_domain *domain)
{
	struct vfio_dirty_domain *from = NULL;
	struct vfio_dirty_dma *dma;
	struct rb_node *node;
	int ret;

	lockdep_assert_held(&iommu->lock);
	if (!list_is_singular(&iommu->domains))
		from = list_next_entry(domain, next);
	for (node = rb_first(&iommu->dmas); node; node = rb_next(node)) {
		dma = rb_entry(node, struct vfio_dirty_dma, node);
		ret = from ? dma_copy_map(from, domain, dma) :
			     dma_pin_map(iommu, dma);
		if (ret)
			goto err_unpin;
	}
	return 0;

err_unpin:
	if (!from) {
		for (node = rb_prev(node); node; node = rb_prev(node)) {
			dma = rb_entry(node, struct vfio_dirty_dma, node);
			dma_unmap_unpin(iommu, dma, dma->size);
		}
	}
	return ret;
}
