"""The github://OWNER/REPO/ASSET source against a local server that answers the part of GitHub's
REST API molt uses (tests/tools/github_api_server.py): the latest release with its ETag, its
assets by id, each download redirected to another host (a TestServer of the same folder, as
GitHub's storage host), and a private repository that only a token can read."""
import os
import subprocess
import unittest

from harness import MOLT, Service, hello_build
from http_peers import GitHubServer, publish, served_folder

TOKEN = "ghp_molt0e2e0test0token0000000000000000"
LATEST = "/repos/acme/hello/releases/latest"


def wait_upgraded(svc, old_pid, mark):
    """Waits until v2 is ready and the v1 child stopped accepting: new connections reach v2."""
    svc.wait_ready("v2", mark)
    svc.wait_stopped_accepting(old_pid, mark)


def molt(*args):
    r = subprocess.run([MOLT, *args], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


class GitHubSource(unittest.TestCase):
    def service(self, token=TOKEN, private=True):
        """A hello v1 master on github://acme/hello/app. The release folder starts empty."""
        self.release, self.storage = served_folder(self)
        self.api = GitHubServer(self.release, self.storage, self.addCleanup,
                                token=TOKEN if private else None)
        # An empty GITHUB_TOKEN is no token, whatever the environment running the tests holds.
        return Service(self, source="github://acme/hello/app",
                       extra_args=["--github-api", self.api.url], env={"GITHUB_TOKEN": token})

    def test_upgrades_polls_with_the_etag_and_keeps_the_token_on_the_api_host(self):
        svc = self.service()
        old, mark = svc.id()["pid"], svc.log.mark()
        publish(svc, "v2", self.release)
        # The master retries its first check (no release yet) on its own: this check or that
        # retry takes v2.
        code, out, err = molt("check", svc.bin)
        self.assertEqual(code, 0, err)
        wait_upgraded(svc, old, mark)
        self.assertEqual(svc.hello(), "hello from v2")
        with open(svc.bin, "rb") as a, open(hello_build("v2"), "rb") as b:
            self.assertEqual(a.read(), b.read())

        # Nothing new: the release is asked for with its ETag, answered 304, and no asset moves.
        seen = len(self.api.requests())
        code, out, err = molt("check", svc.bin)
        self.assertEqual(code, 0, err)
        idle = self.api.requests()[seen:]
        self.assertTrue(idle)
        for r in idle:
            self.assertEqual((r["path"], r["status"]), (LATEST, 304))
            self.assertRegex(r["headers"].get("If-None-Match", ""), r'^W/"[0-9a-f]{32}"$')

        # The token went with every API request, and to the storage host never.
        for r in self.api.requests():
            self.assertEqual(r["headers"].get("Authorization"), "Bearer " + TOKEN, r["path"])
        downloads = self.storage.requests()
        self.assertEqual(sorted(r["path"].split("?")[0] for r in downloads),
                         ["/app", "/app.minisig"])
        for r in downloads:
            self.assertNotIn("authorization", {h.lower() for h in r["headers"]}, r)
            self.assertFalse([v for v in r["headers"].values() if TOKEN in v], r)
        with open(os.path.join(svc.dir, "master.log")) as log:
            self.assertNotIn(TOKEN, log.read())

    def test_a_private_repository_without_the_token_is_one_clear_line(self):
        svc = self.service(token="")
        publish(svc, "v2", self.release)
        code, _, err = molt("check", svc.bin)
        self.assertEqual(code, 1)
        self.assertIn("github://acme/hello/app: %s%s: 404 Not Found: Not Found (no release yet, "
                      "or a private repository: set GITHUB_TOKEN)" % (self.api.url, LATEST), err)
        self.assertEqual(svc.hello(), "hello from v1")

    def test_a_server_that_lies_or_limits_changes_nothing(self):
        svc = self.service()
        self.api.set_mode("bad-json")  # before v2 is there: the master retries on its own
        publish(svc, "v2", self.release)
        code, _, err = molt("check", svc.bin)
        self.assertEqual(code, 1)
        self.assertIn('github://acme/hello/app: %s%s: the release\'s asset 1 has no positive '
                      'integer "id"' % (self.api.url, LATEST), err)
        self.api.set_mode("rate-limited")
        code, _, err = molt("check", svc.bin)
        self.assertEqual(code, 1)
        self.assertIn("%s: 403 Forbidden: API rate limit exceeded for 127.0.0.1." % LATEST, err)
        self.assertEqual(svc.hello(), "hello from v1")
        with open(svc.bin, "rb") as a, open(hello_build("v1"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertEqual(self.storage.requests(), [])  # no asset was even asked for
        # The server mends: the next check upgrades.
        old, mark = svc.id()["pid"], svc.log.mark()
        self.api.set_mode("")
        code, _, err = molt("check", svc.bin)
        self.assertEqual(code, 0, err)
        wait_upgraded(svc, old, mark)
        self.assertEqual(svc.hello(), "hello from v2")

    def test_a_delta_patch_is_a_release_asset(self):
        svc = self.service(private=False, token="")
        # Without a token each poll counts against GitHub's 60 requests an hour.
        svc.log.wait_for(r"github://acme/hello/app: polling every 120s, not every 30s: without "
                         r"GITHUB_TOKEN every request to the GitHub API, 304s included, counts")
        out = subprocess.run([MOLT, "delta", "--from", hello_build("v1"), "--to",
                              hello_build("v2"), "-o", os.path.join(self.release, "app.patch.v1")],
                             check=True, capture_output=True, text=True).stdout
        self.assertIn("or, in a GitHub release, as the asset <ASSET>.patch.v1", out)
        old, mark = svc.id()["pid"], svc.log.mark()
        publish(svc, "v2", self.release)
        code, _, err = molt("check", svc.bin)
        self.assertEqual(code, 0, err)
        _, m = svc.log.wait_for(r"verified build v2 \(rebuilt from a (\d+)-byte patch", mark)
        self.assertLess(int(m.group(1)), os.path.getsize(hello_build("v2")) / 100)
        wait_upgraded(svc, old, mark)
        paths = sorted(r["path"].split("?")[0] for r in self.storage.requests())
        self.assertEqual(paths, ["/app.minisig", "/app.patch.v1"])  # never the whole artifact
        self.assertEqual(svc.hello(), "hello from v2")


class GitHubSourceConfiguration(unittest.TestCase):
    def refused(self, *args, env=None):
        result = subprocess.run([hello_build("v1"), "--listen", "127.0.0.1:0",
                                 "--insecure-no-verify", *args], capture_output=True, text=True,
                                timeout=60, env=dict(os.environ, **(env or {})))
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = [l for l in result.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, result.stderr)
        return lines[0]

    def test_a_source_that_names_no_asset(self):
        line = self.refused("--source", "github://acme/hello")
        self.assertIn('source "github://acme/hello": expected github://OWNER/REPO/ASSET', line)
        line = self.refused("--source", "github://acme/../app")
        self.assertRegex(line, r'"\.\." is not a GitHub repository name')

    def test_the_token_never_crosses_the_network_in_clear(self):
        line = self.refused("--source", "github://acme/hello/app", "--github-api",
                            "http://ghe.example.com/api/v3", env={"GITHUB_TOKEN": TOKEN})
        self.assertIn("--github-api http://ghe.example.com/api/v3: is plain http: GITHUB_TOKEN "
                      "is sent only over https (or to a loopback address)", line)
        self.assertNotIn(TOKEN, line)
        # A host that only begins like a loopback address is another host.
        line = self.refused("--source", "github://acme/hello/app", "--github-api",
                            "http://127.0.0.1.example.com/api/v3", env={"GITHUB_TOKEN": TOKEN})
        self.assertIn("is plain http: GITHUB_TOKEN is sent only over https", line)


if __name__ == "__main__":
    unittest.main()
