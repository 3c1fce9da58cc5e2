// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: pinning the owner's pages, and counting them in locked_vm.
 *
 * Theory of operation
 *
 * Two sides pin the pages of a mapping.  The domains pin every page of
 * every mapping while the container has one (dma.c pins them in batches
 * and maps them; vfio_dirty_pin_user() and vfio_dirty_domain_unpin() here
 * take and drop the pins).  Emulated devices pin single pages through
 * pin_pages() (emulated.c): vfio_dirty_pin_page() counts their pins per
 * page in the mapping's @pins, keyed by the page's index in the mapping;
 * the first takes a long-term pin on the page, the last drops it.
 *
 * Pinning.  Pages are pinned from the owner's mm, FOLL_LONGTERM, and for
 * writing when the mapping is writable.  The zero page and reserved pages
 * are never held: their pin is dropped at once, and they are not counted.
 * Memory that cannot be pinned because it is mapped VM_PFNMAP, typically
 * another device's BAR mapped for peer-to-peer DMA, is found by pfn: the
 * owner's page table gives it, faulted in if need be, one page at a time.
 * Such a pfn must have no struct page, or a reserved one: a pfn that could
 * have been pinned is not used without a pin.  It is neither held nor
 * counted, and unpinning skips it (vfio_dirty_pfn_unheld()): there is no
 * page to unpin.  An emulated device cannot pin it: it has no page to
 * hand over.
 *
 * Accounting.  A held page counts once in the owner's mm->locked_vm
 * (against RLIMIT_MEMLOCK of the owner, unless it had CAP_IPC_LOCK when it
 * mapped), whoever pins it.  At one page of a mapping, the domains and an
 * emulated device may hold the same page, or two different ones: one side
 * may hold the zero page, or a page the owner's memory no longer has (it
 * was written, copied on write, or dropped since).  So the count is decided
 * by page identity, never by index alone: pinning or unpinning a page for
 * the domains counts it in or out unless an emulated pin holds that very
 * page at that index, and an emulated pin counts in or out unless the
 * domains map that very page there (vfio_dirty_domains_hold()).  Each side
 * can then come and go in any order, and locked_vm always counts the pages
 * held, each once per index.  A mapping's @locked_vm is what it counts in
 * its owner's mm; a new owner (VFIO_UPDATE_VADDR) takes it over, and the
 * old owner's mm gives it back (vfio_dirty_change_owner()).
 *
 * All of it runs under the container's lock.
 */
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "private.h"

/**
 * vfio_dirty_account() - count pages in or out of the owner's locked_vm
 * @dma: the mapping whose owner pays
 * @npages: pages to count in (> 0) or out (< 0)
 *
 * Counting in fails past RLIMIT_MEMLOCK unless the owner had CAP_IPC_LOCK.
 * Counting out of an mm that has exited does nothing to it.  @dma's
 * locked_vm follows what is held: it grows when counting in succeeds, and
 * shrinks whenever pages are counted out.
 *
 * Return: 0, -ENOMEM past the limit, -ESRCH if the owner exited, -EINTR if
 * killed while waiting for its mmap_lock.
 */
int vfio_dirty_account(struct vfio_dirty_dma *dma, long npages)
{
	struct mm_struct *mm = dma->mm;
	int ret = 0;

	if (!npages)
		return 0;
	if (npages < 0)
		dma->locked_vm -= -npages;
	if (!mmget_not_zero(mm))
		return -ESRCH;
	if (npages > 0)
		ret = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_ACCOUNT) ? -ENOMEM :
		      mmap_write_lock_killable(mm);
	else
		mmap_write_lock(mm);
	if (!ret) {
		ret = __account_locked_vm(mm, abs(npages), npages > 0,
					  dma->task, dma->lock_cap);
		mmap_write_unlock(mm);
	}
	mmput(mm);
	if (!ret && npages > 0)
		dma->locked_vm += npages;
	return ret;
}

