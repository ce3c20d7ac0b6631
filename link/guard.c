#include "link/guard.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

sigjmp_buf guard_jmp;
volatile sig_atomic_t guard_armed;
void *volatile guard_addr;
static volatile sig_atomic_t sent;

/* v in decimal, NUL-terminated, ending just before end; returns its start. */
static char *utoa(unsigned long v, char *end)
{
	*--end = '\0';
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

/* "moat-link: ignored SIGBUS from pid P uid U (N so far): ...", for the
 * 1st, 2nd, 4th, 8th...: a process sending them without end fills no log.
 * Only async-signal-safe calls, errno kept. */
static void say_sent(const siginfo_t *si)
{
	char line[200], n[24], pid[24], uid[24];
	unsigned long count = (unsigned long)++sent;
	int saved = errno;

	if (count & (count - 1))
		return;
	line[0] = '\0';
	strcat(line, "moat-link: ignored SIGBUS from pid ");
	strcat(line, utoa((unsigned long)si->si_pid, pid + sizeof(pid)));
	strcat(line, " uid ");
	strcat(line, utoa((unsigned long)si->si_uid, uid + sizeof(uid)));
	strcat(line, " (");
	strcat(line, utoa(count, n + sizeof(n)));
	strcat(line, " so far): sent by a process, not a fault in guest memory\n");
	if (write(STDERR_FILENO, line, strlen(line)) < 0) {
		/* nowhere to say it; the signal is ignored all the same */
	}
	errno = saved;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	/* si_code <= 0: kill, sigqueue, tgkill. Any process of our uid may
	 * send those, and the kernel lets none of them claim a fault code;
	 * taken as a fault it would hang up a guest, or kill the link */
	if (si->si_code <= 0) {
		say_sent(si);
		return;
	}
	if (!guard_armed) {
		/* not ours: let the retried access kill us as it would have */
		signal(SIGBUS, SIG_DFL);
		return;
	}
	guard_armed = 0;
	guard_addr = si->si_addr;
	siglongjmp(guard_jmp, 1);
}

bool guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* we leave the handler by longjmp, so SIGBUS must not stay blocked */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) == 0;
}
