// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU as the user of the backends: an unmodified QEMU (11.1, from Debian's
 * trixie-backports) runs in the test guest as a nested guest under TCG,
 * with a device assigned through vfio-pci, and migrates.
 *
 * QEMU comes from a Debian root that vmtest.sh shares (lib/qemu.c).  The
 * nested guest has no operating system: its vCPU halts at the reset vector
 * and never writes its RAM, so the assigned device's writes are the only
 * changes to it.
 *
 * Fixtures:
 *
 *   smoke    QEMU starts with edu (VFIO_SELFTESTS_PCI_BDF, bound to
 *            vfio-pci) assigned, and answers its monitor (QMP) with its
 *            version and the device on its PCI bus.
 *   migrate  a source QEMU with 256 MiB of RAM and an instance of
 *            vfio_dirty_sim assigned migrates to a destination QEMU with
 *            another, paused (-S -incoming), over a UNIX socket, while the
 *            simulated device writes stamped pages into the source's RAM,
 *            through pinned pages or vfio_dma_rw().  When the migration
 *            completes, both RAMs are saved (pmemsave) and compared page by
 *            page; every page the device wrote must hold the stamp of the
 *            last write its write log records.  Variants: the container's
 *            dirty tracking (x-device-dirty-page-tracking=off) on the stock
 *            vfio_iommu_type1, the oracle, and on vfio_dirty; the device's
 *            own DMA logging, where the kernel's REPORT works; and the
 *            negative control, vfio_dirty with its break_reports test hook
 *            set, where the comparison must name lost pages.
 *   large    QEMU 11.0's migration blocker for a VM larger than the
 *            container's dirty bitmap can cover (max_dirty_bitmap_size * 8
 *            pages): 9 TiB of RAM that is never allocated, the simulated
 *            device assigned, the container's dirty tracking and
 *            enable-migration=on (without it QEMU 11.1 refuses to migrate
 *            with any type1 container's tracking).  On the stock driver
 *            QEMU refuses to realize the device with its blocker's
 *            message, as enable-migration=on turns blockers into errors; on
 *            vfio_dirty with max_bitmap_size raised it starts, tracking
 *            starts and the first bitmap syncs over all of the RAM succeed,
 *            and it is cancelled (copying 9 TiB is not possible here).
 *
 * Which backend gets a QEMU's container is chosen with vfio_dirty's claim
 * parameter while that QEMU starts, and checked with the modules'
 * reference counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "dma_logging.h"
#include "qemu.h"
#include "vfio_util.h"

#define MIG_RAM		(256ULL << 20)
/* What the device writes: 1 MiB at 1 MiB, 4 MiB at 16 MiB, 2 MiB at 240 MiB. */
#define MIG_RANGES	"0x100000:0x100000,0x1000000:0x400000,0xf000000:0x200000"
#define MIG_PATTERN	"0x5a5aa5a5c3c33c3c"
/* Writes the device makes before the migration starts, and during it. */
#define MIG_WRITES	2000
/* Dirty bitmap syncs made while the device writes, before the switchover. */
#define MIG_SYNCS	5
/* Lost pages named in the log, at most. */
#define MIG_NAMED	16

/* QMP commands, too long to write where they are used. */
#define QMP_HOLD_SWITCHOVER \
	"{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": 60000, \"max-bandwidth\": 1073741824, \"avail-switchover-bandwidth\": 1}}"
#define QMP_SWITCH_OVER \
	"{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"avail-switchover-bandwidth\": 1000000000000}}"
#define QMP_PMEMSAVE \
	"{\"execute\": \"pmemsave\", \"arguments\": {\"val\": 0, \"size\": %llu, \"filename\": \"%s/%s.ram\"}}"

#define LARGE_RAM	"9T"
/* 2^32 bits of bitmap: 16 TiB at 4 KiB. */
#define LARGE_CEILING	"512M"
#define BLOCKER_MSG	"not supported with large memory VM due to dirty tracking limitation"

static long long stat_read(const char *stat)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/vfio_dirty/stats/%s", stat);
	return sysfs_read_long(path);
}

