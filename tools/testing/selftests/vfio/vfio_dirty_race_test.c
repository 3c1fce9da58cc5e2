// SPDX-License-Identifier: GPL-2.0
/*
 * Races on one container of the vfio_dirty backend, and the end of its
 * users' lives under load.
 *
 * concurrent.everything_at_once: one container, two simulated devices writing
 * (instance 0 through vfio_dma_rw() over the mappings M and U, instance A
 * through pins over U), and one thread per kind of request, each a bounded
 * number of times: GET_BITMAP over M and U; unmap of U with its bitmap,
 * and map again; map and plain unmap of a third mapping C; VFIO_UPDATE_VADDR
 * requests (refused: an mdev is attached); dirty tracking STOP then START;
 * a third instance B whose group is attached, writes into C and is detached;
 * and, when VFIO_SELFTESTS_PCI_BDF names a PCI device bound to vfio-pci, its
 * group attached and detached.
 *
 * No dirty page lost.  The write log gives, per page, the sequence number s
 * of the last write that succeeded; each report is kept with the devices'
 * sequence numbers read once it returned (s_post).  A report whose s_post
 * is below s returned before that write took its number, so cannot hold
 * it; the first report made after the write can.  So every page whose last
 * write started once tracking was started for the last time must be set
 * in some report with s_post >= s: dirty_lost() counts those that are not.
 * At the end, with the threads joined, a report, a full lap of the writer,
 * then a last report: without the last report, dirty_lost() must find
 * every page of M (the negative control; the pages of U may also be
 * reported because A holds them pinned).
 *
 * concurrent.close_under_load: the same threads, each with its own duplicate of
 * the container and device files, while the container and instance 0 are
 * closed under them: the requests fail, nothing else happens, and once
 * the last file is closed nothing is left pinned or tracked.
 *
 * lifecycle.remove_during_chunked_unmap: an instance that shares the
 * container with the test's is removed and its device closed while an
 * unmap with bitmap, reported a word at a time, waits in its dma_unmap
 * callback (the instance's unmap_delay_ms);
 * lifecycle.detach_during_chunked_unmap closes the test's instance and the
 * container too, which then loses its last group: vfio_dirty must not free
 * the container under the unmap.
 *
 * lifecycle.close_during_long_report: the container is closed while another
 * thread's GET_BITMAP over 64 GiB, reported a word at a time, writes the
 * bitmap.
 *
 * Each test checks afterwards that VmLck, vfio_dirty's tracking_bytes and
 * its module reference count are back where they were.  The tests need a
 * vfio_dirty_sim instance, root, vfio_dirty loaded and built with
 * CONFIG_VFIO_DIRTY_TEST for the last test; they make and remove the other
 * instances they use.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vfio_util.h"

#define M_IOVA		SZ_1G
#define M_PAGES		512
#define U_PAGES		64
#define U_IOVA		(M_IOVA + M_PAGES * page_size)
/* M and U, the range every report covers: whole words of bitmap. */
#define R_PAGES		(M_PAGES + U_PAGES)
#define R_WORDS		(R_PAGES / 64)
#define C_IOVA		(M_IOVA + 2 * R_PAGES * page_size)
#define C_PAGES		64

/* Reports a word of bitmap at a time, so that every one is chunked. */
#define CHUNK_BYTES	"8"
#define WAIT_MS		20000
#define MAX_REPORTS	512

#define STATS		"/sys/module/vfio_dirty/stats/"

static const char *device_name;
static uint64_t page_size;

/* A report of M and U, and the devices' sequence numbers once it returned. */
struct report {
	uint64_t bits[R_WORDS];
	uint64_t s_post[2];
};

struct race;

/* One thread: what it did, and the first result no request may have. */
struct race_thread {
	const char *name;
	void (*fn)(struct race_thread *t);
	struct race *race;
	pthread_t thread;
	int cfd;		/* its own duplicate of the container */
	int afd;		/* and of instance A's device */
	long ok;
	long bad;
	char why[160];
};

enum { THR_REPORT, THR_UNMAP_BITMAP, THR_CHURN, THR_VADDR, THR_TRACKING,
	THR_GROUP, THR_PCI, NR_THREADS };

