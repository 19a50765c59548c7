# SPDX-License-Identifier: MIT
# The viewer RTSP server: each behaviour its own ctest entry, so a failure names it.
foreach(case tokens describe tcp_play udp_play channels_and_binding udp_session_timeout
        pipelined state_machine limits parked camera_gone deadlines close_all
        backpressure)
    rd_test_case(NAME vserver.${case} EXE test_vserver CASE test_${case})
endforeach()
