// SPDX-License-Identifier: GPL-2.0
/*
 * Real DMA through each backend's IOMMU mappings: QEMU's edu device copies
 * between process memory, mapped with VFIO_IOMMU_MAP_DMA, and its own
 * buffer, behind the emulated intel-iommu.  Every test runs on both
 * backends, the stock vfio_iommu_type1 and vfio_dirty.
 *
 * What a mapping must do is seen from the device's side: the bytes the
 * engine reads are the ones the process wrote, the bytes it writes land in
 * the process's pages and nowhere else, and a DMA to an IOVA with no
 * mapping (never mapped, or unmapped) reaches no memory and faults in the
 * IOMMU, which the guest kernel logs as a DMAR fault.
 *
 * The device is an edu (1234:11e8) bound to vfio-pci; any other device is
 * a skip.  Every IOVA lies below the engine's 28-bit DMA mask.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vfio_util.h"
#include "edu.h"

#define SRC_IOVA	0x100000ULL	/* the data the device reads */
#define DST_IOVA	0x200000ULL	/* where it writes */
#define GONE_IOVA	0x300000ULL	/* mapped, written, then unmapped */
#define NEVER_IOVA	0x8000000ULL	/* never mapped */

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << MAP_HUGE_SHIFT)
#endif
#define NR_1G_PAGES	"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

#define DST_FILL	0xa5
#define GONE_FILL	0x3c

/* How long the guest kernel may take to log an IOMMU fault. */
#define FAULT_LOG_TIMEOUT_MS	2000
/*
 * The intel-iommu fault handler logs through one rate limit of the
 * kernel's defaults, 10 lines per 5 s, and spends 3 on a fault (the status
 * line, the record, the empty slot after it): the fourth fault within a
 * window goes unlogged.  A window is over this long after it began.
 */
#define DMAR_RATELIMIT_S	5

static const char *device_name;

static uint8_t pattern_byte(size_t i, uint8_t seed)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7 + seed);
}

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(i, seed);
}

static long first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* /dev/kmsg, positioned after what the kernel logged so far; or -errno. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * Wait for the line the intel-iommu driver logs for a fault at @iova:
 * "DMAR: [DMA Write NO_PASID] Request device [..] fault addr 0x... ...".
 * The address it logs is that of the page.
 */
static bool kmsg_wait_dmar_fault(int fd, uint64_t iova)
{
	double deadline = now_ms() + FAULT_LOG_TIMEOUT_MS;
	char want[48], rec[1024];
	ssize_t len;

	snprintf(want, sizeof(want), "fault addr 0x%llx ",
		 (unsigned long long)(iova & ~(SZ_4K - 1)));
	while (now_ms() < deadline) {
		len = read(fd, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EAGAIN) {
			usleep(10000);
			continue;
		}
		if (len < 0)
			continue;	/* EPIPE: records were overwritten */
		rec[len] = '\0';
		if (strstr(rec, "DMAR") && strstr(rec, want))
			return true;
	}
	return false;
}

FIXTURE(edu_dma) {
	struct vfio_test_device dev;
	struct edu edu;
	uint8_t *src;
	uint8_t *dst;
	uint8_t *gone;
	/* a 1 GiB hugetlb page, and the count of them to put back, or -1 */
	uint8_t *giga;
	long nr_1g;
	/* 4 MiB holding a 2 MiB-aligned THP, and disable_hugepages to restore */
	uint8_t *thp;
	char hugepages[16];
	long tracking;		/* vfio_dirty_tracking_bytes() before the test */
};

FIXTURE_VARIANT(edu_dma) {
	enum vfio_test_backend backend;
};

FIXTURE_VARIANT_ADD_ALL_BACKENDS(edu_dma);

