#include "remoting/client/client_dark_api_host.h"

#include "remoting/client/api_support.h"
#include "remoting/client/module_loader.h"
#include "remoting/client/state.h"

namespace gpupool::client {
namespace {

class ClientDarkApiHost : public dark_api::DarkApiHost {
 public:
  CUresult DriverVersion(int* version) override {
    *version = CUDA_VERSION;  // as cuDriverGetVersion answers
    return CUDA_SUCCESS;
  }
  CUresult DeviceCount(int* count) override {
    CUresult ready = State::Get().Ready();
    if (ready != CUDA_SUCCESS) return ready;
    *count = State::Get().device_count();
    return CUDA_SUCCESS;
  }
  CUresult Identity(CUdevice ordinal, dark_api::DeviceIdentity* identity) override {
    Device* device = State::Get().device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    identity->uuid = device->uuid;
    identity->pci_domain = device->attributes[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID];
    identity->pci_bus = device->attributes[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID];
    identity->pci_device = device->attributes[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID];
    return CUDA_SUCCESS;
  }
  CUresult PrimaryContext(CUdevice ordinal, CUcontext* context) override {
    Device* device = State::Get().device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    *context = reinterpret_cast<CUcontext>(&device->primary);
    return CUDA_SUCCESS;
  }
  CUresult CurrentContext(CUcontext* context) override {
    *context = reinterpret_cast<CUcontext>(State::Current());
    return CUDA_SUCCESS;
  }
  CUresult CheckContext(CUcontext context) override {
    return State::Get().IsContext(context) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
  }
  CUresult ContextId(CUcontext context, unsigned long long* id) override {
    if (!State::Get().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
    *id = reinterpret_cast<Context*>(context)->uid;
    return CUDA_SUCCESS;
  }
  // A created stream is named by its wire id (StreamId: a per-session counter, far below 2^63); a
  // default stream, whose wire id (1 or 2) is every context's, by its context's uid with the top bit
  // set, so the two never meet.
  CUresult StreamIdentity(CUcontext context, CUstream stream, unsigned long long* id) override {
    if (!State::Get().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
    std::uint64_t wire = 0;
    GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, false, &wire));
    const bool default_stream = stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD;
    *id = default_stream ? (1ULL << 63) | (reinterpret_cast<Context*>(context)->uid << 2) | wire : wire;
    return CUDA_SUCCESS;
  }
  CUresult ModuleFunctions(CUmodule module, std::vector<CUfunction>* functions) override {
    unsigned count = 0;
    CUresult result = cuModuleGetFunctionCount(&count, module);
    if (result != CUDA_SUCCESS) return result;
    functions->assign(count, nullptr);
    return count == 0 ? CUDA_SUCCESS : cuModuleEnumerateFunctions(functions->data(), count, module);
  }
  CUresult LoadModule(const void* image, CUmodule* module) override { return LoadModuleData(image, module); }
};

}  // namespace

dark_api::DarkApi& TheDarkApi() {
  static ClientDarkApiHost* host = new ClientDarkApiHost();
  static dark_api::DarkApi* api = new dark_api::DarkApi(*host);
  return *api;
}

}  // namespace gpupool::client
