// SPDX-License-Identifier: GPL-2.0
/*
 * A differential fuzzer of the type1 container uAPI: the stock
 * vfio_iommu_type1 is the oracle, vfio_dirty the backend under test.
 *
 * A sequence is a list of calls drawn from one PRNG seeded with the seed:
 * container calls (MAP_DMA, UNMAP_DMA in all its forms, DIRTY_PAGES,
 * GET_INFO, CHECK_EXTENSION), closing and opening the container again
 * (the group leaves it and joins a new one), and device DMA: on a
 * simulated device writes and reads, through dma_rw or pins, so that
 * dirty bitmaps carry content; on edu (a PCI device behind the IOMMU,
 * lib/edu.c) writes from its buffer through the IOMMU mappings into
 * process memory.  Every argument is drawn up front from fixed pools, so
 * that a sequence does not depend on any result: the same seed and device
 * give the same calls, and any subset of them can be run again.
 *
 * The sequence runs twice on the same device, once per backend, each run
 * in a process of its own forked from one parent, so that both see the
 * same process addresses (anonymous memory, read-only memory, holes, a
 * NORESERVE range of terabytes, the BAR of a PCI device) and have their
 * own VmLck and RLIMIT_MEMLOCK.  Each run records, per call, the return
 * value or errno, unmap.size, what GET_INFO wrote, the dirty bitmap, the
 * device's transfer counts and data, and VmLck after the call.  The
 * records are compared call by call.
 *
 * The DMA engine follows the device, and names the test cases: an
 * instance of vfio_dirty_sim runs "differential_sim", an edu
 * "differential_edu", another device "differential" (no DMA).  edu's
 * engine moves at most EDU_DMA_MAX bytes below EDU_DMA_LIMIT, 100 ms of
 * QEMU's virtual time after it starts: its writes are about one call in
 * 250, each aimed below that limit, mostly into a mapping of the process
 * memory made last (the RW_SIZE region, readable and writable; one in ten
 * of those is written into by the next call), from a place in its buffer,
 * which holds the same pattern in both runs (edu_fill()).  A write's
 * record is a hash of that region, so that a write that lands elsewhere,
 * or not at all, on one backend is a difference.  A write never reaches a
 * mapping of edu's own BAR: a MAP_DMA of the BAR is made above
 * EDU_DMA_LIMIT.
 *
 * A difference is allowed only by a rule named after an entry of
 * "Deliberate differences from the stock driver" in
 * Documentation/driver-api/vfio-dirty.rst (struct rule, rules[]).  Some
 * entries leave the two backends in different states (the stock driver
 * has cleared bits or removed mappings that vfio_dirty kept): a call that
 * may do so is followed, in both runs, by a reset named after its rule
 * (everything unmapped, tracking stopped, or tracking restarted), whose
 * own results are not compared.  Entries no single-threaded sequence of
 * one device can reach are listed with the reason.
 *
 * The first difference no rule allows fails the sequence.  The calls up to
 * it are then minimised (slices dropped while a difference remains) and
 * printed with a command that replays them:
 *
 *	vfio_dirty_fuzz_test --seed S --calls N --only i,j,k DEVICE
 *
 * Without --seed it runs the test cases: "differential" (FUZZ_DEFAULT_CALLS
 * calls in sequences of FUZZ_SEQUENCE_CALLS, or --seconds of them) and
 * "negative_control" (vfio_dirty's test hook break_unmap_size makes it
 * report one page too many in unmap.size: the fuzzer must find it, name it
 * and minimise it), each named after the engine as above.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest.h"
#include "vfio_util.h"
#include "edu.h"

/* Calls of the differential test case, per device, and per sequence. */
#define FUZZ_DEFAULT_CALLS	50000
#define FUZZ_SEQUENCE_CALLS	2000
#define FUZZ_MAX_CALLS		1048576

/* The stock driver's dirty bitmap ceiling: 2^31 bits. */
#define TYPE1_BITMAP_MAX	(256ULL << 20)
/* VFIO_TYPE1_NESTING_IOMMU, reserved in the uAPI of newer kernels. */
#define TYPE1_NESTING_IOMMU	6
/* The x86 MSI window, reserved in every IOMMU domain. */
#define MSI_IOVA		0xfee00000ULL
/* The end of the 39-bit IOVA space of QEMU's intel-iommu. */
#define INTEL_IOMMU_END		0x8000000000ULL

/* RLIMIT_MEMLOCK of each run: a mapping of more fails, behind an IOMMU. */
#define RUN_MEMLOCK		(32ULL << 20)

/* The process memory the calls point into, at fixed places. */
#define RW_SIZE		(64ULL << 20)	/* anonymous, written */
#define RO_SIZE		(4ULL << 20)	/* anonymous, read-only */
#define HOLE_SIZE	(4ULL << 20)	/* nothing mapped */
#define BAR_SIZE	SZ_1M		/* a PCI device's BAR 0, or nothing */
#define BITMAP_SIZE	(256ULL << 10)	/* dirty bitmaps, then a guard page */
#define DATA_SIZE	(256ULL << 10)	/* what the device reads */
#define NORESERVE_SIZE	(2ULL << 40)	/* anonymous, never written */

/* The largest device transfer of a call: 64 pages. */
#define DMA_MAX_PAGES	64

struct layout {
	char *rw, *ro, *hole, *bar, *bitmap, *data, *noreserve;
};

static struct layout mem;
static uint64_t rw_initial;	/* rw_hash() of what every run starts with */
static const char *device_name;
static bool is_mdev;
static bool old_kernel;	/* before 6.18: the stock driver misses 2^64 */

enum op {
	OP_MAP,
	OP_UNMAP,
	OP_DIRTY,
	OP_INFO,
	OP_EXTENSION,
	OP_REOPEN,
	OP_WRITE,
	OP_READ,
	NR_OPS,
};

/* The device's DMA engine, if it has one that the fuzzer drives. */
enum engine {
	ENGINE_NONE,
	ENGINE_SIM,	/* vfio_dirty_sim: writes and reads */
	ENGINE_EDU,	/* edu: writes from its buffer */
	NR_ENGINES,
};

static enum engine engine;

/* The suffix of the test cases' names. */
static const char *const engine_names[NR_ENGINES] = { "", "_sim", "_edu" };

static const char *const op_names[NR_OPS] = {
	"MAP_DMA", "UNMAP_DMA", "DIRTY_PAGES", "GET_INFO", "CHECK_EXTENSION",
	"REOPEN", "DMA_WRITE", "DMA_READ",
};

/* Where a dirty bitmap points. */
enum bitmap_ptr {
	PTR_BUF,	/* the bitmap buffer */
	PTR_ODD,	/* the buffer, 4 bytes in */
	PTR_TAIL,	/* its last 64 bytes, then the guard page */
	PTR_NULL,
	PTR_HOLE,	/* unmapped */
	PTR_RO,		/* read-only */
	NR_PTRS,
};

static const char *const ptr_names[NR_PTRS] = {
	"buf", "odd", "tail", "NULL", "unmapped", "read-only",
};

/**
 * struct call - one call of a sequence, every argument drawn up front
 * @op: enum op
 * @ptr: enum bitmap_ptr, for calls with a dirty bitmap
 * @flags: the call's flags, or CHECK_EXTENSION's argument, or REOPEN's type,
 *	or where in its buffer edu's write starts
 * @argsz: the argsz passed
 * @iova: IOVA, or GET_BITMAP's range
 * @size: bytes, likewise; a device transfer's length
 * @vaddr: MAP_DMA's process address
 * @pgsize: the bitmap's page size
 * @bsize: the bitmap's declared size
 */
