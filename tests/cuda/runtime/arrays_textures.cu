// CUDA arrays, texture and surface objects (simpleTexture / simpleSurfaceWrite style): 1D, 2D and 3D
// arrays; random data from the host to an array, on to device memory, to another array and back,
// at offsets, synchronous and asynchronous, and large enough to need many chunks; array
// descriptors and memory requirements; mipmapped arrays, their levels and a texture of them; copies captured
// into graphs and added as memcpy nodes; texture objects of an array, linear and pitched memory, and a
// surface object, with their descriptors; kernels that take them as parameters (the emulated device records
// the parameter bytes: they must be the handles); copies past an array are refused.
#include <cstdint>
#include <string>
#include <vector>

#include "check.h"

__global__ void Sample(cudaTextureObject_t tex, float* out, int width, int height) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x < width && y < height) out[y * width + x] = 2.0f * tex2D<float>(tex, x + 0.5f, y + 0.5f);
}

__global__ void WriteSurface(cudaSurfaceObject_t surf, int width, int height) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x < width && y < height) surf2Dwrite(static_cast<float>(y * width + x), surf, x * 4, y);
}

namespace {

constexpr int kW = 67, kH = 45;  // 2D arrays of floats: not a multiple of anything convenient

// The launch log's hex of a 64-bit handle in memory order (little-endian).
std::string HandleHex(unsigned long long handle) {
  std::string hex;
  char byte[3];
  for (int i = 0; i < 8; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", static_cast<unsigned>((handle >> (8 * i)) & 0xff));
    hex += byte;
  }
  return hex;
}

bool Same(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

// Host -> array (at an offset) -> pitched device memory -> second array -> third array -> host, 2D.
void RoundTrip2D(cudaStream_t stream, bool async) {
  const cudaChannelFormatDesc desc = cudaCreateChannelDesc<float>();
  cudaArray_t a = nullptr, b = nullptr, c = nullptr;
  RT_CUDA(cudaMallocArray(&a, &desc, kW, kH));
  RT_CUDA(cudaMallocArray(&b, &desc, kW, kH));
  RT_CUDA(cudaMallocArray(&c, &desc, kW, kH));
  const std::size_t width = 40 * sizeof(float), rows = 30, spitch = width + 24;
  const std::vector<unsigned char> in = rt::RandomBytes(spitch * rows, async ? 11 : 12);
  std::vector<unsigned char> out(spitch * rows, 0);
  float* device = nullptr;
  std::size_t dpitch = 0;
  RT_CUDA(cudaMallocPitch(reinterpret_cast<void**>(&device), &dpitch, width + 64, rows + 2));
  if (async) {
    RT_CUDA(
        cudaMemcpy2DToArrayAsync(a, 8, 3, in.data(), spitch, width, rows, cudaMemcpyHostToDevice, stream));
    RT_CUDA(cudaMemcpy2DFromArrayAsync(reinterpret_cast<char*>(device) + dpitch + 16, dpitch, a, 8, 3, width,
                                       rows, cudaMemcpyDeviceToDevice, stream));
    RT_CUDA(cudaMemcpy2DToArrayAsync(b, 100, 10, reinterpret_cast<char*>(device) + dpitch + 16, dpitch, width,
                                     rows, cudaMemcpyDeviceToDevice, stream));
    RT_CUDA(cudaMemcpy2DArrayToArray(c, 0, 15, b, 100, 10, width, rows, cudaMemcpyDeviceToDevice));
    RT_CUDA(cudaMemcpy2DFromArrayAsync(out.data(), spitch, c, 0, 15, width, rows, cudaMemcpyDeviceToHost,
                                       stream));
    RT_CUDA(cudaStreamSynchronize(stream));
  } else {
    RT_CUDA(cudaMemcpy2DToArray(a, 8, 3, in.data(), spitch, width, rows, cudaMemcpyHostToDevice));
    RT_CUDA(cudaMemcpy2DFromArray(reinterpret_cast<char*>(device) + dpitch + 16, dpitch, a, 8, 3, width, rows,
                                  cudaMemcpyDeviceToDevice));
    RT_CUDA(cudaMemcpy2DToArray(b, 100, 10, reinterpret_cast<char*>(device) + dpitch + 16, dpitch, width,
                                rows, cudaMemcpyDeviceToDevice));
    RT_CUDA(cudaMemcpy2DArrayToArray(c, 0, 15, b, 100, 10, width, rows, cudaMemcpyDeviceToDevice));
    RT_CUDA(cudaMemcpy2DFromArray(out.data(), spitch, c, 0, 15, width, rows, cudaMemcpyDeviceToHost));
  }
  bool same = true;
  for (std::size_t r = 0; r < rows; ++r)
    same = same && std::memcmp(&in[r * spitch], &out[r * spitch], width) == 0;
  RT_CHECK(same);
  // Past the array: one row too many, one byte too wide.
  RT_CUDA_FAILS(
      cudaMemcpy2DToArray(a, 0, kH - rows + 1, in.data(), spitch, width, rows, cudaMemcpyHostToDevice),
      cudaErrorInvalidValue);
  (void)cudaGetLastError();  // an expected error is also the runtime's last error
  RT_CUDA_FAILS(cudaMemcpy2DToArray(a, kW * sizeof(float) - width + 4, 0, in.data(), spitch, width, rows,
                                    cudaMemcpyHostToDevice),
                cudaErrorInvalidValue);
  (void)cudaGetLastError();  // an expected error is also the runtime's last error
  RT_CUDA(cudaFree(device));
  RT_CUDA(cudaFreeArray(a));
  RT_CUDA(cudaFreeArray(b));
  RT_CUDA(cudaFreeArray(c));
}

// Host -> 3D array (at an offset) -> 3D device memory -> second 3D array -> host.
void RoundTrip3D(cudaStream_t stream, bool async) {
  const cudaChannelFormatDesc desc = cudaCreateChannelDesc<int2>();  // 8-byte elements
  const cudaExtent volume = make_cudaExtent(23, 17, 9);
  cudaArray_t a = nullptr, b = nullptr;
  RT_CUDA(cudaMalloc3DArray(&a, &desc, volume));
  RT_CUDA(cudaMalloc3DArray(&b, &desc, volume));
  const cudaExtent box = make_cudaExtent(13, 11, 5);  // elements, since an array is involved
  const std::size_t row = box.width * 8, host_pitch = row + 8, host_rows = box.height + 1;
  const std::vector<unsigned char> in = rt::RandomBytes(host_pitch * host_rows * box.depth, async ? 21 : 22);
  std::vector<unsigned char> out(in.size(), 0);
  cudaPitchedPtr device{};
  RT_CUDA(cudaMalloc3D(&device, make_cudaExtent(row + 32, box.height + 2, box.depth + 1)));
  auto run = [&](cudaMemcpy3DParms p) { return async ? cudaMemcpy3DAsync(&p, stream) : cudaMemcpy3D(&p); };
  cudaMemcpy3DParms p{};
  p.srcPtr = make_cudaPitchedPtr(const_cast<unsigned char*>(in.data()), host_pitch, row, host_rows);
  p.dstArray = a;
  p.dstPos = make_cudaPos(4, 3, 2);
  p.extent = box;
  p.kind = cudaMemcpyHostToDevice;
  RT_CUDA(run(p));
  p = cudaMemcpy3DParms{};
  p.srcArray = a;
  p.srcPos = make_cudaPos(4, 3, 2);
  p.dstPtr = device;
  p.dstPos = make_cudaPos(16, 1, 1);  // bytes in linear memory
  p.extent = box;
  p.kind = cudaMemcpyDeviceToDevice;
  RT_CUDA(run(p));
  p = cudaMemcpy3DParms{};
  p.srcPtr = device;
  p.srcPos = make_cudaPos(16, 1, 1);
  p.dstArray = b;
  p.dstPos = make_cudaPos(10, 6, 4);
  p.extent = box;
  p.kind = cudaMemcpyDeviceToDevice;
  RT_CUDA(run(p));
  p = cudaMemcpy3DParms{};
  p.srcArray = b;
  p.srcPos = make_cudaPos(10, 6, 4);
  p.dstPtr = make_cudaPitchedPtr(out.data(), host_pitch, row, host_rows);
  p.extent = box;
  p.kind = cudaMemcpyDeviceToHost;
  RT_CUDA(run(p));
  if (async) RT_CUDA(cudaStreamSynchronize(stream));
  bool same = true;
  for (std::size_t z = 0; z < box.depth; ++z) {
    for (std::size_t y = 0; y < box.height; ++y) {
      const std::size_t at = (z * host_rows + y) * host_pitch;
      same = same && std::memcmp(&in[at], &out[at], row) == 0;
    }
  }
  RT_CHECK(same);
  // One slice past the array's depth.
  p = cudaMemcpy3DParms{};
  p.srcPtr = make_cudaPitchedPtr(const_cast<unsigned char*>(in.data()), host_pitch, row, host_rows);
  p.dstArray = a;
  p.dstPos = make_cudaPos(0, 0, volume.depth - box.depth + 1);
  p.extent = box;
  p.kind = cudaMemcpyHostToDevice;
  RT_CUDA_FAILS(cudaMemcpy3D(&p), cudaErrorInvalidValue);
  (void)cudaGetLastError();
  // The descriptor as created.
  cudaChannelFormatDesc got{};
  cudaExtent extent{};
  unsigned flags = 1;
  RT_CUDA(cudaArrayGetInfo(&got, &extent, &flags, a));
  RT_CHECK(got.x == 32 && got.y == 32 && got.z == 0 && got.f == cudaChannelFormatKindSigned);
  RT_CHECK(extent.width == volume.width && extent.height == volume.height && extent.depth == volume.depth);
  RT_CHECK(flags == 0);
  cudaArrayMemoryRequirements req{};
  RT_CUDA(cudaArrayGetMemoryRequirements(&req, a, 0));
  RT_CHECK(req.size >= volume.width * volume.height * volume.depth * 8 && req.alignment > 0);
  RT_CUDA(cudaFree(device.ptr));
  RT_CUDA(cudaFreeArray(a));
  RT_CUDA(cudaFreeArray(b));
}

// An array bigger than many chunks, and rows wider than one: host -> array -> host.
void Large() {
  const cudaChannelFormatDesc desc = cudaCreateChannelDesc<float4>();
  const std::size_t w = 70000, h = 40;  // 1.07 MiB rows, 42 MiB in all
  cudaArray_t a = nullptr;
  RT_CUDA(cudaMallocArray(&a, &desc, w, h));
  const std::vector<unsigned char> in = rt::RandomBytes(w * 16 * h, 31);
  std::vector<unsigned char> out(in.size(), 0);
  RT_CUDA(cudaMemcpy2DToArray(a, 0, 0, in.data(), w * 16, w * 16, h, cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy2DFromArray(out.data(), w * 16, a, 0, 0, w * 16, h, cudaMemcpyDeviceToHost));
  RT_CHECK(Same(in, out));
  RT_CUDA(cudaFreeArray(a));
  // A 1D array: 2D copies of one row, and the (deprecated) linear calls, at byte offsets.
  cudaArray_t line = nullptr;
  const cudaChannelFormatDesc byte = cudaCreateChannelDesc<unsigned char>();
  RT_CUDA(cudaMallocArray(&line, &byte, 5000));
  const std::vector<unsigned char> bytes = rt::RandomBytes(4000, 32);
  std::vector<unsigned char> back(4000, 0);
  RT_CUDA(cudaMemcpy2DToArray(line, 1000, 0, bytes.data(), 4000, 4000, 1, cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy2DFromArray(back.data(), 4000, line, 1000, 0, 4000, 1, cudaMemcpyDeviceToHost));
  RT_CHECK(Same(bytes, back));
  RT_CUDA_FAILS(cudaMemcpy2DToArray(line, 1001, 0, bytes.data(), 4000, 4000, 1, cudaMemcpyHostToDevice),
                cudaErrorInvalidValue);
  (void)cudaGetLastError();  // an expected error is also the runtime's last error
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  std::vector<unsigned char> linear(3000, 0);
  RT_CUDA(cudaMemcpyToArray(line, 7, 0, bytes.data(), 3000, cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpyFromArray(linear.data(), line, 7, 0, 3000, cudaMemcpyDeviceToHost));
  RT_CHECK(std::memcmp(linear.data(), bytes.data(), 3000) == 0);
#pragma GCC diagnostic pop
  RT_CUDA(cudaFreeArray(line));
}

// Array copies captured into a graph and added as memcpy nodes, launched twice with new host data.
void Graphs(cudaStream_t stream) {
  const cudaChannelFormatDesc desc = cudaCreateChannelDesc<float>();
  cudaArray_t a = nullptr;
  RT_CUDA(cudaMallocArray(&a, &desc, kW, kH));
  const std::size_t width = 20 * sizeof(float), rows = 7;
  std::vector<unsigned char> in(width * rows), out(width * rows), again(width * rows);
  cudaGraph_t captured = nullptr;
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  RT_CUDA(cudaMemcpy2DToArrayAsync(a, 12, 5, in.data(), width, width, rows, cudaMemcpyHostToDevice, stream));
  RT_CUDA(
      cudaMemcpy2DFromArrayAsync(out.data(), width, a, 12, 5, width, rows, cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamEndCapture(stream, &captured));
  // The same round trip built node by node, into `again`.
  cudaGraph_t built = nullptr;
  RT_CUDA(cudaGraphCreate(&built, 0));
  cudaMemcpy3DParms up{}, down{};
  up.srcPtr = make_cudaPitchedPtr(in.data(), width, width, rows);
  up.dstArray = a;
  up.dstPos = make_cudaPos(30, 20, 0);
  up.extent = make_cudaExtent(width / sizeof(float), rows, 1);
  up.kind = cudaMemcpyHostToDevice;
  down.srcArray = a;
  down.srcPos = up.dstPos;
  down.dstPtr = make_cudaPitchedPtr(again.data(), width, width, rows);
  down.extent = up.extent;
  down.kind = cudaMemcpyDeviceToHost;
  cudaGraphNode_t first = nullptr, second = nullptr;
  RT_CUDA(cudaGraphAddMemcpyNode(&first, built, nullptr, 0, &up));
  RT_CUDA(cudaGraphAddMemcpyNode(&second, built, &first, 1, &down));
  cudaGraphExec_t exec_captured = nullptr, exec_built = nullptr;
  RT_CUDA(cudaGraphInstantiate(&exec_captured, captured, 0));
  RT_CUDA(cudaGraphInstantiate(&exec_built, built, 0));
  for (unsigned round = 0; round < 2; ++round) {
    const std::vector<unsigned char> fresh = rt::RandomBytes(in.size(), 40 + round);
    std::memcpy(in.data(), fresh.data(), in.size());  // the graphs read `in` where it was captured
    RT_CUDA(cudaGraphLaunch(exec_captured, stream));
    RT_CUDA(cudaGraphLaunch(exec_built, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    RT_CHECK(Same(in, out));
    RT_CHECK(Same(in, again));
  }
  RT_CUDA(cudaGraphExecDestroy(exec_captured));
  RT_CUDA(cudaGraphExecDestroy(exec_built));
  RT_CUDA(cudaGraphDestroy(captured));
  RT_CUDA(cudaGraphDestroy(built));
  RT_CUDA(cudaFreeArray(a));
}

// A mipmapped array: a level is an array with half the extent, for copies; a texture of the whole.
void Mipmaps() {
  const cudaChannelFormatDesc desc = cudaCreateChannelDesc<float>();
  cudaMipmappedArray_t m = nullptr;
  RT_CUDA(cudaMallocMipmappedArray(&m, &desc, make_cudaExtent(64, 32, 0), 4));
  cudaArray_t level = nullptr;
  RT_CUDA(cudaGetMipmappedArrayLevel(&level, m, 2));
  cudaChannelFormatDesc got_desc{};
  cudaExtent extent{};
  unsigned flags = 0;
  RT_CUDA(cudaArrayGetInfo(&got_desc, &extent, &flags, level));
  RT_CHECK(extent.width == 16 && extent.height == 8);
  const std::vector<unsigned char> in = rt::RandomBytes(16 * 4 * 8, 51);
  std::vector<unsigned char> out(in.size(), 0);
  RT_CUDA(cudaMemcpy2DToArray(level, 0, 0, in.data(), 64, 64, 8, cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy2DFromArray(out.data(), 64, level, 0, 0, 64, 8, cudaMemcpyDeviceToHost));
  RT_CHECK(Same(in, out));
  RT_CUDA_FAILS(cudaMemcpy2DToArray(level, 0, 1, in.data(), 64, 64, 8, cudaMemcpyHostToDevice),
                cudaErrorInvalidValue);
  (void)cudaGetLastError();
  cudaResourceDesc res{};
  res.resType = cudaResourceTypeMipmappedArray;
  res.res.mipmap.mipmap = m;
  cudaTextureDesc tex{};
  tex.addressMode[0] = tex.addressMode[1] = cudaAddressModeClamp;
  tex.filterMode = cudaFilterModePoint;
  tex.mipmapFilterMode = cudaFilterModePoint;
  tex.maxMipmapLevelClamp = 3;
  cudaTextureObject_t t = 0;
  RT_CUDA(cudaCreateTextureObject(&t, &res, &tex, nullptr));
  cudaResourceDesc got{};
  RT_CUDA(cudaGetTextureObjectResourceDesc(&got, t));
  RT_CHECK(got.resType == cudaResourceTypeMipmappedArray && got.res.mipmap.mipmap == m);
  RT_CUDA(cudaDestroyTextureObject(t));
  RT_CUDA(cudaFreeMipmappedArray(m));
}

void Textures(const rt::Options& options) {
  const cudaChannelFormatDesc desc = cudaCreateChannelDesc<float>();
  cudaArray_t a = nullptr;
  RT_CUDA(cudaMallocArray(&a, &desc, kW, kH));
  std::vector<float> in(kW * kH);
  for (int i = 0; i < kW * kH; ++i) in[i] = static_cast<float>(i % 1000) * 0.25f;
  RT_CUDA(cudaMemcpy2DToArray(a, 0, 0, in.data(), kW * 4, kW * 4, kH, cudaMemcpyHostToDevice));
  cudaResourceDesc res{};
  res.resType = cudaResourceTypeArray;
  res.res.array.array = a;
  cudaTextureDesc tex{};
  tex.addressMode[0] = tex.addressMode[1] = cudaAddressModeClamp;
  tex.filterMode = cudaFilterModePoint;
  tex.readMode = cudaReadModeElementType;
  cudaTextureObject_t t = 0;
  RT_CUDA(cudaCreateTextureObject(&t, &res, &tex, nullptr));
  cudaResourceDesc got{};
  RT_CUDA(cudaGetTextureObjectResourceDesc(&got, t));
  RT_CHECK(got.resType == cudaResourceTypeArray && got.res.array.array == a);
  cudaTextureDesc got_tex{};
  RT_CUDA(cudaGetTextureObjectTextureDesc(&got_tex, t));
  RT_CHECK(got_tex.addressMode[0] == cudaAddressModeClamp && got_tex.filterMode == cudaFilterModePoint);
  float* out = nullptr;
  RT_CUDA(cudaMalloc(&out, kW * kH * sizeof(float)));
  const dim3 block(16, 16), grid((kW + 15) / 16, (kH + 15) / 16);
  Sample<<<grid, block>>>(t, out, kW, kH);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaDeviceSynchronize());
  if (options.launch_log != nullptr) {
    const std::string params = rt::LastParams(options.launch_log, "Sample");
    RT_CHECK(params.substr(0, 16) == HandleHex(t));
  }
  if (options.kernel_results) {
    std::vector<float> doubled(kW * kH);
    RT_CUDA(cudaMemcpy(doubled.data(), out, doubled.size() * 4, cudaMemcpyDeviceToHost));
    bool ok = true;
    for (int i = 0; i < kW * kH; ++i) ok = ok && doubled[i] == 2.0f * in[i];
    RT_CHECK(ok);
  }
  RT_CUDA(cudaDestroyTextureObject(t));
  // Linear and pitched memory.
  res = cudaResourceDesc{};
  res.resType = cudaResourceTypeLinear;
  res.res.linear.devPtr = out;
  res.res.linear.desc = desc;
  res.res.linear.sizeInBytes = kW * kH * sizeof(float);
  RT_CUDA(cudaCreateTextureObject(&t, &res, &tex, nullptr));
  RT_CUDA(cudaGetTextureObjectResourceDesc(&got, t));
  RT_CHECK(got.resType == cudaResourceTypeLinear && got.res.linear.devPtr == out &&
           got.res.linear.sizeInBytes == kW * kH * sizeof(float));
  RT_CUDA(cudaDestroyTextureObject(t));
  float* pitched = nullptr;
  std::size_t pitch = 0;
  RT_CUDA(cudaMallocPitch(reinterpret_cast<void**>(&pitched), &pitch, kW * sizeof(float), kH));
  res = cudaResourceDesc{};
  res.resType = cudaResourceTypePitch2D;
  res.res.pitch2D.devPtr = pitched;
  res.res.pitch2D.desc = desc;
  res.res.pitch2D.width = kW;
  res.res.pitch2D.height = kH;
  res.res.pitch2D.pitchInBytes = pitch;
  RT_CUDA(cudaCreateTextureObject(&t, &res, &tex, nullptr));
  RT_CUDA(cudaGetTextureObjectResourceDesc(&got, t));
  RT_CHECK(got.resType == cudaResourceTypePitch2D && got.res.pitch2D.pitchInBytes == pitch &&
           got.res.pitch2D.height == static_cast<std::size_t>(kH));
  RT_CUDA(cudaDestroyTextureObject(t));
  // A surface needs an array made for load/store.
  res = cudaResourceDesc{};
  res.resType = cudaResourceTypeArray;
  res.res.array.array = a;
  cudaSurfaceObject_t s = 0;
  RT_CHECK(cudaCreateSurfaceObject(&s, &res) != cudaSuccess);
  (void)cudaGetLastError();
  cudaArray_t store = nullptr;
  RT_CUDA(cudaMallocArray(&store, &desc, kW, kH, cudaArraySurfaceLoadStore));
  res.res.array.array = store;
  RT_CUDA(cudaCreateSurfaceObject(&s, &res));
  RT_CUDA(cudaGetSurfaceObjectResourceDesc(&got, s));
  RT_CHECK(got.resType == cudaResourceTypeArray && got.res.array.array == store);
  WriteSurface<<<grid, block>>>(s, kW, kH);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaDeviceSynchronize());
  if (options.launch_log != nullptr)
    RT_CHECK(rt::LastParams(options.launch_log, "WriteSurface").substr(0, 16) == HandleHex(s));
  if (options.kernel_results) {
    std::vector<float> written(kW * kH);
    RT_CUDA(cudaMemcpy2DFromArray(written.data(), kW * 4, store, 0, 0, kW * 4, kH, cudaMemcpyDeviceToHost));
    bool ok = true;
    for (int i = 0; i < kW * kH; ++i) ok = ok && written[i] == static_cast<float>(i);
    RT_CHECK(ok);
  }
  RT_CUDA(cudaDestroySurfaceObject(s));
  RT_CUDA(cudaFree(out));
  RT_CUDA(cudaFree(pitched));
  RT_CUDA(cudaFreeArray(a));
  RT_CUDA(cudaFreeArray(store));
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "arrays_textures");
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));
  RoundTrip2D(stream, false);
  RoundTrip2D(stream, true);
  RoundTrip3D(stream, false);
  RoundTrip3D(stream, true);
  Large();
  Graphs(stream);
  Mipmaps();
  Textures(options);
  // Bad channel descriptors are refused; the runtime keeps working after them.
  const cudaChannelFormatDesc three = cudaCreateChannelDesc(32, 32, 32, 0, cudaChannelFormatKindFloat);
  cudaArray_t bad = nullptr;
  RT_CHECK(cudaMallocArray(&bad, &three, 8, 8) != cudaSuccess);
  (void)cudaGetLastError();
  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaDeviceSynchronize());
  return rt::Finish("arrays_textures");
}