struct race {
	int dev_fd[2];		/* instance 0 and A */
	const char *b_uuid;
	const char *pci_bdf;
	void *buf;		/* R_PAGES + C_PAGES pages */
	atomic_bool closed;	/* the container is being closed */
	atomic_int nr_reports;
	struct report *reports;
	uint64_t s_start[2];	/* after the last START */
	struct race_thread t[NR_THREADS];
};

static void *map_anon(size_t size)
{
	return mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* The last sequence number device @fd has taken, or 0 when it cannot tell. */
static uint64_t dev_seq(int fd)
{
	uint64_t entry, seq = 0;

	if (__sim_log_read(fd, 0, M_IOVA, 1, &entry, &seq, NULL))
		return 0;
	return seq;
}

/* The last sequence number device @fd has taken, and its failed writes. */
static uint64_t log_seq_failed(int fd, uint64_t *failed)
{
	uint64_t entry, seq = 0;

	*failed = 0;
	__sim_log_read(fd, 0, M_IOVA, 1, &entry, &seq, failed);
	return seq;
}

/*
 * Note a result no request may have, unless the container is being closed:
 * then any errno is allowed.  The flag is read after the request returned,
 * so a request that failed because of the close always sees it set.
 */
static void bad(struct race_thread *t, const char *op, int ret)
{
	if (atomic_load(&t->race->closed))
		return;
	if (!t->bad++)
		snprintf(t->why, sizeof(t->why), "%s: %s (%d)", op,
			 strerror(ret < 0 ? -ret : ret), ret);
}

static void keep_report(struct race *race, const uint64_t *bits,
			unsigned int first_word, unsigned int nwords)
{
	int i = atomic_fetch_add(&race->nr_reports, 1);
	struct report *r;

	if (i >= MAX_REPORTS)
		return;
	r = &race->reports[i];
	memset(r->bits, 0, sizeof(r->bits));
	memcpy(r->bits + first_word, bits, nwords * sizeof(*bits));
	r->s_post[0] = dev_seq(race->dev_fd[0]);
	r->s_post[1] = dev_seq(race->dev_fd[1]);
}

static void do_report(struct race_thread *t)
{
	uint64_t bits[R_WORDS];
	int i, ret;

	/* 150 reports, or as many as tracking lets happen in 2000 tries. */
	for (i = 0; i < 2000 && t->ok < 150; i++) {
		memset(bits, 0, sizeof(bits));
		ret = __vfio_get_bitmap(t->cfd, M_IOVA, R_PAGES * page_size,
					page_size, bits, sizeof(bits));
		if (!ret) {
			if (!atomic_load(&t->race->closed))
				keep_report(t->race, bits, 0, R_WORDS);
			t->ok++;
		} else if (ret == -EINVAL) {	/* tracking stopped */
			usleep(1000);
		} else {
			bad(t, "GET_BITMAP", ret);
		}
	}
}

static void do_unmap_bitmap(struct race_thread *t)
{
	const struct vfio_dirty_sim_range u = { U_IOVA, U_PAGES * page_size };
	void *vaddr = (char *)t->race->buf + M_PAGES * page_size;
	uint64_t bits[U_PAGES / 64], unmapped;
	int i, ret;

	/* 60 unmaps, or as many as tracking lets happen in 1000 tries. */
	for (i = 0; i < 1000 && t->ok < 60; i++) {
		memset(bits, 0, sizeof(bits));
		ret = __vfio_unmap_bitmap(t->cfd, U_IOVA, U_PAGES * page_size,
					  page_size, bits, sizeof(bits),
					  &unmapped);
		if (ret == -EINVAL) {	/* tracking stopped */
			usleep(1000);
			continue;
		}
		if (ret || unmapped != U_PAGES * page_size) {
			bad(t, "UNMAP_DMA with bitmap", ret ? ret : -EPROTO);
			continue;
		}
		if (!atomic_load(&t->race->closed))
			keep_report(t->race, bits, M_PAGES / 64, U_PAGES / 64);
		ret = __vfio_map(t->cfd, vaddr, U_IOVA, U_PAGES * page_size);
		if (ret)
			bad(t, "MAP_DMA of U", ret);
		/* The unmap fenced U against A's pins: program A again. */
		ret = __sim_writer_stop(t->afd);
		if (!ret)
			ret = __sim_writer_start(t->afd, VFIO_DIRTY_SIM_DMA_PIN,
						 2, &u, 1);
		if (ret)
			bad(t, "restarting A's writer", ret);
		t->ok++;
	}
}

static void do_churn(struct race_thread *t)
{
	void *vaddr = (char *)t->race->buf + R_PAGES * page_size;
	uint64_t unmapped;
	int i, ret;

	for (i = 0; i < 100; i++) {
		ret = __vfio_map(t->cfd, vaddr, C_IOVA, C_PAGES * page_size);
		if (ret) {
			bad(t, "MAP_DMA of C", ret);
			continue;
		}
		ret = __vfio_unmap(t->cfd, C_IOVA, C_PAGES * page_size,
				   &unmapped);
		if (ret || unmapped != C_PAGES * page_size)
			bad(t, "UNMAP_DMA of C", ret ? ret : -EPROTO);
		else
			t->ok++;
	}
}

/* With an mdev attached, no vaddr can be invalidated, so none updated. */
static void do_vaddr(struct race_thread *t)
{
	uint64_t size;
	int i, ret;

	for (i = 0; i < 100; i++) {
		ret = __vfio_unmap_vaddr(t->cfd, 0, M_IOVA,
					 M_PAGES * page_size, &size);
		if (ret != -EBUSY)
			bad(t, "UNMAP_DMA with FLAG_VADDR", ret ? ret : -EPROTO);
		ret = __vfio_map_vaddr(t->cfd, 0, t->race->buf, M_IOVA,
				       M_PAGES * page_size);
		if (ret != -EINVAL)
			bad(t, "MAP_DMA with FLAG_VADDR", ret ? ret : -EPROTO);
		else
			t->ok++;
	}
}

/* STOP then START; tracking is on when it returns. */
static void do_tracking(struct race_thread *t)
{
	struct race *race = t->race;
	int i, ret;

	for (i = 0; i < 20; i++) {
		ret = __vfio_dirty(t->cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
		if (ret)
			bad(t, "STOP", ret);
		usleep(2000);
		ret = __vfio_dirty(t->cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
		if (ret) {
			bad(t, "START", ret);
			continue;
		}
		race->s_start[0] = dev_seq(race->dev_fd[0]);
		race->s_start[1] = dev_seq(race->dev_fd[1]);
		t->ok++;
		usleep(5000);
	}
}

/* Instance B joins, writes into C, and leaves. */
static void do_group(struct race_thread *t)
{
	int i, group, dev, ret;

	for (i = 0; i < 8; i++) {
		group = __vfio_group_open(t->race->b_uuid);
		if (group < 0) {
			bad(t, "opening B's group", group);
			continue;
		}
		if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &t->cfd)) {
			bad(t, "attaching B", -errno);
			close(group);
			continue;
		}
		dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, t->race->b_uuid);
		if (dev < 0) {
			bad(t, "opening B", -errno);
		} else {
			ret = __sim_write(dev, i % 2 ? VFIO_DIRTY_SIM_DMA_PIN : 0,
					  C_IOVA, C_PAGES * page_size, 3,
					  NULL, NULL);
			if (ret)
				bad(t, "B's write", ret);
			close(dev);
		}
		if (ioctl(group, VFIO_GROUP_UNSET_CONTAINER))
			bad(t, "detaching B", -errno);
		else
			t->ok++;
		close(group);
	}
}

