// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking past 8 TiB: the stock type1 driver's limits, and
 * vfio_dirty's runtime ceiling, next to each other.
 *
 * The stock driver refuses to track one mapping of 2^31 pages or more, and
 * any dirty bitmap of more than 256 MiB (2^31 bits: 8 TiB at 4 KiB).  The
 * tests pin that down, so that a change in the stock driver is noticed.
 * vfio_dirty tracks mappings of any size, and refuses with -E2BIG a bitmap
 * larger than its max_bitmap_size module parameter (256 MiB by default),
 * which it reports as max_dirty_bitmap_size in the migration capability and
 * which can be raised at run time.
 *
 * Every test needs an instance of the simulated mdev (vfio_dirty_sim): with
 * an emulated IOMMU, mapping TiB-scale ranges pins nothing, and its DMA
 * engine writes known pages through the container.  All mappings of a test
 * lie in one MAP_NORESERVE region of the process, at vaddr = region + IOVA,
 * so only the pages the device writes and the bitmaps cost memory: a 16 TiB
 * query needs a 512 MiB user bitmap, mostly the shared zero page.
 *
 * Fixtures:
 *
 *   limits  both backends, the default ceiling: the 2^31-page boundary as
 *           each backend handles it;
 *   raised  vfio_dirty with the ceiling raised to 1 GiB: 8 TiB + 4 KiB and
 *           16 TiB tracked, queried and unmapped, a vIOMMU-style unmap of a
 *           16 TiB IOVA space, bitmaps that fault part way, bad bitmaps and
 *           a ceiling that changes between two calls, and everything
 *           dirty (through the test hook of CONFIG_VFIO_DIRTY_TEST).  Its
 *           variants move the bits in the user's bitmap as the iommufd
 *           selftests do: the first mapping at bit 0, in the middle of a
 *           word, in the middle of a byte, and the bitmap itself at an odd
 *           address;
 *   race    vfio_dirty, the device's background writer running while the
 *           process queries and unmaps with a bitmap, checked against the
 *           device's write log, once per way the device writes (through
 *           vfio_dma_rw() and through pinned pages).
 *
 * The tests change vfio_dirty's max_bitmap_size and chunk_size parameters
 * and put them back in their teardown.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vfio_util.h"
#include "vfio_dirty_test.h"

#define SZ_16T		(2 * SZ_8T)
/* Bits of a 4 KiB dirty bitmap page, each for a 4 KiB page of IOVA. */
#define PAGE_BITS	(SZ_4K * 8)
/* The stock driver's ceiling, and vfio_dirty's default: 2^31 bits. */
#define DEFAULT_CEILING	(256ULL << 20)
#define DEFAULT_CEILING_STR	"268435456"
/* The raised ceiling: 2^33 bits, 32 TiB of IOVA. */
#define RAISED_CEILING	SZ_1G
#define RAISED_CEILING_STR	"1G"
/* The process region all mappings lie in: 16 TiB and some slack. */
#define REGION_SIZE	(SZ_16T + 64 * SZ_2M)

/*
 * Dirty bits as tracking_bytes counts them: a span of SPAN_PAGES takes a
 * table (its generation and eight pointers to blocks), and a block for
 * each BLOCK_PAGES it has dirty pages in (their bits, and one bit per
 * 64-bit word of them).  Their sizes in bytes are asked of the module
 * (storage_sizes()).
 */
#define SPAN_PAGES		(SZ_1G / SZ_4K)
#define BLOCK_PAGES		(SPAN_PAGES / 8)

#define PARAM_MAX	"max_bitmap_size"
#define PARAM_CHUNK	"chunk_size"
#define STATS		"/sys/module/vfio_dirty/stats/"

/* How long a test waits for the background writer to make progress. */
#define WAIT_MS		10000

static const char *device_name;

/* The bit of IOVA @iova in a bitmap whose bit 0 is @base. */
static uint64_t bit_of(uint64_t base, uint64_t iova)
{
	return (iova - base) / SZ_4K;
}

/* /sys/module/vfio_dirty/stats/@name, or -1 when it cannot be read. */
static long long stat_read(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), STATS "%s", name);
	return sysfs_read_long(path);
}

/*
 * The bytes tracking_bytes counts for a table, in @table, and for a block,
 * in @block, from the module's VFIO_DIRTY_TEST_SIZES; false, the test
 * skipped, from a module without test hooks.  Each holds at least what it
 * must: a generation and eight pointers; the bits and one bit per word.
 */
static bool storage_sizes(struct __test_metadata *_metadata, int container_fd,
			  long long *table, long long *block)
{
	struct vfio_dirty_test_sizes sizes = { .argsz = sizeof(sizes) };

	if (ioctl(container_fd, VFIO_DIRTY_TEST_SIZES, &sizes)) {
		if (errno == ENOTTY)
			SKIP(return false,
			     "vfio_dirty is built without test hooks (CONFIG_VFIO_DIRTY_TEST)");
		ASSERT_EQ(0, errno) TH_LOG("VFIO_DIRTY_TEST_SIZES: %s",
					   strerror(errno));
	}
	ASSERT_GE(sizes.table_bytes, sizeof(uint64_t) + 8 * sizeof(void *));
	ASSERT_GE(sizes.block_bytes, BLOCK_PAGES / 8 + BLOCK_PAGES / 64 / 8);
	*table = sizes.table_bytes;
	*block = sizes.block_bytes;
	return true;
}

