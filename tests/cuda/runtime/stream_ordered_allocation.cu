// Stream-ordered allocation, in the manner of cuda-samples streamOrderedAllocation: cudaMallocAsync
// and cudaFreeAsync on the device's default pool and on a pool of our own, the pool attributes
// (release threshold, reserved and used memory and their high marks), cudaMemPoolTrimTo, and the
// rule that memory freed in stream order is not reused before the stream's earlier work ran.
#include <cstdint>
#include <vector>

#include "check.h"

__global__ void Scale(float* data, float factor, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] *= factor;
}

namespace {

const int kN = 1 << 18;
const std::size_t kBytes = kN * sizeof(float);

std::uint64_t Attribute(cudaMemPool_t pool, cudaMemPoolAttr attribute) {
  std::uint64_t value = 0;
  RT_CUDA(cudaMemPoolGetAttribute(pool, attribute, &value));
  return value;
}

// Upload, kernel, download and free on one stream, as the sample's basic loop does.
void Basic(const rt::Options& options, cudaStream_t stream, float* host_in, float* host_out) {
  for (int round = 0; round < 3; ++round) {
    float* device = nullptr;
    if (!RT_CUDA(cudaMallocAsync(&device, kBytes, stream))) return;
    RT_CUDA(cudaMemcpyAsync(device, host_in, kBytes, cudaMemcpyHostToDevice, stream));
    Scale<<<kN / 256, 256, 0, stream>>>(device, 2.0f, kN);
    RT_CUDA(cudaGetLastError());
    RT_CUDA(cudaMemcpyAsync(host_out, device, kBytes, cudaMemcpyDeviceToHost, stream));
    RT_CUDA(cudaFreeAsync(device, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    bool ok = true;
    for (int i = 0; i < kN; ++i) {
      const bool scaled = host_out[i] == 2.0f * host_in[i];
      ok = ok && (options.kernel_results ? scaled : (scaled || host_out[i] == host_in[i]));
    }
    RT_CHECK(ok);
  }
}

// The default pool: with a high release threshold, a loop of allocations and frees on one stream
// reuses the pool's memory; synchronising with the threshold at 0 gives it back.
void DefaultPool(cudaStream_t stream) {
  int device = 0;
  RT_CUDA(cudaGetDevice(&device));
  cudaMemPool_t pool = nullptr;
  if (!RT_CUDA(cudaDeviceGetDefaultMemPool(&pool, device))) return;
  cudaMemPool_t current = nullptr;
  RT_CUDA(cudaDeviceGetMemPool(&current, device));
  RT_CHECK(current == pool);

  std::uint64_t threshold = UINT64_MAX;
  RT_CUDA(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  RT_CHECK(Attribute(pool, cudaMemPoolAttrReleaseThreshold) == UINT64_MAX);
  std::uint64_t reserved_after_first = 0;
  for (int round = 0; round < 8; ++round) {
    void* p = nullptr;
    RT_CUDA(cudaMallocAsync(&p, kBytes, stream));
    RT_CUDA(cudaMemsetAsync(p, round, kBytes, stream));
    RT_CHECK(Attribute(pool, cudaMemPoolAttrUsedMemCurrent) >= kBytes);
    RT_CUDA(cudaFreeAsync(p, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    if (round == 0) reserved_after_first = Attribute(pool, cudaMemPoolAttrReservedMemCurrent);
  }
  RT_CHECK(reserved_after_first >= kBytes);
  RT_CHECK(Attribute(pool, cudaMemPoolAttrReservedMemCurrent) == reserved_after_first);  // reused
  RT_CHECK(Attribute(pool, cudaMemPoolAttrUsedMemCurrent) == 0);
  RT_CHECK(Attribute(pool, cudaMemPoolAttrUsedMemHigh) >= kBytes);

  // High marks reset to the current value; any other value is refused.
  std::uint64_t zero = 0, five = 5;
  RT_CUDA(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
  RT_CHECK(Attribute(pool, cudaMemPoolAttrUsedMemHigh) == 0);
  RT_CUDA_FAILS(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &five), cudaErrorInvalidValue);
  cudaGetLastError();

  // Trimming gives back what is not in use.
  RT_CUDA(cudaMemPoolTrimTo(pool, 0));
  RT_CHECK(Attribute(pool, cudaMemPoolAttrReservedMemCurrent) == 0);

  // Threshold 0: memory goes back at the next synchronisation.
  threshold = 0;
  RT_CUDA(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  void* p = nullptr;
  RT_CUDA(cudaMallocAsync(&p, kBytes, stream));
  RT_CUDA(cudaFreeAsync(p, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(Attribute(pool, cudaMemPoolAttrReservedMemCurrent) == 0);
}

// A pool of our own, explicitly chosen per allocation.
void OwnPool(cudaStream_t stream, float* host_in, float* host_out) {
  int device = 0;
  RT_CUDA(cudaGetDevice(&device));
  cudaMemPoolProps props = {};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  cudaMemPool_t pool = nullptr;
  if (!RT_CUDA(cudaMemPoolCreate(&pool, &props))) return;
  float* p = nullptr;
  RT_CUDA(cudaMallocFromPoolAsync(&p, kBytes, pool, stream));
  RT_CHECK(Attribute(pool, cudaMemPoolAttrUsedMemCurrent) >= kBytes);
  RT_CUDA(cudaMemcpyAsync(p, host_in, kBytes, cudaMemcpyHostToDevice, stream));
  RT_CUDA(cudaMemcpyAsync(host_out, p, kBytes, cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaFreeAsync(p, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(std::memcmp(host_in, host_out, kBytes) == 0);
  RT_CHECK(Attribute(pool, cudaMemPoolAttrUsedMemCurrent) == 0);

  // As the device's current pool, cudaMallocAsync allocates from it.
  RT_CUDA(cudaDeviceSetMemPool(device, pool));
  RT_CUDA(cudaMallocAsync(&p, kBytes, stream));
  RT_CHECK(Attribute(pool, cudaMemPoolAttrUsedMemCurrent) >= kBytes);
  RT_CUDA(cudaFreeAsync(p, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  cudaMemPool_t fallback = nullptr;
  RT_CUDA(cudaDeviceGetDefaultMemPool(&fallback, device));
  RT_CUDA(cudaDeviceSetMemPool(device, fallback));
  RT_CUDA(cudaMemPoolDestroy(pool));
}

// Memory freed on one stream is not reused on another before the first stream's earlier work ran:
// the first stream is held by a callback, then writes 0x11 and frees; the second allocates the same
// size and writes 0x22. Whatever the second stream got, it must read 0x22 in the end.
void NoEarlyReuse() {
  cudaStream_t first = nullptr, second = nullptr;
  RT_CUDA(cudaStreamCreateWithFlags(&first, cudaStreamNonBlocking));
  RT_CUDA(cudaStreamCreateWithFlags(&second, cudaStreamNonBlocking));
  void* a = nullptr;
  RT_CUDA(cudaMallocAsync(&a, kBytes, first));
  RT_CUDA(cudaStreamSynchronize(first));
  rt::HostGate gate;
  RT_CUDA(cudaLaunchHostFunc(first, rt::HostGate::Run, &gate));
  RT_CUDA(cudaMemsetAsync(a, 0x11, kBytes, first));
  RT_CUDA(cudaFreeAsync(a, first));
  void* b = nullptr;
  RT_CUDA(cudaMallocAsync(&b, kBytes, second));
  RT_CUDA(cudaMemsetAsync(b, 0x22, kBytes, second));
  gate.Open();
  RT_CUDA(cudaStreamSynchronize(first));
  RT_CUDA(cudaStreamSynchronize(second));
  std::vector<unsigned char> out(kBytes);
  RT_CUDA(cudaMemcpy(out.data(), b, kBytes, cudaMemcpyDeviceToHost));
  bool all = true;
  for (unsigned char c : out) all = all && c == 0x22;
  RT_CHECK(all);
  RT_CUDA(cudaFreeAsync(b, second));
  RT_CUDA(cudaStreamSynchronize(second));
  RT_CUDA(cudaStreamDestroy(first));
  RT_CUDA(cudaStreamDestroy(second));
}

// Pool memory kept across a device reset is gone with the context: allocating again works.
void AfterReset() {
  int device = 0;
  RT_CUDA(cudaGetDevice(&device));
  cudaMemPool_t pool = nullptr;
  RT_CUDA(cudaDeviceGetDefaultMemPool(&pool, device));
  std::uint64_t keep = UINT64_MAX;
  RT_CUDA(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  void* p = nullptr;
  RT_CUDA(cudaMallocAsync(&p, kBytes, nullptr));
  RT_CUDA(cudaFreeAsync(p, nullptr));
  RT_CUDA(cudaDeviceSynchronize());  // the block stays in the pool
  RT_CUDA(cudaDeviceReset());
  RT_CUDA(cudaMallocAsync(&p, kBytes, nullptr));
  RT_CUDA(cudaMemsetAsync(p, 0x5a, kBytes, nullptr));
  unsigned char first = 0;
  RT_CUDA(cudaMemcpy(&first, p, 1, cudaMemcpyDeviceToHost));
  RT_CHECK(first == 0x5a);
  RT_CUDA(cudaFreeAsync(p, nullptr));
  RT_CUDA(cudaDeviceSynchronize());
}

void Errors(cudaStream_t stream) {
  void* p = nullptr;
  RT_CUDA_FAILS(cudaMallocAsync(&p, std::size_t{1} << 52, stream), cudaErrorMemoryAllocation);
  cudaGetLastError();
  int on_stack = 0;
  RT_CHECK(cudaFreeAsync(&on_stack, stream) != cudaSuccess);
  cudaGetLastError();
  RT_CUDA(cudaStreamSynchronize(stream));
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "stream_ordered_allocation");
  int device = 0;
  RT_CUDA(cudaGetDevice(&device));
  int supported = 0;
  RT_CUDA(cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device));
  if (!RT_CHECK(supported == 1)) return rt::Finish("stream_ordered_allocation");

  cudaStream_t stream = nullptr;
  float* host_in = nullptr;
  float* host_out = nullptr;
  if (!RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) ||
      !RT_CUDA(cudaMallocHost(&host_in, kBytes)) || !RT_CUDA(cudaMallocHost(&host_out, kBytes))) {
    return rt::Finish("stream_ordered_allocation");
  }
  for (int i = 0; i < kN; ++i) host_in[i] = static_cast<float>(i % 977) * 0.5f;

  Basic(options, stream, host_in, host_out);
  DefaultPool(stream);
  OwnPool(stream, host_in, host_out);
  NoEarlyReuse();
  Errors(stream);

  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaFreeHost(host_in));
  RT_CUDA(cudaFreeHost(host_out));
  AfterReset();
  return rt::Finish("stream_ordered_allocation");
}
