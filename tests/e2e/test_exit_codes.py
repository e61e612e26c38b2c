"""Exit codes, the same for every molt subcommand and a molt program's master: 0 success,
1 a runtime failure, 2 a usage or configuration error."""
import subprocess
import unittest

from harness import MOLT, hello_build


def code(*argv):
    return subprocess.run(list(argv), capture_output=True, timeout=60).returncode


class ExitCodes(unittest.TestCase):
    def test_usage_errors_exit_2(self):
        self.assertEqual(code(MOLT), 2)  # no subcommand
        self.assertEqual(code(MOLT, "nonsense"), 2)
        for command in ("sign", "verify", "keygen", "build-id", "status", "check", "restart",
                        "rollback", "hold", "resume"):
            self.assertEqual(code(MOLT, command, "--no-such-flag"), 2, command)
        self.assertEqual(code(hello_build("v1"), "--no-such-flag"), 2)
        self.assertEqual(code(hello_build("v1")), 2)  # --listen is required
        self.assertEqual(code(hello_build("v1"), "--listen", "127.0.0.1:http"), 2)  # bad config
        # Without a master too: a bad logging setting is a configuration error, not a fallback.
        for flag in (["--log-level", "loud"], ["--log-format", "xml"]):
            self.assertEqual(code(hello_build("v1"), "--unsupervised", "--listen", "127.0.0.1:0",
                                  *flag), 2, flag)

    def test_runtime_failures_exit_1(self):
        self.assertEqual(code(MOLT, "build-id", "/nonexistent"), 1)
        self.assertEqual(code(MOLT, "verify", "-p", "/nonexistent", "-m", "/bin/true"), 1)
        self.assertEqual(code(MOLT, "status", "/nonexistent"), 1)  # no master answers

    def test_success_and_help_exit_0(self):
        self.assertEqual(code(MOLT, "--version"), 0)
        self.assertEqual(code(MOLT, "--help"), 0)
        self.assertEqual(code(MOLT, "build-id", "/bin/true"), 0)
        self.assertEqual(code(hello_build("v1"), "--help"), 0)


if __name__ == "__main__":
    unittest.main()
