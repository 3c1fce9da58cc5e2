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
#include <grp.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
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
	long tracking;		/* vfio_dirty_tracking_bytes() before the test */
};

FIXTURE_SETUP(backend)
{
	FILE *f;

	vfio_test_device_init(&self->dev);
	self->buf = MAP_FAILED;
	self->claim[0] = '\0';
	self->limit[0] = '\0';
	self->tracking = vfio_dirty_tracking_bytes();
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
	EXPECT_EQ(self->tracking, vfio_dirty_tracking_bytes());
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
	vfio_map(self->dev.container_fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_unmap(self->dev.container_fd, TEST_IOVA, SZ_2M, &unmapped);
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
		vfio_map(fd, (char *)self->buf + i * SZ_4K,
			 TEST_IOVA + i * SZ_4K, SZ_4K);
	test_err_vfio_map(ENOSPC, fd, (char *)self->buf + 3 * SZ_4K,
			  TEST_IOVA + 3 * SZ_4K, SZ_4K);
	/* An unmap gives the entry back. */
	vfio_unmap(fd, TEST_IOVA, SZ_4K, NULL);
	vfio_map(fd, (char *)self->buf + 3 * SZ_4K,
		 TEST_IOVA + 3 * SZ_4K, SZ_4K);
}

TEST_F(backend, close_unaccounts)
{
	long locked = proc_self_status_kb("VmLck"), pinned_kb = 0;

	ASSERT_GE(locked, 0);
	ASSERT_EQ(0, write_str(PARAMS "claim", "1"));
	ASSERT_EQ(0, open_expect(_metadata, &self->dev, true));
	vfio_map(self->dev.container_fd, self->buf, TEST_IOVA, SZ_2M);
	/*
	 * A device behind an IOMMU makes the container pin it all at map; the
	 * simulated device pins what it writes through.
	 */
	if (!self->dev.is_mdev) {
		pinned_kb = SZ_2M / 1024;
	} else if (vfio_device_is_dirty_sim(device_name)) {
		sim_write(self->dev.device_fd,
			  VFIO_DIRTY_SIM_DMA_PIN, TEST_IOVA,
			  8 * SZ_4K, 1, NULL, NULL);
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
	vfio_map(self->dev.container_fd, self->buf, TEST_IOVA, SZ_2M);
}

/*
 * No knob can be written by a user without privileges: a child drops to
 * nobody (losing its capabilities) and tries every regular file of a
 * directory; each is refused with EACCES.  Returns the number of files it
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

			if (d->d_name[0] == '.' || d->d_type != DT_REG)
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
	char dir[] = "/tmp/knobsXXXXXX", file[128];
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
	if (!vfio_device_is_dirty_sim(device_name))
		return;
	/* The simulated device's: its module, its type, the instance. */
	EXPECT_EQ(0, writable_as_nobody("/sys/module/vfio_dirty_sim/parameters"));
	snprintf(file, sizeof(file), "/sys/bus/mdev/devices/%s/mdev_type",
		 device_name);
	EXPECT_EQ(0, writable_as_nobody(file));
	snprintf(file, sizeof(file), "/sys/bus/mdev/devices/%s", device_name);
	EXPECT_EQ(0, writable_as_nobody(file));
}

/*
 * A hostile user: a process without privileges that owns a group (its
 * /dev/vfio/GROUP node chowned to it, as a management stack would do).
 * USER_ID is no user of the test system.
 */
#define USER_ID		61234
/* Its RLIMIT_MEMLOCK, in pages; it maps or pins LOCK_STEP pages at a time. */
#define LOCK_PAGES	16
#define LOCK_STEP	4
#define LOCK_STEPS	6

/* Drop to USER_ID with RLIMIT_MEMLOCK of @memlock bytes; 0 or -errno. */
static int drop_to_user(rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
	    setresgid(USER_ID, USER_ID, USER_ID) ||
	    setresuid(USER_ID, USER_ID, USER_ID))
		return -errno;
	return 0;
}

/* What the user saw at each step, and after closing. */
struct lock_run {
	int err;		/* of dropping privileges or opening */
	int ret[LOCK_STEPS];
	uint64_t done[LOCK_STEPS];	/* pages mapped or pinned */
	long vmlck_kb[LOCK_STEPS];
	long vmlck_closed_kb;
	int fail_alloc;		/* VFIO_DIRTY_TEST_FAIL_ALLOC on its container */
};

