#include "remoting/client/link_state.h"

#include <algorithm>

#include "remoting/client/api_support.h"
#include "remoting/client/module_loader.h"
#include "remoting/client/rpc.h"
#include "remoting/protocol/frame.h"
#include "remoting/protocol/jit_options.h"

namespace gpupool::client {
namespace {

using protocol::Op;

// The inputs' names joined by NUL within one str (kMaxStringBytes): each is cut to an equal share.
// Names only label the inputs in the logs.
std::string JoinNames(const std::vector<LinkInput>& inputs) {
  const std::size_t share = (protocol::kMaxStringBytes - inputs.size()) / inputs.size();
  std::string joined;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (i > 0) joined.push_back('\0');
    joined.append(inputs[i].name, 0, share);
  }
  return joined;
}

}  // namespace

Registry<LinkState>& LinkStates() {
  static auto* states = new Registry<LinkState>();  // never destroyed: handles may outlive exit
  return *states;
}

CUresult CompleteLink(LinkState& link, std::uint64_t context) {
  if (link.inputs.empty() || link.inputs.size() > protocol::kMaxLinkInputs) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::int32_t> types;
  std::vector<std::uint64_t> hashes;
  for (const LinkInput& input : link.inputs) {
    std::string hash;
    GPUPOOL_CU_RETURN_IF_ERROR(UploadBytes(input.bytes.data(), input.bytes.size(), &hash));
    types.push_back(input.type);
    std::uint64_t words[4];
    static_assert(sizeof words == protocol::kImageHashBytes);
    std::copy_n(hash.data(), sizeof words, reinterpret_cast<char*>(words));
    hashes.insert(hashes.end(), words, words + 4);
  }
  protocol::Call<Op::LinkComplete>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::LinkComplete>(
      context, {link.options.codes(), link.options.values(), types, hashes, JoinNames(link.inputs)}, &reply));
  const auto& [result, after, image_hash, image_size, info, error] = reply;
  if (!link.options.Fill(after, info, error)) return CUDA_ERROR_DEVICE_UNAVAILABLE;  // a broken reply
  if (result != CUDA_SUCCESS) return static_cast<CUresult>(result);
  if (image_hash.size() != protocol::kImageHashBytes || image_size == 0 ||
      image_size > protocol::kMaxImageBytes)
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  return DownloadImage(image_hash, image_size, &link.image);
}

}  // namespace gpupool::client
