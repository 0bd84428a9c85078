// Wire constants of the gpupool remoting protocol (docs/protocol.md is the spec). Every number the
// protocol depends on lives here and only here.
//
// A frame is a 16-byte little-endian header followed by `payload_size` bytes:
//   u32 payload_size | u16 opcode | u16 flags | u64 request_id
// Client -> server frames carry a request; server -> client frames carry kFlagReply and echo the
// request id. Payload encodings are in wire_writer.h / wire_reader.h and driver_calls.def.
//
// Thread-safety: constants and plain values.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace gpupool::protocol {

static_assert(std::endian::native == std::endian::little,
              "the wire format is little-endian and the codec copies integers as they lie in memory");

inline constexpr std::uint32_t kMagic = 0x50555047;  // "GPUP" read as little-endian bytes
// 2: Hello carries the pod's service-account token (handshake.h).
// 3: OpenCopyRing and the ring copy calls (copy_ring.h).
// 4: deferred device-to-host copies (MemcpyDtoHDeferred, DeferredCopiesFinish).
// 5: deferred copies of rows with gaps between them (Memcpy2DFromDeviceDeferred).
// 6: virtual memory management (MemCreate, MemAddressReserve, MemMap and the rest).
// 7: 2D copies through the copy ring (Memcpy2DToDeviceRing, Memcpy2DFromDeviceRing), __managed__
//    variables (LibraryGetManaged).
// 8: interprocess memory and event handles (IpcGetMemHandle, IpcOpenMemHandle and the rest).
// 9: peer access between a session's devices (CtxEnablePeerAccess, CtxDisablePeerAccess).
// 10: mapped host memory on one host (OpenMappedArena, MemHostRegisterMapped, MemHostUnregisterMapped).
inline constexpr std::uint16_t kProtocolVersion = 10;
// The oldest client version a server still serves: a version 2 client sends the same Hello and
// simply never asks for a copy ring, so servers can be upgraded before their clients.
inline constexpr std::uint16_t kOldestProtocolVersion = 2;

inline constexpr std::size_t kHeaderSize = 16;

// Header flags.
inline constexpr std::uint16_t kFlagNoReply = 1u << 0;  // request: the server sends no reply
inline constexpr std::uint16_t kFlagReply = 1u << 1;    // set on every server -> client frame
inline constexpr std::uint16_t kKnownFlags = kFlagNoReply | kFlagReply;

// Opcodes below kFirstCallOpcode are session control; the rest come from driver_calls.def.
inline constexpr std::uint16_t kOpHello = 0x0001;    // client -> server, first frame
inline constexpr std::uint16_t kOpHelloOk = 0x0002;  // server -> client, handshake accepted
inline constexpr std::uint16_t kOpError = 0x0003;    // server -> client, then the session ends
// server -> client, before the reply of an answered call: device printf text (device_output.h)
inline constexpr std::uint16_t kOpDeviceOutput = 0x0004;
// client -> server, once, right after HelloOk and only over a plain Unix socket: asks for the copy
// ring; the reply (same opcode) carries its geometry and its memfd (copy_ring.h)
inline constexpr std::uint16_t kOpOpenCopyRing = 0x0005;
// client -> server, once, after a copy ring was opened: asks for the deferred staging; the reply
// (same opcode) carries its geometry and its memfd (deferred_staging.h)
inline constexpr std::uint16_t kOpOpenDeferredStaging = 0x0006;
// client -> server, once, after the copy ring (again with another address while the reply says the
// address is taken): asks for the mapped arena; the reply (same opcode) carries its memfd
// (mapped_arena.h)
inline constexpr std::uint16_t kOpOpenMappedArena = 0x0007;
inline constexpr std::uint16_t kFirstCallOpcode = 0x0100;

// Limits. A frame larger than kMaxPayload is a protocol error that ends the session.
inline constexpr std::size_t kChunkSize = 1u << 20;      // bulk data per frame (copies, images)
inline constexpr std::size_t kMaxArgsBytes = 64u << 10;  // room for a call's arguments
inline constexpr std::size_t kMaxPayload = kChunkSize + kMaxArgsBytes;
inline constexpr std::size_t kMaxStringBytes = 4096;         // names, tokens, versions
inline constexpr std::size_t kMaxKernelParamBytes = 32764;   // CUDA's limit for kernel parameters
inline constexpr std::size_t kMaxListItems = 8192;           // vectors (attribute lists, enumerations)
inline constexpr std::uint64_t kMaxImageBytes = 2ull << 30;  // one module/library image
// Device printf text a worker holds for its client between two answered calls; beyond it, bytes are
// dropped and counted (DeviceOutput.dropped). At most kChunkSize bytes per DeviceOutput frame.
inline constexpr std::size_t kMaxBufferedOutput = 4u << 20;
inline constexpr std::size_t kImageHashBytes = 32;  // SHA-256
// Deferred device-to-host copies (MemcpyDtoHDeferred) a session may have unanswered; the worker holds
// their bytes (in pinned memory, at most kChunkSize each) until it answers them.
inline constexpr std::size_t kMaxDeferredCopies = 64;

// Handshake deadline: a client that has not completed Hello (and TLS, when on) within this time is
// dropped. A Hello payload is at most five strings and its fixed fields.
inline constexpr int kHandshakeTimeoutMs = 5000;
inline constexpr std::uint32_t kMaxHelloPayload = 5 * kMaxStringBytes + 64;

struct FrameHeader {
  std::uint32_t payload_size = 0;
  std::uint16_t opcode = 0;
  std::uint16_t flags = 0;
  std::uint64_t request_id = 0;
};

}  // namespace gpupool::protocol
