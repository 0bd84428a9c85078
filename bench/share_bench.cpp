// gpupool-share-bench --server HOST:PORT [--control HOST:PORT] [--token-file F] [--seconds S]
//                     [--percents A,B] [--kernel-ms MS] --json
// (issue 6 item 2, docs/compute-share.md): how a GPU's time is split between sessions with compute
// shares. Through the server's Control API it admits pods and runs client processes (gpupool's
// libcuda.so.1, the same kernel loop in each: launch 16 kernels, synchronise) for one common window:
//   1. one client at 100 %: the GPU's throughput, the baseline;
//   2. two clients at A % and B % (default 30 and 70) at the same time: each one's fraction of the
//      baseline and its part of the pair's kernels;
//   3. the A % client alone: whether a session alone uses idle capacity (server flag --share-idle).
// The kernel spins on %globaltimer for --kernel-ms (2 ms) on a real GPU; on the emulated device each
// launch takes --emulated-kernel-time instead. JSON lines: metric, percent, value, baseline, ratio.
//
// Hidden: --client POD_UID SPIN_NS runs one client: it connects, loads its kernel, prints "ready",
// reads "START_NS END_NS" (steady clock) from stdin and prints its kernel count for that window. The
// window opens only once every client of a round is ready, however long a loaded machine takes.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench/client_driver.h"
#include "cli/local_server.h"
#include "common/control/control_channel.h"
#include "common/endpoint.h"
#include "gpupool/control/v1/control.grpc.pb.h"

extern char** environ;

