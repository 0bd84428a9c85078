// The driver's 1D array copies (cuMemcpyHtoA, AtoH, DtoA, AtoD, AtoA and the async ones) on 1D
// arrays, at element-aligned byte offsets, with random data: copies larger than a protocol chunk,
// copies that end exactly at the array's end and ones one element past it (refused, nothing
// written), single bytes of a byte array; and
// cuArrayCreate / cuArrayGetDescriptor / cuArrayDestroy. The CUDA runtime sends its array copies as
// cuMemcpy3D (tests/cuda/runtime/arrays_textures), so these entry points are checked here.
#include <cstring>

#include "check.h"

namespace {

CUarray Make(std::size_t width, CUarray_format format, unsigned channels) {
  CUDA_ARRAY_DESCRIPTOR desc{};
  desc.Width = width;
  desc.Height = 0;
  desc.Format = format;
  desc.NumChannels = channels;
  CUarray array = nullptr;
  if (!CU_OK(cuArrayCreate(&array, &desc))) std::exit(1);
  return array;
}

bool Equal(const std::vector<unsigned char>& a, std::size_t a_at, const std::vector<unsigned char>& b,
           std::size_t b_at, std::size_t n) {
  return std::memcmp(a.data() + a_at, b.data() + b_at, n) == 0;
}

}  // namespace

int main() {
  drv::Start();
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  // 100 000 elements of 4 floats: 1.6 MB, more than one protocol chunk.
  const std::size_t width = 100000, bytes = width * 16;
  CUarray a = Make(width, CU_AD_FORMAT_FLOAT, 4), b = Make(width, CU_AD_FORMAT_FLOAT, 4);
  CUDA_ARRAY_DESCRIPTOR desc{};
  CU_OK(cuArrayGetDescriptor(&desc, a));
  CHECK_TRUE(desc.Width == width && desc.Height == 0 && desc.Format == CU_AD_FORMAT_FLOAT &&
             desc.NumChannels == 4);

  const std::vector<unsigned char> in = drv::RandomBytes(bytes, 5);
  std::vector<unsigned char> out(bytes, 0);
  // Host -> array -> host, whole and at offsets, sync and async.
  CU_OK(cuMemcpyHtoA(a, 0, in.data(), bytes));
  CU_OK(cuMemcpyAtoH(out.data(), a, 0, bytes));
  CHECK_TRUE(Equal(in, 0, out, 0, bytes));
  CU_OK(cuMemcpyHtoAAsync(a, 208, in.data() + 1000, 70000, stream));
  CU_OK(cuMemcpyAtoHAsync(out.data(), a, 208, 70000, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(Equal(in, 1000, out, 0, 70000));
  // Array -> device -> array -> array -> host.
  CUdeviceptr d = 0;
  CU_OK(cuMemAlloc(&d, bytes));
  CU_OK(cuMemcpyAtoD(d + 16, a, 208, 70000));
  CU_OK(cuMemcpyDtoA(b, 1008, d + 16, 70000));
  CU_OK(cuMemcpyAtoA(a, bytes - 70000, b, 1008, 70000));  // ends exactly at a's end
  std::vector<unsigned char> back(70000, 0);
  CU_OK(cuMemcpyAtoH(back.data(), a, bytes - 70000, 70000));
  CHECK_TRUE(Equal(in, 1000, back, 0, 70000));
  // One element past the end, from either side: refused, and nothing was written.
  const std::vector<unsigned char> junk(64, 0xab);
  CU_EXPECT(cuMemcpyHtoA(a, bytes - 48, junk.data(), 64), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemcpyAtoH(out.data(), a, bytes - 48, 64), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemcpyAtoA(b, 0, a, bytes - 48, 64), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuMemcpyAtoH(back.data(), a, bytes - 70000, 70000));
  CHECK_TRUE(Equal(in, 1000, back, 0, 70000));
  // A 1D array of bytes: single-byte copies at odd offsets.
  CUarray small = Make(1000, CU_AD_FORMAT_UNSIGNED_INT8, 1);
  for (std::size_t at : {std::size_t{0}, std::size_t{1}, std::size_t{999}}) {
    unsigned char byte = static_cast<unsigned char>(at * 7 + 1), got = 0;
    CU_OK(cuMemcpyHtoA(small, at, &byte, 1));
    CU_OK(cuMemcpyAtoH(&got, small, at, 1));
    CHECK_TRUE(got == byte);
  }
  CU_OK(cuArrayDestroy(small));
  CU_OK(cuArrayDestroy(a));
  CU_OK(cuArrayDestroy(b));
  CU_OK(cuMemFree(d));
  CU_OK(cuStreamDestroy(stream));
  return drv::Verdict("driver_arrays");
}
