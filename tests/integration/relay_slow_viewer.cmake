# SPDX-License-Identifier: MIT
# A TCP viewer that stops reading is disconnected within RD_VIEWER_STALL_S plus margin; a normal viewer loses nothing; relay RSS bounded.
# Real rtsp-broker, two rtsp-relay processes and the GStreamer test camera (deployment.py).
# Skips (77) while a binary is not built or a GStreamer piece is missing.
if(TARGET rtsp-broker)
    set(RD_BROKER_BIN $<TARGET_FILE:rtsp-broker>)
else()
    set(RD_BROKER_BIN ${PROJECT_BINARY_DIR}/broker/rtsp-broker)
endif()
if(TARGET rtsp-relay)
    set(RD_RELAY_BIN $<TARGET_FILE:rtsp-relay>)
else()
    set(RD_RELAY_BIN ${PROJECT_BINARY_DIR}/relay-agent/rtsp-relay)
endif()
add_test(NAME integration.relay_slow_viewer
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/relay_slow_viewer.py
                 --broker ${RD_BROKER_BIN} --relay ${RD_RELAY_BIN})
set_tests_properties(integration.relay_slow_viewer PROPERTIES LABELS integration TIMEOUT 120
                     SKIP_RETURN_CODE 77)
