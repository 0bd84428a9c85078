// Managed memory the way programs use it: written on the host, used by kernels, copies and memsets,
// read back on the host after a synchronisation, in sizes from a few bytes to many blocks, from
// several threads, named as host or device memory in copies; prefetches, advice and their queries,
// stream attachment; pointer queries; and a crash elsewhere still a crash. Every check holds on a GPU
// too (gpu-check.sh runs it natively), where managed memory is the driver's own.
//   driver_managed KERNELS.fatbin
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <thread>

#include "check.h"

namespace {

CUdeviceptr Managed(size_t bytes) {
  CUdeviceptr p = 0;
  CU_OK(cuMemAllocManaged(&p, bytes, CU_MEM_ATTACH_GLOBAL));
  return p;
}

template <typename T>
T* Host(CUdeviceptr p) {
  return reinterpret_cast<T*>(p);
}

// Host writes reach the device (read back with a device-to-host copy into ordinary memory), and
// device writes reach the host (a memset, then reading the pointer).
void RoundTrips() {
  for (size_t bytes :
       {size_t{1}, size_t{100}, size_t{4096}, size_t{70000}, size_t{3} << 20, size_t{40} << 20}) {
    const CUdeviceptr p = Managed(bytes);
    const auto pattern = drv::RandomBytes(bytes, static_cast<unsigned>(bytes));
    std::memcpy(Host<void>(p), pattern.data(), bytes);
    std::vector<unsigned char> seen(bytes);
    CU_OK(cuMemcpyDtoH(seen.data(), p, bytes));
    CHECK_TRUE(seen == pattern);
    CU_OK(cuMemsetD8(p, 0x5a, bytes));
    CU_OK(cuCtxSynchronize());
    const unsigned char* host = Host<unsigned char>(p);
    size_t wrong = 0;
    for (size_t i = 0; i < bytes; ++i) wrong += host[i] != 0x5a;
    CHECK_TRUE(wrong == 0);
    // Half of it written again on the host, the other half by the device: both halves arrive.
    std::memset(Host<void>(p), 0x11, bytes / 2);
    CU_OK(cuMemsetD8(p + bytes / 2, 0x22, bytes - bytes / 2));
    CU_OK(cuCtxSynchronize());
    wrong = 0;
    for (size_t i = 0; i < bytes; ++i) wrong += host[i] != (i < bytes / 2 ? 0x11 : 0x22);
    CHECK_TRUE(wrong == 0);
    CU_OK(cuMemFree(p));
  }
}

// Copies that name managed memory as host memory, as device memory, and through unified addressing.
void Copies() {
  const size_t bytes = 1 << 20;
  const CUdeviceptr a = Managed(bytes), b = Managed(bytes);
  CUdeviceptr d = 0;
  CU_OK(cuMemAlloc(&d, bytes));
  const auto pattern = drv::RandomBytes(bytes, 7);
  std::memcpy(Host<void>(a), pattern.data(), bytes);
  CU_OK(cuMemcpyHtoD(d, Host<void>(a), bytes));  // managed as the host source
  CU_OK(cuMemcpyDtoH(Host<void>(b), d, bytes));  // managed as the host destination
  CHECK_TRUE(std::memcmp(Host<void>(b), pattern.data(), bytes) == 0);
  std::memset(Host<void>(b), 0, bytes);
  CU_OK(cuMemcpy(b, a, bytes));  // unified addressing, managed on both sides
  CU_OK(cuCtxSynchronize());
  CHECK_TRUE(std::memcmp(Host<void>(b), pattern.data(), bytes) == 0);
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  std::memset(Host<void>(a), 0x33, bytes);
  CU_OK(cuMemcpyHtoDAsync(d, Host<void>(a), bytes, stream));
  CU_OK(cuMemcpyDtoHAsync(Host<void>(b), d, bytes, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(Host<unsigned char>(b)[0] == 0x33 && Host<unsigned char>(b)[bytes - 1] == 0x33);
  // A 2D copy from a managed "host" buffer into a device buffer.
  CUDA_MEMCPY2D copy = {};
  copy.srcMemoryType = CU_MEMORYTYPE_HOST;
  copy.srcHost = Host<void>(a);
  copy.srcPitch = 1024;
  copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.dstDevice = d;
  copy.dstPitch = 1024;
  copy.WidthInBytes = 1024;
  copy.Height = 16;
  std::memset(Host<void>(a), 0x44, 1024 * 16);
  CU_OK(cuMemcpy2D(&copy));
  unsigned char row[1024];
  CU_OK(cuMemcpyDtoH(row, d + 15 * 1024, sizeof row));
  CHECK_TRUE(row[0] == 0x44 && row[1023] == 0x44);
  // The same from memory attached to the host, named as device memory: the copy takes what the host wrote.
  CUdeviceptr attached = 0;
  CU_OK(cuMemAllocManaged(&attached, 1024 * 16, CU_MEM_ATTACH_HOST));
  std::memset(Host<void>(attached), 0x55, 1024 * 16);
  copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = attached;
  CU_OK(cuMemcpy2D(&copy));
  CU_OK(cuMemcpyDtoH(row, d + 15 * 1024, sizeof row));
  CHECK_TRUE(row[0] == 0x55 && row[1023] == 0x55);
  CU_OK(cuMemFree(attached));
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemFree(d));
  CU_OK(cuMemFree(a));
  CU_OK(cuMemFree(b));
}

// A kernel sees what the host wrote before the launch, and the host what the kernel left after the
// synchronisation: k_ptr_size sets p[i] = 1 for i < n, the host set the rest to 2.
void Kernel(CUmodule module) {
  CUfunction fill = nullptr;
  CU_OK(cuModuleGetFunction(&fill, module, "k_ptr_size"));
  CUdeviceptr p = Managed(64 * sizeof(float));
  float* host = Host<float>(p);
  for (int i = 0; i < 64; ++i) host[i] = i < 32 ? 1.0f : 2.0f;
  unsigned long long n = 32;
  void* params[] = {&p, &n};
  CU_OK(cuLaunchKernel(fill, 1, 1, 1, 64, 1, 1, 0, nullptr, params, nullptr));
  CU_OK(cuCtxSynchronize());
  int wrong = 0;
  for (int i = 0; i < 64; ++i) wrong += host[i] != (i < 32 ? 1.0f : 2.0f);
  CHECK_TRUE(wrong == 0);
  CU_OK(cuMemFree(p));
}

// Many small allocations share pages of nothing: each keeps its own bytes.
void SmallAllocations() {
  std::vector<CUdeviceptr> all;
  for (int i = 0; i < 300; ++i) {
    const CUdeviceptr p = Managed(100 + i);
    std::memset(Host<void>(p), i & 0xff, 100 + i);
    all.push_back(p);
  }
  CU_OK(cuMemsetD8(all[7], 0xee, 107));
  CU_OK(cuCtxSynchronize());
  int wrong = 0;
  for (int i = 0; i < 300; ++i) {
    const unsigned char want = i == 7 ? 0xee : static_cast<unsigned char>(i & 0xff);
    const unsigned char* host = Host<unsigned char>(all[i]);
    for (int j = 0; j < 100 + i; ++j) wrong += host[j] != want;
    CUdeviceptr base = 0;
    size_t size = 0;
    CU_OK(cuMemGetAddressRange(&base, &size, all[i] + 50));
    CHECK_TRUE(base == all[i] && size == static_cast<size_t>(100 + i));
  }
  CHECK_TRUE(wrong == 0);
  for (size_t i = 0; i < all.size(); i += 2) CU_OK(cuMemFree(all[i]));
  const CUdeviceptr again = Managed(4096);
  std::memset(Host<void>(again), 0x77, 4096);
  CU_OK(cuCtxSynchronize());
  wrong = 0;
  for (size_t i = 1; i < all.size(); i += 2) {
    const unsigned char* host = Host<unsigned char>(all[i]);
    const unsigned char want = i == 7 ? 0xee : static_cast<unsigned char>(i & 0xff);
    for (size_t j = 0; j < 100 + i; ++j) wrong += host[j] != want;
  }
  CHECK_TRUE(wrong == 0);
  CU_OK(cuMemFree(again));
  for (size_t i = 1; i < all.size(); i += 2) CU_OK(cuMemFree(all[i]));
}

// Threads reading and writing disjoint parts after device work, then the device reading all of it.
void Threads() {
  const size_t bytes = 8 << 20;
  const CUdeviceptr p = Managed(bytes);
  CU_OK(cuMemsetD32(p, 0x01010101, bytes / 4));
  CU_OK(cuCtxSynchronize());
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      unsigned char* host = Host<unsigned char>(p) + t * (bytes / 4);
      for (size_t i = 0; i < bytes / 4; ++i) wrong[t] += host[i] != 1;
      std::memset(host, t + 10, bytes / 4);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) CHECK_TRUE(wrong[t] == 0);
  std::vector<unsigned char> seen(bytes);
  CU_OK(cuMemcpyDtoH(seen.data(), p, bytes));
  int bad = 0;
  for (size_t i = 0; i < bytes; ++i) bad += seen[i] != static_cast<unsigned char>(i / (bytes / 4) + 10);
  CHECK_TRUE(bad == 0);
  CU_OK(cuMemFree(p));
}

// Memory attached to the host is the host's while kernels run (UnifiedMemoryStreams): a thread
// writes it all the while the main thread launches on a stream, and no write is lost. Attached
// globally, such writes break CUDA's rules for a device without concurrent managed access (as
// gpupool's devices are), but must not be lost either: the kernels see them or not, the device has
// them all at the end.
void HostAttached(CUmodule module, unsigned attach) {
  CUfunction none = nullptr;
  CU_OK(cuModuleGetFunction(&none, module, "k_none"));
  const size_t count = 4 << 20;
  CUdeviceptr p = 0;
  CU_OK(cuMemAllocManaged(&p, count * sizeof(unsigned), attach));
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  std::thread writer([&] {
    unsigned* host = Host<unsigned>(p);
    for (size_t i = 0; i < count; ++i) host[i] = static_cast<unsigned>(i * 2654435761u);
  });
  for (int i = 0; i < 2000; ++i) CU_OK(cuLaunchKernel(none, 1, 1, 1, 1, 1, 1, 0, stream, nullptr, nullptr));
  writer.join();
  CU_OK(cuStreamSynchronize(stream));
  std::vector<unsigned> seen(count);
  CU_OK(cuMemcpyDtoH(seen.data(), p, count * sizeof(unsigned)));
  size_t wrong = 0;
  for (size_t i = 0; i < count; ++i) wrong += seen[i] != static_cast<unsigned>(i * 2654435761u);
  CHECK_TRUE(wrong == 0);
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemFree(p));
}

