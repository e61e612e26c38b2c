"""A bad configuration stops the master at start with one clear line and exit code 2."""
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import PATIENCE, hello_build


class BadConfiguration(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="molt-e2e-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.app = os.path.join(self.dir, "app")
        shutil.copy(hello_build("v1"), self.app)

    def refused(self, *args):
        result = subprocess.run([self.app, *args], capture_output=True, text=True, timeout=30 * PATIENCE)
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = [l for l in result.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, result.stderr)
        return lines[0]

    def test_bad_listen_address(self):
        line = self.refused("--listen", "127.0.0.1:http", "--insecure-no-verify")
        self.assertIn('listen address "127.0.0.1:http": port must be a number from 0 to 65535',
                      line)

    def test_port_in_use(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        line = self.refused("--listen", "127.0.0.1:%d" % port)
        self.assertIn("listen on 127.0.0.1:%d: Address already in use" % port, line)

    def test_bad_duration(self):
        line = self.refused("--listen", "127.0.0.1:0", "--interval", "5")
        self.assertIn('duration "5": missing or unknown unit', line)

    def test_missing_public_key(self):
        key = os.path.join(self.dir, "absent.pub")
        line = self.refused("--listen", "127.0.0.1:0", "--source", self.app + ".new",
                            "--pubkey", key)
        self.assertIn("public key " + key + ": No such file or directory", line)

    def test_public_key_that_is_no_regular_file(self):
        # Issue 9: a directory aborted the master, a FIFO hung it.
        fifo = os.path.join(self.dir, "key.fifo")
        os.mkfifo(fifo)
        for path, kind in ((self.dir, "a directory"), ("/dev/zero", "a character device"),
                           (fifo, "a FIFO")):
            line = self.refused("--listen", "127.0.0.1:0", "--source", self.app + ".new",
                                "--pubkey", path)
            self.assertIn("public key %s: is %s, not a regular file" % (path, kind), line)

    def test_unknown_log_level(self):
        # spdlog reads an unknown name as "off": it silenced the master.
        line = self.refused("--listen", "127.0.0.1:0", "--log-level", "verbose")
        self.assertIn("log level verbose is unknown", line)

    def test_unknown_log_format(self):
        line = self.refused("--listen", "127.0.0.1:0", "--log-format", "xml")
        self.assertIn("log format xml is unknown: text or json", line)

    def test_state_dir_others_may_write(self):
        shared = os.path.join(self.dir, "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o777)
        line = self.refused("--listen", "127.0.0.1:0", "--state-dir", shared)
        self.assertIn("state dir %s: other users may write to it (mode 0777)" % shared, line)

    def test_state_dir_of_another_user(self):
        other = os.path.join(self.dir, "other")
        os.mkdir(other, 0o700)
        os.chown(other, 65534, 65534)
        line = self.refused("--listen", "127.0.0.1:0", "--state-dir", other)
        self.assertIn("state dir %s: owned by uid 65534" % other, line)

    def test_ca_file_and_headers_file_that_are_no_regular_files(self):
        fifo = os.path.join(self.dir, "headers.fifo")
        os.mkfifo(fifo)
        base = ["--listen", "127.0.0.1:0", "--source", "https://127.0.0.1:9/app",
                "--insecure-no-verify"]
        line = self.refused(*base, "--ca-file", self.dir)
        self.assertIn("CA file %s: is a directory, not a regular file" % self.dir, line)
        line = self.refused(*base, "--header", "@" + fifo)
        self.assertIn("headers file %s: is a FIFO, not a regular file" % fifo, line)

    def test_unsupported_source(self):
        line = self.refused("--listen", "127.0.0.1:0", "--source", "ftp://example/app",
                            "--insecure-no-verify")
        self.assertIn('source "ftp://example/app": unsupported scheme', line)


if __name__ == "__main__":
    unittest.main()
