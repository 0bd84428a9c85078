// Random-data round trips through device memory for every copy kind (HtoD, DtoH, DtoD, unified
// cuMemcpy, their async forms on a stream, pinned host buffers, 2D, 3D) at sizes from 1 B to 256 MiB,
// with unaligned offsets on both sides; memsets D8/D16/D32, 2D and async, checked byte by byte
// including the bytes around them. Usage: driver_copies [--max-bytes N]
#include <algorithm>
#include <cstring>
#include <string>

#include "check.h"

namespace {

void RoundTrip(std::size_t size, std::size_t dev_off, std::size_t host_off, CUstream stream, unsigned seed) {
  CUdeviceptr a = 0, b = 0;
  if (!CU_OK(cuMemAlloc(&a, size + 16)) || !CU_OK(cuMemAlloc(&b, size + 16))) return;
  const auto src = drv::RandomBytes(size + host_off, seed);
  std::vector<unsigned char> dst(size + host_off + 8, 0xcd);
  // Synchronous: HtoD, DtoD, DtoH.
  CU_OK(cuMemcpyHtoD(a + dev_off, src.data() + host_off, size));
  CU_OK(cuMemcpyDtoD(b + 3, a + dev_off, size));
  CU_OK(cuMemcpyDtoH(dst.data() + host_off, b + 3, size));
  CHECK_TRUE(std::memcmp(dst.data() + host_off, src.data() + host_off, size) == 0);
  CHECK_TRUE(dst[size + host_off] == 0xcd);  // nothing written past the end
  // Asynchronous on a stream, into pinned memory, complete at the stream's synchronisation.
  void* pinned = nullptr;
  if (CU_OK(cuMemAllocHost(&pinned, size + host_off))) {
    auto* p = static_cast<unsigned char*>(pinned);
    std::memset(p, 0, size + host_off);
    const auto src2 = drv::RandomBytes(size, seed + 1);
    CU_OK(cuMemcpyHtoDAsync(b + dev_off, src2.data(), size, stream));
    CU_OK(cuMemcpyDtoDAsync(a + 1, b + dev_off, size, stream));
    CU_OK(cuMemcpyDtoHAsync(p + host_off, a + 1, size, stream));
    CU_OK(cuStreamSynchronize(stream));
    CHECK_TRUE(std::memcmp(p + host_off, src2.data(), size) == 0);
    CU_OK(cuMemFreeHost(pinned));
  }
  // Unified addressing: cuMemcpy finds the direction itself.
  std::vector<unsigned char> back(size, 0);
  CU_OK(cuMemcpy(a + 5, reinterpret_cast<CUdeviceptr>(src.data()), size));
  CU_OK(cuMemcpy(reinterpret_cast<CUdeviceptr>(back.data()), a + 5, size));
  CHECK_TRUE(std::memcmp(back.data(), src.data(), size) == 0);
  CU_OK(cuMemFree(a));
  CU_OK(cuMemFree(b));
}

void Copies2D() {
  const std::size_t width = 1000, height = 37, host_pitch = 1031;
  CUdeviceptr d = 0, e = 0;
  std::size_t pitch = 0, pitch_e = 0;
  if (!CU_OK(cuMemAllocPitch(&d, &pitch, width + 8, height, 4)) ||
      !CU_OK(cuMemAllocPitch(&e, &pitch_e, width + 8, height, 4))) {
    return;
  }
  const auto src = drv::RandomBytes(host_pitch * height, 7);
  std::vector<unsigned char> dst(host_pitch * height, 0);
  CUDA_MEMCPY2D c{};
  c.srcMemoryType = CU_MEMORYTYPE_HOST;
  c.srcHost = src.data();
  c.srcPitch = host_pitch;
  c.srcXInBytes = 3;
  c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  c.dstDevice = d;
  c.dstPitch = pitch;
  c.dstXInBytes = 5;
  c.WidthInBytes = width;
  c.Height = height;
  CU_OK(cuMemcpy2D(&c));
  CUDA_MEMCPY2D dd{};
  dd.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  dd.srcDevice = d;
  dd.srcPitch = pitch;
  dd.srcXInBytes = 5;
  dd.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  dd.dstDevice = e;
  dd.dstPitch = pitch_e;
  dd.WidthInBytes = width;
  dd.Height = height;
  CU_OK(cuMemcpy2D(&dd));
  CUDA_MEMCPY2D back{};
  back.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  back.srcDevice = e;
  back.srcPitch = pitch_e;
  back.dstMemoryType = CU_MEMORYTYPE_HOST;
  back.dstHost = dst.data();
  back.dstPitch = host_pitch;
  back.dstXInBytes = 3;
  back.WidthInBytes = width;
  back.Height = height;
  CU_OK(cuMemcpy2DAsync(&back, nullptr));
  CU_OK(cuCtxSynchronize());
  bool same = true;
  for (std::size_t r = 0; r < height; ++r) {
    same = same && std::memcmp(&dst[r * host_pitch + 3], &src[r * host_pitch + 3], width) == 0;
  }
  CHECK_TRUE(same);
  CU_OK(cuMemFree(d));
  CU_OK(cuMemFree(e));
}

// 2D copies of every shape the client splits differently, there and back, synchronous and on a
// stream into pinned memory: narrow rows (many to a frame), rows of more than 64 KiB, rows wider than
// a frame (column slices), and rows back to back on both sides (a 1D copy). The host bytes between
// rows must stay untouched.
struct Shape2D {
  std::size_t width, height, host_pitch, dev_pitch, host_x;
};

bool Same2D(const unsigned char* got, const unsigned char* want, const Shape2D& s, std::size_t y) {
  for (std::size_t r = 0; r < s.height; ++r) {
    const std::size_t row = (y + r) * s.host_pitch;
    if (std::memcmp(got + row + s.host_x, want + row + s.host_x, s.width) != 0) return false;
  }
  return true;
}

// Whether every byte of `got` outside the copied rows is still `fill`.
bool GapsKept(const unsigned char* got, std::size_t size, const Shape2D& s, std::size_t y,
              unsigned char fill) {
  for (std::size_t i = 0; i < size; ++i) {
    const std::size_t row = i / s.host_pitch, col = i % s.host_pitch;
    const bool copied = row >= y && row < y + s.height && col >= s.host_x && col < s.host_x + s.width;
    if (!copied && got[i] != fill) return false;
  }
  return true;
}

void Copies2DShapes(CUstream stream) {
  const Shape2D shapes[] = {
      {3000, 1000, 3011, 3072, 5},                               // narrow rows
      {100000, 40, 100003, 100352, 2},                           // rows read straight into place
      {(2u << 20) + 5, 3, (2u << 20) + 12, (2u << 20) + 64, 7},  // column slices
      {4096, 600, 4096, 4096, 0},                                // back to back: a 1D copy
      {(5u << 20) + 1, 1, (5u << 20) + 1, (5u << 20) + 1, 0},    // one row
  };
  unsigned seed = 40;
  for (const Shape2D& s : shapes) {
    const std::size_t y = 1, host_size = s.host_pitch * (s.height + 2);
    CUdeviceptr d = 0;
    void* pinned = nullptr;
    if (!CU_OK(cuMemAlloc(&d, s.dev_pitch * s.height)) || !CU_OK(cuMemAllocHost(&pinned, host_size))) return;
    const auto src = drv::RandomBytes(host_size, seed++);
    CUDA_MEMCPY2D in{};
    in.srcMemoryType = CU_MEMORYTYPE_HOST;
    in.srcHost = src.data();
    in.srcPitch = s.host_pitch;
    in.srcXInBytes = s.host_x;
    in.srcY = y;
    in.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    in.dstDevice = d;
    in.dstPitch = s.dev_pitch;
    in.WidthInBytes = s.width;
    in.Height = s.height;
    CU_OK(cuMemcpy2D(&in));
    CUDA_MEMCPY2D out{};
    out.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    out.srcDevice = d;
    out.srcPitch = s.dev_pitch;
    out.dstMemoryType = CU_MEMORYTYPE_HOST;
    out.dstPitch = s.host_pitch;
    out.dstXInBytes = s.host_x;
    out.dstY = y;
    out.WidthInBytes = s.width;
    out.Height = s.height;
    std::vector<unsigned char> back(host_size, 0xcd);
    out.dstHost = back.data();
    CU_OK(cuMemcpy2D(&out));
    CHECK_TRUE(Same2D(back.data(), src.data(), s, y));
    CHECK_TRUE(GapsKept(back.data(), host_size, s, y, 0xcd));
    // On a stream: into pinned memory, then from it to the device and back once more.
    auto* p = static_cast<unsigned char*>(pinned);
    std::memset(p, 0xab, host_size);
    out.dstHost = p;
    CU_OK(cuMemcpy2DAsync(&out, stream));
    CU_OK(cuStreamSynchronize(stream));
    CHECK_TRUE(Same2D(p, src.data(), s, y));
    CHECK_TRUE(GapsKept(p, host_size, s, y, 0xab));
    CU_OK(cuMemsetD8(d, 0, s.dev_pitch * s.height));
    in.srcHost = p;
    CU_OK(cuMemcpy2DAsync(&in, stream));
    std::fill(back.begin(), back.end(), 0xcd);
    out.dstHost = back.data();
    CU_OK(cuMemcpy2DAsync(&out, stream));
    CU_OK(cuStreamSynchronize(stream));
    CHECK_TRUE(Same2D(back.data(), src.data(), s, y));
    CU_OK(cuMemFreeHost(pinned));
    CU_OK(cuMemFree(d));
    std::printf("2D copies of %zu x %zu bytes (host pitch %zu, device pitch %zu) done\n", s.width, s.height,
                s.host_pitch, s.dev_pitch);
  }
}

// A box of 250 x 13 x 5 bytes: from a host volume into a pitched device volume (slice by slice),
// into a second device volume whose slices are exactly the box's rows, and back to the host with
// both sides contiguous (one 2D copy).
void Copies3D() {
  const std::size_t width = 250, height = 13, depth = 5;
  const std::size_t host_pitch = 300, host_slice = 20, host_depth = 7;
  const std::size_t dev_slice = 16, dev_depth = 8;
  CUdeviceptr d = 0, e = 0;
  std::size_t pitch = 0;
  if (!CU_OK(cuMemAllocPitch(&d, &pitch, width + 8, dev_slice * dev_depth, 4)) ||
      !CU_OK(cuMemAlloc(&e, width * height * depth))) {
    return;
  }
  const auto src = drv::RandomBytes(host_pitch * host_slice * host_depth, 11);
  CUDA_MEMCPY3D in{};
  in.srcMemoryType = CU_MEMORYTYPE_HOST;
  in.srcHost = src.data();
  in.srcPitch = host_pitch;
  in.srcHeight = host_slice;
  in.srcXInBytes = 3;
  in.srcY = 2;
  in.srcZ = 1;
  in.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  in.dstDevice = d;
  in.dstPitch = pitch;
  in.dstHeight = dev_slice;
  in.dstXInBytes = 5;
  in.dstY = 1;
  in.dstZ = 2;
  in.WidthInBytes = width;
  in.Height = height;
  in.Depth = depth;
  CU_OK(cuMemcpy3D(&in));
  CUDA_MEMCPY3D dd{};
  dd.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  dd.srcDevice = d;
  dd.srcPitch = pitch;
  dd.srcHeight = dev_slice;
  dd.srcXInBytes = 5;
  dd.srcY = 1;
  dd.srcZ = 2;
  dd.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  dd.dstDevice = e;
  dd.dstPitch = width;
  dd.dstHeight = height;
  dd.WidthInBytes = width;
  dd.Height = height;
  dd.Depth = depth;
  CU_OK(cuMemcpy3D(&dd));
  std::vector<unsigned char> dst(width * height * depth, 0);
  CUDA_MEMCPY3D back{};
  back.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  back.srcDevice = e;
  back.srcPitch = width;
  back.srcHeight = height;
  back.dstMemoryType = CU_MEMORYTYPE_HOST;
  back.dstHost = dst.data();
  back.dstPitch = width;
  back.dstHeight = height;
  back.WidthInBytes = width;
  back.Height = height;
  back.Depth = depth;
  CU_OK(cuMemcpy3DAsync(&back, nullptr));
  CU_OK(cuCtxSynchronize());
  bool same = true;
  for (std::size_t z = 0; z < depth; ++z) {
    for (std::size_t y = 0; y < height; ++y) {
      const unsigned char* want = &src[((1 + z) * host_slice + 2 + y) * host_pitch + 3];
      same = same && std::memcmp(&dst[(z * height + y) * width], want, width) == 0;
    }
  }
  CHECK_TRUE(same);
  // A slice height that cannot hold the copied rows (copies with CUDA arrays: arrays_textures).
  CUDA_MEMCPY3D bad = dd;
  bad.srcHeight = height;  // srcY 1 + 13 rows > 13
  CU_EXPECT(cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuMemFree(d));
  CU_OK(cuMemFree(e));
}

void Memsets(CUstream stream) {
  const std::size_t n = 4099;
  CUdeviceptr d = 0;
  if (!CU_OK(cuMemAlloc(&d, 4 * n + 64))) return;
  CU_OK(cuMemsetD8(d, 0x11, 4 * n + 64));
  CU_OK(cuMemsetD8(d + 1, 0xab, n));
  CU_OK(cuMemsetD16(d + 2 + 2 * n, 0xbeef, 3));
  CU_OK(cuMemsetD32Async(d + 4 * (n / 2 + 2), 0x01020304, n / 4, stream));
  std::vector<unsigned char> h(4 * n + 64);
  CU_OK(cuStreamSynchronize(stream));
  CU_OK(cuMemcpyDtoH(h.data(), d, h.size()));
  std::vector<unsigned char> want(4 * n + 64, 0x11);
  std::memset(&want[1], 0xab, n);
  for (int i = 0; i < 3; ++i) {
    want[2 + 2 * n + 2 * i] = 0xef;
    want[2 + 2 * n + 2 * i + 1] = 0xbe;
  }
  for (std::size_t i = 0; i < n / 4; ++i) {
    const unsigned char v[4] = {4, 3, 2, 1};
    std::memcpy(&want[4 * (n / 2 + 2) + 4 * i], v, 4);
  }
  CHECK_TRUE(h == want);
  // 2D: 5 rows of 7 bytes at pitch 32.
  CU_OK(cuMemsetD8(d, 0, 5 * 32));
  CU_OK(cuMemsetD2D8(d, 32, 0x5a, 7, 5));
  CU_OK(cuMemcpyDtoH(h.data(), d, 5 * 32));
  bool ok = true;
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 32; ++c) ok = ok && h[r * 32 + c] == (c < 7 ? 0x5a : 0);
  }
  CHECK_TRUE(ok);
  CU_OK(cuMemFree(d));
}

}  // namespace

