// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty_sim migration: VFIO migration v2 (STOP_COPY and P2P).
 *
 * Theory of operation
 *
 * States.  The device supports RUNNING, STOP, STOP_COPY, RESUMING and
 * RUNNING_P2P (VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P).  It issues
 * no P2P DMA at all, so RUNNING_P2P is RUNNING for it: the writer writes
 * in both.  In STOP, STOP_COPY and RESUMING it issues no DMA: the arc
 * RUNNING_P2P -> STOP stops the writer thread and waits until every write
 * it began is done, logged and marked dirty, so that the dirty pages
 * userspace collects after that arc are all there are.  A started writer
 * stays started (BAR0's CTRL keeps RUN) and is paused; STOP -> RUNNING_P2P
 * resumes it.  A combined transition is walked arc by arc along the path
 * vfio_mig_get_next_state() gives.
 *
 * The state stream.  STOP -> STOP_COPY snapshots the device's state into
 * a stream that the returned file reads out; STOP_COPY -> STOP ends that
 * session.  STOP -> RESUMING returns a file that takes a stream, and
 * RESUMING -> STOP checks it and loads it.  A stream is a header (magic,
 * version, payload length, CRC32 of the payload), then config space and
 * BAR0's registers: CTRL (so whether the writer was started), STATUS,
 * NR_RANGES, PATTERN and the ranges in use; all little endian.  Loading
 * takes config space's writable bits and every register.  A stream that is
 * truncated, too long, of another magic or version, with a wrong CRC, or
 * that asks for a writer VFIO_DIRTY_SIM_WRITER_START would refuse fails
 * RESUMING -> STOP with -EINVAL and changes nothing: the device stays in
 * RESUMING, and VFIO_DEVICE_RESET makes it usable again, as the uAPI
 * says an aborted RESUMING session is ended.  The write log and its
 * counters are the instance's own record and are not migrated.
 *
 * Files.  The device holds a reference to the one file of the session in
 * progress (@mig_file).  Ending a session, a reset and closing the device
 * disable the file: its read or write then fails with -ENODEV.  A file
 * never points back at the device, so it may outlive it.
 *
 * Locking.  The state, the arcs and @mig_file are under @state_lock; a
 * file's buffer is under its own lock, which nests inside @state_lock.
 */
#include <linux/anon_inodes.h>
#include <linux/crc32.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sim.h"

#define SIM_MIG_MAGIC	0x4d53445655ULL	/* "UVDSM" */
#define SIM_MIG_VERSION	1

struct sim_mig_header {
	__le64 magic;
	__le32 version;
	__le32 length;		/* bytes of payload after the header */
	__le32 crc;		/* crc32_le(~0, payload, length) */
	__le32 reserved;	/* 0 */
};

struct sim_mig_state {
	u8 config[PCI_CFG_SPACE_SIZE];
	__le32 ctrl;
	__le32 status;
	__le32 nr_ranges;
	__le32 reserved;	/* 0 */
	__le64 pattern;
	struct sim_mig_range {
		__le64 iova;
		__le64 length;
	} ranges[];		/* @nr_ranges of them */
};

/* Bytes of the stream of a device with @nr ranges in use. */
#define SIM_MIG_LEN(nr) \
	(sizeof(struct sim_mig_header) + sizeof(struct sim_mig_state) + \
	 (nr) * sizeof(struct sim_mig_range))
/* The longest stream: every range register in use. */
#define SIM_MIG_MAX	SIM_MIG_LEN(VFIO_DIRTY_SIM_WRITER_MAX_RANGES)

/**
 * struct sim_mig_file - the file of a migration data transfer session
 * @filp: the file
 * @lock: protects the fields below
 * @disabled: the session has ended; read and write fail
 * @len: bytes in @data: the stream saved, or received so far
 * @data: the stream
 */
struct sim_mig_file {
	struct file *filp;
	struct mutex lock;	/* protects the fields below */
	bool disabled;
	size_t len;
	u8 data[SIM_MIG_MAX];
};

static int sim_mig_release(struct inode *inode, struct file *filp)
{
	struct sim_mig_file *migf = filp->private_data;

	mutex_destroy(&migf->lock);
	kvfree(migf);
	return 0;
}

/*
 * Read the saved stream from, or append to the received stream, at the
 * file's position.
 */
static ssize_t sim_mig_rw(struct file *filp, char __user *buf, size_t len,
			  loff_t *pos, bool write)
{
	struct sim_mig_file *migf = filp->private_data;
	ssize_t ret;

	if (pos)
		return -ESPIPE;
	pos = &filp->f_pos;

	mutex_lock(&migf->lock);
	if (migf->disabled) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (write && (*pos > SIM_MIG_MAX || len > SIM_MIG_MAX - *pos)) {
		ret = -EFBIG;
		goto out_unlock;
	}
	if (!write)
		len = *pos < migf->len ? min_t(size_t, len, migf->len - *pos) : 0;
	if (write ? copy_from_user(migf->data + *pos, buf, len) :
		    copy_to_user(buf, migf->data + *pos, len)) {
		ret = -EFAULT;
		goto out_unlock;
	}
	*pos += len;
	if (write)
		migf->len = max_t(size_t, migf->len, *pos);
	ret = len;
out_unlock:
	mutex_unlock(&migf->lock);
	return ret;
}

static ssize_t sim_mig_read(struct file *filp, char __user *buf, size_t len,
			    loff_t *pos)
{
	return sim_mig_rw(filp, buf, len, pos, false);
}

static ssize_t sim_mig_write(struct file *filp, const char __user *buf,
			     size_t len, loff_t *pos)
{
	return sim_mig_rw(filp, (char __user *)buf, len, pos, true);
}

static const struct file_operations sim_mig_save_fops = {
	.owner = THIS_MODULE,
	.read = sim_mig_read,
	.release = sim_mig_release,
};

static const struct file_operations sim_mig_resume_fops = {
	.owner = THIS_MODULE,
	.write = sim_mig_write,
	.release = sim_mig_release,
};

/* The ranges a stream carries: those of NR_RANGES, if that is valid. */
static u32 sim_mig_nr_ranges(struct vfio_dirty_sim *sim)
{
	return min_t(u32, sim->regs.nr_ranges, VFIO_DIRTY_SIM_WRITER_MAX_RANGES);
}

static void sim_mig_save(struct vfio_dirty_sim *sim, struct sim_mig_file *migf)
{
	const struct vfio_dirty_sim_regs *regs = &sim->regs;
	struct sim_mig_header *hdr = (void *)migf->data;
	struct sim_mig_state *st = (void *)(hdr + 1);
	u32 i, nr = sim_mig_nr_ranges(sim);

	lockdep_assert_held(&sim->state_lock);

	memcpy(st->config, sim->config, sizeof(st->config));
	st->ctrl = cpu_to_le32(regs->ctrl);
	st->status = cpu_to_le32(regs->status);
	st->nr_ranges = cpu_to_le32(regs->nr_ranges);
	st->pattern = cpu_to_le64(regs->pattern);
	for (i = 0; i < nr; i++) {
		st->ranges[i].iova = cpu_to_le64(regs->ranges[i].iova);
		st->ranges[i].length = cpu_to_le64(regs->ranges[i].length);
	}
	migf->len = SIM_MIG_LEN(nr);
	hdr->magic = cpu_to_le64(SIM_MIG_MAGIC);
	hdr->version = cpu_to_le32(SIM_MIG_VERSION);
	hdr->length = cpu_to_le32(migf->len - sizeof(*hdr));
	hdr->crc = cpu_to_le32(crc32_le(~0, (u8 *)st, migf->len - sizeof(*hdr)));
}

/* Check the stream of @migf and load it; nothing changes if it is bad. */
static int sim_mig_load(struct vfio_dirty_sim *sim, struct sim_mig_file *migf)
{
	const struct sim_mig_header *hdr = (void *)migf->data;
	const struct sim_mig_state *st = (void *)(hdr + 1);
	struct vfio_dirty_sim_regs *regs = &sim->regs;
	struct vfio_dirty_sim_range *ranges;
	u32 i, ctrl, nr;
	int ret;

	lockdep_assert_held(&sim->state_lock);

	if (migf->len < SIM_MIG_LEN(0) ||
	    le64_to_cpu(hdr->magic) != SIM_MIG_MAGIC ||
	    le32_to_cpu(hdr->version) != SIM_MIG_VERSION || hdr->reserved) {
		dev_dbg(sim->vdev.dev, "migration stream: %zu bytes, no header of this version\n",
			migf->len);
		return -EINVAL;
	}
	nr = min_t(u32, le32_to_cpu(st->nr_ranges),
		   VFIO_DIRTY_SIM_WRITER_MAX_RANGES);
	if (le32_to_cpu(hdr->length) != migf->len - sizeof(*hdr) ||
	    migf->len != SIM_MIG_LEN(nr) ||
	    le32_to_cpu(hdr->crc) != crc32_le(~0, (u8 *)st, migf->len - sizeof(*hdr)) ||
	    st->reserved) {
		dev_dbg(sim->vdev.dev, "migration stream: %zu bytes, truncated or corrupt\n",
			migf->len);
		return -EINVAL;
	}

	ranges = kcalloc(nr, sizeof(*ranges), GFP_KERNEL_ACCOUNT);
	if (!ranges && nr)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		ranges[i].iova = le64_to_cpu(st->ranges[i].iova);
		ranges[i].length = le64_to_cpu(st->ranges[i].length);
	}
	ctrl = le32_to_cpu(st->ctrl);
	if (ctrl & VFIO_DIRTY_SIM_CTRL_RUN) {
		ret = vfio_dirty_sim_writer_prepare(sim,
						    ctrl & ~VFIO_DIRTY_SIM_CTRL_RUN,
						    ranges,
						    le32_to_cpu(st->nr_ranges));
		if (ret)
			goto out_free;
	} else if (ctrl & ~(VFIO_DIRTY_SIM_DMA_PIN | VFIO_DIRTY_SIM_WRITER_STAMP)) {
		ret = -EINVAL;
		goto out_free;
	}

	vfio_dirty_sim_config_load(sim, st->config);
	memset(regs, 0, sizeof(*regs));
	regs->ctrl = ctrl;
	regs->status = le32_to_cpu(st->status);
	regs->nr_ranges = le32_to_cpu(st->nr_ranges);
	regs->pattern = le64_to_cpu(st->pattern);
	memcpy(regs->ranges, ranges, array_size(nr, sizeof(*ranges)));
	ret = 0;
out_free:
	kfree(ranges);
	return ret;
}

