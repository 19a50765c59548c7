# SPDX-License-Identifier: MIT
# One ctest entry per Transport limit (rd_limits.h), so a regression names the limit.
rd_test_case(NAME unit.rtsp_transport.limit_length EXE test_rtsp_transport CASE test_limit_length)
rd_test_case(NAME unit.rtsp_transport.limit_specs EXE test_rtsp_transport CASE test_limit_specs)
rd_test_case(NAME unit.rtsp_transport.limit_params EXE test_rtsp_transport CASE test_limit_params)
rd_test_case(NAME unit.rtsp_transport.client_port_policy EXE test_rtsp_transport CASE test_client_port_policy)
rd_test_case(NAME unit.rtsp_transport.interleaved_policy EXE test_rtsp_transport CASE test_interleaved_policy)
