/* netctl libvirt: what `vm-args` gives a QEMU user, for libvirt.
 *   xml VM                the domain XML of VM's link (interface, memoryBacking)
 *   attach DOMAIN VM      put it into a defined domain, through virsh
 *   detach DOMAIN VM      take it out again
 *   hook DOMAIN OP ...    /etc/libvirt/hooks/qemu.d/moat: refuse to start a
 *                         domain with a moat link while the firewall does not
 *                         enforce a policy
 * The domain is read and defined by virsh (dumpxml --inactive, define),
 * never by writing libvirt's files; it is edited as XML (libvirt.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "lib/clock.h"
#include "lib/ctl.h"
#include "lib/spawn.h"
#include "host/libvirt.h"
#include "host/netctl.h"
#include "host/netctl-reply.h"
#include "host/proc.h"
#include "host/qemu.h"
#include "host/up.h"

/* The hook's whole budget for asking the firewall (libvirt waits for
 * hooks with the domain's lock held, and virt-manager with it): under 2 s
 * with the rest of the hook. */
#define HOOK_CALL_MS 1500

/* ---- virsh ---- */

/* virsh [-c URI] ARGS... with IN (LEN bytes; NULL: nothing) on its stdin;
 * its stdout into *OUT (malloc'd, NUL-ended, at most LV_XML_MAX) when OUT.
 * virsh's own errors go to our stderr. false if it failed. */
