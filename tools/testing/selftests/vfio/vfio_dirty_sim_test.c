// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated device (vfio_dirty_sim): its DMA engine, its write log, its
 * background writer, and what its writes do to the dirty tracking of the
 * type1 container it is attached to.  The uAPI is
 * include/uapi/linux/vfio_dirty_sim.h.
 *
 * Each test opens the device through a new type1v2 container and maps
 * BUF_PAGES anonymous pages, filled with FILL_WORD, at TEST_IOVA; nothing
 * else is mapped unless the test maps it.  Each test runs once per way the
 * device writes: through vfio_dma_rw() (variant dma_rw) and through pages it
 * pins, which stay pinned until the container unmaps them (variant pin).
 *
 * The log makes the device's writes observable.  Each page write takes a
 * sequence number before it is attempted, and the log keeps, per page, the
 * number of the last write that succeeded.  So the writes that started
 * after a dirty bitmap was read are the pages whose entry is above the
 * log's @seq read once the query returned: a dirty bitmap read later must
 * report each of them, or the dirty page is lost.  dirty_missed() counts the
 * pages lost that way.  UNMAP_DMA with GET_DIRTY_BITMAP must lose none; a
 * plain UNMAP_DMA loses them all, and the tests check that dirty_missed()
 * sees that loss (the negative control).  Likewise, a write numbered above
 * the @seq read after an unmap returned must fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vfio_util.h"

/* The fixture's mapping. */
#define TEST_IOVA	SZ_1G
/* 8 words of dirty bitmap, so that tests cross word boundaries. */
#define BUF_PAGES	512
#define BUF_SIZE	(BUF_PAGES * page_size)
#define BITMAP_WORDS	(BUF_PAGES / 64)
/* A mapping of the largest transfer. */
#define BIG_IOVA	(4 * SZ_1G)
/* Never mapped. */
#define NOWHERE_IOVA	(8 * SZ_1G)
/* The last page of the IOVA space: a range of two pages from there wraps. */
#define TOP_IOVA	(0ULL - page_size)

#define FILL_BYTE	0x5a
#define FILL_WORD	0x5a5a5a5a5a5a5a5aULL
/* How long a test waits for the background writer to make progress. */
#define WAIT_MS		10000

static const char *device_name;
static uint64_t page_size;

/* A value for the device to write: eight different bytes, never FILL_WORD. */
static uint64_t pattern(unsigned int n)
{
	return 0x0123456789abcdefULL + ((uint64_t)(n + 1) << 56);
}

/* The IOVA of page @page of the fixture's mapping; negative is below it. */
static uint64_t page_iova(long page)
{
	return TEST_IOVA + page * (int64_t)page_size;
}