static void do_pci(struct race_thread *t)
{
	int i, group;

	for (i = 0; t->race->pci_bdf && i < 4; i++) {
		group = __vfio_group_open(t->race->pci_bdf);
		if (group < 0) {
			bad(t, "opening the PCI group", group);
			continue;
		}
		if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &t->cfd))
			bad(t, "attaching the PCI group", -errno);
		else if (ioctl(group, VFIO_GROUP_UNSET_CONTAINER))
			bad(t, "detaching the PCI group", -errno);
		else
			t->ok++;
		close(group);
		usleep(10000);
	}
}

static void *race_thread_main(void *arg)
{
	struct race_thread *t = arg;

	t->fn(t);
	close(t->cfd);
	close(t->afd);
	return NULL;
}

static const struct {
	const char *name;
	void (*fn)(struct race_thread *t);
} race_fns[NR_THREADS] = {
	[THR_REPORT] = { "GET_BITMAP", do_report },
	[THR_UNMAP_BITMAP] = { "unmap with bitmap", do_unmap_bitmap },
	[THR_CHURN] = { "map and unmap", do_churn },
	[THR_VADDR] = { "VFIO_UPDATE_VADDR", do_vaddr },
	[THR_TRACKING] = { "STOP and START", do_tracking },
	[THR_GROUP] = { "attach and detach an mdev", do_group },
	[THR_PCI] = { "attach and detach a PCI group", do_pci },
};

