#include "remoting/client/state.h"

#include <pthread.h>

#include <cstdlib>
#include <cstring>

#include "common/address_ranges.h"
#include "common/log.h"
#include "remoting/client/local_server.h"
#include "remoting/client/rpc.h"
#include "remoting/client/server_address.h"

namespace gpupool::client {

using protocol::Op;

State& State::Get() {
  static State* state = new State();  // never destroyed: runtimes call us from atexit handlers
  return *state;
}

State::State() {
  pthread_atfork(nullptr, nullptr, [] { State::Get().AfterForkInChild(); });
}

void State::AfterForkInChild() {
  // Nothing here may log: this handler may run before the log's locks are released in the child
  // (common/fork_safe.h).
  // The parent keeps the connection; the child must neither read from nor write to it.
  if (session_ != nullptr) session_->Abandon();
  if (init_started_.load()) {
    forked_after_init_.store(true);
    ready_.store(CUDA_ERROR_NOT_INITIALIZED);  // as CUDA answers in a child of an initialised process
  }
}

CUresult State::Init() {
  if (forked_after_init_.load()) return ready_.load();
  init_started_.store(true);  // before the lock: a fork from now on finds it set
  std::lock_guard<std::mutex> lock(init_mu_);
  if (!init_done_) {
    init_done_ = true;
    ready_.store(Connect());
  }
  return ready_.load();
}

CUresult State::Ready() const {
  CUresult ready = ready_.load();
  if (ready != CUDA_SUCCESS) return ready;
  return session_->broken() ? CUDA_ERROR_DEVICE_UNAVAILABLE : CUDA_SUCCESS;
}

CUresult State::Connect() {
  auto address = FindServer();
  if (!address.ok()) {
    GPUPOOL_LOG(kError) << "no gpupool server: " << address.status().ToString();
    return CUDA_ERROR_NO_DEVICE;
  }
  auto session = OpenBoundSession(*address);  // the local server's socket when it is the bound one
  if (!session.ok()) {
    GPUPOOL_LOG(kError) << "cannot reach gpupool server: " << session.status().ToString();
    return CUDA_ERROR_NO_DEVICE;
  }
  session_ = std::move(*session);
  // Batched asynchronous calls must reach the server before the process ends (session.h).
  std::atexit([] {
    if (Session* s = State::Get().session()) s->FlushAndStopBatching();
  });
  GPUPOOL_LOG(kDebug) << "connected to gpupool-server, session " << session_->hello().session_id
                      << " (device " << session_->hello().device_kind << ")";
  protocol::Call<Op::DeviceGetCount>::Reply count;
  CUresult result = Rpc<Op::DeviceGetCount>(0, {}, &count);
  if (result != CUDA_SUCCESS) return result;
  for (int i = 0; i < std::get<0>(count); ++i) {
    auto device = std::make_unique<Device>();
    result = FetchDevice(i, device.get());
    if (result != CUDA_SUCCESS) return result;
    devices_.push_back(std::move(device));
  }
  return devices_.empty() ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS;
}

CUresult State::FetchDevice(CUdevice ordinal, Device* device) {
  if (CUresult r = FetchDeviceFacts(session_.get(), ordinal, device); r != CUDA_SUCCESS) return r;
  auto a = [&](CUdevice_attribute attribute) { return device->attributes[attribute]; };
  LaunchLimits& l = device->limits;
  l.max_threads_per_block = a(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
  l.max_block[0] = a(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X);
  l.max_block[1] = a(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y);
  l.max_block[2] = a(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z);
  l.max_grid[0] = a(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X);
  l.max_grid[1] = a(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y);
  l.max_grid[2] = a(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z);
  l.max_shared_optin = a(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  device->primary.device = ordinal;
  device->primary.primary = true;
  device->primary.uid = NextContextUid();
  return CUDA_SUCCESS;
}

Device* State::device(CUdevice ordinal) {
  if (ordinal < 0 || ordinal >= device_count()) return nullptr;
  return devices_[static_cast<std::size_t>(ordinal)].get();
}

namespace {

// The calling thread's context stack. Not a thread_local object: glibc destroys those before exit
// handlers run, and libraries free memory from exit handlers (cuFFT does), which needs the current
// context. A key destructor ends the stack with its thread instead; exit() runs none, so the main
// thread's stays. A thread that uses CUDA after its key destructor ran gets a new one, which glibc's
// next destructor round frees.
thread_local std::vector<Context*>* t_context_stack = nullptr;

pthread_key_t ContextStackKey() {
  static const pthread_key_t key = [] {
    pthread_key_t k;
    pthread_key_create(&k, [](void*) {
      delete t_context_stack;
      t_context_stack = nullptr;
    });
    return k;
  }();
  return key;
}

}  // namespace

std::vector<Context*>& State::ContextStack() {
  if (t_context_stack == nullptr) {
    t_context_stack = new std::vector<Context*>();
    pthread_setspecific(ContextStackKey(), t_context_stack);
  }
  return *t_context_stack;
}

Context* State::Current() {
  auto& stack = ContextStack();
  return stack.empty() ? nullptr : stack.back();
}

CUresult State::CurrentId(std::uint64_t* id) {
  Context* current = Current();
  if (current == nullptr || current->id == 0) return CUDA_ERROR_INVALID_CONTEXT;
  *id = current->id;
  return CUDA_SUCCESS;
}

bool State::IsContext(const void* handle) {
  for (auto& device : devices_) {
    if (handle == &device->primary) return true;
  }
  return contexts.Find(handle) != nullptr;
}

unsigned long long State::NextContextUid() {
  return next_context_uid_.fetch_add(1);
}

bool State::WireStreamBlocks(std::uint64_t wire) const {
  const Stream* s = streams.FindIf([wire](const Stream& stream) { return stream.id == wire; });
  return s == nullptr || (s->flags & CU_STREAM_NON_BLOCKING) == 0;
}

void State::AddAllocation(CUdeviceptr base, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  allocations_[base] = bytes;
}

void State::RemoveAllocation(CUdeviceptr base) {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  allocations_.erase(base);
  sync_memops_.erase(base);
}

void State::RemoveAllocationsIn(CUdeviceptr base, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  auto it = allocations_.lower_bound(base);
  while (it != allocations_.end() && it->first - base < bytes) {
    sync_memops_.erase(it->first);
    it = allocations_.erase(it);
  }
}

namespace {

// The range of `ranges` (base -> bytes) containing ptr.
bool FindRange(const std::map<CUdeviceptr, std::size_t>& ranges, CUdeviceptr ptr, CUdeviceptr* base,
               std::size_t* bytes) {
  auto it = RangeHolding(ranges, ptr, [](std::size_t size) { return size; });
  if (it == ranges.end()) return false;
  if (base != nullptr) *base = it->first;
  if (bytes != nullptr) *bytes = it->second;
  return true;
}

}  // namespace

bool State::FindAllocation(CUdeviceptr ptr, CUdeviceptr* base, std::size_t* bytes) const {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  return FindRange(allocations_, ptr, base, bytes);
}

bool State::SetSyncMemops(CUdeviceptr ptr, bool on) {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  CUdeviceptr base = 0;
  if (!FindRange(allocations_, ptr, &base, nullptr)) return false;
  if (on) {
    sync_memops_.insert(base);
  } else {
    sync_memops_.erase(base);
  }
  return true;
}

bool State::SyncMemops(CUdeviceptr ptr) const {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  CUdeviceptr base = 0;
  return FindRange(allocations_, ptr, &base, nullptr) && sync_memops_.count(base) != 0;
}

void State::AddReservation(CUdeviceptr base, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  reservations_[base] = bytes;
}

void State::RemoveReservation(CUdeviceptr base) {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  reservations_.erase(base);
}

bool State::FindReservation(CUdeviceptr ptr, CUdeviceptr* base, std::size_t* bytes) const {
  std::lock_guard<std::mutex> lock(allocations_mu_);
  return FindRange(reservations_, ptr, base, bytes);
}

}  // namespace gpupool::client
