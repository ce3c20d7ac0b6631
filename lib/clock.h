/* clock.h: the monotonic clock, the one every timeout and deadline uses
 * (it never jumps with the wall clock). */
#ifndef MOAT_CLOCK_H
#define MOAT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t mono_ms(void)
{
	return mono_ns() / 1000000;
}

#endif
