// What every runtime-API test program shares: its flags, checks that count failures instead of
// stopping, and its verdict. Each program prints one "PASS <name>" line and exits 0, or prints a
// "FAIL: ..." line per failed check and exits 1; bad flags exit 2.
//
// --no-kernel-results: skip the checks of what kernels computed. The emulated device validates and
// records launches but never runs them; everything else (copies, memsets, symbols, streams,
// events, graphs, errors) is checked either way.
// --launch-log PATH: the file the emulated device records launches in (gpupool-server
// --record-launches), one JSON line each; programs that check when kernels reached the device
// read it (LaunchCount). Absent on a GPU, where those checks are skipped.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace rt {

struct Options {
  bool kernel_results = true;
  const char* launch_log = nullptr;
};

inline Options ParseOptions(int argc, char** argv, const char* name) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-kernel-results") == 0) {
      options.kernel_results = false;
    } else if (std::strcmp(argv[i], "--launch-log") == 0 && i + 1 < argc) {
      options.launch_log = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--no-kernel-results] [--launch-log PATH]\n", name);
      std::exit(2);
    }
  }
  return options;
}

inline int g_failures = 0;

inline void Fail(const char* file, int line, const char* what) {
  std::printf("FAIL: %s:%d: %s\n", file, line, what);
  std::fflush(stdout);
  ++g_failures;
}

inline bool CheckCall(cudaError_t got, cudaError_t want, const char* file, int line, const char* expr) {
  if (got == want) return true;
  char what[512];
  std::snprintf(what, sizeof what, "%s returned %s (%d), want %s", expr, cudaGetErrorName(got),
                static_cast<int>(got), cudaGetErrorName(want));
  Fail(file, line, what);
  return false;
}

inline int Finish(const char* name) {
  if (g_failures != 0) {
    std::printf("FAIL %s: %d checks failed\n", name, g_failures);
    return 1;
  }
  std::printf("PASS %s\n", name);
  return 0;
}

// How many launches of `kernel` (its name as the launch log spells it: mangled for C++ kernels,
// so a substring of it is enough) the launch log holds now.
inline int LaunchCount(const char* log, const char* kernel) {
  std::FILE* f = std::fopen(log, "r");
  if (f == nullptr) return 0;  // nothing launched yet: the device creates it at the first launch
  int count = 0;
  char line[4096];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const char* name = std::strstr(line, "\"kernel\":\"");
    const char* end = name != nullptr ? std::strchr(name + 10, '"') : nullptr;
    if (end == nullptr) continue;
    const std::string n(name + 10, end);
    if (n.find(kernel) != std::string::npos) ++count;
  }
  std::fclose(f);
  return count;
}

// The parameter bytes (hex, in memory order) of the latest launch of `kernel` in the launch log.
inline std::string LastParams(const char* log, const char* kernel) {
  std::string last;
  std::FILE* f = std::fopen(log, "r");
  if (f == nullptr) return last;
  char line[8192];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const std::string text(line);
    if (text.find(kernel) == std::string::npos) continue;
    const std::size_t at = text.find("\"params\":\"");
    if (at == std::string::npos) continue;
    const std::size_t start = at + 10;
    last = text.substr(start, text.find('"', start) - start);
  }
  std::fclose(f);
  return last;
}

// A host function (cudaLaunchHostFunc(stream, HostGate::Run, &gate)) that blocks until the program
// calls Open(), then runs `then`: work queued after it on its stream must wait for it, which a
// program checks without timing by having `then` write what that work reads.
struct HostGate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  bool ran = false;
  std::function<void()> then;

  void Open() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
  static void CUDART_CB Run(void* self) {
    auto* gate = static_cast<HostGate*>(self);
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->cv.wait(lock, [gate] { return gate->open; });
    if (gate->then) gate->then();
    gate->ran = true;
  }
};

// Whether every element of `got` is within `tolerance` (relative to the larger magnitude, at least 1)
// of `want`: float results of library kernels, whose summation order is theirs to choose.
inline bool Near(const std::vector<float>& got, const std::vector<float>& want, float tolerance = 1e-4f) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const float scale = std::fmax(1.0f, std::fmax(std::fabs(got[i]), std::fabs(want[i])));
    if (!(std::fabs(got[i] - want[i]) <= tolerance * scale)) return false;
  }
  return true;
}

inline std::vector<float> RandomFloats(std::size_t count, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(engine);
  return values;
}

inline bool CheckStatus(int got, const char* file, int line, const char* expr) {
  if (got == 0) return true;
  char what[512];
  std::snprintf(what, sizeof what, "%s returned status %d, want 0 (success)", expr, got);
  Fail(file, line, what);
  return false;
}

inline std::vector<unsigned char> RandomBytes(std::size_t size, unsigned seed) {
  std::mt19937 engine(seed);
  std::vector<unsigned char> bytes(size);
  for (unsigned char& b : bytes) b = static_cast<unsigned char>(engine());
  return bytes;
}

}  // namespace rt

// A condition that must hold.
#define RT_CHECK(cond) ((cond) ? true : (::rt::Fail(__FILE__, __LINE__, #cond), false))
// A runtime call that must succeed; evaluates to whether it did.
#define RT_CUDA(expr) ::rt::CheckCall((expr), cudaSuccess, __FILE__, __LINE__, #expr)
// A runtime call that must fail with exactly `error`.
#define RT_CUDA_FAILS(expr, error) ::rt::CheckCall((expr), (error), __FILE__, __LINE__, #expr)
// A call of an NVIDIA library (cuBLAS, cuRAND, cuSPARSE, cuSOLVER, cuFFT) that must return its success
// status (0 in every one of them); evaluates to whether it did.
#define RT_STATUS(expr) ::rt::CheckStatus(static_cast<int>(expr), __FILE__, __LINE__, #expr)
