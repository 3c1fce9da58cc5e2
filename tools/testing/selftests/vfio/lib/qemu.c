// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU run by the selftests: a nested guest with no operating system, its
 * monitor (QMP), and the simulated device assigned to it.  See qemu.h.
 *
 * QEMU comes from a Debian root (VFIO_SELFTESTS_QEMU_ROOT, default /trixie,
 * which vmtest.sh shares read-only): it runs with that root's own dynamic
 * loader and libraries, its firmware directory and its modules, so nothing
 * of it is installed in the test guest.  The nested guest's firmware, a
 * 64 KiB image written here, is "cli; hlt; jmp back" at the reset vector,
 * so its vCPU never writes its RAM.  QMP answers are read one line each,
 * as QEMU writes them, and searched for the keys wanted: no JSON parser.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "qemu.h"

#define QEMU_ROOT_DEFAULT	"/trixie"
#define QEMU_MIN_MAJOR		11
#define SIM_TYPES	"/sys/class/mdev_bus/vfio_dirty_sim/mdev_supported_types"
#define BIOS_SIZE	(64 * 1024)

static const char *qemu_root(void)
{
	const char *root = getenv("VFIO_SELFTESTS_QEMU_ROOT");

	return root ? root : QEMU_ROOT_DEFAULT;
}

int str_write(const char *path, const char *str)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, str, strlen(str)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

void str_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (fd >= 0)
		close(fd);
}

/*
 * Why this guest cannot run QEMU, or NULL: no root, no QEMU in it, or a
 * QEMU older than the one whose behaviour is tested.
 */
const char *qemu_missing(void)
{
	static char why[PATH_MAX + 256];
	static bool checked;
	char path[PATH_MAX], line[256];
	int major = 0;
	FILE *f;

	if (checked)
		return why[0] ? why : NULL;
	checked = true;
	snprintf(path, sizeof(path), "%s/usr/bin/qemu-system-x86_64", qemu_root());
	if (access(path, X_OK)) {
		snprintf(why, sizeof(why),
			 "no QEMU at %s: vmtest.sh shares the trixie root that scripts/provision.sh makes, or set VFIO_SELFTESTS_QEMU_ROOT",
			 path);
		return why;
	}
	snprintf(path, sizeof(path),
		 "%1$s/lib64/ld-linux-x86-64.so.2 --library-path %1$s/usr/lib/x86_64-linux-gnu %1$s/usr/bin/qemu-system-x86_64 --version",
		 qemu_root());
	f = popen(path, "r");
	if (f && fgets(line, sizeof(line), f))
		sscanf(line, "QEMU emulator version %d", &major);
	if (f)
		pclose(f);
	if (major < QEMU_MIN_MAJOR) {
		snprintf(why, sizeof(why), "QEMU at %s is version %d, not %d or later",
			 qemu_root(), major, QEMU_MIN_MAJOR);
		return why;
	}
	return NULL;
}

/* The nested guest's firmware: cli; hlt; jmp back, at the reset vector. */
static int write_bios(const char *path)
{
	static const unsigned char reset[] = { 0xfa, 0xf4, 0xeb, 0xfc };
	unsigned char *image = calloc(1, BIOS_SIZE);
	int fd, ret = 0;

	if (!image)
		return -ENOMEM;
	memcpy(image + BIOS_SIZE - 16, reset, sizeof(reset));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, image, BIOS_SIZE) != BIOS_SIZE)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(image);
	return ret;
}

/* The first line of QMP's answer to a command, or NULL; events skipped. */
char *qmp(struct qemu *q, const char *fmt, ...)
{
	char *line = NULL, cmd[1024];
	size_t size = 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	cmd[n++] = '\n';
	/* No SIGPIPE from a QEMU that exited. */
	if (send(q->qmp, cmd, n, MSG_NOSIGNAL) != n)
		return NULL;
	while (getline(&line, &size, q->in) > 0) {
		if (strstr(line, "\"return\"") || strstr(line, "\"error\""))
			return line;
	}
	free(line);
	return NULL;
}

/* Whether QMP answers @cmd with success. */
bool qmp_ok(struct qemu *q, const char *cmd)
{
	char *r = qmp(q, "%s", cmd);
	bool ok = r && strstr(r, "\"return\"");

	if (r && !ok)
		fprintf(stderr, "# %s: %s -> %s", q->name, cmd, r);
	free(r);
	return ok;
}

