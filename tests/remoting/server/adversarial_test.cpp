// A real gpupool-server --device emulated under a storm of hostile input: handshake garbage, frames
// with wrong or overflowing lengths, truncated frames, unknown opcodes and flags, huge declared
// payloads, well-formed calls with forged handles and pointers, slow-loris connections and many
// connections at once. Afterwards the server must still serve a good session, and nothing may have
// leaked: every worker reaped (no child left under /proc, zombie or not) and the broker's fd count
// and RSS back within a bound. Frames are built with the protocol library (tests/fuzz/frame_bytes.h).
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <random>
#include <thread>

#include "tests/fuzz/frame_bytes.h"
#include "tests/remoting/server/adversarial_proc.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
using Rng = std::mt19937_64;

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes.substr(0, 96)) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out + (bytes.size() > 96 ? "..." : "");
}

// Sends `bytes`, closes the sending side and reads until the server closes. Returns a failure
// (empty when fine) if the server keeps the connection open past kWait: it must end every bad
// session itself. Runs on worker threads, so it reports instead of using Catch2's assertions.
std::string SendAndExpectClose(const Endpoint& endpoint, const std::string& bytes) {
  auto conn = protocol::Connect(endpoint, kWait);
  if (!conn.ok()) return "connect: " + conn.status().ToString();
  if (!conn->SetReceiveTimeout(kWait).ok()) return "cannot set a receive timeout";
  (void)::send(conn->fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);  // it may close early
  ::shutdown(conn->fd(), SHUT_WR);
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(conn->fd(), buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return "";
    if (n < 0)
      return "still open after " + std::to_string(kWait.count()) + " s (errno " + std::to_string(errno) +
             ") for " + Hex(bytes);
  }
}

// Reads what the server printed so far: it logs every session, and a full pipe would block it.
void Drain(ServerProcess& server, std::chrono::milliseconds wait) {
  (void)server.process.WaitForLine("\x01 never printed", wait);
}

// Runs fn(i) for i in [0, count) on `threads` threads while this thread drains the server's output.
template <typename Fn>
void Parallel(ServerProcess& server, int count, int threads, Fn fn) {
  std::atomic<int> next{0};
  std::atomic<int> running{threads};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = next++; i < count; i = next++) fn(i);
      --running;
    });
  while (running.load() > 0) Drain(server, std::chrono::milliseconds(50));
  for (auto& th : pool) th.join();
}

std::string RandomBytes(Rng& rng, std::size_t size) {
  std::string s(size, '\0');
  for (char& ch : s) ch = static_cast<char>(rng());
  return s;
}

// Handshake garbage: random bytes, a valid Hello with flipped bytes, cut short, or lying about its
// length. Each connection must be closed by the server (after an Error frame or after a session).
std::string HandshakeGarbage(Rng& rng, int i) {
  std::string hello = HelloFrame("adversarial");
  switch (i % 5) {
    case 0: return RandomBytes(rng, rng() % 64);
    case 1:
      for (int k = 0; k < 3; ++k) hello[rng() % hello.size()] = static_cast<char>(rng());
      return hello;
    case 2: return hello.substr(0, rng() % hello.size());
    case 3:
      return RawFrame(protocol::kOpHello, 0, 0, hello.substr(protocol::kHeaderSize),
                      static_cast<std::uint32_t>(rng()));
    default:
      return Frame(static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()), rng(),
                   RandomBytes(rng, rng() % 32));
  }
}

