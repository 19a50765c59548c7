/* SPDX-License-Identifier: MIT */
/* Reading a small secret from a file (admin token, relay key, camera sources): a regular
 * file readable by its owner only, read whole, trailing blanks trimmed, the stack copy
 * wiped. The secret itself never reaches an error message. */
#ifndef RD_BASE_SECRETFILE_H
#define RD_BASE_SECRETFILE_H

#include <stddef.h>

#include "errbuf.h"

/* Reads path (what names the config key for messages: "key_file") into out[0..cap) and sets
 * *len to the bytes kept, with trailing SP/HT/CR/LF removed and a NUL after them (so out
 * holds at most cap - 1 bytes). Refuses a file that is not regular (RD_EIO), is readable or
 * writable by group or others (RD_EPROTO: "chmod 600"), or holds more than cap - 1 bytes
 * (RD_ELIMIT; nothing is ever truncated). Returns RD_OK or the error with err filled. */
int secret_file_read(const char *what, const char *path, char *out, size_t cap, size_t *len,
                     struct rd_errbuf *err);

#endif
