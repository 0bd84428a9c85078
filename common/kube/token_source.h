// TokenSource: the bearer token for API requests, either fixed or read from a file that the kubelet
// rotates (projected service-account tokens are replaced by an atomic symlink swap).
//
// A file source re-opens the file by path (never holds an fd) when the cached copy is older than
// `max_age` (client-go: 1 minute) or when the file's modification time or size changed since the
// last read (a cheap stat per call), so a rotated token is used on the next request. A failed or
// empty re-read keeps the previous token (and logs); Invalidate() after a 401 forces a re-read.
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace gpupool::kube {

class TokenSource {
 public:
  static std::shared_ptr<TokenSource> Fixed(std::string token);
  static std::shared_ptr<TokenSource> FromFile(std::string path,
                                               std::chrono::milliseconds max_age = std::chrono::minutes(1));

  // The token to send; an error only when no token was ever read (file missing or empty).
  Result<std::string> Token();
  // Drops the cached token so the next Token() re-reads the file (no-op for fixed tokens).
  void Invalidate();
  // Number of times the file was actually read (tests check re-reads).
  int reads() const;

 private:
  TokenSource() = default;
  Status ReadLocked();

  mutable std::mutex mu_;
  std::string path_;  // empty for a fixed token
  std::chrono::milliseconds max_age_{0};
  std::string token_;
  std::chrono::steady_clock::time_point read_at_{};
  long long mtime_ns_ = -1;
  long long size_ = -1;
  bool stale_ = true;
  int reads_ = 0;
};

}  // namespace gpupool::kube
