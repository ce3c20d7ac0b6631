/* dhcp.c: the two programs moat-netd runs, udhcpc (the NIC's lease) and
 * dnsmasq (DNS for the firewall VM), as children restarted when they die. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "netvm/netd.h"
#include "lib/stage.h"

#define RESTART_MS  2000
#define STOP_MS     1000
#define NETD_CHILD_UID 65534       /* nobody: owns nothing in the netvm */

static int write_file(const char *path, const char *text, mode_t mode)
{
	return -stage_write_file(path, &(struct stage_how){ .mode = mode }, text, strlen(text));
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

/* restarted RESTART_MS after it dies or fails to start, however often; given
 * a second after SIGTERM */
static const struct sv_policy netd_child_policy = {
	.log = "moat-netd", .restart_ms = RESTART_MS, .stop_ms = STOP_MS,
};

/* C, stopped, set to run PATH with ARGV as O says, STDIN_FILE (its config)
 * on stdin, if given; it dies with us. */
static bool set_cmd(struct sv_child *c, const char *what, const char *path, const char *const argv[],
		    const char *stdin_file, struct spawn_opts o)
{
	sv_clear(c);
	sv_init(c, what, &netd_child_policy);
	o.pdeathsig = SIGTERM;
	return sv_set_cmd(c, path, argv, stdin_file, &o) == 0;
}

bool dhcp_argv(struct sv_child *c, const char *udhcpc, const char *nic, const char *script)
{
	/* busybox is one binary: "busybox udhcpc" when given busybox itself */
	const char *base = strrchr(udhcpc, '/');
	base = base ? base + 1 : udhcpc;
	bool busybox = strcmp(base, "busybox") == 0;
	const char *argv[] = { udhcpc, "udhcpc", "-f", "-i", nic, "-s", script, "-t", "3", "-T", "2",
			       "-A", "5", NULL };
	argv[1] = busybox ? "udhcpc" : udhcpc;
	/* It parses DHCP from the uplink: a uid of its own with only its raw
	 * socket and port 68, no CAP_NET_ADMIN (so no netfilter), nothing root
	 * owns; its script reaches us on a socket that takes leases only. */
	struct spawn_opts o = { .set_ids = true, .uid = NETD_UDHCPC_UID, .gid = NETD_UDHCPC_UID,
		.caps = 1ull << CAP_NET_RAW | 1ull << CAP_NET_BIND_SERVICE };
	return set_cmd(c, "udhcpc", udhcpc, busybox ? argv : argv + 1, NULL, o);
}

bool dns_argv(struct sv_child *c, const char *dnsmasq, const char *run_dir,
	      const struct netd_lease *l)
{
	char conf[4096], text[2048];
	if ((size_t)snprintf(conf, sizeof(conf), "%s/dnsmasq.conf", run_dir) >= sizeof(conf))
		return false;
	/* it keeps the ids it is started with (user=, group=): see below */
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
	/* it parses DNS from the internet: nobody, with port 53 alone; serving
	 * no DHCP, dnsmasq wants no CAP_NET_ADMIN */
	struct spawn_opts o = { .set_ids = true, .uid = NETD_CHILD_UID, .gid = NETD_CHILD_UID,
		.caps = 1ull << CAP_NET_BIND_SERVICE };
	const char *argv[] = { name, "--keep-in-foreground", "--conf-file=-", NULL };
	return set_cmd(c, "dnsmasq", dnsmasq, argv, conf, o);
}
