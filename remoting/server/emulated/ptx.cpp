// ParsePtx: a small tokenizer and a scan for module-scope `.entry`, `.global` and `.const`.
#include "remoting/server/emulated/ptx.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace gpupool::server::emulated {
namespace {

constexpr std::uint32_t kMaxParamBytes = 32764;

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$' || c == '%';
}

// Words (directives, identifiers, numbers) and single-character punctuation; comments and quoted
// strings are dropped.
std::vector<std::string_view> Tokenize(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (text.substr(i, 2) == "//") {
      const std::size_t end = text.find('\n', i);
      i = end == std::string_view::npos ? text.size() : end;
    } else if (text.substr(i, 2) == "/*") {
      const std::size_t end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? text.size() : end + 2;
    } else if (c == '"') {
      const std::size_t end = text.find('"', i + 1);
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else if (IsWordChar(c)) {
      std::size_t j = i;
      while (j < text.size() && IsWordChar(text[j])) ++j;
      tokens.push_back(text.substr(i, j - i));
      i = j;
    } else {
      tokens.push_back(text.substr(i, 1));
      ++i;
    }
  }
  return tokens;
}

// Bytes of a PTX fundamental type (.u64, .f32, .b8, .pred ...), 0 if not one.
std::uint32_t TypeSize(std::string_view t) {
  if (t == ".pred") return 1;
  if (t.size() < 3 || t[0] != '.') return 0;
  if (std::string_view("usbf").find(t[1]) == std::string_view::npos) return 0;
  const std::string_view bits = t.substr(2);
  if (bits == "8") return 1;
  if (bits == "16") return 2;
  if (bits == "32") return 4;
  if (bits == "64") return 8;
  if (bits == "128") return 16;
  return 0;
}

