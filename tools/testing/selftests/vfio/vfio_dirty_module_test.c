// SPDX-License-Identifier: GPL-2.0
/*
 * The project's modules load, unload and load again cleanly: each is live,
 * nothing holds it, and a reload cycle leaves no warning or oops behind
 * (taint flags W and D stay clear).
 *
 * vfio_dirty_sim with instances: unloading it is refused while a device
 * is open, and once none is it removes them all.
 *
 * The reload tests need the module file.  It is looked up under
 * $VFIO_DIRTY_MODULE_DIR, or else under /lib/modules/$(uname -r)/ in the
 * directories where "make install" and dkms put external modules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/const.h>

#include "kselftest_harness.h"
#include "vfio_util.h"

#define TAINT_DIE	_BITUL(7)
#define TAINT_WARN	_BITUL(9)

FIXTURE(module) {
	char sysfs[PATH_MAX];
};

FIXTURE_VARIANT(module) {
	const char *name;
};

FIXTURE_VARIANT_ADD(module, vfio_dirty) {
	.name = "vfio_dirty",
};

FIXTURE_VARIANT_ADD(module, vfio_dirty_sim) {
	.name = "vfio_dirty_sim",
};

static int read_file(const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len < 0)
		return -errno;
	buf[len] = '\0';
	return 0;
}

static unsigned long kernel_taint(void)
{
	char buf[32];

	if (read_file("/proc/sys/kernel/tainted", buf, sizeof(buf)))
		return ~0UL;
	return strtoul(buf, NULL, 10);
}

static char found_path[PATH_MAX];
static const char *wanted_file;

static int match_module(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	if (type != FTW_F || strcmp(path + ftw->base, wanted_file))
		return 0;
	snprintf(found_path, sizeof(found_path), "%s", path);
	return 1;
}

/* The module file for @name, or NULL. */
static const char *find_module(const char *name)
{
	static const char *const subdirs[] = { "updates", "extra" };
	char file[NAME_MAX], dir[PATH_MAX];
	struct utsname uts;
	const char *env;
	unsigned int i;

	snprintf(file, sizeof(file), "%s.ko", name);
	wanted_file = file;
	env = getenv("VFIO_DIRTY_MODULE_DIR");
	if (env && *env)
		return nftw(env, match_module, 16, FTW_PHYS) == 1 ? found_path : NULL;
	if (uname(&uts))
		return NULL;
	for (i = 0; i < ARRAY_SIZE(subdirs); i++) {
		snprintf(dir, sizeof(dir), "/lib/modules/%s/%s", uts.release,
			 subdirs[i]);
		if (nftw(dir, match_module, 16, FTW_PHYS) == 1)
			return found_path;
	}
	return NULL;
}

FIXTURE_SETUP(module)
{
	snprintf(self->sysfs, sizeof(self->sysfs), "/sys/module/%s",
		 variant->name);
	if (access(self->sysfs, F_OK))
		SKIP(return, "%s is not loaded", variant->name);
}

FIXTURE_TEARDOWN(module)
{
}

TEST_F(module, live_and_unused)
{
	char path[PATH_MAX + 16], buf[64];

	snprintf(path, sizeof(path), "%s/initstate", self->sysfs);
	ASSERT_EQ(0, read_file(path, buf, sizeof(buf)));
	ASSERT_STREQ("live\n", buf);

	snprintf(path, sizeof(path), "%s/refcnt", self->sysfs);
	ASSERT_EQ(0, read_file(path, buf, sizeof(buf)));
	ASSERT_STREQ("0\n", buf);
}

TEST_F(module, reload)
{
	unsigned long taint = kernel_taint();
	char path[PATH_MAX + 16], buf[64];
	const char *file;
	int fd;

	ASSERT_NE(~0UL, taint);
	file = find_module(variant->name);
	if (!file)
		SKIP(return, "%s.ko not found: set VFIO_DIRTY_MODULE_DIR",
		     variant->name);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", file, strerror(errno));

	ASSERT_EQ(0, syscall(__NR_delete_module, variant->name, O_NONBLOCK))
		TH_LOG("unloading %s: %s", variant->name, strerror(errno));
	ASSERT_NE(0, access(self->sysfs, F_OK));

	ASSERT_EQ(0, syscall(__NR_finit_module, fd, "", 0))
		TH_LOG("loading %s: %s", file, strerror(errno));
	close(fd);

	snprintf(path, sizeof(path), "%s/initstate", self->sysfs);
	ASSERT_EQ(0, read_file(path, buf, sizeof(buf)));
	ASSERT_STREQ("live\n", buf);
	ASSERT_EQ(0UL, kernel_taint() & ~taint & (TAINT_WARN | TAINT_DIE));
}

/*
 * Unloading vfio_dirty_sim while an instance's device is open is refused
 * (the device holds the module) and leaves its instances; once it is
 * closed, unloading removes both instances, and loading again brings the
 * type back.  The instances are made here.
 */
TEST(sim_unload_with_instances)
{
	unsigned long taint = kernel_taint();
	struct vfio_test_device dev;
	char uuid[2][40], path[128];
	const char *file;
	int fd, i;

	if (access("/sys/module/vfio_dirty_sim", F_OK))
		SKIP(return, "vfio_dirty_sim is not loaded");
	file = find_module("vfio_dirty_sim");
	if (!file)
		SKIP(return, "vfio_dirty_sim.ko not found: set VFIO_DIRTY_MODULE_DIR");
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", file, strerror(errno));
	for (i = 0; i < 2; i++)
		sim_instance_create(NULL, uuid[i], sizeof(uuid[i]));
	vfio_test_device_open(&dev, uuid[0], VFIO_TYPE1v2_IOMMU);

	EXPECT_EQ(-1, syscall(__NR_delete_module, "vfio_dirty_sim", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s",
			 uuid[i]);
		EXPECT_EQ(0, access(path, F_OK));
	}

	vfio_test_device_close(&dev);
	ASSERT_EQ(0, syscall(__NR_delete_module, "vfio_dirty_sim", O_NONBLOCK))
		TH_LOG("unloading: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s",
			 uuid[i]);
		EXPECT_NE(0, access(path, F_OK));
	}
	ASSERT_EQ(0, syscall(__NR_finit_module, fd, "", 0))
		TH_LOG("loading %s: %s", file, strerror(errno));
	close(fd);
	EXPECT_EQ(0, access(SIM_TYPE_DIR, F_OK));
	EXPECT_EQ(0UL, kernel_taint() & ~taint & (TAINT_WARN | TAINT_DIE));
}

TEST_HARNESS_MAIN
