// Session: everything one client session owns in its worker — the session's handle tables, its
// allocations, its image cache, its latched asynchronous error — and the lookups every handler uses to
// turn wire ids into driver handles. Nothing from the wire reaches the backend without passing one of
// these lookups.
//
// Thread-safety: none; one worker thread serves one session.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "remoting/protocol/array_format.h"
#include "remoting/server/allocation_table.h"
#include "remoting/server/copy_ring.h"
#include "remoting/server/deferred_copies.h"
#include "remoting/server/device_bytes.h"
#include "remoting/server/driver_api.h"
#include "remoting/server/fd_exchange.h"
#include "remoting/server/handle_table.h"
#include "remoting/server/image_cache.h"
#include "remoting/server/ipc_directory.h"
#include "remoting/server/mapped_arena.h"
#include "remoting/server/session_stats.h"
#include "remoting/server/virtual_memory.h"

// Calls a DriverApi entry, or answers CUDA_ERROR_NOT_SUPPORTED when the backend lacks it.
#define GPUPOOL_DRIVER(session, fn, ...) \
  ((session).api.fn == nullptr ? CUDA_ERROR_NOT_SUPPORTED : (session).api.fn(__VA_ARGS__))

namespace gpupool::protocol {
class FrameReader;
}

namespace gpupool::server {

class Backend;
class ComputeShare;
class OutputCapture;
class Watchdog;

struct ParamLayout {
  std::vector<std::uint64_t> offsets;
  std::vector<std::uint64_t> sizes;
  std::uint64_t end = 0;  // bytes the packed parameters occupy
};

class Session {
 public:
  // The memory limits come from what the broker admitted, in `stats` (null: none).
  Session(const DriverApi& driver, SessionStats* stats);

  const DriverApi& api;
  IdSource ids;
  HandleTable<CUcontext> contexts{&ids};
  HandleTable<CUstream> streams{&ids};
  HandleTable<CUevent> events{&ids};
  HandleTable<CUmodule> modules{&ids};
  std::set<std::uint64_t> loaded_modules;  // modules the session loaded (not a library's)
  // What dies with a module or library: its functions, kernels and globals (ids, global bases).
  std::multimap<std::uint64_t, std::uint64_t> children;
  std::multimap<std::uint64_t, std::uint64_t> globals;
  HandleTable<CUlibrary> libraries{&ids};
  HandleTable<CUkernel> kernels{&ids};
  HandleTable<CUfunction> functions{&ids};
  HandleTable<CUarray> arrays{&ids};
  std::map<std::uint64_t, protocol::ArrayExtent> array_extents;  // by array id
  struct ArrayCharge {
    int device = 0;
    std::uint64_t bytes = 0;  // on the quota
  };
  std::map<std::uint64_t, ArrayCharge> array_charges;         // by array id
  DeviceBytes array_bytes;                                    // their sums
  HandleTable<CUmipmappedArray> mipmaps{&ids};                // charged in array_charges too
  std::multimap<std::uint64_t, std::uint64_t> mipmap_levels;  // mipmap id -> its level array ids
  std::set<std::uint64_t> level_arrays;                       // array ids that are a mipmap's level
  // Texture and surface objects by the driver's handle value (the handle the client holds).
  std::set<std::uint64_t> textures, surfaces;
  AllocationTable memory;
  VirtualMemory virtual_memory;  // its mappings are in `memory` too
  ImageCache images;
  std::map<CUfunction, ParamLayout> layouts;  // filled on first launch or layout query
  SessionStats* stats;
  // What the session was admitted to (SessionStats::gpus). `per_device`: a pod's shares of this
  // server's GPUs, entry i for device i; otherwise a single entry for every device it sees: its
  // memory limit holds on each of them, its compute share covers them all.
  bool per_device = false;
  std::vector<std::uint64_t> memory_limits;  // 0: none
  // Launches go through these when set (compute_share.h), indexed as memory_limits.
  std::vector<ComputeShare*> compute;
  Watchdog* watchdog = nullptr;      // told when a call starts and ends, when set (watchdog.h)
  OutputCapture* output = nullptr;   // device printf text for the client, when set (output_capture.h)
  std::string output_text;           // its text on the way out (kept: its capacity is reused)
  const Backend* backend = nullptr;  // for HostView, when set
  CUresult latched = CUDA_SUCCESS;   // first error of an asynchronous call not yet reported
  std::string staging;               // device-to-host bytes of a reply, when not sent from HostView
  std::string_view reply_tail;       // the tail of the reply being built (staging or a HostView)
  // While a bulk host-to-device request is dispatched with its tail still on the socket
  // (dispatch.h, HeadBytes): the reader, whose left() bytes are that tail. Otherwise null.
  protocol::FrameReader* deferred_tail = nullptr;
  // Shared with the client when it asked for one (copy_ring.h); null otherwise.
  std::unique_ptr<CopyRing> ring;
  // Host memory shared with a client on this host and registered for the GPUs (mapped_arena.h), when
  // the client asked for it; and how many bytes of it the session may register (0: none, the arena is
  // declined).
  std::unique_ptr<MappedArena> mapped_arena;
  std::uint64_t mapped_limit = 0;
  // Device-to-host copies answered later (MemcpyDtoHDeferred), and the header of the kDeferred
  // request being dispatched (its reply is sent from `deferred`).
  DeferredCopies deferred{api};
  protocol::FrameHeader request{};
  // Interprocess handles (handlers_ipc.cpp): the server's directory (null: the calls answer
  // CUDA_ERROR_NOT_SUPPORTED) and this session's id there; what it exported, and what it opened.
  IpcDirectory* ipc = nullptr;
  std::uint64_t session_id = 0;
  std::map<std::uint64_t, IpcToken> memory_exports;  // allocation base -> its token
  std::map<std::uint64_t, IpcToken> event_exports;   // event id -> its token
  struct OpenedMemory {
    IpcToken token;
    std::uint64_t references = 0;  // opens not yet closed (CUDA counts them per context)
  };
  std::map<std::uint64_t, OpenedMemory> opened_memory;  // base here -> what it is
  std::map<std::uint64_t, IpcToken> physical_exports;   // physical handle id -> its token
  std::unique_ptr<FdExchange> fd_exchange;              // made at the first physical export