static long long sim_read_num(const char *uuid, const char *file)
{
	char path[256];

	sim_path(path, sizeof(path), uuid, file);
	return sysfs_read_long(path);
}

static int sim_writer(const char *uuid, const char *cmd)
{
	char path[256];

	sim_path(path, sizeof(path), uuid, "writer");
	return str_write(path, cmd);
}

FIXTURE(smoke) {
	struct qemu q;
};

FIXTURE_SETUP(smoke)
{
	const char *why = qemu_missing();

	self->q.pid = 0;
	self->q.qmp = -1;
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, qemu_prepare());
}

FIXTURE_TEARDOWN(smoke)
{
	qemu_stop(&self->q);
}

/* QEMU starts with edu assigned and answers QMP. */
TEST_F_TIMEOUT(smoke, edu, 120)
{
	const char *bdf = getenv("VFIO_SELFTESTS_PCI_BDF");
	char dev[128], *r;

	if (!bdf)
		SKIP(return, "no PCI device: set VFIO_SELFTESTS_PCI_BDF (edu on vfio-pci)");
	snprintf(dev, sizeof(dev), "vfio-pci,host=%s", bdf);
	{
		const char *const args[] = { "-machine", "q35", "-m", "64M",
					     "-device", dev, NULL };

		ASSERT_EQ(0, qemu_start(&self->q, "smoke", args));
	}
	TH_LOG("QEMU with %s assigned answered QMP after %.1f s", bdf,
	       self->q.started);
	r = qmp(&self->q, "{\"execute\": \"query-version\"}");
	ASSERT_NE(NULL, r);
	EXPECT_LE(11, json_num(r, "major"));
	TH_LOG("QEMU %lld.%lld.%lld", json_num(r, "major"), json_num(r, "minor"),
	       json_num(r, "micro"));
	free(r);
	/* edu is 1234:11e8: vendor 4660, device 4584. */
	r = qmp(&self->q, "{\"execute\": \"query-pci\"}");
	ASSERT_NE(NULL, r);
	EXPECT_NE(NULL, strstr(r, "{\"device\": 4584, ")) TH_LOG("%s", r);
	EXPECT_NE(NULL, strstr(r, "\"vendor\": 4660"));
	free(r);
}

FIXTURE(migrate) {
	struct qemu src, dst;
	char src_uuid[64], dst_uuid[64];
	long tracking;		/* vfio_dirty_tracking_bytes() before the test */
};

/**
 * struct _fixture_variant_migrate - one way of migrating
 * @backend: the backend of both containers
 * @writer: the simulated device's writer flags
 * @device_log: QEMU tracks with the device's DMA logging, not the container
 * @drop: vfio_dirty's break_reports: reports that lose their pages
 */
FIXTURE_VARIANT(migrate) {
	enum vfio_test_backend backend;
	const char *writer;
	bool device_log;
	int drop;
};

FIXTURE_VARIANT_ADD(migrate, type1_pin) {
	.backend = VFIO_BACKEND_TYPE1,
	.writer = "pin,stamp",
};

FIXTURE_VARIANT_ADD(migrate, type1_rw) {
	.backend = VFIO_BACKEND_TYPE1,
	.writer = "stamp",
};

FIXTURE_VARIANT_ADD(migrate, vfio_dirty_pin) {
	.backend = VFIO_BACKEND_VFIO_DIRTY,
	.writer = "pin,stamp",
};

FIXTURE_VARIANT_ADD(migrate, vfio_dirty_rw) {
	.backend = VFIO_BACKEND_VFIO_DIRTY,
	.writer = "stamp",
};

FIXTURE_VARIANT_ADD(migrate, device_log) {
	.backend = VFIO_BACKEND_VFIO_DIRTY,
	.writer = "stamp",
	.device_log = true,
};

/* The negative control: every report of the migration loses its pages. */
FIXTURE_VARIANT_ADD(migrate, vfio_dirty_lost_reports) {
	.backend = VFIO_BACKEND_VFIO_DIRTY,
	.writer = "stamp",
	.drop = 1000000,
};

