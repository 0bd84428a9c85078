#include "remoting/client/module_loader.h"

#include <openssl/sha.h>

#include <algorithm>

#include "common/log.h"
#include "remoting/client/image_size.h"
#include "remoting/client/rpc.h"

namespace gpupool::client {

using protocol::Op;

CUresult UploadImage(const void* image, std::string* hash) {
  auto span = FindImageSpan(image);
  if (!span.ok()) {
    GPUPOOL_LOG(kWarn) << "module image rejected: " << span.status().ToString();
    return CUDA_ERROR_INVALID_IMAGE;
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(static_cast<const unsigned char*>(span->data), span->size, digest);
  hash->assign(reinterpret_cast<const char*>(digest), sizeof digest);
  protocol::Call<Op::ImageQuery>::Reply held;
  CUresult result = Rpc<Op::ImageQuery>(0, {*hash}, &held);
  if (result != CUDA_SUCCESS || std::get<0>(held) != 0) return result;
  GPUPOOL_LOG(kDebug) << "uploading a " << span->size << "-byte image to the server";
  const char* bytes = static_cast<const char*>(span->data);
  for (std::size_t offset = 0; offset < span->size; offset += protocol::kChunkSize) {
    const std::size_t n = std::min(protocol::kChunkSize, span->size - offset);
    iovec chunk{const_cast<char*>(bytes + offset), n};
    result = Rpc<Op::ImageUpload>(0, {*hash, span->size, offset}, nullptr, Tail{&chunk, 1});
    if (result != CUDA_SUCCESS) return result;
  }
  return CUDA_SUCCESS;
}

CUresult LoadModuleData(const void* image, CUmodule* module) {
  if (image == nullptr || module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  State& state = State::Get();
  CUresult result = state.Ready();
  std::uint64_t context = 0;
  if (result == CUDA_SUCCESS) result = state.CurrentId(&context);
  std::string hash;
  if (result == CUDA_SUCCESS) result = UploadImage(image, &hash);
  protocol::Call<Op::ModuleLoadData>::Reply loaded;
  if (result == CUDA_SUCCESS) result = Rpc<Op::ModuleLoadData>(context, {hash}, &loaded);
  if (result != CUDA_SUCCESS) return result;
  auto object = std::make_unique<Module>();
  object->id = std::get<0>(loaded);
  object->context = State::Current();
  *module = reinterpret_cast<CUmodule>(state.modules.Add(std::move(object)));
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
