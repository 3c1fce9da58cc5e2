#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# cleanup.sh BDF...: undo setup.sh, giving each device back the driver and
# driver_override it had.  Every sysfs write is echoed.

set -eu

STATE=${VFIO_SELFTESTS_STATE:-/tmp/vfio-selftests}

die() {
	echo "cleanup.sh: $*" >&2
	exit 1
}

write() {
	echo "echo $2 > $1"
	echo "$2" > "$1"
}

[ $# -gt 0 ] || die "usage: $0 BDF..."

for bdf in "$@"; do
	dev=/sys/bus/pci/devices/$bdf
	[ -d "$STATE/$bdf" ] || die "$bdf was not set up by setup.sh"
	drv=$(cat "$STATE/$bdf/driver")
	override=$(cat "$STATE/$bdf/driver_override")

	[ ! -e "$dev/driver" ] || write "$dev/driver/unbind" "$bdf"
	# An empty line clears driver_override; "(null)" is how it reads back.
	[ "$override" = "(null)" ] && override=
	write "$dev/driver_override" "$override"
	[ -z "$drv" ] || write /sys/bus/pci/drivers_probe "$bdf"
	rm -rf "${STATE:?}/$bdf"
done
