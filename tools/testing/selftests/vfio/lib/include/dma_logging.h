/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the VFIO device DMA logging uAPI (VFIO_DEVICE_FEATURE with
 * VFIO_DEVICE_FEATURE_DMA_LOGGING_START, _STOP and _REPORT), and a fitter
 * that turns any list of mapped ranges into a START the kernel accepts.
 *
 * Helpers come in pairs as in vfio_util.h: __x() returns 0 or a negative
 * errno and asserts nothing; the tests assert.
 */
#ifndef DMA_LOGGING_H
#define DMA_LOGGING_H

#include <stdint.h>
#include <linux/vfio.h>

/**
 * __dma_logging_start() - VFIO_DEVICE_FEATURE_DMA_LOGGING_START
 * @device_fd: the device
 * @page_size: the tracking granule asked for
 * @ranges: @n ranges, passed to the kernel as they are
 * @n: entries in @ranges (0 is passed on too, to test the kernel)
 *
 * Return: 0 or a negative errno: -ENOTTY when the device has no DMA logging,
 * -E2BIG past dma_logging_max_ranges() ranges or when the device cannot
 * track them, -EINVAL or -EOVERFLOW for bad ranges, -EBUSY from a device
 * that logs already.
 */
int __dma_logging_start(int device_fd, uint64_t page_size,
			const struct vfio_device_feature_dma_logging_range *ranges,
			uint32_t n);

/**
 * __dma_logging_stop() - VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP
 * @device_fd: the device
 *
 * Return: 0 or a negative errno.
 */
int __dma_logging_stop(int device_fd);

/**
 * __dma_logging_report() - VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT
 * @device_fd: the device
 * @iova: first byte reported
 * @length: bytes reported
 * @page_size: bytes per bit of @bitmap
 * @bitmap: one bit per @page_size of [@iova, @iova + @length), in u64 words;
 *          the kernel only sets bits, so the caller zeroes it
 *
 * The device forgets what it reports (read and clear).
 *
 * Return: 0 or a negative errno; -EOPNOTSUPP from a kernel whose VFIO core
 * was built without CONFIG_IOMMUFD_DRIVER, which has no IOVA bitmaps.
 */
int __dma_logging_report(int device_fd, uint64_t iova, uint64_t length,
			 uint64_t page_size, uint64_t *bitmap);

/**
 * __dma_logging_probe() - whether the device has a DMA logging feature
 * @device_fd: the device
 * @feature: VFIO_DEVICE_FEATURE_DMA_LOGGING_START, _STOP or _REPORT
 *
 * Issues the feature with VFIO_DEVICE_FEATURE_PROBE, which changes nothing.
 *
 * Return: 0 when the device has it, else a negative errno (-ENOTTY for a
 * device without DMA logging).
 */
int __dma_logging_probe(int device_fd, uint32_t feature);

/**
 * dma_logging_max_ranges() - the most ranges one START may pass
 *
 * The VFIO core's LOG_MAX_RANGES: the ranges that fit into one kernel page,
 * 256 with 4 KiB pages.
 *
 * Return: the kernel page size / sizeof(struct
 * vfio_device_feature_dma_logging_range).
 */
uint32_t dma_logging_max_ranges(void);

/**
 * dma_logging_start_fitted() - start DMA logging over any set of ranges
 * @device_fd: the device
 * @page_size: the tracking granule, a power of two of at least 4096
 * @ranges: @n ranges in any order, each aligned to @page_size, not empty;
 *          left untouched
 * @n: entries in @ranges, at least 1
 * @used: out: the number of ranges of the last START issued, 0 if none was
 *
 * Sorts @ranges, merges those that touch or overlap, and fits the result
 * into at most dma_logging_max_ranges() ranges with vfio_dirty_ranges_fit(),
 * which covers every byte of @ranges and adds the fewest bytes any layout of
 * that many ranges can.  When the device refuses a START with -E2BIG, the
 * limit is halved and the fitting redone, down to a single range.
 *
 * Return: 0 once the device logs; -EINVAL for @n of 0, a bad @page_size or
 * an empty or unaligned range; -EOVERFLOW for a range that wraps past the
 * end of the 64-bit space or ends at its last byte (the VFIO core computes
 * iova + length); -ENOMEM; or the errno of the last START.
 */
int dma_logging_start_fitted(int device_fd, uint64_t page_size,
			     const struct vfio_device_feature_dma_logging_range *ranges,
			     uint32_t n, uint32_t *used);

/* The x() and test_err_x() forms, as in vfio_util.h. */
#define dma_logging_start(...) \
	__vfio_assert_ok(__dma_logging_start(__VA_ARGS__))
#define dma_logging_stop(...) \
	__vfio_assert_ok(__dma_logging_stop(__VA_ARGS__))
#define dma_logging_report(...) \
	__vfio_assert_ok(__dma_logging_report(__VA_ARGS__))
#define test_err_dma_logging_start(_errno, ...) \
	__vfio_expect_err(_errno, __dma_logging_start(__VA_ARGS__))
#define test_err_dma_logging_report(_errno, ...) \
	__vfio_expect_err(_errno, __dma_logging_report(__VA_ARGS__))

#endif /* DMA_LOGGING_H */