struct call {
	uint8_t op;
	uint8_t ptr;
	uint32_t flags;
	uint32_t argsz;
	uint64_t iova;
	uint64_t size;
	uint64_t vaddr;
	uint64_t pgsize;
	uint64_t bsize;
};

/**
 * struct result - what one call did, as compared
 * @ret: 0, a positive return value, or a negative errno
 * @reset: the reset that followed the call (index in rules[] + 1), or 0
 * @out: unmap.size; done and failed pages of a transfer (32 bits each);
 *	whether an edu write changed the process memory
 * @hash: FNV-1a of what the call wrote: GET_INFO's buffer, the dirty
 *	bitmap, the data the device read, the process memory edu wrote to
 * @weight: set bits of the dirty bitmap
 * @vmlck: VmLck after the call (and its reset), in kB
 * @us: microseconds the call took, not compared
 * @kept: the stock run: where its bitmap is in the arena, plus one; 0 if
 *	it is not kept
 * @vd_only: the vfio_dirty run, where its bitmap differs from the stock
 *	run's: the bits only it has
 * @stock_only: likewise, the bits only the stock run has
 * @mapped: of those, the pages inside a mapping and inside the range asked
 */
struct result {
	int32_t ret;
	uint32_t reset;
	uint32_t us;
	uint64_t out;
	uint64_t hash;
	uint64_t weight;
	int64_t vmlck;
	uint64_t kept;
	uint64_t vd_only;
	uint64_t stock_only;
	uint64_t mapped;
};

/* The PRNG: splitmix64, one state per sequence. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

static uint64_t pick(uint64_t *s, const uint64_t *v, size_t n)
{
	return v[rnd(s, n)];
}

#define PICK(s, ...) ({							\
	const uint64_t __v[] = { __VA_ARGS__ };				\
	pick(s, __v, ARRAY_SIZE(__v));					\
})

/* Mappings the generator made last, for calls that aim at them. */
#define RECENT	16

struct gen {
	uint64_t rng;
	uint64_t iova[RECENT], size[RECENT];
	bool edu_target[RECENT];
	bool edu_write_next;
	unsigned int n;
};

/* Where most mappings go: 32 places 64 KiB apart from each base. */
static const uint64_t bases[] = {
	0, SZ_1G, 2 * SZ_1G, 4 * SZ_1G, SZ_4T / 4,
};

static uint64_t gen_iova(struct gen *g)
{
	uint64_t *s = &g->rng;

	uint64_t r = rnd(s, 10);

	if (!r)
		return PICK(s, 0, SZ_4K, MSI_IOVA, INTEL_IOMMU_END - SZ_2M,
			    INTEL_IOMMU_END, 1ULL << 63, -SZ_4K, -SZ_2M,
			    SZ_1G + 1, 1ULL << 47);
	if (r <= 3 && g->n)
		return g->iova[rnd(s, g->n < RECENT ? g->n : RECENT)];
	return bases[rnd(s, ARRAY_SIZE(bases))] + rnd(s, 32) * 0x10000;
}

static uint64_t gen_size(struct gen *g, uint64_t iova, bool big)
{
	uint64_t *s = &g->rng;

	uint64_t r = rnd(s, 16);

	if (!r)
		return PICK(s, 0, SZ_4K + 1, -SZ_4K, -iova, -iova + SZ_4K,
			    SZ_1G, big ? SZ_8T * 2 : SZ_2M);
	/* Rarely terabytes: the stock driver's START costs its bitmap. */
	if (r == 1)
		return rnd(s, 8) ? SZ_2M : 1ULL << 40;
	if (r <= 4 && g->n)
		return g->size[rnd(s, g->n < RECENT ? g->n : RECENT)];
	return (1 + rnd(s, 64)) * SZ_4K * PICK(s, 1, 1, 1, 16);
}

static uint64_t gen_vaddr(struct gen *g)
{
	uint64_t *s = &g->rng;
	uint64_t off = rnd(s, 64) * SZ_4K;

	switch (rnd(s, 20)) {
	case 0:
		return (uint64_t)mem.ro + off % RO_SIZE;
	case 1:
		return (uint64_t)mem.hole + off % HOLE_SIZE;
	case 2:
	case 3:
		return (uint64_t)mem.noreserve + rnd(s, 1024) * SZ_2M;
	case 4:
		return (uint64_t)mem.bar + off % BAR_SIZE;
	case 5:
		return PICK(s, 0, -SZ_4K, 0xffff888000000000ULL,
			    (uint64_t)mem.rw + 1, (uint64_t)mem.rw + RW_SIZE - SZ_4K);
	default:
		return (uint64_t)mem.rw + rnd(s, RW_SIZE / SZ_2M) * SZ_2M + off;
	}
}

static void gen_bitmap(struct gen *g, struct call *c)
{
	uint64_t *s = &g->rng, pages, need;

	c->pgsize = rnd(s, 8) ? SZ_4K : PICK(s, 0, 3, SZ_4K * 2, SZ_2M, 1ULL << 63);
	c->ptr = rnd(s, 12) ? PTR_BUF : 1 + rnd(s, NR_PTRS - 1);
	pages = c->pgsize && !(c->pgsize & (c->pgsize - 1)) ?
		c->size / c->pgsize : c->size / SZ_4K;
	need = (pages + 63) / 64 * 8;
	switch (rnd(s, 12)) {
	case 0:
		c->bsize = PICK(s, 0, 8, BITMAP_SIZE, TYPE1_BITMAP_MAX + 8,
				1ULL << 40, -8ULL);
		break;
	case 1:
		c->bsize = need - 8;
		break;
	case 2:
		c->bsize = need + 8;
		break;
	default:
		c->bsize = need;
	}
}

/*
 * edu's writes, all below its DMA mask: into the mapping just made (@next),
 * or half of the time into one of the mappings made last that would take
 * them, else near where mappings below that mask are made.
 */
static void gen_edu_write(struct gen *g, struct call *c, bool next)
{
	uint64_t *s = &g->rng, targets[RECENT];
	unsigned int i, n = 0;

	/* Oldest first. */
	for (i = g->n > RECENT ? g->n - RECENT : 0; i < g->n; i++)
		if (g->edu_target[i % RECENT])
			targets[n++] = g->iova[i % RECENT];
	c->op = OP_WRITE;
	c->size = 1 + rnd(s, EDU_DMA_MAX);
	c->flags = rnd(s, EDU_DMA_MAX - c->size + 1);
	c->iova = rnd(s, 32) * 0x10000 + rnd(s, 16) * SZ_4K;
	if (n && (next || rnd(s, 2)))
		c->iova = targets[next ? n - 1 : rnd(s, n)] +
			  rnd(s, 4) * SZ_4K + (rnd(s, 4) ? 0 : rnd(s, SZ_4K));
}

