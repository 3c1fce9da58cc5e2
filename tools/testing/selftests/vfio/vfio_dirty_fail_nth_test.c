// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection sweep over vfio_dirty, as iommufd_fail_nth.c sweeps
 * iommufd: each scenario is one call (a map, an unmap, a dirty bitmap
 * request, a device's write, a group's attach, ...), and for n = 1, 2, ...
 * the Nth fault point the call reaches is made to fail, until a run
 * completes without the fault coming.  After each run, and in a fresh
 * container each time:
 *
 * - the call failed, or a documented fallback took over: a dirty bit that
 *   cannot be stored has its whole mapping reported by the next query
 *   (bits_*), a group's leaving keeps the IOVA ranges it cannot compute
 *   again (refresh_resv_regions, iova_alloc), and the VFIO core gives a
 *   container vfio_dirty could not open or attach to the next backend;
 * - every mapping the call did not remove is still mapped, and every
 *   mapping it did not create is not (a second unmap of each says how many
 *   bytes it finds);
 * - every page the device wrote since tracking started is reported by the
 *   next query, or by the call itself when it was a report that succeeded;
 *   pinned pages always are;
 * - once the container is closed, the process's locked_vm (VmLck) and
 *   vfio_dirty's tracking_bytes are back where they were.
 *
 * Faults come from vfio_dirty's own hook (the fail_nth parameter of a
 * module built with CONFIG_VFIO_DIRTY_TEST: the hook variants) and, on a
 * kernel built with fault injection, from /proc/thread-self/fail-nth,
 * which counts every allocation and user copy of the kernel as well (the
 * proc variants; they skip elsewhere).  Each sweep prints the fault points
 * it reached and how long it took; the program prints the distinct points
 * reached over all sweeps at its end.
 *
 * The device is vfio_dirty_sim (the mdev leg: its writes go through
 * vfio_dma_rw() and pins, so there are dirty bits to lose) or a PCI
 * device behind an IOMMU (the pci leg: mappings are pinned and
 * iommu_map()ped, every page is dirty); a scenario that needs the other
 * skips.  The group scenarios also need a PCI device, bound to vfio-pci,
 * in VFIO_SELFTESTS_PCI_BDF, and the one where a group leaves an IOMMU
 * domain that another group stays in a second, in VFIO_SELFTESTS_PCI_BDF2.
 * The fault points no scenario can reach in the test VM are printed at the
 * end with the reason (unreachable[]).  The negative controls break one
 * error path (the break_unwind parameter) and show that the sweep's checks
 * catch it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vfio_util.h"

/* Mapping i is BUF_PAGES pages at TEST_IOVA + i * BUF_SIZE. */
#define TEST_IOVA	SZ_1G
#define NR_MAPS		2
#define BUF_PAGES	512
#define BUF_SIZE	(BUF_PAGES * page_size)
#define ALL_PAGES	(NR_MAPS * BUF_PAGES)
#define ALL_WORDS	(ALL_PAGES / 64)
/* A sweep that reaches this many points has lost its way. */
#define MAX_NTH		2000
/*
 * Seconds a sweep may take: each of its runs sets a container up, and
 * behind an IOMMU pins and maps 4 MiB, which under TCG with KASAN takes
 * seconds; the harness's default is 30.
 */
#define SWEEP_TIMEOUT	120

#define PARAMS		"/sys/module/vfio_dirty/parameters/"
#define TRACKING_BYTES	"/sys/module/vfio_dirty/stats/tracking_bytes"
#define PROC_FAIL_NTH	"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug"

static const char *device_name;
static uint64_t page_size;

/* What a run's checks found: one bit per invariant broken. */
enum {
	BROKE_ERROR = 1 << 0,		/* a fault fired, the call succeeded */
	BROKE_BASELINE = 1 << 1,	/* the call failed with no fault */
	BROKE_MAPPING = 1 << 2,		/* a mapping appeared or went */
	BROKE_BITS = 1 << 3,		/* a dirty page went unreported */
	BROKE_LOCKED_VM = 1 << 4,	/* VmLck not back after close */
	BROKE_TRACKING = 1 << 5,	/* tracking_bytes not back */
};

/*
 * The fault points reached, over every sweep of the program: its tests
 * run in forked children, which fill this shared table.
 */
#define MAX_POINTS	64
struct points {
	unsigned int n;
	char name[MAX_POINTS][32];
	unsigned int sweeps;
	double ms;
};

static struct points *all_points;

static void points_add(struct points *p, const char *name)
{
	unsigned int i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->name[i], name))
			return;
	if (p->n < MAX_POINTS)
		snprintf(p->name[p->n++], sizeof(p->name[0]), "%s", name);
}

