// What distinguishes one build of hello from another, compiled into build_info.cpp alone so
// that test builds share every other object.
#pragma once

namespace hello {

extern const char* const kInitDelay;  // default of --init-delay
extern const bool kExitAtStart;       // a deliberately broken build, for rollback tests

}  // namespace hello
