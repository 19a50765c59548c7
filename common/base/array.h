/* SPDX-License-Identifier: MIT */
/* Growing a heap array of plain structs by doubling, for tables built once at load time
 * (catalog snapshots, flush batches); never used on a per-request path. */
#ifndef RD_BASE_ARRAY_H
#define RD_BASE_ARRAY_H

#include <stdint.h>
#include <stdlib.h>

#include "rd_err.h"

/* Makes room for element n of size sz in *arr (capacity *cap, doubling from 64). *arr stays
 * owned by the caller (free()). Returns RD_OK, or RD_ENOMEM leaving *arr and *cap unchanged. */
static inline int
rd_array_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return RD_OK;
    size_t ncap = *cap == 0 ? 64 : *cap * 2;
    if (ncap > SIZE_MAX / sz)
        return RD_ENOMEM;
    void *p = realloc(*arr, ncap * sz);
    if (p == NULL)
        return RD_ENOMEM;
    *arr = p;
    *cap = ncap;
    return RD_OK;
}

#endif