static struct file *sim_mig_file_open(struct vfio_dirty_sim *sim, bool save)
{
	struct sim_mig_file *migf;
	struct file *filp;

	lockdep_assert_held(&sim->state_lock);

	migf = kvzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&migf->lock);
	if (save)
		sim_mig_save(sim, migf);
	filp = anon_inode_getfile("vfio_dirty_sim_mig",
				  save ? &sim_mig_save_fops : &sim_mig_resume_fops,
				  migf, save ? O_RDONLY : O_WRONLY);
	if (IS_ERR(filp)) {
		mutex_destroy(&migf->lock);
		kvfree(migf);
		return filp;
	}
	migf->filp = filp;
	stream_open(filp->f_inode, filp);
	/* The device's reference; the caller's goes to userspace. */
	sim->mig_file = get_file(filp);
	return filp;
}

/* End the session in progress: its file's read and write fail from now. */
static void sim_mig_file_disable(struct vfio_dirty_sim *sim)
{
	struct sim_mig_file *migf;

	lockdep_assert_held(&sim->state_lock);

	if (!sim->mig_file)
		return;
	migf = sim->mig_file->private_data;
	mutex_lock(&migf->lock);
	migf->disabled = true;
	mutex_unlock(&migf->lock);
	fput(sim->mig_file);
	sim->mig_file = NULL;
}