/* A vfio_dirty parameter as a number, or -1 when it cannot be read. */
static long long param_read(const char *name)
{
	char buf[32];

	if (__module_param_read("vfio_dirty", name, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 10);
}

static void param_write(struct __test_metadata *_metadata, const char *name,
			const char *value)
{
	int ret = __module_param_write("vfio_dirty", name, value);

	ASSERT_EQ(0, ret) TH_LOG("writing \"%s\" to vfio_dirty's %s: %s", value,
				 name, strerror(-ret));
}

/* The migration capability's max_dirty_bitmap_size, or 0 when absent. */
static uint64_t cap_ceiling(int container_fd)
{
	struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_info *info;
	uint64_t size = 0;

	info = vfio_iommu_info(container_fd);
	if (!info)
		return 0;
	mig = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
	if (mig)
		size = mig->max_dirty_bitmap_size;
	free(info);
	return size;
}

/*
 * A user bitmap: @nbits bits from @data, which lies @misalign bytes into a
 * MAP_NORESERVE region so that an untouched bitmap costs no memory.  The
 * kernel gets @bytes, the size the uAPI asks for: whole 64-bit words.
 * bm_collect() reads the set bits and clears them, so a bitmap is zeroed
 * again for the next call without touching all of it.  @hole is the offset
 * in @mem of a page bm_collect() must not read (a test unmapped it), or -1.
 */
struct ubm {
	uint8_t *mem;
	size_t mem_size;
	uint8_t *data;
	uint64_t nbits;
	uint64_t bytes;
	unsigned int misalign;
	long hole;
};

static void bm_alloc(struct __test_metadata *_metadata, struct ubm *bm,
		     uint64_t nbits, unsigned int misalign)
{
	memset(bm, 0, sizeof(*bm));
	bm->nbits = nbits;
	bm->bytes = (nbits + 63) / 64 * 8;
	bm->misalign = misalign;
	bm->hole = -1;
	bm->mem_size = (bm->bytes + misalign + SZ_2M - 1) & ~(SZ_2M - 1);
	bm->mem = mmap(NULL, bm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, bm->mem) TH_LOG("a bitmap of %llu bytes",
					      (unsigned long long)bm->bytes);
	/* Reading an untouched bitmap then maps the huge zero page. */
	madvise(bm->mem, bm->mem_size, MADV_HUGEPAGE);
	bm->data = bm->mem + misalign;
}

static void bm_free(struct ubm *bm)
{
	if (bm->mem && bm->mem != MAP_FAILED)
		munmap(bm->mem, bm->mem_size);
	bm->mem = NULL;
}

/* The bitmap as the uAPI takes it. */
static uint64_t *bm_data(const struct ubm *bm)
{
	return (uint64_t *)bm->data;
}

/*
 * Collect the set bits of @bm, in increasing order, into @bits (at most
 * @max of them), and clear them.  A byte written outside the bitmap, before
 * @data or after @bytes, counts as bit UINT64_MAX.
 *
 * Return: how many bits were set, which may be more than @max.
 */
static uint64_t bm_collect(struct ubm *bm, uint64_t *bits, uint64_t max)
{
	uint64_t *words = (uint64_t *)bm->mem, n = 0, w, nwords;
	uint64_t end = bm->misalign + bm->bytes;
	unsigned int j, k;
	uint8_t byte;

	/* One word more than the bitmap needs: a stray write shows there. */
	nwords = (end + 7) / 8 + 1;
	if (nwords * 8 > bm->mem_size)
		nwords = bm->mem_size / 8;
	for (w = 0; w < nwords; w++) {
		if (bm->hole >= 0 && w * 8 >= (uint64_t)bm->hole &&
		    w * 8 < bm->hole + SZ_4K) {
			w = (bm->hole + SZ_4K) / 8 - 1;
			continue;
		}
		if (!words[w])
			continue;
		for (j = 0; j < 8; j++) {
			uint64_t off = w * 8 + j;

			byte = bm->mem[off];
			if (!byte)
				continue;
			for (k = 0; k < 8; k++) {
				if (!(byte & (1U << k)))
					continue;
				if (n < max)
					bits[n] = off < bm->misalign || off >= end ?
						  UINT64_MAX :
						  (off - bm->misalign) * 8 + k;
				n++;
			}
			bm->mem[off] = 0;
		}
	}
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Expect the set bits of @bm to be exactly @want (@n of them, any order);
 * clears @bm.  @what names the call in the log.
 */
static void expect_bits(struct __test_metadata *_metadata, struct ubm *bm,
			const uint64_t *want, uint64_t n, const char *what)
{
	uint64_t *got, *sorted, count, i;

	got = calloc(n + 16, sizeof(*got));
	sorted = calloc(n + 1, sizeof(*sorted));
	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, sorted);
	if (n)
		memcpy(sorted, want, n * sizeof(*want));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	/* A page written twice is one bit. */
	for (i = 1, count = n ? 1 : 0; i < n; i++)
		if (sorted[i] != sorted[count - 1])
			sorted[count++] = sorted[i];
	n = count;

	count = bm_collect(bm, got, n + 16);
	EXPECT_EQ(n, count) TH_LOG("%s: %llu bits set, %llu expected", what,
				   (unsigned long long)count,
				   (unsigned long long)n);
	for (i = 0; i < n && i < count; i++) {
		if (got[i] == sorted[i])
			continue;
		EXPECT_EQ(sorted[i], got[i])
			TH_LOG("%s: set bit #%llu is %llu, expected %llu", what,
			       (unsigned long long)i, (unsigned long long)got[i],
			       (unsigned long long)sorted[i]);
		break;
	}
	for (i = n; i < count && i < n + 16; i++)
		TH_LOG("%s: unexpected bit %llu", what, (unsigned long long)got[i]);
	free(got);
	free(sorted);
}

/*
 * Bits [@first, @first + @n) of @bm must be set and no other, @n maybe 0;
 * the words found set are zeroed for the next call.  Word by word, so that
 * it copes with billions of bits; @bm has no hole.
 */
static void expect_run(struct __test_metadata *_metadata, struct ubm *bm,
		       uint64_t first, uint64_t n, const char *what)
{
	uint64_t *words = (uint64_t *)bm->mem, w, want, lo, hi, bad = 0;
	uint64_t start = bm->misalign * 8ULL + first, end = start + n;

	for (w = 0; w < bm->mem_size / 8; w++) {
		lo = w * 64 > start ? w * 64 : start;
		hi = w * 64 + 64 < end ? w * 64 + 64 : end;
		want = 0;
		if (lo < hi)
			want = (hi - lo == 64 ? ~0ULL : ((1ULL << (hi - lo)) - 1))
			       << (lo - w * 64);
		if (words[w] != want && bad++ < 4)
			TH_LOG("%s: bitmap word %llu is 0x%llx, expected 0x%llx",
			       what, (unsigned long long)w,
			       (unsigned long long)words[w],
			       (unsigned long long)want);
		if (words[w])
			words[w] = 0;
	}
	EXPECT_EQ(0, bad) TH_LOG("%s: %llu words wrong", what,
				 (unsigned long long)bad);
}

/* What every fixture holds: the device, the region, the saved parameters. */
struct ctx {
	struct vfio_test_device dev;
	char *va;
	char saved_max[32];
	char saved_chunk[32];
	long tracking;		/* vfio_dirty_tracking_bytes() at ctx_init() */
};

static void ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	vfio_test_device_init(&c->dev);
	c->va = MAP_FAILED;
	c->tracking = vfio_dirty_tracking_bytes();
}

/* Open the device on @backend and map the region; false if skipped. */
static bool ctx_open(struct __test_metadata *_metadata, struct ctx *c,
		     enum vfio_test_backend backend)
{
	int ret;

	if (!device_name)
		SKIP(return false, "no device: " VFIO_SELFTESTS_HOWTO);
	if (!vfio_device_is_dirty_sim(device_name)) {
		SKIP(return false,
		     "%s is not a vfio_dirty_sim mdev: TiB-scale mappings need an emulated IOMMU",
		     device_name);
	}
	ret = __vfio_test_device_open_on(&c->dev, device_name,
					 VFIO_TYPE1v2_IOMMU, backend);
	if (ret == -ENOENT) {
		SKIP(return false, "%s is not loaded",
		     vfio_test_backend_module(backend));
	}
	EXPECT_EQ(0, ret) TH_LOG("opening %s on %s: %s", device_name,
				 vfio_test_backend_module(backend),
				 strerror(-ret));
	if (ret)
		return false;
	c->va = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	EXPECT_NE(MAP_FAILED, c->va);
	return c->va != MAP_FAILED;
}

/* Remember vfio_dirty's parameters, when they exist, for ctx_close(). */
static void ctx_save_params(struct ctx *c)
{
	if (__module_param_read("vfio_dirty", PARAM_MAX, c->saved_max,
				sizeof(c->saved_max)))
		c->saved_max[0] = '\0';
	if (__module_param_read("vfio_dirty", PARAM_CHUNK, c->saved_chunk,
				sizeof(c->saved_chunk)))
		c->saved_chunk[0] = '\0';
}

static void ctx_close(struct ctx *c)
{
	vfio_test_device_close(&c->dev);
	if (c->va != MAP_FAILED)
		munmap(c->va, REGION_SIZE);
	c->va = MAP_FAILED;
	if (c->saved_max[0])
		__module_param_write("vfio_dirty", PARAM_MAX, c->saved_max);
	if (c->saved_chunk[0])
		__module_param_write("vfio_dirty", PARAM_CHUNK, c->saved_chunk);
}

static void map_at(struct __test_metadata *_metadata, struct ctx *c,
		   uint64_t iova, uint64_t size)
{
	int ret;

	ASSERT_LE(iova + size, REGION_SIZE);
	ret = __vfio_map(c->dev.container_fd, c->va + iova, iova, size);
	ASSERT_EQ(0, ret) TH_LOG("MAP_DMA [0x%llx, +0x%llx): %s",
				 (unsigned long long)iova,
				 (unsigned long long)size, strerror(-ret));
}

static void dirty_pages(struct __test_metadata *_metadata, struct ctx *c,
			uint32_t flag)
{
	int ret = __vfio_dirty(c->dev.container_fd, flag);

	ASSERT_EQ(0, ret) TH_LOG("DIRTY_PAGES 0x%x: %s", flag, strerror(-ret));
}

/* The device writes the page at @iova; it must succeed. */
static void dev_write(struct __test_metadata *_metadata, struct ctx *c,
		      uint32_t flags, uint64_t iova)
{
	uint64_t done = 0, failed = 0;
	int ret;

	ret = __sim_write(c->dev.device_fd, flags, iova, SZ_4K,
			  0x0123456789abcdefULL ^ iova, &done, &failed);
	ASSERT_EQ(0, ret) TH_LOG("DMA_WRITE at 0x%llx: %s",
				 (unsigned long long)iova, strerror(-ret));
	ASSERT_EQ(1, done) TH_LOG("DMA_WRITE at 0x%llx failed",
				  (unsigned long long)iova);
}

