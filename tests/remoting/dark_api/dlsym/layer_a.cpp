// The first of two libraries defining layered_value: asks for the next definition with RTLD_NEXT,
// which must be layer_b's whoever intercepts dlsym.
#include <dlfcn.h>

extern "C" {
__attribute__((visibility("default"))) int layered_value() {
  return 1;
}
__attribute__((visibility("default"))) int next_layered_value() {
  auto next = reinterpret_cast<int (*)()>(dlsym(RTLD_NEXT, "layered_value"));
  return next != nullptr ? next() : -1;
}
}
