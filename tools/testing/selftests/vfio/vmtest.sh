#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmtest.sh - run the vfio_dirty selftests inside real kernels under QEMU.
#
# For each kernel series (provisioned by scripts/provision.sh) it builds a
# busybox initramfs holding that kernel's VFIO stack, the project's modules
# (built by "make kernels") and the selftests (built by "make selftests"),
# boots it with an emulated intel-iommu and an edu PCI device, and brings the
# TAP back from the serial console.  See scripts/vmtest-init.sh for what runs
# in the guest.
#
# Results land in OUT/results/vmtest-SERIES.tap, one flat TAP line per test
# case, and the serial log in OUT/vm-SERIES/console.log.  A sanitizer kernel
# boots twice, "strict" and "stock" (see STOCK_TESTS in
# scripts/vmtest-init.sh), with console-strict.log and console-stock.log.
# The exit status is the number of failures (at most 255).
#
# KVM is used when a trial boot shows it works, TCG otherwise.

set -euo pipefail

REPO=$(cd "$(dirname "$0")/../../../.." && pwd)
SELFTESTS=$REPO/tools/testing/selftests/vfio

KERNELS=${VMTEST_KERNELS:-6.1 6.12 7.3}
OUT=${VMTEST_OUT:-$REPO/out}
MEM=${VMTEST_MEM:-4G}
TIMEOUT=${VMTEST_TIMEOUT:-1200}
ACCEL=${VMTEST_ACCEL:-auto}
# A guest that works reaches /init in seconds even under TCG; a KVM that
# does not work here may hang instead of failing.
PROBE_TIMEOUT=45
# About one TCG boot in twenty stalls before /init (an RCU stall, a timer
# that does not fire) and then sits idle: a guest that has not reached
# /init by then is killed and booted once more.
INIT_TIMEOUT=${VMTEST_INIT_TIMEOUT:-120}

# The kernel's VFIO stack; modprobe resolves each one's dependencies.
KERNEL_MODULES="vfio vfio_iommu_type1 mdev vfio-pci"
# 9p over virtio: the guest mounts the trixie root, whose QEMU the QEMU
# leg runs as a nested guest (see vfio_dirty_qemu_test.c).
KERNEL_MODULES="$KERNEL_MODULES virtio_pci 9pnet_virtio 9p"
PROJECT_MODULES="vfio_dirty vfio_dirty_sim"
# Besides every program "make selftests" built into OUT/selftests.
SELFTEST_FILES="kernel_health.sh kernel_health_control.sh settings scripts/setup.sh
	scripts/cleanup.sh"

usage() {
	cat <<EOF
usage: $0 [-k "SERIES..."] [-o OUT] [-m MEM] [-t SECONDS] [-a auto|kvm|tcg] [-d|-b|-r]
       $0 [options] -- COMMAND [ARG...]

  -k  kernel series to boot (default "$KERNELS"; env VMTEST_KERNELS)
  -o  build output of "make kernels" and "make selftests" (default $OUT)
  -m  guest memory (default $MEM; env VMTEST_MEM); 8 TiB-scale dirty
      tracking tests need 1G or more
  -t  seconds before a guest is killed (default $TIMEOUT; env VMTEST_TIMEOUT;
      twice that for a sanitizer kernel)
      (a guest that has not reached /init within $INIT_TIMEOUT s is killed
      and booted once more; env VMTEST_INIT_TIMEOUT)
  -a  accelerator (default $ACCEL; env VMTEST_ACCEL)
  -d  demo: run vfio_dirty_demo against a simulated mdev instead of the tests
  -b  benchmark: run vfio_dirty_bench against edu instead of the tests
  -r  dirty tracking bench: run vfio_dirty_track_bench against a simulated
      mdev instead of the tests

With a COMMAND, the guest runs it in the selftests' directory instead of the
tests, with EDU set to edu's BDF (bound to vfio-pci) and MDEV to the UUID of
a vfio_dirty_sim instance, then kernel_health.sh; its output is printed and
the exit status is the command's, 1 when it succeeded but kernel_health.sh
failed, 255 when the guest did not finish.  EDU2 names a second edu, bound
to vfio-pci as well.
EOF
}

