// OpenEmulatedBackend: configures the process-wide emulated device and fills the DriverApi table.
#include "remoting/server/backend.h"

#include <mutex>

#include "remoting/server/emulated/api.h"

namespace gpupool::server {
namespace {

class EmulatedBackend final : public Backend {
 public:
  EmulatedBackend() {
    emulated::FillDeviceApi(api_);
    emulated::FillContextApi(api_);
    emulated::FillGreenContextApi(api_);
    emulated::FillMemoryApi(api_);
    emulated::FillVirtualMemoryApi(api_);
    emulated::FillCopyApi(api_);
    emulated::FillArrayApi(api_);
    emulated::FillTextureApi(api_);
    emulated::FillStreamApi(api_);
    emulated::FillIpcApi(api_);
    emulated::FillStreamAttributeApi(api_);
    emulated::FillModuleApi(api_);
    emulated::FillLinkApi(api_);
    emulated::FillFunctionApi(api_);
    emulated::FillTensorMapApi(api_);
    emulated::FillOccupancyApi(api_);
    emulated::FillLaunchApi(api_);
  }
  std::string kind() const override { return "emulated"; }
  const DriverApi& api() const override { return api_; }
  // Device memory is host memory (device_memory.h), and copies move their bytes at enqueue time.
  // Mapped memory (virtual_memory.h) has a view only where the calling thread's current device may
  // read and write it; elsewhere the copy goes through the driver call, which fails as CUDA does.
  std::byte* HostView(CUdeviceptr ptr, std::uint64_t bytes) const override {
    if (bytes == 0) return nullptr;
    std::lock_guard<std::mutex> lock(emulated::GetState().mu);
    return emulated::ResolveDevice(ptr, bytes);
  }

 private:
  DriverApi api_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenEmulatedBackend(const EmulatedConfig& config) {
  GPUPOOL_RETURN_IF_ERROR(emulated::Configure(config));
  return std::unique_ptr<Backend>(new EmulatedBackend());
}

}  // namespace gpupool::server
