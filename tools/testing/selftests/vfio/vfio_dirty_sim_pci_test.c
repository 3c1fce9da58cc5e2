// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated device (vfio_dirty_sim) as QEMU sees it: a PCI function
 * (regions, config space, BAR0's registers), VFIO migration v2 driven
 * from userspace with VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, and the sysfs
 * files that drive its writer from the host.  The register layout and the
 * IDs are in include/uapi/linux/vfio_dirty_sim.h.
 *
 * Each test opens the device through a new type1v2 container and maps
 * BUF_PAGES anonymous pages, filled with FILL_WORD, at TEST_IOVA.
 *
 * What "the writer is stopped" means is checked where it can fail: the
 * write sequence number does not move, and the container's dirty bitmap
 * stays clean.  Each such check is run first while the writer runs, where
 * it must see the sequence move and the bitmap dirty (the negative
 * control).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vfio_util.h"

#define TEST_IOVA	SZ_1G
#define BUF_PAGES	64
#define BUF_SIZE	(BUF_PAGES * page_size)
#define FILL_WORD	0x5a5a5a5a5a5a5a5aULL
#define PATTERN		0x0123456789abcdefULL
/* How long a test waits for the writer to make progress. */
#define WAIT_MS		10000
/* How long a stopped writer is watched for a write. */
#define QUIET_MS	200

/* Where vfio-pci, and so the device, puts region @index in the file. */
#define REGION_OFFSET(index)	((uint64_t)(index) << 40)
#define BAR0(off)		(REGION_OFFSET(VFIO_PCI_BAR0_REGION_INDEX) + (off))
#define CONFIG(off)		(REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX) + (off))
/* VFIO_DEVICE_STATE_PRE_COPY, which 6.1's uAPI header lacks. */
#define STATE_PRE_COPY		6

static const char *device_name;
static uint64_t page_size;

static uint64_t page_iova(long page)
{
	return TEST_IOVA + page * page_size;
}

static uint64_t bar0_read(int fd, unsigned int off)
{
	uint64_t val = ~0ULL;

	if (pread(fd, &val, sizeof(val), BAR0(off)) != sizeof(val))
		return ~0ULL;
	return val;
}

static int bar0_write(int fd, unsigned int off, uint64_t val)
{
	return pwrite(fd, &val, sizeof(val), BAR0(off)) == sizeof(val) ?
	       0 : -errno;
}

static uint32_t config_read(int fd, unsigned int off, size_t len)
{
	uint32_t val = 0;

	if (pread(fd, &val, len, CONFIG(off)) != (ssize_t)len)
		return ~0U;
	return val;
}

static int config_write(int fd, unsigned int off, uint32_t val, size_t len)
{
	return pwrite(fd, &val, len, CONFIG(off)) == (ssize_t)len ? 0 : -errno;
}

/* VFIO_DEVICE_FEATURE with @size bytes of payload @data. */
static int device_feature(int fd, uint32_t flags, void *data, size_t size)
{
	char buf[sizeof(struct vfio_device_feature) + 64];
	struct vfio_device_feature *f = (void *)buf;
	int ret;

	f->argsz = sizeof(*f) + size;
	f->flags = flags;
	memcpy(f->data, data, size);
	ret = ioctl(fd, VFIO_DEVICE_FEATURE, f) ? -errno : 0;
	memcpy(data, f->data, size);
	return ret;
}

/* Move the device to @state; *@data_fd gets the session's file or -1. */
static int __mig_set(int fd, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state mig = { .device_state = state };
	int ret;

	ret = device_feature(fd, VFIO_DEVICE_FEATURE_SET |
			     VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			     &mig, sizeof(mig));
	if (data_fd)
		*data_fd = ret ? -1 : mig.data_fd;
	else if (!ret && mig.data_fd >= 0)
		close(mig.data_fd);
	return ret;
}

static uint32_t mig_get(int fd)
{
	struct vfio_device_feature_mig_state mig = { .device_state = ~0U };

	if (device_feature(fd, VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			   &mig, sizeof(mig)))
		return ~0U;
	return mig.device_state;
}

/* The first line of the instance's sysfs file @attr, without its newline. */
static void sim_attr(const char *uuid, const char *attr, char *buf,
		     size_t size)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/%s", uuid, attr);
	buf[0] = '\0';
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static uint64_t sim_attr_u64(const char *uuid, const char *attr)
{
	char buf[64];

	sim_attr(uuid, attr, buf, sizeof(buf));
	return buf[0] ? strtoull(buf, NULL, 0) : ~0ULL;
}

/* Write @cmd to the instance's "writer". */
static int writer_cmd(const char *uuid, const char *cmd)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/writer", uuid);
	return __sysfs_write_line(path, cmd);
}