/* Is the page at @iova mapped?  The device reads it, which dirties nothing. */
static bool dev_mapped(struct __test_metadata *_metadata, struct ctx *c,
		       uint64_t iova)
{
	uint64_t data[SZ_4K / 8], done = 0, failed = 0;

	sim_read(c->dev.device_fd, 0, iova, SZ_4K, data, &done, &failed);
	return done == 1;
}

static int get_bitmap(struct ctx *c, uint64_t iova, uint64_t size,
		      struct ubm *bm)
{
	return __vfio_get_bitmap(c->dev.container_fd, iova, size, SZ_4K,
				 bm_data(bm), bm->bytes);
}

static int unmap_bitmap(struct ctx *c, uint64_t iova, uint64_t size,
			struct ubm *bm, uint64_t *unmapped)
{
	return __vfio_unmap_bitmap(c->dev.container_fd, iova, size, SZ_4K,
				   bm_data(bm), bm->bytes, unmapped);
}

/* ---------------------------------------------------------------------- */

FIXTURE(limits) {
	struct ctx c;
};

FIXTURE_VARIANT(limits) {
	enum vfio_test_backend backend;
};

FIXTURE_VARIANT_ADD_ALL_BACKENDS(limits);

FIXTURE_SETUP(limits)
{
	ctx_init(&self->c);
	ctx_save_params(&self->c);
	if (!ctx_open(_metadata, &self->c, variant->backend))
		return;
	/* The default ceiling, whatever an earlier run left behind. */
	if (variant->backend == VFIO_BACKEND_VFIO_DIRTY && self->c.saved_max[0])
		param_write(_metadata, PARAM_MAX, DEFAULT_CEILING_STR);
}

FIXTURE_TEARDOWN(limits)
{
	ctx_close(&self->c);
	EXPECT_EQ(self->c.tracking, vfio_dirty_tracking_bytes());
}

/*
 * One mapping of 2^31 - 1 pages is the most the stock driver tracks; one of
 * 2^31 pages fails to START with -EINVAL.  vfio_dirty tracks both, and one
 * of 16 TiB, which the default ceiling then refuses to report in one go.
 */
TEST_F_TIMEOUT(limits, start_one_mapping, 180)
{
	const bool stock = variant->backend == VFIO_BACKEND_TYPE1;
	const uint64_t below[] = { 0, 1ULL << 30, (1ULL << 31) - 2 };
	const uint64_t last = (1ULL << 31) - 1;
	long long refused = stat_read("refused");
	struct ubm bm, big;
	uint64_t unmapped;
	unsigned int i;
	int ret;

	bm_alloc(_metadata, &bm, 1ULL << 31, 0);

	/* 8 TiB - 4 KiB: both backends track it and report what was written. */
	map_at(_metadata, &self->c, 0, SZ_8T - SZ_4K);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	for (i = 0; i < ARRAY_SIZE(below); i++)
		dev_write(_metadata, &self->c, 0, below[i] * SZ_4K);
	bm.bytes = (((1ULL << 31) - 1) + 63) / 64 * 8;
	ASSERT_EQ(0, get_bitmap(&self->c, 0, SZ_8T - SZ_4K, &bm));
	expect_bits(_metadata, &bm, below, ARRAY_SIZE(below),
		    "GET_BITMAP over 8 TiB - 4 KiB");
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	vfio_unmap(self->c.dev.container_fd, 0, SZ_8T - SZ_4K, &unmapped);
	EXPECT_EQ(SZ_8T - SZ_4K, unmapped);

	/* 8 TiB, 2^31 pages: the stock driver's first refusal. */
	map_at(_metadata, &self->c, 0, SZ_8T);
	ret = __vfio_dirty(self->c.dev.container_fd,
			   VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	if (stock) {
		EXPECT_EQ(-EINVAL, ret);
	} else {
		ASSERT_EQ(0, ret);
		dev_write(_metadata, &self->c, 0, last * SZ_4K);
		/* A bitmap of exactly the default ceiling. */
		bm.bytes = DEFAULT_CEILING;
		ASSERT_EQ(0, get_bitmap(&self->c, 0, SZ_8T, &bm));
		expect_bits(_metadata, &bm, &last, 1, "GET_BITMAP over 8 TiB");
		dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	}
	vfio_unmap(self->c.dev.container_fd, 0, SZ_8T, &unmapped);
	EXPECT_EQ(SZ_8T, unmapped);
	bm_free(&bm);
	if (stock)
		return;

	/* 16 TiB, 2^32 pages: tracked, but its bitmap is above the ceiling. */
	bm_alloc(_metadata, &big, 1ULL << 32, 0);
	map_at(_metadata, &self->c, 0, SZ_16T);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	dev_write(_metadata, &self->c, 0, SZ_16T - SZ_4K);
	EXPECT_EQ(-E2BIG, get_bitmap(&self->c, 0, SZ_16T, &big));
	EXPECT_EQ(-E2BIG, unmap_bitmap(&self->c, 0, SZ_16T, &big, NULL));
	EXPECT_EQ(0, bm_collect(&big, NULL, 0));
	EXPECT_TRUE(dev_mapped(_metadata, &self->c, SZ_16T - SZ_4K));
	EXPECT_EQ(refused + 2, stat_read("refused"))
		TH_LOG("stats/refused was %lld", refused);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&big);
}

/*
 * Mappings of 4 TiB, 4 TiB and 4 KiB: a query or an unmap over exactly
 * 8 TiB (a 256 MiB bitmap) works, one over 8 TiB + 4 KiB is refused by both
 * backends, with -EINVAL by the stock driver and -E2BIG by vfio_dirty, and
 * changes nothing.
 */
TEST_F_TIMEOUT(limits, query_8tib, 180)
{
	const bool stock = variant->backend == VFIO_BACKEND_TYPE1;
	const int err = stock ? -EINVAL : -E2BIG;
	/* Each end of each mapping: bit 2^31 is the 4 KiB one. */
	const uint64_t first[] = { 0, (1ULL << 30) - 1, 1ULL << 30,
				   (1ULL << 31) - 1, 1ULL << 31 };
	const uint64_t second[] = { 5, (1ULL << 31) - 2 };
	const uint64_t tail = 0;
	int fd = self->c.dev.container_fd;
	long long refused = stat_read("refused");
	uint64_t unmapped;
	struct ubm bm;
	unsigned int i;

	EXPECT_EQ(DEFAULT_CEILING, cap_ceiling(fd));
	if (!stock)
		EXPECT_EQ(DEFAULT_CEILING, param_read(PARAM_MAX));

	bm_alloc(_metadata, &bm, (1ULL << 31) + 1, 0);
	map_at(_metadata, &self->c, 0, SZ_4T);
	map_at(_metadata, &self->c, SZ_4T, SZ_4T);
	map_at(_metadata, &self->c, SZ_8T, SZ_4K);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	for (i = 0; i < ARRAY_SIZE(first); i++)
		dev_write(_metadata, &self->c, 0, first[i] * SZ_4K);

	/* One page too many, as a query and as an unmap: nothing happens. */
	EXPECT_EQ(err, get_bitmap(&self->c, 0, SZ_8T + SZ_4K, &bm));
	EXPECT_EQ(err, unmap_bitmap(&self->c, 0, SZ_8T + SZ_4K, &bm, NULL));
	EXPECT_EQ(0, bm_collect(&bm, NULL, 0));
	if (!stock) {
		EXPECT_EQ(refused + 2, stat_read("refused"))
			TH_LOG("stats/refused was %lld", refused);
	}

	/* Exactly 8 TiB: the first two mappings' pages, all still dirty. */
	bm.bytes = DEFAULT_CEILING;
	ASSERT_EQ(0, get_bitmap(&self->c, 0, SZ_8T, &bm));
	expect_bits(_metadata, &bm, first, ARRAY_SIZE(first) - 1,
		    "GET_BITMAP over 8 TiB");

	for (i = 0; i < ARRAY_SIZE(second); i++)
		dev_write(_metadata, &self->c, 0, second[i] * SZ_4K);
	ASSERT_EQ(0, unmap_bitmap(&self->c, 0, SZ_8T, &bm, &unmapped));
	EXPECT_EQ(SZ_8T, unmapped);
	expect_bits(_metadata, &bm, second, ARRAY_SIZE(second),
		    "UNMAP with bitmap over 8 TiB");

	/* The 4 KiB mapping was left alone: its page is still dirty. */
	EXPECT_TRUE(dev_mapped(_metadata, &self->c, SZ_8T));
	EXPECT_FALSE(dev_mapped(_metadata, &self->c, 0));
	bm.bytes = 8;
	ASSERT_EQ(0, get_bitmap(&self->c, SZ_8T, SZ_4K, &bm));
	expect_bits(_metadata, &bm, &tail, 1, "GET_BITMAP of the 4 KiB mapping");
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
}