namespace gpupool::bench {
namespace {

namespace cv1 = control::v1;
using Clock = std::chrono::steady_clock;
constexpr int kBatch = 16;  // kernels per synchronisation: the loop alone keeps the GPU busy

// Every thread spins until %globaltimer has advanced by spin_ns: a kernel of a known length that
// keeps the whole GPU busy (264 blocks of 128 threads). PTX, so the bench needs no nvcc.
constexpr char kPtx[] =
    ".version 7.0\n.target sm_70\n.address_size 64\n"
    ".visible .entry share_spin(.param .u64 spin_ns)\n{\n"
    " .reg .pred %p<2>;\n .reg .b64 %rd<5>;\n"
    " ld.param.u64 %rd1, [spin_ns];\n mov.u64 %rd2, %globaltimer;\n add.s64 %rd3, %rd2, %rd1;\n"
    "$L_spin:\n mov.u64 %rd4, %globaltimer;\n setp.lt.u64 %p1, %rd4, %rd3;\n @%p1 bra $L_spin;\n"
    " ret;\n}\n";

std::uint64_t NowNs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// The child: kernels whose batch finished inside [start, end) are counted.
int RunClient(std::uint64_t spin_ns) {
  auto loaded = LoadClientDriver(cli::ExecutableDir() + "/../lib/libcuda.so.1");
  if (!loaded.ok()) {
    std::fprintf(stderr, "gpupool-share-bench: %s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const ClientDriver& cu = *loaded;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUmodule module = nullptr;
  CUfunction kernel = nullptr;
  if (cu.Init(0) != CUDA_SUCCESS || cu.DeviceGet(&device, 0) != CUDA_SUCCESS ||
      cu.PrimaryCtxRetain(&context, device) != CUDA_SUCCESS || cu.CtxSetCurrent(context) != CUDA_SUCCESS ||
      cu.ModuleLoadData(&module, kPtx) != CUDA_SUCCESS ||
      cu.ModuleGetFunction(&kernel, module, "share_spin") != CUDA_SUCCESS) {
    std::fprintf(stderr, "gpupool-share-bench: client cannot initialise or load its kernel\n");
    return 1;
  }
  void* params[] = {&spin_ns};
  for (int i = 0; i < kBatch; ++i) cu.LaunchKernel(kernel, 264, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr);
  if (cu.CtxSynchronize() != CUDA_SUCCESS) {
    std::fprintf(stderr, "gpupool-share-bench: the first kernels failed\n");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  unsigned long long start = 0, end = 0;
  if (std::scanf("%llu %llu", &start, &end) != 2 || end <= start) {
    std::fprintf(stderr, "gpupool-share-bench: client got no window\n");
    return 1;
  }
  std::uint64_t counted = 0;
  for (std::uint64_t now = NowNs(); now < end; now = NowNs()) {
    for (int i = 0; i < kBatch; ++i)
      cu.LaunchKernel(kernel, 264, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr);
    if (CUresult r = cu.CtxSynchronize(); r != CUDA_SUCCESS) {
      std::fprintf(stderr, "gpupool-share-bench: kernels failed (%d)\n", r);
      return 1;
    }
    const std::uint64_t done = NowNs();
    if (done >= start && done < end) counted += kBatch;
  }
  std::printf("{\"kernels\":%llu,\"seconds\":%.3f}\n", static_cast<unsigned long long>(counted),
              static_cast<double>(end - start) / 1e9);
  return 0;
}

struct Options {
  std::string server, control, token_file;
  double seconds = 5;
  std::uint32_t a = 30, b = 70;
  std::uint64_t spin_ns = 2'000'000;
};

class Pods {
 public:
  // The server's token (--token-file) goes with every Control call when the server asks for one.
  explicit Pods(const Options& o)
      : stub_(cv1::Control::NewStub(grpc::CreateChannel(o.control, grpc::InsecureChannelCredentials()))) {
    access_.token_file = o.token_file;
  }

  Result<std::string> FirstGpu() {
    grpc::ClientContext ctx;
    Deadline(ctx);
    cv1::Inventory inventory;
    grpc::Status s = stub_->GetInventory(&ctx, {}, &inventory);
    if (!s.ok()) return Status::Unavailable("Control GetInventory: " + s.error_message());
    if (inventory.gpus().empty()) return Status::NotFound("the server has no GPU");
    return inventory.gpus(0).uuid();
  }
  Status Admit(const std::string& uid, const std::string& gpu, std::uint32_t percent) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    cv1::AdmitRequest req;
    req.set_pod_uid(uid);
    req.set_pod_namespace("gpupool-share-bench");
    req.set_pod_name(uid);
    auto* share = req.add_shares();
    share->set_gpu_uuid(gpu);
    share->set_percent(percent);
    share->set_memory_bytes(256ULL << 20);
    cv1::AdmitResponse reply;
    grpc::Status s = stub_->Admit(&ctx, req, &reply);
    return s.ok() ? Status::Ok() : Status::Unavailable("Control Admit " + uid + ": " + s.error_message());
  }
  void Revoke(const std::string& uid) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    cv1::RevokeRequest req;
    req.set_pod_uid(uid);
    cv1::RevokeResponse reply;
    (void)stub_->Revoke(&ctx, req, &reply);
  }

 private:
  void Deadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    (void)control::AuthorizeCall(access_, &ctx);  // an unreadable token file: the server says UNAUTHENTICATED
  }
  control::ControlAccess access_;
  std::unique_ptr<cv1::Control::Stub> stub_;
};

// A client process for `uid`; its stdout is read from `out`.
struct Child {
  pid_t pid = -1;
  int in = -1;   // its stdin: the window
  int out = -1;  // its stdout: "ready", then the result
};

Result<Child> Spawn(const Options& o, const std::string& uid) {
  std::vector<std::string> env = {"GPUPOOL_SERVER=" + o.server, "GPUPOOL_POD_UID=" + uid};
  if (!o.token_file.empty()) env.push_back("GPUPOOL_TOKEN_FILE=" + o.token_file);
  for (char** e = environ; *e != nullptr; ++e) {
    std::string v = *e;
    if (v.rfind("GPUPOOL_SERVER=", 0) != 0 && v.rfind("GPUPOOL_POD_UID=", 0) != 0 &&
        v.rfind("GPUPOOL_TOKEN_FILE=", 0) != 0)
      env.push_back(v);
  }
  std::vector<std::string> args = {cli::ExecutableDir() + "/gpupool-share-bench", "--client", uid,
                                   std::to_string(o.spin_ns)};
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int out[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::Internal("pipe");
  if (pipe2(in, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return Status::Internal("pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  Child c;
  int rc = posix_spawn(&c.pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(in[0]);
  if (rc != 0) {
    close(out[0]);
    close(in[1]);
    return Status::Internal("cannot start " + args[0]);
  }
  c.out = out[0];
  c.in = in[1];
  return c;
}

// Reads the child's "ready" line (byte by byte: what follows stays in the pipe for Collect).
bool Ready(const Child& c) {
  std::string line;
  char ch = 0;
  while (read(c.out, &ch, 1) == 1) {
    if (ch == '\n') return line == "ready";
    line += ch;
  }
  return false;
}

// Kernels per second of the child, from its JSON line.
Result<double> Collect(Child c) {
  close(c.in);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = read(c.out, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  close(c.out);
  int status = 0;
  waitpid(c.pid, &status, 0);
  unsigned long long kernels = 0;
  double seconds = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      std::sscanf(text.c_str(), "{\"kernels\":%llu,\"seconds\":%lf}", &kernels, &seconds) != 2 ||
      seconds <= 0)
    return Status::Internal("a client failed: " + text);
  return static_cast<double>(kernels) / seconds;
}

// Runs one client per (uid, percent) at once over a common window; kernels per second of each.
Result<std::vector<double>> Round(const Options& o, Pods& pods, const std::string& gpu,
                                  const std::vector<std::pair<std::string, std::uint32_t>>& clients) {
  for (const auto& [uid, percent] : clients) GPUPOOL_RETURN_IF_ERROR(pods.Admit(uid, gpu, percent));
  std::vector<Child> children;
  Status failed;
  for (const auto& [uid, percent] : clients) {
    auto c = Spawn(o, uid);
    if (!c.ok()) {
      failed = c.status();
    } else {
      children.push_back(*c);
    }
  }
  // The window opens once every client has connected, loaded its kernel and run a first batch.
  for (const Child& c : children) {
    if (!Ready(c)) failed = Status::Internal("a client did not get ready (see its errors above)");
  }
  const std::uint64_t start = NowNs() + 200'000'000ULL;
  const std::uint64_t end = start + static_cast<std::uint64_t>(o.seconds * 1e9);
  const std::string window = std::to_string(start) + " " + std::to_string(end) + "\n";
  for (const Child& c : children) (void)!write(c.in, window.data(), window.size());
  std::vector<double> rates;
  for (Child c : children) {
    auto r = Collect(c);
    if (!r.ok()) failed = r.status();
    rates.push_back(r.ok() ? *r : 0);
  }
  for (const auto& [uid, percent] : clients) pods.Revoke(uid);
  if (!failed.ok()) return failed;
  return rates;
}

void Emit(const char* metric, std::uint32_t percent, double value, double baseline) {
  std::printf("{\"metric\":\"%s\",\"percent\":%u,\"value\":%.3f,\"baseline\":%.3f,\"ratio\":%.3f}\n", metric,
              percent, value, baseline, baseline > 0 ? value / baseline : 0.0);
  std::fflush(stdout);
}

int Run(const Options& o) {
  Pods pods(o);
  auto gpu = pods.FirstGpu();
  if (!gpu.ok()) {
    std::fprintf(stderr, "gpupool-share-bench: %s\n", gpu.status().ToString().c_str());
    return 1;
  }
  const std::string base = "share-bench-" + std::to_string(getpid());
  auto full = Round(o, pods, *gpu, {{base + "-full", 100}});
  auto pair = full.ok() ? Round(o, pods, *gpu, {{base + "-a", o.a}, {base + "-b", o.b}}) : full;
  auto alone = pair.ok() ? Round(o, pods, *gpu, {{base + "-a", o.a}}) : pair;
  if (!alone.ok()) {
    std::fprintf(stderr, "gpupool-share-bench: %s\n", alone.status().ToString().c_str());
    return 1;
  }
  const double gpu_rate = (*full)[0], ra = (*pair)[0], rb = (*pair)[1];
  if (gpu_rate <= 0 || ra + rb <= 0) {
    std::fprintf(stderr, "gpupool-share-bench: no kernel finished inside the window\n");
    return 1;
  }
  Emit("share_gpu_kernels_per_s", 100, gpu_rate, gpu_rate);
  Emit("share_gpu_fraction", o.a, ra / gpu_rate, o.a / 100.0);
  Emit("share_gpu_fraction", o.b, rb / gpu_rate, o.b / 100.0);
  Emit("share_of_pair", o.a, ra / (ra + rb), o.a / static_cast<double>(o.a + o.b));
  Emit("share_of_pair", o.b, rb / (ra + rb), o.b / static_cast<double>(o.a + o.b));
  Emit("share_alone_gpu_fraction", o.a, (*alone)[0] / gpu_rate, o.a / 100.0);
  return 0;
}

}  // namespace
}  // namespace gpupool::bench

int main(int argc, char** argv) {
  using namespace gpupool;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "--client") {
    setenv("GPUPOOL_LOG_LEVEL", "warn", 0);
    return bench::RunClient(std::stoull(args[2]));
  }
  std::signal(SIGPIPE, SIG_IGN);  // a client that died must not take the bench with it
  bench::Options o;
  const char* usage =
      "usage: gpupool-share-bench --server HOST:PORT [--control HOST:PORT] [--token-file F] [--seconds S]\n"
      "                           [--percents A,B] [--kernel-ms MS] --json\n";
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--json") continue;
    if (!has_value) {
      std::fputs(usage, stderr);
      return 2;
    }
    const std::string v = args[++i];
    if (a == "--server") {
      o.server = v;
    } else if (a == "--control") {
      o.control = v;
    } else if (a == "--token-file") {
      o.token_file = v;
    } else if (a == "--seconds") {
      o.seconds = std::atof(v.c_str());
    } else if (a == "--kernel-ms") {
      o.spin_ns = static_cast<std::uint64_t>(std::atof(v.c_str()) * 1e6);
    } else if (a == "--percents") {
      unsigned x = 0, y = 0;
      if (std::sscanf(v.c_str(), "%u,%u", &x, &y) != 2 || x < 1 || y < 1 || x + y > 100) {
        std::fprintf(stderr, "gpupool-share-bench: --percents A,B with A + B <= 100\n");
        return 2;
      }
      o.a = x;
      o.b = y;
    } else {
      std::fputs(usage, stderr);
      return 2;
    }
  }
  auto endpoint = ParseEndpoint(o.server);
  if (o.server.empty() || !endpoint.ok() || endpoint->kind != Endpoint::Kind::kTcp || o.seconds <= 0 ||
      o.spin_ns == 0) {
    std::fputs(usage, stderr);
    return 2;
  }
  if (o.control.empty()) {
    const bool v6 = endpoint->host.find(':') != std::string::npos;
    o.control = (v6 ? "[" + endpoint->host + "]" : endpoint->host) + ":" + std::to_string(endpoint->port + 1);
  }
  return bench::Run(o);
}
