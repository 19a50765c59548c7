# SPDX-License-Identifier: MIT
# Each bclient case as its own ctest entry too (they run a fake broker in the loop).
foreach(c sign_known_answer parsers new_rejects heartbeat_fields_and_answer
          broker_down_backoff_then_back slow_broker_timeout_no_overlap 429_retry_after
          bad_answers source_fetch fetch_joined free_in_flight free_from_callback)
    rd_test_case(NAME unit.bclient.${c} EXE test_bclient CASE test_${c})
endforeach()
