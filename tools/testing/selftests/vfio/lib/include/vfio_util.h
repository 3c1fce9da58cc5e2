/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vfio_dirty selftests.
 *
 * A test device is named the way the kernel names it: a PCI device by its
 * BDF ("0000:00:03.0"), an mdev by its UUID.  It comes from the command line
 * (the last argument that does not start with '-') or from the
 * VFIO_SELFTESTS_BDF environment variable, as the kernel's VFIO selftests
 * take it.
 *
 * Helpers come in pairs or threes: __x() returns 0 or a negative errno and
 * asserts nothing, x() asserts success from inside a test, and
 * test_err_x(errno, ...) expects __x() to fail with errno (see the end of
 * this file).
 */
#ifndef VFIO_UTIL_H
#define VFIO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>
#include <linux/vfio_dirty_sim.h>

#ifdef TEST_TIMEOUT_DEFAULT
/*
 * The kselftest harness kills a test case after 30 s.  On the sanitizer
 * kernel under TCG a case takes many times its time on Debian's kernels,
 * and with the host's load average at 10 to 14 cases that pin 1 GiB or
 * close a container of large mappings ran past 30 s, and the next case
 * found the device still busy (2026-12-06).
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	120
#endif

#define SZ_4K	0x1000UL
#define SZ_1M	0x100000UL
#define SZ_2M	0x200000UL
#define SZ_1G	0x40000000UL
#define SZ_4T	0x40000000000ULL
#define SZ_8T	0x80000000000ULL

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))
#endif

#define VFIO_SELFTESTS_HOWTO \
	"pass a PCI BDF or an mdev UUID as the last argument, or set VFIO_SELFTESTS_BDF"

/**
 * struct vfio_test_device - one VFIO device opened through a type1 container
 * @name: BDF or mdev UUID
 * @is_mdev: true for an mdev (emulated IOMMU), false for a PCI device
 * @container_fd: /dev/vfio/vfio, with an IOMMU backend set
 * @group_fd: /dev/vfio/<group>, attached to @container_fd
 * @device_fd: from VFIO_GROUP_GET_DEVICE_FD
 * @group: IOMMU group number
 */
struct vfio_test_device {
	const char *name;
	bool is_mdev;
	int container_fd;
	int group_fd;
	int device_fd;
	int group;
};

/**
 * vfio_selftests_get_device() - the test device's name, or NULL
 * @argc: main()'s argc; the name is removed from the arguments
 * @argv: main()'s argv
 */
const char *vfio_selftests_get_device(int *argc, char *argv[]);

/**
 * __vfio_group_open() - open the VFIO group of a device
 * @name: BDF or mdev UUID
 *
 * Return: the group's file descriptor, or a negative errno (-ENODEV when
 * no such device exists).
 */
int __vfio_group_open(const char *name);

/**
 * __vfio_test_device_open() - open a device through a new type1 container
 * @dev: filled in; closed with vfio_test_device_close()
 * @name: BDF or mdev UUID
 * @iommu_type: VFIO_TYPE1_IOMMU or VFIO_TYPE1v2_IOMMU
 *
 * Return: 0, or a negative errno (-ENODEV when no such device exists).
 */
int __vfio_test_device_open(struct vfio_test_device *dev, const char *name,
			    unsigned long iommu_type);

/**
 * enum vfio_test_backend - the IOMMU backends a container can get
 * @VFIO_BACKEND_TYPE1: the stock driver, vfio_iommu_type1
 * @VFIO_BACKEND_VFIO_DIRTY: vfio_dirty
 * @VFIO_NR_BACKENDS: how many there are, for the tables of the benchmarks
 */
enum vfio_test_backend {
	VFIO_BACKEND_TYPE1,
	VFIO_BACKEND_VFIO_DIRTY,
	VFIO_NR_BACKENDS,
};

/**
 * vfio_test_backend_module() - the module that implements @backend
 * @backend: the backend
 */
