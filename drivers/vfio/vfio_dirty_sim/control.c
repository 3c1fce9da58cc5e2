// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty_sim control from the host: per-instance sysfs files.
 *
 * Theory of operation
 *
 * A guest that runs no OS cannot program the device, so a test drives it
 * from outside, through files of the instance's directory
 * /sys/bus/mdev/devices/UUID/ (documented in
 * Documentation/ABI/testing/sysfs-module-vfio_dirty_sim):
 *
 *   writer           starts and stops the background writer, and says
 *                    whether it runs, is paused by the migration state,
 *                    or is stopped, with its programming
 *   write_log        the write log, one u64 per page, as
 *                    VFIO_DIRTY_SIM_LOG_READ reads it
 *   write_seq        the last sequence number taken
 *   write_failed     the writes that failed
 *   migration_state  the device's VFIO migration state
 *
 * "writer" goes through vfio_dirty_sim_writer_start() and _stop(), as
 * the ioctls do: the same checks, the same errors, one writer per device
 * whichever way it was started.  The syntax is
 *
 *   start FLAGS PATTERN IOVA:LENGTH[,IOVA:LENGTH...]
 *   stop
 *
 * FLAGS is "-" or a comma-separated list of "pin" and "stamp"; numbers
 * are in C syntax (kstrtou64() with base 0).
 */
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "sim.h"

static const struct {
	const char *name;
	u32 flag;
} sim_writer_flags[] = {
	{ "pin", VFIO_DIRTY_SIM_DMA_PIN },
	{ "stamp", VFIO_DIRTY_SIM_WRITER_STAMP },
};

static int sim_parse_flags(char *s, u32 *flags)
{
	char *name;
	u32 i;

	*flags = 0;
	if (!strcmp(s, "-"))
		return 0;
	while ((name = strsep(&s, ","))) {
		for (i = 0; i < ARRAY_SIZE(sim_writer_flags); i++)
			if (!strcmp(name, sim_writer_flags[i].name))
				break;
		if (i == ARRAY_SIZE(sim_writer_flags))
			return -EINVAL;
		*flags |= sim_writer_flags[i].flag;
	}
	return 0;
}

/* "IOVA:LENGTH[,IOVA:LENGTH...]" into a new array; the caller frees it. */
static int sim_parse_ranges(char *s, struct vfio_dirty_sim_range **ranges,
			    u32 *nr_ranges)
{
	struct vfio_dirty_sim_range *r;
	char *range, *len;
	u32 n = 1;
	int ret;

	for (range = s; (range = strchr(range, ',')); range++)
		n++;
	if (n > VFIO_DIRTY_SIM_WRITER_MAX_RANGES)
		return -EINVAL;
	r = kcalloc(n, sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	for (n = 0; (range = strsep(&s, ",")); n++) {
		len = strchr(range, ':');
		if (!len) {
			ret = -EINVAL;
			goto err_free;
		}
		*len++ = '\0';
		ret = kstrtou64(range, 0, &r[n].iova);
		if (!ret)
			ret = kstrtou64(len, 0, &r[n].length);
		if (ret)
			goto err_free;
	}
	*ranges = r;
	*nr_ranges = n;
	return 0;

err_free:
	kfree(r);
	return ret;
}

static int sim_writer_command(struct vfio_dirty_sim *sim, char *cmd)
{
	struct vfio_dirty_sim_range *ranges;
	char *argv[4];
	u32 flags, nr_ranges;
	u64 pattern;
	int argc, ret;

	for (argc = 0; argc < ARRAY_SIZE(argv); argc++) {
		argv[argc] = strsep(&cmd, " ");
		if (!argv[argc])
			break;
	}
	if (cmd)
		return -EINVAL;
	if (argc == 1 && !strcmp(argv[0], "stop"))
		return vfio_dirty_sim_writer_stop(sim);
	if (argc != 4 || strcmp(argv[0], "start"))
		return -EINVAL;

	ret = sim_parse_flags(argv[1], &flags);
	if (!ret)
		ret = kstrtou64(argv[2], 0, &pattern);
	if (!ret)
		ret = sim_parse_ranges(argv[3], &ranges, &nr_ranges);
	if (ret)
		return ret;
	ret = vfio_dirty_sim_writer_start(sim, flags, pattern, ranges,
					  nr_ranges);
	kfree(ranges);
	return ret;
}

static ssize_t writer_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t count)
{
	char *cmd;
	int ret;

	/* sysfs cuts a longer write at a page: this one may have been cut. */
	if (count >= PAGE_SIZE)
		return -E2BIG;
	cmd = kstrndup(buf, count, GFP_KERNEL);
	if (!cmd)
		return -ENOMEM;
	ret = sim_writer_command(dev_to_sim(dev), strim(cmd));
	kfree(cmd);
	return ret ? ret : count;
}