  // Wire id -> handle; CUDA_ERROR_INVALID_HANDLE when the session does not own it.
  CUresult Context(std::uint64_t id, CUcontext* out) const;
  CUresult Stream(std::uint64_t id, CUstream* out) const;  // 0, 1, 2: NULL, legacy, per-thread
  CUresult Event(std::uint64_t id, CUevent* out) const;
  CUresult Module(std::uint64_t id, CUmodule* out) const;
  CUresult Library(std::uint64_t id, CUlibrary* out) const;
  CUresult Kernel(std::uint64_t id, CUkernel* out) const;
  CUresult Function(std::uint64_t id, CUfunction* out) const;
  // An array id: its handle and extent (CUDA_ERROR_INVALID_HANDLE when the session does not own it).
  CUresult Array(std::uint64_t id, CUarray* out, protocol::ArrayExtent* extent = nullptr) const;
  CUresult Mipmap(std::uint64_t id, CUmipmappedArray* out) const;
  // CUDA_ERROR_INVALID_VALUE unless [ptr, ptr + size) is inside one of the session's allocations.
  CUresult CheckRange(std::uint64_t ptr, std::uint64_t size) const;
  // As CheckRange for a pitched 2D region: `height` rows of `width` bytes, `pitch` apart, from ptr.
  CUresult CheckRange2D(std::uint64_t ptr, std::uint64_t pitch, std::uint64_t width,
                        std::uint64_t height) const;
  // Host memory behind device range [ptr, ptr + size) (Backend::HostView), only when the range is
  // inside one of the session's allocations and the backend's memory is host-addressable; else null.
  std::byte* HostView(std::uint64_t ptr, std::uint64_t size) const;
  // The device of the calling thread's current context (0 when there is none).
  int CurrentDevice() const;
  // Which entry of memory_limits and compute applies to `device`.
  std::size_t ShareIndex(int device) const;
  // The memory limit of `device` (0: none), and what counts against it: allocations, arrays and
  // physical allocations on that device. UsedBytes(): on all of them.
  std::uint64_t MemoryLimit(int device) const;
  std::uint64_t UsedBytes(int device) const;
  std::uint64_t UsedBytes() const;
  // CUDA_ERROR_OUT_OF_MEMORY when `bytes` more on `device` would pass its memory limit.
  CUresult CheckQuota(std::uint64_t bytes, int device) const;
  void AddAllocation(std::uint64_t base, std::uint64_t size, int device);
  // The compute share of `device`, and its entry in the stats; null when there is none.
  ComputeShare* ComputeFor(int device) const;
  SessionGpu* StatsFor(int device) const;
  // The device whose context issues the request being served (its launches and copies count there),
  // and its stats entry; the driver is asked only when the session has several GPUs.
  int IssuingDevice() const;
  SessionGpu* IssuingGpu() const;
  // After a synchronising call: every compute share collects the kernels it waited for.
  void CollectKernels() const;
  // The parameter layout of a function, from the driver on first use.
  CUresult Layout(CUfunction f, const ParamLayout** out);
  // Leaves what the session holds on each of its GPUs, and the host memory it has mapped for them, in
  // its stats.
  void PublishMemory();
  // Forgets the functions, kernels and globals of an unloaded module or library.
  void DropChildren(std::uint64_t parent);
  // Who may open this session's interprocess handles: its pod's UID ("" outside Kubernetes).
  std::string_view Owner() const;
  // The allocation at `base`, or the event `event_id`, goes away: its interprocess handle with it.
  void WithdrawMemoryExport(std::uint64_t base);
  void WithdrawEventExport(std::uint64_t event_id);
  // Withdraws the exports of physical allocations that are gone (released and unmapped).
  void WithdrawFreedPhysicalExports();

  // Before a driver call that may destroy a context: kernel measurements in flight are dropped.
  void BeforeContextDestroy();

  // Frees every object the session still holds (session end), in dependency order.
  void ReleaseAll();
};

}  // namespace gpupool::server
