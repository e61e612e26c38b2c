"""Delta updates: `molt delta --from OLD --to NEW` makes a patch that a publisher puts beside the
artifact as <source>.patch/<running BuildID>. A master running OLD downloads the patch instead
of the artifact, rebuilds NEW from its own binary and checks it against NEW's signature; a patch
that is corrupt or does not give the signed file falls back to the whole artifact in the same
check. From a file drop and from an HTTP source."""
import os
import re
import shutil
import tempfile
import unittest

from harness import MOLT, Service, hello_build, run
from http_peers import served_folder


PATCHES = tempfile.mkdtemp(prefix="molt-e2e-patches-")
MADE = {}  # (old, new) -> what `molt delta` printed


def make_patch(path, old="v1", new="v2"):
    """`molt delta` from hello `old` to `new`, written at `path`; returns what it printed. Each
    pair is made once per run and copied: at zstd's level 19 a patch of the sanitizer build of
    hello takes half a minute."""
    made = os.path.join(PATCHES, "%s-%s" % (old, new))
    if (old, new) not in MADE:
        MADE[old, new] = run(MOLT, "delta", "--from", hello_build(old), "--to", hello_build(new),
                             "-o", made).stdout
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copy(made, path)
    return MADE[old, new]


def downloaded_bytes(svc):
    text = run(MOLT, "status", "--format", "prometheus", svc.bin).stdout
    return float(re.search(r"^molt_download_bytes_total (\S+)$", text, re.M).group(1))


class Delta(unittest.TestCase):
    def test_molt_delta_says_where_the_patch_goes(self):
        out = make_patch(os.path.join(self.tmp(), "p"))
        self.assertRegex(out, r"^\S+: \d+ bytes, 0\.\d\d% of ")
        self.assertIn("publish it beside the artifact as <source>.patch/v1", out)

    def tmp(self):
        d = tempfile.mkdtemp(prefix="molt-e2e-delta-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_a_file_drop_upgrades_from_a_patch(self):
        svc = Service(self)
        make_patch(svc.source + ".patch/v1")
        mark = svc.log.mark()
        svc.upgrade("v2")
        _, m = svc.log.wait_for(r"verified build v2 \(rebuilt from a (\d+)-byte patch from build "
                                r"v1\)", mark)
        artifact = os.path.getsize(hello_build("v2"))
        self.assertLess(int(m.group(1)), artifact / 100)
        self.assertEqual(downloaded_bytes(svc), int(m.group(1)))
        self.assertEqual(svc.installed_build_id(), "v2")
        with open(svc.bin, "rb") as a, open(hello_build("v2"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_an_http_source_serves_the_patch_and_never_the_artifact(self):
        root, server = served_folder(self)
        svc = Service(self, source=server.url("/app"))
        make_patch(os.path.join(root, "app.patch", "v1"))
        mark = svc.log.mark()
        svc.publish("v2", path=os.path.join(root, "app"))
        run(MOLT, "check", svc.bin)  # an HTTP source is polled every 30 s here: check now
        svc.wait_ready("v2", mark)
        self.assertEqual(len(server.requests("/app.patch/v1")), 1)
        self.assertEqual(server.requests("/app"), [])  # the whole artifact never crossed the wire
        self.assertLess(downloaded_bytes(svc), os.path.getsize(hello_build("v2")) / 100)

    def test_a_corrupt_patch_falls_back_to_the_whole_artifact(self):
        svc = Service(self)
        patch = svc.source + ".patch/v1"
        make_patch(patch)
        with open(patch, "r+b") as f:
            f.seek(os.path.getsize(patch) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x55]))
        mark = svc.log.mark()
        svc.upgrade("v2")
        svc.log.wait_for(r"verified build v2; starting it; the patch from build v1: .*; the whole "
                         r"artifact is downloaded instead", mark)
        self.assertEqual(svc.installed_build_id(), "v2")

    def test_a_patch_from_another_build_is_caught_by_the_signature(self):
        svc = Service(self)
        make_patch(svc.source + ".patch/v1", old="v1", new="v3")  # rebuilds v3, signed is v2
        mark = svc.log.mark()
        svc.upgrade("v2")
        svc.log.wait_for(r"the patch from build v1 rebuilt a file that does not match the "
                         r"signature .*; the whole artifact is downloaded instead", mark)
        self.assertEqual(svc.installed_build_id(), "v2")


def tearDownModule():
    shutil.rmtree(PATCHES, True)


if __name__ == "__main__":
    unittest.main()