/* ---------------------------------------------------------------------- */

FIXTURE(raised) {
	struct ctx c;
};

/**
 * struct align - where a test's bits lie in the user's bitmap
 * @bit: the bit the first mapping starts at
 * @misalign: bytes from a page boundary to the user's bitmap
 */
struct align {
	unsigned int bit;
	unsigned int misalign;
};

FIXTURE_VARIANT(raised) {
	struct align a;
};

FIXTURE_VARIANT_ADD(raised, bit0) {
	.a = { .bit = 0, .misalign = 0 },
};

FIXTURE_VARIANT_ADD(raised, mid_word) {
	.a = { .bit = 40, .misalign = 0 },
};

FIXTURE_VARIANT_ADD(raised, mid_byte) {
	.a = { .bit = 37, .misalign = 0 },
};

FIXTURE_VARIANT_ADD(raised, odd_address) {
	.a = { .bit = 0, .misalign = 1 },
};

FIXTURE_SETUP(raised)
{
	ctx_init(&self->c);
	ctx_save_params(&self->c);
	if (!ctx_open(_metadata, &self->c, VFIO_BACKEND_VFIO_DIRTY))
		return;
	param_write(_metadata, PARAM_MAX, RAISED_CEILING_STR);
}

FIXTURE_TEARDOWN(raised)
{
	ctx_close(&self->c);
	EXPECT_EQ(self->c.tracking, vfio_dirty_tracking_bytes());
}

/*
 * Map @n mappings of @sizes back to back from bit @variant->bit of a
 * bitmap whose bit 0 is IOVA 0, track them, and have the device write the
 * pages @first (page numbers from the first mapping's start): a query
 * reports exactly those, a second query nothing; after the device wrote
 * @second, an unmap with bitmap over all of them reports exactly those and
 * unmaps everything.
 */
static void track_layout(struct __test_metadata *_metadata, struct ctx *c,
			 const struct align *variant,
			 const uint64_t *sizes, unsigned int n,
			 const uint64_t *first, unsigned int nfirst,
			 const uint64_t *second, unsigned int nsecond)
{
	uint64_t start = variant->bit * SZ_4K, iova = start, total, unmapped;
	uint64_t want[16];
	unsigned int i;
	struct ubm bm;

	ASSERT_LE(nfirst, ARRAY_SIZE(want));
	ASSERT_LE(nsecond, ARRAY_SIZE(want));
	for (i = 0; i < n; i++) {
		map_at(_metadata, c, iova, sizes[i]);
		iova += sizes[i];
	}
	total = iova - start;
	bm_alloc(_metadata, &bm, bit_of(0, iova), variant->misalign);
	dirty_pages(_metadata, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	for (i = 0; i < nfirst; i++) {
		dev_write(_metadata, c, 0, start + first[i] * SZ_4K);
		want[i] = variant->bit + first[i];
	}
	ASSERT_EQ(0, get_bitmap(c, 0, iova, &bm));
	expect_bits(_metadata, &bm, want, nfirst, "GET_BITMAP");
	ASSERT_EQ(0, get_bitmap(c, 0, iova, &bm));
	expect_bits(_metadata, &bm, want, 0, "GET_BITMAP after GET_BITMAP");

	for (i = 0; i < nsecond; i++) {
		dev_write(_metadata, c, 0, start + second[i] * SZ_4K);
		want[i] = variant->bit + second[i];
	}
	ASSERT_EQ(0, unmap_bitmap(c, 0, iova, &bm, &unmapped));
	EXPECT_EQ(total, unmapped);
	expect_bits(_metadata, &bm, want, nsecond, "UNMAP with bitmap");

	/* Nothing is left. */
	EXPECT_FALSE(dev_mapped(_metadata, c, start));
	vfio_unmap(c->dev.container_fd, 0, iova, &unmapped);
	EXPECT_EQ(0, unmapped);
	dirty_pages(_metadata, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
}

/* The capability reports the ceiling; the parameter checks what it gets. */
TEST_F(raised, ceiling_knob)
{
	static const char *const bad[] = { "0", "4095", "17179869185", "17G",
					   "1E", "lots" };
	int fd = self->c.dev.container_fd;
	unsigned int i;

	EXPECT_EQ(RAISED_CEILING, param_read(PARAM_MAX));
	EXPECT_EQ(RAISED_CEILING, cap_ceiling(fd));

	/* A container sees a new value at once. */
	param_write(_metadata, PARAM_MAX, "512M");
	EXPECT_EQ(512ULL << 20, param_read(PARAM_MAX));
	EXPECT_EQ(512ULL << 20, cap_ceiling(fd));

	/* Out of range, from one page to 16 GiB: refused, the value is kept. */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, __module_param_write("vfio_dirty", PARAM_MAX,
							bad[i]))
			TH_LOG("max_bitmap_size \"%s\"", bad[i]);
	}
	EXPECT_EQ(512ULL << 20, param_read(PARAM_MAX));
	EXPECT_EQ(512ULL << 20, cap_ceiling(fd));

	/* The limits themselves are taken. */
	param_write(_metadata, PARAM_MAX, "4K");
	EXPECT_EQ(SZ_4K, param_read(PARAM_MAX));
	EXPECT_EQ(SZ_4K, cap_ceiling(fd));
	param_write(_metadata, PARAM_MAX, "16G");
	EXPECT_EQ(16 * SZ_1G, param_read(PARAM_MAX));
	EXPECT_EQ(16 * SZ_1G, cap_ceiling(fd));
}

/* One mapping of 8 TiB + 4 KiB, then one of 16 TiB. */
TEST_F_TIMEOUT(raised, one_mapping, 180)
{
	const uint64_t p31 = 1ULL << 31;
	const uint64_t sizes[] = { SZ_8T + SZ_4K, SZ_16T };
	unsigned int s;

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		const uint64_t last = sizes[s] / SZ_4K - 1;
		const uint64_t first[] = { 0, 1, 63, p31 / 2, p31 - 1, p31,
					   last - 1, last };
		const uint64_t second[] = { 0, p31, last };

		track_layout(_metadata, &self->c, &variant->a, &sizes[s], 1, first,
			     ARRAY_SIZE(first), second, ARRAY_SIZE(second));
	}
}

/* 4 TiB + 4 TiB + 4 KiB, then 16 TiB as 64 mappings of 256 GiB. */
TEST_F_TIMEOUT(raised, many_mappings, 180)
{
	const uint64_t p31 = 1ULL << 31, per = (256ULL << 30) / SZ_4K;
	const uint64_t small[] = { SZ_4T, SZ_4T, SZ_4K };
	const uint64_t first_small[] = { 0, p31 / 2 - 1, p31 / 2, p31 - 1, p31 };
	const uint64_t second_small[] = { p31 / 2, p31 };
	/* Each side of mappings 0/1, 7/8 (2^31) and 62/63, and the ends. */
	const uint64_t first_big[] = { 0, per - 1, per, p31 - 1, p31,
				       47 * per + 12345, 63 * per - 1, 63 * per,
				       64 * per - 1 };
	const uint64_t second_big[] = { 1, p31, 64 * per - 1 };
	uint64_t big[64];
	unsigned int i;

	track_layout(_metadata, &self->c, &variant->a, small, ARRAY_SIZE(small),
		     first_small, ARRAY_SIZE(first_small), second_small,
		     ARRAY_SIZE(second_small));
	for (i = 0; i < ARRAY_SIZE(big); i++)
		big[i] = 256ULL << 30;
	track_layout(_metadata, &self->c, &variant->a, big, ARRAY_SIZE(big),
		     first_big, ARRAY_SIZE(first_big), second_big,
		     ARRAY_SIZE(second_big));
}

