// Image parsing without nvcc: a small cubin built here byte by byte (the layout nvcc emits for
// sm_90, see remoting/server/emulated/cubin.h), wrapped in a fatbin container, then broken in
// every way that matters: each must be a clean error, never a crash or a read out of bounds.
#include <lz4.h>
#include <zstd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "remoting/server/emulated/byte_reader.h"
#include "remoting/server/emulated/cubin.h"
#include "remoting/server/emulated/image.h"
#include "remoting/server/emulated/ptx.h"
#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {
namespace {

using Bytes = std::vector<std::uint8_t>;
using emulated::ByteReader;

template <typename T>
void Put(Bytes& b, std::size_t at, T v) {
  if (b.size() < at + sizeof(T)) b.resize(at + sizeof(T));
  std::memcpy(b.data() + at, &v, sizeof(T));
}
template <typename T>
void Append(Bytes& b, T v) {
  Put(b, b.size(), v);
}
std::uint32_t AddString(Bytes& table, const std::string& s) {
  const auto at = static_cast<std::uint32_t>(table.size());
  table.insert(table.end(), s.begin(), s.end());
  table.push_back(0);
  return at;
}

// Offsets of interesting fields in the built image, for the corruption cases.
struct Built {
  Bytes elf;
  std::size_t shoff = 0, info_offset = 0;
};

// kernel "k"(u64 at 0, u32 at 8; 12 bytes), 1 KiB static shared, global "g_var" = 8 bytes.
Built BuildCubin() {
  Bytes shstr{0}, str{0}, symtab(24, 0), info, global_init;
  for (int i = 0; i < 8; ++i) global_init.push_back(static_cast<std::uint8_t>(i + 1));
  const char* names[] = {".shstrtab", ".strtab",         ".symtab",     ".nv.info.k",
                         ".text.k",   ".nv.global.init", ".nv.shared.k"};
  std::vector<std::uint32_t> name_at;
  for (const char* n : names) name_at.push_back(AddString(shstr, n));
  // Symbols: k (FUNC, entry) in .text.k (section 5), g_var (OBJECT) in .nv.global.init (6).
  auto symbol = [&](const std::string& name, std::uint8_t info_byte, std::uint8_t other, std::uint16_t shndx,
                    std::uint64_t size) {
    Append<std::uint32_t>(symtab, AddString(str, name));
    Append<std::uint8_t>(symtab, info_byte);
    Append<std::uint8_t>(symtab, other);
    Append<std::uint16_t>(symtab, shndx);
    Append<std::uint64_t>(symtab, 0);
    Append<std::uint64_t>(symtab, size);
  };
  symbol("k", 0x12, 0x10, 5, 16);
  symbol("g_var", 0x01, 0, 6, 8);
  // .nv.info.k: two EIATTR_KPARAM_INFO (SVAL) and EIATTR_CBANK_PARAM_SIZE (HVAL).
  auto kparam = [&](std::uint16_t ordinal, std::uint16_t offset, std::uint32_t size) {
    Append<std::uint8_t>(info, 0x04);
    Append<std::uint8_t>(info, 0x17);
    Append<std::uint16_t>(info, 12);
    Append<std::uint32_t>(info, 0);
    Append<std::uint16_t>(info, ordinal);
    Append<std::uint16_t>(info, offset);
    Append<std::uint32_t>(info, (size << 18) | 0x1f000);
  };
  kparam(1, 8, 4);
  kparam(0, 0, 8);
  Append<std::uint32_t>(info, 0x000c1903);  // HVAL 0x19 = 12
  const Bytes text(16, 0);

  Built out;
  Bytes& elf = out.elf;
  elf.resize(64, 0);
  struct Sec {
    std::uint32_t type;
    const Bytes* data;
    std::uint64_t nobits_size;
    std::uint32_t link;
  };
  const Sec sections[] = {{3, &shstr, 0, 0},         {3, &str, 0, 0},  {2, &symtab, 0, 2},
                          {0x70000000, &info, 0, 3}, {1, &text, 0, 0}, {1, &global_init, 0, 0},
                          {8, nullptr, 1024, 0}};
  std::vector<std::uint64_t> offsets;
  for (const Sec& s : sections) {
    offsets.push_back(elf.size());
    if (s.data) elf.insert(elf.end(), s.data->begin(), s.data->end());
    while (elf.size() % 8) elf.push_back(0);
  }
  out.info_offset = offsets[3];
  out.shoff = elf.size();
  elf.resize(elf.size() + 64, 0);  // section 0: SHT_NULL
  for (std::size_t i = 0; i < std::size(sections); ++i) {
    const std::size_t at = elf.size();
    Put<std::uint32_t>(elf, at, name_at[i]);
    Put<std::uint32_t>(elf, at + 4, sections[i].type);
    Put<std::uint64_t>(elf, at + 8, 0);
    Put<std::uint64_t>(elf, at + 16, 0);
    Put<std::uint64_t>(elf, at + 24, offsets[i]);
    Put<std::uint64_t>(elf, at + 32, sections[i].data ? sections[i].data->size() : sections[i].nobits_size);
    Put<std::uint32_t>(elf, at + 40, sections[i].link);
    Put<std::uint32_t>(elf, at + 44, 0);
    Put<std::uint64_t>(elf, at + 48, 1);
    Put<std::uint64_t>(elf, at + 56, sections[i].type == 2 ? 24 : 0);
  }
  const std::uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0x41, 8};
  std::memcpy(elf.data(), ident, 16);
  Put<std::uint16_t>(elf, 16, 2);
  Put<std::uint16_t>(elf, 18, 190);
  Put<std::uint32_t>(elf, 20, 1);
  Put<std::uint64_t>(elf, 40, out.shoff);
  Put<std::uint32_t>(elf, 48, 0x5a00 | 0x4);  // sm_90
  Put<std::uint16_t>(elf, 52, 64);
  Put<std::uint16_t>(elf, 58, 64);
  Put<std::uint16_t>(elf, 60, static_cast<std::uint16_t>(std::size(sections) + 1));
  Put<std::uint16_t>(elf, 62, 1);
  return out;
}