/* One run of a scenario: the container and what the device wrote. */
struct run {
	struct __test_metadata *meta;
	const struct scenario *s;
	struct vfio_test_device dev;
	int pci_group, pci_group2;
	bool sim;
	void *buf[NR_MAPS];
	uint64_t seq0;
	bool reported[NR_MAPS];		/* the call reported it, and succeeded */
	uint64_t call_bitmap[ALL_WORDS];
	long refcnt;			/* vfio_dirty's, before the call */
};

/**
 * struct scenario - one call swept
 * @name: for the log
 * @needs_sim: the device must be vfio_dirty_sim
 * @needs_iommu: the device must be behind an IOMMU (no emulated group)
 * @needs_pci: a PCI device in VFIO_SELFTESTS_PCI_BDF joins the container
 * @needs_pci2: another, in VFIO_SELFTESTS_PCI_BDF2, is in the container
 *	before the call, and stays
 * @nmaps: mappings made before the call
 * @track: start dirty tracking before the call
 * @write_before_track: the device writes before tracking starts
 * @attach_pci: the PCI device's group is in the container before the call
 * @invalid: mapping 1's vaddr is invalid before the call
 * @unset: the container's backend is not set before the call
 * @in_child: the call is made, and the fault armed, in a child process
 * @call: the call; 0 or a negative errno
 * @present: is mapping @i there after the call returned @ret?
 * @tracking_after: is tracking on after the call returned @ret?
 * @fallbacks: points whose failure the call absorbs, space separated
 * @whole: the mapping reported whole when a bits_* point is absorbed
 * @no_proc: why the call cannot be swept through /proc/thread-self/fail-nth
 */
struct scenario {
	const char *name;
	bool needs_sim, needs_iommu, needs_pci, needs_pci2;
	int nmaps;
	bool track, write_before_track, attach_pci, invalid, unset, in_child;
	int (*call)(struct run *r);
	bool (*present)(struct run *r, int ret, int i);
	bool (*tracking_after)(struct run *r, int ret);
	const char *fallbacks;
	int whole;
	const char *no_proc;
};

static uint64_t map_iova(int i)
{
	return TEST_IOVA + i * BUF_SIZE;
}

/*
 * The pages the setup has the device write: through pins in mapping 0, and
 * through vfio_dma_rw() in mapping 1; each a run, which the backend keeps
 * without memory until a page apart from it is dirtied.
 */
static const long pin_pages[] = { 1, 2, 3 };
static const long rw_pages[] = { 63, 64, 65 };
/* The pages a device-write scenario writes, in mapping 1, apart. */
#define CALL_PAGE	10
#define CALL_NPAGES	10

static int run_sim_write(struct run *r, int map, uint32_t flags, long page,
			 long npages)
{
	uint64_t failed = 0;
	int ret;

	ret = __sim_write(r->dev.device_fd, flags, map_iova(map) + page * page_size,
			  npages * page_size, 0x0123456789abcdefULL, NULL,
			  &failed);
	return ret ?: failed ? -EIO : 0;
}

static void device_writes(struct run *r)
{
	struct __test_metadata *_metadata = r->meta;
	unsigned int i;

	if (!r->sim)
		return;
	for (i = 0; i < ARRAY_SIZE(pin_pages); i++)
		ASSERT_EQ(0, run_sim_write(r, 0, VFIO_DIRTY_SIM_DMA_PIN,
					   pin_pages[i], 1));
	for (i = 0; i < ARRAY_SIZE(rw_pages) && r->s->nmaps > 1; i++)
		ASSERT_EQ(0, run_sim_write(r, 1, 0, rw_pages[i], 1));
}

static bool always(struct run *r, int ret, int i)
{
	return i < r->s->nmaps;
}

/* The scenarios' calls. */

static int call_map(struct run *r)
{
	return __vfio_map(r->dev.container_fd, r->buf[1], map_iova(1), BUF_SIZE);
}

static bool present_map(struct run *r, int ret, int i)
{
	return i == 0 || !ret;
}

static int call_unmap(struct run *r)
{
	uint64_t unmapped = 0;
	int ret;

	ret = __vfio_unmap(r->dev.container_fd, map_iova(1), BUF_SIZE, &unmapped);
	if (!ret && unmapped != BUF_SIZE)
		return -ERANGE;
	return ret;
}

static bool present_unmap(struct run *r, int ret, int i)
{
	return i == 0 || ret;
}

static int call_unmap_bitmap(struct run *r)
{
	uint64_t unmapped = 0;
	int ret;

	ret = __vfio_unmap_bitmap(r->dev.container_fd, map_iova(1), BUF_SIZE,
				  page_size, r->call_bitmap + BUF_PAGES / 64,
				  BUF_PAGES / 8, &unmapped);
	if (!ret && unmapped != BUF_SIZE)
		return -ERANGE;
	r->reported[1] = !ret;
	return ret;
}

