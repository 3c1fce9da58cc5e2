/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty: internal API of the type1-compatible IOMMU backend.
 *
 * Terms.  A *container* (struct vfio_dirty_iommu) is what the VFIO core's
 * open() returns: the IOVA space of one /dev/vfio/vfio file.  A *mapping*
 * (struct vfio_dirty_dma) is one VFIO_IOMMU_MAP_DMA: [iova, iova + size) of
 * IOVA backed by [vaddr, vaddr + size) of its owner's address space.  Its
 * *last* byte is iova + size - 1: a mapping may end at the top of the 64-bit
 * space, so "iova + size" is never computed where it could wrap.  A *domain*
 * is an iommu_domain shared by the IOMMU-backed groups of one IOMMU; an
 * *emulated* group (an mdev) has none and reaches memory only through
 * pin_pages() and dma_rw().  The container's *page size* is the smallest
 * size of its pgsize_bitmap: maps, unmaps and dirty bitmaps use it.
 *
 * Invariants.  Mappings never overlap.  Every mapping is pinned and mapped
 * into every domain if and only if the container has a domain; with none,
 * nothing is pinned but the pages emulated devices pin.  A page counts once
 * in its owner's locked_vm however many pins it has (see pages.c).
 *
 * A mapping's vaddr may be *invalid* (VFIO_UPDATE_VADDR): its process range
 * is being replaced, so nothing may be pinned through it, while what is
 * pinned already stays pinned and mapped.  While a container has an invalid
 * vaddr no group attaches, and while it has an emulated group no vaddr is
 * invalidated: an emulated device never meets an invalid vaddr.
 */
#ifndef __VFIO_DIRTY_PRIVATE_H
#define __VFIO_DIRTY_PRIVATE_H

#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/irqdomain.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/rbtree.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/xarray.h>

#include "compat.h"
#include "spans.h"
#include "stats.h"
#include "test.h"

struct vfio_bitmap;

/*
 * The default dirty bitmap ceiling (max_bitmap_size), that of the stock
 * type1 driver: 2^31 pages, whose bitmap is 256 MiB.
 */
#define VFIO_DIRTY_BITMAP_SIZE_DEFAULT	(256ULL << 20)
/*
 * The highest max_bitmap_size accepted: 16 GiB of bitmap is 2^37 pages,
 * 512 TiB of IOVA at 4 KiB, twice the 48-bit IOVA space of a 4-level IOMMU
 * page table.  Bit numbers are u64 throughout, so this bounds what one
 * request may make the kernel walk while holding the container's lock, not
 * what it can address.
 */
#define VFIO_DIRTY_BITMAP_SIZE_MAX	(16ULL << 30)
/*
 * The default chunk_size, bytes of user bitmap a request writes per step at
 * most: 2 MiB, as iova_bitmap's window, is 64 GiB of IOVA at 4 KiB, so that
 * a 16 TiB unmap takes 256 steps.
 */
#define VFIO_DIRTY_CHUNK_SIZE_DEFAULT	(2ULL << 20)
/* The highest chunk_size accepted: 64 MiB, 2 TiB of IOVA at 4 KiB. */
#define VFIO_DIRTY_CHUNK_SIZE_MAX	(64ULL << 20)

extern bool vfio_dirty_claim;
extern bool vfio_dirty_allow_unsafe_interrupts;
extern bool vfio_dirty_disable_hugepages;
extern unsigned int vfio_dirty_dma_entry_limit;
extern u64 vfio_dirty_max_bitmap_size;
extern u64 vfio_dirty_chunk_size;

