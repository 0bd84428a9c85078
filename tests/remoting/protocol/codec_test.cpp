// Round trip of every call's request and reply fields (driver_calls.def), and strict decoding:
// every truncation fails, trailing bytes fail.
#include "remoting/protocol/codec.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "remoting/protocol/call_io.h"
#include "remoting/protocol/calls.h"
#include "tests/support/process.h"

namespace gpupool::protocol {
namespace {

// Distinct, non-zero sample values so a swapped or dropped field shows up.
template <typename T>
T Sample(int i) {
  if constexpr (std::is_same_v<T, std::string>) {
    return "name" + std::to_string(i);
  } else if constexpr (std::is_same_v<T, u64s>) {
    return {static_cast<u64>(i), 0xffffffffffffffffull, 7};
  } else if constexpr (std::is_same_v<T, i32s>) {
    return {-i, 2147483647, 0};
  } else {
    return static_cast<T>(i * 3 + 1);
  }
}

template <typename Tuple, std::size_t... I>
Tuple Fill(std::index_sequence<I...>) {
  return Tuple{Sample<std::tuple_element_t<I, Tuple>>(static_cast<int>(I))...};
}

template <typename Tuple>
void CheckRoundTrip(const char* what) {
  INFO(what);
  Tuple in = Fill<Tuple>(std::make_index_sequence<std::tuple_size_v<Tuple>>());
  Writer w;
  Encode(w, in);
  Tuple out{};
  Reader r(w.data());
  REQUIRE(Decode(r, &out));
  REQUIRE(r.ExpectEnd().ok());
  CHECK(out == in);
  // Every strict prefix is truncated input: it must fail, never read past the end.
  for (std::size_t n = 0; n < w.size(); ++n) {
    Tuple partial{};
    Reader pr(std::string_view(w.data()).substr(0, n));
    CHECK_FALSE((Decode(pr, &partial) && pr.ExpectEnd().ok()));
  }
  // A trailing byte is an error too.
  std::string longer = w.data() + "x";
  Reader lr(longer);
  Tuple extra{};
  CHECK_FALSE((Decode(lr, &extra) && lr.ExpectEnd().ok()));
}

TEST_CASE("every call's request and reply fields round-trip and reject truncation") {
#define GPUPOOL_CALL(id, name, mode, tail, req, rep)         \
  CheckRoundTrip<Call<Op::name>::Request>(#name " request"); \
  CheckRoundTrip<Call<Op::name>::Reply>(#name " reply");
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL
}

TEST_CASE("opcode table: unique, above the control range, found by number") {
  std::set<std::uint16_t> seen;
  for (const OpInfo& info : AllOps()) {
    auto code = static_cast<std::uint16_t>(info.op);
    CHECK(code >= kFirstCallOpcode);
    CHECK(seen.insert(code).second);
    REQUIRE(FindOp(code) != nullptr);
    CHECK(FindOp(code)->name == info.name);
  }
  CHECK(FindOp(0x0000) == nullptr);
  CHECK(FindOp(kOpHello) == nullptr);
  CHECK(FindOp(0xffff) == nullptr);
  CHECK(OpName(0x0301) == "MemAlloc");
  CHECK(OpName(0xfffe) == "opcode 0xfffe");
}

TEST_CASE("reply parsing: fields only on success, tails only where the call has one") {
  auto reply_payload = [](std::uint32_t result, std::string fields, std::string tail) {
    std::string p(4, '\0');
    std::memcpy(p.data(), &result, 4);
    return p + fields + tail;
  };
  Writer w;
  Encode(w, Call<Op::MemAlloc>::Reply{0xdead0000ull});
  auto ok = ParseReply<Op::MemAlloc>(reply_payload(0, w.data(), ""));
  REQUIRE(ok.ok());
  CHECK(std::get<0>(ok->fields) == 0xdead0000ull);

  auto failed = ParseReply<Op::MemAlloc>(reply_payload(2, "", ""));
  REQUIRE(failed.ok());
  CHECK(failed->result == 2);
  CHECK_FALSE(ParseReply<Op::MemAlloc>(reply_payload(2, w.data(), "")).ok());   // fields after failure
  CHECK_FALSE(ParseReply<Op::MemAlloc>(reply_payload(0, w.data(), "x")).ok());  // trailing byte
  CHECK_FALSE(ParseReply<Op::MemAlloc>("ab").ok());                             // truncated result

  std::string payload = reply_payload(0, "", "bulk bytes");  // the tail is a view into it
  auto data = ParseReply<Op::MemcpyDtoH>(payload);
  REQUIRE(data.ok());
  CHECK(data->tail == "bulk bytes");
}

}  // namespace
}  // namespace gpupool::protocol

namespace gpupool::protocol {
namespace {

TEST_CASE("docs/protocol.md lists every call") {
  std::ifstream in(testing::SourceDir() + "/docs/protocol.md");
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string doc = buffer.str();
  for (const OpInfo& info : AllOps()) {
    INFO(info.name);
    CHECK(doc.find("| " + std::string(info.name) + " |") != std::string::npos);
  }
}

}  // namespace
}  // namespace gpupool::protocol
