/* floor_preload.so: stops a program after the dynamic loader has loaded and relocated all its
 * libraries (and run their constructors) but before main() runs, so its memory can be read:
 * the "floor" that a binary costs merely by loading its libraries.
 *
 *   LD_PRELOAD=floor_preload.so ./app ...   -> the process stops itself (SIGSTOP) at entry
 *
 * It interposes __libc_start_main, which the executable's _start calls once every shared
 * object is initialised; this file adds one small page of its own data.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*start_main_fn)(int (*)(int, char**, char**), int, char**, void (*)(void),
                             void (*)(void), void (*)(void), void*);

int __libc_start_main(int (*main_fn)(int, char**, char**), int argc, char** argv,
                      void (*init)(void), void (*fini)(void), void (*rtld_fini)(void),
                      void* stack_end) {
  start_main_fn real = (start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");
  if (getenv("FLOOR_STOP")) raise(SIGSTOP);
  return real(main_fn, argc, argv, init, fini, rtld_fini, stack_end);
}
