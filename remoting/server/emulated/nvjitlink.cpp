#include "remoting/server/emulated/nvjitlink.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

#include "common/log.h"

namespace gpupool::server::emulated {
namespace {

struct Loaded {
  NvJitLinkApi api;
  bool ok = false;
  std::string why;
};

template <typename Fn>
bool Resolve(void* library, const char* name, Fn* out, std::string* why) {
  *out = reinterpret_cast<Fn>(dlsym(library, name));
  if (*out == nullptr && why->empty()) *why = std::string("libnvJitLink.so.13 lacks ") + name;
  return *out != nullptr;
}

Loaded Load() {
  Loaded loaded;
  std::vector<std::string> candidates;
  if (const char* path = std::getenv("GPUPOOL_NVJITLINK"); path != nullptr && *path != '\0') {
    candidates.push_back(path);  // this one only
  } else {
    candidates.push_back("libnvJitLink.so.13");
    if (const char* home = std::getenv("CUDA_HOME"); home != nullptr && *home != '\0')
      candidates.push_back(std::string(home) + "/lib64/libnvJitLink.so.13");
    candidates.push_back("/usr/local/cuda/lib64/libnvJitLink.so.13");
  }
  void* library = nullptr;
  for (const std::string& path : candidates) {
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) break;
  }
  if (library == nullptr) {
    loaded.why =
        "JIT linking on the emulated device needs libnvJitLink.so.13 (CUDA's nvJitLink), not found "
        "on the library path, in $CUDA_HOME/lib64 or in /usr/local/cuda/lib64";
    return loaded;
  }
  NvJitLinkApi& a = loaded.api;
  std::string& why = loaded.why;
  loaded.ok = Resolve(library, "nvJitLinkCreate", &a.create, &why) &
              Resolve(library, "nvJitLinkDestroy", &a.destroy, &why) &
              Resolve(library, "nvJitLinkAddData", &a.add_data, &why) &
              Resolve(library, "nvJitLinkComplete", &a.complete, &why) &
              Resolve(library, "nvJitLinkGetLinkedCubinSize", &a.cubin_size, &why) &
              Resolve(library, "nvJitLinkGetLinkedCubin", &a.cubin, &why) &
              Resolve(library, "nvJitLinkGetErrorLogSize", &a.error_log_size, &why) &
              Resolve(library, "nvJitLinkGetErrorLog", &a.error_log, &why) &
              Resolve(library, "nvJitLinkGetInfoLogSize", &a.info_log_size, &why) &
              Resolve(library, "nvJitLinkGetInfoLog", &a.info_log, &why);
  return loaded;
}

}  // namespace

const NvJitLinkApi* NvJitLink(std::string* why) {
  static const Loaded loaded = [] {
    Loaded l = Load();
    if (!l.ok) {
      GPUPOOL_LOG(kWarn) << l.why;  // once per worker
    }
    return l;
  }();
  *why = loaded.why;
  return loaded.ok ? &loaded.api : nullptr;
}

}  // namespace gpupool::server::emulated