const char *vfio_test_backend_module(enum vfio_test_backend backend);

/**
 * __vfio_test_device_open_on() - __vfio_test_device_open() on a chosen backend
 * @dev: filled in; closed with vfio_test_device_close()
 * @name: BDF or mdev UUID
 * @iommu_type: VFIO_TYPE1_IOMMU or VFIO_TYPE1v2_IOMMU
 * @backend: the backend the container must get
 *
 * The VFIO core gives a new container to the newest backend that claims its
 * type; vfio_dirty claims type1 only while its "claim" parameter is set, so
 * the parameter is set for the open and put back after.  Which backend took
 * the container is checked: the core holds a reference on its module.
 *
 * Return: 0; -ENOENT when @backend's module is not loaded; -EPROTO when the
 * container went to another backend; or an error of the open.
 */
int __vfio_test_device_open_on(struct vfio_test_device *dev, const char *name,
			       unsigned long iommu_type,
			       enum vfio_test_backend backend);

/**
 * sysfs_read_long() - the number a sysfs or procfs file holds
 * @path: the file
 *
 * Return: the number, or -1 when the file cannot be read.
 */
long sysfs_read_long(const char *path);

/**
 * __sysfs_write_long() - write a number to a sysfs or procfs file
 * @path: the file
 * @val: the number
 *
 * Return: 0 or a negative errno.
 */
int __sysfs_write_long(const char *path, long val);

/**
 * __sysfs_write_line() - write @line to a sysfs file
 * @path: the file
 * @line: what to write, in one write(2)
 *
 * Return: 0, the negative errno the file's store returned, or -EIO when
 * the file took less than all of @line.
 */
int __sysfs_write_line(const char *path, const char *line);

/**
 * module_refcnt() - /sys/module/@module/refcnt
 * @module: module name
 *
 * The VFIO core holds a reference on the module of a container's backend
 * while the container has one.
 *
 * Return: the count, or -1 when @module is not loaded.
 */
long module_refcnt(const char *module);

/**
 * __module_param_read() - the first line of a module parameter
 * @module: module name
 * @param: parameter name
 * @buf: filled in, newline included
 * @size: size of @buf
 *
 * Return: 0 or a negative errno.
 */
int __module_param_read(const char *module, const char *param, char *buf,
			size_t size);

/**
 * __module_param_write() - set a module parameter
 * @module: module name
 * @param: parameter name
 * @value: what to write
 *
 * Return: 0 or a negative errno.
 */
int __module_param_write(const char *module, const char *param,
			 const char *value);

/**
 * vfio_dirty_tracking_bytes() - /sys/module/vfio_dirty/stats/tracking_bytes
 *
 * The memory vfio_dirty holds for dirty tracking, in all containers: a
 * fixture that uses vfio_dirty finds it back where it was once it closed
 * what it opened.
 *
 * Return: the bytes, or -1 when vfio_dirty is not loaded.
 */
long vfio_dirty_tracking_bytes(void);

/**
 * vfio_errname() - a negative errno as a table shows it
 * @ret: the errno, negative
 *
 * Return: "EINVAL", "E2BIG" or "ENOMEM" for the errnos a dirty bitmap
 * request fails with by design, strerror() of any other.
 */
const char *vfio_errname(int ret);

/**
 * __vfio_dirty_ceiling_set() - set vfio_dirty's max_bitmap_size
 * @value: the new ceiling, as the parameter takes it ("1G")
 * @saved: filled in with the value it replaces, for
 *         vfio_dirty_ceiling_restore()
 * @size: size of @saved
 *
 * Return: 0 or a negative errno.
 */
int __vfio_dirty_ceiling_set(const char *value, char *saved, size_t size);

/**
 * vfio_dirty_ceiling_restore() - undo __vfio_dirty_ceiling_set()
 * @saved: what it saved; nothing is written if it is empty, and it is
 *         emptied
 */
void vfio_dirty_ceiling_restore(char *saved);