/**
 * struct vfio_dirty_iommu - one container
 * @devices_lock: serializes the dma_unmap callbacks and changes to @devices
 * @lock: protects everything below, and each mapping's contents
 * @devices: the registered devices that have a dma_unmap callback; changed
 *	with both locks held, so that either lock is enough to read it
 * @dmas: the mappings, an rb-tree by IOVA
 * @domains: struct vfio_dirty_domain, the IOMMU-backed groups by domain
 * @emulated_groups: struct vfio_dirty_group, the groups without a domain
 * @iovas: struct vfio_dirty_iova, the IOVA ranges a mapping may use, sorted;
 *	empty (anything goes) until the first IOMMU-backed group attaches
 * @pgsize_bitmap: the page sizes every domain supports, never below PAGE_SIZE
 * @dma_avail: how many more mappings may be created
 * @unscoped_groups: IOMMU-backed groups that never pinned a page: their
 *	device may write anywhere, so while there is one every mapped page is
 *	reported dirty
 * @vaddr_invalid: mappings whose vaddr is invalid
 * @v2: opened as VFIO_TYPE1v2_IOMMU rather than VFIO_TYPE1_IOMMU
 * @tracking: dirty tracking is started
 * @ioctls: container ioctls under way, which release() waits for
 *
 * Lock order: @devices_lock, then @lock.  The unmap path holds @lock and must
 * call dma_unmap callbacks that unpin (and so take @lock): it drops @lock
 * before it takes @devices_lock.  mmap_lock of a mapping's owner nests
 * inside @lock.
 *
 * What the VFIO core holds when it calls in (6.1 to 6.12): the container's
 * group_lock, for writing, around attach_group, detach_group and release,
 * so those never run at once; the group's lock around register_device and
 * unregister_device.  Around the container ioctls (map, unmap, dirty pages,
 * info), pin_pages, unpin_pages and dma_rw it holds none: they come from
 * any number of threads at once, and @lock alone serializes them.  A core
 * lock a caller holds comes before both of ours.  Nor does the core wait
 * for the container ioctls before it calls release, when the last group
 * detaches: an unmap may be waiting for a device's dma_unmap then, with
 * @lock dropped, and would take it again in freed memory.  So release()
 * waits until @ioctls is 0; the detach removed every mapping, so whatever
 * is under way ends.
 */
struct vfio_dirty_iommu {
	struct mutex devices_lock;	/* outer */
	struct mutex lock;		/* inner */
	struct list_head devices;
	struct rb_root dmas;
	struct list_head domains;
	struct list_head emulated_groups;
	struct list_head iovas;
	u64 pgsize_bitmap;
	unsigned int dma_avail;
	unsigned int unscoped_groups;
	unsigned int vaddr_invalid;
	bool v2;
	bool tracking;
	atomic_t ioctls;
};

/**
 * struct vfio_dirty_domain - an iommu_domain and the groups attached to it
 * @domain: the IOMMU domain
 * @next: in vfio_dirty_iommu.domains
 * @groups: struct vfio_dirty_group
 * @enforce_cc: the domain blocks DMA that does not snoop CPU caches
 */
struct vfio_dirty_domain {
	struct iommu_domain *domain;
	struct list_head next;
	struct list_head groups;
	bool enforce_cc;
};

/**
 * struct vfio_dirty_group - an IOMMU group attached to a container
 * @iommu_group: the group
 * @next: in vfio_dirty_domain.groups or vfio_dirty_iommu.emulated_groups
 * @dirty_scope: the group's devices reach memory only through pins and
 *	dma_rw(), so the container knows what they dirty
 */
struct vfio_dirty_group {
	struct iommu_group *iommu_group;
	struct list_head next;
	bool dirty_scope;
};

/**
 * struct vfio_dirty_iova - a range of usable IOVA
 * @next: in vfio_dirty_iommu.iovas
 * @start: first byte
 * @last: last byte, inclusive
 */
struct vfio_dirty_iova {
	struct list_head next;
	dma_addr_t start;
	dma_addr_t last;
};

/**
 * struct vfio_dirty_dma - one mapping
 * @node: in vfio_dirty_iommu.dmas
 * @iova: first byte of IOVA
 * @vaddr: first byte in the owner's address space
 * @size: bytes, a multiple of the container's page size
 * @prot: IOMMU_READ and/or IOMMU_WRITE
 * @lock_cap: the owner had CAP_IPC_LOCK when it mapped
 * @vaddr_invalid: @vaddr is invalid until VFIO_DMA_MAP_FLAG_VADDR gives a
 *	new one
 * @all_dirty: report every page dirty at the next report (see dirty.c)
 * @task: the owner's thread group leader, whose RLIMIT_MEMLOCK applies
 * @mm: the owner's mm, whose locked_vm counts the pinned pages
 * @locked_vm: pages this mapping counts in @mm's locked_vm
 * @pins: struct vfio_dirty_pin of emulated devices' pins, by page index
 *	(offset >> PAGE_SHIFT)
 * @dirty: dirty bits (see spans.c)
 */
