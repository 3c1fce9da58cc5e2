#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the initramfs that vmtest.sh boots.  It loads the kernel's VFIO
# stack and the project's modules, then runs the selftests in legs:
#
#   pci   every test, against edu (1234:11e8) bound to vfio-pci behind the
#         emulated intel-iommu
#   mdev  the device tests, against an instance of vfio_dirty_sim's mdev type
#   qemu  vfio_dirty_qemu_test: QEMU from the trixie root (mounted at
#         /trixie) as a nested guest, with edu and the simulated device
#   last  kernel_health.sh: did anything warn or oops?
#   control  on the sanitizer kernel: bugs committed on purpose, each of
#         which kernel_health.sh must then report (kernel_health_control.sh)
#
# The sanitizer kernel boots twice, "vmtest.boot=strict" then "stock", and
# each boot runs its part of the legs (see STOCK_TESTS); its leg names say
# which: "strict/pci", "stock/mdev".
#
# Output is kselftest TAP on the serial console, one block per leg, headed by
# "# vmtest: leg NAME".  The last line is VMTEST-DONE; a run that ends
# without it crashed or timed out.  "vmtest.mode=probe" on the kernel command
# line only proves that the guest boots (the KVM trial); "vmtest.mode=demo"
# runs vfio_dirty_demo against an mdev instead of the tests, then QEMU's
# rows (demo_qemu);
# "vmtest.mode=bench" runs vfio_dirty_bench against edu instead of them;
# "vmtest.mode=dirtybench" runs vfio_dirty_track_bench against an mdev;
# "vmtest.mode=cmd" runs the command in /etc/vmtest/command (vmtest.sh --
# COMMAND) with EDU, EDU2 and MDEV set, then kernel_health.sh.

# Tests that need no device, and tests that take one as their argument.
HOST_TESTS="vfio_dirty_module_test"
DEVICE_TESTS="vfio_dirty_backend_test vfio_type1_test vfio_edu_dma_test
	vfio_dirty_sim_test vfio_dma_logging_test vfio_dirty_8tib_test
	vfio_dirty_sim_pci_test vfio_dirty_race_test
	vfio_dirty_fail_nth_test"
# The differential fuzzer, last: 50000 calls per leg, 100000 per kernel.
DEVICE_TESTS="$DEVICE_TESTS vfio_dirty_fuzz_test"

# What the sanitizer kernel's "stock" boot runs; its "strict" boot runs the
# rest.  Lockdep stops at its first report, and the stock type1 driver
# makes one of its own as soon as it unmaps a range in which a device with
# a dma_unmap callback holds pins (vfio_dirty_sim, in pin mode): see "The
# sanitizer kernel" in Documentation/driver-api/vfio-dirty.rst.  So the
# tests that do that run in a boot of their own, whose kernel_health.sh
# accepts that one report (--stock), and everything else in a boot where
# any report fails.  A line is LEG PROGRAM [FILTER]: FILTER selects the
# stock boot's test cases with the harness's -vVARIANT or -tTEST (attached,
# so that a program does not take it for its device), and the strict boot
# runs the program with the filter inverted (-VVARIANT, -TTEST); without a
# filter the whole program runs in the stock boot.  The differential
# fuzzer runs both backends in every sequence: its mdev leg runs here, and
# a mode of it without the stock driver's pins would be selected for the
# strict boot on its line.
STOCK_TESTS="mdev vfio_type1_test -vstock
mdev vfio_dirty_8tib_test -vstock
mdev vfio_dirty_backend_test -tmemlock_as_user
mdev vfio_dirty_fuzz_test
qemu vfio_dirty_qemu_test -vtype1_pin"

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# devtmpfs has no /dev/std*, and the kselftest runner logs to /dev/stdout.
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
# kmemleak (the sanitizer kernel) forgets what it suspected during boot:
# kernel_health.sh reports what is allocated from here on and never freed.
mount -t debugfs debugfs /sys/kernel/debug
[ ! -e /sys/kernel/debug/kmemleak ] || echo clear > /sys/kernel/debug/kmemleak

