"""Headers stay with their origin (issue 9, item 4): a --header value (an API key) reaches the
configured server, never another host that server redirects to."""
import unittest

from harness import Service
from http_peers import publish, served_folder

KEY = "X-Api-Key"


def saw_key(requests):
    return [r for r in requests if any(name.lower() == KEY.lower() for name in r["headers"])]


class RedirectHeaders(unittest.TestCase):
    def test_a_header_never_follows_a_redirect_to_another_host(self):
        _, origin = served_folder(self)
        elsewhere_root, elsewhere = served_folder(self)
        for path in ("/app", "/app.minisig"):
            origin.set_mode(path, "redirect-to=" + elsewhere.url(""))
        svc = Service(self, source=origin.url("/app"), interval="1s",
                      extra_args=["--header", "%s: secret-value" % KEY])
        mark = svc.log.mark()
        publish(svc, "v2", elsewhere_root)
        svc.wait_ready("v2", mark)
        self.assertTrue(saw_key(origin.requests("/app.minisig")))
        self.assertTrue(elsewhere.requests("/app"))
        self.assertEqual(saw_key(elsewhere.requests()), [])
        self.assertNotIn("secret-value", "\n".join(svc.log.since(0)))


if __name__ == "__main__":
    unittest.main()
