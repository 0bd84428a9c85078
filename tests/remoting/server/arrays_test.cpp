// CUDA arrays, texture and surface objects through the real server on the emulated device: round
// trips in every direction with offsets, and the checks every handler makes before the backend sees
// a request (bad or foreign handles, copies past an array's extent, destroying twice, bad
// descriptors).
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>

#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
using CopyRequest = protocol::Call<Op::Memcpy3DToDevice>::Request;

constexpr std::uint32_t kHost = 1, kDevice = 2, kArray = 3;
constexpr std::uint32_t kFloat = CU_AD_FORMAT_FLOAT, kU8 = CU_AD_FORMAT_UNSIGNED_INT8;

// One side of a copy: (type, handle, pitch, slice rows, x bytes, y, z).
struct Side {
  std::uint32_t type = kHost;
  std::uint64_t handle = 0, pitch = 0, rows = 0, x = 0, y = 0, z = 0;
};
Side Host() {
  return {};
}
Side InArray(std::uint64_t id, std::uint64_t x, std::uint64_t y, std::uint64_t z = 0) {
  return {kArray, id, 0, 0, x, y, z};
}

CopyRequest Copy(const Side& s, const Side& d, std::uint64_t w, std::uint64_t h, std::uint64_t depth) {
  return {s.type, s.handle, s.pitch, s.rows, s.x, s.y, s.z,   d.type, d.handle, d.pitch,
          d.rows, d.x,      d.y,     d.z,    w,   h,   depth, 0,      0};
}

std::uint64_t CreateArray(TestClient& c, std::uint64_t w, std::uint64_t h, std::uint64_t d,
                          std::uint32_t format, std::uint32_t channels, std::uint32_t flags = 0) {
  auto made = c.Call<Op::ArrayCreate>({w, h, d, format, channels, flags});
  REQUIRE(made.result == CUDA_SUCCESS);
  return std::get<0>(made.fields);
}

std::string TextureDesc() {
  CUDA_TEXTURE_DESC t{};
  t.addressMode[0] = t.addressMode[1] = t.addressMode[2] = CU_TR_ADDRESS_MODE_CLAMP;
  t.filterMode = CU_TR_FILTER_MODE_POINT;
  return std::string(reinterpret_cast<const char*>(&t), sizeof(t));
}

TEST_CASE("arrays: host to array to device to array to host, 2D and 3D, with offsets") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  // 3D: 19 x 7 x 5 elements of 2 floats (8 bytes); copy a 40 x 4 x 3 byte box at (16, 2, 1).
  const std::uint64_t a = CreateArray(c, 19, 7, 5, kFloat, 2);
  const std::uint64_t b = CreateArray(c, 19, 7, 5, kFloat, 2);
  const std::string data = Pattern(40 * 4 * 3, 7);
  REQUIRE(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(a, 16, 2, 1), 40, 4, 3), data) == CUDA_SUCCESS);
  // array -> device (pitch 64, slices of 6 rows) -> array b -> host
  auto mem = c.Call<Op::MemAlloc>({64 * 6 * 4});
  REQUIRE(mem.result == CUDA_SUCCESS);
  const std::uint64_t dptr = std::get<0>(mem.fields);
  const Side device{kDevice, dptr, 64, 6, 8, 1, 1};
  REQUIRE(c.Result<Op::Memcpy3DToDevice>(Copy(InArray(a, 16, 2, 1), device, 40, 4, 3)) == CUDA_SUCCESS);
  REQUIRE(c.Result<Op::Memcpy3DToDevice>(Copy(device, InArray(b, 0, 3, 2), 40, 4, 3)) == CUDA_SUCCESS);
  // array b -> array a elsewhere, then back to the host
  REQUIRE(c.Result<Op::Memcpy3DToDevice>(Copy(InArray(b, 0, 3, 2), InArray(a, 112, 0, 0), 40, 4, 3)) ==
          CUDA_SUCCESS);
  auto back = c.Call<Op::Memcpy3DFromDevice>(Copy(InArray(a, 112, 0, 0), Host(), 40, 4, 3));
  REQUIRE(back.result == CUDA_SUCCESS);
  CHECK(back.tail == data);
  // Arrays move whole elements (8 bytes here): an x or width between them is refused.
  CHECK(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(a, 4, 0, 0), 8, 1, 1), data.substr(0, 8)) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(a, 0, 0, 0), 12, 1, 1), data.substr(0, 12)) ==
        CUDA_ERROR_INVALID_VALUE);
  // 2D (depth 0 in the descriptor) and the descriptor as created.
  const std::uint64_t flat = CreateArray(c, 33, 9, 0, kU8, 4);
  const std::string rows = Pattern(12 * 5, 8);
  REQUIRE(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(flat, 4, 4), 12, 5, 1), rows) == CUDA_SUCCESS);
  CHECK(c.Call<Op::Memcpy3DFromDevice>(Copy(InArray(flat, 4, 4), Host(), 12, 5, 1)).tail == rows);
  auto desc = c.Call<Op::ArrayGetDescriptor>({flat});
  REQUIRE(desc.result == CUDA_SUCCESS);
  CHECK(desc.fields == std::make_tuple(std::uint64_t{33}, std::uint64_t{9}, std::uint64_t{0}, kU8,
                                       std::uint32_t{4}, std::uint32_t{0}));
  auto req = c.Call<Op::ArrayGetMemoryRequirements>({flat, 0});
  REQUIRE(req.result == CUDA_SUCCESS);
  CHECK(std::get<0>(req.fields) >= 33 * 4 * 9);
  CHECK(std::get<1>(req.fields) > 0);
}

