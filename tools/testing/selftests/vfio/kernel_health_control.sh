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

ksft_skip=4
provoke=/sys/module/vfio_dirty/parameters/provoke
stall_timeout=/sys/module/rcupdate/parameters/rcu_cpu_stall_timeout

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
		echo "ok $n $kind: kernel_health.sh fails and reports it"
	else
		echo "$out" | sed 's/^/# /'
		echo "not ok $n $kind: kernel_health.sh exited $status, \"$report\" $before then $after times"
		failed=$((failed + 1))
	fi
done
echo "$timeout" >"$stall_timeout"
[ $failed -eq 0 ]
