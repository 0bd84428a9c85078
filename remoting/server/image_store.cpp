#include "remoting/server/image_store.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/log.h"

namespace gpupool::server {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kHexNameLength = 2 * SHA256_DIGEST_LENGTH;

std::string Hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

bool IsImageName(const std::string& name) {
  return name.size() == kHexNameLength && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

Status ImageStore::Prepare(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return Status::InvalidArgument("--image-cache-dir " + dir + ": " + error.message());
  ::chmod(dir.c_str(), 0700);  // images are the tenants' code
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::InvalidArgument("--image-cache-dir " + dir + " is not writable");
  }
  return Status::Ok();
}

std::string ImageStore::PathOf(std::string_view hash) const {
  return dir_ + "/" + Hex(hash);
}

std::optional<std::string> ImageStore::Load(std::string_view hash) const {
  if (hash.size() != SHA256_DIGEST_LENGTH) return std::nullopt;
  const std::string path = PathOf(hash);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  std::string image = bytes.str();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(image.data()), image.size(), digest);
  if (std::string_view(reinterpret_cast<const char*>(digest), sizeof digest) != hash) {
    GPUPOOL_LOG(kWarn) << "image cache: " << path << " does not match its name; removed";
    ::unlink(path.c_str());
    return std::nullopt;
  }
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // recently used: trimmed last
  return image;
}

void ImageStore::Save(std::string_view hash, const std::string& image) const {
  if (hash.size() != SHA256_DIGEST_LENGTH || image.size() > max_bytes_) return;
  const std::string path = PathOf(hash);
  if (::access(path.c_str(), F_OK) == 0) return;  // another session saved it first
  const std::string temporary = dir_ + "/.tmp-" + std::to_string(::getpid()) + "-" + Hex(hash);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    if (!out) {
      GPUPOOL_LOG(kWarn) << "image cache: cannot write " << temporary;
      ::unlink(temporary.c_str());
      return;
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    GPUPOOL_LOG(kWarn) << "image cache: cannot rename " << temporary << " to " << path;
    ::unlink(temporary.c_str());
    return;
  }
  Trim();
}

void ImageStore::Trim() const {
  struct Entry {
    fs::path path;
    std::uint64_t bytes;
    fs::file_time_type used;
  };
  std::vector<Entry> entries;
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto& file : fs::directory_iterator(dir_, error)) {
    std::error_code e;
    if (!file.is_regular_file(e) || !IsImageName(file.path().filename().string())) continue;
    const std::uint64_t bytes = file.file_size(e);
    const fs::file_time_type used = file.last_write_time(e);
    if (e) continue;  // removed meanwhile by another worker
    entries.push_back({file.path(), bytes, used});
    total += bytes;
  }
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
  for (const Entry& entry : entries) {
    if (total <= max_bytes_) break;
    std::error_code e;
    if (fs::remove(entry.path, e)) total -= entry.bytes;
  }
}

}  // namespace gpupool::server
