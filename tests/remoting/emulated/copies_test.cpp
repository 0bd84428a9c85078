// Copies and memsets: random data through every copy kind at unaligned offsets, 2D/3D shapes, and
// out-of-range requests that must fail without touching memory.
#include <cstring>
#include <random>
#include <vector>

#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {
namespace {

std::vector<unsigned char> RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> bytes(n);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng());
  return bytes;
}

// A device allocation freed at scope end.
struct DeviceBuffer {
  explicit DeviceBuffer(std::size_t bytes) { CU_OK(Api().cuMemAlloc_v2(&ptr, bytes)); }
  ~DeviceBuffer() { (void)Api().cuMemFree_v2(ptr); }
  CUdeviceptr ptr = 0;
};

}  // namespace

TEST_CASE("random data round-trips through every copy kind at unaligned offsets") {
  const DriverApi& api = Api();
  CUstream stream = nullptr;
  CU_OK(api.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  for (std::size_t size : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, std::size_t{1000003}}) {
    for (std::size_t offset : {std::size_t{0}, std::size_t{1}, std::size_t{13}}) {
      INFO("size " << size << " offset " << offset);
      DeviceBuffer a(size + 64), b(size + 64);
      const auto data = RandomBytes(size, static_cast<unsigned>(size + offset));
      std::vector<unsigned char> out(size);
      CU_OK(api.cuMemcpyHtoD_v2(a.ptr + offset, data.data(), size));
      CU_OK(api.cuMemcpyDtoD_v2(b.ptr + offset + 3, a.ptr + offset, size));
      CU_OK(api.cuMemcpyDtoH_v2(out.data(), b.ptr + offset + 3, size));
      CHECK(out == data);
      std::fill(out.begin(), out.end(), 0);
      CU_OK(api.cuMemcpyHtoDAsync_v2(a.ptr + offset + 1, data.data(), size, stream));
      CU_OK(api.cuMemcpyDtoDAsync_v2(b.ptr + offset, a.ptr + offset + 1, size, stream));
      CU_OK(api.cuMemcpyDtoHAsync_v2(out.data(), b.ptr + offset, size, stream));
      CU_OK(api.cuStreamSynchronize(stream));
      CHECK(out == data);
      // Unified addressing: cuMemcpy tells host from device by address.
      std::vector<unsigned char> back(size);
      CU_OK(api.cuMemcpy(a.ptr + offset, reinterpret_cast<CUdeviceptr>(data.data()), size));
      CU_OK(api.cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(back.data()), a.ptr + offset, size, stream));
      CHECK(back == data);
    }
  }
  CU_OK(api.cuStreamDestroy_v2(stream));
}

TEST_CASE("peer copies between the two GPUs") {
  const DriverApi& api = Api();
  CUcontext ctx0 = nullptr, ctx1 = nullptr;
  CU_OK(api.cuCtxGetCurrent(&ctx0));
  CU_OK(api.cuDevicePrimaryCtxRetain(&ctx1, 1));
  CU_OK(api.cuCtxPushCurrent_v2(ctx1));
  CUdeviceptr on1 = 0;
  CU_OK(api.cuMemAlloc_v2(&on1, 4096));
  CU_OK(api.cuCtxPopCurrent_v2(nullptr));
  DeviceBuffer on0(4096);
  const auto data = RandomBytes(4096, 7);
  CU_OK(api.cuMemcpyHtoD_v2(on0.ptr, data.data(), data.size()));
  CU_OK(api.cuMemcpyPeer(on1, ctx1, on0.ptr, ctx0, data.size()));
  std::vector<unsigned char> out(4096);
  CU_OK(api.cuMemcpyDtoH_v2(out.data(), on1, out.size()));
  CHECK(out == data);
  int ordinal = -1;
  CU_OK(api.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, on1));
  CHECK(ordinal == 1);
  CU_OK(api.cuMemFree_v2(on1));
  CU_OK(api.cuDevicePrimaryCtxRelease_v2(1));
}

