// Handlers: interprocess memory and event handles. The backend's own handles stay in the server's
// IpcDirectory; the client gets a random token, which only sessions of the same pod on this server can
// open (ipc_directory.h). An unknown token and another pod's token get the same answer, so a token
// cannot be probed for.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>

#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

constexpr unsigned kOpenFlags = CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS;

// The export under `token`, or the error the client gets.
CUresult Find(const Session& s, const IpcToken& token, IpcKind kind, IpcExport* found) {
  if (s.ipc == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (s.ipc->Lookup(token, kind, s.Owner(), found) != IpcDirectory::Found::kYes)
    return CUDA_ERROR_INVALID_HANDLE;
  // The driver refuses a process its own handles.
  return found->session == s.session_id ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

// Files the backend's `handle` and answers its token.
template <typename Handle>
CUresult Publish(Session& s, IpcKind kind, std::uint64_t size, const Handle& handle, IpcToken* token) {
  IpcExport what;
  what.kind = kind;
  what.session = s.session_id;
  what.size = size;
  static_assert(sizeof handle.reserved == sizeof what.handle);
  std::memcpy(what.handle, handle.reserved, sizeof what.handle);
  return s.ipc->Publish(what, s.Owner(), token) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

}  // namespace

GPUPOOL_HANDLER(IpcGetMemHandle) {
  if (s.ipc == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  std::uint64_t base = 0, size = 0;
  AllocationTable::Kind kind{};
  // The session's own cuMemAlloc memory only: not a module's globals, mappings or other sessions'.
  if (!s.memory.Find(std::get<0>(in), &base, &size) || !s.memory.KindAt(base, &kind) ||
      kind != AllocationTable::Kind::kOwned)
    return CUDA_ERROR_INVALID_VALUE;
  auto known = s.memory_exports.find(base);
  if (known == s.memory_exports.end()) {
    CUipcMemHandle handle{};
    if (CUresult r = GPUPOOL_DRIVER(s, cuIpcGetMemHandle, &handle, static_cast<CUdeviceptr>(base));
        r != CUDA_SUCCESS)
      return r;
    IpcToken token;
    if (CUresult r = Publish(s, IpcKind::kMemory, size, handle, &token); r != CUDA_SUCCESS) return r;
    known = s.memory_exports.emplace(base, token).first;
  }
  *out = {known->second.high, known->second.low};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(IpcOpenMemHandle) {
  const auto& [high, low, flags] = in;
  if ((flags & ~kOpenFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  const IpcToken token{high, low};
  IpcExport found;
  if (CUresult r = Find(s, token, IpcKind::kMemory, &found); r != CUDA_SUCCESS) return r;
  // Opened before: CUDA counts the opens and answers the same pointer.
  for (auto& [base, opened] : s.opened_memory) {
    if (opened.token == token) {
      ++opened.references;
      *out = {base, found.size};
      return CUDA_SUCCESS;
    }
  }
  CUipcMemHandle handle{};
  std::memcpy(handle.reserved, found.handle, sizeof handle.reserved);
  CUdeviceptr ptr = 0;
  if (CUresult r = GPUPOOL_DRIVER(s, cuIpcOpenMemHandle_v2, &ptr, handle, flags); r != CUDA_SUCCESS) return r;
  s.memory.Add(ptr, found.size, AllocationTable::Kind::kImported);
  s.opened_memory[ptr] = {token, 1};
  *out = {ptr, found.size};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(IpcCloseMemHandle) {
  const std::uint64_t base = std::get<0>(in);
  auto it = s.opened_memory.find(base);
  if (it == s.opened_memory.end()) return CUDA_ERROR_INVALID_VALUE;
  if (--it->second.references > 0) return CUDA_SUCCESS;
  s.opened_memory.erase(it);
  (void)s.memory.Remove(base, AllocationTable::Kind::kImported);
  return GPUPOOL_DRIVER(s, cuIpcCloseMemHandle, static_cast<CUdeviceptr>(base));
}

// A physical allocation's POSIX descriptor: the driver's stays with this worker, which hands a copy
// to the worker of a session that presents the token (fd_exchange.h).
GPUPOOL_HANDLER(MemExportToShareableHandle) {
  if (s.ipc == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const std::uint64_t id = std::get<0>(in);
  const VirtualMemory::Physical* physical = s.virtual_memory.Handle(id);
  if (physical == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (auto known = s.physical_exports.find(id); known != s.physical_exports.end()) {
    *out = {known->second.high, known->second.low};
    return CUDA_SUCCESS;
  }
  int fd = -1;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMemExportToShareableHandle, &fd, physical->handle,
                                  CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
      r != CUDA_SUCCESS)
    return r;
  if (s.fd_exchange == nullptr) s.fd_exchange = std::make_unique<FdExchange>(s.session_id);
  IpcToken token;
  IpcExport what;
  what.kind = IpcKind::kPhysical;
  what.session = s.session_id;
  what.size = physical->size;
  if (!s.ipc->Publish(what, s.Owner(), &token)) {
    close(fd);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (!s.fd_exchange->Offer(token, fd).ok()) {
    s.ipc->Withdraw(s.session_id, token);
    return CUDA_ERROR_OPERATING_SYSTEM;
  }
  s.physical_exports.emplace(id, token);
  *out = {token.high, token.low};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemImportFromShareableHandle) {
  if (s.ipc == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const IpcToken token{std::get<0>(in), std::get<1>(in)};
  IpcExport found;
  // A process may import its own export (the driver allows it), so not Find's INVALID_CONTEXT rule.
  if (s.ipc->Lookup(token, IpcKind::kPhysical, s.Owner(), &found) != IpcDirectory::Found::kYes)
    return CUDA_ERROR_INVALID_HANDLE;
  int fd = -1;
  if (found.session == s.session_id) {
    fd = s.fd_exchange != nullptr ? s.fd_exchange->Dup(token) : -1;
  } else {
    auto fetched = FdExchange::Fetch(found.session, token, std::chrono::milliseconds(2000));
    fd = fetched.ok() ? *fetched : -1;
  }
  if (fd < 0) return CUDA_ERROR_INVALID_HANDLE;  // withdrawn meanwhile
  CUmemGenericAllocationHandle handle = 0;
  const CUresult r = GPUPOOL_DRIVER(s, cuMemImportFromShareableHandle, &handle,
                                    reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)),
                                    CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  close(fd);
  if (r != CUDA_SUCCESS) return r;
  CUmemAllocationProp prop{};
  (void)GPUPOOL_DRIVER(s, cuMemGetAllocationPropertiesFromHandle, &prop, handle);
  VirtualMemory::Physical physical;
  physical.handle = handle;
  physical.size = found.size;
  physical.device = prop.location.id;
  physical.requested_types = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  physical.imported = true;
  const std::uint64_t id = s.ids.Next();
  s.virtual_memory.AddPhysical(id, physical);
  std::get<0>(*out) = id;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(IpcGetEventHandle) {
  if (s.ipc == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const std::uint64_t id = std::get<0>(in);
  CUevent event = nullptr;
  if (CUresult r = s.Event(id, &event); r != CUDA_SUCCESS) return r;
  auto known = s.event_exports.find(id);
  if (known == s.event_exports.end()) {
    CUipcEventHandle handle{};
    if (CUresult r = GPUPOOL_DRIVER(s, cuIpcGetEventHandle, &handle, event); r != CUDA_SUCCESS) return r;
    IpcToken token;
    if (CUresult r = Publish(s, IpcKind::kEvent, 0, handle, &token); r != CUDA_SUCCESS) return r;
    known = s.event_exports.emplace(id, token).first;
  }
  *out = {known->second.high, known->second.low};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(IpcOpenEventHandle) {
  IpcExport found;
  if (CUresult r = Find(s, {std::get<0>(in), std::get<1>(in)}, IpcKind::kEvent, &found); r != CUDA_SUCCESS)
    return r;
  CUipcEventHandle handle{};
  std::memcpy(handle.reserved, found.handle, sizeof handle.reserved);
  CUevent event = nullptr;
  if (CUresult r = GPUPOOL_DRIVER(s, cuIpcOpenEventHandle, &event, handle); r != CUDA_SUCCESS) return r;
  std::get<0>(*out) = s.events.Add(event);
  return CUDA_SUCCESS;
}

}  // namespace gpupool::server
