/* xalloc.h: allocation for the front end. Input size bounds what it allocates,
 * so running out of memory is not an error to report but a fatal state. */
#ifndef MOAT_XALLOC_H
#define MOAT_XALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *xalloc_fail(void)
{
	fputs("moat: out of memory\n", stderr);
	abort();
}

/* Append a zeroed element to the array *arr_ptr of *n elements and return it.
 * The capacity is implied: n rounded up to a power of two, at least 4. */
static inline void *xalloc_push(void *arr_ptr, size_t *n, size_t size)
{
	void **arr = arr_ptr;
	if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
		size_t cap = *n ? *n * 2 : 4;
		void *p;
		if (cap > ((size_t)-1) / 2 / size)
			xalloc_fail();
		p = realloc(*arr, cap * size);
		if (!p)
			xalloc_fail();
		*arr = p;
	}
	return memset((char *)*arr + (*n)++ * size, 0, size);
}

static inline char *xstrndup(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	if (!p)
		xalloc_fail();
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

#endif
