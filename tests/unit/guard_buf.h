/* SPDX-License-Identifier: MIT */
/* Places test input right before a PROT_NONE page, so a parser that reads one byte past
 * the length it was given faults at once instead of passing by luck (picohttpparser's
 * test.c does the same). */
#ifndef RD_TESTS_GUARD_BUF_H
#define RD_TESTS_GUARD_BUF_H

#include <assert.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard_buf {
    unsigned char *map; /* start of the mapping */
    size_t map_len;     /* bytes mapped, guard page included */
    char *data;         /* input copy; data + len is the first byte of the guard page */
};

/* Copies len bytes of src so that they end exactly at a guard page. Aborts on failure. */
static inline char *
guard_buf_put(struct guard_buf *g, const void *src, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (len + page - 1) / page;
    if (data_pages == 0)
        data_pages = 1;
    g->map_len = (data_pages + 1) * page;
    /* A private mapping of /dev/zero: POSIX, so strict -std=c11 needs no MAP_ANONYMOUS. */
    int fd = open("/dev/zero", O_RDWR);
    assert(fd >= 0);
    void *m = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    assert(m != MAP_FAILED);
    g->map = m;
    assert(mprotect(g->map + data_pages * page, page, PROT_NONE) == 0);
    g->data = (char *)g->map + data_pages * page - len;
    if (len > 0)
        memcpy(g->data, src, len);
    return g->data;
}

static inline void
guard_buf_free(struct guard_buf *g)
{
    if (g->map != NULL)
        munmap(g->map, g->map_len);
    g->map = NULL;
}

#endif
