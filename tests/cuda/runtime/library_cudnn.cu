// cuDNN (what PyTorch's convolutions reach): a 2D convolution forward with the algorithm cuDNN's
// heuristic ranks first and the workspace it asks for, then a ReLU, on a stream. Compared with a CPU
// convolution on a GPU; through the emulated device (--launch-log), each must have launched a kernel.
#include <cudnn.h>

#include <algorithm>
#include <vector>

#include "check.h"

namespace {

constexpr int kN = 2, kC = 3, kH = 16, kW = 16, kK = 8, kR = 3, kS = 3;  // pad 1, stride 1: 16 x 16 out

// NCHW input, KCRS filters, cross-correlation with zero padding 1.
std::vector<float> Convolve(const std::vector<float>& x, const std::vector<float>& w) {
  std::vector<float> y(static_cast<std::size_t>(kN) * kK * kH * kW, 0.0f);
  for (int n = 0; n < kN; ++n)
    for (int k = 0; k < kK; ++k)
      for (int h = 0; h < kH; ++h)
        for (int v = 0; v < kW; ++v) {
          float sum = 0.0f;
          for (int c = 0; c < kC; ++c)
            for (int r = 0; r < kR; ++r)
              for (int s = 0; s < kS; ++s) {
                const int ih = h + r - 1, iw = v + s - 1;
                if (ih < 0 || ih >= kH || iw < 0 || iw >= kW) continue;
                sum += x[((n * kC + c) * kH + ih) * kW + iw] * w[((k * kC + c) * kR + r) * kS + s];
              }
          y[((n * kK + k) * kH + h) * kW + v] = sum;
        }
  return y;
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "library_cudnn");
  const std::vector<float> x = rt::RandomFloats(static_cast<std::size_t>(kN) * kC * kH * kW, 6);
  const std::vector<float> w = rt::RandomFloats(static_cast<std::size_t>(kK) * kC * kR * kS, 7);
  auto launches = [&] { return options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "") : 0; };

  cudnnHandle_t handle = nullptr;
  if (!RT_STATUS(cudnnCreate(&handle))) return rt::Finish("library_cudnn");
  RT_CHECK(cudnnGetVersion() >= 90000);
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));
  RT_STATUS(cudnnSetStream(handle, stream));

  cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
  cudnnFilterDescriptor_t wd = nullptr;
  cudnnConvolutionDescriptor_t cd = nullptr;
  RT_STATUS(cudnnCreateTensorDescriptor(&xd));
  RT_STATUS(cudnnCreateTensorDescriptor(&yd));
  RT_STATUS(cudnnCreateFilterDescriptor(&wd));
  RT_STATUS(cudnnCreateConvolutionDescriptor(&cd));
  RT_STATUS(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, kN, kC, kH, kW));
  RT_STATUS(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, kK, kC, kR, kS));
  RT_STATUS(cudnnSetConvolution2dDescriptor(cd, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  int n = 0, k = 0, h = 0, v = 0;
  RT_STATUS(cudnnGetConvolution2dForwardOutputDim(cd, xd, wd, &n, &k, &h, &v));
  RT_CHECK(n == kN && k == kK && h == kH && v == kW);
  RT_STATUS(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, kN, kK, kH, kW));

  cudnnConvolutionFwdAlgoPerf_t ranked[8] = {};
  int found = 0;
  RT_STATUS(cudnnGetConvolutionForwardAlgorithm_v7(handle, xd, wd, cd, yd, 8, &found, ranked));
  RT_CHECK(found >= 1);
  const cudnnConvolutionFwdAlgo_t algorithm =
      found >= 1 ? ranked[0].algo : CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  std::size_t workspace_size = 0;
  RT_STATUS(cudnnGetConvolutionForwardWorkspaceSize(handle, xd, wd, cd, yd, algorithm, &workspace_size));

  float *dx = nullptr, *dw = nullptr, *dy = nullptr;
  void* workspace = nullptr;
  RT_CUDA(cudaMalloc(&dx, x.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&dw, w.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&dy, static_cast<std::size_t>(kN) * kK * kH * kW * sizeof(float)));
  RT_CUDA(cudaMalloc(&workspace, std::max<std::size_t>(workspace_size, 1)));
  RT_CUDA(cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy(dw, w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice));

  const float one = 1.0f, zero = 0.0f;
  int before = launches();
  RT_STATUS(cudnnConvolutionForward(handle, &one, xd, dx, wd, dw, cd, algorithm, workspace, workspace_size,
                                    &zero, yd, dy));
  std::vector<float> got(static_cast<std::size_t>(kN) * kK * kH * kW, 0.0f);
  RT_CUDA(cudaMemcpyAsync(got.data(), dy, got.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  if (options.launch_log != nullptr) RT_CHECK(launches() > before);
  std::vector<float> want = Convolve(x, w);
  if (options.kernel_results) RT_CHECK(rt::Near(got, want, 1e-3f));

  // ReLU in place, as a network's next layer.
  cudnnActivationDescriptor_t relu = nullptr;
  RT_STATUS(cudnnCreateActivationDescriptor(&relu));
  RT_STATUS(cudnnSetActivationDescriptor(relu, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  before = launches();
  RT_STATUS(cudnnActivationForward(handle, relu, &one, yd, dy, &zero, yd, dy));
  RT_CUDA(cudaMemcpyAsync(got.data(), dy, got.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  if (options.launch_log != nullptr) RT_CHECK(launches() > before);
  for (float& value : want) value = std::max(value, 0.0f);
  if (options.kernel_results) RT_CHECK(rt::Near(got, want, 1e-3f));

  RT_STATUS(cudnnDestroyActivationDescriptor(relu));
  RT_STATUS(cudnnDestroyConvolutionDescriptor(cd));
  RT_STATUS(cudnnDestroyFilterDescriptor(wd));
  RT_STATUS(cudnnDestroyTensorDescriptor(xd));
  RT_STATUS(cudnnDestroyTensorDescriptor(yd));
  RT_STATUS(cudnnDestroy(handle));
  RT_CUDA(cudaStreamDestroy(stream));
  for (void* p : {static_cast<void*>(dx), static_cast<void*>(dw), static_cast<void*>(dy), workspace}) {
    RT_CUDA(cudaFree(p));
  }
  return rt::Finish("library_cudnn");
}
