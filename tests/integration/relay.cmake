# SPDX-License-Identifier: MIT
# End-to-end tests of the relay (tests/integration/relay_<name>.py on deployment.py): the real
# rtsp-broker, two rtsp-relay processes, the GStreamer test camera and real players, all on
# loopback. Each skips (77) while a binary is not built or a GStreamer piece is missing.
#   players        ffmpeg and gst-launch over TCP and UDP, also a Digest camera, start at the
#                  broker URL and decode through a relay
#   fanout         five viewers of one camera make one camera session; a viewer joining a
#                  running stream gets a decodable key frame within 300 ms of PLAY
#   tokens         bad, expired, other-relay and forged tokens get 403; a SETUP naming a
#                  third-party destination gets 403 and nothing is sent there
#   camera_restart the camera restarts at the same address: viewers keep their connections
#                  and play again, SSRC and sequence continuous
#   slow_viewer    a TCP viewer that stops reading is disconnected within RD_VIEWER_STALL_S
#                  plus margin; a normal viewer loses nothing; relay RSS bounded
#   broker_outage  the broker stops: playing viewers lose nothing; heartbeats resume and the
#                  relays are healthy again when it returns
#   rotation       rotate-key with viewers playing: the broker keeps signing with the key the
#                  relay holds until the relay reports the new one (SIGHUP after installing it)
# name:timeout (seconds)
foreach(t players:180 fanout:120 tokens:90 camera_restart:120 slow_viewer:120 broker_outage:120
        rotation:90)
    string(REPLACE ":" ";" parts ${t})
    list(GET parts 0 name)
    list(GET parts 1 timeout)
    add_test(NAME integration.relay_${name}
             COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/relay_${name}.py
                     --broker ${RD_BROKER_BIN} --relay ${RD_RELAY_BIN})
    set_tests_properties(integration.relay_${name} PROPERTIES LABELS integration
                         TIMEOUT ${timeout} SKIP_RETURN_CODE 77)
endforeach()
