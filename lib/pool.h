/* pool.h: memory that is freed all at once. A parsed policy's arrays and
 * strings (tens of thousands of small objects at 500 VMs) come from its pool,
 * so parsing does not pay a malloc for each and freeing is one walk over a
 * few blocks. Out of memory is fatal, as in xalloc.h. Under ASan every object
 * is a malloc of its own, so overruns are still caught. */
#ifndef MOAT_POOL_H
#define MOAT_POOL_H

#include <stddef.h>

struct pool_block;   /* a pool is a pointer to its first block, NULL when empty */

/* SIZE zeroed bytes, aligned for any type. */
void *pool_alloc(struct pool_block **pool, size_t size);
/* Like xalloc_push: append a zeroed element to the array *ARR_PTR of *N,
 * capacity implied by N (a power of two, at least 4); a grown array is a
 * copy, the old one stays in the pool until it is freed. */
void *pool_push(struct pool_block **pool, void *arr_ptr, size_t *n, size_t size);
char *pool_strndup(struct pool_block **pool, const char *s, size_t len);
void pool_free(struct pool_block **pool);

#endif
