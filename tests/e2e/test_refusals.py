"""Builds that must not be installed (issue 2, point 3): the running build dropped again, and
files that are not a runnable build. Each is refused with a clear line; v1 serves on and <bin>
is intact."""
import filecmp
import os
import unittest

from harness import Service, hello_build


class Refusals(unittest.TestCase):
    def setUp(self):
        self.svc = Service(self)
        self.first_pid = self.svc.id()["pid"]

    def assert_v1_intact(self):
        self.assertEqual(self.svc.hello(), "hello from v1")
        self.assertEqual(self.svc.id()["pid"], self.first_pid)
        self.assertTrue(filecmp.cmp(self.svc.bin, hello_build("v1"), shallow=False))

    def drop_file(self, name, data):
        path = os.path.join(self.svc.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def refuse(self, path, expected):
        mark = self.svc.log.mark()
        self.svc.publish(path)
        _, m = self.svc.log.wait_for(expected, mark)
        self.assert_v1_intact()
        return m.string

    def test_same_build_again_is_not_restarted(self):
        mark = self.svc.log.mark()
        self.svc.publish("v1")
        self.svc.log.wait_for(r"build v1 is already running; nothing to do", mark)
        self.assert_v1_intact()

    def test_garbage_file(self):
        line = self.refuse(self.drop_file("garbage", os.urandom(4096)), r"refused: .*not an ELF")
        self.assertIn(self.svc.source, line)

    def test_empty_file(self):
        self.refuse(self.drop_file("empty", b""), r"refused: not an ELF executable")

    def test_script_is_not_a_build(self):
        self.refuse(self.drop_file("script", b"#!/bin/sh\necho hi\n"), r"refused: not an ELF")

    def test_shared_library_is_discarded_when_it_does_not_start(self):
        # An ELF with a BuildID that is not a program: the candidate started from the staged
        # file is the test, and it never becomes ready.
        lib = os.path.realpath("/lib/x86_64-linux-gnu/libz.so.1")
        self.refuse(lib, r"before it was ready: discarded; build v1 serves on")

    def test_wrong_architecture_is_discarded_when_it_does_not_start(self):
        with open(hello_build("v2"), "rb") as f:
            data = bytearray(f.read())
        data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
        self.refuse(self.drop_file("arm64", bytes(data)),
                    r"build v2 could not be started: exec \S+: Exec format error: discarded; "
                    r"build v1 serves on")

    def test_truncated_build(self):
        with open(hello_build("v2"), "rb") as f:
            data = f.read()
        self.refuse(self.drop_file("truncated", data[: len(data) // 2]), r"refused: truncated")


if __name__ == "__main__":
    unittest.main()
