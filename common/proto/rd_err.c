/* SPDX-License-Identifier: MIT */
/* Names for enum rd_status, for logs and test messages. */
#include "rd_err.h"

const char *
rd_strstatus(int status)
{
    switch (status) {
    case RD_OK:
        return "ok";
    case RD_AGAIN:
        return "again";
    case RD_EPROTO:
        return "protocol error";
    case RD_ELIMIT:
        return "limit exceeded";
    case RD_ENOMEM:
        return "out of memory";
    case RD_EIO:
        return "i/o error";
    case RD_ENOTFOUND:
        return "not found";
    case RD_EAUTH:
        return "authentication failed";
    case RD_EBUSY:
        return "busy";
    case RD_EDB:
        return "database error";
    case RD_EEXPIRED:
        return "expired";
    }
    return "unknown status";
}
