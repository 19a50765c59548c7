# SPDX-License-Identifier: MIT
# Bad, expired, other-relay and forged tokens get 403; a SETUP naming a third-party destination gets 403 and nothing is sent there.
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
add_test(NAME integration.relay_tokens
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/relay_tokens.py
                 --broker ${RD_BROKER_BIN} --relay ${RD_RELAY_BIN})
set_tests_properties(integration.relay_tokens PROPERTIES LABELS integration TIMEOUT 90
                     SKIP_RETURN_CODE 77)
