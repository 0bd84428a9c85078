// Compute shares and the hang watchdog against the real server on the emulated device, with a
// simulated kernel run time (--emulated-kernel-time): streams stay busy while kernels "run", kernel
// time is measured and exported, two sessions at 30 % and 70 % split the GPU's time (measured by
// gpupool-share-bench through the client library), and a kernel past --kernel-timeout ends its own
// session only.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <regex>

#include "remoting/server/share_table.h"
#include "tests/remoting/server/spin_kernel.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
using Clock = std::chrono::steady_clock;

// The value of the first /metrics series that starts with `series`, or -1.
double Metric(const std::string& page, const std::string& series) {
  auto at = page.find("\n" + series);
  if (at == std::string::npos) return -1;
  auto space = page.find(' ', at + 1 + series.size());
  return std::atof(page.c_str() + space + 1);
}

TEST_CASE("share table: slots per session, who else wants the same GPU, slots given back") {
  auto table = server::ShareTable::Create();
  REQUIRE(table.ok());
  auto other_view = server::ShareTable::Map(::dup(table->fd()));  // as a worker maps it
  REQUIRE(other_view.ok());
  const std::uint32_t a = table->Claim(1, "GPU-a"), b = table->Claim(2, "GPU-a"),
                      c = table->Claim(3, "GPU-c");
  REQUIRE(a != server::ShareTable::kNoSlot);
  REQUIRE(b != server::ShareTable::kNoSlot);
  REQUIRE(c != server::ShareTable::kNoSlot);
  CHECK(a != b);
  constexpr std::uint64_t kMs = 1'000'000;
  CHECK_FALSE(other_view->OthersActive(a, 1000 * kMs, 100 * kMs));  // nobody has wanted GPU time yet
  other_view->Touch(b, 1000 * kMs);
  other_view->Touch(c, 1000 * kMs);
  CHECK(table->OthersActive(a, 1050 * kMs, 100 * kMs));        // b, on the same GPU, 50 ms ago
  CHECK_FALSE(table->OthersActive(a, 1200 * kMs, 100 * kMs));  // b has been quiet for 200 ms
  CHECK_FALSE(table->OthersActive(c, 1050 * kMs, 100 * kMs));  // a and b are on another GPU
  table->Release(b);
  CHECK_FALSE(table->OthersActive(a, 1050 * kMs, 100 * kMs));
  CHECK(table->Claim(4, "GPU-a") == b);                                   // the slot is free again
  CHECK(table->OthersActive(server::ShareTable::kNoSlot, 0, 100 * kMs));  // no slot: never alone
}

TEST_CASE("emulated kernel time: the stream stays busy, synchronisation waits, events time the kernel") {
  ServerProcess server = ServerProcess::Start({"--emulated-kernel-time", "1s"});
  TestClient c = TestClient::Open(server.endpoint);
  std::uint64_t f = LoadSpin(c);
  auto e0 = c.Call<Op::EventCreate>({0}), e1 = c.Call<Op::EventCreate>({0});
  REQUIRE(e0.result == CUDA_SUCCESS);
  REQUIRE(e1.result == CUDA_SUCCESS);
  const std::uint64_t start = std::get<0>(e0.fields), end = std::get<0>(e1.fields);
  c.Call<Op::EventRecord>({start, 0});
  Launch(c, f);
  c.Call<Op::EventRecord>({end, 0});
  CHECK(c.Result<Op::StreamQuery>({0}) == CUDA_ERROR_NOT_READY);
  CHECK(c.Result<Op::EventQuery>({end}) == CUDA_ERROR_NOT_READY);
  CHECK(c.Result<Op::EventElapsedTime>({start, end}) == CUDA_ERROR_NOT_READY);
  const auto before = Clock::now();
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  CHECK(Clock::now() - before > std::chrono::milliseconds(500));  // it waited for the kernel
  CHECK(c.Result<Op::StreamQuery>({0}) == CUDA_SUCCESS);
  auto elapsed = c.Call<Op::EventElapsedTime>({start, end});
  REQUIRE(elapsed.result == CUDA_SUCCESS);
  CHECK(std::get<0>(elapsed.fields) >= 1000.0f);
  CHECK(std::get<0>(elapsed.fields) < 1500.0f);  // record-to-launch gap: microseconds, unless stalled
}

