"""Starts real molt services (tests/fixtures/hello builds) and talks to them over real sockets.

Synchronisation is on signals the service gives, never on sleeps: the master's log lines (read
from its stderr as they are written) and HTTP answers.
"""
import http.client
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

BUILD = os.environ.get("MOLT_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
MOLT = os.path.join(BUILD, "molt")


def hello_build(name):
    """Path of a test build of tests/fixtures/hello: v1, v2, v3, v2_slow, v2_crash, v2_fragile,
    v1_worker (forks a worker that ignores the drain signal)."""
    return os.path.join(BUILD, "tests", "fixtures", "hello_" + name)


# Timeouts here only bound a test that is failing; they never measure speed. Sanitizer builds
# on a loaded 2-core CI machine run checks several times slower, so the build
# scales them: MOLT_TEST_PATIENCE is set by tests/CMakeLists.txt.
PATIENCE = float(os.environ.get("MOLT_TEST_PATIENCE", "1"))


def deadline(timeout):
    """The monotonic time at which a wait of `timeout` seconds (scaled by PATIENCE) gives up."""
    return time.monotonic() + timeout * PATIENCE


class LogWatcher:
    """Collects a process's stderr lines and lets a test wait for one that matches."""

    def __init__(self, stream, echo_path):
        self.lines = []
        self.cond = threading.Condition()
        self.echo = open(echo_path, "w")
        self.closed = False
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream):
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            self.echo.write(line + "\n")
            self.echo.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_for(self, pattern, start=0, timeout=30):
        """Waits for a line at index >= start matching pattern; returns (index, match)."""
        regex = re.compile(pattern)
        deadline_at = deadline(timeout)
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = regex.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline_at - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(
                        "no log line matching %r; log so far:\n%s" % (pattern, "\n".join(self.lines)))
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def since(self, start):
        with self.cond:
            return list(self.lines[start:])


def free_port():
    """A port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True,
                          **kw)


class Service:
    """A hello master started from a copy of a build, watching a drop folder for updates."""

    def __init__(self, test, build="v1", extra_args=(), signed=True, interval="30s",
                 source="drop/app", env=None, pass_fds=(), wrapper=(), ready_timeout="5s"):
        """`source` is a URL, or a path relative to the service's folder (only "drop/" is
        created). `env`: variables added to the master's environment. `wrapper`: a command the
        master runs under (setpriv, prlimit)."""
        self.dir = tempfile.mkdtemp(prefix="molt-e2e-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.bin = os.path.join(self.dir, "app")
        shutil.copy(hello_build(build), self.bin)
        self.drop = os.path.join(self.dir, "drop")
        os.mkdir(self.drop)
        self.source = source if "://" in source else os.path.join(self.dir, source)
        self.pub = os.path.join(self.dir, "molt.pub")
        self.sec = os.path.join(self.dir, "molt.sec")
        run(MOLT, "keygen", "-W", "-p", self.pub, "-s", self.sec)
        args = list(wrapper) + [self.bin, "--listen", "127.0.0.1:0", "--source", self.source,
                "--interval", interval, "--ready-timeout", ready_timeout, "--drain-timeout", "10s"]
        args += ["--pubkey", self.pub] if signed else ["--insecure-no-verify"]
        args += list(extra_args)
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     start_new_session=True, pass_fds=pass_fds,
                                     env=dict(os.environ, **env) if env else None)
        test.addCleanup(self.stop)
        self.log = LogWatcher(self.proc.stderr, os.path.join(self.dir, "master.log"))
        _, m = self.log.wait_for(r"serving build \S+ on 127\.0\.0\.1:(\d+)")
        self.port = int(m.group(1))
        self.wait_ready(build_id_of(build))

    def restart(self, kill=False, meanwhile=None):
        """Stops the master (SIGTERM and its drain, or SIGKILL) and starts it again on the same
        binary, state dir and port, calling `meanwhile` while none runs; returns once a child
        is ready."""
        if kill:
            self.proc.kill()
        else:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30 * PATIENCE)
        self.log.thread.join(timeout=10)
        self.proc.stderr.close()
        self.log.echo.close()
        args = ["127.0.0.1:%d" % self.port if a == "127.0.0.1:0" else a for a in self.proc.args]
        for pid in children_of_dir(self.dir):  # a killed master's children drain on their own
            wait_for_exit(pid)
        if meanwhile:
            meanwhile()
        self.restarts = getattr(self, "restarts", 0) + 1
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.log = LogWatcher(self.proc.stderr,
                              os.path.join(self.dir, "master-%d.log" % self.restarts))
        self.log.wait_for(r"child \d+ \(build \S+\) is ready")

    def master_args(self):
        """The master's command line, to start another master on the same binary."""
        return self.proc.args

    def wait_ready(self, build_id, start=0, timeout=30):
        return self.log.wait_for(r"child (\d+) \(build %s\) is ready" % re.escape(build_id),
                                 start, timeout)

    def wait_stopped_accepting(self, pid, start=0, timeout=30):
        """Waits until child `pid` said it no longer accepts (STOPPING=1)."""
        return self.log.wait_for(r"child %d stopped accepting" % pid, start, timeout)

    def upgrade(self, build, **publish_args):
        """Publishes `build` and returns once it serves and the previous child stopped accepting,
        so that every new connection from then on reaches the new build."""
        old = self.id()["pid"]
        mark = self.log.mark()
        self.publish(build, **publish_args)
        self.wait_ready(build_id_of(build), mark)
        self.wait_stopped_accepting(old, mark)

    def publish(self, build, sign=True, key=None, path=None):
        """Drops a build at the source the way a deploy would: signature, then binary, each
        written aside and renamed into place."""
        src = build if os.path.isabs(build) else hello_build(build)
        target = path or self.source
        tmp = os.path.join(self.dir, "staging")
        shutil.copy(src, tmp)
        if sign:
            run(MOLT, "sign", "-s", key or self.sec, "-m", tmp, "-x", tmp + ".minisig")
            os.rename(tmp + ".minisig", target + ".minisig")
        os.rename(tmp, target)

    def get(self, path="/", timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def hello(self):
        status, body = self.get("/")
        assert status == 200, (status, body)
        return body.strip()

    def id(self):
        import json
        status, body = self.get("/id")
        assert status == 200, (status, body)
        return json.loads(body)

    def send_slow_request(self, duration="3s"):
        """Sends GET /sleep on a new connection and waits until a child has accepted it, so the
        child serving now owns it. Returns a thread and the dict its answer lands in."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/sleep?duration=" + duration)
        wait_until(lambda: accept_queue_length(self.port) == 0, "the request to be accepted")
        result = {}

        def response():
            resp = conn.getresponse()
            result["answer"] = (resp.status, resp.read().decode())
            conn.close()

        thread = threading.Thread(target=response)
        thread.start()
        return thread, result

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def installed_build_id(self):
        return run(MOLT, "build-id", self.bin).stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.thread.join(timeout=10)
        self.proc.stderr.close()
        self.log.echo.close()
        # Children are in their own process groups; make sure none outlives the test.
        kill_processes_of_dir(self.dir)


def build_id_of(build):
    return {"v1": "v1", "v2": "v2", "v3": "v3", "v2_slow": "v2-slow", "v2_crash": "v2-crash",
            "v2_fragile": "v2-fragile", "v1_worker": "v1-worker",
            "v2_no_master": "v2-no-master"}[build]


def children_of(pid):
    """The pids whose parent is `pid`."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def children_of_dir(directory):
    """Pids of processes whose executable lives in `directory` (the service's children)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % entry)
        except OSError:
            continue
        if exe.startswith(directory + "/"):
            pids.append(int(entry))
    return pids


def kill_processes_of_dir(directory):
    """SIGKILLs every process whose executable lives in `directory`."""
    for pid in children_of_dir(directory):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def accept_queue_length(port):
    """Connections waiting in the listener's accept queue (rx_queue of a LISTEN socket)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return int(queues.split(":")[1], 16)
    raise AssertionError("no listener on port %d" % port)


def wait_until(predicate, what, timeout=30):
    deadline_at = deadline(timeout)
    while not predicate():
        if time.monotonic() > deadline_at:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.005)