static bool virsh(const char *uri, const char *const *args, const char *in, size_t len, char **out, size_t *outlen)
{
	const char *argv[16];
	size_t n = 0;
	argv[n++] = "virsh";
	argv[n++] = "-q";
	if (uri) {
		argv[n++] = "-c";
		argv[n++] = uri;
	}
	for (; *args && n + 1 < sizeof(argv) / sizeof(argv[0]); args++)
		argv[n++] = *args;
	argv[n] = NULL;
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0) {
		perror("netctl: pipe");
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0 || spawn_close_range(3, ~0u) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execvp("virsh", (char *const *)argv);
		fprintf(stderr, "netctl: cannot run virsh: %s (apt install libvirt-clients)\n", strerror(errno));
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	if (pid < 0) {
		perror("netctl: fork");
		close(pin[1]);
		close(pout[0]);
		return false;
	}
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	bool ok = true;
	for (size_t done = 0; in && done < len;) {
		ssize_t w = write(pin[1], in + done, len - done);
		if (w <= 0) {
			ok = false;
			break;
		}
		done += (size_t)w;
	}
	close(pin[1]);
	size_t got = 0, cap = 0;
	char *buf = NULL;
	for (;;) {
		if (got + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *b = cap <= (size_t)LV_XML_MAX + 1 ? realloc(buf, cap) : NULL;
			if (!b) {
				ok = false;
				break;
			}
			buf = b;
		}
		ssize_t r = read(pout[0], buf + got, cap - got - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(pout[0]);
	signal(SIGPIPE, old);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (ok && out) {
		buf[got] = 0;
		*out = buf;
		*outlen = got;
	} else {
		free(buf);
	}
	return ok;
}

/* ---- the link of a VM of the policy ---- */

struct vm_link {
	struct policy *p;
	char sock[QEMU_PATH_MAX];
	struct lv_link l;
};

static bool vm_link_load(struct netctl *ctx, const char *vm, struct vm_link *v)
{
	*v = (struct vm_link){ 0 };
	if (!(v->p = netctl_load_policy(ctx, ctx->conf)))
		return false;
	int i = policy_find_vm(v->p, vm);
	if (i < 0) {
		fprintf(stderr, "netctl libvirt: no VM '%s' in %s\n", vm, ctx->conf);
		policy_free(v->p);
		return false;
	}
	if (!qemu_link_path(v->sock, sizeof(v->sock), ctx->state_dir, vm, "app")) {
		policy_free(v->p);
		return false;
	}
	v->l.vm = v->p->vms[i].name;
	v->l.sock = v->sock;
	memcpy(v->l.mac, v->p->vms[i].mac, 6);
	return true;
}

/* The most guest memory VM's link maps: what its running link was started
 * with, else what up would start it with. */
static unsigned long long vm_mem_max_mb(const struct netctl *ctx, const char *vm)
{
	unsigned long long mb = link_mem_max_mb(ctx, vm);
	if (!mb) {
		struct up_opts o;
		up_opts_defaults(&o);
		app_links_load(ctx, &o);
		mb = o.vm_memory_max_mb;
	}
	return mb;
}

static int xml_cmd(struct netctl *ctx, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: netctl libvirt xml VM\n");
		return NETCTL_USAGE;
	}
	struct vm_link v;
	if (!vm_link_load(ctx, argv[1], &v))
		return NETCTL_FAILED;
	char *s = lv_snippet(&v.l);
	bool ok = s != NULL;
	if (ok)
		fputs(s, stdout);
	xmlFree(s);
	policy_free(v.p);
	return ok ? NETCTL_OK : NETCTL_FAILED;
}

/* attach or detach: dumpxml --inactive, edit, define. */
static int edit_cmd(struct netctl *ctx, int argc, char **argv, const char *uri, bool attach)
{
	if (argc != 3) {
		fprintf(stderr, "usage: netctl libvirt %s [-c URI] DOMAIN VM\n", argv[0]);
		return NETCTL_USAGE;
	}
	const char *dom = argv[1];
	struct vm_link v;
	if (!vm_link_load(ctx, argv[2], &v))
		return NETCTL_FAILED;
	int rc = NETCTL_FAILED;
	char *xml = NULL, err[256], msg[512];
	size_t len;
	xmlDocPtr doc = NULL;
	xmlChar *out = NULL;
	const char *dump[] = { "dumpxml", "--inactive", "--", dom, NULL };
	if (!virsh(uri, dump, NULL, 0, &xml, &len)) {
		fprintf(stderr, "netctl libvirt %s: virsh dumpxml %s failed\n", argv[0], dom);
		goto out;
	}
	if (!(doc = lv_parse(xml, len, err, sizeof(err)))) {
		fprintf(stderr, "netctl libvirt %s: the XML of domain %s does not parse: %s\n", argv[0], dom, err);
		goto out;
	}
	enum lv_result r = attach ? lv_attach(doc, &v.l, vm_mem_max_mb(ctx, v.l.vm), msg, sizeof(msg))
				  : lv_detach(doc, v.l.sock, v.l.vm, msg, sizeof(msg));
	if (r == LV_REFUSED) {
		fprintf(stderr, "netctl libvirt %s: domain %s: %s; nothing changed\n", argv[0], dom, msg);
		goto out;
	}
	if (r == LV_CHANGED) {
		int n;
		xmlDocDumpFormatMemoryEnc(doc, &out, &n, "UTF-8", 1);
		const char *define[] = { "define", "--validate", "/dev/stdin", NULL };
		if (!out || !virsh(uri, define, (char *)out, (size_t)n, NULL, NULL)) {
			fprintf(stderr, "netctl libvirt %s: virsh define of domain %s failed; nothing changed\n",
				argv[0], dom);
			goto out;
		}
	}
	printf("%s %s: %s%s\n", dom, v.l.vm, msg, r == LV_CHANGED ? "" : "; nothing changed");
	if (r == LV_CHANGED) {
		const char *state[] = { "domstate", "--", dom, NULL };
		char *s = NULL;
		if (virsh(uri, state, NULL, 0, &s, &len) && strncmp(s, "shut off", 8) != 0)
			printf("%s is running: the change takes effect when it starts again\n", dom);
		free(s);
	}
	rc = NETCTL_OK;
out:
	xmlFree(out);
	xmlFreeDoc(doc);
	free(xml);
	policy_free(v.p);
	return rc;
}

/* ---- the hook ---- */

struct hook_scan {
	char links[PATH_MAX];        /* realpath of STATE/links */
	char found[QEMU_PATH_MAX];   /* the first moat link's socket */
	bool any;
};

/* PATH with its longest prefix that exists resolved (realpath), the rest
 * as written: a links directory that does not exist yet (no netctl up so
 * far) still has one spelling. One prefix at a time, from the longest, in
 * one buffer: a hostile path of thousands of directories costs time, never
 * stack. false if it is not absolute or does not fit OUT (PATH_MAX). */
static bool canon(const char *path, char *out)
{
	char pre[PATH_MAX], real[PATH_MAX];
	size_t len = strlen(path);
	if (path[0] != '/' || len >= sizeof(pre))
		return false;
	memcpy(pre, path, len + 1);
	for (size_t cut = len;; ) {
		pre[cut] = 0;
		if (realpath(cut ? pre : "/", real)) {
			const char *rest = path + cut;
			size_t n = strlen(real);
			if (n == 1 && *rest == '/')
				n = 0;   /* "/" + "/rest" */
			return snprintf(out, PATH_MAX, "%.*s%s", (int)n, real, rest) < PATH_MAX;
		}
		while (cut > 0 && pre[--cut] != '/')
			;
	}
}

/* PATH's directory is moat's links directory LINKS (canon): by realpath, so
 * no spelling of it, nor a directory symlinked to it, passes unseen; nor a
 * socket path that is a symbolic link into it. */
static bool moat_link_path(const char *path, const char *links)
{
	char real[PATH_MAX];
	for (int follow = 0; follow < 2; follow++) {
		if (follow ? !realpath(path, real) : !canon(path, real))
			continue;
		char *slash = strrchr(real, '/');
		if (slash && (size_t)(slash - real) == strlen(links) && strncmp(real, links, strlen(links)) == 0)
			return true;
	}
	return false;
}

static bool hook_path(const char *path, void *arg)
{
	struct hook_scan *s = arg;
	if (!moat_link_path(path, s->links))
		return true;
	s->any = true;
	if (strlen(path) < sizeof(s->found))
		snprintf(s->found, sizeof(s->found), "%s", path);
	return false;
}

/* The generation the firewall enforces, 0 for none or no answer within
 * HOOK_CALL_MS. Asked on root's channel and the read-only one at once,
 * the first answer counts: QEMU serves one client at a time on each (a
 * root's `log -f` may hold the first), and a fresh connection right after
 * another's may wait a second under TCG. */
static uint32_t hook_generation(const struct netctl *ctx)
{
	char ro[4096];
	const char *paths[] = { ctx->control, netctl_status_path(ctx->control, ro, sizeof(ro)) ? ro : NULL };
	struct pollfd p[2];
	nfds_t np = 0;
	int64_t end = mono_ms() + HOOK_CALL_MS, left;
	struct ctl_msg m;
	uint32_t gen = 0;
	ctl_msg_init(&m, CTL_REQ_STATUS);
	for (size_t i = 0; i < 2 && paths[i]; i++) {
		int fd = ctl_connect_within(paths[i], 100);
		if (fd >= 0 && ctl_send(fd, &m) == 0)
			p[np++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		else if (fd >= 0)
			close(fd);
	}
	while (!gen && np && (left = end - mono_ms()) > 0 && poll(p, np, (int)left) > 0) {
		for (nfds_t k = 0; k < np; k++) {
			if (!p[k].revents)
				continue;
			uint8_t *reply = NULL;
			size_t len;
			uint32_t st = 1;
			if (ctl_recv_within(p[k].fd, &reply, &len, end - mono_ms()) == 0 &&
			    ctl_get_u32(reply, len, CTL_A_STATUS, &st) && !st)
				ctl_get_u32(reply, len, CTL_A_GENERATION, &gen);
			free(reply);
			close(p[k].fd);
			p[k] = p[--np];
			break;
		}
	}
	while (np)
		close(p[--np].fd);
	ctl_msg_free(&m);
	return gen;
}

/* libvirt runs the hook as HOOK DOMAIN OPERATION SUB-OPERATION EXTRA with
 * the domain's XML on stdin; a non-zero exit of prepare or start stops the
 * start, and what we print on stderr is libvirt's error message. */
static int hook_cmd(struct netctl *ctx, int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: netctl libvirt hook DOMAIN OPERATION [SUB-OPERATION [EXTRA]]\n");
		return NETCTL_USAGE;
	}
	const char *dom = argv[1], *op = argv[2];
	bool starting = strcmp(op, "prepare") == 0 || strcmp(op, "start") == 0;
	/* read it all whatever the operation: libvirt writes it all */
	size_t got = 0, cap = 65536;
	char *buf = malloc(cap);
	bool whole = buf != NULL;
	for (ssize_t r; whole;) {
		if (got == cap) {
			char *b = cap < LV_XML_MAX ? realloc(buf, cap * 2) : NULL;
			if (!b) {
				whole = false;
				break;
			}
			buf = b;
			cap *= 2;
		}
		r = read(0, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			whole = false;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int rc = NETCTL_OK;
	if (!starting)
		goto out;
	char err[256];
	xmlDocPtr doc = whole ? lv_parse(buf, got, err, sizeof(err)) : NULL;
	if (!doc) {
		/* libvirt's own XML always parses: fail closed */
		fprintf(stderr, "moat: cannot read the XML of domain %s (%s), so cannot tell whether it has a moat "
			"link: not starting it\n", dom, whole ? err : "too large or unreadable");
		rc = NETCTL_FAILED;
		goto out;
	}
	struct hook_scan s = { 0 };
	char links[4096];
	if (netctl_pathf(links, sizeof(links), "%s/links", ctx->state_dir) && canon(links, s.links))
		lv_vhostuser_paths(doc, hook_path, &s);
	xmlFreeDoc(doc);
	if (!s.any)
		goto out;   /* no moat link (or no moat here): not ours to judge */
	uint32_t gen = proc_running(ctx, "firewallvm") > 0 ? hook_generation(ctx) : 0;
	struct stat st;
	if (!gen) {
		fprintf(stderr, "moat: domain %s has a moat link (", dom);
		ctl_fput_safe(stderr, s.found, false);
		fprintf(stderr, "), and moat's firewall is not enforcing a policy: start moat first (systemctl start "
			"moat, or netctl up)\n");
		rc = NETCTL_FAILED;
	} else if (stat(s.found, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "moat: domain %s's moat link ", dom);
		ctl_fput_safe(stderr, s.found, false);
		fprintf(stderr, " is not running: is its VM in moat.conf? (netctl plug VM)\n");
		rc = NETCTL_FAILED;
	}
out:
	free(buf);
	return rc;
}

int libvirt_main(struct netctl *ctx, int argc, char **argv)
{
	const char *uri = NULL;
	/* -c URI: virsh's connection (default: virsh's, $LIBVIRT_DEFAULT_URI) */
	if (argc >= 4 && strcmp(argv[2], "-c") == 0) {
		uri = argv[3];
		memmove(&argv[2], &argv[4], (size_t)(argc - 4 + 1) * sizeof(*argv));
		argc -= 2;
	}
	const char *sub = argc >= 2 ? argv[1] : "";
	if (strcmp(sub, "xml") == 0)
		return xml_cmd(ctx, argc - 1, argv + 1);
	if (strcmp(sub, "attach") == 0 || strcmp(sub, "detach") == 0) {
		return edit_cmd(ctx, argc - 1, argv + 1, uri, sub[0] == 'a');
	}
	if (strcmp(sub, "hook") == 0)
		return hook_cmd(ctx, argc - 1, argv + 1);
	fprintf(stderr, "usage: netctl libvirt xml VM | attach [-c URI] DOMAIN VM | detach [-c URI] DOMAIN VM | "
		"hook DOMAIN OPERATION ...\n");
	return NETCTL_USAGE;
}
