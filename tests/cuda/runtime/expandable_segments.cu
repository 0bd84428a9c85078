// PyTorch's expandable segments (PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True), as its caching
// allocator drives the driver: the cuMem* entry points from cudaGetDriverEntryPointByVersion, one
// reservation of 1 1/8 of the GPU's memory, 20 MiB physical segments created with a FABRIC handle first
// and a POSIX file descriptor handle when that fails, mapped and given access as the segment grows,
// unmapped after a stream synchronisation as it shrinks. A "tensor" spanning several segments is then
// used the way PyTorch uses memory: asynchronous copies on a stream, a kernel, memsets, copies between
// tensors, pointer attributes and cudaMemGetInfo.
#include <cudaTypedefs.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "check.h"

__global__ void Scale(float* data, float factor, std::size_t n) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) data[i] *= factor;
}

namespace {

constexpr std::size_t kSegment = 20u << 20;  // PyTorch's segment size for its large pool

struct Driver {
  PFN_cuMemAddressReserve_v10020 reserve = nullptr;
  PFN_cuMemAddressFree_v10020 address_free = nullptr;
  PFN_cuMemCreate_v10020 create = nullptr;
  PFN_cuMemRelease_v10020 release = nullptr;
  PFN_cuMemMap_v10020 map = nullptr;
  PFN_cuMemUnmap_v10020 unmap = nullptr;
  PFN_cuMemSetAccess_v10020 set_access = nullptr;
};

template <typename Fn>
bool Load(const char* name, Fn* out) {
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  void* fn = nullptr;
  if (!RT_CUDA(cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &found))) return false;
  RT_CHECK(found == cudaDriverEntryPointSuccess && fn != nullptr);
  *out = reinterpret_cast<Fn>(fn);
  return *out != nullptr;
}

bool LoadDriver(Driver* d) {
  return Load("cuMemAddressReserve", &d->reserve) && Load("cuMemAddressFree", &d->address_free) &&
         Load("cuMemCreate", &d->create) && Load("cuMemRelease", &d->release) && Load("cuMemMap", &d->map) &&
         Load("cuMemUnmap", &d->unmap) && Load("cuMemSetAccess", &d->set_access);
}

bool CuOk(CUresult result, const char* file, int line, const char* expr) {
  if (result == CUDA_SUCCESS) return true;
  char what[512];
  std::snprintf(what, sizeof what, "%s returned CUresult %d", expr, static_cast<int>(result));
  rt::Fail(file, line, what);
  return false;
}
#define RT_CU(call) CuOk((call), __FILE__, __LINE__, #call)

// One expandable segment: the reservation and the physical segments mapped into it.
class Segment {
 public:
  Segment(const Driver& driver, std::size_t total_memory) : d_(driver) {
    slots_ = (total_memory + total_memory / 8 + kSegment - 1) / kSegment;
    handles_.assign(slots_, 0);
    RT_CU(d_.reserve(&base_, slots_ * kSegment, 0, 0, 0));
  }
  ~Segment() {
    for (std::size_t i = 0; i < slots_; ++i) {
      if (handles_[i] != 0) Unmap(i, i + 1);
    }
    RT_CU(d_.address_free(base_, slots_ * kSegment));
  }

  // Maps segments [begin, end), as ExpandableSegment::map does.
  bool Map(std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      CUmemAllocationProp prop = {};
      prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
      prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
      prop.location.id = 0;
      CUresult r = CUDA_ERROR_NOT_SUPPORTED;
      if (try_fabric_) {
        prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_FABRIC;
        r = d_.create(&handles_[i], kSegment, &prop, 0);
        RT_CHECK(r != CUDA_ERROR_OUT_OF_MEMORY);
        if (r != CUDA_SUCCESS) try_fabric_ = false;  // any other error: no fabric here, as PyTorch reads it
      }
      if (r != CUDA_SUCCESS) {
        prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
        if (!RT_CU(d_.create(&handles_[i], kSegment, &prop, 0))) return false;
      }
      if (!RT_CU(d_.map(base_ + i * kSegment, kSegment, 0, handles_[i], 0))) return false;
    }
    CUmemAccessDesc access = {};
    access.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    access.location.id = 0;
    access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    return RT_CU(d_.set_access(base_ + begin * kSegment, (end - begin) * kSegment, &access, 1));
  }

  // Unmaps segments [begin, end): the stream first, since unmapping does not wait for it.
  void Unmap(std::size_t begin, std::size_t end) {
    RT_CUDA(cudaDeviceSynchronize());
    for (std::size_t i = begin; i < end; ++i) {
      RT_CU(d_.unmap(base_ + i * kSegment, kSegment));
      RT_CU(d_.release(handles_[i]));
      handles_[i] = 0;
    }
  }

  char* at(std::size_t offset) const { return reinterpret_cast<char*>(base_ + offset); }

 private:
  const Driver& d_;
  CUdeviceptr base_ = 0;
  std::size_t slots_ = 0;
  std::vector<CUmemGenericAllocationHandle> handles_;
  bool try_fabric_ = true;
};

