/* SPDX-License-Identifier: MIT */
/* struct rd_errbuf: the error text a startup function leaves for main() to print (redis anet's
 * err buffer). Runtime code logs at detection instead. Header only. */
#ifndef RD_BASE_ERRBUF_H
#define RD_BASE_ERRBUF_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rd_limits.h"

struct rd_errbuf {
    char msg[RD_ERRBUF_LEN]; /* NUL-terminated; "" when no error was recorded */
};

/* Formats the error into err->msg (err may be NULL: then nothing happens). A message that
 * does not fit ends with "..." so a cut is always visible. */
__attribute__((format(printf, 2, 3))) static inline void
rd_errbuf_set(struct rd_errbuf *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(err->msg, sizeof(err->msg), "(error message could not be formatted)");
    else if ((size_t)n >= sizeof(err->msg))
        memcpy(err->msg + sizeof(err->msg) - 4, "...", 4);
}

#endif
