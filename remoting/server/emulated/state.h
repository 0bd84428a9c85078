// The emulated device's process-wide state: devices, contexts, streams, events, modules, virtual
// memory (virtual_memory.h).
//
// The DriverApi table holds plain C function pointers, so the state they share is one process-wide
// object (backend.h: one emulated backend per process). Handles given out (CUcontext, CUstream, ...)
// are pointers to objects owned here, but every handle that comes in is looked up in a registry
// before use, so a stale or forged handle is CUDA_ERROR_INVALID_HANDLE / INVALID_CONTEXT, never a
// dereference.
//
// Thread-safety: every field is guarded by `mu`; API functions take it for their whole body (except
// cuLaunchHostFunc's callback, which runs unlocked). The context stack is per thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "remoting/protocol/array_format.h"
#include "remoting/server/backend.h"
#include "remoting/server/emulated/device_memory.h"
#include "remoting/server/emulated/module_image.h"
#include "remoting/server/emulated/shared_word.h"
#include "remoting/server/emulated/virtual_memory.h"

namespace gpupool::server::emulated {

struct Context {
  CUdevice device = 0;
  unsigned flags = 0;
  unsigned long long id = 0;
  bool primary = false;
  std::map<int, std::size_t> limits;  // CUlimit -> value
  CUfunc_cache cache_config = CU_FUNC_CACHE_PREFER_NONE;
  unsigned sm_count = 132;  // fewer in a green context
  // Simulated time (timeline.h): when the work enqueued so far on the context's legacy default stream
  // and on its per-thread default stream completes (monotonic ns).
  std::uint64_t legacy_done_ns = 0;
  std::uint64_t per_thread_done_ns = 0;
  std::uint64_t destroyed_done_ns = 0;  // work of streams destroyed before it completed
  std::string printf_fifo;              // device printf lines not yet written (device_printf.h)
  // Attributes set on the legacy [0] and per-thread [1] default streams (api_stream_attributes.cpp).
  std::map<int, CUstreamAttrValue> default_stream_attributes[2];
  std::set<const Context*> peers;  // contexts whose memory its kernels may access (cuCtxEnablePeerAccess)
};

struct Device {
  std::string name;
  CUuuid uuid{};
  int pci_bus = 0;
  bool lost = false;  // --emulated-lost-gpu: its property queries fail
  std::unique_ptr<DeviceMemory> memory;
  Context primary;  // lives as long as the device; retained/released by count
  int primary_refcount = 0;
  unsigned primary_flags = 0;
  std::uint64_t busy_until_ns = 0;  // the last simulated kernel ends then (kernels run one at a time)
};

struct Stream {
  Context* ctx = nullptr;
  unsigned flags = 0;
  int priority = 0;
  unsigned long long id = 0;
  std::uint64_t done_ns = 0;  // the stream's work enqueued so far completes then (timeline.h)
  std::map<int, CUstreamAttrValue> attributes;  // set by cuStreamSetAttribute (priority lives above)
};

struct Event {
  unsigned flags = 0;
  // Interprocess events (CU_EVENT_INTERPROCESS, or opened by cuIpcOpenEventHandle) keep their record
  // time in a word the other processes holding the event map too (ipc.cpp); others keep it here.
  std::unique_ptr<SharedWord> shared;

  // Recorded: when the stream reaches the event (the work before it completed).
  void Record(std::uint64_t ns) {
    if (shared != nullptr) {
      shared->value().store(ns);
    } else {
      recorded_ns_ = ns;
    }
  }
  // When the event completes: its record time, 0 for an event never recorded (complete at once).
  std::uint64_t DoneNs() const { return shared != nullptr ? shared->value().load() : recorded_ns_; }