/*
 * What QEMU does when a vIOMMU guest resets a device: one unmap with bitmap
 * over the whole 16 TiB IOVA space, where a few small mappings lie.  It
 * unmaps them all and reports exactly the pages the device wrote.
 */
TEST_F_TIMEOUT(raised, viommu_unmap, 180)
{
	const uint64_t off = variant->a.bit * SZ_4K;
	const struct {
		uint64_t iova, size;
	} maps[] = {
		{ off, SZ_2M },
		{ SZ_1G + off, 16 * SZ_4K },
		{ SZ_4T - SZ_2M + off, SZ_2M },
		/* Across page 2^31 of the space, wherever the first one is. */
		{ SZ_8T - 4 * SZ_4K, 8 * SZ_4K },
		{ SZ_8T + SZ_2M + off, SZ_4K },
		{ 3 * SZ_4T + off, SZ_1G },
		{ SZ_16T - 2 * SZ_2M + off, SZ_2M },
	};
	uint64_t want[4 * ARRAY_SIZE(maps)], total = 0, unmapped;
	unsigned int i, n = 0;
	struct ubm bm;

	bm_alloc(_metadata, &bm, SZ_16T / SZ_4K, variant->a.misalign);
	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		map_at(_metadata, &self->c, maps[i].iova, maps[i].size);
		total += maps[i].size;
	}
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		uint64_t last = maps[i].iova + maps[i].size - SZ_4K;

		dev_write(_metadata, &self->c, 0, maps[i].iova);
		want[n++] = bit_of(0, maps[i].iova);
		if (maps[i].size > SZ_4K) {
			dev_write(_metadata, &self->c, 0, last);
			want[n++] = bit_of(0, last);
		}
	}
	/* The two pages either side of page 2^31 of the space. */
	dev_write(_metadata, &self->c, 0, SZ_8T - SZ_4K);
	want[n++] = (1ULL << 31) - 1;
	dev_write(_metadata, &self->c, 0, SZ_8T);
	want[n++] = 1ULL << 31;

	ASSERT_EQ(0, unmap_bitmap(&self->c, 0, SZ_16T, &bm, &unmapped));
	EXPECT_EQ(total, unmapped);
	expect_bits(_metadata, &bm, want, n, "UNMAP with bitmap over 16 TiB");
	for (i = 0; i < ARRAY_SIZE(maps); i++)
		EXPECT_FALSE(dev_mapped(_metadata, &self->c, maps[i].iova));
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
}

/* The fault tests' mappings: FAULT_PAGES pages each, from fault_bit(). */
#define FAULT_MAPS	4
#define FAULT_PAGES	1024

/* Mapping 0 at the variant's bit; mapping i in page i of the bitmap. */
static uint64_t fault_bit(const struct align *variant, unsigned int i)
{
	return i ? i * PAGE_BITS + 100 : variant->bit;
}

static bool in_list(const uint64_t *list, uint64_t n, uint64_t v)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (list[i] == v)
			return true;
	return false;
}

/* Expect every bit of @got (@n of them) in @want: no page reported unwritten. */
static void expect_subset(struct __test_metadata *_metadata,
			  const uint64_t *got, uint64_t n, const uint64_t *want,
			  uint64_t nwant, const char *what)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		EXPECT_TRUE(in_list(want, nwant, got[i])) {
			TH_LOG("%s: bit %llu set, its page was not written",
			       what, (unsigned long long)got[i]);
		}
	}
}

/* The device writes the first, a middle and the last page of each mapping. */
static unsigned int fault_write(struct __test_metadata *_metadata,
				struct ctx *c,
				const struct align *variant,
				uint64_t *want)
{
	static const uint64_t rel[] = { 0, 500, FAULT_PAGES - 1 };
	unsigned int i, j, n = 0;

	for (i = 0; i < FAULT_MAPS; i++) {
		for (j = 0; j < ARRAY_SIZE(rel); j++) {
			want[n] = fault_bit(variant, i) + rel[j];
			dev_write(_metadata, c, 0, want[n] * SZ_4K);
			n++;
		}
	}
	return n;
}

/*
 * A user bitmap whose second page cannot be written (unmapped, or read
 * only) where mapping 1's bits go.  A query and an unmap with it fail with
 * -EFAULT and lose nothing: a caller that drops the bitmap of a failed
 * call, as QEMU does, must find every page in the next query.  The query
 * clears nothing.  The unmap removes nothing and writes no size back (as
 * the stock driver, on any failure): every mapping is still mapped, and
 * the next query reports every page.
 */
