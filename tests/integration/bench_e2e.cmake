# SPDX-License-Identifier: MIT
# rtsp-bench end to end: 5 viewers over TCP and UDP through the real broker, relays and the
# GStreamer test camera, JSON and threshold exit codes checked (bench_e2e.py).
# Skips (77) while a binary is not built or a GStreamer piece is missing.
add_test(NAME integration.bench_e2e
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/bench_e2e.py
                 --broker ${RD_BROKER_BIN} --relay ${RD_RELAY_BIN}
                 --bench $<TARGET_FILE:rtsp-bench>)
set_tests_properties(integration.bench_e2e PROPERTIES LABELS integration TIMEOUT 180
                     SKIP_RETURN_CODE 77)
