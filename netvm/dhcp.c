/* dhcp.c: the two programs moat-netd runs, udhcpc (the NIC's lease) and
 * dnsmasq (DNS for the firewall VM), as children restarted when they die. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "netvm/netd.h"
#include "lib/stage.h"

#define RESTART_MS  2000
#define MAX_ARGS    16
#define NETD_CHILD_UID 65534       /* nobody: owns nothing in the netvm */

static int write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	return -stage_write_now(path, tmp, mode, text, strlen(text));
}

/* A path goes into a shell script single-quoted: a quote in it is refused. */
static bool shell_safe(const char *s)
{
	return !strchr(s, '\'') && !strchr(s, '\n');
}

int dhcp_write_script(const char *dir, const char *self, const char *control,
		      char *path, size_t pathlen)
{
	if (!shell_safe(self) || !shell_safe(control))
		return -EINVAL;
	if ((size_t)snprintf(path, pathlen, "%s/udhcpc.script", dir) >= pathlen)
		return -ENAMETOOLONG;
	char text[8192];
	if ((size_t)snprintf(text, sizeof(text), "#!/bin/sh\nexec '%s' --dhcp-event \"$1\" --control '%s'\n",
			     self, control) >= sizeof(text))
		return -ENAMETOOLONG;
	return write_file(path, text, 0755);
}

static bool set_argv(struct netd_child *c, const char *what, ...)
{
	child_clear(c);
	c->what = what;
	c->argv = calloc(MAX_ARGS + 1, sizeof(char *));
	if (!c->argv)
		return false;
	va_list ap;
	va_start(ap, what);
	size_t n = 0;
	for (const char *a; (a = va_arg(ap, const char *));) {
		if (n == MAX_ARGS || !(c->argv[n++] = strdup(a))) {
			va_end(ap);
			child_clear(c);
			return false;
		}
	}
	va_end(ap);
	return true;
}

bool dhcp_argv(struct netd_child *c, const char *udhcpc, const char *nic, const char *script)
{
	/* busybox is one binary: "busybox udhcpc" when given busybox itself */
	const char *base = strrchr(udhcpc, '/');
	base = base ? base + 1 : udhcpc;
	bool ok = strcmp(base, "busybox") == 0 ?
		set_argv(c, "udhcpc", udhcpc, "udhcpc", "-f", "-i", nic, "-s", script,
			 "-t", "3", "-T", "2", "-A", "5", NULL) :
		set_argv(c, "udhcpc", udhcpc, "-f", "-i", nic, "-s", script, "-t", "3", "-T", "2",
			 "-A", "5", NULL);
	/* It parses DHCP from the uplink: a uid of its own with only its raw
	 * socket and port 68, no CAP_NET_ADMIN (so no netfilter), nothing root
	 * owns; its script reaches us on a socket that takes leases only. */
	c->creds = (struct spawn_opts){ .set_ids = true, .uid = NETD_UDHCPC_UID, .gid = NETD_UDHCPC_UID,
		.caps = 1ull << CAP_NET_RAW | 1ull << CAP_NET_BIND_SERVICE };
	return ok;
}

bool dns_argv(struct netd_child *c, const char *dnsmasq, const char *run_dir,
	      const struct netd_lease *l)
{
	char conf[4096], text[2048];
	if ((size_t)snprintf(conf, sizeof(conf), "%s/dnsmasq.conf", run_dir) >= sizeof(conf))
		return false;
	/* it keeps the ids it is started with (user=, group=): see child_start */
	int n = snprintf(text, sizeof(text),
			 "# written by moat-netd: DNS for the firewall VM only\n"
			 "listen-address=%s\nbind-interfaces\nexcept-interface=lo\n"
			 "no-resolv\nno-hosts\nno-dhcp-interface=%s\npid-file=\nuser=\ngroup=\n"
			 "cache-size=1000\nlog-facility=-\n",
			 MOAT_UPLINK_NETVM_ADDR, MOAT_UPLINK_NETVM_IF);
	for (size_t i = 0; i < l->ndns && n > 0 && (size_t)n < sizeof(text); i++) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &l->dns[i], a, sizeof(a));
		n += snprintf(text + n, sizeof(text) - (size_t)n, "server=%s\n", a);
	}
	if (n < 0 || (size_t)n >= sizeof(text) || write_file(conf, text, 0600) < 0)
		return false;
	/* named after the run directory: whose it is (main.c stops a dead
	 * daemon's); the config on stdin: the directory is ours alone */
	char name[4200];
	snprintf(name, sizeof(name), "dnsmasq@%s", run_dir);
	if (!set_argv(c, "dnsmasq", dnsmasq, "--keep-in-foreground", "--conf-file=-", NULL) ||
	    !(c->name = strdup(name)) || !(c->stdin_file = strdup(conf))) {
		child_clear(c);
		return false;
	}
	/* it parses DNS from the internet: nobody, with port 53 alone; serving
	 * no DHCP, dnsmasq wants no CAP_NET_ADMIN */
	c->creds = (struct spawn_opts){ .set_ids = true, .uid = NETD_CHILD_UID, .gid = NETD_CHILD_UID,
		.caps = 1ull << CAP_NET_BIND_SERVICE };
	return true;
}

bool child_start(struct netd_child *c)
{
	if (!c->argv || c->pid > 0)
		return c->pid > 0;
	c->restart_at = 0;
	/* none of our descriptors or blocked signals go with it, it runs with
	 * the credentials its *_argv chose, and it dies with us */
	struct spawn_opts o = c->creds;
	o.pdeathsig = SIGTERM;
	int fd = -1;
	if (c->stdin_file && (fd = open(c->stdin_file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "moat-netd: %s: %s: %s\n", c->what, c->stdin_file, strerror(errno));
		c->restart_at = mono_ms() + RESTART_MS;
		return false;
	}
	o.stdin_fd = fd;
	char *path = c->argv[0];
	if (c->name)
		c->argv[0] = c->name;
	pid_t pid = spawn_child(path, c->argv, &o);
	int err = errno;
	c->argv[0] = path;
	if (fd >= 0)
		close(fd);
	if (pid < 0) {
		fprintf(stderr, "moat-netd: starting %s: %s\n", c->what, strerror(err));
		c->restart_at = mono_ms() + RESTART_MS;
		return false;
	}
	c->pid = pid;
	fprintf(stderr, "moat-netd: started %s (pid %d)\n", c->what, (int)pid);
	return true;
}

void child_stop(struct netd_child *c)
{
	c->restart_at = 0;
	if (c->pid <= 0)
		return;
	kill(c->pid, SIGTERM);
	/* bounded: a child that ignores SIGTERM is killed */
	for (int i = 0; i < 50; i++) {
		if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
			c->pid = 0;
			return;
		}
		usleep(20000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	c->pid = 0;
}

void child_clear(struct netd_child *c)
{
	child_stop(c);
	if (c->argv)
		for (char **a = c->argv; *a; a++)
			free(*a);
	free(c->argv);
	c->argv = NULL;
	free(c->name);
	free(c->stdin_file);
	c->name = c->stdin_file = NULL;
	c->creds = (struct spawn_opts){ 0 };
}

bool child_reaped(struct netd_child *c, pid_t pid, int status)
{
	if (c->pid <= 0 || pid != c->pid)
		return false;
	c->pid = 0;
	fprintf(stderr, "moat-netd: %s exited (%s %d); again in %d s\n", c->what,
		WIFSIGNALED(status) ? "signal" : "status",
		WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), RESTART_MS / 1000);
	c->restart_at = mono_ms() + RESTART_MS;
	return true;
}