static void fault_test(struct __test_metadata *_metadata, struct ctx *c,
		       const struct align *variant, bool unmap_page)
{
	const uint64_t nbits = fault_bit(variant, FAULT_MAPS - 1) + FAULT_PAGES;
	const uint64_t size = nbits * SZ_4K;
	uint64_t want[3 * FAULT_MAPS], got[64], next[64], ngot, nnext;
	uint64_t unmapped;
	unsigned int i, n;
	struct ubm bm, good;

	bm_alloc(_metadata, &bm, nbits, variant->misalign);
	bm_alloc(_metadata, &good, nbits, variant->misalign);
	/* Mapping 1's bits lie in the second page of the bitmap's memory. */
	ASSERT_EQ(1, (variant->misalign + fault_bit(variant, 1) / 8) / SZ_4K);
	ASSERT_EQ(1, (variant->misalign +
		      (fault_bit(variant, 1) + FAULT_PAGES) / 8) / SZ_4K);
	if (unmap_page) {
		ASSERT_EQ(0, munmap(bm.mem + SZ_4K, SZ_4K));
		bm.hole = SZ_4K;
	} else {
		ASSERT_EQ(0, mprotect(bm.mem + SZ_4K, SZ_4K, PROT_READ));
	}
	for (i = 0; i < FAULT_MAPS; i++)
		map_at(_metadata, c, fault_bit(variant, i) * SZ_4K,
		       FAULT_PAGES * SZ_4K);
	dirty_pages(_metadata, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	/* A query. */
	n = fault_write(_metadata, c, variant, want);
	EXPECT_EQ(-EFAULT, get_bitmap(c, 0, size, &bm));
	ngot = bm_collect(&bm, got, ARRAY_SIZE(got));
	ASSERT_EQ(0, get_bitmap(c, 0, size, &good));
	nnext = bm_collect(&good, next, ARRAY_SIZE(next));
	ASSERT_LE(ngot, ARRAY_SIZE(got));
	ASSERT_LE(nnext, ARRAY_SIZE(next));
	/* A query that fails clears nothing: the next one has every page. */
	for (i = 0; i < n; i++) {
		EXPECT_TRUE(in_list(next, nnext, want[i])) {
			TH_LOG("page %llu lost by a query that faulted",
			       (unsigned long long)want[i]);
		}
	}
	expect_subset(_metadata, got, ngot, want, n, "query that faulted");
	expect_subset(_metadata, next, nnext, want, n, "next query");

	/* An unmap. */
	n = fault_write(_metadata, c, variant, want);
	EXPECT_EQ(-EFAULT, unmap_bitmap(c, 0, size, &bm, &unmapped));
	EXPECT_EQ(size, unmapped);
	ngot = bm_collect(&bm, got, ARRAY_SIZE(got));
	ASSERT_LE(ngot, ARRAY_SIZE(got));
	expect_subset(_metadata, got, ngot, want, n, "unmap that faulted");
	for (i = 0; i < FAULT_MAPS; i++)
		EXPECT_TRUE(dev_mapped(_metadata, c,
				       fault_bit(variant, i) * SZ_4K)) {
			TH_LOG("mapping %u removed by an unmap that faulted", i);
		}
	ASSERT_EQ(0, get_bitmap(c, 0, size, &good));
	nnext = bm_collect(&good, next, ARRAY_SIZE(next));
	ASSERT_LE(nnext, ARRAY_SIZE(next));
	for (i = 0; i < n; i++) {
		EXPECT_TRUE(in_list(next, nnext, want[i])) {
			TH_LOG("page %llu lost by an unmap that faulted",
			       (unsigned long long)want[i]);
		}
	}
	expect_subset(_metadata, next, nnext, want, n, "next query");

	/* Everything unmaps with a good bitmap; nothing was written since. */
	ASSERT_EQ(0, unmap_bitmap(c, 0, size, &good, &unmapped));
	EXPECT_EQ(FAULT_MAPS * FAULT_PAGES * SZ_4K, unmapped);
	expect_bits(_metadata, &good, NULL, 0, "UNMAP with bitmap of the rest");
	dirty_pages(_metadata, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
	bm_free(&good);
}

TEST_F(raised, fault_unmapped_bitmap)
{
	fault_test(_metadata, &self->c, &variant->a, true);
}

TEST_F(raised, fault_readonly_bitmap)
{
	fault_test(_metadata, &self->c, &variant->a, false);
}

/* Bitmaps too small, or for another page size: -EINVAL, nothing happens. */
TEST_F(raised, bad_bitmap)
{
	static const uint64_t pgsizes[] = { 0, SZ_4K / 2, 3 * SZ_4K, 2 * SZ_4K,
					    SZ_2M };
	const uint64_t iova = variant->a.bit * SZ_4K, len = 1024 * SZ_4K;
	const uint64_t size = iova + len, bit = variant->a.bit + 1000;
	int fd = self->c.dev.container_fd;
	uint64_t unmapped;
	unsigned int i;
	struct ubm bm;

	bm_alloc(_metadata, &bm, bit_of(0, size), variant->a.misalign);
	map_at(_metadata, &self->c, iova, len);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	dev_write(_metadata, &self->c, 0, bit * SZ_4K);

	test_err_vfio_get_bitmap(EINVAL, fd, 0, size, SZ_4K, bm_data(&bm),
				 bm.bytes - 8);
	test_err_vfio_unmap_bitmap(EINVAL, fd, 0, size, SZ_4K, bm_data(&bm),
				   bm.bytes - 8, NULL);
	test_err_vfio_get_bitmap(EINVAL, fd, 0, size, SZ_4K, bm_data(&bm), 0);
	for (i = 0; i < ARRAY_SIZE(pgsizes); i++) {
		EXPECT_EQ(-EINVAL, __vfio_get_bitmap(fd, 0, size, pgsizes[i],
						     bm_data(&bm), bm.bytes))
			TH_LOG("GET_BITMAP, page size %llu",
			       (unsigned long long)pgsizes[i]);
		EXPECT_EQ(-EINVAL, __vfio_unmap_bitmap(fd, 0, size, pgsizes[i],
						       bm_data(&bm), bm.bytes,
						       NULL))
			TH_LOG("UNMAP with bitmap, page size %llu",
			       (unsigned long long)pgsizes[i]);
	}
	EXPECT_EQ(0, bm_collect(&bm, NULL, 0));
	EXPECT_TRUE(dev_mapped(_metadata, &self->c, iova));

	/* The page is still dirty. */
	ASSERT_EQ(0, unmap_bitmap(&self->c, 0, size, &bm, &unmapped));
	EXPECT_EQ(len, unmapped);
	expect_bits(_metadata, &bm, &bit, 1, "UNMAP with bitmap");
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
}

/*
 * The ceiling applies to the next call: lowered below a request, the
 * request is refused with -E2BIG and changes nothing; raised back, the
 * same request reports every page, none lost to the refusals.
 */
TEST_F(raised, ceiling_change)
{
	/* Mapping A ends at bit 2^23 (1 MiB of bitmap), B is 64 pages more. */
	const uint64_t a_bits = 1ULL << 23, b_pages = 64;
	const uint64_t a_iova = variant->a.bit * SZ_4K, b_iova = a_bits * SZ_4K;
	const uint64_t size = (a_bits + b_pages) * SZ_4K;
	const uint64_t first[] = { variant->a.bit, a_bits - 1, a_bits };
	const uint64_t again = variant->a.bit + 1;
	int fd = self->c.dev.container_fd;
	long long refused = stat_read("refused");
	struct ubm bm, exact;
	uint64_t unmapped;
	unsigned int i;

	bm_alloc(_metadata, &bm, a_bits + b_pages, variant->a.misalign);
	bm_alloc(_metadata, &exact, a_bits, variant->a.misalign);
	ASSERT_EQ((1ULL << 20) + 8, bm.bytes);
	ASSERT_EQ(1ULL << 20, exact.bytes);
	map_at(_metadata, &self->c, a_iova, b_iova - a_iova);
	map_at(_metadata, &self->c, b_iova, b_pages * SZ_4K);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	for (i = 0; i < ARRAY_SIZE(first); i++)
		dev_write(_metadata, &self->c, 0, first[i] * SZ_4K);

	/* Lowered to 1 MiB: 1 MiB + 8 bytes is refused, as query and unmap. */
	param_write(_metadata, PARAM_MAX, "1M");
	EXPECT_EQ(1ULL << 20, cap_ceiling(fd));
	EXPECT_EQ(-E2BIG, get_bitmap(&self->c, 0, size, &bm));
	EXPECT_EQ(-E2BIG, unmap_bitmap(&self->c, 0, size, &bm, NULL));
	EXPECT_EQ(refused + 2, stat_read("refused"))
		TH_LOG("stats/refused was %lld", refused);
	EXPECT_EQ(0, bm_collect(&bm, NULL, 0));
	EXPECT_TRUE(dev_mapped(_metadata, &self->c, a_iova));
	EXPECT_TRUE(dev_mapped(_metadata, &self->c, b_iova));

	/* Raised back: the same query reports all three pages. */
	param_write(_metadata, PARAM_MAX, RAISED_CEILING_STR);
	EXPECT_EQ(RAISED_CEILING, cap_ceiling(fd));
	ASSERT_EQ(0, get_bitmap(&self->c, 0, size, &bm));
	expect_bits(_metadata, &bm, first, ARRAY_SIZE(first),
		    "GET_BITMAP once the ceiling is raised back");

	/* Exactly the ceiling is accepted. */
	dev_write(_metadata, &self->c, 0, again * SZ_4K);
	param_write(_metadata, PARAM_MAX, "1M");
	ASSERT_EQ(0, get_bitmap(&self->c, 0, b_iova, &exact));
	expect_bits(_metadata, &exact, &again, 1,
		    "GET_BITMAP of exactly the ceiling");

	dev_write(_metadata, &self->c, 0, again * SZ_4K);
	param_write(_metadata, PARAM_MAX, RAISED_CEILING_STR);
	ASSERT_EQ(0, unmap_bitmap(&self->c, 0, size, &bm, &unmapped));
	EXPECT_EQ(size - a_iova, unmapped);
	expect_bits(_metadata, &bm, &again, 1, "UNMAP with bitmap");
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
	bm_free(&exact);
}

/*
 * The counters, with the smallest chunk_size: a query whose three bits lie
 * in three chunks of the user's bitmap writes those three chunks, one word
 * each.  The device's first write is a run, kept with no table of dirty
 * bits; the next two, apart from it, take one table, which the query
 * clears and keeps, and the next query, finding it empty, gives back.
 */
TEST_F(raised, stats)
{
	const uint64_t iova = variant->a.bit * SZ_4K, len = 1024 * SZ_4K;
	const uint64_t bits[] = { variant->a.bit, variant->a.bit + 200,
				  variant->a.bit + 900 };
	long long requests, chunks, bytes, refused, tracking, table, block;
	unsigned int i;
	struct ubm bm;

	if (!storage_sizes(_metadata, self->c.dev.container_fd, &table, &block))
		return;
	param_write(_metadata, PARAM_CHUNK, "8");
	EXPECT_EQ(8, param_read(PARAM_CHUNK));
	bm_alloc(_metadata, &bm, bit_of(0, iova + len), variant->a.misalign);
	map_at(_metadata, &self->c, iova, len);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	tracking = stat_read("tracking_bytes");
	ASSERT_GE(tracking, 0);
	dev_write(_metadata, &self->c, 0, bits[0] * SZ_4K);
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));
	for (i = 1; i < ARRAY_SIZE(bits); i++)
		dev_write(_metadata, &self->c, 0, bits[i] * SZ_4K);
	EXPECT_EQ(tracking + table + block, stat_read("tracking_bytes"));

	requests = stat_read("requests");
	chunks = stat_read("chunks");
	bytes = stat_read("bitmap_bytes");
	refused = stat_read("refused");
	ASSERT_EQ(0, get_bitmap(&self->c, 0, iova + len, &bm));
	expect_bits(_metadata, &bm, bits, ARRAY_SIZE(bits), "GET_BITMAP");
	EXPECT_EQ(requests + 1, stat_read("requests"));
	EXPECT_EQ(chunks + 3, stat_read("chunks"));
	EXPECT_EQ(bytes + 3 * 8, stat_read("bitmap_bytes"));
	EXPECT_EQ(refused, stat_read("refused"));
	/* Cleared, and kept for the next writes. */
	EXPECT_EQ(tracking + table + block, stat_read("tracking_bytes"));

	/* Nothing dirty: a request, no chunk, no byte; the table is freed. */
	ASSERT_EQ(0, get_bitmap(&self->c, 0, iova + len, &bm));
	expect_bits(_metadata, &bm, NULL, 0, "GET_BITMAP again");
	EXPECT_EQ(requests + 2, stat_read("requests"));
	EXPECT_EQ(chunks + 3, stat_read("chunks"));
	EXPECT_EQ(bytes + 3 * 8, stat_read("bitmap_bytes"));
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
}