static void *map_anon(size_t size, int prot)
{
	return mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* The 8-byte words of [@p, @p + @bytes) that are not @word. */
static uint64_t words_not(const void *p, uint64_t bytes, uint64_t word)
{
	const uint64_t *w = p;
	uint64_t i, n = 0;

	for (i = 0; i < bytes / sizeof(*w); i++)
		n += w[i] != word;
	return n;
}

/* The first of @npages pages of @buf not made of @expect[page] words, or -1. */
static long first_wrong_page(const void *buf, const uint64_t *expect,
			     long npages)
{
	long p;

	for (p = 0; p < npages; p++)
		if (words_not((const char *)buf + p * page_size, page_size,
			      expect[p]))
			return p;
	return -1;
}

/* The first index where @a and @b differ, or -1. */
static long first_diff(const uint64_t *a, const uint64_t *b, long n)
{
	long i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* The entries of @seqs (BUF_PAGES of them) above @seq. */
static long count_above(const uint64_t *seqs, uint64_t seq)
{
	long p, n = 0;

	for (p = 0; p < BUF_PAGES; p++)
		n += seqs[p] > seq;
	return n;
}

/*
 * The pages lost to dirty tracking: written successfully by a write numbered
 * above @since (the log's @seq read after the last query returned, so the
 * write started after that query) and yet not in @bitmap, the query that
 * came after.
 */
static long dirty_missed(const uint64_t *seqs, uint64_t since,
			 const uint64_t *bitmap)
{
	long p, n = 0;

	for (p = 0; p < BUF_PAGES; p++)
		n += seqs[p] > since && !bitmap_test_bit(bitmap, p);
	return n;
}

/* The first page where @bitmap and @want differ, or -1. */
static long bitmap_first_diff(const uint64_t *bitmap, const bool *want)
{
	long p;

	for (p = 0; p < BUF_PAGES; p++)
		if (bitmap_test_bit(bitmap, p) != want[p])
			return p;
	return -1;
}

/* The device's counters: the last sequence number taken, and @failed. */
static uint64_t log_seq(struct __test_metadata *_metadata, int fd,
			uint64_t *failed)
{
	uint64_t entry, seq;

	sim_log_read(fd, 0, TEST_IOVA, 1, &entry, &seq, failed);
	return seq;
}

/* The log of the fixture's pages. */
static void log_pages(struct __test_metadata *_metadata, int fd,
		      uint64_t *seqs)
{
	sim_log_read(fd, 0, TEST_IOVA, BUF_PAGES, seqs, NULL, NULL);
}

/* Forget the log of @npages pages from page @first, and the failed count. */
static void log_clear(struct __test_metadata *_metadata, int fd, long first,
		      uint64_t npages)
{
	uint64_t *seqs = calloc(npages, sizeof(*seqs));

	ASSERT_NE(NULL, seqs);
	sim_log_read(fd, VFIO_DIRTY_SIM_LOG_CLEAR,
		     page_iova(first), npages, seqs, NULL, NULL);
	free(seqs);
}

/* Wait until the device has taken sequence number @seq. */
static void wait_seq(struct __test_metadata *_metadata, int fd, uint64_t seq)
{
	uint64_t deadline = now_ms() + WAIT_MS, now;

	while ((now = log_seq(_metadata, fd, NULL)) < seq) {
		ASSERT_LT(now_ms(), deadline)
			TH_LOG("sequence number %llu not reached in %d ms (at %llu)",
			       (unsigned long long)seq, WAIT_MS,
			       (unsigned long long)now);
		usleep(10000);
	}
}

/*
 * Wait until every page p with @in[p] has a successful write numbered above
 * @after[p]; @seqs gets the log of the fixture's pages.
 */
static void wait_written(struct __test_metadata *_metadata, int fd,
			 const bool *in, const uint64_t *after, uint64_t *seqs)
{
	uint64_t deadline = now_ms() + WAIT_MS;
	long p;

	for (;;) {
		log_pages(_metadata, fd, seqs);
		for (p = 0; p < BUF_PAGES; p++)
			if (in[p] && seqs[p] <= after[p])
				break;
		if (p == BUF_PAGES)
			return;
		ASSERT_LT(now_ms(), deadline)
			TH_LOG("page %ld not written in %d ms", p, WAIT_MS);
		usleep(10000);
	}
}

/* GET_BITMAP over the fixture's mapping, which clears it. */
static void get_bitmap(struct __test_metadata *_metadata, int container_fd,
		       uint64_t *bitmap)
{
	memset(bitmap, 0, BITMAP_WORDS * sizeof(*bitmap));
	vfio_get_bitmap(container_fd, TEST_IOVA, BUF_SIZE,
			page_size, bitmap,
			BITMAP_WORDS * sizeof(*bitmap));
}

/* The device writes pages [@page, @page + @npages) with pattern(@n): all. */
static void write_pages(struct __test_metadata *_metadata, int fd,
			uint32_t flags, long page, long npages, unsigned int n)
{
	uint64_t done;

	sim_write(fd, flags, page_iova(page), npages * page_size,
		  pattern(n), &done, NULL);
	EXPECT_EQ(npages, done);
}

/* Expect @err from @request with @args, member @member set to @value. */
#define EXPECT_ARG_ERR(err, fd, request, args, member, value) do {	\
	__typeof__(args) __args = (args);				\
	__args.member = (value);					\
	EXPECT_EQ(err, __sim_ioctl(fd, request, &__args))		\
		TH_LOG(#request ", " #member " = " #value);		\
} while (0)

FIXTURE(sim) {
	struct vfio_test_device dev;
	uint64_t *buf;		/* BUF_PAGES pages mapped at TEST_IOVA */
	long locked_kb;		/* VmLck before the test */
	long tracking;		/* vfio_dirty_tracking_bytes() before it */
};

FIXTURE_VARIANT(sim) {
	uint32_t flags;		/* of every write, and of the writer */
};

FIXTURE_VARIANT_ADD(sim, dma_rw) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(sim, pin) {
	.flags = VFIO_DIRTY_SIM_DMA_PIN,
};

FIXTURE_SETUP(sim)
{
	self->buf = MAP_FAILED;
	self->tracking = vfio_dirty_tracking_bytes();
	self->locked_kb = proc_self_status_kb("VmLck");
	ASSERT_GE(self->locked_kb, 0);
	if (!vfio_fixture_open(_metadata, &self->dev, device_name, true))
		return;

	self->buf = map_anon(BUF_SIZE, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, FILL_BYTE, BUF_SIZE);
	vfio_map(self->dev.container_fd, self->buf, TEST_IOVA, BUF_SIZE);
}

FIXTURE_TEARDOWN(sim)
{
	if (self->dev.container_fd >= 0)
		__vfio_dirty_test_fail_alloc(self->dev.container_fd, 0, NULL);
	/* Closing the device stops its writer and drops its pins. */
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(self->locked_kb, proc_self_status_kb("VmLck"));
	EXPECT_EQ(self->tracking, vfio_dirty_tracking_bytes());
	if (self->buf != MAP_FAILED)
		munmap(self->buf, BUF_SIZE);
}

/* The pattern lands in every word of the pages written, and nowhere else. */
TEST_F(sim, write_pattern)
{
	static const struct {
		long first, npages;
	} spans[] = {
		{ 0, 1 },		/* the first page */
		{ BUF_PAGES - 1, 1 },	/* the last */
		{ 100, 1 },		/* one in the middle */
		{ 62, 5 },		/* across a word of the dirty bitmap */
		{ 0, BUF_PAGES },	/* all of them */
	};
	uint64_t expect[BUF_PAGES], done, failed;
	int fd = self->dev.device_fd;
	unsigned int i;
	long p;

	for (i = 0; i < ARRAY_SIZE(spans); i++) {
		long first = spans[i].first, last = first + spans[i].npages;

		memset(self->buf, FILL_BYTE, BUF_SIZE);
		for (p = 0; p < BUF_PAGES; p++)
			expect[p] = p >= first && p < last ? pattern(i) : FILL_WORD;
		sim_write(fd, variant->flags, page_iova(first),
			  spans[i].npages * page_size, pattern(i),
			  &done, &failed);
		EXPECT_EQ(spans[i].npages, done);
		EXPECT_EQ(0, failed);
		EXPECT_EQ(-1, first_wrong_page(self->buf, expect, BUF_PAGES))
			TH_LOG("after writing pages [%ld, %ld)", first, last);
	}

	/* Pinned pages stay pinned, accounted to the process that mapped them. */
	EXPECT_EQ(self->locked_kb +
		  (variant->flags & VFIO_DIRTY_SIM_DMA_PIN ? BUF_SIZE / 1024 : 0),
		  proc_self_status_kb("VmLck"));
}

/* One transfer over two adjacent mappings writes and reads both. */
TEST_F(sim, write_across_mappings)
{
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	uint64_t *next, *data, done, failed;
	char *buf = (char *)self->buf;

	next = map_anon(BUF_SIZE, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, next);
	memset(next, FILL_BYTE, BUF_SIZE);
	data = malloc(6 * page_size);
	ASSERT_NE(NULL, data);
	vfio_map(cfd, next, page_iova(BUF_PAGES), BUF_SIZE);

	/* The last three pages of the fixture's mapping, the first three of next. */
	sim_write(fd, variant->flags, page_iova(BUF_PAGES - 3),
		  6 * page_size, pattern(0), &done, &failed);
	EXPECT_EQ(6, done);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, words_not(buf, BUF_SIZE - 3 * page_size, FILL_WORD));
	EXPECT_EQ(0, words_not(buf + BUF_SIZE - 3 * page_size, 3 * page_size,
			       pattern(0)));
	EXPECT_EQ(0, words_not(next, 3 * page_size, pattern(0)));
	EXPECT_EQ(0, words_not((char *)next + 3 * page_size,
			       BUF_SIZE - 3 * page_size, FILL_WORD));

	sim_read(fd, 0, page_iova(BUF_PAGES - 3), 6 * page_size,
		 data, &done, &failed);
	EXPECT_EQ(6, done);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, words_not(data, 6 * page_size, pattern(0)));

	vfio_unmap(cfd, page_iova(BUF_PAGES), BUF_SIZE, NULL);
	munmap(next, BUF_SIZE);
	free(data);
}

/* Pages that are not mapped fail one by one; the others are written. */
TEST_F(sim, write_unmapped)
{
	uint64_t expect[BUF_PAGES], seqs[5], done, failed, log_failed, s0;
	int fd = self->dev.device_fd;
	uint64_t *data;
	long p;

	data = malloc(2 * page_size);
	ASSERT_NE(NULL, data);
	log_clear(_metadata, fd, -3, BUF_PAGES + 6);
	s0 = log_seq(_metadata, fd, NULL);

	/* The last two pages of the mapping, then three unmapped ones. */
	sim_write(fd, variant->flags, page_iova(BUF_PAGES - 2),
		  5 * page_size, pattern(0), &done, &failed);
	EXPECT_EQ(2, done);
	EXPECT_EQ(3, failed);
	/* Three unmapped pages, then the first two of the mapping. */
	sim_write(fd, variant->flags, page_iova(-3),
		  5 * page_size, pattern(1), &done, &failed);
	EXPECT_EQ(2, done);
	EXPECT_EQ(3, failed);
	/* Nothing mapped at all. */
	sim_write(fd, variant->flags, NOWHERE_IOVA,
		  4 * page_size, pattern(2), &done, &failed);
	EXPECT_EQ(0, done);
	EXPECT_EQ(4, failed);

	for (p = 0; p < BUF_PAGES; p++)
		expect[p] = FILL_WORD;
	expect[0] = pattern(1);
	expect[1] = pattern(1);
	expect[BUF_PAGES - 2] = pattern(0);
	expect[BUF_PAGES - 1] = pattern(0);
	EXPECT_EQ(-1, first_wrong_page(self->buf, expect, BUF_PAGES));

	/* Every page took a number; the failed ones are counted, not logged. */
	EXPECT_EQ(s0 + 14, log_seq(_metadata, fd, &log_failed));
	EXPECT_EQ(10, log_failed);
	sim_log_read(fd, 0, page_iova(BUF_PAGES - 2), 5, seqs, NULL, NULL);
	EXPECT_EQ(s0 + 1, seqs[0]);
	EXPECT_EQ(s0 + 2, seqs[1]);
	EXPECT_EQ(0, seqs[2]);
	EXPECT_EQ(0, seqs[3]);
	EXPECT_EQ(0, seqs[4]);
	sim_log_read(fd, 0, page_iova(-3), 5, seqs, NULL, NULL);
	EXPECT_EQ(0, seqs[0]);
	EXPECT_EQ(0, seqs[1]);
	EXPECT_EQ(0, seqs[2]);
	EXPECT_EQ(s0 + 9, seqs[3]);
	EXPECT_EQ(s0 + 10, seqs[4]);

	/* A read fails the same way; it is no write, so it is not counted. */
	sim_read(fd, 0, page_iova(BUF_PAGES - 1), 2 * page_size,
		 data, &done, &failed);
	EXPECT_EQ(1, done);
	EXPECT_EQ(1, failed);
	EXPECT_EQ(0, words_not(data, page_size, pattern(0)));
	EXPECT_EQ(s0 + 14, log_seq(_metadata, fd, &log_failed));
	EXPECT_EQ(10, log_failed);
	free(data);
}

