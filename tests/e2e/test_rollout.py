"""Staged rollouts (`molt sign --rollout PERCENT`): two hosts on one source, each with its own
host id, one inside and one outside a 50% rollout of each build. Widening the rollout (the same
file signed again with a higher share) adds the outside host; `rollout:0` halts a rollout and the
hosts already on the build stay on it; a signature without `rollout:` reaches every host."""
import hashlib
import json
import os
import shutil
import subprocess
import unittest

from harness import MOLT, Service, hello_build, run


def cohort(host_id, build_id):
    """master/cohort.hpp's rule, written again from its comment."""
    digest = hashlib.blake2b((host_id + "\n" + build_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10000


def host_ids():
    """One host inside a 50% rollout of both v2 and v3, one outside both."""
    hosts = ["host-%d" % i for i in range(1000)]
    inside = next(h for h in hosts if cohort(h, "v2") < 5000 and cohort(h, "v3") < 5000)
    outside = next(h for h in hosts if cohort(h, "v2") >= 5000 and cohort(h, "v3") >= 5000)
    return inside, outside


class Rollout(unittest.TestCase):
    def setUp(self):
        self.inside_id, self.outside_id = host_ids()
        self.inside = Service(self, extra_args=["--host-id", self.inside_id])
        self.source = self.inside.source
        self.outside = Service(self, source=self.source,
                               extra_args=["--host-id", self.outside_id,
                                           "--pubkey", self.inside.pub])
        self.staging = os.path.join(self.inside.drop, ".staging")

    def publish(self, build, rollout=None):
        """Signs hello `build` (rolled out to `rollout`%) and drops it, signature first."""
        shutil.copy(hello_build(build), self.staging)
        self.resign(rollout)
        os.rename(self.staging, self.source)

    def resign(self, rollout=None):
        """Signs the file at the source again, another share: a new signature, the same file."""
        target = self.staging if os.path.exists(self.staging) else self.source
        extra = ["--rollout", str(rollout)] if rollout is not None else []
        run(MOLT, "sign", "-s", self.inside.sec, "-m", target, "-x", self.staging + ".minisig",
            *extra)
        os.rename(self.staging + ".minisig", self.source + ".minisig")

    def not_taken(self, svc, build, share, mark):
        svc.log.wait_for(r"build %s is rolled out to %s%% of hosts and this host's cohort is "
                         r"\d+\.\d\d: not taken until the rollout widens" % (build, share), mark)

    def status(self, svc):
        return json.loads(run(MOLT, "status", "--json", svc.bin).stdout)

    def test_widen_halt_and_a_signature_without_a_rollout(self):
        marks = self.inside.log.mark(), self.outside.log.mark()
        self.publish("v2", rollout=50)
        self.inside.wait_ready("v2", marks[0])
        self.not_taken(self.outside, "v2", "50.00", marks[1])
        seen = self.status(self.outside)
        self.assertEqual(seen["build_id"], "v1")
        self.assertEqual(seen["rollout"], {"build_id": "v2", "percent": 50.0, "inside": False,
                                           "cohort": cohort(self.outside_id, "v2") / 100})
        self.assertTrue(self.status(self.inside)["rollout"]["inside"])
        self.assertIn("this host's cohort", run(MOLT, "status", self.outside.bin).stdout)

        # Widening adds the outside host; the inside one stays where it is.
        mark = self.outside.log.mark()
        self.resign(rollout=100)
        self.outside.wait_ready("v2", mark)
        self.assertEqual(self.status(self.inside)["build_id"], "v2")

        # A new build at 50%, then halted: the host on it stays, the other never moves.
        marks = self.inside.log.mark(), self.outside.log.mark()
        self.publish("v3", rollout=50)
        self.inside.wait_ready("v3", marks[0])
        self.not_taken(self.outside, "v3", "50.00", marks[1])
        mark = self.outside.log.mark()
        self.resign(rollout=0)
        self.outside.log.wait_for(r"build v3 is rolled out to 0\.00%: its rollout is halted", mark)
        self.assertEqual(self.status(self.inside)["build_id"], "v3")
        self.assertEqual(self.status(self.outside)["build_id"], "v2")

        # No rollout: in the signature: every host.
        mark = self.outside.log.mark()
        self.resign()
        self.outside.wait_ready("v3", mark)

    def test_a_bad_share_is_refused_by_molt_sign(self):
        for share in ("150", "12.345", "-1", "half"):
            p = subprocess.run([MOLT, "sign", "-s", self.inside.sec, "-m", hello_build("v2"),
                                "-x", self.staging + ".minisig", "--rollout", share],
                               capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0, share)
            self.assertIn("not a percentage", p.stderr)
            self.assertFalse(os.path.exists(self.staging + ".minisig"))


if __name__ == "__main__":
    unittest.main()
