# SPDX-License-Identifier: MIT
# The accounting and response checks live in tests/tools (library rd_bench), shared with the
# load generator rd_redirect_bench.
target_link_libraries(${exe} PRIVATE rd_bench)
