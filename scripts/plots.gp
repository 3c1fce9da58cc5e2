# SPDX-License-Identifier: GPL-2.0-only
#
# plots.gp: the benchmarks' data files drawn as SVG ("make plots").
#
#   gnuplot -e "data='DIR'; out='DIR'" scripts/plots.gp
#
# data holds the files the benchmarks print after their tables
# (tools/testing/selftests/vfio/lib/bench_data.c): by default those of the
# run Documentation/driver-api/vfio-dirty-benchmarks.rst reports.  Columns
# of vfio_dirty_track_bench.dat, one block per amount dirtied (0: none,
# 1: 0.1%, 2: all): 1 bytes mapped; vfio_iommu_type1's 2 START, 3
# GET_BITMAP, 4 UNMAP with bitmap (ms), 5 tracking memory (KiB); 6 to 9
# the same of vfio_dirty; 10 and 11 the user and kernel floors of a 0.1%
# report (ms).  Of vfio_dirty_qemu_bench.dat: 1 VM RAM bytes;
# vfio_iommu_type1's 2 kernel GET_BITMAPs of one sync, 3 QEMU's sync, 4
# its vfio queries (ms); 5 to 7 the same of vfio_dirty.

set datafile missing "-"
set terminal svg size 800,500 dynamic noenhanced font "sans,12"
set logscale x 2
set xtics ("1 GiB" 2**30, "1 TiB" 2**40, "2 TiB" 2**41, "4 TiB" 2**42, \
	   "8 TiB" 2**43, "16 TiB" 2**44, "64 TiB" 2**46)
set xlabel "mapped size"
set grid
set key inside top left
set pointsize 0.8

track = data . "/vfio_dirty_track_bench.dat"
qemu = data . "/vfio_dirty_qemu_bench.dat"

# The stock driver in red, vfio_dirty in blue; nothing / 0.1% / all dirty
# as dotted / dashed / solid lines.
set style line 1 lc rgb "#c0392b" lw 2 dt 3 pt 7
set style line 2 lc rgb "#c0392b" lw 2 dt 2 pt 7
set style line 3 lc rgb "#c0392b" lw 2 dt 1 pt 7
set style line 4 lc rgb "#2471a3" lw 2 dt 3 pt 5
set style line 5 lc rgb "#2471a3" lw 2 dt 2 pt 5
set style line 6 lc rgb "#2471a3" lw 2 dt 1 pt 5
set style line 7 lc rgb "#555555" lw 1 dt 1 pt 6

set logscale y 10
set format y "%g"
set ylabel "ms"

# report(title, type1 column, vfio_dirty column)
do for [p = 0:1] {
	col = p == 0 ? 3 : 4
	name = p == 0 ? "GET_BITMAP" : "UNMAP with bitmap"
	set output out . (p == 0 ? "/track-get-bitmap.svg" : "/track-unmap.svg")
	set title sprintf("%s over the whole mapping (vfio_dirty_track_bench)", name)
	plot track index 0 using 1:col with linespoints ls 1 title "vfio_iommu_type1, nothing dirty", \
	     track index 1 using 1:col with linespoints ls 2 title "vfio_iommu_type1, 0.1% dirty", \
	     track index 2 using 1:col with linespoints ls 3 title "vfio_iommu_type1, all dirty", \
	     track index 0 using 1:col+4 with linespoints ls 4 title "vfio_dirty, nothing dirty", \
	     track index 1 using 1:col+4 with linespoints ls 5 title "vfio_dirty, 0.1% dirty", \
	     track index 2 using 1:col+4 with linespoints ls 6 title "vfio_dirty, all dirty", \
	     track index 1 using 1:11 with linespoints ls 7 title "kernel floor of a 0.1% report"
}

set output out . "/qemu-sync.svg"
set title "QEMU's dirty bitmap sync, nothing dirty (vfio_dirty_qemu_bench)"
set xlabel "VM RAM"
set key below
plot qemu using 1:3 with linespoints ls 3 title "vfio_iommu_type1: QEMU's sync", \
     qemu using 1:4 with linespoints ls 2 title "vfio_iommu_type1: its vfio queries", \
     qemu using 1:2 with linespoints ls 1 title "vfio_iommu_type1: the kernel's GET_BITMAPs", \
     qemu using 1:6 with linespoints ls 6 title "vfio_dirty: QEMU's sync", \
     qemu using 1:7 with linespoints ls 5 title "vfio_dirty: its vfio queries", \
     qemu using 1:5 with linespoints ls 4 title "vfio_dirty: the kernel's GET_BITMAPs"

# vfio_dirty's tracking memory is 0 where its dirty pages are runs: a
# linear axis shows it.
unset logscale y
set key inside top left
set output out . "/track-memory.svg"
set title "Tracking memory (vfio_dirty_track_bench)"
set xlabel "mapped size"
set ylabel "MiB"
plot track index 0 using 1:($5 / 1024) with linespoints ls 3 title "vfio_iommu_type1: its bitmap (VmallocUsed growth at START)", \
     track index 0 using 1:($9 / 1024) with linespoints ls 4 title "vfio_dirty, nothing dirty (tracking_bytes)", \
     track index 1 using 1:($9 / 1024) with linespoints ls 5 title "vfio_dirty, 0.1% dirty (tracking_bytes)", \
     track index 2 using 1:($9 / 1024) with linespoints ls 6 title "vfio_dirty, all dirty (tracking_bytes)"
