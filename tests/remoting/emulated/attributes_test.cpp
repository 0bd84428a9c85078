// Device identity and attributes of the emulated H200.
#include "remoting/server/emulated/attributes.h"

#include <cstring>
#include <string>

#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {

TEST_CASE("every CUdevice_attribute has a value, unknown ones are rejected") {
  const DriverApi& api = Api();
  const int max = emulated::MaxDeviceAttribute();
  CHECK(max >= CU_DEVICE_ATTRIBUTE_ONLY_PARTIAL_HOST_NATIVE_ATOMIC_SUPPORTED);
  for (int a = 1; a <= max; ++a) {
    int value = -12345;
    INFO("attribute " << a);
    CHECK(api.cuDeviceGetAttribute(&value, static_cast<CUdevice_attribute>(a), 0) == CUDA_SUCCESS);
  }
  int value = 0;
  CHECK(api.cuDeviceGetAttribute(&value, static_cast<CUdevice_attribute>(max + 1), 0) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuDeviceGetAttribute(&value, static_cast<CUdevice_attribute>(0), 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 2) == CUDA_ERROR_INVALID_DEVICE);
  CHECK(api.cuDeviceGetAttribute(nullptr, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("attributes are an H200's") {
  const DriverApi& api = Api();
  struct Case {
    CUdevice_attribute attribute;
    int value;
  };
  const Case cases[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 9},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 132},
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024},
      {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 64},
      {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, 2147483647},
      {CU_DEVICE_ATTRIBUTE_WARP_SIZE, 32},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 49152},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 232448},
      {CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, 1},
      {CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS, 1},
      {CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, 1},
      {CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 0x18},
      {CU_DEVICE_ATTRIBUTE_NUMA_ID, -1},
  };
  for (const Case& c : cases) {
    int value = 0;
    INFO("attribute " << c.attribute);
    CHECK(api.cuDeviceGetAttribute(&value, c.attribute, 0) == CUDA_SUCCESS);
    CHECK(value == c.value);
  }
  int bus1 = 0;
  CU_OK(api.cuDeviceGetAttribute(&bus1, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 1));
  CHECK(bus1 != 0x18);
}

TEST_CASE("devices have names, memory, PCI ids and distinct UUIDs") {
  const DriverApi& api = Api();
  int count = 0;
  CU_OK(api.cuDeviceGetCount(&count));
  CHECK(count == 2);
  CUdevice dev = -1;
  CU_OK(api.cuDeviceGet(&dev, 1));
  CHECK(dev == 1);
  CHECK(api.cuDeviceGet(&dev, 2) == CUDA_ERROR_INVALID_DEVICE);
  char name[64];
  CU_OK(api.cuDeviceGetName(name, sizeof(name), 0));
  CHECK(std::string(name) == "gpupool emulated H200");
  char small[8];
  CU_OK(api.cuDeviceGetName(small, sizeof(small), 0));
  CHECK(std::string(small) == "gpupool");  // truncated, NUL-terminated
  size_t total = 0;
  CU_OK(api.cuDeviceTotalMem_v2(&total, 0));
  CHECK(total == (16ULL << 30));
  CUuuid a{}, b{};
  CU_OK(api.cuDeviceGetUuid_v2(&a, 0));
  CU_OK(api.cuDeviceGetUuid_v2(&b, 1));
  CHECK(std::memcmp(a.bytes, b.bytes, 16) != 0);
  char bus[32];
  CU_OK(api.cuDeviceGetPCIBusId(bus, sizeof(bus), 0));
  CHECK(std::string(bus) == "0000:18:00.0");
  int driver = 0;
  CU_OK(api.cuDriverGetVersion(&driver));
  CHECK(driver == 13000);
  int can = -1;
  CU_OK(api.cuDeviceCanAccessPeer(&can, 0, 1));
  CHECK(can == 1);
}

TEST_CASE("error names and strings") {
  const DriverApi& api = Api();
  const char* text = nullptr;
  CU_OK(api.cuGetErrorName(CUDA_ERROR_INVALID_VALUE, &text));
  CHECK(std::string(text) == "CUDA_ERROR_INVALID_VALUE");
  CU_OK(api.cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &text));
  CHECK(std::string(text) == "out of memory");
  CHECK(api.cuGetErrorName(static_cast<CUresult>(123456), &text) == CUDA_ERROR_INVALID_VALUE);
  CHECK(text == nullptr);
}

}  // namespace gpupool::server::emulated_test
