// Device printf on the emulated device. Kernels are not run, so there are no printf arguments to
// format; instead a launch of a kernel that calls vprintf (cubin.h) queues one line per format
// string of its module,
//   [emulated printf] kernel <symbol>: <format string, unformatted, without its final newline>
// in the launching context's printf FIFO, and the next synchronisation writes the queued lines to
// the process's stdout through stdio, as the CUDA driver writes device printf text. As on a GPU,
// the FIFO holds at most CU_LIMIT_PRINTF_FIFO_SIZE bytes (of text here, of argument records there);
// lines that do not fit are lost. Synchronisations: context, stream and event synchronize, blocking
// copies, module unload and context destruction. The FIFO is at most kMaxPrintfFifo bytes.
//
// Thread-safety: both expect GetState().mu held.
#pragma once

#include "remoting/server/emulated/state.h"

namespace gpupool::server::emulated {

// The largest CU_LIMIT_PRINTF_FIFO_SIZE the emulated device accepts (CUDA_ERROR_OUT_OF_MEMORY beyond).
inline constexpr std::size_t kMaxPrintfFifo = 256u << 20;

// A launch of `f` in `ctx` (validated): queues its lines when it calls printf.
void QueuePrintf(Context* ctx, const Function& f);
// A synchronisation of `ctx`: writes its queued lines to stdout and empties the FIFO.
void FlushPrintf(Context* ctx);

}  // namespace gpupool::server::emulated