TEST_CASE("arrays: a copy past the array's extent is INVALID_VALUE and writes nothing") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::uint64_t a = CreateArray(c, 8, 4, 2, kU8, 1);  // 8 bytes x 4 rows x 2 slices
  const std::string zeros(8 * 4 * 2, '\0');
  REQUIRE(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(a, 0, 0, 0), 8, 4, 2), zeros) == CUDA_SUCCESS);
  struct Case {
    const char* what;
    std::uint64_t x, y, z, w, h, d;
  };
  const Case cases[] = {
      {"one byte past the row", 1, 0, 0, 8, 1, 1},     {"one row past the slice", 0, 1, 0, 1, 4, 1},
      {"one slice past the end", 0, 0, 1, 1, 1, 2},    {"x past the row", 9, 0, 0, 1, 1, 1},
      {"huge width wraps", 1, 0, 0, UINT64_MAX, 1, 1}, {"huge z", 0, 0, UINT64_MAX, 1, 1, 1},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    const bool fits = k.w <= 64 && k.h <= 64 && k.d <= 64;
    const std::string data = fits ? Pattern(k.w * k.h * k.d, 3) : std::string();
    CHECK(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(a, k.x, k.y, k.z), k.w, k.h, k.d), data) ==
          CUDA_ERROR_INVALID_VALUE);
    if (fits) {
      CHECK(c.Call<Op::Memcpy3DFromDevice>(Copy(InArray(a, k.x, k.y, k.z), Host(), k.w, k.h, k.d)).result ==
            CUDA_ERROR_INVALID_VALUE);
    }
  }
  // A device side past its allocation is refused too.
  auto mem = c.Call<Op::MemAlloc>({16});
  REQUIRE(mem.result == CUDA_SUCCESS);
  const Side device{kDevice, std::get<0>(mem.fields), 8, 2, 0, 0, 0};
  CHECK(c.Result<Op::Memcpy3DToDevice>(Copy(InArray(a, 0, 0, 0), device, 8, 3, 1)) ==
        CUDA_ERROR_INVALID_VALUE);
  // A host tail of the wrong size is refused.
  CHECK(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(a, 0, 0, 0), 8, 1, 1), "short") ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Call<Op::Memcpy3DFromDevice>(Copy(InArray(a, 0, 0, 0), Host(), 8, 4, 2)).tail == zeros);
}