struct vfio_dirty_dma {
	struct rb_node node;
	dma_addr_t iova;
	unsigned long vaddr;
	size_t size;
	int prot;
	bool lock_cap;
	bool vaddr_invalid;
	bool all_dirty;
	struct task_struct *task;
	struct mm_struct *mm;
	unsigned long locked_vm;
	struct xarray pins;
	struct vfio_dirty_spans dirty;
};

/* A page pinned by emulated devices: @refs pins of @page. */
struct vfio_dirty_pin {
	struct page *page;
	unsigned int refs;
};

/* The mapping after @dma in IOVA order, or NULL. */
static inline struct vfio_dirty_dma *vfio_dirty_dma_next(struct vfio_dirty_dma *dma)
{
	return rb_entry_safe(rb_next(&dma->node), struct vfio_dirty_dma, node);
}

/* The container's page size, as a shift. */
static inline unsigned int vfio_dirty_pgshift(struct vfio_dirty_iommu *iommu)
{
	return __ffs(iommu->pgsize_bitmap);
}

/*
 * Pfns the backend does not hold a pin on: those without a struct page (a
 * device's MMIO, mapped VM_PFNMAP), the zero page and reserved pages never
 * go away, and are not counted in locked_vm.  Only for a pfn this is false
 * of may pfn_to_page() be unpinned.
 */
static inline bool vfio_dirty_pfn_unheld(unsigned long pfn)
{
	return !pfn_valid(pfn) || is_zero_pfn(pfn) ||
	       PageReserved(pfn_to_page(pfn));
}

static inline bool vfio_dirty_page_unheld(struct page *page)
{
	return vfio_dirty_pfn_unheld(page_to_pfn(page));
}

/* container.c */
void *vfio_dirty_open(unsigned long arg);
void vfio_dirty_release(void *iommu_data);
long vfio_dirty_ioctl(void *iommu_data, unsigned int cmd, unsigned long arg);
#ifdef VFIO_DIRTY_OPS_NOTIFY
void vfio_dirty_notify(void *iommu_data, enum vfio_iommu_notify_type event);
#endif

/* dma.c */
struct vfio_dirty_dma *vfio_dirty_dma_first(struct vfio_dirty_iommu *iommu,
					    dma_addr_t start, dma_addr_t last);
int vfio_dirty_dma_check_range(struct vfio_dirty_iommu *iommu,
			       dma_addr_t iova, u64 size, bool whole);
int vfio_dirty_dma_map(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
		       unsigned long vaddr, u64 size, int prot);
int vfio_dirty_dma_unmap(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
			 u64 size, bool all, struct vfio_bitmap *bitmap,
			 u64 __user *usize);
int vfio_dirty_dma_invalidate_vaddr(struct vfio_dirty_iommu *iommu,
				    dma_addr_t iova, u64 size, bool all,
				    u64 __user *usize);
int vfio_dirty_dma_update_vaddr(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
				unsigned long vaddr, u64 size);
void vfio_dirty_dma_remove_all(struct vfio_dirty_iommu *iommu);
void vfio_dirty_dma_unpin_all(struct vfio_dirty_iommu *iommu);
int vfio_dirty_dma_replay(struct vfio_dirty_iommu *iommu,
			  struct vfio_dirty_domain *domain);

/*
 * Pages pinned per pin_user_pages_remote() call: one page holds their page
 * pointers and their pfns.
 */
#define VFIO_DIRTY_PIN_BATCH \
	(PAGE_SIZE / (sizeof(struct page *) + sizeof(unsigned long)))

/* pages.c */
int vfio_dirty_account(struct vfio_dirty_dma *dma, long npages);
long vfio_dirty_pin_user(struct vfio_dirty_dma *dma, unsigned long index,
			 unsigned long npages, struct page **pages,
			 unsigned long *pfns);
long vfio_dirty_domain_count_in(struct vfio_dirty_dma *dma, unsigned long index,
				const unsigned long *pfns, long n);
long vfio_dirty_domain_unpin(struct vfio_dirty_dma *dma, unsigned long index,
			     unsigned long pfn, unsigned long n);
int vfio_dirty_pin_page(struct vfio_dirty_iommu *iommu,
			struct vfio_dirty_dma *dma, dma_addr_t iova,
			struct page **page);