static void gen_call(struct gen *g, struct call *c)
{
	static const uint8_t weights[NR_ENGINES][NR_OPS] = {
		[ENGINE_NONE] = { [OP_MAP] = 24, [OP_UNMAP] = 22,
				  [OP_DIRTY] = 18, [OP_INFO] = 4,
				  [OP_EXTENSION] = 4, [OP_REOPEN] = 1 },
		[ENGINE_SIM] = { [OP_MAP] = 24, [OP_UNMAP] = 22,
				 [OP_DIRTY] = 18, [OP_INFO] = 4,
				 [OP_EXTENSION] = 4, [OP_REOPEN] = 1,
				 [OP_WRITE] = 20, [OP_READ] = 7 },
		/* Ten times the others: a write takes 100 ms. */
		[ENGINE_EDU] = { [OP_MAP] = 240, [OP_UNMAP] = 220,
				 [OP_DIRTY] = 180, [OP_INFO] = 40,
				 [OP_EXTENSION] = 40, [OP_REOPEN] = 10,
				 [OP_WRITE] = 1 },
	};
	const uint8_t *weight = weights[engine];
	uint64_t *s = &g->rng;
	unsigned int total = 0, w, op;

	memset(c, 0, sizeof(*c));
	if (g->edu_write_next) {
		g->edu_write_next = false;
		gen_edu_write(g, c, true);
		return;
	}
	for (op = 0; op < NR_OPS; op++)
		total += weight[op];
	w = rnd(s, total);
	for (op = 0; w >= weight[op]; op++)
		w -= weight[op];
	c->op = op;

	switch (op) {
	case OP_MAP:
		c->argsz = rnd(s, 32) ? sizeof(struct vfio_iommu_type1_dma_map) : 16;
		c->flags = rnd(s, 12) ? PICK(s, 3, 3, 3, 1, 2) :
			PICK(s, 0, 4, 5, 7, 1 << 3, 0x80000000);
		c->iova = gen_iova(g);
		c->size = gen_size(g, c->iova, false);
		c->vaddr = gen_vaddr(g);
		if (c->flags & VFIO_DMA_MAP_FLAG_VADDR && g->n && rnd(s, 2)) {
			c->iova = g->iova[(g->n - 1) % RECENT];
			c->size = g->size[(g->n - 1) % RECENT];
		}
		/* edu writing into its own registers is not a test of memory. */
		if (engine == ENGINE_EDU && c->iova < EDU_DMA_LIMIT &&
		    c->vaddr - (uint64_t)mem.bar < BAR_SIZE)
			c->iova += EDU_DMA_LIMIT;
		g->iova[g->n % RECENT] = c->iova;
		g->size[g->n % RECENT] = c->size;
		/* Made, it would take edu's writes where rw_hash() sees them. */
		g->edu_target[g->n % RECENT] = c->iova < EDU_DMA_LIMIT / 2 &&
			c->argsz >= sizeof(struct vfio_iommu_type1_dma_map) &&
			c->flags == (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) &&
			c->vaddr - (uint64_t)mem.rw < RW_SIZE;
		/* One in ten of those is written into at once. */
		if (engine == ENGINE_EDU && g->edu_target[g->n % RECENT])
			g->edu_write_next = !rnd(s, 10);
		g->n++;
		break;
	case OP_UNMAP:
		c->flags = rnd(s, 3) ? 0 : PICK(s, 1, 1, 1, 2, 4, 6, 3, 5, 8, 0x80000000);
		c->iova = gen_iova(g);
		c->size = gen_size(g, c->iova, true);
		if (c->flags & VFIO_DMA_UNMAP_FLAG_ALL && rnd(s, 4)) {
			c->iova = 0;
			c->size = 0;
		}
		c->argsz = sizeof(struct vfio_iommu_type1_dma_unmap);
		if (c->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
			c->argsz += sizeof(struct vfio_bitmap);
			gen_bitmap(g, c);
		}
		if (!rnd(s, 24))
			c->argsz = PICK(s, 0, 23, 24, 31);
		break;
	case OP_DIRTY:
		c->flags = rnd(s, 10) ? PICK(s, 1, 1, 2, 4, 4, 4, 4, 4) :
			PICK(s, 0, 3, 5, 6, 7, 8);
		c->argsz = sizeof(struct vfio_iommu_type1_dirty_bitmap);
		if (c->flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) {
			c->argsz += sizeof(struct vfio_iommu_type1_dirty_bitmap_get);
			c->iova = gen_iova(g);
			c->size = gen_size(g, c->iova, true);
			/* Half over the GiB of a base: what the device wrote. */
			if (rnd(s, 2)) {
				c->iova = bases[rnd(s, ARRAY_SIZE(bases))];
				c->size = SZ_1G;
			}
			gen_bitmap(g, c);
		}
		if (!rnd(s, 24))
			c->argsz = PICK(s, 0, 7, 8, 16, 39);
		break;
	case OP_INFO:
		c->argsz = rnd(s, 2) ? rnd(s, 160) : PICK(s, 16, 20, 23, 24, 512);
		break;
	case OP_EXTENSION:
		c->flags = rnd(s, 8) ? rnd(s, 12) : (uint32_t)rng_next(s);
		break;
	case OP_REOPEN:
		c->flags = rnd(s, 5) ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
		break;
	case OP_WRITE:
	case OP_READ:
		if (engine == ENGINE_EDU) {
			gen_edu_write(g, c, false);
			break;
		}
		c->flags = rnd(s, 3) ? 0 : VFIO_DIRTY_SIM_DMA_PIN;
		c->iova = gen_iova(g);
		c->size = (1 + rnd(s, DMA_MAX_PAGES)) * SZ_4K;
		/* Mostly inside a mapping: a failed write costs a reset. */
		if (g->n && rnd(s, 8)) {
			unsigned int i = rnd(s, g->n < RECENT ? g->n : RECENT);

			c->iova = g->iova[i] + rnd(s, 4) * SZ_4K;
			c->size = (1 + rnd(s, rnd(s, 4) ? 8 : DMA_MAX_PAGES)) * SZ_4K;
		}
		break;
	}
}

/* ---- One run: the calls on one backend, in a process of its own ---- */

/**
 * struct run - the state of one run
 * @backend: the backend its containers get
 * @dev: the device, its container and group
 * @edu: its BAR0 and DMA engine, when it is an edu
 * @type: the container's type, for a reset that opens a new one
 * @rw_hash: rw_hash() after the last edu write
 * @open: whether @dev is open (a REOPEN may fail)
 * @tracking: whether this run started dirty tracking, by its own results
 * @status_fd: /proc/self/status, for VmLck
 */
struct run {
	enum vfio_test_backend backend;
	struct vfio_test_device dev;
	struct edu edu;
	uint64_t rw_hash;
	unsigned long type;
	bool open, tracking;
	int status_fd;
};

