# SPDX-License-Identifier: MIT
# One ctest entry per SECURITY.md §2.2 limit of the RTSP parser: limit.<what>.
foreach(what
        "leading_empty_lines" "start_line" "method" "uri" "version" "header_line"
        "header_count" "header_block" "cseq_missing" "cseq_duplicate" "cseq_nondigit"
        "cseq_10_digits" "clen_duplicate" "clen_nondigit" "clen_too_long" "body_over_cap"
        "response_body_over_cap" "transfer_encoding" "body_wrong_method" "obs_fold")
    rd_test_case(NAME limit.${what} EXE test_rtsp_msg CASE limit_${what})
endforeach()

# The incremental parser gives the same result at every split point of the input.
rd_test_case(NAME split_points.rtsp_msg_good EXE test_rtsp_msg CASE test_good_every_split)
rd_test_case(NAME split_points.rtsp_msg_bad EXE test_rtsp_msg CASE test_bad_vectors)