FIXTURE_SETUP(migrate)
{
	const char *why = qemu_missing();

	self->src.pid = 0;
	self->dst.pid = 0;
	self->src.qmp = -1;
	self->dst.qmp = -1;
	self->src_uuid[0] = '\0';
	self->dst_uuid[0] = '\0';
	self->tracking = vfio_dirty_tracking_bytes();
	if (why)
		SKIP(return, "%s", why);
	sim_create(self->src_uuid, sizeof(self->src_uuid));
	sim_create(self->dst_uuid, sizeof(self->dst_uuid));
	why = sim_missing(self->src_uuid);
	if (why)
		SKIP(return, "%s", why);
	ASSERT_NE(0, self->dst_uuid[0]);
	if (module_refcnt(vfio_test_backend_module(variant->backend)) < 0)
		SKIP(return, "%s is not loaded",
		     vfio_test_backend_module(variant->backend));
	ASSERT_EQ(0, qemu_prepare());
}

FIXTURE_TEARDOWN(migrate)
{
	if (self->src_uuid[0])
		sim_writer(self->src_uuid, "stop");
	if (variant->drop)
		__module_param_write("vfio_dirty", "break_reports", "0");
	qemu_stop(&self->src);
	qemu_stop(&self->dst);
	EXPECT_EQ(self->tracking, vfio_dirty_tracking_bytes());
	sim_remove(self->src_uuid);
	sim_remove(self->dst_uuid);
	unlink(QEMU_WORK_DIR "/src.ram");
	unlink(QEMU_WORK_DIR "/dst.ram");
	unlink(QEMU_WORK_DIR "/migration");
}

/*
 * Whether the kernel's VFIO core can REPORT a device's DMA log: START and
 * REPORT one range on the instance @uuid, before QEMU opens it.
 */
static int probe_report(const char *uuid)
{
	struct vfio_device_feature_dma_logging_range range = {
		.iova = 0, .length = SZ_2M,
	};
	struct vfio_test_device dev;
	uint64_t bitmap[SZ_2M / SZ_4K / 64];
	int ret;

	ret = __vfio_test_device_open(&dev, uuid, VFIO_TYPE1v2_IOMMU);
	if (ret)
		return ret;
	ret = __dma_logging_start(dev.device_fd, SZ_4K, &range, 1);
	if (!ret) {
		ret = __dma_logging_report(dev.device_fd, 0, SZ_2M, SZ_4K, bitmap);
		__dma_logging_stop(dev.device_fd);
	}
	vfio_test_device_close(&dev);
	return ret;
}

/*
 * Compare the two RAMs page by page, and each page the device wrote with
 * its write log.  Return: pages that differ or lack their stamp (the first
 * MIG_NAMED named in the log), or -1 if the dumps cannot be read.
 */
static long compare_ram(struct __test_metadata *_metadata, const char *uuid,
			long *written)
{
	uint64_t npages = MIG_RAM / SZ_4K, p, *log;
	long bad = 0, named = 0;
	char path[256];
	unsigned char *a, *b;
	int fa, fb, fl;

	fa = open(QEMU_WORK_DIR "/src.ram", O_RDONLY);
	fb = open(QEMU_WORK_DIR "/dst.ram", O_RDONLY);
	sim_path(path, sizeof(path), uuid, "write_log");
	fl = open(path, O_RDONLY);
	log = calloc(npages, sizeof(*log));
	if (fa < 0 || fb < 0 || fl < 0 || !log)
		return -1;
	/* The log is read a page at a time at most. */
	for (p = 0; p < npages * sizeof(*log); p += SZ_4K)
		if (pread(fl, (char *)log + p, SZ_4K, p) != SZ_4K)
			return -1;
	a = mmap(NULL, MIG_RAM, PROT_READ, MAP_PRIVATE, fa, 0);
	b = mmap(NULL, MIG_RAM, PROT_READ, MAP_PRIVATE, fb, 0);
	if (a == MAP_FAILED || b == MAP_FAILED)
		return -1;
	*written = 0;
	for (p = 0; p < npages; p++) {
		const unsigned char *pa = a + p * SZ_4K, *pb = b + p * SZ_4K;
		uint64_t stamp;
		bool differs = memcmp(pa, pb, SZ_4K);

		memcpy(&stamp, pa, sizeof(stamp));
		if (log[p])
			(*written)++;
		if (!differs && (!log[p] || stamp == log[p]))
			continue;
		bad++;
		if (named++ < MIG_NAMED) {
			uint64_t dst_stamp;

			memcpy(&dst_stamp, pb, sizeof(dst_stamp));
			TH_LOG("page 0x%llx: %s; last write %llu, source %llu, destination %llu",
			       (unsigned long long)(p * SZ_4K),
			       differs ? "destination differs from the source" :
					 "source lacks the last write",
			       (unsigned long long)log[p],
			       (unsigned long long)stamp,
			       (unsigned long long)dst_stamp);
		}
	}
	munmap(a, MIG_RAM);
	munmap(b, MIG_RAM);
	close(fa);
	close(fb);
	close(fl);
	free(log);
	return bad;
}