/**
 * vfio_test_device_init() - mark @dev as not open, for a setup that can
 *	stop before it opens it
 * @dev: the device; vfio_test_device_close() of it then closes nothing
 */
void vfio_test_device_init(struct vfio_test_device *dev);

/**
 * vfio_test_device_close() - close what __vfio_test_device_open() opened
 * @dev: the device; safe on a partly opened one
 */
void vfio_test_device_close(struct vfio_test_device *dev);

/**
 * __vfio_ioctl() - an ioctl, its argument passed as given
 * @fd: a container, group or device
 * @request: the ioctl
 * @arg: its argument, unchecked so that tests can pass bad ones
 *
 * Return: 0 or a negative errno.
 */
int __vfio_ioctl(int fd, unsigned long request, void *arg);

/**
 * __vfio_map_prot() - VFIO_IOMMU_MAP_DMA with the given flags
 * @container_fd: the container
 * @vaddr: first byte of the memory
 * @iova: first byte of IOVA
 * @size: bytes
 * @flags: VFIO_DMA_MAP_FLAG_*, passed unchecked
 *
 * Return: 0 or a negative errno.
 */
int __vfio_map_prot(int container_fd, void *vaddr, uint64_t iova,
		    uint64_t size, uint32_t flags);

/**
 * __vfio_map() - VFIO_IOMMU_MAP_DMA of [@vaddr, @vaddr + @size) at @iova
 * @container_fd: the container
 * @vaddr: process address
 * @iova: device address
 * @size: bytes
 *
 * Return: 0 or a negative errno.
 */
int __vfio_map(int container_fd, void *vaddr, uint64_t iova, uint64_t size);

/**
 * __vfio_unmap() - VFIO_IOMMU_UNMAP_DMA of [@iova, @iova + @size)
 * @container_fd: the container
 * @iova: device address
 * @size: bytes
 * @unmapped: if not NULL, the size the kernel reports as unmapped
 *
 * Return: 0 or a negative errno.
 */
int __vfio_unmap(int container_fd, uint64_t iova, uint64_t size,
		 uint64_t *unmapped);

/**
 * __vfio_unmap_vaddr() - VFIO_IOMMU_UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_VADDR:
 *	invalidate the vaddr of the mappings in [@iova, @iova + @size)
 * @container_fd: the container
 * @flags: more flags, e.g. VFIO_DMA_UNMAP_FLAG_ALL, or 0
 * @iova: device address
 * @size: bytes
 * @invalidated: if not NULL, the size the kernel reports
 *
 * Return: 0 or a negative errno.
 */
int __vfio_unmap_vaddr(int container_fd, uint32_t flags, uint64_t iova,
		       uint64_t size, uint64_t *invalidated);

/**
 * __vfio_map_vaddr() - VFIO_IOMMU_MAP_DMA with VFIO_DMA_MAP_FLAG_VADDR: give
 *	the mapping at @iova the new process address @vaddr
 * @container_fd: the container
 * @flags: more flags; 0 but to see others refused
 * @vaddr: new process address
 * @iova: device address of the mapping
 * @size: its size
 *
 * Return: 0 or a negative errno.
 */
int __vfio_map_vaddr(int container_fd, uint32_t flags, void *vaddr,
		     uint64_t iova, uint64_t size);

/**
 * __vfio_unmap_all() - VFIO_IOMMU_UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_ALL
 * @container_fd: the container
 * @iova: must be 0; tests pass others to see them refused
 * @size: must be 0, likewise
 * @unmapped: if not NULL, the size the kernel reports as unmapped
 *
 * Return: 0 or a negative errno.
 */
int __vfio_unmap_all(int container_fd, uint64_t iova, uint64_t size,
		     uint64_t *unmapped);

