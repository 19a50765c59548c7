# SPDX-License-Identifier: MIT
# Self-test of the relay channel client used by the integration tests and the heartbeat
# simulator: the HMAC vector (computed with openssl), key formats, CLI output parsing.
add_test(NAME integration.relaychan_selftest
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/integration/relaychan.py)
set_tests_properties(integration.relaychan_selftest PROPERTIES LABELS integration TIMEOUT 30)
