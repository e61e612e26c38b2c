"""`molt run -- PROGRAM` with examples/go/server.go: a server in Go's standard library (fd 3
through net.FileListener, a notify datagram, http.Server.Shutdown on SIGTERM), upgraded under a
new-connection client and a keep-alive client with no failed request, from a file drop and from
an HTTP source. Its BuildID is Go's own build ID note, as `go tool buildid` prints it."""
import os
import shutil
import unittest

from harness import BUILD, MOLT, run
from http_peers import served_folder
from molt_run import (RunService, under_load, upgrade_ready_by_http_healthz,
                      upgrade_to_v2_under_load)

FIXTURES = os.path.join(BUILD, "tests", "fixtures")
GO_BUILD_ID = r"[A-Za-z0-9_-]{20}(/[A-Za-z0-9_-]{20}){3}"  # action/content ids, 4 parts


def go_server(version, path):
    """The Go server built as `version` (tests/CMakeLists.txt builds v1 and v2), at `path`."""
    shutil.copyfile(os.path.join(FIXTURES, "go_server_" + version), path)
    os.chmod(path, 0o755)
    return run(MOLT, "build-id", path).stdout.strip()


class RunGo(unittest.TestCase):
    def test_the_build_id_is_gos(self):
        ids = {v: run(MOLT, "build-id", os.path.join(FIXTURES, "go_server_" + v)).stdout.strip()
               for v in ("v1", "v2")}
        for build_id in ids.values():
            self.assertRegex(build_id, "^%s$" % GO_BUILD_ID)
        self.assertNotEqual(ids["v1"], ids["v2"])

    def test_upgrade_from_a_file_drop_under_load(self):
        upgrade_to_v2_under_load(self, RunService(self, go_server))

    def test_upgrade_from_an_http_source_under_load(self):
        root, server = served_folder(self)
        svc = RunService(self, go_server, source=server.url("/server"))

        def upgrade():
            svc.publish("v2", root)
            return svc.check()
        result, _ = under_load(self, svc, upgrade, "hello from v2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^build %s serves" % GO_BUILD_ID)

    def test_ready_by_http_healthz_without_notify_under_load(self):
        upgrade_ready_by_http_healthz(self, RunService(self, go_server,
                                                       extra=["--ready", "http:/healthz"],
                                                       program_args=["--no-notify"]))

if __name__ == "__main__":
    unittest.main()
