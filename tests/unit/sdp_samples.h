/* SPDX-License-Identifier: MIT */
/* Session descriptions as real servers and cameras send them (addresses replaced by
 * documentation ranges where they were public), shared by test_sdp.c. */
#ifndef RD_TESTS_SDP_SAMPLES_H
#define RD_TESTS_SDP_SAMPLES_H

/* gst-rtsp-server 1.22 test-launch "( videotestsrc ! x264enc ! rtph264pay name=pay0 pt=96 )".
 * GStreamer escapes '=' in sprop-parameter-sets with a backslash. */
#define SDP_GSTREAMER_H264                                                                         \
    "v=0\r\n"                                                                                      \
    "o=- 1188340656180883 1 IN IP4 127.0.0.1\r\n"                                                  \
    "s=Session streamed with GStreamer\r\n"                                                        \
    "i=rtsp-server\r\n"                                                                            \
    "t=0 0\r\n"                                                                                    \
    "a=tool:GStreamer\r\n"                                                                         \
    "a=type:broadcast\r\n"                                                                         \
    "a=range:npt=now-\r\n"                                                                         \
    "a=control:rtsp://127.0.0.1:8554/test\r\n"                                                     \
    "m=video 0 RTP/AVP 96\r\n"                                                                     \
    "c=IN IP4 0.0.0.0\r\n"                                                                         \
    "b=AS:2097\r\n"                                                                                \
    "a=rtpmap:96 H264/90000\r\n"                                                                   \
    "a=framerate:30\r\n"                                                                           \
    "a=fmtp:96 "                                                                                   \
    "packetization-mode=1;sprop-parameter-sets=Z2QAFKzZQUH7ARAAAAMAEAAAAwPA8UKZYA\\=\\=,aOvjyyLA;" \
    "profile-level-id=640014;level-asymmetry-allowed=1\r\n"                                        \
    "a=ts-refclk:local\r\n"                                                                        \
    "a=mediaclk:sender\r\n"                                                                        \
    "a=control:rtsp://127.0.0.1:8554/test/stream=0\r\n"

/* FFmpeg 5.1 (libavformat 59.27.100) serving H.264 + AAC: relative streamid controls and a
 * session-level c= line. */
#define SDP_FFMPEG_H264_AAC                                                                        \
    "v=0\r\n"                                                                                      \
    "o=- 0 0 IN IP4 127.0.0.1\r\n"                                                                 \
    "s=No Name\r\n"                                                                                \
    "c=IN IP4 127.0.0.1\r\n"                                                                       \
    "t=0 0\r\n"                                                                                    \
    "a=tool:libavformat 59.27.100\r\n"                                                             \
    "m=video 0 RTP/AVP 96\r\n"                                                                     \
    "a=rtpmap:96 H264/90000\r\n"                                                                   \
    "a=fmtp:96 packetization-mode=1; "                                                             \
    "sprop-parameter-sets=Z2QAH6zZQFAFuhAAAAMAEAAAAwPI8YMZYA==,aOvjyyLA; "                         \
    "profile-level-id=64001F\r\n"                                                                  \
    "a=control:streamid=0\r\n"                                                                     \
    "m=audio 0 RTP/AVP 97\r\n"                                                                     \
    "b=AS:128\r\n"                                                                                 \
    "a=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"                                                        \
    "a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; "   \
    "config=121056E500\r\n"                                                                        \
    "a=control:streamid=1\r\n"

/* Hikvision-style camera: absolute controls with a query string, G.711 audio, ONVIF metadata,
 * vendor attributes, e=NONE. */
