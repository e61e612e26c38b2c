"""molt keygen/sign/verify against the real minisign program, both ways.

Needs MOLT_BUILD_DIR (the build directory holding the `molt` binary) and `minisign` on PATH
(Debian's package; ci/deps.sh installs it). Each encrypted key costs seconds of scrypt (1 GiB),
so the tests share one minisign-made encrypted key.
"""

import base64
import os
import pty
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import PATIENCE

PASSWORD = "e2e password"


def molt_binary():
    build_dir = os.environ.get("MOLT_BUILD_DIR")
    if not build_dir:
        raise RuntimeError("MOLT_BUILD_DIR is not set (ctest sets it)")
    return os.path.join(build_dir, "molt")


class MinisignInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.molt = molt_binary()
        if not os.access(cls.molt, os.X_OK):
            raise RuntimeError(f"{cls.molt}: not built")
        cls.minisign = shutil.which("minisign")
        if cls.minisign is None:
            raise RuntimeError("minisign not found on PATH: run ci/deps.sh")
        # One encrypted minisign key for every test: each scrypt run costs seconds.
        cls.class_dir = tempfile.mkdtemp(prefix="molt-interop-keys-")
        cls.encrypted_pub = os.path.join(cls.class_dir, "enc.pub")
        cls.encrypted_sec = os.path.join(cls.class_dir, "enc.sec")
        subprocess.run([cls.minisign, "-G", "-p", cls.encrypted_pub, "-s", cls.encrypted_sec],
                       input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True,
                       check=True, timeout=120 * PATIENCE)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.class_dir)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="molt-interop-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.file = self.path("artifact.bin")
        with open(self.file, "wb") as f:
            f.write(os.urandom(100_000) + b"\r\nend\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_molt(self, *args, password=None, check=True):
        env = {k: v for k, v in os.environ.items() if k != "MOLT_PASSWORD"}
        if password is not None:
            env["MOLT_PASSWORD"] = password
        result = subprocess.run([self.molt, *args], env=env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120 * PATIENCE)
        if check:
            self.assertEqual(result.returncode, 0, f"molt {args}: {result.stderr}")
        return result

    def run_minisign(self, *args, stdin="", check=True):
        result = subprocess.run([self.minisign, *args], input=stdin, capture_output=True,
                                text=True, timeout=120 * PATIENCE)
        if check:
            self.assertEqual(result.returncode, 0, f"minisign {args}: {result.stderr}")
        return result

    def minisign_keygen(self, name, encrypted):
        if encrypted:
            return self.encrypted_pub, self.encrypted_sec
        pub, sec = self.path(name + ".pub"), self.path(name + ".sec")
        self.run_minisign("-G", "-W", "-p", pub, "-s", sec)
        return pub, sec

    def molt_keygen(self, name, encrypted):
        pub, sec = self.path(name + ".pub"), self.path(name + ".sec")
        if encrypted:
            self.run_molt("keygen", "-p", pub, "-s", sec, password=PASSWORD)
        else:
            self.run_molt("keygen", "-W", "-p", pub, "-s", sec)
        return pub, sec

    def assert_molt_verifies(self, pub, sig=None, comment=None):
        args = ["verify", "-p", pub, "-m", self.file] + (["-x", sig] if sig else [])
        out = self.run_molt(*args).stdout.splitlines()
        self.assertEqual(out[0], "Signature and comment signature verified")
        self.assertTrue(out[1].startswith("Trusted comment: "), out)
        if comment is not None:
            self.assertEqual(out[1], "Trusted comment: " + comment)
        return out[1][len("Trusted comment: "):]

    def assert_molt_refuses(self, pub, cause, sig=None):
        args = ["verify", "-p", pub, "-m", self.file] + (["-x", sig] if sig else [])
        result = self.run_molt(*args, check=False)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("molt verify: "), lines[0])
        self.assertIn(cause, lines[0])

    # minisign signs, molt verifies.

    def test_minisign_prehashed_signature_verifies(self):
        pub, sec = self.minisign_keygen("m", encrypted=False)
        self.run_minisign("-S", "-s", sec, "-m", self.file, "-t", "made by minisign")
        self.assert_molt_verifies(pub, comment="made by minisign")

    def test_minisign_legacy_signature_verifies(self):
        pub, sec = self.minisign_keygen("m", encrypted=False)
        self.run_minisign("-S", "-l", "-s", sec, "-m", self.file)
        with open(self.file + ".minisig") as f:
            self.assertEqual(base64.b64decode(f.read().splitlines()[1])[:2], b"Ed")
        comment = self.assert_molt_verifies(pub)
        self.assertNotIn("hashed", comment)

    def test_minisign_encrypted_key_signature_verifies(self):
        pub, sec = self.minisign_keygen("m", encrypted=True)
        self.run_minisign("-S", "-s", sec, "-m", self.file, stdin=PASSWORD + "\n")
        self.assert_molt_verifies(pub)

    # molt signs, minisign verifies.

    def test_molt_signs_with_minisign_encrypted_key(self):
        pub, sec = self.minisign_keygen("m", encrypted=True)
        self.run_molt("sign", "-s", sec, "-m", self.file, password=PASSWORD)
        out = self.run_minisign("-V", "-p", pub, "-m", self.file).stdout
        self.assertIn("Signature and comment signature verified", out)
        # Any file has a BuildID: this one (not ELF) is named by its content.
        build_id = self.run_molt("build-id", self.file).stdout.strip()
        self.assertRegex(build_id, r"^sha256-[0-9a-f]{64}$")
        self.assertIn("Trusted comment: timestamp:", out)
        self.assertRegex(out, r"\tfile:artifact.bin\thashed\tbuild_id:%s\n" % build_id)
        self.assert_molt_verifies(pub)

    def test_molt_refuses_wrong_password_without_printing_it(self):
        _, sec = self.minisign_keygen("m", encrypted=True)
        result = self.run_molt("sign", "-s", sec, "-m", self.file, password="not the password",
                               check=False)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr, f"molt sign: {sec}: wrong password for this secret key\n")
        self.assertFalse(os.path.exists(self.file + ".minisig"))

    def test_molt_signs_with_minisign_unencrypted_key(self):
        pub, sec = self.minisign_keygen("m", encrypted=False)
        self.run_molt("sign", "-s", sec, "-m", self.file, "-t", "verbatim\tcomment")
        out = self.run_minisign("-V", "-p", pub, "-m", self.file).stdout
        self.assertIn("Trusted comment: verbatim\tcomment\n", out)

    def test_molt_signature_carries_build_id_and_passes_minisign(self):
        pub, sec = self.molt_keygen("k", encrypted=False)
        shutil.copy(self.molt, self.file)  # an ELF file with a GNU build-id note
        self.run_molt("sign", "-s", sec, "-m", self.file, "-x", self.path("custom.minisig"))
        out = self.run_minisign("-V", "-p", pub, "-m", self.file,
                                "-x", self.path("custom.minisig")).stdout
        self.assertRegex(out, r"\tfile:artifact.bin\thashed\tbuild_id:[0-9a-f]+\n")
        with open(self.path("custom.minisig")) as f:
            self.assertEqual(f.readline(), "untrusted comment: signature from molt secret key\n")

    # Keys made by molt work in minisign.

    def test_molt_encrypted_key_signs_with_minisign(self):
        pub, sec = self.molt_keygen("k", encrypted=True)
        self.assertEqual(stat.S_IMODE(os.stat(sec).st_mode), 0o600)
        self.run_minisign("-S", "-s", sec, "-m", self.file, stdin=PASSWORD + "\n")
        self.run_minisign("-V", "-p", pub, "-m", self.file)
        self.assert_molt_verifies(pub)

    def test_molt_unencrypted_key_signs_with_minisign(self):
        pub, sec = self.molt_keygen("k", encrypted=False)
        self.assertEqual(stat.S_IMODE(os.stat(sec).st_mode), 0o600)
        self.run_minisign("-S", "-W", "-s", sec, "-m", self.file)
        self.assert_molt_verifies(pub)
        self.run_molt("sign", "-s", sec, "-m", self.file)
        self.run_minisign("-V", "-p", pub, "-m", self.file)

    def test_keygen_refuses_to_overwrite_without_force(self):
        pub, sec = self.molt_keygen("k", encrypted=False)
        with open(pub) as f:
            before = f.read()
        result = self.run_molt("keygen", "-W", "-p", pub, "-s", sec, check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("already exists", result.stderr)
        with open(pub) as f:
            self.assertEqual(f.read(), before)
        self.run_molt("keygen", "-W", "-f", "-p", pub, "-s", sec)
        with open(pub) as f:
            self.assertNotEqual(f.read(), before)

    # Each failed check is named, and minisign agrees that it fails.

    def test_verify_names_each_failed_check(self):
        pub, sec = self.minisign_keygen("m", encrypted=False)
        other_pub, _ = self.minisign_keygen("other", encrypted=False)
        self.run_minisign("-S", "-s", sec, "-m", self.file)
        sig = self.file + ".minisig"
        with open(sig) as f:
            lines = f.read().splitlines(keepends=True)

        self.assert_molt_refuses(other_pub, "key id mismatch")

        lines_tampered = lines[:2] + ["trusted comment: timestamp:0\tfile:evil\n"] + lines[3:]
        with open(self.path("tampered.minisig"), "w") as f:
            f.writelines(lines_tampered)
        self.assert_molt_refuses(pub, "comment signature verification failed",
                                 sig=self.path("tampered.minisig"))
        self.run_minisign_fails(pub, self.path("tampered.minisig"))

        with open(self.path("garbled.minisig"), "w") as f:
            f.writelines([lines[0], "RUQ!" + lines[1][4:]] + lines[2:])
        self.assert_molt_refuses(pub, "signature line is not valid base64",
                                 sig=self.path("garbled.minisig"))

        with open(self.path("truncated.minisig"), "w") as f:
            f.writelines(lines[:2])
        self.assert_molt_refuses(pub, "truncated", sig=self.path("truncated.minisig"))

        with open(self.path("crlf.minisig"), "w", newline="\r\n") as f:
            f.writelines(lines)
        self.assert_molt_verifies(pub, sig=self.path("crlf.minisig"))
        self.run_minisign("-V", "-p", pub, "-m", self.file, "-x", self.path("crlf.minisig"))

        with open(self.file, "ab") as f:
            f.write(b"!")
        self.assert_molt_refuses(pub, "file signature verification failed")
        self.run_minisign_fails(pub, sig)

    def run_minisign_fails(self, pub, sig):
        result = self.run_minisign("-V", "-p", pub, "-m", self.file, "-x", sig, check=False)
        self.assertNotEqual(result.returncode, 0, result.stdout)

    def test_quiet_verify_prints_nothing(self):
        pub, sec = self.molt_keygen("k", encrypted=False)
        self.run_molt("sign", "-s", sec, "-m", self.file)
        self.assertEqual(self.run_molt("verify", "-q", "-p", pub, "-m", self.file).stdout, "")

    def test_keygen_asks_twice_on_the_terminal_without_echo(self):
        # Different answers stop keygen before any scrypt work, and show what the terminal saw.
        pid, fd = pty.fork()
        if pid == 0:
            env = {k: v for k, v in os.environ.items() if k != "MOLT_PASSWORD"}
            os.execve(self.molt, [self.molt, "keygen", "-p", self.path("t.pub"), "-s",
                                  self.path("t.sec")], env)
        seen = b""
        for answer in (b"first-secret\n", b"second-secret\n"):
            while b"Password" not in seen.split(b"\n")[-1]:
                seen += os.read(fd, 1024)
            os.write(fd, answer)
            seen += b"\n"
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 1)
        self.assertIn(b"the two passwords differ", seen)
        self.assertNotIn(b"first-secret", seen)
        self.assertFalse(os.path.exists(self.path("t.sec")))

    def test_each_subcommand_has_help(self):
        for command in ("keygen", "sign", "verify"):
            out = self.run_molt(command, "--help").stdout
            self.assertIn("-p" if command != "sign" else "-s", out)


if __name__ == "__main__":
    unittest.main()
