// Module and library images to the server: the image's extent (image_size.h), its SHA-256, and the
// bytes only when the server does not hold that hash yet (ImageQuery, then ImageUpload in chunks).
//
// Thread-safety: safe from any thread.
#pragma once

#include <cuda.h>

#include <string>

namespace gpupool::client {

// Makes sure the server holds `image`; its SHA-256 (32 raw bytes) in *hash.
CUresult UploadImage(const void* image, std::string* hash);
// cuModuleLoadData in the current context (also used by the dark API host).
CUresult LoadModuleData(const void* image, CUmodule* module);

}  // namespace gpupool::client