bool ParseNumber(std::string_view s, std::uint64_t* out) {
  if (s.empty() || s.size() > 12) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// A declaration `[.align N] .type name [ [N] ]` starting at tokens[i] (after .param/.global):
// its size, alignment and name. Advances i past it.
Status ParseDeclaration(const std::vector<std::string_view>& tokens, std::size_t* i, std::uint64_t* size,
                        std::uint64_t* align, std::string* name, std::string_view* type = nullptr) {
  std::uint64_t type_size = 0, explicit_align = 0, count = 1;
  while (*i < tokens.size()) {
    const std::string_view t = tokens[*i];
    if (t == ".align") {
      std::uint64_t value = 0;
      if (*i + 1 >= tokens.size() || !ParseNumber(tokens[*i + 1], &value) || value == 0 ||
          (value & (value - 1)) != 0) {
        return Status::InvalidArgument("ptx: bad .align");
      }
      // After the type, `.ptr .global .align N` is the pointee's alignment, not the parameter's.
      if (type_size == 0) explicit_align = value;
      *i += 2;
    } else if (t[0] == '.') {
      if (type_size == 0 && (type_size = TypeSize(t)) != 0 && type != nullptr) *type = t;
      ++*i;  // a type, or a qualifier such as .ptr .global .const .visible
    } else {
      break;
    }
  }
  if (*i >= tokens.size() || type_size == 0)
    return Status::InvalidArgument("ptx: declaration without a type");
  *name = std::string(tokens[(*i)++]);
  if (*i < tokens.size() && tokens[*i] == "[") {
    if (*i + 2 >= tokens.size() || !ParseNumber(tokens[*i + 1], &count) || tokens[*i + 2] != "]") {
      return Status::InvalidArgument("ptx: bad array size for " + *name);
    }
    *i += 3;
  }
  *size = type_size * count;
  *align = explicit_align != 0 ? explicit_align : type_size;
  return Status::Ok();
}

// One initialiser value of a `type_size`-byte element: an integer (decimal, 0x hex, octal), a
// float bit pattern (0fXXXXXXXX, 0dXXXXXXXXXXXXXXXX) or a decimal float for .f32/.f64. Anything
// else (an address such as generic(sym)) leaves the element zero, as it cannot be resolved here.
void EncodeValue(std::string_view token, bool negative, std::string_view type, std::size_t type_size,
                 std::uint8_t* out) {
  const std::string text(token);
  std::uint64_t bits = 0;
  char* end = nullptr;
  if ((token.starts_with("0f") || token.starts_with("0F") || token.starts_with("0d") ||
       token.starts_with("0D")) &&
      token.size() > 2) {
    bits = std::strtoull(text.c_str() + 2, &end, 16);
  } else if ((type == ".f32" || type == ".f64") && text.find_first_of(".eE") != std::string::npos) {
    const double v = std::strtod(text.c_str(), &end) * (negative ? -1 : 1);
    if (type == ".f32") {
      const float f = static_cast<float>(v);
      std::uint32_t b32 = 0;
      std::memcpy(&b32, &f, 4);
      bits = b32;
    } else {
      std::memcpy(&bits, &v, 8);
    }
    negative = false;
  } else {
    bits = std::strtoull(text.c_str(), &end, 0);
  }
  if (end == nullptr || *end != '\0') return;
  if (negative) bits = ~bits + 1;
  for (std::size_t b = 0; b < type_size && b < 8; ++b) out[b] = static_cast<std::uint8_t>(bits >> (8 * b));
}

// `= value` or `= {v, v, ...}` (nested braces flatten) after a global's declaration, up to the ';'.
void ParseInitialiser(const std::vector<std::string_view>& tokens, std::size_t* i, std::string_view type,
                      std::size_t type_size, GlobalInfo* global) {
  std::vector<std::uint8_t> bytes(global->size, 0);
  std::size_t element = 0;
  bool negative = false;
  for (; *i < tokens.size() && tokens[*i] != ";"; ++*i) {
    const std::string_view t = tokens[*i];
    if (t == "-") {
      negative = true;
    } else if (t == "(" || t == ")") {
      continue;
    } else if (std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '.') {
      if ((element + 1) * type_size <= bytes.size())
        EncodeValue(t, negative, type, type_size, &bytes[element * type_size]);
      ++element;
      negative = false;
    } else if (t == "generic" || std::isalpha(static_cast<unsigned char>(t[0])) || t[0] == '_' ||
               t[0] == '$') {
      if (t != "generic") ++element;  // an address: left zero
    }
  }
  global->init = std::move(bytes);
}

Status ParseEntry(const std::vector<std::string_view>& tokens, std::size_t* i, KernelInfo* kernel) {
  if (*i >= tokens.size()) return Status::InvalidArgument("ptx: .entry without a name");
  kernel->name = std::string(tokens[(*i)++]);
  std::uint64_t end = 0;
  if (*i < tokens.size() && tokens[*i] == "(") {
    ++*i;
    while (*i < tokens.size() && tokens[*i] != ")") {
      if (tokens[*i] == ",") {
        ++*i;
        continue;
      }
      if (tokens[*i] != ".param") return Status::InvalidArgument("ptx: expected .param in " + kernel->name);
      ++*i;
      std::uint64_t size = 0, align = 0;
      std::string name;
      GPUPOOL_RETURN_IF_ERROR(ParseDeclaration(tokens, i, &size, &align, &name));
      const std::uint64_t offset = (end + align - 1) / align * align;
      end = offset + size;
      if (end > kMaxParamBytes)
        return Status::InvalidArgument("ptx: parameters of " + kernel->name + " exceed 32764 bytes");
      kernel->params.push_back(
          ParamInfo{static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(size)});
    }
    if (*i >= tokens.size()) return Status::InvalidArgument("ptx: unterminated parameter list");
    ++*i;
  }
  kernel->param_bytes = static_cast<std::uint32_t>(end);
  // Performance directives between the parameter list and the body.
  while (*i < tokens.size() && tokens[*i] != "{" && tokens[*i] != ";") {
    if (tokens[*i] == ".maxntid" || tokens[*i] == ".reqntid") {
      std::uint64_t threads = 1, n = 0;
      std::size_t j = *i + 1;
      while (j < tokens.size() && (ParseNumber(tokens[j], &n) || tokens[j] == ",")) {
        if (tokens[j] != ",") threads *= n;
        ++j;
      }
      if (threads > 0 && threads < kernel->max_threads)
        kernel->max_threads = static_cast<std::uint32_t>(threads);
      *i = j;
    } else {
      ++*i;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ModuleImage> ParsePtx(std::string_view text) {
  const std::vector<std::string_view> tokens = Tokenize(text);
  if (tokens.empty() || tokens[0] != ".version") {
    bool has_version = false;
    for (std::string_view t : tokens) has_version = has_version || t == ".version";
    if (!has_version) return Status::InvalidArgument("ptx: no .version directive");
  }
  ModuleImage image;
  image.source = ModuleImage::Source::kPtx;
  int depth = 0, parens = 0;
  for (std::size_t i = 0; i < tokens.size();) {
    const std::string_view t = tokens[i];
    if (t == "{") {
      ++depth;
      ++i;
    } else if (t == "}") {
      if (--depth < 0) return Status::InvalidArgument("ptx: unbalanced braces");
      ++i;
    } else if (t == "(" || t == ")") {
      parens += t == "(" ? 1 : -1;
      ++i;
    } else if (depth == 0 && t == ".entry") {
      ++i;
      KernelInfo kernel;
      GPUPOOL_RETURN_IF_ERROR(ParseEntry(tokens, &i, &kernel));
      image.kernels.push_back(std::move(kernel));
    } else if (depth == 0 && parens == 0 && (t == ".global" || t == ".const") &&
               (i == 0 || tokens[i - 1] != ".extern")) {
      ++i;
      std::uint64_t size = 0, align = 0;
      std::string_view type;
      GlobalInfo global;
      GPUPOOL_RETURN_IF_ERROR(ParseDeclaration(tokens, &i, &size, &align, &global.name, &type));
      global.size = size;
      if (i < tokens.size() && tokens[i] == "=") ParseInitialiser(tokens, &i, type, TypeSize(type), &global);
      image.globals.push_back(std::move(global));
      while (i < tokens.size() && tokens[i] != ";") ++i;
    } else {
      ++i;
    }
  }
  if (depth != 0) return Status::InvalidArgument("ptx: unbalanced braces");
  return image;
}

}  // namespace gpupool::server::emulated
