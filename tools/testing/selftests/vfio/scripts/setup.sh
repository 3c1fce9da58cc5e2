#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# setup.sh BDF...: bind PCI devices to vfio-pci for the selftests.
#
# The driver and driver_override of each device are recorded under
# $VFIO_SELFTESTS_STATE (default /tmp/vfio-selftests) so that cleanup.sh can
# put them back.  Every sysfs write is echoed.

set -eu

STATE=${VFIO_SELFTESTS_STATE:-/tmp/vfio-selftests}

die() {
	echo "setup.sh: $*" >&2
	exit 1
}

write() {
	echo "echo $2 > $1"
	echo "$2" > "$1"
}

[ $# -gt 0 ] || die "usage: $0 BDF..."
if [ ! -d /sys/bus/pci/drivers/vfio-pci ]; then
	modprobe vfio-pci || die "vfio-pci is not available"
fi

for bdf in "$@"; do
	dev=/sys/bus/pci/devices/$bdf
	[ -d "$dev" ] || die "no PCI device $bdf"
	[ -e "$dev/iommu_group" ] || die "$bdf has no IOMMU group (is the IOMMU on?)"

	drv=
	[ -e "$dev/driver" ] && drv=$(basename "$(readlink "$dev/driver")")
	mkdir -p "$STATE/$bdf"
	echo "$drv" > "$STATE/$bdf/driver"
	cat "$dev/driver_override" > "$STATE/$bdf/driver_override"

	if [ "$drv" != vfio-pci ]; then
		[ -z "$drv" ] || write "$dev/driver/unbind" "$bdf"
		write "$dev/driver_override" vfio-pci
		write /sys/bus/pci/drivers_probe "$bdf"
	fi
	[ "$(basename "$(readlink "$dev/driver")")" = vfio-pci ] ||
		die "$bdf did not bind to vfio-pci"
	echo "$bdf: vfio-pci, IOMMU group $(basename "$(readlink "$dev/iommu_group")")"
done
