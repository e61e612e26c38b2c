"""Signed artifacts through the master (issue 3, point 3): nothing reaches <bin> unless a pinned
key signed it, and a validly signed older build is refused as a downgrade."""
import filecmp
import os
import shutil
import subprocess
import unittest

from harness import MOLT, PATIENCE, Service, hello_build, run


def sign(svc, build, key=None, comment=None):
    """Signs a copy of `build` and returns (binary path, signature path), not yet published."""
    path = os.path.join(svc.dir, "signed-" + os.path.basename(build) + str(len(os.listdir(svc.dir))))
    shutil.copy(hello_build(build), path)
    args = [MOLT, "sign", "-s", key or svc.sec, "-m", path, "-x", path + ".minisig"]
    if comment:
        args += ["-t", comment]
    run(*args)
    return path, path + ".minisig"


def publish_pair(svc, binary, signature):
    """Puts a binary and a signature at the source: signature first, each renamed into place."""
    if signature:
        shutil.copy(signature, svc.source + ".minisig.tmp")
        os.rename(svc.source + ".minisig.tmp", svc.source + ".minisig")
    shutil.copy(binary, svc.source + ".tmp")
    os.rename(svc.source + ".tmp", svc.source)


class Signatures(unittest.TestCase):
    def setUp(self):
        self.svc = Service(self)
        self.v1_pid = self.svc.id()["pid"]

    def assert_v1_serves_on(self):
        self.assertEqual(self.svc.hello(), "hello from v1")
        self.assertEqual(self.svc.id()["pid"], self.v1_pid)
        self.assertTrue(filecmp.cmp(self.svc.bin, hello_build("v1"), shallow=False))

    def other_key(self):
        pub, sec = os.path.join(self.svc.dir, "other.pub"), os.path.join(self.svc.dir, "other.sec")
        run(MOLT, "keygen", "-W", "-p", pub, "-s", sec)
        return pub, sec

    def test_unsigned_build_is_not_installed(self):
        # Said once at info level; at debug level every check after the drop says it again.
        svc = Service(self, extra_args=["--log-level", "debug"])
        svc.log.wait_for(r"info: .*app\.minisig: no signature yet; nothing unsigned is installed")
        mark = svc.log.mark()
        publish_pair(svc, hello_build("v2"), None)
        svc.log.wait_for(r"debug: .*app\.minisig: no signature yet; nothing unsigned", mark)
        self.assertEqual(svc.hello(), "hello from v1")
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v1"), shallow=False))

    def test_build_signed_by_another_key_is_refused(self):
        _, other_sec = self.other_key()
        binary, signature = sign(self.svc, "v2", key=other_sec)
        mark = self.svc.log.mark()
        publish_pair(self.svc, binary, signature)
        self.svc.log.wait_for(r"error: .*app\.minisig: signature key id [0-9A-F]+ matches none", mark)
        self.assertNotIn("installed", "\n".join(self.svc.log.since(mark)))
        self.assert_v1_serves_on()
        # The same build, signed by the pinned key, then upgrades.
        self.svc.upgrade("v2")
        self.assertEqual(self.svc.hello(), "hello from v2")

    def test_signature_of_another_build_is_refused(self):
        _, v3_signature = sign(self.svc, "v3")
        mark = self.svc.log.mark()
        publish_pair(self.svc, hello_build("v2"), v3_signature)
        self.svc.log.wait_for(r"error: .*app: .*signature", mark)
        self.assert_v1_serves_on()
        self.svc.upgrade("v2")
        self.assertEqual(self.svc.hello(), "hello from v2")

    def test_older_build_is_refused_as_a_downgrade(self):
        old_v1 = sign(self.svc, "v1", comment="timestamp:1700000000\tfile:app\tbuild_id:v1")
        new_v2 = sign(self.svc, "v2", comment="timestamp:1800000000\tfile:app\tbuild_id:v2")
        mark = self.svc.log.mark()
        publish_pair(self.svc, *new_v2)
        self.svc.wait_ready("v2", mark)
        mark = self.svc.log.mark()
        publish_pair(self.svc, *old_v1)
        self.svc.log.wait_for(
            r"refused as a downgrade: signed at 2023-11-14 22:13:20 UTC, older than the running "
            r"build signed at 2027-01-15 08:00:00 UTC", mark)
        self.assertEqual(self.svc.id()["build_id"], "v2")
        self.assertTrue(filecmp.cmp(self.svc.bin, hello_build("v2"), shallow=False))
        # The high-water mark is kept in the state directory, atomically replaced.
        with open(self.svc.bin + ".molt/high-water") as f:
            self.assertEqual(f.read().strip(), "1800000000")


class Keys(unittest.TestCase):
    def test_source_without_a_key_is_refused_at_start(self):
        svc_dir = self.enterContext(tempfile_dir())
        app = os.path.join(svc_dir, "app")
        shutil.copy(hello_build("v1"), app)
        result = subprocess.run([app, "--listen", "127.0.0.1:0", "--source", app + ".new"],
                                capture_output=True, text=True, timeout=30 * PATIENCE)
        self.assertEqual(result.returncode, 2)
        self.assertIn("has no public key: pass --pubkey FILE (or --insecure-no-verify",
                      result.stderr)

    def test_any_pinned_key_may_sign(self):
        svc = Service(self)
        pub2, sec2 = os.path.join(svc.dir, "next.pub"), os.path.join(svc.dir, "next.sec")
        run(MOLT, "keygen", "-W", "-p", pub2, "-s", sec2)
        svc.stop()
        rotated = Service(self, extra_args=["--pubkey", pub2])
        # `rotated` pins its own key and pub2: a build signed with sec2 upgrades it.
        rotated.upgrade("v2", key=sec2)
        self.assertEqual(rotated.hello(), "hello from v2")

    def test_insecure_mode_warns_on_every_upgrade(self):
        svc = Service(self, signed=False)
        mark = svc.log.mark()
        svc.upgrade("v2", sign=False)
        svc.log.wait_for(r"warn.*build v2 was not signature-checked", mark)


def tempfile_dir():
    import contextlib
    import tempfile

    @contextlib.contextmanager
    def folder():
        d = tempfile.mkdtemp(prefix="molt-e2e-")
        try:
            yield d
        finally:
            shutil.rmtree(d, True)

    return folder()


if __name__ == "__main__":
    unittest.main()
