#include "build_info.hpp"

#include <molt/build_id.hpp>  // embeds MOLT_BUILD_ID when the build defines it

#ifndef HELLO_INIT_DELAY
#define HELLO_INIT_DELAY "0ms"
#endif
#ifndef HELLO_EXIT_AT_START
#define HELLO_EXIT_AT_START 0
#endif

namespace hello {

const char* const kInitDelay = HELLO_INIT_DELAY;
const bool kExitAtStart = HELLO_EXIT_AT_START;

}  // namespace hello
