/* SPDX-License-Identifier: MIT */
/* Small secret files: owner-only, read whole, trimmed. */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC */
#include "secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "rd_err.h"

int
secret_file_read(const char *what, const char *path, char *out, size_t cap, size_t *len,
                 struct rd_errbuf *err)
{
    *len = 0;
    if (cap > 0)
        out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rd_errbuf_set(err, "%s %s: %s", what, path, strerror(errno));
        return RD_EIO;
    }
    struct stat st;
    int rc = RD_OK;
    size_t n = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rd_errbuf_set(err, "%s %s: not a regular file", what, path);
        rc = RD_EIO;
    } else if ((st.st_mode & 077) != 0) {
        rd_errbuf_set(err, "%s %s: readable or writable by group or others (chmod 600)", what,
                      path);
        rc = RD_EPROTO;
    } else if ((size_t)st.st_size >= cap) {
        rd_errbuf_set(err, "%s %s: larger than %zu bytes", what, path, cap - 1);
        rc = RD_ELIMIT;
    }
    while (rc == RD_OK && n < cap) {
        ssize_t r = read(fd, out + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rd_errbuf_set(err, "%s %s: %s", what, path, strerror(errno));
            rc = RD_EIO;
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
        }
    }
    (void)close(fd);
    if (rc == RD_OK && n >= cap) { /* grew since fstat */
        rd_errbuf_set(err, "%s %s: larger than %zu bytes", what, path, cap - 1);
        rc = RD_ELIMIT;
    }
    if (rc != RD_OK) {
        rd_cleanse(out, cap);
        if (cap > 0)
            out[0] = '\0';
        return rc;
    }
    while (n > 0
           && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
    *len = n;
    return RD_OK;
}