/*
 * A span (1 GiB) whose pages are not one run takes a table, and a block of
 * bits for each 128 MiB it has dirty pages in (BLOCK_PAGES), allocated as
 * they are dirtied: the run the device leaves across the first block's
 * end takes two when a page apart from it turns the span into a table, a
 * page further in and the span's last page one more each; in the next
 * span a page is a run again.  The query reports each page once, keeps the
 * table and its blocks, and the next query gives them back.
 */
TEST_F(raised, blocks)
{
	const uint64_t iova = variant->a.bit * SZ_4K, len = 2 * SZ_1G;
	const uint64_t pages[] = {
		BLOCK_PAGES - 1, BLOCK_PAGES, 6 * BLOCK_PAGES + 3,
		SPAN_PAGES + 5, SPAN_PAGES - 1,
	};
	const uint64_t again[] = { 5, SPAN_PAGES + BLOCK_PAGES + 7 };
	uint64_t bits[ARRAY_SIZE(pages)], unmapped;
	long long tracking, table, block;
	unsigned int i;
	struct ubm bm;

	if (!storage_sizes(_metadata, self->c.dev.container_fd, &table, &block))
		return;
	bm_alloc(_metadata, &bm, bit_of(0, iova + len), variant->a.misalign);
	map_at(_metadata, &self->c, iova, len);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	tracking = stat_read("tracking_bytes");
	ASSERT_GE(tracking, 0);

	dev_write(_metadata, &self->c, 0, iova + pages[0] * SZ_4K);
	dev_write(_metadata, &self->c, 0, iova + pages[1] * SZ_4K);
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));
	dev_write(_metadata, &self->c, 0, iova + pages[2] * SZ_4K);
	EXPECT_EQ(tracking + table + 3 * block,
		  stat_read("tracking_bytes"));
	dev_write(_metadata, &self->c, 0, iova + pages[3] * SZ_4K);
	EXPECT_EQ(tracking + table + 3 * block,
		  stat_read("tracking_bytes"));
	dev_write(_metadata, &self->c, 0, iova + pages[4] * SZ_4K);
	EXPECT_EQ(tracking + table + 4 * block,
		  stat_read("tracking_bytes"));

	for (i = 0; i < ARRAY_SIZE(pages); i++)
		bits[i] = variant->a.bit + pages[i];
	ASSERT_EQ(0, get_bitmap(&self->c, 0, iova + len, &bm));
	expect_bits(_metadata, &bm, bits, ARRAY_SIZE(bits), "GET_BITMAP");
	EXPECT_EQ(tracking + table + 4 * block,
		  stat_read("tracking_bytes"));
	ASSERT_EQ(0, get_bitmap(&self->c, 0, iova + len, &bm));
	expect_bits(_metadata, &bm, NULL, 0, "GET_BITMAP again");
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));

	for (i = 0; i < ARRAY_SIZE(again); i++) {
		dev_write(_metadata, &self->c, 0, iova + again[i] * SZ_4K);
		bits[i] = variant->a.bit + again[i];
	}
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));
	ASSERT_EQ(0, unmap_bitmap(&self->c, 0, iova + len, &bm, &unmapped));
	EXPECT_EQ(len, unmapped);
	expect_bits(_metadata, &bm, bits, ARRAY_SIZE(again), "UNMAP with bitmap");
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
}

/*
 * Everything dirty past 2^31 pages: one mapping of 8 TiB + 2 MiB, every
 * page marked dirty by the test hook (no device can write terabytes here),
 * which keeps the bits of each span as one run, with no table.  A query
 * reports every page of the mapping and no other bit, a second one
 * nothing; marked again, an unmap with bitmap reports every page.
 */
TEST_F_TIMEOUT(raised, everything_dirty, 300)
{
	const uint64_t iova = variant->a.bit * SZ_4K, size = SZ_8T + SZ_2M;
	const uint64_t npages = size / SZ_4K;
	int fd = self->c.dev.container_fd, ret;
	long long tracking;
	uint64_t unmapped;
	struct ubm bm;

	map_at(_metadata, &self->c, iova, size);
	ret = __vfio_dirty_test_set_dirty(fd, iova, size);
	if (ret == -ENOTTY)
		SKIP(return, "vfio_dirty built without CONFIG_VFIO_DIRTY_TEST");
	/* Not tracking. */
	EXPECT_EQ(-EINVAL, ret);
	bm_alloc(_metadata, &bm, variant->a.bit + npages, variant->a.misalign);
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	tracking = stat_read("tracking_bytes");
	ASSERT_GE(tracking, 0);
	/* Past the mapping, and not page aligned. */
	test_err_vfio_dirty_test_set_dirty(EINVAL, fd, iova, size + SZ_4K);
	test_err_vfio_dirty_test_set_dirty(EINVAL, fd, iova + 1, SZ_4K);

	/* Every span's bits are one run: no table. */
	vfio_dirty_test_set_dirty(fd, iova, size);
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));
	ASSERT_EQ(0, get_bitmap(&self->c, 0, iova + size, &bm));
	expect_run(_metadata, &bm, variant->a.bit, npages, "GET_BITMAP");
	ASSERT_EQ(0, get_bitmap(&self->c, 0, iova + size, &bm));
	expect_run(_metadata, &bm, 0, 0, "GET_BITMAP again");
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));

	vfio_dirty_test_set_dirty(fd, iova, size);
	ASSERT_EQ(0, unmap_bitmap(&self->c, 0, iova + size, &bm, &unmapped));
	EXPECT_EQ(size, unmapped);
	expect_run(_metadata, &bm, variant->a.bit, npages, "UNMAP with bitmap");
	EXPECT_EQ(tracking, stat_read("tracking_bytes"));
	dirty_pages(_metadata, &self->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bm_free(&bm);
}

/* ---------------------------------------------------------------------- */

/* Where the race tests map, and how many rounds each runs. */
#define RACE_IOVA	SZ_1G
#define RACE_ROUNDS	100
#define RACE_PATTERN	0x5a5a5a5aa5a5a5a5ULL

FIXTURE(race) {
	struct ctx c;
};

FIXTURE_VARIANT(race) {
	uint32_t flags;		/* of the writer */
};

FIXTURE_VARIANT_ADD(race, dma_rw) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(race, pin) {
	.flags = VFIO_DIRTY_SIM_DMA_PIN,
};

FIXTURE_SETUP(race)
{
	ctx_init(&self->c);
	ctx_save_params(&self->c);
	ctx_open(_metadata, &self->c, VFIO_BACKEND_VFIO_DIRTY);
}

FIXTURE_TEARDOWN(race)
{
	ctx_close(&self->c);
	EXPECT_EQ(self->c.tracking, vfio_dirty_tracking_bytes());
}

/* The last sequence number the device took. */
static uint64_t log_seq(struct __test_metadata *_metadata, struct ctx *c)
{
	uint64_t entry, seq = 0;

	sim_log_read(c->dev.device_fd, 0, RACE_IOVA, 1, &entry, &seq, NULL);
	return seq;
}

