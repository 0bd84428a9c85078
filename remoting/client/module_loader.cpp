#include "remoting/client/module_loader.h"

#include <openssl/sha.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "common/env_switch.h"
#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/client/fatbin_trim.h"
#include "remoting/client/image_size.h"
#include "remoting/client/rpc.h"

namespace gpupool::client {

using protocol::Op;

namespace {

// GPUPOOL_FATBIN_TRIM=off (or 0) sends fatbins whole, as the program holds them.
bool TrimWanted() {
  static const bool wanted = EnvSwitchOn("GPUPOOL_FATBIN_TRIM");
  return wanted;
}

// The compute capabilities of the session's GPUs, which decide what a fatbin keeps.
std::vector<GpuArch> SessionArchs() {
  std::vector<GpuArch> archs;
  State& state = State::Get();
  for (int i = 0; i < state.device_count(); ++i) {
    const Device* device = state.device(i);
    archs.push_back({device->attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR],
                     device->attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR]});
  }
  return archs;
}

}  // namespace

CUresult UploadImage(const void* image, std::string* hash) {
  auto span = FindImageSpan(image);
  if (!span.ok()) {
    GPUPOOL_LOG(kWarn) << "module image rejected: " << span.status().ToString();
    return CUDA_ERROR_INVALID_IMAGE;
  }
  if (TrimWanted()) {
    const std::vector<GpuArch> archs = SessionArchs();
    if (std::optional<std::string> trimmed = TrimFatbin(span->data, span->size, archs)) {
      GPUPOOL_LOG(kDebug) << "fatbin of " << span->size << " bytes trimmed to the " << trimmed->size()
                          << " this server's GPUs can use";
      return UploadBytes(trimmed->data(), trimmed->size(), hash);
    }
  }
  return UploadBytes(span->data, span->size, hash);
}

CUresult UploadBytes(const void* data, std::size_t size, std::string* hash) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(static_cast<const unsigned char*>(data), size, digest);
  hash->assign(reinterpret_cast<const char*>(digest), sizeof digest);
  protocol::Call<Op::ImageQuery>::Reply held;
  CUresult result = Rpc<Op::ImageQuery>(0, {*hash}, &held);
  if (result != CUDA_SUCCESS || std::get<0>(held) != 0) return result;
  GPUPOOL_LOG(kDebug) << "uploading a " << size << "-byte image to the server";
  const char* bytes = static_cast<const char*>(data);
  for (std::size_t offset = 0; offset < size; offset += protocol::kChunkSize) {
    const std::size_t n = std::min(protocol::kChunkSize, size - offset);
    iovec chunk{const_cast<char*>(bytes + offset), n};
    result = Rpc<Op::ImageUpload>(0, {*hash, size, offset}, nullptr, Tail{&chunk, 1});
    if (result != CUDA_SUCCESS) return result;
  }
  return CUDA_SUCCESS;
}

CUresult DownloadImage(const std::string& hash, std::uint64_t size, std::string* image) {
  image->assign(size, '\0');
  for (std::size_t offset = 0; offset < size; offset += protocol::kChunkSize) {
    Pending pending;
    pending.tail = image->data() + offset;
    pending.tail_size = std::min<std::size_t>(protocol::kChunkSize, size - offset);
    CUresult result = Begin<Op::ImageDownload>(0, {hash, offset, pending.tail_size}, &pending);
    if (result == CUDA_SUCCESS) result = Finish<Op::ImageDownload>(&pending, nullptr);
    if (result != CUDA_SUCCESS) return result;
  }
  return CUDA_SUCCESS;
}

CUresult LoadModuleData(const void* image, CUmodule* module, const JitOptions* options) {
  if (image == nullptr || module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  State& state = State::Get();
  CUresult result = state.Ready();
  std::uint64_t context = 0;
  if (result == CUDA_SUCCESS) result = state.CurrentId(&context);
  std::string hash;
  if (result == CUDA_SUCCESS) result = UploadImage(image, &hash);
  if (result != CUDA_SUCCESS) return result;
  std::uint64_t id = 0;
  if (options == nullptr) {
    protocol::Call<Op::ModuleLoadData>::Reply loaded;
    GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ModuleLoadData>(context, {hash}, &loaded));
    id = std::get<0>(loaded);
  } else {
    protocol::Call<Op::ModuleLoadDataEx>::Reply loaded;
    GPUPOOL_CU_RETURN_IF_ERROR(
        Rpc<Op::ModuleLoadDataEx>(context, {hash, options->codes(), options->values()}, &loaded));
    const auto& [load_result, loaded_id, after, info, error] = loaded;
    if (!options->Fill(after, info, error))
      return CUDA_ERROR_DEVICE_UNAVAILABLE;  // a reply that breaks the protocol
    if (load_result != CUDA_SUCCESS) return static_cast<CUresult>(load_result);
    id = loaded_id;
  }
  auto object = std::make_unique<Module>();
  object->id = id;
  object->context = State::Current();
  *module = reinterpret_cast<CUmodule>(state.modules.Add(std::move(object)));
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
