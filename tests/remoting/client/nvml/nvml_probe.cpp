// Loads libnvidia-ml.so.1 by its soname, as NCCL and pynvml do, and checks each NVML answer against
// the CUDA driver's in the same process (gpupool's libcuda.so.1, against the server in
// GPUPOOL_SERVER), and that NVML leaves CUDA alone until the program initialises it. Prints
// "PASS nvml_probe" and exits 0 when every check holds; each failed check is printed with its line.
// With --gpus N the server must show N GPUs; with --cuda-first the program initialises CUDA before
// NVML; with --no-server it checks only that initialisation fails cleanly.
#include <cuda.h>
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/gpu_uuid.h"
#include "remoting/client/nvml/nvml_abi.h"

namespace {

int failures = 0;

#define CHECK(condition)                                         \
  do {                                                           \
    if (!(condition)) {                                          \
      std::printf("FAILED line %d: %s\n", __LINE__, #condition); \
      ++failures;                                                \
    }                                                            \
  } while (0)

void* library = nullptr;

// NVML's function `name`, typed as `F`; exits when the library lacks it.
template <typename F>
F* Nvml(const char* name) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) {
    std::printf("FAILED: libnvidia-ml.so.1 has no %s\n", name);
    std::exit(1);
  }
  return reinterpret_cast<F*>(symbol);
}

using Init = nvmlReturn_t();
using Count = nvmlReturn_t(unsigned*);
using ByIndex = nvmlReturn_t(unsigned, nvmlDevice_t*);
using ByText = nvmlReturn_t(const char*, nvmlDevice_t*);
using Text = nvmlReturn_t(nvmlDevice_t, char*, unsigned);
using Pci = nvmlReturn_t(nvmlDevice_t, nvmlPciInfo_t*);
using Memory = nvmlReturn_t(nvmlDevice_t, nvmlMemory_t*);

nvmlMemory_t MemoryOf(nvmlDevice_t device) {
  nvmlMemory_t m{};
  CHECK(Nvml<Memory>("nvmlDeviceGetMemoryInfo")(device, &m) == NVML_SUCCESS);
  CHECK(m.used == m.total - m.free);
  return m;
}

