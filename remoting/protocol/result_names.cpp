#include "remoting/client/error_names.h"

namespace gpupool::client {
namespace {

struct ErrorInfo {
  int value;
  const char* name;
  const char* description;
};

constexpr ErrorInfo kErrors[] = {
#define GPUPOOL_CU_ERROR(name, value, description) {value, #name, description},
#include "remoting/client/cuda_errors.def"
#undef GPUPOOL_CU_ERROR
};

const ErrorInfo* Find(CUresult result) {
  for (const ErrorInfo& info : kErrors) {
    if (info.value == static_cast<int>(result)) return &info;
  }
  return nullptr;
}

}  // namespace

const char* ErrorName(CUresult result) {
  const ErrorInfo* info = Find(result);
  return info != nullptr ? info->name : nullptr;
}

const char* ErrorString(CUresult result) {
  const ErrorInfo* info = Find(result);
  return info != nullptr ? info->description : nullptr;
}

}  // namespace gpupool::client
