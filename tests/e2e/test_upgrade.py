"""The classic experiment and zero failed requests across upgrades (issue 2, points 1 and 2)."""
import unittest

from harness import Load, Service


class InFlightRequest(unittest.TestCase):
    def test_in_flight_request_finishes_on_v1_while_v2_takes_over(self):
        svc = Service(self)
        before = svc.id()
        slow, result = svc.send_slow_request("3s")
        svc.upgrade("v2")
        self.assertEqual(svc.hello(), "hello from v2")
        slow.join(timeout=30)
        self.assertEqual(result["answer"], (200, "hello from v1\n"))
        after = svc.id()
        self.assertEqual(after["master_pid"], before["master_pid"])
        self.assertNotEqual(after["pid"], before["pid"])
        self.assertEqual(after["build_id"], "v2")
        self.assertEqual(svc.installed_build_id(), "v2")
        # Once v1 has finished the slow request and exited, one line sums the upgrade up.
        _, m = svc.log.wait_for(
            r" info: upgrade from build v1 to build v2 done: ([\d.]+) (\w*B) downloaded, "
            r"verified \S+ after the check began, ready \S+ later, the old child drained in \S+$")
        self.assertEqual(m.group(2), "MiB")  # the build's size, as it was downloaded


class ZeroFailedRequests(unittest.TestCase):
    def upgrade_five_times(self, load, svc):
        builds = ["v2", "v1", "v2", "v1", "v2"]
        for build in builds:
            load.wait_for_answers(load.ok + 20)
            svc.upgrade(build)
        load.wait_for_body("hello from v2", load.mark())

    def test_new_connection_clients_through_five_upgrades(self):
        svc = Service(self)
        load = Load(svc.port, clients=3)
        self.upgrade_five_times(load, svc)
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertGreater(ok, 100)

    def test_keep_alive_client_through_five_upgrades(self):
        svc = Service(self)
        load = Load(svc.port, clients=1, keep_alive=True)
        self.upgrade_five_times(load, svc)
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        # After the last upgrade the one connection moved to the new build.
        self.assertEqual(load.bodies[-1], "hello from v2")


if __name__ == "__main__":
    unittest.main()
