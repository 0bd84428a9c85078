// ParseCubin: kernels and globals of a CUDA cubin (an ELF64 image, e_machine EM_CUDA = 190).
//
// Kernels are the STT_FUNC symbols marked as entries (st_other 0x10) or having a `.nv.info.<name>`
// section. A kernel's parameter layout comes from the EIATTR_KPARAM_INFO attributes of its
// `.nv.info.<name>` section (ordinal, offset, size) and its buffer size from
// EIATTR_CBANK_PARAM_SIZE; register counts and stack frames from the module-wide `.nv.info`;
// static shared memory from `.nv.shared.<name>`. Globals are STT_OBJECT symbols in `.nv.global*`
// and `.nv.constant*` sections. Kernels that call `vprintf` (device printf), directly or through
// device functions, are found through `.nv.callgraph`; the module's string literals (`$str...` in
// `.nv.global.init`) are their candidate format strings.
//
// Every offset is bounds-checked: a malformed image is an InvalidArgument Status, never a crash.
// Thread-safety: pure function.
#pragma once

#include "common/status.h"
#include "remoting/server/emulated/byte_reader.h"
#include "remoting/server/emulated/module_image.h"

namespace gpupool::server::emulated {

// The SM architecture a cubin was built for (90 for sm_90), from its ELF header; 0 if unknown.
int CubinArch(const ByteReader& elf);
// The cubin's size from its header (the end of the section header table), or 0 if not an ELF.
std::uint64_t CubinSize(const ByteReader& header);
Result<ModuleImage> ParseCubin(const ByteReader& elf);

}  // namespace gpupool::server::emulated
