#include "common/binding/binding.h"

#include <nlohmann/json.hpp>

#include "common/endpoint.h"

namespace gpupool {
namespace {

using nlohmann::json;

Status Field(const std::string& path, const std::string& problem) {
  return Status::InvalidArgument("binding: " + path + " " + problem);
}

// Appends the UTF-8 encoding of `cp`.
void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes Go's strconv.Quote on the text between the quotes. False on a malformed escape.
bool UnquoteGo(std::string_view q, std::string& out) {
  for (std::size_t i = 0; i < q.size(); ++i) {
    const char c = q[i];
    if (c == '"') return false;  // an unescaped quote inside the value
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= q.size()) return false;
    const char e = q[i];
    int digits = 0;
    switch (e) {
      case 'a': out += '\a'; continue;
      case 'b': out += '\b'; continue;
      case 'f': out += '\f'; continue;
      case 'n': out += '\n'; continue;
      case 'r': out += '\r'; continue;
      case 't': out += '\t'; continue;
      case 'v': out += '\v'; continue;
      case '\\': out += '\\'; continue;
      case '"': out += '"'; continue;
      case '\'': out += '\''; continue;
      case 'x': digits = 2; break;
      case 'u': digits = 4; break;
      case 'U': digits = 8; break;
      default: return false;
    }
    std::uint32_t v = 0;
    for (int d = 0; d < digits; ++d) {
      if (i + 1 >= q.size()) return false;
      const int h = HexDigit(q[++i]);
      if (h < 0) return false;
      v = v * 16 + static_cast<std::uint32_t>(h);
    }
    if (e == 'x') {
      out += static_cast<char>(v);  // \xNN is a raw byte
    } else {
      if (v > 0x10FFFF) return false;
      AppendUtf8(out, v);
    }
  }
  return true;
}

}  // namespace

std::string BindingToJson(const Binding& binding) {
  // nlohmann's default object type orders keys alphabetically; build the text in contract order.
  std::string out = "{\"pool\":" + json(binding.pool).dump() + ",\"gpus\":[";
  for (std::size_t i = 0; i < binding.gpus.size(); ++i) {
    const GpuBinding& g = binding.gpus[i];
    if (i > 0) out += ',';
    out += "{\"server\":" + json(g.server).dump() + ",\"uuid\":" + json(g.uuid).dump() +
           ",\"percent\":" + std::to_string(g.percent) +
           ",\"memoryBytes\":" + std::to_string(g.memory_bytes) + "}";
  }
  out += "]}";
  return out;
}

Result<Binding> BindingFromJson(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Field("annotation", "is not valid JSON");
  if (!doc.is_object()) return Field("annotation", "is not a JSON object");
  for (const auto& [key, value] : doc.items()) {
    if (key != "pool" && key != "gpus") return Field(key, "is not a known field");
  }
  Binding b;
  if (!doc.contains("pool") || !doc["pool"].is_string() || doc["pool"].get<std::string>().empty()) {
    return Field("pool", "must be a non-empty string");
  }
  b.pool = doc["pool"].get<std::string>();
  if (!doc.contains("gpus") || !doc["gpus"].is_array() || doc["gpus"].empty()) {
    return Field("gpus", "must be a non-empty array");
  }
  std::size_t index = 0;
  for (const json& g : doc["gpus"]) {
    const std::string at = "gpus[" + std::to_string(index++) + "]";
    if (!g.is_object()) return Field(at, "is not an object");
    for (const auto& [key, value] : g.items()) {
      if (key != "server" && key != "uuid" && key != "percent" && key != "memoryBytes") {
        return Field(at + "." + key, "is not a known field");
      }
    }
    GpuBinding gb;
    if (!g.contains("server") || !g["server"].is_string()) return Field(at + ".server", "must be a string");
    gb.server = g["server"].get<std::string>();
    if (auto ep = ParseEndpoint(gb.server); !ep.ok()) return Field(at + ".server", ep.status().message());
    if (!g.contains("uuid") || !g["uuid"].is_string() || g["uuid"].get<std::string>().rfind("GPU-", 0) != 0) {
      return Field(at + ".uuid", "must be a string starting with GPU-");
    }
    gb.uuid = g["uuid"].get<std::string>();
    if (!g.contains("percent") || !g["percent"].is_number_integer()) {
      return Field(at + ".percent", "must be an integer");
    }
    const auto percent = g["percent"].get<std::int64_t>();
    if (percent < 1 || percent > 100) return Field(at + ".percent", "must be 1..100");
    gb.percent = static_cast<int>(percent);
    if (!g.contains("memoryBytes") || !g["memoryBytes"].is_number_unsigned()) {
      return Field(at + ".memoryBytes", "must be a non-negative integer");
    }
    gb.memory_bytes = g["memoryBytes"].get<std::uint64_t>();
    for (const GpuBinding& earlier : b.gpus) {
      if (earlier.server == gb.server && earlier.uuid == gb.uuid) return Field(at, "repeats a GPU");
    }
    b.gpus.push_back(std::move(gb));
  }
  return b;
}

Result<std::map<std::string, std::string>> ParseDownwardAnnotations(std::string_view text) {
  std::map<std::string, std::string> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    const std::size_t eq = line.find('=');
    const std::string where = "annotations file line " + std::to_string(line_no);
    if (eq == std::string_view::npos || eq == 0)
      return Status::InvalidArgument(where + ": expected key=\"value\"");
    std::string_view quoted = line.substr(eq + 1);
    if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"') {
      return Status::InvalidArgument(where + ": value is not quoted");
    }
    std::string value;
    if (!UnquoteGo(quoted.substr(1, quoted.size() - 2), value)) {
      return Status::InvalidArgument(where + ": malformed escape in value");
    }
    out[std::string(line.substr(0, eq))] = std::move(value);
  }
  return out;
}

}  // namespace gpupool