/*
 * In the child: open the device as the user and pin LOCK_STEP pages per
 * step: by mapping them where a device behind an IOMMU makes the
 * container pin at map time, by writing through pins with the simulated
 * device in a container of mdevs (which pins nothing at map time).
 */
static void lock_run_child(const char *name, struct lock_run *run)
{
	size_t page = getpagesize(), step = LOCK_STEP * page;
	struct vfio_test_device dev;
	char *buf;
	int i;

	run->err = drop_to_user(LOCK_PAGES * page);
	if (!run->err)
		run->err = __vfio_test_device_open(&dev, name,
						   VFIO_TYPE1v2_IOMMU);
	if (run->err)
		_exit(1);
	buf = mmap(NULL, LOCK_STEPS * step, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(1);
	memset(buf, 0x5a, LOCK_STEPS * step);
	if (dev.is_mdev && __vfio_map(dev.container_fd, buf, TEST_IOVA,
				      LOCK_STEPS * step))
		_exit(1);
	for (i = 0; i < LOCK_STEPS; i++) {
		if (dev.is_mdev) {
			run->ret[i] = __sim_write(dev.device_fd,
						  VFIO_DIRTY_SIM_DMA_PIN,
						  TEST_IOVA + i * step, step, 1,
						  &run->done[i], NULL);
		} else {
			run->ret[i] = __vfio_map(dev.container_fd,
						 buf + i * step,
						 TEST_IOVA + i * step, step);
			run->done[i] = run->ret[i] ? 0 : LOCK_STEP;
		}
		run->vmlck_kb[i] = proc_self_status_kb("VmLck");
	}
	run->fail_alloc = __vfio_dirty_test_fail_alloc(dev.container_fd, 1,
						       NULL);
	vfio_test_device_close(&dev);
	run->vmlck_closed_kb = proc_self_status_kb("VmLck");
	_exit(0);
}

/* lock_run_child() in a child, its container on @backend. */
static int lock_run(const char *name, enum vfio_test_backend backend,
		    struct lock_run *run)
{
	int status;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	if (write_str(PARAMS "claim",
		      backend == VFIO_BACKEND_VFIO_DIRTY ? "1" : "0"))
		return -EIO;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		lock_run_child(name, run);
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -ECHILD;
}

/*
 * The user pins as much on vfio_dirty as on the stock driver, and no more:
 * the same step fails, with the same errno (ENOMEM) or the same pages
 * pinned, and VmLck reads the same at every step.  The limit bites (a
 * step pins less than asked) and closing gives everything back.  The
 * test hook that acts on every container is refused to the user.
 */
TEST_F(backend, memlock_as_user)
{
	static const enum vfio_test_backend backends[] = {
		VFIO_BACKEND_TYPE1, VFIO_BACKEND_VFIO_DIRTY,
	};
	struct lock_run *runs;
	char node[64];
	struct stat st;
	bool is_mdev;
	int b, i, ret;

	vfio_test_device_open(&self->dev, device_name, VFIO_TYPE1v2_IOMMU);
	is_mdev = self->dev.is_mdev;
	snprintf(node, sizeof(node), "/dev/vfio/%d", self->dev.group);
	vfio_test_device_close(&self->dev);
	if (is_mdev && !vfio_device_is_dirty_sim(device_name))
		SKIP(return, "an mdev other than vfio_dirty_sim pins nothing on request");
	ASSERT_EQ(0, stat(node, &st));
	runs = mmap(NULL, 2 * sizeof(*runs), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, runs);

	ASSERT_EQ(0, chown(node, USER_ID, USER_ID));
	for (b = 0; b < 2; b++) {
		ret = lock_run(device_name, backends[b], &runs[b]);
		EXPECT_EQ(0, ret) TH_LOG("%s: run %d, setup %s",
					 vfio_test_backend_module(backends[b]),
					 ret, strerror(-runs[b].err));
	}
	ASSERT_EQ(0, chown(node, st.st_uid, st.st_gid));

	for (i = 0; i < LOCK_STEPS; i++) {
		TH_LOG("step %d: type1 %d, %llu pages, VmLck %ld kB", i,
		       runs[0].ret[i], (unsigned long long)runs[0].done[i],
		       runs[0].vmlck_kb[i]);
		TH_LOG("step %d: vfio_dirty %d, %llu pages, VmLck %ld kB", i,
		       runs[1].ret[i], (unsigned long long)runs[1].done[i],
		       runs[1].vmlck_kb[i]);
		EXPECT_EQ(runs[0].ret[i], runs[1].ret[i]);
		EXPECT_EQ(runs[0].done[i], runs[1].done[i]);
		EXPECT_EQ(runs[0].vmlck_kb[i], runs[1].vmlck_kb[i]);
	}
	/* The first steps fit, the last one does not. */
	EXPECT_EQ(LOCK_STEP, runs[0].done[0]);
	EXPECT_GT(LOCK_STEP, runs[0].done[LOCK_STEPS - 1]);
	if (!is_mdev)
		EXPECT_EQ(-ENOMEM, runs[0].ret[LOCK_STEPS - 1]);
	EXPECT_EQ(0, runs[0].vmlck_closed_kb);
	EXPECT_EQ(0, runs[1].vmlck_closed_kb);
	/* Production builds have no hook at all. */
	EXPECT_TRUE(runs[1].fail_alloc == -EPERM ||
		    runs[1].fail_alloc == -ENOTTY)
		TH_LOG("VFIO_DIRTY_TEST_FAIL_ALLOC as the user: %d",
		       runs[1].fail_alloc);
	munmap(runs, 2 * sizeof(*runs));
}

/*
 * The memory cgroup the user's tracking memory is charged to: a child
 * cgroup of the cgroup2 root (mounted here if it is not), with the memory
 * controller enabled.
 */
#define CGROUP_ROOT	"/sys/fs/cgroup"
#define CGROUP		CGROUP_ROOT "/vfio_dirty_test"
#define STATS		"/sys/module/vfio_dirty/stats/"

/* Why no memory cgroup can be had, or NULL once CGROUP exists. */
static const char *memcg_unsupported(void)
{
	char line[256] = "";
	FILE *f;

	if (access(CGROUP_ROOT "/cgroup.controllers", F_OK) &&
	    mount("none", CGROUP_ROOT, "cgroup2", 0, NULL))
		return "cannot mount cgroup2 on " CGROUP_ROOT;
	f = fopen(CGROUP_ROOT "/cgroup.controllers", "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	if (!strstr(line, "memory"))
		return "the kernel has no memory cgroup controller";
	if (write_str(CGROUP_ROOT "/cgroup.subtree_control", "+memory"))
		return "cannot enable the memory controller";
	if (mkdir(CGROUP, 0755) && errno != EEXIST)
		return "cannot make " CGROUP;
	return NULL;
}

/* Mappings of MEMCG_MAP_PAGES pages, one page apart, all of one buffer. */
#define MEMCG_MAPS	1024
#define MEMCG_MAP_PAGES	3
#define MEMCG_IOVA	(4 * SZ_1G)

static uint64_t memcg_iova(int set, int map, int page)
{
	size_t pg = getpagesize();

	return MEMCG_IOVA + ((uint64_t)set * MEMCG_MAPS + map) *
	       (MEMCG_MAP_PAGES + 1) * pg + page * pg;
}

/*
 * Pages 0 and 2 of every mapping of @set, through pins or not: two pages
 * apart, so that each mapping gets a table and a block of dirty bits.
 * Return: the pages the device wrote.
 */
static uint64_t memcg_write_set(int device_fd, int set, uint32_t flags)
{
	uint64_t written = 0, done;
	int m, p;

	for (m = 0; m < MEMCG_MAPS; m++)
		for (p = 0; p <= 2; p += 2)
			if (!__sim_write(device_fd, flags, memcg_iova(set, m, p),
					 getpagesize(), 7, &done, NULL))
				written += done;
	return written;
}

/* Mappings whose pages 0 and 2 the device's writer thread writes: a range each. */
#define MEMCG_WRITER_MAPS	(VFIO_DIRTY_SIM_WRITER_MAX_RANGES / 2)

/*
 * Pages 0 and 2 of the first MEMCG_WRITER_MAPS mappings of @set, written
 * by the device's own kernel thread, each at least once.
 * Return: 0 or a negative errno.
 */
static int memcg_writer_set(int device_fd, int set)
{
	struct vfio_dirty_sim_range ranges[2 * MEMCG_WRITER_MAPS];
	uint64_t seq0, seq, unused;
	int i, ret, waited = 0;

	for (i = 0; i < 2 * MEMCG_WRITER_MAPS; i++) {
		ranges[i].iova = memcg_iova(set, i / 2, i % 2 * 2);
		ranges[i].length = getpagesize();
	}
	ret = __sim_log_read(device_fd, 0, ranges[0].iova, 1, &unused, &seq0,
			     NULL);
	if (!ret)
		ret = __sim_writer_start(device_fd, 0, 7, ranges,
					 2 * MEMCG_WRITER_MAPS);
	if (ret)
		return ret;
	/* Its writes take sequence numbers in turn: twice round is enough. */
	do {
		usleep(100000);
		ret = __sim_log_read(device_fd, 0, ranges[0].iova, 1, &unused,
				     &seq, NULL);
	} while (!ret && seq - seq0 < 4 * MEMCG_WRITER_MAPS && ++waited < 600);
	i = __sim_writer_stop(device_fd);
	if (!ret && waited == 600)
		ret = -ETIMEDOUT;
	return ret ? ret : i;
}

/* A report of @set: MEMCG_MAPS * (MEMCG_MAP_PAGES + 1) bits in @bits. */
static int memcg_report(int container_fd, int set, uint64_t *bits)
{
	const size_t pg = getpagesize();
	const uint64_t nbits = MEMCG_MAPS * (MEMCG_MAP_PAGES + 1);

	memset(bits, 0, nbits / 8);
	return __vfio_get_bitmap(container_fd, memcg_iova(set, 0, 0),
				 nbits * pg, pg, bits, nbits / 8);
}

/* Pages 0 and 2 not set in a report of a set, and mappings reported whole. */
static long memcg_missing(const uint64_t *bits, long *whole)
{
	const int stride = MEMCG_MAP_PAGES + 1;
	long m, missing = 0;

	*whole = 0;
	for (m = 0; m < MEMCG_MAPS; m++) {
		missing += !bitmap_test_bit(bits, m * stride) +
			   !bitmap_test_bit(bits, m * stride + 2);
		*whole += bitmap_test_bit(bits, m * stride + 1);
	}
	return missing;
}

/* memory.current and tracking_bytes. */
struct memcg_counts {
	long current, tracking;
};

static void memcg_counts(struct memcg_counts *c)
{
	c->current = sysfs_read_long(CGROUP "/memory.current");
	c->tracking = sysfs_read_long(STATS "tracking_bytes");
}

/*
 * Between @before and @after, @who made the kernel keep dirty bits of at
 * least @maps mappings, a block each, and they are charged to the user's
 * cgroup (3/4 of them at least), or not (less than 1/4).
 */
static void memcg_expect(struct __test_metadata *_metadata, const char *who,
			 const struct memcg_counts *before,
			 const struct memcg_counts *after, long maps,
			 bool charged)
{
	long current = after->current - before->current;
	long tracking = after->tracking - before->tracking;

	TH_LOG("%s: memory.current of the user's cgroup +%ld, tracking_bytes +%ld",
	       who, current, tracking);
	EXPECT_LE(maps * (long)getpagesize(), tracking);
	if (charged)
		EXPECT_LE(3 * tracking / 4, current);
	if (!charged)
		EXPECT_GT(tracking / 4, labs(current));
}

/* What the user's process saw; a step number it has reached, or failed at. */
struct memcg_user {
	int step, err;
	struct memcg_counts before, written, stopped;
	uint64_t written_set0, written_set2;
	long missing, whole, exact_weight;
	bool exact_bit;
};

/* Steps of the user's process; the parent acts between them. */
enum { MEMCG_SET0 = 1, MEMCG_SET2, MEMCG_DONE };

/* Tell the other side a step is done, or wait for it; false if it died. */
static bool memcg_signal(int fd)
{
	char c = 0;

	return write(fd, &c, 1) == 1;
}

static bool memcg_wait(int fd)
{
	char c;

	return read(fd, &c, 1) == 1;
}

/*
 * The user's process: joins CGROUP, drops its privileges, maps sets 0 to 3
 * (so it owns them) and starts tracking; writes set 0; lets the parent
 * write set 1, have the device's thread write set 3, write set 4 (its own)
 * and set memory.max; writes set 2 under it; once the
 * limit is lifted, reports set 2, writes one page and reports it alone,
 * and stops tracking.
 */
static void memcg_user(int cfd, int device_fd, void *buf, int to_parent,
		       int from_parent, struct memcg_user *u)
{
	size_t pg = getpagesize();
	uint64_t *bits, done;
	char pid[16];
	int set, m;

	u->err = -ENOMEM;
	bits = calloc(MEMCG_MAPS * (MEMCG_MAP_PAGES + 1) / 64, sizeof(*bits));
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (!bits || write_str(CGROUP "/cgroup.procs", pid) ||
	    drop_to_user(RLIM_INFINITY))
		_exit(1);
	for (set = 0; set < 4; set++)
		for (m = 0; m < MEMCG_MAPS; m++)
			if (__vfio_map(cfd, buf, memcg_iova(set, m, 0),
				       MEMCG_MAP_PAGES * pg))
				_exit(1);
	/*
	 * The device's log keeps a slot per page written: make those of set
	 * 2 now, then let two reports free its tables of dirty bits.
	 */
	if (__vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) ||
	    memcg_write_set(device_fd, 2, 0) != 2 * MEMCG_MAPS ||
	    memcg_report(cfd, 2, bits) || memcg_report(cfd, 2, bits))
		_exit(1);

	memcg_counts(&u->before);
	u->written_set0 = memcg_write_set(device_fd, 0, 0);
	memcg_counts(&u->written);
	u->step = MEMCG_SET0;
	if (!memcg_signal(to_parent) || !memcg_wait(from_parent))
		_exit(1);
	u->written_set2 = memcg_write_set(device_fd, 2, 0);
	u->step = MEMCG_SET2;
	if (!memcg_signal(to_parent) || !memcg_wait(from_parent))
		_exit(1);
	u->err = memcg_report(cfd, 2, bits);
	u->missing = memcg_missing(bits, &u->whole);
	if (!u->err)
		u->err = memcg_report(cfd, 2, bits);
	if (!u->err)
		u->err = __sim_write(device_fd, 0, memcg_iova(2, 5, 2), pg, 7,
				     &done, NULL);
	if (!u->err)
		u->err = memcg_report(cfd, 2, bits);
	u->exact_weight = bitmap_weight_bits(bits, MEMCG_MAPS *
					     (MEMCG_MAP_PAGES + 1));
	u->exact_bit = bitmap_test_bit(bits, 5 * (MEMCG_MAP_PAGES + 1) + 2);
	if (!u->err)
		u->err = __vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	memcg_counts(&u->stopped);
	if (!u->err)
		u->err = __vfio_unmap_all(cfd, 0, 0, NULL);
	u->step = MEMCG_DONE;
	_exit(0);
}

/*
 * The dirty bits a user's device makes the kernel keep are charged to the
 * memory cgroup of the mappings' owner, whoever makes the device write:
 * memory.current of the user's cgroup rises by about tracking_bytes while
 * the user's process writes into its mappings, while another process (root,
 * in the root cgroup) has the device write through pins into them, and
 * while the device's own kernel thread writes into them; not while root
 * writes into mappings of its own (the negative control); and it falls
 * back once tracking stops.  Under a memory.max the writes leave no room
 * for, every write succeeds, the next report holds every page written and
 * more (whole mappings, the documented fallback; some must be), and once
 * the limit is lifted reports are exact again.  The user is not killed.
 */
TEST_F(backend, tracking_memory_charged)
{
	long tracking0 = sysfs_read_long(STATS "tracking_bytes"), charged;
	int to_parent[2], from_parent[2], status, m;
	struct memcg_counts root[2];
	bool ret;
	struct memcg_user *u;
	const char *why;
	char max[32];
	pid_t pid;

	if (!vfio_device_is_dirty_sim(device_name))
		SKIP(return, "needs a vfio_dirty_sim instance");
	why = memcg_unsupported();
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, write_str(PARAMS "claim", "1"));
	ASSERT_EQ(0, open_expect(_metadata, &self->dev, true));
	u = mmap(NULL, sizeof(*u), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, u);
	ASSERT_EQ(0, pipe(to_parent));
	ASSERT_EQ(0, pipe(from_parent));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		memcg_user(self->dev.container_fd, self->dev.device_fd,
			   self->buf, to_parent[1], from_parent[0], u);
	close(to_parent[1]);
	close(from_parent[0]);

	/* The user's writes are charged to its cgroup... */
	ASSERT_TRUE(memcg_wait(to_parent[0]));
	charged = u->written.tracking - u->before.tracking;
	EXPECT_EQ(2 * MEMCG_MAPS, u->written_set0);
	memcg_expect(_metadata, "user", &u->before, &u->written, MEMCG_MAPS,
		     true);

	/* ...and so are another process's into its mappings... */
	memcg_counts(&root[0]);
	EXPECT_EQ(2 * MEMCG_MAPS, memcg_write_set(self->dev.device_fd, 1,
						  VFIO_DIRTY_SIM_DMA_PIN));
	memcg_counts(&root[1]);
	memcg_expect(_metadata, "root", &root[0], &root[1], MEMCG_MAPS, true);

	/* ...and the device's own thread's... */
	memcg_counts(&root[0]);
	EXPECT_EQ(0, memcg_writer_set(self->dev.device_fd, 3));
	memcg_counts(&root[1]);
	memcg_expect(_metadata, "writer thread", &root[0], &root[1],
		     MEMCG_WRITER_MAPS, true);

	/* ...but not root's into mappings of its own (the negative control). */
	for (m = 0; m < MEMCG_MAPS; m++)
		ASSERT_EQ(0, __vfio_map(self->dev.container_fd, self->buf,
					memcg_iova(4, m, 0),
					MEMCG_MAP_PAGES * getpagesize()));
	memcg_counts(&root[0]);
	EXPECT_EQ(2 * MEMCG_MAPS, memcg_write_set(self->dev.device_fd, 4, 0));
	memcg_counts(&root[1]);
	memcg_expect(_metadata, "root's own", &root[0], &root[1], MEMCG_MAPS,
		     false);

	/* Set 2 under a limit with room for about 64 blocks of dirty bits. */
	snprintf(max, sizeof(max), "%ld",
		 sysfs_read_long(CGROUP "/memory.current") +
		 64 * (long)getpagesize());
	ASSERT_EQ(0, write_str(CGROUP "/memory.max", max));
	ASSERT_TRUE(memcg_signal(from_parent[1]));
	ret = memcg_wait(to_parent[0]);
	ASSERT_EQ(0, write_str(CGROUP "/memory.max", "max"));
	ASSERT_TRUE(ret) TH_LOG("the user's process died under memory.max");
	ASSERT_TRUE(memcg_signal(from_parent[1]));

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the user's process: status %#x, at step %d", status,
		       u->step);
	EXPECT_EQ(MEMCG_DONE, u->step);
	EXPECT_EQ(0, u->err) TH_LOG("%s", strerror(-u->err));
	EXPECT_EQ(2 * MEMCG_MAPS, u->written_set2);
	EXPECT_EQ(0, u->missing);
	TH_LOG("under memory.max %s: %ld of %d mappings reported whole", max,
	       u->whole, MEMCG_MAPS);
	EXPECT_LT(0, u->whole);
	EXPECT_EQ(1, u->exact_weight);
	EXPECT_TRUE(u->exact_bit);

	/* Stopping freed it all, and the cgroup's charge with it. */
	TH_LOG("memory.current: %ld before, %ld once stopped",
	       u->before.current, u->stopped.current);
	EXPECT_EQ(tracking0, u->stopped.tracking);
	EXPECT_GT(u->before.current + charged / 4, u->stopped.current);
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(0, rmdir(CGROUP));
	munmap(u, sizeof(*u));
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	return test_harness_run(argc, argv);
}