mode=run
boot=all
for arg in $(cat /proc/cmdline); do
	case $arg in
	vmtest.mode=*) mode=${arg#vmtest.mode=} ;;
	vmtest.boot=*) boot=${arg#vmtest.boot=} ;;
	esac
done

echo "VMTEST: kernel $(uname -r)"
if [ "$mode" = probe ]; then
	echo VMTEST-PROBE-OK
	poweroff -f
fi

fail() {
	echo "VMTEST-ERROR: $*"
	poweroff -f
}

while read -r module; do
	insmod "$module" || fail "insmod $module failed"
done < /etc/vmtest/modules
[ -e /dev/vfio/vfio ] || fail "no /dev/vfio/vfio after loading the VFIO modules"
# The trixie root with its QEMU, when vmtest.sh shares it; read-only and
# unchanged while the guest runs, so its pages can stay in the page cache.
if grep -qx trixie /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null; then
	mkdir -p /trixie
	mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose trixie /trixie ||
		fail "cannot mount the trixie root"
fi

# One skipped "test" stands for a leg that could not run, with its reason.
skip_leg() {
	echo "TAP version 13"
	echo "1..1"
	echo "# selftests: vfio: $1"
	echo "ok 1 selftests: vfio: $1 # SKIP $2"
}

# select_tests LEG PROGRAM...: print LEG's header and set $selected to the
# programs of PROGRAM... that this boot runs in LEG, each with its filter in
# KSELFTEST_<PROGRAM>_ARGS (the kselftest runner passes it); $selected is
# empty, and nothing printed, when there are none.
select_tests() {
	local leg=$1 prog l p filter found args

	shift
	selected=
	for prog in "$@"; do
		found= args=
		while read -r l p filter; do
			if [ "$l" = "$leg" ] && [ "$p" = "$prog" ]; then
				found=1
				break
			fi
		done <<-EOF
		$STOCK_TESTS
		EOF
		case $boot/$found in
		all/*) ;;
		stock/1) args=$filter ;;
		strict/1)
			[ -n "$filter" ] || continue
			args=$(echo "$filter" | sed 's/^-v/-V/; s/^-t/-T/')
			;;
		stock/) continue ;;
		esac
		export "KSELFTEST_$(echo "$prog" | tr a-z A-Z)_ARGS=$args"
		selected="$selected $prog"
	done
	[ -z "$selected" ] || leg "$leg"
}

# leg NAME: the header of leg NAME, named after the boot when there are two
leg() {
	case $boot in
	all) echo "# vmtest: leg $1" ;;
	*) echo "# vmtest: leg $boot/$1" ;;
	esac
}

MDEV_TYPES=/sys/class/mdev_bus/vfio_dirty_sim/mdev_supported_types

# mdev_create: print the UUID of a new vfio_dirty_sim instance, or nothing.
mdev_create() {
	local type uuid

	type=$(ls "$MDEV_TYPES" 2>/dev/null | head -n 1)
	[ -n "$type" ] || return 0
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" > "$MDEV_TYPES/$type/create" || fail "cannot create an mdev of $type"
	echo "$uuid"
}

mdev_remove() {
	echo 1 > "/sys/bus/mdev/devices/$1/remove" || fail "cannot remove mdev $1"
}

BASE_DIR=/selftests
. /selftests/kselftest/runner.sh
# KASAN, lockdep and kmemleak's scans make a program of the sanitizer
# kernel take several times its time on Debian's: vfio_type1_test and
# kernel_health_control.sh ran past settings' 300 s on it under TCG.
case $(uname -r) in
*-sanitizer) export kselftest_override_timeout=1500 ;;
esac
cd /selftests/vfio || fail "no selftests"

# run_on_mdev TAG PROGRAM [MORE]: PROGRAM against a new vfio_dirty_sim
# instance instead of the tests, then the command MORE, their output between
# VMTEST-TAG-BEGIN and VMTEST-TAG-END.
run_on_mdev() {
	uuid=$(mdev_create)
	[ -n "$uuid" ] || fail "vfio_dirty_sim registers no mdev type"
	echo "VMTEST-$1-BEGIN"
	"./$2" "$uuid" || echo "$2 failed"
	mdev_remove "$uuid"
	[ -z "${3:-}" ] || $3
	echo "VMTEST-$1-END"
	echo VMTEST-DONE
	poweroff -f
}

# The demo's QEMU rows: QEMU from the trixie root migrates a VM on
# vfio_dirty while the simulated device writes into it, checked page by
# page, and starts a 9 TiB VM on each backend (vfio_dirty_qemu_test).
demo_qemu() {
	echo
	if [ ! -x /trixie/usr/bin/qemu-system-x86_64 ]; then
		echo "QEMU: no trixie root shared with the guest, no QEMU rows"
		return
	fi
	echo "$(/trixie/lib64/ld-linux-x86-64.so.2 \
		--library-path /trixie/usr/lib/x86_64-linux-gnu \
		/trixie/usr/bin/qemu-system-x86_64 --version | head -n 1), nested:"
	./vfio_dirty_qemu_test -v vfio_dirty_pin -f large 2>&1 |
		grep -E 'migration|pages written|not supported|^(not )?ok ' |
		sed 's/^# [^:]*:[0-9]*:[^:]*:/  /'
}

case $mode in
demo) run_on_mdev DEMO vfio_dirty_demo demo_qemu ;;
dirtybench) run_on_mdev DIRTYBENCH vfio_dirty_track_bench ;;
esac

# find_edu [BDF]: the first edu (1234:11e8) other than BDF
find_edu() {
	for dev in /sys/bus/pci/devices/*; do
		if [ "${dev##*/}" != "${1:-}" ] && [ "$(cat "$dev/vendor")" = 0x1234 ] &&
		   [ "$(cat "$dev/device")" = 0x11e8 ]; then
			echo "${dev##*/}"
			return
		fi
	done
}
edu=$(find_edu)
# A second edu: a second IOMMU group, for a group that leaves an IOMMU
# domain which another group stays in (vfio_dirty_fail_nth_test).
edu2=$(find_edu "$edu")

