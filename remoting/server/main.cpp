// gpupool-server: the broker (accepts sessions, serves Control and /metrics), or — started by the
// broker with hidden flags — a session worker or the inventory child. See README.md.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/log.h"
#include "remoting/server/broker.h"
#include "remoting/server/control_service.h"
#include "remoting/server/inventory.h"
#include "remoting/server/metrics.h"
#include "remoting/server/server_flags.h"
#include "remoting/server/share_table.h"
#include "remoting/server/worker.h"

namespace gpupool::server {
namespace {

int RunBroker(ServerOptions options) {
  SetLogComponent("gpupool-server");
  if (options.emulated.uuid_seed.empty()) {
    // Emulated GPU UUIDs must differ between server instances and agree between this server's
    // workers and inventory child.
    options.emulated.uuid_seed = std::to_string(::getpid()) + "-" + std::to_string(NowUnixMs());
  }
  // SIGINT/SIGTERM are taken with sigwait below; every thread started from here on inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Registry registry;
  auto shares = ShareTable::Create();  // the workers' ShareTable (compute shares), one per server
  if (!shares.ok()) {
    std::cerr << "gpupool-server: " << shares.status().message() << "\n";
    return 1;
  }
  registry.SetShareTable(&*shares);
  Reaper reaper(&registry);
  Broker broker(options, &registry, &reaper);
  if (Status s = broker.Listen(); !s.ok()) {
    std::cerr << "gpupool-server: " << s.message() << "\n";
    return 1;
  }
  ControlService control(options, &registry, &reaper);
  std::unique_ptr<grpc::Server> control_server;
  if (options.control_listen) {
    Endpoint bound;
    auto started = StartControlServer(*options.control_listen, &control, &bound);
    if (!started.ok()) {
      std::cerr << "gpupool-server: " << started.status().message() << "\n";
      return 1;
    }
    control_server = std::move(*started);
    std::cout << "gpupool-server: control on " << bound.ToString() << std::endl;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (options.metrics_listen) {
    auto started = MetricsServer::Start(*options.metrics_listen, [&registry, &control] {
      std::map<std::string, std::uint64_t> gpus;
      auto inventory = control.Inventory();
      std::string default_gpu;
      if (inventory.ok()) {
        for (const GpuInfo& g : inventory->gpus) gpus[g.uuid] = g.memory_bytes;
        if (!inventory->gpus.empty()) default_gpu = inventory->gpus.front().uuid;
      }
      return RenderMetrics(registry, gpus, default_gpu);
    });
    if (!started.ok()) {
      std::cerr << "gpupool-server: metrics: " << started.status().message() << "\n";
      return 1;
    }
    metrics = std::move(*started);
    std::cout << "gpupool-server: metrics on " << metrics->endpoint().ToString() << std::endl;
  }
  broker.Start();
  if (options.unix_socket)
    std::cout << "gpupool-server: listening on " << options.unix_socket->ToString() << "\n";
  std::cout << "gpupool-server: " << options.device << " device; listening on "
            << broker.endpoint().ToString() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  GPUPOOL_LOG(kInfo) << "stopping (signal " << sig << "): ending every session";
  registry.EndAll();
  if (options.unix_socket) ::unlink(options.unix_socket->path.c_str());
  if (options.listen.kind == Endpoint::Kind::kUnix) ::unlink(options.listen.path.c_str());
  std::cout.flush();
  // Threads blocked in accept/waitpid/gRPC are not unwound: the process ends here, workers end on
  // SIGTERM, and the kernel closes every socket.
  ::_exit(0);
}

}  // namespace
}  // namespace gpupool::server

int main(int argc, char** argv) {
  using gpupool::server::ServerOptions;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << gpupool::server::kServerUsage;
    return 0;
  }
  auto options = gpupool::server::ParseServerArgs(args);
  if (!options.ok()) {
    std::cerr << "gpupool-server: " << options.status().message() << "\n" << gpupool::server::kServerUsage;
    return 2;
  }
  switch (options->role) {
    case ServerOptions::Role::kWorker: {
      gpupool::server::WorkerOptions w;
      w.connection_fd = options->worker_fd;
      w.stats_fd = options->stats_fd;
      w.session_id = options->session_id;
      w.device = options->device;
      w.cuda_library = options->cuda_library;
      w.emulated = options->emulated;
      w.memory_limit = options->session_memory;
      w.percent = options->session_percent;
      w.share_idle = options->share_idle;
      w.kernel_timeout_ms = options->kernel_timeout_ms;
      w.share_table_fd = options->share_table_fd;
      w.share_slot = options->share_slot;
      return gpupool::server::RunWorker(w);
    }
    case ServerOptions::Role::kInventory: {
      sigset_t term;  // SpawnSelf leaves SIGTERM blocked; the inventory child has no handler to install
      sigemptyset(&term);
      sigaddset(&term, SIGTERM);
      ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
      return gpupool::server::RunInventory(*options);
    }
    case ServerOptions::Role::kBroker: break;
  }
  return gpupool::server::RunBroker(std::move(*options));
}
