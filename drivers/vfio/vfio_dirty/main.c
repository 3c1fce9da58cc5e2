// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: a VFIO IOMMU backend that speaks the type1 uAPI and whose
 * dirty page tracking scales past 2^31 pages.
 *
 * This file registers the backend with the VFIO core and holds the module
 * parameters.  The core offers a new container to the registered backends,
 * the most recently registered first: loaded after vfio_iommu_type1, this
 * one takes every type1 container unless "claim" is off.  container.c has
 * the entry points.
 *
 * Parameters change at any time, while requests run: each request reads
 * the one it needs once (READ_ONCE()), so that it sees one value from start
 * to end, and a setter either stores a whole new value or leaves the old one.
 */
#include <linux/ctype.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/string.h>

#include "private.h"

bool vfio_dirty_claim = true;
module_param_named(claim, vfio_dirty_claim, bool, 0644);
MODULE_PARM_DESC(claim,
		 "Back new type1 containers; when off they fall through to vfio_iommu_type1, existing ones stay (default: true)");

bool vfio_dirty_allow_unsafe_interrupts;
module_param_named(allow_unsafe_interrupts, vfio_dirty_allow_unsafe_interrupts,
		   bool, 0644);
MODULE_PARM_DESC(allow_unsafe_interrupts,
		 "Accept IOMMU groups whose MSIs are not isolated (no interrupt remapping), read when a group attaches; unsafe: such a device can raise any interrupt (default: false)");

bool vfio_dirty_disable_hugepages;
module_param_named(disable_hugepages, vfio_dirty_disable_hugepages, bool, 0644);
MODULE_PARM_DESC(disable_hugepages,
		 "Pin and map each page of a mapping on its own, so that the IOMMU uses no large pages for it, read when a mapping is pinned (default: false)");

unsigned int vfio_dirty_dma_entry_limit __read_mostly = U16_MAX;
module_param_named(dma_entry_limit, vfio_dirty_dma_entry_limit, uint, 0644);
MODULE_PARM_DESC(dma_entry_limit,
		 "Maximum number of mappings per container, read when a container is opened (default: 65535)");

u64 vfio_dirty_max_bitmap_size __read_mostly = VFIO_DIRTY_BITMAP_SIZE_DEFAULT;
u64 vfio_dirty_chunk_size __read_mostly = VFIO_DIRTY_CHUNK_SIZE_DEFAULT;

/*
 * Parse a size: a decimal number of bytes with an optional K, M, G, T, P or
 * E suffix (powers of 1024), and the newline sysfs writes bring, into @size
 * if it lies in [@min, @max] and is a multiple of @align.  Unlike memparse(),
 * a number too large for 64 bits is refused rather than wrapped.
 */
static int size_param_parse(const char *val, u64 min, u64 max, u64 align,
			    u64 *size)
{
	static const char suffixes[] = "KMGTPE";
	size_t len = strcspn(val, "\n");
	unsigned int shift = 0;
	const char *suffix;
	char buf[32];
	u64 n;

	if (!len || len >= sizeof(buf) || (val[len] && strcmp(val + len, "\n")))
		return -EINVAL;
	memcpy(buf, val, len);
	buf[len] = '\0';
	suffix = strchr(suffixes, toupper(buf[len - 1]));
	if (suffix) {
		shift = 10 * (suffix - suffixes + 1);
		buf[len - 1] = '\0';
	}
	if (kstrtou64(buf, 10, &n) || check_shl_overflow(n, shift, &n) ||
	    n < min || n > max || n % align)
		return -EINVAL;
	*size = n;
	return 0;
}

static int size_param_get(char *buffer, const struct kernel_param *kp)
{
	return scnprintf(buffer, PAGE_SIZE, "%llu\n", READ_ONCE(*(u64 *)kp->arg));
}

static int max_bitmap_size_set(const char *val, const struct kernel_param *kp)
{
	u64 size;
	int ret;

	ret = size_param_parse(val, PAGE_SIZE, VFIO_DIRTY_BITMAP_SIZE_MAX, 1,
			       &size);
	if (!ret)
		WRITE_ONCE(*(u64 *)kp->arg, size);
	return ret;
}

static const struct kernel_param_ops max_bitmap_size_ops = {
	.set = max_bitmap_size_set,
	.get = size_param_get,
};

module_param_cb(max_bitmap_size, &max_bitmap_size_ops,
		&vfio_dirty_max_bitmap_size, 0644);
MODULE_PARM_DESC(max_bitmap_size,
		 "Largest dirty bitmap one GET_BITMAP or unmap may ask for, in bytes, K/M/G/T suffixes accepted, from 4096 (PAGE_SIZE) to 16G; larger requests fail with E2BIG (default: 256M, the stock driver's, 2^31 pages)");

static int chunk_size_set(const char *val, const struct kernel_param *kp)
{
	u64 size;
	int ret;

	ret = size_param_parse(val, sizeof(u64), VFIO_DIRTY_CHUNK_SIZE_MAX,
			       sizeof(u64), &size);
	if (!ret)
		WRITE_ONCE(*(u64 *)kp->arg, size);
	return ret;
}

static const struct kernel_param_ops chunk_size_ops = {
	.set = chunk_size_set,
	.get = size_param_get,
};

module_param_cb(chunk_size, &chunk_size_ops, &vfio_dirty_chunk_size, 0644);
MODULE_PARM_DESC(chunk_size,
		 "Bytes of user dirty bitmap a request writes per step at most, a multiple of 8 from 8 to 64M, K/M suffixes accepted (default: 2M, 64 GiB of IOVA at 4 KiB)");

static const struct vfio_iommu_driver_ops vfio_dirty_ops = {
	.name			= "vfio-dirty",
	.owner			= THIS_MODULE,
	.open			= vfio_dirty_open,
	.release		= vfio_dirty_release,
	.ioctl			= vfio_dirty_ioctl,
	.attach_group		= vfio_dirty_attach_group,
	.detach_group		= vfio_dirty_detach_group,
	.pin_pages		= vfio_dirty_pin_pages,
	.unpin_pages		= vfio_dirty_unpin_pages,
	.register_device	= vfio_dirty_register_device,
	.unregister_device	= vfio_dirty_unregister_device,
	.dma_rw			= vfio_dirty_dma_rw,
	.group_iommu_domain	= vfio_dirty_group_iommu_domain,
#ifdef VFIO_DIRTY_OPS_NOTIFY
	.notify			= vfio_dirty_notify,
#endif
};

static int __init vfio_dirty_init(void)
{
	int ret;

	ret = vfio_dirty_stats_init();
	if (ret)
		return ret;
	ret = vfio_dirty_bits_cache_init();
	if (ret)
		goto err_stats_exit;
	ret = vfio_register_iommu_driver(&vfio_dirty_ops);
	if (ret)
		goto err_bits_cache_exit;
	return 0;

err_bits_cache_exit:
	vfio_dirty_bits_cache_exit();
err_stats_exit:
	vfio_dirty_stats_exit();
	return ret;
}
module_init(vfio_dirty_init);

static void __exit vfio_dirty_exit(void)
{
	vfio_unregister_iommu_driver(&vfio_dirty_ops);
	vfio_dirty_bits_cache_exit();
	vfio_dirty_stats_exit();
}
module_exit(vfio_dirty_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO type1-compatible IOMMU backend with scalable dirty tracking");
