// ParsePtx: kernels and globals of a PTX text image (PTX-only modules, or a fatbin's PTX entry when
// it carries no sm_90 cubin).
//
// Kernels are the `.entry` directives; a parameter list `(.param .u64 a, .param .align 8 .b8 s[24])`
// is laid out as ptxas does: each parameter at the next multiple of its alignment (`.align N`, else
// its type's size), the buffer ending at the last parameter's end. `.maxntid`/`.reqntid` bound the
// block size. Globals are module-scope `.global`/`.const` variables with their initialisers
// (integers and floats; addresses of other symbols stay zero).
//
// Thread-safety: pure function. Malformed text is an InvalidArgument Status.
#pragma once

#include <string_view>

#include "common/status.h"
#include "remoting/server/emulated/module_image.h"

namespace gpupool::server::emulated {

Result<ModuleImage> ParsePtx(std::string_view text);

}  // namespace gpupool::server::emulated
