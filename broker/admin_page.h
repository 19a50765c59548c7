/* SPDX-License-Identifier: MIT */
/* The operator's page (broker/admin_page.html), compiled in as admin_page.c by
 * broker/embed_page.cmake so the daemon never reads the source tree at run time. */
#ifndef RD_BROKER_ADMIN_PAGE_H
#define RD_BROKER_ADMIN_PAGE_H

#include <stddef.h>

/* The page's bytes (UTF-8 HTML), admin_page_html_len of them, followed by a NUL. */
extern const unsigned char admin_page_html[];
extern const size_t admin_page_html_len;

#endif
