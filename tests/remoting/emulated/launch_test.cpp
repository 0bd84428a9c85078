// Launches: validated like the driver, recorded (not run) with the exact parameter bytes.
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {
namespace {

struct Pair {
  double a;
  int b;
  char c[12];
};

struct Loaded {
  Loaded() {
    std::ifstream in(std::string(GPUPOOL_EMULATED_IMAGES) + "/kernels.cubin", std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(Api().cuModuleLoadData(&module, image.data()) == CUDA_SUCCESS);
  }
  ~Loaded() { (void)Api().cuModuleUnload(module); }
  CUfunction Get(const char* name) const {
    CUfunction f = nullptr;
    REQUIRE(Api().cuModuleGetFunction(&f, module, name) == CUDA_SUCCESS);
    return f;
  }
  CUmodule module = nullptr;
};

std::string Hex(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xf]);
  }
  return out;
}

std::vector<nlohmann::json> NewRecords() {
  std::vector<nlohmann::json> records;
  const std::string text = NewLaunchLogLines();
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    records.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return records;
}

// k_mixed(char, double, short, Pair, void*) arguments and their packed bytes (56, zero padding).
struct MixedArgs {
  char c = 0x11;
  double d = 2.5;
  short s = 0x2233;
  Pair p{-1.25, 0x01020304, {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'}};
  void* out = reinterpret_cast<void*>(0x1122334455667788ULL);
  void* params[5] = {&c, &d, &s, &p, &out};
  std::vector<std::uint8_t> Packed() const {
    std::vector<std::uint8_t> bytes(56, 0);
    std::memcpy(&bytes[0], &c, 1);
    std::memcpy(&bytes[8], &d, 8);
    std::memcpy(&bytes[16], &s, 2);
    std::memcpy(&bytes[24], &p, 24);
    std::memcpy(&bytes[48], &out, 8);
    return bytes;
  }
};

}  // namespace

TEST_CASE("launches record kernel, dimensions, stream and exact parameter bytes") {
  const DriverApi& api = Api();
  Loaded loaded;
  (void)NewRecords();
  MixedArgs args;
  CUstream stream = nullptr;
  CU_OK(api.cuStreamCreate(&stream, 0));
  unsigned long long stream_id = 0;
  CU_OK(api.cuStreamGetId(stream, &stream_id));
  CU_OK(api.cuLaunchKernel(loaded.Get("k_mixed"), 3, 2, 1, 64, 2, 1, 128, stream, args.params, nullptr));

  // The same through `extra`, a packed buffer.
  std::vector<std::uint8_t> packed = args.Packed();
  size_t packed_size = packed.size();
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, packed.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &packed_size,
                   CU_LAUNCH_PARAM_END};
  CU_OK(api.cuLaunchKernel(loaded.Get("k_mixed"), 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, extra));

  // 4 KiB of parameters, and a kernel with none.
  std::vector<long long> big(512);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<long long>(i * 0x0101010101ULL);
  int* out = reinterpret_cast<int*>(0x42);
  void* big_params[] = {big.data(), &out};
  CU_OK(api.cuLaunchKernel(loaded.Get("k_big"), 1, 1, 1, 1, 1, 1, 0, CU_STREAM_PER_THREAD, big_params,
                           nullptr));
  CU_OK(api.cuLaunchKernel(loaded.Get("k_empty"), 65535, 65535, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr));
  // `extra` shorter than the parameters, as NCCL launches: accepted, the rest recorded as zeros.
  size_t head_size = 16;
  void* short_extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, big.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &head_size,
                         CU_LAUNCH_PARAM_END};
  CU_OK(api.cuLaunchKernel(loaded.Get("k_big"), 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, short_extra));

  const auto records = NewRecords();
  REQUIRE(records.size() == 5);
  CHECK(records[0]["kernel"] == "k_mixed");
  CHECK(records[0]["grid"] == nlohmann::json::array({3, 2, 1}));
  CHECK(records[0]["block"] == nlohmann::json::array({64, 2, 1}));
  CHECK(records[0]["shared"] == 128);
  CHECK(records[0]["stream"] == stream_id);
  CHECK(records[0]["params"] == Hex(args.Packed()));
  CHECK(records[1]["params"] == Hex(args.Packed()));
  CHECK(records[1]["stream"] == 0);
  std::vector<std::uint8_t> big_bytes(4104);
  std::memcpy(big_bytes.data(), big.data(), 4096);
  std::memcpy(big_bytes.data() + 4096, &out, 8);
  CHECK(records[2]["kernel"] == "k_big");
  CHECK(records[2]["params"] == Hex(big_bytes));
  CHECK(records[2]["stream"] == 1);
  CHECK(records[3]["params"] == "");
  std::vector<std::uint8_t> head_bytes(4104, 0);
  std::memcpy(head_bytes.data(), big.data(), head_size);
  CHECK(records[4]["params"] == Hex(head_bytes));
  CU_OK(api.cuStreamDestroy_v2(stream));
}

