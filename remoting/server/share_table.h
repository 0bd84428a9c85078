// ShareTable: what the session workers of one server tell each other about their GPU use — one slot
// per live session in a shared-memory block (memfd) that the broker creates once and every worker
// inherits. A worker writes only its own slot (which GPU, when it last wanted GPU time) and reads the
// others' to learn whether it is alone on its GPU (docs/compute-share.md: idle capacity). The broker
// hands slots out and takes them back when a worker is reaped, so a crashed worker never keeps one.
//
// Plain atomics, no locks across processes. Times are CLOCK_MONOTONIC (std::chrono::steady_clock),
// which all processes of the machine share.
//
// Thread-safety: every field is atomic; Claim/Release are the broker's (under the registry's spawn
// mutex), Touch/OthersActive the owning worker's.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "common/status.h"
#include "remoting/server/shared_memory.h"

namespace gpupool::server {

struct ShareSlot {
  std::atomic<std::uint64_t> session{0};  // 0: free
  std::atomic<std::uint64_t> gpu_key{0};  // hash of the GPU's uuid ("" for the default GPU)
  std::atomic<std::uint64_t> active_ns{0};
};

class ShareTable {
 public:
  static constexpr std::uint32_t kSlots = 1024;  // live sessions per server; more run as if never alone
  static constexpr std::uint32_t kNoSlot = 0xffffffffu;

  static Result<ShareTable> Create();
  static Result<ShareTable> Map(int fd);

  int fd() const { return memory_.fd(); }
  // Broker: a free slot for `session` on the GPU `gpu_uuid`, or kNoSlot when all are taken.
  std::uint32_t Claim(std::uint64_t session, const std::string& gpu_uuid);
  void Release(std::uint32_t slot);
  // Worker: its session wants GPU time now.
  void Touch(std::uint32_t slot, std::uint64_t now_ns);
  // Worker: whether another session on the same GPU wanted GPU time within `window_ns` before now.
  bool OthersActive(std::uint32_t slot, std::uint64_t now_ns, std::uint64_t window_ns) const;

  static std::uint64_t GpuKey(const std::string& gpu_uuid);
  static std::uint64_t NowNs();

 private:
  explicit ShareTable(SharedMemory memory)
      : memory_(std::move(memory)), slots_(static_cast<ShareSlot*>(memory_.data())) {}
  SharedMemory memory_;
  ShareSlot* slots_;
};

}  // namespace gpupool::server
