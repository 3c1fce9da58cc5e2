// SPDX-License-Identifier: GPL-2.0
/*
 * What is particular to the vfio_dirty backend: which backend a new type1
 * container gets (the "claim" parameter), the "dma_entry_limit" parameter,
 * that closing a container gives back the memory it pinned, and that
 * VFIO_UPDATE_VADDR is offered by a container, not before it has one.
 *
 * The VFIO core holds a reference on the module of a container's backend
 * while the container uses it, so /sys/module/MODULE/refcnt tells which
 * backend a container got.  The tests change the parameters and restore
 * them in their teardown.  They need vfio_dirty and vfio_iommu_type1 loaded,
 * root, and a device (a PCI BDF or an mdev UUID).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vfio_util.h"

#define PARAMS		"/sys/module/vfio_dirty/parameters/"
#define DIRTY_REFCNT	"/sys/module/vfio_dirty/refcnt"
#define TYPE1_REFCNT	"/sys/module/vfio_iommu_type1/refcnt"
/* An IOVA inside the 39-bit space of QEMU's intel-iommu and below its MSI hole. */
#define TEST_IOVA	SZ_1G

static const char *device_name;

/* A sysfs file holding a number: its value, or -1. */
static long read_long(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] ? strtol(buf, NULL, 10) : -1;
}

static int write_str(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fputs(value, f) < 0 ? -EIO : 0;
	if (fclose(f))
		ret = -errno;
	return ret;
}

FIXTURE(backend) {
	struct vfio_test_device dev;
	char claim[8];
	char limit[16];
	void *buf;
};

FIXTURE_SETUP(backend)
{
	FILE *f;

	self->dev.container_fd = -1;
	self->dev.group_fd = -1;
	self->dev.device_fd = -1;
	self->buf = MAP_FAILED;
	self->claim[0] = '\0';
	self->limit[0] = '\0';
	if (!device_name)
		SKIP(return, "no device: " VFIO_SELFTESTS_HOWTO);
	if (access(DIRTY_REFCNT, F_OK) || access(TYPE1_REFCNT, F_OK))
		SKIP(return, "vfio_dirty and vfio_iommu_type1 must be loaded");

	f = fopen(PARAMS "claim", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(self->claim, sizeof(self->claim), f));
	fclose(f);
	f = fopen(PARAMS "dma_entry_limit", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(self->limit, sizeof(self->limit), f));
	fclose(f);

	self->buf = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, SZ_2M);
}

FIXTURE_TEARDOWN(backend)
{
	vfio_test_device_close(&self->dev);
	if (self->buf != MAP_FAILED)
		munmap(self->buf, SZ_2M);
	if (self->claim[0])
		write_str(PARAMS "claim", self->claim);
	if (self->limit[0])
		write_str(PARAMS "dma_entry_limit", self->limit);
}

/* Open the device in a new container; check which backend it got. */
static int open_expect(struct __test_metadata *_metadata,
		       struct vfio_test_device *dev, bool vfio_dirty)
{
	long dirty = read_long(DIRTY_REFCNT), type1 = read_long(TYPE1_REFCNT);
	int ret = __vfio_test_device_open(dev, device_name, VFIO_TYPE1v2_IOMMU);

	if (ret)
		return ret;
	EXPECT_EQ(dirty + vfio_dirty, read_long(DIRTY_REFCNT));
	EXPECT_EQ(type1 + !vfio_dirty, read_long(TYPE1_REFCNT));
	return 0;
}

TEST_F(backend, claim)
{
	long dirty = read_long(DIRTY_REFCNT);
	uint64_t unmapped;

	ASSERT_EQ(0, write_str(PARAMS "claim", "1"));
	ASSERT_EQ(0, open_expect(_metadata, &self->dev, true));
	/* The container keeps its backend when the knob changes. */
	ASSERT_EQ(0, write_str(PARAMS "claim", "0"));
	ASSERT_EQ(0, __vfio_map(self->dev.container_fd, self->buf, TEST_IOVA,
				SZ_2M));
	ASSERT_EQ(0, __vfio_unmap(self->dev.container_fd, TEST_IOVA, SZ_2M,
				  &unmapped));
	EXPECT_EQ(SZ_2M, unmapped);
	EXPECT_EQ(dirty + 1, read_long(DIRTY_REFCNT));
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(dirty, read_long(DIRTY_REFCNT));

	/* With the knob off, a new container gets vfio_iommu_type1. */
	ASSERT_EQ(0, open_expect(_metadata, &self->dev, false));
	vfio_test_device_close(&self->dev);

	ASSERT_EQ(0, write_str(PARAMS "claim", "1"));
	ASSERT_EQ(0, open_expect(_metadata, &self->dev, true));
}