static ssize_t writer_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct vfio_dirty_sim *sim = dev_to_sim(dev);
	const struct vfio_dirty_sim_regs *regs = &sim->regs;
	const char *sep = "";
	int len;
	u32 i;

	mutex_lock(&sim->state_lock);
	if (!(regs->ctrl & VFIO_DIRTY_SIM_CTRL_RUN)) {
		len = sysfs_emit(buf, "stopped\n");
		goto out_unlock;
	}
	len = sysfs_emit(buf, "%s ", vfio_dirty_sim_dma_allowed(sim) ?
			 "running" : "paused");
	for (i = 0; i < ARRAY_SIZE(sim_writer_flags); i++) {
		if (!(regs->ctrl & sim_writer_flags[i].flag))
			continue;
		len += sysfs_emit_at(buf, len, "%s%s", sep,
				     sim_writer_flags[i].name);
		sep = ",";
	}
	len += sysfs_emit_at(buf, len, "%s %#llx ", *sep ? "" : "-",
			     regs->pattern);
	for (i = 0; i < regs->nr_ranges; i++)
		len += sysfs_emit_at(buf, len, "%s%#llx:%#llx", i ? "," : "",
				     regs->ranges[i].iova,
				     regs->ranges[i].length);
	len += sysfs_emit_at(buf, len, "\n");
out_unlock:
	mutex_unlock(&sim->state_lock);
	return len;
}
static DEVICE_ATTR_RW(writer);

static ssize_t write_seq_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&dev_to_sim(dev)->seq));
}
static DEVICE_ATTR_RO(write_seq);

static ssize_t write_failed_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&dev_to_sim(dev)->failed));
}
static DEVICE_ATTR_RO(write_failed);

static ssize_t migration_state_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct vfio_dirty_sim *sim = dev_to_sim(dev);
	enum vfio_device_mig_state state;

	mutex_lock(&sim->state_lock);
	state = sim->mig_state;
	mutex_unlock(&sim->state_lock);
	return sysfs_emit(buf, "%s\n", vfio_dirty_sim_mig_state_name(state));
}
static DEVICE_ATTR_RO(migration_state);

/*
 * The write log as a file with no end: the u64 of page P at offset P * 8;
 * reads of whole, aligned entries only.
 */
static ssize_t write_log_read(struct file *filp, struct kobject *kobj,
			      SIM_BIN_ATTR_CONST struct bin_attribute *attr,
			      char *buf,
			      loff_t off, size_t count)
{
	struct vfio_dirty_sim *sim = dev_to_sim(kobj_to_dev(kobj));
	u64 *entry = (u64 *)buf;
	unsigned long index;
	size_t i;

	if (!IS_ALIGNED(off, sizeof(u64)) || !IS_ALIGNED(count, sizeof(u64)))
		return -EINVAL;
	index = off / sizeof(u64);
	for (i = 0; i < count / sizeof(u64); i++)
		entry[i] = vfio_dirty_sim_log_entry(sim, index + i);
	return count;
}
static BIN_ATTR_RO(write_log, 0);

static struct attribute *vfio_dirty_sim_control_attrs[] = {
	&dev_attr_writer.attr,
	&dev_attr_write_seq.attr,
	&dev_attr_write_failed.attr,
	&dev_attr_migration_state.attr,
	NULL,
};

static SIM_BIN_ATTR_CONST struct bin_attribute *SIM_BIN_ATTR_CONST
vfio_dirty_sim_control_bin_attrs[] = {
	&bin_attr_write_log,
	NULL,
};

const struct attribute_group vfio_dirty_sim_control_group = {
	.attrs = vfio_dirty_sim_control_attrs,
	.bin_attrs = vfio_dirty_sim_control_bin_attrs,
};