def wait_for_exit(pid, timeout=30):
    """Waits for a process that is not our child to exit (pidfd: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout * PATIENCE)
        return bool(ready)
    finally:
        os.close(fd)


def pid_alive(pid):
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class Load:
    """Clients sending requests without pause until stopped; counts answers and failures."""

    def __init__(self, port, clients=2, keep_alive=False):
        self.port = port
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.bodies = []
        target = self._keep_alive if keep_alive else self._new_connections
        self.threads = [threading.Thread(target=target, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _record(self, body=None, failure=None):
        with self.lock:
            if failure is None:
                self.ok += 1
                self.bodies.append(body)
            else:
                self.failures.append(failure)

    def _new_connections(self):
        while not self.stop_flag.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read().decode().strip()
                if resp.status == 200:
                    self._record(body)
                else:
                    self._record(failure="status %d" % resp.status)
            except Exception as e:  # any connect error, reset or timeout is a failed request
                self._record(failure=repr(e))
            finally:
                conn.close()

    def _keep_alive(self):
        """One connection, reconnecting only when the server said Connection: close."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop_flag.is_set():
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read().decode().strip()
                closing = resp.getheader("Connection", "").lower() == "close"
                if resp.status == 200:
                    self._record(body)
                else:
                    self._record(failure="status %d" % resp.status)
                if closing:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            except Exception as e:
                self._record(failure=repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.close()

    def wait_for_answers(self, count, timeout=30):
        deadline_at = deadline(timeout)
        while True:
            with self.lock:
                if self.ok >= count:
                    return
            if time.monotonic() > deadline_at:
                raise AssertionError("load got only %d answers" % self.ok)
            time.sleep(0.01)

    def mark(self):
        with self.lock:
            return len(self.bodies)

    def wait_for_body(self, body, start=0, timeout=30):
        """Waits until a client got `body` in an answer at index >= start."""
        deadline_at = deadline(timeout)
        seen = start
        while True:
            with self.lock:
                if body in self.bodies[seen:]:
                    return
                seen = len(self.bodies)
            if time.monotonic() > deadline_at:
                raise AssertionError("load never got %r" % body)
            time.sleep(0.01)

    def finish(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)
        return self.ok, self.failures
