// The raw-socket baselines gpupool-bench compares against, measured in the same run over the same
// kind of transport (a Unix socket, or TCP on loopback): a peer that echoes (ping-pong), swallows
// (upload stream) or produces (download stream) bytes with no protocol at all. The peer is a forked
// process by default, as gpupool-server's worker is one: a peer thread in the bench's own process
// wakes without an address-space switch and, on a loaded 2-core box, ping-pongs in about half the time
// of any two processes (9-10 us vs 21-30 us measured 2026-12-06), which is not the protocol's cost.
//
// Thread-safety: one RawPeer per thread of use.
#pragma once

#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace gpupool::bench {

class RawPeer {
 public:
  // Listens on a fresh Unix socket under `dir` (tcp = false) or on 127.0.0.1 (tcp = true); the peer
  // runs in a forked child (separate_process) or in a thread of this process.
  static Result<std::unique_ptr<RawPeer>> Start(const std::string& dir, bool tcp, bool separate_process);
  ~RawPeer();

  // Round-trip times in microseconds of `count` ping-pongs of `bytes`.
  std::vector<double> PingPong(int count, std::size_t bytes);
  // Messages per second for `count` one-way messages of `bytes` each (the peer reads them all).
  double MessageRate(int count, std::size_t bytes);
  // GB/s of `total` bytes sent in `chunk`-sized writes (upload) or received (download). Both ends
  // reuse one chunk-sized buffer, which stays in the CPU cache.
  double Upload(std::size_t total, std::size_t chunk);
  double Download(std::size_t total, std::size_t chunk);
  // The same, but the chunks go through a `span`-sized buffer on each end (chunk i at offset
  // i * chunk % span), as repeated copies of `span` bytes between a host buffer and device memory
  // do: with a span above the cache size, the bytes come from and go to RAM. Both buffers are
  // written before the clock starts (the peer's in an untimed first pass): page faults are not timed.
  double UploadSized(std::size_t total, std::size_t chunk, std::size_t span);
  double DownloadSized(std::size_t total, std::size_t chunk, std::size_t span);

 private:
  RawPeer() = default;
  void Serve();
  int listen_fd_ = -1;
  int fd_ = -1;
  double Stream(bool upload, std::size_t total, std::size_t chunk, std::size_t span);
  std::vector<char> buf_;  // the bench's end of the streams
  std::thread peer_;
  int child_ = -1;  // the peer process, when separate
};

}  // namespace gpupool::bench