static uint64_t fnv(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static int64_t vmlck_kb(struct run *r)
{
	char buf[4096], *p;
	ssize_t len;

	len = pread(r->status_fd, buf, sizeof(buf) - 1, 0);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	p = strstr(buf, "\nVmLck:");
	return p ? strtoll(p + 7, NULL, 10) : -1;
}

/* Maps BAR 0 of the PCI device over its place, or leaves the place empty. */
static void bar_map(struct run *r)
{
	struct vfio_region_info info = { .argsz = sizeof(info) };

	if (is_mdev || !r->open)
		return;
	if (ioctl(r->dev.device_fd, VFIO_DEVICE_GET_REGION_INFO, &info) ||
	    info.size > BAR_SIZE)
		return;
	mmap(mem.bar, info.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
	     r->dev.device_fd, info.offset);
}

static void bar_unmap(void)
{
	mmap(mem.bar, BAR_SIZE, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

static int run_open(struct run *r, unsigned long type)
{
	int ret;

	ret = __vfio_test_device_open_on(&r->dev, device_name, type, r->backend);
	r->type = type;
	r->open = !ret;
	r->tracking = false;
	bar_map(r);
	if (!ret && engine == ENGINE_EDU)
		ret = __edu_open(&r->edu, r->dev.device_fd);
	return ret;
}

static void run_close(struct run *r)
{
	bar_unmap();
	if (engine == ENGINE_EDU)
		edu_close(&r->edu);
	if (r->open)
		vfio_test_device_close(&r->dev);
	r->open = false;
}

static void *bitmap_ptr(const struct call *c)
{
	switch (c->ptr) {
	case PTR_BUF:
		return mem.bitmap;
	case PTR_ODD:
		return mem.bitmap + 4;
	case PTR_TAIL:
		return mem.bitmap + BITMAP_SIZE - 64;
	case PTR_HOLE:
		return mem.hole;
	case PTR_RO:
		return mem.ro;
	default:
		return NULL;
	}
}

/* The bytes of the bitmap buffer a call may write, zeroed before it. */
static size_t bitmap_span(const struct call *c)
{
	size_t room;

	if (c->ptr != PTR_BUF && c->ptr != PTR_ODD && c->ptr != PTR_TAIL)
		return 0;
	room = mem.bitmap + BITMAP_SIZE - (char *)bitmap_ptr(c);
	return c->bsize < room ? c->bsize : room;
}

/* The uAPI wants the bitmap zeroed. */
static void zero_bitmap(const struct call *c)
{
	if (bitmap_span(c))
		memset(bitmap_ptr(c), 0, bitmap_span(c));
}

static void hash_bitmap(const struct call *c, struct result *res)
{
	const unsigned char *p = bitmap_ptr(c);
	size_t i, len = bitmap_span(c);

	res->hash = fnv(0xcbf29ce484222325ULL, p, len);
	for (i = 0; i < len; i++)
		res->weight += __builtin_popcount(p[i]);
}

static int do_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static int call_unmap(struct run *r, const struct call *c, struct result *res)
{
	struct {
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_bitmap bitmap;
	} arg = {
		.unmap = { .argsz = c->argsz, .flags = c->flags,
			   .iova = c->iova, .size = c->size },
		.bitmap = { .pgsize = c->pgsize, .size = c->bsize,
			    .data = bitmap_ptr(c) },
	};
	int ret;

	if (c->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
		zero_bitmap(c);
	ret = do_ioctl(r->dev.container_fd, VFIO_IOMMU_UNMAP_DMA, &arg);
	res->out = arg.unmap.size;
	if (c->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
		hash_bitmap(c, res);
	return ret;
}

static int call_dirty(struct run *r, const struct call *c, struct result *res)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap dirty;
		struct vfio_iommu_type1_dirty_bitmap_get get;
	} arg = {
		.dirty = { .argsz = c->argsz, .flags = c->flags },
		.get = { .iova = c->iova, .size = c->size,
			 .bitmap = { .pgsize = c->pgsize, .size = c->bsize,
				     .data = bitmap_ptr(c) } },
	};
	int ret;

	if (c->flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP)
		zero_bitmap(c);
	ret = do_ioctl(r->dev.container_fd, VFIO_IOMMU_DIRTY_PAGES, &arg);
	if (c->flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP)
		hash_bitmap(c, res);
	else if (!ret && c->flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_START)
		r->tracking = true;
	else if (!ret && c->flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP)
		r->tracking = false;
	return ret;
}

static int call_info(struct run *r, const struct call *c, struct result *res)
{
	unsigned char buf[512];
	int ret;

	memset(buf, 0xa5, sizeof(buf));
	*(uint32_t *)buf = c->argsz;
	ret = do_ioctl(r->dev.container_fd, VFIO_IOMMU_GET_INFO, buf);
	res->hash = fnv(0xcbf29ce484222325ULL, buf, sizeof(buf));
	return ret;
}

/*
 * The process memory an edu write may reach, hashed by 64-bit words: 8M
 * multiplications, cheaper than the transfer's 100 ms.
 */
static uint64_t rw_hash(void)
{
	const uint64_t *p = (const uint64_t *)mem.rw;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < RW_SIZE / sizeof(*p); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static int call_edu_write(struct run *r, const struct call *c,
			  struct result *res)
{
	int ret;

	if (!r->edu.bar)
		return -ENODEV;	/* its BAR could not be mapped */
	ret = __edu_dma(&r->edu, true, c->iova, c->flags, c->size);
	res->hash = rw_hash();
	res->out = res->hash != r->rw_hash;
	r->rw_hash = res->hash;
	return ret;
}

static int call_dma(struct run *r, const struct call *c, struct result *res)
{
	uint64_t done = 0, failed = 0;
	int ret;

	if (engine == ENGINE_EDU)
		return call_edu_write(r, c, res);
	if (c->op == OP_WRITE) {
		ret = __sim_write(r->dev.device_fd, c->flags, c->iova, c->size,
				  c->iova ^ 0x5a5a, &done, &failed);
	} else {
		memset(mem.data, 0, c->size);
		ret = __sim_read(r->dev.device_fd, c->flags, c->iova, c->size,
				 mem.data, &done, &failed);
		res->hash = fnv(0xcbf29ce484222325ULL, mem.data, c->size);
	}
	res->out = done << 32 | failed;
	return ret;
}

static int call_run(struct run *r, const struct call *c, struct result *res)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = c->argsz, .flags = c->flags, .vaddr = c->vaddr,
		.iova = c->iova, .size = c->size,
	};
	long ret;

	if (c->op == OP_REOPEN) {
		run_close(r);
		return run_open(r, c->flags);
	}
	if (!r->open)
		return -EBADF;
	switch (c->op) {
	case OP_MAP:
		return do_ioctl(r->dev.container_fd, VFIO_IOMMU_MAP_DMA, &map);
	case OP_UNMAP:
		return call_unmap(r, c, res);
	case OP_DIRTY:
		return call_dirty(r, c, res);
	case OP_INFO:
		return call_info(r, c, res);
	case OP_EXTENSION:
		ret = ioctl(r->dev.container_fd, VFIO_CHECK_EXTENSION, c->flags);
		return ret < 0 ? -errno : ret;
	default:
		return call_dma(r, c, res);
	}
}

/* ---- The allowed differences ---- */

static bool has_bitmap(const struct call *c)
{
	return (c->op == OP_UNMAP &&
		c->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) ||
	       (c->op == OP_DIRTY &&
		c->flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP);
}

static bool pgsize_valid(uint64_t pgsize)
{
	return pgsize && !(pgsize & (pgsize - 1));
}

/* A report past the stock ceiling: more than 2^31 bits, or declared so. */
static bool over_ceiling(const struct call *c)
{
	uint64_t pgsize = pgsize_valid(c->pgsize) ? c->pgsize : SZ_4K;

	return has_bitmap(c) &&
	       (c->size / pgsize > TYPE1_BITMAP_MAX * 8 ||
		c->bsize > TYPE1_BITMAP_MAX);
}

/* Can the whole declared bitmap be written? */
static bool bitmap_fits(const struct call *c)
{
	return bitmap_span(c) >= c->bsize;
}

static bool nesting_allows(const struct call *c, const struct result *stock,
			   const struct result *vd)
{
	return c->op == OP_EXTENSION && c->flags == TYPE1_NESTING_IOMMU &&
	       stock->ret == 1 && vd->ret == 0;
}

/* A mapping of 2^31 pages or more, which the stock driver cannot track. */
static bool huge_map(const struct call *c)
{
	return c->op == OP_MAP && c->size / SZ_4K >= TYPE1_BITMAP_MAX * 8;
}

static bool ceiling_allows(const struct call *c, const struct result *stock,
			   const struct result *vd)
{
	return (over_ceiling(c) && vd->ret == -E2BIG) ||
	       (huge_map(c) && stock->ret == -EINVAL && !vd->ret);
}

static bool ceiling_resets(const struct call *c, const struct result *own,
			   const struct run *r)
{
	return over_ceiling(c) || huge_map(c);
}

static bool fault_resets(const struct call *c, const struct result *own,
			 const struct run *r)
{
	return has_bitmap(c) && (!bitmap_fits(c) || own->ret == -EFAULT);
}

static bool failed_write_resets(const struct call *c, const struct result *own,
				const struct run *r)
{
	return c->op == OP_WRITE && (uint32_t)own->out && r->tracking;
}

/* Before 6.18 the stock driver misses what ends at 2^64. */
static bool ends_at_top(const struct call *c)
{
	return old_kernel && c->size && !(c->iova + c->size) &&
	       (c->op == OP_MAP || has_bitmap(c) ||
		(c->op == OP_UNMAP && !(c->flags & VFIO_DMA_UNMAP_FLAG_ALL)));
}

static bool top_allows(const struct call *c, const struct result *stock,
		       const struct result *vd)
{
	return ends_at_top(c);
}

static bool top_resets(const struct call *c, const struct result *own,
		       const struct run *r)
{
	return ends_at_top(c);
}

static bool set_words_allows(const struct call *c, const struct result *stock,
			     const struct result *vd)
{
	return has_bitmap(c) && !bitmap_fits(c) && stock->ret == -EFAULT &&
	       !vd->ret;
}

static bool pgsize_allows(const struct call *c, const struct result *stock,
			  const struct result *vd)
{
	return has_bitmap(c) && !pgsize_valid(c->pgsize) && vd->ret == -EINVAL;
}

/*
 * The stock run's dirty bitmaps that have a bit set, kept for the
 * vfio_dirty run (at most ARENA_SIZE bytes a run: a report that does not
 * fit is not kept).  Where its own bitmap differs from a kept one, the
 * vfio_dirty run counts the bits each has alone and asks itself, by
 * mapping a page there, whether each page only the stock driver reported
 * inside the range asked is mapped.  A stale bit past a mapping's end may
 * be on a page of the next mapping, past that range.
 */
#define ARENA_SIZE	(64ULL << 20)

static unsigned char *arena;

/* Is the page at @iova inside a mapping?  It is if mapping it again fails. */
static bool page_mapped(struct run *r, uint64_t iova)
{
	if (__vfio_map(r->dev.container_fd, mem.rw, iova, SZ_4K) == -EEXIST)
		return true;
	__vfio_unmap(r->dev.container_fd, iova, SZ_4K, NULL);
	return false;
}

/* Keeps the stock run's report, or compares the vfio_dirty run's with it. */
static void look_at_report(struct run *r, const struct call *c,
			   struct result *o, const struct result *stock,
			   size_t *used)
{
	const unsigned char *p = bitmap_ptr(c), *kept;
	size_t k, len = bitmap_span(c);
	unsigned int b;

	if (!has_bitmap(c) || o->ret || !len)
		return;
	if (!stock) {
		if (o->weight && *used + len <= ARENA_SIZE) {
			memcpy(arena + *used, p, len);
			o->kept = *used + 1;
			*used += len;
		}
		return;
	}
	if (!stock->kept || stock->hash == o->hash)
		return;
	kept = arena + stock->kept - 1;
	for (k = 0; k < len; k++) {
		unsigned char only = kept[k] & ~p[k];

		o->vd_only += __builtin_popcount(p[k] & ~kept[k]);
		for (b = 0; b < 8; b++) {
			if (!(only & 1 << b))
				continue;
			o->stock_only++;
			if (k * 8 + b < c->size / c->pgsize)
				o->mapped += page_mapped(r, c->iova +
							 (k * 8 + b) * c->pgsize);
		}
	}
}

static bool stale_allows(const struct call *c, const struct result *stock,
			 const struct result *vd)
{
	return has_bitmap(c) && !stock->ret && !vd->ret &&
	       stock->out == vd->out && stock->vmlck == vd->vmlck &&
	       vd->stock_only && !vd->vd_only && !vd->mapped;
}

/* How both runs put their states back in step after a call, weakest first. */
enum reset {
	RESET_NONE,
	RESET_TRACKING,	/* stop tracking and start again: no bit left */
	RESET_ALL,	/* unmap everything, stop tracking */
	RESET_REOPEN,	/* a new container, of the same type */
};

/**
 * struct rule - an entry of "Deliberate differences from the stock driver"
 * @name: the entry, in a few words
 * @allows: does the entry allow this difference of this call's results?
 * @resets: may the call leave the backends in states the entry lets
 *	differ?  Then both runs reset as @reset says, after the call.
 * @reset: enum reset
 * @unreachable: why no sequence of this fuzzer reaches the entry, or NULL
 */
struct rule {
	const char *name;
	bool (*allows)(const struct call *c, const struct result *stock,
		       const struct result *vd);
	bool (*resets)(const struct call *c, const struct result *own,
		       const struct run *r);
	enum reset reset;
	const char *unreachable;
};

/* In the order of the entries of Documentation/driver-api/vfio-dirty.rst. */
static const struct rule rules[] = {
	{ "no VFIO_TYPE1_NESTING_IOMMU", nesting_allows },
	{ "no limit of 2^31 pages, -E2BIG past max_bitmap_size", ceiling_allows,
	  ceiling_resets, RESET_ALL },
	{ "a failed report clears no bit, removes no mapping", NULL,
	  fault_resets, RESET_ALL },
	{ "START allocates nothing up front", .unreachable =
	  "only when memory for a bit cannot be had" },
	{ "locked_vm counts every page held", .unreachable =
	  "needs an emulated device and an IOMMU domain in one container" },
	{ "a dma_rw write is marked before it is copied", NULL,
	  failed_write_resets, RESET_TRACKING },
	{ "a mapping or a range may end at the top of the IOVA space",
	  top_allows, top_resets, RESET_REOPEN },
	{ "a report never carries bits past a mapping's end", stale_allows },
	{ "a report writes only the words with set bits", set_words_allows,
	  fault_resets, RESET_ALL },
	{ "an unmap checks its range again after waiting", .unreachable =
	  "needs a mapping made while a device unpins" },
	{ "the last never-pinned group's first pin reports all", .unreachable =
	  "a vfio-pci device never pins" },
	{ "a group that changes the page size", .unreachable =
	  "x86 IOMMUs all have 4 KiB pages" },
	{ "a device that keeps its pins makes the unmap -EBUSY", .unreachable =
	  "needs the simulated device's unmap_ignore" },
	{ "the first IOMMU group pins from the mappings' owner", .unreachable =
	  "one process maps and attaches" },
	{ "a group whose aperture excludes a mapping is refused", .unreachable =
	  "a container is opened with its group, before any mapping" },
	{ "RLIMIT_MEMLOCK is checked per batch of 256 pages", .unreachable =
	  "the outcome is the same; only a warning differs" },
	{ "a bitmap page size of 0 or not a power of two", pgsize_allows },
	{ "pages unpinned after the owner's mm exited are not counted",
	  .unreachable = "one process, whose mm outlives its mappings" },
};

/* The rule of the strongest reset after the call, as index + 1, or 0. */
static uint32_t reset_rule(const struct call *c, const struct result *own,
			   const struct run *r)
{
	uint32_t i, rule = 0;

	for (i = 0; i < ARRAY_SIZE(rules); i++)
		if (rules[i].resets && rules[i].resets(c, own, r) &&
		    (!rule || rules[i].reset > rules[rule - 1].reset))
			rule = i + 1;
	return rule;
}

static void run_reset(struct run *r, enum reset reset)
{
	struct vfio_iommu_type1_dirty_bitmap dirty = { .argsz = sizeof(dirty) };
	uint64_t unmapped;

	if (reset == RESET_REOPEN) {
		run_close(r);
		run_open(r, r->type);
		return;
	}
	if (!r->open)
		return;
	if (reset == RESET_ALL)
		__vfio_unmap_all(r->dev.container_fd, 0, 0, &unmapped);
	dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	ioctl(r->dev.container_fd, VFIO_IOMMU_DIRTY_PAGES, &dirty);
	if (reset == RESET_TRACKING && r->tracking) {
		dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
		ioctl(r->dev.container_fd, VFIO_IOMMU_DIRTY_PAGES, &dirty);
	} else {
		r->tracking = false;
	}
}

/* ---- Running a sequence on both backends, and comparing ---- */

/* Each run as a device's user in a VM is: no CAP_IPC_LOCK, a memlock limit. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	struct rlimit rl = { RUN_MEMLOCK, RUN_MEMLOCK };

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	if (syscall(SYS_capset, &hdr, data) || setrlimit(RLIMIT_MEMLOCK, &rl))
		return -errno;
	return 0;
}

/*
 * Runs @calls[@idx[0..@n)] on @backend, in a child, its results in @res;
 * the vfio_dirty run looks at the reports of the stock run, @stock.
 * Returns 0, or why not.
 */
static int run_backend(enum vfio_test_backend backend, const struct call *calls,
		       const uint32_t *idx, uint32_t n, struct result *res,
		       const struct result *stock)
{
	struct run r = { .backend = backend, .rw_hash = rw_initial };
	size_t used = 0;
	int status, ret;
	uint32_t i;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		r.status_fd = open("/proc/self/status", O_RDONLY);
		ret = drop_ipc_lock();
		if (!ret)
			ret = run_open(&r, VFIO_TYPE1v2_IOMMU);
		if (ret)
			_exit(-ret);
		for (i = 0; i < n; i++) {
			const struct call *c = &calls[idx[i]];
			struct result *o = &res[i];
			double start = now_ms();

			memset(o, 0, sizeof(*o));
			o->ret = call_run(&r, c, o);
			o->us = (now_ms() - start) * 1000;
			look_at_report(&r, c, o, stock ? &stock[i] : NULL,
				       &used);
			o->reset = reset_rule(c, o, &r);
			if (o->reset)
				run_reset(&r, rules[o->reset - 1].reset);
			o->vmlck = vmlck_kb(&r);
		}
		run_close(&r);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (!WIFEXITED(status))
		return -EINTR;
	return -WEXITSTATUS(status);
}

/* What differs between two results, as a list of fields, or "". */
static void differs(const struct call *c, const struct result *a,
		    const struct result *b, char *buf, size_t size)
{
	buf[0] = '\0';
	if (a->ret != b->ret)
		strncat(buf, " ret", size - strlen(buf) - 1);
	if (a->out != b->out)
		strncat(buf, c->op == OP_UNMAP ? " unmap.size" : " pages",
			size - strlen(buf) - 1);
	if (a->hash != b->hash || a->weight != b->weight)
		strncat(buf, c->op == OP_INFO ? " info" :
			c->op == OP_READ ? " data" :
			c->op == OP_WRITE ? " memory" : " bitmap",
			size - strlen(buf) - 1);
	if (a->reset != b->reset)
		strncat(buf, " reset", size - strlen(buf) - 1);
	if (a->vmlck != b->vmlck)
		strncat(buf, " VmLck", size - strlen(buf) - 1);
}

static void print_call(const char *prefix, uint32_t i, const struct call *c)
{
	printf("# %s[%u] %s flags 0x%x argsz %u iova 0x%llx size 0x%llx",
	       prefix, i, op_names[c->op], c->flags, c->argsz,
	       (unsigned long long)c->iova, (unsigned long long)c->size);
	if (c->op == OP_MAP)
		printf(" vaddr 0x%llx", (unsigned long long)c->vaddr);
	if (has_bitmap(c))
		printf(" bitmap %s pgsize 0x%llx size 0x%llx", ptr_names[c->ptr],
		       (unsigned long long)c->pgsize,
		       (unsigned long long)c->bsize);
	printf("\n");
}

static void print_result(const char *backend, const struct result *r)
{
	printf("#   %-10s ret %d (%s) out 0x%llx hash %016llx weight %llu reset %u VmLck %lld\n",
	       backend, r->ret, r->ret < 0 ? strerror(-r->ret) : "-",
	       (unsigned long long)r->out, (unsigned long long)r->hash,
	       (unsigned long long)r->weight, r->reset, (long long)r->vmlck);
	if (r->stock_only || r->vd_only)
		printf("#   bits only type1 has %llu (%llu of them mapped), only vfio_dirty %llu\n",
		       (unsigned long long)r->stock_only,
		       (unsigned long long)r->mapped,
		       (unsigned long long)r->vd_only);
}

/* Counts of a comparison, across sequences. */
struct tally {
	uint64_t calls;
	uint64_t resets;
	uint64_t allowed[ARRAY_SIZE(rules)];
	uint64_t op_calls[NR_OPS];
	uint64_t op_ok[NR_OPS];
	uint64_t op_us[NR_OPS];
	uint64_t dirty_bits;
	uint64_t edu_landed;
};

/* The results of both runs: big enough for the longest sequence. */
static struct result *results[2];
static uint32_t results_len;

/**
 * compare() - run @calls[@idx[0..@n)] on both backends and compare
 * @calls: the sequence
 * @idx: which calls, in order
 * @n: how many
 * @tally: counts added to, or NULL
 * @verbose: print the difference found
 *
 * Return: the position in @idx of the first difference no rule allows; -1
 * when there is none; another negative number when a run could not be made
 * (-2 - errno).
 */
static long compare(const struct call *calls, const uint32_t *idx, uint32_t n,
		    struct tally *tally, bool verbose)
{
	const struct result *a = results[0], *b = results[1];
	char what[64];
	uint32_t i, j;
	int ret;

	ret = run_backend(VFIO_BACKEND_TYPE1, calls, idx, n, results[0], NULL);
	if (!ret)
		ret = run_backend(VFIO_BACKEND_VFIO_DIRTY, calls, idx, n,
				  results[1], results[0]);
	if (ret)
		return -2 + ret;
	for (i = 0; i < n; i++) {
		const struct call *c = &calls[idx[i]];

		differs(c, &a[i], &b[i], what, sizeof(what));
		if (tally) {
			tally->calls++;
			tally->resets += !!a[i].reset;
			tally->op_calls[c->op]++;
			tally->op_ok[c->op] += a[i].ret >= 0;
			tally->op_us[c->op] += a[i].us + b[i].us;
			if (has_bitmap(c) && !a[i].ret)
				tally->dirty_bits += a[i].weight;
			if (engine == ENGINE_EDU && c->op == OP_WRITE)
				tally->edu_landed += a[i].out;
		}
		if (!what[0])
			continue;
		for (j = 0; j < ARRAY_SIZE(rules); j++)
			if (rules[j].allows && rules[j].allows(c, &a[i], &b[i]))
				break;
		if (j < ARRAY_SIZE(rules) && a[i].reset == b[i].reset) {
			if (tally)
				tally->allowed[j]++;
			continue;
		}
		if (verbose) {
			printf("# difference at call %u:%s, no rule allows it\n",
			       idx[i], what);
			print_call("", idx[i], c);
			print_result("type1", &a[i]);
			print_result("vfio_dirty", &b[i]);
		}
		return i;
	}
	return -1;
}

/*
 * Drops slices of @idx[0..*@n) while a difference remains, halving the
 * slice when none can go; the difference found last is at the end.
 */
static void minimise(const struct call *calls, uint32_t *idx, uint32_t *n)
{
	uint32_t *try = malloc(*n * sizeof(*try));
	uint32_t slice = *n / 2 ? *n / 2 : 1, start, m, replays = 0;
	long d;

	while (try && slice && replays < 400) {
		bool dropped = false;

		for (start = 0; start < *n && replays < 400;) {
			m = 0;
			memcpy(try, idx, start * sizeof(*idx));
			m = start;
			if (start + slice < *n) {
				memcpy(try + m, idx + start + slice,
				       (*n - start - slice) * sizeof(*idx));
				m += *n - start - slice;
			}
			replays++;
			d = m ? compare(calls, try, m, NULL, false) : -1;
			if (d >= 0) {
				*n = d + 1;
				memcpy(idx, try, *n * sizeof(*idx));
				dropped = true;
			} else {
				start += slice;
			}
		}
		if (!dropped)
			slice /= 2;
		else if (slice > *n / 2)
			slice = *n / 2 ? *n / 2 : 1;
	}
	free(try);
}

static void generate(uint64_t seed, struct call *calls, uint32_t n)
{
	struct gen g = { .rng = seed };
	uint32_t i;

	for (i = 0; i < n; i++)
		gen_call(&g, &calls[i]);
}

/* Room for the results of @n calls per backend. */
static int results_reserve(uint32_t n)
{
	int i;

	if (n <= results_len)
		return 0;
	for (i = 0; i < 2; i++) {
		if (results[i])
			munmap(results[i], results_len * sizeof(struct result));
		results[i] = mmap(NULL, n * sizeof(struct result),
				  PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (results[i] == MAP_FAILED)
			return -errno;
	}
	results_len = n;
	return 0;
}

/**
 * fuzz_seed() - generate a sequence, run it on both backends, compare
 * @seed: the PRNG's seed
 * @ncalls: calls generated
 * @only: the calls to run, or NULL for all
 * @nonly: entries of @only
 * @tally: counts added to
 * @report: filled in with the first line of a failure's report
 * @size: size of @report
 *
 * A difference no rule allows is minimised and printed with its replay
 * command.
 *
 * Return: 0 when the runs agree; 1 when they differ; a negative errno when
 * they could not be made.
 */
static int fuzz_seed(uint64_t seed, uint32_t ncalls, const uint32_t *only,
		     uint32_t nonly, struct tally *tally, char *report,
		     size_t size)
{
	struct call *calls = calloc(ncalls, sizeof(*calls));
	uint32_t *idx = calloc(ncalls, sizeof(*idx));
	uint32_t i, n = only ? nonly : ncalls;
	struct result a, b;
	char what[64];
	long d;
	int ret = -ENOMEM;

	if (!calls || !idx || results_reserve(ncalls))
		goto out_free;
	generate(seed, calls, ncalls);
	for (i = 0; i < n; i++)
		idx[i] = only ? only[i] : i;
	d = compare(calls, idx, n, tally, true);
	if (d < -1) {
		ret = d + 2;
		goto out_free;
	}
	ret = 0;
	if (d < 0)
		goto out_free;

	ret = 1;
	n = d + 1;
	minimise(calls, idx, &n);
	/* The minimal list's own difference, as the replay shows it. */
	d = compare(calls, idx, n, NULL, false);
	if (d < 0)
		d = n - 1;
	a = results[0][d];
	b = results[1][d];
	differs(&calls[idx[d]], &a, &b, what, sizeof(what));
	snprintf(report, size, "seed %llu: %s differs:%s, minimised to %u calls",
		 (unsigned long long)seed, op_names[calls[idx[d]].op], what, n);
	printf("# minimised to %u calls:\n", n);
	for (i = 0; i < n; i++)
		print_call("  ", idx[i], &calls[idx[i]]);
	print_result("type1", &a);
	print_result("vfio_dirty", &b);
	printf("# replay: ./vfio_dirty_fuzz_test --seed %llu --calls %u --only ",
	       (unsigned long long)seed, ncalls);
	for (i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", idx[i]);
	printf(" %s\n", device_name);
out_free:
	free(calls);
	free(idx);
	return ret;
}

/* ---- The process memory, the test cases, main() ---- */

static void *map_at(char *where, size_t size, int prot, int flags)
{
	return mmap(where, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags,
		    -1, 0);
}

/* The layout every run shares, made before the runs fork. */
static int layout_make(void)
{
	size_t total = RW_SIZE + RO_SIZE + HOLE_SIZE + BAR_SIZE + BITMAP_SIZE +
		       DATA_SIZE + 8 * SZ_1M;
	char *base;

	base = map_at(NULL, total, PROT_NONE, MAP_NORESERVE);
	if (base == MAP_FAILED)
		return -errno;
	/* A guard page of PROT_NONE between each two. */
	mem.rw = base;
	mem.hole = mem.rw + RW_SIZE + SZ_1M;
	mem.ro = mem.hole + HOLE_SIZE;
	mem.bar = mem.ro + RO_SIZE + SZ_1M;
	mem.bitmap = mem.bar + BAR_SIZE + SZ_1M;
	mem.data = mem.bitmap + BITMAP_SIZE + SZ_1M;
	if (map_at(mem.rw, RW_SIZE, PROT_READ | PROT_WRITE, MAP_FIXED) == MAP_FAILED ||
	    map_at(mem.ro, RO_SIZE, PROT_READ, MAP_FIXED) == MAP_FAILED ||
	    map_at(mem.bitmap, BITMAP_SIZE, PROT_READ | PROT_WRITE, MAP_FIXED) == MAP_FAILED ||
	    map_at(mem.data, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_FIXED) == MAP_FAILED)
		return -errno;
	memset(mem.rw, 0x3c, RW_SIZE);
	rw_initial = rw_hash();
	mem.noreserve = map_at(NULL, NORESERVE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_NORESERVE);
	if (mem.noreserve == MAP_FAILED)
		return -errno;
	arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return arena == MAP_FAILED ? -errno : 0;
}

/*
 * Fills edu's buffer with a pattern, through a container of its own: no
 * call of a sequence changes the buffer, so both runs write the same
 * bytes, and bytes that differ from one place of it to the next.
 */
static int edu_fill(void)
{
	struct vfio_test_device dev;
	struct edu edu = {};
	uint32_t i;
	int ret;

	for (i = 0; i < SZ_4K; i++)
		mem.data[i] = i * 131 + (i >> 8) * 7 + 1;
	ret = __vfio_test_device_open_on(&dev, device_name, VFIO_TYPE1v2_IOMMU,
					 VFIO_BACKEND_TYPE1);
	if (ret)
		return ret;
	ret = __edu_open(&edu, dev.device_fd);
	if (!ret)
		ret = __vfio_map(dev.container_fd, mem.data, 0, SZ_4K);
	if (!ret) {
		ret = __edu_dma(&edu, false, 0, 0, EDU_DMA_MAX);
		__vfio_unmap(dev.container_fd, 0, SZ_4K, NULL);
	}
	edu_close(&edu);
	vfio_test_device_close(&dev);
	return ret;
}

static void print_tally(const struct tally *t, double ms)
{
	uint32_t i;

	printf("# %llu calls compared on both backends in %.1f s\n",
	       (unsigned long long)t->calls, ms / 1000);
	printf("# %llu resets, %llu dirty bits reported\n",
	       (unsigned long long)t->resets,
	       (unsigned long long)t->dirty_bits);
	if (engine == ENGINE_EDU)
		printf("# %llu edu writes changed the process memory\n",
		       (unsigned long long)t->edu_landed);
	for (i = 0; i < NR_OPS; i++)
		printf("#   %-16s %8llu calls, %8llu succeeded, %6.1f s\n",
		       op_names[i], (unsigned long long)t->op_calls[i],
		       (unsigned long long)t->op_ok[i], t->op_us[i] / 1e6);
	for (i = 0; i < ARRAY_SIZE(rules); i++)
		if (t->allowed[i])
			printf("#   rule %u (%s): %llu differences allowed\n",
			       i + 1, rules[i].name,
			       (unsigned long long)t->allowed[i]);
}

/* Sequences from @seed on, until @calls calls or @seconds have passed. */
static int fuzz_many(uint64_t seed, uint32_t seq_calls, uint64_t calls,
		     double seconds, char *report, size_t size)
{
	struct tally tally = {};
	double start = now_ms();
	int ret = 0;

	while (!ret && (seconds ? now_ms() - start < seconds * 1000 :
			tally.calls < calls))
		ret = fuzz_seed(seed++, seq_calls, NULL, 0, &tally, report, size);
	print_tally(&tally, now_ms() - start);
	return ret;
}

#define MISREPORT "/sys/module/vfio_dirty/parameters/break_unmap_size"

/*
 * vfio_dirty's test hook makes every unmap that removes something report
 * one page more: the fuzzer must say so, name unmap.size, and minimise it
 * to a map and an unmap.
 */
static void test_negative_control(void)
{
	char report[256] = "";
	int ret;

	const char *name = engine_names[engine];

	if (access(MISREPORT, W_OK)) {
		ksft_test_result_skip("negative_control%s: %s\n", name,
				      "vfio_dirty has no test hooks (CONFIG_VFIO_DIRTY_TEST)");
		return;
	}
	if (__sysfs_write_long(MISREPORT, 1)) {
		ksft_test_result_fail("negative_control%s: cannot set %s\n",
				      name, MISREPORT);
		return;
	}
	ret = fuzz_seed(1, FUZZ_SEQUENCE_CALLS, NULL, 0, NULL, report,
			sizeof(report));
	__sysfs_write_long(MISREPORT, 0);
	printf("# %s\n", report);
	ksft_test_result(ret == 1 && strstr(report, "UNMAP_DMA differs: unmap.size,") &&
			 strstr(report, "minimised to 2 calls"),
			 "negative_control%s\n", name);
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"Usage: %s [--seed S] [--calls N] [--only I,J,...] [--seconds T] [DEVICE]\n"
		"  without --seed: the test cases, %u calls in sequences of %u\n"
		"  --seed S: the sequence of seed S (--calls calls, default %u), or\n"
		"            with --seconds, sequences from seed S on for T seconds\n"
		"  --only: run only these calls of the sequence (a replay)\n"
		"DEVICE: %s\n", prog, FUZZ_DEFAULT_CALLS, FUZZ_SEQUENCE_CALLS,
		FUZZ_SEQUENCE_CALLS, VFIO_SELFTESTS_HOWTO);
}

static uint32_t *parse_only(const char *s, uint32_t *n)
{
	uint32_t *idx = calloc(strlen(s) / 2 + 1, sizeof(*idx));
	char *end;

	*n = 0;
	while (idx && *s) {
		idx[(*n)++] = strtoul(s, &end, 10);
		if (end == s || (*end && *end != ','))
			return NULL;
		s = *end ? end + 1 : end;
	}
	return idx;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "calls", required_argument, NULL, 'n' },
		{ "only", required_argument, NULL, 'o' },
		{ "seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	uint32_t ncalls = FUZZ_SEQUENCE_CALLS, nonly = 0, *only = NULL;
	bool seeded = false;
	char report[256] = "";
	double seconds = 0;
	uint64_t seed = 1;
	int opt, ret;

	device_name = vfio_selftests_get_device(&argc, argv);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'n':
			ncalls = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			only = parse_only(optarg, &nonly);
			if (!only)
				ksft_exit_fail_msg("bad --only list '%s'\n", optarg);
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			break;
		default:
			print_usage(argv[0]);
			return opt == 'h' ? 0 : KSFT_FAIL;
		}
	}
	if (!ncalls || ncalls > FUZZ_MAX_CALLS)
		ksft_exit_fail_msg("--calls must be 1 to %u\n", FUZZ_MAX_CALLS);
	for (opt = 0; only && opt < (int)nonly; opt++)
		if (only[opt] >= ncalls)
			ksft_exit_fail_msg("--only %u: past --calls\n", only[opt]);

	ksft_print_header();
	if (!device_name)
		ksft_exit_skip("no device: " VFIO_SELFTESTS_HOWTO "\n");
	is_mdev = !strchr(device_name, ':');
	if (vfio_device_is_dirty_sim(device_name))
		engine = ENGINE_SIM;
	else if (!edu_unsupported(device_name))
		engine = ENGINE_EDU;
	old_kernel = !kernel_at_least(6, 18);
	if (module_refcnt("vfio_iommu_type1") < 0 || module_refcnt("vfio_dirty") < 0)
		ksft_exit_skip("both vfio_iommu_type1 and vfio_dirty must be loaded\n");
	ret = layout_make();
	if (ret)
		ksft_exit_fail_msg("process memory: %s\n", strerror(-ret));
	if (engine == ENGINE_EDU) {
		ret = edu_fill();
		if (ret)
			ksft_exit_fail_msg("filling edu's buffer: %s\n",
					   strerror(-ret));
	}

	if (seeded) {
		struct tally tally = {};
		double start = now_ms();

		ksft_set_plan(1);
		if (seconds)
			ret = fuzz_many(seed, ncalls, 0, seconds, report,
					sizeof(report));
		else
			ret = fuzz_seed(seed, ncalls, only, nonly, &tally,
					report, sizeof(report));
		if (!seconds)
			print_tally(&tally, now_ms() - start);
		if (ret < 0)
			ksft_exit_fail_msg("a run failed: %s\n", strerror(-ret));
		ksft_test_result(!ret, "seed %llu%s%s\n",
				 (unsigned long long)seed, ret ? ": " : "",
				 report);
		ksft_finished();
	}

	ksft_set_plan(2);
	ret = fuzz_many(1, FUZZ_SEQUENCE_CALLS, FUZZ_DEFAULT_CALLS, 0, report,
			sizeof(report));
	if (ret < 0)
		ksft_test_result_fail("differential%s: a run failed: %s\n",
				      engine_names[engine], strerror(-ret));
	else
		ksft_test_result(!ret, "differential%s%s%s\n",
				 engine_names[engine], ret ? ": " : "", report);
	test_negative_control();
	ksft_finished();
}