TEST_F_TIMEOUT(migrate, page_by_page, 300)
{
	char dev[256], incoming[160], cmd[256], status[32], drop[16] = "";
	long long seq_before, seq_after;
	long bad, written = 0;
	double t;
	char *r;
	int ret;

	if (variant->device_log) {
		ret = probe_report(self->src_uuid);
		if (ret == -EOPNOTSUPP)
			SKIP(return,
			     "REPORT fails with EOPNOTSUPP: this kernel's VFIO core has no IOVA bitmaps (CONFIG_IOMMUFD_DRIVER)");
		ASSERT_EQ(0, ret);
	}
	snprintf(incoming, sizeof(incoming), "unix:" QEMU_WORK_DIR "/migration");
	unlink(QEMU_WORK_DIR "/migration");

	sim_qdev(dev, sizeof(dev), self->dst_uuid, !variant->device_log);
	{
		const char *const args[] = { "-machine", "q35", "-m", "256M",
					     "-device", dev, "-S",
					     "-incoming", incoming, NULL };

		ASSERT_EQ(0, qemu_start_on(&self->dst, "dst", variant->backend, args));
	}
	sim_qdev(dev, sizeof(dev), self->src_uuid, !variant->device_log);
	{
		const char *const args[] = { "-machine", "q35", "-m", "256M",
					     "-device", dev, NULL };

		ASSERT_EQ(0, qemu_start_on(&self->src, "src", variant->backend, args));
	}
	TH_LOG("source answered QMP after %.1f s, destination after %.1f s",
	       self->src.started, self->dst.started);

	snprintf(cmd, sizeof(cmd), "start %s " MIG_PATTERN " " MIG_RANGES,
		 variant->writer);
	ASSERT_EQ(0, sim_writer(self->src_uuid, cmd));
	t = now_ms() + 60 * 1e3;
	while (sim_read_num(self->src_uuid, "write_seq") < MIG_WRITES && now_ms() < t)
		usleep(10 * 1000);
	seq_before = sim_read_num(self->src_uuid, "write_seq");
	ASSERT_LE(MIG_WRITES, seq_before);

	/*
	 * Hold the switchover back (QEMU expects to copy nothing in the
	 * downtime at a switchover bandwidth of 1 byte/s) until MIG_SYNCS
	 * syncs were made while the device wrote, then let it happen.
	 */
	ASSERT_TRUE(qmp_ok(&self->src, QMP_HOLD_SWITCHOVER));
	if (variant->drop) {
		snprintf(drop, sizeof(drop), "%d", variant->drop);
		module_param_write("vfio_dirty", "break_reports", drop);
	}
	t = now_ms();
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"%s\"}}",
		 incoming);
	ASSERT_TRUE(qmp_ok(&self->src, cmd));
	for (;;) {
		r = qmp(&self->src, "{\"execute\": \"query-migrate\"}");
		json_str(r, "status", status, sizeof(status));
		if (strcmp(status, "setup") &&
		    (strcmp(status, "active") ||
		     json_num(r, "dirty-sync-count") >= MIG_SYNCS))
			break;
		free(r);
		ASSERT_GT(t + 120 * 1e3, now_ms());
		usleep(100 * 1000);
	}
	TH_LOG("migration %s after %.1f s, %lld dirty syncs: switching over",
	       status, (now_ms() - t) / 1e3, json_num(r, "dirty-sync-count"));
	free(r);
	/*
	 * 1 TB/s of switchover bandwidth: whatever the device's stop-copy
	 * size (QEMU assumes 100 GiB where the kernel cannot tell it, 6.1),
	 * it fits in the downtime.
	 */
	ASSERT_TRUE(qmp_ok(&self->src, QMP_SWITCH_OVER));
	r = qemu_migration_wait(&self->src, 240);
	ASSERT_NE(NULL, r);
	json_str(r, "status", status, sizeof(status));
	TH_LOG("migration %s in %.1f s: %lld dirty syncs, %lld ms downtime",
	       status, (now_ms() - t) / 1e3, json_num(r, "dirty-sync-count"),
	       json_num(r, "downtime"));
	if (strcmp(status, "completed"))
		TH_LOG("%s", r);
	free(r);
	ASSERT_STREQ("completed", status);
	seq_after = sim_read_num(self->src_uuid, "write_seq");
	TH_LOG("the device wrote %lld times before the migration, %lld in it; %lld writes failed",
	       seq_before, seq_after - seq_before,
	       sim_read_num(self->src_uuid, "write_failed"));
	ASSERT_LT(seq_before, seq_after);
	if (variant->drop) {
		module_param_read("vfio_dirty", "break_reports",
				  drop, sizeof(drop));
		TH_LOG("vfio_dirty dropped %ld reports", variant->drop - atol(drop));
		ASSERT_LT(atol(drop), variant->drop);
	}

	/*
	 * QEMU's migration thread says "completed" before it moves the
	 * source's run state from finish-migrate on: give it that moment.
	 */
	t = now_ms();
	do {
		r = qmp(&self->src, "{\"execute\": \"query-status\"}");
		json_str(r, "status", status, sizeof(status));
		free(r);
		if (strcmp(status, "finish-migrate"))
			break;
		usleep(100 * 1000);
	} while (now_ms() < t + 10 * 1e3);
	EXPECT_STREQ("postmigrate", status);
	r = qmp(&self->dst, "{\"execute\": \"query-status\"}");
	json_str(r, "status", status, sizeof(status));
	free(r);
	EXPECT_STREQ("paused", status);

	snprintf(cmd, sizeof(cmd), QMP_PMEMSAVE, MIG_RAM, QEMU_WORK_DIR, "src");
	ASSERT_TRUE(qmp_ok(&self->src, cmd));
	snprintf(cmd, sizeof(cmd), QMP_PMEMSAVE, MIG_RAM, QEMU_WORK_DIR, "dst");
	ASSERT_TRUE(qmp_ok(&self->dst, cmd));
	bad = compare_ram(_metadata, self->src_uuid, &written);
	ASSERT_LE(0, bad);
	TH_LOG("%ld pages written by the device, %ld wrong in the destination",
	       written, bad);
	ASSERT_LT(0, written);
	/* Pages are lost exactly when reports were dropped. */
	EXPECT_EQ(!!variant->drop, bad > 0);
}

