/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benchmarks' data files: see lib/bench_data.c.
 */
#ifndef VFIO_SELFTESTS_BENCH_DATA_H
#define VFIO_SELFTESTS_BENCH_DATA_H

/* The lines around a data file in a benchmark's output. */
#define BENCH_DATA_BEGIN	"BENCH-DATA-BEGIN"
#define BENCH_DATA_END		"BENCH-DATA-END"

/**
 * bench_data_begin() - start a data file in the benchmark's output
 * @name: the file's name, e.g. "vfio_dirty_track_bench.dat"
 * @argc: the program's argument count
 * @argv: its arguments
 * @columns: the names of the columns, separated by spaces
 *
 * Prints BENCH_DATA_BEGIN and @name, then the file's header, comment lines
 * that say which command measured it, on which kernel, CPU and date, and
 * its columns.  The rows follow on stdout, whitespace-separated, "-" for a
 * figure not measured, until bench_data_end().
 */
void bench_data_begin(const char *name, int argc, char *argv[],
		      const char *columns);

/**
 * bench_data_end() - end the data file bench_data_begin() started
 */
void bench_data_end(void);

#endif /* VFIO_SELFTESTS_BENCH_DATA_H */
