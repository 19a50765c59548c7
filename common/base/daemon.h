/* SPDX-License-Identifier: MIT */
/* What every daemon's main() does the same way: the command line, configuration from
 * defaults, a file and -o overrides; SIGPIPE ignored; the descriptor limit raised. */
#ifndef RD_BASE_DAEMON_H
#define RD_BASE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "errbuf.h"

/* The command line both daemons share: [-c FILE] [-o key=value]... [-t] [--print-config]
 * [--version] [-h|--help], then operands (the broker's registry commands). */
struct daemon_args {
    const char *conf_path;                  /* -c; NULL: the daemon's default file, if any */
    char *overrides[RD_CONF_MAX_OVERRIDES]; /* -o values: pointers into argv */
    size_t n_overrides;
    bool check_only;   /* -t */
    bool print_config; /* --print-config */
    int first_operand; /* argv index of the first operand; argc: none */
};

/* Parses argv into a, stopping at the first operand (a command's own options are left to
 * it). name prefixes messages; usage(stream) prints the daemon's usage. Returns -1 to go on,
 * or the exit status for main: 0 after --help or --version (printed on stdout), 2 after a
 * usage error (reported on stderr with the usage). */
int daemon_args_parse(int argc, char **argv, const char *name, void (*usage)(FILE *),
                      struct daemon_args *a);

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