/*
 * The pages lost: for device @d, each page whose last successful write
 * started after the last START (its number above s_start[d]) and is set in
 * none of the first @n reports that returned after it took that number.
 */
static long dirty_lost(const struct race *race, const uint64_t *const seqs[2],
		       int n)
{
	long p, lost = 0;
	int d, i;

	for (d = 0; d < 2; d++) {
		for (p = 0; p < R_PAGES; p++) {
			uint64_t s = seqs[d][p];

			if (s <= race->s_start[d])
				continue;
			for (i = 0; i < n; i++)
				if (race->reports[i].s_post[d] >= s &&
				    bitmap_test_bit(race->reports[i].bits, p))
					break;
			lost += i == n;
		}
	}
	return lost;
}

/*
 * What a test must leave as it found it: VmLck, vfio_dirty's tracking
 * memory and its module references.  The tests report a word of bitmap at
 * a time (chunk_size), and put the parameter back.
 */
struct baseline {
	long locked_kb, tracking, refcnt;
	char chunk[32];
};

static void baseline_take(struct __test_metadata *_metadata,
			  struct baseline *b)
{
	b->locked_kb = proc_self_status_kb("VmLck");
	b->tracking = vfio_dirty_tracking_bytes();
	b->refcnt = module_refcnt("vfio_dirty");
	ASSERT_LE(0, b->refcnt) TH_LOG("vfio_dirty is not loaded");
	module_param_read("vfio_dirty", "chunk_size", b->chunk,
			  sizeof(b->chunk));
	module_param_write("vfio_dirty", "chunk_size", CHUNK_BYTES);
}

/* Once everything the test opened is closed. */
static void baseline_check(struct __test_metadata *_metadata,
			   struct baseline *b)
{
	if (!b->chunk[0])
		return;
	__module_param_write("vfio_dirty", "chunk_size", b->chunk);
	EXPECT_EQ(b->locked_kb, proc_self_status_kb("VmLck"));
	EXPECT_EQ(b->tracking, vfio_dirty_tracking_bytes());
	EXPECT_EQ(b->refcnt, module_refcnt("vfio_dirty"));
}

/* Why the tests cannot run on the device under test, or NULL. */
static const char *unsupported(void)
{
	static char why[128];

	if (!device_name)
		return "no device: " VFIO_SELFTESTS_HOWTO;
	if (vfio_device_is_dirty_sim(device_name))
		return NULL;
	snprintf(why, sizeof(why), "%s is not a vfio_dirty_sim mdev instance",
		 device_name);
	return why;
}

FIXTURE(concurrent) {
	struct vfio_test_device dev;
	struct race race;
	struct baseline base;
	char a_uuid[40], b_uuid[40];
	int a_group, a_dev;
};

