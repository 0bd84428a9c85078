// Runs each runtime-API test program (static and shared runtime) through gpupool: a gpupool-server
// with the emulated device on a Unix socket, recording launches, the program with gpupool's
// libcuda.so.1, --no-kernel-results and --launch-log. Each must print "PASS <name>" and exit 0. Also
// checks that the runtime's fatbins are sent to the server lazily.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>

#include "tests/support/process.h"

namespace gpupool {
namespace {

using testing::Subprocess;
using testing::SubprocessOptions;
using testing::TempDir;

// A gpupool-server with the emulated device on a Unix socket, and a runtime-API test program run
// through it (with the client's log at `log_level`).
struct Run {
  TempDir dir;
  std::string socket = "unix:" + dir.File("s");
  std::string launches = dir.File("launches");
  Result<Subprocess> server = Status::NotFound("not started");
  Result<Subprocess> child = Status::NotFound("not started");

  // `gpus`: how many emulated GPUs the server has.
  Run(const std::string& name, const std::string& runtime, const std::string& log_level = "info",
      const std::map<std::string, std::string>& env = {}, int gpus = 1) {
    server = Subprocess::Start({GPUPOOL_SERVER_BINARY, "--device", "emulated", "--emulated-gpus",
                                std::to_string(gpus), "--listen", socket, "--record-launches", launches});
    REQUIRE(server.ok());
    auto ready = server->WaitForLine("listening on", std::chrono::seconds(30));
    INFO(server->output());
    REQUIRE(ready.ok());
    SubprocessOptions options;
    options.env["LD_LIBRARY_PATH"] = std::string(GPUPOOL_CLIENT_DIR) + ":" + GPUPOOL_CUDA_LIBRARY_DIR;
    options.env["GPUPOOL_SERVER"] = socket;
    options.env["GPUPOOL_LOG_LEVEL"] = log_level;
    for (const auto& [key, value] : env) options.env[key] = value;
    const std::string program = std::string(GPUPOOL_PROGRAM_DIR) + "/cuda_runtime_" + name + "_" + runtime;
    child = Subprocess::Start({program, "--no-kernel-results", "--launch-log", launches}, options);
    REQUIRE(child.ok());
    auto code = child->Wait(std::chrono::seconds(300));
    REQUIRE(code.ok());
    INFO(child->output());
    CHECK(*code == 0);
    CHECK(child->output().find("PASS " + name + "\n") != std::string::npos);
  }
};

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("runtime-API test programs pass through gpupool on the emulated device") {
  const std::string name =
      GENERATE("runtime_init", "device_properties", "memory", "symbols", "streams_events", "graph_capture",
               "error_reporting", "host_callbacks", "stream_ordered_allocation", "graph_nodes",
               "device_printf", "graph_extras", "arrays_textures", "runtime_coverage", "batch_copies_logs",
               "fatbin_archs", "expandable_segments", "managed_memory", "ipc");
  const std::string runtime = GENERATE("static", "shared");
  INFO(name << " (" << runtime << " runtime)");
  Run run(name, runtime);
}

// simpleZeroCopy's way: with the server on this host the device can map host memory and the program's
// pinned buffers are the kernel's (its copies and memsets checked here, its sums on a GPU); with
// GPUPOOL_MAPPED_MEMORY=off, as with a server on another host, it says it cannot and the device pointer
// is refused.
TEST_CASE("zero-copy memory is mapped beside a worker on this host and refused without one") {
  const std::string runtime = GENERATE("static", "shared");
  INFO(runtime << " runtime");
  {
    Run mapped("zero_copy", runtime);
    CHECK(mapped.child->output().find("canMapHostMemory 1\n") != std::string::npos);
    CHECK(mapped.child->output().find("zero-copy sum checked") != std::string::npos);
  }
  Run refused("zero_copy", runtime, "info", {{"GPUPOOL_MAPPED_MEMORY", "off"}});
  CHECK(refused.child->output().find("canMapHostMemory 0\n") != std::string::npos);
}

// A fatbin for five GPU generations reaches the server holding only what the sm_90 device can use
// (remoting/client/fatbin_trim.h), and its kernel still loads and runs; GPUPOOL_FATBIN_TRIM=off sends it
// whole.
TEST_CASE("a multi-architecture fatbin is trimmed to the server's GPU before it is sent") {
  const std::string runtime = GENERATE("static", "shared");
  INFO(runtime << " runtime");
  auto uploaded = [](const std::string& output) {
    std::size_t bytes = 0;
    const std::string mark = "uploading a ";
    for (auto at = output.find(mark); at != std::string::npos; at = output.find(mark, at + 1)) {
      bytes += std::stoull(output.substr(at + mark.size()));
    }
    return bytes;
  };
  Run trimmed("fatbin_archs", runtime, "debug");
  CHECK(Count(trimmed.child->output(), "bytes trimmed to the") == 1);
  Run whole("fatbin_archs", runtime, "debug", {{"GPUPOOL_FATBIN_TRIM", "off"}});
  CHECK(Count(whole.child->output(), "bytes trimmed to the") == 0);
  INFO("uploaded " << uploaded(trimmed.child->output()) << " bytes trimmed, "
                   << uploaded(whole.child->output()) << " whole");
  CHECK(uploaded(trimmed.child->output()) > 0);
  CHECK(uploaded(trimmed.child->output()) * 3 < uploaded(whole.child->output()));  // one of five cubins kept
}

#if GPUPOOL_HAVE_CUDA_LIBRARIES
// NVIDIA's libraries, each with its own embedded runtime, its own images and its own use of the
// driver's private tables, through gpupool (docs/dark-api.md, "Libraries").
TEST_CASE("test programs calling NVIDIA libraries pass through gpupool on the emulated device") {
  const std::string name = GENERATE("library_cublas", "library_cublaslt", "library_cufft", "library_curand",
                                    "library_cusparse", "library_cusolver");
  const std::string runtime = GENERATE("static", "shared");
  INFO(name << " (" << runtime << " runtime)");
  Run run(name, runtime);
  // Every private table and slot a library reached was one gpupool serves.
  CHECK(run.child->output().find("not implemented") == std::string::npos);
}
#endif

#if GPUPOOL_HAVE_CUDNN
TEST_CASE("a test program calling cuDNN passes through gpupool on the emulated device") {
  const std::string runtime = GENERATE("static", "shared");
  INFO("library_cudnn (" << runtime << " runtime)");
  Run run("library_cudnn", runtime);
  CHECK(run.child->output().find("not implemented") == std::string::npos);
}
#endif

#if GPUPOOL_HAVE_NCCL
// NCCL with one rank finds its way through gpupool's NVML (the GPU's PCI address, compute capability,
// no NVLink or peer access) and runs every collective.
TEST_CASE("a test program calling NCCL with one rank passes through gpupool on the emulated device") {
  const std::string runtime = GENERATE("static", "shared");
  INFO("library_nccl (" << runtime << " runtime)");
  Run run("library_nccl", runtime, "info", {{"NCCL_DEBUG", "WARN"}});
  CHECK(run.child->output().find("not implemented") == std::string::npos);
  CHECK(run.child->output().find("NCCL WARN") == std::string::npos);
}

// Two ranks in one process on two GPUs of the server: NCCL's P2P transport (NVML reports peer reads
// and writes, CUDA enables peer access), every call through; the sums are a GPU check.
TEST_CASE("a test program calling NCCL with two ranks in one process passes on two emulated GPUs") {
  const std::string runtime = GENERATE("static", "shared");
  INFO("library_nccl (" << runtime << " runtime)");
  Run run("library_nccl", runtime, "info", {{"NCCL_DEBUG", "INFO"}}, 2);
  const std::string& out = run.child->output();
  CHECK(out.find("two ranks in one process: all-reduce and broadcast done") != std::string::npos);
  CHECK(out.find("isAllCudaP2p 1") != std::string::npos);  // NCCL took its P2P transport
  CHECK(out.find("P2P is disabled") == std::string::npos);
}
#endif

// The runtime registers its fatbin through cuLibraryLoadData at start-up; the client sends it to the
// server only when a kernel of it is first used (a process linking cuBLAS uses few of its images).
TEST_CASE("a runtime program's fatbin reaches the server only when one of its kernels is used") {
  const std::string runtime = GENERATE("static", "shared");
  INFO(runtime << " runtime");
  {
    Run unused("runtime_init", runtime, "debug");  // launches no kernel
    CHECK(Count(unused.child->output(), "sent on first use") == 1);
    CHECK(Count(unused.child->output(), "-byte image to the server") == 0);
  }
  Run used("streams_events", runtime, "debug");  // launches kernels of its one fatbin
  CHECK(Count(used.child->output(), "sent on first use") == 1);
  CHECK(Count(used.child->output(), "-byte image to the server") == 1);
}

}  // namespace
}  // namespace gpupool
