// gpupool-server's /metrics against the real server (emulated device): every series that
// docs/operations.md ("### gpupool-server") lists is exported, and each counter is raised by the event
// it names — a clean close, a broken connection, a protocol violation, a crashed worker, a wrong
// token, a bad handle, a module image found in the cache.
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "remoting/server/metrics_render.h"
#include "tests/remoting/server/image_upload.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

// The value of one series, written exactly as rendered (name and labels); -1 when it is absent.
double Value(const std::string& page, const std::string& series) {
  auto at = page.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + series.size() + 2));
}

std::string Scrape(const ServerProcess& server) {
  std::string response = HttpGet(server.metrics, "/metrics");
  REQUIRE(response.rfind("HTTP/1.0 200 OK", 0) == 0);
  return response;
}

// Waits until the broker has reaped session `id`'s worker: its counters are then in the totals.
void WaitEnded(ServerProcess& server, std::uint64_t id) {
  auto line = server.process.WaitForLine("session " + std::to_string(id) + " ended", kWait);
  INFO(line.status().ToString());
  REQUIRE(line.ok());
}

std::string HelloFrame(const std::string& token, const std::string& pod_uid,
                       std::uint16_t version = protocol::kProtocolVersion) {
  std::string p = protocol::EncodeHello({protocol::kMagic, version, token, "metrics_test", 1, pod_uid, ""});
  return Header(static_cast<std::uint32_t>(p.size()), protocol::kOpHello, 0, 0) + p;
}

// The client library's way to load a module: ask for the image by hash, upload it on a miss, load.
std::uint32_t LoadModule(TestClient& c, const std::string& image) {
  std::string hash = Sha256(image);
  if (std::get<0>(c.Call<Op::ImageQuery>({hash}).fields) == 0)
    c.Call<Op::ImageUpload>({hash, image.size(), 0}, image);
  return c.Call<Op::ModuleLoadData>({hash}).result;
}

// The metric names of docs/operations.md's "### gpupool-server" table.
std::set<std::string> DocumentedServerMetrics() {
  std::ifstream in(SourceDir() + "/docs/operations.md");
  REQUIRE(in.good());
  std::set<std::string> names;
  std::string line;
  bool in_section = false;
  std::regex row(R"(^\| `(gpupool_[a-z_]+)` \|)");
  while (std::getline(in, line)) {
    if (line.rfind("### ", 0) == 0) in_section = line == "### gpupool-server";
    std::smatch m;
    if (in_section && std::regex_search(line, m, row)) names.insert(m[1]);
  }
  return names;
}

TEST_CASE("/metrics reports sessions, memory and traffic in Prometheus text") {
  ServerProcess server =
      ServerProcess::Start({"--metrics-listen", "127.0.0.1:0", "--session-memory", "1GiB"});
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  std::uint64_t ptr = std::get<0>(c.Call<Op::MemAlloc>({1 << 20}).fields);
  REQUIRE(c.Result<Op::MemcpyHtoD>({ptr}, Pattern(5000, 4)) == CUDA_SUCCESS);
  REQUIRE(c.Call<Op::MemcpyDtoH>({ptr, 3000}).result == CUDA_SUCCESS);
  CHECK(c.Result<Op::StreamSynchronize>({0xbad}) == CUDA_ERROR_INVALID_HANDLE);

  std::string page = Scrape(server);
  // Names and labels as docs/operations.md and the chart's dashboard use them.
  std::smatch m;
  REQUIRE(std::regex_search(page, m, std::regex("\ngpupool_sessions\\{gpu=\"(GPU-[0-9a-f-]+)\"\\} 1\n")));
  const std::string gpu = m[1];
  std::string labels =
      "{gpu=\"" + gpu + "\",namespace=\"\",pod=\"\",session=\"" + std::to_string(c.session_id());
  CHECK(Value(page, "gpupool_session_memory_used_bytes" + labels + "\"}") == 1048576);
  CHECK(Value(page, "gpupool_session_memory_limit_bytes" + labels + "\"}") == 1073741824);
  CHECK(Value(page, "gpupool_session_bytes_total" + labels + "\",direction=\"to_device\"}") == 5000);
  CHECK(Value(page, "gpupool_bytes_transferred_total{gpu=\"" + gpu + "\",direction=\"to_device\"}") == 5000);
  CHECK(Value(page, "gpupool_bytes_transferred_total{gpu=\"" + gpu + "\",direction=\"from_device\"}") ==
        3000);
  CHECK(Value(page, "gpupool_call_errors_total{code=\"CUDA_ERROR_INVALID_HANDLE\"}") == 1);
  CHECK(Value(page, "gpupool_gpu_memory_total_bytes{gpu=\"" + gpu + "\"}") > 0);
  CHECK(Value(page, "gpupool_gpu_percent_admitted{gpu=\"" + gpu + "\"}") == 0);
  CHECK(HttpGet(server.metrics, "/other").rfind("HTTP/1.0 404", 0) == 0);
}

