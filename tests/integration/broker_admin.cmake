# SPDX-License-Identifier: MIT
# The admin HTTP server of a real rtsp-broker (tests/integration/broker_admin.py): bearer
# auth, JSON API CRUD, /healthz, /metrics counters moving with RTSP traffic.
if(TARGET rtsp-broker AND TARGET rd_broker_core)
    if(NOT TARGET rd_seed_registry)
        add_executable(rd_seed_registry ${PROJECT_SOURCE_DIR}/tests/tools/rd_seed_registry.c)
        target_link_libraries(rd_seed_registry PRIVATE rd_broker_core)
    endif()
    add_test(NAME integration.broker_admin
             COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/broker_admin.py
                     --broker $<TARGET_FILE:rtsp-broker> --seed $<TARGET_FILE:rd_seed_registry>)
    set_tests_properties(integration.broker_admin PROPERTIES LABELS integration TIMEOUT 90
                         SKIP_RETURN_CODE 77)
endif()
