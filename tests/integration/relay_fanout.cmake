# SPDX-License-Identifier: MIT
# Five viewers of one camera make one camera session; a viewer joining a running stream gets a decodable key frame within 300 ms of PLAY.
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
add_test(NAME integration.relay_fanout
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/relay_fanout.py
                 --broker ${RD_BROKER_BIN} --relay ${RD_RELAY_BIN})
set_tests_properties(integration.relay_fanout PROPERTIES LABELS integration TIMEOUT 120
                     SKIP_RETURN_CODE 77)
