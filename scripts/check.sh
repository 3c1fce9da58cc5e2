#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# check.sh: everything "make check" runs, in order:
#
#   provision   host tools and Debian's kernels (scripts/provision.sh)
#   build       W=1 builds against each kernel, zero warnings
#   sparse      C=2 against each kernel, zero warnings
#   headers     a test host's build against each kernel's headers alone:
#               make, make install, dkms (scripts/headers-only.sh)
#   checkpatch  --strict on every source file
#   coccinelle  the kernel's rules for drivers, one by one
#   unit        userspace unit tests of the pure logic (tools/testing/vfio_dirty)
#   plots       the committed benchmark data drawn (make plots)
#   selftests   the kselftests build
#   vmtest      each kernel booted in QEMU, the selftests run inside
#
# The sanitizer kernel (7.3-sanitizer: 7.3 built here with KASAN, UBSAN,
# lockdep, kmemleak and fault injection, tools/testing/selftests/vfio/
# config.sanitizer) takes minutes to build on an empty cache, and the
# stages above leave part of the two cores idle (Documentation/
# driver-api/vfio-dirty.rst, "What it costs make check").  So its
# provisioning (provision-sanitizer) starts in the background once Debian's
# kernels are provisioned, at nice 10 (scripts/sanitizer-kernel.sh), and is
# waited for after their VM tests; then the modules are built against it
# (build-7.3-sanitizer) and it is booted (vmtest-7.3-sanitizer).  Nothing
# waits for its locks: it holds root-trixie.lock only while it installs
# kbuild's tools in the build root, where the 7.3 stages build beside it, in
# directories of their own, and whose QEMU the guests only read.
#
# Each stage leaves flat TAP in $OUT/results/STAGE.tap and its log in
# $OUT/logs/STAGE.log.  A stage that fails without saying which test counts as
# one failure.  The last line is "N passed, N failed, N skipped", summed over
# every TAP file; the exit status is 1 when anything failed.

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$top/out}
KERNELS=${KERNELS:-6.1 6.12 7.3 7.3-sanitizer}
debian_kernels=
sanitizer_kernels=
for k in $KERNELS; do
	case $k in
	*-sanitizer) sanitizer_kernels="$sanitizer_kernels $k" ;;
	*) debian_kernels="$debian_kernels $k" ;;
	esac
done
# The kselftest harness comes from this kernel's source, whatever KERNELS
# says: 6.1's runs a test's body after its FIXTURE_SETUP skipped.
SRC_KERNEL=6.12
results=$OUT/results
logs=$OUT/logs

rm -rf "$results" "$logs"
mkdir -p "$results" "$logs"

# stage NAME COMMAND...: run COMMAND, log it, keep its TAP if it prints some,
# else make one TAP line of its exit status.
stages=0
stage() {
	local name=$1 log=$logs/$1.log rc start

	shift
	stages=$((stages + 1))
	start=$(date +%s)
	echo "=== $name: $*"
	"$@" >"$log" 2>&1
	rc=$?
	if grep -qE '^(not )?ok [0-9]+ ' "$log"; then
		grep -E '^((not )?ok [0-9]+ |1\.\.)' "$log" >"$results/$name.tap"
		failures "$log"
		# A TAP producer that died after its last line still failed.
		if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
			echo "not ok 0 $name: exit status $rc" >>"$results/$name.tap"
			tail -20 "$log"
		fi
	elif [ $rc -eq 0 ]; then
		echo "ok 1 $name" >"$results/$name.tap"
	else
		echo "not ok 1 $name: exit status $rc" >"$results/$name.tap"
		tail -40 "$log"
	fi
	summarize "$results/$name.tap" "$name ($(( $(date +%s) - start ))s)"
	return $rc
}

# failures LOG: each "not ok" line of LOG with the "# " lines that follow it
failures() {
	awk '/^not ok / { show = 1; print; next }
	     /^# / && show { print; next }
	     { show = 0 }' "$1" | head -200
}

# summarize FILE... LABEL: print "LABEL: N passed, N failed, N skipped"
summarize() {
	local label=${*: -1}

	cat "${@:1:$#-1}" | awk -v label="$label" '
		/^ok .*# SKIP/ { skip++; next }
		/^ok / { pass++; next }
		/^not ok / { fail++ }
		END { printf "%s: %d passed, %d failed, %d skipped\n", label, pass, fail, skip }'
}