FIXTURE_SETUP(concurrent)
{
	int ret;

	memset(&self->race, 0, sizeof(self->race));
	vfio_test_device_init(&self->dev);
	self->a_group = -1;
	self->a_dev = -1;
	self->race.buf = MAP_FAILED;
	if (unsupported())
		SKIP(return, "%s", unsupported());
	baseline_take(_metadata, &self->base);
	sim_instance_create(device_name, self->a_uuid, sizeof(self->a_uuid));
	sim_instance_create(device_name, self->b_uuid, sizeof(self->b_uuid));

	ret = __vfio_test_device_open_on(&self->dev, device_name,
					 VFIO_TYPE1v2_IOMMU,
					 VFIO_BACKEND_VFIO_DIRTY);
	ASSERT_EQ(0, ret) TH_LOG("opening %s: %s", device_name, strerror(-ret));
	self->a_group = __vfio_group_open(self->a_uuid);
	ASSERT_LE(0, self->a_group);
	ASSERT_EQ(0, ioctl(self->a_group, VFIO_GROUP_SET_CONTAINER,
			   &self->dev.container_fd));
	self->a_dev = ioctl(self->a_group, VFIO_GROUP_GET_DEVICE_FD,
			    self->a_uuid);
	ASSERT_LE(0, self->a_dev);

	self->race.buf = map_anon((R_PAGES + C_PAGES) * page_size);
	ASSERT_NE(MAP_FAILED, self->race.buf);
	memset(self->race.buf, 0x5a, (R_PAGES + C_PAGES) * page_size);
	self->race.reports = calloc(MAX_REPORTS, sizeof(struct report));
	ASSERT_NE(NULL, self->race.reports);
	self->race.dev_fd[0] = self->dev.device_fd;
	self->race.dev_fd[1] = self->a_dev;
	self->race.b_uuid = self->b_uuid;
	self->race.pci_bdf = getenv("VFIO_SELFTESTS_PCI_BDF");
}

FIXTURE_TEARDOWN(concurrent)
{
	if (self->a_dev >= 0)
		close(self->a_dev);
	if (self->a_group >= 0)
		close(self->a_group);
	vfio_test_device_close(&self->dev);
	if (self->a_uuid[0])
		EXPECT_EQ(0, __sim_instance_remove(self->a_uuid));
	if (self->b_uuid[0])
		EXPECT_EQ(0, __sim_instance_remove(self->b_uuid));
	free(self->race.reports);
	if (self->race.buf != MAP_FAILED)
		munmap(self->race.buf, (R_PAGES + C_PAGES) * page_size);
	/* Nothing pinned, nothing tracked, no container left. */
	baseline_check(_metadata, &self->base);
}

/* Map M, U, start tracking and both writers, then start the threads. */
static void race_start(struct __test_metadata *_metadata,
		       struct race *race, int cfd, int a_dev)
{
	const struct vfio_dirty_sim_range mu[] = {
		{ M_IOVA, M_PAGES * page_size }, { U_IOVA, U_PAGES * page_size },
	};
	int i;