/* @n entries of the instance's write_log from page index @index. */
static int read_write_log(const char *uuid, uint64_t index,
			  uint64_t *seqs, size_t n)
{
	char path[256];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/write_log", uuid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	got = pread(fd, seqs, n * sizeof(*seqs), index * sizeof(*seqs));
	close(fd);
	if (got < 0)
		return -errno;
	return got == (ssize_t)(n * sizeof(*seqs)) ? 0 : -EIO;
}

/* The sequence number, from BAR0's SEQ register. */
static uint64_t seq_of(struct __test_metadata *_metadata, int fd)
{
	uint64_t seq = ~0ULL;

	EXPECT_EQ(sizeof(seq), pread(fd, &seq, sizeof(seq),
				     BAR0(VFIO_DIRTY_SIM_REG_SEQ)));
	return seq;
}

/* Wait until the device has taken @n more sequence numbers. */
static void wait_writes(struct __test_metadata *_metadata, int fd, uint64_t n)
{
	double deadline = now_ms() + WAIT_MS;
	uint64_t seq = seq_of(_metadata, fd) + n;

	while (seq_of(_metadata, fd) < seq) {
		ASSERT_LT(now_ms(), deadline)
			TH_LOG("sequence number %llu not reached",
			       (unsigned long long)seq);
		usleep(5000);
	}
}

/* The sequence numbers taken in QUIET_MS. */
static uint64_t seq_moves(struct __test_metadata *_metadata, int fd)
{
	uint64_t s0 = seq_of(_metadata, fd);

	usleep(QUIET_MS * 1000);
	return seq_of(_metadata, fd) - s0;
}

/* Pages the container reports dirty over the buffer; clears them. */
static long dirty_pages(struct __test_metadata *_metadata, int container_fd)
{
	uint64_t bitmap[BUF_PAGES / 64] = {};

	vfio_get_bitmap(container_fd, TEST_IOVA, BUF_SIZE,
			page_size, bitmap, sizeof(bitmap));
	return bitmap_weight_bits(bitmap, BUF_PAGES);
}

/* Program the writer through BAR0 over @nr ranges and start it. */
static void bar0_program(struct __test_metadata *_metadata, int fd,
			 uint64_t ctrl, uint64_t pattern,
			 const struct vfio_dirty_sim_range *r, unsigned int nr)
{
	unsigned int i;

	ASSERT_EQ(0, bar0_write(fd, VFIO_DIRTY_SIM_REG_NR_RANGES, nr));
	ASSERT_EQ(0, bar0_write(fd, VFIO_DIRTY_SIM_REG_PATTERN, pattern));
	for (i = 0; i < nr; i++) {
		ASSERT_EQ(0, bar0_write(fd, VFIO_DIRTY_SIM_REG_RANGE_IOVA(i),
					r[i].iova));
		ASSERT_EQ(0, bar0_write(fd, VFIO_DIRTY_SIM_REG_RANGE_LENGTH(i),
					r[i].length));
	}
	ASSERT_EQ(0, bar0_write(fd, VFIO_DIRTY_SIM_REG_CTRL, ctrl));
}

/* Read a whole STOP_COPY stream; its length, or a negative errno. */
static ssize_t read_stream(int data_fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(data_fd, buf + len, size - len)) > 0)
		len += n;
	return n < 0 ? -errno : (ssize_t)len;
}

FIXTURE(pci) {
	struct vfio_test_device dev;
	uint64_t *buf;
	long tracking;		/* vfio_dirty_tracking_bytes() before the test */
};

FIXTURE_SETUP(pci)
{
	self->buf = MAP_FAILED;
	self->tracking = vfio_dirty_tracking_bytes();
	if (!vfio_fixture_open(_metadata, &self->dev, device_name, true))
		return;
	self->buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, BUF_SIZE);
	vfio_map(self->dev.container_fd, self->buf, TEST_IOVA, BUF_SIZE);
}

FIXTURE_TEARDOWN(pci)
{
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(self->tracking, vfio_dirty_tracking_bytes());
	if (self->buf != MAP_FAILED)
		munmap(self->buf, BUF_SIZE);
}

