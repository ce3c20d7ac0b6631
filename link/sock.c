/* The link's listening sockets. A connection queued on a socket is a
 * frontend once the loop accepts it, so a socket must not listen before
 * only its VMM may reach it: bound under umask 077 (ours alone), given
 * its owner and mode, and only then listening. */
#include "link/link.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Only the side's VMM (and root) may connect: root's file, the VMM's
 * group, so that the VMM cannot give it to anyone else (loop.c also
 * refuses any other frontend). */
static bool own(const char *path, const struct sock_owner *o, mode_t open_mode)
{
	if (o->set && lchown(path, 0, o->file_gid) < 0)
		return false;
	return chmod(path, o->set ? 0660 : open_mode) == 0;
}

int sock_listen(const char *path, const struct sock_owner *o, mode_t open_mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path)) {
		fprintf(stderr, "moat-link: socket path too long: %s\n", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "moat-link: %s exists and is not a socket\n", path);
			return -1;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "moat-link: socket for %s: %s\n", path, strerror(errno));
		return -1;
	}
	const char *failed = NULL;
	mode_t was = umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		failed = "bind to";
	umask(was);
	if (!failed && !own(path, o, open_mode))
		failed = "owner or mode of";
	if (!failed && listen(fd, 4) < 0)
		failed = "listen on";
	if (failed) {
		fprintf(stderr, "moat-link: %s %s: %s\n", failed, path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
