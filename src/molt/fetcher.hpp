// The whole contract of an update source. The master holds a Fetcher& and never knows which kind
// it is: fetchers/file.cpp watches a path, fetchers/http.cpp asks an http(s):// URL,
// fetchers/s3.cpp an s3://bucket/key object.
//
// An artifact is two objects: the executable at the source, and its detached minisign signature
// at the source plus ".minisig". The master polls the small signature first and downloads the
// executable only when the signature says a build it wants is there.
//
// Fetch calls run in a short-lived helper process forked by the master, so they may block, load
// TLS state and allocate freely: none of it stays in the master.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace molt {

// What a source said about an object last time, handed back on the next poll so that an
// unchanged object costs a 304 (or a stat) and no body.
struct Validator {
  std::string etag;           // HTTP ETag, or "<ino>-<size>-<mtime_ns>" for a file
  std::string last_modified;  // HTTP Last-Modified, verbatim

  bool empty() const { return etag.empty() && last_modified.empty(); }
  bool operator==(const Validator&) const = default;
};

// Receives an object's bytes as they arrive. The artifact sink writes a temp file and hashes it
// in the same pass; the signature sink keeps the bytes in memory.
class Sink {
 public:
  virtual ~Sink() = default;
  // Takes the next chunk. Returns false to abort the transfer; error() then says why.
  virtual bool write(const char* data, std::size_t size) = 0;
  // Forgets every byte written so far (a retried transfer starts again).
  virtual bool reset() = 0;
  virtual std::string error() const = 0;
};

struct FetchResult {
  enum class Status {
    kChanged,      // the whole object went to the sink; `validator` identifies it
    kNotModified,  // the object still matches the validator the caller gave
    kMissing,      // the source has no such object (yet): normal, not an error
    kFailed,       // `error` is one line naming the object and the cause
  };
  Status status = Status::kFailed;
  Validator validator;
  std::string error;
};

class Fetcher {
 public:
  virtual ~Fetcher() = default;

  // The source as it may appear in a log line: never a credential.
  virtual std::string describe() const = 0;

  // Fetches the signature (`<source>.minisig`) into `sink` unless unchanged since `since`.
  virtual FetchResult poll(const Validator& since, Sink& sink) = 0;

  // Streams the artifact into `sink` unless unchanged since `since` (an empty validator: always).
  virtual FetchResult download(const Validator& since, Sink& sink) = 0;

  // Fetches a delta patch, "<source>.patch/<name>" (a name made from the running BuildID), into
  // `sink`. kMissing, the default, when the source kind has none: the artifact is then downloaded
  // whole. What a patch rebuilds is verified against the artifact's signature like a download.
  virtual FetchResult fetch_patch(const std::string& name, Sink& sink) {
    (void)name;
    (void)sink;
    return {.status = FetchResult::Status::kMissing};
  }

  // The shortest poll interval the source tolerates, and why: GitHub's API without a token counts
  // every request, 304s included, against 60 an hour. A shorter Config::poll_interval is raised
  // to it at start, and the log says so once.
  struct PollFloor {
    std::chrono::milliseconds interval{0};
    std::string reason;
  };
  virtual PollFloor poll_floor() const { return {}; }

  // Called in a fresh check helper before its first request, while no check waits for it: loads
  // what the first transfer would otherwise load inside a check (libcurl for HTTP, S3 and
  // GitHub sources). May fail silently: the transfer then fails and says why.
  virtual void load_ahead() {}

  // Whether the artifact's validator changes whenever its bytes do (a file's inode, size and
  // mtime in ns: yes; an HTTP ETag made of mtime in seconds and size: not always). Only then
  // may a check wait for an artifact whose validator is unchanged while a new signature names
  // another build (a deploy that renames the signature in first), instead of downloading it.
  virtual bool exact_validators() const { return false; }

  // A descriptor that becomes readable when the source may have changed (inotify for a file
  // source), or -1 when the source can only be polled on the interval.
  virtual int watch_fd() const { return -1; }

  // Consumes what made watch_fd() readable. Returns true when the change may concern the
  // artifact or its signature, and whether the writer has finished (`settled`).
  struct WatchEvent {
    bool relevant = false;
    bool settled = false;
  };
  virtual WatchEvent read_watch() { return {}; }
};

}  // namespace molt
