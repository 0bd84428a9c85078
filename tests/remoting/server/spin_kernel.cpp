#include "tests/remoting/server/spin_kernel.h"

#include <catch2/catch.hpp>
#include <string>

#include "tests/remoting/server/image_upload.h"

namespace gpupool::testing {

using protocol::Op;

namespace {

const char* const kPtx =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry k_spin(.param .u64 ns)\n{\n  ret;\n}\n";

}  // namespace

std::uint64_t LoadSpin(TestClient& c) {
  c.UseDevice0();
  auto module = c.Call<Op::ModuleLoadData>({Upload(c, std::string(kPtx) + '\0')});
  REQUIRE(module.result == CUDA_SUCCESS);
  auto function = c.Call<Op::ModuleGetFunction>({std::get<0>(module.fields), "k_spin"});
  REQUIRE(function.result == CUDA_SUCCESS);
  return std::get<0>(function.fields);
}

void Launch(TestClient& c, std::uint64_t function, std::uint64_t stream) {
  c.Call<Op::LaunchKernel>({function, 1, 1, 1, 32, 1, 1, 0, stream}, std::string(8, '\0'));
}

}  // namespace gpupool::testing