// Copies between two contexts of the program (its current context and a second one it created), sync,
// async and 3D; a context that is not the program's is refused.
void PeerCopies(CUstream stream) {
  CUcontext first = nullptr, second = nullptr;
  CU_OK(cuCtxGetCurrent(&first));
  CUdevice device = 0;
  CU_OK(cuCtxGetDevice(&device));
  if (!CU_OK(cuCtxCreate(&second, nullptr, 0, device))) return;
  CU_OK(cuCtxSetCurrent(first));
  const std::size_t n = 3000;
  const std::vector<unsigned char> data = drv::RandomBytes(n, 99);
  std::vector<unsigned char> back(n, 0);
  CUdeviceptr a = 0, b = 0, c = 0;
  CU_OK(cuMemAlloc(&a, n));
  CU_OK(cuCtxSetCurrent(second));
  CU_OK(cuMemAlloc(&b, n));
  CU_OK(cuCtxSetCurrent(first));
  CU_OK(cuMemAlloc(&c, n));
  CU_OK(cuMemcpyHtoD(a, data.data(), n));
  CU_OK(cuMemcpyPeer(b, second, a, first, n));
  CU_OK(cuMemcpyPeerAsync(c, first, b, second, n, stream));
  CU_OK(cuStreamSynchronize(stream));
  CU_OK(cuMemcpyDtoH(back.data(), c, n));
  CHECK_TRUE(back == data);
  CUDA_MEMCPY3D_PEER peer{};
  peer.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  peer.srcDevice = b;
  peer.srcContext = second;
  peer.dstMemoryType = CU_MEMORYTYPE_HOST;
  peer.dstHost = back.data();
  peer.dstContext = first;
  peer.WidthInBytes = n;
  peer.Height = peer.Depth = 1;
  std::fill(back.begin(), back.end(), 0);
  CU_OK(cuMemcpy3DPeer(&peer));
  CHECK_TRUE(back == data);
  int not_a_context = 0;
  CU_EXPECT(cuMemcpyPeer(c, reinterpret_cast<CUcontext>(&not_a_context), a, first, n),
            CUDA_ERROR_INVALID_CONTEXT);
  CU_OK(cuMemFree(a));
  CU_OK(cuMemFree(c));
  CU_OK(cuCtxDestroy(second));  // frees b
  CU_OK(cuCtxSetCurrent(first));
}

int main(int argc, char** argv) {
  std::size_t max_bytes = 256u << 20;
  if (argc == 3 && std::string(argv[1]) == "--max-bytes") max_bytes = std::stoull(argv[2]);
  drv::Start();
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  const std::size_t sizes[] = {
      1, 3, 4095, 4096, 65537, 1u << 20, (1u << 20) + 7, (17u << 20) + 3, 64u << 20, 256u << 20};
  unsigned seed = 1;
  for (std::size_t size : sizes) {
    if (size > max_bytes) continue;
    // Every offset for small sizes; the largest once each (they move gigabytes in all).
    for (std::size_t off : {7, 0, 1}) {
      RoundTrip(size, off, (off * 3) % 8, stream, seed++);
      if (size >= (64u << 20)) break;
    }
    std::printf("round trips of %zu bytes done\n", size);
  }
  Copies2D();
  Copies2DShapes(stream);
  Copies3D();
  Memsets(stream);
  PeerCopies(stream);
  CU_OK(cuStreamDestroy(stream));
  return drv::Verdict("driver_copies");
}