#define SDP_HIKVISION                                                                              \
    "v=0\r\n"                                                                                      \
    "o=- 1109162014219182 1109162014219192 IN IP4 192.0.2.64\r\n"                                  \
    "s=Media Presentation\r\n"                                                                     \
    "e=NONE\r\n"                                                                                   \
    "b=AS:5100\r\n"                                                                                \
    "t=0 0\r\n"                                                                                    \
    "a=control:rtsp://192.0.2.64:554/Streaming/Channels/101/?transportmode=unicast\r\n"            \
    "m=video 0 RTP/AVP 96\r\n"                                                                     \
    "c=IN IP4 0.0.0.0\r\n"                                                                         \
    "b=AS:5000\r\n"                                                                                \
    "a=recvonly\r\n"                                                                               \
    "a=x-dimensions:1920,1080\r\n"                                                                 \
    "a=control:rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast\r\n"   \
    "a=rtpmap:96 H264/90000\r\n"                                                                   \
    "a=fmtp:96 profile-level-id=420029; packetization-mode=1; "                                    \
    "sprop-parameter-sets=Z00AKpY1QPAET8s3AQEBAg==,aO48gA==\r\n"                                   \
    "m=audio 0 RTP/AVP 8\r\n"                                                                      \
    "c=IN IP4 0.0.0.0\r\n"                                                                         \
    "b=AS:50\r\n"                                                                                  \
    "a=recvonly\r\n"                                                                               \
    "a=control:rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast\r\n"   \
    "a=rtpmap:8 PCMA/8000\r\n"                                                                     \
    "a=Media_header:MEDIAINFO=494D4B48010200000400000111710110401F000000FA000000000000000000;\r\n" \
    "a=appversion:1.0\r\n"                                                                         \
    "m=application 0 RTP/AVP 107\r\n"                                                              \
    "c=IN IP4 0.0.0.0\r\n"                                                                         \
    "b=AS:50\r\n"                                                                                  \
    "a=recvonly\r\n"                                                                               \
    "a=control:rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=4?transportmode=unicast\r\n"   \
    "a=rtpmap:107 vnd.onvif.metadata/90000\r\n"

/* Axis-style camera (an embedded GStreamer): bare LF line ends, query on every control, AAC,
 * metadata, a trailing empty line. */
#define SDP_AXIS_LF                                                                                \
    "v=0\n"                                                                                        \
    "o=- 12695617352845123713 1 IN IP4 198.51.100.90\n"                                            \
    "s=Session streamed with GStreamer\n"                                                          \
    "i=rtsp-server\n"                                                                              \
    "t=0 0\n"                                                                                      \
    "a=tool:GStreamer\n"                                                                           \
    "a=type:broadcast\n"                                                                           \
    "a=range:npt=now-\n"                                                                           \
    "a=control:rtsp://198.51.100.90/axis-media/media.amp?audio=1&video=1\n"                        \
    "m=video 0 RTP/AVP 96\n"                                                                       \
    "c=IN IP4 0.0.0.0\n"                                                                           \
    "b=AS:50000\n"                                                                                 \
    "a=rtpmap:96 H264/90000\n"                                                                     \
    "a=fmtp:96 packetization-mode=1;profile-level-id=4d0029;"                                      \
    "sprop-parameter-sets=Z00AKeKQDwBE/LgLcBAQGkHiRFQ=,aO48gA==\n"                                 \
    "a=ts-refclk:local\n"                                                                          \
    "a=mediaclk:sender\n"                                                                          \
    "a=recvonly\n"                                                                                 \
    "a=control:rtsp://198.51.100.90/axis-media/media.amp/stream=0?audio=1&video=1\n"               \
    "a=framerate:30.000000\n"                                                                      \
    "a=transform:1.000000,0.000000,0.000000;0.000000,1.000000,0.000000;0.000000,0.000000,1."       \
    "000000\n"                                                                                     \
    "m=audio 0 RTP/AVP 97\n"                                                                       \
    "c=IN IP4 0.0.0.0\n"                                                                           \
    "b=AS:32\n"                                                                                    \
    "a=rtpmap:97 MPEG4-GENERIC/16000/1\n"                                                          \
    "a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;config=1408;sizelength=13;"            \
    "indexlength=3;indexdeltalength=3;bitrate=32000\n"                                             \
    "a=recvonly\n"                                                                                 \
    "a=control:rtsp://198.51.100.90/axis-media/media.amp/stream=1?audio=1&video=1\n"               \
    "m=application 0 RTP/AVP 98\n"                                                                 \
    "c=IN IP4 0.0.0.0\n"                                                                           \
    "a=rtpmap:98 vnd.onvif.metadata/90000\n"                                                       \
    "a=recvonly\n"                                                                                 \
    "a=control:rtsp://198.51.100.90/axis-media/media.amp/stream=2?audio=1&video=1\n"               \
    "\n"

