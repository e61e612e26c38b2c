"""`molt run -- PROGRAM` under test: a server in another language, its builds, and load."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

from harness import (BUILD, MOLT, PATIENCE, Load, LogWatcher, kill_processes_of_dir, run,
                     wait_until)


def wait_first_check(bin_path):
    """Until the master's first check (at its start) is over, as `molt status` says: a build
    published before then may be taken by that check rather than by the one a test asks for."""
    def done():
        out = subprocess.run([MOLT, "status", "--json", bin_path], capture_output=True,
                             text=True).stdout
        status = json.loads(out) if out else {}
        return status.get("last_check") is not None and not status.get("checking")
    wait_until(done, "the master's first check")


def c_server(version, path):
    """The C server built as `version` (tests/CMakeLists.txt builds v1 and v2), at `path`."""
    shutil.copyfile(os.path.join(BUILD, "tests", "fixtures", "c_server_" + version), path)
    os.chmod(path, 0o755)
    return run(MOLT, "build-id", path).stdout.strip()


class RunService:
    """`molt run` of a server in another language, copied into a temp folder, with a drop folder
    or URL. `make_build(version, path)` writes the server that answers "hello from VERSION" at
    `path` and returns its BuildID."""

    def __init__(self, test, make_build, name="server", source=None, extra=(), program_args=()):
        self.make_build = make_build
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="molt-e2e-run-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.bin = os.path.join(self.dir, name)
        self.build_id = make_build("v1", self.bin)
        os.mkdir(os.path.join(self.dir, "drop"))
        self.source = source or os.path.join(self.dir, "drop", name)
        self.pub = os.path.join(self.dir, "molt.pub")
        self.sec = os.path.join(self.dir, "molt.sec")
        run(MOLT, "keygen", "-W", "-p", self.pub, "-s", self.sec)
        argv = [MOLT, "run", "--listen", "127.0.0.1:0", "--source", self.source, "--pubkey",
                self.pub, "--interval", "1h", "--ready-timeout", "10s", "--probation", "5s"]
        argv += list(extra) + ["--", self.bin] + list(program_args)
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        test.addCleanup(self.stop)
        self.log = LogWatcher(self.proc.stderr, os.path.join(self.dir, "master.log"))
        _, m = self.log.wait_for(r"serving build %s on 127\.0\.0\.1:(\d+)" % self.build_id)
        self.port = int(m.group(1))
        _, m = self.wait_ready(self.build_id)
        self.child = int(m.group(1))
        wait_first_check(self.bin)

    def wait_ready(self, build_id, start=0):
        return self.log.wait_for(r"child (\d+) \(build %s\) is ready" % re.escape(build_id),
                                 start)

    def publish(self, version, root=None):
        """Signs a build answering `version` and drops it at the source (signature first);
        `root`: the folder an HTTP source serves. Returns its BuildID."""
        staging = os.path.join(self.dir, "staging")
        build_id = self.make_build(version, staging)
        run(MOLT, "sign", "-s", self.sec, "-m", staging, "-x", staging + ".minisig")
        target = os.path.join(root, self.name) if root else self.source
        os.rename(staging + ".minisig", target + ".minisig")
        os.rename(staging, target)
        return build_id

    def check(self):
        """`molt check` (the source polls hourly): the check and the upgrade it starts."""
        return subprocess.run([MOLT, "check", self.bin], capture_output=True, text=True,
                              timeout=60 * PATIENCE)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30 * PATIENCE)
        self.log.thread.join(timeout=10)
        self.proc.stderr.close()
        self.log.echo.close()
        kill_processes_of_dir(self.dir)



def under_load(test, svc, action, then_body=None):
    """Runs `action` under a new-connection and a keep-alive client; with `then_body`, waits until
    both get it. Asserts that no request failed; returns (what action returned, the loads)."""
    loads = [Load(svc.port, clients=2), Load(svc.port, clients=2, keep_alive=True)]
    for load in loads:
        load.wait_for_answers(20)
    marks = [load.mark() for load in loads]
    result = action()
    for load, mark in zip(loads, marks):
        if then_body:
            load.wait_for_body(then_body, mark)
        load.wait_for_answers(load.ok + 20)
        ok, failures = load.finish()
        test.assertEqual(failures, [])
    return result, loads


def upgrade_to_v2_under_load(test, svc, meanwhile=None):
    """Publishes v2 at `svc`'s file drop under load and waits until it serves: no request fails,
    clients see v1 then v2, and v2 is installed. `meanwhile`: a log line (regex) that must have
    come during the upgrade."""
    mark = svc.log.mark()

    def upgrade():
        v2 = svc.publish("v2")
        svc.wait_ready(v2, mark)
        return v2
    v2, loads = under_load(test, svc, upgrade, "hello from v2")
    for load in loads:
        test.assertEqual(set(load.bodies), {"hello from v1", "hello from v2"})
    if meanwhile:
        svc.log.wait_for(meanwhile, mark)
    test.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), v2)


def upgrade_ready_by_http_healthz(test, svc):
    """upgrade_to_v2_under_load for a `molt run --ready http:/healthz` of a program that does not
    notify. The old child answers /healthz too, on the same listener: it must not make v2 look
    ready."""
    upgrade_to_v2_under_load(test, svc, r"child \d+ passed its readiness probe: GET /healthz "
                                        r"answered 200")
