/* SPDX-License-Identifier: MIT */
/* Method and status tables of RFC 2326 (§6.1, §7.1.1). Lookups are linear: the tables are
 * tiny and the method token is already bounded by the parser. */
#include "rtsp_codes.h"

#include <stddef.h>

static const char *const method_names[RTSP_METHOD_COUNT] = {
    [RTSP_METHOD_UNKNOWN] = NULL,
    [RTSP_METHOD_OPTIONS] = "OPTIONS",
    [RTSP_METHOD_DESCRIBE] = "DESCRIBE",
    [RTSP_METHOD_SETUP] = "SETUP",
    [RTSP_METHOD_PLAY] = "PLAY",
    [RTSP_METHOD_PAUSE] = "PAUSE",
    [RTSP_METHOD_TEARDOWN] = "TEARDOWN",
    [RTSP_METHOD_GET_PARAMETER] = "GET_PARAMETER",
    [RTSP_METHOD_SET_PARAMETER] = "SET_PARAMETER",
    [RTSP_METHOD_ANNOUNCE] = "ANNOUNCE",
    [RTSP_METHOD_RECORD] = "RECORD",
    [RTSP_METHOD_REDIRECT] = "REDIRECT",
};

enum rtsp_method
rtsp_method_from_name(struct rd_str name)
{
    for (int m = RTSP_METHOD_UNKNOWN + 1; m < RTSP_METHOD_COUNT; m++) {
        if (rd_str_eq_cstr(name, method_names[m]))
            return (enum rtsp_method)m;
    }
    return RTSP_METHOD_UNKNOWN;
}

const char *
rtsp_method_name(enum rtsp_method method)
{
    if ((int)method <= RTSP_METHOD_UNKNOWN || (int)method >= RTSP_METHOD_COUNT)
        return NULL;
    return method_names[method];
}

struct status_row {
    int code;
    const char *reason;
};

/* RFC 2326 §7.1.1, in the RFC's order and spelling. */
static const struct status_row status_rows[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {250, "Low on Storage Space"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Moved Temporarily"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Time-out"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "Request-URI Too Large"},
    {415, "Unsupported Media Type"},
    {451, "Parameter Not Understood"},
    {452, "Conference Not Found"},
    {453, "Not Enough Bandwidth"},
    {454, "Session Not Found"},
    {455, "Method Not Valid in This State"},
    {456, "Header Field Not Valid for Resource"},
    {457, "Invalid Range"},
    {458, "Parameter Is Read-Only"},
    {459, "Aggregate operation not allowed"},
    {460, "Only aggregate operation allowed"},
    {461, "Unsupported transport"},
    {462, "Destination unreachable"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Time-out"},
    {505, "RTSP Version not supported"},
    {551, "Option not supported"},
};

const char *
rtsp_status_reason(int status)
{
    for (size_t i = 0; i < sizeof(status_rows) / sizeof(status_rows[0]); i++) {
        if (status_rows[i].code == status)
            return status_rows[i].reason;
    }
    return NULL;
}
