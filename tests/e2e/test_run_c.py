"""`molt run -- PROGRAM` with examples/c/server.c: a server in C with no library at all (fd 3,
a notify datagram, SIGTERM), upgraded under a new-connection client and a keep-alive client
with no failed request, from a file drop and from an HTTP source, and made ready by `--ready tcp`
when it does not notify."""
import subprocess
import unittest

from harness import MOLT
from http_peers import served_folder
from molt_run import RunService, c_server, under_load, upgrade_to_v2_under_load


class RunC(unittest.TestCase):
    def test_upgrade_from_a_file_drop_under_load(self):
        upgrade_to_v2_under_load(self, RunService(self, c_server))

    def test_upgrade_from_an_http_source_under_load(self):
        root, server = served_folder(self)
        svc = RunService(self, c_server, source=server.url("/server"))

        def upgrade():
            svc.publish("v2", root)
            return svc.check()
        result, _ = under_load(self, svc, upgrade, "hello from v2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^build [0-9a-f]{40} serves")  # the GNU build-id

    def test_ready_by_tcp_for_a_program_that_does_not_notify_under_load(self):
        svc = RunService(self, c_server, extra=["--ready", "tcp"], program_args=["--no-notify"])

        def upgrade():
            mark = svc.log.mark()
            svc.wait_ready(svc.publish("v2"), mark)
            svc.log.wait_for(r"passed its readiness probe: it accepted a connection on "
                             r"127\.0\.0\.1:%d" % svc.port, mark)
        under_load(self, svc, upgrade, "hello from v2")

    def test_the_master_never_maps_libcrypto_nor_libcurl(self):
        # Issue 13, a lean master: the check helper loads them, and the master checks the
        # signature beside its binary (for `molt status`, after an install) in a forked child.
        root, server = served_folder(self)
        svc = RunService(self, c_server, source=server.url("/server"))
        svc.publish("v2", root)
        result = svc.check()
        self.assertEqual(result.returncode, 0, result.stderr)
        status = subprocess.run([MOLT, "status", "--json", svc.bin], capture_output=True,
                                text=True, check=True)
        self.assertIn('"signed_at"', status.stdout)  # the signature beside <bin> was checked
        with open("/proc/%d/maps" % svc.proc.pid) as f:
            maps = f.read()
        self.assertNotIn("libcrypto", maps)
        self.assertNotIn("libcurl", maps)


if __name__ == "__main__":
    unittest.main()
