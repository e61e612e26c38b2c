"""--log-format json: every line molt writes, through an upgrade, is one JSON object a log
collector can read (time, level, pid, role, message, and the build and generation it is about)."""
import datetime
import json
import re
import signal
import unittest

from harness import PATIENCE, Service


class JsonLogs(unittest.TestCase):
    def test_every_line_through_an_upgrade_parses_and_says_who_wrote_it(self):
        # The harness waits on the start line; in JSON it is the "message" field's text, and the
        # regexes it waits on match inside it.
        svc = Service(self, extra_args=["--log-format", "json"])
        svc.upgrade("v2")
        svc.signal(signal.SIGTERM)
        self.assertEqual(svc.proc.wait(timeout=30 * PATIENCE), 0)
        svc.log.thread.join(timeout=10)
        lines = svc.log.since(0)
        records = []
        for line in lines:
            record = json.loads(line)  # a line that does not parse fails the test here
            self.assertLessEqual({"level", "message", "pid", "role", "time"}, set(record), line)
            self.assertLessEqual(set(record), {"level", "message", "pid", "role", "time",
                                               "build_id", "generation"}, line)
            datetime.datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
            self.assertIn(record["level"], ["trace", "debug", "info", "warning", "error"])
            self.assertIn(record["role"], ["master", "child"])
            records.append(record)
        master = svc.proc.pid
        messages = [r["message"] for r in records if r["pid"] == master and r["role"] == "master"]
        self.assertTrue([m for m in messages if re.match(r"installed build v2 as ", m)], messages)
        self.assertTrue([m for m in messages if m == "master %d exiting" % master], messages)
        # Once a child serves, the master's lines name the serving build and its generation.
        installed = next(r for r in records if r["message"].startswith("installed build v2 "))
        self.assertEqual(installed["build_id"], "v1")  # said while v1 still served
        # (The old child's STOPPING=1 arrives after the install, and before the SIGTERM.)
        stopping = next(r for r in records if re.match(r"child \d+ stopped accepting", r["message"]))
        self.assertEqual((stopping.get("build_id"), stopping.get("generation")), ("v2", 2),
                         stopping)


if __name__ == "__main__":
    unittest.main()