die() {
	echo "vmtest: error: $*" >&2
	exit 255
}

log() {
	echo "vmtest: $*" >&2
}

VMTEST_ARGS="$*"
MODE=run
while getopts "k:o:m:t:a:dbrh" opt; do
	case $opt in
	k) KERNELS=$OPTARG ;;
	o) OUT=$OPTARG ;;
	m) MEM=$OPTARG ;;
	t) TIMEOUT=$OPTARG ;;
	a) ACCEL=$OPTARG ;;
	d) MODE=demo ;;
	b) MODE=bench ;;
	r) MODE=dirtybench ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 255 ;;
	esac
done
shift $((OPTIND - 1))
COMMAND=()
if [ $# -gt 0 ]; then
	[ "$MODE" = run ] || die "-d, -b and -r take no command"
	MODE=cmd
	COMMAND=("$@")
fi
case $ACCEL in
auto | kvm | tcg) ;;
*) die "unknown accelerator '$ACCEL'" ;;
esac

for tool in qemu-system-x86_64 busybox cpio gzip modprobe xz timeout; do
	command -v "$tool" >/dev/null || die "$tool not found: run scripts/provision.sh"
done
# grep reads all of the list: with -q it could stop early, and pipefail
# would then see busybox killed by SIGPIPE.
busybox --list | grep -x poweroff >/dev/null || die "busybox lacks poweroff"

# copy_binary ROOTFS PATH: a host program and the shared libraries it needs
copy_binary() {
	local rootfs=$1 bin=$2 lib

	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$rootfs$(dirname "$lib")"
		cp -L "$lib" "$rootfs$lib"
	done
	rm -f "$rootfs$bin"
	cp "$bin" "$rootfs$bin"
}