/* What QEMU's vfio-pci asks of a device before it realizes it. */
TEST_F(pci, info)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info region = { .argsz = sizeof(region) };
	struct vfio_irq_info irq = { .argsz = sizeof(irq) };
	int fd = self->dev.device_fd;
	uint32_t i;

	ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_EQ(VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, info.flags);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
	EXPECT_EQ(VFIO_PCI_NUM_IRQS, info.num_irqs);

	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		region.index = i;
		ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
		EXPECT_EQ(REGION_OFFSET(i), region.offset);
		if (i == VFIO_PCI_BAR0_REGION_INDEX) {
			EXPECT_EQ(VFIO_DIRTY_SIM_BAR0_SIZE, region.size);
		} else if (i == VFIO_PCI_CONFIG_REGION_INDEX) {
			EXPECT_EQ(256, region.size);
		} else {
			EXPECT_EQ(0, region.size) TH_LOG("region %u", i);
			EXPECT_EQ(0, region.flags) TH_LOG("region %u", i);
			continue;
		}
		EXPECT_EQ(VFIO_REGION_INFO_FLAG_READ |
			  VFIO_REGION_INFO_FLAG_WRITE, region.flags);
	}
	region.index = VFIO_PCI_NUM_REGIONS;
	EXPECT_NE(0, ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	EXPECT_EQ(EINVAL, errno);

	for (i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
		irq.index = i;
		irq.count = 1;
		ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
		EXPECT_EQ(0, irq.count) TH_LOG("irq index %u", i);
	}
	irq.index = VFIO_PCI_NUM_IRQS;
	EXPECT_NE(0, ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
	EXPECT_EQ(EINVAL, errno);

	/* Outside the regions, and BAR0 at a bad size or alignment. */
	EXPECT_EQ(-EINVAL, config_write(fd, 256, 0, 1));
	EXPECT_EQ(-EINVAL, bar0_write(fd, VFIO_DIRTY_SIM_BAR0_SIZE, 0));
	EXPECT_EQ(-EINVAL, bar0_write(fd, 4, 0));
	EXPECT_EQ(-1, pwrite(fd, &i, 2, BAR0(VFIO_DIRTY_SIM_REG_PATTERN)));
	EXPECT_EQ(-1, pread(fd, &i, 4, REGION_OFFSET(1)));
}

/* The IDs, and which bits of config space take writes. */
TEST_F(pci, config_space)
{
	int fd = self->dev.device_fd;

	EXPECT_EQ(VFIO_DIRTY_SIM_PCI_VENDOR_ID, config_read(fd, 0x00, 2));
	EXPECT_EQ(VFIO_DIRTY_SIM_PCI_DEVICE_ID, config_read(fd, 0x02, 2));
	EXPECT_EQ(VFIO_DIRTY_SIM_PCI_CLASS << 8 | VFIO_DIRTY_SIM_PCI_REVISION,
		  config_read(fd, 0x08, 4));
	EXPECT_EQ(VFIO_DIRTY_SIM_PCI_VENDOR_ID, config_read(fd, 0x2c, 2));
	EXPECT_EQ(0, config_read(fd, 0x06, 2));		/* status: no caps */
	EXPECT_EQ(0, config_read(fd, 0x3d, 1));		/* no interrupt pin */
	EXPECT_EQ(0, config_read(fd, 0x14, 4));		/* no BAR1 */

	/* Read-only: IDs, class, status, the other BARs, the ROM. */
	EXPECT_EQ(0, config_write(fd, 0x00, 0xffffffff, 4));
	EXPECT_EQ(0, config_write(fd, 0x08, 0xffffffff, 4));
	EXPECT_EQ(0, config_write(fd, 0x14, 0xffffffff, 4));
	EXPECT_EQ(0, config_write(fd, 0x30, 0xffffffff, 4));
	EXPECT_EQ(VFIO_DIRTY_SIM_PCI_DEVICE_ID << 16 |
		  VFIO_DIRTY_SIM_PCI_VENDOR_ID, config_read(fd, 0x00, 4));
	EXPECT_EQ(VFIO_DIRTY_SIM_PCI_CLASS << 8 | VFIO_DIRTY_SIM_PCI_REVISION,
		  config_read(fd, 0x08, 4));
	EXPECT_EQ(0, config_read(fd, 0x14, 4));
	EXPECT_EQ(0, config_read(fd, 0x30, 4));

	/* Writable (the control: a write does land): enables, BAR0, line. */
	EXPECT_EQ(0, config_write(fd, 0x04, 0xffff, 2));
	EXPECT_EQ(0x0006, config_read(fd, 0x04, 4));
	EXPECT_EQ(0, config_write(fd, 0x10, 0xffffffff, 4));
	EXPECT_EQ((uint32_t)-VFIO_DIRTY_SIM_BAR0_SIZE, config_read(fd, 0x10, 4));
	EXPECT_EQ(0, config_write(fd, 0x3c, 0x0b, 1));
	EXPECT_EQ(0x0b, config_read(fd, 0x3c, 1));

	/* A reset puts it all back. */
	ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(0, config_read(fd, 0x04, 2));
	EXPECT_EQ(0, config_read(fd, 0x10, 4));
}

/* A guest driver's view: the writer programmed and run through BAR0. */
TEST_F(pci, bar0_writer)
{
	const struct vfio_dirty_sim_range r[2] = {
		{ page_iova(0), 4 * page_size },
		{ page_iova(8), 4 * page_size },
	};
	int fd = self->dev.device_fd;
	uint64_t s, i;

	/* Invalid programming: RUN stays clear, STATUS says why. */
	bar0_program(_metadata, fd, VFIO_DIRTY_SIM_CTRL_RUN, PATTERN, r, 0);
	EXPECT_EQ(0, bar0_read(fd, VFIO_DIRTY_SIM_REG_CTRL));
	EXPECT_EQ(EINVAL, bar0_read(fd, VFIO_DIRTY_SIM_REG_STATUS));
	EXPECT_EQ(0, seq_moves(_metadata, fd));

	bar0_program(_metadata, fd, VFIO_DIRTY_SIM_CTRL_RUN, PATTERN, r, 2);
	EXPECT_EQ(VFIO_DIRTY_SIM_CTRL_RUN, bar0_read(fd, VFIO_DIRTY_SIM_REG_CTRL));
	EXPECT_EQ(0, bar0_read(fd, VFIO_DIRTY_SIM_REG_STATUS));
	wait_writes(_metadata, fd, 16);
	/* Latched while it runs. */
	EXPECT_EQ(0, bar0_write(fd, VFIO_DIRTY_SIM_REG_PATTERN, 1));
	EXPECT_EQ(PATTERN, bar0_read(fd, VFIO_DIRTY_SIM_REG_PATTERN));
	/* The ioctl sees the same, one writer. */
	test_err_sim_writer_start(EBUSY, fd, 0, PATTERN, r, 1);

	/* 32-bit halves: clearing CTRL's low half stops it. */
	EXPECT_EQ(4, pwrite(fd, &(uint32_t){ 0 }, 4,
			    BAR0(VFIO_DIRTY_SIM_REG_CTRL)));
	EXPECT_EQ(0, bar0_read(fd, VFIO_DIRTY_SIM_REG_CTRL));
	EXPECT_EQ(0, seq_moves(_metadata, fd));
	s = seq_of(_metadata, fd);
	EXPECT_EQ(s, sim_attr_u64(device_name, "write_seq"));
	EXPECT_EQ(0, bar0_read(fd, VFIO_DIRTY_SIM_REG_FAILED));

	for (i = 0; i < BUF_PAGES; i++) {
		bool in = i < 4 || (i >= 8 && i < 12);
		uint64_t want = in ? PATTERN : FILL_WORD;

		EXPECT_EQ(want, self->buf[i * page_size / 8])
			TH_LOG("page %llu", (unsigned long long)i);
	}

	/* A writer started by the ioctl reads back in the registers. */
	sim_writer_start(fd, VFIO_DIRTY_SIM_DMA_PIN |
			 VFIO_DIRTY_SIM_WRITER_STAMP, 7, &r[1], 1);
	EXPECT_EQ(VFIO_DIRTY_SIM_CTRL_RUN | VFIO_DIRTY_SIM_DMA_PIN |
		  VFIO_DIRTY_SIM_WRITER_STAMP,
		  bar0_read(fd, VFIO_DIRTY_SIM_REG_CTRL));
	EXPECT_EQ(1, bar0_read(fd, VFIO_DIRTY_SIM_REG_NR_RANGES));
	EXPECT_EQ(7, bar0_read(fd, VFIO_DIRTY_SIM_REG_PATTERN));
	EXPECT_EQ(r[1].iova, bar0_read(fd, VFIO_DIRTY_SIM_REG_RANGE_IOVA(0)));
	EXPECT_EQ(r[1].length, bar0_read(fd, VFIO_DIRTY_SIM_REG_RANGE_LENGTH(0)));
	/* A reset stops it. */
	ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(0, bar0_read(fd, VFIO_DIRTY_SIM_REG_CTRL));
	test_err_sim_writer_stop(ENOENT, fd);
}

static const char *const state_names[] = {
	[VFIO_DEVICE_STATE_ERROR] = "error",
	[VFIO_DEVICE_STATE_STOP] = "stop",
	[VFIO_DEVICE_STATE_RUNNING] = "running",
	[VFIO_DEVICE_STATE_STOP_COPY] = "stop_copy",
	[VFIO_DEVICE_STATE_RESUMING] = "resuming",
	[VFIO_DEVICE_STATE_RUNNING_P2P] = "running_p2p",
};

/* Go to @state, and check it as GET and sysfs report it. */
static void mig_goto_on(struct __test_metadata *_metadata, const char *uuid,
			int fd, uint32_t state, int *data_fd)
{
	char name[32];

	ASSERT_EQ(0, __mig_set(fd, state, data_fd))
		TH_LOG("to %s", state_names[state]);
	EXPECT_EQ(state, mig_get(fd));
	sim_attr(uuid, "migration_state", name, sizeof(name));
	EXPECT_STREQ(state_names[state], name);
}

#define mig_goto(_metadata, fd, state, data_fd) \
	mig_goto_on(_metadata, device_name, fd, state, data_fd)

/* Every arc QEMU takes, the combined ones, and those the device refuses. */
TEST_F(pci, migration_arcs)
{
	struct vfio_device_feature_migration mig = {};
	int fd = self->dev.device_fd, data_fd;

	ASSERT_EQ(0, device_feature(fd, VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_MIGRATION,
				    &mig, sizeof(mig)));
	EXPECT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P, mig.flags);
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(fd));

	/* Source: RUNNING -> RUNNING_P2P -> STOP_COPY -> STOP -> RUNNING. */
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_STOP_COPY, &data_fd);
	EXPECT_GE(data_fd, 0);
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_STOP, NULL);
	/* The session ended: its file reads no more. */
	EXPECT_EQ(-1, read(data_fd, &mig, 1));
	EXPECT_EQ(ENODEV, errno);
	close(data_fd);
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_RUNNING, NULL);

	/* Combined: RUNNING -> STOP_COPY, STOP_COPY -> RUNNING. */
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_STOP_COPY, &data_fd);
	close(data_fd);
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_RUNNING, NULL);

	/* Destination: RUNNING -> RESUMING; an empty stream does not load. */
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_RESUMING, &data_fd);
	EXPECT_GE(data_fd, 0);
	EXPECT_EQ(-EINVAL, __mig_set(fd, VFIO_DEVICE_STATE_STOP, NULL));
	EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, mig_get(fd));
	close(data_fd);

	/* States the device does not support, and ERROR, are refused. */
	EXPECT_EQ(-EINVAL, __mig_set(fd, STATE_PRE_COPY, NULL));
	EXPECT_EQ(-EINVAL, __mig_set(fd, VFIO_DEVICE_STATE_ERROR, NULL));
	EXPECT_EQ(-EINVAL, __mig_set(fd, 100, NULL));
	EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, mig_get(fd));

	/* A reset ends the aborted session. */
	ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(fd));
}

