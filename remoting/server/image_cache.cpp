#include "remoting/server/image_cache.h"

#include <openssl/sha.h>

#include "remoting/protocol/frame.h"

namespace gpupool::server {

bool ImageCache::Has(std::string_view hash) {
  if (done_.count(hash) != 0) return true;
  if (store_ == nullptr) return false;
  std::optional<std::string> image = store_->Load(hash);
  if (!image || image->size() > max_bytes_ - bytes_) return false;
  bytes_ += image->size();
  done_.emplace(std::string(hash), std::move(*image));
  return true;
}

const std::string* ImageCache::Find(std::string_view hash) const {
  auto it = done_.find(hash);
  return it == done_.end() ? nullptr : &it->second;
}

CUresult ImageCache::Upload(std::string_view hash, std::uint64_t total, std::uint64_t offset,
                            std::string_view chunk) {
  if (hash.size() != protocol::kImageHashBytes || total == 0 || total > protocol::kMaxImageBytes) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (done_.count(hash) != 0) return CUDA_SUCCESS;  // a second upload of a cached image
  std::string& data = partial_[std::string(hash)];
  if (offset != data.size() || chunk.size() > total - offset || chunk.size() > max_bytes_ - bytes_) {
    CUresult why = offset != data.size() || chunk.size() > total - offset ? CUDA_ERROR_INVALID_VALUE
                                                                          : CUDA_ERROR_OUT_OF_MEMORY;
    bytes_ -= data.size();
    partial_.erase(std::string(hash));
    return why;
  }
  bytes_ += chunk.size();
  data.append(chunk);
  if (data.size() < total) return CUDA_SUCCESS;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  auto node = partial_.extract(std::string(hash));
  if (std::string_view(reinterpret_cast<char*>(digest), sizeof digest) != hash) {
    bytes_ -= node.mapped().size();
    return CUDA_ERROR_INVALID_IMAGE;
  }
  if (store_ != nullptr) store_->Save(hash, node.mapped());
  done_.insert(std::move(node));
  return CUDA_SUCCESS;
}

CUresult ImageCache::Insert(std::string image, std::string* hash) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(image.data()), image.size(), digest);
  hash->assign(reinterpret_cast<char*>(digest), sizeof digest);
  if (done_.count(*hash) == 0) {
    if (image.size() > max_bytes_ - bytes_) return CUDA_ERROR_OUT_OF_MEMORY;
    bytes_ += image.size();
    done_.emplace(*hash, std::move(image));
  }
  made_.insert(*hash);
  return CUDA_SUCCESS;
}

const std::string* ImageCache::FindMade(std::string_view hash) const {
  return made_.find(hash) != made_.end() ? Find(hash) : nullptr;
}

}  // namespace gpupool::server