/**
 * __vfio_unmap_bitmap() - VFIO_IOMMU_UNMAP_DMA with GET_DIRTY_BITMAP
 * @container_fd: the container
 * @iova: device address
 * @size: bytes
 * @pgsize: the bitmap's page size
 * @bitmap: user bitmap, zeroed by the caller, one bit per @pgsize
 * @bitmap_bytes: its size as passed to the kernel
 * @unmapped: if not NULL, the size the kernel reports as unmapped
 *
 * Return: 0 or a negative errno.
 */
int __vfio_unmap_bitmap(int container_fd, uint64_t iova, uint64_t size,
			uint64_t pgsize, uint64_t *bitmap, uint64_t bitmap_bytes,
			uint64_t *unmapped);

/**
 * __vfio_dirty() - VFIO_IOMMU_DIRTY_PAGES with @flags START or STOP
 * @container_fd: the container
 * @flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_START or _STOP
 *
 * Return: 0 or a negative errno.
 */
int __vfio_dirty(int container_fd, uint32_t flags);

/**
 * __vfio_get_bitmap() - VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP
 * @container_fd: the container
 * @iova: start of the range
 * @size: bytes
 * @pgsize: the bitmap's page size
 * @bitmap: user bitmap, zeroed by the caller, one bit per @pgsize
 * @bitmap_bytes: its size as passed to the kernel
 *
 * Return: 0 or a negative errno.
 */
int __vfio_get_bitmap(int container_fd, uint64_t iova, uint64_t size,
		      uint64_t pgsize, uint64_t *bitmap, uint64_t bitmap_bytes);

/**
 * __vfio_dirty_test_set_dirty() - VFIO_DIRTY_TEST_SET_DIRTY, a test hook
 * @container_fd: a container on vfio_dirty, tracking
 * @iova: start of the range, inside one mapping
 * @size: bytes
 *
 * Marks every page of the range dirty without writing it.
 *
 * Return: 0 or a negative errno: -ENOTTY when vfio_dirty was built without
 * CONFIG_VFIO_DIRTY_TEST (or the container is not on vfio_dirty).
 */
int __vfio_dirty_test_set_dirty(int container_fd, uint64_t iova, uint64_t size);

/**
 * __vfio_dirty_test_fail_alloc() - VFIO_DIRTY_TEST_FAIL_ALLOC
 * @container_fd: a container on vfio_dirty
 * @count: how many of the next allocations of dirty bits fail; 0: none
 * @left: if not NULL, how many of the count set before were not used
 *
 * Return: 0, -ENOTTY from a module without test hooks, or a negative errno.
 */
int __vfio_dirty_test_fail_alloc(int container_fd, uint32_t count,
				 uint32_t *left);

/**
 * vfio_device_is_dirty_sim() - is @name an instance of vfio_dirty_sim?
 * @name: BDF or mdev UUID
 *
 * An instance is an mdev whose type, the basename of the link
 * /sys/bus/mdev/devices/@name/mdev_type, starts with "vfio_dirty_sim".
 *
 * Return: true for an instance; false for a PCI device, an mdev of another
 * type or a name that does not exist.
 */
bool vfio_device_is_dirty_sim(const char *name);

/**
 * __sim_ioctl() - one ioctl of the simulated device, arguments as given
 * @device_fd: the device
 * @request: VFIO_DIRTY_SIM_*
 * @arg: its argument, passed unchecked so that tests can pass bad ones
 *
 * Return: 0 or a negative errno.
 */
int __sim_ioctl(int device_fd, unsigned long request, void *arg);

/**
 * __sim_write() - VFIO_DIRTY_SIM_DMA_WRITE of @pattern
 * @device_fd: the device
 * @flags: 0 (through vfio_dma_rw()) or VFIO_DIRTY_SIM_DMA_PIN
 * @iova: first byte
 * @length: bytes
 * @pattern: the value each 8 bytes of each page get
 * @done: if not NULL, the pages written
 * @failed: if not NULL, the pages that could not be written
 *
 * Return: 0 or a negative errno.
 */
int __sim_write(int device_fd, uint32_t flags, uint64_t iova, uint64_t length,
		uint64_t pattern, uint64_t *done, uint64_t *failed);

