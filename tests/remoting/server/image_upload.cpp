#include "tests/remoting/server/image_upload.h"

#include <openssl/sha.h>

namespace gpupool::testing {

std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

std::string Upload(TestClient& c, const std::string& image) {
  using protocol::Op;
  std::string hash = Sha256(image);
  std::size_t half = image.size() / 2;
  c.Call<Op::ImageUpload>({hash, image.size(), 0}, std::string_view(image).substr(0, half));
  c.Call<Op::ImageUpload>({hash, image.size(), half}, std::string_view(image).substr(half));
  return hash;
}

}  // namespace gpupool::testing
