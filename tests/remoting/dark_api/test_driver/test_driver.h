// The state of the dark API test driver (a libcuda.so.1 for tests, test_driver_exports.cpp): host
// memory posing as N devices, just enough for the CUDA runtime to start, copy memory and symbols,
// "launch" kernels (recorded, never run) and reset, with gpupool's export tables (DarkApi) on top.
// It exists to run stock nvcc programs against gpupool_dark_api without a GPU and without the
// remoting client; it is not an emulator.
//
// Environment: GPUPOOL_TEST_DRIVER_DEVICES=N (default 1); GPUPOOL_TEST_DRIVER_SKEW=driver_version
// or pci_bus makes the export tables see a value the public API does not report, which the
// runtime's integrity check must reject.
//
// Thread-safety: one mutex guards everything; the current context is per thread.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "remoting/client/dark_api/dark_api.h"

namespace gpupool::dark_api::test_driver {

struct Context {
  CUdevice device = 0;
  unsigned long long id = 0;
  int retained = 0;
  unsigned flags = 0;
};

struct Library {
  std::map<std::string, std::vector<unsigned char>> globals;    // name -> backing bytes
  std::map<std::string, std::unique_ptr<std::string>> kernels;  // name -> handle (the name's address)
};

class Driver : public DarkApiHost {
 public:
  static Driver& Get();

  int device_count() const { return device_count_; }
  DeviceIdentity PublicIdentity(CUdevice device) const;
  int PublicDriverVersion() const { return 13000; }
  int Attribute(CUdevice device, CUdevice_attribute attribute) const;

  // DarkApiHost
  CUresult DriverVersion(int* version) override;
  CUresult DeviceCount(int* count) override;
  CUresult Identity(CUdevice device, DeviceIdentity* identity) override;
  CUresult PrimaryContext(CUdevice device, CUcontext* context) override;
  CUresult CurrentContext(CUcontext* context) override;
  CUresult CheckContext(CUcontext context) override;
  CUresult ContextId(CUcontext context, unsigned long long* id) override;
  CUresult StreamIdentity(CUcontext context, CUstream stream, unsigned long long* id) override;
  CUresult ModuleFunctions(CUmodule module, std::vector<CUfunction>* functions) override;
  CUresult LoadModule(const void* image, CUmodule* module) override;

  Context* primary(CUdevice device) { return &primaries_[static_cast<std::size_t>(device)]; }
  Context* AsContext(CUcontext context);
  static CUcontext AsHandle(Context* context) { return reinterpret_cast<CUcontext>(context); }
  // Runs the export tables' destructors for the primary context of `device` and deactivates it.
  void DestroyPrimary(CUdevice device);

  std::mutex mu;
  std::map<CUdeviceptr, std::size_t> allocations;
  std::size_t allocated = 0;
  std::vector<std::unique_ptr<Library>> libraries;
  DarkApi* dark_api = nullptr;
  static thread_local CUcontext current;

 private:
  Driver();
  int device_count_ = 1;
  std::string skew_;
  std::vector<Context> primaries_;
};

}  // namespace gpupool::dark_api::test_driver