// After a good handshake, one frame that must end the session: each kind of broken frame.
std::string KillerFrame(Rng& rng, int i) {
  std::string alloc = RequestFrame<Op::MemAlloc>(1, {64});
  std::string body = alloc.substr(protocol::kHeaderSize);
  switch (i % 8) {
    case 0:  // declared larger than the cap
      return RawFrame(0x0301, 0, 1, body,
                      static_cast<std::uint32_t>(protocol::kMaxPayload + 1 + rng() % 1000));
    case 1:  // the largest u32
      return RawFrame(0x0301, 0, 1, body, 0xffffffffu);
    case 2:  // a huge declared payload that never comes
      return RawFrame(0x0400, 0, 1, body, static_cast<std::uint32_t>(protocol::kMaxPayload));
    case 3:  // unknown opcode
      return Frame(static_cast<std::uint16_t>(0xf000 + rng() % 0xfff), 0, 1, body);
    case 4:  // unknown flags
      return Frame(0x0301, static_cast<std::uint16_t>(0x4 << (rng() % 13)), 1, body);
    case 5:  // truncated: the header says more than is sent before the close
      return alloc.substr(0, protocol::kHeaderSize + rng() % body.size());
    case 6:  // a payload shorter than the call's fields, or with trailing bytes
      return rng() % 2 ? Frame(0x0301, 0, 1, body.substr(0, 3)) : Frame(0x0301, 0, 1, body + "xx");
    default:  // a string length that overflows the frame
      return Frame(0x0702, 0, 1, std::string("\xff\xff\xff\xff", 4));
  }
}

// Random values biased to the interesting ones: real handles and pointers, their edges, overflow.
struct Forger {
  Rng rng;
  std::uint64_t dptr = 0;
  std::uint64_t U64() {
    const std::uint64_t picks[] = {0,           1,        2,     dptr,         dptr + 1,   dptr + 4095,
                                   dptr + 4096, dptr - 1, ~0ull, ~0ull - dptr, 1ull << 63, rng()};
    return picks[rng() % std::size(picks)];
  }
  template <typename T>
  void Fill(T* v) {
    if constexpr (std::is_same_v<T, std::string>) {
      *v = RandomBytes(rng, rng() % 24);
    } else if constexpr (std::is_same_v<T, std::vector<std::uint64_t>> ||
                         std::is_same_v<T, std::vector<std::int32_t>>) {
      v->resize(rng() % 4);
      for (auto& x : *v) x = static_cast<typename T::value_type>(U64());
    } else if constexpr (sizeof(T) == 8) {
      *v = static_cast<T>(U64());
    } else {
      const std::int64_t picks[] = {0, 1, -1, 2, 32, 0x7fffffff, static_cast<std::int64_t>(rng())};
      *v = static_cast<T>(picks[rng() % std::size(picks)]);
    }
  }
  template <Op op>
  std::string Request(std::uint64_t id) {
    typename protocol::Call<op>::Request fields{};
    std::apply([&](auto&... f) { (Fill(&f), ...); }, fields);
    std::string tail =
        protocol::Call<op>::tail == protocol::Tail::kRequestTail ? RandomBytes(rng, rng() % 64) : "";
    return RequestFrame<op>(id, fields, tail);
  }
};

using Forge = std::string (*)(Forger&, std::uint64_t);
constexpr Forge kForges[] = {
#define GPUPOOL_CALL(id, name, mode, tail, req, rep) \
  [](Forger& f, std::uint64_t rid) { return f.Request<Op::name>(rid); },
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL
};