TEST_CASE("/metrics: server and GPU identity, and every series docs/operations.md lists") {
  ServerProcess server = ServerProcess::Start({"--metrics-listen", "127.0.0.1:0", "--emulated-gpus", "2"});
  std::string page = Scrape(server);
  CHECK(std::regex_search(page,
                          std::regex("\ngpupool_server_info\\{version=\"[0-9.]+\",device_kind=\"emulated\","
                                     "server_id=\"[^\"]+\"\\} 1\n")));
  auto count = [&page](const std::string& pattern) {
    std::regex re(pattern);
    return std::distance(std::sregex_iterator(page.begin(), page.end(), re), std::sregex_iterator());
  };
  CHECK(count("\ngpupool_gpu_info\\{gpu=\"GPU-[0-9a-f-]+\",index=\"[01]\",model=\"[^\"]+\"\\} 1") == 2);
  CHECK(count("\ngpupool_gpu_healthy\\{gpu=\"GPU-[0-9a-f-]+\"\\} 1") == 2);

  // Every documented series is exported, and nothing undocumented. Kernel busy time
  // (gpupool_*_busy_seconds_total) comes with the compute-share work and is not exported yet.
  std::set<std::string> documented = DocumentedServerMetrics();
  REQUIRE(documented.size() > 20);
  std::set<std::string> exported;
  std::regex type_line("\n# TYPE (gpupool_[a-z_]+) ");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), type_line); it != std::sregex_iterator();
       ++it)
    exported.insert((*it)[1]);
  for (const std::string& name : documented) {
    INFO(name);
    if (name.find("busy_seconds") != std::string::npos) continue;
    CHECK(exported.count(name) == 1);
  }
  for (const std::string& name : exported) {
    INFO(name << " is exported but docs/operations.md does not list it");
    CHECK(documented.count(name) == 1);
  }
}