std::size_t FreeMemory() {
  std::size_t free_bytes = 0, total = 0;
  RT_CUDA(cudaMemGetInfo(&free_bytes, &total));
  return free_bytes;
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "expandable_segments");
  cudaDeviceProp props{};
  if (!RT_CUDA(cudaGetDeviceProperties(&props, 0))) return rt::Finish("expandable_segments");
  Driver driver;
  if (!LoadDriver(&driver)) return rt::Finish("expandable_segments");
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const std::size_t free_at_start = FreeMemory();
  {
    Segment segment(driver, props.totalGlobalMem);
    // Grow to three segments, in two steps as an allocator does.
    RT_CHECK(segment.Map(0, 1));
    RT_CHECK(segment.Map(1, 3));
    // At least the segments' memory is gone (a GPU may take some for page tables too).
    const std::size_t free_grown = FreeMemory();
    RT_CHECK(free_at_start - free_grown >= 3 * kSegment);

    // A tensor from 1 MiB into the first segment to 1 MiB before the end of the third.
    const std::size_t n = (3 * kSegment - (2u << 20)) / sizeof(float);
    float* tensor = reinterpret_cast<float*>(segment.at(1u << 20));
    std::vector<float> input(n), output(n);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (float& x : input) x = uniform(rng);
    RT_CUDA(cudaMemcpyAsync(tensor, input.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream));
    Scale<<<static_cast<unsigned>((n + 255) / 256), 256, 0, stream>>>(tensor, 2.0f, n);
    RT_CUDA(cudaGetLastError());
    RT_CUDA(cudaMemcpyAsync(output.data(), tensor, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    bool scaled = true, same = true;
    for (std::size_t i = 0; i < n; ++i) {
      scaled = scaled && output[i] == 2.0f * input[i];
      same = same && output[i] == input[i];
    }
    RT_CHECK(options.kernel_results ? scaled : (scaled || same));

    // A second tensor in a plain allocation, copied to and from across a segment boundary.
    const std::size_t window = 4u << 20;  // 4 MiB around the first boundary
    float* plain = nullptr;
    RT_CUDA(cudaMalloc(&plain, window));
    char* across = segment.at(kSegment - window / 2);
    RT_CUDA(cudaMemcpyAsync(plain, across, window, cudaMemcpyDefault, stream));
    RT_CUDA(cudaMemsetAsync(across, 0, window, stream));
    RT_CUDA(cudaMemcpyAsync(across + 8, plain, window - 8, cudaMemcpyDeviceToDevice, stream));
    std::vector<char> back(window), want(window);
    RT_CUDA(cudaMemcpyAsync(back.data(), across, window, cudaMemcpyDeviceToHost, stream));
    RT_CUDA(cudaMemcpyAsync(want.data() + 8, plain, window - 8, cudaMemcpyDeviceToHost, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    std::fill(want.begin(), want.begin() + 8, 0);
    RT_CHECK(back == want);

    // What PyTorch asks of a pointer (is it device memory, on which device).
    cudaPointerAttributes attributes{};
    RT_CUDA(cudaPointerGetAttributes(&attributes, across));
    RT_CHECK(attributes.type == cudaMemoryTypeDevice && attributes.device == 0);
    RT_CHECK(attributes.devicePointer == across);

    // Shrink: the last segment goes back to the device; grow again into it.
    const std::size_t free_before_shrink = FreeMemory();
    segment.Unmap(2, 3);
    RT_CHECK(FreeMemory() - free_before_shrink >= kSegment);
    RT_CHECK(cudaMemcpy(output.data(), segment.at(2 * kSegment), 64, cudaMemcpyDeviceToHost) != cudaSuccess);
    (void)cudaGetLastError();
    RT_CHECK(segment.Map(2, 3));
    RT_CUDA(cudaMemsetAsync(segment.at(2 * kSegment), 0x11, kSegment, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    RT_CUDA(cudaFree(plain));
  }
  RT_CHECK(FreeMemory() + (4u << 20) >= free_at_start);  // the segment's destructor gave it all back
  RT_CUDA(cudaStreamDestroy(stream));
  return rt::Finish("expandable_segments");
}
