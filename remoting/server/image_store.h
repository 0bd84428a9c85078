// ImageStore: module and library images kept for every session of this server, in a directory, by
// SHA-256 (--image-cache-dir). A session's ImageQuery that misses its own cache looks here, so the
// hundreds of megabytes of kernels a PyTorch or cuBLAS process would upload travel once per server,
// not once per process. Files are named by the hash in hex and verified against it when read (a
// damaged file is deleted and reported as a miss); written to a temporary name and renamed, so a
// reader never sees half an image; the least recently used go when the directory passes its size
// limit. Several worker processes share the directory; rename and unlink keep each file whole for a
// reader that opened it.
//
// Privacy: a session learns whether an image it names by hash was uploaded before, by anyone; a
// tenant who has the same binary can tell that someone on this server ran it. An empty
// --image-cache-dir turns sharing off (docs/security.md).
//
// Thread-safety: none per object; one per worker. Processes may share the directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool::server {

class ImageStore {
 public:
  // Creates `dir` (mode 0700) when missing; an error when it cannot be created or written.
  static Status Prepare(const std::string& dir);

  ImageStore(std::string dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  // The image whose SHA-256 is `hash` (32 bytes), when the directory holds it intact.
  std::optional<std::string> Load(std::string_view hash) const;
  // Keeps `image`, whose SHA-256 the caller verified is `hash`; then trims the directory to its
  // limit. Failures are logged and otherwise ignored: the store only saves uploads.
  void Save(std::string_view hash, const std::string& image) const;

 private:
  std::string PathOf(std::string_view hash) const;
  void Trim() const;

  std::string dir_;
  std::uint64_t max_bytes_;
};

}  // namespace gpupool::server
