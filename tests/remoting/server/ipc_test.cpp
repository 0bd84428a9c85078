// Interprocess memory and event handles: the directory the workers share (in this process), and two
// sessions of one real server (emulated device) sharing memory and an event, within a pod and not
// across pods.
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "remoting/server/ipc_directory.h"
#include "tests/remoting/server/control_client.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
using server::IpcDirectory;
using server::IpcExport;
using server::IpcKind;
using server::IpcToken;

IpcExport Memory(std::uint64_t session, std::uint64_t size, unsigned char mark) {
  IpcExport e;
  e.kind = IpcKind::kMemory;
  e.session = session;
  e.size = size;
  std::fill(std::begin(e.handle), std::end(e.handle), mark);
  return e;
}

TEST_CASE("IpcDirectory: tokens open only for their owner, until withdrawn") {
  auto made = IpcDirectory::Create();
  REQUIRE(made.ok());
  IpcDirectory& d = *made;
  auto mapped = IpcDirectory::Map(dup(d.fd()));  // what a worker sees
  REQUIRE(mapped.ok());

  IpcToken a, b, c;
  REQUIRE(d.Publish(Memory(7, 4096, 0xaa), "pod-1", &a));
  REQUIRE(d.Publish(Memory(7, 8192, 0xbb), "pod-1", &b));
  REQUIRE(d.Publish(Memory(9, 512, 0xcc), "", &c));
  CHECK_FALSE(a == b);
  CHECK(d.Count() == 3);

  IpcExport found;
  REQUIRE(mapped->Lookup(b, IpcKind::kMemory, "pod-1", &found) == IpcDirectory::Found::kYes);
  CHECK(found.session == 7);
  CHECK(found.size == 8192);
  CHECK(found.handle[0] == 0xbb);
  CHECK(found.handle[63] == 0xbb);
  CHECK(mapped->Lookup(b, IpcKind::kMemory, "pod-2", &found) == IpcDirectory::Found::kNotOwner);
  CHECK(mapped->Lookup(b, IpcKind::kMemory, "", &found) == IpcDirectory::Found::kNotOwner);
  CHECK(mapped->Lookup(b, IpcKind::kEvent, "pod-1", &found) == IpcDirectory::Found::kNo);
  CHECK(mapped->Lookup(c, IpcKind::kMemory, "", &found) == IpcDirectory::Found::kYes);
  CHECK(mapped->Lookup({b.high, b.low ^ 2}, IpcKind::kMemory, "pod-1", &found) == IpcDirectory::Found::kNo);
  CHECK_FALSE(d.Publish(Memory(7, 1, 0), std::string(65, 'x'), &a));  // an owner longer than a slot holds

  mapped->Withdraw(9, b);  // not session 9's: stays
  CHECK(d.Lookup(b, IpcKind::kMemory, "pod-1", &found) == IpcDirectory::Found::kYes);
  mapped->Withdraw(7, b);
  CHECK(d.Lookup(b, IpcKind::kMemory, "pod-1", &found) == IpcDirectory::Found::kNo);
  d.WithdrawSession(7);  // the broker reaps session 7's worker
  CHECK(d.Lookup(a, IpcKind::kMemory, "pod-1", &found) == IpcDirectory::Found::kNo);
  CHECK(d.Count() == 1);

  // Full: the next export fails instead of overwriting a live one.
  std::vector<IpcToken> tokens(IpcDirectory::kEntries - 1);
  for (auto& t : tokens) REQUIRE(d.Publish(Memory(11, 1, 1), "", &t));
  IpcToken extra;
  CHECK_FALSE(d.Publish(Memory(11, 1, 1), "", &extra));
  CHECK(d.Lookup(c, IpcKind::kMemory, "", &found) == IpcDirectory::Found::kYes);
  d.WithdrawSession(11);
  CHECK(d.Count() == 1);
}

