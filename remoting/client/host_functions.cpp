#include "remoting/client/host_functions.h"

#include "remoting/client/api_support.h"
#include "remoting/client/server_events.h"

namespace gpupool::client {
namespace {

// Waits until everything sent on the stream so far has run on the server. A latched error of the
// session comes back here; it is latched again on the client for the program's next synchronisation.
CUresult WaitForStream(std::uint64_t context, std::uint64_t wire) {
  std::uint64_t event = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(TakeServerEvent(context, &event));
  CUresult result = Rpc<Op::EventRecord>(context, {event, wire});
  if (result == CUDA_SUCCESS) {
    result = Rpc<Op::EventSynchronize>(context, {event});
    // A latched error is answered instead of synchronising (and cleared): synchronise once more so
    // that the function still runs after the stream's work; the first error is the one reported.
    if (result != CUDA_SUCCESS) (void)Rpc<Op::EventSynchronize>(context, {event});
  }
  GiveServerEvent(context, event);
  return result;
}

}  // namespace

CUresult LaunchHost(CUstream stream, Context* context, std::uint64_t context_id, std::uint64_t wire,
                    const HostCall& call) {
  if (CaptureOf(stream) != nullptr) {
    if (call.fn == nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;  // stream callbacks
    CUresult captured = CUDA_SUCCESS;
    if (CaptureWork(stream, HostWork(call.fn, call.user_data), &captured)) return captured;
  }
  State::Get().order.SubmitHost({context_id, wire}, IsBlocking(stream), [=] {
    State::ContextStack().assign(1, context);  // as the driver's callback thread has it
    const CUresult status = WaitForStream(context_id, wire);
    if (status != CUDA_SUCCESS) State::Get().order.Latch(status);
    if (call.callback != nullptr) {
      call.callback(call.stream, status, call.user_data);
    } else if (status == CUDA_SUCCESS) {
      call.fn(call.user_data);
    }
  });
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
