/* SPDX-License-Identifier: MIT */
/* Status codes shared by every module. Parsers return ssize_t: bytes consumed (> 0) or one
 * of these negative codes (picohttpparser's contract, with names). */
#ifndef RD_PROTO_RD_ERR_H
#define RD_PROTO_RD_ERR_H

enum rd_status {
    RD_OK = 0,
    RD_AGAIN = -1,  /* need more input / would block: normal flow */
    RD_EPROTO = -2, /* the peer sent something malformed */
    RD_ELIMIT = -3, /* a hard cap was hit (also: output does not fit; never truncated) */
    RD_ENOMEM = -4, /* allocation failed */
    RD_EIO = -5,    /* a system call failed; errno was logged where it happened */
    RD_ENOTFOUND = -6,
    RD_EAUTH = -7,    /* authentication or authorisation failed */
    RD_EBUSY = -8,    /* no capacity */
    RD_EDB = -9,      /* the registry failed */
    RD_EEXPIRED = -10 /* valid but too old (token, nonce) */
};

/* Returns a static, human-readable name for a status ("again", "proto", ...). */
const char *rd_strstatus(int status);

#endif
