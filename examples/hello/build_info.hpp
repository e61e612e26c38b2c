// What distinguishes one build of hello from another, compiled into build_info.cpp alone so
// that test builds share every other object.
#pragma once

namespace hello {

extern const char* const kInitDelay;  // default of --init-delay
// A deliberately broken build, for the tests: "at-start" exits before it is ready, "on-request"
// aborts at its first request (after it is ready and installed: a probation failure).
extern const char* const kCrash;

}  // namespace hello
