// LaunchRecord: what a validated launch leaves behind. With --record-launches PATH each launch
// appends one JSON line there, so tests compare exact parameter bytes:
//   {"kernel":"k","grid":[x,y,z],"block":[x,y,z],"shared":0,"stream":0,"params":"0a00ff..",
//    "cooperative":false,"cluster":[x,y,z] (only when set),"attributes":[ids of cuLaunchKernelEx]}
// Stream ids are cuStreamGetId's: 0 = legacy default stream, 1 = per-thread default stream.
//
// Thread-safety: RecordLaunch expects the state lock held; lines are whole (one write each), so
// several processes (one worker per session) may share a file.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace gpupool::server::emulated {

struct LaunchRecord {
  const std::string* kernel = nullptr;
  std::array<unsigned, 3> grid{}, block{}, cluster{1, 1, 1};
  unsigned shared = 0;
  unsigned long long stream_id = 0;
  bool cooperative = false;
  bool has_cluster = false;
  std::vector<int> attributes;
  std::vector<std::uint8_t> params;
};

void RecordLaunch(const LaunchRecord& record);

}  // namespace gpupool::server::emulated
