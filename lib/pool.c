/* pool.c: the memory of one parsed policy (pool.h). */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pool.h"
#include "lib/xalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOL_EACH_ALONE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_EACH_ALONE 1
#endif
#endif

#define POOL_BLOCK (64 * 1024)
#define POOL_ALIGN alignof(max_align_t)

struct pool_block {
	struct pool_block *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

static struct pool_block *block_new(size_t cap)
{
	if (cap > (size_t)-1 - sizeof(struct pool_block))
		xalloc_fail();
	struct pool_block *b = malloc(sizeof(*b) + cap);
	if (!b)
		xalloc_fail();
	b->next = NULL;
	b->used = 0;
	b->cap = cap;
	return b;
}

void *pool_alloc(struct pool_block **pool, size_t size)
{
	size_t need = (size + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1);
	if (need < size)
		xalloc_fail();
	struct pool_block *b = *pool;
#ifdef POOL_EACH_ALONE
	/* under ASan every object is a block of its own, so an overrun of
	 * one is caught rather than landing in its neighbour */
	b = block_new(size ? size : 1);
	b->next = *pool;
	*pool = b;
#else
	if (!b || b->cap - b->used < need) {
		if (b && need > POOL_BLOCK / 4) {
			/* a big array gets a block of its own, behind the current
			 * one, whose room is still used for what comes next */
			struct pool_block *nb = block_new(need);
			nb->next = b->next;
			b->next = nb;
			b = nb;
		} else {
			b = block_new(need > POOL_BLOCK ? need : POOL_BLOCK);
			b->next = *pool;
			*pool = b;
		}
	}
#endif
	void *p = b->data + b->used;
	b->used += need;
	return memset(p, 0, size);
}

void *pool_push(struct pool_block **pool, void *arr_ptr, size_t *n, size_t size)
{
	void **arr = arr_ptr;
	size_t cap = xalloc_grow_to(*n, size);
	if (cap) {
		void *p = pool_alloc(pool, cap * size);
		if (*n)
			memcpy(p, *arr, *n * size);
		*arr = p;
	}
	return memset((char *)*arr + (*n)++ * size, 0, size);
}

char *pool_strndup(struct pool_block **pool, const char *s, size_t len)
{
	if (len == (size_t)-1)
		xalloc_fail();
	char *p = pool_alloc(pool, len + 1);
	memcpy(p, s, len);
	return p;
}

void pool_free(struct pool_block **pool)
{
	for (struct pool_block *b = *pool, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	*pool = NULL;
}