/**
 * __sim_read() - VFIO_DIRTY_SIM_DMA_READ into @data
 * @device_fd: the device
 * @flags: 0 (through vfio_dma_rw()) or VFIO_DIRTY_SIM_DMA_PIN (through
 *	pages pinned for reading)
 * @iova: first byte
 * @length: bytes, and the size of @data
 * @data: where the device copies what it reads
 * @done: if not NULL, the pages read
 * @failed: if not NULL, the pages that could not be read
 *
 * Return: 0 or a negative errno.
 */
int __sim_read(int device_fd, uint32_t flags, uint64_t iova, uint64_t length,
	       void *data, uint64_t *done, uint64_t *failed);

/**
 * __sim_log_read() - VFIO_DIRTY_SIM_LOG_READ
 * @device_fd: the device
 * @flags: 0 or VFIO_DIRTY_SIM_LOG_CLEAR
 * @iova: first page
 * @npages: pages, and the entries of @seqs
 * @seqs: filled in: each page's sequence number of its last successful write
 * @seq: if not NULL, the last sequence number the device took
 * @failed: if not NULL, the failed-write count
 *
 * Return: 0 or a negative errno.
 */
int __sim_log_read(int device_fd, uint32_t flags, uint64_t iova,
		   uint64_t npages, uint64_t *seqs, uint64_t *seq,
		   uint64_t *failed);

/**
 * __sim_writer_start() - VFIO_DIRTY_SIM_WRITER_START
 * @device_fd: the device
 * @flags: 0 or VFIO_DIRTY_SIM_DMA_PIN
 * @pattern: the value written
 * @ranges: the IOVA ranges the writer goes over, in turn
 * @nr_ranges: entries of @ranges
 *
 * Return: 0 or a negative errno.
 */
int __sim_writer_start(int device_fd, uint32_t flags, uint64_t pattern,
		       const struct vfio_dirty_sim_range *ranges,
		       uint32_t nr_ranges);

/**
 * __sim_writer_stop() - VFIO_DIRTY_SIM_WRITER_STOP
 * @device_fd: the device
 *
 * Return: 0 or a negative errno (-ENOENT when no writer runs).
 */
int __sim_writer_stop(int device_fd);

/* The simulated device's mdev type. */
#define SIM_TYPE_DIR \
	"/sys/class/mdev_bus/vfio_dirty_sim/mdev_supported_types/vfio_dirty_sim-1"

/**
 * __sim_instance_create() - a new instance of the simulated device
 * @like: an instance (UUID) whose mdev type the new one gets, or NULL for
 *        SIM_TYPE_DIR
 * @uuid: filled in with the new instance's UUID
 * @size: size of @uuid, at least 37
 *
 * Return: 0 or a negative errno.
 */
int __sim_instance_create(const char *like, char *uuid, size_t size);

/**
 * __sim_instance_remove() - remove an instance of the simulated device
 * @uuid: the instance
 *
 * Waits, as the mdev core does, until the instance's device is closed.
 *
 * Return: 0 or a negative errno.
 */
int __sim_instance_remove(const char *uuid);

/**
 * __sim_instance_knob_write() - write a per-instance sysfs file
 * @uuid: the instance
 * @knob: its file under /sys/bus/mdev/devices/@uuid/
 * @value: what to write
 *
 * Return: 0 or a negative errno.
 */
int __sim_instance_knob_write(const char *uuid, const char *knob,
			      const char *value);

/**
 * vfio_iommu_info() - VFIO_IOMMU_GET_INFO with its whole capability chain
 *
 * @container_fd: the container
 *
 * Return: a malloc()ed buffer of info->argsz bytes, or NULL with errno set.
 */
struct vfio_iommu_type1_info *vfio_iommu_info(int container_fd);