// Managed memory belongs to its context: destroying the context frees it (the pointer is no longer
// known; through gpupool, whose managed memory is device memory from the start, the memory is free
// again, where natively it takes device memory only once touched there).
void WithItsContext() {
  int concurrent = 1;
  CU_OK(cuDeviceGetAttribute(&concurrent, CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, 0));
  CUcontext primary = nullptr, created = nullptr;
  CU_OK(cuCtxGetCurrent(&primary));
  if (!CU_OK(cuCtxCreate(&created, nullptr, 0, 0))) return;
  size_t before = 0, total = 0, during = 0, after = 0;
  CU_OK(cuMemGetInfo(&before, &total));
  const size_t bytes = 64 << 20;
  const CUdeviceptr p = Managed(bytes);
  std::memset(Host<void>(p), 1, 4096);
  CU_OK(cuMemGetInfo(&during, &total));
  CHECK_TRUE(concurrent != 0 || during + bytes <= before);
  CU_OK(cuCtxDestroy(created));
  CU_OK(cuCtxSetCurrent(primary));
  CU_OK(cuMemGetInfo(&after, &total));
  CHECK_TRUE(concurrent != 0 || after >= during + bytes);
  unsigned managed = 0;
  CU_EXPECT(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, p), CUDA_ERROR_INVALID_VALUE);
}