/*
 * The pfn that the VM_PFNMAP mapping of @mm at @vaddr maps, faulted in for
 * @write if need be.  @mm's mmap_lock is held for reading, and may be
 * dropped and taken again meanwhile.  Return: 1 with the pfn in @pfn; @err
 * if @vaddr is not in a VM_PFNMAP mapping; -EFAULT if it is mapped read-only
 * for @write, or is a page that could be pinned; or what faulting returned.
 */
static long pin_pfnmap(struct mm_struct *mm, unsigned long vaddr, bool write,
		       unsigned long *pfn, long err)
{
	struct vm_area_struct *vma;
	bool unlocked, writable;
	int ret;

	vaddr = vfio_dirty_untagged_addr(mm, vaddr);
again:
	vma = vma_lookup(mm, vaddr);
	if (!vma || !(vma->vm_flags & VM_PFNMAP))
		return err;
	ret = vfio_dirty_follow_pfn(vma, vaddr, pfn, &writable);
	if (ret) {
		unlocked = false;
		ret = fixup_user_fault(mm, vaddr, FAULT_FLAG_REMOTE |
				       (write ? FAULT_FLAG_WRITE : 0), &unlocked);
		if (unlocked)
			goto again;
		if (ret)
			return ret;
		ret = vfio_dirty_follow_pfn(vma, vaddr, pfn, &writable);
		if (ret)
			return ret;
	}
	if ((write && !writable) || !vfio_dirty_pfn_unheld(*pfn))
		return -EFAULT;
	return 1;
}

/**
 * vfio_dirty_pin_user() - pin pages of a mapping's owner
 * @dma: the mapping
 * @index: first page, in pages from the mapping's start
 * @npages: pages wanted, at most VFIO_DIRTY_PIN_BATCH
 * @pages: room for @npages page pointers, for pinning
 * @pfns: filled in with the pfns of the pages returned
 *
 * The zero page and reserved pages are returned but not held.  A page in a
 * VM_PFNMAP mapping comes alone, as a pfn that may have no struct page,
 * neither held nor counted (vfio_dirty_pfn_unheld() is true of it).
 *
 * Return: the number of pages pinned or found (at least one), or a
 * negative errno.
 */
long vfio_dirty_pin_user(struct vfio_dirty_dma *dma, unsigned long index,
			 unsigned long npages, struct page **pages,
			 unsigned long *pfns)
{
	unsigned long vaddr = dma->vaddr + (index << PAGE_SHIFT);
	bool write = dma->prot & IOMMU_WRITE;
	unsigned int flags = FOLL_LONGTERM;
	long ret, i;

	if (write)
		flags |= FOLL_WRITE;
	if (!mmget_not_zero(dma->mm))
		return -ENODEV;
	mmap_read_lock(dma->mm);
	ret = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_PIN_USER) ? -ENOMEM :
	      vfio_dirty_gup_remote(dma->mm, vaddr, npages, flags, pages);
	if (ret > 0) {
		for (i = 0; i < ret; i++) {
			pfns[i] = page_to_pfn(pages[i]);
			if (vfio_dirty_pfn_unheld(pfns[i]))
				unpin_user_page(pages[i]);
		}
	} else {
		ret = pin_pfnmap(dma->mm, vaddr, write, pfns, ret ? ret : -EFAULT);
	}
	mmap_read_unlock(dma->mm);
	mmput(dma->mm);
	return ret;
}

/* Does an emulated device pin @page itself at page @index of @dma? */
static bool dma_pinned_as(struct vfio_dirty_dma *dma, unsigned long index,
			  struct page *page)
{
	struct vfio_dirty_pin *pin;

	if (xa_empty(&dma->pins))
		return false;
	pin = xa_load(&dma->pins, index);
	return pin && pin->page == page;
}

/**
 * vfio_dirty_domain_count_in() - of pages pinned for the domains, those new
 * @dma: the mapping
 * @index: the first page, in pages from the mapping's start
 * @pfns: the pfns vfio_dirty_pin_user() returned from @index on
 * @n: entries in @pfns
 *
 * Return: how many of them to count in: the ones held, but not those
 * emulated devices pin themselves at the same index, counted already.
 */