TEST_CASE("kernel time is measured and exported as busy seconds, per session and per GPU") {
  ServerProcess server =
      ServerProcess::Start({"--emulated-kernel-time", "100ms", "--metrics-listen", "127.0.0.1:0"});
  TestClient c = TestClient::Open(server.endpoint);
  std::uint64_t f = LoadSpin(c);
  for (int i = 0; i < 3; ++i) Launch(c, f);
  // The worker collects the kernels a synchronisation waited for before it answers.
  REQUIRE(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  const std::string page = HttpGet(server.metrics, "/metrics");
  const double session = Metric(page, "gpupool_session_busy_seconds_total{");
  const double gpu = Metric(page, "gpupool_gpu_busy_seconds_total{");
  INFO(page);
  CHECK(session >= 0.299);
  CHECK(session < 0.4);
  CHECK(gpu >= session);
}

// Runs gpupool-share-bench against a server with 2 ms kernels; returns its JSON lines.
std::string RunShareBench(const std::string& share_idle) {
  ServerProcess server = ServerProcess::Start(
      {"--emulated-kernel-time", "2ms", "--control-listen", "127.0.0.1:0", "--share-idle", share_idle});
  auto bench = Subprocess::Start({BinDir() + "/gpupool-share-bench", "--server", server.endpoint.ToString(),
                                  "--control", server.control, "--seconds", "2", "--json"},
                                 {{}, {}, "", /*merge_stderr=*/false});
  REQUIRE(bench.ok());
  auto code = bench->Wait(std::chrono::seconds(120));
  INFO(bench->output());
  REQUIRE(code.ok());
  REQUIRE(*code == 0);
  return bench->output();
}

double BenchValue(const std::string& lines, const std::string& metric, int percent) {
  std::smatch m;
  std::regex re("\\{\"metric\":\"" + metric + "\",\"percent\":" + std::to_string(percent) +
                ",\"value\":([0-9.]+)");
  REQUIRE(std::regex_search(lines, m, re));
  return std::stod(m[1]);
}

// Without enforcement both sessions would run at full speed (0.5 of the pair each); the bounds are
// wide (±0.1) for a loaded machine but far from that.
TEST_CASE("compute shares: sessions at 30 % and 70 % split the GPU's time, a session alone uses idle time") {
  std::string lines = RunShareBench("on");
  INFO(lines);
  CHECK(BenchValue(lines, "share_of_pair", 30) > 0.2);
  CHECK(BenchValue(lines, "share_of_pair", 30) < 0.4);
  CHECK(BenchValue(lines, "share_gpu_fraction", 30) < 0.42);
  CHECK(BenchValue(lines, "share_gpu_fraction", 70) > 0.5);
  CHECK(BenchValue(lines, "share_gpu_fraction", 70) < 0.82);
  CHECK(BenchValue(lines, "share_alone_gpu_fraction", 30) > 0.6);  // --share-idle on: it borrows
}

TEST_CASE("compute shares: with --share-idle off a session alone stays at its share") {
  std::string lines = RunShareBench("off");
  INFO(lines);
  CHECK(BenchValue(lines, "share_of_pair", 30) < 0.4);
  CHECK(BenchValue(lines, "share_alone_gpu_fraction", 30) < 0.42);
}

TEST_CASE("hang watchdog: a kernel past --kernel-timeout ends its session only, within the limit + 5 s") {
  ServerProcess server = ServerProcess::Start({"--emulated-kernel-time", "60s", "--kernel-timeout", "1s"});
  TestClient bystander = TestClient::Open(server.endpoint);
  bystander.UseDevice0();
  auto held = bystander.Call<Op::MemAlloc>({1 << 20});
  REQUIRE(held.result == CUDA_SUCCESS);

  SECTION("the session's thread waits in the driver for the kernel") {
    TestClient hung = TestClient::Open(server.endpoint);
    std::uint64_t f = LoadSpin(hung);
    const auto launched = Clock::now();
    Launch(hung, f);
    REQUIRE(protocol::SendRequest<Op::CtxSynchronize>(hung.conn(), 1000, {}).ok());
    protocol::ErrorMessage error = hung.ExpectErrorAndClose();
    CHECK(error.code == Code::kDeadlineExceeded);
    CHECK(error.message.find("--kernel-timeout") != std::string::npos);
    CHECK(Clock::now() - launched < std::chrono::seconds(6));
    auto ended = server.process.WaitForLine("session " + std::to_string(hung.session_id()) + " ended", kWait);
    INFO(ended.status().ToString());
    REQUIRE(ended.ok());
    CHECK(ended->find("exited with 3") != std::string::npos);
  }
  SECTION("the session's thread is idle, waiting for the client's next call") {
    TestClient hung = TestClient::Open(server.endpoint);
    std::uint64_t f = LoadSpin(hung);
    const auto launched = Clock::now();
    Launch(hung, f);
    protocol::ErrorMessage error = hung.ExpectErrorAndClose();
    CHECK(error.message.find("--kernel-timeout") != std::string::npos);
    CHECK(Clock::now() - launched < std::chrono::seconds(6));
    auto ended = server.process.WaitForLine("session " + std::to_string(hung.session_id()) + " ended", kWait);
    REQUIRE(ended.ok());
  }
  // The other session carries on, its memory intact.
  CHECK(bystander.Result<Op::MemFree>({std::get<0>(held.fields)}) == CUDA_SUCCESS);
  CHECK(bystander.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpupool::testing
