// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmarks' data files.  A benchmark prints its table for people and,
 * after it, the same figures as data files for plotting (gnuplot): plain
 * whitespace-separated columns under a header of comment lines ("#") that
 * say which command measured them, on which kernel and CPU, and when.
 *
 * The guest that runs a benchmark has no file system the host can read, so
 * each file goes to stdout between a BENCH_DATA_BEGIN line, which names
 * it, and a BENCH_DATA_END line; vmtest.sh writes it out on the host, to
 * OUT/bench/NAME, and adds a line that says on which host.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "bench_data.h"

/* The "model name" of /proc/cpuinfo, or "unknown". */
static void cpu_model(char *buf, size_t size)
{
	char line[256], *p;
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, size, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10))
			continue;
		p = strchr(line, ':');
		if (p) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(buf, size, "%s", p + 2);
		}
		break;
	}
	if (f)
		fclose(f);
}

void bench_data_begin(const char *name, int argc, char *argv[],
		      const char *columns)
{
	char date[32], cpu[128];
	struct utsname uts;
	time_t now = time(NULL);
	int i;

	uname(&uts);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	cpu_model(cpu, sizeof(cpu));
	printf("%s %s\n# command:", BENCH_DATA_BEGIN, name);
	for (i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n# kernel: %s %s, %s, %ld CPUs\n# date: %s\n# columns: %s\n",
	       uts.release, uts.machine, cpu, sysconf(_SC_NPROCESSORS_ONLN),
	       date, columns);
}

void bench_data_end(void)
{
	printf("%s\n", BENCH_DATA_END);
	fflush(stdout);
}