/* What the process wrote, the device reads, and nothing more. */
TEST_F(sim, read_back)
{
	static const struct {
		long first, npages;
	} spans[] = {
		{ 0, 1 },
		{ BUF_PAGES - 1, 1 },
		{ 62, 5 },
		{ 0, BUF_PAGES },
	};
	uint64_t *data, *copy, done, failed, i;
	int fd = self->dev.device_fd;
	unsigned int s;

	data = map_anon(BUF_SIZE, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, data);
	copy = malloc(BUF_SIZE);
	ASSERT_NE(NULL, copy);
	/* A different value in every word, so that an offset shows. */
	for (i = 0; i < BUF_SIZE / 8; i++)
		self->buf[i] = (i + 1) * 0x9e3779b97f4a7c15ULL;
	memcpy(copy, self->buf, BUF_SIZE);

	for (s = 0; s < ARRAY_SIZE(spans); s++) {
		uint64_t bytes = spans[s].npages * page_size;

		memset(data, 0xa5, BUF_SIZE);
		sim_read(fd, 0, page_iova(spans[s].first), bytes,
			 data, &done, &failed);
		EXPECT_EQ(spans[s].npages, done);
		EXPECT_EQ(0, failed);
		EXPECT_EQ(0, memcmp(data, (char *)copy + spans[s].first * page_size,
				    bytes))
			TH_LOG("reading pages [%ld, %ld)", spans[s].first,
			       spans[s].first + spans[s].npages);
		EXPECT_EQ(0, words_not((char *)data + bytes, BUF_SIZE - bytes,
				       0xa5a5a5a5a5a5a5a5ULL));
	}
	/* Reading changed nothing. */
	EXPECT_EQ(0, memcmp(self->buf, copy, BUF_SIZE));

	/* What the device writes, it reads back. */
	sim_write(fd, variant->flags, page_iova(10),
		  3 * page_size, pattern(0), &done, &failed);
	EXPECT_EQ(3, done);
	for (i = 10 * page_size / 8; i < 13 * page_size / 8; i++)
		copy[i] = pattern(0);
	sim_read(fd, 0, TEST_IOVA, BUF_SIZE, data, &done, &failed);
	EXPECT_EQ(BUF_PAGES, done);
	EXPECT_EQ(0, memcmp(data, copy, BUF_SIZE));
	EXPECT_EQ(0, memcmp(self->buf, copy, BUF_SIZE));
	munmap(data, BUF_SIZE);
	free(copy);
}

/* The largest transfer works both ways; one page more is refused. */
TEST_F_TIMEOUT(sim, dma_max, 120)
{
	const uint64_t max = VFIO_DIRTY_SIM_DMA_MAX, npages = max / page_size;
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	uint64_t done, failed, log_failed;
	void *big, *data;

	big = map_anon(max, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, big);
	data = map_anon(max, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, data);
	memset(big, FILL_BYTE, max);
	vfio_map(cfd, big, BIG_IOVA, max);
	log_clear(_metadata, fd, 0, 1);

	sim_write(fd, variant->flags, BIG_IOVA, max, pattern(0),
		  &done, &failed);
	EXPECT_EQ(npages, done);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, words_not(big, max, pattern(0)));
	sim_read(fd, 0, BIG_IOVA, max, data, &done, &failed);
	EXPECT_EQ(npages, done);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, words_not(data, max, pattern(0)));

	test_err_sim_write(EINVAL, fd, variant->flags, BIG_IOVA,
			   max + page_size, pattern(1), NULL, NULL);
	test_err_sim_read(EINVAL, fd, 0, BIG_IOVA, max + page_size, data,
			  NULL, NULL);
	EXPECT_EQ(0, words_not(big, max, pattern(0)));

	/* The largest transfer to nowhere runs, and fails page by page. */
	sim_write(fd, variant->flags, NOWHERE_IOVA, max,
		  pattern(2), &done, &failed);
	EXPECT_EQ(0, done);
	EXPECT_EQ(npages, failed);
	log_seq(_metadata, fd, &log_failed);
	EXPECT_EQ(npages, log_failed);

	vfio_unmap(cfd, BIG_IOVA, max, NULL);
	munmap(big, max);
	munmap(data, max);
}

/* One number per page written, in page order, above every earlier one. */
TEST_F(sim, log_seq)
{
	uint64_t seqs[BUF_PAGES], expect[BUF_PAGES], s0, failed, done;
	int fd = self->dev.device_fd;
	uint64_t *data;

	data = malloc(2 * page_size);
	ASSERT_NE(NULL, data);
	/* A new open has seen no failed write, whatever earlier ones saw. */
	log_seq(_metadata, fd, &failed);
	EXPECT_EQ(0, failed);

	log_clear(_metadata, fd, 0, BUF_PAGES + 1);
	s0 = log_seq(_metadata, fd, &failed);
	memset(expect, 0, sizeof(expect));
	log_pages(_metadata, fd, seqs);
	EXPECT_EQ(-1, first_diff(seqs, expect, BUF_PAGES));

	sim_write(fd, variant->flags, page_iova(3), page_size,
		  pattern(0), NULL, NULL);
	expect[3] = s0 + 1;
	sim_write(fd, variant->flags, page_iova(5),
		  4 * page_size, pattern(1), NULL, NULL);
	expect[5] = s0 + 2;
	expect[6] = s0 + 3;
	expect[7] = s0 + 4;
	expect[8] = s0 + 5;
	sim_write(fd, variant->flags, page_iova(3), page_size,
		  pattern(2), NULL, NULL);
	expect[3] = s0 + 6;
	log_pages(_metadata, fd, seqs);
	EXPECT_EQ(-1, first_diff(seqs, expect, BUF_PAGES));
	EXPECT_EQ(s0 + 6, log_seq(_metadata, fd, &failed));
	EXPECT_EQ(0, failed);

	/* A page that fails takes a number too, and is counted, not logged. */
	sim_write(fd, variant->flags, page_iova(BUF_PAGES - 1),
		  2 * page_size, pattern(3), &done, NULL);
	EXPECT_EQ(1, done);
	expect[BUF_PAGES - 1] = s0 + 7;
	log_pages(_metadata, fd, seqs);
	EXPECT_EQ(-1, first_diff(seqs, expect, BUF_PAGES));
	EXPECT_EQ(s0 + 8, log_seq(_metadata, fd, &failed));
	EXPECT_EQ(1, failed);
	sim_log_read(fd, 0, page_iova(BUF_PAGES), 1, seqs, NULL, NULL);
	EXPECT_EQ(0, seqs[0]);

	/* Reads are not logged and take no number. */
	sim_read(fd, 0, page_iova(BUF_PAGES - 1), 2 * page_size,
		 data, NULL, NULL);
	EXPECT_EQ(s0 + 8, log_seq(_metadata, fd, &failed));
	EXPECT_EQ(1, failed);
	log_pages(_metadata, fd, seqs);
	EXPECT_EQ(-1, first_diff(seqs, expect, BUF_PAGES));
	free(data);
}

