// State: everything the client knows, one instance per process (State::Get(), never destroyed,
// because runtimes call the driver from their atexit handlers).
//
// cuInit connects (server_address.h), handshakes and fetches every device's name, UUID, memory,
// PCI id and all attributes once; device queries are answered from that cache without a round
// trip. Contexts, streams, events, modules, functions and libraries are client objects wrapping
// server ids (handles.h). The current context is a per-thread stack, as in CUDA.
//
// After fork() the child must not share the parent's connection: an atfork handler abandons it in
// the child, where every call then fails with CUDA_ERROR_NOT_INITIALIZED, as CUDA behaves there
// (also when the parent was still connecting at the fork). A child forked before cuInit began may
// initialise on its own.
//
// Thread-safety: all members are safe from any thread; see each member.
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "remoting/client/device_facts.h"
#include "remoting/client/graph.h"
#include "remoting/client/handles.h"
#include "remoting/client/launch_check.h"
#include "remoting/client/pinned_memory.h"
#include "remoting/client/session.h"
#include "remoting/client/stream_order.h"

namespace gpupool::client {

struct Capture;
struct Library;

struct Context {
  CUdevice device = 0;
  bool primary = false;
  std::uint64_t id = 0;  // server context id; primary: 0 until first retained
  unsigned flags = 0;
  unsigned long long uid = 0;  // cuCtxGetId: unique in this process
};

struct Device : DeviceFacts {
  LaunchLimits limits;
  Context primary;        // stable handle for the life of the process
  std::mutex primary_mu;  // guards the primary's id, flags and references
  int primary_references = 0;
  unsigned primary_flags = 0;
};

struct Stream {
  std::uint64_t id = 0;
  Context* context = nullptr;
  unsigned flags = 0;
  int priority = 0;
  std::mutex capture_mu;             // guards capture and frontier
  std::shared_ptr<Capture> capture;  // non-null while the stream is being captured (capture.h)
  std::vector<GraphNode*> frontier;  // what the stream's next captured work depends on
};

struct Event {
  std::uint64_t id = 0;
  Context* context = nullptr;
  unsigned flags = 0;
  // The latest record while it is still queued on the client behind a host function (StreamOrder):
  // its stream and ticket; ticket 0 when the latest record was sent.
  std::mutex record_mu;
  StreamKey held_key;             // guarded by record_mu
  std::uint64_t held_ticket = 0;  // guarded by record_mu
  // Recorded during a capture (capture.h): the capture and the frontier it recorded.
  std::shared_ptr<Capture> captured_in;    // guarded by record_mu
  std::vector<GraphNode*> captured_nodes;  // guarded by record_mu
};

struct Function;

struct Module {
  std::uint64_t id = 0;
  Context* context = nullptr;
  std::mutex mu;  // guards functions
  // By the worker's id, which is one per driver function (looked up by name or enumerated): one
  // handle per kernel, as in CUDA.
  std::map<std::uint64_t, Function*> functions;
};

// A CUfunction, or a CUkernel (which CUDA lets programs pass where a CUfunction goes).
struct Function {
  std::uint64_t id = 0;  // function id, or kernel id when `kernel`
  bool kernel = false;
  Module* module = nullptr;
  Library* library = nullptr;  // a CUkernel's library (and a function got from a CUkernel)
  std::once_flag layout_once;  // parameter layout, fetched once
  CUresult layout_result = CUDA_SUCCESS;
  std::vector<std::uint64_t> offsets, sizes;
  std::once_flag function_once;  // kernel: its function in the current context, fetched once
  CUresult function_result = CUDA_SUCCESS;
  std::uint64_t function_id = 0;
  std::once_flag name_once;  // its name, fetched once (the pointer cuFuncGetName returns stays valid)
  CUresult name_result = CUDA_SUCCESS;
  std::string name;
  // The deprecated launch API's settings (api_launch_legacy.cpp), under legacy_mu.
  std::mutex legacy_mu;
  int legacy_block[3] = {0, 0, 0};           // cuFuncSetBlockShape; 0: not set
  unsigned legacy_shared = 0;                // cuFuncSetSharedSize
  std::vector<unsigned char> legacy_params;  // cuParamSetSize, filled by cuParamSet{i,f,v}
};

struct Library {
  // Loaded on the server at the first use that needs it (EnsureLibraryLoaded) when `image` lives in a
  // loaded binary; `id` is valid once `load_result` is CUDA_SUCCESS.
  const void* image = nullptr;
  // JIT options that only steer compilation (no outputs to fill), sent with a lazy load
  // (protocol/jit_options.h); a load with outputs to fill happens at cuLibraryLoadData instead.
  std::vector<std::int32_t> jit_codes;
  std::vector<std::uint64_t> jit_values;
  std::once_flag load_once;
  CUresult load_result = CUDA_ERROR_NOT_INITIALIZED;
  std::uint64_t id = 0;
  std::mutex mu;                               // guards kernels and module
  std::map<std::uint64_t, Function*> kernels;  // by the worker's kernel id, as Module::functions
  Module* module = nullptr;
};

class State {
 public:
  static State& Get();

