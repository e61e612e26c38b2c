#!/usr/bin/python3
"""Runs a consumer's v1 build as a molt master, drops its signed v2 build and checks that v2
takes over: what a user who built molt into their program sees first.

Usage: upgrade_once.py APP_V1 APP_V2 MOLT_COMMAND
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

# The master's log is read as the e2e tests read it: lines off its stderr pipe, as they come.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import LogWatcher  # noqa: E402

TIMEOUT_S = 120  # bounds a failing run only: each wait ends on the line or the answer it expects


def get(sock_path):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall(b"GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    return reply.split(b"\r\n\r\n", 1)[-1].decode().strip()


def main():
    app_v1, app_v2, molt = sys.argv[1:4]
    work = tempfile.mkdtemp(prefix="molt-consumer-")
    try:
        run_upgrade(work, app_v1, app_v2, molt)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_upgrade(work, app_v1, app_v2, molt):
    binary, drop = os.path.join(work, "app"), os.path.join(work, "drop")
    os.mkdir(drop)
    shutil.copy(app_v1, binary)
    pub, sec = os.path.join(work, "key.pub"), os.path.join(work, "key.sec")
    subprocess.run([molt, "keygen", "-W", "-p", pub, "-s", sec], check=True,
                   stdout=subprocess.DEVNULL)
    sock = os.path.join(work, "app.sock")
    proc = subprocess.Popen([binary, "unix:" + sock, os.path.join(drop, "app"), pub],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = LogWatcher(proc.stderr, os.path.join(work, "log"))
    try:
        log.wait_for(r"child \d+ \(build v1\) is ready", timeout=TIMEOUT_S)
        assert get(sock) == "hello from v1", get(sock)
        staging = os.path.join(work, "staging")
        shutil.copy(app_v2, staging)
        subprocess.run([molt, "sign", "-s", sec, "-m", staging], check=True,
                       stdout=subprocess.DEVNULL)
        os.rename(staging + ".minisig", os.path.join(drop, "app.minisig"))
        os.rename(staging, os.path.join(drop, "app"))
        log.wait_for(r"installed build v2 as ", timeout=TIMEOUT_S)
        log.wait_for(r"child \d+ \(build v1\) exited", timeout=TIMEOUT_S)
        answer = get(sock)
        assert answer == "hello from v2", answer
        with open(binary, "rb") as now, open(app_v2, "rb") as v2:
            assert now.read() == v2.read(), "the binary was not replaced by v2"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=TIMEOUT_S)
        log.thread.join(timeout=10)
        log.echo.close()
    assert code == 0, "the master exited with %d" % code
    print("upgrade_once: %s served v1, then v2 from a file drop" % os.path.basename(app_v1))


if __name__ == "__main__":
    main()
