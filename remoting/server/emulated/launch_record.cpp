// RecordLaunch: one JSON line per launch, written with a single write(2) on an O_APPEND file so a
// test reading the file sees whole lines at once, without stdio buffering to flush. The line is
// formatted by hand: it is on the launch path, which must stay cheap (kernel names are C
// identifiers or mangled names, which need no JSON escaping; anything else is escaped anyway).
#include "remoting/server/emulated/launch_record.h"

#include <unistd.h>

#include <charconv>

#include "remoting/server/emulated/state.h"

namespace gpupool::server::emulated {
namespace {

void AppendNumber(std::string& out, unsigned long long v) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof(digits), v).ptr;
  out.append(digits, end);
}

void AppendTriple(std::string& out, const char* key, const std::array<unsigned, 3>& v) {
  out += key;
  for (int i = 0; i < 3; ++i) {
    out += i == 0 ? "[" : ",";
    AppendNumber(out, v[i]);
  }
  out += "]";
}

void AppendString(std::string& out, const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace

void RecordLaunch(const LaunchRecord& r) {
  State& s = GetState();
  ++s.launch_count;
  if (s.launch_log_fd < 0) return;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string line;
  line.reserve(160 + r.params.size() * 2);
  line += "{\"kernel\":";
  AppendString(line, *r.kernel);
  AppendTriple(line, ",\"grid\":", r.grid);
  AppendTriple(line, ",\"block\":", r.block);
  line += ",\"shared\":";
  AppendNumber(line, r.shared);
  line += ",\"stream\":";
  AppendNumber(line, r.stream_id);
  line += ",\"params\":\"";
  for (std::uint8_t b : r.params) {
    line += kHex[b >> 4];
    line += kHex[b & 0xf];
  }
  line += "\",\"cooperative\":";
  line += r.cooperative ? "true" : "false";
  if (r.has_cluster) AppendTriple(line, ",\"cluster\":", r.cluster);
  if (!r.attributes.empty()) {
    line += ",\"attributes\":[";
    for (std::size_t i = 0; i < r.attributes.size(); ++i) {
      if (i > 0) line += ',';
      AppendNumber(line, static_cast<unsigned long long>(r.attributes[i]));
    }
    line += ']';
  }
  line += "}\n";
  // One write per line; a short write (disk full) loses the record, never the launch.
  (void)!write(s.launch_log_fd, line.data(), line.size());
}

}  // namespace gpupool::server::emulated
