#include "build_info.hpp"

#include <molt/build_id.hpp>  // embeds MOLT_BUILD_ID when the build defines it

#ifndef HELLO_INIT_DELAY
#define HELLO_INIT_DELAY "0ms"
#endif
#ifndef HELLO_CRASH
#define HELLO_CRASH ""
#endif

#ifndef HELLO_WORKER
#define HELLO_WORKER ""
#endif

namespace hello {

const char* const kInitDelay = HELLO_INIT_DELAY;
const char* const kCrash = HELLO_CRASH;
const char* const kWorker = HELLO_WORKER;

}  // namespace hello