 private:
  std::uint64_t recorded_ns_ = 0;  // monotonic ns, never 0 once recorded
};

struct Module;

// A kernel of a loaded module. CUfunction and CUkernel handles both point at one of these.
struct Function {
  Module* module = nullptr;
  const KernelInfo* info = nullptr;
  int max_dynamic_shared = -1;   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES; -1: default
  int carveout = -1;             // CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT
  int non_portable_cluster = 0;  // CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED
  int cluster_policy = 0;        // CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE
  CUfunc_cache cache_config = CU_FUNC_CACHE_PREFER_NONE;
};

struct Global {
  CUdeviceptr address = 0;
  std::size_t size = 0;
};

struct Module {
  Context* ctx = nullptr;
  ModuleImage image;
  std::vector<std::unique_ptr<Function>> functions;  // same order as image.kernels
  std::map<std::string, Global, std::less<>> globals;
  bool owned_by_library = false;
};

struct Library {
  Module* module = nullptr;
};

// A green context: a context limited to some SMs, holding a reference on its device's primary.
struct GreenContext {
  Context ctx;
};
struct ResourceDesc {
  unsigned sm_count = 0;
};

// A CUDA array: packed rows of `extent.row_bytes` in one device allocation (so it counts in the
// device's memory like CUDA's do), `extent.rows` rows per slice.
struct Array {
  Context* ctx = nullptr;
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  protocol::ArrayExtent extent;
  CUdeviceptr memory = 0;
  bool level = false;  // a mipmapped array's level: destroyed with it, not on its own
};

// A mipmapped array: its descriptor and one array per level.
struct MipmappedArray {
  Context* ctx = nullptr;
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  std::vector<CUarray> levels;
};

// A texture or surface object: the descriptors it was created with (a surface has only `resource`).
struct TextureObject {
  Context* ctx = nullptr;
  CUDA_RESOURCE_DESC resource{};
  CUDA_TEXTURE_DESC texture{};
  CUDA_RESOURCE_VIEW_DESC view{};
};

struct State {
  std::mutex mu;
  bool initialized = false;
  EmulatedConfig config;
  std::vector<Device> devices;
  std::unordered_set<Context*> contexts;  // live contexts, primary ones included
  std::unordered_map<Context*, std::unique_ptr<Context>> created_contexts;
  std::unordered_map<CUstream, std::unique_ptr<Stream>> streams;
  std::unordered_map<CUevent, std::unique_ptr<Event>> events;
  std::unordered_map<CUmodule, std::unique_ptr<Module>> modules;
  std::unordered_map<CUlibrary, std::unique_ptr<Library>> libraries;
  std::unordered_map<CUgreenCtx, std::unique_ptr<GreenContext>> green_contexts;
  std::unordered_map<CUdevResourceDesc, std::unique_ptr<ResourceDesc>> resource_descs;
  std::unordered_set<const Function*> functions;
  std::unordered_map<CUarray, std::unique_ptr<Array>> arrays;
  std::unordered_map<CUmipmappedArray, std::unique_ptr<MipmappedArray>> mipmaps;
  std::unordered_map<CUtexObject, TextureObject> textures;  // handles from next_id
  std::unordered_map<CUsurfObject, TextureObject> surfaces;
  std::unordered_map<CUdeviceptr, Context*> allocation_owner;  // cuMemAlloc*: freed with their context
  std::unordered_map<void*, std::size_t> host_allocations;     // cuMemHostAlloc
  struct RegisteredHost {
    std::size_t bytes = 0;
    unsigned flags = 0;  // CU_MEMHOSTREGISTER_*
  };
  std::map<std::uintptr_t, RegisteredHost> host_registered;  // cuMemHostRegister
  VirtualMemory virtual_memory;         // cuMemCreate / cuMemAddressReserve / cuMemMap (not per device)
  unsigned long long next_id = 2;       // ids 0 and 1: the default streams
  int launch_log_fd = -1;               // --record-launches, O_APPEND
  unsigned long long launch_count = 0;  // validated launches, recorded or not
  std::string last_load_error;          // why the last module load failed, for logs and tests
};

State& GetState();

// Resets the process-wide state and configures it (OpenEmulatedBackend).
Status Configure(const EmulatedConfig& config);

// Helpers for API functions; all expect `GetState().mu` held.
// The calling thread's current context, or nullptr when none (or it was destroyed).
Context* CurrentContext();
std::vector<Context*>& ContextStack();
// CUDA_SUCCESS with *ctx set, CUDA_ERROR_NOT_INITIALIZED or CUDA_ERROR_INVALID_CONTEXT.
CUresult RequireContext(Context** ctx);
bool ValidDevice(CUdevice dev);
// The GPU --emulated-lost-gpu names: its queries and new contexts fail with CUDA_ERROR_DEVICE_UNAVAILABLE.
bool LostDevice(CUdevice dev);
// The device owning a device address (any address inside its cuMemAlloc range), or nullptr. Mapped
// addresses (virtual_memory.h) are in no device's range.
DeviceMemory* MemoryFor(CUdeviceptr address);
// Resolves a stream handle: null, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD are always valid.
CUresult CheckStream(CUstream stream);
unsigned long long StreamId(CUstream stream);
// Whether unified addressing takes `address` for device memory: a GPU's range or the reservation window.
bool IsDeviceAddress(CUdeviceptr address);
// Resolves [address, address + bytes) to host memory, or nullptr: inside one live allocation, across
// adjacent mappings of one reservation (virtual_memory.h) that give the current context's device the
// access `need` (CU_MEM_ACCESS_FLAGS_PROT_READ to read; the default, _READWRITE, to write), or inside
// host memory registered with CU_MEMHOSTREGISTER_DEVICEMAP (its device address is its host address,
// as on GPUs that report CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM).
std::byte* ResolveDevice(CUdeviceptr address, std::size_t bytes,
                         unsigned long long need = CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
// The live array behind a handle, or nullptr.
Array* LookupArray(CUarray handle);
// Forgets an array and frees its memory.
void DestroyArray(CUarray handle);
// Starts a context's life: new id, default limits and cache config, registered as live.
void ResetContext(Context* ctx, unsigned flags);
// Ends a context's life: its streams, modules and memory go with it (as in CUDA).
void RetireContext(Context* ctx);
// Creates a stream in `ctx` (cuStreamCreate's checks).
CUresult NewStream(Context* ctx, unsigned flags, int priority, CUstream* out);
// A live function (CUfunction or CUkernel handle), or nullptr.
Function* LookupFunction(const void* handle);

// Loads an image into `ctx`: parses it, backs its globals with device memory, creates its functions.
CUresult LoadModule(const void* image, Context* ctx, Module** out);
// Frees a module's globals and forgets it and its functions.
void UnloadModule(Module* module);

}  // namespace gpupool::server::emulated
