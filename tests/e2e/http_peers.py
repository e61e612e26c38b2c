"""HTTP(S) servers for end-to-end tests of http(s):// sources, and publishing into them.

- Nginx: the real nginx from Debian (tests/tools/nginx.py), one process in the foreground,
  serving a folder on 127.0.0.1 with its own ETag and Last-Modified; its access log (one line
  per request: `$request $status $body_bytes_sent $connection`) lives in its temp dir.
- TestServer: tests/tools/http_test_server.py, which serves a folder properly or misbehaves on
  command (see its docstring for the modes), over http or, given a certificate, https.
- GitHubServer: tests/tools/github_api_server.py, the part of GitHub's REST API a github://
  source uses, serving a folder as the latest release, downloads redirected to a TestServer.
- make_pki: a CA and a certificate for 127.0.0.1 signed by it, made with openssl.
- publish: drops a signed build into a served folder the way a deploy would.

Every wait is on something the peer says (a line it prints, a connection it accepts, a line
in its access log), never a sleep.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import urllib.parse
import urllib.request

from harness import MOLT, PATIENCE, free_port, hello_build, run, wait_until

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")


def make_pki(directory):
    """A CA and a server certificate for 127.0.0.1 signed by it (tests/tools/make_pki.sh).
    Returns (ca, cert, key)."""
    run(os.path.join(TOOLS, "make_pki.sh"), directory)
    return tuple(os.path.join(directory, n) for n in ("ca.crt", "server.crt", "server.key"))


def publish(svc, build, folder, name="app", key=None, trusted_comment=None, signed_file=None):
    """Publishes `build` (a hello build name or a path) as `folder/name` the way a deploy does:
    signature first, then the binary, each written aside and renamed into place.

    `key`: the secret key to sign with (default: the service's). `trusted_comment`: signed
    verbatim instead of molt's default (which carries the BuildID). `signed_file`: sign this
    file instead of the one published (a signature that does not match the binary)."""
    src = build if os.path.isabs(build) else hello_build(build)
    target = os.path.join(folder, name)
    staging = os.path.join(folder, ".staging-" + name)
    shutil.copy(src, staging)
    to_sign = staging
    if signed_file is not None:
        to_sign = os.path.join(folder, ".staging-other-" + name)
        shutil.copy(signed_file if os.path.isabs(signed_file) else hello_build(signed_file),
                    to_sign)
    args = [MOLT, "sign", "-s", key or svc.sec, "-m", to_sign, "-x", staging + ".minisig"]
    if trusted_comment is not None:
        args += ["-t", trusted_comment]
    run(*args)
    if to_sign != staging:
        os.unlink(to_sign)
    os.rename(staging + ".minisig", target + ".minisig")
    os.rename(staging, target)


class _Process:
    """A peer process with its output collected in a thread (so its pipe never fills)."""

    def __init__(self, argv, log_path, stream):
        # The stream not watched goes to a file beside the log, out of the test's output.
        with open(log_path + ".other", "w") as other:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, start_new_session=True,
                stdout=subprocess.PIPE if stream == "stdout" else other,
                stderr=subprocess.PIPE if stream == "stderr" else other)
        self.pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        self.lines = []
        self.cond = threading.Condition()
        self.done = False
        self.log = open(log_path, "w")
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        for raw in self.pipe:
            line = raw.decode(errors="replace").rstrip("\n")
            self.log.write(line + "\n")
            self.log.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_for_line(self, predicate, timeout=20):
        """The first line for which predicate holds, or None once the process closed its output."""
        with self.cond:
            ok = self.cond.wait_for(
                lambda: self.done or any(predicate(l) for l in self.lines), timeout * PATIENCE)
            for line in self.lines:
                if predicate(line):
                    return line
            if not ok:
                raise AssertionError("peer said nothing useful in %ds:\n%s"
                                     % (timeout, "\n".join(self.lines)))
            return None

    def output(self):
        with self.cond:
            return "\n".join(self.lines)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(timeout=10)
        self.pipe.close()
        self.log.close()


class Nginx:
    """tests/tools/nginx.py: nginx in the foreground, one process, config/logs/temp files in a
    temp dir, serving `root` on 127.0.0.1 at a free port. Stop it with stop() (registered as
    cleanup if given a test or a class's cleanup registrar)."""

    def __init__(self, root, add_cleanup, tls=None):
        self.dir = tempfile.mkdtemp(prefix="molt-e2e-nginx-")
        add_cleanup(shutil.rmtree, self.dir, True)
        self.root = root
        self.scheme = "https" if tls else "http"
        self.access_log = os.path.join(self.dir, "access.log")
        self.process = None
        errors = []
        for _ in range(3):  # another process may take the free port before nginx binds it
            if self._start(tls):
                break
            errors.append(self.failed_output)
        if self.process is None:
            raise AssertionError("nginx did not start:\n" + "\n".join(errors))
        add_cleanup(self.stop)

    def _start(self, tls):
        self.port = free_port()
        argv = ["/usr/bin/python3", os.path.join(TOOLS, "nginx.py"), "--dir", self.dir,
                "--port", str(self.port), "--root", self.root, "--access-log", "requests"]
        if tls:
            _, cert, key = tls
            argv += ["--cert", cert, "--key", key]
        process = _Process(argv, os.path.join(self.dir, "nginx.out"), "stderr")
        # nginx logs its version once its configuration is loaded and its sockets listen.
        if process.wait_for_line(lambda l: "nginx/" in l or "emerg" in l) and \
                process.proc.poll() is None and "emerg" not in process.output():
            self.process = process
            return True
        process.stop()
        self.failed_output = process.output()
        return False

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def requests(self):
        """The access log's lines so far: `GET /app.minisig HTTP/1.1 304 0 3`."""
        try:
            with open(self.access_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_for_requests(self, count, timeout=20):
        """Waits until the access log holds at least `count` lines; returns them."""
        wait_until(lambda: len(self.requests()) >= count,
                   "%d lines in nginx's access log" % count, timeout)
        return self.requests()

    def stop(self):
        if self.process is not None:
            self.process.stop(signal.SIGQUIT)  # graceful: every request is logged
            self.process = None


def _start_tool(argv, add_cleanup, kind):
    """Starts a tests/tools server that prints its port alone on a line once it accepts, its
    output kept in a temp dir; stopped and removed by `add_cleanup`. Returns (dir, process,
    port)."""
    directory = tempfile.mkdtemp(prefix="molt-e2e-%s-" % kind)
    add_cleanup(shutil.rmtree, directory, True)
    process = _Process(argv, os.path.join(directory, "server.out"), "stdout")
    add_cleanup(process.stop)
    line = process.wait_for_line(lambda l: l.strip().isdigit())
    if line is None:
        raise AssertionError("%s did not start" % os.path.basename(argv[1]))
    return directory, process, int(line)


def served_folder(test, tls=None):
    """A temp folder (removed after `test`) and a TestServer serving it: (folder, server)."""
    root = tempfile.mkdtemp(prefix="molt-e2e-root-")
    test.addCleanup(shutil.rmtree, root, True)
    return root, TestServer(root, test.addCleanup, tls)


class TestServer:
    """tests/tools/http_test_server.py serving `root`, over TLS when given make_pki's triple."""

    __test__ = False  # not a unittest case

    def __init__(self, root, add_cleanup, tls=None):
        self.root = root
        self.scheme = "https" if tls else "http"
        self.tls = tls
        argv = ["/usr/bin/python3", os.path.join(TOOLS, "http_test_server.py"), "--root", root]
        if tls:
            _, cert, key = tls
            argv += ["--cert", cert, "--key", key]
        self.dir, self.process, self.port = _start_tool(argv, add_cleanup, "server")

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def _control(self, path_and_query):
        import ssl
        context = None
        if self.tls:
            context = ssl.create_default_context(cafile=self.tls[0])
        with urllib.request.urlopen(self.url(path_and_query), timeout=10,
                                    context=context) as resp:
            return resp.read()

    def set_mode(self, path, mode):
        """Makes every request for `path` misbehave as `mode` (an empty mode: behave)."""
        self._control("/_control/mode?" + urllib.parse.urlencode({"path": path, "mode": mode}))

    def requests(self, path=None):
        """The requests served so far (method, path, headers), only those for `path` if given."""
        served = json.loads(self._control("/_control/requests"))
        return [r for r in served if path is None or r["path"] == path]



class GitHubServer:
    """tests/tools/github_api_server.py serving `root` as a repository's latest release, its
    asset downloads redirected to `storage` (a TestServer of the same folder, reached as
    localhost: another host than the API's 127.0.0.1). `token`: the repository is private."""

    __test__ = False  # not a unittest case

    def __init__(self, root, storage, add_cleanup, token=None, owner="acme", repo="hello"):
        argv = ["/usr/bin/python3", os.path.join(TOOLS, "github_api_server.py"), "--root", root,
                "--storage", "http://localhost:%d" % storage.port, "--owner", owner,
                "--repo", repo]
        if token:
            argv += ["--token", token]
        self.dir, self.process, port = _start_tool(argv, add_cleanup, "github")
        self.url = "http://127.0.0.1:%d" % port

    def _control(self, path_and_query):
        with urllib.request.urlopen(self.url + path_and_query, timeout=10) as resp:
            return resp.read()

    def set_mode(self, mode):
        self._control("/_control/mode?" + urllib.parse.urlencode({"mode": mode}))

    def requests(self):
        """The API requests served so far: method, path, headers, status."""
        return json.loads(self._control("/_control/requests"))
