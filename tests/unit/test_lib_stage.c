/* test_lib_stage: lib/stage.c's writes replace a file whole or not at all:
 * the text (plain or formatted) is there after, the owner hook runs on the
 * empty file before a byte is written and a refusal leaves the old file and
 * no temporary one, a name that does not fit is refused, and a symbolic link
 * planted at the temporary name is not written through. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/stage.h"

static char dir[] = "/tmp/moat-stage-test.XXXXXX";
static char file[128], tmp[128], victim[128];

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/f", dir);
	snprintf(tmp, sizeof(tmp), "%s/f.tmp", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(file);
	unlink(tmp);
	unlink(victim);
	return rmdir(dir);
}

static const char *slurp(const char *path)
{
	static char text[256];
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	return text;
}

static void test_write_and_printf(void **state)
{
	const struct stage_how how = { .mode = 0600 };
	assert_int_equal(stage_write_file(file, &how, "one\n", 4), 0);
	assert_string_equal(slurp(file), "one\n");
	assert_int_equal(stage_printf(file, &how, "%s %u\n", "two", 2u), 0);
	assert_string_equal(slurp(file), "two 2\n");
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(tmp, F_OK), -1);
	unlink(file);
}

static int own_calls;

/* The hook sees the empty file, and gives it its mode. */
static bool own_ok(int fd, void *arg)
{
	struct stat st;
	own_calls++;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	return fchmod(fd, *(mode_t *)arg) == 0;
}

static bool own_refuses(int fd, void *arg)
{
	errno = EPERM;
	return false;
}

static void test_owner_hook(void **state)
{
	mode_t mode = 0640;
	own_calls = 0;
	assert_int_equal(stage_write_file(file, &(struct stage_how){ .mode = 0600, .own = own_ok, .own_arg = &mode },
					  "kept\n", 5), 0);
	assert_int_equal(own_calls, 1);
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* refused: the old file stays, whole, and no temporary one */
	assert_int_equal(stage_printf(file, &(struct stage_how){ .mode = 0600, .own = own_refuses }, "lost\n"),
			 EPERM);
	assert_string_equal(slurp(file), "kept\n");
	assert_int_equal(access(tmp, F_OK), -1);
	unlink(file);
}

static void test_name_too_long(void **state)
{
	char *path = malloc(PATH_MAX);
	assert_non_null(path);
	memset(path, 'a', PATH_MAX - 3);
	path[0] = '/';
	path[PATH_MAX - 3] = 0;    /* fits, but not with ".tmp" */
	assert_int_equal(stage_write_file(path, &(struct stage_how){ .mode = 0600 }, "x", 1), ENAMETOOLONG);
	free(path);
}

/* Someone who could put a link at the temporary name must not get the
 * writer (root) to truncate and fill what it points to. */
static void test_link_at_tmp_not_followed(void **state)
{
	FILE *f = fopen(victim, "we");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_not_equal(stage_write_file(file, &(struct stage_how){ .mode = 0600 }, "evil\n", 5), 0);
	assert_string_equal(slurp(victim), "precious\n");
	assert_int_not_equal(stage_write_now(file, tmp, 0600, "evil\n", 5), 0);
	assert_string_equal(slurp(victim), "precious\n");
	assert_int_equal(access(file, F_OK), -1);
	unlink(tmp);
	unlink(victim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_and_printf),
		cmocka_unit_test(test_owner_hook),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_link_at_tmp_not_followed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
