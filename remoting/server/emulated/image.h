// ParseModuleImage: what cuModuleLoadData, cuModuleLoadFatBinary and cuLibraryLoadData receive,
// turned into a ModuleImage.
//
// Accepted images, told apart by their first bytes:
//   - a fatbin wrapper (u32 magic 0x466243b1, then version, then a pointer to the container: the
//     pointer is followed, as libcuda does; a worker must not pass client bytes in this form);
//   - a fatbin container (u32 magic 0xba55ed50, u16 version, u16 header size, u64 entries size),
//     whose entries (u16 kind 1=PTX 2=ELF, u32 header size, u64 payload size, u32 arch at 28,
//     u32 compressed size at 16, u64 flags at 40, u64 decompressed size at 56) hold cubins and PTX:
//     the sm_90 cubin is used, else the PTX of the highest arch <= 90; compressed entries are
//     decompressed: zstd (flag 0x8000, nvcc's default for PTX) and LZ4 (0x2000, cuFFT's images);
//   - a cubin (ELF, cubin.h) for sm_90;
//   - PTX text, NUL-terminated (ptx.h).
// The API gives no size, so sizes come from the headers; every read stays inside them.
//
// Thread-safety: pure function.
#pragma once

#include <cuda.h>

#include <string>

#include "remoting/server/emulated/module_image.h"

namespace gpupool::server::emulated {

inline constexpr int kEmulatedArch = 90;

// CUDA_SUCCESS, or CUDA_ERROR_INVALID_IMAGE / INVALID_PTX / NO_BINARY_FOR_GPU with `error` saying why.
CUresult ParseModuleImage(const void* image, ModuleImage* out, std::string* error);

}  // namespace gpupool::server::emulated