TEST_CASE("/metrics counts each event by its cause") {
  TempDir dir;
  {
    std::ofstream token(dir.File("token"));
    token << "s3cret\n";
  }
  ServerProcess server =
      ServerProcess::Start({"--metrics-listen", "127.0.0.1:0", "--token-file", dir.File("token")});

  // Refused at the handshake: a wrong token, a pod this server has not admitted, a call before
  // Hello, a protocol version it does not speak.
  struct Refused {
    const char* what;
    std::string bytes;
    Code code;
  };
  const std::vector<Refused> refused = {
      {"wrong token", HelloFrame("guess", ""), Code::kUnauthenticated},
      {"pod not admitted", HelloFrame("s3cret", "pod-x"), Code::kPermissionDenied},
      {"a call before Hello",
       Header(8, static_cast<std::uint16_t>(Op::MemAlloc), 0, 1) + std::string(8, '\0'),
       Code::kInvalidArgument},
      {"future version", HelloFrame("s3cret", "", 99), Code::kInvalidArgument},
  };
  for (const Refused& r : refused) {
    INFO(r.what);
    TestClient raw = TestClient::Raw(server.endpoint);
    SendRaw(raw.conn(), r.bytes);
    CHECK(raw.ExpectErrorAndClose().code == r.code);
  }

  // 1. A session that works, then closes cleanly.
  const std::string image =
      ".version 8.0\n.target sm_90\n.address_size 64\n"
      ".visible .entry k_add(.param .u64 p, .param .u32 n)\n{\n  ret;\n}\n";
  std::uint64_t closed_id = 0;
  {
    TestClient c = TestClient::Open(server.endpoint, "", "s3cret");
    closed_id = c.session_id();
    c.UseDevice0();
    REQUIRE(c.Call<Op::MemAlloc>({4096}).result == CUDA_SUCCESS);
    CHECK(c.Result<Op::StreamSynchronize>({0xbad}) == CUDA_ERROR_INVALID_HANDLE);
    c.Call<Op::MemsetD8>({0x10, 0, 16, 0});  // asynchronous: latched, counted when reported
    CHECK(c.Result<Op::StreamSynchronize>({0}) == CUDA_ERROR_INVALID_VALUE);
    REQUIRE(LoadModule(c, image + '\0') == CUDA_SUCCESS);  // a miss: uploaded
    REQUIRE(LoadModule(c, image + '\0') == CUDA_SUCCESS);  // a hit: loaded from the cache

    std::string live = Scrape(server);
    CHECK(Value(live, "gpupool_call_errors_total{code=\"CUDA_ERROR_INVALID_HANDLE\"}") == 1);
    CHECK(Value(live, "gpupool_call_errors_total{code=\"CUDA_ERROR_INVALID_VALUE\"}") == 1);
    CHECK(Value(live, "gpupool_module_cache_misses_total") == 1);
    CHECK(Value(live, "gpupool_module_cache_hits_total") == 1);
    CHECK(Value(live, "gpupool_module_cache_bytes") == static_cast<double>(image.size() + 1));
    // Synchronous requests by class: one MemAlloc; StreamSynchronize twice; ImageQuery and
    // ModuleLoadData twice each. Every observation is in the +Inf bucket.
    CHECK(Value(live, "gpupool_request_duration_seconds_count{call_class=\"memory\"}") == 1);
    CHECK(Value(live, "gpupool_request_duration_seconds_count{call_class=\"stream\"}") == 2);
    CHECK(Value(live, "gpupool_request_duration_seconds_count{call_class=\"module\"}") == 4);
    CHECK(Value(live, "gpupool_request_duration_seconds_bucket{call_class=\"module\",le=\"+Inf\"}") == 4);
    CHECK(Value(live, "gpupool_request_duration_seconds_sum{call_class=\"module\"}") > 0);
    CHECK(Value(live, "gpupool_request_duration_seconds_count{call_class=\"launch\"}") == 0);
    CHECK(Value(live, "gpupool_request_duration_seconds_count{call_class=\"memset\"}") ==
          -1);  // never answered
    CHECK(Value(live, "gpupool_sessions_ended_total{reason=\"closed\"}") == 0);
  }
  WaitEnded(server, closed_id);

  // 2. A client that vanishes inside a frame: lost, not closed.
  std::uint64_t lost_id = 0;
  {
    TestClient c = TestClient::Open(server.endpoint, "", "s3cret");
    lost_id = c.session_id();
    c.UseDevice0();
    SendRaw(c.conn(), Header(8, static_cast<std::uint16_t>(Op::MemAlloc), 0, 9).substr(0, 7));
  }
  WaitEnded(server, lost_id);

  // 3. A protocol violation after the handshake.
  TestClient bad = TestClient::Open(server.endpoint, "", "s3cret");
  SendRaw(bad.conn(), Header(0, 0x7777, 0, 1));
  CHECK(bad.ExpectErrorAndClose().code == Code::kInvalidArgument);
  WaitEnded(server, bad.session_id());

  // 4. A worker that dies without a word.
  TestClient doomed = TestClient::Open(server.endpoint, "", "s3cret");
  auto started =
      server.process.WaitForLine("session " + std::to_string(doomed.session_id()) + " for ", kWait);
  REQUIRE(started.ok());
  pid_t worker = std::stoi(started->substr(started->rfind("worker ") + 7));
  REQUIRE(::kill(worker, SIGKILL) == 0);
  WaitEnded(server, doomed.session_id());

  std::string page = Scrape(server);
  CHECK(Value(page, "gpupool_auth_failures_total{reason=\"bad_token\"}") == 1);
  CHECK(Value(page, "gpupool_auth_failures_total{reason=\"not_admitted\"}") == 1);
  CHECK(Value(page, "gpupool_protocol_errors_total{reason=\"handshake\"}") == 1);
  CHECK(Value(page, "gpupool_protocol_errors_total{reason=\"version\"}") == 1);
  CHECK(Value(page, "gpupool_protocol_errors_total{reason=\"opcode\"}") == 1);
  CHECK(Value(page, "gpupool_protocol_errors_total{reason=\"frame\"}") == 0);
  CHECK(Value(page, "gpupool_sessions_started_total") == 4);
  CHECK(Value(page, "gpupool_sessions_ended_total{reason=\"closed\"}") == 1);
  CHECK(Value(page, "gpupool_sessions_ended_total{reason=\"client_lost\"}") == 1);
  CHECK(Value(page, "gpupool_sessions_ended_total{reason=\"protocol_error\"}") == 1);
  CHECK(Value(page, "gpupool_sessions_ended_total{reason=\"worker_crashed\"}") == 1);
  CHECK(Value(page, "gpupool_sessions_ended_total{reason=\"revoked\"}") == 0);
  // What ended sessions did stays counted; what they held does not.
  CHECK(Value(page, "gpupool_call_errors_total{code=\"CUDA_ERROR_INVALID_HANDLE\"}") == 1);
  CHECK(Value(page, "gpupool_call_errors_total{code=\"CUDA_ERROR_INVALID_VALUE\"}") == 1);
  CHECK(Value(page, "gpupool_module_cache_hits_total") == 1);
  CHECK(Value(page, "gpupool_module_cache_bytes") == 0);
  CHECK(Value(page, "gpupool_request_duration_seconds_count{call_class=\"module\"}") == 4);
  CHECK(std::regex_search(page, std::regex("\ngpupool_sessions\\{gpu=\"GPU-[0-9a-f-]+\"\\} 0\n")));
}