/* Wait until the device has taken sequence number @seq. */
static void wait_seq(struct __test_metadata *_metadata, struct ctx *c,
		     uint64_t seq)
{
	uint64_t deadline = now_ms() + WAIT_MS;

	while (log_seq(_metadata, c) < seq) {
		ASSERT_LT(now_ms(), deadline)
			TH_LOG("sequence number %llu not reached in %d ms",
			       (unsigned long long)seq, WAIT_MS);
		sched_yield();
	}
}

/* Mark in @in the bits of @bits that fall in [@off, @off + @npages). */
static uint64_t mark(const uint64_t *bits, uint64_t n, uint64_t off,
		     uint64_t npages, bool *in)
{
	uint64_t i, outside = 0;

	for (i = 0; i < n; i++) {
		if (bits[i] >= off && bits[i] < off + npages)
			in[bits[i] - off] = true;
		else
			outside++;
	}
	return outside;
}

/*
 * @rounds times: map @npages pages at bit @off of the bitmaps, start the
 * device's writer over them, query, let the writer go on, unmap (with a
 * bitmap when @get_dirty), stop the writer and compare with the log.  The
 * writer's writes are numbered; s_b is read once the query returned, s_u
 * once the unmap returned.
 *
 * Return: the pages lost, written but in no bitmap, or written after the
 * query (above s_b) but not in the unmap's bitmap.  Also expects that no
 * write numbered above s_u succeeded and that no bit lies outside the
 * mapping.
 */
static uint64_t race(struct __test_metadata *_metadata, struct ctx *c,
		     uint32_t flags, uint64_t off, uint64_t npages,
		     bool get_dirty, unsigned int rounds)
{
	const uint64_t iova = RACE_IOVA + off * SZ_4K, len = npages * SZ_4K;
	const uint64_t size = (off + npages) * SZ_4K;
	const struct vfio_dirty_sim_range range = { iova, len };
	int fd = c->dev.device_fd, cfd = c->dev.container_fd, ret;
	uint64_t *seqs, *qbits, *ubits, nq, nu, p, s0, s_b, s_u, unmapped;
	uint64_t lost = 0, late = 0, outside = 0, spurious = 0, written = 0;
	uint64_t after_query = 0, lost0, late0;
	bool *inq, *inu;
	struct ubm q, u;
	unsigned int r;

	bm_alloc(_metadata, &q, off + npages, 0);
	bm_alloc(_metadata, &u, off + npages, 0);
	seqs = calloc(npages, sizeof(*seqs));
	qbits = calloc(npages + 16, sizeof(*qbits));
	ubits = calloc(npages + 16, sizeof(*ubits));
	inq = calloc(npages, sizeof(*inq));
	inu = calloc(npages, sizeof(*inu));
	ASSERT_TRUE(seqs && qbits && ubits && inq && inu);
	dirty_pages(_metadata, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	for (r = 0; r < rounds; r++) {
		lost0 = lost;
		late0 = late;
		sim_log_read(fd, VFIO_DIRTY_SIM_LOG_CLEAR, iova,
			     npages, seqs, NULL, NULL);
		map_at(_metadata, c, iova, len);
		s0 = log_seq(_metadata, c);
		sim_writer_start(fd, flags, RACE_PATTERN, &range, 1);
		wait_seq(_metadata, c, s0 + 2);

		ASSERT_EQ(0, get_bitmap(c, RACE_IOVA, size, &q));
		s_b = log_seq(_metadata, c);
		/* Write s_b + 1 completed before s_b + 2 was taken. */
		wait_seq(_metadata, c, s_b + 2);
		if (get_dirty)
			ret = unmap_bitmap(c, RACE_IOVA, size, &u, &unmapped);
		else
			ret = __vfio_unmap(cfd, RACE_IOVA, size, &unmapped);
		s_u = log_seq(_metadata, c);
		ASSERT_EQ(0, ret) TH_LOG("round %u: unmap: %s", r, strerror(-ret));
		ASSERT_EQ(len, unmapped) TH_LOG("round %u", r);
		/* Writes that start after the unmap returned, and must fail. */
		wait_seq(_metadata, c, s_u + 2);
		sim_writer_stop(fd);

		sim_log_read(fd, 0, iova, npages, seqs, NULL, NULL);
		nq = bm_collect(&q, qbits, npages + 16);
		nu = bm_collect(&u, ubits, npages + 16);
		ASSERT_LE(nq, npages + 16);
		ASSERT_LE(nu, npages + 16);
		memset(inq, 0, npages * sizeof(*inq));
		memset(inu, 0, npages * sizeof(*inu));
		outside += mark(qbits, nq, off, npages, inq);
		outside += mark(ubits, nu, off, npages, inu);
		for (p = 0; p < npages; p++) {
			if (!seqs[p]) {
				spurious += inq[p] || inu[p];
				continue;
			}
			written++;
			after_query += seqs[p] > s_b;
			if ((seqs[p] > s_b && !inu[p]) || (!inq[p] && !inu[p])) {
				if (get_dirty && !lost)
					TH_LOG("page %llu (write %llu) lost",
					       (unsigned long long)p,
					       (unsigned long long)seqs[p]);
				lost++;
			}
			if (seqs[p] > s_u) {
				if (!late)
					TH_LOG("page %llu (write %llu) late",
					       (unsigned long long)p,
					       (unsigned long long)seqs[p]);
				late++;
			}
		}
		if ((get_dirty && lost > lost0) || late > late0)
			TH_LOG("round %u: query at %llu, unmap at %llu", r,
			       (unsigned long long)s_b, (unsigned long long)s_u);
	}
	dirty_pages(_metadata, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	TH_LOG("%u rounds of %llu pages: %llu written, %llu after the query,",
	       rounds, (unsigned long long)npages, (unsigned long long)written,
	       (unsigned long long)after_query);
	TH_LOG("%llu lost, %llu late, %llu reported unwritten",
	       (unsigned long long)lost, (unsigned long long)late,
	       (unsigned long long)spurious);
	EXPECT_GE(after_query, rounds);
	EXPECT_EQ(0, late);
	EXPECT_EQ(0, outside);
	free(seqs);
	free(qbits);
	free(ubits);
	free(inq);
	free(inu);
	bm_free(&q);
	bm_free(&u);
	return lost;
}

TEST_F_TIMEOUT(race, unmap_1_page, 120)
{
	EXPECT_EQ(0, race(_metadata, &self->c, variant->flags, 0, 1, true,
			  RACE_ROUNDS));
}

TEST_F_TIMEOUT(race, unmap_512_pages, 120)
{
	EXPECT_EQ(0, race(_metadata, &self->c, variant->flags, 0, 512, true,
			  RACE_ROUNDS));
}

/*
 * With the smallest chunk_size vfio_dirty takes, a mapping of 512 pages
 * across a chunk boundary of the user's bitmap.
 */
TEST_F_TIMEOUT(race, unmap_across_chunks, 120)
{
	static const char *const sizes[] = { "8", "64", "512", "4096" };
	uint64_t chunk_bits, off;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		if (!__module_param_write("vfio_dirty", PARAM_CHUNK, sizes[i]))
			break;
	ASSERT_LT(i, ARRAY_SIZE(sizes))
		TH_LOG("vfio_dirty's chunk_size takes none of 8, 64, 512, 4096");
	chunk_bits = param_read(PARAM_CHUNK) * 8;
	ASSERT_EQ(strtoull(sizes[i], NULL, 10) * 8, chunk_bits);
	/* Mid-byte in a chunk; the mapping's page 227 starts another chunk. */
	off = (256 + chunk_bits - 1) / chunk_bits * chunk_bits - 227;
	TH_LOG("chunk_size %s: a chunk is %llu pages, the mapping starts at bit %llu",
	       sizes[i], (unsigned long long)chunk_bits,
	       (unsigned long long)off);
	EXPECT_EQ(0, race(_metadata, &self->c, variant->flags, off, 512, true,
			  RACE_ROUNDS));
}

/* The negative control: a plain unmap loses the pages written after the query. */
TEST_F_TIMEOUT(race, plain_unmap_loses, 120)
{
	EXPECT_GE(race(_metadata, &self->c, variant->flags, 0, 512, false, 10),
		  10);
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	return test_harness_run(argc, argv);
}
