// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: what emulated-IOMMU devices (mdevs) call.
 *
 * Theory of operation
 *
 * An emulated device has no IOMMU of its own: it reaches the memory a
 * container maps by pinning pages (pin_pages()/unpin_pages()) or by having
 * the CPU copy (dma_rw()).  Both go through the mappings, with the mapping's
 * permissions, and both tell dirty tracking what they may have written: a
 * pin marks its page, which stays dirty while it is pinned (see dirty.c); a
 * dma_rw() write marks its pages before it copies, so a write never goes
 * unreported (a write that then faults is reported anyway).
 *
 * Pins are counted per page, and held and counted in the owner's locked_vm,
 * by pages.c (vfio_dirty_pin_page(), vfio_dirty_unpin_page()).  A page of a
 * VM_PFNMAP mapping (another device's BAR) has no struct page to hand over:
 * pinning it fails with -EINVAL, while dma_rw() reaches it as any other
 * memory, through the owner's page table.
 *
 * No vaddr is invalid (VFIO_UPDATE_VADDR) while an emulated group is
 * attached: invalidating is refused while one is, and a group attaches to
 * no container that has an invalid vaddr.  So neither path waits for a
 * vaddr; meeting an invalid one is a bug, refused with -EBUSY.
 *
 * Before a mapping goes, the devices that registered a dma_unmap callback
 * must drop their pins in it.  The callback unpins, which takes the
 * container's lock, so the caller drops the lock first and holds
 * @devices_lock instead, which keeps the device list stable.
 */
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "private.h"

/**
 * vfio_dirty_pin_pages() - the pin_pages callback: vfio_pin_pages()
 * @iommu_data: the container
 * @iommu_group: the caller's group, attached to the container
 * @user_iova: IOVA of the first page
 * @npage: pages, at least one
 * @prot: IOMMU_READ and/or IOMMU_WRITE: what the caller will do
 * @pages: filled in
 *
 * A group that pins declares that it reaches memory only this way: the
 * container stops reporting every mapped page dirty on its behalf.
 *
 * Return: @npage, or an errno with nothing pinned: -EACCES for a type1 (not
 * v2) container, -EINVAL when no device can be told to unpin or a page is
 * not mapped or has no struct page (VM_PFNMAP), -EPERM when a mapping does
 * not allow @prot.
 */
int vfio_dirty_pin_pages(void *iommu_data, struct iommu_group *iommu_group,
			 dma_addr_t user_iova, int npage, int prot,
			 struct page **pages)
{
	struct vfio_dirty_iommu *iommu = iommu_data;
	struct vfio_dirty_group *group;
	struct vfio_dirty_dma *dma;
	dma_addr_t iova;
	int i, ret;

	if (!iommu->v2)
		return -EACCES;

	mutex_lock(&iommu->lock);
	if (WARN_ON_ONCE(iommu->vaddr_invalid)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (list_empty(&iommu->devices)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	for (i = 0; i < npage; i++) {
		iova = user_iova + (dma_addr_t)i * PAGE_SIZE;
		dma = vfio_dirty_dma_first(iommu, iova, iova);
		if (!dma) {
			ret = -EINVAL;
			goto err_unpin;
		}
		if ((dma->prot & prot) != prot) {
			ret = -EPERM;
			goto err_unpin;
		}
		ret = vfio_dirty_pin_page(iommu, dma, iova, &pages[i]);
		if (ret)
			goto err_unpin;
	}

	/*
	 * Until now every page was reported dirty on the group's behalf; what
	 * its device wrote since the last report is reported once more.
	 */
	group = vfio_dirty_find_group(iommu, iommu_group);
	if (!WARN_ON(!group) && !group->dirty_scope) {
		group->dirty_scope = true;
		if (!--iommu->unscoped_groups)
			vfio_dirty_mark_all(iommu);
	}
	mutex_unlock(&iommu->lock);
	return npage;

err_unpin:
	while (i--) {
		iova = user_iova + (dma_addr_t)i * PAGE_SIZE;
		vfio_dirty_unpin_page(iommu,
				      vfio_dirty_dma_first(iommu, iova, iova), iova);
		pages[i] = NULL;
	}
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/**
 * vfio_dirty_unpin_pages() - the unpin_pages callback: vfio_unpin_pages()
 * @iommu_data: the container
 * @user_iova: IOVA of the first page
 * @npage: pages, each pinned by vfio_dirty_pin_pages()
 */
void vfio_dirty_unpin_pages(void *iommu_data, dma_addr_t user_iova, int npage)
{
	struct vfio_dirty_iommu *iommu = iommu_data;
	struct vfio_dirty_dma *dma;
	dma_addr_t iova;
	int i;

	if (WARN_ON(!iommu->v2))
		return;

	mutex_lock(&iommu->lock);
	for (i = 0; i < npage; i++) {
		iova = user_iova + (dma_addr_t)i * PAGE_SIZE;
		dma = vfio_dirty_dma_first(iommu, iova, iova);
		/* A driver's mistake, but not the container's: stop there. */
		if (!dma)
			break;
		vfio_dirty_unpin_page(iommu, dma, iova);
	}
	mutex_unlock(&iommu->lock);
}

/*
 * Copy @count bytes between @data and @dma from byte @offset on, through
 * the owner's mm.  A kernel thread borrows that mm; any other caller must
 * be the owner.
 */
static int dma_rw_copy(struct vfio_dirty_dma *dma, u64 offset, void *data,
		       size_t count, bool write)
{
	void __user *uaddr = (void __user *)(dma->vaddr + offset);
	bool kthread = !current->mm;
	unsigned long left;

	if (!mmget_not_zero(dma->mm))
		return -EPERM;
	if (kthread) {
		kthread_use_mm(dma->mm);
	} else if (current->mm != dma->mm) {
		mmput(dma->mm);
		return -EFAULT;
	}
	if (vfio_dirty_should_fail(VFIO_DIRTY_FAULT_DMA_RW_COPY))
		left = count;
	else if (write)
		left = copy_to_user(uaddr, data, count);
	else
		left = copy_from_user(data, uaddr, count);
	if (kthread)
		kthread_unuse_mm(dma->mm);
	mmput(dma->mm);
	return left ? -EFAULT : 0;
}

/**
 * vfio_dirty_dma_rw() - the dma_rw callback: vfio_dma_rw()
 * @iommu_data: the container
 * @user_iova: first byte
 * @data: kernel buffer
 * @count: bytes, at least one; may cross mappings
 * @write: copy @data to memory (the device writes) rather than from it
 *
 * Return: 0; -EINVAL if a byte is not mapped; -EPERM if a mapping is not
 * readable, or not writable for a write, or its owner exited; -EFAULT if
 * the copy faults or the caller is neither the owner nor a kernel thread.
 */
int vfio_dirty_dma_rw(void *iommu_data, dma_addr_t user_iova, void *data,
		      size_t count, bool write)
{
	struct vfio_dirty_iommu *iommu = iommu_data;
	struct vfio_dirty_dma *dma;
	u64 offset;
	size_t len;
	int ret = 0;

	mutex_lock(&iommu->lock);
	if (WARN_ON_ONCE(iommu->vaddr_invalid))
		ret = -EBUSY;
	while (!ret && count) {
		dma = vfio_dirty_dma_first(iommu, user_iova, user_iova);
		if (!dma) {
			ret = -EINVAL;
			break;
		}
		if (!(dma->prot & IOMMU_READ) ||
		    (write && !(dma->prot & IOMMU_WRITE))) {
			ret = -EPERM;
			break;
		}
		offset = user_iova - dma->iova;
		len = min_t(u64, count, dma->size - offset);
		if (write)
			vfio_dirty_mark(iommu, dma, offset, len);
		ret = dma_rw_copy(dma, offset, data, len, write);
		if (ret)
			break;
		count -= len;
		data += len;
		user_iova += len;
	}
	mutex_unlock(&iommu->lock);
	return ret;
}

/**
 * vfio_dirty_register_device() - the register_device callback
 * @iommu_data: the container
 * @vdev: a device opened in one of its groups
 *
 * A device with a dma_unmap callback is told before its mappings go.
 */
void vfio_dirty_register_device(void *iommu_data, struct vfio_device *vdev)
{
	struct vfio_dirty_iommu *iommu = iommu_data;

	if (!vdev->ops->dma_unmap)
		return;
	mutex_lock(&iommu->devices_lock);
	mutex_lock(&iommu->lock);
	list_add(&vdev->iommu_entry, &iommu->devices);
	mutex_unlock(&iommu->lock);
	mutex_unlock(&iommu->devices_lock);
}

/**
 * vfio_dirty_unregister_device() - the unregister_device callback
 * @iommu_data: the container
 * @vdev: a device passed to vfio_dirty_register_device(), being closed
 */
void vfio_dirty_unregister_device(void *iommu_data, struct vfio_device *vdev)
{
	struct vfio_dirty_iommu *iommu = iommu_data;

	if (!vdev->ops->dma_unmap)
		return;
	mutex_lock(&iommu->devices_lock);
	mutex_lock(&iommu->lock);
	list_del(&vdev->iommu_entry);
	mutex_unlock(&iommu->lock);
	mutex_unlock(&iommu->devices_lock);
}

/**
 * vfio_dirty_notify_unmap() - ask the devices to unpin what they hold in a mapping
 * @iommu: the container, locked; the lock is dropped and taken again, so
 *	the caller must look its mappings up anew
 * @dma: the mapping about to go
 */
void vfio_dirty_notify_unmap(struct vfio_dirty_iommu *iommu,
			     struct vfio_dirty_dma *dma)
{
	u64 iova = dma->iova, size = dma->size;
	struct vfio_device *vdev;

	lockdep_assert_held(&iommu->lock);
	mutex_unlock(&iommu->lock);
	mutex_lock(&iommu->devices_lock);
	list_for_each_entry(vdev, &iommu->devices, iommu_entry)
		vdev->ops->dma_unmap(vdev, iova, size);
	mutex_unlock(&iommu->devices_lock);
	mutex_lock(&iommu->lock);
}