TEST_CASE("copies past an allocation's end or outside any allocation fail") {
  const DriverApi& api = Api();
  DeviceBuffer a(1000), b(1000);
  std::vector<unsigned char> host(2000, 0xee);
  struct Case {
    const char* what;
    CUresult result;
  };
  const Case cases[] = {
      {"HtoD one byte past", api.cuMemcpyHtoD_v2(a.ptr + 1, host.data(), 1000)},
      {"DtoH one byte past", api.cuMemcpyDtoH_v2(host.data(), a.ptr, 1001)},
      {"DtoD source past", api.cuMemcpyDtoD_v2(b.ptr, a.ptr + 500, 501)},
      {"DtoD destination past", api.cuMemcpyDtoD_v2(b.ptr + 999, a.ptr, 2)},
      {"start at the end", api.cuMemcpyHtoD_v2(a.ptr + 1000, host.data(), 1)},
      {"unallocated address", api.cuMemcpyHtoD_v2(0x200000000000ULL + (8ULL << 30), host.data(), 1)},
      {"null device pointer", api.cuMemcpyDtoH_v2(host.data(), 0, 1)},
      {"huge size wraps", api.cuMemcpyDtoH_v2(host.data(), a.ptr, ~std::size_t{0})},
      {"memset past", api.cuMemsetD32_v2(a.ptr, 1, 251)},
      {"memset16 misaligned", api.cuMemsetD16_v2(a.ptr + 1, 1, 4)},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(c.result == CUDA_ERROR_INVALID_VALUE);
  }
  CHECK(api.cuMemcpyHtoD_v2(a.ptr, host.data(), 0) == CUDA_SUCCESS);  // empty copies are fine
}

