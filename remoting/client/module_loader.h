// Module and library images to the server: the image's extent (image_size.h), its SHA-256, and the
// bytes only when the server does not hold that hash yet (ImageQuery, then ImageUpload in chunks);
// linked images back from it (ImageDownload).
//
// Thread-safety: safe from any thread.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "remoting/client/jit_options.h"

namespace gpupool::client {

// Makes sure the server holds `image`; its SHA-256 (32 raw bytes) in *hash.
CUresult UploadImage(const void* image, std::string* hash);
// The same for `size` bytes of any kind (a JIT link's inputs).
CUresult UploadBytes(const void* data, std::size_t size, std::string* hash);
// The `size` bytes of an image the server holds (a linked cubin), into *image.
CUresult DownloadImage(const std::string& hash, std::uint64_t size, std::string* image);
// cuModuleLoadData in the current context (also used by the dark API host); with `options`,
// cuModuleLoadDataEx: the options travel, the outputs are filled from the reply (jit_options.h).
CUresult LoadModuleData(const void* image, CUmodule* module, const JitOptions* options = nullptr);

}  // namespace gpupool::client
