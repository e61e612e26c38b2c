#!/usr/bin/python3
"""Debian's nginx serving a folder on 127.0.0.1: the one nginx of every test and benchmark.

Writes DIR/nginx.conf (config, logs, temp files and pid file all live in DIR), then execs
/usr/sbin/nginx in place of this script, so the process that was started is nginx itself and
its pid is the one to signal.

  nginx.py --dir DIR --port N --root ROOT [--cert CERT --key KEY]
           [--access-log FORMAT] [--worker-connections N] [--return TEXT]
           [--daemon [--workers N] | --foreground-master [--workers N]]

Without --daemon: one process in the foreground, its error log on stderr at level notice, so
the line "nginx/VERSION" there says the config is loaded and the socket listens. SIGQUIT stops
it gracefully (every request logged first).

With --daemon: a master and N workers, as deployed; this command returns once the master has
detached, and DIR/nginx.pid names it (then DIR/nginx.pid.oldbin the old one during a binary
upgrade, USR2).

With --foreground-master: a master and N workers, the master in the foreground (`daemon off`,
as in a container or under systemd's Type=exec): the process started is the master, its error
log on stderr. bench/master_footprint.py compares it with molt run's master, which never
daemonizes either.

--access-log FORMAT logs each request to DIR/access.log in one of FORMATS below.

--return TEXT answers every request 200 with TEXT (text/plain) instead of serving ROOT: the
handler of bench/throughput.py, the same constant body as the servers it is compared with.
"""

import argparse
import os

NGINX = "/usr/sbin/nginx"

FORMATS = {
    # The tests': the request line, what was answered, and the connection it came on.
    "requests": "$request $status $body_bytes_sent $connection",
    # The benchmarks': bytes both ways for a request, headers included.
    "bench": '$request_length $bytes_sent $status "$request"',
    # The fleet benchmark's: the same, with when (Unix time, ms) and how long it took (s, ms).
    "fleet": '$msec $request_length $bytes_sent $status $request_time "$request"',
}


def answer(text):
    """The server block's `return 200 "TEXT";`, or nothing. In nginx's quoted strings a backslash
    escapes; a $ would name a variable, which no caller needs."""
    if text is None:
        return ""
    if "$" in text:
        raise SystemExit("nginx.py: --return TEXT with a $ is not supported")
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return ' default_type text/plain; return 200 "%s";' % quoted


def config(args):
    lines = ["pid nginx.pid;", "error_log error.log notice;"]
    if args.daemon or args.foreground_master:
        # Workers of a master started as root would run as nobody, who may not read the root
        # folder or write the temp folders of the caller.
        lines += ["daemon %s;" % ("on" if args.daemon else "off"), "master_process on;",
                  "user root;", "worker_processes %d;" % args.workers]
        if args.foreground_master:
            lines.append("error_log stderr notice;")
    else:
        # At notice, nginx logs "nginx/VERSION" once it listens: the caller's readiness line.
        lines += ["daemon off;", "master_process off;", "error_log stderr notice;"]
    lines.append("events { worker_connections %d; }" % args.worker_connections)
    listen = "127.0.0.1:%d" % args.port
    tls = ""
    if args.cert:
        listen += " ssl"
        tls = " ssl_certificate %s; ssl_certificate_key %s;" % (args.cert, args.key)
    lines.append("http {")
    if args.access_log:
        lines += ["  log_format %s '%s';" % (args.access_log, FORMATS[args.access_log]),
                  "  access_log access.log %s;" % args.access_log]
    else:
        lines.append("  access_log off;")
    lines += [
        "  default_type application/octet-stream;",
        "  sendfile on;",
        # Relative paths are under the prefix, DIR: nothing is written outside it.
        "  client_body_temp_path body; proxy_temp_path proxy; fastcgi_temp_path fastcgi;",
        "  uwsgi_temp_path uwsgi; scgi_temp_path scgi;",
        "  server { listen %s; root %s;%s%s }" % (listen, args.root, tls, answer(args.ret)),
        "}",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dir", required=True, help="nginx's prefix: config, logs, temp files")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--root", required=True, help="the folder served")
    parser.add_argument("--cert", help="serve https with this certificate (and --key)")
    parser.add_argument("--key")
    parser.add_argument("--access-log", choices=sorted(FORMATS))
    parser.add_argument("--worker-connections", type=int, default=64)
    parser.add_argument("--return", dest="ret", metavar="TEXT",
                        help="answer every request 200 with TEXT")
    parser.add_argument("--daemon", action="store_true")
    parser.add_argument("--foreground-master", action="store_true")
    parser.add_argument("--workers", type=int, default=1,
                        help="with --daemon or --foreground-master")
    args = parser.parse_args()
    if args.daemon and args.foreground_master:
        parser.error("--daemon or --foreground-master, not both")
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    prefix = os.path.abspath(args.dir)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(config(args))
    # -e: where nginx logs before it has read the config (an unreadable config, say).
    error_log = os.path.join(prefix, "error.log") if args.daemon else "stderr"
    os.execv(NGINX, [NGINX, "-p", prefix + "/", "-c", conf, "-e", error_log])


if __name__ == "__main__":
    main()