if [ "$mode" = bench ]; then
	[ -n "$edu" ] || fail "no edu device"
	./scripts/setup.sh "$edu" >/dev/null || fail "cannot bind $edu to vfio-pci"
	echo "VMTEST-BENCH-BEGIN"
	./vfio_dirty_bench "$edu" || echo "vfio_dirty_bench failed"
	echo "VMTEST-BENCH-END"
	./scripts/cleanup.sh "$edu" >/dev/null
	echo VMTEST-DONE
	poweroff -f
fi

if [ "$mode" = cmd ]; then
	[ -n "$edu" ] || fail "no edu device"
	./scripts/setup.sh "$edu" >/dev/null || fail "cannot bind $edu to vfio-pci"
	EDU=$edu MDEV=$(mdev_create) EDU2=
	if [ -n "$edu2" ] && ./scripts/setup.sh "$edu2" >/dev/null; then
		EDU2=$edu2
	fi
	export EDU MDEV EDU2
	echo "VMTEST-COMMAND-BEGIN"
	sh -c "$(cat /etc/vmtest/command)"
	status=$?
	# The command may have removed the instance, or unloaded the sim.
	if [ -e "/sys/bus/mdev/devices/$MDEV" ]; then
		mdev_remove "$MDEV"
	fi
	./scripts/cleanup.sh "$edu" >/dev/null
	[ -z "$EDU2" ] || ./scripts/cleanup.sh "$edu2" >/dev/null
	run_many kernel_health.sh >/tmp/health
	cat /tmp/health
	if [ "$status" = 0 ] && grep -q '^not ok' /tmp/health; then
		status=1
	fi
	echo "VMTEST-COMMAND-END"
	echo "VMTEST-COMMAND-STATUS $status"
	echo VMTEST-DONE
	poweroff -f
fi

select_tests pci $HOST_TESTS $DEVICE_TESTS
if [ -z "$selected" ]; then
	:
elif [ -z "$edu" ]; then
	skip_leg pci-leg "no edu device"
elif ! ./scripts/setup.sh "$edu"; then
	fail "cannot bind $edu to vfio-pci"
else
	export VFIO_SELFTESTS_BDF=$edu
	# shellcheck disable=SC2086
	run_many $selected
	./scripts/cleanup.sh "$edu" >/dev/null
fi

select_tests mdev $DEVICE_TESTS
uuid=
[ -z "$selected" ] || uuid=$(mdev_create)
if [ -z "$selected" ]; then
	:
elif [ -z "$uuid" ]; then
	skip_leg mdev-leg "vfio_dirty_sim registers no mdev type"
else
	export VFIO_SELFTESTS_BDF=$uuid
	# edu, bound to vfio-pci, joins some tests' containers for a while.
	if [ -n "$edu" ] && ./scripts/setup.sh "$edu" >/dev/null; then
		export VFIO_SELFTESTS_PCI_BDF=$edu
	fi
	if [ -n "$edu2" ] && ./scripts/setup.sh "$edu2" >/dev/null; then
		export VFIO_SELFTESTS_PCI_BDF2=$edu2
	fi
	# shellcheck disable=SC2086
	run_many $selected
	if [ -n "${VFIO_SELFTESTS_PCI_BDF:-}" ]; then
		./scripts/cleanup.sh "$edu" >/dev/null
		unset VFIO_SELFTESTS_PCI_BDF
	fi
	if [ -n "${VFIO_SELFTESTS_PCI_BDF2:-}" ]; then
		./scripts/cleanup.sh "$edu2" >/dev/null
		unset VFIO_SELFTESTS_PCI_BDF2
	fi
	mdev_remove "$uuid"
fi

select_tests qemu vfio_dirty_qemu_test
# QEMU from the trixie root, as a nested guest: edu assigned to it, and
# the simulated device, which the program creates itself.
if [ -n "$selected" ] && [ -n "$edu" ] && ./scripts/setup.sh "$edu" >/dev/null; then
	export VFIO_SELFTESTS_PCI_BDF=$edu
fi
[ -z "$selected" ] || run_many $selected
if [ -n "${VFIO_SELFTESTS_PCI_BDF:-}" ]; then
	./scripts/cleanup.sh "$edu" >/dev/null
	unset VFIO_SELFTESTS_PCI_BDF
fi

# The stock boot accepts the stock driver's own report (see STOCK_TESTS),
# and its control shows that it accepts no other.
if [ "$boot" = stock ]; then
	export KSELFTEST_KERNEL_HEALTH_SH_ARGS=--stock
	export KSELFTEST_KERNEL_HEALTH_CONTROL_SH_ARGS=--stock
fi
leg last
run_many kernel_health.sh

leg control
run_many kernel_health_control.sh

echo VMTEST-DONE
poweroff -f
