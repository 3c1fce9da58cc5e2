/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the userspace unit tests share: TAP output, EXPECT checks that fail
 * a test with their line, and a fixed-seed random generator.  Each test
 * program includes it once and calls unit_main() with its table of tests.
 */
#ifndef _VFIO_DIRTY_UNIT_H
#define _VFIO_DIRTY_UNIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Diagnostics kept per test at most, so that a failing loop cannot flood;
 * they are printed after the test's "not ok" line.
 */
#define MAX_DIAGS	10

static bool failed;
static int diags;
static char diag_buf[4096];
static size_t diag_len;

static void vappend(const char *fmt, va_list ap)
{
	int len;

	len = vsnprintf(diag_buf + diag_len, sizeof(diag_buf) - diag_len, fmt,
			ap);
	if (len > 0 && diag_len + len < sizeof(diag_buf))
		diag_len += len;
}

static void append(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(fmt, ap);
	va_end(ap);
}

/* Fail the test and say why, unless MAX_DIAGS were said already. */
static void diag(int line, const char *fmt, ...)
{
	va_list ap;

	failed = true;
	if (diags++ >= MAX_DIAGS)
		return;
	append("# line %d: ", line);
	va_start(ap, fmt);
	vappend(fmt, ap);
	va_end(ap);
}

static void expect_true(bool ok, const char *what, int line)
{
	if (!ok)
		diag(line, "%s\n", what);
}

static void expect_u64(u64 got, u64 want, const char *what, int line)
{
	if (got != want)
		diag(line, "%s: got 0x%llx, want 0x%llx\n", what, got, want);
}

static void expect_int(int got, int want, const char *what, int line)
{
	if (got != want)
		diag(line, "%s: got %d, want %d\n", what, got, want);
}

#define EXPECT(cond)		expect_true(cond, #cond, __LINE__)
#define EXPECT_U64(got, want)	expect_u64(got, want, #got, __LINE__)
#define EXPECT_INT(got, want)	expect_int(got, want, #got, __LINE__)

/* splitmix64: a fixed-seed generator, the same on every libc. */
static u64 rng_state;

static u64 rng(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A random number in [0, n). */
static u64 rng_below(u64 n)
{
	return rng() % n;
}

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Run @n tests, print TAP; return the exit status, 1 if any failed. */
static int unit_main(const struct unit_test *tests, u32 n)
{
	int status = 0;
	u32 i;

	printf("1..%u\n", n);
	for (i = 0; i < n; i++) {
		failed = false;
		diags = 0;
		diag_len = 0;
		tests[i].fn();
		printf("%sok %u %s\n", failed ? "not " : "", i + 1,
		       tests[i].name);
		if (failed) {
			fputs(diag_buf, stdout);
			if (diags > MAX_DIAGS)
				printf("# and %d more\n", diags - MAX_DIAGS);
			status = 1;
		}
	}
	return status;
}

#endif /* _VFIO_DIRTY_UNIT_H */
