/* A side's socket is nobody else's before it listens: bound under umask
 * 077 whatever the starter's umask (here 0), given its owner and mode, and
 * only then listening. listen() and chmod() are wrapped (-Wl,--wrap) to
 * look at the socket file the moment before each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "link/link.h"

static char dir[64], path[128];
static struct stat at_chmod, at_listen;
static int chmods, listens;

int __real_listen(int fd, int backlog);
int __wrap_listen(int fd, int backlog)
{
	assert_int_equal(lstat(path, &at_listen), 0);
	listens++;
	return __real_listen(fd, backlog);
}

int __real_chmod(const char *p, mode_t mode);
int __wrap_chmod(const char *p, mode_t mode)
{
	assert_string_equal(p, path);
	assert_int_equal(lstat(path, &at_chmod), 0);
	assert_int_equal(listens, 0);
	chmods++;
	return __real_chmod(p, mode);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/moat-link-sock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	chmods = listens = 0;
	umask(0);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	rmdir(dir);
	return 0;
}

/* USER:GROUP under umask 0: 0600 ours when bound, root's with GROUP 0660
 * when it listens (the VMM may not change its mode), and the starter's umask
 * is left as it was */
static void test_owner_and_mode_before_listen(void **state)
{
	struct sock_owner o = { .set = true, .has_group = true, .uid = 65534, .gid = getgid(), .file_gid = getgid() };
	int fd = sock_listen(path, &o, 0777);

	assert_true(fd >= 0);
	assert_int_equal(chmods, 1);
	assert_int_equal(listens, 1);
	assert_true(S_ISSOCK(at_chmod.st_mode));
	assert_int_equal(at_chmod.st_mode & 077, 0);
	assert_int_equal(at_chmod.st_uid, geteuid());
	assert_int_equal(at_listen.st_mode & 07777, 0660);
	assert_int_equal(at_listen.st_uid, 0);
	assert_int_equal(at_listen.st_gid, o.gid);
	assert_int_equal(umask(0), 0);
	close(fd);
}

/* USER alone: the socket is root's with USER's own group (loop.c lets no
 * one else of that group be the frontend) */
static void test_owner_without_group(void **state)
{
	struct sock_owner o = { .set = true, .uid = 65534, .file_gid = 65534 };
	int fd = sock_listen(path, &o, 0777);

	assert_true(fd >= 0);
	assert_int_equal(at_chmod.st_mode & 077, 0);
	assert_int_equal(at_listen.st_mode & 07777, 0660);
	assert_int_equal(at_listen.st_uid, 0);
	assert_int_equal(at_listen.st_gid, 65534);
	close(fd);
}

/* no owner: the mode the starter's umask would have given, set before
 * listen too; a stale socket is replaced */
static void test_no_owner_and_stale_socket(void **state)
{
	struct sock_owner none = { 0 };
	int fd = sock_listen(path, &none, 0750);

	assert_true(fd >= 0);
	close(fd);
	chmods = listens = 0;
	fd = sock_listen(path, &none, 0750);
	assert_true(fd >= 0);
	assert_int_equal(at_chmod.st_mode & 077, 0);
	assert_int_equal(at_listen.st_mode & 07777, 0750);
	close(fd);
}

static void test_other_file_kept(void **state)
{
	struct sock_owner none = { 0 };
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fclose(f);
	assert_int_equal(sock_listen(path, &none, 0777), -1);
	assert_int_equal(listens, 0);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_owner_and_mode_before_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_without_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_owner_and_stale_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_file_kept, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