TEST_CASE("cuLaunchKernelEx: clusters and cooperative launches") {
  const DriverApi& api = Api();
  Loaded loaded;
  (void)NewRecords();
  MixedArgs args;
  CUlaunchAttribute attrs[2] = {};
  attrs[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attrs[0].value.clusterDim.x = 2;
  attrs[0].value.clusterDim.y = 1;
  attrs[0].value.clusterDim.z = 1;
  attrs[1].id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
  attrs[1].value.priority = -1;
  CUlaunchConfig config{};
  config.gridDimX = 4;
  config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 128;
  config.blockDimY = config.blockDimZ = 1;
  config.attrs = attrs;
  config.numAttrs = 2;
  CU_OK(api.cuLaunchKernelEx(&config, loaded.Get("k_mixed"), args.params, nullptr));
  config.gridDimX = 3;  // not a multiple of the cluster
  CHECK(api.cuLaunchKernelEx(&config, loaded.Get("k_mixed"), args.params, nullptr) ==
        CUDA_ERROR_INVALID_CLUSTER_SIZE);
  attrs[0].value.clusterDim.x = 16;  // beyond the portable 8
  config.gridDimX = 16;
  CHECK(api.cuLaunchKernelEx(&config, loaded.Get("k_mixed"), args.params, nullptr) ==
        CUDA_ERROR_INVALID_CLUSTER_SIZE);

  // Cooperative: at most every resident block at once (8 blocks of 256 threads per SM).
  CUfunction ptrs = loaded.Get("k_ptrs");
  float* a = nullptr;
  int n = 0;
  void* params[] = {&a, &a, &n};
  CU_OK(api.cuLaunchCooperativeKernel(ptrs, 132 * 8, 1, 1, 256, 1, 1, 0, nullptr, params));
  CHECK(api.cuLaunchCooperativeKernel(ptrs, 132 * 8 + 1, 1, 1, 256, 1, 1, 0, nullptr, params) ==
        CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
  const auto records = NewRecords();
  REQUIRE(records.size() == 2);
  CHECK(records[0]["cluster"] == nlohmann::json::array({2, 1, 1}));
  CHECK(records[0]["attributes"] ==
        nlohmann::json::array({CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, CU_LAUNCH_ATTRIBUTE_PRIORITY}));
  CHECK(records[1]["cooperative"] == true);
}

TEST_CASE("invalid launches fail like the driver and are not recorded") {
  const DriverApi& api = Api();
  Loaded loaded;
  (void)NewRecords();
  CUfunction ptrs = loaded.Get("k_ptrs");
  CUfunction bounded = loaded.Get("k_bounded");
  CUfunction shared = loaded.Get("k_shared");
  float* a = nullptr;
  int n = 0;
  void* params[] = {&a, &a, &n};
  void* one[] = {&a};
  Pair p{};
  long long x = 0;
  void* shared_params[] = {&p, &n, &x};
  std::vector<std::uint8_t> buffer(20);
  size_t size = buffer.size();
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   CU_LAUNCH_PARAM_END};
  void* no_size[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer.data(), CU_LAUNCH_PARAM_END};
  void* bad_key[] = {reinterpret_cast<void*>(7), nullptr, CU_LAUNCH_PARAM_END};
  struct Case {
    const char* what;
    CUresult got, want;
  };
  const Case cases[] = {
      {"grid x 0", api.cuLaunchKernel(ptrs, 0, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr),
       CUDA_ERROR_INVALID_VALUE},
      {"grid y 65536", api.cuLaunchKernel(ptrs, 1, 65536, 1, 1, 1, 1, 0, nullptr, params, nullptr),
       CUDA_ERROR_INVALID_VALUE},
      {"block 1025", api.cuLaunchKernel(ptrs, 1, 1, 1, 1025, 1, 1, 0, nullptr, params, nullptr),
       CUDA_ERROR_INVALID_VALUE},
      {"block z 65", api.cuLaunchKernel(ptrs, 1, 1, 1, 1, 1, 65, 0, nullptr, params, nullptr),
       CUDA_ERROR_INVALID_VALUE},
      {"block 32x64", api.cuLaunchKernel(ptrs, 1, 1, 1, 32, 64, 1, 0, nullptr, params, nullptr),
       CUDA_ERROR_INVALID_VALUE},
      {"over launch bounds", api.cuLaunchKernel(bounded, 1, 1, 1, 512, 1, 1, 0, nullptr, one, nullptr),
       CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES},
      {"shared over 48 KiB",
       api.cuLaunchKernel(shared, 1, 1, 1, 32, 1, 1, 49152 - 2048 + 1, nullptr, shared_params, nullptr),
       CUDA_ERROR_INVALID_VALUE},
      {"no parameters", api.cuLaunchKernel(ptrs, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr),
       CUDA_ERROR_INVALID_VALUE},
      {"both params and extra", api.cuLaunchKernel(ptrs, 1, 1, 1, 1, 1, 1, 0, nullptr, params, extra),
       CUDA_ERROR_INVALID_VALUE},
      {"extra without a size", api.cuLaunchKernel(ptrs, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, no_size),
       CUDA_ERROR_INVALID_VALUE},
      {"extra unknown key", api.cuLaunchKernel(ptrs, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, bad_key),
       CUDA_ERROR_INVALID_VALUE},
      {"bad stream",
       api.cuLaunchKernel(ptrs, 1, 1, 1, 1, 1, 1, 0, reinterpret_cast<CUstream>(0x99), params, nullptr),
       CUDA_ERROR_INVALID_HANDLE},
      {"bad function",
       api.cuLaunchKernel(reinterpret_cast<CUfunction>(&n), 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr),
       CUDA_ERROR_INVALID_HANDLE},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(c.got == c.want);
  }
  CHECK(NewRecords().empty());
  // Opting in to more shared memory makes the big launch valid.
  CU_OK(api.cuFuncSetAttribute(shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 100000));
  CU_OK(api.cuLaunchKernel(shared, 1, 1, 1, 32, 1, 1, 100000, nullptr, shared_params, nullptr));
  CHECK(NewRecords().size() == 1);
}

}  // namespace gpupool::server::emulated_test