TEST_CASE("arrays: bad, foreign and destroyed handles are refused") {
  ServerProcess server = ServerProcess::Start();
  TestClient owner = TestClient::Open(server.endpoint);
  owner.UseDevice0();
  TestClient other = TestClient::Open(server.endpoint);
  other.UseDevice0();
  const std::uint64_t a = CreateArray(owner, 16, 16, 0, kFloat, 1);
  // Another session's id, and ids that were never arrays.
  auto stream = owner.Call<Op::StreamCreate>({0});
  REQUIRE(stream.result == CUDA_SUCCESS);
  for (std::uint64_t id : {a, std::uint64_t{0}, std::uint64_t{0xdead}}) {
    INFO(id);
    CHECK(other.Result<Op::ArrayDestroy>({id}) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(other.Result<Op::ArrayGetDescriptor>({id}) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(other.Call<Op::Memcpy3DFromDevice>(Copy(InArray(id, 0, 0), Host(), 4, 1, 1)).result ==
          CUDA_ERROR_INVALID_HANDLE);
    CHECK(other.Result<Op::TexObjectCreate>({CU_RESOURCE_TYPE_ARRAY, id, 0, 0, 0, 0, 0, 0, TextureDesc(),
                                             ""}) == CUDA_ERROR_INVALID_HANDLE);
  }
  CHECK(owner.Result<Op::ArrayDestroy>({std::get<0>(stream.fields)}) == CUDA_ERROR_INVALID_HANDLE);
  // Destroy twice: the second time the id is gone, as is everything that used it.
  CHECK(owner.Result<Op::ArrayDestroy>({a}) == CUDA_SUCCESS);
  CHECK(owner.Result<Op::ArrayDestroy>({a}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(owner.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(a, 0, 0), 4, 1, 1), "abcd") ==
        CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("arrays: descriptors the driver refuses") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  struct Case {
    const char* what;
    std::uint64_t w, h, d;
    std::uint32_t format, channels, flags;
    CUresult expected;
  };
  const Case cases[] = {
      {"three channels", 4, 4, 0, kFloat, 3, 0, CUDA_ERROR_INVALID_VALUE},
      {"unknown format", 4, 4, 0, 0x77, 1, 0, CUDA_ERROR_INVALID_VALUE},
      {"zero width", 0, 4, 0, kFloat, 1, 0, CUDA_ERROR_INVALID_VALUE},
      {"depth without height", 4, 0, 3, kFloat, 1, 0, CUDA_ERROR_INVALID_VALUE},
      {"wider than the device allows", 1 << 20, 4, 0, kFloat, 1, 0, CUDA_ERROR_INVALID_VALUE},
      {"cubemap that is not square", 8, 4, 6, kFloat, 1, CUDA_ARRAY3D_CUBEMAP, CUDA_ERROR_INVALID_VALUE},
      {"unknown flag", 4, 4, 0, kFloat, 1, 0x8000, CUDA_ERROR_INVALID_VALUE},
      {"fixed channel count mismatch", 4, 4, 0, CU_AD_FORMAT_UNORM_INT8X4, 2, 0, CUDA_ERROR_INVALID_VALUE},
      {"sparse", 64, 64, 0, kFloat, 1, CUDA_ARRAY3D_SPARSE, CUDA_ERROR_NOT_SUPPORTED},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    CHECK(c.Result<Op::ArrayCreate>({k.w, k.h, k.d, k.format, k.channels, k.flags}) == k.expected);
  }
  // Shapes the driver accepts: 1D, 1D layered, cubemap, layered cubemap.
  CreateArray(c, 100, 0, 0, kFloat, 4);
  CreateArray(c, 100, 0, 3, kFloat, 1, CUDA_ARRAY3D_LAYERED);
  CreateArray(c, 8, 8, 6, kFloat, 1, CUDA_ARRAY3D_CUBEMAP);
  CreateArray(c, 8, 8, 12, kFloat, 1, CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_LAYERED);
}

TEST_CASE("arrays: the session's memory limit counts arrays") {
  ServerProcess server = ServerProcess::Start({"--session-memory", "1MiB"});
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  CHECK(c.Result<Op::ArrayCreate>({1024, 1024, 0, kFloat, 1, 0}) == CUDA_ERROR_OUT_OF_MEMORY);
  const std::uint64_t a = CreateArray(c, 256, 256, 0, kFloat, 2);  // 512 KiB
  CHECK(c.Result<Op::MemAlloc>({768 << 10}) == CUDA_ERROR_OUT_OF_MEMORY);
  REQUIRE(c.Result<Op::ArrayDestroy>({a}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemAlloc>({768 << 10}) == CUDA_SUCCESS);
}

TEST_CASE("texture and surface objects: driver handles, descriptors, ownership") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  TestClient other = TestClient::Open(server.endpoint);
  other.UseDevice0();
  const std::uint64_t a = CreateArray(c, 32, 32, 0, kFloat, 1);
  auto tex = c.Call<Op::TexObjectCreate>({CU_RESOURCE_TYPE_ARRAY, a, 0, 0, 0, 0, 0, 0, TextureDesc(), ""});
  REQUIRE(tex.result == CUDA_SUCCESS);
  const std::uint64_t t = std::get<0>(tex.fields);
  CHECK(t != 0);
  auto res = c.Call<Op::TexObjectGetResourceDesc>({t});
  REQUIRE(res.result == CUDA_SUCCESS);
  CHECK(std::get<0>(res.fields) == CU_RESOURCE_TYPE_ARRAY);
  CHECK(std::get<1>(res.fields) == a);
  auto texture = c.Call<Op::TexObjectGetTextureDesc>({t});
  REQUIRE(texture.result == CUDA_SUCCESS);
  CHECK(std::get<0>(texture.fields) == TextureDesc());
  // Another session cannot use or destroy it.
  CHECK(other.Result<Op::TexObjectGetTextureDesc>({t}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(other.Result<Op::TexObjectDestroy>({t}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::TexObjectDestroy>({t}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::TexObjectDestroy>({t}) == CUDA_ERROR_INVALID_HANDLE);
  // Linear and pitched memory: only the session's own, inside the allocation.
  auto mem = c.Call<Op::MemAlloc>({4096});
  REQUIRE(mem.result == CUDA_SUCCESS);
  const std::uint64_t dptr = std::get<0>(mem.fields);
  CHECK(c.Result<Op::TexObjectCreate>(
            {CU_RESOURCE_TYPE_LINEAR, dptr, kFloat, 1, 4096, 0, 0, 0, TextureDesc(), ""}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::TexObjectCreate>({CU_RESOURCE_TYPE_LINEAR, dptr, kFloat, 1, 4097, 0, 0, 0, TextureDesc(),
                                       ""}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(other.Result<Op::TexObjectCreate>({CU_RESOURCE_TYPE_LINEAR, dptr, kFloat, 1, 4096, 0, 0, 0,
                                           TextureDesc(), ""}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::TexObjectCreate>(
            {CU_RESOURCE_TYPE_PITCH2D, dptr, kFloat, 1, 16, 16, 256, 0, TextureDesc(), ""}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::TexObjectCreate>({CU_RESOURCE_TYPE_PITCH2D, dptr, kFloat, 1, 16, 17, 256, 0,
                                       TextureDesc(), ""}) == CUDA_ERROR_INVALID_VALUE);
  // A texture descriptor of the wrong size is refused; so is a view of linear memory.
  CHECK(c.Result<Op::TexObjectCreate>({CU_RESOURCE_TYPE_ARRAY, a, 0, 0, 0, 0, 0, 0, "short", ""}) ==
        CUDA_ERROR_INVALID_VALUE);
  // Enum fields outside their enums, as raw bytes (the worker reads them as integers; UBSan stops
  // it if it loads them as enums).
  for (std::size_t offset :
       {offsetof(CUDA_TEXTURE_DESC, addressMode) + 2 * sizeof(int), offsetof(CUDA_TEXTURE_DESC, filterMode),
        offsetof(CUDA_TEXTURE_DESC, mipmapFilterMode)}) {
    std::string bad = TextureDesc();
    const int nine = 9;
    std::memcpy(bad.data() + offset, &nine, sizeof nine);
    CHECK(c.Result<Op::TexObjectCreate>({CU_RESOURCE_TYPE_ARRAY, a, 0, 0, 0, 0, 0, 0, bad, ""}) ==
          CUDA_ERROR_INVALID_VALUE);
  }
  CUDA_RESOURCE_VIEW_DESC view{};
  view.format = CU_RES_VIEW_FORMAT_FLOAT_1X32;
  view.width = 16;
  const std::string view_bytes(reinterpret_cast<const char*>(&view), sizeof(view));
  CHECK(c.Result<Op::TexObjectCreate>({CU_RESOURCE_TYPE_LINEAR, dptr, kFloat, 1, 4096, 0, 0, 0, TextureDesc(),
                                       view_bytes}) == CUDA_ERROR_INVALID_VALUE);
  // Surfaces need an array made for them.
  CHECK(c.Result<Op::SurfObjectCreate>({CU_RESOURCE_TYPE_ARRAY, a, 0, 0, 0, 0, 0, 0}) ==
        CUDA_ERROR_INVALID_VALUE);
  const std::uint64_t ldst = CreateArray(c, 32, 32, 0, kFloat, 1, CUDA_ARRAY3D_SURFACE_LDST);
  auto surf = c.Call<Op::SurfObjectCreate>({CU_RESOURCE_TYPE_ARRAY, ldst, 0, 0, 0, 0, 0, 0});
  REQUIRE(surf.result == CUDA_SUCCESS);
  auto surf_res = c.Call<Op::SurfObjectGetResourceDesc>({std::get<0>(surf.fields)});
  REQUIRE(surf_res.result == CUDA_SUCCESS);
  CHECK(std::get<1>(surf_res.fields) == ldst);
  CHECK(c.Result<Op::SurfObjectDestroy>({std::get<0>(surf.fields)}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::SurfObjectDestroy>({std::get<0>(surf.fields)}) == CUDA_ERROR_INVALID_HANDLE);
  auto max = c.Call<Op::DeviceGetTexture1DLinearMaxWidth>({kFloat, 4, 0});
  REQUIRE(max.result == CUDA_SUCCESS);
  CHECK(std::get<0>(max.fields) > 0);
}

TEST_CASE("mipmapped arrays: levels are arrays that die with their mipmap") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  TestClient other = TestClient::Open(server.endpoint);
  other.UseDevice0();
  CHECK(c.Result<Op::MipmappedArrayCreate>({64, 32, 0, kFloat, 1, 0, 8}) == CUDA_ERROR_INVALID_VALUE);  // > 7
  auto made = c.Call<Op::MipmappedArrayCreate>({64, 32, 0, kFloat, 1, 0, 4});
  REQUIRE(made.result == CUDA_SUCCESS);
  const std::uint64_t m = std::get<0>(made.fields);
  auto level = c.Call<Op::MipmappedArrayGetLevel>({m, 2});
  REQUIRE(level.result == CUDA_SUCCESS);
  const auto [l2, w, h, d] = level.fields;
  CHECK((w == 16 && h == 8 && d == 0));
  CHECK(std::get<0>(c.Call<Op::MipmappedArrayGetLevel>({m, 2}).fields) == l2);  // the same id again
  CHECK(c.Result<Op::MipmappedArrayGetLevel>({m, 4}) == CUDA_ERROR_INVALID_VALUE);
  // A level is an array for copies, bounded by its own extent; it is not destroyed on its own.
  const std::string data = Pattern(64 * 8, 4);
  REQUIRE(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(l2, 0, 0), 64, 8, 1), data) == CUDA_SUCCESS);
  CHECK(c.Call<Op::Memcpy3DFromDevice>(Copy(InArray(l2, 0, 0), Host(), 64, 8, 1)).tail == data);
  CHECK(c.Result<Op::Memcpy3DToDevice>(Copy(Host(), InArray(l2, 0, 1), 64, 8, 1), data) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::ArrayDestroy>({l2}) == CUDA_ERROR_INVALID_VALUE);
  // A texture of the mipmapped array; another session can use neither.
  auto tex =
      c.Call<Op::TexObjectCreate>({CU_RESOURCE_TYPE_MIPMAPPED_ARRAY, m, 0, 0, 0, 0, 0, 0, TextureDesc(), ""});
  REQUIRE(tex.result == CUDA_SUCCESS);
  auto res = c.Call<Op::TexObjectGetResourceDesc>({std::get<0>(tex.fields)});
  REQUIRE(res.result == CUDA_SUCCESS);
  CHECK((std::get<0>(res.fields) == CU_RESOURCE_TYPE_MIPMAPPED_ARRAY && std::get<1>(res.fields) == m));
  CHECK(other.Result<Op::MipmappedArrayGetLevel>({m, 0}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(other.Result<Op::MipmappedArrayDestroy>({m}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(other.Call<Op::Memcpy3DFromDevice>(Copy(InArray(l2, 0, 0), Host(), 4, 1, 1)).result ==
        CUDA_ERROR_INVALID_HANDLE);
  // Destroyed with its levels, once.
  CHECK(c.Result<Op::TexObjectDestroy>({std::get<0>(tex.fields)}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MipmappedArrayDestroy>({m}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MipmappedArrayDestroy>({m}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Call<Op::Memcpy3DFromDevice>(Copy(InArray(l2, 0, 0), Host(), 4, 1, 1)).result ==
        CUDA_ERROR_INVALID_HANDLE);
}

}  // namespace
}  // namespace gpupool::testing