FIXTURE(large) {
	struct qemu q;
	char uuid[64];
	char ceiling[32];
	long tracking;		/* vfio_dirty_tracking_bytes() before the test */
};

FIXTURE_VARIANT(large) {
	enum vfio_test_backend backend;
};

FIXTURE_VARIANT_ADD_ALL_BACKENDS(large);

FIXTURE_SETUP(large)
{
	const char *why = qemu_missing();

	self->q.pid = 0;
	self->q.qmp = -1;
	self->uuid[0] = '\0';
	self->ceiling[0] = '\0';
	self->tracking = vfio_dirty_tracking_bytes();
	if (why)
		SKIP(return, "%s", why);
	sim_create(self->uuid, sizeof(self->uuid));
	why = sim_missing(self->uuid);
	if (why)
		SKIP(return, "%s", why);
	if (module_refcnt(vfio_test_backend_module(variant->backend)) < 0)
		SKIP(return, "%s is not loaded",
		     vfio_test_backend_module(variant->backend));
	ASSERT_EQ(0, qemu_prepare());
}

FIXTURE_TEARDOWN(large)
{
	qemu_stop(&self->q);
	EXPECT_EQ(self->tracking, vfio_dirty_tracking_bytes());
	vfio_dirty_ceiling_restore(self->ceiling);
	sim_remove(self->uuid);
}

