#include "remoting/client/functions.h"

#include "remoting/client/rpc.h"

namespace gpupool::client {

using protocol::Op;

Function* FindFunction(const void* handle) {
  return State::Get().functions.Find(handle);
}

Function* AddFunction(std::uint64_t id, bool kernel, Module* module, Library* library) {
  auto object = std::make_unique<Function>();
  object->id = id;
  object->kernel = kernel;
  object->module = module;
  object->library = library;
  return State::Get().functions.Add(std::move(object));
}

CUresult FunctionId(Function* function, std::uint64_t* id) {
  if (!function->kernel) {
    *id = function->id;
    return CUDA_SUCCESS;
  }
  std::call_once(function->function_once, [function] {
    protocol::Call<Op::KernelGetFunction>::Reply reply;
    std::uint64_t context = 0;
    function->function_result = State::Get().CurrentId(&context);
    if (function->function_result == CUDA_SUCCESS) {
      function->function_result = Rpc<Op::KernelGetFunction>(context, {function->id}, &reply);
    }
    function->function_id = std::get<0>(reply);
  });
  *id = function->function_id;
  return function->function_result;
}

CUresult ResolveFunction(const void* handle, std::uint64_t* context, std::uint64_t* id) {
  if (CUresult r = State::Get().Ready(); r != CUDA_SUCCESS) return r;
  if (CUresult r = State::Get().CurrentId(context); r != CUDA_SUCCESS) return r;
  Function* function = FindFunction(handle);
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return FunctionId(function, id);
}

CUresult FetchLayout(Function* function) {
  std::call_once(function->layout_once, [function] {
    if (function->kernel) {
      protocol::Call<Op::KernelGetParamLayout>::Reply reply;
      function->layout_result = Rpc<Op::KernelGetParamLayout>(0, {function->id}, &reply);
      function->offsets = std::move(std::get<0>(reply));
      function->sizes = std::move(std::get<1>(reply));
    } else {
      protocol::Call<Op::FuncGetParamLayout>::Reply reply;
      function->layout_result = Rpc<Op::FuncGetParamLayout>(0, {function->id}, &reply);
      function->offsets = std::move(std::get<0>(reply));
      function->sizes = std::move(std::get<1>(reply));
    }
    if (function->layout_result == CUDA_SUCCESS && function->offsets.size() != function->sizes.size()) {
      function->layout_result = CUDA_ERROR_INVALID_IMAGE;
    }
  });
  return function->layout_result;
}

}  // namespace gpupool::client
