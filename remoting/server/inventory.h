// Inventory: what GPUs this server has. The broker never opens the backend itself, so it asks a
// short-lived child (this binary with --inventory) that opens it, prints one line per GPU, and exits.
//
//   driver <version>
//   gpu <index> <uuid> <memory bytes> <cc major> <cc minor> <multiprocessors> <name...>
//   unhealthy <index> <why...>  (after its gpu line, when a query on that GPU failed)
//   error <message>          (instead, when the backend cannot be opened)
//
// Thread-safety: QueryInventory may run on any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "remoting/server/server_flags.h"
#include "remoting/server/spawn.h"

namespace gpupool::server {

struct GpuInfo {
  int index = 0;
  std::string uuid;  // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
  std::string name;
  std::uint64_t memory_bytes = 0;
  int cc_major = 0, cc_minor = 0, multiprocessors = 0;
  bool healthy = true;    // every query the inventory child made on the GPU succeeded
  std::string unhealthy;  // the first one that failed, when not healthy
};

struct InventoryInfo {
  int driver_version = 0;
  std::vector<GpuInfo> gpus;
};

// The child's side: prints the inventory to stdout; returns the exit code.
int RunInventory(const ServerOptions& options);
// The broker's side: runs the child and parses what it prints (within 60 s).
Result<InventoryInfo> QueryInventory(const ServerOptions& options, Reaper* reaper);
// Parses the child's output (exposed for tests).
Result<InventoryInfo> ParseInventory(const std::string& text);

}  // namespace gpupool::server
