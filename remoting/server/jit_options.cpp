#include "remoting/server/jit_options.h"

#include <algorithm>
#include <cstring>

#include "remoting/protocol/jit_options_check.h"

namespace gpupool::server {

using protocol::kMaxJitLogBytes;

CUresult JitOptions::Parse(const std::vector<std::int32_t>& codes, const std::vector<std::uint64_t>& values) {
  if (codes.size() != values.size() || codes.size() > protocol::kMaxJitOptions)
    return CUDA_ERROR_INVALID_VALUE;
  for (std::int32_t code : codes) {
    if (!protocol::JitOptionTravels(code)) return CUDA_ERROR_INVALID_VALUE;
  }
  // Reserved up front: AttachLog adds at most two entries, and the arrays must not move afterwards.
  options_.reserve(codes.size() + 2);
  values_.reserve(codes.size() + 2);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    options_.push_back(static_cast<CUjit_option>(codes[i]));
    values_.push_back(reinterpret_cast<void*>(static_cast<std::uintptr_t>(values[i])));
  }
  client_count_ = codes.size();
  for (std::size_t i = 0; i < client_count_; ++i) {
    if (options_[i] == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES) AttachLog(i, CU_JIT_INFO_LOG_BUFFER, &info_);
    if (options_[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) AttachLog(i, CU_JIT_ERROR_LOG_BUFFER, &error_);
    if (options_[i] == CU_JIT_WALL_TIME) values_[i] = nullptr;  // an output only
  }
  return CUDA_SUCCESS;
}

void JitOptions::AttachLog(std::size_t size_index, CUjit_option buffer_option, std::string* buffer) {
  // The option's value is an unsigned int stored in the slot, as the driver reads it.
  const auto asked = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(values_[size_index]));
  const std::size_t size = std::min<std::size_t>(asked, kMaxJitLogBytes);
  values_[size_index] = reinterpret_cast<void*>(static_cast<std::uintptr_t>(size));
  if (size == 0 || !buffer->empty()) return;  // a repeated option keeps the first buffer
  buffer->assign(size, '\0');
  options_.push_back(buffer_option);
  values_.push_back(buffer->data());
}

std::vector<std::uint64_t> JitOptions::ValuesAfter() const {
  std::vector<std::uint64_t> after;
  after.reserve(client_count_);
  for (std::size_t i = 0; i < client_count_; ++i)
    after.push_back(reinterpret_cast<std::uintptr_t>(values_[i]));
  return after;
}

std::string JitOptions::Log(const std::string& buffer) {
  // At most size - 1 bytes, whether or not the driver NUL-terminated what it wrote.
  const std::size_t limit = buffer.empty() ? 0 : buffer.size() - 1;
  return std::string(buffer.data(), strnlen(buffer.data(), limit));
}

}  // namespace gpupool::server