long vfio_dirty_domain_count_in(struct vfio_dirty_dma *dma, unsigned long index,
				const unsigned long *pfns, long n)
{
	long i, count = 0;

	for (i = 0; i < n; i++)
		if (!vfio_dirty_pfn_unheld(pfns[i]) &&
		    !dma_pinned_as(dma, index + i, pfn_to_page(pfns[i])))
			count++;
	return count;
}

/**
 * vfio_dirty_domain_unpin() - unpin pages pinned for the domains
 * @dma: the mapping
 * @index: the first page, in pages from the mapping's start
 * @pfn: its pfn; the next ones follow it
 * @n: pages
 *
 * The caller counts out what this returns, with vfio_dirty_account().
 *
 * Return: how many to count out: the pages held, but not those emulated
 * devices pin themselves at the same index, which stay counted.
 */
long vfio_dirty_domain_unpin(struct vfio_dirty_dma *dma, unsigned long index,
			     unsigned long pfn, unsigned long n)
{
	struct page *page;
	long count = 0;

	for (; n; n--, index++, pfn++) {
		if (vfio_dirty_pfn_unheld(pfn))
			continue;
		page = pfn_to_page(pfn);
		unpin_user_pages_dirty_lock(&page, 1, dma->prot & IOMMU_WRITE);
		if (!dma_pinned_as(dma, index, page))
			count++;
	}
	return count;
}

/**
 * vfio_dirty_domains_hold() - do the domains map @page at page @index of @dma?
 * @iommu: the container, locked
 * @dma: the mapping
 * @index: a page of it, in PAGE_SIZE pages from its start
 * @page: a page an emulated device pins there
 *
 * Return: true if the container has domains and they map @page there, so
 * that their pin already counts it.
 */
static bool vfio_dirty_domains_hold(struct vfio_dirty_iommu *iommu,
				    struct vfio_dirty_dma *dma,
				    unsigned long index, struct page *page)
{
	struct vfio_dirty_domain *first;
	phys_addr_t phys;

	lockdep_assert_held(&iommu->lock);
	if (list_empty(&iommu->domains))
		return false;
	first = list_first_entry(&iommu->domains, struct vfio_dirty_domain, next);
	phys = iommu_iova_to_phys(first->domain,
				  dma->iova + ((dma_addr_t)index << PAGE_SHIFT));
	return phys && PHYS_PFN(phys) == page_to_pfn(page);
}

/**
 * vfio_dirty_pin_page() - take an emulated device's pin on a page
 * @iommu: the container, locked
 * @dma: the mapping
 * @iova: the page's IOVA, in @dma
 * @page: filled in with the page
 *
 * The first pin of a page pins it, counts it in unless the domains count
 * it already, and marks it dirty (see dirty.c); the next ones only count
 * references.
 *
 * Return: 0; -ENOMEM; -EINVAL for a pfn with no struct page (VM_PFNMAP);
 * what pinning or accounting returned.  Nothing is held or counted then.
 */
int vfio_dirty_pin_page(struct vfio_dirty_iommu *iommu,
			struct vfio_dirty_dma *dma, dma_addr_t iova,
			struct page **page)
{
	unsigned long index = (iova - dma->iova) >> PAGE_SHIFT;
	struct vfio_dirty_pin *pin;
	bool counted = false;
	unsigned long pfn;
	long ret;

	pin = xa_load(&dma->pins, index);
	if (pin) {
		pin->refs++;
		*page = pin->page;
		return 0;
	}

