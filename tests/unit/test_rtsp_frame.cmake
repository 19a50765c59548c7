# SPDX-License-Identifier: MIT
# The interleaved stream splitter gives the same items at every split point and chunking.
rd_test_case(NAME split_points.rtsp_frame_camera EXE test_rtsp_frame CASE test_camera_stream)
rd_test_case(NAME split_points.rtsp_frame_viewer EXE test_rtsp_frame CASE test_viewer_stream)