	/* M and U are two mappings: U comes and goes alone. */
	vfio_map(cfd, race->buf, M_IOVA, M_PAGES * page_size);
	vfio_map(cfd, (char *)race->buf + M_PAGES * page_size,
		 U_IOVA, U_PAGES * page_size);
	vfio_dirty(cfd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	race->s_start[0] = dev_seq(race->dev_fd[0]);
	race->s_start[1] = dev_seq(race->dev_fd[1]);
	sim_writer_start(race->dev_fd[0], 0, 1, mu, 2);
	sim_writer_start(race->dev_fd[1], VFIO_DIRTY_SIM_DMA_PIN, 2, &mu[1], 1);

	for (i = 0; i < NR_THREADS; i++) {
		struct race_thread *t = &race->t[i];

		t->name = race_fns[i].name;
		t->fn = race_fns[i].fn;
		t->race = race;
		t->cfd = dup(cfd);
		t->afd = dup(a_dev);
		ASSERT_LE(0, t->cfd);
		ASSERT_LE(0, t->afd);
		ASSERT_EQ(0, pthread_create(&t->thread, NULL, race_thread_main,
					    t));
	}
}

/* Join the threads; each did something and nothing it must not. */
static void race_join(struct __test_metadata *_metadata, struct race *race)
{
	int i;

	for (i = 0; i < NR_THREADS; i++) {
		struct race_thread *t = &race->t[i];

		ASSERT_EQ(0, pthread_join(t->thread, NULL));
		TH_LOG("%s: %ld done", t->name, t->ok);
		EXPECT_EQ(0, t->bad) TH_LOG("%s: %ld wrong, first %s", t->name,
					    t->bad, t->why);
		if (i != THR_PCI || race->pci_bdf)
			EXPECT_LT(0, t->ok) TH_LOG("%s did nothing", t->name);
	}
}

TEST_F_TIMEOUT(concurrent, everything_at_once, 120)
{
	struct race *race = &self->race;
	int cfd = self->dev.container_fd, fd0 = race->dev_fd[0], n;
	uint64_t bits[R_WORDS], s0, failed;
	uint64_t *seqs[2];
	double t0 = now_ms();
	long lost, pinned_kb;

	race_start(_metadata, race, self->dev.container_fd, self->a_dev);
	race_join(_metadata, race);
	TH_LOG("threads done in %.0f ms, %d reports", now_ms() - t0,
	       atomic_load(&race->nr_reports));
	ASSERT_GE(MAX_REPORTS - 2, atomic_load(&race->nr_reports));

	/* A report, a full lap of instance 0's writer over M and U... */
	memset(bits, 0, sizeof(bits));
	vfio_get_bitmap(cfd, M_IOVA, R_PAGES * page_size,
			page_size, bits, sizeof(bits));
	keep_report(race, bits, 0, R_WORDS);
	s0 = dev_seq(fd0);
	while (dev_seq(fd0) <= s0 + R_PAGES)
		ASSERT_GT(t0 + WAIT_MS * 10, now_ms()) TH_LOG("writer stalled");
	sim_writer_stop(fd0);
	sim_writer_stop(race->dev_fd[1]);
	/* ...and the last report. */
	memset(bits, 0, sizeof(bits));
	vfio_get_bitmap(cfd, M_IOVA, R_PAGES * page_size,
			page_size, bits, sizeof(bits));
	keep_report(race, bits, 0, R_WORDS);
	n = atomic_load(&race->nr_reports);

	seqs[0] = calloc(R_PAGES, sizeof(uint64_t));
	seqs[1] = calloc(R_PAGES, sizeof(uint64_t));
	ASSERT_NE(NULL, seqs[0]);
	ASSERT_NE(NULL, seqs[1]);
	sim_log_read(fd0, 0, M_IOVA, R_PAGES, seqs[0], NULL, NULL);
	sim_log_read(race->dev_fd[1], 0, M_IOVA, R_PAGES, seqs[1], NULL, NULL);

	lost = dirty_lost(race, (const uint64_t *const *)seqs, n);
	EXPECT_EQ(0, lost);
	/* The negative control: without the last report, M is lost. */
	lost = dirty_lost(race, (const uint64_t *const *)seqs, n - 1);
	EXPECT_LE(M_PAGES, lost);
	TH_LOG("%d reports; without the last one %ld pages are lost", n, lost);

	s0 = log_seq_failed(race->dev_fd[1], &failed);
	TH_LOG("instance A: %llu writes, %llu failed",
	       (unsigned long long)s0, (unsigned long long)failed);
	/* A holds pages of U pinned until its container lets them go. */
	pinned_kb = proc_self_status_kb("VmLck") - self->base.locked_kb;
	TH_LOG("pinned before the close: %ld kB", pinned_kb);
	EXPECT_LT(0, pinned_kb);
	free(seqs[0]);
	free(seqs[1]);
}

TEST_F_TIMEOUT(concurrent, close_under_load, 120)
{
	struct race *race = &self->race;
	double t0 = now_ms();
	long done;
	int i;

	race_start(_metadata, race, self->dev.container_fd, self->a_dev);
	/* Once every thread is under way, close all but the threads' files. */
	do {
		usleep(1000);
		for (done = 0, i = 0; i < NR_THREADS; i++)
			done += race->t[i].ok || race->t[i].bad || i == THR_PCI;
	} while (done < NR_THREADS && now_ms() < t0 + WAIT_MS);
	atomic_store(&race->closed, true);
	close(self->a_dev);
	self->a_dev = -1;
	close(self->a_group);
	self->a_group = -1;
	vfio_test_device_close(&self->dev);
	race_join(_metadata, race);
}

FIXTURE(lifecycle) {
	struct vfio_test_device dev;
	struct baseline base;
	char uuid[40];
	void *buf;
	size_t buf_size;
};

FIXTURE_SETUP(lifecycle)
{
	vfio_test_device_init(&self->dev);
	self->buf = MAP_FAILED;
	if (unsupported())
		SKIP(return, "%s", unsupported());
	baseline_take(_metadata, &self->base);
}

FIXTURE_TEARDOWN(lifecycle)
{
	vfio_test_device_close(&self->dev);
	if (self->buf != MAP_FAILED)
		munmap(self->buf, self->buf_size);
	baseline_check(_metadata, &self->base);
}

struct call {
	int fd;
	const char *uuid;
	uint64_t iova, size, *bits, nbytes;
	uint64_t unmapped;
	int ret;
	atomic_bool done;
};

static void *unmap_bitmap_thread(void *arg)
{
	struct call *c = arg;

	c->ret = __vfio_unmap_bitmap(c->fd, c->iova, c->size, page_size,
				     c->bits, c->nbytes, &c->unmapped);
	atomic_store(&c->done, true);
	return NULL;
}

static void *get_bitmap_thread(void *arg)
{
	struct call *c = arg;

	c->ret = __vfio_get_bitmap(c->fd, c->iova, c->size, page_size,
				   c->bits, c->nbytes);
	atomic_store(&c->done, true);
	return NULL;
}

static void *remove_thread(void *arg)
{
	struct call *c = arg;

	c->ret = __sim_instance_remove(c->uuid);
	atomic_store(&c->done, true);
	return NULL;
}

static long instance_unmap_calls(const char *uuid)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/unmap_calls",
		 uuid);
	return sysfs_read_long(path);
}

