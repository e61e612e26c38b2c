// The check helper: a real forked process running real checks of a file source.
#include "master/check_helper.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <molt/build_id.hpp>
#include <molt/fetcher.hpp>

#include "fetchers/file.hpp"

namespace molt::internal {
namespace {

namespace fs = std::filesystem;

class CheckHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // as in the master: a dead helper is an error, not a signal
    char pattern[] = "/tmp/molt-check-helper-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    fs::copy_file("/proc/self/exe", dir_ / "app");
    fs::create_directory(dir_ / "drop");
    fetcher_ = std::make_unique<FileFetcher>((dir_ / "drop" / "app").string());
    helper_.emplace(*fetcher_, CheckRequest{.bin_path = (dir_ / "app").string()});
  }
  void TearDown() override {
    helper_.reset();
    fs::remove_all(dir_);
  }

  // Runs one check to its answer, waiting on the helper's descriptor.
  CheckHelper::Answer check(const CheckRequest& request = {}) {
    EXPECT_EQ(helper_->start(request, {}), "");
    started_pid_ = helper_->pid();
    for (;;) {
      pollfd p{helper_->fd(), POLLIN, 0};
      if (::poll(&p, 1, 30'000) != 1) {
        ADD_FAILURE() << "no answer from the check helper";
        return {};
      }
      CheckHelper::Answer answer = helper_->read();
      if (answer.complete) return answer;
    }
  }

  // The next check, as a master makes it once `staged` runs: the source holds nothing newer.
  void expect_nothing_new_after(const CheckOutcome& staged) {
    std::string error;
    CheckRequest request{.running_build_id = *read_build_id("/proc/self/exe", error),
                         .artifact_seen = staged.artifact};
    CheckHelper::Answer next = check(request);
    ASSERT_TRUE(next.outcome);
    EXPECT_EQ(next.outcome->kind, CheckOutcome::Kind::kNothing) << next.outcome->message;
  }

  void reap(pid_t pid) {
    ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
    EXPECT_TRUE(helper_->reaped(pid));
  }

  fs::path dir_;
  pid_t started_pid_ = -1;  // the helper the last check() went to
  std::unique_ptr<FileFetcher> fetcher_;
  std::optional<CheckHelper> helper_;
};

TEST_F(CheckHelperTest, LivesAcrossChecksThatTransferNothing) {
  CheckHelper::Answer first = check();
  ASSERT_TRUE(first.outcome);
  EXPECT_EQ(first.outcome->kind, CheckOutcome::Kind::kNothing);
  pid_t pid = helper_->pid();
  ASSERT_GT(pid, 0);
  CheckHelper::Answer second = check();
  ASSERT_TRUE(second.outcome);
  EXPECT_EQ(second.outcome->kind, CheckOutcome::Kind::kNothing);
  EXPECT_EQ(helper_->pid(), pid);
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), 0);  // still there, waiting for the next one
}

TEST_F(CheckHelperTest, ExitsAfterATransferAndTheNextCheckForksAnew) {
  fs::copy_file("/proc/self/exe", dir_ / "drop" / "app");
  CheckHelper::Answer staged = check();
  ASSERT_TRUE(staged.outcome);
  ASSERT_EQ(staged.outcome->kind, CheckOutcome::Kind::kStaged) << staged.outcome->message;
  EXPECT_TRUE(staged.outcome->downloaded);
  EXPECT_TRUE(fs::exists(staged.outcome->staged_path));
  // It exits by itself after a transfer, and the master knows it from the answer: it no
  // longer counts as the helper, so no request can reach it on its way out.
  pid_t first = started_pid_;
  EXPECT_EQ(helper_->pid(), -1);
  ASSERT_EQ(::waitpid(first, nullptr, 0), first);

  expect_nothing_new_after(*staged.outcome);
  EXPECT_NE(helper_->pid(), first);
}

bool maps_libcrypto(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("/libcrypto.so") != std::string::npos) return true;
  }
  return false;
}

TEST_F(CheckHelperTest, AfterATransferTheNextHelperIsForkedAheadWithLibcryptoLoaded) {
  // Seen in /proc only where this process does not map libcrypto from its start (the
  // sanitizer build's test binary does: its helpers inherit it).
  const bool observable = !maps_libcrypto(::getpid());
  helper_->prepare({});
  EXPECT_EQ(helper_->pid(), -1);  // no helper retired: nothing to fork ahead

  fs::copy_file("/proc/self/exe", dir_ / "drop" / "app");
  CheckHelper::Answer staged = check();
  ASSERT_TRUE(staged.outcome);
  ASSERT_EQ(staged.outcome->kind, CheckOutcome::Kind::kStaged) << staged.outcome->message;
  ASSERT_EQ(::waitpid(started_pid_, nullptr, 0), started_pid_);  // it retired

  helper_->prepare({});
  const pid_t ahead = helper_->pid();
  ASSERT_GT(ahead, 0);
  if (observable) {
    // No message says the load is done: look until it shows, as a user would in /proc.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!maps_libcrypto(ahead) && std::chrono::steady_clock::now() < deadline) {
      ::poll(nullptr, 0, 5);
    }
    EXPECT_TRUE(maps_libcrypto(ahead)) << "before any request";
  }
  helper_->prepare({});
  EXPECT_EQ(helper_->pid(), ahead);  // once per retirement

  expect_nothing_new_after(*staged.outcome);
  EXPECT_EQ(started_pid_, ahead);
}

TEST_F(CheckHelperTest, AHelperThatDiedBetweenChecksIsReplaced) {
  ASSERT_TRUE(check().outcome);
  pid_t dead = helper_->pid();
  ::kill(dead, SIGKILL);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);  // reaped behind the helper's back
  CheckHelper::Answer answer = check();
  ASSERT_TRUE(answer.outcome);
  EXPECT_EQ(answer.outcome->kind, CheckOutcome::Kind::kNothing);
  EXPECT_NE(helper_->pid(), dead);
}

// A source whose poll never returns, as one stuck in the kernel would: the helper is mid-check
// until it is killed, whenever the kill lands. (A FIFO no longer blocks a file source: it is
// refused at once, and a helper that got that far answered before the kill.)
class StuckFetcher : public Fetcher {
 public:
  std::string describe() const override { return "a stuck source"; }
  FetchResult poll(const Validator&, Sink&) override {
    for (;;) ::pause();
  }
  FetchResult download(const Validator& since, Sink& sink) override { return poll(since, sink); }
};

TEST_F(CheckHelperTest, AHelperKilledMidCheckIsACompleteAnswerWithoutOutcome) {
  StuckFetcher stuck;
  helper_.emplace(stuck, CheckRequest{.bin_path = (dir_ / "app").string()});
  ASSERT_EQ(helper_->start({}, {}), "");
  ::kill(helper_->pid(), SIGKILL);
  pollfd p{helper_->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 30'000), 1);
  CheckHelper::Answer answer = helper_->read();
  EXPECT_TRUE(answer.complete);
  EXPECT_FALSE(answer.outcome);
  EXPECT_FALSE(helper_->checking());
  reap(helper_->pid());
  helper_.reset();  // before `stuck`, which it refers to
}

}  // namespace
}  // namespace molt::internal
