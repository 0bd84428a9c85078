// The handshake of a TLS session. A TLS session cannot be handed from one process to another, so
// for a TCP connection on a TLS server the broker starts the session's worker at once (before the
// client is authenticated; the broker's limit on handshakes in progress bounds how many), and:
//
//   worker: TLS handshake with the client, then reads the Hello frame    (deadline: the broker's)
//   worker -> broker: the Hello payload                  (one message on a SOCK_SEQPACKET pair)
//   broker: checks it as for a plaintext client (token, admission), registers the session
//   broker -> worker: the answer frame, HelloOk or Error             (one message)
//   worker -> client: that frame; on HelloOk the session starts, otherwise the worker exits
//
// The worker opens the GPU only after HelloOk. A worker that does not deliver a Hello in time is
// killed by the broker. A plaintext client on a TLS port is told so in plaintext.
//
// Thread-safety: free functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "remoting/protocol/tls.h"
#include "remoting/protocol/transport.h"

namespace gpupool::server {

// Worker side: everything up to the session's start. Ok when the broker admitted the session
// (HelloOk has gone to the client); otherwise why not (the client has been told, where possible).
Status WorkerTlsHandshake(protocol::Connection& conn, const protocol::TlsServerFiles& files, int broker_fd);

// Broker side: the Hello payload from the worker, within `timeout`. Unavailable when the worker ended
// without one (its log says why), DeadlineExceeded when it took too long.
Result<std::string> ReceiveHelloFromWorker(int fd, std::chrono::milliseconds timeout);
// Broker side: the frame (HelloOk or Error) the worker forwards to the client.
Status AnswerWorker(int fd, std::uint16_t opcode, std::string_view payload);

}  // namespace gpupool::server
