// Interprocess memory and events, the way CUDA's simpleIPC and PyTorch's CUDA tensor sharing use
// them: the program forks before cuInit; the parent exports an allocation and an interprocess event
// and sends both handles down a pipe; the child opens them, waits for the event, reads the parent's
// bytes, writes its own and closes; the parent then reads the child's bytes. Through gpupool each
// process has its own session and the server checks both belong to one pod.
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "../child_process.h"
#include "check.h"

namespace {

constexpr std::size_t kBytes = (4 << 20) + 100;  // not a whole number of pages

struct Handles {
  CUipcMemHandle memory;
  CUipcEventHandle event;
};

// Maps `handle` (`size` bytes) read-write for device 0 at a new reservation; answers the address.
CUdeviceptr MapReadWrite(CUmemGenericAllocationHandle handle, std::size_t size) {
  CUdeviceptr at = 0;
  CU_OK(cuMemAddressReserve(&at, size, 0, 0, 0));
  CU_OK(cuMemMap(at, size, 0, handle, 0));
  CUmemAccessDesc access{};
  access.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  CU_OK(cuMemSetAccess(at, size, &access, 1));
  return at;
}

void Unmap(CUdeviceptr at, CUmemGenericAllocationHandle handle, std::size_t size) {
  CU_OK(cuMemUnmap(at, size));
  CU_OK(cuMemAddressFree(at, size));
  CU_OK(cuMemRelease(handle));
}

// Virtual memory shared by POSIX descriptor, as memMapIPCDrv and PyTorch's expandable segments share
// it: the parent's descriptor arrives over the socket, the child imports it and maps it.
void ChildVirtualMemory(int parent) {
  std::size_t size = 0;
  const int fd = ReceiveDescriptor(parent);
  if (!ReceiveMessage(parent, &size, sizeof size) || fd < 0) {
    std::printf("FAIL: no descriptor from the parent\n");
    ++drv::g_failures;
    return;
  }
  CUmemGenericAllocationHandle handle = 0;
  CU_OK(cuMemImportFromShareableHandle(&handle, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)),
                                       CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
  close(fd);
  const CUdeviceptr at = MapReadWrite(handle, size);
  std::vector<unsigned char> seen(4096);
  CU_OK(cuMemcpyDtoH(seen.data(), at + 8192, seen.size()));
  CHECK_TRUE(seen == drv::RandomBytes(4096, 3));
  const auto mine = drv::RandomBytes(4096, 4);
  CU_OK(cuMemcpyHtoD(at, mine.data(), mine.size()));
  CU_OK(cuCtxSynchronize());
  Unmap(at, handle, size);
}

// A pool's allocation shared as streamOrderedAllocationIPC shares it: the pool by descriptor, the
// allocation by its export data; the child frees its import in stream order.
void ChildPool(int parent) {
  const int fd = ReceiveDescriptor(parent);
  CUmemPoolPtrExportData data{};
  if (fd < 0 || !ReceiveMessage(parent, &data, sizeof data)) {
    std::printf("FAIL: no pool from the parent\n");
    ++drv::g_failures;
    return;
  }
  CUmemoryPool pool = nullptr;
  CU_OK(cuMemPoolImportFromShareableHandle(&pool, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)),
                                           CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  close(fd);
  CUdeviceptr shared = 0;
  CU_OK(cuMemPoolImportPointer(&shared, pool, &data));
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  std::vector<unsigned char> seen(65536);
  CU_OK(cuMemcpyDtoHAsync(seen.data(), shared, seen.size(), stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(seen == drv::RandomBytes(65536, 5));
  CU_OK(cuMemsetD8Async(shared, 0x42, 65536, stream));
  CU_OK(cuMemFreeAsync(shared, stream));
  CU_OK(cuStreamSynchronize(stream));
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemPoolDestroy(pool));
}

int Child(int parent) {
  drv::Start();
  Handles handles{};
  if (!ReceiveMessage(parent, &handles, sizeof handles)) {
    std::printf("FAIL: no handles from the parent\n");
    return 1;
  }
  CUdeviceptr shared = 0;
  CU_OK(cuIpcOpenMemHandle(&shared, handles.memory, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
  CUevent ready = nullptr;
  CU_OK(cuIpcOpenEventHandle(&ready, handles.event));
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CU_OK(cuStreamWaitEvent(stream, ready, 0));  // the parent's writes are done when the event is
  std::vector<unsigned char> seen(kBytes);
  CU_OK(cuMemcpyDtoHAsync(seen.data(), shared, kBytes, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(seen == drv::RandomBytes(kBytes, 1));

  CUdeviceptr base = 0;
  size_t size = 0;
  CU_OK(cuMemGetAddressRange(&base, &size, shared + 4096));
  CHECK_TRUE(base == shared);
  CHECK_TRUE(size >= kBytes);
  CUdeviceptr again = 0;  // opened twice: the same pointer, counted
  CU_OK(cuIpcOpenMemHandle(&again, handles.memory, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
  CHECK_TRUE(again == shared);
  CU_OK(cuIpcCloseMemHandle(again));

  const auto mine = drv::RandomBytes(kBytes, 2);
  CU_OK(cuMemcpyHtoD(shared, mine.data(), kBytes));
  CU_OK(cuMemsetD8(shared + 7, 0xab, 5));
  CU_OK(cuCtxSynchronize());
  CU_OK(cuIpcCloseMemHandle(shared));
  CU_OK(cuEventDestroy(ready));
  CU_OK(cuStreamDestroy(stream));

  ChildVirtualMemory(parent);
  ChildPool(parent);

  CUipcMemHandle garbage;
  std::memset(&garbage, 0x5c, sizeof garbage);
  CUdeviceptr nothing = 0;
  CHECK_TRUE(cuIpcOpenMemHandle(&nothing, garbage, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS) != CUDA_SUCCESS);
  const char done = drv::g_failures == 0 ? 'y' : 'n';
  if (!SendMessage(parent, &done, 1)) return 1;
  return drv::g_failures == 0 ? 0 : 1;
}

}  // namespace

int main() {
  ChildProcess child;
  if (!ForkChild(Child, &child)) return 1;

  drv::Start();
  CUdeviceptr memory = 0;
  CU_OK(cuMemAlloc(&memory, kBytes));
  CUevent ready = nullptr;
  CU_OK(cuEventCreate(&ready, CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING));
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  const auto first = drv::RandomBytes(kBytes, 1);
  CU_OK(cuMemcpyHtoDAsync(memory, first.data(), kBytes, stream));
  CU_OK(cuEventRecord(ready, stream));

  Handles handles{};
  CU_OK(cuIpcGetMemHandle(&handles.memory, memory));
  CU_OK(cuIpcGetEventHandle(&handles.event, ready));
  CUipcMemHandle same;  // one allocation, one handle
  CU_OK(cuIpcGetMemHandle(&same, memory + 100));
  CHECK_TRUE(std::memcmp(&same, &handles.memory, sizeof same) == 0);
  // MPI libraries mark what they share synchronous: a synchronous memset then completes before it
  // returns. Only that attribute can be set, only on device memory.
  unsigned flag = 1, read_back = 0;
  CUdeviceptr marked = 0;
  CU_OK(cuMemAlloc(&marked, 4096));
  CU_OK(cuPointerSetAttribute(&flag, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, marked));
  CU_OK(cuPointerGetAttribute(&read_back, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, marked + 64));
  CHECK_TRUE(read_back == 1);
  CU_OK(cuMemsetD8(marked, 0x3c, 4096));
  std::vector<unsigned char> set(4096);
  CU_OK(cuMemcpyDtoH(set.data(), marked, set.size()));
  CHECK_TRUE(set == std::vector<unsigned char>(4096, 0x3c));
  CU_OK(cuMemFree(marked));
  CU_EXPECT(cuPointerSetAttribute(&flag, CU_POINTER_ATTRIBUTE_IS_MANAGED, memory), CUDA_ERROR_INVALID_VALUE);

  CHECK_TRUE(cuPointerSetAttribute(&flag, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS,
                                   reinterpret_cast<CUdeviceptr>(&flag)) != CUDA_SUCCESS);
  unsigned capable = 0;
  CU_OK(cuPointerGetAttribute(&capable, CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE, memory + 8));
  CHECK_TRUE(capable == 1);
  // Only cuMemAlloc memory: not managed memory, not a stream-ordered allocation.
  CUdeviceptr managed = 0, pooled = 0;
  CUipcMemHandle refused;
  CU_OK(cuMemAllocManaged(&managed, 4096, CU_MEM_ATTACH_GLOBAL));
  CHECK_TRUE(cuIpcGetMemHandle(&refused, managed) != CUDA_SUCCESS);
  CU_OK(cuMemAllocAsync(&pooled, 4096, stream));
  CU_OK(cuPointerGetAttribute(&capable, CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE, pooled));
  CHECK_TRUE(capable == 0);
  CHECK_TRUE(cuIpcGetMemHandle(&refused, pooled) != CUDA_SUCCESS);
  CU_OK(cuMemFreeAsync(pooled, stream));
  CU_OK(cuMemFree(managed));
  CUdeviceptr own = 0;  // a process does not open its own handles
  CHECK_TRUE(cuIpcOpenMemHandle(&own, handles.memory, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS) != CUDA_SUCCESS);
  if (!SendMessage(child.socket, &handles, sizeof handles)) return 1;

  // Virtual memory with a POSIX descriptor, passed to the child over the socket (SCM_RIGHTS).
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  std::size_t granularity = 0;
  CU_OK(cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
  const std::size_t vm_size = granularity * 2;
  CUmemGenericAllocationHandle vm = 0;
  CU_OK(cuMemCreate(&vm, vm_size, &prop, 0));
  const CUdeviceptr vm_at = MapReadWrite(vm, vm_size);
  const auto third = drv::RandomBytes(4096, 3);
  CU_OK(cuMemcpyHtoD(vm_at + 8192, third.data(), third.size()));
  int vm_fd = -1;
  CU_OK(cuMemExportToShareableHandle(&vm_fd, vm, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  CHECK_TRUE(vm_fd >= 0 && SendDescriptor(child.socket, vm_fd) &&
             SendMessage(child.socket, &vm_size, sizeof vm_size));
  if (vm_fd >= 0) close(vm_fd);

  // A pool's allocation, shared with its pool's descriptor and the allocation's export data.
  CUmemPoolProps pool_props{};
  pool_props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  pool_props.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  pool_props.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  CUmemoryPool pool = nullptr;
  CU_OK(cuMemPoolCreate(&pool, &pool_props));
  CUdeviceptr pooled_shared = 0;
  CU_OK(cuMemAllocFromPoolAsync(&pooled_shared, 65536, pool, stream));
  const auto fifth = drv::RandomBytes(65536, 5);
  CU_OK(cuMemcpyHtoDAsync(pooled_shared, fifth.data(), fifth.size(), stream));
  CU_OK(cuStreamSynchronize(stream));
  int pool_fd = -1;
  CU_OK(cuMemPoolExportToShareableHandle(&pool_fd, pool, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  CUmemPoolPtrExportData export_data{};
  CU_OK(cuMemPoolExportPointer(&export_data, pooled_shared));
  CHECK_TRUE(pool_fd >= 0 && SendDescriptor(child.socket, pool_fd) &&
             SendMessage(child.socket, &export_data, sizeof export_data));
  if (pool_fd >= 0) close(pool_fd);

  char done = 0;
  CHECK_TRUE(ReceiveMessage(child.socket, &done, 1) && done == 'y');
  std::vector<unsigned char> written(4096);
  CU_OK(cuMemcpyDtoH(written.data(), vm_at, written.size()));
  CHECK_TRUE(written == drv::RandomBytes(4096, 4));
  Unmap(vm_at, vm, vm_size);
  std::vector<unsigned char> pooled_bytes(65536);
  CU_OK(cuMemcpyDtoH(pooled_bytes.data(), pooled_shared, pooled_bytes.size()));
  CHECK_TRUE(pooled_bytes == std::vector<unsigned char>(65536, 0x42));
  CU_OK(cuMemFreeAsync(pooled_shared, stream));
  CU_OK(cuStreamSynchronize(stream));
  CU_OK(cuMemPoolDestroy(pool));
  int status = 0;
  CHECK_TRUE(waitpid(child.pid, &status, 0) == child.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::vector<unsigned char> seen(kBytes);
  CU_OK(cuMemcpyDtoH(seen.data(), memory, kBytes));
  auto expected = drv::RandomBytes(kBytes, 2);
  std::memset(expected.data() + 7, 0xab, 5);
  CHECK_TRUE(seen == expected);

  CU_OK(cuEventDestroy(ready));
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemFree(memory));
  return drv::Verdict("driver_ipc");
}