/* One arc of the FSM, from @sim->mig_state to @next. */
static struct file *sim_mig_step(struct vfio_dirty_sim *sim,
				 enum vfio_device_mig_state next)
{
	enum vfio_device_mig_state cur = sim->mig_state;
	struct sim_mig_file *migf;
	struct file *filp = NULL;
	int ret;

	if ((cur == VFIO_DEVICE_STATE_RUNNING &&
	     next == VFIO_DEVICE_STATE_RUNNING_P2P) ||
	    (cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
	     next == VFIO_DEVICE_STATE_RUNNING)) {
		/* No P2P DMA to quiesce. */
	} else if (cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
		   next == VFIO_DEVICE_STATE_STOP) {
		sim->mig_state = next;
		vfio_dirty_sim_writer_sync(sim);
		return NULL;
	} else if (cur == VFIO_DEVICE_STATE_STOP &&
		   next == VFIO_DEVICE_STATE_RUNNING_P2P) {
		sim->mig_state = next;
		ret = vfio_dirty_sim_writer_sync(sim);
		if (ret) {
			sim->mig_state = cur;
			return ERR_PTR(ret);
		}
		return NULL;
	} else if (cur == VFIO_DEVICE_STATE_STOP &&
		   (next == VFIO_DEVICE_STATE_STOP_COPY ||
		    next == VFIO_DEVICE_STATE_RESUMING)) {
		filp = sim_mig_file_open(sim, next == VFIO_DEVICE_STATE_STOP_COPY);
		if (IS_ERR(filp))
			return filp;
	} else if (cur == VFIO_DEVICE_STATE_STOP_COPY &&
		   next == VFIO_DEVICE_STATE_STOP) {
		sim_mig_file_disable(sim);
	} else if (cur == VFIO_DEVICE_STATE_RESUMING &&
		   next == VFIO_DEVICE_STATE_STOP) {
		migf = sim->mig_file->private_data;
		mutex_lock(&migf->lock);
		ret = sim_mig_load(sim, migf);
		mutex_unlock(&migf->lock);
		if (ret)
			return ERR_PTR(ret);
		sim_mig_file_disable(sim);
	} else {
		/* vfio_mig_get_next_state() gives no other arc. */
		WARN_ON_ONCE(1);
		return ERR_PTR(-EINVAL);
	}
	sim->mig_state = next;
	return filp;
}