/* LOG_CLEAR reads, then forgets the entries read and the failed count. */
TEST_F(sim, log_clear)
{
	uint64_t seqs[4], s0, seq, failed;
	int fd = self->dev.device_fd;

	log_clear(_metadata, fd, 0, 4);
	s0 = log_seq(_metadata, fd, NULL);
	sim_write(fd, variant->flags, page_iova(0),
		  4 * page_size, pattern(0), NULL, NULL);
	sim_write(fd, variant->flags, NOWHERE_IOVA,
		  2 * page_size, pattern(0), NULL, NULL);

	sim_log_read(fd, VFIO_DIRTY_SIM_LOG_CLEAR, page_iova(1),
		     2, seqs, &seq, &failed);
	EXPECT_EQ(s0 + 2, seqs[0]);
	EXPECT_EQ(s0 + 3, seqs[1]);
	EXPECT_EQ(s0 + 6, seq);
	EXPECT_EQ(2, failed);

	/* Only the pages read are forgotten; the numbers go on. */
	sim_log_read(fd, 0, page_iova(0), 4, seqs, &seq, &failed);
	EXPECT_EQ(s0 + 1, seqs[0]);
	EXPECT_EQ(0, seqs[1]);
	EXPECT_EQ(0, seqs[2]);
	EXPECT_EQ(s0 + 4, seqs[3]);
	EXPECT_EQ(s0 + 6, seq);
	EXPECT_EQ(0, failed);

	sim_write(fd, variant->flags, page_iova(1), page_size,
		  pattern(1), NULL, NULL);
	sim_log_read(fd, 0, page_iova(0), 4, seqs, &seq, &failed);
	EXPECT_EQ(s0 + 1, seqs[0]);
	EXPECT_EQ(s0 + 7, seqs[1]);
	EXPECT_EQ(0, seqs[2]);
	EXPECT_EQ(s0 + 4, seqs[3]);
	EXPECT_EQ(s0 + 7, seq);
	EXPECT_EQ(0, failed);
}

/* Every malformed transfer is refused, has no effect, and harms nothing. */
TEST_F(sim, dma_errors)
{
	const unsigned long dma_write = VFIO_DIRTY_SIM_DMA_WRITE;
	const unsigned long dma_read = VFIO_DIRTY_SIM_DMA_READ;
	struct vfio_dirty_sim_dma wr, rd;
	int fd = self->dev.device_fd;
	uint64_t s0, failed, done;
	void *data, *none, *ro;

	data = map_anon(2 * page_size, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, data);
	none = map_anon(page_size, PROT_NONE);
	ASSERT_NE(MAP_FAILED, none);
	ro = map_anon(page_size, PROT_READ);
	ASSERT_NE(MAP_FAILED, ro);
	s0 = log_seq(_metadata, fd, &failed);
	EXPECT_EQ(0, failed);

	wr = (struct vfio_dirty_sim_dma) {
		.argsz = sizeof(wr),
		.flags = variant->flags,
		.iova = TEST_IOVA,
		.length = page_size,
		.pattern = pattern(0),
	};
	rd = (struct vfio_dirty_sim_dma) {
		.argsz = sizeof(rd),
		.iova = TEST_IOVA,
		.length = page_size,
		.data = (uintptr_t)data,
	};

	/* The header asks for argsz = sizeof(struct vfio_dirty_sim_dma). */
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, argsz, 0);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, argsz, sizeof(wr) - 1);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, flags, variant->flags | 1 << 1);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, flags, variant->flags | 1U << 31);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, iova, TEST_IOVA + 1);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, iova, TEST_IOVA + page_size / 2);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, length, 0);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, length, 8);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, length, page_size + 8);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, length,
		       VFIO_DIRTY_SIM_DMA_MAX + page_size);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, data, (uintptr_t)data);
	wr.iova = TOP_IOVA;
	EXPECT_ARG_ERR(-EINVAL, fd, dma_write, wr, length, 2 * page_size);
	wr.iova = TEST_IOVA;

	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, argsz, 0);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, argsz, sizeof(rd) - 1);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, flags, 1 << 1);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, flags,
		       VFIO_DIRTY_SIM_DMA_PIN | 1U << 31);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, pattern, pattern(0));
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, iova, TEST_IOVA + 1);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, length, 0);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, length, page_size + 8);
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, length,
		       VFIO_DIRTY_SIM_DMA_MAX + page_size);
	rd.iova = TOP_IOVA;
	EXPECT_ARG_ERR(-EINVAL, fd, dma_read, rd, length, 2 * page_size);
	rd.iova = TEST_IOVA;

	/* Bad user pointers: the argument, and the buffer of a read. */
	test_err_sim_ioctl(EFAULT, fd, dma_write, none);
	test_err_sim_ioctl(EFAULT, fd, dma_read, none);
	EXPECT_ARG_ERR(-EFAULT, fd, dma_read, rd, data, (uintptr_t)none);
	EXPECT_ARG_ERR(-EFAULT, fd, dma_read, rd, data, (uintptr_t)ro);

	/* Nothing was written, no number taken, no write counted as failed. */
	EXPECT_EQ(0, words_not(self->buf, BUF_SIZE, FILL_WORD));
	EXPECT_EQ(s0, log_seq(_metadata, fd, &failed));
	EXPECT_EQ(0, failed);

	/* The device still works. */
	sim_write(fd, variant->flags, TEST_IOVA, page_size,
		  pattern(1), &done, NULL);
	EXPECT_EQ(1, done);
	sim_read(fd, 0, TEST_IOVA, page_size, data, &done, NULL);
	EXPECT_EQ(1, done);
	EXPECT_EQ(0, words_not(data, page_size, pattern(1)));
	EXPECT_EQ(0, words_not(self->buf, page_size, pattern(1)));
	EXPECT_EQ(s0 + 1, log_seq(_metadata, fd, &failed));
	EXPECT_EQ(0, failed);
	munmap(data, 2 * page_size);
	munmap(none, page_size);
	munmap(ro, page_size);
}

