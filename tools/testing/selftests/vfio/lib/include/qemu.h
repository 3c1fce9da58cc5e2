/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU as the selftests run it: see lib/qemu.c.  Helpers that return an
 * int return 0 or a negative errno.
 */
#ifndef VFIO_SELFTESTS_QEMU_H
#define VFIO_SELFTESTS_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vfio_util.h"

/* Where QEMU's sockets, output, firmware and saved RAM go. */
#define QEMU_WORK_DIR	"/tmp/vfio_dirty_qemu"
#define SIM_MDEV_DIR	"/sys/bus/mdev/devices"

/* A migration that starts, and never ends unless cancelled. */
#define QMP_MIGRATE_TO_NOWHERE \
	"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:cat >/dev/null\"}}"

/**
 * struct qemu - one QEMU process and its monitor
 * @pid: the process, 0 once reaped
 * @qmp: its QMP socket, connected
 * @in: @qmp, for reading lines
 * @name: what the logs call it
 * @sock: the QMP socket's path
 * @log: its standard output and error
 * @started: seconds from its start until QMP answered
 */
struct qemu {
	pid_t pid;
	int qmp;
	FILE *in;
	char name[32];
	char sock[96];
	char log[96];
	double started;
};

/** str_read() - a file's contents, without a last newline; "" if unreadable */
void str_read(const char *path, char *buf, size_t size);

/** str_write() - write @str to the file @path */
int str_write(const char *path, const char *str);

/**
 * qemu_missing() - why this guest cannot run QEMU, or NULL
 *
 * No root, no QEMU in it, or a QEMU older than 11.
 */
const char *qemu_missing(void);

/** qemu_prepare() - make QEMU_WORK_DIR and the nested guest's firmware */
int qemu_prepare(void);

/**
 * qemu_start() - start QEMU and connect to its monitor
 * @q: filled in; stopped with qemu_stop()
 * @name: names its socket and log in QEMU_WORK_DIR
 * @args: NULL-terminated, after the common options (-nodefaults, TCG, no
 *	display, the firmware, QMP)
 *
 * Its output is printed when it did not start.
 */
int qemu_start(struct qemu *q, const char *name, const char *const *args);

/**
 * qemu_start_on() - qemu_start() of a QEMU whose container must go to @backend
 * @q: as qemu_start()
 * @name: as qemu_start()
 * @backend: chosen with vfio_dirty's claim parameter while QEMU starts, and
 *	checked: its module gains a reference
 * @args: as qemu_start()
 *
 * Return: 0; -ENOENT when @backend's module is not loaded; -EPROTO when the
 * container went to another backend; or an error of qemu_start().
 */
int qemu_start_on(struct qemu *q, const char *name,
		  enum vfio_test_backend backend, const char *const *args);

/** qemu_stop() - quit QEMU, or kill it if it does not quit within 30 s */
void qemu_stop(struct qemu *q);

/**
 * qmp() - a QMP command and the first line of its answer, events skipped
 * @q: the QEMU
 * @fmt: the command, printf-style
 *
 * Return: the answer, which the caller frees, or NULL.
 */
char *qmp(struct qemu *q, const char *fmt, ...);

/** qmp_ok() - whether QMP answers @cmd with success; printed if not */
bool qmp_ok(struct qemu *q, const char *cmd);

/** json_num() - the number after "@key": in @json, or -1 */
long long json_num(const char *json, const char *key);

/** json_str() - the string after "@key": in @json, into @buf ("" if none) */
void json_str(const char *json, const char *key, char *buf, size_t size);

/**
 * qemu_migration_wait() - poll query-migrate until the migration ends
 * @q: the QEMU
 * @seconds: at most
 *
 * Return: the last answer (the caller frees it), or NULL.
 */
char *qemu_migration_wait(struct qemu *q, double seconds);

/** sim_create() - a new vfio_dirty_sim instance's UUID, or "" */
void sim_create(char *uuid, size_t size);

/** sim_remove() - remove the instance @uuid, if any, and clear @uuid */
void sim_remove(char *uuid);

/** sim_path() - the path of the instance's sysfs file @file */
void sim_path(char *buf, size_t size, const char *uuid, const char *file);

/** sim_missing() - why the instance @uuid cannot be assigned to QEMU, or NULL */
const char *sim_missing(const char *uuid);

/**
 * sim_qdev() - the -device option that assigns the instance @uuid
 * @buf: the option
 * @size: of @buf
 * @uuid: the instance
 * @container_tracks: the container tracks its writes, not the device
 *
 * Migratable: QEMU 11.1 refuses a type1 container's tracking otherwise.
 */
void sim_qdev(char *buf, size_t size, const char *uuid, bool container_tracks);

#endif /* VFIO_SELFTESTS_QEMU_H */
