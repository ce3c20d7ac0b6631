#include "guard.h"

#include <string.h>

sigjmp_buf guard_jmp;
volatile sig_atomic_t guard_armed;
void *volatile guard_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
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
