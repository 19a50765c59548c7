# SPDX-License-Identifier: MIT
# test_puller_testcam runs tests/tools/testcam.py (GStreamer) as the camera: tell it where.
target_compile_definitions(test_puller_testcam PRIVATE RD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
set_tests_properties(unit.puller_testcam PROPERTIES LABELS "unit;gst")
