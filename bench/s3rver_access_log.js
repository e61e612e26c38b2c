'use strict';
// Loaded into s3rver (NODE_OPTIONS=--require) by bench/fleet_sources.py: an access log in the
// format of nginx's "fleet" log (tests/tools/nginx.py), `$msec $request_length $bytes_sent
// $status $request_time "$request"`, one line per request, written to MOLT_BENCH_ACCESS_LOG.
// The time a request took counts from its headers' arrival (nginx: from its first byte; a
// poll's headers come in one packet) to the end of the answer.
//
// s3rver's own log (koa-logger) has no time, no request size and only the body's size. The
// bytes here are the connection's own counters (socket.bytesRead, bytesWritten): what went each
// way on it since the previous request on that connection ended, headers included, as nginx
// counts them. Clients do not pipeline (libcurl, botocore), so one request's bytes are not
// mixed with the next one's. A request whose connection closes before the answer ends is
// logged with 499, as nginx does.
const fs = require('fs');
const http = require('http');

const fd = fs.openSync(process.env.MOLT_BENCH_ACCESS_LOG, 'a');
const emit = http.Server.prototype.emit;

http.Server.prototype.emit = function (event, req, res) {
  if (event === 'request') {
    // The socket, kept now: the server detaches it from `res` before our 'finish' listener.
    const socket = req.socket;
    const start = Date.now();
    let logged = false;
    const log = (status) => {
      if (logged) return;
      logged = true;
      const read = socket.bytesRead - (socket.benchRead || 0);
      const written = socket.bytesWritten - (socket.benchWritten || 0);
      socket.benchRead = socket.bytesRead;
      socket.benchWritten = socket.bytesWritten;
      const now = Date.now();
      fs.writeSync(fd, `${(now / 1000).toFixed(3)} ${read} ${written} ${status} ` +
                       `${((now - start) / 1000).toFixed(3)} ` +
                       `"${req.method} ${req.url} HTTP/${req.httpVersion}"\n`);
    };
    res.on('finish', () => log(res.statusCode));
    res.on('close', () => log(499));
  }
  return emit.apply(this, arguments);
};
