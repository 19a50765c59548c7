/* SPDX-License-Identifier: MIT */
/* RTSP method names <-> enum rtsp_method, and status code -> reason phrase
 * (RFC 2326 §6.1 methods, §7.1.1 status codes). Pure tables, no state. */
#ifndef RD_PROTO_RTSP_CODES_H
#define RD_PROTO_RTSP_CODES_H

#include "rd_str.h"

/* RFC 2326 §6.1 / §10. RTSP_METHOD_UNKNOWN is a syntactically valid method token
 * ([A-Z_]{1,32}, see rtsp_msg.h) that is none of these: a server answers it with 501. */
enum rtsp_method {
    RTSP_METHOD_UNKNOWN = 0,
    RTSP_METHOD_OPTIONS,
    RTSP_METHOD_DESCRIBE,
    RTSP_METHOD_SETUP,
    RTSP_METHOD_PLAY,
    RTSP_METHOD_PAUSE,
    RTSP_METHOD_TEARDOWN,
    RTSP_METHOD_GET_PARAMETER,
    RTSP_METHOD_SET_PARAMETER,
    RTSP_METHOD_ANNOUNCE,
    RTSP_METHOD_RECORD,
    RTSP_METHOD_REDIRECT,
};
/* One past the last known method: for arrays indexed by method (counters). */
#define RTSP_METHOD_COUNT (RTSP_METHOD_REDIRECT + 1)

/* Maps a method token to its enum. Method names are case-sensitive (RFC 2326 §6.1), so
 * "options" is RTSP_METHOD_UNKNOWN. Never fails: anything unrecognised is UNKNOWN. */
enum rtsp_method rtsp_method_from_name(struct rd_str name);

/* Returns the static, NUL-terminated wire name of a known method ("GET_PARAMETER"), or NULL
 * for RTSP_METHOD_UNKNOWN and values outside the enum. */
const char *rtsp_method_name(enum rtsp_method method);

/* Returns the static reason phrase of an RFC 2326 §7.1.1 status code ("Moved Temporarily"
 * for 302), or NULL when the code is not in that table (callers must not invent one). */
const char *rtsp_status_reason(int status);

#endif
