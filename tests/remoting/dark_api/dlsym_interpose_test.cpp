// The exported dlsym (remoting/client/dark_api/dlsym_interpose.h), in a real process: a probe
// program opens a stand-in for NVIDIA's libcuda.so.1 by path and looks names up, with and without
// a stand-in for gpupool's libcuda.so.1 preloaded.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/support/process.h"

namespace gpupool::dark_api {
namespace {

using gpupool::testing::Subprocess;
using gpupool::testing::SubprocessOptions;

std::string Probe(bool preload) {
  SubprocessOptions options;
  options.merge_stderr = true;
  if (preload) {
    options.env["LD_PRELOAD"] = GPUPOOL_DLSYM_OURS;
    // Sanitizer builds: the preloaded library comes before the sanitizer runtime, which is fine.
    options.env["ASAN_OPTIONS"] = "verify_asan_link_order=0";
  }
  auto child =
      Subprocess::Start({GPUPOOL_DLSYM_PROBE, GPUPOOL_DLSYM_FOREIGN, GPUPOOL_DLSYM_LOCAL_USER}, options);
  REQUIRE(child.ok());
  auto code = child->Wait(std::chrono::seconds(60));
  REQUIRE(code.ok());
  INFO(child->output());
  REQUIRE(*code == 0);
  return child->output();
}

bool Has(const std::string& output, const std::string& line) {
  return output.find(line + "\n") != std::string::npos;
}

TEST_CASE("without gpupool preloaded the probe sees the foreign driver") {
  const std::string out = Probe(false);
  INFO(out);
  CHECK(Has(out, "foreign cuInit=999"));
  CHECK(Has(out, "default cuInit=missing"));
  CHECK(Has(out, "next layered=2"));
  CHECK(Has(out, "local default=7"));
}

TEST_CASE("with gpupool preloaded, driver names looked up in another libcuda answer with gpupool's") {
  const std::string out = Probe(true);
  INFO(out);
  CHECK(Has(out, "foreign cuInit=0"));
  CHECK(Has(out, "foreign cuInit dlerror=none"));
  // Names gpupool does not export, and names that are not driver entry points, stay foreign.
  CHECK(Has(out, "foreign cuForeignOnly=998"));
  CHECK(Has(out, "foreign foreign_only_symbol=997"));
  CHECK(Has(out, "foreign cuMissingEverywhere=missing"));
  CHECK(Has(out, "default cuInit=0"));
  CHECK(Has(out, "done"));
}

TEST_CASE("with gpupool preloaded, RTLD_NEXT and RTLD_DEFAULT still search from the real caller") {
  const std::string out = Probe(true);
  INFO(out);
  // Were the caller taken to be gpupool's library (preloaded, so first), RTLD_NEXT would find
  // layer_a's own definition (1) and RTLD_DEFAULT would miss local_user's dependency (-1).
  CHECK(Has(out, "next layered=2"));
  CHECK(Has(out, "local default=7"));
}

}  // namespace
}  // namespace gpupool::dark_api
