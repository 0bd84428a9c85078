#include "remoting/protocol/handshake.h"

#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {

std::string EncodeHello(const Hello& m) {
  Writer w;
  w.U32(m.magic);
  w.U16(m.version);
  w.Str(m.token);
  w.Str(m.process_name);
  w.U32(m.pid);
  w.Str(m.pod_uid);
  w.Str(m.pod_token);
  return w.Take();
}

Result<Hello> DecodeHello(std::string_view payload) {
  Reader r(payload);
  Hello m;
  r.U32(&m.magic);
  r.U16(&m.version);
  r.Str(&m.token);
  r.Str(&m.process_name);
  r.U32(&m.pid);
  r.Str(&m.pod_uid);
  r.Str(&m.pod_token);
  GPUPOOL_RETURN_IF_ERROR(r.ExpectEnd().Annotate("Hello"));
  return m;
}

std::string EncodeHelloOk(const HelloOk& m) {
  Writer w;
  w.U64(m.session_id);
  w.Str(m.server_version);
  w.Str(m.device_kind);
  return w.Take();
}

Result<HelloOk> DecodeHelloOk(std::string_view payload) {
  Reader r(payload);
  HelloOk m;
  r.U64(&m.session_id);
  r.Str(&m.server_version);
  r.Str(&m.device_kind);
  GPUPOOL_RETURN_IF_ERROR(r.ExpectEnd().Annotate("HelloOk"));
  return m;
}

std::string EncodeError(const ErrorMessage& m) {
  Writer w;
  w.U32(static_cast<std::uint32_t>(m.code));
  w.Str(m.message);
  return w.Take();
}

Result<ErrorMessage> DecodeError(std::string_view payload) {
  Reader r(payload);
  std::uint32_t code = 0;
  ErrorMessage m;
  r.U32(&code);
  r.Str(&m.message);
  GPUPOOL_RETURN_IF_ERROR(r.ExpectEnd().Annotate("Error"));
  if (code == 0 || code > static_cast<std::uint32_t>(Code::kCancelled)) {
    return Status::InvalidArgument("Error frame carries unknown code " + std::to_string(code));
  }
  m.code = static_cast<Code>(code);
  return m;
}

}  // namespace gpupool::protocol
