// LoadModule / UnloadModule: a parsed image becomes a Module with device-backed globals.
#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "remoting/server/emulated/image.h"
#include "remoting/server/emulated/state.h"

namespace gpupool::server::emulated {

Function* LookupFunction(const void* handle) {
  auto* f = static_cast<Function*>(const_cast<void*>(handle));
  return GetState().functions.count(f) ? f : nullptr;
}

void UnloadModule(Module* module) {
  State& s = GetState();
  for (auto& f : module->functions) s.functions.erase(f.get());
  for (auto& [name, global] : module->globals) {
    if (DeviceMemory* memory = MemoryFor(global.address)) (void)memory->Free(global.address);
  }
  s.modules.erase(reinterpret_cast<CUmodule>(module));
}

CUresult LoadModule(const void* image, Context* ctx, Module** out) {
  State& s = GetState();
  auto module = std::make_unique<Module>();
  module->ctx = ctx;
  std::string error;
  if (CUresult r = ParseModuleImage(image, &module->image, &error); r != CUDA_SUCCESS) {
    s.last_load_error = error;
    // An image with no code for this GPU is ordinary (libraries ship some for newer GPUs only, NCCL
    // for one), and the caller hears of it: as the driver does, say nothing unless asked.
    if (r == CUDA_ERROR_NO_BINARY_FOR_GPU) {
      GPUPOOL_LOG(kDebug) << "emulated device: module load failed: " << error;
    } else {
      GPUPOOL_LOG(kWarn) << "emulated device: module load failed: " << error;
    }
    return r;
  }
  Module* raw = module.get();
  s.modules.emplace(reinterpret_cast<CUmodule>(raw), std::move(module));
  // Globals live in the context's device memory, so cuModuleGetGlobal + copies reach them.
  DeviceMemory& memory = *s.devices[ctx->device].memory;
  for (const GlobalInfo& g : raw->image.globals) {
    Global global{0, g.size};
    if (CUresult r = memory.Allocate(g.size == 0 ? 1 : g.size, &global.address); r != CUDA_SUCCESS) {
      UnloadModule(raw);
      return r;
    }
    std::byte* host = memory.Resolve(global.address, g.size);
    if (host != nullptr && g.size > 0) {
      std::memset(host, 0, g.size);  // freed blocks may be reused: globals start as the image says
      if (!g.init.empty()) std::memcpy(host, g.init.data(), std::min(g.init.size(), g.size));
    }
    raw->globals.insert_or_assign(g.name, global);
  }
  for (const KernelInfo& k : raw->image.kernels) {
    auto f = std::make_unique<Function>();
    f->module = raw;
    f->info = &k;
    s.functions.insert(f.get());
    raw->functions.push_back(std::move(f));
  }
  s.last_load_error.clear();
  *out = raw;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::server::emulated
