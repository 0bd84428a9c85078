// cuFFT (simpleCUFFT style, and what torch.fft reaches): complex-to-complex transforms forward and
// back, a prime size (Bluestein's algorithm, several kernels), a batched real-to-complex transform
// and a 2D one, on a stream. Checked against a direct DFT and the round trip on a GPU; through the
// emulated device (--launch-log), each transform must have launched kernels. cuFFT frees its
// buffers from an exit handler, which the program's clean exit covers too.
#include <cufft.h>

#include <cmath>
#include <complex>
#include <vector>

#include "check.h"

namespace {

using Complex = std::complex<float>;

std::vector<Complex> Signal(int n, unsigned seed) {
  const std::vector<float> parts = rt::RandomFloats(2 * static_cast<std::size_t>(n), seed);
  std::vector<Complex> x(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) x[i] = {parts[2 * i], parts[2 * i + 1]};
  return x;
}

std::vector<Complex> Dft(const std::vector<Complex>& x) {
  const std::size_t n = x.size();
  std::vector<Complex> y(n);
  for (std::size_t k = 0; k < n; ++k) {
    std::complex<double> sum = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const double angle = -2.0 * M_PI * static_cast<double>((k * j) % n) / static_cast<double>(n);
      sum += std::complex<double>(x[j]) * std::polar(1.0, angle);
    }
    y[k] = Complex(sum);
  }
  return y;
}

bool Close(const std::vector<Complex>& got, const std::vector<Complex>& want, float tolerance) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > tolerance * std::max(1.0f, std::abs(want[i]))) return false;
  }
  return true;
}

struct Transforms {
  const rt::Options& options;
  cudaStream_t stream;
  int Launches() const { return options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "") : 0; }

  // Forward and inverse C2C of size n; the forward result against a DFT, the round trip against n * x.
  void ComplexRoundTrip(int n, unsigned seed) {
    const std::vector<Complex> x = Signal(n, seed);
    const std::size_t bytes = x.size() * sizeof(Complex);
    cufftComplex* data = nullptr;
    if (!RT_CUDA(cudaMalloc(&data, bytes))) return;
    RT_CUDA(cudaMemcpy(data, x.data(), bytes, cudaMemcpyHostToDevice));
    cufftHandle plan = 0;
    if (RT_STATUS(cufftPlan1d(&plan, n, CUFFT_C2C, 1))) {
      RT_STATUS(cufftSetStream(plan, stream));
      const int before = Launches();
      std::vector<Complex> forward(x.size()), back(x.size());
      RT_STATUS(cufftExecC2C(plan, data, data, CUFFT_FORWARD));
      RT_CUDA(cudaMemcpyAsync(forward.data(), data, bytes, cudaMemcpyDeviceToHost, stream));
      RT_STATUS(cufftExecC2C(plan, data, data, CUFFT_INVERSE));
      RT_CUDA(cudaMemcpyAsync(back.data(), data, bytes, cudaMemcpyDeviceToHost, stream));
      RT_CUDA(cudaStreamSynchronize(stream));
      if (options.launch_log != nullptr) RT_CHECK(Launches() >= before + 2);
      if (options.kernel_results) {
        RT_CHECK(Close(forward, Dft(x), 1e-3f));
        std::vector<Complex> scaled(x);
        for (Complex& v : scaled) v *= static_cast<float>(n);
        RT_CHECK(Close(back, scaled, 1e-3f));
      }
      RT_STATUS(cufftDestroy(plan));
    }
    RT_CUDA(cudaFree(data));
  }
};

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "library_cufft");
  int version = 0;
  RT_STATUS(cufftGetVersion(&version));
  RT_CHECK(version > 0);
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));
  Transforms t{options, stream};
  t.ComplexRoundTrip(256, 1);   // a power of two
  t.ComplexRoundTrip(1000, 2);  // mixed radix
  t.ComplexRoundTrip(7919, 3);  // prime: Bluestein

  // A batch of 8 real-to-complex transforms of 4096 points: bin 0 of each is its sum.
  constexpr int kReal = 4096, kBatch = 8;
  const std::vector<float> real = rt::RandomFloats(static_cast<std::size_t>(kReal) * kBatch, 4);
  float* d_real = nullptr;
  cufftComplex* d_spectrum = nullptr;
  RT_CUDA(cudaMalloc(&d_real, real.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&d_spectrum, static_cast<std::size_t>(kReal / 2 + 1) * kBatch * sizeof(cufftComplex)));
  RT_CUDA(cudaMemcpy(d_real, real.data(), real.size() * sizeof(float), cudaMemcpyHostToDevice));
  cufftHandle r2c = 0;
  if (RT_STATUS(cufftPlan1d(&r2c, kReal, CUFFT_R2C, kBatch))) {
    RT_STATUS(cufftSetStream(r2c, stream));
    const int before = t.Launches();
    RT_STATUS(cufftExecR2C(r2c, d_real, d_spectrum));
    std::vector<Complex> spectrum(static_cast<std::size_t>(kReal / 2 + 1) * kBatch);
    RT_CUDA(cudaMemcpyAsync(spectrum.data(), d_spectrum, spectrum.size() * sizeof(Complex),
                            cudaMemcpyDeviceToHost, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    if (options.launch_log != nullptr) RT_CHECK(t.Launches() > before);
    if (options.kernel_results) {
      for (int b = 0; b < kBatch; ++b) {
        double sum = 0;
        for (int i = 0; i < kReal; ++i) sum += real[static_cast<std::size_t>(b) * kReal + i];
        RT_CHECK(std::abs(spectrum[static_cast<std::size_t>(b) * (kReal / 2 + 1)].real() - sum) < 1e-2);
      }
    }
    RT_STATUS(cufftDestroy(r2c));
  }

  // A 2D 64 x 48 transform: the kernels of both dimensions.
  cufftComplex* d_image = nullptr;
  RT_CUDA(cudaMalloc(&d_image, 64 * 48 * sizeof(cufftComplex)));
  RT_CUDA(cudaMemset(d_image, 0, 64 * 48 * sizeof(cufftComplex)));
  cufftHandle plan2d = 0;
  if (RT_STATUS(cufftPlan2d(&plan2d, 64, 48, CUFFT_C2C))) {
    RT_STATUS(cufftSetStream(plan2d, stream));
    const int before = t.Launches();
    RT_STATUS(cufftExecC2C(plan2d, d_image, d_image, CUFFT_FORWARD));
    RT_CUDA(cudaStreamSynchronize(stream));
    if (options.launch_log != nullptr) RT_CHECK(t.Launches() > before);
    RT_STATUS(cufftDestroy(plan2d));
  }

  for (void* p : {static_cast<void*>(d_real), static_cast<void*>(d_spectrum), static_cast<void*>(d_image)}) {
    RT_CUDA(cudaFree(p));
  }
  RT_CUDA(cudaStreamDestroy(stream));
  return rt::Finish("library_cufft");
}