TEST_CASE("memsets D8/D16/D32, 2D and async") {
  const DriverApi& api = Api();
  DeviceBuffer a(4096);
  std::vector<unsigned char> out(4096);
  CU_OK(api.cuMemsetD8_v2(a.ptr, 0, 4096));
  CU_OK(api.cuMemsetD8_v2(a.ptr + 3, 0xab, 5));
  CU_OK(api.cuMemsetD16Async(a.ptr + 10, 0x1234, 3, nullptr));
  CU_OK(api.cuMemsetD32_v2(a.ptr + 20, 0xdeadbeef, 2));
  CU_OK(api.cuMemcpyDtoH_v2(out.data(), a.ptr, 32));
  const unsigned char expected[32] = {0,    0,    0,    0xab, 0xab, 0xab, 0xab, 0xab, 0, 0,    0x34,
                                      0x12, 0x34, 0x12, 0x34, 0x12, 0,    0,    0,    0, 0xef, 0xbe,
                                      0xad, 0xde, 0xef, 0xbe, 0xad, 0xde, 0,    0,    0, 0};
  CHECK(std::memcmp(out.data(), expected, 32) == 0);
  // 2D: 3 rows of 4 x u16 at a pitch of 16 bytes; bytes between rows stay untouched.
  CU_OK(api.cuMemsetD8_v2(a.ptr, 0, 4096));
  CU_OK(api.cuMemsetD2D16_v2(a.ptr + 64, 16, 0xa5a5, 4, 3));
  CU_OK(api.cuMemcpyDtoH_v2(out.data(), a.ptr, 4096));
  for (std::size_t i = 0; i < 4096; ++i) {
    const bool inside = i >= 64 && i < 64 + 48 && (i - 64) % 16 < 8;
    INFO("byte " << i);
    REQUIRE(out[i] == (inside ? 0xa5 : 0));
  }
  CHECK(api.cuMemsetD2D32_v2(a.ptr, 8, 1, 4, 2) == CUDA_ERROR_INVALID_VALUE);  // row wider than pitch
  CHECK(api.cuMemsetD2D8Async(a.ptr + 4000, 100, 1, 10, 2, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("2D and 3D copies between host and device with offsets and pitches") {
  const DriverApi& api = Api();
  constexpr std::size_t kW = 37, kH = 11, kD = 3, kHostPitch = 50, kDevPitch = 64;
  const auto host = RandomBytes(kHostPitch * kH * kD + 100, 3);
  DeviceBuffer dev(kDevPitch * (kH + 2) * kD + 256);

  CUDA_MEMCPY2D c{};
  c.srcMemoryType = CU_MEMORYTYPE_HOST;
  c.srcHost = host.data();
  c.srcPitch = kHostPitch;
  c.srcXInBytes = 5;
  c.srcY = 1;
  c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  c.dstDevice = dev.ptr;
  c.dstPitch = kDevPitch;
  c.dstXInBytes = 3;
  c.WidthInBytes = kW;
  c.Height = kH;
  c.srcArray = reinterpret_cast<CUarray>(0x1);  // ignored unless the memory type is ARRAY, as in CUDA
  CU_OK(api.cuMemcpy2D_v2(&c));
  std::vector<unsigned char> flat(kDevPitch * kH);
  CU_OK(api.cuMemcpyDtoH_v2(flat.data(), dev.ptr, flat.size()));
  for (std::size_t y = 0; y < kH; ++y) {
    INFO("row " << y);
    REQUIRE(std::memcmp(&flat[y * kDevPitch + 3], &host[(y + 1) * kHostPitch + 5], kW) == 0);
  }
  c.Height = kH + 100;  // the device side now runs past the allocation
  CHECK(api.cuMemcpy2DAsync_v2(&c, nullptr) == CUDA_ERROR_INVALID_VALUE);
  c.Height = kH;
  c.dstPitch = 20;  // narrower than the row
  CHECK(api.cuMemcpy2DUnaligned_v2(&c) == CUDA_ERROR_INVALID_VALUE);
  c.dstPitch = kDevPitch;
  c.srcMemoryType = CU_MEMORYTYPE_ARRAY;  // an array that does not exist
  c.srcArray = reinterpret_cast<CUarray>(&c);
  CHECK(api.cuMemcpy2D_v2(&c) == CUDA_ERROR_INVALID_HANDLE);
  c.srcArray = nullptr;

  // 3D: host box -> device -> back to another host box.
  CUDA_MEMCPY3D up{};
  up.srcMemoryType = CU_MEMORYTYPE_HOST;
  up.srcHost = host.data();
  up.srcPitch = kHostPitch;
  up.srcHeight = kH;
  up.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  up.dstDevice = dev.ptr;
  up.dstPitch = kDevPitch;
  up.dstHeight = kH + 2;
  up.dstY = 1;
  up.WidthInBytes = kW;
  up.Height = kH;
  up.Depth = kD;
  CU_OK(api.cuMemcpy3D_v2(&up));
  std::vector<unsigned char> down_host(kHostPitch * kH * kD, 0);
  CUDA_MEMCPY3D down{};
  down.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
  down.srcDevice = dev.ptr;
  down.srcPitch = kDevPitch;
  down.srcHeight = kH + 2;
  down.srcY = 1;
  down.dstMemoryType = CU_MEMORYTYPE_HOST;
  down.dstHost = down_host.data();
  down.dstPitch = kHostPitch;
  down.dstHeight = kH;
  down.WidthInBytes = kW;
  down.Height = kH;
  down.Depth = kD;
  CU_OK(api.cuMemcpy3DAsync_v2(&down, nullptr));
  for (std::size_t z = 0; z < kD; ++z) {
    for (std::size_t y = 0; y < kH; ++y) {
      const std::size_t at = z * kHostPitch * kH + y * kHostPitch;
      REQUIRE(std::memcmp(&down_host[at], &host[at], kW) == 0);
    }
  }
  down.Depth = kD + 5;
  CHECK(api.cuMemcpy3D_v2(&down) == CUDA_ERROR_INVALID_VALUE);
}

}  // namespace gpupool::server::emulated_test