int Int(CUmem_range_attribute attribute, CUdeviceptr p, size_t bytes) {
  int value = -100;
  CU_OK(cuMemRangeGetAttribute(&value, sizeof value, attribute, p, bytes));
  return value;
}

void AdviceAndQueries() {
  const size_t bytes = 1 << 20;
  const CUdeviceptr p = Managed(bytes);
  CUdeviceptr d = 0;
  CU_OK(cuMemAlloc(&d, 4096));
  unsigned managed = 0;
  CU_OK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, p + 10));
  CHECK_TRUE(managed == 1);
  CU_OK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d));
  CHECK_TRUE(managed == 0);
  void* host = nullptr;
  CU_OK(cuPointerGetAttribute(&host, CU_POINTER_ATTRIBUTE_HOST_POINTER, p));
  CHECK_TRUE(host == Host<void>(p));
  CUdeviceptr device = 0;
  CU_OK(cuPointerGetAttribute(&device, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, p));
  CHECK_TRUE(device == p);

  CUmemLocation gpu = {CU_MEM_LOCATION_TYPE_DEVICE, 0}, cpu = {CU_MEM_LOCATION_TYPE_HOST, 0};
  CHECK_TRUE(Int(CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY, p, bytes) == 0);
  CU_OK(cuMemAdvise(p, bytes, CU_MEM_ADVISE_SET_READ_MOSTLY, gpu));
  CHECK_TRUE(Int(CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY, p, bytes) == 1);
  CU_OK(cuMemAdvise(p, bytes, CU_MEM_ADVISE_UNSET_READ_MOSTLY, gpu));
  CHECK_TRUE(Int(CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY, p, bytes) == 0);
  CHECK_TRUE(Int(CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION, p, bytes) == CU_DEVICE_INVALID);
  CU_OK(cuMemAdvise(p, bytes, CU_MEM_ADVISE_SET_PREFERRED_LOCATION, gpu));
  CHECK_TRUE(Int(CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION, p, bytes) == 0);
  CHECK_TRUE(Int(CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_TYPE, p, bytes) == CU_MEM_LOCATION_TYPE_DEVICE);
  CU_OK(cuMemAdvise(p, bytes, CU_MEM_ADVISE_SET_ACCESSED_BY, cpu));
  int accessed[3] = {-100, -100, -100};
  CU_OK(cuMemRangeGetAttribute(accessed, sizeof accessed, CU_MEM_RANGE_ATTRIBUTE_ACCESSED_BY, p, bytes));
  CHECK_TRUE(accessed[0] == CU_DEVICE_CPU && accessed[1] == CU_DEVICE_INVALID &&
             accessed[2] == CU_DEVICE_INVALID);
  CU_OK(cuMemAdvise(p, bytes, CU_MEM_ADVISE_UNSET_ACCESSED_BY, cpu));
  CU_OK(cuMemRangeGetAttribute(accessed, sizeof accessed, CU_MEM_RANGE_ATTRIBUTE_ACCESSED_BY, p, bytes));
  CHECK_TRUE(accessed[0] == CU_DEVICE_INVALID);

  // Prefetches: to the GPU and back to the host, in stream order; the data survives both.
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  std::memset(Host<void>(p), 0x61, bytes);
  CU_OK(cuMemPrefetchAsync(p, bytes, gpu, 0, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(Int(CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION, p, bytes) == 0);
  CU_OK(cuMemsetD8Async(p, 0x62, bytes, stream));
  CU_OK(cuMemPrefetchAsync(p, bytes, cpu, 0, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(Int(CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION, p, bytes) == CU_DEVICE_CPU);
  CHECK_TRUE(Host<unsigned char>(p)[0] == 0x62 && Host<unsigned char>(p)[bytes - 1] == 0x62);
  CU_OK(cuStreamAttachMemAsync(stream, p, 0, CU_MEM_ATTACH_SINGLE));
  CU_OK(cuStreamAttachMemAsync(stream, p, 0, CU_MEM_ATTACH_GLOBAL));
  CU_OK(cuStreamSynchronize(stream));

  // Misuse: sizes, flags, memory that is not managed.
  CUdeviceptr none = 0;
  CU_EXPECT(cuMemAllocManaged(&none, 0, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemAllocManaged(&none, 4096, 7), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemAdvise(p, bytes, static_cast<CUmem_advise>(99), gpu), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemAdvise(p, bytes, CU_MEM_ADVISE_SET_PREFERRED_LOCATION, {CU_MEM_LOCATION_TYPE_DEVICE, 99}),
            CUDA_ERROR_INVALID_DEVICE);
  CU_EXPECT(cuMemPrefetchAsync(p, bytes, gpu, 1, stream), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuStreamAttachMemAsync(stream, p, 0, 99), CUDA_ERROR_INVALID_VALUE);
  int value = 0;
  CU_EXPECT(cuMemRangeGetAttribute(&value, 3, CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY, p, bytes),
            CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemRangeGetAttribute(&value, sizeof value, static_cast<CUmem_range_attribute>(99), p, bytes),
            CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemFree(d));
  CU_OK(cuMemFree(p));
}

// A fault that is not managed memory still ends the program: gpupool's SIGSEGV handler passes it on to
// the handler before it (none: the default action, SIGSEGV; under AddressSanitizer, its report and
// exit 1). A child forked afterwards has no managed memory.
bool EndedByFault(int status) {
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGSEGV;
  return WIFEXITED(status) && WEXITSTATUS(status) != 0;
}

void CrashStaysACrash() {
  const CUdeviceptr p = Managed(4096);
  Host<int>(p)[0] = 1;
  // Not a null pointer: UndefinedBehaviorSanitizer would stop a null store before it faults.
  void* guard = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK_TRUE(guard != MAP_FAILED);
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    const rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    *static_cast<volatile int*>(guard) = 1;
    _exit(0);
  }
  int status = 0;
  CHECK_TRUE(waitpid(child, &status, 0) == child);
  CHECK_TRUE(EndedByFault(status));
  CHECK_TRUE(Host<int>(p)[0] == 1);
  munmap(guard, 4096);
  // Through gpupool a forked child does not inherit managed memory: touching it faults, rather than
  // share the parent's bytes. (Natively the driver decides; this runs where there is no concurrent
  // managed access, as through gpupool.)
  int concurrent = 1;
  CU_OK(cuDeviceGetAttribute(&concurrent, CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, 0));
  if (concurrent != 0) {
    CU_OK(cuMemFree(p));
    return;
  }
  const pid_t touching = fork();
  if (touching == 0) {
    const rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    Host<volatile int>(p)[0] = 2;
    _exit(0);
  }
  CHECK_TRUE(waitpid(touching, &status, 0) == touching);
  CHECK_TRUE(EndedByFault(status));
  CU_OK(cuMemFree(p));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string image = drv::KernelsArgument(argc, argv, "driver_managed");
  drv::Start();
  int managed = 0;
  CU_OK(cuDeviceGetAttribute(&managed, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0));
  CHECK_TRUE(managed == 1);
  CUmodule module = nullptr;
  CU_OK(cuModuleLoadData(&module, image.data()));
  RoundTrips();
  Copies();
  Kernel(module);
  SmallAllocations();
  Threads();
  HostAttached(module, CU_MEM_ATTACH_HOST);
  HostAttached(module, CU_MEM_ATTACH_GLOBAL);
  AdviceAndQueries();
  WithItsContext();
  CrashStaysACrash();
  CU_OK(cuModuleUnload(module));
  return drv::Verdict("driver_managed");
}