// Well-formed calls of every opcode with forged handles and pointers on one session. Every answered
// call must be answered (with any CUresult); the session may be ended only with an Error frame.
// Returns the number of requests sent.
int ForgedSession(const Endpoint& endpoint, unsigned seed, int requests) {
  TestClient c = TestClient::Open(endpoint);
  c.UseDevice0();
  auto alloc = c.Call<Op::MemAlloc>({4096});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  Forger forger{Rng(seed), std::get<0>(alloc.fields)};
  for (int i = 0; i < requests; ++i) {
    std::uint64_t id = 1000 + static_cast<std::uint64_t>(i);
    std::string frame = kForges[forger.rng() % std::size(kForges)](forger, id);
    std::uint16_t opcode = static_cast<std::uint16_t>(static_cast<unsigned char>(frame[4]) |
                                                      static_cast<unsigned char>(frame[5]) << 8);
    REQUIRE(::send(c.conn().fd(), frame.data(), frame.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(frame.size()));
    if (protocol::FindOp(opcode)->mode == protocol::Mode::kAsync) continue;
    auto header = c.conn().ReadHeader();
    INFO("no answer to " << protocol::OpName(opcode) << " (seed " << seed << ", request " << i << ")");
    REQUIRE(header.ok());  // a worker crash or hang shows here
    std::string payload;
    REQUIRE(c.conn().ReadPayload(header->payload_size, &payload).ok());
    if (header->opcode == protocol::kOpError) return i + 1;  // ended, with a reason
    REQUIRE(header->request_id == id);
  }
  return requests;
}

TEST_CASE("a storm of hostile input leaves the server serving and leak-free") {
  ServerProcess server = ServerProcess::Start();
  const pid_t broker = server.process.pid();
  {
    TestClient warm = TestClient::Open(server.endpoint);  // first session: lazy allocations happen
  }
  REQUIRE(WaitForNoChildren(broker, kWait));
  const ProcUsage before = Usage(broker);

  // Slow-loris: half a handshake, then silence. They must be dropped while everything else runs.
  std::vector<TestClient> loris;
  std::string hello = HelloFrame("loris");
  for (int i = 0; i < 8; ++i) {
    loris.push_back(TestClient::Raw(server.endpoint));
    std::string part = hello.substr(0, static_cast<std::size_t>(i) * 4);
    (void)::send(loris.back().conn().fd(), part.data(), part.size(), MSG_NOSIGNAL);
  }

  std::atomic<int> frames{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  auto expect_close = [&](const std::string& bytes) {
    std::string failure = SendAndExpectClose(server.endpoint, bytes);
    ++frames;
    std::lock_guard lock(failures_mu);
    if (!failure.empty()) failures.push_back(failure);
  };
  Parallel(server, 1500, 4, [&](int i) {
    Rng rng(static_cast<unsigned>(i));
    expect_close(HandshakeGarbage(rng, i));
  });
  Parallel(server, 96, 4, [&](int i) {
    Rng rng(static_cast<unsigned>(i));
    expect_close(HelloFrame("killer") + KillerFrame(rng, i));
  });
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
  for (unsigned i = 0; i < 8; ++i) {
    frames += ForgedSession(server.endpoint, 77u + i, 400);
    Drain(server, std::chrono::milliseconds(1));
  }
  // Many connections at once: all handshake, all are answered.
  {
    std::vector<TestClient> many;
    for (int i = 0; i < 48; ++i) {
      many.push_back(TestClient::Raw(server.endpoint));
      REQUIRE(::send(many.back().conn().fd(), hello.data(), hello.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(hello.size()));
    }
    for (auto& c : many) {
      auto header = c.conn().ReadHeader();
      REQUIRE(header.ok());
      CHECK((header->opcode == protocol::kOpHelloOk || header->opcode == protocol::kOpError));
    }
  }
  for (auto& c : loris) {  // dropped by the handshake deadline (maybe after an Error frame)
    char buf[256];
    ssize_t n;
    errno = 0;
    while ((n = ::recv(c.conn().fd(), buf, sizeof buf, 0)) > 0) {
    }
    INFO("slow-loris connection still open (errno " << errno << ")");
    CHECK((n == 0 || errno == ECONNRESET));
  }
  loris.clear();
  Drain(server, std::chrono::milliseconds(1));
  INFO("frames sent: " << frames.load());
  CHECK(frames.load() > 3000);

  // Still alive, still serving.
  TestClient good = TestClient::Open(server.endpoint);
  good.UseDevice0();
  auto alloc = good.Call<Op::MemAlloc>({1 << 16});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  std::string data = Pattern(1 << 16, 5);
  REQUIRE(good.Result<Op::MemcpyHtoD>({std::get<0>(alloc.fields)}, data) == CUDA_SUCCESS);
  CHECK(good.Call<Op::MemcpyDtoH>({std::get<0>(alloc.fields), data.size()}).tail == data);
  CHECK(good.Result<Op::MemFree>({std::get<0>(alloc.fields)}) == CUDA_SUCCESS);
  good.conn().Shutdown();

  // Nothing leaked: every worker reaped, the broker's fds and memory back near where they were.
  REQUIRE(WaitForNoChildren(broker, kWait));
  const ProcUsage after = Usage(broker);
  INFO("fds " << before.fds << " -> " << after.fds << ", rss KiB " << before.rss_kib << " -> "
              << after.rss_kib);
  CHECK(after.fds <= before.fds + 2);
  CHECK(after.rss_kib <= before.rss_kib + 32 * 1024);
}

}  // namespace
}  // namespace gpupool::testing