TEST_CASE("IpcDirectory: a reader never takes half of an entry being withdrawn and reused") {
  auto made = IpcDirectory::Create();
  REQUIRE(made.ok());
  IpcDirectory& d = *made;
  // The writer files one of two payloads under a new token, publishes the token, and withdraws the
  // previous export, so its entries are reused all the time; the reader looks up the latest token.
  std::atomic<std::uint64_t> high{0}, low{0};  // read apart, so possibly torn: then simply not found
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    IpcToken previous;
    for (unsigned i = 0; !stop.load(); ++i) {
      IpcToken t;
      if (!d.Publish(i % 2 == 0 ? Memory(2, 200, 0x22) : Memory(2, 300, 0x33), "", &t)) continue;
      high = t.high;
      low = t.low;
      d.Withdraw(2, previous);
      previous = t;
    }
  });
  int found_count = 0, mixed = 0;
  for (long i = 0; i < 50'000'000 && found_count < 20000; ++i) {
    IpcExport found;
    if (d.Lookup({high.load(), low.load()}, IpcKind::kMemory, "", &found) != IpcDirectory::Found::kYes)
      continue;
    ++found_count;
    const bool whole = (found.size == 200 && found.handle[0] == 0x22 && found.handle[63] == 0x22) ||
                       (found.size == 300 && found.handle[0] == 0x33 && found.handle[63] == 0x33);
    mixed += whole ? 0 : 1;
  }
  stop = true;
  writer.join();
  CHECK(found_count > 0);
  CHECK(mixed == 0);
  // What a withdrawn entry leaves is no token: all zero opens nothing.
  IpcExport found;
  CHECK(d.Lookup({0, 0}, IpcKind::kMemory, "", &found) == IpcDirectory::Found::kNo);
}

std::uint64_t Alloc(TestClient& c, std::uint64_t bytes) {
  auto r = c.Call<Op::MemAlloc>({bytes});
  REQUIRE(r.result == CUDA_SUCCESS);
  return std::get<0>(r.fields);
}

