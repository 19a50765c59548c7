# SPDX-License-Identifier: MIT
# The broker daemon on the wire (tests/integration/broker_wire.py): a real rtsp-broker on free
# loopback ports with a registry seeded by rd_seed_registry (tests/tools/rd_seed_registry.c).
#   integration.broker_wire         statuses, limits, pipelining, Digest challenge, -t, SIGTERM
#   integration.broker_wire_policy  302 to the expected relay per policy situation, with signed
#                                   heartbeats (skips with 77 while the heartbeat endpoint is absent)
if(TARGET rtsp-broker AND TARGET rd_broker_core)
    if(NOT TARGET rd_seed_registry)
        add_executable(rd_seed_registry ${PROJECT_SOURCE_DIR}/tests/tools/rd_seed_registry.c)
        target_link_libraries(rd_seed_registry PRIVATE rd_broker_core)
    endif()
    foreach(section wire policy)
        if(section STREQUAL "wire")
            set(name integration.broker_wire)
        else()
            set(name integration.broker_wire_policy)
        endif()
        add_test(NAME ${name}
                 COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/broker_wire.py
                         --broker $<TARGET_FILE:rtsp-broker>
                         --seed $<TARGET_FILE:rd_seed_registry> --section ${section})
        set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT 120
                             SKIP_RETURN_CODE 77)
    endforeach()
endif()
