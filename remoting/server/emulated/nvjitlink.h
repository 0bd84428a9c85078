// nvJitLink (CUDA's JIT linker library), opened with dlopen on first use so that gpupool-server
// builds and runs where it is missing; only JIT linking on the emulated device needs it.
// Looked for as libnvJitLink.so.13 on the loader's path, then in $CUDA_HOME/lib64 and
// /usr/local/cuda/lib64; only at $GPUPOOL_NVJITLINK when that is set.
//
// Thread-safety: NvJitLink() is safe from any thread; the table is immutable once loaded.
#pragma once

#include <nvJitLink.h>

#include <string>

namespace gpupool::server::emulated {

struct NvJitLinkApi {
  decltype(&::nvJitLinkCreate) create = nullptr;
  decltype(&::nvJitLinkDestroy) destroy = nullptr;
  decltype(&::nvJitLinkAddData) add_data = nullptr;
  decltype(&::nvJitLinkComplete) complete = nullptr;
  decltype(&::nvJitLinkGetLinkedCubinSize) cubin_size = nullptr;
  decltype(&::nvJitLinkGetLinkedCubin) cubin = nullptr;
  decltype(&::nvJitLinkGetErrorLogSize) error_log_size = nullptr;
  decltype(&::nvJitLinkGetErrorLog) error_log = nullptr;
  decltype(&::nvJitLinkGetInfoLogSize) info_log_size = nullptr;
  decltype(&::nvJitLinkGetInfoLog) info_log = nullptr;
};

// The loaded library, or null with *why saying what is missing (the same answer every time).
const NvJitLinkApi* NvJitLink(std::string* why);

}  // namespace gpupool::server::emulated