static int call_start(struct run *r)
{
	return __vfio_dirty(r->dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
}

static bool tracking_start(struct run *r, int ret)
{
	return !ret;
}

static int call_get_bitmap(struct run *r)
{
	int ret;

	ret = __vfio_get_bitmap(r->dev.container_fd, TEST_IOVA, NR_MAPS * BUF_SIZE,
				page_size, r->call_bitmap,
				sizeof(r->call_bitmap));
	r->reported[0] = !ret;
	r->reported[1] = !ret;
	return ret;
}

static int call_stop(struct run *r)
{
	return __vfio_dirty(r->dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

static bool tracking_stop(struct run *r, int ret)
{
	return ret;
}

static int call_get_info(struct run *r)
{
	struct vfio_iommu_type1_info *info = calloc(1, 4096);
	int ret;

	if (!info)
		return -ENOMEM;
	info->argsz = 4096;
	ret = __vfio_ioctl(r->dev.container_fd, VFIO_IOMMU_GET_INFO, info);
	if (!ret && !(info->flags & VFIO_IOMMU_INFO_CAPS))
		ret = -ENODATA;
	free(info);
	return ret;
}

static int call_update_vaddr(struct run *r)
{
	int ret;

	ret = __vfio_unmap_vaddr(r->dev.container_fd, 0, map_iova(1), BUF_SIZE,
				 NULL);
	return ret ?: __vfio_map_vaddr(r->dev.container_fd, 0, r->buf[1],
				       map_iova(1), BUF_SIZE);
}

/* The mapping's new vaddr, given by another process: its new owner. */
static int call_new_owner(struct run *r)
{
	return __vfio_map_vaddr(r->dev.container_fd, 0, r->buf[1], map_iova(1),
				BUF_SIZE);
}

static int call_write_rw(struct run *r)
{
	return run_sim_write(r, 1, 0, CALL_PAGE, CALL_NPAGES);
}

static int call_write_pin(struct run *r)
{
	return run_sim_write(r, 1, VFIO_DIRTY_SIM_DMA_PIN, CALL_PAGE,
			     CALL_NPAGES);
}

static int call_attach(struct run *r)
{
	return __vfio_ioctl(r->pci_group, VFIO_GROUP_SET_CONTAINER,
			    &r->dev.container_fd);
}

static int call_detach(struct run *r)
{
	return ioctl(r->pci_group, VFIO_GROUP_UNSET_CONTAINER) ? -errno : 0;
}

static int call_set_iommu(struct run *r)
{
	return ioctl(r->dev.container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) ?
	       -errno : 0;
}

#define BITS_FALLBACKS	"bits_store bits_table_alloc bits_block_alloc"
/*
 * Once vfio_dirty has let a group go, the IOMMU core gives it its default
 * domain back, and WARNs when an allocation fails there.
 */
#define NO_PROC_DETACH	\
	"an allocation failing in __iommu_release_dma_ownership() warns"

static const struct scenario scenarios[] = {
	{ .name = "map", .nmaps = 1, .track = true, .call = call_map,
	  .present = present_map },
	{ .name = "unmap", .nmaps = 2, .track = true, .call = call_unmap,
	  .present = present_unmap },
	{ .name = "unmap_bitmap", .nmaps = 2, .track = true,
	  .call = call_unmap_bitmap, .present = present_unmap },
	{ .name = "start", .nmaps = 2, .write_before_track = true,
	  .call = call_start, .tracking_after = tracking_start },
	{ .name = "get_bitmap", .nmaps = 2, .track = true,
	  .call = call_get_bitmap, .fallbacks = BITS_FALLBACKS, .whole = 0 },
	{ .name = "stop", .nmaps = 2, .track = true, .call = call_stop,
	  .tracking_after = tracking_stop },
	{ .name = "get_info", .nmaps = 2, .track = true, .call = call_get_info },
	{ .name = "update_vaddr", .needs_iommu = true, .nmaps = 2, .track = true,
	  .call = call_update_vaddr },
	{ .name = "update_vaddr_owner", .needs_iommu = true, .nmaps = 2,
	  .track = true, .invalid = true, .in_child = true,
	  .call = call_new_owner },
	{ .name = "write_dma_rw", .needs_sim = true, .nmaps = 2, .track = true,
	  .call = call_write_rw, .fallbacks = BITS_FALLBACKS, .whole = 1 },
	{ .name = "write_pin", .needs_sim = true, .nmaps = 2, .track = true,
	  .call = call_write_pin, .fallbacks = BITS_FALLBACKS, .whole = 1 },
	{ .name = "group_attach", .needs_sim = true, .needs_pci = true,
	  .nmaps = 2, .track = true, .call = call_attach },
	{ .name = "group_detach", .needs_sim = true, .needs_pci = true,
	  .nmaps = 2, .track = true, .attach_pci = true, .call = call_detach,
	  .fallbacks = "refresh_resv_regions iova_alloc",
	  .no_proc = NO_PROC_DETACH },
	{ .name = "group_detach_shared", .needs_sim = true, .needs_pci = true,
	  .needs_pci2 = true, .nmaps = 2, .track = true, .attach_pci = true,
	  .call = call_detach,
	  .fallbacks = "refresh_resv_regions iova_alloc",
	  .no_proc = NO_PROC_DETACH },
	{ .name = "set_iommu", .unset = true, .call = call_set_iommu },
};

static const struct scenario *scenario_named(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(scenarios); i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

/* Why @s cannot run here, or NULL. */
static const char *scenario_skip(const struct scenario *s)
{
	bool sim = vfio_device_is_dirty_sim(device_name);

	if (s->needs_sim && !sim)
		return "the device is not a vfio_dirty_sim instance";
	if (s->needs_iommu && sim)
		return "an emulated group's container refuses VFIO_UPDATE_VADDR";
	if (s->needs_pci && !getenv("VFIO_SELFTESTS_PCI_BDF"))
		return "no PCI device: set VFIO_SELFTESTS_PCI_BDF";
	if (s->needs_pci2 && !getenv("VFIO_SELFTESTS_PCI_BDF2"))
		return "no second PCI device: set VFIO_SELFTESTS_PCI_BDF2";
	return NULL;
}

/* Arming and reading back the fault. */

/**
 * struct injector - how faults are injected
 * @proc: through /proc/thread-self/fail-nth, else vfio_dirty's fail_nth
 * @fd: the open fail-nth file, for @proc
 */
struct injector {
	bool proc;
	int fd;
};

static int write_str(int fd, const char *s)
{
	return pwrite(fd, s, strlen(s), 0) < 0 ? -errno : 0;
}

static void arm(struct injector *inj, unsigned int n)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", n);
	/* Writing the parameter also forgets the last point that failed. */
	__module_param_write("vfio_dirty", "fail_nth", inj->proc ? "0" : buf);
	if (inj->proc)
		write_str(inj->fd, buf);
}

/* Disarm; return whether the fault fired, and where, in @point. */
static bool disarm(struct injector *inj, char *point, size_t size)
{
	char buf[16] = "";
	long left;
	char *nl;

	if (inj->proc) {
		if (pread(inj->fd, buf, sizeof(buf) - 1, 0) < 0)
			buf[0] = '\0';
		left = buf[0] ? strtol(buf, NULL, 10) : -1;
		write_str(inj->fd, "0");
	} else {
		left = sysfs_read_long(PARAMS "fail_nth");
	}
	if (__module_param_read("vfio_dirty", "fail_point", point, size))
		snprintf(point, size, "none");
	/* Writing the parameter forgets the point: after reading it. */
	if (!inj->proc)
		__module_param_write("vfio_dirty", "fail_nth", "0");
	nl = strchr(point, '\n');
	if (nl)
		*nl = '\0';
	/* Through fail-nth, a fault of the kernel's own, not of a point. */
	if (left == 0 && !strcmp(point, "none"))
		snprintf(point, size, "(kernel)");
	return left == 0;
}

/* What a call made in a child process did. */
struct child_call {
	int ret;
	bool fired;
	char point[64];
};

/*
 * Make @r's call in a child process, which arms fault @n for itself, as
 * @inj says: the parent's arming is its own thread's.  Return: the call's
 * result; whether the fault fired, and where, in @fired and @point.
 */
static int call_in_child(struct run *r, struct injector *inj, unsigned int n,
			 bool *fired, char *point, size_t size)
{
	struct injector own = { .proc = inj->proc, .fd = -1 };
	struct child_call *c;
	int status, ret;
	pid_t pid;

	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return -errno;
	c->ret = -ECHILD;
	pid = fork();
	if (!pid) {
		if (own.proc)
			own.fd = open(PROC_FAIL_NTH, O_RDWR);
		arm(&own, n);
		c->ret = r->s->call(r);
		c->fired = disarm(&own, c->point, sizeof(c->point));
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		c->ret = -ECHILD;
	ret = c->ret;
	*fired = c->fired;
	snprintf(point, size, "%s", c->point);
	munmap(c, sizeof(*c));
	return ret;
}

static bool word_in(const char *word, const char *list)
{
	size_t len = strlen(word);
	const char *p;

	for (p = list; p && (p = strstr(p, word)); p += len)
		if ((p == list || p[-1] == ' ') && (!p[len] || p[len] == ' '))
			return true;
	return false;
}

/* Setting a run up, before the fault is armed. */

static void run_setup(struct run *r)
{
	struct __test_metadata *_metadata = r->meta;
	const struct scenario *s = r->s;
	const char *bdf = getenv("VFIO_SELFTESTS_PCI_BDF");
	const char *bdf2 = getenv("VFIO_SELFTESTS_PCI_BDF2");
	uint64_t seq;
	int i, ret;

	r->pci_group = -1;
	r->pci_group2 = -1;
	r->sim = vfio_device_is_dirty_sim(device_name);
	if (s->unset) {
		memset(&r->dev, 0, sizeof(r->dev));
		r->dev.device_fd = -1;
		r->dev.container_fd = open("/dev/vfio/vfio", O_RDWR);
		ASSERT_LE(0, r->dev.container_fd);
		r->dev.group_fd = __vfio_group_open(device_name);
		ASSERT_LE(0, r->dev.group_fd);
		ASSERT_EQ(0, __vfio_ioctl(r->dev.group_fd,
					  VFIO_GROUP_SET_CONTAINER,
					  &r->dev.container_fd));
		return;
	}
	ret = __vfio_test_device_open(&r->dev, device_name, VFIO_TYPE1v2_IOMMU);
	ASSERT_EQ(0, ret) TH_LOG("opening %s: %s", device_name, strerror(-ret));
	if (s->needs_pci) {
		r->pci_group = __vfio_group_open(bdf);
		ASSERT_LE(0, r->pci_group) TH_LOG("%s: %s", bdf,
						  strerror(-r->pci_group));
	}
	for (i = 0; i < s->nmaps; i++)
		ASSERT_EQ(0, __vfio_map(r->dev.container_fd, r->buf[i],
					map_iova(i), BUF_SIZE));
	if (r->sim)
		ASSERT_EQ(0, __sim_log_read(r->dev.device_fd, 0, TEST_IOVA, 1,
					    &seq, &r->seq0, NULL));
	if (s->write_before_track)
		device_writes(r);
	if (s->track)
		ASSERT_EQ(0, __vfio_dirty(r->dev.container_fd,
					  VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	if (!s->write_before_track)
		device_writes(r);
	if (s->attach_pci)
		ASSERT_EQ(0, call_attach(r));
	if (s->needs_pci2) {
		r->pci_group2 = __vfio_group_open(bdf2);
		ASSERT_LE(0, r->pci_group2) TH_LOG("%s: %s", bdf2,
						   strerror(-r->pci_group2));
		ASSERT_EQ(0, __vfio_ioctl(r->pci_group2, VFIO_GROUP_SET_CONTAINER,
					  &r->dev.container_fd));
	}
	if (s->invalid)
		ASSERT_EQ(0, __vfio_unmap_vaddr(r->dev.container_fd, 0,
						map_iova(1), BUF_SIZE, NULL));
}

static void run_close(struct run *r)
{
	if (r->pci_group >= 0)
		close(r->pci_group);
	if (r->pci_group2 >= 0)
		close(r->pci_group2);
	r->pci_group = -1;
	r->pci_group2 = -1;
	vfio_test_device_close(&r->dev);
}

/* The checks after the call. */

#define BROKE(r, what, fmt, ...) do {					\
	ksft_print_msg("%s: " fmt "\n", (r)->s->name, ##__VA_ARGS__);	\
	broke |= (what);						\
} while (0)

/*
 * The pages that must be reported dirty, in @want: everything mapped
 * behind an IOMMU; with the simulated device, what it wrote (logged) since
 * the run began, but pinned pages only (mapping 0's) when @pinned_only,
 * or, with @after_call, in a mapping the call reported.
 */
static int want_dirty(struct run *r, bool pinned_only, bool after_call,
		      bool *want)
{
	uint64_t seqs[ALL_PAGES];
	int i, p, ret;

	for (i = 0; i < NR_MAPS; i++)
		for (p = 0; p < BUF_PAGES; p++)
			want[i * BUF_PAGES + p] = !r->sim;
	if (!r->sim)
		return 0;
	ret = __sim_log_read(r->dev.device_fd, 0, TEST_IOVA, ALL_PAGES, seqs,
			     NULL, NULL);
	if (ret)
		return ret;
	for (i = 0; i < NR_MAPS; i++) {
		bool pinned = pinned_only || (after_call && r->reported[i]);

		for (p = 0; p < BUF_PAGES; p++)
			want[i * BUF_PAGES + p] = seqs[i * BUF_PAGES + p] > r->seq0 &&
						  (i == 0 || !pinned);
	}
	return 0;
}

static unsigned int check_after(struct run *r, int ret, bool fired,
				const char *point, bool proc)
{
	const struct scenario *s = r->s;
	int cfd = r->dev.container_fd;
	bool want[ALL_PAGES], present[NR_MAPS];
	/* What the device wrote before tracking started is not due. */
	bool pinned_only = s->write_before_track;
	bool absorbed = false;
	uint64_t bitmap[ALL_WORDS] = {}, unmapped;
	unsigned int broke = 0;
	int i, p, err;

	/* The call failed, or a fallback took over. */
	if (!fired && ret)
		BROKE(r, BROKE_BASELINE, "fails with no fault: %s", strerror(-ret));
	if (fired && !ret) {
		absorbed = word_in(point, s->fallbacks);
		if (s->unset && module_refcnt("vfio_dirty") == r->refcnt)
			absorbed = true;	/* another backend took it */
		if (proc && !strcmp(point, "(kernel)"))
			absorbed = true;
		if (!absorbed)
			BROKE(r, BROKE_ERROR, "%s failed, the call succeeded", point);
	}
	if (s->unset)
		return broke;

	/* Every page written is reported, by the call or the next query. */
	if (s->tracking_after ? !s->tracking_after(r, ret) : !s->track) {
		err = __vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
		if (err)
			BROKE(r, BROKE_BITS, "START after the call: %s",
			      strerror(-err));
		pinned_only = true;
	}
	for (i = 0; i < NR_MAPS; i++)
		present[i] = s->present ? s->present(r, ret, i) : always(r, ret, i);
	err = want_dirty(r, pinned_only, false, want);
	for (i = 0; !err && i < NR_MAPS; i++) {
		if (!r->reported[i])
			continue;
		for (p = 0; p < BUF_PAGES; p++) {
			if (want[i * BUF_PAGES + p] &&
			    !bitmap_test_bit(r->call_bitmap, i * BUF_PAGES + p)) {
				BROKE(r, BROKE_BITS, "page %d of mapping %d not in its bitmap",
				      p, i);
				break;
			}
		}
	}
	/* What the call reported is not due again, but pinned pages. */
	if (!err)
		err = want_dirty(r, pinned_only, true, want);
	if (err)
		BROKE(r, BROKE_BITS, "reading the device's log: %s", strerror(-err));
	err = __vfio_get_bitmap(cfd, TEST_IOVA, NR_MAPS * BUF_SIZE, page_size,
				bitmap, sizeof(bitmap));
	if (err)
		BROKE(r, BROKE_BITS, "GET_BITMAP after the call: %s", strerror(-err));
	for (i = 0; !err && i < NR_MAPS; i++) {
		bool whole = absorbed && i == s->whole && !strncmp(point, "bits_", 5);

		if (!present[i])
			continue;
		for (p = 0; p < BUF_PAGES; p++) {
			if ((want[i * BUF_PAGES + p] || whole) &&
			    !bitmap_test_bit(bitmap, i * BUF_PAGES + p)) {
				BROKE(r, BROKE_BITS, "page %d of mapping %d lost after %s%s",
				      p, i, fired ? point : "no fault",
				      whole ? " (due whole)" : "");
				break;
			}
		}
	}

	/* Every mapping is there or not, as the call said. */
	for (i = 0; i < NR_MAPS; i++) {
		unmapped = 0;
		err = __vfio_unmap(cfd, map_iova(i), BUF_SIZE, &unmapped);
		if (err || unmapped != (present[i] ? BUF_SIZE : 0))
			BROKE(r, BROKE_MAPPING, "mapping %d: %s, %llu bytes, not %s, after %s",
			      i, err ? strerror(-err) : "ok",
			      (unsigned long long)unmapped,
			      present[i] ? "all" : "none",
			      fired ? point : "no fault");
	}
	return broke;
}

/*
 * Sweep @s: n = 1, 2, ... until a run completes without the fault.  Return
 * the invariants broken, over all runs; @reached gets the points.
 */
static unsigned int sweep(struct __test_metadata *_metadata,
			  const struct scenario *s, struct injector *inj,
			  void **bufs, struct points *reached,
			  unsigned int *runs)
{
	unsigned int n, broke = 0, b;
	char point[64];
	long locked, tracking;
	struct run r;
	bool fired;
	int ret;

	for (n = 1; n <= MAX_NTH; n++) {
		memset(&r, 0, sizeof(r));
		r.meta = _metadata;
		r.s = s;
		memcpy(r.buf, bufs, sizeof(r.buf));
		locked = proc_self_status_kb("VmLck");
		tracking = sysfs_read_long(TRACKING_BYTES);
		run_setup(&r);
		r.refcnt = module_refcnt("vfio_dirty");

		if (s->in_child) {
			ret = call_in_child(&r, inj, n, &fired, point,
					    sizeof(point));
		} else {
			arm(inj, n);
			ret = s->call(&r);
			fired = disarm(inj, point, sizeof(point));
		}

		if (fired)
			points_add(reached, point);
		b = check_after(&r, ret, fired, point, inj->proc);
		run_close(&r);
		if (proc_self_status_kb("VmLck") != locked)
			b |= BROKE_LOCKED_VM;
		if (sysfs_read_long(TRACKING_BYTES) != tracking)
			b |= BROKE_TRACKING;
		if (b)
			ksft_print_msg("%s: n=%u, %s, %s: broke %#x\n", s->name, n,
				       fired ? point : "no fault",
				       ret ? strerror(-ret) : "ok", b);
		if (b & (BROKE_LOCKED_VM | BROKE_TRACKING))
			ksft_print_msg("%s: VmLck %ld -> %ld kB, tracking_bytes %ld -> %ld\n",
				       s->name, locked,
				       proc_self_status_kb("VmLck"), tracking,
				       sysfs_read_long(TRACKING_BYTES));
		broke |= b;
		if (!fired)
			break;
	}
	*runs = n;
	if (n > MAX_NTH)
		ksft_print_msg("%s: still failing after %u points\n", s->name,
			       MAX_NTH);
	return broke;
}

static void *map_anon(size_t size)
{
	return mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Let /proc/thread-self/fail-nth fail what a sweep needs, quietly. */
static void fault_debugfs_setup(void)
{
	static const char *const settings[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
		{ "fail_usercopy/verbose", "0" },
	};
	char path[128];
	unsigned int i;
	int fd;

	if (access(DEBUGFS "/failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (i = 0; i < ARRAY_SIZE(settings); i++) {
		snprintf(path, sizeof(path), DEBUGFS "/%s", settings[i][0]);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			continue;
		write_str(fd, settings[i][1]);
		close(fd);
	}
}

FIXTURE(fail_nth) {
	void *buf[NR_MAPS];
	struct injector inj;
};

FIXTURE_VARIANT(fail_nth) {
	const char *scenario;
};

FIXTURE_VARIANT_ADD(fail_nth, map) { .scenario = "map" };
FIXTURE_VARIANT_ADD(fail_nth, unmap) { .scenario = "unmap" };
FIXTURE_VARIANT_ADD(fail_nth, unmap_bitmap) { .scenario = "unmap_bitmap" };
FIXTURE_VARIANT_ADD(fail_nth, start) { .scenario = "start" };
FIXTURE_VARIANT_ADD(fail_nth, get_bitmap) { .scenario = "get_bitmap" };
FIXTURE_VARIANT_ADD(fail_nth, stop) { .scenario = "stop" };
FIXTURE_VARIANT_ADD(fail_nth, get_info) { .scenario = "get_info" };
FIXTURE_VARIANT_ADD(fail_nth, update_vaddr) { .scenario = "update_vaddr" };
FIXTURE_VARIANT_ADD(fail_nth, update_vaddr_owner) { .scenario = "update_vaddr_owner" };
FIXTURE_VARIANT_ADD(fail_nth, write_dma_rw) { .scenario = "write_dma_rw" };
FIXTURE_VARIANT_ADD(fail_nth, write_pin) { .scenario = "write_pin" };
FIXTURE_VARIANT_ADD(fail_nth, group_attach) { .scenario = "group_attach" };
FIXTURE_VARIANT_ADD(fail_nth, group_detach) { .scenario = "group_detach" };
FIXTURE_VARIANT_ADD(fail_nth, group_detach_shared) { .scenario = "group_detach_shared" };
FIXTURE_VARIANT_ADD(fail_nth, set_iommu) { .scenario = "set_iommu" };

FIXTURE_SETUP(fail_nth)
{
	const struct scenario *s = scenario_named(variant->scenario);
	const char *why = NULL;
	int i;

	self->inj.fd = -1;
	for (i = 0; i < NR_MAPS; i++)
		self->buf[i] = MAP_FAILED;
	if (!device_name)
		why = "no device: " VFIO_SELFTESTS_HOWTO;
	else if (access(PARAMS "fail_nth", F_OK))
		why = "vfio_dirty is not loaded, or built without CONFIG_VFIO_DIRTY_TEST";
	else
		why = scenario_skip(s);
	if (why)
		SKIP(return, "%s", why);
	for (i = 0; i < NR_MAPS; i++) {
		self->buf[i] = map_anon(BUF_SIZE);
		ASSERT_NE(MAP_FAILED, self->buf[i]);
		memset(self->buf[i], 0x5a, BUF_SIZE);
	}
}

FIXTURE_TEARDOWN(fail_nth)
{
	int i;

	__module_param_write("vfio_dirty", "fail_nth", "0");
	if (self->inj.fd >= 0) {
		write_str(self->inj.fd, "0");
		close(self->inj.fd);
	}
	for (i = 0; i < NR_MAPS; i++)
		if (self->buf[i] != MAP_FAILED)
			munmap(self->buf[i], BUF_SIZE);
}

static void sweep_report(struct __test_metadata *_metadata,
			 const struct scenario *s, struct injector *inj,
			 void **bufs)
{
	struct points reached = {};
	unsigned int broke, runs, i;
	char list[MAX_POINTS * 32] = "";
	double t0 = now_ms(), ms;

	broke = sweep(_metadata, s, inj, bufs, &reached, &runs);
	ms = now_ms() - t0;
	for (i = 0; i < reached.n; i++) {
		strcat(list, " ");
		strcat(list, reached.name[i]);
		points_add(all_points, reached.name[i]);
	}
	all_points->sweeps++;
	all_points->ms += ms;
	ksft_print_msg("%s (%s): %u fault points reached in %u runs, %.0f ms:%s\n",
		       s->name, inj->proc ? PROC_FAIL_NTH : "fail_nth",
		       reached.n, runs, ms, list);
	EXPECT_EQ(0, broke);
	EXPECT_GT(runs, 1) TH_LOG("the call reached no fault point");
}

/* Through vfio_dirty's own hook. */
TEST_F_TIMEOUT(fail_nth, sweep, SWEEP_TIMEOUT)
{
	sweep_report(_metadata, scenario_named(variant->scenario), &self->inj,
		     self->buf);
}

/* Through /proc/thread-self/fail-nth: the kernel's sites count too. */
TEST_F_TIMEOUT(fail_nth, sweep_proc, SWEEP_TIMEOUT)
{
	const struct scenario *s = scenario_named(variant->scenario);

	if (access(PROC_FAIL_NTH, F_OK))
		SKIP(return, "the kernel has no " PROC_FAIL_NTH " (CONFIG_FAULT_INJECTION)");
	if (s->no_proc)
		SKIP(return, "%s", s->no_proc);
	fault_debugfs_setup();
	self->inj.proc = true;
	self->inj.fd = open(PROC_FAIL_NTH, O_RDWR);
	ASSERT_LE(0, self->inj.fd);
	sweep_report(_metadata, s, &self->inj, self->buf);
}

/*
 * The negative controls: with an error path broken on purpose, the sweep
 * must see the invariant it breaks.
 */
FIXTURE(broken) {
	void *buf[NR_MAPS];
	struct injector inj;
};

FIXTURE_SETUP(broken)
{
	int i;

	for (i = 0; i < NR_MAPS; i++)
		self->buf[i] = MAP_FAILED;
	self->inj.fd = -1;
	if (!device_name || !vfio_device_is_dirty_sim(device_name))
		SKIP(return, "the device is not a vfio_dirty_sim instance");
	if (access(PARAMS "break_unwind", F_OK))
		SKIP(return, "vfio_dirty is built without CONFIG_VFIO_DIRTY_TEST");
	for (i = 0; i < NR_MAPS; i++) {
		self->buf[i] = map_anon(BUF_SIZE);
		ASSERT_NE(MAP_FAILED, self->buf[i]);
	}
}

FIXTURE_TEARDOWN(broken)
{
	int i;

	__module_param_write("vfio_dirty", "break_unwind", "none");
	__module_param_write("vfio_dirty", "fail_nth", "0");
	for (i = 0; i < NR_MAPS; i++)
		if (self->buf[i] != MAP_FAILED)
			munmap(self->buf[i], BUF_SIZE);
}

/* A GET_BITMAP that fails and clears its bits all the same loses pages. */
TEST_F(broken, report_clears_bits)
{
	struct points reached = {};
	unsigned int runs;

	ASSERT_EQ(0, __module_param_write("vfio_dirty", "break_unwind", "report"));
	EXPECT_EQ(BROKE_BITS, sweep(_metadata, scenario_named("get_bitmap"),
				    &self->inj, self->buf, &reached, &runs) &
		  BROKE_BITS);
}

/* A failed pin that stays counted leaves locked_vm up after close. */
TEST_F(broken, pin_stays_counted)
{
	struct points reached = {};
	unsigned int runs;

	ASSERT_EQ(0, __module_param_write("vfio_dirty", "break_unwind",
					  "pin_account"));
	EXPECT_EQ(BROKE_LOCKED_VM,
		  sweep(_metadata, scenario_named("write_pin"), &self->inj,
			self->buf, &reached, &runs) & BROKE_LOCKED_VM);
}

/*
 * The fault points a run may not reach in the test VM, and why (see
 * "Fault injection" in Documentation/driver-api/vfio-dirty.rst): the
 * first and last never, refresh_resv_regions without a second PCI device.
 */
static const struct {
	const char *point;
	const char *why;
} unreachable[] = {
	{ "iommu_map_copy",
	  "needs a second IOMMU domain; behind one intel-iommu, groups share one" },
	{ "refresh_resv_regions",
	  "needs an IOMMU group to stay as another leaves: VFIO_SELFTESTS_PCI_BDF2" },
	{ "msi_cookie",
	  "needs an IOMMU with a software MSI window; intel-iommu's is in hardware" },
};

static void print_totals(void)
{
	char list[MAX_POINTS * 32] = "";
	unsigned int i, j;

	for (i = 0; i < all_points->n; i++) {
		strcat(list, " ");
		strcat(list, all_points->name[i]);
	}
	ksft_print_msg("total: %u distinct fault points reached over %u sweeps, %.0f ms:%s\n",
		       all_points->n, all_points->sweeps, all_points->ms, list);
	for (i = 0; i < ARRAY_SIZE(unreachable); i++) {
		for (j = 0; j < all_points->n; j++)
			if (!strcmp(all_points->name[j], unreachable[i].point))
				break;
		if (j == all_points->n)
			ksft_print_msg("not reachable here: %s: %s\n",
				       unreachable[i].point, unreachable[i].why);
	}
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	page_size = getpagesize();
	all_points = mmap(NULL, sizeof(*all_points), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (all_points == MAP_FAILED)
		return KSFT_FAIL;
	atexit(print_totals);
	return test_harness_run(argc, argv);
}