/**
 * vfio_iommu_info_cap() - find a capability in vfio_iommu_info()'s result
 * @info: from vfio_iommu_info()
 * @id: VFIO_IOMMU_TYPE1_INFO_CAP_*
 *
 * Return: the capability header, or NULL when absent.
 */
struct vfio_info_cap_header *
vfio_iommu_info_cap(struct vfio_iommu_type1_info *info, uint16_t id);

/**
 * first_byte_not() - the first byte of a buffer that differs from a value
 * @buf: the buffer
 * @len: its bytes
 * @val: the value every byte should have
 *
 * Return: the offset of the first byte that is not @val, or -1.
 */
long first_byte_not(const void *buf, size_t len, uint8_t val);

/**
 * now_ms() - CLOCK_MONOTONIC in milliseconds
 *
 * Return: the time, to the nanosecond.
 */
double now_ms(void);

/**
 * median() - the median of @n values
 * @v: the values, sorted in place
 * @n: how many
 *
 * Return: the middle value, the mean of the middle two when @n is even,
 * or -1 when @n is 0.
 */
double median(double *v, int n);

/**
 * dashes() - a rule of @n dashes, for a table in Markdown
 * @n: 0 to 64
 */
const char *dashes(int n);

/**
 * kernel_at_least() - is the running kernel @major.@minor or later?
 * @major: e.g. 6
 * @minor: e.g. 18
 */
bool kernel_at_least(int major, int minor);

/**
 * proc_self_status_kb() - a "kB" field of /proc/self/status
 * @field: e.g. "VmLck"
 *
 * Return: its value, or -1 when absent.
 */
long proc_self_status_kb(const char *field);

/**
 * proc_meminfo_kb() - a field of /proc/meminfo
 * @field: e.g. "VmallocUsed"
 *
 * Return: its value in kB, or -1 when absent.
 */
long proc_meminfo_kb(const char *field);

/**
 * bitmap_weight_bits() - number of set bits among the first @nbits
 * @bitmap: the bitmap, in 64-bit words as VFIO lays it out
 * @nbits: bits to look at
 */
uint64_t bitmap_weight_bits(const uint64_t *bitmap, uint64_t nbits);

/**
 * bitmap_test_bit() - is bit @bit of @bitmap set?
 * @bitmap: the bitmap, in 64-bit words as VFIO lays it out
 * @bit: the bit
 */
bool bitmap_test_bit(const uint64_t *bitmap, uint64_t bit);

/*
 * The x() and test_err_x() forms of the __x() helpers above.  Like the
 * harness's ASSERT_*() and EXPECT_*(), they use its _metadata: call them
 * from a TEST_F(), a FIXTURE_SETUP() or a function that takes
 * struct __test_metadata *_metadata, in a file that includes
 * kselftest_harness.h.  A failure names the call and its errno.
 */
#define __vfio_assert_ok(call) do {					\
	int __vfio_ret = (call);					\
									\
	ASSERT_EQ(0, __vfio_ret)					\
		TH_LOG("%s: %s", #call, strerror(-__vfio_ret));		\
} while (0)

#define __vfio_expect_err(_errno, call) do {				\
	int __vfio_want = -(_errno), __vfio_ret = (call);		\
									\
	EXPECT_EQ(__vfio_want, __vfio_ret)				\
		TH_LOG("%s: %s, not %s", #call, strerror(-__vfio_ret),	\
		       strerror(-__vfio_want));				\
} while (0)

/*
 * FIXTURE_VARIANT_ADD_ALL_BACKENDS(fixture) - one variant of @fixture per
 * backend, "stock" (vfio_iommu_type1) and "vfio_dirty", so that each of its
 * tests runs on both; its FIXTURE_VARIANT() has
 * "enum vfio_test_backend backend".
 */
#define FIXTURE_VARIANT_ADD_ALL_BACKENDS(...)				\
FIXTURE_VARIANT_ADD(__VA_ARGS__, stock) {				\
	.backend = VFIO_BACKEND_TYPE1,					\
};									\
FIXTURE_VARIANT_ADD(__VA_ARGS__, vfio_dirty) {				\
	.backend = VFIO_BACKEND_VFIO_DIRTY,				\
}

