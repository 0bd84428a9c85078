// Prints what dlsym answers in the situations the dlsym interposition must get right; the test
// (dlsym_interpose_test.cpp) runs it with and without gpupool's library preloaded.
//
// Usage: dlsym_probe FOREIGN_LIBCUDA LOCAL_USER_LIBRARY
#include <dlfcn.h>

#include <cstdio>

extern "C" int next_layered_value();
extern "C" int layer_b_loaded();

namespace {

template <typename F>
F Find(void* handle, const char* name) {
  return reinterpret_cast<F>(dlsym(handle, name));
}

void PrintCall(const char* label, void* handle, const char* name) {
  auto f = Find<int (*)(unsigned)>(handle, name);
  if (f == nullptr) {
    std::printf("%s=missing\n", label);
  } else {
    std::printf("%s=%d\n", label, f(0));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: dlsym_probe FOREIGN_LIBCUDA LOCAL_USER_LIBRARY\n");
    return 2;
  }
  void* foreign = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (foreign == nullptr) {
    std::fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
    return 1;
  }
  dlerror();
  PrintCall("foreign cuInit", foreign, "cuInit");
  const char* error = dlerror();
  std::printf("foreign cuInit dlerror=%s\n", error != nullptr ? error : "none");
  PrintCall("foreign cuForeignOnly", foreign, "cuForeignOnly");
  PrintCall("foreign foreign_only_symbol", foreign, "foreign_only_symbol");
  PrintCall("foreign cuMissingEverywhere", foreign, "cuMissingEverywhere");
  PrintCall("default cuInit", RTLD_DEFAULT, "cuInit");
  std::printf("next layered=%d\n", layer_b_loaded() == 1 ? next_layered_value() : -2);
  void* local_user = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (local_user == nullptr) {
    std::fprintf(stderr, "dlopen %s: %s\n", argv[2], dlerror());
    return 1;
  }
  std::printf("local default=%d\n", Find<int (*)()>(local_user, "find_local_only")());
  std::printf("done\n");
  return 0;
}