# vmtest NAME SERIES...: the VM tests of SERIES, logged in $logs/NAME.log;
# vmtest.sh writes its own TAP, one file per kernel.  The accelerator the
# first call chose is given to the next: no second KVM trial boot.
accel=
vmtest() {
	local name=$1 k rc

	shift
	echo "=== $name: $*"
	tools/testing/selftests/vfio/vmtest.sh -k "$*" -o "$OUT" ${accel:+-a "$accel"} \
		>"$logs/$name.log" 2>&1
	rc=$?
	grep -E '^vmtest: ' "$logs/$name.log"
	accel=$(sed -n 's/^vmtest: .*: booting .* (\(kvm\|tcg\), .*/\1/p' "$logs/$name.log" |
		head -1)
	for k; do
		stages=$((stages + 1))
		if [ ! -s "$results/vmtest-$k.tap" ]; then
			echo "not ok 1 vmtest $k: exit status $rc, no results" >"$results/vmtest-$k.tap"
			tail -40 "$logs/$name.log"
		fi
		failures "$results/vmtest-$k.tap"
	done
}

cd "$top" || exit 1
start=$(date +%s)
sanitizer_job=
# An interrupted check stops the background build too: it runs in its own
# process group.
trap '[ -z "$sanitizer_job" ] || kill -- -"$sanitizer_job" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
# shellcheck disable=SC2086
if stage provision scripts/provision.sh $debian_kernels "$SRC_KERNEL"; then
	if [ -n "$sanitizer_kernels" ]; then
		# A stage of its own, whose lines are printed when it is waited for.
		stages=$((stages + 1))
		set -m
		# shellcheck disable=SC2086
		stage provision-sanitizer scripts/provision.sh --no-host-tools \
			$sanitizer_kernels >"$logs/provision-sanitizer.out" &
		sanitizer_job=$!
		set +m
		echo "=== provision-sanitizer:$sanitizer_kernels (in the background)"
	fi
	for k in $debian_kernels; do
		stage "build-$k" scripts/kbuild.sh "$k" "$OUT/$k" W=1 CONFIG_VFIO_DIRTY_TEST=y
		stage "sparse-$k" scripts/kbuild.sh "$k" "$OUT/sparse-$k" C=2
		stage "headers-$k" scripts/headers-only.sh "$k"
	done
	stage checkpatch scripts/checkpatch.sh
	stage coccinelle scripts/coccicheck.sh
	stage unit make -s -C tools/testing/vfio_dirty run_tests
	stage plots make -s plots
	mkdir -p "$OUT/selftests"
	stage selftests make -C tools/testing/selftests/vfio \
		KSFT_SRC="$(scripts/provision.sh --path "$SRC_KERNEL" src)" \
		OUTPUT="$OUT/selftests"
	# shellcheck disable=SC2086
	[ -z "$debian_kernels" ] || vmtest vmtest $debian_kernels
	if [ -n "$sanitizer_kernels" ]; then
		waited=$(date +%s)
		wait "$sanitizer_job"
		rc=$?
		sanitizer_job=
		cat "$logs/provision-sanitizer.out"
		echo "=== provision-sanitizer: waited $(( $(date +%s) - waited ))s"
		if [ $rc -eq 0 ]; then
			# A test guest, built here: no host builds against a
			# headers package of it, and sparse would check the
			# same source with the same compiler as on 7.3.
			for k in $sanitizer_kernels; do
				stage "build-$k" scripts/kbuild.sh "$k" "$OUT/$k" W=1 CONFIG_VFIO_DIRTY_TEST=y
			done
			# shellcheck disable=SC2086
			vmtest vmtest-sanitizer $sanitizer_kernels
		fi
	fi
fi

echo "=== total ($(( $(date +%s) - start ))s), results in $results"
for f in "$results"/*.tap; do
	summarize "$f" "$(basename "$f" .tap)"
done
# Every stage leaves a TAP file: fewer means one of them lost its output.
tapfiles=("$results"/*.tap)
if [ "${#tapfiles[@]}" -lt "$stages" ] || [ ! -e "${tapfiles[0]}" ]; then
	mkdir -p "$results"
	echo "not ok 1 check: $stages stages ran, ${#tapfiles[@]} left results" \
		>"$results/check.tap"
fi
summary=$(summarize "$results"/*.tap "")
summary=${summary#: }
echo "$summary"
case $summary in
*" 0 failed,"*) exit 0 ;;
*) exit 1 ;;
esac
