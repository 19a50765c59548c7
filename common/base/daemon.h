/* SPDX-License-Identifier: MIT */
/* What every daemon's main() does the same way: configuration from defaults, a file and -o
 * overrides; SIGPIPE ignored; the descriptor limit raised. */
#ifndef RD_BASE_DAEMON_H
#define RD_BASE_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "errbuf.h"

/* Loads conf (the caller's struct, zeroed by the caller) from t's defaults, then path (or
 * default_path when path is NULL and that file exists; no file at all is fine), then each
 * "key=value" of overrides[0..n). Cross-key checks are the caller's. Returns RD_OK or the
 * first error with err naming the key or line. */
int daemon_conf_load(const struct conf_table *t, void *conf, const char *path,
                     const char *default_path, char *const *overrides, size_t n,
                     struct rd_errbuf *err);

/* Ignores SIGPIPE for the whole process: sends use MSG_NOSIGNAL, this covers every other
 * write (ev.pod "The special problem of SIGPIPE"). Logs a failure. */
void daemon_ignore_sigpipe(void);

/* Raises RLIMIT_NOFILE's soft limit towards want (bounded by the hard limit) and logs a
 * warning when the result stays below need descriptors. */
void daemon_raise_nofile(uint64_t want, uint64_t need);

#endif
