# SPDX-License-Identifier: MIT
# A relay key rotation without an outage: the broker keeps minting with the key the relay
# holds until the relay reports the new one (heartbeat "kids"), then switches; a second
# rotation keeps the held key. Real rtsp-broker, one rtsp-relay process and the GStreamer
# test camera (deployment.py); ffmpeg plays at each step when installed.
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
add_test(NAME integration.relay_rotation
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/relay_rotation.py
                 --broker ${RD_BROKER_BIN} --relay ${RD_RELAY_BIN})
set_tests_properties(integration.relay_rotation PROPERTIES LABELS integration TIMEOUT 90
                     SKIP_RETURN_CODE 77)