/* Every malformed log read is refused and clears nothing. */
TEST_F(sim, log_errors)
{
	const uint64_t max = VFIO_DIRTY_SIM_LOG_MAX_PAGES;
	const unsigned long log_read = VFIO_DIRTY_SIM_LOG_READ;
	uint64_t *seqs, seq, s1, failed;
	int fd = self->dev.device_fd;
	struct vfio_dirty_sim_log log;
	void *none, *ro;

	seqs = map_anon(max * sizeof(*seqs), PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, seqs);
	none = map_anon(page_size, PROT_NONE);
	ASSERT_NE(MAP_FAILED, none);
	ro = map_anon(page_size, PROT_READ);
	ASSERT_NE(MAP_FAILED, ro);

	/* Something to forget: a page written, a write failed. */
	log_clear(_metadata, fd, 0, 1);
	sim_write(fd, variant->flags, TEST_IOVA, page_size,
		  pattern(0), NULL, NULL);
	sim_write(fd, variant->flags, NOWHERE_IOVA, page_size,
		  pattern(0), NULL, NULL);
	s1 = log_seq(_metadata, fd, &failed) - 1;
	EXPECT_EQ(1, failed);

	log = (struct vfio_dirty_sim_log) {
		.argsz = sizeof(log),
		.flags = VFIO_DIRTY_SIM_LOG_CLEAR,
		.iova = TEST_IOVA,
		.npages = 1,
		.seqs = (uintptr_t)seqs,
	};
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, argsz, 0);
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, argsz, sizeof(log) - 1);
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, flags, 1 << 1);
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, flags,
		       VFIO_DIRTY_SIM_LOG_CLEAR | 1U << 31);
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, iova, TEST_IOVA + 1);
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, iova, TEST_IOVA + page_size / 2);
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, npages, 0);
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, npages, max + 1);
	log.iova = TOP_IOVA;
	EXPECT_ARG_ERR(-EINVAL, fd, log_read, log, npages, 2);
	log.iova = TEST_IOVA;
	test_err_sim_ioctl(EFAULT, fd, log_read, none);

	/* Nothing was forgotten. */
	sim_log_read(fd, 0, TEST_IOVA, 1, seqs, &seq, &failed);
	EXPECT_EQ(s1, seqs[0]);
	EXPECT_EQ(s1 + 1, seq);
	EXPECT_EQ(1, failed);

	/* The most pages at once, clearing; a second pass finds them clear. */
	sim_log_read(fd, VFIO_DIRTY_SIM_LOG_CLEAR, TEST_IOVA,
		     max, seqs, &seq, &failed);
	EXPECT_EQ(s1, seqs[0]);
	EXPECT_EQ(1, failed);
	sim_log_read(fd, VFIO_DIRTY_SIM_LOG_CLEAR, TEST_IOVA,
		     max, seqs, &seq, &failed);
	EXPECT_EQ(0, words_not(seqs, max * sizeof(*seqs), 0));
	EXPECT_EQ(s1 + 1, seq);
	EXPECT_EQ(0, failed);

	/* Bad pointers for the entries, without CLEAR: what may EFAULT undo? */
	log.flags = 0;
	EXPECT_ARG_ERR(-EFAULT, fd, log_read, log, seqs, (uintptr_t)none);
	EXPECT_ARG_ERR(-EFAULT, fd, log_read, log, seqs, (uintptr_t)ro);
	munmap(seqs, max * sizeof(*seqs));
	munmap(none, page_size);
	munmap(ro, page_size);
}

/* Every malformed WRITER_START is refused and starts nothing. */
TEST_F(sim, writer_errors)
{
	const unsigned long start = VFIO_DIRTY_SIM_WRITER_START;
	const uint32_t max = VFIO_DIRTY_SIM_WRITER_MAX_RANGES;
	struct vfio_dirty_sim_range ranges[VFIO_DIRTY_SIM_WRITER_MAX_RANGES + 1];
	struct vfio_dirty_sim_range bad[2];
	struct vfio_dirty_sim_writer writer;
	int fd = self->dev.device_fd;
	uint64_t s0, failed;
	void *none;
	uint32_t i;

	none = map_anon(page_size, PROT_NONE);
	ASSERT_NE(MAP_FAILED, none);
	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		ranges[i].iova = page_iova(i % BUF_PAGES);
		ranges[i].length = page_size;
	}
	s0 = log_seq(_metadata, fd, &failed);

	writer = (struct vfio_dirty_sim_writer) {
		.argsz = sizeof(writer),
		.flags = variant->flags,
		.nr_ranges = 1,
		.pattern = pattern(0),
		.ranges = (uintptr_t)ranges,
	};
	EXPECT_ARG_ERR(-EINVAL, fd, start, writer, argsz, 0);
	EXPECT_ARG_ERR(-EINVAL, fd, start, writer, argsz, sizeof(writer) - 1);
	EXPECT_ARG_ERR(-EINVAL, fd, start, writer, flags, variant->flags | 1 << 2);
	EXPECT_ARG_ERR(-EINVAL, fd, start, writer, nr_ranges, 0);
	EXPECT_ARG_ERR(-EINVAL, fd, start, writer, nr_ranges, max + 1);
	EXPECT_ARG_ERR(-EINVAL, fd, start, writer, __reserved, 1);
	EXPECT_ARG_ERR(-EFAULT, fd, start, writer, ranges, (uintptr_t)none);
	test_err_sim_ioctl(EFAULT, fd, start, none);

	/* A bad range after a good one. */
	writer.ranges = (uintptr_t)bad;
	writer.nr_ranges = 2;
	bad[0] = ranges[0];
	bad[1] = (struct vfio_dirty_sim_range) { TEST_IOVA + 1, page_size };
	test_err_sim_ioctl(EINVAL, fd, start, &writer);
	bad[1] = (struct vfio_dirty_sim_range) { TEST_IOVA, page_size + 8 };
	test_err_sim_ioctl(EINVAL, fd, start, &writer);
	bad[1] = (struct vfio_dirty_sim_range) { TEST_IOVA, 0 };
	test_err_sim_ioctl(EINVAL, fd, start, &writer);
	bad[1] = (struct vfio_dirty_sim_range) { TOP_IOVA, 2 * page_size };
	test_err_sim_ioctl(EINVAL, fd, start, &writer);

	/* None of these started a writer, or wrote. */
	test_err_sim_writer_stop(ENOENT, fd);
	usleep(50000);
	EXPECT_EQ(s0, log_seq(_metadata, fd, &failed));
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, words_not(self->buf, BUF_SIZE, FILL_WORD));

	/* The most ranges start; a second writer does not. */
	sim_writer_start(fd, variant->flags, pattern(0), ranges, max);
	test_err_sim_writer_start(EBUSY, fd, variant->flags, pattern(1),
				  ranges, 1);
	/* One lap over them all, and the first write of the next. */
	wait_seq(_metadata, fd, s0 + max + 1);
	sim_writer_stop(fd);
	test_err_sim_writer_stop(ENOENT, fd);
	EXPECT_EQ(0, words_not(self->buf, max * page_size, pattern(0)));
	EXPECT_EQ(0, words_not((char *)self->buf + max * page_size,
			       BUF_SIZE - max * page_size, FILL_WORD));
	munmap(none, page_size);
}

/* The writer rewrites every page of its ranges until it is stopped. */
TEST_F(sim, writer)
{
	const struct vfio_dirty_sim_range ranges[] = {
		{ page_iova(0), 4 * page_size },
		{ page_iova(100), 3 * page_size },
		{ page_iova(BUF_PAGES - 1), page_size },
	};
	uint64_t seqs[BUF_PAGES], after[BUF_PAGES], expect[BUF_PAGES];
	int fd = self->dev.device_fd;
	bool in[BUF_PAGES] = { };
	uint64_t s, failed;
	unsigned int r;
	long p;

	for (r = 0; r < ARRAY_SIZE(ranges); r++)
		for (p = 0; p < (long)(ranges[r].length / page_size); p++)
			in[(ranges[r].iova - TEST_IOVA) / page_size + p] = true;
	for (p = 0; p < BUF_PAGES; p++)
		expect[p] = in[p] ? pattern(0) : FILL_WORD;
	log_clear(_metadata, fd, 0, BUF_PAGES);
	memset(after, 0, sizeof(after));

	sim_writer_start(fd, variant->flags, pattern(0), ranges,
			 ARRAY_SIZE(ranges));
	/* A second writer is refused, and changes nothing of the first. */
	test_err_sim_writer_start(EBUSY, fd, variant->flags, pattern(1),
				  ranges, 1);

	/* Every page gets written, then written again. */
	wait_written(_metadata, fd, in, after, seqs);
	memcpy(after, seqs, sizeof(after));
	wait_written(_metadata, fd, in, after, seqs);
	for (p = 0; p < BUF_PAGES; p++) {
		uint64_t outside = in[p] ? 0 : seqs[p];

		EXPECT_EQ(0, outside) TH_LOG("page %ld", p);
	}
	EXPECT_EQ(-1, first_wrong_page(self->buf, expect, BUF_PAGES));

	/* Stopped means stopped: nothing is written once STOP returned. */
	sim_writer_stop(fd);
	s = log_seq(_metadata, fd, &failed);
	EXPECT_EQ(0, failed);
	usleep(100000);
	EXPECT_EQ(s, log_seq(_metadata, fd, NULL));
	test_err_sim_writer_stop(ENOENT, fd);

	/* Another writer may start now. */
	sim_writer_start(fd, variant->flags, pattern(0), ranges,
			 ARRAY_SIZE(ranges));
	wait_seq(_metadata, fd, s + 1);
	sim_writer_stop(fd);
}

