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
/* The capacity an array of N elements of SIZE grows to before its next push,
 * or 0 while it has room: N rounded up to a power of two, at least 4. */
static inline size_t xalloc_grow_to(size_t n, size_t size)
{
	if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
		return 0;
	size_t cap = n ? n * 2 : 4;
	if (cap > ((size_t)-1) / 2 / size)
		xalloc_fail();
	return cap;
}

static inline void *xalloc_push(void *arr_ptr, size_t *n, size_t size)
{
	void **arr = arr_ptr;
	size_t cap = xalloc_grow_to(*n, size);
	if (cap) {
		void *p = realloc(*arr, cap * size);
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