TEST_CASE("/metrics: a session whose worker cannot open its device ends with device_error") {
  // The broker never opens the device; the worker does, and fails on a driver that is not there.
  auto process = Subprocess::Start({BinDir() + "/gpupool-server", "--device", "cuda", "--cuda-library",
                                    "/nonexistent/libcuda.so.1", "--listen", "127.0.0.1:0",
                                    "--metrics-listen", "127.0.0.1:0"});
  REQUIRE(process.ok());
  ServerProcess server{std::move(*process), {}, {}, {}};
  auto metrics = server.process.WaitForLine("metrics on ", kWait);
  REQUIRE(metrics.ok());
  server.metrics = metrics->substr(metrics->find("metrics on ") + 11);
  auto listening = server.process.WaitForLine("listening on ", kWait);
  REQUIRE(listening.ok());
  auto endpoint = ParseEndpoint(listening->substr(listening->find("listening on ") + 13));
  REQUIRE(endpoint.ok());

  TestClient raw = TestClient::Raw(*endpoint);
  SendRaw(raw.conn(), HelloFrame("", ""));
  // The broker's HelloOk and the worker's Error may come in either order; then the connection closes.
  std::uint64_t id = 0;
  bool error_seen = false;
  for (int frames = 0; frames < 2; ++frames) {
    auto header = raw.conn().ReadHeader();
    REQUIRE(header.ok());
    std::string payload;
    REQUIRE(raw.conn().ReadPayload(header->payload_size, &payload).ok());
    if (header->opcode == protocol::kOpHelloOk) {
      id = protocol::DecodeHelloOk(payload)->session_id;
    } else {
      REQUIRE(header->opcode == protocol::kOpError);
      CHECK(protocol::DecodeError(payload)->code == Code::kUnavailable);
      error_seen = true;
    }
  }
  REQUIRE(id != 0);
  CHECK(error_seen);
  WaitEnded(server, id);
  std::string page = Scrape(server);
  CHECK(Value(page, "gpupool_sessions_ended_total{reason=\"device_error\"}") == 1);
  CHECK(Value(page, "gpupool_sessions_started_total") == 1);
}

TEST_CASE("RenderMetrics: a GPU the inventory could not query is unhealthy") {
  server::Registry registry;
  server::GpuInfo ok, sick;
  ok.uuid = "GPU-aa";
  ok.name = "Test GPU";
  ok.memory_bytes = 1024;
  sick.index = 1;
  sick.uuid = "GPU-bb";
  sick.healthy = false;
  sick.unhealthy = "cuDeviceTotalMem failed";
  std::string page = "\n" + server::RenderMetrics(registry, {"1.2.3", "cuda", "host-1"}, {ok, sick});
  CHECK(Value(page, "gpupool_gpu_healthy{gpu=\"GPU-aa\"}") == 1);
  CHECK(Value(page, "gpupool_gpu_healthy{gpu=\"GPU-bb\"}") == 0);
  CHECK(Value(page, "gpupool_gpu_info{gpu=\"GPU-aa\",index=\"0\",model=\"Test GPU\"}") == 1);
  CHECK(Value(page, "gpupool_server_info{version=\"1.2.3\",device_kind=\"cuda\",server_id=\"host-1\"}") == 1);
  CHECK(Value(page, "gpupool_sessions{gpu=\"GPU-bb\"}") == 0);
  CHECK(Value(page, "gpupool_sessions_started_total") == 0);
}

}  // namespace
}  // namespace gpupool::testing