/* H.265 from FFmpeg (RFC 7798 sprop-vps/sps/pps); no final line end. */
#define SDP_FFMPEG_H265                                                                            \
    "v=0\r\n"                                                                                      \
    "o=- 0 0 IN IP4 127.0.0.1\r\n"                                                                 \
    "s=No Name\r\n"                                                                                \
    "c=IN IP4 127.0.0.1\r\n"                                                                       \
    "t=0 0\r\n"                                                                                    \
    "a=tool:libavformat 59.27.100\r\n"                                                             \
    "m=video 0 RTP/AVP 96\r\n"                                                                     \
    "a=rtpmap:96 H265/90000\r\n"                                                                   \
    "a=fmtp:96 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwB4lZgJ; "                                       \
    "sprop-sps=QgEBAWAAAAMAkAAAAwAAAwB4oAPAgBDllmZpJMrgEAAAAwAQAAADAeCA; "                         \
    "sprop-pps=RAHBcrRiQA==\r\n"                                                                   \
    "a=control:streamid=0"

/* Dahua-style camera: session a=control:*, relative trackID controls, vendor attributes. */
#define SDP_DAHUA                                                                                  \
    "v=0\r\n"                                                                                      \
    "o=- 2253537364 2253537364 IN IP4 0.0.0.0\r\n"                                                 \
    "s=Media Server\r\n"                                                                           \
    "c=IN IP4 0.0.0.0\r\n"                                                                         \
    "t=0 0\r\n"                                                                                    \
    "a=control:*\r\n"                                                                              \
    "a=packetization-supported:DH\r\n"                                                             \
    "a=rtppayload-supported:DH\r\n"                                                                \
    "a=range:npt=now-\r\n"                                                                         \
    "m=video 0 RTP/AVP 96\r\n"                                                                     \
    "a=control:trackID=0\r\n"                                                                      \
    "a=framerate:25.000000\r\n"                                                                    \
    "a=rtpmap:96 H264/90000\r\n"                                                                   \
    "a=fmtp:96 packetization-mode=1;profile-level-id=4D002A;"                                      \
    "sprop-parameter-sets=Z00AKpY1QPAET8s3AQEBQAABwgAAV+QB,aO4xsg==\r\n"                           \
    "a=recvonly\r\n"                                                                               \
    "m=audio 0 RTP/AVP 8\r\n"                                                                      \
    "a=control:trackID=1\r\n"                                                                      \
    "a=rtpmap:8 PCMA/8000\r\n"                                                                     \
    "a=recvonly\r\n"

/* live555 (testOnDemandRTSPServer) H.264: session a=control:*, no session-level c= (the
 * rewrite must insert one), relative "track1" control. */
#define SDP_LIVE555                                                                                \
    "v=0\r\n"                                                                                      \
    "o=- 1700000000123456 1 IN IP4 192.0.2.20\r\n"                                                 \
    "s=H.264 Video, streamed by the LIVE555 Media Server\r\n"                                      \
    "i=test.264\r\n"                                                                               \
    "t=0 0\r\n"                                                                                    \
    "a=tool:LIVE555 Streaming Media v2023.01.19\r\n"                                               \
    "a=type:broadcast\r\n"                                                                         \
    "a=control:*\r\n"                                                                              \
    "a=range:npt=0-\r\n"                                                                           \
    "a=x-qt-text-nam:H.264 Video, streamed by the LIVE555 Media Server\r\n"                        \
    "a=x-qt-text-inf:test.264\r\n"                                                                 \
    "m=video 0 RTP/AVP 96\r\n"                                                                     \
    "c=IN IP4 0.0.0.0\r\n"                                                                         \
    "b=AS:500\r\n"                                                                                 \
    "a=rtpmap:96 H264/90000\r\n"                                                                   \
    "a=fmtp:96 packetization-mode=1;profile-level-id=42C01E;"                                      \
    "sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==\r\n"                               \
    "a=control:track1\r\n"

#endif