TEST_F(backend, dma_entry_limit)
{
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info *info;
	int fd, i;

	ASSERT_EQ(0, write_str(PARAMS "claim", "1"));
	ASSERT_EQ(0, write_str(PARAMS "dma_entry_limit", "3"));
	ASSERT_EQ(0, open_expect(_metadata, &self->dev, true));
	fd = self->dev.container_fd;

	info = vfio_iommu_info(fd);
	ASSERT_NE(NULL, info);
	avail = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ASSERT_NE(NULL, avail);
	EXPECT_EQ(3, avail->avail);
	free(info);

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, __vfio_map(fd, (char *)self->buf + i * SZ_4K,
					TEST_IOVA + i * SZ_4K, SZ_4K));
	EXPECT_EQ(-ENOSPC, __vfio_map(fd, (char *)self->buf + 3 * SZ_4K,
				      TEST_IOVA + 3 * SZ_4K, SZ_4K));
	/* An unmap gives the entry back. */
	ASSERT_EQ(0, __vfio_unmap(fd, TEST_IOVA, SZ_4K, NULL));
	EXPECT_EQ(0, __vfio_map(fd, (char *)self->buf + 3 * SZ_4K,
				TEST_IOVA + 3 * SZ_4K, SZ_4K));
}

TEST_F(backend, close_unaccounts)
{
	long locked = proc_self_status_kb("VmLck"), pinned_kb = 0;

	ASSERT_GE(locked, 0);
	ASSERT_EQ(0, write_str(PARAMS "claim", "1"));
	ASSERT_EQ(0, open_expect(_metadata, &self->dev, true));
	ASSERT_EQ(0, __vfio_map(self->dev.container_fd, self->buf, TEST_IOVA,
				SZ_2M));
	/*
	 * A device behind an IOMMU makes the container pin it all at map; the
	 * simulated device pins what it writes through.
	 */
	if (!self->dev.is_mdev) {
		pinned_kb = SZ_2M / 1024;
	} else if (vfio_device_is_dirty_sim(device_name)) {
		ASSERT_EQ(0, __sim_write(self->dev.device_fd,
					 VFIO_DIRTY_SIM_DMA_PIN, TEST_IOVA,
					 8 * SZ_4K, 1, NULL, NULL));
		pinned_kb = 8 * SZ_4K / 1024;
	}
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));
	/* Closing with the mapping in place gives the pages back. */
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

/*
 * VFIO_UPDATE_VADDR is a property of a container: a file with no backend
 * yet, which the core answers for with every backend asked without one,
 * does not offer it even while vfio_dirty claims type1; the container it
 * then gets does, unless an mdev is attached (as the stock driver).
 */
TEST_F(backend, update_vaddr_needs_container)
{
	int fd;

	ASSERT_EQ(0, write_str(PARAMS "claim", "1"));
	fd = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(0, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR));
	close(fd);

	ASSERT_EQ(0, open_expect(_metadata, &self->dev, true));
	EXPECT_EQ(!self->dev.is_mdev,
		  ioctl(self->dev.container_fd, VFIO_CHECK_EXTENSION,
			VFIO_UPDATE_VADDR));
}

/*
 * A container on vfio_dirty holds the module: unloading it is refused
 * (the VFIO core keeps a reference for the container's backend), and the
 * module stays live.
 */
TEST_F(backend, unload_in_use)
{
	ASSERT_EQ(0, write_str(PARAMS "claim", "1"));
	ASSERT_EQ(0, open_expect(_metadata, &self->dev, true));
	EXPECT_EQ(-1, syscall(__NR_delete_module, "vfio_dirty", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(0, access(DIRTY_REFCNT, F_OK));
	ASSERT_EQ(0, __vfio_map(self->dev.container_fd, self->buf, TEST_IOVA,
				SZ_2M));
}

/*
 * No knob can be written by a user without privileges: a child drops to
 * nobody (losing its capabilities) and tries every parameter file of the
 * module; each is refused with EACCES.  Returns the number of files it
 * could open for writing, or -1 when the child could not drop.
 */
static int writable_as_nobody(const char *dir)
{
	int status, n = 0;
	struct dirent *d;
	char path[512];
	pid_t pid;
	DIR *dp;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(255);
		dp = opendir(dir);
		if (!dp)
			_exit(254);
		while ((d = readdir(dp))) {
			int fd;

			if (d->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
			fd = open(path, O_WRONLY);
			if (fd >= 0) {
				n++;
				close(fd);
			} else if (errno != EACCES) {
				n++;
			}
		}
		_exit(n);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) >= 254)
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(backend, knobs_need_privilege)
{
	char dir[] = "/tmp/knobsXXXXXX", file[64];
	int fd;

	/* The probe sees a file anyone may write. */
	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, chmod(dir, 0755));
	snprintf(file, sizeof(file), "%s/open", dir);
	fd = open(file, O_CREAT | O_WRONLY, 0666);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fchmod(fd, 0666));
	close(fd);
	EXPECT_EQ(1, writable_as_nobody(dir));
	unlink(file);
	rmdir(dir);

	EXPECT_EQ(0, writable_as_nobody("/sys/module/vfio_dirty/parameters"));
	EXPECT_EQ(0, writable_as_nobody("/sys/module/vfio_dirty/stats"));
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	return test_harness_run(argc, argv);
}
