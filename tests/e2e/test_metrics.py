"""--metrics-file: the master's counters in the Prometheus text format, as node_exporter's textfile
collector reads them, parsed here with Prometheus's own parser, moving as upgrades happen."""
import os
import shutil
import tempfile
import unittest

from prometheus_client.parser import text_string_to_metric_families

from harness import Service, hello_build


def read_metrics(path):
    """{(name, frozenset(labels)): value} of every sample in the file."""
    with open(path) as f:
        text = f.read()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class Metrics(unittest.TestCase):
    def test_the_counters_follow_an_upgrade_and_a_failed_one(self):
        folder = tempfile.mkdtemp(prefix="molt-metrics-")
        self.addCleanup(shutil.rmtree, folder, True)
        work_metrics = os.path.join(folder, "molt.prom")
        svc = Service(self, extra_args=["--metrics-file", work_metrics])
        start = read_metrics(work_metrics)
        self.assertEqual(value(start, "molt_build_info", build_id="v1"), 1)
        self.assertEqual(value(start, "molt_upgrades_total", result="installed"), 0)
        self.assertEqual(value(start, "molt_held"), 0)

        svc.upgrade("v2")
        after = read_metrics(work_metrics)
        self.assertEqual(value(after, "molt_build_info", build_id="v2"), 1)
        self.assertIsNone(value(after, "molt_build_info", build_id="v1"))
        self.assertEqual(value(after, "molt_upgrades_total", result="installed"), 1)
        self.assertGreaterEqual(value(after, "molt_checks_total", outcome="staged"), 1)
        self.assertEqual(value(after, "molt_download_bytes_total"),
                         os.path.getsize(hello_build("v2")))
        self.assertIsNotNone(value(after, "molt_last_upgrade_timestamp_seconds"))
        self.assertIsNotNone(value(after, "molt_last_check_timestamp_seconds"))

        mark = svc.log.mark()
        svc.publish("v2_crash")
        svc.log.wait_for(r"build v2-crash .*: discarded", mark)
        failed = read_metrics(work_metrics)
        self.assertEqual(value(failed, "molt_upgrades_total", result="discarded"), 1)
        self.assertEqual(value(failed, "molt_upgrades_total", result="installed"), 1)
        self.assertEqual(value(failed, "molt_build_info", build_id="v2"), 1)
        # The helper that fetched v2 exited after its transfer: its CPU is counted.
        self.assertGreater(value(failed, "molt_check_cpu_seconds_total"), 0)


if __name__ == "__main__":
    unittest.main()
