// Function attributes and parameter layouts. A CUkernel may stand where a CUfunction
// goes (CUDA allows it); it is resolved to its function in the current context.
#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"

using namespace gpupool::client;

namespace {

// The name of a function or kernel, asked of the worker once.
CUresult NameOf(Function* function, const char** name) {
  std::call_once(function->name_once, [function] {
    if (function->kernel) {
      protocol::Call<Op::KernelGetName>::Reply reply;
      function->name_result = Rpc<Op::KernelGetName>(0, {function->id}, &reply);
      function->name = std::get<0>(reply);
    } else {
      protocol::Call<Op::FuncGetName>::Reply reply;
      function->name_result = Rpc<Op::FuncGetName>(0, {function->id}, &reply);
      function->name = std::get<0>(reply);
    }
  });
  if (function->name_result == CUDA_SUCCESS) *name = function->name.c_str();
  return function->name_result;
}

}  // namespace

GPUPOOL_API CUresult cuFuncGetName(const char** name, CUfunction handle) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Function* function = FindFunction(handle);
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return NameOf(function, name);
}

GPUPOOL_API CUresult cuKernelGetName(const char** name, CUkernel handle) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Function* kernel = FindFunction(handle);
  if (kernel == nullptr || !kernel->kernel) return CUDA_ERROR_INVALID_HANDLE;
  return NameOf(kernel, name);
}

GPUPOOL_API CUresult cuFuncGetAttribute(int* value, CUfunction_attribute attribute, CUfunction handle) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ResolveFunction(handle, &context, &id));
  protocol::Call<Op::FuncGetAttribute>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::FuncGetAttribute>(context, {static_cast<std::int32_t>(attribute), id}, &reply));
  *value = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuFuncSetAttribute(CUfunction handle, CUfunction_attribute attribute, int value) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ResolveFunction(handle, &context, &id));
  return Rpc<Op::FuncSetAttribute>(context, {id, static_cast<std::int32_t>(attribute), value});
}

GPUPOOL_API CUresult cuFuncSetCacheConfig(CUfunction handle, CUfunc_cache config) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ResolveFunction(handle, &context, &id));
  return Rpc<Op::FuncSetCacheConfig>(context, {id, static_cast<std::int32_t>(config)});
}

GPUPOOL_API CUresult cuFuncGetParamInfo(CUfunction handle, size_t index, size_t* offset, size_t* size) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Function* function = FindFunction(handle);
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  GPUPOOL_CU_RETURN_IF_ERROR(FetchLayout(function));
  if (index >= function->offsets.size()) return CUDA_ERROR_INVALID_VALUE;
  if (offset != nullptr) *offset = function->offsets[index];
  if (size != nullptr) *size = function->sizes[index];
  return CUDA_SUCCESS;
}
