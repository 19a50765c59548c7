# SPDX-License-Identifier: MIT
# One ctest entry per limit of digest.c (rd_limits.h), so a broken cap is named in the report.
foreach(c authorization_len username realm nonce opaque uri params challenge_len challenges
          password nonce_ttl nonce_key nc_wrap)
    rd_test_case(NAME unit.digest.limit_${c} EXE test_digest CASE test_limit_${c})
endforeach()
