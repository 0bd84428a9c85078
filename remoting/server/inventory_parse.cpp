// ParseInventory: the broker's reading of what the inventory child prints (inventory.h).
#include <sstream>

#include "remoting/server/inventory.h"

namespace gpupool::server {

Result<InventoryInfo> ParseInventory(const std::string& text) {
  InventoryInfo info;
  std::istringstream lines(text);
  std::string line;
  bool driver_seen = false;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "driver") {
      driver_seen = static_cast<bool>(in >> info.driver_version);
    } else if (kind == "gpu") {
      GpuInfo g;
      if (!(in >> g.index >> g.uuid >> g.memory_bytes >> g.cc_major >> g.cc_minor >> g.multiprocessors)) {
        return Status::Internal("inventory: malformed line '" + line + "'");
      }
      std::getline(in >> std::ws, g.name);
      info.gpus.push_back(g);
    } else if (kind == "unhealthy") {
      int index = -1;
      in >> index;
      GpuInfo* gpu = nullptr;
      for (GpuInfo& g : info.gpus) gpu = g.index == index ? &g : gpu;
      if (gpu == nullptr) return Status::Internal("inventory: '" + line + "' names no GPU listed before it");
      gpu->healthy = false;
      std::getline(in >> std::ws, gpu->unhealthy);
    } else if (kind == "error") {
      std::string why;
      std::getline(in >> std::ws, why);
      return Status::Unavailable("device cannot be opened: " + why);
    } else if (!kind.empty()) {
      return Status::Internal("inventory: unexpected line '" + line + "'");
    }
  }
  if (!driver_seen) return Status::Unavailable("inventory child reported nothing (see the server log)");
  return info;
}

}  // namespace gpupool::server
