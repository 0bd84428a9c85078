// How many bytes a module image passed to cuModuleLoadData / cuLibraryLoadData spans. The driver
// API passes images without a size, so the client reads it from the image's own header before it
// sends the bytes (a fatbin wrapper is followed to the fatbin it points to):
//   fatbin wrapper (u32 0x466243b1, u32 version, const void* fatbin, ...) -> the fatbin
//   fatbin        (u32 0xba55ed50, u16 version, u16 header size, u64 payload size) -> header + payload
//   ELF (cubin)   max(end of section header table, end of program header table)
//   PTX           NUL-terminated text, the NUL included
//
// Thread-safety: pure functions. The image must be readable memory of the caller.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace gpupool::client {

struct ImageSpan {
  const void* data = nullptr;  // the wrapper's fatbin when the input was a wrapper
  std::size_t size = 0;
};

Result<ImageSpan> FindImageSpan(const void* image);

}  // namespace gpupool::client
