// The functions behind the served tables' slots, declared from export_tables.def as
// <TableId>_<slot name> with the ABI the CUDA runtime calls them with. They are defined in
// slots_<table>.cpp and reach the process's DarkApi (dark_api.h) through DarkApi::Active().
//
// Thread-safety: every slot may be called from any thread, concurrently.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>

namespace gpupool::dark_api {

// What CONTEXT_LOCAL_STORAGE's put receives and calls when the context is destroyed or reset.
using ContextStorageDestructor = void (*)(CUcontext context, void* key, void* value);
// What MODULE_WALK's slot 7 calls once per function of a module.
using ModuleFunctionCallback = void (*)(void* user, CUfunction function);

namespace slots {

#define GPUPOOL_DARK_TABLE(id, name, uuid, slots, disposition)
#define GPUPOOL_DARK_SIZE(id)
#define GPUPOOL_DARK_SLOT(id, index, name, ret, params, evidence) ret id##_##name params;
#include "remoting/client/dark_api/export_tables.def"
#undef GPUPOOL_DARK_TABLE
#undef GPUPOOL_DARK_SIZE
#undef GPUPOOL_DARK_SLOT

}  // namespace slots
}  // namespace gpupool::dark_api