/*
 * 9 TiB of RAM, never allocated (reserve=off), needs 44 bits of guest
 * physical address: TCG's qemu64 takes phys-bits=44.
 */
TEST_F_TIMEOUT(large, blocker, 300)
{
	long long requests, refused;
	char dev[256], status[32], *r;
	double t;

	char log[4096], *msg;
	int ret;

	sim_qdev(dev, sizeof(dev), self->uuid, true);
	if (variant->backend == VFIO_BACKEND_VFIO_DIRTY)
		vfio_dirty_ceiling_set(LARGE_CEILING, self->ceiling,
				       sizeof(self->ceiling));
	{
		const char *const args[] = {
			"-machine", "q35,memory-backend=ram",
			"-cpu", "qemu64,phys-bits=44",
			"-object", "memory-backend-ram,id=ram,size=" LARGE_RAM ",reserve=off",
			"-m", LARGE_RAM, "-device", dev, NULL };

		ret = qemu_start_on(&self->q, "large", variant->backend, args);
	}
	/*
	 * With enable-migration=on (QEMU 11.1 blocks a type1 container's
	 * tracking otherwise: "doesn't support device and IOMMU dirty
	 * tracking"), the blocker fails the device's realize.
	 */
	if (variant->backend == VFIO_BACKEND_TYPE1) {
		ASSERT_NE(0, ret);
		qemu_stop(&self->q);
		str_read(self->q.log, log, sizeof(log));
		msg = strstr(log, BLOCKER_MSG);
		ASSERT_NE(NULL, msg) TH_LOG("QEMU said: %s", log);
		while (msg > log && msg[-1] != '\n')
			msg--;
		TH_LOG("QEMU said: %.*s", (int)strcspn(msg, "\n"), msg);
		return;
	}
	ASSERT_EQ(0, ret);
	TH_LOG("QEMU with %s of RAM answered QMP after %.1f s", LARGE_RAM,
	       self->q.started);
	requests = stat_read("requests");
	refused = stat_read("refused");

	ASSERT_TRUE(qmp_ok(&self->q, QMP_MIGRATE_TO_NOWHERE));

	/* The first sync reports every section of the RAM (two: below 4G and above). */
	t = now_ms() + 240 * 1e3;
	for (;;) {
		r = qmp(&self->q, "{\"execute\": \"query-migrate\"}");
		json_str(r, "status", status, sizeof(status));
		if (!strcmp(status, "active") && json_num(r, "dirty-sync-count") >= 1 &&
		    stat_read("requests") - requests >= 2)
			break;
		if ((strcmp(status, "setup") && strcmp(status, "active")) ||
		    now_ms() > t) {
			TH_LOG("%s", r);
			break;
		}
		free(r);
		usleep(100 * 1000);
	}
	TH_LOG("migration %s: %lld dirty syncs, %lld bitmap requests succeeded, %lld refused",
	       status, json_num(r, "dirty-sync-count"),
	       stat_read("requests") - requests, stat_read("refused") - refused);
	free(r);
	ASSERT_STREQ("active", status);
	EXPECT_EQ(refused, stat_read("refused"));

	ASSERT_TRUE(qmp_ok(&self->q, "{\"execute\": \"migrate_cancel\"}"));
	r = qemu_migration_wait(&self->q, 120);
	json_str(r, "status", status, sizeof(status));
	free(r);
	EXPECT_STREQ("cancelled", status);
	r = qmp(&self->q, "{\"execute\": \"query-status\"}");
	json_str(r, "status", status, sizeof(status));
	free(r);
	EXPECT_STREQ("running", status);
}

TEST_HARNESS_MAIN
