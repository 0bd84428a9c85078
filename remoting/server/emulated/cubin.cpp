// ParseCubin: ELF64 section/symbol walk plus the `.nv.info` attribute streams.
#include "remoting/server/emulated/cubin.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace gpupool::server::emulated {
namespace {

constexpr std::uint16_t kEmCuda = 190;
constexpr std::uint32_t kShtSymtab = 2;
constexpr std::uint32_t kShtNobits = 8;
constexpr std::uint8_t kSttObject = 1;
constexpr std::uint8_t kSttFunc = 2;
constexpr std::uint8_t kStoCudaEntry = 0x10;

// .nv.info attribute formats and the attributes read here (names as cuobjdump prints them).
constexpr std::uint8_t kFmtSval = 0x04;             // u16 length + payload; every other format is 4 bytes
constexpr std::uint8_t kAttrMaxThreads = 0x05;      // u32 x, y, z (__launch_bounds__)
constexpr std::uint8_t kAttrFrameSize = 0x11;       // u32 symbol, u32 bytes (module-wide .nv.info)
constexpr std::uint8_t kAttrKparamInfo = 0x17;      // u32 index, u16 ordinal, u16 offset, u32 bits
constexpr std::uint8_t kAttrKparamInfoV2 = 0x45;    // the same with a plain u32 size (parameters > 16 KiB)
constexpr std::uint8_t kAttrCbankParamSize = 0x19;  // u16 bytes (HVAL)
constexpr std::uint8_t kAttrRegCount = 0x2f;        // u32 symbol, u32 registers (module-wide)
constexpr std::uint32_t kMaxParamBytes = 32764;
constexpr std::uint64_t kReservedShared = 1024;

struct Section {
  std::string_view name;
  std::uint32_t type = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t link = 0;
};

Status Malformed(const std::string& what) {
  return Status::InvalidArgument("cubin: " + what);
}

// Calls fn(attribute, format, payload) for each attribute of an .nv.info section.
template <typename Fn>
Status ForEachAttribute(const ByteReader& info, Fn fn) {
  std::uint64_t at = 0;
  while (at < info.size()) {
    std::uint8_t format = 0, attribute = 0;
    if (!info.Read(at, &format) || !info.Read(at + 1, &attribute)) return Malformed("short .nv.info");
    if (format == kFmtSval) {
      std::uint16_t length = 0;
      if (!info.Read(at + 2, &length) || !info.Has(at + 4, length)) {
        return Malformed(".nv.info attribute overruns its section");
      }
      GPUPOOL_RETURN_IF_ERROR(fn(attribute, format, info.Slice(at + 4, length)));
      at += 4 + std::uint64_t{length};
    } else {
      if (!info.Has(at, 4)) return Malformed(".nv.info attribute overruns its section");
      GPUPOOL_RETURN_IF_ERROR(fn(attribute, format, info.Slice(at + 2, 2)));
      at += 4;
    }
  }
  return Status::Ok();
}

struct Elf {
  std::vector<Section> sections;
  std::map<std::string_view, std::size_t, std::less<>> by_name;
  const Section* Find(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &sections[it->second];
  }
};

Result<Elf> ReadSections(const ByteReader& elf) {
  std::uint64_t shoff = 0;
  std::uint16_t shentsize = 0, shnum = 0, shstrndx = 0;
  if (!elf.Read(40, &shoff) || !elf.Read(58, &shentsize) || !elf.Read(60, &shnum) ||
      !elf.Read(62, &shstrndx)) {
    return Malformed("truncated ELF header");
  }
  if (shentsize != 64 || shnum == 0 || shstrndx >= shnum) return Malformed("bad section table");
  if (!elf.Has(shoff, std::uint64_t{shnum} * 64)) return Malformed("section table out of bounds");
  Elf out;
  std::vector<std::uint32_t> name_offsets;
  for (std::uint16_t i = 0; i < shnum; ++i) {
    const std::uint64_t at = shoff + std::uint64_t{i} * 64;
    Section s;
    std::uint32_t name = 0;
    (void)elf.Read(at, &name);
    (void)elf.Read(at + 4, &s.type);
    (void)elf.Read(at + 24, &s.offset);
    (void)elf.Read(at + 32, &s.size);
    (void)elf.Read(at + 40, &s.link);
    if (s.type != kShtNobits && !elf.Has(s.offset, s.size)) {
      return Malformed("section " + std::to_string(i) + " lies outside the image");
    }
    name_offsets.push_back(name);
    out.sections.push_back(s);
  }
  const Section& strtab = out.sections[shstrndx];
  const ByteReader names = elf.Slice(strtab.offset, strtab.size);
  for (std::size_t i = 0; i < out.sections.size(); ++i) {
    if (!names.String(name_offsets[i], &out.sections[i].name)) return Malformed("bad section name");
    out.by_name.emplace(out.sections[i].name, i);
  }
  return out;
}

// Fills a kernel's parameter layout and launch bounds from its .nv.info.<name> section.
Status ReadKernelInfo(const ByteReader& info, KernelInfo* kernel) {
  std::map<std::uint16_t, ParamInfo> params;
  bool have_total = false;
  GPUPOOL_RETURN_IF_ERROR(
      ForEachAttribute(info, [&](std::uint8_t attribute, std::uint8_t, const ByteReader& value) -> Status {
        if (attribute == kAttrKparamInfo || attribute == kAttrKparamInfoV2) {
          std::uint16_t ordinal = 0, offset = 0;
          std::uint32_t bits = 0;
          if (!value.Read(4, &ordinal) || !value.Read(6, &offset) || !value.Read(8, &bits)) {
            return Malformed("short EIATTR_KPARAM_INFO");
          }
          // Version 1 keeps the size in bits 18..31 (so at most 16 KiB), version 2 in the whole word.
          params[ordinal] = ParamInfo{offset, attribute == kAttrKparamInfo ? bits >> 18 : bits};
        } else if (attribute == kAttrCbankParamSize) {
          std::uint16_t total = 0;
          if (!value.Read(0, &total)) return Malformed("short EIATTR_CBANK_PARAM_SIZE");
          kernel->param_bytes = total;
          have_total = true;
        } else if (attribute == kAttrMaxThreads) {
          std::uint32_t x = 0, y = 0, z = 0;
          if (!value.Read(0, &x) || !value.Read(4, &y) || !value.Read(8, &z)) {
            return Malformed("short EIATTR_MAX_THREADS");
          }
          const std::uint64_t threads = std::uint64_t{x} * y * z;
          if (threads > 0 && threads < kernel->max_threads) kernel->max_threads = threads;
        }
        return Status::Ok();
      }));
  std::uint64_t end = 0;
  for (const auto& [ordinal, param] : params) {
    if (ordinal != kernel->params.size()) return Malformed(kernel->name + ": parameter ordinals skip");
    kernel->params.push_back(param);
    end = std::max(end, std::uint64_t{param.offset} + param.size);
  }
  if (!have_total) kernel->param_bytes = static_cast<std::uint32_t>(std::min<std::uint64_t>(end, UINT32_MAX));
  if (end > kernel->param_bytes || kernel->param_bytes > kMaxParamBytes) {
    return Malformed(kernel->name + ": parameter layout exceeds its buffer");
  }
  return Status::Ok();
}

// Module-wide .nv.info: per-symbol register counts and stack frame sizes.
Status ReadModuleInfo(const ByteReader& info, std::map<std::uint32_t, std::uint32_t>* regs,
                      std::map<std::uint32_t, std::uint32_t>* frames) {
  return ForEachAttribute(info, [&](std::uint8_t attribute, std::uint8_t, const ByteReader& value) -> Status {
    if (attribute != kAttrRegCount && attribute != kAttrFrameSize) return Status::Ok();
    std::uint32_t symbol = 0, amount = 0;
    if (!value.Read(0, &symbol) || !value.Read(4, &amount)) return Malformed("short .nv.info entry");
    (attribute == kAttrRegCount ? *regs : *frames)[symbol] = amount;
    return Status::Ok();
  });
}

// Whether the kernels' shared sections start with the 1 KiB the system reserves per block
// (CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK): nvcc then references the symbol
// `.nv.reservedSmem.offset0` (and places the kernel's own variables after that kilobyte).
bool ReservesShared(const ByteReader& symbols, const ByteReader& names) {
  for (std::uint64_t at = 0; at + 24 <= symbols.size(); at += 24) {
    std::uint32_t name_offset = 0;
    std::string_view name;
    if (symbols.Read(at, &name_offset) && names.String(name_offset, &name) &&
        name == ".nv.reservedSmem.offset0") {
      return true;
    }
  }
  return false;
}

// The symbol indices whose functions call vprintf, directly or through other functions, from the
// .nv.callgraph section (pairs of u32 caller, callee symbol index; callees past the symbol table
// are markers such as 0xffffffff).
Result<std::set<std::uint32_t>> PrintingFunctions(const ByteReader& callgraph, std::uint32_t vprintf,
                                                  std::uint32_t symbol_count) {
  std::multimap<std::uint32_t, std::uint32_t> callers_of;  // callee -> caller
  for (std::uint64_t at = 0; at < callgraph.size(); at += 8) {
    std::uint32_t caller = 0, callee = 0;
    if (!callgraph.Read(at, &caller) || !callgraph.Read(at + 4, &callee))
      return Malformed("short .nv.callgraph");
    if (callee < symbol_count && caller < symbol_count) callers_of.emplace(callee, caller);
  }
  std::set<std::uint32_t> printing;
  std::vector<std::uint32_t> todo = {vprintf};
  while (!todo.empty()) {
    const std::uint32_t callee = todo.back();
    todo.pop_back();
    auto [first, last] = callers_of.equal_range(callee);
    for (auto it = first; it != last; ++it) {
      if (printing.insert(it->second).second) todo.push_back(it->second);
    }
  }
  return printing;
}

// The order of a string literal named $str (0), $str$1 (1), ...: the order nvcc emitted them in.
bool StringLiteralOrder(std::string_view name, std::uint32_t* order) {
  if (name == "$str") {
    *order = 0;
    return true;
  }
  if (!name.starts_with("$str$") || name.size() > 14) return false;
  std::uint32_t n = 0;
  for (char c : name.substr(5)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  *order = n;
  return true;
}

}  // namespace

int CubinArch(const ByteReader& elf) {
  std::uint8_t abi_version = 0;
  std::uint32_t flags = 0;
  if (!elf.Read(8, &abi_version) || !elf.Read(48, &flags)) return 0;
  // ABI version 8 (CUDA 12+) keeps the SM number in bits 8..15 of e_flags, older ones in 0..7.
  return static_cast<int>(abi_version >= 8 ? (flags >> 8) & 0xff : flags & 0xff);
}

std::uint64_t CubinSize(const ByteReader& header) {
  std::uint64_t shoff = 0;
  std::uint16_t shentsize = 0, shnum = 0;
  if (!header.Read(40, &shoff) || !header.Read(58, &shentsize) || !header.Read(60, &shnum)) return 0;
  const std::uint64_t table_end = shoff + std::uint64_t{shentsize} * shnum;
  return table_end < shoff ? 0 : table_end;
}

Result<ModuleImage> ParseCubin(const ByteReader& elf) {
  static constexpr std::uint8_t kIdent[] = {0x7f, 'E', 'L', 'F', 2 /*64-bit*/, 1 /*LE*/};
  if (!elf.Has(0, 64) || std::memcmp(elf.data(), kIdent, sizeof(kIdent)) != 0) {
    return Malformed("not a 64-bit little-endian ELF image");
  }
  std::uint16_t machine = 0;
  (void)elf.Read(18, &machine);
  if (machine != kEmCuda) return Malformed("ELF machine is not EM_CUDA");
  GPUPOOL_ASSIGN_OR_RETURN(Elf sections, ReadSections(elf));

  const Section* symtab = nullptr;
  for (const Section& s : sections.sections) {
    if (s.type == kShtSymtab) symtab = &s;
  }
  if (symtab == nullptr || symtab->link >= sections.sections.size()) return Malformed("no symtab");
  const Section& strtab = sections.sections[symtab->link];
  const ByteReader symbols = elf.Slice(symtab->offset, symtab->size);
  const ByteReader names = elf.Slice(strtab.offset, strtab.size);

  std::map<std::uint32_t, std::uint32_t> regs, frames;
  if (const Section* info = sections.Find(".nv.info")) {
    GPUPOOL_RETURN_IF_ERROR(ReadModuleInfo(elf.Slice(info->offset, info->size), &regs, &frames));
  }
  const bool reserves_shared = ReservesShared(symbols, names);
  const std::uint32_t symbol_count = static_cast<std::uint32_t>(symbols.size() / 24);
  std::uint32_t vprintf = symbol_count;           // the undefined symbol device printf calls, if any
  std::map<std::uint32_t, std::string> literals;  // $str order -> text
  std::vector<std::uint32_t> kernel_symbols;      // symbol index of each image.kernels entry
  ModuleImage image;
  image.source = ModuleImage::Source::kCubin;
  for (std::uint32_t index = 0; std::uint64_t{index} * 24 + 24 <= symbols.size(); ++index) {
    const std::uint64_t at = std::uint64_t{index} * 24;
    std::uint32_t name_offset = 0;
    std::uint8_t info = 0, other = 0;
    std::uint16_t shndx = 0;
    std::uint64_t value = 0, size = 0;
    (void)symbols.Read(at, &name_offset);
    (void)symbols.Read(at + 4, &info);
    (void)symbols.Read(at + 5, &other);
    (void)symbols.Read(at + 6, &shndx);
    (void)symbols.Read(at + 8, &value);
    (void)symbols.Read(at + 16, &size);
    const std::uint8_t type = info & 0xf;
    if (type == kSttFunc && shndx == 0) {
      std::string_view name;
      if (names.String(name_offset, &name) && name == "vprintf") vprintf = index;
    }
    if ((type != kSttFunc && type != kSttObject) || shndx == 0 || shndx >= sections.sections.size()) {
      continue;
    }
    std::string_view name;
    if (!names.String(name_offset, &name)) return Malformed("bad symbol name");
    const Section& home = sections.sections[shndx];
    if (type == kSttFunc) {
      const std::string info_name = ".nv.info." + std::string(name);
      const Section* kernel_info = sections.Find(info_name);
      if ((other & kStoCudaEntry) == 0 && kernel_info == nullptr) continue;  // device function
      KernelInfo kernel;
      kernel.name = std::string(name);
      if (kernel_info != nullptr) {
        GPUPOOL_RETURN_IF_ERROR(ReadKernelInfo(elf.Slice(kernel_info->offset, kernel_info->size), &kernel));
      }
      if (const Section* s = sections.Find(".nv.shared." + kernel.name)) {
        // The reserved kilobyte is not the kernel's own static shared memory.
        const std::uint64_t reserved =
            reserves_shared ? std::min<std::uint64_t>(s->size, kReservedShared) : 0;
        kernel.shared_bytes = static_cast<std::uint32_t>(s->size - reserved);
      }
      // User __constant__ data (bank 3) is the module's; every kernel may read it.
      if (const Section* c = sections.Find(".nv.constant3")) kernel.const_bytes = c->size;
      kernel.num_regs = regs.count(index) ? regs[index] : 0;
      kernel.local_bytes = frames.count(index) ? frames[index] : 0;
      image.kernels.push_back(std::move(kernel));
      kernel_symbols.push_back(index);
    } else if (home.name.starts_with(".nv.global") || home.name.starts_with(".nv.constant")) {
      GlobalInfo global{std::string(name), static_cast<std::size_t>(size), {}};
      if (value > home.size || size > home.size - value) {
        return Malformed("global " + global.name + " lies outside its section");
      }
      if (home.type != kShtNobits) {
        const std::uint8_t* bytes = elf.data() + home.offset + value;
        global.init.assign(bytes, bytes + size);
      }
      std::uint32_t order = 0;
      if (home.name == ".nv.global.init" && StringLiteralOrder(name, &order)) {
        const std::string_view text(reinterpret_cast<const char*>(global.init.data()), global.init.size());
        literals[order] = std::string(text.substr(0, text.find('\0')));
      }
      image.globals.push_back(std::move(global));
    }
  }
  const Section* callgraph = sections.Find(".nv.callgraph");
  if (vprintf < symbol_count && callgraph != nullptr) {
    GPUPOOL_ASSIGN_OR_RETURN(
        std::set<std::uint32_t> printing,
        PrintingFunctions(elf.Slice(callgraph->offset, callgraph->size), vprintf, symbol_count));
    for (std::size_t i = 0; i < image.kernels.size(); ++i) {
      if (printing.count(kernel_symbols[i]) == 0) continue;
      image.kernels[i].calls_printf = true;
      for (const auto& [order, text] : literals) image.kernels[i].printf_formats.push_back(text);
    }
  }
  return image;
}

}  // namespace gpupool::server::emulated
