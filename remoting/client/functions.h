// What launches need to know about a CUfunction or CUkernel, fetched from the server once and
// cached on the Function: the function id (a kernel's function in the current context) and the
// parameter layout (offset and size of every parameter, from the server's cuFuncGetParamInfo).
//
// Thread-safety: safe from any thread (std::call_once per Function).
#pragma once

#include <cuda.h>

#include "remoting/client/state.h"

namespace gpupool::client {

// The live Function behind a CUfunction or CUkernel handle, or null.
Function* FindFunction(const void* handle);
// With a current context (its server id in *context), the server function id of `handle`.
CUresult ResolveFunction(const void* handle, std::uint64_t* context, std::uint64_t* id);
// The server function id to launch.
CUresult FunctionId(Function* function, std::uint64_t* id);
// Fills function->offsets/sizes once; returns the (cached) result.
CUresult FetchLayout(Function* function);
// Registers a new Function for a server id.
Function* AddFunction(std::uint64_t id, bool kernel, Module* module, Library* library = nullptr);

}  // namespace gpupool::client