/* Closing the device with the writer running stops it. */
TEST_F(sim, writer_close)
{
	const struct vfio_dirty_sim_range range = { TEST_IOVA, BUF_SIZE };
	int fd = self->dev.device_fd, ret;
	uint64_t s, failed, done;

	s = log_seq(_metadata, fd, NULL);
	sim_writer_start(fd, variant->flags, pattern(0), &range, 1);
	wait_seq(_metadata, fd, s + BUF_PAGES);

	vfio_test_device_close(&self->dev);
	/* Every pin was dropped, and the mapping went with the container. */
	EXPECT_EQ(self->locked_kb, proc_self_status_kb("VmLck"));
	ret = __vfio_test_device_open(&self->dev, device_name, VFIO_TYPE1v2_IOMMU);
	ASSERT_EQ(0, ret) TH_LOG("reopening %s: %s", device_name, strerror(-ret));
	fd = self->dev.device_fd;

	test_err_sim_writer_stop(ENOENT, fd);
	s = log_seq(_metadata, fd, &failed);
	EXPECT_EQ(0, failed);
	usleep(100000);
	EXPECT_EQ(s, log_seq(_metadata, fd, &failed));
	EXPECT_EQ(0, failed);

	/* The device works in its new container. */
	memset(self->buf, FILL_BYTE, BUF_SIZE);
	vfio_map(self->dev.container_fd, self->buf, TEST_IOVA, BUF_SIZE);
	sim_write(fd, variant->flags, TEST_IOVA, page_size,
		  pattern(1), &done, NULL);
	EXPECT_EQ(1, done);
	EXPECT_EQ(0, words_not(self->buf, page_size, pattern(1)));
	EXPECT_EQ(0, words_not((char *)self->buf + page_size,
			       BUF_SIZE - page_size, FILL_WORD));
}

/*
 * The writer survives its range being unmapped.  Through vfio_dma_rw() it
 * goes on once the range is mapped again; through pins it has been fenced
 * off the range (it must not pin under the backend's unmap), and goes on
 * once userspace programs it again.
 */
TEST_F(sim, writer_unmap)
{
	const struct vfio_dirty_sim_range range = { TEST_IOVA, BUF_SIZE };
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	uint64_t seqs[BUF_PAGES], after[BUF_PAGES], s, s_u, f_u, failed;
	uint64_t unmapped;
	bool all[BUF_PAGES];
	long p;

	for (p = 0; p < BUF_PAGES; p++)
		all[p] = true;
	s = log_seq(_metadata, fd, NULL);
	sim_writer_start(fd, variant->flags, pattern(0), &range, 1);
	wait_seq(_metadata, fd, s + BUF_PAGES);

	vfio_unmap(cfd, TEST_IOVA, BUF_SIZE, &unmapped);
	EXPECT_EQ(BUF_SIZE, unmapped);
	EXPECT_EQ(self->locked_kb, proc_self_status_kb("VmLck"));
	s_u = log_seq(_metadata, fd, &f_u);
	/* A lap after the unmap: every write of it failed. */
	wait_seq(_metadata, fd, s_u + BUF_PAGES + 1);
	log_pages(_metadata, fd, seqs);
	EXPECT_EQ(0, count_above(seqs, s_u));
	log_seq(_metadata, fd, &failed);
	EXPECT_GE(failed - f_u, BUF_PAGES);

	memset(self->buf, FILL_BYTE, BUF_SIZE);
	vfio_map(cfd, self->buf, TEST_IOVA, BUF_SIZE);
	if (variant->flags & VFIO_DIRTY_SIM_DMA_PIN) {
		/* A lap over the mapped range again: still fenced. */
		s = log_seq(_metadata, fd, NULL);
		wait_seq(_metadata, fd, s + BUF_PAGES + 1);
		log_pages(_metadata, fd, seqs);
		EXPECT_EQ(0, count_above(seqs, s));
		EXPECT_EQ(0, words_not(self->buf, BUF_SIZE, FILL_WORD));
		sim_writer_stop(fd);
		sim_writer_start(fd, variant->flags, pattern(0), &range, 1);
	}
	s = log_seq(_metadata, fd, NULL);
	for (p = 0; p < BUF_PAGES; p++)
		after[p] = s;
	wait_written(_metadata, fd, all, after, seqs);
	sim_writer_stop(fd);
	EXPECT_EQ(0, words_not(self->buf, BUF_SIZE, pattern(0)));
}

/*
 * Unmap and map again, over and over, under a running writer: with pins,
 * the first unmap makes the device unpin and fences the writer off the
 * range, so no unmap ever finds a page pinned again under it.
 */
TEST_F(sim, writer_unmap_churn)
{
	const struct vfio_dirty_sim_range range = { TEST_IOVA, BUF_SIZE };
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	uint64_t s, unmapped;
	int i;

	sim_writer_start(fd, variant->flags, pattern(0), &range, 1);
	for (i = 0; i < 100; i++) {
		/* Writes attempted since the mapping came back. */
		s = log_seq(_metadata, fd, NULL);
		wait_seq(_metadata, fd, s + 16);
		vfio_unmap(cfd, TEST_IOVA, BUF_SIZE, &unmapped);
		ASSERT_EQ(BUF_SIZE, unmapped);
		/* Nothing stays pinned, or gets pinned, past the unmap. */
		ASSERT_EQ(self->locked_kb, proc_self_status_kb("VmLck"))
			TH_LOG("round %d", i);
		vfio_map(cfd, self->buf, TEST_IOVA, BUF_SIZE);
	}
	sim_writer_stop(fd);
}

/*
 * Start dirty tracking, check that nothing is reported yet, then have the
 * device write page @p; returns the last sequence number before the write.
 */
static uint64_t write_after_query(struct __test_metadata *_metadata, int fd,
				  int cfd, uint32_t flags, long p)
{
	uint64_t bitmap[BITMAP_WORDS], s_b, done;

	log_clear(_metadata, fd, 0, BUF_PAGES);
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(0, bitmap_weight_bits(bitmap, BUF_PAGES));
	s_b = log_seq(_metadata, fd, NULL);

	sim_write(fd, flags, page_iova(p), page_size, pattern(0), &done, NULL);
	EXPECT_EQ(1, done);
	return s_b;
}

/*
 * Have the device write page @p after an unmap that left the counters at
 * @s_u and @f_u: the write takes the next number, and fails.
 */
static void write_after_unmap(struct __test_metadata *_metadata, int fd,
			      uint32_t flags, long p, uint64_t s_u, uint64_t f_u)
{
	uint64_t done, failed, seq;

	sim_write(fd, flags, page_iova(p), page_size,
		  pattern(1), &done, &failed);
	EXPECT_EQ(0, done);
	EXPECT_EQ(1, failed);
	seq = log_seq(_metadata, fd, &failed);
	EXPECT_EQ(s_u + 1, seq);
	EXPECT_EQ(f_u + 1, failed);
}

/*
 * The negative control: a write to page P after the last query, then a
 * plain unmap.  The write succeeded, and no later query can report it.
 */
