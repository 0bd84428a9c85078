// IpcDirectory: the interprocess memory and event handles (cuIpcGetMemHandle, cuIpcGetEventHandle)
// that the sessions of one server have exported, in a shared-memory block (memfd) that the broker
// creates once and every worker inherits. CUDA's own handles name driver objects on this machine; a
// client never sees them. It gets a token instead: 128 random bits the exporting worker draws and files
// here next to the backend's handle, the exporting session, what it exported (kind, size) and who
// may open it (the owner: the pod's UID, "" for clients outside Kubernetes). An importing worker
// looks the token up, checks the owner is its own, and opens the backend's handle. A token is thus a
// capability that works only inside the pod that made it, and only on this server.
//
// An entry lives until its exporter withdraws it (the allocation is freed, the event destroyed, the
// session ends) or, for a worker that crashed, until the broker reaps the worker.
//
// Concurrency without locks across processes: an entry's `sequence` is odd while a worker writes it.
// A reader copies the fields and keeps the copy only when `sequence` was even and unchanged around the
// copy (a seqlock), so it never takes half of a reused entry. Fields are relaxed atomics, so a torn
// copy is a discarded copy, not undefined behaviour.
//
// Thread-safety: every method is safe from any thread of any process mapping the block.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "remoting/server/shared_memory.h"

namespace gpupool::server {

struct IpcToken {
  std::uint64_t high = 0, low = 0;
  bool operator==(const IpcToken&) const = default;
};

// kPhysical: a physical allocation's POSIX descriptor (cuMemExportToShareableHandle), which the
// exporting worker hands over itself (fd_exchange.h).
enum class IpcKind : std::uint32_t { kMemory = 1, kEvent = 2, kPhysical = 3 };

// What an importer learns from an entry.
struct IpcExport {
  IpcKind kind = IpcKind::kMemory;
  std::uint64_t session = 0;      // the exporter
  std::uint64_t size = 0;         // memory: the exported allocation's bytes
  unsigned char handle[64] = {};  // the backend's CUipcMemHandle / CUipcEventHandle
};

struct IpcEntry {
  static constexpr std::size_t kOwnerWords = 8;  // 64 bytes: a pod UID is 36
  std::atomic<std::uint64_t> sequence{0};        // odd: being written or withdrawn
  std::atomic<std::uint64_t> session{0};         // 0: free
  std::atomic<std::uint64_t> token_high{0}, token_low{0};
  std::atomic<std::uint64_t> kind{0};
  std::atomic<std::uint64_t> size{0};
  std::atomic<std::uint64_t> owner[kOwnerWords] = {};
  std::atomic<std::uint64_t> handle[8] = {};
};

class IpcDirectory {
 public:
  static constexpr std::uint32_t kEntries = 4096;  // live exports per server; more: CUDA_ERROR_OUT_OF_MEMORY

  static Result<IpcDirectory> Create();
  static Result<IpcDirectory> Map(int fd);

  int fd() const { return memory_.fd(); }

  // Worker: files an export of `session` that `owner` may open, under a new random token. False when
  // the directory is full or owner is too long.
  bool Publish(const IpcExport& what, std::string_view owner, IpcToken* token);
  enum class Found { kYes, kNo, kNotOwner };
  // Worker: the live export under `token` of kind `kind`. kNotOwner when it exists but `owner` may not
  // open it (the caller answers as for an unknown token: no oracle for other pods' tokens).
  Found Lookup(const IpcToken& token, IpcKind kind, std::string_view owner, IpcExport* out) const;
  // Worker: withdraws its export `token` (nothing when `session` did not file it).
  void Withdraw(std::uint64_t session, const IpcToken& token);
  // Worker at session end, broker when it reaps a worker: withdraws everything `session` filed.
  void WithdrawSession(std::uint64_t session);
  // Live entries (tests, metrics).
  std::uint32_t Count() const;

 private:
  explicit IpcDirectory(SharedMemory memory)
      : memory_(std::move(memory)), entries_(static_cast<IpcEntry*>(memory_.data())) {}
  void Clear(IpcEntry& entry);
  SharedMemory memory_;
  IpcEntry* entries_;
};

}  // namespace gpupool::server
