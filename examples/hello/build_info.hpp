// What distinguishes one build of hello from another, compiled into build_info.cpp alone so
// that test builds share every other object.
#pragma once

namespace hello {

extern const char* const kInitDelay;  // default of --init-delay
// A deliberately broken build, for the tests: "at-start" exits before it is ready, "on-request"
// aborts at its first request (after it is ready and installed: a probation failure).
extern const char* const kCrash;
// "unruly": before serving, fork a worker that also answers on the listener and ignores the
// drain signal, as a careless pre-fork server would (the tests of process groups).
extern const char* const kWorker;

}  // namespace hello