TEST_F(sim, unmap_loses_dirty)
{
	const long P = 77;
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	uint64_t bitmap[BITMAP_WORDS], seqs[BUF_PAGES], s_b, s_u, f_u, unmapped;

	s_b = write_after_query(_metadata, fd, cfd, variant->flags, P);
	EXPECT_EQ(0, words_not((char *)self->buf + P * page_size, page_size,
			       pattern(0)));

	vfio_unmap(cfd, TEST_IOVA, BUF_SIZE, &unmapped);
	EXPECT_EQ(BUF_SIZE, unmapped);
	s_u = log_seq(_metadata, fd, &f_u);
	/* The unmap made the device drop its pins. */
	EXPECT_EQ(self->locked_kb, proc_self_status_kb("VmLck"));

	/* After the unmap returned, a write to P takes a later number, and fails. */
	write_after_unmap(_metadata, fd, variant->flags, P, s_u, f_u);

	/* The log: P's write, the one before the unmap, succeeded... */
	log_pages(_metadata, fd, seqs);
	EXPECT_EQ(1, count_above(seqs, s_b));
	EXPECT_GT(seqs[P], s_b);

	/* ...and the same range mapped again reports nothing: P is lost. */
	vfio_map(cfd, self->buf, TEST_IOVA, BUF_SIZE);
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(0, bitmap_weight_bits(bitmap, BUF_PAGES));
	EXPECT_EQ(1, dirty_missed(seqs, s_b, bitmap));
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

/* The same write, then UNMAP_DMA with GET_DIRTY_BITMAP: P is reported. */
TEST_F(sim, unmap_bitmap_keeps_dirty)
{
	const long P = 77;
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	uint64_t bitmap[BITMAP_WORDS], seqs[BUF_PAGES], s_b, s_u, f_u, unmapped;

	s_b = write_after_query(_metadata, fd, cfd, variant->flags, P);

	memset(bitmap, 0, sizeof(bitmap));
	vfio_unmap_bitmap(cfd, TEST_IOVA, BUF_SIZE, page_size,
			  bitmap, sizeof(bitmap), &unmapped);
	EXPECT_EQ(BUF_SIZE, unmapped);
	s_u = log_seq(_metadata, fd, &f_u);
	EXPECT_EQ(self->locked_kb, proc_self_status_kb("VmLck"));
	EXPECT_EQ(1, bitmap_weight_bits(bitmap, BUF_PAGES));
	EXPECT_TRUE(bitmap_test_bit(bitmap, P));

	write_after_unmap(_metadata, fd, variant->flags, P, s_u, f_u);

	log_pages(_metadata, fd, seqs);
	EXPECT_EQ(1, count_above(seqs, s_b));
	EXPECT_GT(seqs[P], s_b);
	EXPECT_EQ(0, dirty_missed(seqs, s_b, bitmap));
	EXPECT_EQ(0, words_not((char *)self->buf + P * page_size, page_size,
			       pattern(0)));
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

/*
 * The race with the writer running over the whole mapping: a query, more
 * writes, an unmap.  With GET_DIRTY_BITMAP the unmap reports every page
 * written after the query; a plain unmap loses them all.  Either way no
 * write that started after the unmap returned succeeds.
 *
 * What each variant can catch differs.  Through dma_rw() every write is
 * marked, under the container's lock: the dma_rw variant catches a write
 * that lands between a mapping's report and its removal.  Through pins a
 * write after the first marks nothing: a page written after the query is
 * reported only because it is still pinned, and the pin variant catches a
 * report that forgets the pinned pages (with reset_dma() no longer setting
 * them again, it fails on 6.1, as race.pin.* in vfio_dirty_8tib_test do).
 */
static void writer_race(struct __test_metadata *_metadata,
			const struct vfio_test_device *dev, void *buf,
			long locked_kb, uint32_t flags, bool get_dirty)
{
	const struct vfio_dirty_sim_range range = { TEST_IOVA, BUF_SIZE };
	int fd = dev->device_fd, cfd = dev->container_fd;
	uint64_t bitmap[BITMAP_WORDS], seqs[BUF_PAGES], s0, s_b, s_u, s_end;
	uint64_t failed, unmapped;
	long written;
	int ret;

	log_clear(_metadata, fd, 0, BUF_PAGES);
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	s0 = log_seq(_metadata, fd, NULL);
	sim_writer_start(fd, flags, pattern(0), &range, 1);
	wait_seq(_metadata, fd, s0 + BUF_PAGES);

	get_bitmap(_metadata, cfd, bitmap);
	s_b = log_seq(_metadata, fd, NULL);
	/* Half a lap after the query, then the unmap. */
	wait_seq(_metadata, fd, s_b + BUF_PAGES / 2);
	memset(bitmap, 0, sizeof(bitmap));
	if (get_dirty)
		ret = __vfio_unmap_bitmap(cfd, TEST_IOVA, BUF_SIZE, page_size,
					  bitmap, sizeof(bitmap), &unmapped);
	else
		ret = __vfio_unmap(cfd, TEST_IOVA, BUF_SIZE, &unmapped);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(BUF_SIZE, unmapped);
	s_u = log_seq(_metadata, fd, NULL);
	/* A lap of writes that all fail. */
	wait_seq(_metadata, fd, s_u + BUF_PAGES);
	sim_writer_stop(fd);
	EXPECT_EQ(locked_kb, proc_self_status_kb("VmLck"));

	s_end = log_seq(_metadata, fd, &failed);
	log_pages(_metadata, fd, seqs);
	written = count_above(seqs, s_b);
	TH_LOG("seq: query %llu, unmap %llu, end %llu; %ld pages written between",
	       (unsigned long long)s_b, (unsigned long long)s_u,
	       (unsigned long long)s_end, written);
	/* Writes happened between the query and the unmap... */
	EXPECT_GT(written, 0);
	/* ...none that started after the unmap succeeded, and all were counted. */
	EXPECT_EQ(0, count_above(seqs, s_u));
	EXPECT_GE(failed, s_end - s_u);

	if (get_dirty) {
		EXPECT_EQ(0, dirty_missed(seqs, s_b, bitmap));
	} else {
		/* The same range mapped again reports nothing: all are lost. */
		vfio_map(cfd, buf, TEST_IOVA, BUF_SIZE);
		get_bitmap(_metadata, cfd, bitmap);
		EXPECT_EQ(0, bitmap_weight_bits(bitmap, BUF_PAGES));
		EXPECT_EQ(written, dirty_missed(seqs, s_b, bitmap));
	}
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

TEST_F(sim, writer_unmap_loses_dirty)
{
	writer_race(_metadata, &self->dev, self->buf, self->locked_kb,
		    variant->flags, false);
}

TEST_F(sim, writer_unmap_bitmap_keeps_dirty)
{
	writer_race(_metadata, &self->dev, self->buf, self->locked_kb,
		    variant->flags, true);
}

/*
 * The container reports exactly the pages the device wrote: through
 * vfio_dma_rw() until the next query, through pins as long as they hold.
 * A page written after a query is reported without what that query
 * cleared, though they share a table of dirty bits.
 */
TEST_F(sim, dirty_exact)
{
	static const long pages[] = { 0, 1, 63, 64, 200, BUF_PAGES - 1 };
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	const bool pin = variant->flags & VFIO_DIRTY_SIM_DMA_PIN;
	uint64_t bitmap[BITMAP_WORDS], done;
	bool want[BUF_PAGES] = { }, none[BUF_PAGES] = { }, after[BUF_PAGES];
	unsigned int i;
	void *data;
	long p;

	data = map_anon(BUF_SIZE, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, data);
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, none));

	/* Reading dirties nothing. */
	sim_read(fd, 0, TEST_IOVA, BUF_SIZE, data, &done, NULL);
	EXPECT_EQ(BUF_PAGES, done);
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, none));

	for (i = 0; i < ARRAY_SIZE(pages); i++) {
		write_pages(_metadata, fd, variant->flags, pages[i], 1, i);
		want[pages[i]] = true;
	}
	/* Five pages across a word of the bitmap. */
	write_pages(_metadata, fd, variant->flags, 126, 5, 0);
	for (p = 126; p < 131; p++)
		want[p] = true;

	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, want));
	EXPECT_EQ(ARRAY_SIZE(pages) + 5, bitmap_weight_bits(bitmap, BUF_PAGES));

	/* The query cleared what vfio_dma_rw() dirtied; pins stay dirty. */
	write_pages(_metadata, fd, variant->flags, 300, 1, 1);
	memcpy(after, pin ? want : none, sizeof(after));
	after[300] = true;
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, after));
	want[300] = true;
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, pin ? want : none));
	EXPECT_EQ(self->locked_kb +
		  (pin ? (ARRAY_SIZE(pages) + 6) * page_size / 1024 : 0),
		  proc_self_status_kb("VmLck"));
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	munmap(data, BUF_SIZE);
}

