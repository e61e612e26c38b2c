// What a master hands its re-executed self: every field survives the trip, and what the new code
// cannot trust (a rotten line, a descriptor that is not open) stops it before it takes over.
#include "master/handover.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "util/fd.hpp"

namespace molt::internal {
namespace {

class HandoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pipe_ = Pipe::open();
    ASSERT_TRUE(pipe_.read);
  }
  // A handover whose descriptors are open (the two ends of a pipe stand in for sockets).
  Handover sample() const {
    Handover h;
    h.from_build = "v1";
    h.started_at = 1700000000.25;
    h.generation = 7;
    h.announced_ready = true;
    h.systemd_notify_socket = "/run/systemd/notify";
    h.notify_dir = "/srv/app.molt/run";
    h.lock_fd = pipe_.read.get();
    h.control_fd = pipe_.write.get();
    h.listeners = {{pipe_.read.get(), "http", "127.0.0.1:8080"},
                   {pipe_.write.get(), "admin \"x\"", "unix:/run/a b.sock"}};
    h.children = {{.pid = 4242,
                   .generation = 7,
                   .build_id = "v2",
                   .notify_fd = pipe_.write.get(),
                   .notify_path = "/srv/app.molt/run/notify-7",
                   .start_ticks = 123456789,
                   .ready_at = 1700000100.5}};
    h.bad_builds = {"v3", "v4\tweird"};
    h.counts = {{"checks/nothing", 12}, {"upgrades/installed", 2}, {"download_bytes", 1 << 30}};
    h.last_check = Handover::LastCheck{1700000200.0, "nothing", "drop/app: nothing new"};
    return h;
  }

  Pipe pipe_;
};

TEST_F(HandoverTest, EveryFieldSurvivesTheTrip) {
  Handover h = sample();
  std::string error;
  std::optional<Handover> back = decode_handover(encode_handover(h), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->from_build, "v1");
  EXPECT_DOUBLE_EQ(back->started_at, 1700000000.25);
  EXPECT_EQ(back->generation, 7u);
  EXPECT_TRUE(back->announced_ready);
  EXPECT_EQ(back->systemd_notify_socket, h.systemd_notify_socket);
  EXPECT_EQ(back->notify_dir, h.notify_dir);
  EXPECT_FALSE(back->own_notify_dir);
  EXPECT_EQ(back->lock_fd, h.lock_fd);
  EXPECT_EQ(back->control_fd, h.control_fd);
  ASSERT_EQ(back->listeners.size(), 2u);
  EXPECT_EQ(back->listeners[1].name, "admin \"x\"");
  EXPECT_EQ(back->listeners[1].address, "unix:/run/a b.sock");
  ASSERT_EQ(back->children.size(), 1u);
  EXPECT_EQ(back->children[0].pid, 4242);
  EXPECT_EQ(back->children[0].build_id, "v2");
  EXPECT_EQ(back->children[0].notify_path, h.children[0].notify_path);
  EXPECT_EQ(back->children[0].start_ticks, 123456789u);
  EXPECT_DOUBLE_EQ(back->children[0].ready_at, 1700000100.5);
  EXPECT_EQ(back->bad_builds, h.bad_builds);
  EXPECT_EQ(back->counts, h.counts);
  ASSERT_TRUE(back->last_check);
  EXPECT_EQ(back->last_check->message, "drop/app: nothing new");
  EXPECT_EQ(back->fds().size(), h.fds().size());
}

TEST_F(HandoverTest, ADescriptorThatIsNotOpenStopsTheTakeover) {
  Handover h = sample();
  h.children[0].notify_fd = 1000;  // nothing is open there
  std::string error;
  EXPECT_FALSE(decode_handover(encode_handover(h), error));
  EXPECT_EQ(error,
            "handover line 4 (child): a field is missing or wrong, or a descriptor it "
            "names is not open");
}

TEST_F(HandoverTest, RottenTextIsRefused) {
  std::string text = encode_handover(sample());
  for (const std::string& bad :
       {std::string(),
        std::string("{\"kind\":\"listener\",\"fd\":3,\"name\":\"a\",\"address\":\"b\"}\n"),
        text.substr(0, text.size() - 1), text + "not json\n", text + "{\"no\":\"kind\"}\n"}) {
    std::string error;
    EXPECT_FALSE(decode_handover(bad, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
  // A newer code's kind of line is left alone; a version it does not know is not.
  std::string error;
  EXPECT_TRUE(decode_handover(text + "{\"kind\":\"future\"}\n", error)) << error;
  std::string other = text;
  other.replace(other.find("\"version\":\"1\""), 13, "\"version\":\"2\"");
  EXPECT_FALSE(decode_handover(other, error));
}

TEST_F(HandoverTest, TheMemfdHoldsTheTextForTheNewCode) {
  std::string error;
  std::optional<Fd> fd = handover_memfd("hello\n", error);
  ASSERT_TRUE(fd) << error;
  EXPECT_EQ(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, 0);  // it must survive the exec
  std::string number = std::to_string(fd->release());
  std::optional<std::string> text = read_handover_fd(number.c_str(), error);
  ASSERT_TRUE(text) << error;
  EXPECT_EQ(*text, "hello\n");
  EXPECT_FALSE(read_handover_fd("12x", error));
  EXPECT_EQ(error, "MOLT_HANDOVER_FD=12x is not an open descriptor");
}

}  // namespace
}  // namespace molt::internal