TEST_CASE("two sessions of a server share memory and an event by interprocess handles") {
  ServerProcess server = ServerProcess::Start();
  TestClient a = TestClient::Open(server.endpoint);
  TestClient b = TestClient::Open(server.endpoint);
  a.UseDevice0();
  b.UseDevice0();

  // 100 000 bytes: not a whole number of pages, so the export rounds nothing the importer may reach.
  const std::uint64_t bytes = 100000;
  const std::uint64_t exported = Alloc(a, bytes);
  const std::string first = Pattern(bytes, 1);
  REQUIRE(a.Result<Op::MemcpyHtoD>({exported}, first) == CUDA_SUCCESS);
  auto handle = a.Call<Op::IpcGetMemHandle>({exported + 4096});  // any address inside exports it
  REQUIRE(handle.result == CUDA_SUCCESS);
  const auto [high, low] = handle.fields;
  CHECK(a.Call<Op::IpcGetMemHandle>({exported}).fields == handle.fields);  // one token per allocation

  auto opened = b.Call<Op::IpcOpenMemHandle>({high, low, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS});
  REQUIRE(opened.result == CUDA_SUCCESS);
  const auto [ptr, size] = opened.fields;
  CHECK(size == bytes);
  auto read = b.Call<Op::MemcpyDtoH>({ptr, bytes});
  REQUIRE(read.result == CUDA_SUCCESS);
  CHECK(read.tail == first);
  // Nothing past the exported allocation, and no freeing it as if it were b's own.
  CHECK(b.Call<Op::MemcpyDtoH>({ptr, bytes + 1}).result == CUDA_ERROR_INVALID_VALUE);
  CHECK(b.Result<Op::MemFree>({ptr}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(b.Result<Op::IpcGetMemHandle>({ptr}) == CUDA_ERROR_INVALID_VALUE);  // not b's to export

  // Writes either way are seen by the other session: one memory.
  const std::string second = Pattern(bytes, 2);
  REQUIRE(b.Result<Op::MemcpyHtoD>({ptr}, second) == CUDA_SUCCESS);
  CHECK(a.Call<Op::MemcpyDtoH>({exported, bytes}).tail == second);
  a.Call<Op::MemsetD8>({exported + 10, 0x5a, 3, 0});
  REQUIRE(a.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  CHECK(b.Call<Op::MemcpyDtoH>({ptr + 10, 3}).tail == "\x5a\x5a\x5a");

  // Opened twice: the same pointer, closed twice.
  auto again = b.Call<Op::IpcOpenMemHandle>({high, low, 0});
  REQUIRE(again.result == CUDA_SUCCESS);
  CHECK(std::get<0>(again.fields) == ptr);
  CHECK(b.Result<Op::IpcCloseMemHandle>({ptr}) == CUDA_SUCCESS);
  CHECK(b.Call<Op::MemcpyDtoH>({ptr, 1}).result == CUDA_SUCCESS);
  CHECK(b.Result<Op::IpcCloseMemHandle>({ptr}) == CUDA_SUCCESS);
  CHECK(b.Call<Op::MemcpyDtoH>({ptr, 1}).result == CUDA_ERROR_INVALID_VALUE);
  CHECK(b.Result<Op::IpcCloseMemHandle>({ptr}) == CUDA_ERROR_INVALID_VALUE);

  // The exporter cannot open its own handle; unknown tokens and bad flags are refused.
  CHECK(a.Result<Op::IpcOpenMemHandle>({high, low, 0}) == CUDA_ERROR_INVALID_CONTEXT);
  CHECK(b.Result<Op::IpcOpenMemHandle>({high, low ^ 4, 0}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(b.Result<Op::IpcOpenMemHandle>({high, low, 2}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(b.Result<Op::IpcOpenMemHandle>({0, 0, 0}) == CUDA_ERROR_INVALID_HANDLE);

  // Freed: the handle is gone.
  REQUIRE(a.Result<Op::MemFree>({exported}) == CUDA_SUCCESS);
  CHECK(b.Result<Op::IpcOpenMemHandle>({high, low, 0}) == CUDA_ERROR_INVALID_HANDLE);

  // Events: b waits for what a records, and sees each new record.
  auto e = a.Call<Op::EventCreate>({CU_EVENT_DISABLE_TIMING});
  REQUIRE(e.result == CUDA_SUCCESS);
  CHECK(a.Result<Op::IpcGetEventHandle>({std::get<0>(e.fields)}) ==
        CUDA_ERROR_INVALID_VALUE);  // not interprocess
  auto ipc_event = a.Call<Op::EventCreate>({CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING});
  REQUIRE(ipc_event.result == CUDA_SUCCESS);
  const std::uint64_t event = std::get<0>(ipc_event.fields);
  auto event_handle = a.Call<Op::IpcGetEventHandle>({event});
  REQUIRE(event_handle.result == CUDA_SUCCESS);
  const auto [event_high, event_low] = event_handle.fields;
  CHECK(b.Result<Op::IpcOpenMemHandle>({event_high, event_low, 0}) ==
        CUDA_ERROR_INVALID_HANDLE);  // not memory
  auto b_event = b.Call<Op::IpcOpenEventHandle>({event_high, event_low});
  REQUIRE(b_event.result == CUDA_SUCCESS);
  const std::uint64_t opened_event = std::get<0>(b_event.fields);
  CHECK(b.Result<Op::EventQuery>({opened_event}) == CUDA_SUCCESS);  // never recorded
  a.Call<Op::EventRecord>({event, 0});
  CHECK(a.Result<Op::EventSynchronize>({event}) == CUDA_SUCCESS);
  b.Call<Op::StreamWaitEvent>({0, opened_event, 0});
  CHECK(b.Result<Op::EventSynchronize>({opened_event}) == CUDA_SUCCESS);
  CHECK(b.Result<Op::StreamSynchronize>({0}) == CUDA_SUCCESS);
  CHECK(b.Result<Op::EventElapsedTime>({opened_event, opened_event}) == CUDA_ERROR_INVALID_HANDLE);
  // b records it too (CUDA allows it), and a sees that record.
  b.Call<Op::EventRecord>({opened_event, 0});
  CHECK(a.Result<Op::EventSynchronize>({event}) == CUDA_SUCCESS);
  CHECK(b.Result<Op::EventDestroy>({opened_event}) == CUDA_SUCCESS);
  CHECK(a.Result<Op::IpcOpenEventHandle>({event_high, event_low}) == CUDA_ERROR_INVALID_CONTEXT);
  CHECK(a.Result<Op::EventDestroy>({event}) == CUDA_SUCCESS);
  CHECK(b.Result<Op::IpcOpenEventHandle>({event_high, event_low}) == CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("virtual memory shared by POSIX descriptor between two sessions") {
  ServerProcess server = ServerProcess::Start();
  TestClient a = TestClient::Open(server.endpoint);
  TestClient b = TestClient::Open(server.endpoint);
  a.UseDevice0();
  b.UseDevice0();
  constexpr std::uint64_t kSize = 2ull << 20;
  // Maps `handle` at a new reservation of `c` with read-write access; answers the address.
  auto map = [&](TestClient& c, std::uint64_t handle) {
    auto reserved = c.Call<Op::MemAddressReserve>({kSize, 0, 0});
    REQUIRE(reserved.result == CUDA_SUCCESS);
    const std::uint64_t at = std::get<0>(reserved.fields);
    REQUIRE(c.Result<Op::MemMap>({at, kSize, 0, handle}) == CUDA_SUCCESS);
    REQUIRE(c.Result<Op::MemSetAccess>({at, kSize, {0}, {CU_MEM_ACCESS_FLAGS_PROT_READWRITE}}) ==
            CUDA_SUCCESS);
    return at;
  };
  auto plain = a.Call<Op::MemCreate>({kSize, 0, 0});
  REQUIRE(plain.result == CUDA_SUCCESS);
  CHECK(a.Result<Op::MemExportToShareableHandle>({std::get<0>(plain.fields)}) == CUDA_ERROR_INVALID_VALUE);
  auto created = a.Call<Op::MemCreate>({kSize, 0, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR});
  REQUIRE(created.result == CUDA_SUCCESS);
  const std::uint64_t handle = std::get<0>(created.fields);
  const std::uint64_t in_a = map(a, handle);
  const std::string first = Pattern(4096, 3);
  REQUIRE(a.Result<Op::MemcpyHtoD>({in_a + 8192}, first) == CUDA_SUCCESS);

  auto exported = a.Call<Op::MemExportToShareableHandle>({handle});
  REQUIRE(exported.result == CUDA_SUCCESS);
  const auto [high, low] = exported.fields;
  auto imported = b.Call<Op::MemImportFromShareableHandle>({high, low});
  REQUIRE(imported.result == CUDA_SUCCESS);
  const std::uint64_t in_b = map(b, std::get<0>(imported.fields));
  CHECK(b.Call<Op::MemcpyDtoH>({in_b + 8192, 4096}).tail == first);
  const std::string second = Pattern(4096, 4);
  REQUIRE(b.Result<Op::MemcpyHtoD>({in_b}, second) == CUDA_SUCCESS);
  CHECK(a.Call<Op::MemcpyDtoH>({in_a, 4096}).tail == second);
  // The importer's share is not charged for it; the exporter may import its own export too.
  auto info = b.Call<Op::MemGetInfo>({});
  auto own = a.Call<Op::MemImportFromShareableHandle>({high, low});
  CHECK(own.result == CUDA_SUCCESS);
  CHECK(b.Result<Op::MemImportFromShareableHandle>({high, low ^ 8}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(b.Result<Op::MemImportFromShareableHandle>({high, low}) == CUDA_SUCCESS);
  CHECK(b.Call<Op::MemGetInfo>({}).fields == info.fields);

  // Released and unmapped in the exporter: no longer offered (importers keep what they have).
  REQUIRE(a.Result<Op::MemRelease>({handle}) == CUDA_SUCCESS);
  CHECK(b.Result<Op::MemImportFromShareableHandle>({high, low}) == CUDA_SUCCESS);  // still mapped in a
  REQUIRE(a.Result<Op::MemUnmap>({in_a, kSize}) == CUDA_SUCCESS);
  REQUIRE(a.Result<Op::MemRelease>({std::get<0>(own.fields)}) == CUDA_SUCCESS);
  CHECK(b.Result<Op::MemImportFromShareableHandle>({high, low}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(b.Call<Op::MemcpyDtoH>({in_b, 4096}).tail == second);
}

TEST_CASE("an exporter's handles go with its session") {
  ServerProcess server = ServerProcess::Start({"--metrics-listen", "127.0.0.1:0"});
  auto b = TestClient::Open(server.endpoint);
  b.UseDevice0();
  std::uint64_t high = 0, low = 0;
  {
    TestClient a = TestClient::Open(server.endpoint);
    a.UseDevice0();
    const std::uint64_t p = Alloc(a, 1 << 20);
    auto handle = a.Call<Op::IpcGetMemHandle>({p});
    REQUIRE(handle.result == CUDA_SUCCESS);
    std::tie(high, low) = handle.fields;
    REQUIRE(b.Result<Op::IpcOpenMemHandle>({high, low, 0}) == CUDA_SUCCESS);
    CHECK(HttpGet(server.metrics, "/metrics").find("\ngpupool_ipc_exports 1\n") != std::string::npos);
  }  // a's connection closes: its worker withdraws what it exported as the session ends
  // The worker ends after the close; wait for the withdrawal, not for a time.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  std::uint32_t result = CUDA_SUCCESS;
  while (std::chrono::steady_clock::now() < deadline) {
    auto opened = b.Call<Op::IpcOpenMemHandle>({high, low, 0});
    result = opened.result;
    if (result != CUDA_SUCCESS) break;
    REQUIRE(b.Result<Op::IpcCloseMemHandle>({std::get<0>(opened.fields)}) == CUDA_SUCCESS);
  }
  CHECK(result == CUDA_ERROR_INVALID_HANDLE);
  CHECK(HttpGet(server.metrics, "/metrics").find("\ngpupool_ipc_exports 0\n") != std::string::npos);
}

TEST_CASE("interprocess handles do not cross pods") {
  ServerProcess server =
      ServerProcess::Start({"--emulated-memory", "4GiB", "--control-listen", "127.0.0.1:0"});
  auto stub = ControlStub(server.control);
  control::v1::Inventory inventory;
  REQUIRE(stub->GetInventory(ControlContext().get(), {}, &inventory).ok());
  const std::string gpu = inventory.gpus(0).uuid();
  for (const char* pod : {"pod-a", "pod-b"}) {
    control::v1::AdmitResponse admitted;
    REQUIRE(stub->Admit(ControlContext().get(), AdmitRequest(pod, gpu, 50, 1 << 30), &admitted).ok());
  }
  TestClient a1 = TestClient::Open(server.endpoint, "pod-a");
  TestClient a2 = TestClient::Open(server.endpoint, "pod-a");
  TestClient other = TestClient::Open(server.endpoint, "pod-b");
  TestClient outside = TestClient::Open(server.endpoint);
  for (TestClient* c : {&a1, &a2, &other, &outside}) c->UseDevice0();
  const std::uint64_t p = Alloc(a1, 4096);
  auto handle = a1.Call<Op::IpcGetMemHandle>({p});
  REQUIRE(handle.result == CUDA_SUCCESS);
  const auto [high, low] = handle.fields;
  CHECK(a2.Result<Op::IpcOpenMemHandle>({high, low, 0}) == CUDA_SUCCESS);
  // Another pod, or a client outside Kubernetes, gets what an unknown token gets.
  CHECK(other.Result<Op::IpcOpenMemHandle>({high, low, 0}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(outside.Result<Op::IpcOpenMemHandle>({high, low, 0}) == CUDA_ERROR_INVALID_HANDLE);
}

}  // namespace
}  // namespace gpupool::testing
