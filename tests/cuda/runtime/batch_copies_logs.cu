// cudaMemcpyBatchAsync, cudaMemcpy3DBatchAsync and the error log (cudaLogs*) through the runtime, which
// reaches the driver's cuMemcpyBatchAsync, cuMemcpy3DBatchAsync and cuLogs* through cuGetProcAddress:
// batches with attribute ranges land their bytes, bad batches are cudaErrorInvalidValue, and an
// asynchronous error is in the log's callback and dump. Through gpupool (GPUPOOL_SERVER set, or
// --launch-log given) a memset past an allocation's end fails on the server and the log has gpupool's
// line for it; natively that memset is not made (undefined there), and only the log calls' contract
// is checked.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"

namespace {

struct Seen {
  std::vector<std::string> messages;
};

void Remember(void* data, cudaLogLevel, char* message, size_t length) {
  static_cast<Seen*>(data)->messages.emplace_back(message, length);
}

cudaMemcpyAttributes Attr(cudaMemcpySrcAccessOrder order) {
  cudaMemcpyAttributes a{};
  a.srcAccessOrder = order;
  return a;
}

void Batches(cudaStream_t stream) {
  constexpr size_t kN = 4096;
  const auto data = rt::RandomBytes(kN, 11);
  unsigned char* a = nullptr;
  unsigned char* b = nullptr;
  if (!RT_CUDA(cudaMalloc(&a, kN)) || !RT_CUDA(cudaMalloc(&b, kN))) return;
  RT_CUDA(cudaMemset(b, 0, kN));

  std::vector<unsigned char> scratch(data.begin() + 1500, data.end());
  void* dsts[] = {a, a + 1500};
  const void* srcs[] = {data.data(), scratch.data()};
  size_t sizes[] = {1500, kN - 1500};
  cudaMemcpyAttributes attrs[] = {Attr(cudaMemcpySrcAccessOrderStream),
                                  Attr(cudaMemcpySrcAccessOrderDuringApiCall)};
  size_t idxs[] = {0, 1};
  RT_CUDA(cudaMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, idxs, 2, stream));
  std::memset(scratch.data(), 0, scratch.size());  // read during the call
  std::vector<unsigned char> back(kN);
  void* back_dsts[] = {back.data()};
  const void* back_srcs[] = {a};
  size_t back_size = kN, zero = 0;
  cudaMemcpyAttributes any = Attr(cudaMemcpySrcAccessOrderAny);
  RT_CUDA(cudaMemcpyBatchAsync(back_dsts, back_srcs, &back_size, 1, &any, &zero, 1, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(back == data);

  // 3D: rows of 64 bytes, 40 of each copied into a packed 40 x 8 box.
  cudaMemcpy3DBatchOp op{};
  op.src.type = cudaMemcpyOperandTypePointer;
  op.src.op.ptr.ptr = a;
  op.src.op.ptr.rowLength = 64;
  op.dst.type = cudaMemcpyOperandTypePointer;
  op.dst.op.ptr.ptr = b;
  op.extent = make_cudaExtent(40, 8, 1);
  op.srcAccessOrder = cudaMemcpySrcAccessOrderStream;
  RT_CUDA(cudaMemcpy3DBatchAsync(1, &op, 0, stream));
  std::vector<unsigned char> box(40 * 8);
  RT_CUDA(cudaMemcpyAsync(box.data(), b, box.size(), cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  bool same = true;
  for (size_t y = 0; y < 8; ++y) same &= std::memcmp(box.data() + y * 40, data.data() + y * 64, 40) == 0;
  RT_CHECK(same);

  // Bad batches.
  RT_CUDA_FAILS(cudaMemcpyBatchAsync(dsts, srcs, sizes, 0, attrs, idxs, 2, stream), cudaErrorInvalidValue);
  size_t bad_idxs[] = {1, 0};
  RT_CUDA_FAILS(cudaMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, bad_idxs, 2, stream),
                cudaErrorInvalidValue);
  op.extent.height = 0;
  RT_CUDA_FAILS(cudaMemcpy3DBatchAsync(1, &op, 0, stream), cudaErrorInvalidValue);
  RT_CUDA(cudaFree(a));
  RT_CUDA(cudaFree(b));
}

void Logs(cudaStream_t stream, bool gpupool) {
  cudaLogIterator start = 0;
  RT_CUDA(cudaLogsCurrent(&start, 0));
  Seen seen;
  cudaLogsCallbackHandle handle = nullptr;
  RT_CUDA(cudaLogsRegisterCallback(&Remember, &seen, &handle));
  unsigned char* d = nullptr;
  if (!RT_CUDA(cudaMalloc(&d, 4096))) return;
  if (gpupool) {
    // Past the allocation's end: refused by gpupool's server, reported at the next synchronisation.
    // Natively that write is undefined, so a native run checks only the calls' contract.
    RT_CUDA(cudaMemsetAsync(d + 4000, 0, 200, stream));
    RT_CHECK(cudaStreamSynchronize(stream) != cudaSuccess);
  }
  cudaLogIterator it = start;
  std::vector<char> buffer(25601);
  size_t size = buffer.size();
  RT_CUDA(cudaLogsDumpToMemory(&it, buffer.data(), &size, 0));
  const std::string dumped(buffer.data(), size);
  if (gpupool) {
    bool heard = false;
    for (const std::string& m : seen.messages)
      heard |= m.find("cuStreamSynchronize returns") != std::string::npos;
    RT_CHECK(heard);
    RT_CHECK(dumped.find("cuStreamSynchronize returns") != std::string::npos);
  }
  size = buffer.size();
  RT_CUDA(cudaLogsDumpToMemory(&it, buffer.data(), &size, 0));
  RT_CHECK(size == 0);  // the iterator advanced past everything
  RT_CUDA_FAILS(cudaLogsCurrent(&it, 1), cudaErrorInvalidValue);
  RT_CUDA(cudaLogsUnregisterCallback(handle));
  RT_CUDA(cudaFree(d));
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "batch_copies_logs");
  cudaStream_t stream = nullptr;
  if (!RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)))
    return rt::Finish("batch_copies_logs");
  Batches(stream);
  // Through gpupool the program has a server to reach (ctest and scripts/gpu-check.sh set it).
  Logs(stream, options.launch_log != nullptr || std::getenv("GPUPOOL_SERVER") != nullptr);
  RT_CUDA(cudaStreamDestroy(stream));
  return rt::Finish("batch_copies_logs");
}