#ifdef __KSELFTEST_HARNESS_H
/**
 * vfio_fixture_open() - a FIXTURE_SETUP()'s device, opened through a new
 *	type1v2 container, or the test skipped
 * @_metadata: the harness's
 * @dev: the fixture's device; not open (vfio_test_device_init()) if skipped
 * @name: the device the test was given, or NULL
 * @sim_only: skip unless @name is an instance of vfio_dirty_sim
 *
 * Asserts that the device opens.
 *
 * Return: true once @dev is open; false when the test is skipped, and the
 * setup returns.
 */
static inline bool vfio_fixture_open(struct __test_metadata *_metadata,
				     struct vfio_test_device *dev,
				     const char *name, bool sim_only)
{
	int ret;

	vfio_test_device_init(dev);
	if (!name)
		SKIP(return false, "no device: " VFIO_SELFTESTS_HOWTO);
	if (sim_only && !vfio_device_is_dirty_sim(name))
		SKIP(return false, "%s is not a vfio_dirty_sim mdev instance",
		     name);
	ret = __vfio_test_device_open(dev, name, VFIO_TYPE1v2_IOMMU);
	ASSERT_EQ(0, ret) TH_LOG("opening %s: %s", name, strerror(-ret));
	return true;
}

/**
 * vfio_fixture_open_on() - vfio_fixture_open() on a chosen backend
 * @_metadata: the harness's
 * @dev: the fixture's device; not open (vfio_test_device_init()) if skipped
 * @name: the device the test was given, or NULL
 * @backend: the backend the container must get; skip if it is not loaded
 *
 * Return: true once @dev is open; false when the test is skipped, and the
 * setup returns.
 */
static inline bool vfio_fixture_open_on(struct __test_metadata *_metadata,
					struct vfio_test_device *dev,
					const char *name,
					enum vfio_test_backend backend)
{
	const char *module = vfio_test_backend_module(backend);
	int ret;

	vfio_test_device_init(dev);
	if (!name)
		SKIP(return false, "no device: " VFIO_SELFTESTS_HOWTO);
	ret = __vfio_test_device_open_on(dev, name, VFIO_TYPE1v2_IOMMU,
					 backend);
	if (ret == -ENOENT)
		SKIP(return false, "%s is not loaded", module);
	ASSERT_EQ(0, ret) TH_LOG("opening %s on %s: %s", name, module,
				 strerror(-ret));
	return true;
}
#endif

#define vfio_test_device_open(...) \
	__vfio_assert_ok(__vfio_test_device_open(__VA_ARGS__))
#define vfio_test_device_open_on(...) \
	__vfio_assert_ok(__vfio_test_device_open_on(__VA_ARGS__))
#define sysfs_write_long(...) \
	__vfio_assert_ok(__sysfs_write_long(__VA_ARGS__))
#define sysfs_write_line(...) \
	__vfio_assert_ok(__sysfs_write_line(__VA_ARGS__))
#define module_param_read(...) \
	__vfio_assert_ok(__module_param_read(__VA_ARGS__))
#define module_param_write(...) \
	__vfio_assert_ok(__module_param_write(__VA_ARGS__))
#define vfio_dirty_ceiling_set(...) \
	__vfio_assert_ok(__vfio_dirty_ceiling_set(__VA_ARGS__))
#define vfio_ioctl(...) \
	__vfio_assert_ok(__vfio_ioctl(__VA_ARGS__))
#define vfio_map_prot(...) \
	__vfio_assert_ok(__vfio_map_prot(__VA_ARGS__))
#define vfio_map(...) \
	__vfio_assert_ok(__vfio_map(__VA_ARGS__))
#define vfio_unmap(...) \
	__vfio_assert_ok(__vfio_unmap(__VA_ARGS__))
