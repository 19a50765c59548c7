# SPDX-License-Identifier: MIT
# rtsp-camsim played by ffmpeg over TCP and UDP and with Digest, its fault switches and stats,
# and camsim as the camera behind a real broker and two relays (camsim_e2e.py).
# Skips (77) without ffmpeg/libx264.
add_test(NAME integration.camsim_e2e
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/camsim_e2e.py
                 --camsim ${RD_CAMSIM_BIN} --broker ${RD_BROKER_BIN}
                 --relay ${RD_RELAY_BIN})
set_tests_properties(integration.camsim_e2e PROPERTIES LABELS integration TIMEOUT 240
                     SKIP_RETURN_CODE 77)