void vfio_dirty_unpin_page(struct vfio_dirty_iommu *iommu,
			   struct vfio_dirty_dma *dma, dma_addr_t iova);
int vfio_dirty_change_owner(struct vfio_dirty_dma *dma);

/* domain.c */
int vfio_dirty_attach_group(void *iommu_data, struct iommu_group *iommu_group,
			    enum vfio_group_type type);
void vfio_dirty_detach_group(void *iommu_data, struct iommu_group *iommu_group);
struct iommu_domain *vfio_dirty_group_iommu_domain(void *iommu_data,
						   struct iommu_group *iommu_group);
struct vfio_dirty_group *vfio_dirty_find_group(struct vfio_dirty_iommu *iommu,
					       struct iommu_group *iommu_group);
bool vfio_dirty_iova_usable(struct vfio_dirty_iommu *iommu, dma_addr_t start,
			    dma_addr_t last);
int vfio_dirty_enforce_cc(struct vfio_dirty_iommu *iommu);
void vfio_dirty_groups_release(struct vfio_dirty_iommu *iommu);

/* emulated.c */
int vfio_dirty_pin_pages(void *iommu_data, struct iommu_group *iommu_group,
			 dma_addr_t user_iova, int npage, int prot,
			 struct page **pages);
void vfio_dirty_unpin_pages(void *iommu_data, dma_addr_t user_iova, int npage);
void vfio_dirty_register_device(void *iommu_data, struct vfio_device *vdev);
void vfio_dirty_unregister_device(void *iommu_data, struct vfio_device *vdev);
int vfio_dirty_dma_rw(void *iommu_data, dma_addr_t user_iova, void *data,
		      size_t count, bool write);
void vfio_dirty_notify_unmap(struct vfio_dirty_iommu *iommu,
			     struct vfio_dirty_dma *dma);

/* dirty.c */
int vfio_dirty_track_start(struct vfio_dirty_iommu *iommu);
void vfio_dirty_track_stop(struct vfio_dirty_iommu *iommu);
void vfio_dirty_mark(struct vfio_dirty_iommu *iommu, struct vfio_dirty_dma *dma,
		     u64 offset, u64 len);
void vfio_dirty_mark_all(struct vfio_dirty_iommu *iommu);
void vfio_dirty_dma_clear(struct vfio_dirty_dma *dma);
int vfio_dirty_report_check(struct vfio_dirty_iommu *iommu, u64 pgsize);
int vfio_dirty_report(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
		      dma_addr_t last, struct vfio_dirty_dma *first,
		      u64 pgsize, u64 __user *bitmap);
int vfio_dirty_get_bitmap(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
			  u64 size, u64 pgsize, u64 __user *bitmap);
int vfio_dirty_check_bitmap(u64 size, u64 pgsize, u64 bitmap_size);

/*
 * The kernel interfaces that differ between the supported kernels.  The
 * build tells which applies from the target's headers (see Kbuild); these
 * wrappers are the only place that knows.
 */
/*
 * The bytes of struct vfio_iommu_type1_info that GET_INFO writes back,
 * from a header whose unread fields are zero, as the stock driver does:
 * since 6.6, as much of it as @argsz has room for; before, up to
 * cap_offset when @argsz has room for it, else up to iova_pgsizes.
 */
static inline unsigned long vfio_dirty_info_outsz(u32 argsz)
{
#ifdef VFIO_DIRTY_INFO_WHOLE
	return min_t(unsigned long, argsz, sizeof(struct vfio_iommu_type1_info));
#else
	unsigned long capsz = offsetofend(struct vfio_iommu_type1_info, cap_offset);

	return argsz >= capsz ? capsz :
	       offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
#endif
}

/*
 * The errno of a range [@start, @start + @size) that wraps past the top of
 * the 64-bit space, as the stock driver of the kernel gives it: -EOVERFLOW
 * since 6.18, -EINVAL before.  For a dirty bitmap's range, a range that
 * ends exactly at 2^64 wraps too before 6.18.  0 if it does not wrap.
 */
#ifdef VFIO_DIRTY_RANGE_EOVERFLOW
static inline int vfio_dirty_range_wraps(u64 start, u64 size, bool bitmap)
{
	u64 last;

	return check_add_overflow(start, size - 1, &last) ? -EOVERFLOW : 0;
}
#else
static inline int vfio_dirty_range_wraps(u64 start, u64 size, bool bitmap)
{
	u64 last;

	return check_add_overflow(start, size - !bitmap, &last) ? -EINVAL : 0;
}
#endif

