// Handlers: module and library loads with JIT options, JIT linking, image downloads (docs/protocol.md,
// "JIT"). A link runs whole in one call (create, add every input from the image cache, complete, destroy):
// the client keeps the link state, so nothing of a link outlives its request here except the linked
// image, which goes into the session's image cache, where ImageDownload reads it and a later
// cuModuleLoadData of it finds it without an upload.
#include <cstring>
#include <string_view>

#include "common/log.h"
#include "remoting/protocol/frame.h"
#include "remoting/protocol/jit_options.h"
#include "remoting/server/dispatch.h"
#include "remoting/server/image_check.h"
#include "remoting/server/jit_options.h"

namespace gpupool::server {
namespace {

struct LinkInput {
  CUjitInputType type;
  const std::string* bytes;
  std::string name;
};

// The request's inputs, checked: a type cuda.h defines, an image the session holds for each
// 4-word hash, and one name per input.
CUresult LinkInputs(Session& s, const std::vector<std::int32_t>& types,
                    const std::vector<std::uint64_t>& words, const std::string& names,
                    std::vector<LinkInput>* inputs) {
  if (types.empty() || types.size() > protocol::kMaxLinkInputs || words.size() != types.size() * 4)
    return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::string> split(1);
  for (char c : names) {
    if (c == '\0') {
      split.emplace_back();
    } else {
      split.back().push_back(c);
    }
  }
  if (split.size() != types.size()) return CUDA_ERROR_INVALID_VALUE;
  for (std::size_t i = 0; i < types.size(); ++i) {
    LinkInput input{};
    if (CUresult r = ClientEnum(types[i], 0, protocol::kJitNumInputTypes, &input.type); r != CUDA_SUCCESS)
      return r;
    std::string hash(protocol::kImageHashBytes, '\0');
    std::memcpy(hash.data(), &words[i * 4], hash.size());
    input.bytes = s.images.Find(hash);
    if (input.bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    input.name = std::move(split[i]);
    inputs->push_back(std::move(input));
  }
  return CUDA_SUCCESS;
}

// The driver reads a cubin's or fatbin's own offsets, so those are checked for completeness first
// (image_check.h); a broken one fails the link with the reason in the error log.
CUresult CheckInput(const LinkInput& input, std::string* error_log) {
  if (input.type != CU_JIT_INPUT_CUBIN && input.type != CU_JIT_INPUT_FATBINARY) return CUDA_SUCCESS;
  if (CheckImage(*input.bytes) == CUDA_SUCCESS) return CUDA_SUCCESS;
  *error_log = "gpupool: input '" + input.name + "' is not a complete " +
               (input.type == CU_JIT_INPUT_CUBIN ? "cubin" : "fatbin") + " image";
  return CUDA_ERROR_INVALID_IMAGE;
}

// Creates, fills and completes a link in the driver; the linked image into *image.
CUresult RunLink(Session& s, JitOptions& options, const std::vector<LinkInput>& inputs, std::string* image,
                 std::string* error_log) {
  for (const LinkInput& input : inputs) {
    if (CUresult r = CheckInput(input, error_log); r != CUDA_SUCCESS) return r;
  }
  CUlinkState state = nullptr;
  CUresult r =
      GPUPOOL_DRIVER(s, cuLinkCreate_v2, options.count(), options.options(), options.values(), &state);
  if (r != CUDA_SUCCESS) return r;
  for (const LinkInput& input : inputs) {
    r = GPUPOOL_DRIVER(s, cuLinkAddData_v2, state, input.type, const_cast<char*>(input.bytes->data()),
                       input.bytes->size(), input.name.c_str(), 0, nullptr, nullptr);
    if (r != CUDA_SUCCESS) break;
  }
  void* cubin = nullptr;
  std::size_t size = 0;
  if (r == CUDA_SUCCESS) r = GPUPOOL_DRIVER(s, cuLinkComplete, state, &cubin, &size);
  if (r == CUDA_SUCCESS) {
    if (cubin == nullptr || size == 0)
      r = CUDA_ERROR_INVALID_IMAGE;
    else
      image->assign(static_cast<const char*>(cubin), size);
  }
  (void)GPUPOOL_DRIVER(s, cuLinkDestroy, state);
  return r;
}

// A load's image (complete, held by the session) and its options, checked.
CUresult ImageWithOptions(Session& s, std::string_view hash, const std::vector<std::int32_t>& codes,
                          const std::vector<std::uint64_t>& values, const std::string** image,
                          JitOptions* options) {
  *image = s.images.Find(hash);
  if (*image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckImage(**image); r != CUDA_SUCCESS) return r;
  return options->Parse(codes, values);
}

}  // namespace

GPUPOOL_HANDLER(ModuleLoadDataEx) {
  const auto& [hash, codes, values] = in;
  const std::string* image = nullptr;
  JitOptions options;
  if (CUresult r = ImageWithOptions(s, hash, codes, values, &image, &options); r != CUDA_SUCCESS) return r;
  CUmodule module = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuModuleLoadDataEx, &module, image->data(), options.count(),
                              options.options(), options.values());
  std::uint64_t id = 0;
  if (r == CUDA_SUCCESS) {
    id = s.modules.Add(module);
    s.loaded_modules.insert(id);
  }
  *out = {r, id, options.ValuesAfter(), options.InfoLog(), options.ErrorLog()};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(LibraryLoadDataEx) {
  const auto& [hash, codes, values] = in;
  const std::string* image = nullptr;
  JitOptions options;
  if (CUresult r = ImageWithOptions(s, hash, codes, values, &image, &options); r != CUDA_SUCCESS) return r;
  CUlibrary library = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuLibraryLoadData, &library, image->data(), options.options(),
                              options.values(), options.count(), nullptr, nullptr, 0);
  const std::uint64_t id = r == CUDA_SUCCESS ? s.libraries.Add(library) : 0;
  *out = {r, id, options.ValuesAfter(), options.InfoLog(), options.ErrorLog()};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(LinkComplete) {
  const auto& [codes, values, types, hashes, names] = in;
  JitOptions options;
  if (CUresult r = options.Parse(codes, values); r != CUDA_SUCCESS) return r;
  std::vector<LinkInput> inputs;
  if (CUresult r = LinkInputs(s, types, hashes, names, &inputs); r != CUDA_SUCCESS) return r;
  std::string image, image_hash, own_error;
  CUresult r = RunLink(s, options, inputs, &image, &own_error);
  const std::uint64_t size = image.size();
  if (r == CUDA_SUCCESS) r = s.images.Insert(std::move(image), &image_hash);
  if (r != CUDA_SUCCESS) image_hash.clear();
  std::string error_log = own_error.empty() ? options.ErrorLog() : own_error;
  if (error_log.size() >= protocol::kMaxJitLogBytes) error_log.resize(protocol::kMaxJitLogBytes - 1);
  if (r != CUDA_SUCCESS) {
    GPUPOOL_LOG(kDebug) << "link failed (" << r << "): " << error_log;
  }
  *out = {r, options.ValuesAfter(), image_hash, r == CUDA_SUCCESS ? size : 0, options.InfoLog(), error_log};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(ImageDownload) {
  const auto& [hash, offset, size] = in;
  const std::string* image = s.images.FindMade(hash);  // never another tenant's upload
  if (image == nullptr || size > protocol::kChunkSize || offset > image->size() ||
      size > image->size() - offset)
    return CUDA_ERROR_INVALID_VALUE;
  s.reply_tail = std::string_view(*image).substr(offset, size);
  return CUDA_SUCCESS;
}

}  // namespace gpupool::server