static uint8_t *page_alloc(void)
{
	void *p = mmap(NULL, SZ_4K, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

FIXTURE_SETUP(edu_dma)
{
	const char *why;
	int fd, ret;

	vfio_test_device_init(&self->dev);
	self->edu.bar = NULL;
	self->src = NULL;
	self->dst = NULL;
	self->gone = NULL;
	self->giga = NULL;
	self->nr_1g = -1;
	self->thp = NULL;
	self->hugepages[0] = '\0';
	self->tracking = vfio_dirty_tracking_bytes();
	why = device_name ? edu_unsupported(device_name) : NULL;
	if (why)
		SKIP(return, "%s", why);
	if (!vfio_fixture_open_on(_metadata, &self->dev, device_name,
				  variant->backend))
		return;
	ret = __edu_open(&self->edu, self->dev.device_fd);
	ASSERT_EQ(0, ret) TH_LOG("BAR0 and bus mastering: %s", strerror(-ret));

	self->src = page_alloc();
	self->dst = page_alloc();
	self->gone = page_alloc();
	ASSERT_NE(NULL, self->src);
	ASSERT_NE(NULL, self->dst);
	ASSERT_NE(NULL, self->gone);
	fill_pattern(self->src, SZ_4K, 0x11);
	memset(self->dst, DST_FILL, SZ_4K);
	memset(self->gone, GONE_FILL, SZ_4K);

	fd = self->dev.container_fd;
	vfio_map(fd, self->src, SRC_IOVA, SZ_4K);
	vfio_map(fd, self->dst, DST_IOVA, SZ_4K);
}

FIXTURE_TEARDOWN(edu_dma)
{
	edu_close(&self->edu);
	/* Closing the container unmaps whatever a test left mapped. */
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(self->tracking, vfio_dirty_tracking_bytes());
	if (self->src)
		munmap(self->src, SZ_4K);
	if (self->dst)
		munmap(self->dst, SZ_4K);
	if (self->gone)
		munmap(self->gone, SZ_4K);
	if (self->giga)
		munmap(self->giga, SZ_1G);
	if (self->nr_1g >= 0)
		__sysfs_write_long(NR_1G_PAGES, self->nr_1g);
	if (self->thp)
		munmap(self->thp, 2 * SZ_2M);
	if (self->hugepages[0])
		__module_param_write(vfio_test_backend_module(variant->backend),
				     "disable_hugepages", self->hugepages);
}

TEST_F(edu_dma, registers)
{
	uint32_t val = 0x12345678;

	ASSERT_EQ(EDU_ID, edu_read(&self->edu, EDU_REG_ID));
	edu_write(&self->edu, EDU_REG_LIVENESS, val);
	ASSERT_EQ(~val, edu_read(&self->edu, EDU_REG_LIVENESS));
	edu_write(&self->edu, EDU_REG_LIVENESS, ~val);
	ASSERT_EQ(val, edu_read(&self->edu, EDU_REG_LIVENESS));
	ASSERT_EQ(0, edu_read(&self->edu, EDU_REG_DMA_CMD) & EDU_DMA_CMD_START);
}

/*
 * A page into the device and back out into another page (but its last
 * byte: see EDU_DMA_MAX), which stays as it was.
 */
TEST_F(edu_dma, round_trip)
{
	long off;

	ASSERT_EQ(0, __edu_dma(&self->edu, false, SRC_IOVA, 0, EDU_DMA_MAX));
	ASSERT_EQ(0, __edu_dma(&self->edu, true, DST_IOVA, 0, EDU_DMA_MAX));

	off = first_diff(self->src, self->dst, EDU_DMA_MAX);
	ASSERT_EQ(-1, off) TH_LOG("byte %ld: wrote 0x%02x, read back 0x%02x",
				  off, self->src[off], self->dst[off]);
	ASSERT_EQ(DST_FILL, self->dst[EDU_DMA_MAX]);

	/* A second pattern, so that the first one cannot pass by accident. */
	fill_pattern(self->src, SZ_4K, 0x77);
	ASSERT_EQ(0, __edu_dma(&self->edu, false, SRC_IOVA, 0, EDU_DMA_MAX));
	ASSERT_EQ(0, __edu_dma(&self->edu, true, DST_IOVA, 0, EDU_DMA_MAX));
	off = first_diff(self->src, self->dst, EDU_DMA_MAX);
	ASSERT_EQ(-1, off) TH_LOG("byte %ld: wrote 0x%02x, read back 0x%02x",
				  off, self->src[off], self->dst[off]);
	ASSERT_EQ(DST_FILL, self->dst[EDU_DMA_MAX]);
}

/* Unaligned pieces land where they are sent, and nothing around them moves. */
TEST_F(edu_dma, partial)
{
	const uint32_t buf_off = 0x123, dst_off = 0x456, len = 100;
	long off;

	ASSERT_EQ(0, __edu_dma(&self->edu, false, SRC_IOVA, 0, EDU_DMA_MAX));
	ASSERT_EQ(0, __edu_dma(&self->edu, true, DST_IOVA + dst_off, buf_off,
			       len));

	off = first_diff(self->src + buf_off, self->dst + dst_off, len);
	ASSERT_EQ(-1, off) TH_LOG("byte %ld of the piece differs", off);
	EXPECT_EQ(-1, first_byte_not(self->dst, dst_off, DST_FILL));
	EXPECT_EQ(-1, first_byte_not(self->dst + dst_off + len,
				     SZ_4K - dst_off - len, DST_FILL));

	/* Into the device at an offset: the rest of its buffer stays. */
	ASSERT_EQ(0, __edu_dma(&self->edu, false, DST_IOVA, 0x800, 16));
	memset(self->dst, 0, SZ_4K);
	ASSERT_EQ(0, __edu_dma(&self->edu, true, DST_IOVA, 0, EDU_DMA_MAX));
	EXPECT_EQ(-1, first_byte_not(self->dst + 0x800, 16, DST_FILL));
	EXPECT_EQ(-1, first_diff(self->src, self->dst, 0x800));
	EXPECT_EQ(-1, first_diff(self->src + 0x810, self->dst + 0x810,
				 EDU_DMA_MAX - 0x810));
}

/*
 * A mapping backed by one 1 GiB hugetlb page, at IOVA 0: pinned as one run
 * of physically consecutive pages over 512 batches of pins, and mapped in
 * one piece.  The engine reads near the top of its DMA window and writes
 * near the bottom, both inside the page: every byte comes from, and lands
 * at, its own offset, and nothing around the write moves.  A guest seldom
 * finds 1 GiB free in one piece once it runs: boot it with
 * "hugepagesz=1G hugepages=1" (vmtest.sh does).
 */
TEST_F(edu_dma, gigantic_page)
{
	const uint64_t from = EDU_DMA_LIMIT - 2 * SZ_4K + 0x345;
	const uint64_t to = SZ_4K + 0x21;
	const uint32_t len = 1000;
	int fd = self->dev.container_fd;
	uint64_t unmapped;
	long nr, locked;
	uint8_t *giga;

	nr = sysfs_read_long(NR_1G_PAGES);
	if (nr < 0)
		SKIP(return, "the kernel has no 1 GiB hugetlb pages");
	if (!nr) {
		sysfs_write_long(NR_1G_PAGES, 1);
		self->nr_1g = 0;
	}
	giga = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB,
		    -1, 0);
	if (giga == MAP_FAILED)
		SKIP(return, "no free 1 GiB page (nr_hugepages %ld): %s",
		     sysfs_read_long(NR_1G_PAGES), strerror(errno));
	self->giga = giga;
	fill_pattern(giga + from, EDU_DMA_MAX, 0x29);
	memset(giga, DST_FILL, 3 * SZ_4K);

	/* The fixture's pages lie in the way. */
	vfio_unmap(fd, SRC_IOVA, SZ_4K, NULL);
	vfio_unmap(fd, DST_IOVA, SZ_4K, NULL);
	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);
	vfio_map(fd, giga, 0, SZ_1G);
	EXPECT_EQ(locked + SZ_1G / 1024, proc_self_status_kb("VmLck"));

	ASSERT_EQ(0, __edu_dma(&self->edu, false, from, 0, EDU_DMA_MAX));
	ASSERT_EQ(0, __edu_dma(&self->edu, true, to, 0, len));
	EXPECT_EQ(-1, first_diff(giga + from, giga + to, len));
	EXPECT_EQ(-1, first_byte_not(giga, to, DST_FILL));
	EXPECT_EQ(-1, first_byte_not(giga + to + len, 3 * SZ_4K - to - len,
				     DST_FILL));

	vfio_unmap(fd, 0, SZ_1G, &unmapped);
	EXPECT_EQ(SZ_1G, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

/* AnonHugePages of the mapping at @addr in /proc/self/smaps, in kB, or -1. */
static long anon_huge_kb(void *addr)
{
	unsigned long start, end;
	bool in = false;
	char line[256];
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= (uintptr_t)addr && (uintptr_t)addr < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * With disable_hugepages set, a 2 MiB-aligned mapping of a transparent huge
 * page is pinned and mapped a page at a time: the engine still reads and
 * writes every byte at its own offset, across the middle of the 2 MiB, and
 * nothing around the write moves.
 */
TEST_F(edu_dma, disable_hugepages)
{
	const char *module = vfio_test_backend_module(variant->backend);
	const uint64_t iova = 0x400000, from = SZ_2M - 2 * SZ_4K + 0x345;
	const uint64_t to = SZ_1M - 0x21;
	const uint32_t len = 1000;
	int fd = self->dev.container_fd;
	uint64_t unmapped;
	uint8_t *huge;
	long locked;

	module_param_read(module, "disable_hugepages",
			  self->hugepages,
			  sizeof(self->hugepages));
	module_param_write(module, "disable_hugepages", "1");
	self->thp = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->thp);
	huge = (uint8_t *)(((uintptr_t)self->thp + SZ_2M - 1) & ~(SZ_2M - 1));
	madvise(huge, SZ_2M, MADV_HUGEPAGE);
	memset(huge, DST_FILL, SZ_2M);
	if (anon_huge_kb(huge) < (long)(SZ_2M / 1024))
		SKIP(return, "no transparent huge page (AnonHugePages %ld kB)",
		     anon_huge_kb(huge));
	fill_pattern(huge + from, EDU_DMA_MAX, 0x3b);

	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);
	vfio_map(fd, huge, iova, SZ_2M);
	EXPECT_EQ(locked + SZ_2M / 1024, proc_self_status_kb("VmLck"));

	ASSERT_EQ(0, __edu_dma(&self->edu, false, iova + from, 0, EDU_DMA_MAX));
	ASSERT_EQ(0, __edu_dma(&self->edu, true, iova + to, 0, len));
	EXPECT_EQ(-1, first_diff(huge + from, huge + to, len));
	EXPECT_EQ(-1, first_byte_not(huge + to - SZ_4K, SZ_4K, DST_FILL));
	EXPECT_EQ(-1, first_byte_not(huge + to + len, SZ_4K, DST_FILL));

	vfio_unmap(fd, iova, SZ_2M, &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

/*
 * The device writes a page to @iova, which has no mapping: the IOMMU must
 * stop it.  No page the process has changes, and the guest kernel logs the
 * fault; a log it cannot read only leaves that part unchecked.  A fault the
 * rate limit kept out of the log is provoked again once its window is over.
 */
static void write_unmapped(struct __test_metadata *_metadata,
			   struct edu *edu, const uint8_t *src,
			   const uint8_t *dst, const uint8_t *gone,
			   uint64_t iova)
{
	uint8_t expect[SZ_4K];
	bool logged = false;
	int kmsg, try;

	fill_pattern(expect, SZ_4K, 0x11);
	ASSERT_EQ(0, __edu_dma(edu, false, SRC_IOVA, 0, EDU_DMA_MAX));

	kmsg = kmsg_open();
	for (try = 0; try < 2 && !logged; try++) {
		if (try) {
			TH_LOG("no DMAR fault logged: rate-limited? Again in %d s",
			       DMAR_RATELIMIT_S + 1);
			sleep(DMAR_RATELIMIT_S + 1);
		}
		ASSERT_EQ(0, __edu_dma(edu, true, iova, 0, EDU_DMA_MAX));

		ASSERT_EQ(-1, first_diff(expect, src, SZ_4K));
		ASSERT_EQ(-1, first_byte_not(dst, SZ_4K, DST_FILL));
		ASSERT_EQ(-1, first_byte_not(gone, SZ_4K, GONE_FILL));
		if (kmsg < 0) {
			TH_LOG("the kernel log cannot be read (%s): the DMAR fault was not checked",
			       strerror(-kmsg));
			return;
		}
		logged = kmsg_wait_dmar_fault(kmsg, iova);
	}
	close(kmsg);
	EXPECT_TRUE(logged) TH_LOG("no DMAR fault at 0x%llx logged",
				   (unsigned long long)iova);
}

TEST_F(edu_dma, never_mapped_faults)
{
	write_unmapped(_metadata, &self->edu, self->src, self->dst, self->gone,
		       NEVER_IOVA);
}

/* An unmapped IOVA must be gone from the IOMMU (and its IOTLB) at once. */
TEST_F(edu_dma, unmapped_faults)
{
	int fd = self->dev.container_fd;
	uint64_t unmapped;

	/* While mapped, the page takes the device's writes. */
	vfio_map(fd, self->gone, GONE_IOVA, SZ_4K);
	ASSERT_EQ(0, __edu_dma(&self->edu, false, SRC_IOVA, 0, EDU_DMA_MAX));
	ASSERT_EQ(0, __edu_dma(&self->edu, true, GONE_IOVA, 0, EDU_DMA_MAX));
	ASSERT_EQ(-1, first_diff(self->src, self->gone, EDU_DMA_MAX));

	memset(self->gone, GONE_FILL, SZ_4K);
	vfio_unmap(fd, GONE_IOVA, SZ_4K, &unmapped);
	ASSERT_EQ(SZ_4K, unmapped);
	write_unmapped(_metadata, &self->edu, self->src, self->dst, self->gone,
		       GONE_IOVA);
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	return test_harness_run(argc, argv);
}
