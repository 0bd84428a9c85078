// Images shared by a server's sessions (remoting/server/image_store.h): the store alone (round trip,
// a damaged file, trimming the least recently used) and through a real server, where the second
// session finds the first one's upload without sending it.
#include "remoting/server/image_store.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "remoting/server/image_cache.h"
#include "tests/remoting/server/image_upload.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
using server::ImageCache;
using server::ImageStore;
namespace fs = std::filesystem;

const char* const kTestPtx =
    ".version 8.0\n.target sm_90\n.address_size 64\n.visible .entry k_shared(.param .u64 p)\n{\n  ret;\n}\n";

std::string HexOf(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {digits[c >> 4], digits[c & 15]};
  return out;
}

TEST_CASE("image store: round trip, a damaged file is a miss, the least recently used go first") {
  TempDir dir;
  const std::string root = dir.File("images");
  REQUIRE(ImageStore::Prepare(root).ok());
  CHECK((fs::status(root).permissions() & fs::perms::others_all) == fs::perms::none);
  const ImageStore store(root, 3000);
  const std::string a(1000, 'a'), b(1000, 'b'), c(1500, 'c');
  CHECK_FALSE(store.Load(Sha256(a)).has_value());
  store.Save(Sha256(a), a);
  REQUIRE(store.Load(Sha256(a)).has_value());
  CHECK(*store.Load(Sha256(a)) == a);
  CHECK_FALSE(store.Load("not a hash").has_value());

  { std::ofstream(root + "/" + HexOf(Sha256(a)), std::ios::trunc) << "tampered"; }
  CHECK_FALSE(store.Load(Sha256(a)).has_value());
  CHECK_FALSE(fs::exists(root + "/" + HexOf(Sha256(a))));  // removed, so the next upload saves it again

  store.Save(Sha256(a), a);
  store.Save(Sha256(b), b);
  // `a` used again, after `b` was written: `b` is now the least recently used.
  fs::last_write_time(root + "/" + HexOf(Sha256(b)),
                      fs::file_time_type::clock::now() - std::chrono::hours(1));
  REQUIRE(store.Load(Sha256(a)).has_value());
  store.Save(Sha256(c), c);  // 3500 bytes > 3000: one image goes
  CHECK(store.Load(Sha256(a)).has_value());
  CHECK_FALSE(store.Load(Sha256(b)).has_value());
  CHECK(store.Load(Sha256(c)).has_value());

  const ImageStore tiny(root, 10);
  tiny.Save(Sha256(std::string(11, 'x')), std::string(11, 'x'));  // larger than the whole store: not kept
  CHECK_FALSE(tiny.Load(Sha256(std::string(11, 'x'))).has_value());
  CHECK_FALSE(ImageStore::Prepare("/proc/gpupool-images").ok());
}

TEST_CASE("image cache: a store hit still counts against the session's limit") {
  TempDir dir;
  REQUIRE(ImageStore::Prepare(dir.path()).ok());
  const ImageStore store(dir.path(), 1 << 20);
  const std::string image(4096, 'i');
  store.Save(Sha256(image), image);
  ImageCache small(1024);
  small.set_store(&store);
  CHECK_FALSE(small.Has(Sha256(image)));  // would pass the session's 1 KiB
  ImageCache roomy;
  roomy.set_store(&store);
  CHECK(roomy.Has(Sha256(image)));
  REQUIRE(roomy.Find(Sha256(image)) != nullptr);
  CHECK(*roomy.Find(Sha256(image)) == image);
  CHECK(roomy.bytes() == image.size());
}

TEST_CASE("a server's sessions share uploaded images through --image-cache-dir") {
  TempDir dir;
  ServerProcess server = ServerProcess::Start({"--image-cache-dir", dir.File("images")});
  const std::string image = std::string(kTestPtx) + '\0';
  {
    TestClient first = TestClient::Open(server.endpoint);
    first.UseDevice0();
    CHECK(std::get<0>(first.Call<Op::ImageQuery>({Sha256(image)}).fields) == 0);
    Upload(first, image);
    REQUIRE(first.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  }
  TestClient second = TestClient::Open(server.endpoint);
  second.UseDevice0();
  CHECK(std::get<0>(second.Call<Op::ImageQuery>({Sha256(image)}).fields) == 1);  // no upload
  auto module = second.Call<Op::ModuleLoadData>({Sha256(image)});
  CHECK(module.result == CUDA_SUCCESS);

  ServerProcess unshared = ServerProcess::Start();
  TestClient other = TestClient::Open(unshared.endpoint);
  other.UseDevice0();
  CHECK(std::get<0>(other.Call<Op::ImageQuery>({Sha256(image)}).fields) == 0);
}

}  // namespace
}  // namespace gpupool::testing
