#include "tests/support/fake_control_server.h"

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>

namespace gpupool::testing {
namespace {

grpc::Status Call(const std::string& address, control::v1::Inventory* out,
                  std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = control::v1::Control::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  return stub->GetInventory(&ctx, {}, out);
}

}  // namespace

TEST_CASE("The fake Control server accounts admissions and can become unreachable", "[fake_control]") {
  FakeControlServer server;
  control::v1::Inventory inv;
  inv.set_server_id("s1");
  *inv.add_gpus() = FakeControlServer::MakeGpu("s1", 0);
  server.SetInventory(inv);
  server.Start();

  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  auto stub = control::v1::Control::NewStub(channel);
  control::v1::AdmitRequest admit;
  admit.set_pod_uid("uid-1");
  auto* share = admit.add_shares();
  share->set_gpu_uuid("GPU-s1-0");
  share->set_percent(50);
  share->set_memory_bytes(1 << 20);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  control::v1::AdmitResponse resp;
  REQUIRE(stub->Admit(&ctx, admit, &resp).ok());

  control::v1::Inventory got;
  REQUIRE(Call(server.address(), &got).ok());
  REQUIRE(got.gpus_size() == 1);
  CHECK(got.gpus(0).allocated_percent() == 50);
  CHECK(got.gpus(0).allocated_memory_bytes() == (1u << 20));
  CHECK(server.admits().size() == 1);

  share->set_gpu_uuid("GPU-unknown");
  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  CHECK(stub->Admit(&ctx2, admit, &resp).error_code() == grpc::StatusCode::NOT_FOUND);

  const std::string address = server.address();
  server.Stop();
  CHECK_FALSE(Call(address, &got).ok());
  server.Start();
  CHECK(server.address() == address);
  CHECK(Call(address, &got).ok());
}

}  // namespace gpupool::testing

namespace gpupool::testing {

TEST_CASE("The fake Control server can hang: calls run into their deadline, Stop still returns",
          "[fake_control]") {
  FakeControlServer server;
  control::v1::Inventory inv;
  *inv.add_gpus() = FakeControlServer::MakeGpu("s1", 0);
  server.SetInventory(inv);
  server.Start();
  control::v1::Inventory out;
  REQUIRE(Call(server.address(), &out).ok());
  server.SetHang(true);
  CHECK(Call(server.address(), &out, std::chrono::milliseconds(300)).error_code() ==
        grpc::StatusCode::DEADLINE_EXCEEDED);
  server.SetHang(false);
  CHECK(Call(server.address(), &out).ok());
  server.SetHang(true);
  auto pending = std::async(std::launch::async, [&] {
    control::v1::Inventory ignored;
    return Call(server.address(), &ignored, std::chrono::seconds(30));
  });
  server.Stop();  // a hung call must not keep the server from stopping
  CHECK_FALSE(server.running());
  REQUIRE(pending.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK_FALSE(pending.get().ok());
  server.SetHang(false);
  server.Start();
  CHECK(Call(server.address(), &out).ok());
}

}  // namespace gpupool::testing