void CheckDevice(nvmlDevice_t device, CUdevice cu) {
  unsigned index = 99;
  CHECK(Nvml<nvmlReturn_t(nvmlDevice_t, unsigned*)>("nvmlDeviceGetIndex")(device, &index) == NVML_SUCCESS);
  CHECK(index == static_cast<unsigned>(cu));

  char cuda_name[256] = {};
  cuDeviceGetName(cuda_name, sizeof cuda_name, cu);
  char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = {};
  CHECK(Nvml<Text>("nvmlDeviceGetName")(device, name, sizeof name) == NVML_SUCCESS);
  CHECK(std::string(name) == cuda_name);
  CHECK(Nvml<Text>("nvmlDeviceGetName")(device, name, 3) == NVML_ERROR_INSUFFICIENT_SIZE);

  CUuuid bytes{};
  cuDeviceGetUuid(&bytes, cu);
  const std::string cuda_uuid = gpupool::FormatGpuUuid({bytes.bytes, sizeof bytes.bytes});
  char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = {};
  CHECK(Nvml<Text>("nvmlDeviceGetUUID")(device, uuid, sizeof uuid) == NVML_SUCCESS);
  CHECK(uuid == cuda_uuid);
  nvmlDevice_t found = nullptr;
  CHECK(Nvml<ByText>("nvmlDeviceGetHandleByUUID")(uuid, &found) == NVML_SUCCESS && found == device);
  std::string upper = uuid;
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
  CHECK(Nvml<ByText>("nvmlDeviceGetHandleByUUID")(upper.c_str(), &found) == NVML_SUCCESS && found == device);
  CHECK(Nvml<ByText>("nvmlDeviceGetHandleByUUID")("GPU-00000000-0000-0000-0000-000000000000", &found) ==
        NVML_ERROR_NOT_FOUND);

  // PCI: the driver's address in both forms, each of which finds the device again.
  int domain = -1, bus = -1, dev = -1;
  cuDeviceGetAttribute(&domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, cu);
  cuDeviceGetAttribute(&bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, cu);
  cuDeviceGetAttribute(&dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, cu);
  nvmlPciInfo_t pci{};
  CHECK(Nvml<Pci>("nvmlDeviceGetPciInfo_v3")(device, &pci) == NVML_SUCCESS);
  CHECK(pci.domain == static_cast<unsigned>(domain) && pci.bus == static_cast<unsigned>(bus) &&
        pci.device == static_cast<unsigned>(dev));
  CHECK((pci.pciDeviceId & 0xffff) == 0x10de);
  char cuda_bus_id[64] = {};
  cuDeviceGetPCIBusId(cuda_bus_id, sizeof cuda_bus_id, cu);
  CHECK(strcasecmp(pci.busIdLegacy, cuda_bus_id) == 0);
  CHECK(std::strlen(pci.busId) == 16 && strcasecmp(pci.busId + 4, cuda_bus_id) == 0);
  for (const char* text : {static_cast<const char*>(pci.busId), static_cast<const char*>(pci.busIdLegacy),
                           static_cast<const char*>(cuda_bus_id)}) {
    found = nullptr;
    CHECK(Nvml<ByText>("nvmlDeviceGetHandleByPciBusId_v2")(text, &found) == NVML_SUCCESS && found == device);
  }
  CHECK(Nvml<ByText>("nvmlDeviceGetHandleByPciBusId_v2")("not a bus", &found) == NVML_ERROR_INVALID_ARGUMENT);
  CHECK(Nvml<ByText>("nvmlDeviceGetHandleByPciBusId_v2")("0000:ff:1f.7", &found) == NVML_ERROR_NOT_FOUND);
  // The first version's structure is 52 bytes: nothing past its common 36 is written.
  unsigned char old_layout[68];
  std::memset(old_layout, 0xab, sizeof old_layout);
  CHECK(Nvml<Pci>("nvmlDeviceGetPciInfo")(device, reinterpret_cast<nvmlPciInfo_t*>(old_layout)) ==
        NVML_SUCCESS);
  CHECK(std::strcmp(reinterpret_cast<const char*>(old_layout), pci.busIdLegacy) == 0);
  CHECK(old_layout[kNvmlPciInfoV1Prefix] == 0xab && old_layout[67] == 0xab);

  int major = 0, minor = -1, cuda_major = 0, cuda_minor = 0;
  cuDeviceGetAttribute(&cuda_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cu);
  cuDeviceGetAttribute(&cuda_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, cu);
  CHECK(Nvml<nvmlReturn_t(nvmlDevice_t, int*, int*)>("nvmlDeviceGetCudaComputeCapability")(
            device, &major, &minor) == NVML_SUCCESS);
  CHECK(major == cuda_major && minor == cuda_minor);

  // Architecture from the compute capability; every process of the share may use it.
  nvmlDeviceArchitecture_t arch = 0;
  CHECK(Nvml<nvmlReturn_t(nvmlDevice_t, nvmlDeviceArchitecture_t*)>("nvmlDeviceGetArchitecture")(
            device, &arch) == NVML_SUCCESS);
  CHECK(cuda_major != 9 || arch == NVML_DEVICE_ARCH_HOPPER);
  CHECK(cuda_major != 8 || arch == NVML_DEVICE_ARCH_AMPERE || arch == NVML_DEVICE_ARCH_ADA);
  nvmlComputeMode_t mode = NVML_COMPUTEMODE_PROHIBITED;
  CHECK(Nvml<nvmlReturn_t(nvmlDevice_t, nvmlComputeMode_t*)>("nvmlDeviceGetComputeMode")(device, &mode) ==
        NVML_SUCCESS);
  CHECK(mode == NVML_COMPUTEMODE_DEFAULT);
  // No context yet: no process of this program on the device.
  using Processes = nvmlReturn_t(nvmlDevice_t, unsigned*, nvmlProcessInfo_t*);
  auto processes = Nvml<Processes>("nvmlDeviceGetComputeRunningProcesses_v3");
  unsigned process_count = 7;
  nvmlProcessInfo_t infos[2] = {};
  CHECK(processes(device, &process_count, infos) == NVML_SUCCESS && process_count == 0);

  // Memory: the driver's total; what this process allocates shows as used once it has a context.
  std::size_t cuda_total = 0;
  cuDeviceTotalMem(&cuda_total, cu);
  const nvmlMemory_t idle = MemoryOf(device);
  CHECK(idle.total == cuda_total);
  CHECK(idle.used == 0);
  CUcontext context = nullptr;
  CHECK(cuDevicePrimaryCtxRetain(&context, cu) == CUDA_SUCCESS);
  CHECK(cuCtxSetCurrent(context) == CUDA_SUCCESS);
  const nvmlMemory_t before = MemoryOf(device);
  constexpr std::size_t kBytes = 64 << 20;
  CUdeviceptr block = 0;
  CHECK(cuMemAlloc(&block, kBytes) == CUDA_SUCCESS);
  const nvmlMemory_t after = MemoryOf(device);
  CHECK(after.used >= before.used + kBytes);
  std::size_t cuda_free = 0;
  cuMemGetInfo(&cuda_free, &cuda_total);
  CHECK(after.free == cuda_free && after.total == cuda_total);
  // With a context, this process is the device's one process, holding what its session holds: asked
  // with no room first (the count comes back), then with room, in both entry layouts.
  process_count = 0;
  CHECK(processes(device, &process_count, nullptr) == NVML_ERROR_INSUFFICIENT_SIZE && process_count == 1);
  process_count = 2;
  CHECK(processes(device, &process_count, infos) == NVML_SUCCESS && process_count == 1);
  CHECK(infos[0].pid == static_cast<unsigned>(getpid()) && infos[0].usedGpuMemory == after.used);
  CHECK(infos[0].gpuInstanceId == 0xffffffffu && infos[0].computeInstanceId == 0xffffffffu);
  nvmlProcessInfo_v1_t first_layout[1] = {};
  process_count = 1;
  CHECK(Nvml<nvmlReturn_t(nvmlDevice_t, unsigned*, nvmlProcessInfo_v1_t*)>(
            "nvmlDeviceGetComputeRunningProcesses")(device, &process_count, first_layout) == NVML_SUCCESS);
  CHECK(process_count == 1 && first_layout[0].pid == infos[0].pid);
  process_count = 2;
  CHECK(Nvml<Processes>("nvmlDeviceGetGraphicsRunningProcesses_v3")(device, &process_count, infos) ==
            NVML_SUCCESS &&
        process_count == 0);
  // With no context current (as on a monitoring thread), NVML still sees the primary context's allocations.
  CHECK(cuCtxSetCurrent(nullptr) == CUDA_SUCCESS);
  CHECK(MemoryOf(device).used == after.used);
  nvmlMemory_v2_t v2{};
  auto memory_v2 = Nvml<nvmlReturn_t(nvmlDevice_t, nvmlMemory_v2_t*)>("nvmlDeviceGetMemoryInfo_v2");
  CHECK(memory_v2(device, &v2) == NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
  v2.version = nvmlMemory_v2;
  CHECK(memory_v2(device, &v2) == NVML_SUCCESS && v2.total == after.total && v2.used == after.used);
  CHECK(cuCtxSetCurrent(context) == CUDA_SUCCESS);
  CHECK(cuMemFree(block) == CUDA_SUCCESS);
  CHECK(cuCtxSetCurrent(nullptr) == CUDA_SUCCESS);
  CHECK(cuDevicePrimaryCtxRelease(cu) == CUDA_SUCCESS);

  // A device is not its own peer; no NVLink: the answers of a GPU without them.
  nvmlGpuP2PStatus_t status = NVML_P2P_STATUS_OK;
  auto p2p = Nvml<nvmlReturn_t(nvmlDevice_t, nvmlDevice_t, nvmlGpuP2PCapsIndex_t, nvmlGpuP2PStatus_t*)>(
      "nvmlDeviceGetP2PStatus");
  CHECK(p2p(device, device, NVML_P2P_CAPS_INDEX_READ, &status) == NVML_SUCCESS);
  CHECK(status == NVML_P2P_STATUS_NOT_SUPPORTED);
  CHECK(p2p(device, device, static_cast<nvmlGpuP2PCapsIndex_t>(77), &status) == NVML_ERROR_INVALID_ARGUMENT);
  int active = 1;
  CHECK(Nvml<nvmlReturn_t(nvmlDevice_t, unsigned, int*)>("nvmlDeviceGetNvLinkState")(device, 0, &active) ==
        NVML_ERROR_NOT_SUPPORTED);
  nvmlFieldValue_t fields[2] = {};
  fields[0].fieldId = 1;
  fields[1].fieldId = 2;
  CHECK(Nvml<nvmlReturn_t(nvmlDevice_t, int, nvmlFieldValue_t*)>("nvmlDeviceGetFieldValues")(
            device, 2, fields) == NVML_SUCCESS);
  CHECK(fields[0].nvmlReturn == NVML_ERROR_NOT_SUPPORTED && fields[1].nvmlReturn == NVML_ERROR_NOT_SUPPORTED);

  // What gpupool does not implement answers NOT_SUPPORTED (and is logged once by name).
  unsigned temperature = 0;
  auto get_temperature = Nvml<nvmlReturn_t(nvmlDevice_t, int, unsigned*)>("nvmlDeviceGetTemperature");
  CHECK(get_temperature(device, 0, &temperature) == NVML_ERROR_NOT_SUPPORTED);
  CHECK(get_temperature(device, 0, &temperature) == NVML_ERROR_NOT_SUPPORTED);
}

// Checks the `count` devices NVML reports against CUDA's of the same ordinals; returns the first.
nvmlDevice_t CheckEveryDevice(unsigned count) {
  nvmlDevice_t first = nullptr;
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    CHECK(Nvml<ByIndex>("nvmlDeviceGetHandleByIndex_v2")(i, &device) == NVML_SUCCESS);
    CUdevice cu = 0;
    cuDeviceGet(&cu, static_cast<int>(i));
    CheckDevice(device, cu);
    if (i == 0) first = device;
  }
  // Reads and writes between two devices: what CUDA says of peer access; NVLink: not reported.
  auto p2p = Nvml<nvmlReturn_t(nvmlDevice_t, nvmlDevice_t, nvmlGpuP2PCapsIndex_t, nvmlGpuP2PStatus_t*)>(
      "nvmlDeviceGetP2PStatus");
  for (unsigned i = 0; i < count; ++i) {
    for (unsigned j = 0; j < count; ++j) {
      if (i == j) continue;
      nvmlDevice_t a = nullptr, b = nullptr;
      CHECK(Nvml<ByIndex>("nvmlDeviceGetHandleByIndex_v2")(i, &a) == NVML_SUCCESS);
      CHECK(Nvml<ByIndex>("nvmlDeviceGetHandleByIndex_v2")(j, &b) == NVML_SUCCESS);
      int can = -1;
      CHECK(cuDeviceCanAccessPeer(&can, static_cast<int>(i), static_cast<int>(j)) == CUDA_SUCCESS);
      const nvmlGpuP2PStatus_t want = can != 0 ? NVML_P2P_STATUS_OK : NVML_P2P_STATUS_NOT_SUPPORTED;
      nvmlGpuP2PStatus_t read = NVML_P2P_STATUS_UNKNOWN, write = NVML_P2P_STATUS_UNKNOWN;
      nvmlGpuP2PStatus_t nvlink = NVML_P2P_STATUS_UNKNOWN;
      CHECK(p2p(a, b, NVML_P2P_CAPS_INDEX_READ, &read) == NVML_SUCCESS && read == want);
      CHECK(p2p(a, b, NVML_P2P_CAPS_INDEX_WRITE, &write) == NVML_SUCCESS && write == want);
      CHECK(p2p(a, b, NVML_P2P_CAPS_INDEX_NVLINK, &nvlink) == NVML_SUCCESS &&
            nvlink == NVML_P2P_STATUS_NOT_SUPPORTED);
    }
  }
  return first;
}

}  // namespace

