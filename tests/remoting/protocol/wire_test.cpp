// Reader and header decoding against malformed, truncated and oversized input.
#include <catch2/catch.hpp>

#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {
namespace {

std::string Header(std::uint32_t size, std::uint16_t opcode, std::uint16_t flags, std::uint64_t id) {
  unsigned char h[kHeaderSize];
  EncodeHeader({size, opcode, flags, id}, h);
  return std::string(reinterpret_cast<char*>(h), kHeaderSize);
}

TEST_CASE("header round trip is little-endian at fixed offsets") {
  std::string h = Header(0x01020304, 0x0506, kFlagNoReply, 0x1122334455667788ull);
  CHECK(static_cast<unsigned char>(h[0]) == 0x04);
  CHECK(static_cast<unsigned char>(h[4]) == 0x06);
  CHECK(static_cast<unsigned char>(h[8]) == 0x88);
  auto bad = DecodeHeader(reinterpret_cast<const unsigned char*>(h.data()));
  CHECK_FALSE(bad.ok());  // 16 MiB payload is over the limit
  std::string good = Header(100, 0x0506, kFlagNoReply, 42);
  auto decoded = DecodeHeader(reinterpret_cast<const unsigned char*>(good.data()));
  REQUIRE(decoded.ok());
  CHECK(decoded->payload_size == 100);
  CHECK(decoded->opcode == 0x0506);
  CHECK(decoded->flags == kFlagNoReply);
  CHECK(decoded->request_id == 42);
}

TEST_CASE("header limits: payload size and flags") {
  struct Case {
    std::uint32_t size;
    std::uint16_t flags;
    bool ok;
  };
  for (Case c : {Case{0, 0, true}, Case{kMaxPayload, 0, true}, Case{kMaxPayload + 1, 0, false},
                 Case{0xffffffffu, 0, false}, Case{0, kKnownFlags, true}, Case{0, 0x8000, false}}) {
    std::string h = Header(c.size, 0x100, c.flags, 1);
    INFO("size " << c.size << " flags " << c.flags);
    CHECK(DecodeHeader(reinterpret_cast<const unsigned char*>(h.data())).ok() == c.ok);
  }
}

TEST_CASE("reader: lengths larger than the frame or the limits fail without allocating") {
  Writer w;
  w.U32(0xffffffffu);  // string length far past the end
  Reader r(w.data());
  std::string s;
  CHECK_FALSE(r.Str(&s));
  CHECK(r.status().code() == Code::kInvalidArgument);

  Writer too_long;
  too_long.Str(std::string(kMaxStringBytes + 1, 'a'));
  Reader r2(too_long.data());
  CHECK_FALSE(r2.Str(&s));

  Writer list;
  list.U32(0x40000000u);  // count whose byte size overflows 32 bits
  Reader r3(list.data());
  std::vector<std::uint64_t> v;
  CHECK_FALSE(r3.Vec(&v));
  CHECK(v.empty());

  Writer list2;
  list2.U32(3);
  list2.U64(1);  // only one of three items
  Reader r4(list2.data());
  CHECK_FALSE(r4.Vec(&v));
}

TEST_CASE("reader: the first failure sticks and later reads fail") {
  Writer w;
  w.U16(7);
  Reader r(w.data());
  std::uint32_t x = 0;
  CHECK_FALSE(r.U32(&x));
  std::uint16_t y = 0;
  CHECK_FALSE(r.U16(&y));
  CHECK(r.status().message().find("truncated") != std::string::npos);
  CHECK_FALSE(r.ExpectEnd().ok());
  CHECK(r.Rest().empty());
}

TEST_CASE("reader: every primitive round-trips") {
  Writer w;
  w.U8(0xab);
  w.U16(0xabcd);
  w.U32(0xdeadbeef);
  w.U64(0x0123456789abcdefull);
  w.I32(-5);
  w.I64(-6);
  w.F32(1.5f);
  w.F64(-2.25);
  w.Str("hello");
  w.Vec(std::vector<std::int32_t>{1, -2, 3});
  w.Raw("tail", 4);
  Reader r(w.data());
  std::uint8_t a;
  std::uint16_t b;
  std::uint32_t c;
  std::uint64_t d;
  std::int32_t e;
  std::int64_t f;
  float g;
  double h;
  std::string s;
  std::vector<std::int32_t> v;
  REQUIRE((r.U8(&a) && r.U16(&b) && r.U32(&c) && r.U64(&d) && r.I32(&e) && r.I64(&f) && r.F32(&g) &&
           r.F64(&h) && r.Str(&s) && r.Vec(&v)));
  CHECK(a == 0xab);
  CHECK(b == 0xabcd);
  CHECK(c == 0xdeadbeef);
  CHECK(d == 0x0123456789abcdefull);
  CHECK(e == -5);
  CHECK(f == -6);
  CHECK(g == 1.5f);
  CHECK(h == -2.25);
  CHECK(s == "hello");
  CHECK(v == std::vector<std::int32_t>{1, -2, 3});
  CHECK(r.Rest() == "tail");
  CHECK(r.ExpectEnd().ok());
}

}  // namespace
}  // namespace gpupool::protocol