/*
 * Writes that keep a span's dirty pages one run: a run grown at either
 * end is reported whole, and a page written next to a run a query cleared
 * is reported without it (pins excepted, which stay dirty).
 */
TEST_F(sim, dirty_run)
{
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	const bool pin = variant->flags & VFIO_DIRTY_SIM_DMA_PIN;
	bool want[BUF_PAGES] = { }, after[BUF_PAGES] = { };
	uint64_t bitmap[BITMAP_WORDS];
	long p;

	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	/* 20-23, then 24 after it and 19 before it. */
	write_pages(_metadata, fd, variant->flags, 20, 4, 0);
	write_pages(_metadata, fd, variant->flags, 24, 1, 1);
	write_pages(_metadata, fd, variant->flags, 19, 1, 2);
	for (p = 19; p < 25; p++)
		want[p] = true;
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, want));

	/* Next to the cleared run, at both ends. */
	write_pages(_metadata, fd, variant->flags, 25, 1, 3);
	write_pages(_metadata, fd, variant->flags, 18, 1, 4);
	if (pin)
		memcpy(after, want, sizeof(after));
	after[18] = true;
	after[25] = true;
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, after));
	EXPECT_EQ(pin ? 8 : 2, bitmap_weight_bits(bitmap, BUF_PAGES));
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

/*
 * A group behind an IOMMU shares the container for a while: its device may
 * write anywhere, so while it is there every query reports every mapped
 * page, and so does the first one after it left.  Then the queries report
 * again what the device wrote, and nothing it wrote before the group came,
 * whatever number of queries the group saw (1 and 2: a tracker that kept
 * one bit of generation per record would show a page cleared two queries
 * before as dirty again after an even number).  The PCI device, bound to
 * vfio-pci, is named by VFIO_SELFTESTS_PCI_BDF.
 */
TEST_F(sim, iommu_group_comes_and_goes)
{
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	const char *bdf = getenv("VFIO_SELFTESTS_PCI_BDF");
	const bool pin = variant->flags & VFIO_DIRTY_SIM_DMA_PIN;
	bool want[BUF_PAGES] = { };
	uint64_t bitmap[BITMAP_WORDS];
	int group, round, i;

	if (!bdf)
		SKIP(return, "no PCI device: set VFIO_SELFTESTS_PCI_BDF");
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	for (round = 1; round <= 2; round++) {
		write_pages(_metadata, fd, variant->flags, round, 1, round);
		want[round] = true;
		get_bitmap(_metadata, cfd, bitmap);
		EXPECT_EQ(-1, bitmap_first_diff(bitmap, want));
		if (!pin)
			want[round] = false;

		group = __vfio_group_open(bdf);
		ASSERT_LE(0, group) TH_LOG("%s: %s", bdf, strerror(-group));
		ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &cfd));
		for (i = 0; i < round; i++) {
			get_bitmap(_metadata, cfd, bitmap);
			EXPECT_EQ(BUF_PAGES, bitmap_weight_bits(bitmap, BUF_PAGES));
		}
		ASSERT_EQ(0, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
		close(group);
		get_bitmap(_metadata, cfd, bitmap);
		EXPECT_EQ(BUF_PAGES, bitmap_weight_bits(bitmap, BUF_PAGES));

		get_bitmap(_metadata, cfd, bitmap);
		EXPECT_EQ(-1, bitmap_first_diff(bitmap, want))
			TH_LOG("round %d", round);
	}
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

/*
 * A write while memory for dirty bits cannot be had: the device's write
 * succeeds all the same, and the next query reports the whole mapping, so
 * that nothing it wrote is lost.  The query after that is back to what
 * was written since.
 */
TEST_F(sim, write_without_tracking_memory)
{
	int fd = self->dev.device_fd, cfd = self->dev.container_fd;
	const bool pin = variant->flags & VFIO_DIRTY_SIM_DMA_PIN;
	uint64_t bitmap[BITMAP_WORDS];
	bool want[BUF_PAGES] = { };
	uint32_t left;
	int ret;

	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	ret = __vfio_dirty_test_fail_alloc(cfd, 1000, NULL);
	if (ret == -ENOTTY)
		SKIP(return, "vfio_dirty is built without CONFIG_VFIO_DIRTY_TEST");
	ASSERT_EQ(0, ret);
	write_pages(_metadata, fd, variant->flags, 5, 1, 1);
	vfio_dirty_test_fail_alloc(cfd, 0, &left);
	ASSERT_GT(1000, left) TH_LOG("the write allocated nothing");

	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(BUF_PAGES, bitmap_weight_bits(bitmap, BUF_PAGES));
	want[5] = pin;
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, want));
	write_pages(_metadata, fd, variant->flags, 7, 1, 2);
	want[7] = true;
	get_bitmap(_metadata, cfd, bitmap);
	EXPECT_EQ(-1, bitmap_first_diff(bitmap, want));
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

struct remove_call {
	const char *uuid;
	int ret;
	atomic_bool done;
};

static void *remove_thread(void *arg)
{
	struct remove_call *r = arg;

	r->ret = __sim_instance_remove(r->uuid);
	atomic_store(&r->done, true);
	return NULL;
}

/*
 * An instance removed while its device is open and its writer runs: the
 * removal waits until the device is closed, then completes; the writer
 * stops with the close, and every page it pinned is given back.  The
 * instance is one of its own, made and removed here.
 */
TEST_F(sim, remove_while_writing)
{
	const struct vfio_dirty_sim_range range = { TEST_IOVA, BUF_SIZE };
	struct vfio_test_device dev = {
		.container_fd = -1, .group_fd = -1, .device_fd = -1,
	};
	char path[512], uuid[64] = "";
	struct remove_call r = { .uuid = uuid };
	pthread_t thread;

	sim_instance_create(device_name, uuid, sizeof(uuid));
	vfio_test_device_open(&dev, uuid, VFIO_TYPE1v2_IOMMU);
	vfio_map(dev.container_fd, self->buf, TEST_IOVA, BUF_SIZE);
	sim_writer_start(dev.device_fd, variant->flags, pattern(0), &range, 1);
	wait_seq(_metadata, dev.device_fd, BUF_PAGES);

	ASSERT_EQ(0, pthread_create(&thread, NULL, remove_thread, &r));
	usleep(300 * 1000);
	/* The removal waits while the device is open... */
	EXPECT_FALSE(atomic_load(&r.done));

	/* ...and completes once it is closed. */
	vfio_test_device_close(&dev);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, r.ret);
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", uuid);
	EXPECT_NE(0, access(path, F_OK));
	EXPECT_EQ(self->locked_kb, proc_self_status_kb("VmLck"));
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	page_size = getpagesize();
	return test_harness_run(argc, argv);
}