/* The number after "@key": in @json, or -1. */
long long json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = json ? strstr(json, pat) : NULL;
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* The string after "@key": in @json, into @buf. */
void json_str(const char *json, const char *key, char *buf, size_t size)
{
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	p = json ? strstr(json, pat) : NULL;
	buf[0] = '\0';
	if (!p)
		return;
	p += strlen(pat);
	n = strcspn(p, "\"");
	n = n < size - 1 ? n : size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

static void qemu_print_log(struct qemu *q)
{
	char buf[2048];

	str_read(q->log, buf, sizeof(buf));
	fprintf(stderr, "# %s's output:\n%s\n", q->name, buf);
}

/*
 * Start QEMU with @args (a NULL-terminated list after the common ones) and
 * connect to its monitor.  Return: 0, or a negative errno; its output is
 * printed when it did not start.
 */
int qemu_start(struct qemu *q, const char *name, const char *const *args)
{
	const char *argv[64];
	char loader[PATH_MAX], libs[PATH_MAX], bin[PATH_MAX], data[PATH_MAX];
	char mods[PATH_MAX], qmparg[192], *greeting = NULL;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	double start = now_ms(), deadline = start + 120 * 1e3;
	size_t size = 0;
	int n = 0, fd, status;

	memset(q, 0, sizeof(*q));
	q->qmp = -1;
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->sock, sizeof(q->sock), QEMU_WORK_DIR "/%s.qmp", name);
	snprintf(q->log, sizeof(q->log), QEMU_WORK_DIR "/%s.log", name);
	snprintf(loader, sizeof(loader), "%s/lib64/ld-linux-x86-64.so.2", qemu_root());
	snprintf(libs, sizeof(libs), "%s/usr/lib/x86_64-linux-gnu", qemu_root());
	snprintf(bin, sizeof(bin), "%s/usr/bin/qemu-system-x86_64", qemu_root());
	snprintf(data, sizeof(data), "%s/usr/share/qemu", qemu_root());
	snprintf(mods, sizeof(mods), "%s/usr/lib/x86_64-linux-gnu/qemu", qemu_root());
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", q->sock);
	unlink(q->sock);

	argv[n++] = loader;
	argv[n++] = "--library-path";
	argv[n++] = libs;
	argv[n++] = bin;
	argv[n++] = "-L";
	argv[n++] = data;
	argv[n++] = "-nodefaults";
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-accel";
	argv[n++] = "tcg";
	argv[n++] = "-bios";
	argv[n++] = QEMU_WORK_DIR "/bios.bin";
	argv[n++] = "-qmp";
	argv[n++] = qmparg;
	while (*args && n < (int)ARRAY_SIZE(argv) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;

	q->pid = fork();
	if (q->pid < 0)
		return -errno;
	if (!q->pid) {
		fd = open(q->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		setenv("QEMU_MODULE_DIR", mods, 1);
		execv(loader, (char *const *)argv);
		_exit(127);
	}

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", q->sock);
	for (;;) {
		if (waitpid(q->pid, &status, WNOHANG) == q->pid) {
			q->pid = 0;
			qemu_print_log(q);
			return -ECHILD;
		}
		q->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (q->qmp >= 0 &&
		    !connect(q->qmp, (struct sockaddr *)&addr, sizeof(addr)))
			break;
		if (q->qmp >= 0)
			close(q->qmp);
		q->qmp = -1;
		if (now_ms() > deadline) {
			qemu_print_log(q);
			return -ETIMEDOUT;
		}
		usleep(50 * 1000);
	}
	q->in = fdopen(dup(q->qmp), "r");
	if (!q->in || getline(&greeting, &size, q->in) <= 0 ||
	    !strstr(greeting, "\"QMP\"")) {
		free(greeting);
		return -EPROTO;
	}
	free(greeting);
	if (!qmp_ok(q, "{\"execute\": \"qmp_capabilities\"}"))
		return -EPROTO;
	q->started = (now_ms() - start) / 1e3;
	return 0;
}

/* Quit QEMU, or kill it if it does not quit within 30 seconds. */
void qemu_stop(struct qemu *q)
{
	double deadline = now_ms() + 30 * 1e3;

	if (q->pid && q->qmp >= 0)
		free(qmp(q, "{\"execute\": \"quit\"}"));
	while (q->pid && waitpid(q->pid, NULL, WNOHANG) != q->pid) {
		if (now_ms() > deadline) {
			kill(q->pid, SIGKILL);
			waitpid(q->pid, NULL, 0);
			break;
		}
		usleep(50 * 1000);
	}
	q->pid = 0;
	if (q->in)
		fclose(q->in);
	if (q->qmp >= 0)
		close(q->qmp);
	q->in = NULL;
	q->qmp = -1;
	unlink(q->sock);
}

/* A new vfio_dirty_sim instance's UUID in @uuid, or "" when there is none. */
void sim_create(char *uuid, size_t size)
{
	DIR *types = opendir(SIM_TYPES);
	struct dirent *type = NULL;
	char path[512];

	uuid[0] = '\0';
	while (types && (type = readdir(types)) && type->d_name[0] == '.')
		;
	if (type) {
		str_read("/proc/sys/kernel/random/uuid", uuid, size);
		snprintf(path, sizeof(path), "%s/%s/create", SIM_TYPES,
			 type->d_name);
		if (str_write(path, uuid))
			uuid[0] = '\0';
	}
	if (types)
		closedir(types);
}

void sim_remove(char *uuid)
{
	char path[256];

	if (!uuid[0])
		return;
	snprintf(path, sizeof(path), SIM_MDEV_DIR "/%s/remove", uuid);
	str_write(path, "1");
	uuid[0] = '\0';
}

void sim_path(char *buf, size_t size, const char *uuid, const char *file)
{
	snprintf(buf, size, SIM_MDEV_DIR "/%s/%s", uuid, file);
}

/* Why the simulated device cannot be assigned to QEMU, or NULL. */
const char *sim_missing(const char *uuid)
{
	char path[256];

	if (!uuid[0])
		return "vfio_dirty_sim registers no mdev type";
	sim_path(path, sizeof(path), uuid, "writer");
	if (access(path, W_OK))
		return "this vfio_dirty_sim has no writer file: QEMU cannot assign it";
	return NULL;
}

/*
 * The -device option that assigns the instance @uuid, migratable (QEMU
 * 11.1 refuses a type1 container's tracking otherwise), tracked by the
 * container when @container_tracks, else by the device if it can.
 */
void sim_qdev(char *buf, size_t size, const char *uuid,
	      bool container_tracks)
{
	snprintf(buf, size, "vfio-pci,sysfsdev=%s/%s,enable-migration=on%s",
		 SIM_MDEV_DIR, uuid,
		 container_tracks ? ",x-device-dirty-page-tracking=off" : "");
}

/*
 * Start a QEMU whose container must go to @backend, and check it did: the
 * backend's module gains a reference (held until the container closes).
 */
int qemu_start_on(struct qemu *q, const char *name,
		  enum vfio_test_backend backend, const char *const *args)
{
	const char *module = vfio_test_backend_module(backend);
	long refcnt = module_refcnt(module);
	char claim[8] = "";
	int ret;

	if (refcnt < 0)
		return -ENOENT;
	__module_param_read("vfio_dirty", "claim", claim, sizeof(claim));
	if (claim[0])
		__module_param_write("vfio_dirty", "claim",
				     backend == VFIO_BACKEND_VFIO_DIRTY ? "1" : "0");
	ret = qemu_start(q, name, args);
	if (claim[0])
		__module_param_write("vfio_dirty", "claim", claim);
	if (!ret && module_refcnt(module) != refcnt + 1) {
		fprintf(stderr, "# %s: its container did not go to %s (refcnt %ld, was %ld)\n",
			name, module, module_refcnt(module), refcnt);
		ret = -EPROTO;
	}
	return ret;
}

/* Poll query-migrate until @status is not "setup" nor "active"; the answer. */
char *qemu_migration_wait(struct qemu *q, double seconds)
{
	double deadline = now_ms() + seconds * 1e3;
	char status[32], *r;

	for (;;) {
		r = qmp(q, "{\"execute\": \"query-migrate\"}");
		json_str(r, "status", status, sizeof(status));
		if (!r || (strcmp(status, "setup") && strcmp(status, "active") &&
			   strcmp(status, "device") && strcmp(status, "cancelling")) ||
		    now_ms() > deadline)
			return r;
		free(r);
		usleep(100 * 1000);
	}
}

int qemu_prepare(void)
{
	if (mkdir(QEMU_WORK_DIR, 0755) && errno != EEXIST)
		return -errno;
	return write_bios(QEMU_WORK_DIR "/bios.bin");
}
