// Looks a name of its own dependency up with RTLD_DEFAULT: glibc searches the caller's scope, so
// this works only if dlsym sees this library as the caller. Calling local_dep_loaded keeps the
// dependency (the build links with --as-needed).
#include <dlfcn.h>

extern "C" int local_dep_loaded();

extern "C" __attribute__((visibility("default"))) int find_local_only() {
  if (local_dep_loaded() != 1) return -2;
  auto f = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "local_only_value"));
  return f != nullptr ? f() : -1;
}