	pin = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_PIN_ALLOC) ? NULL :
	      kzalloc(sizeof(*pin), GFP_KERNEL_ACCOUNT);
	if (!pin)
		return -ENOMEM;
	ret = vfio_dirty_pin_user(dma, index, 1, &pin->page, &pfn);
	if (ret < 0)
		goto err_free;
	/* A VM_PFNMAP pfn may have no page to hand over. */
	if (!pfn_valid(pfn)) {
		ret = -EINVAL;
		goto err_free;
	}
	pin->page = pfn_to_page(pfn);
	if (!vfio_dirty_page_unheld(pin->page) &&
	    !vfio_dirty_domains_hold(iommu, dma, index, pin->page)) {
		ret = vfio_dirty_account(dma, 1);
		if (ret)
			goto err_unpin;
		counted = true;
	}
	pin->refs = 1;
	ret = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_PIN_INSERT) ? -ENOMEM :
	      xa_insert(&dma->pins, index, pin, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_unaccount;
	vfio_dirty_mark(iommu, dma, (u64)index << PAGE_SHIFT, PAGE_SIZE);
	*page = pin->page;
	return 0;

err_unaccount:
	if (counted && !vfio_dirty_unwind_broken(VFIO_DIRTY_UNWIND_PIN_ACCOUNT))
		vfio_dirty_account(dma, -1);
err_unpin:
	if (!vfio_dirty_page_unheld(pin->page))
		unpin_user_page(pin->page);
err_free:
	kfree(pin);
	return ret;
}

/**
 * vfio_dirty_unpin_page() - drop an emulated device's pin on a page
 * @iommu: the container, locked
 * @dma: the mapping
 * @iova: the page's IOVA, in @dma
 *
 * The last pin of a page unpins it and counts it out, unless the domains
 * count it.  A page with no pin is left alone.
 */
void vfio_dirty_unpin_page(struct vfio_dirty_iommu *iommu,
			   struct vfio_dirty_dma *dma, dma_addr_t iova)
{
	unsigned long index = (iova - dma->iova) >> PAGE_SHIFT;
	struct vfio_dirty_pin *pin = xa_load(&dma->pins, index);

	if (!pin || --pin->refs)
		return;
	xa_erase(&dma->pins, index);
	if (!vfio_dirty_page_unheld(pin->page)) {
		if (!vfio_dirty_domains_hold(iommu, dma, index, pin->page))
			vfio_dirty_account(dma, -1);
		unpin_user_pages_dirty_lock(&pin->page, 1,
					    dma->prot & IOMMU_WRITE);
	}
	kfree(pin);
}

/**
 * vfio_dirty_change_owner() - make the caller the owner of a mapping
 * @dma: the mapping
 *
 * The caller's mm pays for what @dma holds, @locked_vm, under its own
 * RLIMIT_MEMLOCK and CAP_IPC_LOCK, and the former owner's mm, if it still
 * exists, is paid back.  The same mm keeps the owner as it is.
 *
 * Return: 0; -ENOMEM past the caller's limit; -EINTR if killed while
 * waiting for its mmap_lock.  The owner is unchanged then.
 */
int vfio_dirty_change_owner(struct vfio_dirty_dma *dma)
{
	struct task_struct *task = current->group_leader;
	struct mm_struct *mm = current->mm;
	bool lock_cap;
	int ret;

	if (mm == dma->mm)
		return 0;
	lock_cap = capable(CAP_IPC_LOCK);
	if (dma->locked_vm) {
		if (vfio_dirty_should_fail(VFIO_DIRTY_FAULT_OWNER_ACCOUNT))
			return -ENOMEM;
		ret = mmap_write_lock_killable(mm);
		if (ret)
			return ret;
		ret = __account_locked_vm(mm, dma->locked_vm, true, task,
					  lock_cap);
		mmap_write_unlock(mm);
		if (ret)
			return ret;
		if (mmget_not_zero(dma->mm)) {
			mmap_write_lock(dma->mm);
			__account_locked_vm(dma->mm, dma->locked_vm, false,
					    dma->task, dma->lock_cap);
			mmap_write_unlock(dma->mm);
			mmput(dma->mm);
		}
	}
	put_task_struct(dma->task);
	dma->task = get_task_struct(task);
	mmdrop(dma->mm);
	dma->mm = mm;
	mmgrab(mm);
	dma->lock_cap = lock_cap;
	return 0;
}
