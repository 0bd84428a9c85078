// Writes the seed corpus of protocol_fuzzer into the directory given as argv[1]: each file is the
// byte stream of one connection (a handshake, then requests), plus edge cases around the limits.
// The committed corpus (corpus/protocol/) was produced by this program; rerun it after a wire change:
//   BUILD/tests/fuzz/make_seed_corpus tests/fuzz/corpus/protocol_fuzzer
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "remoting/protocol/mapped_arena.h"
#include "tests/fuzz/frame_bytes.h"

using gpupool::testing::Frame;
using gpupool::testing::HelloFrame;
using gpupool::testing::RawFrame;
using gpupool::testing::RequestFrame;
namespace protocol = gpupool::protocol;
using protocol::Op;

namespace {

std::string Seeds(std::vector<std::string> frames) {
  std::string out;
  for (auto& f : frames) out += f;
  return out;
}

std::vector<std::pair<std::string, std::string>> Corpus() {
  const std::string hello = HelloFrame();
  const std::uint64_t dptr = 0x7f0000000000;
  std::string params(16, '\x01');
  return {
      {"hello", hello},
      {"hello_ok",
       Frame(protocol::kOpHelloOk, protocol::kFlagReply, 0, protocol::EncodeHelloOk({7, "0.1", "emulated"}))},
      {"error", Frame(protocol::kOpError, protocol::kFlagReply, 0,
                      protocol::EncodeError({gpupool::Code::kInvalidArgument, "bad frame"}))},
      {"alloc_copy_free",
       Seeds({hello, RequestFrame<Op::DevicePrimaryCtxRetain>(1, {0}),
              RequestFrame<Op::CtxSetCurrent>(2, {1}), RequestFrame<Op::MemAlloc>(3, {4096}),
              RequestFrame<Op::MemcpyHtoD>(4, {dptr}, std::string(64, 'x')),
              RequestFrame<Op::MemcpyDtoH>(5, {dptr, 64}), RequestFrame<Op::MemFree>(6, {dptr})})},
      {"virtual_memory",
       Seeds({hello, RequestFrame<Op::MemGetAllocationGranularity>(1, {0, 0}),
              RequestFrame<Op::MemAddressReserve>(2, {8ull << 21, 0, 0}),
              RequestFrame<Op::MemCreate>(3, {2ull << 20, 0, 1}),
              RequestFrame<Op::MemMap>(4, {dptr, 2ull << 20, 0, 1}),
              RequestFrame<Op::MemSetAccess>(5, {dptr, 2ull << 20, {0}, {3}}),
              RequestFrame<Op::MemGetAccess>(6, {dptr, 0}),
              RequestFrame<Op::MemRetainAllocationHandle>(7, {dptr}),
              RequestFrame<Op::MemGetAllocationPropertiesFromHandle>(8, {1}),
              RequestFrame<Op::MemRelease>(9, {1}), RequestFrame<Op::MemUnmap>(10, {dptr, 2ull << 20}),
              RequestFrame<Op::MemAddressFree>(11, {dptr, 8ull << 21})})},
      {"copy_2d_ring",
       Seeds({hello, RequestFrame<Op::Memcpy2DToDeviceRing>(1, {dptr, 300, 20, 2, 100, 5, 0, 0, 4}),
              RequestFrame<Op::Memcpy2DFromDeviceRing>(2, {dptr, 300, 20, 2, 100, 5, 0, 1, 6})})},
      {"ipc",
       Seeds({hello, RequestFrame<Op::MemAlloc>(1, {4096}), RequestFrame<Op::IpcGetMemHandle>(2, {dptr}),
              RequestFrame<Op::IpcOpenMemHandle>(3, {0x1234, 0x5679, 1}),
              RequestFrame<Op::IpcCloseMemHandle>(4, {dptr}), RequestFrame<Op::EventCreate>(5, {6}),
              RequestFrame<Op::IpcGetEventHandle>(6, {1}), RequestFrame<Op::IpcOpenEventHandle>(7, {0, 0}),
              RequestFrame<Op::MemCreate>(8, {2ull << 20, 0, 1}),
              RequestFrame<Op::MemExportToShareableHandle>(9, {2}),
              RequestFrame<Op::MemImportFromShareableHandle>(10, {0x1234, 0x5679}),
              RequestFrame<Op::PointerSetSyncMemops>(11, {dptr, 1})})},
      {"peers",
       Seeds({hello, RequestFrame<Op::DevicePrimaryCtxRetain>(1, {0}),
              RequestFrame<Op::DevicePrimaryCtxRetain>(2, {1}), RequestFrame<Op::CtxSetCurrent>(3, {1}),
              RequestFrame<Op::CtxEnablePeerAccess>(4, {2, 0}),
              RequestFrame<Op::CtxDisablePeerAccess>(5, {2})})},
      {"mapped_arena",
       Seeds({hello, Frame(protocol::kOpOpenMappedArena, 0, 1, protocol::EncodeArenaRequest(dptr)),
              Frame(protocol::kOpOpenMappedArena, protocol::kFlagReply, 1,
                    protocol::EncodeArenaReply({protocol::ArenaStatus::kReady, 64ull << 30, 1ull << 30})),
              RequestFrame<Op::MemHostRegisterMapped>(2, {dptr, 8192}),
              RequestFrame<Op::MemsetD8>(3, {dptr, 7, 8192, 0}),
              RequestFrame<Op::MemHostUnregisterMapped>(4, {dptr})})},
      {"async_calls",
       Seeds({hello, RequestFrame<Op::MemcpyHtoDAsync>(1, {dptr, 0}, "abcd"),
              RequestFrame<Op::EventRecord>(2, {1, 0}), RequestFrame<Op::MemFreeAsync>(3, {dptr, 0}),
              RequestFrame<Op::StreamCreate>(4, {0})})},
      {"launch", Seeds({hello, RequestFrame<Op::LaunchKernel>(1, {5, 1, 1, 1, 32, 1, 1, 0, 0}, params),
                        RequestFrame<Op::LaunchKernelEx>(2, {5, 1, 1, 1, 32, 1, 1, 0, 0, "attrs"}, params)})},
      {"module_load", Seeds({hello, RequestFrame<Op::ModuleLoadData>(1, {std::string("\x7f"
                                                                                     "ELF",
                                                                                     4)})})},
      // Edge cases: the limits and the ways a frame can be wrong.
      {"truncated_header", hello.substr(0, 7)},
      {"truncated_payload", hello.substr(0, hello.size() - 3)},
      {"declared_too_large", RawFrame(protocol::kOpHello, 0, 0, "", 0xffffffffu)},
      {"declared_max_payload", RawFrame(0x0301, 0, 1, std::string(8, 0), protocol::kMaxPayload)},
      {"unknown_opcode", Seeds({hello, Frame(0x7fff, 0, 1, "zz")})},
      {"unknown_flags", Seeds({hello, Frame(0x0301, 0x8000, 1, std::string(8, 0))})},
      {"wrong_no_reply", Seeds({hello, Frame(0x0301, protocol::kFlagNoReply, 1, std::string(8, 0))})},
      {"trailing_bytes", Seeds({hello, RequestFrame<Op::MemAlloc>(1, {8}) + "junk"})},
      {"huge_string_length",
       Frame(protocol::kOpHello, 0, 0, std::string("GPUP\x01\x00\xff\xff\xff\x7f", 10))},
      {"empty", ""},
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seed_corpus DIR\n";
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  for (const auto& [name, bytes] : Corpus()) {
    std::ofstream out(std::filesystem::path(argv[1]) / name, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::cerr << "cannot write " << name << "\n";
      return 1;
    }
  }
  return 0;
}
