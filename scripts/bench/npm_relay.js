// SPDX-License-Identifier: MIT
// Peer relay (b) for the relay fan-out benchmark: rtsp-streaming-server (npm) as a relay.
// A publisher (ffmpeg, started by scripts/bench/peers.py) ANNOUNCEs/RECORDs to the publish
// port; viewers DESCRIBE/SETUP/PLAY on the client port and get every RTP packet it receives.
//
// usage: node npm_relay.js --module DIR [--publish-port N] [--client-port N]
//                          [--rtp-start N] [--rtp-count N] [--ready-file F]
// DIR is the installed node_modules/rtsp-streaming-server. Port 0 = any free port; the bound
// ports are printed as "PORTS <publish> <client>" and written to --ready-file (same line).
// The RTSP listeners are bound to 127.0.0.1; the package binds its UDP RTP/RTCP sockets
// (rtp-start .. rtp-start+rtp-count-1, two per viewer and two per publisher) on all addresses.
'use strict';

const fs = require('fs');

function parseArgs(argv) {
  const a = {
    module: null, publishPort: 0, clientPort: 0, rtpStart: 20000, rtpCount: 6000, readyFile: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    switch (k) {
      case '--module': a.module = v; i++; break;
      case '--publish-port': a.publishPort = Number(v); i++; break;
      case '--client-port': a.clientPort = Number(v); i++; break;
      case '--rtp-start': a.rtpStart = Number(v); i++; break;
      case '--rtp-count': a.rtpCount = Number(v); i++; break;
      case '--ready-file': a.readyFile = v; i++; break;
      default:
        console.error(`npm_relay: unknown argument ${k}`);
        process.exit(2);
    }
  }
  if (!a.module) {
    console.error('npm_relay: --module DIR is required');
    process.exit(2);
  }
  for (const n of [a.publishPort, a.clientPort, a.rtpStart, a.rtpCount]) {
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      console.error('npm_relay: ports and counts must be integers in 0..65535');
      process.exit(2);
    }
  }
  if (a.rtpCount % 2 !== 0 || a.rtpStart % 2 !== 0 || a.rtpStart + a.rtpCount > 65536) {
    console.error('npm_relay: --rtp-start and --rtp-count must be even and within 65535');
    process.exit(2);
  }
  return a;
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve(server.address().port);
    });
  });
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const RtspServer = require(a.module).default;
  const srv = new RtspServer({
    serverPort: a.publishPort,
    clientPort: a.clientPort,
    rtpPortStart: a.rtpStart,
    rtpPortCount: a.rtpCount,
  });
  // RtspServer.start() listens on every address; listen on loopback ourselves instead (the
  // package's PublishServer/ClientServer keep their net.Server as .server).
  const pub = await listen(srv.PublishServer.server, a.publishPort);
  const cli = await listen(srv.ClientServer.server, a.clientPort);
  const line = `PORTS ${pub} ${cli}\n`;
  process.stdout.write(line);
  if (a.readyFile) {
    fs.writeFileSync(a.readyFile + '.tmp', line);
    fs.renameSync(a.readyFile + '.tmp', a.readyFile);
  }
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error('npm_relay:', e);
  process.exit(1);
});
