// Memory: allocation and every copy kind (host/device both ways, device to device, host to host,
// cudaMemcpyDefault, pinned async, 2D pitched) with random data, unaligned offsets and sizes from
// 1 byte to 8 MiB; memsets; memory accounting; pointer attributes; a free from an exit handler.
#include <vector>

#include "check.h"

namespace {

void RoundTrip(std::size_t size, std::size_t offset, unsigned seed) {
  const std::vector<unsigned char> data = rt::RandomBytes(size, seed);
  std::vector<unsigned char> back(size);
  unsigned char* a = nullptr;
  unsigned char* b = nullptr;
  if (!RT_CUDA(cudaMalloc(&a, size + 64)) || !RT_CUDA(cudaMalloc(&b, size + 64))) return;
  RT_CUDA(cudaMemcpy(a + offset, data.data(), size, cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy(b + (offset ^ 1), a + offset, size, cudaMemcpyDeviceToDevice));
  RT_CUDA(cudaMemcpy(back.data(), b + (offset ^ 1), size, cudaMemcpyDeviceToHost));
  if (back != data) {
    std::printf("FAIL: %zu bytes at offset %zu: host->device->device->host changed the data\n", size, offset);
    ++rt::g_failures;
  }
  // cudaMemcpyDefault infers the direction from the pointers (unified addressing).
  std::vector<unsigned char> other = rt::RandomBytes(size, seed + 1);
  RT_CUDA(cudaMemcpy(a + offset, other.data(), size, cudaMemcpyDefault));
  RT_CUDA(cudaMemcpy(back.data(), a + offset, size, cudaMemcpyDefault));
  RT_CHECK(back == other);
  // Memset of the middle, then the whole buffer back.
  if (size >= 3) {
    RT_CUDA(cudaMemset(a + offset + 1, 0xab, size - 2));
    RT_CUDA(cudaMemcpy(back.data(), a + offset, size, cudaMemcpyDeviceToHost));
    bool ok = back[0] == other[0] && back[size - 1] == other[size - 1];
    for (std::size_t i = 1; i + 1 < size; ++i) ok = ok && back[i] == 0xab;
    RT_CHECK(ok);
  }
  RT_CUDA(cudaFree(a));
  RT_CUDA(cudaFree(b));
}

void Pinned(std::size_t size) {
  unsigned char* host = nullptr;
  unsigned char* back = nullptr;
  unsigned char* device = nullptr;
  cudaStream_t stream = nullptr;
  if (!RT_CUDA(cudaMallocHost(&host, size)) || !RT_CUDA(cudaHostAlloc(&back, size, cudaHostAllocDefault)) ||
      !RT_CUDA(cudaMalloc(&device, size)) || !RT_CUDA(cudaStreamCreate(&stream))) {
    return;
  }
  const std::vector<unsigned char> data = rt::RandomBytes(size, 99);
  std::memcpy(host, data.data(), size);
  RT_CUDA(cudaMemcpyAsync(device, host, size, cudaMemcpyHostToDevice, stream));
  RT_CUDA(cudaMemsetAsync(device, 0x5a, 16, stream));
  RT_CUDA(cudaMemcpyAsync(back, device, size, cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  bool ok = std::memcmp(back + 16, data.data() + 16, size - 16) == 0;
  for (int i = 0; i < 16; ++i) ok = ok && back[i] == 0x5a;
  RT_CHECK(ok);
  cudaPointerAttributes attributes{};
  if (RT_CUDA(cudaPointerGetAttributes(&attributes, device)))
    RT_CHECK(attributes.type == cudaMemoryTypeDevice);
  if (RT_CUDA(cudaPointerGetAttributes(&attributes, host))) RT_CHECK(attributes.type == cudaMemoryTypeHost);
  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaFree(device));
  RT_CUDA(cudaFreeHost(host));
  RT_CUDA(cudaFreeHost(back));
}

void Pitched() {
  const std::size_t width = 100;
  const std::size_t height = 37;
  unsigned char* device = nullptr;
  std::size_t pitch = 0;
  if (!RT_CUDA(cudaMallocPitch(reinterpret_cast<void**>(&device), &pitch, width, height))) return;
  RT_CHECK(pitch >= width);
  const std::vector<unsigned char> data = rt::RandomBytes(width * height, 7);
  std::vector<unsigned char> back(width * height);
  RT_CUDA(cudaMemcpy2D(device, pitch, data.data(), width, width, height, cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy2D(back.data(), width, device, pitch, width, height, cudaMemcpyDeviceToHost));
  RT_CHECK(back == data);
  RT_CUDA(cudaFree(device));
}

// Freed from an exit handler, as libraries do (cuFFT frees its buffers so): the runtime and the driver
// must still know the current context then. Registered after the runtime started, so it runs before
// the runtime's own teardown.
void* g_freed_at_exit = nullptr;

void FreeAtExit() {
  const cudaError_t freed = cudaFree(g_freed_at_exit);
  if (freed != cudaSuccess) {
    std::printf("FAIL: cudaFree from an exit handler returned %s\n", cudaGetErrorName(freed));
    std::fflush(stdout);
    std::_Exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  rt::ParseOptions(argc, argv, "memory");
  if (RT_CUDA(cudaMalloc(&g_freed_at_exit, 4096))) std::atexit(FreeAtExit);
  unsigned seed = 1;
  for (std::size_t size : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, std::size_t{65539},
                           std::size_t{(1 << 20) + 17}, std::size_t{8 << 20}}) {
    for (std::size_t offset : {std::size_t{0}, std::size_t{1}, std::size_t{3}})
      RoundTrip(size, offset, seed++);
  }
  Pinned(3 << 20);
  Pitched();

  // Host to host through the runtime.
  const std::vector<unsigned char> data = rt::RandomBytes(1000, 5);
  std::vector<unsigned char> copy(1000);
  RT_CUDA(cudaMemcpy(copy.data(), data.data(), data.size(), cudaMemcpyHostToHost));
  RT_CHECK(copy == data);

  // Accounting: 64 MiB allocated is 64 MiB less free, and comes back.
  std::size_t free_before = 0;
  std::size_t free_during = 0;
  std::size_t free_after = 0;
  std::size_t total = 0;
  void* big = nullptr;
  RT_CUDA(cudaMemGetInfo(&free_before, &total));
  if (RT_CUDA(cudaMalloc(&big, 64 << 20))) {
    RT_CUDA(cudaMemGetInfo(&free_during, &total));
    RT_CHECK(free_during + (64 << 20) <= free_before);
    RT_CUDA(cudaFree(big));
    RT_CUDA(cudaMemGetInfo(&free_after, &total));
    RT_CHECK(free_after > free_during);
  }
  RT_CUDA(cudaFree(nullptr));
  return rt::Finish("memory");
}