// A fatbin container with one entry; flags and arch adjustable. Padded so that no header claim
// below can lead a reader outside the buffer.
Bytes BuildFatbin(const Bytes& payload, std::uint16_t kind, std::uint32_t arch, std::uint64_t flags,
                  std::uint64_t claimed_size = 0) {
  Bytes f;
  Append<std::uint32_t>(f, 0xba55ed50);
  Append<std::uint16_t>(f, 1);
  Append<std::uint16_t>(f, 16);
  Append<std::uint64_t>(f, 64 + payload.size());
  const std::size_t entry = f.size();
  Put<std::uint16_t>(f, entry, kind);
  Put<std::uint16_t>(f, entry + 2, 0x0101);
  Put<std::uint32_t>(f, entry + 4, 64);
  Put<std::uint64_t>(f, entry + 8, claimed_size ? claimed_size : payload.size());
  Put<std::uint32_t>(f, entry + 28, arch);
  Put<std::uint64_t>(f, entry + 40, flags);
  f.resize(entry + 64, 0);
  f.insert(f.end(), payload.begin(), payload.end());
  f.resize(f.size() + 4096, 0);
  return f;
}

}  // namespace

TEST_CASE("a hand-built cubin parses: kernel, layout, shared memory, global") {
  const Built built = BuildCubin();
  auto image = emulated::ParseCubin(ByteReader(built.elf.data(), built.elf.size()));
  REQUIRE(image.ok());
  REQUIRE(image->kernels.size() == 1);
  const auto& k = image->kernels[0];
  CHECK(k.name == "k");
  REQUIRE(k.params.size() == 2);
  CHECK(k.params[0].offset == 0);
  CHECK(k.params[0].size == 8);
  CHECK(k.params[1].offset == 8);
  CHECK(k.params[1].size == 4);
  CHECK(k.param_bytes == 12);
  CHECK(k.shared_bytes == 1024);
  REQUIRE(image->globals.size() == 1);
  CHECK(image->globals[0].name == "g_var");
  CHECK(image->globals[0].init == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6, 7, 8});

  // The same through the module loader, as a raw cubin and inside a fatbin container.
  emulated::ModuleImage out;
  std::string error;
  CHECK(emulated::ParseModuleImage(built.elf.data(), &out, &error) == CUDA_SUCCESS);
  const Bytes fatbin = BuildFatbin(built.elf, 2, 90, 0x11);
  CHECK(emulated::ParseModuleImage(fatbin.data(), &out, &error) == CUDA_SUCCESS);
  CHECK(out.kernels.size() == 1);
}

TEST_CASE("every truncation of a cubin is an error") {
  const Built built = BuildCubin();
  for (std::size_t length = 0; length < built.elf.size(); ++length) {
    INFO("length " << length);
    CHECK_FALSE(emulated::ParseCubin(ByteReader(built.elf.data(), length)).ok());
  }
}

