// Device printf through gpupool (docs/protocol.md "Device output"): the device_printf program run
// with gpupool's libcuda.so.1 against gpupool-server --device emulated, whose launches of printing
// kernels write "[emulated printf] ..." lines to the worker's stdout at the next synchronisation
// (remoting/server/emulated/device_printf.h). The text must appear on the program's own stdout,
// between its printf before and after the synchronising call; never in another session; bounded
// by the worker's buffer (the rest counted as dropped); and a client that leaves without
// synchronising must not hold its worker on a full pipe.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "remoting/protocol/frame.h"
#include "tests/support/process.h"

namespace gpupool {
namespace {

using testing::Subprocess;
using testing::SubprocessOptions;
using testing::TempDir;

constexpr auto kTimeout = std::chrono::seconds(300);  // only a broken build waits this long
const std::string kLine =
    "[emulated printf] kernel _Z12DevicePrintfi: device printf: value %d from block %d\n";

struct Server {
  TempDir dir;
  std::string socket = "unix:" + dir.File("s");
  Result<Subprocess> process =
      Subprocess::Start({GPUPOOL_SERVER_BINARY, "--device", "emulated", "--listen", socket});

  Server() {
    REQUIRE(process.ok());
    auto ready = process->WaitForLine("listening on", std::chrono::seconds(30));
    INFO(process->output());
    REQUIRE(ready.ok());
  }

  // Starts the device_printf program (static runtime) through this server; its stderr goes to
  // `stderr_file`, so its stdout is exactly what the program and the client wrote there.
  Result<Subprocess> Start(const std::string& args, const std::string& stderr_file) {
    SubprocessOptions options;
    options.env["LD_LIBRARY_PATH"] = std::string(GPUPOOL_CLIENT_DIR) + ":" + GPUPOOL_CUDA_LIBRARY_DIR;
    options.env["GPUPOOL_SERVER"] = socket;
    const std::string program = std::string(GPUPOOL_PROGRAM_DIR) + "/cuda_runtime_device_printf_static";
    return Subprocess::Start({"/bin/sh", "-c", "exec " + program + " " + args + " 2>" + stderr_file},
                             options);
  }
};

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Finished(Result<Subprocess>& child) {
  REQUIRE(child.ok());
  auto code = child->Wait(kTimeout);
  REQUIRE(code.ok());
  INFO(child->output());
  CHECK(*code == 0);
  return child->output();
}

TEST_CASE("device printf text reaches the program's stdout when the synchronising call returns") {
  Server server;
  auto child = server.Start("--no-kernel-results", server.dir.File("err"));
  const std::string out = Finished(child);
  INFO(out << ReadFile(server.dir.File("err")));
  // Exactly in place: after the program's printf before the call, before its printf after it.
  for (const std::string sync :
       {"device synchronize", "stream synchronize", "event synchronize", "blocking copy"}) {
    CHECK(out.find("host: before " + sync + "\n" + kLine + "host: after " + sync + "\n") !=
          std::string::npos);
  }
  CHECK(Count(out, "[emulated printf]") == 4);
  CHECK(out.ends_with("PASS device_printf\n"));
}

TEST_CASE("device printf of one session never reaches another session") {
  Server server;
  // A floods while B runs; each must see exactly its own lines.
  auto flood = server.Start("--no-kernel-results --fifo 16777216 --flood 20000", server.dir.File("err_a"));
  auto plain = server.Start("--no-kernel-results", server.dir.File("err_b"));
  const std::string b = Finished(plain);
  const std::string a = Finished(flood);
  CHECK(Count(b, "[emulated printf]") == 4);
  CHECK(Count(a, kLine) == 20000);
  CHECK(Count(a, "[emulated printf]") == 20000);
  CHECK(a.ends_with("host: flood of 20000 launches synchronised\nPASS device_printf\n"));
}

TEST_CASE("the device's printf FIFO bounds what a synchronisation prints") {
  Server server;
  // 4 KiB of FIFO holds 4096 / kLine.size() lines; the rest of the 100 launches' lines are lost,
  // as on a GPU (the device drops what does not fit; nothing is reported).
  auto child = server.Start("--no-kernel-results --fifo 4096 --flood 100", server.dir.File("err"));
  const std::string out = Finished(child);
  CHECK(Count(out, kLine) == 4096 / kLine.size());
}

TEST_CASE("a flood of device printf is bounded by the worker's buffer, the rest counted as dropped") {
  Server server;
  const long launches = 100000;  // 7.8 MB of text, more than kMaxBufferedOutput, less than the FIFO
  auto child = server.Start("--no-kernel-results --fifo 16777216 --flood " + std::to_string(launches),
                            server.dir.File("err"));
  const std::string out = Finished(child);
  const std::string err = ReadFile(server.dir.File("err"));
  INFO(err);
  const std::size_t device_bytes = out.find("host: flood of");
  REQUIRE(device_bytes != std::string::npos);
  // The text kept is the start of what the device printed, whole lines filling the buffer.
  CHECK(device_bytes <= protocol::kMaxBufferedOutput);
  CHECK(device_bytes > protocol::kMaxBufferedOutput - kLine.size());
  CHECK(device_bytes % kLine.size() == 0);
  for (std::size_t at = 0; at < device_bytes; at += kLine.size()) {
    if (out.compare(at, kLine.size(), kLine) != 0) FAIL("device text differs at byte " << at);
  }
  const std::string said = " bytes of device printf output were dropped";
  const std::size_t at = err.find(said);
  REQUIRE(at != std::string::npos);
  const std::size_t start = err.find_last_not_of("0123456789", at - 1) + 1;
  const std::uint64_t dropped = std::stoull(err.substr(start, at - start));
  CHECK(device_bytes + dropped == launches * kLine.size());
}

TEST_CASE("a client that leaves without synchronising does not hold its worker on device printf") {
  Server server;
  // 20000 lines (1.6 MB, far more than a pipe holds) are still in the FIFO when the client goes:
  // the worker's clean-up synchronises, the device writes them, and the worker must still end.
  auto child = server.Start("--no-kernel-results --fifo 16777216 --flood 20000 --exit-without-sync",
                            server.dir.File("err"));
  const std::string out = Finished(child);
  CHECK(Count(out, "[emulated printf]") == 0);
  auto ended = server.process->WaitForLine("exited with 0", kTimeout);  // the broker reaped the worker
  INFO(server.process->output());
  CHECK(ended.ok());
}

}  // namespace
}  // namespace gpupool
