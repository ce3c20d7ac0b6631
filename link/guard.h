/* Guest memory is a file the frontend owns. If it shrinks that file under
 * us, touching the lost pages raises SIGBUS. Code that touches guest memory
 * runs between GUARD_TRY and GUARD_END: a fault there comes back as a false
 * GUARD_TRY with the faulting address in guard_addr, instead of killing the
 * process and with it the other guest's link. */
#ifndef MOAT_GUARD_H
#define MOAT_GUARD_H

#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>

extern sigjmp_buf guard_jmp;
extern volatile sig_atomic_t guard_armed;
extern void *volatile guard_addr;

bool guard_install(void);

#define GUARD_TRY() (sigsetjmp(guard_jmp, 0) == 0 ? (guard_armed = 1, true) : (guard_armed = 0, false))
#define GUARD_END() (guard_armed = 0)

#endif