/*
 * An instance of its own, X, in the container of the test's instance,
 * writes through pins; then an unmap with bitmap waits in X's dma_unmap
 * callback (500 ms).  Meanwhile X's writer is stopped, X removed (which
 * waits for its device's close) and X's device and group closed.  The
 * removal completes and nothing stays pinned.  Without @detach the
 * container keeps the test's instance, so its mapping stays until the
 * unmap removes it and reports every page X wrote since START.
 * With @detach the test's instance and the container are closed too: the
 * container loses its last group, which removes every mapping, so the
 * unmap reports them all if it gets there first, else finds none.
 */
static void unmap_in_flight(struct __test_metadata *_metadata,
			    FIXTURE_DATA(lifecycle) * self, bool detach)
{
	const uint64_t npages = 512;
	const struct vfio_dirty_sim_range range = { M_IOVA, npages * page_size };
	struct call unmap = { .iova = M_IOVA, .size = npages * page_size };
	struct call rm = { .uuid = self->uuid };
	uint64_t bits[512 / 64] = { }, *seqs, s_start;
	pthread_t unmapper, remover;
	long calls, p, lost = 0;
	int x_group, x_dev;
	char path[128];

	self->buf_size = npages * page_size;
	self->buf = map_anon(self->buf_size);
	ASSERT_NE(MAP_FAILED, self->buf);
	sim_instance_create(device_name, self->uuid, sizeof(self->uuid));
	vfio_test_device_open_on(&self->dev, device_name,
				 VFIO_TYPE1v2_IOMMU,
				 VFIO_BACKEND_VFIO_DIRTY);
	x_group = __vfio_group_open(self->uuid);
	ASSERT_LE(0, x_group);
	ASSERT_EQ(0, ioctl(x_group, VFIO_GROUP_SET_CONTAINER,
			   &self->dev.container_fd));
	x_dev = ioctl(x_group, VFIO_GROUP_GET_DEVICE_FD, self->uuid);
	ASSERT_LE(0, x_dev);
	vfio_map(self->dev.container_fd, self->buf, M_IOVA, self->buf_size);
	vfio_dirty(self->dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	s_start = dev_seq(x_dev);
	sim_writer_start(x_dev, VFIO_DIRTY_SIM_DMA_PIN, 7, &range, 1);
	while (dev_seq(x_dev) < s_start + npages)
		usleep(1000);
	sim_instance_knob_write(self->uuid, "unmap_delay_ms", "500");
	calls = instance_unmap_calls(self->uuid);

	unmap.fd = self->dev.container_fd;
	unmap.bits = bits;
	unmap.nbytes = sizeof(bits);
	ASSERT_EQ(0, pthread_create(&unmapper, NULL, unmap_bitmap_thread,
				    &unmap));
	/* The callback has begun: the backend waits with its lock dropped. */
	while (instance_unmap_calls(self->uuid) == calls)
		usleep(1000);
	sim_writer_stop(x_dev);
	seqs = calloc(npages, sizeof(*seqs));
	ASSERT_NE(NULL, seqs);
	sim_log_read(x_dev, 0, M_IOVA, npages, seqs, NULL, NULL);
	ASSERT_EQ(0, pthread_create(&remover, NULL, remove_thread, &rm));
	usleep(100 * 1000);
	EXPECT_FALSE(atomic_load(&rm.done));
	EXPECT_FALSE(atomic_load(&unmap.done))
		TH_LOG("the unmap did not wait for its callback");
	close(x_dev);
	close(x_group);
	if (detach)
		vfio_test_device_close(&self->dev);

	ASSERT_EQ(0, pthread_join(unmapper, NULL));
	ASSERT_EQ(0, pthread_join(remover, NULL));
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(0, unmap.ret) TH_LOG("unmap: %s", strerror(-unmap.ret));
	EXPECT_EQ(0, rm.ret);
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", self->uuid);
	EXPECT_NE(0, access(path, F_OK));
	for (p = 0; p < (long)npages; p++)
		lost += seqs[p] > s_start && !bitmap_test_bit(bits, p);
	TH_LOG("the unmap removed %llu bytes, reported %llu pages",
	       (unsigned long long)unmap.unmapped,
	       (unsigned long long)bitmap_weight_bits(bits, npages));
	if (!detach || unmap.unmapped) {
		EXPECT_EQ(self->buf_size, unmap.unmapped);
		EXPECT_EQ(0, lost);
	}
	free(seqs);
}

TEST_F_TIMEOUT(lifecycle, remove_during_chunked_unmap, 120)
{
	unmap_in_flight(_metadata, self, false);
}

TEST_F_TIMEOUT(lifecycle, detach_during_chunked_unmap, 120)
{
	unmap_in_flight(_metadata, self, true);
}

/*
 * A GET_BITMAP over 64 GiB, all dirty, reported a word at a time, runs in
 * one thread while the main one closes the container, the device and the
 * group as soon as the bitmap's first word is written and before its last
 * is.  The report completes whole, and the close waited for it: the
 * group's detach needs the container's lock, which the report holds.
 */
TEST_F_TIMEOUT(lifecycle, close_during_long_report, 120)
{
	const uint64_t size = 64 * SZ_1G, nbits = size / page_size;
	struct call rep = { .iova = 64 * SZ_1G, .size = size };
	uint64_t *first, *last;
	bool in_flight, whole_at_close;
	pthread_t reporter;
	int ret;

	vfio_test_device_open_on(&self->dev, device_name,
				 VFIO_TYPE1v2_IOMMU,
				 VFIO_BACKEND_VFIO_DIRTY);
	self->buf_size = size;
	self->buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	vfio_map(self->dev.container_fd, self->buf, rep.iova, size);
	vfio_dirty(self->dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	ret = __vfio_dirty_test_set_dirty(self->dev.container_fd, rep.iova,
					  size);
	if (ret == -ENOTTY)
		SKIP(return, "vfio_dirty is built without CONFIG_VFIO_DIRTY_TEST");
	ASSERT_EQ(0, ret);

	rep.nbytes = nbits / 8;
	rep.bits = calloc(1, rep.nbytes);
	ASSERT_NE(NULL, rep.bits);
	first = rep.bits;
	last = rep.bits + nbits / 64 - 1;
	rep.fd = self->dev.container_fd;
	ASSERT_EQ(0, pthread_create(&reporter, NULL, get_bitmap_thread, &rep));
	/* The kernel writes the bitmap while this thread reads it. */
	while (!__atomic_load_n(first, __ATOMIC_RELAXED) &&
	       !atomic_load(&rep.done))
		;
	in_flight = !__atomic_load_n(last, __ATOMIC_RELAXED);
	/* The report runs: close everything under it. */
	vfio_test_device_close(&self->dev);
	whole_at_close = __atomic_load_n(last, __ATOMIC_RELAXED) == ~0ULL;
	ASSERT_EQ(0, pthread_join(reporter, NULL));
	EXPECT_TRUE(in_flight) TH_LOG("the report ended before the close began");
	EXPECT_TRUE(whole_at_close)
		TH_LOG("the close returned before the report ended");
	EXPECT_EQ(0, rep.ret);
	EXPECT_EQ(nbits, bitmap_weight_bits(rep.bits, nbits));
	free(rep.bits);
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	page_size = getpagesize();
	return test_harness_run(argc, argv);
}
