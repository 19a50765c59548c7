# SPDX-License-Identifier: MIT
# One ctest entry per SDP limit (rd_limits.h), so a regression names the limit.
rd_test_case(NAME unit.sdp.limit_bytes EXE test_sdp CASE test_limit_bytes)
rd_test_case(NAME unit.sdp.limit_lines EXE test_sdp CASE test_limit_lines)
rd_test_case(NAME unit.sdp.limit_media EXE test_sdp CASE test_limit_media)
rd_test_case(NAME unit.sdp.limit_formats EXE test_sdp CASE test_limit_formats)
rd_test_case(NAME unit.sdp.limit_rtpmap_fmtp EXE test_sdp CASE test_limit_rtpmap_fmtp)
rd_test_case(NAME unit.sdp.limit_rewrite EXE test_sdp CASE test_limit_rewrite)
