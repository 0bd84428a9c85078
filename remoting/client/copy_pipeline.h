// Many requests of one call in flight: what makes a chunked copy stream at link speed instead of
// paying a round trip per chunk. 1D copies (copy_engine.cpp) and 2D copies (api_copy_2d.cpp) both
// go through Windowed.
//
// Thread-safety: as Session.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <deque>

#include "remoting/client/rpc.h"

namespace gpupool::client {

// Requests in flight per copy: enough to fill a fast link, few enough that the server's small
// replies never fill our receive buffer while we are still sending.
constexpr std::size_t kCopyWindow = 32;

// Sends requests 0 to count - 1 of `op`, keeping at most `window` unanswered. Item is the caller's
// per-request state and has a `Pending pending` member: begin(item, i) fills it and sends request i;
// end(item) runs for each request, oldest first, once its reply came back successfully. After the
// first error nothing more is sent and no end() runs; the replies in flight are still collected
// (the session stays in step) and the first error is returned.
template <protocol::Op op, typename Item, typename BeginFn, typename EndFn>
CUresult Windowed(std::size_t count, std::size_t window, BeginFn begin, EndFn end) {
  std::deque<Item> in_flight;
  CUresult first_error = CUDA_SUCCESS;
  auto finish_oldest = [&] {
    const CUresult r = Finish<op>(&in_flight.front().pending, nullptr);
    if (r == CUDA_SUCCESS && first_error == CUDA_SUCCESS) end(in_flight.front());
    if (first_error == CUDA_SUCCESS) first_error = r;
    in_flight.pop_front();
  };
  for (std::size_t i = 0; i < count && first_error == CUDA_SUCCESS; ++i) {
    if (in_flight.size() == window) finish_oldest();
    Item& item = in_flight.emplace_back();
    if (const CUresult r = begin(item, i); r != CUDA_SUCCESS) {
      in_flight.pop_back();
      first_error = r;
    }
  }
  while (!in_flight.empty()) finish_oldest();
  return first_error;
}

}  // namespace gpupool::client
