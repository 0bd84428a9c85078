// gpupool-operator-bench: binds N pods onto G GPUs. The real gpupool-operator binary (next to this
// one in build/bin) runs as a child process against an in-process fake API server and fake GPU
// servers; reported: pods bound per second, the operator process's memory (VmRSS/VmHWM of the
// child alone), and API / Control calls per bind (docs/operator.md, bench/results/operator.md).
//
//   gpupool-operator-bench [--pods 10000] [--gpus 1000] [--servers 10] [--workers 8]
//
// Every pod asks 100 / (pods / gpus) percent of one GPU, so the pool ends exactly full.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "tests/operator/scenario_env.h"

extern char** environ;

namespace {

long StatusKb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return -1;
}

long Sum(const std::map<std::string, long>& counts, std::initializer_list<const char*> verbs) {
  long n = 0;
  for (const char* v : verbs) {
    auto it = counts.find(v);
    if (it != counts.end()) n += it->second;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gpupool;
  int pods = 10000, gpus = 1000, servers = 10, workers = 8;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = i + 1 < argc ? std::atoi(argv[i + 1]) : 0;
    int* target = flag == "--pods"      ? &pods
                  : flag == "--gpus"    ? &gpus
                  : flag == "--servers" ? &servers
                  : flag == "--workers" ? &workers
                                        : nullptr;
    if (target == nullptr || value <= 0) {
      std::fprintf(stderr,
                   "usage: gpupool-operator-bench [--pods N] [--gpus N] [--servers N] [--workers N]\n");
      return 2;
    }
    *target = value;
  }
  if (gpus % servers != 0 || pods % gpus != 0 || pods / gpus > 100) {
    std::fprintf(stderr,
                 "gpupool-operator-bench: need gpus %% servers == 0, pods %% gpus == 0, pods/gpus <= 100\n");
    return 2;
  }
  const int percent = 100 / (pods / gpus);
  testing::ScenarioEnv env;
  std::vector<testing::FakeControlServer*> fakes;
  for (int s = 0; s < servers; ++s) fakes.push_back(&env.AddServer("s" + std::to_string(s), gpus / servers));
  env.CreatePool();
  char dir[] = "/tmp/gpupool-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  const std::string kubeconfig = std::string(dir) + "/kubeconfig";
  std::ofstream(kubeconfig) << env.api().Kubeconfig();

  std::string self(4096, '\0');
  self.resize(
      static_cast<std::size_t>(std::max<ssize_t>(0, readlink("/proc/self/exe", self.data(), self.size()))));
  const std::string binary = self.substr(0, self.rfind('/')) + "/gpupool-operator";
  const std::string workers_flag = "--binder-workers=" + std::to_string(workers);
  std::vector<std::string> args = {binary,
                                   "--kubeconfig",
                                   kubeconfig,
                                   "--leader-elect=false",
                                   "--webhook-listen=",
                                   "--metrics-listen=127.0.0.1:0",
                                   workers_flag,
                                   "--probe-interval-seconds=5"};
  std::vector<char*> cargv;
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t child = 0;
  if (posix_spawn(&child, binary.c_str(), nullptr, nullptr, cargv.data(), environ) != 0) {
    std::fprintf(stderr, "gpupool-operator-bench: cannot start %s\n", binary.c_str());
    return 1;
  }
  env.api().ResetRequestCounts();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < pods; ++i) env.CreatePod("p" + std::to_string(i), percent);
  const auto created = std::chrono::steady_clock::now();
  long admitted = 0, peak_rss = 0;
  const bool done = testing::WaitFor(
      [&] {
        admitted = 0;
        for (auto* f : fakes) admitted += static_cast<long>(f->admissions().size());
        peak_rss = std::max(peak_rss, StatusKb(child, "VmRSS:"));
        if (admitted < pods) return false;
        for (const auto& p : env.api().List("pods", "team")) {
          if (!p["spec"].value("schedulingGates", nlohmann::json::array()).empty()) return false;
        }
        return true;
      },
      std::chrono::minutes(30));
  const auto end = std::chrono::steady_clock::now();
  const auto counts = env.api().RequestCounts();
  long control = 0;
  for (auto* f : fakes) control += static_cast<long>(f->admits().size());
  const long rss = StatusKb(child, "VmRSS:"), hwm = StatusKb(child, "VmHWM:");
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  std::remove(kubeconfig.c_str());
  rmdir(dir);

  const double seconds = std::chrono::duration<double>(end - start).count();
  const double n = static_cast<double>(pods);
  const long writes = Sum(counts, {"create", "update", "patch", "delete"});
  const long reads = Sum(counts, {"get", "list", "watch"});
  std::printf("pods %d, GPUs %d on %d servers, %d%% each, %d binder workers\n", pods, gpus, servers, percent,
              workers);
  std::printf("bound %ld pods in %.2f s (pods created in %.2f s): %.1f pods/s%s\n", admitted, seconds,
              std::chrono::duration<double>(created - start).count(), admitted / seconds,
              done ? "" : " (TIMED OUT)");
  std::printf(
      "API requests per bind: %.2f (patch %.2f, create %.2f [Events], update %.2f [GPUPool status], "
      "reads %.2f)\n",
      static_cast<double>(writes + reads) / n, static_cast<double>(Sum(counts, {"patch"})) / n,
      static_cast<double>(Sum(counts, {"create"})) / n, static_cast<double>(Sum(counts, {"update"})) / n,
      static_cast<double>(reads) / n);
  std::printf("Control API Admit calls per bind: %.2f\n", static_cast<double>(control) / n);
  std::printf("operator RSS: %ld MiB at the end, %ld MiB peak (VmHWM), %ld MiB highest sampled\n", rss / 1024,
              hwm / 1024, peak_rss / 1024);
  return done ? 0 : 1;
}
