# SPDX-License-Identifier: MIT
# rtsp-bench's modules live in tools/rtsp-bench (library rd_bench).
target_link_libraries(${exe} PRIVATE rd_bench)
