# SPDX-License-Identifier: MIT
# The accounting and response checks live in tools/rtsp-bench (library rd_bench), shared by the
# load generators rd_redirect_bench and rtsp-bench.
target_link_libraries(${exe} PRIVATE rd_bench)
