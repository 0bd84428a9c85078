// ImageCache: module and library images a session uploaded, by SHA-256 (docs/protocol.md,
// "Images"). Chunks arrive in order; the last one completes the image, which is kept only when its
// hash matches, and saved to the server's ImageStore (image_store.h) when there is one, where other
// sessions find it.
//
// Thread-safety: none; one worker thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "remoting/server/image_store.h"

namespace gpupool::server {

class ImageCache {
 public:
  // `max_bytes` bounds what one session may keep (complete and partial images together), so a client
  // uploading endlessly exhausts its own limit, not the host's memory.
  explicit ImageCache(std::uint64_t max_bytes = 4ull << 30) : max_bytes_(max_bytes) {}
  // Images are also looked up in, and saved to, `store` (may be null: this session's images only).
  void set_store(const ImageStore* store) { store_ = store; }
  // Whether the image is here, or in the store (then it is loaded here, within the session's limit).
  bool Has(std::string_view hash);
  // Bytes held, complete and partial images together.
  std::uint64_t bytes() const { return bytes_; }
  // The complete image, or null.
  const std::string* Find(std::string_view hash) const;
  // Appends a chunk at `offset` of an image of `total` bytes. Errors: a chunk out of order, past
  // `total`, a total over the limit, or a finished image whose SHA-256 differs from `hash`; a chunk
  // past the session's cache limit is CUDA_ERROR_OUT_OF_MEMORY.
  CUresult Upload(std::string_view hash, std::uint64_t total, std::uint64_t offset, std::string_view chunk);
  // Keeps an image the worker made (a linked cubin), this session's only; its SHA-256 in *hash.
  // CUDA_ERROR_OUT_OF_MEMORY past the session's limit.
  CUresult Insert(std::string image, std::string* hash);
  // An image this session's worker made (Insert), or null. Only these may be downloaded: an uploaded
  // image, or one from the store, may be another tenant's code, known here by its hash alone.
  const std::string* FindMade(std::string_view hash) const;

 private:
  std::map<std::string, std::string, std::less<>> done_;
  std::map<std::string, std::string, std::less<>> partial_;
  std::set<std::string, std::less<>> made_;  // hashes of images Insert kept
  const ImageStore* store_ = nullptr;
  std::uint64_t max_bytes_;
  std::uint64_t bytes_ = 0;  // held in done_ and partial_
};

}  // namespace gpupool::server
