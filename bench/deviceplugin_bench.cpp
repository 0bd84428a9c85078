// gpupool-deviceplugin-bench: what kubelet sees of the device plugin on a large node (16 GPUs,
// 1 600 percent units, 2 TiB = 2 048 GiB units): Allocate latency p50/p99 over the plugin's real
// Unix-socket gRPC servers, GetPreferredAllocation latency, and the size of a ListAndWatch message.
// Prints one JSON object per line: {"metric", "resource", "devices", "value", "unit"}.
//
//   gpupool-deviceplugin-bench [--iterations N]   (default 2000)
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deviceplugin/resource_server.h"

namespace dp = gpupool::deviceplugin;

namespace {

void Print(const std::string& metric, const std::string& resource, std::size_t devices, double value,
           const std::string& unit) {
  std::cout << nlohmann::json{{"metric", metric},
                              {"resource", resource},
                              {"devices", devices},
                              {"value", value},
                              {"unit", unit}}
                   .dump()
            << std::endl;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

template <typename Call>
void Measure(const std::string& metric, const std::string& resource, std::size_t devices, int iterations,
             Call call) {
  std::vector<double> us;
  for (int i = 0; i < iterations + iterations / 10; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!call()) {
      std::cerr << metric << " " << resource << ": call failed\n";
      std::exit(1);
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= iterations / 10)
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());  // warm-up
  }
  Print(metric + "_p50", resource, devices, Percentile(us, 0.50), "us");
  Print(metric + "_p99", resource, devices, Percentile(us, 0.99), "us");
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 2000;
  if (argc == 3 && std::string(argv[1]) == "--iterations") iterations = std::max(10, std::atoi(argv[2]));
  std::string dir = (std::filesystem::temp_directory_path() / "gpupool-dp-bench-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return 1;
  dp::Config config;
  config.device_plugin_dir = dir;
  config.gpus = 16;
  config.gpu_percent = 1600;
  config.gpu_memory_gib = 2048;
  // The request sizes of a typical pod: one GPU at 50 % with 16 GiB; and the largest possible ones.
  const std::vector<std::pair<int, std::size_t>> sizes = {{0, 1},    {0, 16}, {1, 50},
                                                          {1, 1600}, {2, 16}, {2, 2048}};
  {
    std::vector<std::unique_ptr<dp::ResourceServer>> servers;
    for (auto& spec : dp::BuildResources(config)) {
      servers.push_back(std::make_unique<dp::ResourceServer>(spec, config));
      if (auto st = servers.back()->Start(); !st.ok()) {
        std::cerr << st.ToString() << "\n";
        return 1;
      }
    }
    for (auto& s : servers) {
      auto stub = v1beta1::DevicePlugin::NewStub(
          grpc::CreateChannel("unix://" + s->socket_path(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      auto reader = stub->ListAndWatch(&ctx, v1beta1::Empty());
      v1beta1::ListAndWatchResponse list;
      if (!reader->Read(&list)) return 1;
      ctx.TryCancel();
      reader->Finish().ok();
      Print("listandwatch_message_size", s->spec().resource_name, list.devices_size(),
            static_cast<double>(list.ByteSizeLong()), "bytes");
    }
    for (const auto& [index, n] : sizes) {
      auto& s = *servers[index];
      auto stub = v1beta1::DevicePlugin::NewStub(
          grpc::CreateChannel("unix://" + s.socket_path(), grpc::InsecureChannelCredentials()));
      v1beta1::AllocateRequest request;
      auto* c = request.add_container_requests();
      for (std::size_t i = 0; i < n; ++i) c->add_devices_ids(s.spec().device_ids[i]);
      Measure("allocate_latency", s.spec().resource_name, n, iterations, [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1beta1::AllocateResponse response;
        return stub->Allocate(&ctx, request, &response).ok() && response.container_responses_size() == 1;
      });
    }
    // GetPreferredAllocation as kubelet asks it: every unit available, 50 wanted.
    auto& percent = *servers[1];
    auto stub = v1beta1::DevicePlugin::NewStub(
        grpc::CreateChannel("unix://" + percent.socket_path(), grpc::InsecureChannelCredentials()));
    v1beta1::PreferredAllocationRequest request;
    auto* c = request.add_container_requests();
    for (const auto& id : percent.spec().device_ids) c->add_available_deviceids(id);
    c->set_allocation_size(50);
    Measure("preferred_allocation_latency", percent.spec().resource_name, 50, iterations / 4, [&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1beta1::PreferredAllocationResponse response;
      return stub->GetPreferredAllocation(&ctx, request, &response).ok() &&
             response.container_responses(0).deviceids_size() == 50;
    });
  }
  std::filesystem::remove_all(dir);
  return 0;
}
