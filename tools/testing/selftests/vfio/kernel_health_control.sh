#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The negative control of kernel_health.sh, run after it on the sanitizer
# kernel: for each kind of report it claims to catch, vfio_dirty commits
# that bug on purpose (its test-only parameter "provoke"), and
# kernel_health.sh must fail and print a new line of that report.  The
# order matters: lockdep, and RCU's lockdep checks with it, stop after
# their first report (the RCU misuse's included), so of those two only the
# first is checked in one boot, and after a report of the run itself
# neither is (they SKIP, saying so: the run failed then).
# SKIPs on a kernel without the sanitizers, or a module without the hooks.
#
# --stock: the control of the sanitizer kernel's "stock" boot instead,
# where kernel_health.sh --stock accepts the stock type1 driver's own lock
# order report: this boot's report, taken from its log, must pass that
# rule and fail without --stock, and every variant of it that is not that
# defect must fail it: a lock of the simulated device in the chain, the
# same chain taken in vfio_dirty, another lock, another report besides,
# another kind of lockdep report, the report twice.

ksft_skip=4
provoke=/sys/module/vfio_dirty/parameters/provoke
stall_timeout=/sys/module/rcupdate/parameters/rcu_cpu_stall_timeout

# check N WHAT WANT FILE [--stock]: "ok N" when kernel_health.sh on the log
# FILE exits WANT (0: accepted, 1: fails)
check() {
	local n=$1 what=$2 want=$3 file=$4 out status

	shift 4
	out=$(./kernel_health.sh --log "$file" "$@" 2>&1)
	status=$?
	if [ $status -eq "$want" ]; then
		echo "ok $n $what"
		return 0
	fi
	echo "$out" | sed 's/^/# /'
	echo "not ok $n $what: kernel_health.sh $* exited $status"
	return 1
}

stock_control() {
	local dir=/tmp/kernel_health_control failed=0

	mkdir -p $dir
	# The report, from its first line to the end of its backtrace.
	dmesg | awk '/WARNING: possible circular locking dependency detected$/ { on = 1 }
		on { print } on && /<\/TASK>$/ { exit }' >$dir/known
	echo "TAP version 13"
	if ! grep -q 'iommu->device_list_lock' $dir/known; then
		echo "1..1"
		echo "ok 1 stock_report # SKIP no report of the stock type1 driver's lock order in this boot"
		return 0
	fi
	echo "1..8"
	sed 's/^\(.*\)\(-> #0 .*\)$/\1-> #2 (\&sim->pin_lock){+.+.}-{4:4}:\n\1       __mutex_lock+0x0\/0x0\n\1       sim_pin_lock+0x0\/0x0 [vfio_dirty_sim]\n\1\n\1\2/' \
		$dir/known >$dir/sim_lock
	sed '/-> #/,/other info/s/\[vfio_iommu_type1\]/[vfio_dirty]/' $dir/known >$dir/vfio_dirty
	sed 's/device_list_lock/devices_lock/' $dir/known >$dir/other_lock
	{ cat $dir/known; echo "BUG: KASAN: slab-out-of-bounds in sim_pin_lock+0x0/0x0 [vfio_dirty_sim]"; } >$dir/kasan
	sed 's/possible circular locking dependency detected/possible recursive locking detected/' \
		$dir/known >$dir/recursive
	cat $dir/known $dir/known >$dir/twice
	check 1 "stock_report: accepted as the stock driver's" 0 $dir/known --stock || failed=1
	check 2 "stock_report: fails without --stock" 1 $dir/known || failed=1
	check 3 "sim_lock: a lock of the simulated device in the chain fails" 1 $dir/sim_lock --stock || failed=1
	check 4 "vfio_dirty: the chain's locks taken in vfio_dirty fail" 1 $dir/vfio_dirty --stock || failed=1
	check 5 "other_lock: another lock in the chain fails" 1 $dir/other_lock --stock || failed=1
	check 6 "kasan: a KASAN report besides fails" 1 $dir/kasan --stock || failed=1
	check 7 "recursive: another kind of lockdep report fails" 1 $dir/recursive --stock || failed=1
	check 8 "twice: a second report fails" 1 $dir/twice --stock || failed=1
	return $failed
}

if [ "${1:-}" = --stock ]; then
	stock_control
	exit
fi

if [ ! -e /proc/lockdep ] || [ ! -w "$stall_timeout" ]; then
	echo "# SKIP: no lockdep in this kernel: not the sanitizer kernel"
	exit $ksft_skip
fi
if [ ! -e "$provoke" ]; then
	echo "# SKIP: vfio_dirty has no test hooks (CONFIG_VFIO_DIRTY_TEST)"
	exit $ksft_skip
fi

# KIND and the line of kernel_health.sh's output that reports it.
set -- \
	"rcu_outside_reader" "WARNING: suspicious RCU usage" \
	"sleep_in_atomic" "BUG: sleeping function called from invalid context" \
	"shift_out_of_bounds" "UBSAN: shift-out-of-bounds" \
	"out_of_bounds" "BUG: KASAN: slab-out-of-bounds" \
	"rcu_stall" "INFO: rcu.* stall" \
	"lock_inversion" "WARNING: possible circular locking dependency detected" \
	"leak" "^unreferenced object "

echo "TAP version 13"
echo "1..$(($# / 2))"
# A stall is reported after rcu_cpu_stall_timeout seconds (3 at the
# least), 5 s more with PROVE_RCU; the hook holds its CPU twice that.
timeout=$(cat "$stall_timeout")
echo 3 >"$stall_timeout"
n=0 failed=0
out=$(./kernel_health.sh 2>&1)
while [ $# -gt 0 ]; do
	kind=$1 report=$2
	shift 2
	n=$((n + 1))
	case $kind in
	rcu_outside_reader | lock_inversion)
		if grep -q 'debug_locks: *0' /proc/lockdep_stats; then
			echo "ok $n $kind # SKIP lockdep reported earlier and turned itself off"
			continue
		fi
		;;
	esac
	before=$(echo "$out" | grep -cE "$report")
	if ! echo "$kind" >"$provoke"; then
		echo "not ok $n $kind: cannot provoke it"
		failed=$((failed + 1))
		continue
	fi
	out=$(./kernel_health.sh 2>&1)
	status=$?
	after=$(echo "$out" | grep -cE "$report")
	if [ $status -ne 0 ] && [ "$after" -gt "$before" ]; then
		echo "ok $n $kind: kernel_health.sh fails and reports it ($((after - before)) new)"
	else
		echo "$out" | sed 's/^/# /'
		echo "not ok $n $kind: kernel_health.sh exited $status, \"$report\" $before then $after times"
		failed=$((failed + 1))
	fi
done
echo "$timeout" >"$stall_timeout"
[ $failed -eq 0 ]