int main(int argc, char** argv) {
  const bool no_server = argc > 1 && std::strcmp(argv[1], "--no-server") == 0;
  library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::printf("FAILED: dlopen libnvidia-ml.so.1: %s\n", dlerror());
    return 1;
  }
  unsigned count = 0;
  CHECK(Nvml<Count>("nvmlDeviceGetCount_v2")(&count) == NVML_ERROR_UNINITIALIZED);
  CHECK(std::strcmp(Nvml<const char*(nvmlReturn_t)>("nvmlErrorString")(NVML_ERROR_NOT_SUPPORTED),
                    "Not Supported") == 0);
  CHECK(Nvml<nvmlReturn_t(unsigned)>("nvmlInitWithFlags")(0x100) == NVML_ERROR_INVALID_ARGUMENT);
  if (argc > 1 && std::strcmp(argv[1], "--cuda-first") == 0) {
    // CUDA first, then NVML, which then asks the process's CUDA (the test counts the sessions).
    int cuda_count = 0;
    CHECK(cuInit(0) == CUDA_SUCCESS && cuDeviceGetCount(&cuda_count) == CUDA_SUCCESS);
    CHECK(Nvml<Init>("nvmlInit_v2")() == NVML_SUCCESS);
    CHECK(Nvml<Count>("nvmlDeviceGetCount_v2")(&count) == NVML_SUCCESS &&
          count == static_cast<unsigned>(cuda_count));
    CheckEveryDevice(count);
    if (failures != 0) return 1;
    std::printf("PASS nvml_probe --cuda-first\n");
    return 0;
  }
  if (no_server) {
    const nvmlReturn_t r = Nvml<Init>("nvmlInit_v2")();
    CHECK(r == NVML_ERROR_DRIVER_NOT_LOADED);
    CHECK(Nvml<Count>("nvmlDeviceGetCount_v2")(&count) == NVML_ERROR_UNINITIALIZED);
    if (failures != 0) return 1;
    std::printf("PASS nvml_probe --no-server\n");
    return 0;
  }

  CHECK(Nvml<Init>("nvmlInit_v2")() == NVML_SUCCESS);
  CHECK(Nvml<Init>("nvmlInit")() == NVML_SUCCESS);  // counted: two shutdowns to come
  CHECK(Nvml<Count>("nvmlDeviceGetCount_v2")(&count) == NVML_SUCCESS);
  // As NVIDIA's, gpupool's NVML leaves the process's CUDA uninitialised, so a child forked now (as
  // PyTorch forks after counting devices through NVML) can use CUDA, and NVML too.
  int cuda_count = -1;
  CHECK(cuDeviceGetCount(&cuda_count) == CUDA_ERROR_NOT_INITIALIZED);
  std::fflush(stdout);
  const pid_t early = fork();
  if (early == 0) {
    alarm(30);
    nvmlDevice_t d0 = nullptr;
    char child_name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    int child_count = 0;
    const bool ok = Nvml<ByIndex>("nvmlDeviceGetHandleByIndex_v2")(0, &d0) == NVML_SUCCESS &&
                    Nvml<Text>("nvmlDeviceGetName")(d0, child_name, sizeof child_name) == NVML_SUCCESS &&
                    cuInit(0) == CUDA_SUCCESS && cuDeviceGetCount(&child_count) == CUDA_SUCCESS &&
                    static_cast<unsigned>(child_count) == count;
    _exit(ok ? 0 : 1);
  }
  int early_status = 0;
  CHECK(early > 0 && waitpid(early, &early_status, 0) == early);
  CHECK(WIFEXITED(early_status) && WEXITSTATUS(early_status) == 0);

  CHECK(cuInit(0) == CUDA_SUCCESS);
  cuDeviceGetCount(&cuda_count);
  CHECK(count == static_cast<unsigned>(cuda_count) && count > 0);
  if (argc > 2 && std::strcmp(argv[1], "--gpus") == 0)
    CHECK(count == static_cast<unsigned>(std::atoi(argv[2])));
  int cuda_version = 0, version = 0;
  cuDriverGetVersion(&cuda_version);
  CHECK(Nvml<nvmlReturn_t(int*)>("nvmlSystemGetCudaDriverVersion_v2")(&version) == NVML_SUCCESS);
  CHECK(version == cuda_version);

  nvmlDevice_t first = CheckEveryDevice(count);
  nvmlDevice_t device = nullptr;
  CHECK(Nvml<ByIndex>("nvmlDeviceGetHandleByIndex_v2")(count, &device) == NVML_ERROR_INVALID_ARGUMENT);
  CHECK(Nvml<ByIndex>("nvmlDeviceGetHandleByIndex_v2")(0, nullptr) == NVML_ERROR_INVALID_ARGUMENT);
  // A handle that is not NVML's is refused, not followed.
  int not_a_device = 0;
  char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
  CHECK(Nvml<Text>("nvmlDeviceGetName")(reinterpret_cast<nvmlDevice_t>(&not_a_device), name, sizeof name) ==
        NVML_ERROR_INVALID_ARGUMENT);
  CHECK(Nvml<Text>("nvmlDeviceGetName")(nullptr, name, sizeof name) == NVML_ERROR_INVALID_ARGUMENT);

  // A child forked once the process uses CUDA gets NVML's answers, and CUDA's "not initialised" (as in
  // a child of an initialised process) at once: never a hang, and NVML reports its memory as unused.
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    alarm(10);
    char child_name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    nvmlMemory_t child_memory{};
    int child_count = 0;
    const bool ok = Nvml<Text>("nvmlDeviceGetName")(first, child_name, sizeof child_name) == NVML_SUCCESS &&
                    Nvml<Memory>("nvmlDeviceGetMemoryInfo")(first, &child_memory) == NVML_SUCCESS &&
                    child_memory.used == 0 && cuDeviceGetCount(&child_count) == CUDA_ERROR_NOT_INITIALIZED;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  CHECK(child > 0 && waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  // Shut down as often as initialised; handles stay valid for a later nvmlInit.
  CHECK(Nvml<Init>("nvmlShutdown")() == NVML_SUCCESS);
  CHECK(Nvml<Count>("nvmlDeviceGetCount_v2")(&count) == NVML_SUCCESS);
  CHECK(Nvml<Init>("nvmlShutdown")() == NVML_SUCCESS);
  CHECK(Nvml<Count>("nvmlDeviceGetCount_v2")(&count) == NVML_ERROR_UNINITIALIZED);
  CHECK(Nvml<Text>("nvmlDeviceGetName")(first, name, sizeof name) == NVML_ERROR_UNINITIALIZED);
  CHECK(Nvml<Init>("nvmlShutdown")() == NVML_ERROR_UNINITIALIZED);
  CHECK(Nvml<Init>("nvmlInit_v2")() == NVML_SUCCESS);
  CHECK(Nvml<ByIndex>("nvmlDeviceGetHandleByIndex_v2")(0, &device) == NVML_SUCCESS && device == first);
  CHECK(Nvml<Init>("nvmlShutdown")() == NVML_SUCCESS);

  if (failures != 0) return 1;
  std::printf("PASS nvml_probe\n");
  return 0;
}
