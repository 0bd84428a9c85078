#include "remoting/server/dispatch.h"

#include <array>
#include <chrono>
#include <tuple>
#include <type_traits>

#include "common/log.h"
#include "remoting/protocol/call_io.h"
#include "remoting/protocol/codec.h"
#include "remoting/protocol/device_output.h"
#include "remoting/protocol/frame_reader.h"
#include "remoting/protocol/result_names.h"
#include "remoting/server/copy_ring.h"
#include "remoting/server/output_capture.h"
#include "remoting/server/stat_reasons.h"
#include "remoting/server/watchdog.h"

namespace gpupool::server {
namespace {

using protocol::Call;
using protocol::Mode;
using protocol::Op;
using protocol::Tail;

using Handler = Status (*)(Session&, protocol::Connection&, const protocol::FrameHeader&, std::string_view);
using Clock = std::chrono::steady_clock;

// A protocol violation: the session ends with `message`; the broker counts it under `why`.
Status Violation(Session& s, ProtocolError why, std::string message) {
  if (s.stats != nullptr) s.stats->protocol_error = static_cast<std::uint32_t>(why);
  return Status::InvalidArgument(std::move(message));
}

// Device printf text the driver wrote during this or earlier calls goes to the client before the
// reply, so it reaches the application's stdout before the call returns there (as natively).
Status SendDeviceOutput(Session& s, protocol::Connection& conn, std::uint64_t request_id) {
  if (s.output == nullptr) return Status::Ok();
  std::uint64_t dropped = 0;
  s.output->Take(&s.output_text, &dropped);
  std::string_view text = s.output_text;
  Status sent;
  while (sent.ok() && (dropped != 0 || !text.empty())) {
    const std::string head = protocol::EncodeDeviceOutputHead(dropped);
    const std::string_view part = text.substr(0, protocol::kChunkSize);
    const iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                            {const_cast<char*>(part.data()), part.size()}};
    sent = conn.SendFrameV(protocol::kOpDeviceOutput, protocol::kFlagReply, request_id, parts, 2);
    text.remove_prefix(part.size());
    dropped = 0;
  }
  s.output_text.clear();
  return sent;
}

// The synchronisations whose replies the replies of finished deferred copies precede
// (deferred_copies.h): calls a client makes on their own and waits for, so it is reading when the
// copies' bytes arrive (a copy's reply never lands in front of a pipelined bulk request).
template <Op op>
constexpr bool kAnswersDeferred =
    op == Op::CtxSynchronize || op == Op::StreamSynchronize || op == Op::StreamQuery ||
    op == Op::EventSynchronize || op == Op::EventQuery || op == Op::DeferredCopiesFinish;

template <Op op>
Status Run(Session& s, protocol::Connection& conn, const protocol::FrameHeader& header,
           std::string_view payload,
           CUresult (*handler)(Session&, const typename Call<op>::Request&, typename Call<op>::Reply*,
                               std::string_view)) {
  constexpr Mode mode = Call<op>::mode;
  const Clock::time_point received = Clock::now();
  bool no_reply = (header.flags & protocol::kFlagNoReply) != 0;
  if (no_reply != (mode == Mode::kAsync)) {
    return Violation(
        s, ProtocolError::kFlags,
        std::string(Call<op>::kName) + (no_reply ? " must be answered" : " must be sent without a reply"));
  }
  protocol::Reader reader(payload);
  typename Call<op>::Request request{};
  protocol::Decode(reader, &request);
  std::string_view tail;
  if constexpr (Call<op>::tail == Tail::kRequestTail) {
    tail = reader.Rest();
  } else {
    (void)reader.ExpectEnd();
  }
  if (!reader.ok()) {
    Status bad = reader.status().Annotate(Call<op>::kName);
    return Violation(s, ProtocolError::kPayload, bad.message());
  }

  typename Call<op>::Reply reply{};
  s.reply_tail = {};
  if constexpr (mode == Mode::kDeferred) s.request = header;
  CUresult result;
  if (mode == Mode::kSync && s.latched != CUDA_SUCCESS) {
    result = s.latched;  // an earlier asynchronous call failed: report it here, as CUDA does
    s.latched = CUDA_SUCCESS;
  } else {
    if (s.watchdog != nullptr) s.watchdog->EnterCall();
    result = handler(s, request, &reply, tail);
    if (s.watchdog != nullptr) s.watchdog->LeaveCall();
  }
  // Every ring frame counts, answered, refused or latched away, and before its reply goes out: the
  // client's slot numbering depends on it (protocol/copy_ring.h).
  if constexpr (op == Op::MemcpyHtoDRing || op == Op::MemcpyHtoDAsyncRing || op == Op::MemcpyDtoHRing ||
                op == Op::MemcpyDtoHAsyncRing || op == Op::Memcpy2DToDeviceRing ||
                op == Op::Memcpy2DFromDeviceRing) {
    if (s.ring != nullptr) s.ring->Consumed();
  }
  // At debug level every error a call is answered with is named, also when the program ignores it:
  // how a sweep of real programs finds the calls the device refused (docs/conformance.md). Not
  // NOT_READY, which polling programs get by the thousand.
  if (result != CUDA_SUCCESS && result != CUDA_ERROR_NOT_READY) {
    GPUPOOL_LOG(kDebug) << Call<op>::kName << " answered " << protocol::ResultName(result);
  }
  if (mode == Mode::kAsync) {
    if (result != CUDA_SUCCESS && s.latched == CUDA_SUCCESS) s.latched = result;
    return Status::Ok();
  }
  if constexpr (mode == Mode::kDeferred) {
    if (result == CUDA_SUCCESS) return Status::Ok();  // answered by `deferred`, when done
    // Answered now, but the client reads it only later: the next synchronisation reports it.
    if (result != CUDA_SUCCESS && s.latched == CUDA_SUCCESS) s.latched = result;
  }
  if constexpr (kAnswersDeferred<op>) {
    GPUPOOL_RETURN_IF_ERROR(s.deferred.SendFinished(conn, &s.latched));
  }
  Status sent = SendDeviceOutput(s, conn, header.request_id);
  if (sent.ok() && result != CUDA_SUCCESS) {
    sent = protocol::SendReply(conn, header, result);
  } else if (sent.ok()) {
    protocol::Writer w;
    protocol::Encode(w, reply);
    sent = protocol::SendReply(conn, header, CUDA_SUCCESS, w.data(),
                               Call<op>::tail == Tail::kReplyTail ? s.reply_tail : std::string_view());
  }
  if (s.stats != nullptr) {
    // Errors count when the client is told (an asynchronous one at the call that reports it).
    if (result != CUDA_SUCCESS) s.stats->CountError(result);
    s.stats->durations.Observe(header.opcode, Clock::now() - received);
  }
  return sent;
}

struct Entry {
  std::uint16_t opcode;
  Handler handler;
};

constexpr std::array kTable = {
#define GPUPOOL_CALL(id, name, mode, tail_kind, req, rep)                                                 \
  Entry{id, [](Session& s, protocol::Connection& c, const protocol::FrameHeader& h, std::string_view p) { \
          return Run<Op::name>(s, c, h, p, &Handle##name);                                                \
        }},
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL
};

// The encoded size of a request whose fields are all fixed-size numbers.
template <typename... T>
constexpr std::size_t FixedSize(const std::tuple<T...>*) {
  static_assert((std::is_arithmetic_v<T> && ...), "fields of variable size");
  return (sizeof(T) + ... + 0);
}
template <Op op>
constexpr std::size_t kFieldsSize = FixedSize(static_cast<const typename Call<op>::Request*>(nullptr));

Handler Find(std::uint16_t opcode) {
  static const std::array<Handler, 0x10000>* by_opcode = [] {
    auto* table = new std::array<Handler, 0x10000>();  // 512 KiB, once per worker: O(1) dispatch
    for (const Entry& e : kTable) (*table)[e.opcode] = e.handler;
    return table;
  }();
  return (*by_opcode)[opcode];
}

}  // namespace

std::size_t HeadBytes(const protocol::FrameHeader& header) {
  std::size_t fields = 0;
  if (header.opcode == static_cast<std::uint16_t>(Op::MemcpyHtoD)) {
    fields = kFieldsSize<Op::MemcpyHtoD>;
  } else if (header.opcode == static_cast<std::uint16_t>(Op::MemcpyHtoDAsync)) {
    fields = kFieldsSize<Op::MemcpyHtoDAsync>;
  } else {
    return header.payload_size;
  }
  // A small chunk stays with its fields: one buffered read serves many frames.
  if (header.payload_size < fields || header.payload_size - fields < protocol::FrameReader::kBulkFrame)
    return header.payload_size;
  return fields;
}

Status Dispatch(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                std::string_view payload) {
  if ((header.flags & protocol::kFlagReply) != 0)
    return Violation(session, ProtocolError::kFlags, "client sent a reply frame");
  if (header.opcode == protocol::kOpOpenCopyRing) return OpenCopyRing(session, conn, header, payload);
  if (header.opcode == protocol::kOpOpenDeferredStaging)
    return OpenDeferredStaging(session, conn, header, payload);
  if (header.opcode == protocol::kOpOpenMappedArena) return OpenMappedArena(session, conn, header, payload);
  Handler handler = Find(header.opcode);
  if (handler == nullptr) {
    return Violation(session, ProtocolError::kOpcode, "unknown opcode " + protocol::OpName(header.opcode));
  }
  return handler(session, conn, header, payload);
}

}  // namespace gpupool::server