  // cuInit: connects and caches the devices once; later calls return the first result.
  CUresult Init();
  // CUDA_SUCCESS once initialised and connected, else the error every call returns.
  CUresult Ready() const;
  Session* session() { return session_.get(); }

  int device_count() const { return static_cast<int>(devices_.size()); }
  // Null for an invalid ordinal.
  Device* device(CUdevice ordinal);

  // The calling thread's context stack (top = current).
  static std::vector<Context*>& ContextStack();
  // The current context or null.
  static Context* Current();
  // Current context's server id; CUDA_ERROR_INVALID_CONTEXT when there is none.
  CUresult CurrentId(std::uint64_t* id);
  bool IsContext(const void* handle);
  unsigned long long NextContextUid();

  Registry<Context> contexts;  // created with cuCtxCreate (primaries live in Device)
  Registry<Stream> streams;
  Registry<Event> events;
  Registry<Module> modules;
  Registry<Function> functions;
  Registry<Library> libraries;
  Registry<Graph> graphs;           // CUgraph (graph.h)
  Registry<GraphNode> graph_nodes;  // CUgraphNode
  Registry<ExecGraph> executables;  // CUgraphExec
  PinnedMemory pinned;
  StreamOrder order;  // stream order kept on the client (host functions)

  // Device allocations (base -> bytes), for unified-address copies and pointer queries.
  void AddAllocation(CUdeviceptr base, std::size_t bytes);
  void RemoveAllocation(CUdeviceptr base);
  // Forgets the allocations that start inside [base, base + bytes) (unmapped mappings).
  void RemoveAllocationsIn(CUdeviceptr base, std::size_t bytes);
  bool FindAllocation(CUdeviceptr ptr, CUdeviceptr* base, std::size_t* bytes) const;
  // CU_POINTER_ATTRIBUTE_SYNC_MEMOPS of the allocation holding `ptr` (cuPointerSetAttribute): set or
  // cleared; false when no allocation holds it. It goes with the allocation.
  bool SetSyncMemops(CUdeviceptr ptr, bool on);
  bool SyncMemops(CUdeviceptr ptr) const;
  // Address reservations (cuMemAddressReserve), whose mappings are allocations above: the range a
  // pointer attribute's RANGE_START_ADDR and RANGE_SIZE describe.
  void AddReservation(CUdeviceptr base, std::size_t bytes);
  void RemoveReservation(CUdeviceptr base);
  bool FindReservation(CUdeviceptr ptr, CUdeviceptr* base, std::size_t* bytes) const;

  // Whether the stream with wire id `wire` is waited for by the legacy NULL stream: the NULL and
  // per-thread streams and every stream not created CU_STREAM_NON_BLOCKING.
  bool WireStreamBlocks(std::uint64_t wire) const;

  void AfterForkInChild();

 private:
  State();
  CUresult Connect();
  CUresult FetchDevice(CUdevice ordinal, Device* device);

  mutable std::mutex init_mu_;
  bool init_done_ = false;  // guarded by init_mu_
  // Set when Init begins. A child forked after that must not take init_mu_, which a thread of the
  // parent may have held (connecting) at the fork: in that child, Init answers at once.
  std::atomic<bool> init_started_{false};
  std::atomic<bool> forked_after_init_{false};
  std::atomic<CUresult> ready_{CUDA_ERROR_NOT_INITIALIZED};  // what Ready() answers
  std::unique_ptr<Session> session_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::atomic<unsigned long long> next_context_uid_{1};

  mutable std::mutex allocations_mu_;
  std::map<CUdeviceptr, std::size_t> allocations_;
  std::map<CUdeviceptr, std::size_t> reservations_;  // guarded by allocations_mu_ too
  std::set<CUdeviceptr> sync_memops_;                // allocation bases; guarded by allocations_mu_
};

}  // namespace gpupool::client