TEST_CASE("corrupted cubin fields are errors") {
  struct Case {
    const char* what;
    std::size_t at;
    std::uint64_t value;
    int width;
  };
  const Built b = BuildCubin();
  const std::size_t sec = b.shoff + 64;  // section 1's header
  const Case cases[] = {
      {"machine", 18, 62, 2},
      {"section table offset past the end", 40, 1ULL << 40, 8},
      {"section table size", 58, 40, 2},
      {"string table index", 62, 200, 2},
      {"section offset past the end", sec + 24, b.elf.size() + 10, 8},
      {"section size overflow", sec + 24, ~0ULL - 4, 8},
      {"symbol table link", sec + 2 * 64 + 40, 99, 4},
      {".nv.info attribute length", b.info_offset + 2, 0xffff, 2},
      {".nv.info parameter ordinal gap", b.info_offset + 8, 5, 2},
      {".nv.info parameter past its buffer", b.info_offset + 10, 0x100, 2},
  };
  for (const Case& c : cases) {
    Bytes elf = b.elf;
    if (c.width == 2) Put<std::uint16_t>(elf, c.at, static_cast<std::uint16_t>(c.value));
    if (c.width == 4) Put<std::uint32_t>(elf, c.at, static_cast<std::uint32_t>(c.value));
    if (c.width == 8) Put<std::uint64_t>(elf, c.at, c.value);
    INFO(c.what);
    CHECK_FALSE(emulated::ParseCubin(ByteReader(elf.data(), elf.size())).ok());
  }
}

TEST_CASE("random byte flips never crash the cubin parser") {
  const Built b = BuildCubin();
  std::mt19937 rng(42);
  int failures = 0;
  for (int round = 0; round < 3000; ++round) {
    Bytes elf = b.elf;
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
      elf[rng() % elf.size()] = static_cast<std::uint8_t>(rng());
    }
    failures += emulated::ParseCubin(ByteReader(elf.data(), elf.size())).ok() ? 0 : 1;
  }
  CHECK(failures > 0);  // many mutations hit checked fields
}

TEST_CASE("random byte flips in a fatbin's entries never crash the loader") {
  // The container header (its first 16 bytes) bounds every read, so it is left intact: the
  // worker checks that header against the bytes it received before a module load.
  const Built b = BuildCubin();
  const Bytes good = BuildFatbin(b.elf, 2, 90, 0x11);
  const std::size_t end = 16 + 64 + b.elf.size();
  std::mt19937 rng(7);
  int failures = 0;
  for (int round = 0; round < 2000; ++round) {
    Bytes f = good;
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
      f[16 + rng() % (end - 16)] = static_cast<std::uint8_t>(rng());
    }
    emulated::ModuleImage out;
    std::string error;
    failures += emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_SUCCESS ? 0 : 1;
  }
  CHECK(failures > 0);
}

TEST_CASE("random edits of PTX text never crash the parser") {
  const std::string ptx =
      ".version 9.0\n.target sm_90\n.global .align 4 .u32 g[4] = {1, 2, 3};\n"
      ".visible .entry k(.param .u64 a, .param .align 8 .b8 s[24], .param .u32 n) .maxntid 64, 1, 1 { ret; "
      "}\n";
  const std::string alphabet = "{}()[],;.=- 0123456789abcxyz_$%\n\"/*";
  std::mt19937 rng(11);
  for (int round = 0; round < 3000; ++round) {
    std::string text = ptx;
    for (int edits = 1 + static_cast<int>(rng() % 5); edits > 0; --edits) {
      const std::size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(at, 1 + rng() % 8); break;
        default: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      }
      if (text.empty()) text.push_back('.');  // (not `= "."`: GCC 12 -O2 misreports -Wrestrict)
    }
    (void)emulated::ParsePtx(text);  // any result; only no crash, hang or sanitizer report
  }
  SUCCEED("3000 edited PTX texts parsed or refused");
}

TEST_CASE("fatbin containers: bad entries, compressed entries, other architectures") {
  const Built b = BuildCubin();
  emulated::ModuleImage out;
  std::string error;
  // An entry claiming more bytes than the container holds.
  Bytes f = BuildFatbin(b.elf, 2, 90, 0x11, b.elf.size() + 100);
  CHECK(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_ERROR_INVALID_IMAGE);
  CHECK(error.find("truncated") != std::string::npos);
  // LZ4 flag on bytes that are not LZ4, or without sizes: invalid.
  f = BuildFatbin(b.elf, 2, 90, 0x2011);
  CHECK(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_ERROR_INVALID_IMAGE);
  CHECK(error.find("bad sizes") != std::string::npos);
  // zstd flag on bytes that are not zstd, or without sizes: invalid.
  f = BuildFatbin(b.elf, 2, 90, 0x8011);
  CHECK(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_ERROR_INVALID_IMAGE);
  Put<std::uint32_t>(f, 16 + 16, 100);
  Put<std::uint64_t>(f, 16 + 56, b.elf.size());
  CHECK(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_ERROR_INVALID_IMAGE);
  // Only an sm_80 cubin.
  f = BuildFatbin(b.elf, 2, 80, 0x11);
  CHECK(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_ERROR_NO_BINARY_FOR_GPU);
  // A cubin whose ELF header says sm_80.
  Bytes elf = b.elf;
  Put<std::uint32_t>(elf, 48, 0x5004);
  CHECK(emulated::ParseModuleImage(elf.data(), &out, &error) == CUDA_ERROR_NO_BINARY_FOR_GPU);
  // A broken cubin inside a good container.
  elf = b.elf;
  Put<std::uint16_t>(elf, 62, 200);
  f = BuildFatbin(elf, 2, 90, 0x11);
  CHECK(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_ERROR_INVALID_IMAGE);
  // Text that is not PTX.
  CHECK(emulated::ParseModuleImage("hello", &out, &error) == CUDA_ERROR_INVALID_PTX);
  CHECK(emulated::ParseModuleImage("", &out, &error) == CUDA_ERROR_INVALID_PTX);  // shorter than a magic
}