/*
 * STOP stops DMA: once the arc returns, the sequence number holds, the
 * last write is logged (no write in flight), the container sees no new
 * dirty page, and the writer reads "paused"; RUNNING_P2P and RUNNING
 * write.
 */
TEST_F(pci, migration_stop_pauses_writer)
{
	int fd = self->dev.device_fd, container = self->dev.container_fd;
	uint64_t seqs[BUF_PAGES], max = 0, s;
	char cmd[128], state[256];
	long p;

	vfio_dirty(container, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	snprintf(cmd, sizeof(cmd), "start stamp %#llx %#llx:%#llx",
		 PATTERN, (unsigned long long)TEST_IOVA,
		 (unsigned long long)BUF_SIZE);
	ASSERT_EQ(0, writer_cmd(device_name, cmd));
	wait_writes(_metadata, fd, BUF_PAGES);

	/* The control: running, it writes and dirties. */
	EXPECT_NE(0, seq_moves(_metadata, fd));
	dirty_pages(_metadata, container);
	usleep(QUIET_MS * 1000);
	EXPECT_NE(0, dirty_pages(_metadata, container));

	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	EXPECT_NE(0, seq_moves(_metadata, fd));

	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_STOP, NULL);
	s = seq_of(_metadata, fd);
	ASSERT_EQ(0, read_write_log(device_name, TEST_IOVA / page_size,
				    seqs, BUF_PAGES));
	for (p = 0; p < BUF_PAGES; p++)
		max = seqs[p] > max ? seqs[p] : max;
	/* Every page mapped: the last number taken is a logged write. */
	EXPECT_EQ(s, max);
	for (p = 0; p < BUF_PAGES; p++)
		EXPECT_EQ(seqs[p], self->buf[p * page_size / 8])
			TH_LOG("page %ld's stamp", p);
	dirty_pages(_metadata, container);
	EXPECT_EQ(0, seq_moves(_metadata, fd));
	EXPECT_EQ(0, dirty_pages(_metadata, container));
	sim_attr(device_name, "writer", state, sizeof(state));
	snprintf(cmd, sizeof(cmd), "paused stamp %#llx %#llx:%#llx",
		 PATTERN, (unsigned long long)TEST_IOVA,
		 (unsigned long long)BUF_SIZE);
	EXPECT_STREQ(cmd, state);

	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	wait_writes(_metadata, fd, 1);
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_RUNNING, NULL);
	sim_attr(device_name, "writer", state, sizeof(state));
	EXPECT_EQ(0, strncmp(state, "running stamp ", 14)) TH_LOG("%s", state);
	EXPECT_EQ(0, writer_cmd(device_name, "stop"));
	sim_attr(device_name, "writer", state, sizeof(state));
	EXPECT_STREQ("stopped", state);
	vfio_dirty(container, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

/* Save the state of the fixture's device, its writer started and paused. */
static ssize_t save_state(struct __test_metadata *_metadata, int fd,
			  const struct vfio_dirty_sim_range *r, char *stream,
			  size_t size)
{
	int data_fd;
	ssize_t len;

	bar0_program(_metadata, fd, VFIO_DIRTY_SIM_CTRL_RUN |
		     VFIO_DIRTY_SIM_WRITER_STAMP, PATTERN, r, 2);
	EXPECT_EQ(0, config_write(fd, 0x04, 0x0006, 2));
	wait_writes(_metadata, fd, 1);
	mig_goto(_metadata, fd, VFIO_DEVICE_STATE_STOP_COPY, &data_fd);
	len = read_stream(data_fd, stream, size);
	close(data_fd);
	return len;
}

/* Load @len bytes of @stream into the device: the arc's errno. */
static int load_state(struct __test_metadata *_metadata, int fd,
		      const char *stream, size_t len)
{
	int data_fd, ret;

	ret = __mig_set(fd, VFIO_DEVICE_STATE_RESUMING, &data_fd);
	if (ret)
		return ret;
	EXPECT_EQ((ssize_t)len, write(data_fd, stream, len));
	ret = __mig_set(fd, VFIO_DEVICE_STATE_STOP, NULL);
	close(data_fd);
	return ret;
}

/*
 * The state saved from one instance and resumed into a second one: the
 * registers, config space's writable bits and the writer come back, and
 * the writer runs on the destination once it runs.
 */
TEST_F(pci, migration_save_resume)
{
	const struct vfio_dirty_sim_range r[2] = {
		{ page_iova(0), 2 * page_size },
		{ page_iova(4), 2 * page_size },
	};
	struct vfio_test_device dst = {
		.container_fd = -1, .group_fd = -1, .device_fd = -1,
	};
	int fd = self->dev.device_fd, dfd;
	char uuid[64], stream[8192], state[256];
	uint64_t *dbuf, off;
	ssize_t len;

	len = save_state(_metadata, fd, r, stream, sizeof(stream));
	ASSERT_GT(len, 0);

	sim_instance_create(NULL, uuid, sizeof(uuid));
	/* A new instance, never opened, runs and has no writer. */
	sim_attr(uuid, "migration_state", state, sizeof(state));
	EXPECT_STREQ("running", state);
	sim_attr(uuid, "writer", state, sizeof(state));
	EXPECT_STREQ("stopped", state);
	vfio_test_device_open(&dst, uuid, VFIO_TYPE1v2_IOMMU);
	dfd = dst.device_fd;
	dbuf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dbuf);
	vfio_map(dst.container_fd, dbuf, TEST_IOVA, BUF_SIZE);

	EXPECT_EQ(0, load_state(_metadata, dfd, stream, len));
	EXPECT_EQ(VFIO_DEVICE_STATE_STOP, mig_get(dfd));
	for (off = 0; off < VFIO_DIRTY_SIM_BAR0_SIZE; off += 8) {
		if (off == VFIO_DIRTY_SIM_REG_SEQ ||
		    off == VFIO_DIRTY_SIM_REG_FAILED)
			continue;
		EXPECT_EQ(bar0_read(fd, off), bar0_read(dfd, off))
			TH_LOG("register %#llx", (unsigned long long)off);
	}
	EXPECT_EQ(0x0006, config_read(dfd, 0x04, 2));
	sim_attr(uuid, "writer", state, sizeof(state));
	EXPECT_EQ(0, strncmp(state, "paused stamp ", 13)) TH_LOG("%s", state);
	EXPECT_EQ(0, seq_moves(_metadata, dfd));

	/* Running, the destination writes its own memory, stamped. */
	mig_goto_on(_metadata, uuid, dfd, VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	mig_goto_on(_metadata, uuid, dfd, VFIO_DEVICE_STATE_RUNNING, NULL);
	wait_writes(_metadata, dfd, 8);
	EXPECT_EQ(0, __sim_writer_stop(dfd));
	EXPECT_NE(0, dbuf[0]);
	EXPECT_EQ(PATTERN, dbuf[1]);
	EXPECT_EQ(PATTERN, dbuf[(4 * page_size + 8) / 8]);
	EXPECT_EQ(0, dbuf[2 * page_size / 8]);

	vfio_test_device_close(&dst);
	munmap(dbuf, BUF_SIZE);
	EXPECT_EQ(0, __sim_instance_remove(uuid));
}

/*
 * A truncated, corrupt, overlong or foreign stream fails RESUMING -> STOP
 * with -EINVAL and loads nothing; after a reset the device takes the good
 * stream (the control).
 */
TEST_F(pci, migration_bad_stream)
{
	const struct vfio_dirty_sim_range r[2] = {
		{ page_iova(0), page_size },
		{ page_iova(2), page_size },
	};
	int fd = self->dev.device_fd, data_fd;
	char stream[8192], bad[8192];
	ssize_t len;
	size_t i;

	len = save_state(_metadata, fd, r, stream, sizeof(stream));
	ASSERT_GT(len, 0);
	ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_RESET));

	struct { size_t at; ssize_t len; } cases[] = {
		{ 0, 0 },		/* empty */
		{ 0, 8 },		/* a header cut short */
		{ 0, len - 1 },		/* the last range cut short */
		{ 0, len + 16 },	/* one range too many */
		{ 0, len },		/* the magic, flipped below */
		{ 8, len },		/* the version */
		{ 20, len },		/* the reserved word */
		{ 24, len },		/* config space: the CRC notices */
		{ len - 1, len },	/* the last byte: the CRC notices */
	};
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memcpy(bad, stream, len);
		memset(bad + len, 0, 16);
		if (cases[i].len == len)
			bad[cases[i].at] ^= 0x40;
		EXPECT_EQ(-EINVAL, load_state(_metadata, fd, bad, cases[i].len))
			TH_LOG("case %zu", i);
		EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, mig_get(fd));
		EXPECT_EQ(0, bar0_read(fd, VFIO_DIRTY_SIM_REG_CTRL));
		EXPECT_EQ(0, bar0_read(fd, VFIO_DIRTY_SIM_REG_PATTERN));
		ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_RESET));
	}

	/* More than the longest stream does not even write. */
	ASSERT_EQ(0, __mig_set(fd, VFIO_DEVICE_STATE_RESUMING, &data_fd));
	EXPECT_EQ(-1, write(data_fd, bad, sizeof(bad)));
	EXPECT_EQ(EFBIG, errno);
	close(data_fd);
	ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_RESET));

	/* The control: the stream as saved loads. */
	EXPECT_EQ(0, load_state(_metadata, fd, stream, len));
	EXPECT_EQ(VFIO_DIRTY_SIM_CTRL_RUN | VFIO_DIRTY_SIM_WRITER_STAMP,
		  bar0_read(fd, VFIO_DIRTY_SIM_REG_CTRL));
	EXPECT_EQ(PATTERN, bar0_read(fd, VFIO_DIRTY_SIM_REG_PATTERN));
}