# build_initramfs SERIES DIR: the guest's root, packed as DIR/initramfs.cpio.gz
build_initramfs() {
	local series=$1 dir=$2 root kroot kver rootfs line path dest module file

	kroot=$("$REPO/scripts/provision.sh" --path "$series" root)
	kver=$("$REPO/scripts/provision.sh" --path "$series" version)
	rootfs=$dir/rootfs
	rm -rf "$rootfs"
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc/vmtest} \
		"$rootfs/lib/modules/$kver/extra" "$rootfs/lib/modules/$kver/kernel" \
		"$rootfs/selftests/vfio/scripts" \
		"$rootfs/selftests/kselftest"

	cp "$(command -v busybox)" "$rootfs/bin/busybox"
	for path in $(busybox --list-full); do
		[ -e "$rootfs/$path" ] || ln -s /bin/busybox "$rootfs/$path"
	done
	# The kselftest runner needs timeout --foreground, which busybox lacks.
	copy_binary "$rootfs" /usr/bin/timeout

	: >"$rootfs/etc/vmtest/modules"
	for module in $KERNEL_MODULES; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$module" ||
			die "$series: modprobe cannot resolve $module"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
	while read -r path; do
		file=$(basename "$path" .xz)
		dest=/lib/modules/$kver/kernel/$file
		case $path in
		*.xz) xz -dc "$path" >"$rootfs$dest" ;;
		*) cp "$path" "$rootfs$dest" ;;
		esac
		echo "$dest" >>"$rootfs/etc/vmtest/modules"
	done
	[ -s "$rootfs/etc/vmtest/modules" ] || die "$series: no kernel modules found"

	for module in $PROJECT_MODULES; do
		path=$(find "$OUT/$series" -name "$module.ko" | head -n 1)
		[ -n "$path" ] || die "$series: $module.ko not built: run make kernels"
		cp "$path" "$rootfs/lib/modules/$kver/extra/"
		echo "/lib/modules/$kver/extra/$module.ko" >>"$rootfs/etc/vmtest/modules"
	done

	[ -x "$OUT/selftests/vfio_type1_test" ] ||
		die "no selftests in $OUT/selftests: run make selftests"
	find "$OUT/selftests" -maxdepth 1 -type f -executable \
		-exec cp {} "$rootfs/selftests/vfio/" \;
	for file in $SELFTEST_FILES; do
		cp "$SELFTESTS/$file" "$rootfs/selftests/vfio/$file"
	done
	# The runner, and what it sources (ktap_helpers.sh, since 6.10).
	cp "$("$REPO/scripts/provision.sh" --path "$series" src)"/tools/testing/selftests/kselftest/*.sh \
		"$rootfs/selftests/kselftest/"
	if [ ${#COMMAND[@]} -gt 0 ]; then
		printf '%q ' "${COMMAND[@]}" >"$rootfs/etc/vmtest/command"
	fi
	cp "$SELFTESTS/scripts/vmtest-init.sh" "$rootfs/init"
	chmod +x "$rootfs/init"

	(cd "$rootfs" && find . | cpio -o -H newc --quiet) | gzip -1 >"$dir/initramfs.cpio.gz"
}

# boot SERIES DIR ACCEL MODE LOG SECONDS [BOOT]: the guest's console in LOG;
# BOOT, of a sanitizer kernel, is "strict" or "stock"; returns 2 when it did
# not reach /init: killed after INIT_TIMEOUT seconds (twice that for a
# sanitizer kernel), or died before
boot() {
	local series=$1 dir=$2 accel=$3 mode=$4 log=$5 seconds=$6 cpu=() vmlinuz
	local extra= qemu waited=0 root share init_timeout=$INIT_TIMEOUT

	# The tests' one 1 GiB hugetlb page: reserved at boot, as a running
	# kernel seldom finds 1 GiB free in one piece.
	if [ "$mode" = run ] || [ "$mode" = cmd ]; then
		extra=" hugepagesz=1G hugepages=1"
	fi
	[ -z "${7:-}" ] || extra="$extra vmtest.boot=$7"
	# The sanitizer kernel reached /init after 110 s under TCG with the
	# load average at 13 (2026-12-06).
	# acpi=noirq: pci_enable_device(), in every open of a vfio-pci device,
	# routes INTx through ACPI, which evaluates q35's _PRT (128 routing
	# entries); kmemleak and KASAN track each object ACPICA allocates for
	# it, and a REOPEN of the fuzzer's edu leg took 1.5 s instead of
	# 0.06 s (2026-12-06).  The tests use no INTx.
	case $series in
	*-sanitizer)
		init_timeout=$((INIT_TIMEOUT * 2))
		extra="$extra acpi=noirq"
		;;
	esac

	vmlinuz=$("$REPO/scripts/provision.sh" --path "$series" vmlinuz)
	# TCG's default CPU lacks 1 GiB pages, which hugetlb needs for them.
	case $accel in
	kvm) cpu=(-cpu host) ;;
	tcg) cpu=(-cpu qemu64,+pdpe1gb) ;;
	esac
	# The trixie root and its QEMU, read-only, when provisioned.
	share=()
	if root=$("$REPO/scripts/provision.sh" --path root-trixie . 2>/dev/null) &&
	   [ -x "$root/usr/bin/qemu-system-x86_64" ]; then
		share=(-virtfs "local,path=$root,mount_tag=trixie,security_model=none,readonly=on")
	fi
	# Two edus: the second is a second IOMMU group (see vmtest-init.sh).
	# no_timer_check: under load, TCG's timer can miss the kernel's
	# IO-APIC timer check, which then panics the boot ("timer doesn't
	# work through Interrupt-remapped IO-APIC").
	timeout --kill-after=10 "$seconds" qemu-system-x86_64 \
		-machine q35,kernel-irqchip=split -accel "$accel" "${cpu[@]}" \
		-smp 2 -m "$MEM" \
		-device intel-iommu,intremap=on,caching-mode=on -device edu \
		-device edu \
		"${share[@]}" \
		-kernel "$vmlinuz" -initrd "$dir/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 oops=panic intel_iommu=on no_timer_check quiet vmtest.mode=$mode$extra" \
		-display none -serial stdio -monitor none -no-reboot \
		</dev/null >"$log.raw" 2>&1 &
	qemu=$!
	while kill -0 "$qemu" 2>/dev/null; do
		if [ "$waited" -ge 0 ] && grep -q '^VMTEST: kernel' "$log.raw"; then
			waited=-1
		elif [ "$waited" -ge "$init_timeout" ]; then
			kill "$qemu" 2>/dev/null || true
			wait "$qemu" || true
			tr -d '\r' <"$log.raw" >"$log"
			return 2
		elif [ "$waited" -ge 0 ]; then
			waited=$((waited + 1))
		fi
		sleep 1
	done
	wait "$qemu" || true
	tr -d '\r' <"$log.raw" >"$log"
	# A kernel that panicked before /init (under load, TCG's timer can
	# fail the IO-APIC check) is booted once more, as one that stalled.
	[ "$waited" -lt 0 ] || return 2
}

# One pass over the console logs of SERIES' boots, printing flat TAP: one
# line per test case of every harness test, one per non-harness test, and a
# failure for a test binary that failed without saying which case (crash,
# timeout), or a guest that never finished.
parse_console() {
	local series=$1

	shift
	awk -v k="$series" '
	function result(ok, name, skip) {
		n++
		printf "%s %d %s: %s%s\n", ok ? "ok" : "not ok", n, k, name, skip
	}
	function finish() {
		if (!done && !error)
			result(0, "guest did not finish: crash or timeout, see " console, "")
		done = error = 0
		leg = ""
	}
	FNR == 1 {
		if (NR > 1)
			finish()
		console = FILENAME
		sub(/.*\//, "", console)
	}
	/^# vmtest: leg / { leg = $4; next }
	/^# selftests: vfio: / { bin = $4; cases = 0; failed = 0; next }
	/^# (not )?ok [0-9]+ / {
		line = substr($0, 3)
		ok = line !~ /^not /
		sub(/^(not )?ok [0-9]+ /, "", line)
		skip = ""
		if (match(line, / # SKIP.*/)) {
			skip = substr(line, RSTART)
			line = substr(line, 1, RSTART - 1)
		}
		result(ok, leg " " bin ": " line, skip)
		cases++
		if (!ok)
			failed++
		next
	}
	/^(not )?ok [0-9]+ selftests: vfio: / {
		ok = $1 == "ok"
		skip = ""
		if (match($0, / # SKIP.*/))
			skip = substr($0, RSTART)
		if (!cases)
			result(ok, leg " " bin, skip)
		else if (!ok && !failed)
			result(0, leg " " bin ": " substr($0, index($0, "#") + 2), "")
		next
	}
	/^VMTEST-ERROR: / { result(0, "guest: " substr($0, 15), ""); error = 1 }
	/^VMTEST-DONE/ { done = 1 }
	END {
		finish()
		printf "1..%d\n", n
	}' "$@"
}

# print_output SERIES LOG TAG WHAT: what the guest printed between its
# VMTEST-TAG-BEGIN and VMTEST-TAG-END lines in LOG; dies, saying that WHAT
# did not finish, if the guest did not finish
print_output() {
	local series=$1 log=$2 tag=$3 what=$4

	sed -n "/^VMTEST-$tag-BEGIN/,/^VMTEST-$tag-END/p" "$log" | sed '1d;$d' |
		sed '/^BENCH-DATA-BEGIN /,/^BENCH-DATA-END/d'
	save_bench_data "$log"
	grep -q '^VMTEST-DONE' "$log" ||
		{ grep '^VMTEST-ERROR' "$log"; die "$series: $what did not finish; see $log"; }
}

# save_bench_data LOG: each data file a benchmark printed in LOG (between
# BENCH-DATA-BEGIN NAME and BENCH-DATA-END, see lib/bench_data.c) to
# OUT/bench/NAME, with a line that says where it ran
save_bench_data() {
	local log=$1 host

	host="# host: $(nproc) CPUs, load average $LOAD_START at boot, $(cut -d' ' -f1-3 /proc/loadavg) at the end; guest: QEMU $ACCEL, $MEM, vmtest.sh ${VMTEST_ARGS//$OUT/OUT}"
	mkdir -p "$OUT/bench"
	awk -v dir="$OUT/bench" -v host="$host" '
	/^BENCH-DATA-BEGIN / { file = dir "/" $2; print host >file; next }
	/^BENCH-DATA-END/ { close(file); printf "vmtest: wrote %s\n", file >"/dev/stderr"; file = ""; next }
	file { print >file }' "$log"
}

kvm_works() {
	local series=$1 dir=$2

	[ -w /dev/kvm ] || return 1
	boot "$series" "$dir" kvm probe "$dir/kvm-probe.log" "$PROBE_TIMEOUT"
	grep -q '^VMTEST-PROBE-OK' "$dir/kvm-probe.log"
}

failures=0
mkdir -p "$OUT/results"
for series in $KERNELS; do
	dir=$OUT/vm-$series
	mkdir -p "$dir"
	kver=$("$REPO/scripts/provision.sh" --path "$series" version) ||
		die "kernel $series is not provisioned: run scripts/provision.sh $series"
	log "$series: building the initramfs for $kver"
	build_initramfs "$series" "$dir"

	accel=$ACCEL
	if [ "$accel" = auto ]; then
		if kvm_works "$series" "$dir"; then
			accel=kvm
		else
			log "KVM trial boot failed (see $dir/kvm-probe.log): using TCG"
			accel=tcg
		fi
		ACCEL=$accel
	fi

	# The sanitizer kernel's run took 1124 s under TCG, two programs cut
	# at 300 s (Documentation/driver-api/vfio-dirty.rst).
	seconds=$TIMEOUT
	case $series in
	*-sanitizer) seconds=$((TIMEOUT * 2)) ;;
	esac
	# A sanitizer kernel's tests run in two boots (scripts/vmtest-init.sh).
	boots=-
	case $series/$MODE in
	*-sanitizer/run) boots="strict stock" ;;
	esac
	start=$(date +%s)
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	retried=
	logs=()
	for b in $boots; do
		[ "$b" = - ] && name=console b= || name=console-$b
		logs+=("$dir/$name.log")
		log "$series: booting $kver${b:+ ($b)} ($accel, $MEM, timeout ${seconds}s)"
		boot "$series" "$dir" "$accel" "$MODE" "$dir/$name.log" "$seconds" $b && continue
		retried="${retried:+$retried; }the first boot${b:+ ($b)} did not reach /init (console: $dir/$name-first.log); booted once more"
		log "$series: $retried"
		mv "$dir/$name.log" "$dir/$name-first.log"
		boot "$series" "$dir" "$accel" "$MODE" "$dir/$name.log" "$seconds" $b || true
	done
	case $MODE in
	demo) tag=DEMO what="the demo" ;;
	bench) tag=BENCH what="the benchmark" ;;
	dirtybench) tag=DIRTYBENCH what="the dirty tracking bench" ;;
	cmd) tag=COMMAND what="the command" ;;
	*) tag= ;;
	esac
	if [ -n "$tag" ]; then
		echo "kernel $kver ($accel):"
		print_output "$series" "$dir/console.log" "$tag" "$what"
		if [ "$MODE" = cmd ]; then
			status=$(sed -n 's/^VMTEST-COMMAND-STATUS //p' "$dir/console.log")
			failures=$((failures + ${status:-255}))
		fi
		continue
	fi
	tap=$OUT/results/vmtest-$series.tap
	parse_console "$series" "${logs[@]}" >"$tap"
	[ -z "$retried" ] || echo "# $series: $retried" >>"$tap"
	# A guest that printed none of it is no reason to stop here.
	grep -hE '^(VMTEST|# |(not )?ok )' "${logs[@]}" | sed "s/^/[$series] /" || true

	pass=$(grep -cE '^ok ' "$tap" | tr -d ' ' || true)
	skip=$(grep -cE '^ok .* # SKIP' "$tap" || true)
	fail=$(grep -cE '^not ok ' "$tap" || true)
	log "$series: kernel $kver: $((pass - skip)) passed, $fail failed, $skip skipped in $(( $(date +%s) - start ))s${retried:+, booted once more} (console: ${logs[*]})"
	failures=$((failures + fail))
done

exit $((failures > 255 ? 255 : failures))
