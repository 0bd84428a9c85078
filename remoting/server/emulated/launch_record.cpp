// RecordLaunch: one JSON line per launch, flushed at once so a test reading the file sees it.
#include "remoting/server/emulated/launch_record.h"

#include <nlohmann/json.hpp>

#include "remoting/server/emulated/state.h"

namespace gpupool::server::emulated {

void RecordLaunch(const LaunchRecord& r) {
  State& s = GetState();
  ++s.launch_count;
  if (s.launch_log == nullptr) return;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(r.params.size() * 2);
  for (std::uint8_t b : r.params) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 0xf]);
  }
  nlohmann::json line = {{"kernel", *r.kernel},         {"grid", r.grid},        {"block", r.block},
                         {"shared", r.shared},          {"stream", r.stream_id}, {"params", hex},
                         {"cooperative", r.cooperative}};
  if (r.has_cluster) line["cluster"] = r.cluster;
  if (!r.attributes.empty()) line["attributes"] = r.attributes;
  const std::string text = line.dump() + "\n";
  std::fwrite(text.data(), 1, text.size(), s.launch_log);
  std::fflush(s.launch_log);
}

}  // namespace gpupool::server::emulated