#define vfio_unmap_vaddr(...) \
	__vfio_assert_ok(__vfio_unmap_vaddr(__VA_ARGS__))
#define vfio_map_vaddr(...) \
	__vfio_assert_ok(__vfio_map_vaddr(__VA_ARGS__))
#define vfio_unmap_all(...) \
	__vfio_assert_ok(__vfio_unmap_all(__VA_ARGS__))
#define vfio_unmap_bitmap(...) \
	__vfio_assert_ok(__vfio_unmap_bitmap(__VA_ARGS__))
#define vfio_dirty(...) \
	__vfio_assert_ok(__vfio_dirty(__VA_ARGS__))
#define vfio_get_bitmap(...) \
	__vfio_assert_ok(__vfio_get_bitmap(__VA_ARGS__))
#define vfio_dirty_test_set_dirty(...) \
	__vfio_assert_ok(__vfio_dirty_test_set_dirty(__VA_ARGS__))
#define vfio_dirty_test_fail_alloc(...) \
	__vfio_assert_ok(__vfio_dirty_test_fail_alloc(__VA_ARGS__))
#define sim_ioctl(...) \
	__vfio_assert_ok(__sim_ioctl(__VA_ARGS__))
#define sim_write(...) \
	__vfio_assert_ok(__sim_write(__VA_ARGS__))
#define sim_read(...) \
	__vfio_assert_ok(__sim_read(__VA_ARGS__))
#define sim_log_read(...) \
	__vfio_assert_ok(__sim_log_read(__VA_ARGS__))
#define sim_writer_start(...) \
	__vfio_assert_ok(__sim_writer_start(__VA_ARGS__))
#define sim_writer_stop(...) \
	__vfio_assert_ok(__sim_writer_stop(__VA_ARGS__))
#define sim_instance_create(...) \
	__vfio_assert_ok(__sim_instance_create(__VA_ARGS__))
#define sim_instance_remove(...) \
	__vfio_assert_ok(__sim_instance_remove(__VA_ARGS__))
#define sim_instance_knob_write(...) \
	__vfio_assert_ok(__sim_instance_knob_write(__VA_ARGS__))

#define test_err_module_param_write(_errno, ...) \
	__vfio_expect_err(_errno, __module_param_write(__VA_ARGS__))
#define test_err_vfio_ioctl(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_ioctl(__VA_ARGS__))
#define test_err_vfio_map(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_map(__VA_ARGS__))
#define test_err_vfio_unmap(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_unmap(__VA_ARGS__))
#define test_err_vfio_unmap_vaddr(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_unmap_vaddr(__VA_ARGS__))
#define test_err_vfio_map_vaddr(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_map_vaddr(__VA_ARGS__))
#define test_err_vfio_unmap_all(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_unmap_all(__VA_ARGS__))
#define test_err_vfio_unmap_bitmap(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_unmap_bitmap(__VA_ARGS__))
#define test_err_vfio_dirty(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_dirty(__VA_ARGS__))
#define test_err_vfio_get_bitmap(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_get_bitmap(__VA_ARGS__))
#define test_err_vfio_dirty_test_set_dirty(_errno, ...) \
	__vfio_expect_err(_errno, __vfio_dirty_test_set_dirty(__VA_ARGS__))
#define test_err_sim_ioctl(_errno, ...) \
	__vfio_expect_err(_errno, __sim_ioctl(__VA_ARGS__))
#define test_err_sim_write(_errno, ...) \
	__vfio_expect_err(_errno, __sim_write(__VA_ARGS__))
#define test_err_sim_read(_errno, ...) \
	__vfio_expect_err(_errno, __sim_read(__VA_ARGS__))
#define test_err_sim_writer_start(_errno, ...) \
	__vfio_expect_err(_errno, __sim_writer_start(__VA_ARGS__))
#define test_err_sim_writer_stop(_errno, ...) \
	__vfio_expect_err(_errno, __sim_writer_stop(__VA_ARGS__))

#endif /* VFIO_UTIL_H */