// A fatbin whose one sm_90 cubin entry is `compressed` (`n` bytes in use) with `flags`: it loads, and a
// wrong decompressed size or a truncated stream is an invalid image.
static void CheckCompressedEntry(const Built& b, Bytes compressed, std::size_t n, std::uint64_t flags) {
  compressed.resize((n + 7) / 8 * 8, 0);  // entries are padded, as nvcc pads them
  Bytes f = BuildFatbin(compressed, 2, 90, flags);
  Put<std::uint32_t>(f, 16 + 16, static_cast<std::uint32_t>(n));
  Put<std::uint64_t>(f, 16 + 56, b.elf.size());
  emulated::ModuleImage out;
  std::string error;
  REQUIRE(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_SUCCESS);
  REQUIRE(out.kernels.size() == 1);
  CHECK(out.kernels[0].param_bytes == 12);
  Put<std::uint64_t>(f, 16 + 56, b.elf.size() + 1);  // a wrong decompressed size
  CHECK(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_ERROR_INVALID_IMAGE);
  Put<std::uint64_t>(f, 16 + 56, b.elf.size());
  Put<std::uint32_t>(f, 16 + 16, static_cast<std::uint32_t>(n - 3));  // a truncated stream
  CHECK(emulated::ParseModuleImage(f.data(), &out, &error) == CUDA_ERROR_INVALID_IMAGE);
}

TEST_CASE("zstd-compressed fatbin entries are decompressed") {
  const Built b = BuildCubin();
  Bytes compressed(ZSTD_compressBound(b.elf.size()));
  const std::size_t n = ZSTD_compress(compressed.data(), compressed.size(), b.elf.data(), b.elf.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  CheckCompressedEntry(b, compressed, n, 0x8011);
}

// cuFFT's images (CUDA 13.0) hold LZ4-compressed entries, flag 0x2000.
TEST_CASE("LZ4-compressed fatbin entries are decompressed") {
  const Built b = BuildCubin();
  Bytes compressed(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(b.elf.size()))));
  const int n = LZ4_compress_default(reinterpret_cast<const char*>(b.elf.data()),
                                     reinterpret_cast<char*>(compressed.data()),
                                     static_cast<int>(b.elf.size()), static_cast<int>(compressed.size()));
  REQUIRE(n > 0);
  CheckCompressedEntry(b, compressed, static_cast<std::size_t>(n), 0x2011);
}

TEST_CASE("bad images through the driver API leave no module behind") {
  const DriverApi& api = Api();
  CUmodule module = nullptr;
  Built b = BuildCubin();
  Put<std::uint16_t>(b.elf, 62, 200);
  CHECK(api.cuModuleLoadData(&module, b.elf.data()) == CUDA_ERROR_INVALID_IMAGE);
  CHECK(api.cuModuleLoadData(&module, "garbage") == CUDA_ERROR_INVALID_PTX);
  CHECK(api.cuModuleLoadData(&module, nullptr) == CUDA_ERROR_INVALID_VALUE);
  CUlibrary library = nullptr;
  CHECK(api.cuLibraryLoadData(&library, "garbage", nullptr, nullptr, 0, nullptr, nullptr, 0) ==
        CUDA_ERROR_INVALID_PTX);
  const Built good = BuildCubin();
  CU_OK(api.cuModuleLoadData(&module, good.elf.data()));
  CUfunction f = nullptr;
  CU_OK(api.cuModuleGetFunction(&f, module, "k"));
  size_t offset = 0, size = 0;
  CU_OK(api.cuFuncGetParamInfo(f, 1, &offset, &size));
  CHECK(offset == 8);
  CHECK(size == 4);
  CHECK(api.cuFuncGetParamInfo(f, 2, &offset, &size) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuModuleUnload(module));
  CHECK(api.cuModuleGetFunction(&f, module, "k") == CUDA_ERROR_INVALID_HANDLE);
  CHECK(api.cuFuncGetParamInfo(f, 0, &offset, &size) == CUDA_ERROR_INVALID_HANDLE);
}

}  // namespace gpupool::server::emulated_test
