"""Trust under attack (issue 9, items 2, 3 and 8): the downgrade floor survives a lost or rotten
state dir, a signature without a timestamp is refused, a forged trusted comment triggers no
download and no decision, and a torn read recovers once the upload ends, with bounded retries."""
import os
import shutil
import time
import unittest

from harness import MOLT, Load, Service, hello_build, run
from http_peers import publish, served_folder


def sign(svc, build, comment):
    """A signature of `build` with the trusted comment `comment`, in a file of its own."""
    path = os.path.join(svc.dir, "sig-" + build)
    shutil.copy(hello_build(build), path)
    run(MOLT, "sign", "-s", svc.sec, "-m", path, "-x", path + ".minisig", "-t", comment)
    return path + ".minisig"


def drop(svc, build, signature):
    """Publishes `build` with the given signature file: signature first, then the binary."""
    staging = os.path.join(svc.dir, "staging")
    shutil.copy(hello_build(build), staging)
    shutil.copy(signature, svc.source + ".minisig")
    os.rename(staging, svc.source)


class Downgrade(unittest.TestCase):
    def replay_after(self, damage):
        """v1 -> v3, then the state is damaged and the master restarted; v2, signed an hour
        before v3, is published: it must be refused."""
        svc = Service(self)
        old = sign(svc, "v2", "timestamp:%d\tfile:app\thashed\tbuild_id:v2" % (time.time() - 3600))
        svc.upgrade("v3")
        svc.restart(meanwhile=lambda: damage(svc))
        mark = svc.log.mark()
        drop(svc, "v2", old)
        svc.log.wait_for(r"refused as a downgrade: signed at .*older than the running build", mark)
        self.assertEqual(svc.hello(), "hello from v3")
        self.assertEqual(svc.installed_build_id(), "v3")
        return svc

    def test_replay_after_the_state_dir_is_deleted(self):
        self.replay_after(lambda svc: shutil.rmtree(svc.bin + ".molt"))

    def test_replay_after_the_state_file_rots(self):
        def rot(svc):
            with open(svc.bin + ".molt/high-water", "wb") as f:
                f.write(b"\x00garbage\xff")
        svc = self.replay_after(rot)
        svc.log.wait_for(r"error: state: .*high-water: not a signing time \(damaged\?\); the "
                         r"downgrade floor comes from .*app\.minisig alone")

    def test_no_floor_left_takes_no_build(self):
        # The state file rots and the installed signature is gone too: never "no floor".
        svc = Service(self, extra_args=["--log-level", "debug"])  # each refusal after the first
        svc.upgrade("v3")

        def damage():
            with open(svc.bin + ".molt/high-water", "w") as f:
                f.write("not a time\n")
            os.unlink(svc.bin + ".minisig")
        svc.restart(meanwhile=damage)
        svc.log.wait_for(r"error: state: .*high-water: not a signing time \(damaged\?\); no "
                         r"downgrade floor can be trusted, so no build is taken")
        mark = svc.log.mark()
        svc.publish("v2")
        svc.log.wait_for(r"no downgrade floor can be trusted, so no build is taken", mark)
        self.assertEqual(svc.hello(), "hello from v3")
        self.assertFalse([l for l in svc.log.since(mark) if "verified build" in l])

    def test_the_installed_signature_sits_beside_the_binary(self):
        svc = Service(self)
        svc.upgrade("v2")
        run(MOLT, "verify", "-p", svc.pub, "-m", svc.bin)  # <bin>.minisig signs <bin>
        svc.upgrade("v3")
        run(MOLT, "verify", "-p", svc.pub, "-m", svc.bin)
        run(MOLT, "verify", "-p", svc.pub, "-m", svc.bin + ".prev")

    def test_a_signature_without_timestamp_is_refused(self):
        svc = Service(self)
        mark = svc.log.mark()
        drop(svc, "v2", sign(svc, "v2", "file:app\tbuild_id:v2"))
        svc.log.wait_for(r"app\.minisig: refused: its trusted comment has no timestamp", mark)
        self.assertEqual(svc.hello(), "hello from v1")
        self.assertFalse([l for l in svc.log.since(mark) if "verified build" in l])


class ForgedComment(unittest.TestCase):
    def test_a_forged_comment_is_refused_before_any_download(self):
        root, server = served_folder(self)
        svc = Service(self, source=server.url("/app"))
        # A large artifact, and a real signature whose trusted comment was replaced: the key id
        # is the pinned one, the global signature no longer matches.
        with open(os.path.join(root, "app"), "wb") as f:
            f.truncate(256 << 20)
        real = sign(svc, "v2", "timestamp:%d\tfile:app\thashed\tbuild_id:v2" % time.time())
        lines = open(real).read().splitlines()
        lines[2] = "trusted comment: timestamp:0\tfile:app\thashed\tbuild_id:v1"
        mark = svc.log.mark()
        with open(os.path.join(root, "app.minisig"), "w") as f:
            f.write("\n".join(lines) + "\n")
        svc.signal(1)  # SIGHUP: check now
        svc.log.wait_for(r"app\.minisig: refused: comment signature verification failed", mark)
        self.assertEqual(server.requests("/app"), [])
        said = "\n".join(svc.log.since(mark))
        self.assertNotIn("already running", said)
        self.assertNotIn("downgrade", said)
        self.assertEqual(svc.hello(), "hello from v1")


class TornRead(unittest.TestCase):
    def test_an_artifact_read_while_uploaded_is_read_again(self):
        root, server = served_folder(self)
        svc = Service(self, source=server.url("/app"), interval="1s")
        load = Load(svc.port)
        # The signature is there and the artifact is still being uploaded: the server serves
        # half of it under the whole object's ETag (a conditional request gets 304 for it).
        server.set_mode("/app", "torn")
        old = svc.id()["pid"]
        mark = svc.log.mark()
        publish(svc, "v2", root)
        i, _ = svc.log.wait_for(r"file signature verification failed.*; next full download in 1s",
                                mark)
        # A broken pair costs downloads at a growing interval, not one per poll.
        svc.log.wait_for(r"file signature verification failed.*; next full download in 2s", i + 1)
        server.set_mode("/app", "")  # the upload ends
        svc.wait_ready("v2", mark)
        svc.wait_stopped_accepting(old, mark)
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertEqual(svc.hello(), "hello from v2")


if __name__ == "__main__":
    unittest.main()
