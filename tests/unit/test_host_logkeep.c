/* The keeper of a log or console (logkeep.h): whatever comes in, the file
 * stays within its cap and keeps the newest output whole. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/logkeep.h"

#define MAX (64 * 1024)

/* LEN bytes of numbered lines into the keeper of a file that starts with
 * PRE bytes already in it; the file's content (malloc'd) and size. */
static char *keep(size_t pre, size_t len, off_t *size)
{
	char path[] = "/tmp/moat-logkeep.XXXXXX";
	int out = mkstemp(path);
	assert_true(out >= 0);
	unlink(path);
	for (size_t i = 0; i < pre; i++)
		assert_int_equal(write(out, "o", 1), 1);
	assert_int_equal(fcntl(out, F_SETFL, O_APPEND), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		FILE *f = fdopen(p[1], "w");
		size_t n = 0;
		for (unsigned line = 0; n < len; line++)
			n += (size_t)fprintf(f, "line %u of what a guest writes without end\n", line);
		fprintf(f, "the newest line\n");
		fclose(f);
		_exit(0);
	}
	close(p[1]);
	logkeep_run(p[0], out, -1, MAX);
	close(p[0]);
	waitpid(pid, NULL, 0);
	struct stat st;
	assert_int_equal(fstat(out, &st), 0);
	*size = st.st_size;
	char *s = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(s);
	assert_int_equal(pread(out, s, (size_t)st.st_size, 0), st.st_size);
	close(out);
	return s;
}

static void test_flood_stays_under_the_cap(void **state)
{
	off_t size;
	char *s = keep(0, 40 * MAX, &size);
	assert_true(size <= MAX);
	assert_true(size > MAX / 4);
	assert_non_null(strstr(s, "bytes of older output dropped"));
	assert_true(strncmp(s, "[netctl: ", 9) == 0);
	/* after the line that says what was dropped, whole lines */
	char *second = strchr(s, '\n') + 1;
	assert_true(strncmp(second, "line ", 5) == 0);
	assert_string_equal(s + size - 16, "the newest line\n");
	free(s);
}

static void test_small_output_kept_whole(void **state)
{
	off_t size;
	char *s = keep(0, 1000, &size);
	assert_true(size < MAX);
	assert_true(strncmp(s, "line 0 of", 9) == 0);
	assert_null(strstr(s, "dropped"));
	free(s);
}

static void test_file_over_the_cap_already(void **state)
{
	/* left by an older netctl, or a keeper of the process replaced */
	off_t size;
	char *s = keep(3 * MAX, 100, &size);
	assert_true(size <= MAX);
	assert_string_equal(s + size - 16, "the newest line\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_stays_under_the_cap),
		cmocka_unit_test(test_small_output_kept_whole),
		cmocka_unit_test(test_file_over_the_cap_already),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
