#include "link/guestmem.h"

#include <sys/mman.h>

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

bool gm_valid(const struct guestmem *gm)
{
	if (gm->n > GM_MAX_REGIONS)
		return false;
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gm_region *r = &gm->r[i];
		if (r->size == 0 || r->host == NULL)
			return false;
		if (r->gpa + r->size < r->gpa || r->uva + r->size < r->uva)
			return false;
		if ((uintptr_t)r->host + r->size < (uintptr_t)r->host)
			return false;
		for (unsigned j = 0; j < i; j++) {
			const struct gm_region *o = &gm->r[j];
			if (ranges_overlap(r->gpa, r->size, o->gpa, o->size) ||
			    ranges_overlap(r->uva, r->size, o->uva, o->size))
				return false;
		}
	}
	return true;
}

uint8_t *gm_gpa(const struct guestmem *gm, uint64_t gpa, uint64_t *avail)
{
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gm_region *r = &gm->r[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			*avail = r->size - (gpa - r->gpa);
			return r->host + (gpa - r->gpa);
		}
	}
	return NULL;
}

uint8_t *gm_gpa_range(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t avail;
	uint8_t *p = gm_gpa(gm, gpa, &avail);

	return p && len <= avail ? p : NULL;
}

uint8_t *gm_uva(const struct guestmem *gm, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gm_region *r = &gm->r[i];
		if (uva >= r->uva && uva - r->uva < r->size &&
		    len <= r->size - (uva - r->uva))
			return r->host + (uva - r->uva);
	}
	return NULL;
}

bool gm_release(struct guestmem *gm)
{
	bool ok = true;

	for (unsigned i = 0; i < gm->n; i++)
		if (gm->r[i].map && munmap(gm->r[i].map, gm->r[i].maplen) < 0)
			ok = false;
	gm->n = 0;
	return ok;
}
