# SPDX-License-Identifier: MIT
# Real players (ffprobe, ffmpeg, gst-launch rtspsrc) start at the broker URL and follow its 302
# to a GStreamer stand-in relay. Skips (77) while rtsp-broker is not built.
add_test(NAME integration.broker_players
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/broker_players.py
                 --broker ${RD_BROKER_BIN})
set_tests_properties(integration.broker_players PROPERTIES LABELS integration TIMEOUT 180
                     SKIP_RETURN_CODE 77)