static struct file *sim_mig_set_state(struct vfio_device *vdev,
				      enum vfio_device_mig_state new)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);
	enum vfio_device_mig_state next;
	struct file *filp = NULL;
	int ret;

	mutex_lock(&sim->state_lock);
	while (sim->mig_state != new) {
		ret = vfio_mig_get_next_state(vdev, sim->mig_state, new, &next);
		if (ret) {
			filp = ERR_PTR(ret);
			break;
		}
		filp = sim_mig_step(sim, next);
		if (IS_ERR(filp))
			break;
		/* Only the last arc may open a session. */
		if (WARN_ON_ONCE(filp && next != new)) {
			fput(filp);
			filp = ERR_PTR(-EINVAL);
			break;
		}
	}
	mutex_unlock(&sim->state_lock);
	return filp;
}

static int sim_mig_get_state(struct vfio_device *vdev,
			     enum vfio_device_mig_state *state)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);

	mutex_lock(&sim->state_lock);
	*state = sim->mig_state;
	mutex_unlock(&sim->state_lock);
	return 0;
}

#ifdef VFIO_DIRTY_SIM_MIG_DATA_SIZE
static int sim_mig_get_data_size(struct vfio_device *vdev,
				 unsigned long *stop_copy_length)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);

	mutex_lock(&sim->state_lock);
	*stop_copy_length = SIM_MIG_LEN(sim_mig_nr_ranges(sim));
	mutex_unlock(&sim->state_lock);
	return 0;
}
#endif

const struct vfio_migration_ops vfio_dirty_sim_mig_ops = {
	.migration_set_state = sim_mig_set_state,
	.migration_get_state = sim_mig_get_state,
#ifdef VFIO_DIRTY_SIM_MIG_DATA_SIZE
	.migration_get_data_size = sim_mig_get_data_size,
#endif
};

/**
 * vfio_dirty_sim_mig_reset() - back to RUNNING, ending any session
 * @sim: the device, with @state_lock held
 *
 * For a reset and for open and close of the device; the caller syncs the
 * writer to the new state.
 */
void vfio_dirty_sim_mig_reset(struct vfio_dirty_sim *sim)
{
	lockdep_assert_held(&sim->state_lock);

	sim_mig_file_disable(sim);
	sim->mig_state = VFIO_DEVICE_STATE_RUNNING;
}

/**
 * vfio_dirty_sim_mig_state_name() - a migration state's name, for sysfs
 * @state: the state
 *
 * Return: the name, lower case, as the uAPI's enum spells it.
 */
const char *vfio_dirty_sim_mig_state_name(enum vfio_device_mig_state state)
{
	switch (state) {
	case VFIO_DEVICE_STATE_RUNNING:
		return "running";
	case VFIO_DEVICE_STATE_STOP:
		return "stop";
	case VFIO_DEVICE_STATE_STOP_COPY:
		return "stop_copy";
	case VFIO_DEVICE_STATE_RESUMING:
		return "resuming";
	case VFIO_DEVICE_STATE_RUNNING_P2P:
		return "running_p2p";
	default:
		return "error";
	}
}
