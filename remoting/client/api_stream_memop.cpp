// cuStreamWriteValue32/64: a stream-ordered store of one word to device memory, asynchronous on the
// wire like a memset (the server checks the word lies in the session's memory and latches an error).
// Flags and alignment fail at the call, as in CUDA. The waits (cuStreamWaitValue*) and
// cuStreamBatchMemOp stay unsupported: a session's calls run in order on its worker, so a wait
// released by a later call (another thread's write or copy) would stall every call queued behind a
// synchronisation of the waiting stream.
#include "remoting/client/api_support.h"

using namespace gpupool::client;

namespace {

CUresult WriteValue(CUstream stream, CUdeviceptr address, std::uint64_t value, unsigned flags,
                    std::uint32_t width, bool per_thread) {
  if ((flags & ~static_cast<unsigned>(CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER)) != 0 || address % width != 0)
    return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  return SubmitOp(CU_GRAPH_NODE_TYPE_BATCH_MEM_OP, stream, context, id, [=](std::uint64_t on) {
    return Rpc<Op::StreamWriteValue>(context, {on, address, value, flags, width});
  });
}

}  // namespace

// The _v2 entry points (CUDA 11.7) have the same signature and meaning as the originals, which cuda.h
// hides behind macros naming the _v2 ones.
#undef cuStreamWriteValue32
#undef cuStreamWriteValue64
#define GPUPOOL_WRITE_VALUE(symbol, word, width, per_thread)                                          \
  GPUPOOL_API CUresult symbol(CUstream stream, CUdeviceptr address, word value, unsigned int flags) { \
    return WriteValue(stream, address, value, flags, width, per_thread);                              \
  }
GPUPOOL_WRITE_VALUE(cuStreamWriteValue32, cuuint32_t, 4, false)
GPUPOOL_WRITE_VALUE(cuStreamWriteValue32_ptsz, cuuint32_t, 4, true)
GPUPOOL_WRITE_VALUE(cuStreamWriteValue32_v2, cuuint32_t, 4, false)
GPUPOOL_WRITE_VALUE(cuStreamWriteValue32_v2_ptsz, cuuint32_t, 4, true)
GPUPOOL_WRITE_VALUE(cuStreamWriteValue64, cuuint64_t, 8, false)
GPUPOOL_WRITE_VALUE(cuStreamWriteValue64_ptsz, cuuint64_t, 8, true)
GPUPOOL_WRITE_VALUE(cuStreamWriteValue64_v2, cuuint64_t, 8, false)
GPUPOOL_WRITE_VALUE(cuStreamWriteValue64_v2_ptsz, cuuint64_t, 8, true)
#undef GPUPOOL_WRITE_VALUE
