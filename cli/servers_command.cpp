// `gpupool servers`: each GPU server's GPUs, how much of each is still free, and their health, from the
// servers' Control API (GetInventory). Exit 0 when every server answered, 1 when one did not (the
// others are still listed), 2 on bad usage.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/server_flags.h"
#include "cli/table.h"
#include "common/units.h"

namespace gpupool::cli {
namespace {

constexpr const char* kUsage =
    "usage: gpupool servers [--server HOST:PORT]... [--wide] [--json] [--timeout DURATION]\n"
    "\n"
    "Lists GPU servers, their GPUs, the share of each GPU still free, and health.\n"
    "\n"
    "flags:\n";

constexpr const char* kUsageTail =
    "  --wide               add GPU UUID, device kind, compute capability and SM count\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 all servers answered, 1 a server did not (others are still listed), 2 bad usage\n";

std::uint32_t FreePercent(const control::v1::Gpu& gpu) {
  return gpu.allocated_percent() >= 100 ? 0 : 100 - gpu.allocated_percent();
}

std::uint64_t FreeMemory(const control::v1::Gpu& gpu) {
  return gpu.allocated_memory_bytes() >= gpu.memory_bytes()
             ? 0
             : gpu.memory_bytes() - gpu.allocated_memory_bytes();
}

std::string Health(const control::v1::Gpu& gpu) {
  if (gpu.healthy()) return "ok";
  return gpu.health_message().empty() ? "unhealthy" : "unhealthy: " + gpu.health_message();
}

nlohmann::json GpuJson(const control::v1::Gpu& gpu) {
  return {{"index", gpu.index()},
          {"uuid", gpu.uuid()},
          {"model", gpu.model()},
          {"memoryBytes", gpu.memory_bytes()},
          {"computeCapability", std::to_string(gpu.compute_capability_major()) + "." +
                                    std::to_string(gpu.compute_capability_minor())},
          {"multiprocessors", gpu.multiprocessors()},
          {"allocatedPercent", gpu.allocated_percent()},
          {"allocatedMemoryBytes", gpu.allocated_memory_bytes()},
          {"freePercent", FreePercent(gpu)},
          {"freeMemoryBytes", FreeMemory(gpu)},
          {"sessions", gpu.sessions()},
          {"healthy", gpu.healthy()},
          {"healthMessage", gpu.health_message()}};
}

nlohmann::json ReportJson(const ServerReport& r) {
  nlohmann::json j = {{"server", r.target.name},
                      {"control", r.target.control},
                      {"reachable", r.status.ok()},
                      {"error", r.status.ok() ? "" : r.status.message()}};
  if (!r.status.ok()) return j;
  j["serverId"] = r.inventory.server_id();
  j["version"] = r.inventory.version();
  j["deviceKind"] = r.inventory.device_kind();
  j["driverVersion"] = r.inventory.driver_version();
  j["gpus"] = nlohmann::json::array();
  for (const auto& gpu : r.inventory.gpus()) j["gpus"].push_back(GpuJson(gpu));
  return j;
}

std::string TableOf(const std::vector<ServerReport>& reports, bool wide) {
  std::vector<std::string> headers = {"SERVER", "GPU",         "MODEL",    "MEMORY", "ALLOCATED",
                                      "FREE",   "FREE MEMORY", "SESSIONS", "HEALTH"};
  if (wide) headers.insert(headers.begin() + 2, {"UUID", "KIND", "CC", "SMS"});
  Table table(headers);
  for (const ServerReport& r : reports) {
    std::vector<std::string> blank(headers.size(), "-");
    blank.front() = r.target.name;
    if (!r.status.ok()) {
      blank.back() = r.status.code() == Code::kDeadlineExceeded ? "no answer" : "unreachable";
      table.AddRow(blank);
      continue;
    }
    if (r.inventory.gpus().empty()) {
      blank.back() = "no GPUs";
      table.AddRow(blank);
      continue;
    }
    const bool emulated = r.inventory.device_kind() == "emulated";
    for (const auto& gpu : r.inventory.gpus()) {
      std::vector<std::string> row = {r.target.name,
                                      std::to_string(gpu.index()),
                                      gpu.model() + (emulated ? " (emulated)" : ""),
                                      FormatBytes(gpu.memory_bytes()),
                                      std::to_string(gpu.allocated_percent()) + "%",
                                      std::to_string(FreePercent(gpu)) + "%",
                                      FormatBytes(FreeMemory(gpu)),
                                      std::to_string(gpu.sessions()),
                                      Health(gpu)};
      if (wide) {
        row.insert(row.begin() + 2, {gpu.uuid(), r.inventory.device_kind(),
                                     std::to_string(gpu.compute_capability_major()) + "." +
                                         std::to_string(gpu.compute_capability_minor()),
                                     std::to_string(gpu.multiprocessors())});
      }
      table.AddRow(row);
    }
  }
  return table.ToString();
}

}  // namespace

int ServersCommand(const std::vector<std::string>& args) {
  bool wide = false;
  auto flags = ParseServerFlags(args, [&wide](const std::vector<std::string>& a, std::size_t* i) {
    if (a[*i] != "--wide") return Status::InvalidArgument("unknown flag \"" + a[*i] + "\"");
    wide = true;
    ++*i;
    return Status::Ok();
  });
  if (!flags.ok()) {
    std::fprintf(stderr, "gpupool servers: %s\n(see 'gpupool servers --help')\n",
                 flags.status().message().c_str());
    return kExitUsage;
  }
  if (flags->help) {
    std::printf("%s%s%s", kUsage, ServerFlagsHelp(), kUsageTail);
    return kExitOk;
  }

  ControlClients clients(flags->servers, flags->timeout, flags->access);
  const std::vector<ServerReport> reports = clients.Query(/*with_sessions=*/false);
  if (flags->json) {
    nlohmann::json out = {{"servers", nlohmann::json::array()}};
    for (const ServerReport& r : reports) out["servers"].push_back(ReportJson(r));
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s", TableOf(reports, wide).c_str());
  }
  // The table first, then why a server is missing from it, so the reason is the last thing shown.
  std::fflush(stdout);
  int exit_code = kExitOk;
  for (const ServerReport& r : reports) {
    if (r.status.ok()) continue;
    std::fprintf(stderr, "gpupool servers: %s: %s\n", r.target.name.c_str(), r.status.message().c_str());
    exit_code = kExitFailure;
  }
  return exit_code;
}

}  // namespace gpupool::cli