/* The sysfs "writer": its syntax, its errors, and what it writes. */
TEST_F(pci, sysfs_writer)
{
	static const char *const bad[] = {
		"go", "stop now", "start", "start - 0x5a",
		"start - 0x5a 0x40000000", "start - 0x5a 0x40000000:",
		"start - 0x5a 0x40000001:0x1000", "start - 0x5a 0x40000000:0x1001",
		"start - 0x5a 0x40000000:0", "start pin,bogus 0x5a 0x40000000:0x1000",
		"start - zz 0x40000000:0x1000", "start - 0x5a 0x40000000:0x1000 x",
		"start - 0x5a 0x40000000:0x1000,",
	};
	int fd = self->dev.device_fd;
	uint64_t seqs[BUF_PAGES], ioctl_seqs[BUF_PAGES], seq, failed;
	char cmd[128], state[256], long_cmd[4200];
	size_t i, len;
	long p;
	int log_fd;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, writer_cmd(device_name, bad[i]))
			TH_LOG("bad command %zu", i);
	EXPECT_EQ(-ENOENT, writer_cmd(device_name, "stop"));
	/* A page of valid ranges, which sysfs would cut short. */
	len = snprintf(long_cmd, sizeof(long_cmd), "start - 0x5a %s",
		       "0x40000000:0x1000");
	while (len < sizeof(long_cmd) - 32)
		len += snprintf(long_cmd + len, sizeof(long_cmd) - len, ",%s",
				"0x40000000:0x1000");
	EXPECT_EQ(-E2BIG, writer_cmd(device_name, long_cmd));
	EXPECT_EQ(0, seq_moves(_metadata, fd));
	sim_attr(device_name, "writer", state, sizeof(state));
	EXPECT_STREQ("stopped", state);

	/* Two ranges, the second unmapped: its writes fail and count. */
	snprintf(cmd, sizeof(cmd), "start pin,stamp 81985529216486895 %#llx:%#llx,%#llx:%#llx",
		 (unsigned long long)page_iova(0),
		 (unsigned long long)(2 * page_size),
		 (unsigned long long)page_iova(BUF_PAGES),
		 (unsigned long long)page_size);
	ASSERT_EQ(0, writer_cmd(device_name, cmd));
	EXPECT_EQ(-EBUSY, writer_cmd(device_name, cmd));
	test_err_sim_writer_start(EBUSY, fd, 0, 1, (void *)&(struct
		vfio_dirty_sim_range){ TEST_IOVA, page_size }, 1);
	sim_attr(device_name, "writer", state, sizeof(state));
	snprintf(cmd, sizeof(cmd), "running pin,stamp %#llx %#llx:%#llx,%#llx:%#llx",
		 PATTERN, (unsigned long long)page_iova(0),
		 (unsigned long long)(2 * page_size),
		 (unsigned long long)page_iova(BUF_PAGES),
		 (unsigned long long)page_size);
	EXPECT_STREQ(cmd, state);
	wait_writes(_metadata, fd, 30);
	EXPECT_EQ(0, writer_cmd(device_name, "stop\n"));

	/* write_log, write_seq and write_failed agree with the ioctl. */
	sim_log_read(fd, 0, TEST_IOVA, BUF_PAGES, ioctl_seqs, &seq, &failed);
	ASSERT_EQ(0, read_write_log(device_name, TEST_IOVA / page_size,
				    seqs, BUF_PAGES));
	EXPECT_EQ(0, memcmp(seqs, ioctl_seqs, sizeof(seqs)));
	EXPECT_EQ(seq, sim_attr_u64(device_name, "write_seq"));
	EXPECT_EQ(failed, sim_attr_u64(device_name, "write_failed"));
	EXPECT_NE(0, failed);
	ASSERT_EQ(0, read_write_log(device_name,
				    page_iova(BUF_PAGES) / page_size, seqs, 1));
	EXPECT_EQ(0, seqs[0]);

	/* Stamped pages: the first word is the logged write, then PATTERN. */
	ASSERT_EQ(0, read_write_log(device_name, TEST_IOVA / page_size, seqs, 3));
	for (p = 0; p < 2; p++) {
		EXPECT_NE(0, seqs[p]);
		EXPECT_EQ(seqs[p], self->buf[p * page_size / 8]);
		for (i = 1; i < page_size / 8; i++)
			if (self->buf[p * page_size / 8 + i] != PATTERN)
				break;
		EXPECT_EQ(page_size / 8, i) TH_LOG("page %ld word %zu", p, i);
	}
	/* The control: a page not written holds no stamp. */
	EXPECT_EQ(0, seqs[2]);
	EXPECT_EQ(FILL_WORD, self->buf[2 * page_size / 8]);

	/* Without stamp, every word is the pattern. */
	snprintf(cmd, sizeof(cmd), "start - 0x77 %#llx:%#llx",
		 (unsigned long long)page_iova(0), (unsigned long long)page_size);
	ASSERT_EQ(0, writer_cmd(device_name, cmd));
	wait_writes(_metadata, fd, 2);
	EXPECT_EQ(0, writer_cmd(device_name, "stop"));
	EXPECT_EQ(0x77, self->buf[0]);

	/* Unaligned log reads fail; a closed device takes no writer. */
	snprintf(cmd, sizeof(cmd), "/sys/bus/mdev/devices/%s/write_log",
		 device_name);
	log_fd = open(cmd, O_RDONLY);
	ASSERT_GE(log_fd, 0);
	EXPECT_EQ(-1, pread(log_fd, seqs, 8, 4));
	EXPECT_EQ(EINVAL, errno);
	close(log_fd);
	vfio_test_device_close(&self->dev);
	snprintf(cmd, sizeof(cmd), "start - 0x77 %#llx:%#llx",
		 (unsigned long long)page_iova(0), (unsigned long long)page_size);
	EXPECT_EQ(-ENODEV, writer_cmd(device_name, cmd));
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	page_size = getpagesize();
	return test_harness_run(argc, argv);
}
