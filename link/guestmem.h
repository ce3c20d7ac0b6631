/* Guest memory as the frontend describes it: up to GM_MAX_REGIONS regions,
 * each known by its guest-physical and frontend-virtual start. Every lookup
 * is bounds-checked; nothing here trusts the guest. The mapping itself
 * (mmap of a memfd, or test memory) is the caller's business. */
#ifndef MOAT_GUESTMEM_H
#define MOAT_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 8

struct gm_region {
	uint64_t gpa;
	uint64_t uva;
	uint64_t size;
	uint8_t *host;		/* host address of gpa */
	void *map;		/* what to munmap, NULL if not ours */
	size_t maplen;
};

struct guestmem {
	unsigned n;
	struct gm_region r[GM_MAX_REGIONS];
};

/* Checks sizes, overflow and overlap of the regions; false if unusable. */
bool gm_valid(const struct guestmem *gm);

/* Host address of guest-physical gpa and how many bytes from there stay in
 * the same region (*avail), or NULL if gpa is in no region. */
uint8_t *gm_gpa(const struct guestmem *gm, uint64_t gpa, uint64_t *avail);

/* Host address of [uva, uva+len) in frontend-virtual space, NULL unless the
 * whole range lies in one region. */
uint8_t *gm_uva(const struct guestmem *gm, uint64_t uva, uint64_t len);

/* Same for a guest-physical range that must not cross regions. */
uint8_t *gm_gpa_range(const struct guestmem *gm, uint64_t gpa, uint64_t len);

/* munmaps what gm_region.map owns and empties the table; false if a
 * munmap failed (that mapping is lost to us). */
bool gm_release(struct guestmem *gm);

#endif