#ifdef VFIO_DIRTY_GUP_NO_VMAS
#define vfio_dirty_gup_remote(mm, start, n, flags, pages) \
	pin_user_pages_remote(mm, start, n, flags, pages, NULL)
#else
#define vfio_dirty_gup_remote(mm, start, n, flags, pages) \
	pin_user_pages_remote(mm, start, n, flags, pages, NULL, NULL)
#endif

#ifdef VFIO_DIRTY_IOMMU_MAP_GFP
#define vfio_dirty_iommu_map(domain, iova, paddr, size, prot) \
	iommu_map(domain, iova, paddr, size, prot, GFP_KERNEL_ACCOUNT)
#else
#define vfio_dirty_iommu_map(domain, iova, paddr, size, prot) \
	iommu_map(domain, iova, paddr, size, prot)
#endif

/* A paging domain for @dev's IOMMU, or an ERR_PTR() as the stock driver's. */
#ifdef VFIO_DIRTY_PAGING_DOMAIN_ALLOC
static inline struct iommu_domain *vfio_dirty_domain_alloc(struct device *dev)
{
	return iommu_paging_domain_alloc(dev);
}
#else
static inline struct iommu_domain *vfio_dirty_domain_alloc(struct device *dev)
{
	return iommu_domain_alloc(dev->bus) ?: ERR_PTR(-EIO);
}
#endif

/*
 * What the page table of @vma, a VM_PFNMAP mapping whose mm's mmap_lock is
 * held, maps at @vaddr: 0 with the pfn in @pfn and whether it is mapped
 * writable in @writable, or -errno if nothing is mapped there yet.
 */
#ifdef VFIO_DIRTY_FOLLOW_PFNMAP
static inline int vfio_dirty_follow_pfn(struct vm_area_struct *vma,
					unsigned long vaddr, unsigned long *pfn,
					bool *writable)
{
	struct follow_pfnmap_args args = { .vma = vma, .address = vaddr };
	int ret;

	ret = follow_pfnmap_start(&args);
	if (ret)
		return ret;
	*pfn = args.pfn;
	*writable = args.writable;
	follow_pfnmap_end(&args);
	return 0;
}
#else
static inline int vfio_dirty_follow_pfn(struct vm_area_struct *vma,
					unsigned long vaddr, unsigned long *pfn,
					bool *writable)
{
	spinlock_t *ptl;	/* the page table's, held while @ptep is used */
	pte_t *ptep, pte;
	int ret;

	ret = follow_pte(vma->vm_mm, vaddr, &ptep, &ptl);
	if (ret)
		return ret;
	__acquire(ptl);	/* follow_pte() took it, unannotated */
	pte = ptep_get(ptep);
	*pfn = pte_pfn(pte);
	*writable = pte_write(pte);
	pte_unmap_unlock(ptep, ptl);
	return 0;
}
#endif

/* @addr of @mm, whose mmap_lock is held, without its tag bits. */
#ifdef VFIO_DIRTY_UNTAGGED_ADDR_REMOTE
static inline unsigned long vfio_dirty_untagged_addr(struct mm_struct *mm,
						     unsigned long addr)
{
	return untagged_addr_remote(mm, addr);
}
#else
static inline unsigned long vfio_dirty_untagged_addr(struct mm_struct *mm,
						     unsigned long addr)
{
	return untagged_addr(addr);
}
#endif

#ifdef VFIO_DIRTY_ISOLATED_MSI
static inline bool vfio_dirty_msi_isolated(struct iommu_group *group)
{
	return iommu_group_has_isolated_msi(group);
}
#else
static inline int vfio_dirty_dev_intr_remap(struct device *dev, void *data)
{
	return device_iommu_capable(dev, IOMMU_CAP_INTR_REMAP);
}

static inline bool vfio_dirty_msi_isolated(struct iommu_group *group)
{
	return irq_domain_check_msi_remap() ||
	       iommu_group_for_each_dev(group, NULL, vfio_dirty_dev_intr_remap);
}
#endif

#endif /* __VFIO_DIRTY_PRIVATE_H */
